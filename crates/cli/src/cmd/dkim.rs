//! `postern dkim`: the keys that sign outgoing mail (RFC 6376), under
//! `DATA/dkim/DOMAIN/SELECTOR.ALG.pem` (mode 0600, directories 0700), and
//! the TXT records that publish their public halves.
//!
//! By default a domain gets two keys, an Ed25519 one and an RSA-2048 one,
//! and mail is signed with both (RFC 8463 §6: verifiers that do not know
//! Ed25519 yet check the RSA signature). Their selectors name the month
//! they were made, `YYYYMM-ed` and `YYYYMM-rsa`, so a later rotation gets
//! new names and the old records can stay published while mail signed with
//! the old keys is still in transit. A running server uses new keys from
//! the next message on; no restart is needed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use postern_outbound::dkim::{keys, Algorithm, KeyFile};
use postern_server::outbound::DKIM_DIR;

use crate::paths::Location;

/// `postern dkim ...`
#[derive(Debug, clap::Subcommand)]
pub enum DkimCommand {
    /// Make signing keys for a domain and print the DNS records to publish.
    Generate {
        /// One of this server's mail domains (`postern domain list`).
        #[arg(long)]
        domain: String,
        /// The selector; with both algorithms, `-ed` and `-rsa` are added
        /// to it (default: the month, e.g. 202611).
        #[arg(long)]
        selector: Option<String>,
        /// Only this algorithm (default: both ed25519 and rsa).
        #[arg(long, value_enum)]
        algorithm: Option<AlgorithmArg>,
        /// Replace an existing key with the same selector.
        #[arg(long)]
        force: bool,
    },
    /// Show the keys and the DNS records that publish them.
    List {
        /// Only this domain.
        #[arg(long)]
        domain: Option<String>,
    },
}

/// `--algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgorithmArg {
    Ed25519,
    Rsa,
}

impl From<AlgorithmArg> for Algorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Ed25519 => Self::Ed25519,
            AlgorithmArg::Rsa => Self::Rsa,
        }
    }
}

pub fn run(loc: &Location, cmd: DkimCommand) -> anyhow::Result<ExitCode> {
    let config = loc.load()?;
    let dir = config.data_dir.join(DKIM_DIR);
    match cmd {
        DkimCommand::Generate {
            domain,
            selector,
            algorithm,
            force,
        } => {
            let domain = keys::normalize_domain(&domain)?;
            check_local_domain(loc, &domain)?;
            generate(&dir, &domain, selector, algorithm.map(Into::into), force)?;
            Ok(ExitCode::SUCCESS)
        }
        DkimCommand::List { domain } => list(&dir, domain.as_deref()),
    }
}

/// Keys only make sense for a domain we send mail as; a typo would
/// otherwise give a key nobody uses.
fn check_local_domain(loc: &Location, domain: &str) -> anyhow::Result<()> {
    let store = crate::cmd::accounts::open_store(loc)?;
    if !store.domains()?.iter().any(|d| d == domain) {
        anyhow::bail!(
            "{domain} is not a mail domain of this server (see `postern domain list`); add it with `postern domain add {domain}` first"
        );
    }
    Ok(())
}

fn generate(
    dir: &Path,
    domain: &str,
    selector: Option<String>,
    only: Option<Algorithm>,
    force: bool,
) -> anyhow::Result<()> {
    let base = selector.unwrap_or_else(month);
    let plan: Vec<(String, Algorithm)> = match only {
        Some(a) => vec![(base, a)],
        None => vec![
            (format!("{base}-ed"), Algorithm::Ed25519),
            (format!("{base}-rsa"), Algorithm::Rsa),
        ],
    };
    // Every name is checked before any key is written, so a refusal
    // leaves nothing half done.
    for (selector, algorithm) in &plan {
        keys::check_selector(selector)?;
        let path = keys::key_path(dir, domain, selector, *algorithm);
        if !force && path.exists() {
            return Err(keys::KeyError::Exists(path).into());
        }
    }
    let mut lines = Vec::new();
    for (selector, algorithm) in &plan {
        let key = keys::generate(*algorithm)?;
        let path = keys::write_key(dir, domain, selector, &key, force)?;
        println!(
            "Wrote {} ({}, readable by its owner only).",
            path.display(),
            describe(*algorithm)
        );
        lines.push(key.public.zone_line(selector, domain));
    }
    println!();
    println!(
        "Publish {} in the DNS zone of {domain}; `postern dns records --domain {domain}` shows every record the domain needs.",
        if lines.len() == 1 { "this record" } else { "these records" }
    );
    println!("The server signs mail from {domain} with the new key from the next message on (no restart).");
    println!();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn describe(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Ed25519 => "Ed25519",
        Algorithm::Rsa => "RSA 2048",
    }
}

/// The default selector base: this month, `YYYYMM`.
fn month() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{}{:02}", now.year(), u8::from(now.month()))
}

fn list(dir: &Path, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let domains = match only {
        Some(d) => vec![keys::normalize_domain(d)?],
        None => keys::domains(dir)?,
    };
    let mut failed = false;
    let mut any = false;
    for domain in domains {
        match keys::domain_keys(dir, &domain) {
            Ok(found) => {
                for k in found {
                    print_key(&k);
                    any = true;
                }
            }
            Err(errors) => {
                failed = true;
                for e in errors {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    if !any && !failed {
        println!(
            "No DKIM keys in {}; make some with `postern dkim generate --domain DOMAIN`.",
            dir.display()
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_key(k: &KeyFile) {
    println!(
        "; {} selector {} ({}), key {}",
        k.domain,
        k.selector,
        describe(k.public.algorithm),
        k.path.display()
    );
    println!("{}", k.public.zone_line(&k.selector, &k.domain));
}

/// The zone lines of a domain's keys, for `postern dns records`.
pub fn records(dir: &Path, domain: &str) -> anyhow::Result<Vec<(KeyFile, String)>> {
    let found = keys::domain_keys(dir, domain).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(text.join("; "))
    });
    let found = found.with_context(|| format!("reading the DKIM keys of {domain}"))?;
    Ok(found
        .into_iter()
        .map(|k| {
            let line = k.public.zone_line(&k.selector, &k.domain);
            (k, line)
        })
        .collect())
}
