//! `postern cert acme`: obtain a certificate from an ACME CA (RFC 8555)
//! and install it the way `postern cert import` does, so a running server
//! picks it up without a restart and any failure leaves the certificate
//! being served untouched.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use postern_acme::Challenge;
use postern_config::{CertificateConfig, Config};
use postern_outbound::tls::{Check, Trust};
use postern_tls::tooling::{prepare_import, ImportRequest, ImportSource, KeyType};
use postern_types::Service;
use time::OffsetDateTime;

use crate::cmd::cert::{install_checked, pem_paths, target};
use crate::cmd::check::required_hosts;
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
    let (cert_path, key_path) = pem_paths(target)?;
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
    install(&config, target, cert_path, key_path, issued)
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
        key: args.key,
    })
}

/// The TLS client for the CA: the system's roots, as outbound mail uses,
/// plus `--ca-bundle`; the CA's certificate is always verified.
fn client_tls(
    ca_bundle: Option<&Path>,
) -> anyhow::Result<std::sync::Arc<postern_tls::rustls::ClientConfig>> {
    let extra = match ca_bundle {
        Some(b) => {
            let pem = std::fs::read(b).with_context(|| format!("reading {}", b.display()))?;
            postern_tls::load::parse_certificates_pem(&b.display().to_string(), &pem)?
        }
        None => Vec::new(),
    };
    let trust = Trust::new(true, &extra).map_err(|e| anyhow::anyhow!("--ca-bundle: {e}"))?;
    if trust.anchors == 0 {
        anyhow::bail!("no trusted CA roots: install the system's CA bundle (ca-certificates), or give the CA's root with --ca-bundle FILE");
    }
    let (tls, _) = trust.client_config(Check::Pkix { enforce: true }, &[b"http/1.1"]);
    Ok(tls)
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

/// Checks the chain like `postern cert import` (key match, chain order,
/// dates, every listener name covered) and replaces the files atomically.
fn install(
    config: &Config,
    target: &CertificateConfig,
    cert_path: &Path,
    key_path: &Path,
    issued: postern_acme::Issued,
) -> anyhow::Result<ExitCode> {
    let key = postern_tls::load::parse_key_pem("the new ACME key", issued.key_pem.as_bytes())?;
    let prepared = prepare_import(ImportRequest {
        source: ImportSource::Pem {
            cert_pem: issued.chain_pem.into_bytes(),
            chain_pem: None,
        },
        key: Some(key),
        pending_dir: None,
        required_names: required_hosts(config, &target.name),
        trust_anchors: Vec::new(),
        now: OffsetDateTime::now_utc(),
    })
    .context("the CA's certificate was refused; the installed one is unchanged")?;
    install_checked(&prepared, target, cert_path, key_path)
}
