//! Automatic ACME renewal of the `[[acme]]` certificates (RFC 8555).
//!
//! One task per section checks at start and then about every 12 hours
//! (sooner when the renewal point comes first), running the same
//! [`postern_acme::Job`] as `postern cert renew`. The http-01 answers are
//! files that this server's own `http` listener serves
//! ([`crate::acme_http`]); the tls-alpn-01 answers (RFC 8737) go into the
//! challenge map its `https` listeners' resolvers read, and those close a
//! validation connection after the handshake ([`crate::web`]); a renewed certificate is installed with
//! `postern cert import`'s checks and swapped in at once, without a
//! restart. A failure leaves the served certificate as it was, is logged
//! with what to do, and is retried after 10 minutes, doubling up to 6
//! hours.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use postern_acme::{AcmeError, Job, Outcome};
use postern_config::Config;
use postern_outbound::tls::{Check, Trust};
use postern_tls::inspect::format_time;
use postern_tls::resolver::AcmeChallenges;
use postern_tls::rustls::ClientConfig;
use postern_tls::Certificates;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often a certificate that is not due is looked at again: twice a
/// day, as certbot and Let's Encrypt's integration guide advise, so an
/// ARI window or a revocation is noticed within hours.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);
/// Up to this much is added to or taken from each wait, so many servers
/// (and many sections) do not ask the CA at the same moment.
const JITTER: Duration = Duration::from_secs(3600);
/// The first retry after a failure, doubling up to [`MAX_RETRY`]: soon
/// enough for a passing network problem, slow enough for a CA's rate
/// limits (Let's Encrypt counts failed validations per hour).
const FIRST_RETRY: Duration = Duration::from_secs(10 * 60);
const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);
/// Never wait less than this, even when the renewal point is right now.
const MIN_WAIT: Duration = Duration::from_secs(60);

/// Starts one renewal task per `[[acme]]` section (nothing without one).
pub fn spawn(
    config: Arc<Config>,
    certificates: Certificates,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    for acme in &config.acme {
        let job = ca_client_tls(acme.ca_bundle.as_deref())
            .map_err(AcmeError::Config)
            .and_then(|tls| Job::new(&config, acme, tls, false))
            .map(|job| job.answer_through(AcmeChallenges::of(&certificates.shared())));
        match job {
            Ok(job) => {
                let (config, certs, cancel) =
                    (config.clone(), certificates.clone(), cancel.clone());
                tracker.spawn(keep(job, config, certs, cancel));
            }
            Err(e) => tracing::error!(
                certificate = %acme.certificate,
                error = %e,
                "automatic ACME renewal is off for this certificate; fix the [[acme]] section and restart"
            ),
        }
    }
}

/// The TLS client for the CA's HTTPS: the system's roots (the ones
/// outbound mail trusts) plus `ca_bundle`; the CA is always verified.
pub fn ca_client_tls(ca_bundle: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let extra = match ca_bundle {
        Some(b) => {
            let pem = std::fs::read(b).map_err(|e| format!("reading {}: {e}", b.display()))?;
            postern_tls::load::parse_certificates_pem(&b.display().to_string(), &pem)
                .map_err(|e| e.to_string())?
        }
        None => Vec::new(),
    };
    let trust = Trust::new(true, &extra).map_err(|e| format!("ca_bundle: {e}"))?;
    if trust.anchors == 0 {
        return Err("no trusted CA roots: install the system's CA bundle (ca-certificates), or give the CA's root with ca_bundle".into());
    }
    let (tls, _) = trust.client_config(Check::Pkix { enforce: true }, &[b"http/1.1"]);
    Ok(tls)
}

/// Keeps one certificate current until shutdown.
async fn keep(job: Job, config: Arc<Config>, certs: Certificates, cancel: CancellationToken) {
    let name = job.target.name.clone();
    let mut retry = FIRST_RETRY;
    loop {
        let result = tokio::select! {
            r = job.run(false) => r,
            () = cancel.cancelled() => return,
        };
        let wait = match result {
            Ok(outcome) => {
                retry = FIRST_RETRY;
                done(&name, outcome, &config, &certs)
            }
            Err(e) => {
                let wait = retry;
                retry = (retry * 2).min(MAX_RETRY);
                tracing::error!(
                    certificate = %name,
                    error = %e,
                    retry_in_minutes = wait.as_secs() / 60,
                    "ACME renewal failed; the served certificate is unchanged. Check that DNS for each name points here and port 80 reaches the http listener (http-01) or port 443 the https listener (tls-alpn-01); if the CA reports a rate limit, let it pass: renewal retries by itself"
                );
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// Logs what a run did, swaps in a renewed certificate, and says how long
/// to wait before the next check.
fn done(name: &str, outcome: Outcome, config: &Config, certs: &Certificates) -> Duration {
    let now = OffsetDateTime::now_utc();
    match outcome {
        Outcome::NotDue { at, .. } => {
            tracing::info!(certificate = %name, due = %format_time(at), "ACME certificate not due for renewal");
            let until = Duration::try_from(at - now).unwrap_or(Duration::ZERO);
            jittered(CHECK_EVERY).min(until.max(MIN_WAIT))
        }
        Outcome::Renewed { reason, cert } => {
            for w in &cert.warnings {
                tracing::warn!(certificate = %name, "{w}");
            }
            let report = certs.reload(&config.certificates, now);
            tracing::info!(
                certificate = %name,
                %reason,
                issuer = %cert.summary.issuer,
                valid_until = %format_time(cert.summary.not_after),
                reloaded = report.failed.is_empty(),
                "renewed the ACME certificate; it is served now"
            );
            jittered(CHECK_EVERY)
        }
    }
}

/// `base` plus or minus up to [`JITTER`].
fn jittered(base: Duration) -> Duration {
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let span = JITTER.as_secs() * 2;
    (base + Duration::from_secs(r % span)).saturating_sub(JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_spread_around_their_base() {
        let waits: Vec<Duration> = (0..64).map(|_| jittered(CHECK_EVERY)).collect();
        for w in &waits {
            assert!(
                *w >= CHECK_EVERY - JITTER && *w < CHECK_EVERY + JITTER,
                "{w:?}"
            );
        }
        assert!(waits.iter().any(|w| *w != waits[0]), "no jitter");
    }
}
