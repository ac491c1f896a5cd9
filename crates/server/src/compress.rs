//! COMPRESS=DEFLATE (RFC 4978): a stream adapter that inflates what it reads
//! and deflates what it writes, so that the one driver serves a compressed
//! session exactly as it serves any other stream.
//!
//! Both directions are raw DEFLATE (RFC 1951, no zlib or gzip wrapper: RFC
//! 4978 §3). Every flush of the adapter ends with a sync flush (an empty
//! stored block), so that the client can decode each response in full as
//! soon as it is sent (RFC 4978 §4: "the server must flush ... whenever it
//! has sent a response").
//!
//! Memory stays bounded whatever the peer sends: inflated bytes go straight
//! into the caller's buffer, so one read never yields more than that buffer
//! holds, however well the input compresses (a "decompression bomb" only
//! costs CPU time, paced by the reader). The adapter itself keeps two small
//! buffers besides the DEFLATE state.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed input read from the peer and not yet inflated, at most this.
const INPUT_BUFFER: usize = 4 * 1024;

/// Compressed output not yet written to the peer, at most this.
const OUTPUT_BUFFER: usize = 8 * 1024;

/// DEFLATE level 6: zlib's default and Dovecot's, the usual balance between
/// CPU and bandwidth for mail text.
const LEVEL: u32 = 6;

/// A stream whose both directions are raw DEFLATE (RFC 4978).
pub struct Deflated<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input: `input[start..end]` is not yet inflated.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// Compressed output: `output[written..]` is not yet sent.
    output: Vec<u8>,
    written: usize,
    /// Bytes were accepted since the last sync flush.
    unflushed: bool,
    /// The peer closed the connection.
    input_eof: bool,
    /// The peer ended its DEFLATE stream (a final block).
    stream_end: bool,
    /// Our DEFLATE stream is finished (shutdown).
    finished: bool,
}

impl<S> Deflated<S> {
    /// Starts compression over `inner`, right after the tagged OK to
    /// `COMPRESS DEFLATE` was sent in the clear (RFC 4978 §3).
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            // `false`: raw DEFLATE, no zlib header (RFC 4978 §3).
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::new(LEVEL), false),
            input: vec![0; INPUT_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            output: Vec::with_capacity(OUTPUT_BUFFER),
            written: 0,
            unflushed: false,
            input_eof: false,
            stream_end: false,
            finished: false,
        }
    }

    /// The stream underneath (the TLS session, for its details).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Inflates what is buffered into `buf`; returns (consumed, produced).
    fn inflate_into(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<(usize, usize)> {
        let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
        let input = &self.input[self.start..self.end];
        let status = self
            .inflate
            .decompress(input, buf.initialize_unfilled(), FlushDecompress::None)
            .map_err(|e| corrupt(&e))?;
        let consumed = usize_of(self.inflate.total_in() - in_before);
        let produced = usize_of(self.inflate.total_out() - out_before);
        self.start += consumed;
        buf.advance(produced);
        if status == Status::StreamEnd {
            // The client ended its stream (a final block). RFC 4978 has
            // no use for it: treat it as the end of the input.
            self.stream_end = true;
        }
        Ok((consumed, produced))
    }

    /// Deflates `data` into the free room of the output buffer; returns
    /// (consumed, produced).
    fn deflate_from(&mut self, data: &[u8], flush: FlushCompress) -> io::Result<(usize, usize)> {
        let (in_before, out_before) = (self.deflate.total_in(), self.deflate.total_out());
        self.deflate
            .compress_vec(data, &mut self.output, flush)
            .map_err(io::Error::other)?;
        let consumed = usize_of(self.deflate.total_in() - in_before);
        let produced = usize_of(self.deflate.total_out() - out_before);
        Ok((consumed, produced))
    }

    fn output_full(&self) -> bool {
        self.output.len() == self.output.capacity()
    }
}

impl<S: AsyncRead + Unpin> Deflated<S> {
    /// Reads more compressed input from the peer (sets `input_eof` at EOF).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.input.len() {
            if self.start == 0 {
                // A full buffer the inflater takes nothing from: it can
                // always take some input, so this is never reached unless
                // the stream is broken.
                return Poll::Ready(Err(corrupt(&"the inflater stalled")));
            }
            self.input.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let mut room = ReadBuf::new(&mut self.input[self.end..]);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut room))?;
        let n = room.filled().len();
        if n == 0 {
            self.input_eof = true;
        }
        self.end += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> Deflated<S> {
    /// Writes the whole output buffer to the peer, then empties it.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.output.len() {
            let pending = &self.output[self.written..];
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.output.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Runs `flush` (sync or finish) to completion, draining as needed.
    /// Complete means the deflater left room to spare in the output buffer
    /// (zlib's rule for Z_SYNC_FLUSH and Z_FINISH), or said the stream ended.
    fn poll_deflate_flush(
        &mut self,
        cx: &mut Context<'_>,
        flush: FlushCompress,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.output_full() {
                ready!(self.poll_drain(cx))?;
            }
            let status = self
                .deflate
                .compress_vec(&[], &mut self.output, flush)
                .map_err(io::Error::other)?;
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => !self.output_full(),
            };
            if done {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflated<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.stream_end {
                // Even without new input: the inflater may hold output that
                // did not fit in the last read's buffer.
                let (consumed, produced) = this.inflate_into(buf)?;
                if produced > 0 {
                    return Poll::Ready(Ok(()));
                }
                if consumed > 0 {
                    continue;
                }
            }
            if this.stream_end || this.input_eof {
                // EOF. A stream cut short mid-block is the same as a closed
                // connection: the driver ends the session either way.
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_fill(cx))?;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflated<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the compressed stream was finished",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.output_full() {
                ready!(this.poll_drain(cx))?;
            }
            let (consumed, produced) = this.deflate_from(data, FlushCompress::None)?;
            if consumed > 0 {
                this.unflushed = true;
                return Poll::Ready(Ok(consumed));
            }
            if produced == 0 {
                // Room for output and input to take, yet nothing moved:
                // the deflater is broken; never spin on it.
                return Poll::Ready(Err(io::Error::other("the deflater stalled")));
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unflushed {
            ready!(this.poll_deflate_flush(cx, FlushCompress::Sync))?;
            this.unflushed = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.finished {
            ready!(this.poll_deflate_flush(cx, FlushCompress::Finish))?;
            this.finished = true;
            this.unflushed = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A corrupt compressed stream: the peer's fault (InvalidData).
fn corrupt(e: &dyn std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt COMPRESS=DEFLATE input from the client: {e}"),
    )
}

/// A byte count of one call, bounded by a buffer's length.
fn usize_of(n: u64) -> usize {
    // Invariant: one call moves at most a buffer's worth of bytes, which
    // fits in usize since the buffer does.
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    /// The client's end: flate2 over the other half of a pipe.
    struct Peer {
        io: DuplexStream,
        inflate: Decompress,
        deflate: Compress,
        /// Compressed bytes received so far (to look at the framing).
        raw: Vec<u8>,
    }

    impl Peer {
        fn new(io: DuplexStream) -> Self {
            Self {
                io,
                inflate: Decompress::new(false),
                deflate: Compress::new(Compression::default(), false),
                raw: Vec::new(),
            }
        }

        /// Reads until `want.len()` inflated bytes arrived; they must be `want`.
        async fn expect(&mut self, want: &[u8]) {
            let mut got = Vec::new();
            let mut chunk = [0u8; 1024];
            while got.len() < want.len() {
                let read = self.io.read(&mut chunk);
                let n = tokio::time::timeout(Duration::from_secs(10), read)
                    .await
                    .expect("the server's bytes did not arrive: no sync flush?")
                    .unwrap();
                assert!(n > 0, "EOF after {} of {} bytes", got.len(), want.len());
                self.raw.extend_from_slice(&chunk[..n]);
                got.extend(inflate_all(&mut self.inflate, &chunk[..n]));
            }
            assert_eq!(got.len(), want.len());
            assert!(got == want, "inflated bytes differ from what was written");
        }

        /// Sends `data` compressed and sync-flushed, as an RFC 4978 client.
        async fn send(&mut self, data: &[u8]) {
            let bytes = deflate_all(&mut self.deflate, data, FlushCompress::Sync);
            self.io.write_all(&bytes).await.unwrap();
        }
    }

    fn inflate_all(d: &mut Decompress, mut input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            out.reserve(64 * 1024);
            let before = d.total_in();
            d.decompress_vec(input, &mut out, FlushDecompress::Sync)
                .unwrap();
            input = &input[usize_of(d.total_in() - before)..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    fn deflate_all(c: &mut Compress, mut input: &[u8], flush: FlushCompress) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            out.reserve(64 * 1024);
            let before = c.total_in();
            c.compress_vec(input, &mut out, flush).unwrap();
            input = &input[usize_of(c.total_in() - before)..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// Text that compresses, with some variety (a mailbox listing).
    fn text(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!("* {i} FETCH (UID {} FLAGS (\\Seen))\r\n", i * 7).as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    /// Bytes that do not compress (xorshift).
    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[tokio::test]
    async fn a_flushed_response_is_readable_at_once() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut peer, mut server) = (Peer::new(client), Deflated::new(server));
        server.write_all(b"* OK ready\r\n").await.unwrap();
        server.flush().await.unwrap();
        peer.expect(b"* OK ready\r\n").await;
        // A sync flush ends with an empty stored block (RFC 1951 §3.2.4).
        assert!(peer.raw.ends_with(&[0, 0, 0xff, 0xff]), "{:?}", peer.raw);
        // Nothing written since: a flush sends nothing, not another empty
        // block.
        server.flush().await.unwrap();
        let mut chunk = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_millis(100), peer.io.read(&mut chunk));
        assert!(read.await.is_err(), "bytes sent by an empty flush");
        server.write_all(b"A1 OK done\r\n").await.unwrap();
        server.flush().await.unwrap();
        peer.expect(b"A1 OK done\r\n").await;
    }

    #[tokio::test]
    async fn large_writes_round_trip_through_a_small_pipe() {
        let (client, server) = tokio::io::duplex(1024);
        let (mut peer, mut server) = (Peer::new(client), Deflated::new(server));
        let mut all = text(3 * 1024 * 1024);
        all.extend(noise(1024 * 1024));
        let expected = all.clone();
        let writer = tokio::spawn(async move {
            server.write_all(&all).await.unwrap();
            server.flush().await.unwrap();
            server
        });
        peer.expect(&expected).await;
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn tiny_writes_round_trip() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut peer, mut server) = (Peer::new(client), Deflated::new(server));
        let all = text(10_000);
        for byte in &all {
            server.write_all(std::slice::from_ref(byte)).await.unwrap();
        }
        server.flush().await.unwrap();
        peer.expect(&all).await;
    }

    #[tokio::test]
    async fn shutdown_finishes_the_stream() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut peer, mut server) = (Peer::new(client), Deflated::new(server));
        server.write_all(b"* BYE\r\n").await.unwrap();
        server.shutdown().await.unwrap();
        let mut raw = Vec::new();
        peer.io.read_to_end(&mut raw).await.unwrap();
        let mut out = Vec::with_capacity(64);
        let status = peer
            .inflate
            .decompress_vec(&raw, &mut out, FlushDecompress::Finish)
            .unwrap();
        assert_eq!(status, Status::StreamEnd);
        assert_eq!(out, b"* BYE\r\n");
        assert!(server.write(b"x").await.is_err(), "write after shutdown");
    }

    #[tokio::test]
    async fn client_commands_are_inflated_in_order() {
        let (client, server) = tokio::io::duplex(2048);
        let (mut peer, mut server) = (Peer::new(client), Deflated::new(server));
        let big = noise(200 * 1024);
        let sender = tokio::spawn(async move {
            peer.send(b"A1 NOOP\r\n").await;
            peer.send(&big).await;
            peer.send(b"A2 LOGOUT\r\n").await;
            (peer, big)
        });
        let mut got = vec![0u8; 9 + 200 * 1024 + 11];
        server.read_exact(&mut got).await.unwrap();
        let (_peer, big) = sender.await.unwrap();
        assert_eq!(&got[..9], b"A1 NOOP\r\n");
        assert!(got[9..9 + big.len()] == big[..]);
        assert_eq!(&got[9 + big.len()..], b"A2 LOGOUT\r\n");
    }

    #[tokio::test]
    async fn many_one_byte_reads() {
        let all = text(50_000);
        let compressed = deflate_all(
            &mut Compress::new(Compression::default(), false),
            &all,
            FlushCompress::Sync,
        );
        let mut server = Deflated::new(&compressed[..]);
        let mut got = Vec::new();
        let mut one = [0u8; 1];
        loop {
            match server.read(&mut one).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&one[..n]),
            }
        }
        assert!(got == all, "{} bytes instead of {}", got.len(), all.len());
    }

    #[tokio::test]
    async fn corrupt_input_is_invalid_data() {
        // BFINAL=1, BTYPE=11: a reserved block type (RFC 1951 §3.2.3).
        let mut server = Deflated::new(&b"\xff\xff\xff\xff\xff\xff"[..]);
        let err = server.read(&mut [0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A zlib header is not raw DEFLATE (RFC 4978 §3).
        let zlib = flate2_zlib(b"A1 NOOP\r\n");
        let mut server = Deflated::new(&zlib[..]);
        let mut out = Vec::new();
        let err = server.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    fn flate2_zlib(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), true);
        deflate_all(&mut c, data, FlushCompress::Finish)
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_end_not_a_panic() {
        let all = text(20_000);
        let compressed = deflate_all(
            &mut Compress::new(Compression::default(), false),
            &all,
            FlushCompress::Sync,
        );
        let cut = &compressed[..compressed.len() / 2];
        let mut server = Deflated::new(cut);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert!(got.len() < all.len());
        assert!(all.starts_with(&got));
    }

    #[tokio::test]
    async fn a_decompression_bomb_is_read_in_bounded_pieces() {
        const TOTAL: usize = 100 * 1024 * 1024;
        let zeros = vec![0u8; 1024 * 1024];
        let mut c = Compress::new(Compression::default(), false);
        let mut bomb = Vec::new();
        for _ in 0..TOTAL / zeros.len() {
            bomb.extend(deflate_all(&mut c, &zeros, FlushCompress::None));
        }
        bomb.extend(deflate_all(&mut c, &[], FlushCompress::Sync));
        assert!(bomb.len() < TOTAL / 500, "{} bytes", bomb.len());

        let mut server = Deflated::new(&bomb[..]);
        let mut buf = [0u8; 4096];
        let first = server.read(&mut buf).await.unwrap();
        assert!(first > 0);
        // One read takes no more than one input buffer of the bomb.
        assert!(bomb.len() - server.get_ref().len() <= INPUT_BUFFER);
        let mut total = first;
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 0));
            total += n;
        }
        assert_eq!(total, TOTAL);
        // The adapter's own buffers never grew.
        assert_eq!(server.input.len(), INPUT_BUFFER);
        assert_eq!(server.output.capacity(), OUTPUT_BUFFER);
    }
}
