//! The queue loop: claim what is due, deliver it domain by domain, record
//! the outcomes, and when an item is finished, hand its DSN to the store
//! together with the item's removal.
//!
//! One process runs the workers (the store's claims are in memory). A
//! crash between an attempt and its `queue_update` means that attempt is
//! made again after the restart: a duplicate is possible, a loss is not
//! (RFC 5321 §6.1 prefers the first to the second).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use postern_store::{
    Change, Envelope, Incoming, Notify, QueueId, QueueItem, QueuedRecipient, RecipientOutcome,
    Store, StoreResult,
};
use tokio::sync::{broadcast, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{MailParams, RcptParams};
use crate::deliver::{deliver, Ctx, Job, RcptResult};
use crate::dsn::{self, RecipientReport};
use crate::metrics::Metrics;
use crate::reports;
use crate::retry::{self, Next};

/// How long a claimed item is ours. An attempt to several slow hosts can
/// take long (RFC 5321's timeouts add up to over 20 minutes per host);
/// the claim ends as soon as the outcome is recorded anyway.
const LEASE: i64 = 3600;
/// The longest sleep without looking at the queue, in case a wake-up was
/// missed (an item queued by another process on the same store).
const MAX_IDLE: Duration = Duration::from_secs(300);
/// Marks a delivery to a next hop without DSN, for which a requested
/// success notification is ours to send (RFC 3461 §6.2.3.2 "relayed").
pub const RELAYED: &str = "relayed, the next hop offers no DSN: ";

/// The loop's shared state.
pub(crate) struct Worker {
    pub store: Arc<dyn Store>,
    pub ctx: Arc<Ctx>,
    pub wake: Arc<tokio::sync::Notify>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    slots: Arc<Semaphore>,
    done: Arc<tokio::sync::Notify>,
    domains: Arc<Domains>,
    signed: Arc<Signed>,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        ctx: Arc<Ctx>,
        wake: Arc<tokio::sync::Notify>,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let workers = ctx.settings.workers.max(1);
        let per_domain = ctx.settings.per_domain_concurrency.max(1);
        Self {
            store,
            ctx,
            wake,
            cancel,
            tracker,
            slots: Arc::new(Semaphore::new(workers)),
            done: Arc::new(tokio::sync::Notify::new()),
            domains: Arc::new(Domains::new(per_domain)),
            signed: Arc::new(Signed::default()),
        }
    }

    /// Runs until cancelled.
    pub async fn run(self) {
        let mut changes = self.store.subscribe();
        self.finish_leftovers().await;
        while !self.cancel.is_cancelled() {
            self.claim_and_spawn().await;
            let idle = self.idle_time().await;
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = self.wake.notified() => {}
                () = self.done.notified() => {}
                () = tokio::time::sleep(idle) => {}
                () = queued(&mut changes) => {}
            }
        }
    }

    async fn claim_and_spawn(&self) {
        let free = self.slots.available_permits();
        if free == 0 {
            return;
        }
        let now = unix_now();
        let items =
            match blocking(&self.store, move |s| s.queue_claim(now, now + LEASE, free)).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbound queue");
                    return;
                }
            };
        for item in items {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            let job = ItemJob {
                store: self.store.clone(),
                ctx: self.ctx.clone(),
                domains: self.domains.clone(),
                signed: self.signed.clone(),
            };
            let done = self.done.clone();
            let cancel = self.cancel.clone();
            self.tracker.spawn(async move {
                // On shutdown an attempt under way is dropped: its claim
                // dies with the process and the item is tried again.
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = job.process(item) => {}
                }
                drop(permit);
                done.notify_one();
            });
        }
    }

    async fn idle_time(&self) -> Duration {
        match blocking(&self.store, |s| s.queue_next_due()).await {
            Ok(Some(t)) => {
                Duration::from_secs(u64::try_from(t - unix_now()).unwrap_or(0)).min(MAX_IDLE)
            }
            Ok(None) => MAX_IDLE,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbound queue");
                Duration::from_secs(30)
            }
        }
    }

    /// Items a crash left finished but not yet removed (their DSN unsent).
    async fn finish_leftovers(&self) {
        let job = ItemJob {
            store: self.store.clone(),
            ctx: self.ctx.clone(),
            domains: self.domains.clone(),
            signed: self.signed.clone(),
        };
        match blocking(&self.store, |s| s.queue_finished(1000)).await {
            Ok(items) => {
                for item in items {
                    job.finish(item).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbound queue"),
        }
    }
}

/// Waits for a `Queued` change (or a lag, after which we just look).
async fn queued(changes: &mut broadcast::Receiver<Change>) {
    loop {
        match changes.recv().await {
            Ok(Change::Queued { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Connections at once per destination domain.
struct Domains {
    limit: usize,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Domains {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, domain: &str) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // Forget idle domains now and then; a busy one stays.
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(domain.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
    }
}

/// The DKIM-Signature fields made for each queue item, so that every
/// attempt sends the same bytes: a message is signed once, at its first
/// attempt, for all its recipients. Kept in memory only: after a restart
/// the next attempt signs again (a new, equally valid signature).
#[derive(Default)]
struct Signed(Mutex<HashMap<QueueId, Arc<Vec<u8>>>>);

impl Signed {
    /// With more items than this waiting at once (about 1 KiB each), the
    /// map is emptied rather than grown: forgetting costs only signing
    /// again.
    const MAX: usize = 10_000;

    fn get(&self, id: QueueId) -> Option<Arc<Vec<u8>>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id).cloned()
    }

    fn put(&self, id: QueueId, headers: Arc<Vec<u8>>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(id, headers);
    }

    fn forget(&self, id: QueueId) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&id);
    }
}

/// One item's attempt.
struct ItemJob {
    store: Arc<dyn Store>,
    ctx: Arc<Ctx>,
    domains: Arc<Domains>,
    signed: Arc<Signed>,
}

impl ItemJob {
    async fn process(&self, item: QueueItem) {
        let id = item.id;
        let body = match blocking(&self.store, move |s| s.queue_read(id)).await {
            Ok(b) => b,
            Err(e) => {
                // The claim lapses and the item is tried again later.
                tracing::error!(queue_id = %id, error = %e, "cannot read a queued message");
                return;
            }
        };
        let now = unix_now();
        let mut by_domain: BTreeMap<String, Vec<QueuedRecipient>> = BTreeMap::new();
        for r in item.due_recipients(now) {
            by_domain
                .entry(domain_of(&r.address))
                .or_default()
                .push(r.clone());
        }
        let Some(wire) = self.signed_message(id, &body).await else {
            return;
        };
        let mail = mail_params(&item.envelope, wire.len());
        let attempts = by_domain
            .iter()
            .map(|(domain, rcpts)| self.attempt(domain, rcpts, &mail, &wire));
        let results: Vec<(Vec<QueuedRecipient>, Vec<RcptResult>)> = join_all(attempts).await;
        let now = unix_now();
        let outcomes: Vec<(String, RecipientOutcome)> = results
            .iter()
            .flat_map(|(rcpts, res)| rcpts.iter().zip(res))
            .map(|(r, res)| (r.address.clone(), self.outcome(&item, r, res, now)))
            .collect();
        if outcomes.is_empty() {
            return;
        }
        let delayed = self.delayed(&item, &outcomes);
        match blocking(&self.store, move |s| s.queue_update(id, &outcomes)).await {
            Ok(updated) if updated.is_finished() => self.finish(updated).await,
            Ok(_) if !delayed.is_empty() => self.warn_delayed(&item, delayed, body).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "cannot record delivery outcomes")
            }
        }
    }

    /// The message as it goes out: the stored bytes, behind the item's
    /// DKIM signatures if its author's domain has keys. `None` if signing
    /// could not run at all (the claim lapses and the item is tried
    /// again). Signing runs on a blocking thread: an RSA signature costs
    /// about a millisecond, and the keys' directory is looked at.
    async fn signed_message<'b>(&self, id: QueueId, body: &'b [u8]) -> Option<Cow<'b, [u8]>> {
        let Some(signer) = self.ctx.settings.dkim.clone() else {
            return Some(Cow::Borrowed(body));
        };
        let headers = match self.signed.get(id) {
            Some(h) => h,
            None => {
                let message = body.to_vec();
                match tokio::task::spawn_blocking(move || signer.sign(&message)).await {
                    Ok(h) => {
                        let h = Arc::new(h);
                        self.signed.put(id, h.clone());
                        h
                    }
                    Err(e) => {
                        tracing::error!(queue_id = %id, error = %e, "DKIM signing failed");
                        return None;
                    }
                }
            }
        };
        if headers.is_empty() {
            return Some(Cow::Borrowed(body));
        }
        let mut wire = Vec::with_capacity(headers.len() + body.len());
        wire.extend_from_slice(&headers);
        wire.extend_from_slice(body);
        Some(Cow::Owned(wire))
    }

    /// The deferred recipients that asked for delay notices (RFC 3461
    /// §4.1) and whose wait crosses `delay_warning` with this deferral: the
    /// attempt was due before the mark and the next is due after it, which
    /// happens exactly once per recipient.
    fn delayed(
        &self,
        item: &QueueItem,
        outcomes: &[(String, RecipientOutcome)],
    ) -> Vec<RecipientReport> {
        let Some(after) = self.ctx.settings.delay_warning else {
            return Vec::new();
        };
        let mark = item
            .created
            .saturating_add(i64::try_from(after.as_secs()).unwrap_or(i64::MAX));
        outcomes
            .iter()
            .filter_map(|(address, o)| {
                let RecipientOutcome::Deferred {
                    next_attempt,
                    error,
                } = o
                else {
                    return None;
                };
                let r = item.recipients.iter().find(|r| r.address == *address)?;
                let crosses = r.next_attempt < mark && *next_attempt >= mark;
                (crosses && r.notify.delay).then(|| reports::delayed(r, error))
            })
            .collect()
    }

    async fn attempt(
        &self,
        domain: &str,
        rcpts: &[QueuedRecipient],
        mail: &MailParams,
        body: &[u8],
    ) -> (Vec<QueuedRecipient>, Vec<RcptResult>) {
        let sem = self.domains.get(domain);
        let _permit = sem.acquire().await;
        let params: Vec<RcptParams> = rcpts.iter().map(rcpt_params).collect();
        let job = Job {
            domain,
            mail,
            rcpts: &params,
            body,
        };
        let results = deliver(&self.ctx, &job).await;
        (rcpts.to_vec(), results)
    }

    fn outcome(
        &self,
        item: &QueueItem,
        r: &QueuedRecipient,
        res: &RcptResult,
        now: i64,
    ) -> RecipientOutcome {
        let m = &self.ctx.metrics;
        let s = &self.ctx.settings;
        match res {
            RcptResult::Delivered { reply, dsn } => {
                Metrics::add(&m.delivered, 1);
                let detail = if !dsn && r.notify.success {
                    format!("{RELAYED}{reply}")
                } else {
                    reply.clone()
                };
                RecipientOutcome::Delivered { detail }
            }
            RcptResult::Temporary { status, diagnostic } => {
                match retry::next(
                    now,
                    item.created,
                    r.attempts,
                    s.first_retry,
                    s.max_backoff,
                    s.retry_for,
                ) {
                    Next::At(t) => {
                        Metrics::add(&m.deferred, 1);
                        RecipientOutcome::Deferred {
                            next_attempt: t,
                            error: dsn::encode_error(status, diagnostic),
                        }
                    }
                    Next::GiveUp => {
                        Metrics::add(&m.failed, 1);
                        // RFC 3463 4.4.7: delivery time expired.
                        let text = format!(
                            "{diagnostic} (retried for {} days)",
                            s.retry_for.as_secs() / 86400
                        );
                        RecipientOutcome::Failed {
                            error: dsn::encode_error("4.4.7", &text),
                        }
                    }
                }
            }
            RcptResult::Permanent { status, diagnostic } => {
                Metrics::add(&m.failed, 1);
                RecipientOutcome::Failed {
                    error: dsn::encode_error(status, diagnostic),
                }
            }
        }
    }

    /// Builds the item's DSN, if one is due, and removes the item with it.
    async fn finish(&self, item: QueueItem) {
        let id = item.id;
        self.signed.forget(id);
        let now = unix_now();
        let body = match blocking(&self.store, move |s| s.queue_read(id)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "cannot read a finished message");
                return;
            }
        };
        let dsn = reports::build_dsn(&self.ctx.settings.hostname, &item, &body, now);
        let (sender, requiretls) = (item.envelope.mail_from.clone(), item.envelope.requiretls);
        let result = blocking(&self.store, move |s| {
            let Some(raw) = dsn else {
                return s.queue_finish(id, None).map(|_| false);
            };
            let Some((local, remote)) = reports::destination(s, &sender)? else {
                return s.queue_finish(id, None).map(|_| false);
            };
            let envelope = reports::envelope(requiretls);
            let incoming = Incoming {
                raw: &raw,
                internal_date: now,
                local: &local,
                envelope: &envelope,
                remote: &remote,
            };
            s.queue_finish(id, Some(&incoming)).map(|_| true)
        })
        .await;
        match result {
            Ok(true) => {
                Metrics::add(&self.ctx.metrics.dsn_sent, 1);
                tracing::info!(queue_id = %id, to = %item.envelope.mail_from, "delivery status notification queued");
            }
            Ok(false) => {}
            Err(e) => tracing::error!(queue_id = %id, error = %e, "cannot finish a queue item"),
        }
    }

    /// Tells the sender that some recipients are still waiting (RFC 3464
    /// "delayed"). Not atomic with the outcomes: a crash in between can
    /// lose or repeat a warning, never a message.
    async fn warn_delayed(&self, item: &QueueItem, delayed: Vec<RecipientReport>, body: Vec<u8>) {
        let s = &self.ctx.settings;
        let until = item
            .created
            .saturating_add(i64::try_from(s.retry_for.as_secs()).unwrap_or(i64::MAX));
        let Some(raw) =
            reports::build_delay_warning(&s.hostname, item, &delayed, &body, unix_now(), until)
        else {
            return;
        };
        let (id, sender, requiretls) = (
            item.id,
            item.envelope.mail_from.clone(),
            item.envelope.requiretls,
        );
        let result = blocking(&self.store, move |s| {
            let Some((local, remote)) = reports::destination(s, &sender)? else {
                return Ok(false);
            };
            let envelope = reports::envelope(requiretls);
            let incoming = Incoming {
                raw: &raw,
                internal_date: unix_now(),
                local: &local,
                envelope: &envelope,
                remote: &remote,
            };
            s.accept(&incoming).map(|_| true)
        })
        .await;
        match result {
            Ok(true) => {
                Metrics::add(&self.ctx.metrics.dsn_sent, 1);
                tracing::info!(queue_id = %id, "delay warning queued");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(queue_id = %id, error = %e, "cannot queue a delay warning"),
        }
    }
}

fn mail_params(e: &Envelope, size: usize) -> MailParams {
    MailParams {
        from: e.mail_from.clone(),
        size: size as u64,
        eight_bit: e.eight_bit,
        smtputf8: e.smtputf8,
        ret: e.ret.map(reports::ret),
        envid: e.envid.clone(),
        requiretls: e.requiretls,
    }
}

fn rcpt_params(r: &QueuedRecipient) -> RcptParams {
    RcptParams {
        address: r.address.clone(),
        notify: crate::client::Notify {
            never: r.notify == Notify::NEVER,
            success: r.notify.success,
            failure: r.notify.failure,
            delay: r.notify.delay,
        },
        orcpt: r.orcpt.clone(),
    }
}

/// The domain of an address, lowercase (the part after the last `@`).
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
) -> Result<T, String> {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || f(&*s)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("store call failed: {e}")),
    }
}
