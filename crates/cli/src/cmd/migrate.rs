//! `postern migrate`: move a whole installation from the embedded SQLite
//! store to PostgreSQL, ids and all (see `postern_store::migrate`).
//!
//! ```text
//! postern migrate --from sqlite:///var/lib/postern --to postgres://postern@db/postern
//! ```
//!
//! The copy is one transaction into an empty database and is verified
//! (row counts, bytes per account, every message's SHA-256) before this
//! command says it is done. The configuration is not rewritten: the
//! command prints the `[store]` section to put in postern.toml.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::paths::Location;

/// `postern migrate --from sqlite://DIR --to postgres://...`
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The source: sqlite://DATA_DIR (the directory holding mail.db);
    /// default: this installation's data directory.
    #[arg(long, value_name = "sqlite://DIR")]
    pub from: Option<String>,
    /// The target: postgres://USER@HOST:PORT/DATABASE, an empty database.
    #[arg(long, value_name = "postgres://...")]
    pub to: String,
    /// The database password, on the first line of this file (instead of
    /// in the URL).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Put message bytes in files under this directory (shared by every
    /// node) instead of in the database.
    #[arg(long, value_name = "DIR")]
    pub blob_dir: Option<PathBuf>,
    /// Extra CA certificates (PEM) to verify a remote database's TLS
    /// certificate with (as `[store] ca_file`).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

pub fn run(loc: &Location, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let source = match &args.from {
        Some(from) => match from.strip_prefix("sqlite://") {
            Some(dir) => PathBuf::from(dir),
            None => anyhow::bail!(
                "--from {from}: give the SQLite store as sqlite://DATA_DIR (migrating from PostgreSQL is not supported)"
            ),
        },
        None => loc.data_dir.clone(),
    };
    if !source.join(postern_store::sqlite::DB_FILE).is_file() {
        anyhow::bail!(
            "{} holds no {}: give the data directory of the installation to move (--from sqlite://DIR)",
            source.display(),
            postern_store::sqlite::DB_FILE
        );
    }
    if !(args.to.starts_with("postgres://") || args.to.starts_with("postgresql://")) {
        anyhow::bail!("--to must be a postgres://USER@HOST:PORT/DATABASE URL");
    }
    // The same rules as the server's: TLS, verified, to a remote database.
    let target = postern_config::PostgresConfig {
        url: args.to.clone(),
        password_file: args.password_file.clone(),
        ca_file: args.ca_file.clone(),
        pool_size: 2,
        blob_dir: args.blob_dir.clone(),
    };
    let options = postern_server::pg_tls::store_options(&target, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let shown = postern_config::store::redact(&args.to);
    println!("Copying {} into {shown}", source.display());
    let report = postern_store::migrate::sqlite_to_postgres(&source, &options, |line| {
        println!("  {line}");
    })
    .with_context(|| format!("migrating into {shown}"))?;
    let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
    println!(
        "Done: {rows} rows and {} messages' bytes ({} bytes), verified.",
        report.blobs, report.blob_bytes
    );
    println!("Now point postern.toml at it and restart:\n");
    println!(
        "[store]\nbackend = \"postgres\"\nurl = \"{}\"",
        without_password(&args.to)
    );
    match &args.password_file {
        Some(file) => println!("password_file = \"{}\"", file.display()),
        None if shown != args.to => println!(
            "# The URL's password is left out here: put it on the first line of a\n# file (mode 0600) and name it:\npassword_file = \"store.pass\""
        ),
        None => {}
    }
    if let Some(dir) = &args.blob_dir {
        println!("blobs = \"directory\"\nblob_dir = \"{}\"", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `url` with the password of its user info removed.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}
