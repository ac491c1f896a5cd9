//! The HTTPS listener: the TLS handshake, then hyper's HTTP/1.1 over the
//! TLS stream, with every request answered by the web application
//! (`postern-web`).
//!
//! The accept loop keeps the rules of [`crate::listener`] (a slot of the
//! listener's semaphore before accept, the per-IP limit, one task and one
//! span per connection); the connection itself is hyper's, not the line
//! driver's, since HTTP/1.1 keep-alive, bodies and pipelining are its job.

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use postern_config::{Config, Listener};
use postern_tls::resolver::ACME_TLS_ALPN;
use postern_tls::Certificates;
use postern_types::{Service, TlsMode};
use postern_web::admin::{CertImported, CertRequest, CertRequested, CertUpload};
use postern_web::{
    CertificateReport, Client, Endpoint, LoginFuture, MailService, Settings, TlsPolicyReport,
    TlsReports, Web,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::conn::handshake;
use crate::listener::ListenerCtx;
use crate::mail::Mail;
use crate::session::smtp::WebSubmission;

mod certs;

/// Connection ids for the logs (the line listeners count their own).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The largest request head: the request line and headers together. The
/// plain-HTTP listeners take 8 KiB; browsers with a few cookies stay far
/// below 16 KiB, which nginx and Apache also accept.
const MAX_HEAD: usize = 16 * 1024;
/// Header fields in one request (hyper's default is 100).
const MAX_HEADERS: usize = 64;
/// After shutdown is asked, how long an answer in progress may take.
const DRAIN: Duration = Duration::from_secs(5);

/// The web application over the server's store, authentication and
/// certificates.
pub fn application(
    config: &Config,
    addrs: &[(String, SocketAddr)],
    mail: &Mail,
    certificates: &Certificates,
) -> Web {
    let https = config
        .enabled_listeners()
        .find(|l| l.service == Service::Https);
    let settings = Settings {
        hostname: config.hostname.clone(),
        domains: config.domains.clone(),
        endpoints: endpoints(config, addrs),
        request_timeout: https.map_or(Duration::from_secs(300), |l| l.limits.data_timeout),
        max_message_size: config.smtp.max_message_size,
        max_recipients: config.smtp.max_recipients,
        caldav_max_request: config.caldav.max_request_size,
    };
    Web::new(
        settings,
        mail.store.clone(),
        Arc::new(MailAccounts(mail.clone())),
        Arc::new(ServerTls::new(config, certificates)),
        Arc::new(WebSubmission::new(
            mail.clone(),
            config.hostname.clone(),
            config.smtp.max_message_size,
            config.smtp.max_recipients,
        )),
    )
}

/// The admin pages' view of TLS: the live certificate store (a reload
/// shows at once), which listeners may serve each certificate, and the
/// policy the listeners were built with; and the certificate requests
/// and imports made from those pages ([`certs`]).
struct ServerTls {
    /// For the certificate files, the pending keys and the reload.
    config: Arc<Config>,
    certificates: Certificates,
    /// Each TLS listener's name and the certificates it may serve.
    listeners: Vec<(String, Vec<String>)>,
    policy: TlsPolicyReport,
}

impl ServerTls {
    fn new(config: &Config, certificates: &Certificates) -> Self {
        let tls_listeners = || {
            config
                .enabled_listeners()
                .filter(|l| l.tls != TlsMode::None)
        };
        Self {
            config: Arc::new(config.clone()),
            certificates: certificates.clone(),
            listeners: tls_listeners()
                .map(|l| (l.name.clone(), l.certificates.clone()))
                .collect(),
            policy: policy_report(config, certificates, tls_listeners()),
        }
    }
}

/// What the listeners offer, from the same builder that made their TLS
/// configuration: versions and suites come from the global `[tls]`
/// policy, so any TLS listener tells them.
fn policy_report<'a>(
    config: &Config,
    certificates: &Certificates,
    mut listeners: impl Iterator<Item = &'a Listener>,
) -> TlsPolicyReport {
    let offered = listeners
        .find_map(|l| postern_tls::server_config(&config.tls, l, certificates.shared()).ok());
    match offered {
        Some((_, offered)) => TlsPolicyReport {
            versions: offered.versions.iter().map(|v| (*v).to_owned()).collect(),
            suites: offered.suites,
        },
        None => TlsPolicyReport::default(),
    }
}

impl TlsReports for ServerTls {
    fn certificates(&self) -> Vec<CertificateReport> {
        let now = time::OffsetDateTime::now_utc();
        let store = self.certificates.snapshot();
        store
            .certs()
            .iter()
            .map(|c| {
                let s = &c.summary;
                let names = s.dns_names.iter().cloned();
                CertificateReport {
                    name: c.name.clone(),
                    subject: s.subject.clone(),
                    names: names
                        .chain(s.ip_addresses.iter().map(ToString::to_string))
                        .collect(),
                    issuer: s.issuer.clone(),
                    not_after_unix: s.not_after.unix_timestamp(),
                    // The metric's figure (`postern_certificate_days_left`).
                    days_left: c.days_left(now),
                    listeners: self
                        .listeners
                        .iter()
                        .filter(|(_, certs)| certs.contains(&c.name))
                        .map(|(name, _)| name.clone())
                        .collect(),
                }
            })
            .collect()
    }

    fn policy(&self) -> TlsPolicyReport {
        self.policy.clone()
    }

    fn key_types(&self) -> Vec<String> {
        certs::key_types()
    }

    fn request_certificate(&self, request: CertRequest) -> Result<CertRequested, String> {
        certs::request(&self.config, request)
    }

    fn import_certificate(
        &self,
        certificate: &str,
        upload: CertUpload,
    ) -> Result<CertImported, String> {
        certs::import(&self.config, &self.certificates, certificate, upload)
    }
}

/// The TLS mail services, on the ports actually bound (so a dev set-up
/// advertises its dev ports). IMAP and POP3 with STARTTLS are left out:
/// their implicit-TLS siblings are what clients should use (RFC 8314
/// §4.1); submission with STARTTLS stays, for networks that block 465.
fn endpoints(config: &Config, addrs: &[(String, SocketAddr)]) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    for l in config.enabled_listeners() {
        let Some(service) = mail_service(l) else {
            continue;
        };
        let ports = addrs
            .iter()
            .filter(|(n, _)| *n == l.name)
            .map(|(_, a)| a.port());
        for port in ports {
            let e = Endpoint {
                service,
                port,
                implicit_tls: l.tls == TlsMode::Implicit,
            };
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

fn mail_service(l: &Listener) -> Option<MailService> {
    match (l.service, l.tls) {
        (Service::Imap, TlsMode::Implicit) => Some(MailService::Imap),
        (Service::Pop3, TlsMode::Implicit) => Some(MailService::Pop3),
        (Service::Submission, TlsMode::Implicit | TlsMode::StartTls) => {
            Some(MailService::Submission)
        }
        _ => None,
    }
}

/// Web logins go through the mail protocols' login: the same throttle and
/// the same bound on concurrent password checks.
struct MailAccounts(Mail);

impl postern_web::Accounts for MailAccounts {
    fn password_login(&self, ip: std::net::IpAddr, user: String, password: String) -> LoginFuture {
        let mail = self.0.clone();
        Box::pin(async move { mail.login(ip, user, password).await })
    }

    fn certificate_login(
        &self,
        ip: std::net::IpAddr,
        client: postern_types::ClientIdentity,
    ) -> LoginFuture {
        let mail = self.0.clone();
        Box::pin(async move { mail.login_external(ip, Some(client), String::new()).await })
    }
}

/// Accepts HTTPS connections until `cancel` fires.
pub async fn accept_loop(
    socket: TcpListener,
    web: Arc<Web>,
    ctx: Arc<ListenerCtx>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(ctx.listener.limits.max_connections));
    loop {
        // A free slot before accept: overload waits in the kernel backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = cancel.cancelled() => return,
        };
        let (tcp, peer) = tokio::select! {
            r = socket.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::error!(listener = %ctx.listener.name, error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => return,
        };
        let _ = tcp.set_nodelay(true);
        let limit = ctx.listener.limits.max_connections_per_ip;
        let Some(slot) = ctx.per_ip.try_acquire(peer.ip(), limit) else {
            // Implicit TLS: the client could not read a plain-text answer.
            tracing::warn!(%peer, listener = %ctx.listener.name, "too many connections from this address; refused");
            ctx.metrics.refused(&ctx.listener.name, "per_ip_limit");
            continue;
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("conn", id, %peer, listener = %ctx.listener.name, proto = %ctx.listener.service);
        let (web, ctx, cancel) = (web.clone(), ctx.clone(), cancel.clone());
        tracker.spawn(
            async move {
                tracing::info!("connected");
                ctx.metrics.opened(&ctx.listener.name);
                match serve(tcp, peer, &web, &ctx, &cancel).await {
                    Ok(()) => tracing::info!("closed"),
                    Err(e) => tracing::info!(error = %e, "closed"),
                }
                ctx.metrics.closed(&ctx.listener.name);
                drop((permit, slot));
            }
            .instrument(span),
        );
    }
}

/// One HTTPS connection: handshake, then requests until the client is
/// done, a limit is hit, or the server shuts down.
async fn serve(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    web: &Arc<Web>,
    ctx: &ListenerCtx,
    cancel: &CancellationToken,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let limits = &ctx.listener.limits;
    let (mut tls, info) = handshake(tcp, ctx).await?;
    if tls.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
        // A tls-alpn-01 validation (RFC 8737 §3): the resolver agreed on
        // acme-tls/1 only for a pending challenge, and the handshake was
        // the whole answer; nothing else is served on this connection.
        tracing::info!(
            sni = info.server_name.as_deref().unwrap_or("-"),
            "answered a tls-alpn-01 validation"
        );
        let _ = tokio::time::timeout(limits.write_timeout, tls.shutdown()).await;
        return Ok(());
    }
    let client = Client { peer, tls: info };
    let app = web.clone();
    let service = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(client.clone());
        tracing::debug!(method = %req.method(), path = %req.uri().path(), "request");
        let answer = app.handle(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let io = TokioIo::new(WriteDeadline::new(tls, limits.write_timeout));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Covers the wait for the next request on a kept-alive connection
        // too: an idle or dribbling client is dropped (slowloris).
        .header_read_timeout(limits.pre_auth_timeout)
        .max_header_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        // Field names as the plain-HTTP listeners and most servers write
        // them (case does not matter to HTTP, RFC 9110 §5.1; it does to
        // people reading a transcript).
        .title_case_headers(true)
        .keep_alive(true);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => return r.map_err(Into::into),
        () = cancel.cancelled() => {}
        () = tokio::time::sleep(limits.session_timeout) => {
            tracing::info!("session time limit reached");
        }
    }
    // Finish the answer in progress, take no new request.
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(DRAIN, conn).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Ok(()),
    }
}

/// A stream whose writes fail once they have made no progress for `limit`:
/// a client that stops reading cannot hold a connection (and its slot)
/// forever. Reads are bounded by hyper's header timeout and the
/// application's request deadline.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            timer: None,
        }
    }

    /// After a write that could not proceed: has the deadline passed?
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).is_ready()
    }

    fn progress<T>(
        &mut self,
        p: Poll<std::io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<T>> {
        match p {
            Poll::Ready(r) => {
                self.timer = None;
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(p, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(p, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(p, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(p, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_dropped() {
        let (a, _b) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(a, Duration::from_millis(200));
        let err = w.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_not() {
        let (a, mut b) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 1024 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                total += tokio::io::AsyncReadExt::read(&mut b, &mut buf)
                    .await
                    .unwrap();
            }
        });
        // 16 reads 50 ms apart: 800 ms in all, no pause reaches 300 ms.
        let mut w = WriteDeadline::new(a, Duration::from_millis(300));
        w.write_all(&[0u8; 1024]).await.unwrap();
        reader.await.unwrap();
    }
}
