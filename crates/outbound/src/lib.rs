//! Postern's outbound mail: the queue workers that relay accepted mail to
//! other servers, with transport security and bounces.
//!
//! The server builds [`Settings`] from its configuration and calls
//! [`start`]; the returned [`OutboundHandle`] wakes the workers and reads
//! the delivery counters. Messages come from the store's queue
//! (`Store::queue_claim`); outcomes go back with `Store::queue_update`, and
//! delivery status notifications with `Store::queue_finish`, in the same
//! transaction that removes the item.
//!
//! # Trust model
//! - **PKIX** (MTA-STS `enforce`, `RequireVerified`, REQUIRETLS, the
//!   smarthost): the system CA bundle plus [`Settings::extra_roots`].
//! - **DANE** (RFC 7672): we trust the AD bit of the configured resolver,
//!   as Postfix does, and do not validate DNSSEC signatures ourselves. The
//!   resolver must therefore validate and be reached over a path nobody
//!   can tamper with: on the host (127.0.0.1, e.g. unbound) or a trusted
//!   network. A resolver that does not validate never sets AD, so DANE is
//!   then simply not used (mail still goes, under MTA-STS or opportunistic
//!   TLS): the failure mode is the weaker policy, never a lost message.
//!   Validating in-process would need a DNSSEC trust anchor to maintain
//!   (RFC 5011 rollovers) and doubles the DNS traffic.
//! - **Opportunistic** (RFC 7435): any certificate; plain text only when
//!   STARTTLS is not offered, logged and counted.
//!
//! # Layout
//! - [`settings`]: what the server tells us.
//! - [`client`]: the SMTP client (sans-I/O parser and commands, a thin
//!   tokio driver).
//! - [`dns`]: lookups that keep the AD bit.
//! - [`routing`]: relay, static routes, MX, implicit MX, null MX.
//! - [`dane`], [`mta_sts`], [`tls`]: transport security.
//! - [`deliver`]: one attempt for one domain's recipients; `policy`: what
//!   transport security each host demands.
//! - [`retry`]: the backoff schedule.
//! - [`dkim`]: DKIM keys and signatures on outgoing mail.
//! - [`dsn`]: RFC 3464 reports; [`reports`]: which are owed, and where
//!   they go.
//! - [`metrics`]: counters by domain and failure kind (for TLS-RPT).
//! - [`tlsrpt`]: TLS results recorded per session, daily reports (RFC 8460).
//! - `worker`: the queue loop.

pub mod client;
pub mod dane;
pub mod deliver;
pub mod dkim;
pub mod dns;
pub mod dsn;
pub mod metrics;
pub mod mta_sts;
mod policy;
pub mod reports;
pub mod retry;
pub mod routing;
pub mod settings;
pub mod tls;
pub mod tlsrpt;
mod worker;

/// The integration tests' throw-away CA, for the unit tests too.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../tests/common/ca.rs"]
mod test_ca;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use postern_store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use metrics::{FailureKind, Metrics, PolicyKind, Snapshot};
pub use reports::build_dsn;
pub use settings::{Relay, RelayTls, Settings, Timeouts, TlsRequirement};
pub use worker::RELAYED;

/// The running queue.
#[derive(Debug, Clone)]
pub struct OutboundHandle {
    wake: Arc<tokio::sync::Notify>,
    metrics: Arc<Metrics>,
}

impl OutboundHandle {
    /// Something was queued (or an administrator asked for a flush): look
    /// at the queue now. The store's `Change::Queued` does this too; this
    /// is for callers outside the store's process.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The delivery counters.
    pub fn metrics(&self) -> Snapshot {
        self.metrics.snapshot()
    }
}

/// Starts the workers on the current tokio runtime; they stop when
/// `cancel` fires (an attempt under way is dropped, and the item is tried
/// again after the restart).
pub fn start(
    store: Arc<dyn Store>,
    settings: Settings,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> OutboundHandle {
    start_with_tls_reports(store, settings, None, cancel, tracker)
}

/// [`start`], and with `data_dir` TLS reporting (RFC 8460): each session's
/// TLS result is recorded under `DATA/tls-rpt/`, and the domains that ask
/// for it get a daily report through the queue (see [`tlsrpt`]).
pub fn start_with_tls_reports(
    store: Arc<dyn Store>,
    settings: Settings,
    data_dir: Option<&Path>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> OutboundHandle {
    let metrics = Arc::new(Metrics::default());
    let wake = Arc::new(tokio::sync::Notify::new());
    let recorder = data_dir.and_then(|d| {
        let dir = d.join(tlsrpt::DIR);
        tlsrpt::Recorder::open(&dir)
            .map_err(|e| tracing::error!(dir = %dir.display(), error = %e, "cannot create the TLS report directory; TLS reports are off until it can be created and the server restarted"))
            .ok()
            .map(Arc::new)
    });
    let ctx = Arc::new(context(settings, metrics.clone(), recorder));
    tlsrpt::spawn(store.clone(), ctx.clone(), cancel.clone(), tracker);
    let worker = worker::Worker::new(store, ctx, wake.clone(), cancel, tracker.clone());
    tracker.spawn(worker.run());
    OutboundHandle { wake, metrics }
}

fn context(
    settings: Settings,
    metrics: Arc<Metrics>,
    tlsrpt: Option<Arc<tlsrpt::Recorder>>,
) -> deliver::Ctx {
    let dns = dns::Dns::new(settings.resolver).unwrap_or_else(|e| {
        // A host without resolv.conf: a local resolver is the best guess,
        // and static routes to IP addresses work without any.
        tracing::error!(error = %e, "no DNS resolver configured; using 127.0.0.1:53");
        dns::Dns::new(Some(SocketAddr::from(([127, 0, 0, 1], 53))))
            .expect("a resolver address is always valid")
    });
    let trust = tls::Trust::new(settings.system_roots, &settings.extra_roots).unwrap_or_else(|e| {
        tracing::error!(error = %e, "outbound trust anchors unusable; verified TLS will fail");
        tls::Trust::new(false, &[]).expect("an empty trust store builds")
    });
    let mta_sts = settings
        .mta_sts
        .then(|| mta_sts::MtaSts::new(dns.clone(), trust.clone(), settings.mta_sts_port));
    deliver::Ctx {
        settings,
        dns,
        trust,
        mta_sts,
        metrics,
        tlsrpt,
    }
}
