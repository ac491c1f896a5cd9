//! Postern's HTTPS web application: login and sessions, webmail (folders,
//! message lists, reading, writing with attachments, drafts, flags, move
//! and delete, folder management), CalDAV, mail-client autoconfiguration,
//! the MTA-STS policy, and the administration pages.
//!
//! This crate is the application only. `postern-server` accepts the
//! connection, does the TLS handshake and drives hyper's HTTP/1.1 over the
//! stream; every request it reads goes to [`Web::handle`] with the client's
//! address and TLS facts attached as a [`Client`] extension. Logins go
//! through [`Accounts`], which the server implements with the same
//! authentication service, throttle and verification bound as IMAP, POP3
//! and SMTP; the store is read on blocking threads.
//!
//! # Layout
//! - [`settings`]: what the server tells the application (host name, the
//!   mail ports clients should use, timeouts), and the [`Accounts`] hook.
//! - [`security`]: headers on every response, the cross-site check, the
//!   request deadline.
//! - [`session`]: server-side sessions and their cookie.
//! - [`csrf`]: tokens and their constant-time comparison.
//! - [`pages`]: login, logout, the mail landing page; templates in
//!   `templates/`.
//! - [`mail`]: webmail: message lists, reading, attachments, actions;
//!   HTML mail sanitized.
//! - [`caldav`]: CalDAV under `/dav/` (discovery at `/.well-known/caldav`),
//!   HTTP Basic over TLS, on `postern-dav` and the store's calendars.
//! - [`calendar`]: the web calendar (month, week, day, agenda, events).
//! - [`account`]: `/account`: the user's own password.
//! - [`admin`]: `/admin`, for administrators only: domains, users,
//!   aliases, the queue, certificates (through [`TlsReports`]).
//! - [`autoconfig`]: Thunderbird autoconfig and Microsoft autodiscover.
//! - [`multipart`]: `multipart/form-data` bodies (the compose form).
//! - [`mta_sts`]: the MTA-STS policy file (RFC 8461 §3.2).
//! - [`assets`]: the style sheet, embedded in the binary.

pub mod account;
pub mod admin;
pub mod assets;
pub mod autoconfig;
pub mod caldav;
pub mod calendar;
pub mod csrf;
pub mod mail;
pub mod mta_sts;
pub mod multipart;
pub mod pages;
pub mod security;
pub mod session;
pub mod settings;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use postern_store::Store;

pub use admin::{CertificateReport, NoTls, TlsPolicyReport, TlsReports};
pub use security::SECURITY_HEADERS;
pub use settings::{
    Accounts, Client, Endpoint, LoginFuture, MailService, Outgoing, Settings, Submission,
    SubmitError, SubmitFuture,
};

use crate::session::Sessions;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<dyn Accounts>,
    /// The certificates and TLS policy, for the admin pages.
    pub tls: Arc<dyn TlsReports>,
    /// The submission path, for messages written in the browser.
    pub submission: Arc<dyn Submission>,
    pub(crate) sessions: Arc<Sessions>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Request bodies larger than this are refused with 413 before a handler
/// runs: a login form is a few hundred octets.
const FORM_LIMIT: usize = 8 * 1024;
/// An autodiscover request is a short XML document.
const AUTODISCOVER_LIMIT: usize = 16 * 1024;

/// The web application, built once and shared by every connection (the
/// sessions live in it).
#[derive(Debug, Clone)]
pub struct Web {
    router: Router,
}

impl Web {
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        accounts: Arc<dyn Accounts>,
        tls: Arc<dyn TlsReports>,
        submission: Arc<dyn Submission>,
    ) -> Self {
        let state = AppState {
            settings: Arc::new(settings),
            store,
            accounts,
            tls,
            submission,
            sessions: Arc::new(Sessions::default()),
        };
        Self {
            router: router(state),
        }
    }

    /// Answers one request. The request must carry a [`Client`] extension;
    /// without one, handlers that need the client's address answer 500.
    pub fn handle<B>(&self, req: Request<B>) -> impl Future<Output = Response> + Send + 'static
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let mut router = self.router.clone();
        let fut = tower_service::Service::call(&mut router, req.map(Body::new));
        async move {
            let result: Result<Response, Infallible> = fut.await;
            match result {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }

    /// The router itself (tests drive it with `oneshot`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }
}

fn router(state: AppState) -> Router {
    let forms = Router::new()
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/login/certificate", post(pages::certificate_login))
        .route("/logout", post(pages::logout))
        .route(
            mail::folders::PATH,
            get(mail::folders::manage).post(mail::folders::create),
        )
        .route("/folders/rename", post(mail::folders::rename))
        .route(
            "/folders/delete",
            get(mail::folders::confirm).post(mail::folders::delete),
        )
        .route(
            "/mail/{folder}/{uid}",
            get(mail::read::message).post(mail::actions::act),
        )
        .layer(DefaultBodyLimit::max(FORM_LIMIT));
    let autodiscover = Router::new()
        .route(
            "/autodiscover/autodiscover.xml",
            post(autoconfig::autodiscover),
        )
        .route(
            "/Autodiscover/Autodiscover.xml",
            post(autoconfig::autodiscover),
        )
        .layer(DefaultBodyLimit::max(AUTODISCOVER_LIMIT));
    Router::new()
        // A CalDAV client given the bare server URL asks `/` first.
        .route("/", get(pages::root).fallback(caldav::well_known))
        .route("/mail", get(pages::mail))
        .route("/mail/{folder}", get(mail::list::folder))
        .route("/mail/{folder}/{uid}/part/{part}", get(mail::read::part))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig::thunderbird),
        )
        .route("/mail/config-v1.1.xml", get(autoconfig::thunderbird))
        .route("/.well-known/mta-sts.txt", get(mta_sts::policy))
        .route("/static/{name}", get(assets::serve))
        .merge(forms)
        .merge(autodiscover)
        .merge(admin::routes().layer(DefaultBodyLimit::max(FORM_LIMIT)))
        .merge(account::routes().layer(DefaultBodyLimit::max(FORM_LIMIT)))
        .merge(mail::compose::routes(&state.settings))
        .merge(caldav::routes())
        .merge(calendar::routes())
        .merge(mail::invite::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

impl AppState {
    /// Whether mail for `domain` ends here: a configured domain or one the
    /// store knows (added with `postern domain add` since the start).
    pub async fn is_local_domain(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if self
            .settings
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
        {
            return true;
        }
        let store = self.store.clone();
        let known = tokio::task::spawn_blocking(move || store.domains()).await;
        match known {
            Ok(Ok(domains)) => domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the domains from the store");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "domain lookup task failed");
                false
            }
        }
    }

    /// The domain autoconfig describes when the client named none of ours.
    pub fn primary_domain(&self) -> String {
        self.settings
            .domains
            .first()
            .unwrap_or(&self.settings.hostname)
            .clone()
    }
}
