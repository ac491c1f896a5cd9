//! A POP3 client over implicit TLS (RFC 1939, RFC 8314): only what the
//! benchmarks send, but strict in what it accepts, so that a server that
//! answers wrongly shows up as errors instead of as speed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::client::Resumption;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The longest line accepted. RFC 1939 responses are at most 512 octets and
/// RFC 5322 message lines at most 1000, but real messages break the latter;
/// the bound only stops a broken server from making us buffer forever.
const MAX_LINE: u64 = 64 * 1024;

/// How to reach the server: address, trust and name. (No `Debug`: the
/// connector has none.)
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub connector: TlsConnector,
    pub name: ServerName<'static>,
}

/// The TLS client settings: only the given CA is trusted, the server's
/// name is verified as any mail client would.
pub fn client_config(ca: &Path, resume: bool, alpn: &[String]) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("reading the CA certificates in {}", ca.display()))?
    {
        roots.add(cert.with_context(|| format!("parsing {}", ca.display()))?)?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", ca.display());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Off by default: every session then pays a full handshake, the cost a
    // new client (or one whose ticket expired) brings to the server.
    if !resume {
        config.resumption = Resumption::disabled();
    }
    config.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Ok(config)
}

/// What the handshake agreed, to print beside the figures (both servers
/// must be compared on like terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    pub version: String,
    pub cipher_suite: String,
    pub key_exchange: String,
}

impl TlsSummary {
    pub fn of(c: &rustls::ClientConnection) -> Self {
        Self {
            version: c
                .protocol_version()
                .map_or_else(String::new, |v| format!("{v:?}")),
            cipher_suite: c
                .negotiated_cipher_suite()
                .map_or_else(String::new, |s| format!("{:?}", s.suite())),
            key_exchange: c
                .negotiated_key_exchange_group()
                .map_or_else(String::new, |g| format!("{:?}", g.name())),
        }
    }
}

/// One logged-in or not-yet-logged-in POP3 connection.
#[derive(Debug)]
pub struct Conn {
    io: BufReader<TlsStream<TcpStream>>,
    line: Vec<u8>,
}

impl Conn {
    /// TCP, the TLS handshake and the greeting.
    pub async fn connect(target: &Target) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        // Commands are single small writes waiting for an answer: Nagle
        // would only add delay.
        tcp.set_nodelay(true)?;
        let tls = target
            .connector
            .connect(target.name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        let mut conn = Self {
            io: BufReader::with_capacity(64 * 1024, tls),
            line: Vec::with_capacity(1024),
        };
        read_status(&mut conn.io, &mut conn.line)
            .await
            .context("greeting")?;
        Ok(conn)
    }

    pub fn tls(&self) -> TlsSummary {
        TlsSummary::of(self.io.get_ref().get_ref().1)
    }

    /// Sends one command line and reads its `+OK` status line.
    async fn command(&mut self, line: &str) -> anyhow::Result<String> {
        self.io.write_all(line.as_bytes()).await?;
        self.io.write_all(b"\r\n").await?;
        self.io.flush().await?;
        read_status(&mut self.io, &mut self.line).await
    }

    /// USER and PASS (the password is never put into an error message).
    pub async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        self.command(&format!("USER {user}"))
            .await
            .context("USER")?;
        self.command(&format!("PASS {password}"))
            .await
            .with_context(|| format!("PASS for {user}"))?;
        Ok(())
    }

    /// STAT: the number of messages in the maildrop and their octets.
    pub async fn stat(&mut self) -> anyhow::Result<(u64, u64)> {
        let status = self.command("STAT").await.context("STAT")?;
        let mut f = status.split_whitespace().skip(1);
        match (f.next().map(str::parse), f.next().map(str::parse)) {
            (Some(Ok(n)), Some(Ok(size))) => Ok((n, size)),
            _ => bail!("bad STAT answer {status:?}"),
        }
    }

    /// LIST: the message numbers and their sizes in octets.
    pub async fn list(&mut self) -> anyhow::Result<Vec<(u32, u64)>> {
        self.command("LIST").await.context("LIST")?;
        let mut body = Vec::new();
        read_multiline(&mut self.io, &mut self.line, Some(&mut body))
            .await
            .context("LIST")?;
        parse_list(&body)
    }

    /// RETR: the message's size in octets as received, after un-stuffing,
    /// with CRLF line ends (the size LIST announces, RFC 1939 §5).
    pub async fn retr(&mut self, n: u32) -> anyhow::Result<u64> {
        self.command(&format!("RETR {n}"))
            .await
            .with_context(|| format!("RETR {n}"))?;
        read_multiline(&mut self.io, &mut self.line, None)
            .await
            .with_context(|| format!("RETR {n}"))
    }

    /// QUIT, waiting for its answer so the server has finished the session
    /// (the next session of the account would otherwise find it locked).
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.command("QUIT").await.context("QUIT")?;
        // The close_notify; a server that just closes is no error here.
        let _ = self.io.get_mut().shutdown().await;
        Ok(())
    }
}

/// Reads one line, CRLF included. Fails on end of stream or on a line
/// longer than [`MAX_LINE`].
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, line: &mut Vec<u8>) -> anyhow::Result<()> {
    line.clear();
    let n = (&mut *r).take(MAX_LINE).read_until(b'\n', line).await?;
    if line.ends_with(b"\n") {
        return Ok(());
    }
    if n == 0 {
        bail!("the server closed the connection");
    }
    if n as u64 == MAX_LINE {
        bail!("a line longer than {MAX_LINE} octets");
    }
    bail!("the server closed the connection inside a line")
}

/// A line without its end: CRLF, or a bare LF, which is counted as CRLF by
/// the callers (what the octet counts of RFC 1939 assume).
fn without_eol(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
        None => line,
    }
}

/// Reads a status line; anything but `+OK` is an error carrying the
/// server's text.
pub async fn read_status<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
) -> anyhow::Result<String> {
    read_line(r, line).await?;
    let text = String::from_utf8_lossy(without_eol(line)).into_owned();
    if text == "+OK" || text.starts_with("+OK ") {
        return Ok(text);
    }
    bail!("the server answered {text:?}")
}

/// Reads the body of a multi-line answer up to the line that is exactly
/// `.`, removes the byte-stuffing (RFC 1939 §3: a line that starts with `.`
/// has another `.` put before it), and returns the octets of the body with
/// CRLF line ends. `out`, if given, receives that body.
pub async fn read_multiline<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    mut out: Option<&mut Vec<u8>>,
) -> anyhow::Result<u64> {
    let mut octets = 0u64;
    loop {
        read_line(r, line).await?;
        let text = without_eol(line);
        if text == b"." {
            return Ok(octets);
        }
        let text = text.strip_prefix(b".").unwrap_or(text);
        octets += text.len() as u64 + 2;
        if let Some(out) = out.as_deref_mut() {
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The lines of a LIST answer: `number size`.
fn parse_list(body: &[u8]) -> anyhow::Result<Vec<(u32, u64)>> {
    let text = std::str::from_utf8(body).context("LIST answer is not UTF-8")?;
    text.lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            match (f.next().map(str::parse), f.next().map(str::parse), f.next()) {
                (Some(Ok(n)), Some(Ok(size)), None) => Ok((n, size)),
                _ => bail!("bad LIST line {l:?}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(wire: &[u8]) -> anyhow::Result<(u64, Vec<u8>)> {
        let mut r = wire;
        let mut line = Vec::new();
        let mut out = Vec::new();
        let n = read_multiline(&mut r, &mut line, Some(&mut out)).await?;
        assert_eq!(n, out.len() as u64, "the count is the body's length");
        Ok((n, out))
    }

    #[tokio::test]
    async fn unstuffs_and_stops_at_the_lone_dot() {
        let wire = b"Subject: x\r\n\r\n..hidden\r\n...\r\n. not the end\r\n.\r\n+OK next\r\n";
        let (n, out) = body(wire).await.unwrap();
        assert_eq!(out, b"Subject: x\r\n\r\n.hidden\r\n..\r\n not the end\r\n");
        assert_eq!(n, 41);
    }

    #[tokio::test]
    async fn what_follows_the_terminator_is_left_unread() {
        let mut r: &[u8] = b"a\r\n.\r\n+OK after\r\n";
        let mut line = Vec::new();
        assert_eq!(read_multiline(&mut r, &mut line, None).await.unwrap(), 3);
        assert_eq!(read_status(&mut r, &mut line).await.unwrap(), "+OK after");
    }

    #[tokio::test]
    async fn bare_lf_counts_as_crlf_and_empty_body_is_zero() {
        assert_eq!(body(b"a\nb\r\n.\n").await.unwrap().0, 6);
        assert_eq!(body(b".\r\n").await.unwrap().0, 0);
        // ".." alone is a stuffed empty-looking line, not the end.
        assert_eq!(body(b"..\r\n.\r\n").await.unwrap().1, b".\r\n");
    }

    #[tokio::test]
    async fn truncated_answers_are_errors() {
        assert!(body(b"a\r\nb\r\n").await.is_err(), "no terminator");
        assert!(
            body(b"a\r\n.").await.is_err(),
            "terminator without its line end"
        );
        assert!(body(b"").await.is_err());
    }

    #[tokio::test]
    async fn status_lines() {
        let mut line = Vec::new();
        let mut r: &[u8] = b"+OK ready\r\n-ERR [AUTH] no\r\n+OKAY\r\n";
        assert_eq!(read_status(&mut r, &mut line).await.unwrap(), "+OK ready");
        let e = read_status(&mut r, &mut line).await.unwrap_err();
        assert!(e.to_string().contains("-ERR [AUTH] no"), "{e}");
        assert!(read_status(&mut r, &mut line).await.is_err());
    }

    #[test]
    fn list_lines() {
        assert_eq!(
            parse_list(b"1 120\r\n2 7\r\n").unwrap(),
            vec![(1, 120), (2, 7)]
        );
        assert!(parse_list(b"1\r\n").is_err());
        assert!(parse_list(b"1 2 3\r\n").is_err());
    }
}
