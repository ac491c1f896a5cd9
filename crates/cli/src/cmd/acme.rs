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
    /// server answers it), tls-alpn-01 (port 443, which must be free
    /// while the command runs) or dns-01 (a TXT record added by a dynamic
    /// DNS update: --dns-server, --tsig-key-name, --tsig-secret-file;
    /// the only one for wildcard names).
    #[arg(long, default_value = "http-01", value_parser = ["http-01", "tls-alpn-01", "dns-01"])]
    challenge: String,
    /// dns-01: the zone's primary DNS server, which takes RFC 2136
    /// updates ("ip:port", or an IP for port 53).
    #[arg(long, value_parser = parse_dns_server)]
    dns_server: Option<SocketAddr>,
    /// dns-01: the zone holding the names (default: each name's parent).
    #[arg(long)]
    dns_zone: Option<String>,
    /// dns-01: the TSIG key the zone grants updates to.
    #[arg(long)]
    tsig_key_name: Option<String>,
    /// dns-01: the TSIG algorithm; hmac-sha256 only (RFC 8945 §6).
    #[arg(long, value_enum, default_value = "hmac-sha256")]
    tsig_algorithm: TsigAlgorithm,
    /// dns-01: a file (mode 0600) with the key's base64 secret on its
    /// first line.
    #[arg(long)]
    tsig_secret_file: Option<PathBuf>,
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

/// The TSIG algorithms offered (RFC 8945 §6: HMAC-SHA256 is mandatory).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TsigAlgorithm {
    #[value(name = "hmac-sha256")]
    HmacSha256,
}

pub fn run(loc: &Location, args: AcmeArgs) -> anyhow::Result<ExitCode> {
    let config = loc.load()?;
    // The steps of an order (account registered or reused, which listener
    // answers) are logged, so an administrator can follow a slow CA.
    crate::logging::init(&config.log);
    let target = target(&config, args.cert_name.as_deref())?;
    postern_acme::install::pem_paths(target)?;
    let settings = settings(&config, &args)?;
    let answered_on = match &settings.challenge {
        Challenge::Http01 => format!("answered on {}", settings.http_listen),
        Challenge::TlsAlpn01 => format!("answered on {}", settings.tls_listen),
        Challenge::Dns01(u) => format!("published through {}", u.server),
    };
    eprintln!(
        "Asking {} for {} ({} {answered_on})...",
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
    let challenge = challenge(args)?;
    if !matches!(challenge, Challenge::Dns01(_)) {
        if let Some(w) = args.names.iter().find(|n| n.starts_with("*.")) {
            anyhow::bail!("--name {w}: a wildcard needs --challenge dns-01 (RFC 8555 §7.1.3)");
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
        challenge,
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

/// The challenge of `--challenge`, with the dns-01 options checked.
fn challenge(args: &AcmeArgs) -> anyhow::Result<Challenge> {
    let dns_given = args.dns_server.is_some()
        || args.dns_zone.is_some()
        || args.tsig_key_name.is_some()
        || args.tsig_secret_file.is_some();
    match args.challenge.as_str() {
        "dns-01" => {}
        _ if dns_given => {
            anyhow::bail!("--dns-server, --dns-zone and --tsig-* are for --challenge dns-01")
        }
        "tls-alpn-01" => return Ok(Challenge::TlsAlpn01),
        _ => return Ok(Challenge::Http01),
    }
    // The one algorithm, which the signing code implements.
    let TsigAlgorithm::HmacSha256 = args.tsig_algorithm;
    let missing = |what: &str| anyhow::anyhow!("--challenge dns-01 needs {what}");
    let server = args.dns_server.ok_or_else(|| {
        missing("--dns-server ADDR (the zone's primary, which takes dynamic updates)")
    })?;
    let key_name = args
        .tsig_key_name
        .clone()
        .ok_or_else(|| missing("--tsig-key-name NAME (the TSIG key the zone grants updates to)"))?;
    let file = args.tsig_secret_file.as_deref().ok_or_else(|| {
        missing("--tsig-secret-file FILE (the key's base64 secret on its first line)")
    })?;
    Ok(Challenge::Dns01(postern_acme::DnsUpdate {
        server,
        zone: args.dns_zone.clone(),
        key: postern_acme::TsigKey {
            name: key_name,
            secret: postern_acme::dns01::read_tsig_secret(file)?,
        },
    }))
}

fn parse_dns_server(v: &str) -> Result<SocketAddr, String> {
    postern_config::acme::parse_dns_server(v)
        .ok_or_else(|| "give the primary's address as ip:port (or an IP for port 53)".to_owned())
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
