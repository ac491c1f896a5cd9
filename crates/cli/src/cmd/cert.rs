//! `postern cert`: the certificate work administrators used to do by hand
//! with openssl and keytool, with every check done before anything changes.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use postern_config::{CertificateConfig, Config};
use postern_tls::inspect::{format_time, CertSummary};
use postern_tls::tooling::{
    self, certificate_request, check_cert_key, prepare_import, self_signed, ImportRequest,
    ImportSource, ImportedCert, KeyType, RequestParams, SelfSignedParams, Severity,
};
use time::OffsetDateTime;

use crate::cmd::check::label;
use crate::paths::{pending_dir, Location};

/// `postern cert ...`
#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Generate a self-signed certificate and install it (no restart needed).
    SelfSigned {
        /// A DNS name or IP address; repeat for more. The first is the CN.
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// ecdsa-p256 (default), ecdsa-p384, rsa2048, rsa3072, rsa4096.
        #[arg(long, default_value = "ecdsa-p256")]
        key: KeyType,
        /// Days of validity.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Which configured [[certificate]] to replace (default: the default one).
        #[arg(long)]
        cert_name: Option<String>,
    },
    /// Generate a key (kept pending, mode 0600) and a CSR to give to a CA.
    Request {
        /// A DNS name; repeat for more. The first is the CN.
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        #[arg(long, default_value = "ecdsa-p256")]
        key: KeyType,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        org_unit: Option<String>,
        #[arg(long)]
        locality: Option<String>,
        #[arg(long)]
        state: Option<String>,
        /// Two-letter country code.
        #[arg(long)]
        country: Option<String>,
    },
    /// Check and install a CA-signed certificate (PEM with its chain, or PKCS#12).
    Import {
        /// The signed certificate (PEM; it may carry the chain too).
        #[arg(required_unless_present = "pkcs12", conflicts_with = "pkcs12")]
        cert: Option<PathBuf>,
        /// The CA's intermediate certificates (PEM).
        #[arg(long)]
        chain: Option<PathBuf>,
        /// The private key, when it is not a pending key of `postern cert request`.
        #[arg(long)]
        key: Option<PathBuf>,
        /// A PKCS#12 keystore (.p12/.pfx) with the key and chain.
        #[arg(long)]
        pkcs12: Option<PathBuf>,
        /// Read the keystore password from standard input.
        #[arg(long, requires = "pkcs12")]
        password_stdin: bool,
        /// Extra trusted roots (PEM) to verify the chain against.
        #[arg(long)]
        ca_bundle: Option<PathBuf>,
        /// Which configured [[certificate]] to replace (default: the default one).
        #[arg(long)]
        cert_name: Option<String>,
    },
    /// Obtain a certificate from an ACME CA (RFC 8555) and install it.
    Acme(crate::cmd::acme::AcmeArgs),
    /// Renew the certificates of the [[acme]] sections that are due (as the server does).
    Renew {
        /// Only the [[acme]] section keeping this [[certificate]].
        #[arg(long)]
        certificate: Option<String>,
        /// Renew even when not due.
        #[arg(long)]
        force: bool,
    },
    /// List the configured certificates: names, issuer, dates, key, chain, listeners.
    Show,
    /// Check the certificates; exit 1 on errors, 3 when only warnings (e.g. expiring within 30 days).
    Check {
        /// Also require this host name to be covered; repeatable.
        #[arg(long)]
        host: Vec<String>,
    },
}

pub fn run(loc: &Location, cmd: CertCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CertCommand::SelfSigned {
            names,
            key,
            days,
            cert_name,
        } => {
            let config = loc.load()?;
            let target = target(&config, cert_name.as_deref())?;
            let params = SelfSignedParams { names, key, days };
            let cert = self_signed(&params, OffsetDateTime::now_utc())?;
            let (cert_path, key_path) = pem_paths(target)?;
            write_pair(cert_path, key_path, &cert.cert_pem, &cert.key_pem)?;
            println!("Installed a self-signed certificate as \"{}\" ({}); a running server picks it up within 2 seconds.", target.name, cert_path.display());
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Request {
            names,
            key,
            org,
            org_unit,
            locality,
            state,
            country,
        } => {
            let config = loc.load()?;
            let params = RequestParams {
                names,
                key,
                organization: org,
                organizational_unit: org_unit,
                locality,
                state,
                country,
            };
            request(&config, &params)
        }
        CertCommand::Import {
            cert,
            chain,
            key,
            pkcs12,
            password_stdin,
            ca_bundle,
            cert_name,
        } => {
            let config = loc.load()?;
            let source = import_source(
                cert.as_deref(),
                chain.as_deref(),
                pkcs12.as_deref(),
                password_stdin,
            )?;
            let file = pkcs12.or(cert).unwrap_or_default();
            import(
                &config,
                source,
                key.as_deref(),
                ca_bundle.as_deref(),
                cert_name.as_deref(),
            )
            .with_context(|| format!("importing {}", file.display()))
        }
        CertCommand::Acme(args) => crate::cmd::acme::run(loc, args),
        CertCommand::Renew { certificate, force } => {
            crate::cmd::acme::renew(loc, certificate.as_deref(), force)
        }
        CertCommand::Show => show(&loc.load()?),
        CertCommand::Check { host } => check(&loc.load()?, &host),
    }
}

/// The configured certificate a command replaces.
pub(crate) fn target<'c>(
    config: &'c Config,
    name: Option<&str>,
) -> anyhow::Result<&'c CertificateConfig> {
    let found = match name {
        Some(n) => config.certificates.iter().find(|c| c.name == n),
        None => config.default_certificate(),
    };
    found.ok_or_else(|| match name {
        Some(n) => anyhow::anyhow!(
            "no [[certificate]] named \"{n}\" in {}",
            config.path.display()
        ),
        None => anyhow::anyhow!(
            "{} has no default [[certificate]]; add one or name it with --cert-name",
            config.path.display()
        ),
    })
}

pub(crate) fn pem_paths(target: &CertificateConfig) -> anyhow::Result<(&Path, &Path)> {
    Ok(postern_acme::install::pem_paths(target)?)
}

/// Writes a certificate and its key atomically (key mode 0600).
pub fn write_pair(
    cert_path: &Path,
    key_path: &Path,
    cert_pem: &str,
    key_pem: &str,
) -> anyhow::Result<()> {
    tooling::import::install_pem(cert_pem, key_pem, cert_path, key_path)
        .with_context(|| format!("installing {}", cert_path.display()))
}

fn request(config: &Config, params: &RequestParams) -> anyhow::Result<ExitCode> {
    let req = certificate_request(params)?;
    let paths = tooling::write_pending(&pending_dir(config), &req, &params.names[0])?;
    println!("{}", req.csr_pem.trim_end());
    eprintln!(
        "Wrote the request to {} and kept its key in {} (mode 0600).",
        paths.csr.display(),
        paths.key.display()
    );
    eprintln!("Give the CSR to your CA, then install what it sends with: postern cert import SIGNED.pem --chain CHAIN.pem");
    Ok(ExitCode::SUCCESS)
}

fn import_source(
    cert: Option<&Path>,
    chain: Option<&Path>,
    pkcs12: Option<&Path>,
    password_stdin: bool,
) -> anyhow::Result<ImportSource> {
    if let Some(p12) = pkcs12 {
        let der = read(p12)?;
        if !password_stdin {
            anyhow::bail!("give the keystore password on standard input with --password-stdin (passwords are never taken from the command line)");
        }
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .context("reading the password from standard input")?;
        let password = password.trim_end_matches(['\n', '\r']).to_owned();
        return Ok(ImportSource::Pkcs12 { der, password });
    }
    let cert = cert.context("give the certificate file, or --pkcs12 FILE")?;
    Ok(ImportSource::Pem {
        cert_pem: read(cert)?,
        chain_pem: chain.map(read).transpose()?,
    })
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn import(
    config: &Config,
    source: ImportSource,
    key: Option<&Path>,
    ca_bundle: Option<&Path>,
    cert_name: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let target = target(config, cert_name)?;
    let (cert_path, key_path) = pem_paths(target)?;
    let key = key
        .map(|k| {
            postern_tls::load::parse_key_pem(&k.display().to_string(), &read(k)?)
                .map_err(anyhow::Error::from)
        })
        .transpose()?;
    let trust_anchors = match ca_bundle {
        Some(b) => postern_tls::load::parse_certificates_pem(&b.display().to_string(), &read(b)?)?,
        None => Vec::new(),
    };
    let pending = pending_dir(config);
    let prepared = prepare_import(ImportRequest {
        source,
        key,
        pending_dir: Some(&pending),
        required_names: config.required_names(&target.name),
        trust_anchors,
        now: OffsetDateTime::now_utc(),
    })?;
    install_checked(&prepared, target, cert_path, key_path)
}

/// Installs a certificate that passed `prepare_import`'s checks where the
/// configured entry's files are (the running server reloads them) and
/// says what is now served.
pub(crate) fn install_checked(
    prepared: &ImportedCert,
    target: &CertificateConfig,
    cert_path: &Path,
    key_path: &Path,
) -> anyhow::Result<ExitCode> {
    tooling::install(prepared, cert_path, key_path)?;
    report_installed(prepared, target);
    Ok(ExitCode::SUCCESS)
}

/// Says what is now installed (and served within seconds), with the
/// warnings the checks raised.
pub(crate) fn report_installed(prepared: &ImportedCert, target: &CertificateConfig) {
    for w in &prepared.warnings {
        eprintln!("warning: {w}");
    }
    let s = &prepared.summary;
    println!(
        "Installed \"{}\": {} issued by {}, valid until {} ({} days).",
        target.name,
        s.all_names().join(", "),
        s.issuer,
        format_time(s.not_after),
        s.days_left(OffsetDateTime::now_utc())
    );
    println!("A running server picks it up within 2 seconds, without a restart.");
}

fn show(config: &Config) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    for c in &config.certificates {
        println!(
            "certificate \"{}\"{}",
            c.name,
            if c.default { " (default)" } else { "" }
        );
        match postern_tls::certstore::read_cert_key(c) {
            Ok(ck) => match CertSummary::from_der(&ck.chain[0]) {
                Ok(s) => print_summary(&s, ck.chain.len(), now),
                Err(e) => println!("  error: {e}"),
            },
            Err(e) => println!("  error: {e}"),
        }
        let users: Vec<&str> = config
            .enabled_listeners()
            .filter(|l| l.certificates.contains(&c.name))
            .map(|l| l.name.as_str())
            .collect();
        println!(
            "  {:<12} {}",
            "listeners",
            if users.is_empty() {
                "-".to_owned()
            } else {
                users.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &CertSummary, chain_len: usize, now: OffsetDateTime) {
    let rows = [
        ("names", s.all_names().join(", ")),
        ("subject", s.subject.clone()),
        (
            "issuer",
            if s.self_signed {
                format!("{} (self-signed)", s.issuer)
            } else {
                s.issuer.clone()
            },
        ),
        ("serial", s.serial.clone()),
        ("not before", format_time(s.not_before)),
        ("not after", format_time(s.not_after)),
        ("days left", s.days_left(now).to_string()),
        ("key", s.key.describe()),
        ("chain", format!("{chain_len} certificate(s)")),
    ];
    for (k, v) in rows {
        println!("  {k:<12} {v}");
    }
}

fn check(config: &Config, extra_hosts: &[String]) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let mut worst = Severity::Ok;
    for c in &config.certificates {
        println!("certificate \"{}\":", c.name);
        let ck = match postern_tls::certstore::read_cert_key(c) {
            Ok(ck) => ck,
            Err(e) => {
                println!("  error   {e}");
                worst = Severity::Error;
                continue;
            }
        };
        let mut hosts = config.required_names(&c.name);
        hosts.extend(extra_hosts.iter().cloned());
        let report = check_cert_key(&ck, &hosts, now);
        for f in &report.findings {
            println!("  {:<7} {}", label(f.severity), f.message);
        }
        worst = worst.max(report.worst());
    }
    Ok(match worst {
        Severity::Ok => ExitCode::SUCCESS,
        Severity::Error => ExitCode::FAILURE,
        Severity::Warning => ExitCode::from(3),
    })
}
