//! What every module shares: the test account, two messages, a server
//! holding them, and an IMAP client that reads whole responses.
//!
//! A response may carry literals (`{12}` then twelve octets, which may
//! hold CRLFs; RFC 9051 §4.3), so the client reads by the grammar, not by
//! the line: each item of a command's answer is one complete response,
//! its literals inlined after their `{n}` and CRLF. On any failure the
//! whole exchange is printed.

use std::time::Duration;

use postern_testkit::client::tls_connect;
use postern_testkit::TestServer;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

pub(crate) const HOST: &str = "mail.example.test";
pub(crate) const ALICE: &str = "alice@example.test";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// How long one response may take.
const WAIT: Duration = Duration::from_secs(5);

pub(crate) const FIRST: &[u8] = b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n\
Subject: first\r\nMessage-ID: <1@example.test>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
\r\nfirst body\r\n";

pub(crate) const SECOND: &[u8] = b"From: carol@example.test\r\nSubject: second\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
hello part\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
\r\nAAEC\r\n--b--\r\n";

/// A multipart/mixed holding a multipart/alternative (quoted-printable
/// text and base64 HTML) and a forwarded message with its own multipart.
pub(crate) const NESTED: &str = "From: Alice <alice@example.test>\r
To: Bob <bob@example.test>, carol@example.test\r
Cc: dave@example.test\r
Subject: nested\r
Date: Tue, 2 Jan 2024 10:00:00 +0000\r
Message-ID: <nested@example.test>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"outer\"\r
Content-Language: en\r
\r
This is the preamble.\r
--outer\r
Content-Type: multipart/alternative; boundary=\"alt\"\r
\r
--alt\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: quoted-printable\r
\r
caf=C3=A9 au lait\r
second line\r
--alt\r
Content-Type: text/html; charset=UTF-8\r
Content-Transfer-Encoding: base64\r
\r
PHA+Y2Fmw6k8L3A+\r
--alt--\r
\r
--outer\r
Content-Type: message/rfc822\r
Content-Disposition: attachment; filename=\"fwd.eml\"\r
Content-Language: en, de\r
Content-Location: http://example.test/fwd\r
Content-Description: forwarded\r
\r
From: Erin <erin@example.test>\r
Subject: inner\r
Date: Mon, 1 Jan 2024 09:00:00 +0100\r
Content-Type: multipart/mixed; boundary=\"in\"\r
\r
--in\r
Content-Type: text/plain\r
\r
inner text\r
--in\r
Content-Type: application/pdf; name=\"a.pdf\"\r
Content-Transfer-Encoding: base64\r
Content-Disposition: inline; filename=\"a.pdf\"\r
Content-ID: <pdf@example.test>\r
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r
\r
JVBERi0xLjQK\r
--in--\r
\r
--outer--\r
";

/// An IMAP client over any stream, reading complete responses.
pub(crate) struct Imap<S> {
    stream: BufReader<S>,
    transcript: String,
}

/// The usual client: implicit TLS.
pub(crate) type Client = Imap<TlsStream<TcpStream>>;

impl<S: AsyncRead + AsyncWrite + Unpin> Imap<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self {
            stream: BufReader::new(stream),
            transcript: String::new(),
        }
    }

    /// Sends raw bytes, as they are.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
        self.transcript
            .push_str(&format!("C: {}\n", shown.escape_debug()));
        let w = self.stream.get_mut();
        w.write_all(bytes).await.expect("write");
        w.flush().await.expect("flush");
    }

    /// Sends one line with its CRLF.
    pub(crate) async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Reads one complete response as bytes, without the final CRLF;
    /// `None` at EOF.
    pub(crate) async fn response_bytes(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let start = out.len();
            let n = within(&self.transcript, read_line(&mut self.stream, &mut out)).await;
            if n == 0 {
                self.transcript.push_str("S: <EOF>\n");
                return None;
            }
            let Some(len) = literal_len(&out[start..]).filter(|_| !out.starts_with(b"+")) else {
                break;
            };
            let end = out.len() + len;
            out.resize(end, 0);
            let read = read_exact(&mut self.stream, &mut out[end - len..]);
            within(&self.transcript, read).await;
        }
        while out.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            out.pop();
        }
        self.transcript.push_str(&format!(
            "S: {}\n",
            String::from_utf8_lossy(&out).escape_debug()
        ));
        Some(out)
    }

    /// Reads one complete response (literals inlined, lossy UTF-8).
    pub(crate) async fn response(&mut self) -> Option<String> {
        let bytes = self.response_bytes().await?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads one response and checks its start.
    pub(crate) async fn expect(&mut self, prefix: &str) -> String {
        match self.response().await {
            Some(l) if l.starts_with(prefix) => l,
            other => panic!(
                "expected a response starting with {prefix:?}, got {other:?}; transcript:\n{}",
                self.transcript
            ),
        }
    }

    /// Reads responses up to and including one starting with `prefix`.
    pub(crate) async fn read_until(&mut self, prefix: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let Some(l) = self.response().await else {
                panic!(
                    "EOF before a response starting with {prefix:?}; transcript:\n{}",
                    self.transcript
                );
            };
            let done = l.starts_with(prefix);
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// The exchange so far.
    pub(crate) fn transcript(&self) -> &str {
        &self.transcript
    }
}

impl Imap<TcpStream> {
    /// A plain connection to `listener`, greeting read.
    pub(crate) async fn plain(srv: &TestServer, listener: &str) -> Self {
        let tcp = TcpStream::connect(srv.addr(listener))
            .await
            .expect("connect");
        let mut c = Self::new(tcp);
        c.expect("* OK").await;
        c
    }

    /// Starts TLS after the server's OK to STARTTLS; any octet the server
    /// sent after that OK fails the test (RFC 9051 §6.2.1).
    pub(crate) async fn start_tls(self, srv: &TestServer) -> Client {
        assert!(
            self.stream.buffer().is_empty(),
            "octets after the STARTTLS answer:\n{}",
            self.transcript
        );
        let name = ServerName::try_from(HOST.to_owned()).expect("host name");
        let connector = TlsConnector::from(srv.client_config(&[]));
        let tcp = self.stream.into_inner();
        let tls = within(&self.transcript, connector.connect(name, tcp))
            .await
            .unwrap_or_else(|e| panic!("TLS after STARTTLS: {e}"));
        let mut c = Imap::new(tls);
        c.transcript = self.transcript + "-- TLS --\n";
        c
    }
}

/// Waits for `fut` at most [`WAIT`], or fails with the transcript.
async fn within<T>(transcript: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting; transcript:\n{transcript}"),
    }
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R, out: &mut Vec<u8>) -> usize {
    r.read_until(b'\n', out).await.unwrap_or(0)
}

async fn read_exact<R: AsyncReadExt + Unpin>(r: &mut R, out: &mut [u8]) {
    r.read_exact(out).await.expect("the literal's octets");
}

/// The octet count of a literal that ends `line` (`{12}`, `{12+}`,
/// `~{12}`; RFC 9051 §4.3, RFC 3516 §4.2), if it ends with one.
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let line = line.strip_suffix(b"+").unwrap_or(line);
    let open = line.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

/// Connects to the implicit-TLS IMAP listener and reads the greeting.
pub(crate) async fn imaps(srv: &TestServer) -> Client {
    let tls = tls_connect(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .expect("TLS to imaps");
    let mut c = Imap::new(tls);
    c.expect("* OK").await;
    c
}

/// A session logged in as [`ALICE`].
pub(crate) async fn login(srv: &TestServer) -> Client {
    let mut c = imaps(srv).await;
    let ok = cmd(&mut c, &format!("l LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(ok.last().unwrap().starts_with("l OK [CAPABILITY"), "{ok:?}");
    c
}

/// Sends `line` (which starts with its tag) and reads up to the tagged
/// response, which must be OK.
pub(crate) async fn cmd<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Imap<S>,
    line: &str,
) -> Vec<String> {
    let lines = any(c, line).await;
    let tag = line.split(' ').next().unwrap();
    assert!(
        lines.last().unwrap().starts_with(&format!("{tag} OK")),
        "{line}: {lines:?}\n{}",
        c.transcript()
    );
    lines
}

/// Sends `line` and reads up to its tagged response, whatever it is.
pub(crate) async fn any<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Imap<S>,
    line: &str,
) -> Vec<String> {
    c.send(line).await;
    let tag = line.split(' ').next().unwrap();
    c.read_until(&format!("{tag} ")).await
}

/// Whether any response contains `text`.
pub(crate) fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

/// A server where [`ALICE`]'s INBOX holds [`FIRST`] and [`SECOND`], both
/// old (not \Recent).
pub(crate) async fn with_mail() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.deliver(ALICE, FIRST);
    srv.deliver(ALICE, SECOND);
    forget_recent(&srv);
    srv
}

/// Makes the INBOX's messages old, as if an earlier session had selected
/// it: none is \Recent in the sessions of the test (RFC 3501 §2.3.2).
pub(crate) fn forget_recent(srv: &TestServer) {
    let store = srv.server().store();
    let account = store.account(ALICE).unwrap().unwrap();
    let inbox = store.mailbox(account.id, "INBOX").unwrap().unwrap();
    store.claim_recent(inbox.id).unwrap();
}

/// A server whose INBOX holds [`FIRST`], [`SECOND`] and three short
/// messages with subjects `m3` to `m5`: UIDs 1 to 5, none \Recent.
pub(crate) async fn with_five() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.deliver(ALICE, FIRST);
    srv.deliver(ALICE, SECOND);
    for n in 3..=5 {
        srv.deliver(
            ALICE,
            format!("Subject: m{n}\r\n\r\nbody {n}\r\n").as_bytes(),
        );
    }
    forget_recent(&srv);
    srv
}

/// The text inside response code `name` (`[UIDVALIDITY 5]` gives `5`,
/// `[COPYUID 5 1:2 3,4]` gives `5 1:2 3,4`), from the first response
/// that has it.
pub(crate) fn code(lines: &[String], name: &str) -> Option<String> {
    let open = format!("[{name}");
    lines.iter().find_map(|l| {
        let start = l.find(&open)? + open.len();
        let rest = &l[start..];
        let end = rest.find(']')?;
        let inner = &rest[..end];
        if !inner.is_empty() && !inner.starts_with(' ') {
            return None;
        }
        Some(inner.trim_start().to_owned())
    })
}

/// Applies the `* n EXPUNGE` responses among `lines`, in order, to the
/// UIDs a client knows, as RFC 9051 §7.5.1 tells a client to: each
/// number is right at the moment it is read, and later ones shift down.
pub(crate) fn expunge(uids: &mut Vec<u32>, lines: &[String]) {
    for line in lines {
        let Some(n) = line
            .strip_prefix("* ")
            .and_then(|l| l.strip_suffix(" EXPUNGE"))
        else {
            continue;
        };
        let n: usize = n.parse().unwrap_or_else(|_| panic!("bad EXPUNGE: {line}"));
        assert!(
            (1..=uids.len()).contains(&n),
            "EXPUNGE {n} of {} messages: {lines:?}",
            uids.len()
        );
        uids.remove(n - 1);
    }
}

/// Base64 (RFC 4648 §4, with padding), for SASL responses.
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
