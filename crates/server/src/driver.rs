//! The one connection driver: moves bytes between a stream and a sans-I/O
//! protocol core, with a deadline on every wait. Written once for every
//! protocol, plain or TLS.
//!
//! It keeps no read buffer of its own: every byte read goes straight into the
//! core, so nothing read in plain text can survive a STARTTLS upgrade except
//! inside the core, which refuses to upgrade when it holds any.

use std::future::Future;
use std::time::Duration;

use postern_config::Limits;
use postern_types::{Goodbye, Interrupt, Io, Protocol, TimeoutClass};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the session logic tells the driver after handling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// The go-ahead for STARTTLS is queued: flush it, then hand over.
    StartTls,
    /// The tagged OK to COMPRESS is queued: flush it in the clear, then
    /// hand over; everything after it is compressed (RFC 4978 §3).
    Compress,
    /// End the session after flushing.
    Close,
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The session is over (or the peer left).
    Closed,
    /// The client asked for TLS and was told to go ahead.
    StartTls,
    /// The client asked for COMPRESS=DEFLATE and was told OK.
    Compress,
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the client stopped reading (write timed out)")]
    WriteTimeout,
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error(transparent)]
    PlaintextAfterStartTls(#[from] postern_types::PlaintextAfterStartTls),
}

/// A protocol's session logic: it creates the core and answers its events.
pub trait Session: Send + 'static {
    type Proto: Protocol<Event: Send> + Send;

    /// Answers one event through the core's intent methods.
    fn handle(
        &mut self,
        proto: &mut Self::Proto,
        event: <Self::Proto as Protocol>::Event,
    ) -> impl Future<Output = Control> + Send;

    /// Something besides the peer the session waits for (IMAP IDLE: new
    /// mail). Raced with each read; when it completes, [`Session::wake`]
    /// runs and what it queued is sent. Must be cancel-safe.
    fn wait(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Answers what [`Session::wait`] saw, through the core's methods.
    fn wake(&mut self, _proto: &mut Self::Proto) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The session has more of a command to answer (a large FETCH, sent
    /// in pieces so that memory stays bounded): the driver writes what is
    /// queued, then calls [`Session::resume`] instead of reading.
    fn busy(&self) -> bool {
        false
    }

    /// Answers the next piece of the command in progress.
    fn resume(&mut self, _proto: &mut Self::Proto) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The deadlines of one connection.
#[derive(Debug, Clone)]
pub struct Deadlines {
    pub limits: Limits,
    /// The whole session ends here, whatever it is doing.
    pub session_end: Instant,
}

impl Deadlines {
    pub fn new(limits: &Limits) -> Self {
        Self {
            session_end: Instant::now() + limits.session_timeout,
            limits: limits.clone(),
        }
    }

    fn read_timeout(&self, class: TimeoutClass) -> Duration {
        match class {
            TimeoutClass::PreAuth => self.limits.pre_auth_timeout,
            TimeoutClass::Authenticated => self.limits.authenticated_timeout,
            TimeoutClass::Data => self.limits.data_timeout,
            TimeoutClass::Idle => self.limits.idle_timeout,
        }
    }
}

/// Runs the core until the session ends or asks for STARTTLS or COMPRESS.
pub async fn drive<S, H>(
    stream: &mut S,
    proto: &mut H::Proto,
    session: &mut H,
    deadlines: &Deadlines,
    cancel: &CancellationToken,
) -> Result<Outcome, ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    H: Session,
{
    let mut chunk = vec![0u8; 16 * 1024];
    // The read deadline counts from the last complete request, not from the
    // last byte: a client dribbling one byte per minute must not hold a
    // connection forever (slowloris).
    let mut last_request = Instant::now();
    loop {
        match proto.next() {
            Ok(event) => match session.handle(proto, event).await {
                Control::Continue => last_request = Instant::now(),
                Control::StartTls => {
                    flush(stream, proto, deadlines).await?;
                    return Ok(Outcome::StartTls);
                }
                Control::Compress => {
                    flush(stream, proto, deadlines).await?;
                    return Ok(Outcome::Compress);
                }
                Control::Close => {
                    flush(stream, proto, deadlines).await?;
                    return Ok(Outcome::Closed);
                }
            },
            Err(Interrupt::Io(Io::Output(bytes))) => write(stream, &bytes, deadlines).await?,
            Err(Interrupt::Io(Io::NeedMoreInput)) => {
                if proto.is_finished() {
                    return Ok(Outcome::Closed);
                }
                if session.busy() {
                    if cancel.is_cancelled() || Instant::now() >= deadlines.session_end {
                        proto.goodbye(Goodbye::Shutdown);
                        return finish(stream, proto, deadlines).await;
                    }
                    session.resume(proto).await;
                    continue;
                }
                let read = read_or_stop(
                    stream,
                    &mut chunk,
                    proto,
                    session,
                    deadlines,
                    last_request,
                    cancel,
                )
                .await?;
                match read {
                    Read::Stopped | Read::Data(0) => return finish(stream, proto, deadlines).await,
                    Read::Data(n) => proto.enqueue_input(&chunk[..n]),
                    Read::Woken => session.wake(proto).await,
                }
            }
            Err(Interrupt::Error(e)) => {
                tracing::warn!(error = %e, "protocol error; closing");
                return finish(stream, proto, deadlines).await;
            }
        }
    }
}

/// What one wait for input gave.
enum Read {
    /// Octets read (0: the peer closed).
    Data(usize),
    /// The session's own wait completed.
    Woken,
    /// The server ended the session (timeout, shutdown, session too long)
    /// and queued the goodbye.
    Stopped,
}

/// Reads once, or wakes the session.
async fn read_or_stop<S, H>(
    stream: &mut S,
    chunk: &mut [u8],
    proto: &mut H::Proto,
    session: &mut H,
    deadlines: &Deadlines,
    last_request: Instant,
    cancel: &CancellationToken,
) -> Result<Read, ConnError>
where
    S: AsyncRead + Unpin,
    H: Session,
{
    let class = proto.timeout_class();
    let limit = deadlines.read_timeout(class);
    // Inside a message transfer every chunk is progress (RFC 5321
    // §4.5.3.2.5 times each DATA block); elsewhere only whole requests are.
    let read_deadline = match class {
        TimeoutClass::Data => Instant::now() + limit,
        _ => last_request + limit,
    };
    let why = tokio::select! {
        // Deadlines first: when data and a deadline are both ready, the
        // deadline wins, so a busy client cannot outlive its session cap.
        biased;
        () = cancel.cancelled() => Goodbye::Shutdown,
        () = tokio::time::sleep_until(deadlines.session_end) => Goodbye::SessionTooLong,
        () = tokio::time::sleep_until(read_deadline) => Goodbye::Timeout,
        n = stream.read(chunk) => return Ok(Read::Data(n?)),
        () = session.wait() => return Ok(Read::Woken),
    };
    tracing::info!(reason = ?why, "ending the session");
    proto.goodbye(why);
    Ok(Read::Stopped)
}

/// Flushes what the core still has to say, then reports the session closed.
async fn finish<S, P>(stream: &mut S, proto: &mut P, d: &Deadlines) -> Result<Outcome, ConnError>
where
    S: AsyncWrite + Unpin,
    P: Protocol,
{
    flush(stream, proto, d).await?;
    Ok(Outcome::Closed)
}

/// Writes everything the core has queued.
pub async fn flush<S, P>(stream: &mut S, proto: &mut P, d: &Deadlines) -> Result<(), ConnError>
where
    S: AsyncWrite + Unpin,
    P: Protocol,
{
    while let Some(bytes) = proto.take_output() {
        write(stream, &bytes, d).await?;
    }
    Ok(())
}

/// Writes in pieces, each with its own write deadline (a slow client
/// downloading a large message is fine as long as it keeps reading), and
/// never past the session's end.
async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    d: &Deadlines,
) -> Result<(), ConnError> {
    for piece in bytes.chunks(WRITE_PIECE) {
        let deadline = (Instant::now() + d.limits.write_timeout).min(d.session_end);
        match tokio::time::timeout_at(deadline, stream.write_all(piece)).await {
            Ok(r) => r?,
            Err(_) => return Err(ConnError::WriteTimeout),
        }
    }
    match tokio::time::timeout_at(Instant::now() + d.limits.write_timeout, stream.flush()).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ConnError::WriteTimeout),
    }
}

/// The unit of write progress: 64 KiB.
const WRITE_PIECE: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    use postern_types::{PlaintextAfterStartTls, Service, TlsInfo};
    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;
    use crate::compress::Deflated;

    /// A line protocol: each line is an event, answers are queued bytes.
    #[derive(Default)]
    struct Lines {
        input: Vec<u8>,
        output: Vec<u8>,
        finished: bool,
    }

    impl Protocol for Lines {
        type Event = Vec<u8>;
        type Error = std::io::Error;

        fn enqueue_input(&mut self, bytes: &[u8]) {
            self.input.extend_from_slice(bytes);
        }

        fn next(&mut self) -> Result<Vec<u8>, Interrupt<std::io::Error>> {
            if let Some(out) = self.take_output() {
                return Err(Interrupt::Io(Io::Output(out)));
            }
            match self.input.iter().position(|&b| b == b'\n') {
                Some(end) => Ok(self.input.drain(..=end).collect()),
                None => Err(Interrupt::Io(Io::NeedMoreInput)),
            }
        }

        fn take_output(&mut self) -> Option<Vec<u8>> {
            (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
        }

        fn timeout_class(&self) -> TimeoutClass {
            TimeoutClass::PreAuth
        }

        fn is_finished(&self) -> bool {
            self.finished
        }

        fn goodbye(&mut self, _why: Goodbye) {
            self.output.extend_from_slice(b"BYE\r\n");
            self.finished = true;
        }

        fn buffered_input_len(&self) -> usize {
            self.input.len()
        }

        fn start_tls(self, _tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
            Ok(Self::default())
        }
    }

    /// Echoes lines; COMPRESS and QUIT do what their names say.
    struct Echo;

    impl Session for Echo {
        type Proto = Lines;

        async fn handle(&mut self, proto: &mut Lines, line: Vec<u8>) -> Control {
            match &line[..] {
                b"COMPRESS\r\n" => {
                    proto.output.extend_from_slice(b"OK compressing\r\n");
                    Control::Compress
                }
                b"QUIT\r\n" => {
                    proto.output.extend_from_slice(b"BYE\r\n");
                    Control::Close
                }
                _ => {
                    proto.output.extend_from_slice(&line);
                    Control::Continue
                }
            }
        }
    }

    async fn serve(mut stream: DuplexStream) -> (Outcome, Outcome) {
        let deadlines = Deadlines::new(&postern_config::defaults::limits(Service::Imap));
        let cancel = CancellationToken::new();
        let (mut proto, mut session) = (Lines::default(), Echo);
        let first = drive(&mut stream, &mut proto, &mut session, &deadlines, &cancel).await;
        assert_eq!(proto.buffered_input_len(), 0);
        let mut stream = Deflated::new(stream);
        let second = drive(&mut stream, &mut proto, &mut session, &deadlines, &cancel).await;
        stream.shutdown().await.unwrap();
        (first.unwrap(), second.unwrap())
    }

    /// Reads compressed bytes until `want.len()` inflated bytes arrived.
    async fn expect_inflated(io: &mut DuplexStream, inflate: &mut Decompress, want: &[u8]) {
        let mut got = Vec::with_capacity(want.len());
        let mut chunk = [0u8; 256];
        while got.len() < want.len() {
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0, "EOF; got {:?}", String::from_utf8_lossy(&got));
            let before = inflate.total_in();
            inflate
                .decompress_vec(&chunk[..n], &mut got, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(inflate.total_in() - before, n as u64, "room for all");
        }
        assert_eq!(got, want);
    }

    fn deflated(deflate: &mut Compress, line: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(line.len() + 64);
        deflate
            .compress_vec(line, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn compress_hands_over_after_the_ok_and_the_session_goes_on() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(serve(server));
        client.write_all(b"HELLO\r\nCOMPRESS\r\n").await.unwrap();
        // The OK goes out in the clear, then nothing until the client
        // speaks compressed (RFC 4978 §3).
        let mut clear = [0u8; 23];
        client.read_exact(&mut clear).await.unwrap();
        assert_eq!(&clear, b"HELLO\r\nOK compressing\r\n");

        let (mut deflate, mut inflate) = (
            Compress::new(Compression::default(), false),
            Decompress::new(false),
        );
        client
            .write_all(&deflated(&mut deflate, b"PING\r\n"))
            .await
            .unwrap();
        expect_inflated(&mut client, &mut inflate, b"PING\r\n").await;
        client
            .write_all(&deflated(&mut deflate, b"QUIT\r\n"))
            .await
            .unwrap();
        expect_inflated(&mut client, &mut inflate, b"BYE\r\n").await;
        let outcomes = server.await.unwrap();
        assert_eq!(outcomes, (Outcome::Compress, Outcome::Closed));
    }
}
