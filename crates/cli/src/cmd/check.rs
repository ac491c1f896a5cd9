//! `postern check`: the configuration, every certificate, every
//! listener's TLS policy, and the DKIM signing keys, checked without
//! starting anything.

use std::process::ExitCode;
use std::sync::Arc;

use postern_config::Config;
use postern_tls::tooling::{check_cert_key, Severity};
use postern_tls::{CertStore, Certificates};
use postern_types::TlsMode;
use time::OffsetDateTime;

use crate::paths::Location;

pub fn run(loc: &Location) -> anyhow::Result<ExitCode> {
    let config = match loc.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: configuration valid", config.path.display());
    let mut worst = certificates(&config);
    worst = worst.max(listeners(&config));
    worst = worst.max(dkim(&config));
    Ok(match worst {
        Severity::Error => ExitCode::FAILURE,
        Severity::Ok | Severity::Warning => ExitCode::SUCCESS,
    })
}

fn certificates(config: &Config) -> Severity {
    let now = OffsetDateTime::now_utc();
    let mut worst = Severity::Ok;
    for c in &config.certificates {
        let ck = match postern_tls::certstore::read_cert_key(c) {
            Ok(ck) => ck,
            Err(e) => {
                println!("error: {e}");
                worst = Severity::Error;
                continue;
            }
        };
        let report = check_cert_key(&ck, &config.required_names(&c.name), now);
        println!("certificate \"{}\":", c.name);
        for f in &report.findings {
            println!("  {:<7} {}", label(f.severity), f.message);
        }
        worst = worst.max(report.worst());
    }
    worst
}

fn listeners(config: &Config) -> Severity {
    // Build each TLS configuration against an empty store: this checks the
    // suites and client CAs without needing the certificates to load.
    let empty = Certificates::new(CertStore::default());
    let mut worst = Severity::Ok;
    for l in config.enabled_listeners() {
        if let Some(p) = &l.proxy {
            if let Err(e) = postern_server::proxy::check(p) {
                println!("error: listener \"{}\": {e}", l.name);
                worst = Severity::Error;
            }
        }
    }
    for l in config
        .enabled_listeners()
        .filter(|l| l.tls != TlsMode::None)
    {
        match postern_tls::server_config(&config.tls, l, Arc::clone(&empty.shared())) {
            Ok((_, offered)) => println!("listener \"{}\": {offered}", l.name),
            Err(e) => {
                println!("error: {e}");
                worst = Severity::Error;
            }
        }
    }
    worst
}

/// The DKIM keys (`DATA/dkim/DOMAIN/`): a key the server could not use
/// is an error (it refuses to start, rather than send unsigned mail for a
/// domain that may publish a DMARC policy); a served domain without a key
/// is a warning (its mail leaves unsigned, and fails DMARC wherever the
/// domain's policy asks for alignment the SPF of a forwarder breaks).
fn dkim(config: &Config) -> Severity {
    use postern_outbound::dkim::keys;
    let dir = config.data_dir.join(postern_server::outbound::DKIM_DIR);
    let mut worst = Severity::Ok;
    for domain in &config.domains {
        match keys::domain_keys(&dir, domain) {
            Ok(found) if found.is_empty() => {
                println!(
                    "warning: domain {domain}: no DKIM key, its mail leaves unsigned; make keys with `postern dkim generate --domain {domain}` and publish what it prints"
                );
                worst = worst.max(Severity::Warning);
            }
            Ok(found) => {
                let selectors: Vec<String> = found
                    .iter()
                    .map(|k| format!("{} ({})", k.selector, k.public.algorithm.name()))
                    .collect();
                println!("domain {domain}: DKIM keys {}", selectors.join(", "));
            }
            Err(errors) => {
                for e in errors {
                    println!("error: domain {domain}: {e}");
                }
                worst = Severity::Error;
            }
        }
    }
    worst
}

pub fn label(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "ok",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}
