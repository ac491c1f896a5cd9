//! What the mail sessions share: the store, the authentication service and
//! the maildrop locks.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use postern_auth::{Authenticator, LoginOutcome};
use postern_store::{AccountId, Store};

/// The store and the services around it.
#[derive(Clone)]
pub struct Mail {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub locks: MaildropLocks,
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
    pub async fn read_blob(
        &self,
        blob: postern_store::BlobId,
        size: u64,
    ) -> postern_store::StoreResult<Vec<u8>> {
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
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.locks.set().remove(&self.account);
    }
}
