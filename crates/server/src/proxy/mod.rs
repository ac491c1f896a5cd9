//! Proxy listeners (`mode = "proxy"`): TLS is terminated here with this
//! server's certificates and policy, the login is taken here (never
//! before TLS), and the protocol is then relayed to an upstream server.
//!
//! The connection runs in the one driver like every served listener
//! ([`crate::listener::accept_loop`], [`crate::conn::serve`]): limits,
//! timeouts, the STARTTLS upgrade and its injection check are theirs. The
//! core is [`front::Front`], a small pre-login machine per protocol that
//! turns into a byte relay once the session has logged in upstream.
//!
//! - [`front`]: the sans-I/O core and its events.
//! - [`imap`], [`pop3`], [`smtp`]: each protocol's pre-login machine and
//!   its login dialogue with the back end; [`imap_syntax`], the IMAP
//!   grammar it needs.
//! - [`upstream`]: connecting to a back end: PROXY v2, TLS verified
//!   against a CA or a pin, line reads with deadlines.

pub mod front;
pub mod imap;
pub mod imap_syntax;
pub mod pop3;
pub mod smtp;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_auth::throttle::{Gate, Key, Throttle};
use postern_config::proxy::{ClientAddress, Upstream};
use postern_config::ProxyConfig;
use postern_types::{Service, TlsInfo, TlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::listener::ListenerCtx;
use front::{Answer, Event, Front, Login, Machine};
use upstream::{Connector, Failure, Link};

/// Accepts connections until `cancel` fires and relays each upstream.
pub async fn accept_loop(
    socket: TcpListener,
    proxy: ProxyConfig,
    ctx: Arc<ListenerCtx>,
    hostname: String,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    let name = ctx.listener.name.clone();
    let factory = match ProxyFactory::new(&socket, proxy, &ctx, hostname) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(listener = %name, error = %e, "proxy listener not started; fix its configuration and restart");
            return;
        }
    };
    for u in factory.shared.proxy.cleartext_remote() {
        tracing::warn!(listener = %name, upstream = %u, "upstream_tls = \"none\" to another machine: passwords cross that link in clear text; use upstream_tls = \"starttls\" or \"implicit\", or a private link");
    }
    crate::listener::accept_loop(socket, Arc::new(factory), ctx, tracker, cancel).await;
}

/// Checks what a proxy listener reads besides its configuration (the
/// back end's CA bundle, the pin's encoding), so a start can refuse with
/// the reason instead of a listener that never accepts.
pub fn check(proxy: &ProxyConfig) -> Result<(), String> {
    Connector::new(proxy).map(|_| ())
}

/// Runs one proxy listener on its own (`postern gateway`) until `stop`
/// completes, then gives its sessions `grace` to say goodbye.
pub async fn run_until(
    socket: TcpListener,
    proxy: ProxyConfig,
    ctx: Arc<ListenerCtx>,
    hostname: String,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
    let accept = accept_loop(
        socket,
        proxy,
        ctx,
        hostname,
        tracker.clone(),
        cancel.clone(),
    );
    tracker.spawn(accept);
    stop.await;
    tracing::info!("shutting down");
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            ?grace,
            "sessions still open after the grace period; closing them"
        );
    }
}

/// What every connection of a proxy listener shares.
#[derive(Debug)]
pub struct Shared {
    pub service: Service,
    pub proxy: ProxyConfig,
    pub connector: Connector,
    pub hostname: String,
    /// The listener's own address, the destination in PROXY v2 and ID.
    pub local: SocketAddr,
    write_timeout: Duration,
    /// Failed logins cost time here as on served listeners (DESIGN.md):
    /// the back end may not throttle, and it sees only this address.
    throttle: Mutex<Throttle>,
    /// What the default back end's EHLO offered, for submission's EHLO.
    advert: Mutex<smtp::Advert>,
}

impl Shared {
    /// Connects to a back end with the client's PROXY v2 header if
    /// configured.
    pub async fn connect(&self, to: &Upstream, peer: SocketAddr) -> Result<Link, Failure> {
        let header = (self.proxy.client_address == ClientAddress::ProxyV2)
            .then(|| upstream::proxy_v2_header(peer, self.local));
        self.connector.connect(to, header.as_deref()).await
    }

    fn learn(&self, advert: smtp::Advert) {
        if let Ok(mut a) = self.advert.lock() {
            *a = advert;
        }
    }
}

/// Creates the core and session of each proxied connection.
#[derive(Debug)]
pub struct ProxyFactory {
    shared: Arc<Shared>,
    tls: TlsMode,
}

impl ProxyFactory {
    /// Reads the back end's trust settings; the error names the key.
    pub fn new(
        socket: &TcpListener,
        proxy: ProxyConfig,
        ctx: &ListenerCtx,
        hostname: String,
    ) -> Result<Self, String> {
        let connector = Connector::new(&proxy)?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let shared = Shared {
            service: ctx.listener.service,
            proxy,
            connector,
            hostname,
            local,
            write_timeout: ctx.listener.limits.write_timeout,
            throttle: Mutex::new(Throttle::default()),
            advert: Mutex::new(smtp::Advert::default()),
        };
        Ok(Self {
            shared: Arc::new(shared),
            tls: ctx.listener.tls,
        })
    }
}

impl SessionFactory for ProxyFactory {
    type Session = ProxySession;

    fn protocol(&self, tls: Option<TlsInfo>, starttls_offered: bool) -> Front {
        let s = &self.shared;
        let host = s.hostname.clone();
        let machine = match s.service {
            Service::Imap => Machine::Imap(imap::Pre::new(host, starttls_offered)),
            Service::Pop3 => Machine::Pop3(pop3::Pre::new(host, starttls_offered)),
            service => {
                let advert = s.advert.lock().map(|a| a.clone()).unwrap_or_default();
                let mx = service == Service::Smtp;
                let plain = self.tls == TlsMode::None;
                Machine::Smtp(smtp::Pre::new(host, mx, starttls_offered, plain, advert))
            }
        };
        Front::new(machine, tls.is_some())
    }

    fn session(&self, peer: SocketAddr) -> ProxySession {
        ProxySession {
            shared: self.shared.clone(),
            peer,
            link: None,
            buf: Vec::new(),
            pending: None,
            user: None,
            up: 0,
            down: 0,
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        match self.shared.service {
            Service::Imap => b"* BYE Too many connections from your address\r\n",
            Service::Pop3 => b"-ERR [SYS/TEMP] Too many connections from your address\r\n",
            _ => b"421 4.7.0 Too many connections from your address\r\n",
        }
    }
}

/// One proxied connection: the login, then the back end's side of the
/// relay.
pub struct ProxySession {
    shared: Arc<Shared>,
    peer: SocketAddr,
    link: Option<Link>,
    /// The back end's reads land here (allocated once the relay starts).
    buf: Vec<u8>,
    /// What [`Session::wait`] read, for [`Session::wake`].
    pending: Option<std::io::Result<usize>>,
    user: Option<String>,
    up: u64,
    down: u64,
}

/// A back end's read while relaying: a first read of what has arrived,
/// topped up with whatever else is already waiting, up to this much, so a
/// long answer (a `FETCH 1:*`) goes out in few large writes rather than
/// one small write per packet.
const RELAY_READ: usize = 64 * 1024;

impl ProxySession {
    async fn login(&mut self, proto: &mut Front, login: Login) -> Control {
        // No user name has control characters; one with CR or LF would
        // forge lines in the log (and in a back end's protocol).
        if login.user.chars().any(char::is_control) {
            tracing::info!(user = ?login.user, "login refused: control characters in the user name");
            proto.answer(Answer::Refused);
            return Control::Continue;
        }
        let keys = [
            Key::ip(self.peer.ip()),
            Key::name(&login.user.to_lowercase()),
        ];
        let gate = self.throttle(|t| t.begin(&keys, Instant::now()));
        if let Some(Gate::Blocked { wait }) = gate {
            tracing::info!(user = %login.user, "login refused: too many failures from this address or for this name");
            tokio::time::sleep(wait).await;
            proto.answer(Answer::Refused);
            return Control::Continue;
        }
        let to = self.shared.proxy.backend_for(&login.user).clone();
        let result = match self.shared.service {
            Service::Imap => imap::login_upstream(&self.shared, &to, self.peer, &login).await,
            Service::Pop3 => pop3::login_upstream(&self.shared, &to, self.peer, &login).await,
            _ => smtp::login_upstream(&self.shared, &to, self.peer, &login).await,
        };
        match result {
            Ok((link, lines)) => {
                self.throttle(|t| t.success(&keys));
                tracing::info!(user = %login.user, upstream = %to, "logged in at the back end; relaying");
                self.user = Some(login.user);
                self.start_relay(proto, link, lines);
            }
            Err(Failure::Refused(said)) => {
                let delay = self.throttle(|t| t.failure(&keys, Instant::now()));
                tracing::info!(user = %login.user, upstream = %to, answer = %said, "login refused by the back end");
                tokio::time::sleep(delay.unwrap_or(postern_auth::throttle::BASE_DELAY)).await;
                proto.answer(Answer::Refused);
            }
            Err(Failure::Unavailable(why)) => {
                // Not the client's fault: no failure is counted.
                self.throttle(|t| t.success(&keys));
                tracing::error!(user = %login.user, upstream = %to, error = %why, "back end unavailable; check that it runs and that this host may reach it");
                proto.answer(Answer::Unavailable);
            }
        }
        Control::Continue
    }

    /// SMTP MX: the client's EHLO goes to the back end.
    async fn begin(&mut self, proto: &mut Front, ehlo: Vec<u8>) -> Control {
        let to = self.shared.proxy.upstream.clone();
        match smtp::begin_upstream(&self.shared, &to, self.peer, &ehlo).await {
            Ok((link, lines)) => {
                tracing::info!(upstream = %to, "relaying to the back end");
                self.start_relay(proto, link, lines);
                Control::Continue
            }
            Err(Failure::Unavailable(why) | Failure::Refused(why)) => {
                tracing::error!(upstream = %to, error = %why, "back end unavailable; check that it runs and that this host may reach it");
                proto.answer(Answer::Unavailable);
                Control::Close
            }
        }
    }

    fn start_relay(&mut self, proto: &mut Front, mut link: Link, lines: Vec<String>) {
        proto.answer(Answer::LoggedIn(lines));
        // Whatever the back end sent after its reply goes out after it.
        let early = std::mem::take(&mut link.buf);
        proto.relay_out(&early);
        self.down += early.len() as u64;
        self.buf = vec![0; RELAY_READ];
        self.link = Some(link);
    }

    async fn relay(&mut self, proto: &mut Front, bytes: Vec<u8>) -> Control {
        let Some(link) = self.link.as_mut() else {
            return Control::Close;
        };
        let write = async {
            link.stream.write_all(&bytes).await?;
            link.stream.flush().await
        };
        match tokio::time::timeout(self.shared.write_timeout, write).await {
            Ok(Ok(())) => {
                self.up += bytes.len() as u64;
                Control::Continue
            }
            Ok(Err(e)) => {
                tracing::info!(error = %e, "the back end's connection failed; closing");
                proto.finish();
                Control::Close
            }
            Err(_) => {
                tracing::warn!("the back end stopped reading (write timed out); closing");
                proto.finish();
                Control::Close
            }
        }
    }

    fn throttle<T>(&self, f: impl FnOnce(&mut Throttle) -> T) -> Option<T> {
        self.shared.throttle.lock().ok().map(|mut t| f(&mut t))
    }
}

impl Drop for ProxySession {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            let user = self.user.as_deref().unwrap_or("-");
            tracing::info!(user, upstream = %link.upstream, bytes_up = self.up, bytes_down = self.down, "relay ended");
        }
    }
}

impl Session for ProxySession {
    type Proto = Front;

    async fn handle(&mut self, proto: &mut Front, event: Event) -> Control {
        match event {
            Event::StartTls => Control::StartTls,
            Event::Login(login) => self.login(proto, login).await,
            Event::Begin(ehlo) => self.begin(proto, ehlo).await,
            Event::Relay(bytes) => self.relay(proto, bytes).await,
        }
    }

    /// While relaying: the back end's next bytes. Cancel-safe: a read of
    /// a TCP or TLS stream dropped while pending loses nothing.
    async fn wait(&mut self) {
        if self.pending.is_some() {
            return;
        }
        let Some(link) = self.link.as_mut() else {
            return std::future::pending().await;
        };
        let first = link.stream.read(&mut self.buf).await;
        self.pending = Some(match first {
            Ok(n) if n > 0 => Ok(n + top_up(&mut *link.stream, &mut self.buf[n..]).await),
            other => other,
        });
    }

    async fn wake(&mut self, proto: &mut Front) {
        match self.pending.take() {
            Some(Ok(n)) if n > 0 => {
                self.down += n as u64;
                proto.relay_out(&self.buf[..n]);
            }
            Some(Err(e)) => {
                tracing::info!(error = %e, "the back end's connection failed; closing");
                proto.finish();
            }
            _ => proto.finish(),
        }
    }
}

/// Reads into `buf` what the stream already holds, without waiting: each
/// read is polled once, and the first that would wait (or ends the
/// stream, or fails) stops it; an end or an error shows again at the next
/// real read. Returns how many bytes it added.
async fn top_up(stream: &mut dyn upstream::Stream, buf: &mut [u8]) -> usize {
    use std::pin::Pin;
    use std::task::Poll;
    let mut filled = 0;
    while filled < buf.len() {
        let got = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(&mut buf[filled..]);
            match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => Poll::Ready(rb.filled().len()),
                Poll::Ready(Err(_)) | Poll::Pending => Poll::Ready(0),
            }
        })
        .await;
        if got == 0 {
            break;
        }
        filled += got;
    }
    filled
}
