//! One connection, from accept to close: the TLS handshake (implicit), or
//! plain text until STARTTLS and then the handshake, around the one driver;
//! inside TLS, COMPRESS=DEFLATE if the client asks.

use std::net::SocketAddr;
use std::sync::Arc;

use postern_types::{Protocol, TlsInfo, TlsMode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::compress::Deflated;
use crate::driver::{drive, ConnError, Deadlines, Outcome, Session};
use crate::listener::ListenerCtx;

/// Creates the protocol core and session logic of one service.
pub trait SessionFactory: Send + Sync + 'static {
    type Session: Session;

    /// A fresh core. `tls` is `Some` on implicit-TLS listeners.
    fn protocol(
        &self,
        tls: Option<TlsInfo>,
        starttls_offered: bool,
    ) -> <Self::Session as Session>::Proto;

    /// The session logic for a new connection.
    fn session(&self, peer: SocketAddr) -> Self::Session;

    /// The line that refuses a connection before the protocol starts (too
    /// many connections from one address).
    fn busy_line(&self) -> &'static [u8];

    /// How long a plain-text connection waits in silence before the
    /// protocol's greeting (SMTP's anti-spam greeting delay). Zero: none.
    fn greeting_delay(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// The line for a client that talked during the greeting delay.
    fn early_talker_line(&self) -> &'static [u8] {
        b""
    }
}

/// Serves one accepted connection to its end.
///
/// The task's future is as large as its largest state, for the
/// connection's whole life: the long one (driving a TLS session) is kept
/// flat, and rare ones (COMPRESS) are boxed.
pub async fn serve<F: SessionFactory>(
    tcp: TcpStream,
    peer: SocketAddr,
    factory: Arc<F>,
    ctx: Arc<ListenerCtx>,
    cancel: CancellationToken,
) -> Result<(), ConnError> {
    let deadlines = Deadlines::new(&ctx.listener.limits);
    let (mut tls, mut proto) = match ctx.listener.tls {
        TlsMode::Implicit => {
            let (tls, info) = handshake(tcp, &ctx).await?;
            (tls, factory.protocol(Some(info), false))
        }
        TlsMode::StartTls => {
            let plain = until_starttls(tcp, peer, factory.as_ref(), &ctx, &deadlines, &cancel);
            match plain.await? {
                Some(upgraded) => upgraded,
                None => return Ok(()),
            }
        }
        TlsMode::None => {
            let plain = plain_only(tcp, peer, factory.as_ref(), &ctx, &deadlines, &cancel);
            return plain.await;
        }
    };
    // After STARTTLS the session logic starts over too: nothing said in
    // clear text (a USER name, a SASL step) survives the upgrade.
    let mut session = factory.session(peer);
    serve_tls(
        &mut tls,
        &mut proto,
        &mut session,
        &ctx,
        &deadlines,
        &cancel,
    )
    .await
}

/// A listener without TLS (the MX port without STARTTLS, the redirector,
/// metrics): the whole session in plain text.
async fn plain_only<F: SessionFactory>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    factory: &F,
    ctx: &ListenerCtx,
    deadlines: &Deadlines,
    cancel: &CancellationToken,
) -> Result<(), ConnError> {
    if !quiet_before_greeting(&mut tcp, factory, ctx).await {
        return Ok(());
    }
    let mut proto = factory.protocol(None, false);
    let mut session = factory.session(peer);
    let outcome = drive(&mut tcp, &mut proto, &mut session, deadlines, cancel).await?;
    plain_end(outcome);
    close(&mut tcp, deadlines).await;
    Ok(())
}

/// A STARTTLS listener's plain-text part: the session until the client
/// asks for TLS, then the upgrade. `None`: the session ended in plain text.
async fn until_starttls<F: SessionFactory>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    factory: &F,
    ctx: &ListenerCtx,
    deadlines: &Deadlines,
    cancel: &CancellationToken,
) -> Result<Option<(TlsStream<TcpStream>, SessionProto<F>)>, ConnError> {
    if !quiet_before_greeting(&mut tcp, factory, ctx).await {
        return Ok(None);
    }
    let mut proto = factory.protocol(None, true);
    let mut session = factory.session(peer);
    let outcome = drive(&mut tcp, &mut proto, &mut session, deadlines, cancel).await?;
    if outcome != Outcome::StartTls {
        plain_end(outcome);
        close(&mut tcp, deadlines).await;
        return Ok(None);
    }
    upgrade(tcp, proto, ctx).await.map(Some)
}

/// The protocol core of a factory's sessions.
type SessionProto<F> = <<F as SessionFactory>::Session as Session>::Proto;

/// The greeting delay: waits `factory.greeting_delay()` and tells whether
/// the client kept quiet meanwhile (RFC 5321 §4.3.1: clients wait for the
/// greeting; bulk senders that do not are refused with the early-talker
/// line and the connection is closed).
async fn quiet_before_greeting<F: SessionFactory>(
    tcp: &mut TcpStream,
    factory: &F,
    ctx: &ListenerCtx,
) -> bool {
    let delay = factory.greeting_delay();
    if delay.is_zero() {
        return true;
    }
    let mut probe = [0u8; 1];
    match timeout(delay, tcp.peek(&mut probe)).await {
        // Silence until the delay is over: greet.
        Err(_) => true,
        // The client left; nothing to greet.
        Ok(Ok(0) | Err(_)) => false,
        Ok(Ok(_)) => {
            tracing::info!(listener = %ctx.listener.name, "client talked before the greeting; refused");
            ctx.metrics.refused(&ctx.listener.name, "early_talker");
            let write = tcp.write_all(factory.early_talker_line());
            let _ = timeout(ctx.listener.limits.write_timeout, write).await;
            false
        }
    }
}

/// STARTTLS: refuse if the client pipelined anything after the command
/// (CVE-2011-0411 class: those bytes were sent in clear and may be an
/// attacker's), then the handshake, then a fresh protocol core.
async fn upgrade<P: Protocol>(
    tcp: TcpStream,
    proto: P,
    ctx: &ListenerCtx,
) -> Result<(TlsStream<TcpStream>, P), ConnError> {
    let pipelined = proto.buffered_input_len();
    if pipelined > 0 {
        tracing::warn!(bytes = pipelined, "plain text pipelined after STARTTLS (possible command injection); closing without executing it");
        ctx.metrics
            .refused(&ctx.listener.name, "plaintext_after_starttls");
        return Err(postern_types::PlaintextAfterStartTls { bytes: pipelined }.into());
    }
    let (tls, info) = handshake(tcp, ctx).await?;
    Ok((tls, proto.start_tls(info)?))
}

/// A session in plain text ended. COMPRESS is refused before TLS by the
/// protocol, so a go-ahead for it here is a bug there: close, never
/// compress in clear text.
fn plain_end(outcome: Outcome) {
    if outcome == Outcome::Compress {
        tracing::error!("COMPRESS accepted on a plain-text connection; closing instead (a server bug: please report it)");
    }
}

/// Drives a session inside TLS to its end, switching to COMPRESS=DEFLATE
/// when the session accepts it.
///
/// Everything by reference: an async fn keeps its by-value arguments in
/// its future besides the caller's copy, and this state lasts the whole
/// session.
async fn serve_tls<S: Session>(
    tls: &mut TlsStream<TcpStream>,
    proto: &mut S::Proto,
    session: &mut S,
    ctx: &ListenerCtx,
    deadlines: &Deadlines,
    cancel: &CancellationToken,
) -> Result<(), ConnError> {
    match drive(tls, proto, session, deadlines, cancel).await? {
        Outcome::Closed => close(tls, deadlines).await,
        Outcome::StartTls => {
            tracing::warn!("a second STARTTLS inside TLS; closing");
            close(tls, deadlines).await;
        }
        // Boxed: most sessions never compress, and an inline state would
        // make every connection's task larger for its whole life.
        Outcome::Compress => {
            Box::pin(compressed(tls, proto, session, ctx, deadlines, cancel)).await?;
        }
    }
    Ok(())
}

/// COMPRESS=DEFLATE (RFC 4978): the tagged OK went out in the clear; from
/// here on both directions are compressed, with the same core and session.
async fn compressed<S: Session>(
    tls: &mut TlsStream<TcpStream>,
    proto: &mut S::Proto,
    session: &mut S,
    ctx: &ListenerCtx,
    deadlines: &Deadlines,
    cancel: &CancellationToken,
) -> Result<(), ConnError> {
    // Bytes the core already holds arrived after the COMPRESS command and
    // before its OK: compressed bytes it would read as plain text. RFC 4978
    // §3 has the client wait for the OK, so this client is broken: close.
    let pipelined = proto.buffered_input_len();
    if pipelined > 0 {
        tracing::warn!(
            bytes = pipelined,
            "client sent data after COMPRESS without waiting for the OK (RFC 4978 §3); closing"
        );
        ctx.metrics
            .refused(&ctx.listener.name, "pipelined_after_compress");
        close(tls, deadlines).await;
        return Ok(());
    }
    tracing::debug!("COMPRESS=DEFLATE active");
    let mut stream = Deflated::new(tls);
    let outcome = drive(&mut stream, proto, session, deadlines, cancel).await?;
    if outcome != Outcome::Closed {
        // The protocol refuses both ([COMPRESSIONACTIVE], RFC 4978 §3).
        tracing::error!(?outcome, "STARTTLS or COMPRESS accepted inside a compressed session; closing (a server bug: please report it)");
    }
    close(&mut stream, deadlines).await;
    Ok(())
}

/// The TLS handshake, bounded in time, counted in the metrics.
pub async fn handshake(
    tcp: TcpStream,
    ctx: &ListenerCtx,
) -> Result<(TlsStream<TcpStream>, TlsInfo), ConnError> {
    let Some(config) = ctx.tls.clone() else {
        return Err(ConnError::Handshake(
            "this listener has no TLS configuration".into(),
        ));
    };
    let name = &ctx.listener.name;
    let started = Instant::now();
    let accept = TlsAcceptor::from(config).accept(tcp);
    let tls = match timeout(ctx.listener.limits.handshake_timeout, accept).await {
        Err(_) => {
            ctx.metrics.handshake_failed(name, "timeout");
            return Err(ConnError::HandshakeTimeout);
        }
        Ok(Err(e)) => {
            let reason = failure_reason(&e);
            ctx.metrics.handshake_failed(name, reason);
            tracing::warn!(reason, error = %e, "TLS handshake failed");
            return Err(ConnError::Handshake(e.to_string()));
        }
        Ok(Ok(tls)) => tls,
    };
    let conn = tls.get_ref().1;
    let info = postern_tls::session::tls_info(conn);
    let group = postern_tls::session::kx_group(conn);
    ctx.metrics.handshake_ok(
        name,
        &info.version,
        &info.cipher_suite,
        &group,
        started.elapsed(),
    );
    tracing::info!(version = %info.version, suite = %info.cipher_suite, group = %group, sni = info.server_name.as_deref().unwrap_or("-"), client_cert = info.client.is_some(), "TLS established");
    Ok((tls, info))
}

/// A short, stable label for a failed handshake (a metrics label).
fn failure_reason(e: &std::io::Error) -> &'static str {
    use postern_tls::rustls::Error as E;
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "eof";
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<E>()) {
        Some(E::NoApplicationProtocol) => "no_application_protocol",
        Some(E::PeerIncompatible(_)) => "peer_incompatible",
        Some(E::InvalidMessage(_)) => "not_tls",
        Some(E::NoCertificatesPresented) => "client_certificate_missing",
        Some(E::InvalidCertificate(_)) => "client_certificate_invalid",
        Some(E::AlertReceived(_)) => "alert_received",
        Some(E::PeerMisbehaved(_)) => "peer_misbehaved",
        Some(_) => "other",
        None => "io",
    }
}

/// Ends the stream politely (TLS close_notify), bounded in time.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, d: &Deadlines) {
    let _ = timeout(
        d.limits
            .write_timeout
            .min(std::time::Duration::from_secs(5)),
        stream.shutdown(),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::imap::ImapFactory;
    use crate::session::pop3::Pop3Factory;
    use crate::session::smtp::SmtpFactory;

    /// The size of the future an async fn of five arguments returns,
    /// without calling it.
    fn future_size<F, A, B, C, D, E, Fut>(_: &F) -> usize
    where
        F: Fn(A, B, C, D, E) -> Fut,
    {
        size_of::<Fut>()
    }

    /// A connection's task is allocated once, as large as the largest
    /// state of `serve`, and kept for the connection's life, idle or not.
    /// The state that lasts holds one TLS stream, one core, one session
    /// and the driver: anything more (a by-value argument kept twice, a
    /// rare state inline) is paid by every connection.
    fn assert_flat<F: SessionFactory>() -> usize {
        type Tls = TlsStream<TcpStream>;
        let serve = future_size(&serve::<F>);
        let drive = future_size(&drive::<Tls, F::Session>);
        let lasting = size_of::<Tls>() + size_of::<SessionProto<F>>() + size_of::<F::Session>();
        assert!(
            serve <= lasting + drive + 1024,
            "serve: {serve} bytes for {lasting} of stream, core and session and {drive} of driver"
        );
        serve
    }

    #[test]
    fn a_connection_task_holds_the_session_once() {
        let imap = assert_flat::<ImapFactory>();
        assert_flat::<Pop3Factory>();
        assert_flat::<SmtpFactory>();
        // docs/benchmarks.md, memory per idle IMAP session.
        assert!(imap <= 6 * 1024, "{imap}");
    }
}
