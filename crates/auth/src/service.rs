//! The authentication service every protocol calls.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_store::{Account, Store};
use postern_types::ClientIdentity;

use crate::cache::VerifiedCache;
use crate::password::{self, hash_unchecked};
use crate::throttle::{Gate, Key, Throttle};

/// The result of a login attempt. A failure carries how long the protocol
/// must wait before it answers (the throttle's delay); the answer itself is
/// the same for every failure, so nothing tells an unknown account from a
/// wrong password.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Success(Account),
    Failure { wait: Duration },
}

/// Verifies credentials against the store, with throttling.
pub struct Authenticator {
    store: Arc<dyn Store>,
    throttle: Mutex<Throttle>,
    /// A real hash of a random password, verified when the account does not
    /// exist, so an unknown name costs the same time as a wrong password.
    decoy_hash: String,
    /// argon2 working memory, reused: at most [`SPARE_MEMORY`] buffers are
    /// kept (callers bound how many verifications run at once).
    memory: Mutex<Vec<Vec<argon2::Block>>>,
    /// Passwords verified in the last minutes (keyed tags, never the
    /// passwords): a client that reconnects often skips argon2.
    verified: VerifiedCache,
}

/// Working-memory buffers kept between verifications.
const SPARE_MEMORY: usize = 8;

/// The login name as the store will look it up (Unicode lowercase of a
/// valid address), so that the throttle counts every spelling of one
/// account as one name; anything unparsable is kept as typed, lowercased.
fn normalize(username: &str) -> String {
    let trimmed = username.trim();
    postern_store::names::address(trimmed)
        .map(|a| a.full)
        .unwrap_or_else(|_| trimmed.to_lowercase())
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

impl Authenticator {
    /// Creates the service. Computes one hash (the timing decoy).
    pub fn new(store: Arc<dyn Store>) -> Result<Self, password::PasswordError> {
        Ok(Self {
            store,
            throttle: Mutex::new(Throttle::default()),
            decoy_hash: hash_unchecked("decoy password that matches nothing")?,
            memory: Mutex::new(Vec::new()),
            verified: VerifiedCache::new(),
        })
    }

    /// Checks a user name and password. CPU-heavy (one argon2id
    /// verification, tens of milliseconds): async callers run it on a
    /// blocking thread, then sleep `wait` before answering a failure.
    pub fn login(&self, ip: IpAddr, username: &str, password: &str, now: Instant) -> LoginOutcome {
        let name = normalize(username);
        let keys = [Key::ip(ip), Key::name(&name)];
        if let Gate::Blocked { wait } = self.throttle().begin(&keys, now) {
            tracing::info!(%ip, "login refused: blocked after repeated failures");
            return LoginOutcome::Failure { wait };
        }
        let account = self.store.account(&name).ok().flatten();
        let hash = account
            .as_ref()
            .map_or(self.decoy_hash.as_str(), |a| &a.password_hash)
            .to_owned();
        let hash = hash.as_str();
        // A recent success with this very password and stored hash: no
        // need for argon2 again. A miss (any wrong password) verifies in
        // full, so guessing is exactly as slow as before.
        let remembered = account
            .as_ref()
            .is_some_and(|a| self.verified.hit(a.id, hash, password, now));
        let matches = remembered || self.verify(password, hash);
        match account {
            Some(a) if matches && !a.disabled => {
                self.throttle().success(&keys);
                if !remembered {
                    self.verified
                        .remember(a.id, &a.password_hash, password, now);
                }
                tracing::info!(%ip, user = %a.address, "login ok");
                LoginOutcome::Success(a)
            }
            _ => self.fail(&keys, ip, now),
        }
    }

    /// SASL EXTERNAL with a verified client certificate: the certificate's
    /// e-mail address must be the account's address, and the requested
    /// authorization identity, if any, the same account (RFC 4422 App. A).
    pub fn login_external(
        &self,
        ip: IpAddr,
        client: Option<&ClientIdentity>,
        authzid: &str,
        now: Instant,
    ) -> LoginOutcome {
        let wanted = authzid.trim().to_ascii_lowercase();
        let account = client
            .into_iter()
            .flat_map(|c| &c.emails)
            .find_map(|email| {
                let email = email.to_ascii_lowercase();
                if !wanted.is_empty() && wanted != email {
                    return None;
                }
                self.store
                    .account(&email)
                    .ok()
                    .flatten()
                    .filter(|a| !a.disabled)
            });
        match account {
            Some(a) => {
                tracing::info!(%ip, user = %a.address, "login ok (client certificate)");
                LoginOutcome::Success(a)
            }
            None => self.fail(&[Key::ip(ip)], ip, now),
        }
    }

    /// Verifies with a pooled working-memory buffer.
    fn verify(&self, password: &str, hash: &str) -> bool {
        let lock = |m: &Mutex<Vec<Vec<argon2::Block>>>| {
            // A pool of plain buffers: usable even after a panic elsewhere.
            m.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop()
        };
        let mut memory = lock(&self.memory).unwrap_or_default();
        let matches = password::verify_with(password, hash, &mut memory);
        let mut pool = self
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < SPARE_MEMORY {
            pool.push(memory);
        }
        matches
    }

    fn fail(&self, keys: &[Key], ip: IpAddr, now: Instant) -> LoginOutcome {
        let wait = self.throttle().failure(keys, now);
        tracing::info!(%ip, ?wait, "login failed");
        LoginOutcome::Failure { wait }
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        // The throttle holds counters only; a panic elsewhere cannot leave
        // it inconsistent, so a poisoned lock is still usable.
        self.throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_store::SqliteStore;

    const IP: &str = "192.0.2.10";

    fn setup() -> (tempfile::TempDir, Arc<dyn Store>, Authenticator) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        store.add_domain("example.com").unwrap();
        let hash = crate::hash_password("correct horse battery").unwrap();
        store.add_account("alice@example.com", &hash).unwrap();
        let auth = Authenticator::new(store.clone()).unwrap();
        (dir, store, auth)
    }

    fn ip() -> IpAddr {
        IP.parse().unwrap()
    }

    #[test]
    fn the_right_password_logs_in_case_insensitively() {
        let (_d, _s, auth) = setup();
        let now = Instant::now();
        match auth.login(ip(), " Alice@Example.COM", "correct horse battery", now) {
            LoginOutcome::Success(a) => assert_eq!(a.address, "alice@example.com"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_remembered_password_stops_working_once_changed_or_disabled() {
        let (_d, store, auth) = setup();
        let now = Instant::now();
        let ok = |auth: &Authenticator, pw: &str| {
            matches!(
                auth.login(ip(), "alice@example.com", pw, now),
                LoginOutcome::Success(_)
            )
        };
        assert!(ok(&auth, "correct horse battery"));
        let id = store.account("alice@example.com").unwrap().unwrap().id;
        assert!(auth.verified.hit(
            id,
            &store
                .account("alice@example.com")
                .unwrap()
                .unwrap()
                .password_hash,
            "correct horse battery",
            now
        ));
        // Remembered, and still only for that password.
        assert!(ok(&auth, "correct horse battery"));
        assert!(!ok(&auth, "correct horse battery!"));
        store.set_disabled(id, true).unwrap();
        assert!(!ok(&auth, "correct horse battery"), "disabled wins");
        store.set_disabled(id, false).unwrap();
        let new_hash = crate::hash_password("a brand new passphrase").unwrap();
        store.set_password_hash(id, &new_hash).unwrap();
        assert!(
            !ok(&auth, "correct horse battery"),
            "the old password is gone"
        );
        assert!(ok(&auth, "a brand new passphrase"));
    }

    #[test]
    fn wrong_password_unknown_and_disabled_accounts_fail_alike() {
        let (_d, store, auth) = setup();
        let now = Instant::now();
        let wrong = auth.login(ip(), "alice@example.com", "wrong password!", now);
        let unknown = auth.login(
            "192.0.2.11".parse().unwrap(),
            "bob@example.com",
            "whatever pw",
            now,
        );
        for outcome in [wrong, unknown] {
            assert!(
                matches!(outcome, LoginOutcome::Failure { wait } if wait >= crate::throttle::BASE_DELAY)
            );
        }
        let alice = store.account("alice@example.com").unwrap().unwrap();
        store.set_disabled(alice.id, true).unwrap();
        let disabled = auth.login(
            "192.0.2.12".parse().unwrap(),
            "alice@example.com",
            "correct horse battery",
            now,
        );
        assert!(matches!(disabled, LoginOutcome::Failure { .. }));
    }

    #[test]
    fn repeated_failures_block_even_the_right_password() {
        let (_d, _s, auth) = setup();
        let now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..crate::throttle::BLOCK_AFTER {
            if let LoginOutcome::Failure { wait } =
                auth.login(ip(), "alice@example.com", "guess guess", now)
            {
                waits.push(wait);
            }
        }
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        let blocked = auth.login(ip(), "alice@example.com", "correct horse battery", now);
        assert!(matches!(blocked, LoginOutcome::Failure { .. }));
        let later = now + crate::throttle::WINDOW + Duration::from_secs(1);
        assert!(matches!(
            auth.login(ip(), "alice@example.com", "correct horse battery", later),
            LoginOutcome::Success(_)
        ));
    }

    #[test]
    fn every_spelling_of_a_name_shares_one_throttle_record() {
        let (_d, _s, auth) = setup();
        let now = Instant::now();
        // U+212A KELVIN SIGN lowercases to "k", as the store's lookup does.
        assert_eq!(normalize("\u{212A}ate@Example.com"), "kate@example.com");
        for i in 0..crate::throttle::BLOCK_AFTER {
            let ip: IpAddr = format!("192.0.2.{}", 100 + i).parse().unwrap();
            let spelling = if i % 2 == 0 {
                "ALICE@example.com"
            } else {
                " alice@EXAMPLE.com "
            };
            auth.login(ip, spelling, "guess guess", now);
        }
        let from_elsewhere = auth.login(
            "198.51.100.7".parse().unwrap(),
            "alice@example.com",
            "correct horse battery",
            now,
        );
        assert!(
            matches!(from_elsewhere, LoginOutcome::Failure { .. }),
            "the name is blocked"
        );
    }

    #[test]
    fn a_client_certificate_maps_to_its_account() {
        let (_d, _s, auth) = setup();
        let now = Instant::now();
        let id = ClientIdentity {
            subject: "CN=Alice".into(),
            emails: vec!["ALICE@example.com".into()],
        };
        assert!(matches!(
            auth.login_external(ip(), Some(&id), "", now),
            LoginOutcome::Success(_)
        ));
        assert!(matches!(
            auth.login_external(ip(), Some(&id), "alice@example.com", now),
            LoginOutcome::Success(_)
        ));
        assert!(matches!(
            auth.login_external(ip(), Some(&id), "bob@example.com", now),
            LoginOutcome::Failure { .. }
        ));
        assert!(matches!(
            auth.login_external(ip(), None, "", now),
            LoginOutcome::Failure { .. }
        ));
    }
}
