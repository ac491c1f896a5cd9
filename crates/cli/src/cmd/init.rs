//! `postern init`: a data directory with a commented configuration and a
//! self-signed certificate, ready to serve.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use postern_config::template::{self, InitParams};
use postern_tls::tooling::{self_signed, SelfSignedParams};
use time::OffsetDateTime;

use crate::paths::{create_private_dir, Location, CERTS_DIR};

/// Arguments of `postern init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// This server's public host name (the certificate is made for it).
    #[arg(long)]
    pub hostname: String,
    /// The first mail domain this server receives mail for.
    #[arg(long)]
    pub domain: String,
    /// Listen on loopback on the unprivileged dev ports (2525, 2587, 2465,
    /// 2143, 2993, 2110, 2995, 8080, 8443) instead of the standard ports.
    #[arg(long)]
    pub dev_ports: bool,
    /// Keep mail in PostgreSQL instead of the embedded SQLite:
    /// postgres://USER@HOST:PORT/DATABASE (the database must exist; the
    /// tables are made here). Written to `[store]`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

const CERT_FILE: &str = "certs/main.crt.pem";
const KEY_FILE: &str = "certs/main.key.pem";

pub fn run(loc: &Location, args: &InitArgs) -> anyhow::Result<ExitCode> {
    init(loc, args)?;
    println!("Created {}", loc.config_path().display());
    println!(
        "Check it with: postern check --data-dir {}",
        loc.data_dir.display()
    );
    println!(
        "Start it with: postern serve --data-dir {}",
        loc.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the data directory; refuses to touch an existing configuration.
pub fn init(loc: &Location, args: &InitArgs) -> anyhow::Result<()> {
    let config_path = loc.config_path();
    if config_path.exists() {
        anyhow::bail!(
            "{} exists already; Postern will not overwrite it (move it away to start afresh)",
            config_path.display()
        );
    }
    let dir = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    create_private_dir(&dir.join(CERTS_DIR))?;
    write_self_signed(&dir, &args.hostname, args.dev_ports)?;
    let text = template::render(&InitParams {
        hostname: args.hostname.to_ascii_lowercase(),
        domain: args.domain.to_ascii_lowercase(),
        dev_ports: args.dev_ports,
        cert_file: CERT_FILE.to_owned(),
        key_file: KEY_FILE.to_owned(),
        store_url: args.store.clone(),
    });
    // Validate what we are about to write: a template that does not parse
    // (a bad host name given here) must not land on disk.
    let config =
        postern_config::Config::parse(&config_path, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The mail store (SQLite + blobs here, or the PostgreSQL tables) with
    // the first domain; a second node initialised on the same database
    // finds the domain there already.
    let store = postern_server::open_store(&config, false)?;
    match store.add_domain(&args.domain) {
        Ok(()) | Err(postern_store::StoreError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::write(&config_path, text).with_context(|| format!("writing {}", config_path.display()))
}

/// The first certificate. On the dev ports it also names `localhost` and
/// 127.0.0.1, which is where local clients connect.
fn write_self_signed(dir: &Path, hostname: &str, dev: bool) -> anyhow::Result<()> {
    let mut names = vec![hostname.to_ascii_lowercase()];
    if dev {
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == extra) {
                names.push(extra.to_owned());
            }
        }
    }
    let cert = self_signed(&SelfSignedParams::new(names), OffsetDateTime::now_utc())
        .context("generating the self-signed certificate")?;
    crate::cmd::cert::write_pair(
        &dir.join(CERT_FILE),
        &dir.join(KEY_FILE),
        &cert.cert_pem,
        &cert.key_pem,
    )
}
