//! A line-oriented test client that keeps a transcript and prints it when an
//! expectation fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// How long any expectation waits.
pub const WAIT: Duration = Duration::from_secs(5);

/// A client speaking lines over any stream.
pub struct LineClient<S> {
    stream: BufReader<S>,
    transcript: String,
}

impl<S> std::fmt::Debug for LineClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LineClient\n{}", self.transcript)
    }
}

/// Connects over TLS, verifying the server against `config`'s roots.
pub async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

impl LineClient<TcpStream> {
    /// A plain TCP connection.
    pub async fn plain(addr: SocketAddr) -> Self {
        Self::new(TcpStream::connect(addr).await.expect("connect"))
    }

    /// STARTTLS done: hand the TCP stream to TLS (the buffer must be empty).
    pub async fn upgrade(
        self,
        sni: &str,
        config: Arc<ClientConfig>,
    ) -> std::io::Result<LineClient<TlsStream<TcpStream>>> {
        assert!(
            self.stream.buffer().is_empty(),
            "server sent bytes after its STARTTLS answer:\n{}",
            self.transcript
        );
        let name = ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
        let tcp = self.stream.into_inner();
        let tls = tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
            .await
            .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
        let mut c = LineClient::new(tls);
        c.transcript = self.transcript + "-- TLS --\n";
        Ok(c)
    }
}

impl LineClient<TlsStream<TcpStream>> {
    /// An implicit-TLS connection.
    pub async fn tls(
        addr: SocketAddr,
        sni: &str,
        config: Arc<ClientConfig>,
    ) -> std::io::Result<Self> {
        Ok(Self::new(tls_connect(addr, sni, config).await?))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> LineClient<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream: BufReader::new(stream),
            transcript: String::new(),
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// The underlying stream, to read or write around the line discipline.
    pub fn get_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }

    /// Sends raw bytes (no line ending added).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // Long sends (a 1 MB line) are shortened so a failure stays readable.
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            .escape_debug()
            .to_string();
        let more = if bytes.len() > 200 {
            format!("... ({} bytes)", bytes.len())
        } else {
            String::new()
        };
        self.transcript.push_str(&format!("C: {shown}{more}\n"));
        self.stream.get_mut().write_all(bytes).await.expect("write");
        self.stream.get_mut().flush().await.expect("flush");
    }

    /// Sends one line with CRLF.
    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Reads one line (without CRLF); `None` at EOF.
    pub async fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, self.stream.read_line(&mut line))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for a line; transcript:\n{}",
                    self.transcript
                )
            })
            .ok()?;
        if n == 0 {
            self.transcript.push_str("S: <EOF>\n");
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        self.transcript.push_str(&format!("S: {line}\n"));
        Some(line)
    }

    /// Reads one line and checks its start.
    pub async fn expect(&mut self, prefix: &str) -> String {
        match self.read_line().await {
            Some(l) if l.starts_with(prefix) => l,
            other => panic!(
                "expected a line starting with {prefix:?}, got {other:?}; transcript:\n{}",
                self.transcript
            ),
        }
    }

    /// Reads lines up to and including one starting with `prefix`.
    pub async fn read_until(&mut self, prefix: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            match self.read_line().await {
                Some(l) => {
                    let done = l.starts_with(prefix);
                    lines.push(l);
                    if done {
                        return lines;
                    }
                }
                None => panic!(
                    "EOF before a line starting with {prefix:?}; transcript:\n{}",
                    self.transcript
                ),
            }
        }
    }

    /// Expects the server to close the connection (EOF or reset) without
    /// sending another line, within the wait.
    pub async fn expect_closed(&mut self) {
        if let Some(l) = self.read_line().await {
            panic!(
                "expected the connection to close, got {l:?}; transcript:\n{}",
                self.transcript
            );
        }
    }

    /// The exchange so far.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }
}
