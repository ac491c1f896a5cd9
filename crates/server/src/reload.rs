//! Certificate hot reload (on SIGHUP and when a certificate file changes) and
//! the daily expiry check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use postern_config::Config;
use postern_tls::Certificates;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// How often certificate files are looked at. Polling a handful of `stat`s
/// costs nothing and, unlike inotify on the file, survives the atomic
/// rename that `postern cert import` and most tools use.
const POLL: Duration = Duration::from_secs(1);

/// What identifies a version of a file.
type Stamp = Option<(SystemTime, u64)>;

fn fingerprint(config: &Config) -> Vec<(PathBuf, Stamp)> {
    config
        .certificates
        .iter()
        .flat_map(|c| c.source.files())
        .map(|p| {
            let stamp = std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p.to_owned(), stamp)
        })
        .collect()
}

/// Reloads now and logs the outcome.
pub fn reload_now(config: &Config, certs: &Certificates, why: &str) {
    let report = certs.reload(&config.certificates, OffsetDateTime::now_utc());
    if report.failed.is_empty() {
        tracing::info!(why, certificates = ?report.loaded, "certificates reloaded");
    } else {
        tracing::error!(why, loaded = ?report.loaded, failed = report.failed.len(), "certificate reload incomplete; failed certificates keep their previous version");
    }
}

/// Runs until `cancel` fires. `hangup` comes from [`hangup_signal`], called
/// before the server reports itself started, so that a SIGHUP sent right
/// after start is never the default action (which ends the process).
pub async fn watch(
    config: Arc<Config>,
    certs: Certificates,
    mut hangup: Hangup,
    cancel: CancellationToken,
) {
    let mut poll = tokio::time::interval(POLL);
    let mut daily = tokio::time::interval(Duration::from_secs(24 * 3600));
    let mut seen = fingerprint(&config);
    // A change is acted on once it has held still for one poll, so a cert
    // and its key replaced one after the other are reloaded together.
    let mut settling: Option<Vec<(PathBuf, Stamp)>> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            Some(()) = recv(&mut hangup) => reload_now(&config, &certs, "SIGHUP"),
            _ = poll.tick() => {
                let now = fingerprint(&config);
                if now == seen {
                    settling = None;
                } else if settling.as_ref() == Some(&now) {
                    reload_now(&config, &certs, "certificate files changed");
                    seen = now;
                    settling = None;
                } else {
                    settling = Some(now);
                }
            }
            _ = daily.tick() => postern_tls::expiry::log_expiries(&certs.snapshot(), &config.tls, OffsetDateTime::now_utc()),
        }
    }
}

/// The SIGHUP stream, where the platform has one.
#[cfg(unix)]
pub type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub type Hangup = Option<()>;

/// Starts listening for SIGHUP.
#[cfg(unix)]
pub fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; file changes still reload certificates"))
        .ok()
}

#[cfg(not(unix))]
pub fn hangup_signal() -> Hangup {
    None
}

#[cfg(unix)]
async fn recv(h: &mut Hangup) -> Option<()> {
    match h {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn recv(_h: &mut Hangup) -> Option<()> {
    std::future::pending().await
}
