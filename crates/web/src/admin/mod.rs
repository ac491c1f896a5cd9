//! The administration pages under `/admin`: domains, users, aliases, the
//! outbound queue and the TLS certificates. Domains, users, aliases and
//! queue items can be changed here with the store calls, and the checks,
//! of the `postern` command. Certificates are requested (a key kept on
//! the server and a CSR for the CA) and imported through the server, with
//! the checks of `postern cert request` and `postern cert import`.
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
//! The web crate never sees a certificate, a key or a TLS configuration:
//! the server describes them, and does the certificate work, through
//! [`TlsReports`], in plain data. A private key never reaches this crate.
//!
//! # Layout
//! - [`Admin`]: the extractor that lets administrators through.
//! - [`TlsReports`], [`CertificateReport`], [`TlsPolicyReport`]: what the
//!   server tells about its certificates and TLS policy.
//! - [`pages`]: the pages and their rows.
//! - [`edit`]: what every change shares: token, audit line, answer.
//! - [`domains`], [`users`], [`aliases`], [`queue`]: the forms.
//! - [`certs`]: requesting and importing a certificate.

pub mod aliases;
pub mod certs;
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
use postern_store::Account;

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
        .route("/admin/certificates/request", post(certs::request))
        .route("/admin/certificates/csr", post(certs::download_csr))
        .merge(certs::upload_routes())
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

/// A new key and CSR, as `postern cert request` makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    /// The `[[certificate]]` the signed certificate will replace.
    pub certificate: String,
    /// DNS names or IP addresses; the first is also the CN.
    pub names: Vec<String>,
    /// One of [`TlsReports::key_types`].
    pub key_type: String,
}

/// A request made: the CSR for the CA, and where the server keeps the key
/// (the path only; the key itself never leaves the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequested {
    pub csr_pem: String,
    pub key_path: String,
}

/// What the CA sent, as uploaded.
pub enum CertUpload {
    /// The signed certificate, possibly followed by its chain, and the
    /// chain as a separate file if the CA sent one.
    Pem {
        cert_pem: Vec<u8>,
        chain_pem: Option<Vec<u8>>,
    },
    /// A PKCS#12 keystore (RFC 7292) with its password.
    Pkcs12 { der: Vec<u8>, password: String },
}

impl std::fmt::Debug for CertUpload {
    // The keystore password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pem { cert_pem, .. } => write!(f, "Pem({} octets)", cert_pem.len()),
            Self::Pkcs12 { der, .. } => write!(f, "Pkcs12({} octets)", der.len()),
        }
    }
}

/// A certificate checked and installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertImported {
    /// The `[[certificate]]` replaced.
    pub certificate: String,
    /// The names the new certificate covers.
    pub names: Vec<String>,
    pub issuer: String,
    /// The new certificate's notAfter, seconds since the Unix epoch.
    pub not_after_unix: i64,
    pub days_left: i64,
    /// What the administrator should know; none of it blocked the import.
    pub warnings: Vec<String>,
    /// `Ok` once the live store serves the new certificate; otherwise why
    /// it does not (yet).
    pub serving: Result<(), String>,
}

/// What the server tells the admin pages about TLS, and the certificate
/// work it does for them. Called on a blocking thread: the reports at
/// each view of the page, so a reloaded certificate shows at once.
pub trait TlsReports: Send + Sync + 'static {
    fn certificates(&self) -> Vec<CertificateReport>;
    fn policy(&self) -> TlsPolicyReport;
    /// The key types a request may ask for, the default first.
    fn key_types(&self) -> Vec<String>;
    /// Makes a key (kept on the server, mode 0600) and its CSR. The error
    /// is a sentence for the administrator.
    fn request_certificate(&self, request: CertRequest) -> Result<CertRequested, String>;
    /// Checks an upload as `postern cert import` does and installs it in
    /// place of the `[[certificate]]` named `certificate`. The error is a
    /// sentence for the administrator; nothing was changed then.
    fn import_certificate(
        &self,
        certificate: &str,
        upload: CertUpload,
    ) -> Result<CertImported, String>;
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

    fn key_types(&self) -> Vec<String> {
        Vec::new()
    }

    fn request_certificate(&self, _: CertRequest) -> Result<CertRequested, String> {
        Err(NO_TLS.into())
    }

    fn import_certificate(&self, _: &str, _: CertUpload) -> Result<CertImported, String> {
        Err(NO_TLS.into())
    }
}

const NO_TLS: &str = "Certificates cannot be changed here: this server has no TLS set-up.";

/// A signed-in administrator. Signed out: a redirect to `/login`;
/// signed in without the flag (or the account gone or disabled): 403.
pub struct Admin(pub SessionView);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // `Authed` has just read the account from the store (so the flag
        // is the current one, and a disabled account never gets here).
        let Authed(session) = Authed::from_request_parts(parts, state).await?;
        match parts.extensions.get::<Account>() {
            Some(account) if account.admin && !account.disabled => Ok(Self(session)),
            Some(_) => {
                tracing::info!(user = %session.address, "admin page refused: not an administrator");
                Err(forbidden(state))
            }
            None => {
                tracing::error!(user = %session.address, "the session's account was not read; admin page refused");
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
