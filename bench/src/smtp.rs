//! An SMTP client for the benchmarks (RFC 5321): submission over implicit
//! TLS with AUTH PLAIN (RFC 8314 §3, RFC 4954, RFC 4616), and the MX port in
//! plain text upgraded with STARTTLS (RFC 3207). Only what the benchmarks
//! send, but strict in what it accepts: any reply other than the one
//! expected is an error, so a server that refuses mail cannot look fast.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::pop3::{Target, TlsSummary};

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; the bound is
/// looser, only there so a broken server cannot make us buffer forever.
const MAX_LINE: u64 = 64 * 1024;

/// How a session reaches TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (submissions, port 465: RFC 8314 §3.3).
    Implicit,
    /// Plain text, then STARTTLS after the first EHLO (port 25: RFC 3207).
    StartTls,
}

/// What one SMTP scenario sends.
#[derive(Debug, Clone)]
pub struct Settings {
    pub security: Security,
    /// AUTH PLAIN as the client's account after EHLO (submission).
    pub auth: bool,
    /// Messages per session before QUIT and a new connection; 0: no limit.
    pub per_session: u64,
    /// MAIL, RCPT and DATA in one write (RFC 2920 §3.1: DATA ends a group).
    pub pipelining: bool,
    /// Octets of each message, headers included, CRLF line ends.
    pub message_size: usize,
    /// The envelope sender; `None`: the client's own account (submission
    /// servers accept only the account's own address).
    pub mail_from: Option<String>,
    /// The recipient of client n: `{n}` is replaced with n.
    pub rcpt_pattern: String,
    pub ehlo: String,
}

/// What the connection runs over: TCP, or TLS over TCP (after STARTTLS or
/// from the start). Boxed so that one `Conn` serves both.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One SMTP session, past EHLO (and AUTH when asked).
pub struct Conn {
    io: BufReader<Box<dyn Stream>>,
    line: Vec<u8>,
    tls: Option<TlsSummary>,
    /// The server advertised PIPELINING in its last EHLO answer.
    pipelining: bool,
    /// A message's bytes as they go on the wire, reused between messages.
    wire: Vec<u8>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("tls", &self.tls)
            .field("pipelining", &self.pipelining)
            .finish_non_exhaustive()
    }
}

/// The answer to one command: its code and its lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" / ")
    }
}

impl Conn {
    /// TCP, the greeting, EHLO, TLS (implicit or STARTTLS, then EHLO again
    /// as RFC 3207 §4.2 requires), and AUTH PLAIN when `user` is given.
    pub async fn open(
        target: &Target,
        settings: &Settings,
        user: Option<(&str, &str)>,
    ) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        // Commands are small writes waiting for an answer: Nagle would only
        // add delay.
        tcp.set_nodelay(true)?;
        let mut conn = match settings.security {
            Security::Implicit => {
                let (io, tls) = handshake(target, Box::new(tcp)).await?;
                Self::new(io, Some(tls))
            }
            Security::StartTls => Self::new(Box::new(tcp), None),
        };
        conn.expect(220).await.context("greeting")?;
        conn.ehlo(&settings.ehlo).await?;
        if settings.security == Security::StartTls {
            conn.command("STARTTLS", 220).await?;
            // RFC 3207 §5: nothing may be left over from the plain-text
            // part; a server that sent more is not to be trusted with TLS.
            if !conn.io.buffer().is_empty() {
                bail!("the server sent data after its STARTTLS answer");
            }
            let plain =
                std::mem::replace(&mut conn.io, BufReader::new(Box::new(tokio::io::empty())));
            let (io, tls) = handshake(target, plain.into_inner()).await?;
            conn = Self::new(io, Some(tls));
            conn.ehlo(&settings.ehlo).await?;
        }
        if let Some((user, password)) = user {
            conn.auth_plain(user, password)
                .await
                .with_context(|| format!("AUTH PLAIN for {user}"))?;
        }
        if settings.pipelining && !conn.pipelining {
            bail!("--pipelining: the server does not advertise PIPELINING");
        }
        Ok(conn)
    }

    fn new(io: Box<dyn Stream>, tls: Option<TlsSummary>) -> Self {
        Self {
            io: BufReader::with_capacity(16 * 1024, io),
            line: Vec::with_capacity(512),
            tls,
            pipelining: false,
            wire: Vec::new(),
        }
    }

    pub fn tls(&self) -> Option<TlsSummary> {
        self.tls.clone()
    }

    async fn ehlo(&mut self, name: &str) -> anyhow::Result<()> {
        let reply = self.command(&format!("EHLO {name}"), 250).await?;
        // The first line is the greeting; the others are keywords (§4.1.1.1).
        self.pipelining = reply.lines.iter().skip(1).any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(())
    }

    /// RFC 4616: authzid empty, authcid, password, NUL-separated, in the
    /// initial response (RFC 4954 §4). The password never goes into an
    /// error message.
    async fn auth_plain(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        let mut token = Vec::with_capacity(user.len() + password.len() + 2);
        token.push(0);
        token.extend_from_slice(user.as_bytes());
        token.push(0);
        token.extend_from_slice(password.as_bytes());
        let line = format!("AUTH PLAIN {}", base64(&token));
        self.send(line.as_bytes()).await?;
        let reply = self.read_reply().await?;
        if reply.code != 235 {
            bail!("the server answered {} {}", reply.code, reply.text());
        }
        Ok(())
    }

    /// Sends one command and checks the reply's code.
    async fn command(&mut self, line: &str, expect: u16) -> anyhow::Result<Reply> {
        self.send(line.as_bytes()).await?;
        let verb = line.split(' ').next().unwrap_or(line);
        self.expect(expect).await.with_context(|| verb.to_owned())
    }

    async fn send(&mut self, line: &[u8]) -> anyhow::Result<()> {
        let w = self.io.get_mut();
        w.write_all(line).await?;
        w.write_all(b"\r\n").await?;
        w.flush().await?;
        Ok(())
    }

    async fn expect(&mut self, code: u16) -> anyhow::Result<Reply> {
        let reply = self.read_reply().await?;
        if reply.code != code {
            bail!(
                "expected {code}, the server answered {} {}",
                reply.code,
                reply.text()
            );
        }
        Ok(reply)
    }

    /// Reads one reply, all its lines (`250-...` up to `250 ...`, §4.2.1).
    async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            read_line(&mut self.io, &mut self.line).await?;
            let (code, last, text) = parse_reply_line(&self.line)?;
            if let Some(first) = lines.first().map(|(c, _): &(u16, String)| *c) {
                if first != code {
                    bail!("a multi-line reply changed its code from {first} to {code}");
                }
            }
            lines.push((code, text));
            if last {
                return Ok(Reply {
                    code,
                    lines: lines.into_iter().map(|(_, t)| t).collect(),
                });
            }
        }
    }

    /// One mail transaction: MAIL, RCPT, DATA, the message, and the
    /// server's answer to the end of data. Returns how long that answer took
    /// from the moment the last octet (the final `.` line) was handed to
    /// the socket: the server's time to make the message durable and say
    /// so. `Err` says whether the outcome is unknown (the end of data was
    /// sent and no answer came): such a message may have been stored.
    pub async fn send_message(
        &mut self,
        from: &str,
        to: &str,
        message: &[u8],
        pipelining: bool,
    ) -> Result<Duration, SendError> {
        let before = async {
            let mail = format!("MAIL FROM:<{from}>");
            let rcpt = format!("RCPT TO:<{to}>");
            if pipelining {
                let mut group = Vec::with_capacity(mail.len() + rcpt.len() + 12);
                for l in [mail.as_bytes(), rcpt.as_bytes(), b"DATA"] {
                    group.extend_from_slice(l);
                    group.extend_from_slice(b"\r\n");
                }
                let w = self.io.get_mut();
                w.write_all(&group).await?;
                w.flush().await?;
                // RFC 2920 §3.1: the replies come in the order of the commands.
                self.expect(250).await.context("MAIL")?;
                self.expect(250).await.context("RCPT")?;
                self.expect(354).await.context("DATA")?;
            } else {
                self.command(&mail, 250).await?;
                self.command(&rcpt, 250).await?;
                self.command("DATA", 354).await?;
            }
            self.wire.clear();
            dot_stuff(message, &mut self.wire);
            let w = self.io.get_mut();
            w.write_all(&self.wire).await?;
            w.flush().await?;
            anyhow::Ok(())
        };
        before.await.map_err(|e| SendError {
            error: e,
            outcome_unknown: false,
        })?;
        let t0 = Instant::now();
        match self.read_reply().await {
            Ok(r) if r.code == 250 => Ok(t0.elapsed()),
            // An answer, but a refusal: the message was not taken.
            Ok(r) => Err(SendError {
                error: anyhow::anyhow!("end of data: the server answered {} {}", r.code, r.text()),
                outcome_unknown: false,
            }),
            Err(e) => Err(SendError {
                error: e.context("end of data"),
                outcome_unknown: true,
            }),
        }
    }

    /// QUIT and its answer, then the TLS close_notify.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.command("QUIT", 221).await?;
        // A server that just closes is no error here.
        let _ = self.io.get_mut().shutdown().await;
        Ok(())
    }
}

/// A transaction that failed; see [`Conn::send_message`].
#[derive(Debug)]
pub struct SendError {
    pub error: anyhow::Error,
    /// The whole message had been sent and no answer came: the server may
    /// have stored it without its answer reaching us.
    pub outcome_unknown: bool,
}

async fn handshake(
    target: &Target,
    io: Box<dyn Stream>,
) -> anyhow::Result<(Box<dyn Stream>, TlsSummary)> {
    let tls = target
        .connector
        .connect(target.name.clone(), io)
        .await
        .context("TLS handshake")?;
    let summary = TlsSummary::of(tls.get_ref().1);
    Ok((Box::new(tls), summary))
}

async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
) -> anyhow::Result<()> {
    line.clear();
    let n = (&mut *r).take(MAX_LINE).read_until(b'\n', line).await?;
    if line.ends_with(b"\n") {
        return Ok(());
    }
    if n == 0 {
        bail!("the server closed the connection");
    }
    bail!(
        "the server closed the connection inside a line, or sent one longer than {MAX_LINE} octets"
    )
}

/// `250-text` or `250 text` (or a bare `250`): the code, whether it is the
/// last line, and the text.
fn parse_reply_line(line: &[u8]) -> anyhow::Result<(u16, bool, String)> {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let text = String::from_utf8_lossy(l);
    let code = text
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c))
        .with_context(|| format!("not an SMTP reply: {text:?}"))?;
    match text.as_bytes().get(3) {
        None => Ok((code, true, String::new())),
        Some(b' ') => Ok((code, true, text[4..].to_owned())),
        Some(b'-') => Ok((code, false, text[4..].to_owned())),
        Some(_) => bail!("not an SMTP reply: {text:?}"),
    }
}

/// The message as DATA carries it (RFC 5321 §4.5.2): a `.` before every
/// line that starts with one, then the `.` line that ends it. `message`
/// has CRLF line ends and ends with CRLF.
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + 64);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// RFC 4648 §4 base64, with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Makes the benchmark's messages: every one exactly `size` octets, CRLF
/// line ends, lines under 78 characters, a unique Message-ID (so that a
/// server that stored one twice or lost one can be told from one that did
/// not), and one body line that starts with `.` so that the dot-stuffing
/// is exercised.
#[derive(Debug)]
pub struct MessageMaker {
    run: String,
    size: usize,
}

impl MessageMaker {
    pub fn new(size: usize) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            run: format!("{}.{}", now.as_secs(), std::process::id()),
            size,
        }
    }

    /// The Message-ID of client `client`'s `seq`-th message.
    pub fn message_id(&self, client: usize, seq: u64) -> String {
        format!("<{}.{client}.{seq}@bench.postern.test>", self.run)
    }

    /// Client `client`'s `seq`-th message, written into `out`.
    pub fn make(&self, client: usize, seq: u64, from: &str, to: &str, out: &mut Vec<u8>) {
        out.clear();
        let mut h = String::with_capacity(512);
        let _ = write!(
            h,
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: Benchmark message {seq} of client {client}\r\n\
             Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\r\n",
            self.message_id(client, seq)
        );
        out.extend_from_slice(h.as_bytes());
        const WORDS: [&str; 12] = [
            "mail",
            "server",
            "queue",
            "durable",
            "message",
            "store",
            "commit",
            "latency",
            "loopback",
            "throughput",
            "envelope",
            "transport",
        ];
        let mut line_no = 0usize;
        let mut w = client + seq as usize;
        // Whole lines while they fit, the last one cut (or lengthened by
        // one octet) so that the message ends with CRLF at exactly `size`.
        while out.len() < self.size {
            let room = self.size.saturating_sub(out.len() + 2);
            let mut line = String::with_capacity(80);
            if line_no == 3 {
                line.push_str(". a line that starts with a dot");
            }
            while line.len() < 60 {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(WORDS[w % WORDS.len()]);
                w = w.wrapping_mul(7).wrapping_add(3);
            }
            match room.checked_sub(line.len()) {
                None => line.truncate(room),
                // One octet left after this line is too few for another.
                Some(1) => line.push('s'),
                Some(_) => {}
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            line_no += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i:?}");
        }
        assert_eq!(base64(b"\0u\0p"), "AHUAcA==");
    }

    #[test]
    fn stuffs_dots_and_terminates() {
        let mut out = Vec::new();
        dot_stuff(b"a\r\n.b\r\n..\r\n.\r\n", &mut out);
        assert_eq!(out, b"a\r\n..b\r\n...\r\n..\r\n.\r\n");
        out.clear();
        dot_stuff(b"no end", &mut out);
        assert_eq!(out, b"no end\r\n.\r\n");
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line(b"250-x.test\r\n").unwrap(),
            (250, false, "x.test".into())
        );
        assert_eq!(
            parse_reply_line(b"250 OK\r\n").unwrap(),
            (250, true, "OK".into())
        );
        assert_eq!(
            parse_reply_line(b"354\r\n").unwrap(),
            (354, true, String::new())
        );
        assert!(parse_reply_line(b"25 x\r\n").is_err());
        assert!(parse_reply_line(b"250x\r\n").is_err());
        assert!(parse_reply_line(b"hello\r\n").is_err());
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut conn = Conn::new(Box::new(client), None);
        server
            .write_all(b"250-a.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n550-no\r\n551 no\r\n")
            .await
            .unwrap();
        let r = conn.read_reply().await.unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, ["a.test", "PIPELINING", "SIZE 10"]);
        assert!(
            conn.read_reply().await.is_err(),
            "the code changed mid-reply"
        );
    }

    #[test]
    fn messages_have_the_size_and_a_unique_id() {
        let m = MessageMaker::new(4096);
        let mut a = Vec::new();
        let mut b = Vec::new();
        m.make(0, 1, "a@x.test", "b@x.test", &mut a);
        m.make(0, 2, "a@x.test", "b@x.test", &mut b);
        assert_eq!((a.len(), b.len()), (4096, 4096));
        assert!(a.ends_with(b"\r\n"));
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(text.contains(&m.message_id(0, 1)));
        assert!(!text.contains(&m.message_id(0, 2)));
        assert!(text.contains("\r\n. a line that starts with a dot"));
        for l in text.split("\r\n") {
            assert!(l.len() <= 78, "{l:?}");
            assert!(!l.contains('\n') && !l.contains('\r'));
        }
        let mut wire = Vec::new();
        dot_stuff(&a, &mut wire);
        assert!(wire.ends_with(b"\r\n.\r\n"));
        assert_eq!(wire.len(), a.len() + 1 + 3, "one stuffed dot, the end line");
    }
}
