//! Parsed TXT records (SPF, DKIM keys, DMARC policies) kept for their
//! DNS time to live, so that a burst of mail from one sender parses each
//! record once. Bounded: when full, expired entries go, and if that is not
//! enough, everything does (a flood of distinct names must not grow it).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use mail_auth::{ResolverCache, Txt};

/// At most this many names.
const MAX_ENTRIES: usize = 4096;

/// The TXT cache handed to every check.
#[derive(Default)]
pub struct TxtCache {
    entries: Mutex<HashMap<Box<str>, (Txt, Instant)>>,
}

impl std::fmt::Debug for TxtCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxtCache({} entries)", self.lock().len())
    }
}

impl TxtCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, (Txt, Instant)>> {
        // A panic elsewhere cannot leave a half-written entry: the map is
        // only ever changed by single calls.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.lock();
        let (txt, until) = entries.get(name)?;
        (*until > Instant::now()).then(|| txt.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(txt, _)| txt)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, valid_until));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mail_auth::common::parse::TxtRecordParser;
    use mail_auth::spf::Spf;

    use super::*;

    fn spf() -> Txt {
        Txt::from(Spf::parse(b"v=spf1 -all").unwrap())
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = TxtCache::default();
        let later = Instant::now() + Duration::from_secs(60);
        cache.insert("a.test.".into(), spf(), later);
        assert!(matches!(cache.get("a.test."), Some(Txt::Spf(_))));
        cache.insert("old.test.".into(), spf(), Instant::now());
        assert!(cache.get("old.test.").is_none(), "expired");
        for n in 0..MAX_ENTRIES + 10 {
            cache.insert(format!("{n}.test.").into(), spf(), later);
        }
        assert!(cache.lock().len() <= MAX_ENTRIES);
    }
}
