//! Server-side sessions and their cookie.
//!
//! The cookie holds only a random 256-bit token; everything else stays on
//! the server, so logging out (or expiry) really ends the session. They
//! are kept in memory: one process serves the web interface, and a restart
//! only asks users to log in again. Several nodes sharing one store would
//! need them in the store; that can come with such a set-up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use postern_store::{Account, AccountId};

use crate::csrf::Token;
use crate::AppState;

/// The session cookie. The `__Host-` prefix makes browsers accept it only
/// with Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2), so no other
/// host, not even a subdomain, can set or overwrite it.
pub const SESSION_COOKIE: &str = "__Host-postern";

/// A session unused this long is over (OWASP's guidance for sensitive
/// applications is 15-30 minutes).
pub const IDLE_EXPIRY: Duration = Duration::from_secs(30 * 60);
/// A session is over this long after login, however busy (a working day).
pub const ABSOLUTE_EXPIRY: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions at once, all accounts together: about 2 MB at most. A new
/// login beyond it is refused rather than pushing someone else out.
const MAX_SESSIONS: usize = 10_000;
/// Sessions of one account at once; a new login drops its oldest, so one
/// account cannot fill the table.
const MAX_PER_ACCOUNT: usize = 16;

/// A logged-in session, as handlers see it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub token: Token,
    pub account: AccountId,
    pub address: String,
    /// What this session's forms must carry.
    pub csrf: Token,
    /// A fingerprint of the account's password hash at login: a new
    /// password (from the admin pages or `postern user passwd`) ends the
    /// sessions opened with the old one.
    credential: u64,
}

#[derive(Debug)]
struct Entry {
    view: SessionView,
    created: Instant,
    last_used: Instant,
}

impl Entry {
    fn alive(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_used) < IDLE_EXPIRY
            && now.saturating_duration_since(self.created) < ABSOLUTE_EXPIRY
    }
}

/// Why no session was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateError {
    /// [`MAX_SESSIONS`] are open.
    Full,
    /// No randomness for the tokens.
    NoRandomness,
}

/// Every open session.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<Token, Entry>>,
}

impl Sessions {
    /// Opens a session for an account that just logged in.
    pub fn create(&self, account: &Account, now: Instant) -> Result<SessionView, CreateError> {
        let (Some(token), Some(csrf)) = (Token::random(), Token::random()) else {
            return Err(CreateError::NoRandomness);
        };
        let mut map = self.lock();
        map.retain(|_, e| e.alive(now));
        drop_oldest_beyond(&mut map, account.id, MAX_PER_ACCOUNT - 1);
        if map.len() >= MAX_SESSIONS {
            return Err(CreateError::Full);
        }
        let view = SessionView {
            token,
            account: account.id,
            address: account.address.clone(),
            csrf,
            credential: fingerprint(&account.password_hash),
        };
        map.insert(
            token,
            Entry {
                view: view.clone(),
                created: now,
                last_used: now,
            },
        );
        Ok(view)
    }

    /// The live session of a token, marked as used now. An expired one is
    /// removed.
    pub fn get(&self, token: &Token, now: Instant) -> Option<SessionView> {
        let mut map = self.lock();
        let entry = map.get_mut(token)?;
        if !entry.alive(now) {
            map.remove(token);
            return None;
        }
        entry.last_used = now;
        Some(entry.view.clone())
    }

    /// The session a request's cookie names, if live.
    pub fn from_headers(&self, headers: &HeaderMap, now: Instant) -> Option<SessionView> {
        let token = Token::from_hex(cookie(headers, SESSION_COOKIE)?)?;
        self.get(&token, now)
    }

    /// Keeps a session alive across its own account's password change:
    /// the session the change was made from.
    pub fn renew_credential(&self, token: &Token, password_hash: &str) {
        if let Some(entry) = self.lock().get_mut(token) {
            entry.view.credential = fingerprint(password_hash);
        }
    }

    /// Ends a session (logout).
    pub fn remove(&self, token: &Token) {
        self.lock().remove(token);
    }

    /// Open sessions (expired ones may still count until the next login).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Token, Entry>> {
        // A map of plain values: a panic elsewhere cannot leave it torn.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Keeps at most `keep` sessions of `account`, dropping the oldest.
fn drop_oldest_beyond(map: &mut HashMap<Token, Entry>, account: AccountId, keep: usize) {
    let mut own: Vec<(Instant, Token)> = map
        .iter()
        .filter(|(_, e)| e.view.account == account)
        .map(|(t, e)| (e.created, *t))
        .collect();
    if own.len() <= keep {
        return;
    }
    own.sort_by_key(|(created, _)| *created);
    for (_, token) in &own[..own.len() - keep] {
        map.remove(token);
    }
}

/// A cookie's value from the request's `Cookie` headers (RFC 6265 §5.4).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for one of our cookies: Secure and HttpOnly (no
/// script reads it), SameSite=Strict (no cross-site request carries it),
/// Path=/ and no Domain (the `__Host-` rules). `max_age` `None` makes a
/// browser-session cookie; `Some(0)` deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Secure; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The `Set-Cookie` that opens a session; the browser drops it when the
/// server would anyway.
pub fn session_cookie(view: &SessionView) -> String {
    set_cookie(
        SESSION_COOKIE,
        &view.token.to_hex(),
        Some(ABSOLUTE_EXPIRY.as_secs()),
    )
}

/// Change detection only: the hash is already a salted argon2id string,
/// and the fingerprint never leaves the process.
fn fingerprint(password_hash: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    password_hash.hash(&mut h);
    h.finish()
}

/// The logged-in session of a request; without one, the client is sent to
/// the login page.
///
/// The account is read at every request, so an account disabled or
/// removed, or given a new password, loses its sessions at once, whether
/// the change came from the admin pages or from the `postern` command in
/// another process.
#[derive(Debug, Clone)]
pub struct Authed(pub SessionView);

impl FromRequestParts<AppState> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let view = state
            .sessions
            .from_headers(&parts.headers, Instant::now())
            .ok_or_else(to_login)?;
        let store = state.store.clone();
        let id = view.account;
        match tokio::task::spawn_blocking(move || store.account_by_id(id)).await {
            Ok(Ok(Some(account)))
                if !account.disabled && fingerprint(&account.password_hash) == view.credential =>
            {
                // Kept for extractors that need more of the account in the
                // same request (`Admin`): read once per request.
                parts.extensions.insert(account);
                Ok(Self(view))
            }
            Ok(Ok(_)) => {
                tracing::info!(user = %view.address, "web session ended: the account was disabled, removed or given a new password");
                state.sessions.remove(&view.token);
                Err(to_login())
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the session's account; check the store");
                Err(crate::pages::internal_error(state))
            }
            Err(e) => {
                tracing::error!(error = %e, "session check task failed");
                Err(crate::pages::internal_error(state))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn account(id: i64, address: &str) -> Account {
        Account {
            id: AccountId(id),
            address: address.into(),
            password_hash: String::new(),
            quota_bytes: 0,
            disabled: false,
            admin: false,
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_after_the_absolute_limit() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let v = s.create(&account(1, "a@x"), t0).unwrap();
        let minute = Duration::from_secs(60);
        assert!(s.get(&v.token, t0 + 29 * minute).is_some());
        // Each use restarts the idle clock...
        let mut t = t0;
        for _ in 0..24 {
            t += 29 * minute;
            assert!(s.get(&v.token, t).is_some());
        }
        // ...but not the absolute one: 24 * 29 min is 11.6 h, 25 * 29 over 12.
        t += 29 * minute;
        assert!(s.get(&v.token, t).is_none(), "past 12 h");
        assert!(s.is_empty());
        let v = s.create(&account(1, "a@x"), t0).unwrap();
        assert!(s.get(&v.token, t0 + 31 * minute).is_none(), "idle 31 min");
    }

    #[test]
    fn one_account_cannot_fill_the_table() {
        let s = Sessions::default();
        let now = Instant::now();
        let first = s.create(&account(1, "a@x"), now).unwrap();
        for i in 1..MAX_PER_ACCOUNT as u64 + 4 {
            s.create(&account(1, "a@x"), now + Duration::from_millis(i))
                .unwrap();
        }
        let other = s.create(&account(2, "b@x"), now).unwrap();
        assert_eq!(s.len(), MAX_PER_ACCOUNT + 1);
        assert!(s.get(&first.token, now).is_none(), "the oldest went");
        assert!(s.get(&other.token, now).is_some());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-postern=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "__Host-postern-login"), None);
    }

    #[test]
    fn set_cookie_has_every_flag() {
        let c = set_cookie(SESSION_COOKIE, "v", Some(0));
        assert_eq!(
            c,
            "__Host-postern=v; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
    }
}
