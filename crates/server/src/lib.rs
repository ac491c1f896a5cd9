//! Postern's tokio side: listeners, the one connection driver, STARTTLS,
//! certificate hot reload, metrics and graceful shutdown.
//!
//! # Layout
//! - [`driver`]: the one loop between a stream and a sans-I/O core.
//! - [`compress`]: COMPRESS=DEFLATE (RFC 4978), a stream adapter the driver
//!   runs over.
//! - [`conn`]: one connection: implicit TLS, or plain text, STARTTLS and the
//!   handshake.
//! - [`listener`]: the accept loop (semaphore before accept, per-IP limit).
//! - [`session`]: each service's answers to its core's events.
//! - [`http_lite`]: the redirector's and the metrics endpoint's HTTP.
//! - [`web`]: the HTTPS listener: hyper over TLS, serving `postern-web`.
//! - [`metrics`]: Prometheus counters.
//! - [`mail_auth`]: SPF, DKIM, DMARC and ARC checks of mail received on the
//!   MX, and the Authentication-Results header.
//! - [`outbound`]: `[outbound]` to the queue workers' settings.
//! - [`reload`]: SIGHUP and file-change certificate reload, expiry checks.
//! - [`per_ip`]: connections per client address.

pub mod acme_http;
pub mod acme_renew;
pub mod compress;
pub mod conn;
pub mod driver;
pub mod http_lite;
pub mod listener;
pub mod mail;
pub mod mail_auth;
pub mod metrics;
pub mod outbound;
pub mod per_ip;
pub mod pg_tls;
pub mod proxy;
pub mod reload;
pub mod session;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use postern_config::{Config, Listener, StoreConfig};
use postern_tls::rustls::ServerConfig;
use postern_tls::{CertError, CertStore, Certificates, PolicyError, ReloadReport};
use postern_types::{Service, TlsMode};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::SessionFactory;
use crate::listener::{accept_loop, ListenerCtx};
use crate::metrics::Metrics;
use crate::session::http::{HttpFactory, HttpRole};

/// Why the server did not start. Nothing is left running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Certificates(Vec<CertError>),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("listener \"{listener}\": cannot listen on {addr}: {message}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        message: String,
    },
    #[error("no listener is enabled; enable one in the [[listener]] sections")]
    NothingToServe,
    #[error("cannot open the mail store ({dir}): {message}")]
    Store { dir: String, message: String },
    #[error("{message}")]
    Outbound { message: String },
    #[error("listener \"{listener}\": {message}")]
    Proxy { listener: String, message: String },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addrs: Vec<(String, SocketAddr)>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    certificates: Certificates,
    config: Arc<Config>,
    mail: mail::Mail,
    outbound: postern_outbound::OutboundHandle,
}

struct Bound {
    listener: Listener,
    tls: Option<Arc<ServerConfig>>,
    socket: TcpListener,
}

impl Server {
    /// Loads the certificates, builds every listener's TLS configuration and
    /// binds every socket, and only then starts serving: a taken port or an
    /// unusable certificate stops the start with nothing half running.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let now = OffsetDateTime::now_utc();
        let store = CertStore::load(&config.certificates, now).map_err(StartError::Certificates)?;
        postern_tls::expiry::log_expiries(&store, &config.tls, now);
        let certificates = Certificates::new(store);
        let mail = open_mail(&config)?;
        let outbound_settings = outbound::settings(&config)?;
        let bound = bind_all(&config, &certificates)?;
        if bound.is_empty() {
            return Err(StartError::NothingToServe);
        }
        let config = Arc::new(config);
        let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
        // The queue workers start with the listeners: mail accepted before
        // a restart and still queued is picked up at once.
        let reports = config.outbound.tls_reports.then_some(&*config.data_dir);
        let outbound = postern_outbound::start_with_tls_reports(
            mail.store.clone(),
            outbound_settings,
            reports,
            cancel.clone(),
            &tracker,
        );
        let server = Self {
            addrs: bound
                .iter()
                .filter_map(|b| Some((b.listener.name.clone(), b.socket.local_addr().ok()?)))
                .collect(),
            cancel,
            tracker,
            certificates,
            config,
            mail,
            outbound,
        };
        server.spawn_all(bound);
        Ok(server)
    }

    fn spawn_all(&self, bound: Vec<Bound>) {
        let metrics = Arc::new(Metrics::default());
        // One application for every HTTPS socket: they share the sessions.
        let web = Arc::new(web::application(
            &self.config,
            &self.addrs,
            &self.mail,
            &self.certificates,
        ));
        for b in bound {
            for (name, addr) in self.addrs.iter().filter(|(n, _)| *n == b.listener.name) {
                tracing::info!(listener = %name, %addr, service = %b.listener.service, tls = %b.listener.tls, "listening");
            }
            let ctx = Arc::new(ListenerCtx {
                listener: b.listener,
                tls: b.tls,
                metrics: metrics.clone(),
                per_ip: Default::default(),
            });
            self.spawn_listener(b.socket, ctx, &metrics, &web);
        }
        let (config, certs, cancel) = (
            self.config.clone(),
            self.certificates.clone(),
            self.cancel.clone(),
        );
        acme_renew::spawn(config.clone(), certs.clone(), cancel.clone(), &self.tracker);
        let hangup = reload::hangup_signal();
        self.tracker
            .spawn(reload::watch(config, certs, hangup, cancel));
    }

    fn spawn_listener(
        &self,
        socket: TcpListener,
        ctx: Arc<ListenerCtx>,
        metrics: &Arc<Metrics>,
        web: &Arc<postern_web::Web>,
    ) {
        let hostname = self.config.hostname.clone();
        if let Some(proxy) = ctx.listener.proxy.clone() {
            let fut = proxy::accept_loop(
                socket,
                proxy,
                ctx,
                hostname,
                self.tracker.clone(),
                self.cancel.clone(),
            );
            self.tracker.spawn(fut);
            return;
        }
        match ctx.listener.service {
            Service::Smtp | Service::Submission => {
                let checker = self.mail_checker(ctx.listener.service);
                let factory = session::smtp::SmtpFactory::new(
                    hostname,
                    &ctx.listener,
                    self.config.smtp.clone(),
                    self.mail.clone(),
                    checker,
                );
                self.spawn_accept(socket, factory, ctx);
            }
            Service::Imap => {
                let factory = session::imap::ImapFactory::new(hostname, self.mail.clone());
                self.spawn_accept(socket, factory, ctx)
            }
            Service::Pop3 => {
                let factory = session::pop3::Pop3Factory::new(hostname, self.mail.clone());
                self.spawn_accept(socket, factory, ctx)
            }
            Service::Http => {
                let https_port = ctx.listener.redirect_https_port.unwrap_or(443);
                let role = HttpRole::Redirect {
                    hostname,
                    https_port,
                };
                let factory = acme_http::ChallengeFactory {
                    dir: acme_http::challenge_dir(&self.config.data_dir),
                    redirect: HttpFactory(role),
                };
                self.spawn_accept(socket, factory, ctx)
            }
            Service::Https => {
                let fut = web::accept_loop(
                    socket,
                    web.clone(),
                    ctx,
                    self.tracker.clone(),
                    self.cancel.clone(),
                );
                self.tracker.spawn(fut);
            }
            Service::Metrics => {
                let role = HttpRole::Metrics {
                    metrics: metrics.clone(),
                    certificates: self.certificates.clone(),
                };
                self.spawn_accept(socket, HttpFactory(role), ctx)
            }
        }
    }

    /// The checks of incoming mail for an MX listener, asking the
    /// resolver the outbound side asks; none for submission or when
    /// `[mail_auth] verify = false`.
    fn mail_checker(&self, service: Service) -> Option<mail_auth::Checker> {
        let c = &self.config;
        (service == Service::Smtp && c.mail_auth.verify).then(|| {
            mail_auth::Checker::new(c.hostname.clone(), c.mail_auth.clone(), c.outbound.resolver)
        })
    }

    fn spawn_accept<F: SessionFactory>(
        &self,
        socket: TcpListener,
        factory: F,
        ctx: Arc<ListenerCtx>,
    ) {
        let fut = accept_loop(
            socket,
            Arc::new(factory),
            ctx,
            self.tracker.clone(),
            self.cancel.clone(),
        );
        self.tracker.spawn(fut);
    }

    /// The addresses a listener is bound to (port 0 resolved).
    pub fn local_addrs(&self, listener: &str) -> Vec<SocketAddr> {
        self.addrs
            .iter()
            .filter(|(n, _)| n == listener)
            .map(|(_, a)| *a)
            .collect()
    }

    /// The first address of a listener.
    pub fn addr(&self, listener: &str) -> Option<SocketAddr> {
        self.local_addrs(listener).first().copied()
    }

    /// The mail store the sessions use.
    pub fn store(&self) -> &Arc<dyn postern_store::Store> {
        &self.mail.store
    }

    /// The outbound queue's workers (wake-up, delivery counters).
    pub fn outbound(&self) -> &postern_outbound::OutboundHandle {
        &self.outbound
    }

    /// The certificates being served.
    pub fn certificates(&self) -> &Certificates {
        &self.certificates
    }

    /// Reloads the certificates now (what SIGHUP does).
    pub fn reload_certificates(&self) -> ReloadReport {
        self.certificates
            .reload(&self.config.certificates, OffsetDateTime::now_utc())
    }

    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops accepting, tells every session goodbye, and waits for them up
    /// to the configured grace period.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        let grace = self.config.shutdown_grace;
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "sessions still open after the grace period; closing them"
            );
        }
    }
}

/// The configured store (`[store]`), and the authentication service on
/// top of it.
fn open_mail(config: &Config) -> Result<mail::Mail, StartError> {
    let store = open_store(config, true)?;
    let auth = postern_auth::Authenticator::new(store.clone()).map_err(|e| StartError::Store {
        dir: store_place(config),
        message: e.to_string(),
    })?;
    Ok(mail::Mail::new(store, auth))
}

/// Opens the store `[store]` names: SQLite in the data directory, or
/// PostgreSQL (`listen`: hear other nodes' changes, which a one-shot
/// command does not need).
pub fn open_store(
    config: &Config,
    listen: bool,
) -> Result<Arc<dyn postern_store::Store>, StartError> {
    let store_err = |message: String| StartError::Store {
        dir: store_place(config),
        message,
    };
    match &config.store {
        StoreConfig::Sqlite => {
            let store = postern_store::sqlite::SqliteStore::open(&config.data_dir)
                .map_err(|e| store_err(e.to_string()))?;
            Ok(Arc::new(store))
        }
        StoreConfig::Postgres(pg) => {
            let options = pg_tls::store_options(pg, listen).map_err(store_err)?;
            let store =
                postern_store::PgStore::open(&options).map_err(|e| store_err(e.to_string()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Where the store is, for messages: the data directory, or the
/// database URL without its password.
fn store_place(config: &Config) -> String {
    match &config.store {
        StoreConfig::Sqlite => config.data_dir.display().to_string(),
        StoreConfig::Postgres(pg) => postern_config::store::redact(&pg.url),
    }
}

fn bind_all(config: &Config, certs: &Certificates) -> Result<Vec<Bound>, StartError> {
    let mut bound = Vec::new();
    for l in config.enabled_listeners() {
        // A back end whose CA or pin cannot be read would leave the
        // listener refusing every client: refuse the start instead.
        if let Some(p) = &l.proxy {
            proxy::check(p).map_err(|message| StartError::Proxy {
                listener: l.name.clone(),
                message,
            })?;
        }
        let tls = tls_config(config, l, certs)?;
        for addr in &l.bind {
            let socket = bind(*addr).map_err(|e| bind_error(l, *addr, &e))?;
            bound.push(Bound {
                listener: l.clone(),
                tls: tls.clone(),
                socket,
            });
        }
    }
    Ok(bound)
}

fn tls_config(
    config: &Config,
    l: &Listener,
    certs: &Certificates,
) -> Result<Option<Arc<ServerConfig>>, StartError> {
    if l.tls == TlsMode::None {
        return Ok(None);
    }
    let (tls, offered) = postern_tls::server_config(&config.tls, l, certs.shared())?;
    tracing::info!(listener = %l.name, %offered, "TLS policy");
    Ok(Some(tls))
}

/// Binds one address. An IPv6 socket is v6-only, so `0.0.0.0:993` and
/// `[::]:993` can both be configured.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

fn bind_error(l: &Listener, addr: SocketAddr, e: &std::io::Error) -> StartError {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => "the port is taken by another program (another mail server?); stop it or change bind",
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE (see contrib/postern.service), or use the dev ports (postern init --dev-ports)",
        std::io::ErrorKind::AddrNotAvailable => "this machine has no such address; check bind",
        _ => "check bind",
    };
    StartError::Bind {
        listener: l.name.clone(),
        addr,
        message: format!("{e}; {hint}"),
    }
}
