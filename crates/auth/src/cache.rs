//! A short-lived memory of passwords verified recently, so that a mail
//! client that logs in again and again (a connection per message, a poll
//! every minute) does not pay a full argon2id verification each time.
//!
//! What is kept, per account, is a keyed BLAKE2b tag of the password and
//! the stored hash it was verified against, with a random key made at
//! start and never written anywhere; never the password. A hit needs the
//! same password *and* the same stored hash (a password change empties it
//! in effect), within [`TTL`]. A miss costs a full verification, so a wrong
//! password is exactly as slow as without the cache: guessing gains
//! nothing. Only successes are remembered. Dovecot's `auth_cache` works
//! the same way (off by default there; on here, bounded and short).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use blake2::{Blake2b512, Digest as _};
use postern_store::AccountId;

/// How long a verified password is remembered. Long enough to cover a
/// client's bursts of connections; short enough that a password disabled
/// some other way (a changed hash is noticed at once) is not honoured for
/// long.
pub const TTL: Duration = Duration::from_secs(10 * 60);

/// Accounts remembered at most; the oldest entry makes room.
const CAPACITY: usize = 10_000;

/// The cache. Cheap to consult: one hash of the password.
pub struct VerifiedCache {
    key: [u8; 32],
    /// No randomness for the key: then the cache stays off (a predictable
    /// key would be no key).
    enabled: bool,
    entries: Mutex<HashMap<AccountId, Entry>>,
}

struct Entry {
    tag: [u8; 64],
    verified: Instant,
}

impl VerifiedCache {
    /// An empty cache with a fresh random key.
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        let enabled = getrandom::fill(&mut key).is_ok();
        if !enabled {
            tracing::warn!("no randomness for the login cache key; every login verifies in full");
        }
        Self {
            key,
            enabled,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `password` was verified against `stored_hash` for this
    /// account less than [`TTL`] ago.
    pub fn hit(&self, account: AccountId, stored_hash: &str, password: &str, now: Instant) -> bool {
        if !self.enabled {
            return false;
        }
        let tag = self.tag(stored_hash, password);
        let entries = self.lock();
        entries.get(&account).is_some_and(|e| {
            now.saturating_duration_since(e.verified) < TTL && constant_time_eq(&e.tag, &tag)
        })
    }

    /// Remembers a successful verification.
    pub fn remember(&self, account: AccountId, stored_hash: &str, password: &str, now: Instant) {
        if !self.enabled {
            return;
        }
        let tag = self.tag(stored_hash, password);
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&account) {
            entries.retain(|_, e| now.saturating_duration_since(e.verified) < TTL);
            if entries.len() >= CAPACITY {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.verified)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(account, Entry { tag, verified: now });
    }

    fn tag(&self, stored_hash: &str, password: &str) -> [u8; 64] {
        // BLAKE2 has no length extension, so a key prefix makes a MAC; the
        // lengths keep the fields apart.
        let digest = Blake2b512::new()
            .chain_update(self.key)
            .chain_update((stored_hash.len() as u64).to_le_bytes())
            .chain_update(stored_hash.as_bytes())
            .chain_update(password.as_bytes())
            .finalize();
        let mut tag = [0u8; 64];
        tag.copy_from_slice(&digest);
        tag
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self::new()
    }
}

fn constant_time_eq(a: &[u8; 64], b: &[u8; 64]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

    #[test]
    fn only_the_same_password_and_hash_within_the_ttl_hit() {
        let cache = VerifiedCache::new();
        let (id, t0) = (AccountId(7), Instant::now());
        assert!(!cache.hit(id, HASH, "pw", t0), "empty");
        cache.remember(id, HASH, "pw", t0);
        assert!(cache.hit(id, HASH, "pw", t0 + Duration::from_secs(1)));
        assert!(!cache.hit(id, HASH, "pw2", t0), "another password");
        assert!(
            !cache.hit(id, "$argon2id$other", "pw", t0),
            "a changed hash"
        );
        assert!(!cache.hit(AccountId(8), HASH, "pw", t0), "another account");
        assert!(!cache.hit(id, HASH, "pw", t0 + TTL), "expired");
    }

    #[test]
    fn two_caches_never_share_tags() {
        let (a, b) = (VerifiedCache::new(), VerifiedCache::new());
        assert_ne!(a.tag(HASH, "pw"), b.tag(HASH, "pw"));
    }
}
