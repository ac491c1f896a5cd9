//! What every admin form shares: the CSRF check, the store call on a
//! blocking thread, the audit log line, and the answer.
//!
//! A change that is done is answered with a 303 back to its page (RFC
//! 9110 §15.4.4) carrying `?done=` and a fixed code, so the page shows a
//! one-line notice; the notice is looked up from the code, never echoed,
//! so a crafted link cannot put words on an administrator's page. A
//! mistake the administrator can fix re-renders the page with the reason
//! and a 4xx status; only a failure of the server itself is a 500.
//!
//! Every change, and every refused one, is logged at `info` with the
//! administrator's address, the action and what it acted on: the audit
//! trail. Passwords never reach the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use postern_store::{Account, Store, StoreError};

use super::pages;
use crate::mail::list::query_encode;
use crate::security::refuse;
use crate::session::SessionView;
use crate::AppState;

/// A change an administrator can make, with its `?done=` code and the
/// notice shown after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AddDomain,
    RemoveDomain,
    AddUser,
    SetPassword,
    Disable,
    Enable,
    GrantAdmin,
    RevokeAdmin,
    SetQuota,
    RemoveUser,
    AddAlias,
    RemoveAlias,
    RetryQueued,
    DeleteQueued,
    RequestCertificate,
    ImportCertificate,
}

/// (action, code, notice).
const ACTIONS: &[(Action, &str, &str)] = &[
    (Action::AddDomain, "domain-added", "Domain added."),
    (Action::RemoveDomain, "domain-removed", "Domain removed."),
    (
        Action::AddUser,
        "user-added",
        "User added, with the folders INBOX, Sent, Drafts, Trash, Junk and Archive. The first account of a domain also receives its postmaster mail (see Aliases).",
    ),
    (Action::SetPassword, "password-changed", "Password changed."),
    (
        Action::Disable,
        "user-disabled",
        "User disabled: it can no longer log in or receive mail.",
    ),
    (Action::Enable, "user-enabled", "User enabled."),
    (
        Action::GrantAdmin,
        "admin-granted",
        "The user is now an administrator.",
    ),
    (
        Action::RevokeAdmin,
        "admin-revoked",
        "The user is no longer an administrator.",
    ),
    (Action::SetQuota, "quota-set", "Quota set."),
    (
        Action::RemoveUser,
        "user-removed",
        "User removed, with all its mail.",
    ),
    (Action::AddAlias, "alias-added", "Alias added."),
    (Action::RemoveAlias, "alias-removed", "Alias removed."),
    (
        Action::RetryQueued,
        "queue-retried",
        "The message will be tried again at the next queue scan.",
    ),
    (
        Action::DeleteQueued,
        "queue-deleted",
        "The message was removed from the queue; no bounce was sent.",
    ),
    (
        Action::RequestCertificate,
        "certificate-requested",
        "Key and CSR made; the key stays on the server.",
    ),
    (
        Action::ImportCertificate,
        "certificate-imported",
        "Certificate imported.",
    ),
];

impl Action {
    /// The `?done=` code, also the `action` field of the audit line.
    pub fn code(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("", |(_, code, _)| code)
    }

    /// The notice for a `?done=` code; unknown codes show nothing.
    pub fn notice(code: &str) -> Option<&'static str> {
        ACTIONS
            .iter()
            .find(|(_, c, _)| *c == code)
            .map(|(_, _, notice)| *notice)
    }
}

/// The page a form comes from: where it goes back to, and what is shown
/// again with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    Domains,
    Users,
    /// One user's page.
    User(String),
    Aliases,
    Queue,
    Certificates,
}

impl Back {
    /// The page's path, with the notice code of a change just made.
    pub fn href(&self, done: Option<Action>) -> String {
        let (path, mut query) = match self {
            Self::Domains => ("/admin/domains", Vec::new()),
            Self::Users => ("/admin/users", Vec::new()),
            Self::User(address) => (
                super::USER_PATH,
                vec![format!("address={}", query_encode(address))],
            ),
            Self::Aliases => ("/admin/aliases", Vec::new()),
            Self::Queue => ("/admin/queue", Vec::new()),
            Self::Certificates => ("/admin/certificates", Vec::new()),
        };
        query.extend(done.map(|a| format!("done={}", a.code())));
        match query.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{}", query.join("&")),
        }
    }
}

/// Why a change was not made.
#[derive(Debug)]
pub enum Refusal {
    /// The store said no; [`answer`] sorts mistakes from failures.
    Store(StoreError),
    /// A mistake the administrator can correct, in words for them.
    Mistake(StatusCode, String),
    /// The server failed and has logged why: a 500.
    Failed,
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A 400 with this reason.
pub fn bad_input(why: impl Into<String>) -> Refusal {
    Refusal::Mistake(StatusCode::BAD_REQUEST, why.into())
}

/// One change: what it is, on what, and the page it comes from.
pub struct Edit {
    pub action: Action,
    /// The domain, address or queue item: for the audit line.
    pub target: String,
    pub back: Back,
}

/// Checks the form's token, runs `f` on a blocking thread (the store and
/// argon2 both block) and answers.
pub async fn apply<F>(
    state: &AppState,
    session: &SessionView,
    csrf: &str,
    edit: Edit,
    f: F,
) -> Response
where
    F: FnOnce(&dyn Store) -> Result<(), Refusal> + Send + 'static,
{
    let Edit {
        action,
        target,
        back,
    } = edit;
    let admin = session.address.as_str();
    if let Some(r) = token_refusal(session, csrf, action, &target) {
        return r;
    }
    let store = state.store.clone();
    let done = tokio::task::spawn_blocking(move || f(store.as_ref())).await;
    let refusal = match done {
        Ok(Ok(())) => {
            tracing::info!(admin = %admin, action = action.code(), target = %target, "administration change");
            return Redirect::to(&back.href(Some(action))).into_response();
        }
        Ok(Err(refusal)) => refusal,
        Err(e) => {
            tracing::error!(error = %e, admin = %admin, action = action.code(), "administration task failed");
            return crate::pages::internal_error(state);
        }
    };
    let Some((status, reason)) = mistake(refusal) else {
        return failed(state, admin, action, &target);
    };
    tracing::info!(admin = %admin, action = action.code(), target = %target, reason = %reason, "administration change refused");
    pages::show(state, session, &back, status, None, Some(reason)).await
}

/// The form's CSRF token must be the session's; otherwise the 403 to
/// answer, logged with what was attempted.
pub fn token_refusal(
    session: &SessionView,
    csrf: &str,
    action: Action,
    target: &str,
) -> Option<Response> {
    if session.csrf.matches(csrf) {
        return None;
    }
    tracing::warn!(admin = %session.address, action = action.code(), target = %target, "administration change refused: missing or wrong form token");
    Some(refuse(
        StatusCode::FORBIDDEN,
        "invalid form token; reload the page\n",
    ))
}

/// A store error the administrator can act on, as status and sentence;
/// `None` for a failure of the server.
fn mistake(refusal: Refusal) -> Option<(StatusCode, String)> {
    let e = match refusal {
        Refusal::Mistake(status, why) => return Some((status, why)),
        Refusal::Failed => return None,
        Refusal::Store(e) => e,
    };
    let status = match &e {
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::AlreadyExists { .. }
        | StoreError::InUse { .. }
        | StoreError::QuotaExceeded { .. } => StatusCode::CONFLICT,
        StoreError::UnknownDomain { .. } | StoreError::Invalid { .. } => StatusCode::BAD_REQUEST,
        _ => {
            tracing::error!(error = %e, "administration change failed in the store; check the store");
            return None;
        }
    };
    Some((status, sentence(&e.to_string())))
}

fn failed(state: &AppState, admin: &str, action: Action, target: &str) -> Response {
    tracing::error!(admin = %admin, action = action.code(), target = %target, "administration change failed; nothing was changed");
    crate::pages::internal_error(state)
}

/// A message as a sentence: capital first letter, full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut s: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// Every admin form's fields; each form sends some, the rest stay empty.
/// No `Debug`: it carries passwords.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct Fields {
    pub csrf: String,
    pub domain: String,
    pub address: String,
    pub password: String,
    /// The password typed again.
    pub password2: String,
    pub quota: String,
    /// `on` from a ticked checkbox or an "on" button; anything else is off.
    pub admin: String,
    /// An alias's targets, separated by commas or blanks.
    pub targets: String,
    /// A queue item.
    pub id: String,
}

/// The query of the admin pages: a notice code and what a page is about.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub done: String,
    pub address: String,
    pub domain: String,
    pub id: String,
}

/// The account of an address, or a 404 naming it.
pub fn find(store: &dyn Store, address: &str) -> Result<Account, Refusal> {
    store.account(address.trim())?.ok_or_else(|| {
        Refusal::Mistake(
            StatusCode::NOT_FOUND,
            format!("There is no account {}.", address.trim()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_distinct_code_and_a_notice() {
        let all = [
            Action::AddDomain,
            Action::RemoveDomain,
            Action::AddUser,
            Action::SetPassword,
            Action::Disable,
            Action::Enable,
            Action::GrantAdmin,
            Action::RevokeAdmin,
            Action::SetQuota,
            Action::RemoveUser,
            Action::AddAlias,
            Action::RemoveAlias,
            Action::RetryQueued,
            Action::DeleteQueued,
            Action::RequestCertificate,
            Action::ImportCertificate,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|a| a.code()).collect();
        assert_eq!(codes.len(), all.len());
        for a in all {
            assert!(Action::notice(a.code()).is_some(), "{a:?}");
        }
        assert_eq!(Action::notice("<script>"), None);
        assert_eq!(Action::notice(""), None);
    }

    #[test]
    fn pages_are_found_again_with_their_notice() {
        assert_eq!(Back::Domains.href(None), "/admin/domains");
        assert_eq!(
            Back::Queue.href(Some(Action::DeleteQueued)),
            "/admin/queue?done=queue-deleted"
        );
        assert_eq!(
            Back::User("a+b@x.test".into()).href(Some(Action::SetQuota)),
            "/admin/users/edit?address=a%2Bb%40x.test&done=quota-set"
        );
    }

    #[test]
    fn store_mistakes_are_sentences_with_a_status() {
        let in_use = StoreError::InUse {
            what: "domain x.test".into(),
            why: "1 account(s) and 0 alias(es) use it".into(),
        };
        assert_eq!(
            mistake(in_use.into()),
            Some((
                StatusCode::CONFLICT,
                "Domain x.test is still in use: 1 account(s) and 0 alias(es) use it.".into()
            ))
        );
        let missing = StoreError::NotFound {
            what: "alias a@x.test".into(),
        };
        assert_eq!(
            mistake(missing.into()).map(|m| m.0),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(mistake(StoreError::Database("locked".into()).into()), None);
    }
}
