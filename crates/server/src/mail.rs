//! What the mail sessions share: the store, the authentication service,
//! the maildrop locks and the cache of what is derived from message
//! content.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use postern_auth::{Authenticator, LoginOutcome};
use postern_store::{AccountId, BlobId, MailboxId, MessageMeta, Store};

/// The store and the services around it.
#[derive(Clone)]
pub struct Mail {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub locks: MaildropLocks,
    /// What sessions derived from message octets (IMAP's rendered
    /// ENVELOPE and BODYSTRUCTURE), shared by every session.
    pub derived: Arc<DerivedCache>,
    /// Mailbox listings that identical views share (see [`SharedListings`]).
    pub listings: Arc<SharedListings>,
    /// Password verifications running at once. Each argon2id check takes
    /// 19 MiB and a core for tens of milliseconds; without a bound, a burst
    /// of parallel logins would exhaust memory long before the throttle
    /// (which counts per address and name) could help.
    verifications: Arc<tokio::sync::Semaphore>,
}

/// The largest message read on the async thread (see `Mail::read_blob`).
const INLINE_READ_MAX: u64 = 256 * 1024;

/// How long a login may wait for a verification slot before it is answered
/// as a failure (the server is saturated; the client may retry).
const VERIFY_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail")
    }
}

impl Mail {
    pub fn new(store: Arc<dyn Store>, auth: Authenticator) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            store,
            auth: Arc::new(auth),
            locks: MaildropLocks::default(),
            derived: Arc::new(DerivedCache::new(DERIVED_CACHE_BYTES)),
            listings: Arc::new(SharedListings::default()),
            verifications: Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }

    /// A password login, on a blocking thread (argon2id is CPU work), with
    /// the throttle's delay slept before a failure is returned.
    pub async fn login(
        &self,
        ip: IpAddr,
        username: String,
        password: String,
    ) -> Option<postern_store::Account> {
        let wait = tokio::time::timeout(
            VERIFY_QUEUE_WAIT,
            self.verifications.clone().acquire_owned(),
        );
        let Ok(Ok(slot)) = wait.await else {
            tracing::warn!(%ip, "login refused: too many password checks at once");
            return None;
        };
        let auth = self.auth.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let outcome = auth.login(ip, &username, &password, Instant::now());
            drop(slot);
            outcome
        })
        .await
        .ok()?;
        settle(outcome).await
    }

    /// SASL EXTERNAL with the session's verified client certificate (a
    /// store lookup, so on a blocking thread too).
    pub async fn login_external(
        &self,
        ip: IpAddr,
        client: Option<postern_types::ClientIdentity>,
        authzid: String,
    ) -> Option<postern_store::Account> {
        let auth = self.auth.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            auth.login_external(ip, client.as_ref(), &authzid, Instant::now())
        })
        .await
        .ok()?;
        settle(outcome).await
    }

    /// A message's bytes from its snapshot metadata. Small messages (the
    /// usual case) are read right here: a page-cache read of a few dozen
    /// KiB costs less than the hop to the blocking pool and back, which
    /// the benchmark showed to dominate RETR. Larger ones go to the pool.
    pub async fn read_blob(&self, blob: BlobId, size: u64) -> postern_store::StoreResult<Vec<u8>> {
        if size <= INLINE_READ_MAX {
            return self.store.read_blob(&blob, size);
        }
        self.with_store(move |s| s.read_blob(&blob, size)).await
    }

    /// Runs a store call on a blocking thread (SQLite is synchronous).
    pub async fn with_store<T, F>(&self, f: F) -> postern_store::StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> postern_store::StoreResult<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .unwrap_or_else(|e| {
                Err(postern_store::StoreError::Database(format!(
                    "store task failed: {e}"
                )))
            })
    }
}

async fn settle(outcome: LoginOutcome) -> Option<postern_store::Account> {
    match outcome {
        LoginOutcome::Success(account) => Some(account),
        LoginOutcome::Failure { wait } => {
            tokio::time::sleep(wait).await;
            None
        }
    }
}

/// The default bound of [`DerivedCache`]. A message's rendered ENVELOPE and
/// BODYSTRUCTURE take about 0.5 to 2 KiB, so 32 MiB keeps them for some
/// 20,000 to 50,000 messages: the mailboxes clients are synchronising at a
/// time, for about the memory of a few hundred idle IMAP sessions.
pub const DERIVED_CACHE_BYTES: usize = 32 << 20;

/// Shards of the cache, each with its own lock: sessions on different
/// cores seldom wait for one another, and a lock is held for one map
/// operation only.
const SHARDS: usize = 16;

/// What an entry costs beyond its octets: a map slot of 57 bytes (key,
/// `Arc` pointer, control byte) at up to ~2.3 slots per entry right after
/// the map doubles (hashbrown keeps it at most 7/8 full), the `Arc`'s two
/// counts, and the allocator's header and rounding.
const ENTRY_OVERHEAD: usize = 192;

/// A blob id as 32 bytes and the kind of derived value.
type Key = ([u8; 32], Derived);

/// What is derived from a message: one enum, so that two users of the
/// cache never take one another's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derived {
    /// IMAP ENVELOPE, rendered (RFC 9051 §7.5.2).
    ImapEnvelope,
    /// IMAP BODY: the structure without extension data, rendered.
    ImapBody,
    /// IMAP BODYSTRUCTURE, rendered.
    ImapBodyStructure,
}

/// Octets derived from a message's content alone, by blob and kind, bounded
/// in bytes (entry overhead included). Blobs are content-addressed, so an
/// entry never goes stale and copies of a message share it.
///
/// Each shard keeps two generations. New entries go to the young one; when
/// it would exceed its share of the bound, it becomes the old one and the
/// old one is freed (after the lock is released). A hit in the old
/// generation moves the entry to the young one, so what is in use stays:
/// an approximate LRU with O(1) work per call and no per-entry links.
#[derive(Debug)]
pub struct DerivedCache {
    shards: Box<[Mutex<Generations>]>,
    /// The bytes one generation of one shard may hold.
    generation_budget: usize,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<Key, Arc<[u8]>>,
    young_bytes: usize,
    old: HashMap<Key, Arc<[u8]>>,
    old_bytes: usize,
}

impl DerivedCache {
    /// A cache of at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            generation_budget: max_bytes / SHARDS / 2,
        }
    }

    /// The value of `kind` for the message `blob`, if kept.
    pub fn get(&self, blob: &BlobId, kind: Derived) -> Option<Arc<[u8]>> {
        let key = key(blob, kind)?;
        let mut shard = self.shard(&key);
        if let Some(value) = shard.young.get(&key) {
            return Some(value.clone());
        }
        let value = shard.old.remove(&key)?;
        shard.old_bytes = shard.old_bytes.saturating_sub(cost(&value));
        let retired = shard.add(key, value.clone(), self.generation_budget);
        drop(shard);
        drop(retired);
        Some(value)
    }

    /// Keeps `value`; one larger than a generation's budget is not kept.
    pub fn insert(&self, blob: &BlobId, kind: Derived, value: Arc<[u8]>) {
        let Some(key) = key(blob, kind) else {
            return;
        };
        if cost(&value) > self.generation_budget {
            return;
        }
        let mut shard = self.shard(&key);
        if let Some(old) = shard.old.remove(&key) {
            shard.old_bytes = shard.old_bytes.saturating_sub(cost(&old));
        }
        let retired = shard.add(key, value, self.generation_budget);
        drop(shard);
        drop(retired);
    }

    /// The bytes held, entry overhead included.
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(PoisonError::into_inner);
                s.young_bytes + s.old_bytes
            })
            .sum()
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, Generations> {
        // Maps and byte counts: a panic elsewhere leaves them usable.
        self.shards[usize::from(key.0[0]) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Generations {
    /// Adds to the young generation, retiring the old one first if the
    /// young one is full; the retired map is returned to be freed by the
    /// caller once the lock is released.
    fn add(&mut self, key: Key, value: Arc<[u8]>, budget: usize) -> HashMap<Key, Arc<[u8]>> {
        let c = cost(&value);
        if let Some(previous) = self.young.remove(&key) {
            self.young_bytes = self.young_bytes.saturating_sub(cost(&previous));
        }
        let mut retired = HashMap::new();
        if self.young_bytes + c > budget {
            retired = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
            self.old_bytes = std::mem::take(&mut self.young_bytes);
        }
        self.young_bytes += c;
        self.young.insert(key, value);
        retired
    }
}

fn cost(value: &[u8]) -> usize {
    value.len() + ENTRY_OVERHEAD
}

/// The key of a blob id (64 lowercase hex digits); `None` for anything
/// else, which is then not cached.
fn key(blob: &BlobId, kind: Derived) -> Option<Key> {
    let hex = blob.0.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (b, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *b = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some((bytes, kind))
}

const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Maildrops in use: RFC 1939 §8 lets a POP3 server refuse a second
/// session on a maildrop, which keeps message numbers stable.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks(Arc<Mutex<HashSet<AccountId>>>);

/// Held while a session has the maildrop; dropping it (QUIT, a dropped
/// connection, a panic) releases it.
#[derive(Debug)]
pub struct MaildropLock {
    locks: MaildropLocks,
    account: AccountId,
}

impl MaildropLocks {
    /// Takes the lock, unless another session holds it.
    pub fn try_lock(&self, account: AccountId) -> Option<MaildropLock> {
        self.set().insert(account).then(|| MaildropLock {
            locks: self.clone(),
            account,
        })
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<AccountId>> {
        // A set of ids: a panic elsewhere cannot leave it inconsistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.locks.set().remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Derived; 3] = [
        Derived::ImapEnvelope,
        Derived::ImapBody,
        Derived::ImapBodyStructure,
    ];

    fn blob(n: u64) -> BlobId {
        // Spread like SHA-256 digests: the first byte picks the shard.
        BlobId(format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)).repeat(4))
    }

    #[test]
    fn identical_listings_are_shared_and_others_are_not() {
        use postern_store::{Flag, ModSeq, Uid};
        let meta = |uid, flags: Vec<Flag>| MessageMeta {
            mailbox: MailboxId(7),
            uid: Uid(uid),
            flags,
            internal_date: 0,
            size: 1,
            modseq: ModSeq(1),
            blob: BlobId(String::new()),
        };
        let listings = SharedListings::default();
        let a = listings.share(MailboxId(7), vec![meta(1, vec![]), meta(2, vec![])]);
        let b = listings.share(MailboxId(7), vec![meta(1, vec![]), meta(2, vec![])]);
        assert!(
            Arc::ptr_eq(&a, &b),
            "the same mailbox in the same state is one listing"
        );
        let c = listings.share(
            MailboxId(7),
            vec![meta(1, vec![Flag::Seen]), meta(2, vec![])],
        );
        assert!(!Arc::ptr_eq(&a, &c), "a different state is not shared");
        assert_eq!(c[0].flags, [Flag::Seen]);
        let d = listings.share(MailboxId(8), vec![meta(1, vec![]), meta(2, vec![])]);
        assert!(!Arc::ptr_eq(&a, &d), "nor another mailbox");
        drop((a, b, c, d));
        let e = listings.share(MailboxId(7), vec![meta(1, vec![])]);
        assert_eq!(e.len(), 1, "a freed listing is not brought back");
    }
    #[test]
    fn stays_within_its_bound_under_many_inserts() {
        let max = 1 << 20;
        let cache = DerivedCache::new(max);
        let mut held = 0;
        for n in 0..50_000u64 {
            // 0 to ~3 KiB, like rendered structures, and a few large ones.
            let len = match n % 97 {
                0 => 30_000,
                _ => (n * 31 % 3000) as usize,
            };
            let value: Arc<[u8]> = vec![b'x'; len].into();
            let kind = KINDS[(n % 3) as usize];
            cache.insert(&blob(n), kind, value.clone());
            held = cache.bytes();
            assert!(held <= max, "{held} bytes after {n} inserts");
            assert_eq!(cache.get(&blob(n), kind), Some(value));
        }
        // Evicting did not empty it: at least a generation is kept.
        assert!(held >= max / 4, "only {held} bytes held");
    }

    #[test]
    fn what_is_used_survives_and_the_rest_goes() {
        let cache = DerivedCache::new(SHARDS * 2 * 10 * (ENTRY_OVERHEAD + 100));
        let hot = blob(0);
        cache.insert(&hot, Derived::ImapEnvelope, vec![1; 100].into());
        for n in 1..10_000 {
            cache.insert(&blob(n), Derived::ImapEnvelope, vec![2; 100].into());
            assert!(
                cache.get(&hot, Derived::ImapEnvelope).is_some(),
                "lost after {n} inserts"
            );
        }
        assert_eq!(cache.get(&blob(1), Derived::ImapEnvelope), None);
        assert_eq!(cache.get(&hot, Derived::ImapBody), None);
    }

    #[test]
    fn only_content_addresses_are_keys() {
        let cache = DerivedCache::new(1 << 20);
        for id in ["abc", &"A".repeat(64), &"g".repeat(64)] {
            let id = BlobId(id.to_owned());
            cache.insert(&id, Derived::ImapEnvelope, vec![1].into());
            assert_eq!(cache.get(&id, Derived::ImapEnvelope), None);
        }
        assert_eq!(cache.bytes(), 0);
        let value: Arc<[u8]> = vec![1; 10].into();
        cache.insert(&blob(7), Derived::ImapEnvelope, value.clone());
        assert_eq!(cache.get(&blob(7), Derived::ImapEnvelope), Some(value));
        assert_eq!(cache.bytes(), 10 + ENTRY_OVERHEAD);
    }
}

/// The message listings of selected mailboxes, shared between sessions
/// that hold the same one.
///
/// Most IMAP connections sit in IDLE on their INBOX, often several per
/// user (phone, desktop, webmail), and a listing of a few hundred messages
/// is tens of KiB: per session, that would be most of what an idle
/// connection costs. A session that selects a mailbox whose listing is
/// already held, identical, takes a reference to it; the first change it
/// makes to its own copy (a flag it stores, an expunge it is told of)
/// clones it (`Arc::make_mut`), so sessions never see each other's
/// unannounced changes. Entries are weak: the last session to let go
/// frees the listing.
#[derive(Debug, Default)]
pub struct SharedListings {
    by_mailbox: Mutex<HashMap<MailboxId, std::sync::Weak<Vec<MessageMeta>>>>,
}

/// Past this many entries, the dead ones are swept on the next insert:
/// the map stays about as large as the number of selected mailboxes.
const LISTINGS_SWEEP: usize = 1024;

impl SharedListings {
    /// `fresh` as a shared listing: the one already held for this mailbox
    /// if it is identical, else `fresh` itself, now shared.
    pub fn share(&self, mailbox: MailboxId, fresh: Vec<MessageMeta>) -> Arc<Vec<MessageMeta>> {
        let mut map = self
            .by_mailbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = map.get(&mailbox).and_then(std::sync::Weak::upgrade) {
            if *held == fresh {
                return held;
            }
        }
        if map.len() >= LISTINGS_SWEEP {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let shared = Arc::new(fresh);
        map.insert(mailbox, Arc::downgrade(&shared));
        shared
    }
}
