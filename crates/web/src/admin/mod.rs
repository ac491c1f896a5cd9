//! The administration pages under `/admin`: domains, users, aliases, the
//! outbound queue and the TLS certificates. Domains, users, aliases and
//! queue items can be changed here with the store calls, and the checks,
//! of the `postern` command; certificates are shown only.
//!
//! Every change is a POST form carrying the session's CSRF token, behind
//! the application's same-origin check; it is logged at `info` with the
//! administrator's address (the audit trail) and answered with a 303 back
//! to its page, or the page again with the reason it was refused. Removing
//! a domain, a user or a queue item asks on a page of its own first. An
//! administrator cannot revoke their own flag, disable or remove their
//! own account, so nobody locks everyone out by a slip.
//!
//! Only administrators (`postern user admin ADDRESS on`) see them. The
//! flag is read from the store at every request, so turning it off takes
//! effect at once, not at the next login. A signed-out browser goes to
//! the login page, as for the mail pages; a signed-in user who is no
//! administrator gets 403, never the data.
//!
//! The web crate never sees a certificate or a TLS configuration: the
//! server describes them through [`TlsReports`], in plain data.
//!
//! # Layout
//! - [`Admin`]: the extractor that lets administrators through.
//! - [`TlsReports`], [`CertificateReport`], [`TlsPolicyReport`]: what the
//!   server tells about its certificates and TLS policy.
//! - [`pages`]: the pages and their rows.
//! - [`edit`]: what every change shares: token, audit line, answer.
//! - [`domains`], [`users`], [`aliases`], [`queue`]: the forms.

pub mod aliases;
pub mod domains;
pub mod edit;
pub mod pages;
pub mod queue;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::pages::{internal_error, message};
use crate::session::{Authed, SessionView};
use crate::AppState;

/// The admin routes (the application adds the form body limit and the
/// security layer around them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/domains", get(pages::domains).post(domains::add))
        .route(
            "/admin/domains/remove",
            get(domains::confirm_remove).post(domains::remove),
        )
        .route("/admin/users", get(pages::users).post(users::add))
        .route(USER_PATH, get(pages::user))
        .route("/admin/users/password", post(users::password))
        .route("/admin/users/disable", post(users::disable))
        .route("/admin/users/enable", post(users::enable))
        .route("/admin/users/admin", post(users::admin))
        .route("/admin/users/quota", post(users::quota))
        .route(
            "/admin/users/remove",
            get(users::confirm_remove).post(users::remove),
        )
        .route("/admin/aliases", get(pages::aliases).post(aliases::add))
        .route("/admin/aliases/remove", post(aliases::remove))
        .route("/admin/queue", get(pages::queue))
        .route("/admin/queue/retry", post(queue::retry))
        .route(
            "/admin/queue/delete",
            get(queue::confirm_delete).post(queue::delete),
        )
        .route("/admin/certificates", get(pages::certificates))
}

/// One user's page, with its forms.
pub const USER_PATH: &str = "/admin/users/edit";

/// One certificate the server serves, as the certificates page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateReport {
    /// The `[[certificate]]` name.
    pub name: String,
    /// The subject's distinguished name.
    pub subject: String,
    /// The names it covers (subjectAltName DNS names and IP addresses).
    pub names: Vec<String>,
    pub issuer: String,
    /// notAfter, seconds since the Unix epoch.
    pub not_after_unix: i64,
    /// Whole days until it expires, negative once expired: the same
    /// figure as the `postern_certificate_days_left` metric.
    pub days_left: i64,
    /// The listeners that may serve it.
    pub listeners: Vec<String>,
}

/// The TLS versions and cipher suites the listeners allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicyReport {
    /// `1.3`, `1.2`: newest first.
    pub versions: Vec<String>,
    /// IANA names, in the server's order of preference.
    pub suites: Vec<String>,
}

/// What the server tells the admin pages about TLS. Called at each view
/// of the page, so a reloaded certificate shows at once.
pub trait TlsReports: Send + Sync + 'static {
    fn certificates(&self) -> Vec<CertificateReport>;
    fn policy(&self) -> TlsPolicyReport;
}

/// A server without TLS reports (tests of the application alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTls;

impl TlsReports for NoTls {
    fn certificates(&self) -> Vec<CertificateReport> {
        Vec::new()
    }

    fn policy(&self) -> TlsPolicyReport {
        TlsPolicyReport::default()
    }
}

/// A signed-in administrator. Signed out: a redirect to `/login`;
/// signed in without the flag (or the account gone or disabled): 403.
pub struct Admin(pub SessionView);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Authed(session) = Authed::from_request_parts(parts, state).await?;
        let store = state.store.clone();
        let id = session.account;
        let found = tokio::task::spawn_blocking(move || store.account_by_id(id)).await;
        match found {
            Ok(Ok(Some(account))) if account.admin && !account.disabled => Ok(Self(session)),
            Ok(Ok(_)) => {
                tracing::info!(user = %session.address, "admin page refused: not an administrator");
                Err(forbidden(state))
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, user = %session.address, "cannot read the account for an admin page; check the store");
                Err(internal_error(state))
            }
            Err(e) => {
                tracing::error!(error = %e, "admin check task failed");
                Err(internal_error(state))
            }
        }
    }
}

fn forbidden(state: &AppState) -> Response {
    message(
        state,
        StatusCode::FORBIDDEN,
        "Administrators only",
        "These pages are for administrators only. An administrator can give your account access with `postern user admin ADDRESS on`.",
    )
}
