//! The one connection driver: moves bytes between a stream and a sans-I/O
//! protocol core, with a deadline on every wait. Written once for every
//! protocol, plain or TLS.
//!
//! It keeps no read buffer of its own: every byte read goes straight into the
//! core, so nothing read in plain text can survive a STARTTLS upgrade except
//! inside the core, which refuses to upgrade when it holds any.

use std::future::Future;
use std::task::Poll;
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
    let mut input = Input::default();
    // The read deadline counts from the last complete request, not from the
    // last byte: a client dribbling one byte per minute must not hold a
    // connection forever (slowloris).
    let mut last_request = Instant::now();
    loop {
        match proto.next() {
            // Boxed: the largest future of a session (a FETCH, a SEARCH)
            // lives only while its command runs, instead of making every
            // connection's task that large for its whole life, idle or not.
            Ok(event) => match Box::pin(session.handle(proto, event)).await {
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
                    &mut input,
                    proto,
                    session,
                    deadlines,
                    last_request,
                    cancel,
                )
                .await?;
                match read {
                    Read::Stopped | Read::Eof => return finish(stream, proto, deadlines).await,
                    Read::Waited(n) => proto.enqueue_input(&input.wait[..n]),
                    Read::Queued(bytes) => proto.enqueue_input(&bytes),
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
    /// The peer closed the connection.
    Eof,
    /// Octets read into [`Input::wait`], as many as this.
    Waited(usize),
    /// Octets that were already there, read with a large buffer.
    Queued(Vec<u8>),
    /// The session's own wait completed.
    Woken,
    /// The server ended the session (timeout, shutdown, session too long)
    /// and queued the goodbye.
    Stopped,
}

/// Reads once, or wakes the session.
async fn read_or_stop<S, H>(
    stream: &mut S,
    input: &mut Input,
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
        r = read_some(stream, input) => return Ok(r?),
        () = session.wait() => return Ok(Read::Woken),
    };
    tracing::info!(reason = ?why, "ending the session");
    proto.goodbye(why);
    Ok(Read::Stopped)
}

/// The driver's read buffers. A session spends most of its life waiting
/// for its client (an IMAP client in IDLE, for hours), so it waits with a
/// small buffer only; a large one exists only while data flows.
struct Input {
    /// What a wait reads into: a command line of every protocol fits
    /// (RFC 5321 §4.5.3.1.4: 512 octets for SMTP; IMAP and POP3 commands
    /// are shorter in practice), so most reads take one call.
    wait: [u8; WAIT_BUFFER],
    /// The last read filled its buffer: more is probably queued.
    flowing: bool,
}

impl Default for Input {
    fn default() -> Self {
        Self {
            wait: [0; WAIT_BUFFER],
            flowing: false,
        }
    }
}

/// See [`Input::wait`].
const WAIT_BUFFER: usize = 512;

/// A read while data flows (a message upload): 16 KiB, one TLS record.
const LARGE_READ: usize = 16 * 1024;

/// Reads once. While data flows, what is already queued is taken with a
/// large buffer, allocated for this read only; otherwise, or when nothing
/// is queued, it waits with the small one, so an idle session holds no
/// large buffer.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    input: &mut Input,
) -> std::io::Result<Read> {
    if input.flowing {
        let mut large = Vec::with_capacity(LARGE_READ);
        if let Some(n) = ready_now(stream.read_buf(&mut large)).await {
            let n = n?;
            input.flowing = n == large.capacity();
            return Ok(if n == 0 {
                Read::Eof
            } else {
                Read::Queued(large)
            });
        }
    }
    let n = stream.read(&mut input.wait).await?;
    input.flowing = n == input.wait.len();
    Ok(if n == 0 { Read::Eof } else { Read::Waited(n) })
}

/// Polls `fut` once: its output if it is ready, `None` if it would wait.
/// (Reads from tokio and tokio-rustls streams are cancel-safe: a read
/// dropped while pending loses nothing.)
async fn ready_now<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
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

    #[tokio::test]
    async fn a_wait_holds_the_small_buffer_and_a_flow_takes_large_reads() {
        let (mut client, mut server) = tokio::io::duplex(256 * 1024);
        // One wait buffer, then six full large reads.
        let len = WAIT_BUFFER + 6 * LARGE_READ;
        let sent: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).await.unwrap();
        let mut input = Input::default();
        let mut got = Vec::new();
        let mut large_reads = 0;
        while got.len() < sent.len() {
            match read_some(&mut server, &mut input).await.unwrap() {
                Read::Waited(n) => got.extend_from_slice(&input.wait[..n]),
                Read::Queued(bytes) => {
                    assert!(bytes.len() <= LARGE_READ);
                    large_reads += 1;
                    got.extend_from_slice(&bytes);
                }
                _ => panic!("EOF before the end"),
            }
        }
        assert!(got == sent);
        assert_eq!(large_reads, 6);
        // Nothing queued: the next read waits, with the small buffer (a
        // large read would have answered `Queued`).
        assert!(input.flowing, "the last large read was full");
        let read = read_some(&mut server, &mut input);
        let write = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.write_all(b"DONE\r\n").await.unwrap();
        };
        match tokio::join!(read, write).0.unwrap() {
            Read::Waited(6) => assert_eq!(&input.wait[..6], b"DONE\r\n"),
            _ => panic!("a line after a pause is read into the wait buffer"),
        }
        assert!(!input.flowing);
    }

    #[tokio::test]
    async fn a_long_upload_is_read_whole() {
        let (mut client, server) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let mut server = server;
            let deadlines = Deadlines::new(&postern_config::defaults::limits(Service::Imap));
            let (mut proto, mut session) = (Lines::default(), Echo);
            let cancel = CancellationToken::new();
            drive(&mut server, &mut proto, &mut session, &deadlines, &cancel).await
        });
        let mut line: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        line.extend_from_slice(b"\r\n");
        let expected = line.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&line).await.unwrap();
            client.write_all(b"QUIT\r\n").await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            back
        });
        let back = writer.await.unwrap();
        assert_eq!(server.await.unwrap().unwrap(), Outcome::Closed);
        assert_eq!(back.len(), expected.len() + 5);
        assert!(back[..expected.len()] == expected[..]);
        assert_eq!(&back[expected.len()..], b"BYE\r\n");
    }
}
