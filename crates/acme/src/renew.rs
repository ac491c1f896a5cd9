//! Keeping an `[[acme]]` certificate current: decide whether the installed
//! certificate needs replacing, and if so order, check and install a new
//! one. `postern cert renew` and the server's renewal task both run
//! [`Job::run`]; only how often, and what they print, differs.
//!
//! A certificate is renewed when it cannot be used (missing, unreadable,
//! key mismatch), misses a configured name, was not issued through this
//! section (self-signed, imported, another CA), or has reached its renewal
//! point: `renew_before` ahead of its end, else two thirds into its
//! lifetime (Let's Encrypt's advice: 30 days before a 90-day certificate
//! ends), or earlier when the CA's renewal information (ARI, RFC 9773)
//! says so.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use instant_acme::{Account, CertificateIdentifier};
use postern_config::acme::{
    reference_problems, required_names, AcmeChallenge, AcmeConfig, DnsUpdateConfig,
};
use postern_config::{CertificateConfig, Config};
use postern_tls::inspect::{format_time, CertSummary};
use postern_tls::tooling::{ImportedCert, KeyType};
use postern_types::Service;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::dns01::{read_tsig_secret, DnsUpdate, TsigKey};
use crate::install::{install, read_record};
use crate::{obtain_with, open_account, AcmeError, Challenge, Eab, Settings};

/// Where http-01 answers are published inside the data directory; the
/// server's port-80 listener reads them from there.
pub fn http01_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("acme").join("http-01")
}

/// Why a certificate is being replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Forced,
    Unusable(String),
    NamesMissing(Vec<String>),
    NotFromCa { issuer: String },
    Due { since: OffsetDateTime },
    Ari { since: OffsetDateTime },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forced => f.write_str("renewal was forced"),
            Self::Unusable(why) => write!(f, "the installed certificate cannot be used ({why})"),
            Self::NamesMissing(n) => write!(
                f,
                "the installed certificate does not cover {}",
                n.join(", ")
            ),
            Self::NotFromCa { issuer } => write!(
                f,
                "the installed certificate (issued by {issuer}) was not obtained from this CA"
            ),
            Self::Due { since } => write!(f, "it was due for renewal on {}", format_time(*since)),
            Self::Ari { since } => write!(
                f,
                "the CA's renewal information (RFC 9773) asks for renewal since {}",
                format_time(*since)
            ),
        }
    }
}

/// What the installed certificate needs.
#[derive(Debug)]
pub enum Check {
    Renew(Reason),
    /// Good until `at`; `leaf` is what the CA's renewal information is
    /// asked about.
    NotDue {
        at: OffsetDateTime,
        summary: Box<CertSummary>,
        leaf: CertificateDer<'static>,
    },
}

/// What one run did.
#[derive(Debug)]
pub enum Outcome {
    NotDue {
        at: OffsetDateTime,
        summary: Box<CertSummary>,
    },
    Renewed {
        reason: Reason,
        cert: Box<ImportedCert>,
    },
}

/// One `[[acme]]` section, resolved against the configuration.
#[derive(Debug, Clone)]
pub struct Job {
    pub acme: AcmeConfig,
    pub target: CertificateConfig,
    pub required_names: Vec<String>,
    pub settings: Settings,
    /// `DATA/acme`: account files and install records.
    pub state_dir: PathBuf,
}

impl Job {
    /// Resolves `acme` against `config`. `tls` is the client configuration
    /// for the CA's HTTPS; `may_listen` lets this process answer http-01
    /// itself when no server holds the `http` listener's address.
    pub fn new(
        config: &Config,
        acme: &AcmeConfig,
        tls: Arc<rustls::ClientConfig>,
        may_listen: bool,
    ) -> Result<Self, AcmeError> {
        let problems = reference_problems(
            std::slice::from_ref(acme),
            &config.certificates,
            &config.listeners,
            &config.hostname,
        );
        if let Some((key, message)) = problems.into_iter().next() {
            return Err(AcmeError::Config(format!(
                "{}: {key}: {message}",
                config.path.display()
            )));
        }
        let target = config
            .certificates
            .iter()
            .find(|c| c.name == acme.certificate)
            .cloned()
            .ok_or_else(|| AcmeError::Config(format!("no certificate \"{}\"", acme.certificate)))?;
        let key: KeyType = acme
            .key
            .parse()
            .map_err(|e| AcmeError::Config(format!("acme \"{}\": key: {e}", acme.certificate)))?;
        let eab = acme
            .eab
            .as_ref()
            .map(|e| read_eab(&e.kid, &e.hmac_file))
            .transpose()?;
        let state_dir = config.data_dir.join("acme");
        let settings = Settings {
            directory: acme.directory.clone(),
            names: acme.names.clone(),
            contact: acme.contact.clone(),
            tls,
            account_dir: state_dir.clone(),
            http01_dir: http01_dir(&config.data_dir),
            challenge: match &acme.challenge {
                AcmeChallenge::Http01 => Challenge::Http01,
                AcmeChallenge::TlsAlpn01 => Challenge::TlsAlpn01,
                AcmeChallenge::Dns01(d) => Challenge::Dns01(dns_update(d)?),
            },
            http_listen: http_listen(config),
            tls_listen: first_bind(config, Service::Https)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 443))),
            tls_alpn01_shared: None,
            key,
            http01_may_listen: may_listen,
            eab,
        };
        Ok(Self {
            required_names: required_names(
                &acme.certificate,
                &config.certificates,
                &config.listeners,
                &config.hostname,
            ),
            target,
            settings,
            state_dir,
            acme: acme.clone(),
        })
    }

    /// Answers tls-alpn-01 through a running server's HTTPS listeners,
    /// which read `map` (the server's own renewal), instead of a temporary
    /// listener.
    pub fn answer_through(mut self, map: postern_tls::resolver::AcmeChallenges) -> Self {
        self.settings.tls_alpn01_shared = Some(map);
        self
    }

    /// Reads the installed certificate and decides, without the network.
    pub fn check(&self, now: OffsetDateTime) -> Check {
        let ck = match postern_tls::certstore::read_cert_key(&self.target) {
            Ok(ck) => ck,
            Err(e) => return Check::Renew(Reason::Unusable(e.to_string())),
        };
        let leaf = ck.chain[0].clone();
        let summary = match CertSummary::from_der(&leaf) {
            Ok(s) => s,
            Err(e) => return Check::Renew(Reason::Unusable(e.to_string())),
        };
        if !postern_tls::load::key_matches_certificate(&ck.key, &leaf).unwrap_or(false) {
            return Check::Renew(Reason::Unusable("its key does not belong to it".to_owned()));
        }
        let record = read_record(&self.state_dir, &self.target.name);
        match decide(&self.acme, &summary, record.as_ref(), now) {
            Ok(at) => Check::NotDue {
                at,
                summary: Box::new(summary),
                leaf,
            },
            Err(reason) => Check::Renew(reason),
        }
    }

    /// Renews when [`Job::check`] or the CA's renewal information say so,
    /// or always with `force`; installs the result. On error nothing
    /// installed has changed.
    pub async fn run(&self, force: bool) -> Result<Outcome, AcmeError> {
        let now = OffsetDateTime::now_utc();
        let (reason, installed) = match (force, self.check(now)) {
            (true, Check::NotDue { leaf, .. }) => (Reason::Forced, Some(leaf)),
            (true, Check::Renew(_)) => (Reason::Forced, None),
            (false, Check::Renew(r)) => (r, None),
            (false, Check::NotDue { at, summary, leaf }) => match self.ari(&leaf).await {
                Some(p) if p <= now => (Reason::Ari { since: p }, Some(leaf)),
                Some(p) => {
                    return Ok(Outcome::NotDue {
                        at: at.min(p),
                        summary,
                    })
                }
                None => return Ok(Outcome::NotDue { at, summary }),
            },
        };
        let account = open_account(&self.settings).await?;
        // RFC 9773 §5: `replaces` only to a CA that offers renewal
        // information, and only for a certificate it issued.
        let replaces = match &installed {
            Some(leaf) if offers_ari(&account, leaf).await => identifier(leaf),
            _ => None,
        };
        let issued = obtain_with(&account, &self.settings, replaces).await?;
        let job = self.clone();
        let cert = tokio::task::spawn_blocking(move || {
            install(
                &issued,
                &job.target,
                job.required_names.clone(),
                &job.state_dir,
                &job.acme.directory,
                OffsetDateTime::now_utc(),
            )
        })
        .await
        .map_err(|e| AcmeError::Install(e.to_string()))??;
        Ok(Outcome::Renewed {
            reason,
            cert: Box::new(cert),
        })
    }

    /// The point in the CA's suggested window (RFC 9773 §4.2) at which to
    /// renew, if the CA offers one. Any failure means "no advice": the
    /// lifetime rule still applies, so a CA without ARI is no error.
    async fn ari(&self, leaf: &CertificateDer<'static>) -> Option<OffsetDateTime> {
        let id = identifier(leaf)?;
        let account = open_account(&self.settings)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "no renewal information"))
            .ok()?;
        let (info, _) = account
            .renewal_info(&id)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "no renewal information"))
            .ok()?;
        let w = info.suggested_window;
        Some(ari_point(w.start, w.end, &id.to_string()))
    }
}

/// `Ok(renewal point)` while the installed certificate is good, else why
/// it must be replaced.
pub fn decide(
    acme: &AcmeConfig,
    summary: &CertSummary,
    record: Option<&crate::install::Record>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, Reason> {
    let missing: Vec<String> = acme
        .names
        .iter()
        .filter(|n| !summary.dns_names.contains(n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Reason::NamesMissing(missing));
    }
    if summary.self_signed || !record.is_some_and(|r| r.describes(summary, &acme.directory)) {
        return Err(Reason::NotFromCa {
            issuer: summary.issuer.clone(),
        });
    }
    let at = renewal_point(summary.not_before, summary.not_after, acme.renew_before);
    if at <= now {
        return Err(Reason::Due { since: at });
    }
    Ok(at)
}

/// `renew_before` ahead of the end, or two thirds into the lifetime when
/// it is not set or not shorter than the lifetime (which would renew on
/// every check).
pub fn renewal_point(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    renew_before: Option<Duration>,
) -> OffsetDateTime {
    let lifetime = not_after - not_before;
    match renew_before.and_then(|d| time::Duration::try_from(d).ok()) {
        Some(before) if before < lifetime => not_after - before,
        _ => not_before + lifetime * 2 / 3,
    }
}

/// A point in the window chosen from the certificate's identity, so every
/// check of one certificate picks the same point while many servers spread
/// over the window (RFC 9773 §4.2 asks for a random point).
pub fn ari_point(start: OffsetDateTime, end: OffsetDateTime, cert_id: &str) -> OffsetDateTime {
    let span = (end - start).whole_seconds();
    if span <= 0 {
        return start;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cert_id.hash(&mut h);
    let offset = (h.finish() % span.unsigned_abs()) as i64;
    start + time::Duration::seconds(offset)
}

fn identifier(leaf: &CertificateDer<'static>) -> Option<CertificateIdentifier<'static>> {
    CertificateIdentifier::try_from(leaf)
        .map(CertificateIdentifier::into_owned)
        .ok()
}

async fn offers_ari(account: &Account, leaf: &CertificateDer<'static>) -> bool {
    match identifier(leaf) {
        Some(id) => account.renewal_info(&id).await.is_ok(),
        None => false,
    }
}

/// The address the CA's port-80 requests reach: the first enabled `http`
/// listener's (the configuration check requires one for http-01).
fn http_listen(config: &Config) -> SocketAddr {
    first_bind(config, Service::Http).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 80)))
}

/// The first address of an enabled, non-proxy listener of `service`.
fn first_bind(config: &Config, service: Service) -> Option<SocketAddr> {
    config
        .enabled_listeners()
        .filter(|l| l.service == service && l.proxy.is_none())
        .find_map(|l| l.bind.first().copied())
}

/// The dns-01 settings of a section, with the TSIG secret read from its
/// file (the secret never sits in the configuration).
pub fn dns_update(d: &DnsUpdateConfig) -> Result<DnsUpdate, AcmeError> {
    Ok(DnsUpdate {
        server: d.server,
        zone: d.zone.clone(),
        key: TsigKey {
            name: d.key_name.clone(),
            secret: read_tsig_secret(&d.secret_file)?,
        },
    })
}

/// The External Account Binding key from its file: base64url as CAs hand
/// it out (RFC 8555 §7.3.4), padded or not, surrounding space ignored.
fn read_eab(kid: &str, path: &Path) -> Result<Eab, AcmeError> {
    let text = std::fs::read_to_string(path).map_err(|e| AcmeError::io(path, e))?;
    let text = text.trim().trim_end_matches('=');
    let hmac_key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| {
            AcmeError::Config(format!(
                "{}: not a base64url MAC key ({e}); paste the EAB HMAC key exactly as the CA gave it",
                path.display()
            ))
        })?;
    Ok(Eab {
        kid: kid.to_owned(),
        hmac_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Midnight UTC of a day in 2026.
    fn day(month: u8, day: u8) -> OffsetDateTime {
        let month = time::Month::try_from(month).unwrap();
        time::Date::from_calendar_date(2026, month, day)
            .unwrap()
            .midnight()
            .assume_utc()
    }
    use crate::install::Record;

    fn acme(renew_before: Option<Duration>) -> AcmeConfig {
        AcmeConfig {
            certificate: "main".into(),
            directory: "https://ca/dir".into(),
            names: vec!["a.example".into()],
            challenge: AcmeChallenge::Http01,
            contact: vec![],
            key: "ecdsa-p256".into(),
            ca_bundle: None,
            renew_before,
            eab: None,
        }
    }

    fn summary(names: &[&str], self_signed: bool) -> CertSummary {
        let cert = postern_tls::tooling::self_signed(
            &postern_tls::tooling::SelfSignedParams::new(
                names.iter().map(|n| (*n).to_owned()).collect(),
            ),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let der = postern_tls::load::parse_certificates_pem("c", cert.cert_pem.as_bytes()).unwrap();
        let mut s = CertSummary::from_der(&der[0]).unwrap();
        s.self_signed = self_signed;
        s.not_before = day(1, 1);
        s.not_after = day(4, 1); // 90 days
        s
    }

    fn record(s: &CertSummary) -> Record {
        Record {
            directory: "https://ca/dir".into(),
            issuer: s.issuer.clone(),
            serial: s.serial.clone(),
        }
    }

    #[test]
    fn the_default_point_is_two_thirds_into_the_lifetime() {
        let (nb, na) = (day(1, 1), day(4, 1));
        assert_eq!(renewal_point(nb, na, None), day(3, 2));
        let ten_days = Some(Duration::from_secs(10 * 86_400));
        assert_eq!(renewal_point(nb, na, ten_days), day(3, 22));
        // Longer than the lifetime would renew at every check.
        let year = Some(Duration::from_secs(365 * 86_400));
        assert_eq!(renewal_point(nb, na, year), day(3, 2));
    }

    #[test]
    fn a_certificate_from_this_ca_is_kept_until_its_point() {
        let s = summary(&["a.example"], false);
        let r = record(&s);
        let before = day(3, 1);
        assert_eq!(decide(&acme(None), &s, Some(&r), before), Ok(day(3, 2)));
        let after = day(3, 3);
        assert_eq!(
            decide(&acme(None), &s, Some(&r), after),
            Err(Reason::Due { since: day(3, 2) })
        );
    }

    #[test]
    fn self_signed_foreign_and_incomplete_certificates_are_replaced() {
        let now = day(1, 2);
        let s = summary(&["a.example"], true);
        let r = record(&s);
        assert!(matches!(
            decide(&acme(None), &s, Some(&r), now),
            Err(Reason::NotFromCa { .. })
        ));
        let s = summary(&["a.example"], false);
        assert!(matches!(
            decide(&acme(None), &s, None, now),
            Err(Reason::NotFromCa { .. })
        ));
        let s = summary(&["b.example"], false);
        assert_eq!(
            decide(&acme(None), &s, Some(&record(&s)), now),
            Err(Reason::NamesMissing(vec!["a.example".into()]))
        );
    }

    #[test]
    fn the_ari_point_is_inside_the_window_and_stable() {
        let (start, end) = (day(3, 1), day(3, 3));
        let p = ari_point(start, end, "aki.serial");
        assert!(start <= p && p < end, "{p}");
        assert_eq!(p, ari_point(start, end, "aki.serial"));
        assert_eq!(ari_point(end, start, "x"), end);
    }

    #[test]
    fn eab_keys_are_read_as_base64url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eab");
        std::fs::write(&path, "aGVsbG8_-w==\n").unwrap();
        let e = read_eab("kid", &path).unwrap();
        assert_eq!(e.hmac_key, b"hello?\xfb");
        std::fs::write(&path, "not base64!").unwrap();
        let err = read_eab("kid", &path).unwrap_err().to_string();
        assert!(err.contains("not a base64url MAC key"), "{err}");
    }
}
