//! `postern cert acme`: obtain a certificate from an ACME CA (RFC 8555)
//! and install it the way `postern cert import` does, so a running server
//! picks it up without a restart and any failure leaves the certificate
//! being served untouched.
//!
//! `postern cert renew`: the server's renewal of the `[[acme]]` sections,
//! run once (the same [`postern_acme::Job`]), saying what it did.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use postern_acme::{Challenge, Job, Outcome};
use postern_config::acme::{required_names, AcmeConfig};
use postern_config::Config;
use postern_tls::inspect::format_time;
use postern_tls::tooling::KeyType;
use postern_types::Service;
use time::OffsetDateTime;

use crate::cmd::cert::{report_installed, target};
use crate::paths::Location;

/// Where the port-80 answers go when no `http` listener is configured.
const DEFAULT_HTTP_LISTEN: &str = "0.0.0.0:80";
/// Where tls-alpn-01 is answered when no `https` listener is configured.
const DEFAULT_TLS_LISTEN: &str = "0.0.0.0:443";

/// `postern cert acme ...`
#[derive(Debug, clap::Args)]
pub struct AcmeArgs {
    /// The CA's ACME directory URL (e.g. Let's Encrypt's
    /// https://acme-v02.api.letsencrypt.org/directory).
    #[arg(long)]
    directory: String,
    /// Extra trusted roots (PEM) for the CA's HTTPS server: a private or test CA.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// A DNS name; repeat for more. Each must resolve to this machine.
    #[arg(long = "name", required = true)]
    names: Vec<String>,
    /// How to prove control of the names: http-01 (port 80; a running
    /// server answers it) or tls-alpn-01 (port 443, which must be free
    /// while the command runs).
    #[arg(long, default_value = "http-01", value_parser = ["http-01", "tls-alpn-01"])]
    challenge: String,
    /// Where the CA's port-80 requests arrive (default: the `http`
    /// listener's address, else 0.0.0.0:80). A running server on it answers
    /// the challenge; otherwise this command listens there itself.
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Where the CA's port-443 connections arrive for tls-alpn-01 (default:
    /// the `https` listener's address, else 0.0.0.0:443).
    #[arg(long)]
    tls_listen: Option<SocketAddr>,
    /// A contact URL for the account, e.g. mailto:postmaster@example.org; repeatable.
    #[arg(long)]
    contact: Vec<String>,
    /// ecdsa-p256 (default), ecdsa-p384, rsa2048, rsa3072, rsa4096.
    #[arg(long, default_value = "ecdsa-p256")]
    key: KeyType,
    /// Which configured [[certificate]] to replace (default: the default one).
    #[arg(long)]
    cert_name: Option<String>,
}

pub fn run(loc: &Location, args: AcmeArgs) -> anyhow::Result<ExitCode> {
    let config = loc.load()?;
    // The steps of an order (account registered or reused, which listener
    // answers) are logged, so an administrator can follow a slow CA.
    crate::logging::init(&config.log);
    let target = target(&config, args.cert_name.as_deref())?;
    postern_acme::install::pem_paths(target)?;
    let settings = settings(&config, &args)?;
    let answered_on = match settings.challenge {
        Challenge::Http01 => settings.http_listen,
        Challenge::TlsAlpn01 => settings.tls_listen,
    };
    eprintln!(
        "Asking {} for {} ({} answered on {answered_on})...",
        settings.directory,
        settings.names.join(", "),
        args.challenge,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let issued = runtime
        .block_on(postern_acme::obtain(&settings))
        .context("no certificate was obtained; the installed one is unchanged")?;
    let required = required_names(
        &target.name,
        &config.certificates,
        &config.listeners,
        &config.hostname,
    );
    let cert = postern_acme::install::install(
        &issued,
        target,
        required,
        &settings.account_dir,
        &settings.directory,
        OffsetDateTime::now_utc(),
    )?;
    report_installed(&cert, target);
    Ok(ExitCode::SUCCESS)
}

/// `postern cert renew`: each `[[acme]]` section (or the one keeping
/// `certificate`) checked once and renewed when due, or always with
/// `force`. Fails when any renewal failed.
pub fn renew(loc: &Location, certificate: Option<&str>, force: bool) -> anyhow::Result<ExitCode> {
    let config = loc.load()?;
    crate::logging::init(&config.log);
    let sections: Vec<&AcmeConfig> = config
        .acme
        .iter()
        .filter(|a| certificate.is_none_or(|c| a.certificate == c))
        .collect();
    if sections.is_empty() {
        match certificate {
            Some(c) => anyhow::bail!("no [[acme]] section in {} keeps the certificate \"{c}\"; add one (see docs/acme.md)", config.path.display()),
            None => anyhow::bail!("{} has no [[acme]] section; add one (see docs/acme.md), or obtain a certificate once with `postern cert acme`", config.path.display()),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut failed = false;
    for acme in sections {
        if let Err(e) = runtime.block_on(renew_one(&config, acme, force)) {
            eprintln!("\"{}\": {e:#}", acme.certificate);
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn renew_one(config: &Config, acme: &AcmeConfig, force: bool) -> anyhow::Result<()> {
    let tls = client_tls(acme.ca_bundle.as_deref())?;
    let job = Job::new(config, acme, tls, true)?;
    if force {
        eprintln!(
            "Renewing \"{}\" from {} for {}...",
            acme.certificate,
            acme.directory,
            acme.names.join(", ")
        );
    }
    let outcome = job
        .run(force)
        .await
        .context("no certificate was obtained; the installed one is unchanged")?;
    match outcome {
        Outcome::NotDue { at, summary } => println!(
            "\"{}\": not due until {} (valid until {}).",
            acme.certificate,
            format_time(at),
            format_time(summary.not_after)
        ),
        Outcome::Renewed { reason, cert } => {
            println!(
                "\"{}\": renewed ({reason}), valid until {}.",
                acme.certificate,
                format_time(cert.summary.not_after)
            );
            report_installed(&cert, &job.target);
        }
    }
    Ok(())
}

fn settings(config: &Config, args: &AcmeArgs) -> anyhow::Result<postern_acme::Settings> {
    for c in &args.contact {
        if !c.starts_with("mailto:") {
            anyhow::bail!("--contact {c}: give a mailto: URL, e.g. mailto:postmaster@example.org (RFC 8555 §7.3)");
        }
    }
    let acme_dir = config.data_dir.join("acme");
    Ok(postern_acme::Settings {
        directory: args.directory.clone(),
        names: args.names.clone(),
        contact: args.contact.clone(),
        tls: client_tls(args.ca_bundle.as_deref())?,
        account_dir: acme_dir,
        http01_dir: postern_server::acme_http::challenge_dir(&config.data_dir),
        challenge: match args.challenge.as_str() {
            "tls-alpn-01" => Challenge::TlsAlpn01,
            _ => Challenge::Http01,
        },
        http_listen: match args.http_listen {
            Some(a) => a,
            None => listen(config, Service::Http, DEFAULT_HTTP_LISTEN)?,
        },
        tls_listen: match args.tls_listen {
            Some(a) => a,
            None => listen(config, Service::Https, DEFAULT_TLS_LISTEN)?,
        },
        tls_alpn01_shared: None,
        key: args.key,
        http01_may_listen: true,
        eab: None,
    })
}

/// The TLS client for the CA: the system's roots, as outbound mail uses,
/// plus `--ca-bundle` (or `ca_bundle`); the CA's certificate is always
/// verified.
fn client_tls(
    ca_bundle: Option<&Path>,
) -> anyhow::Result<std::sync::Arc<postern_tls::rustls::ClientConfig>> {
    postern_server::acme_renew::ca_client_tls(ca_bundle).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The first address of the configured listener of `service`, where the
/// CA's validation requests are expected to arrive.
fn listen(config: &Config, service: Service, default: &str) -> anyhow::Result<SocketAddr> {
    let configured = config
        .enabled_listeners()
        .find(|l| l.service == service)
        .and_then(|l| l.bind.first().copied());
    match configured {
        Some(a) => Ok(a),
        None => Ok(default.parse()?),
    }
}
