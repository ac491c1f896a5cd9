//! The thin tokio driver around the reply parser: one connection, plain or
//! TLS, with a deadline on every wait (RFC 5321 §4.5.3.2).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::reply::{Reply, ReplyError, ReplyParser};

/// Why a conversation with a peer stopped before it finished.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by the peer")]
    Closed,
    #[error("protocol: {0}")]
    Reply(#[from] ReplyError),
    #[error("TLS handshake: {0}")]
    Tls(String),
    #[error("the peer sent data before the TLS handshake (RFC 3207 §5)")]
    PlaintextAfterStartTls,
}

/// A socket that may be TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn io(&mut self) -> &mut dyn Io {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.as_mut(),
        }
    }
}

/// What the TLS session turned out to be, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    pub version: String,
    pub cipher: String,
}

/// One SMTP client connection.
pub struct Conn {
    stream: Stream,
    parser: ReplyParser,
    buf: Box<[u8]>,
}

impl Conn {
    /// Wraps a connected socket; the caller reads the greeting.
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            stream: Stream::Plain(tcp),
            parser: ReplyParser::new(),
            buf: vec![0; 8192].into_boxed_slice(),
        }
    }

    /// Reads one complete reply within `limit`.
    pub async fn reply(&mut self, limit: Duration, what: &'static str) -> Result<Reply, ConnError> {
        tokio::time::timeout(limit, self.read_reply())
            .await
            .map_err(|_| ConnError::Timeout(what))?
    }

    async fn read_reply(&mut self) -> Result<Reply, ConnError> {
        loop {
            if let Some(r) = self.parser.next_reply()? {
                return Ok(r);
            }
            let n = self.stream.io().read(&mut self.buf).await?;
            if n == 0 {
                return Err(ConnError::Closed);
            }
            self.parser.feed(&self.buf[..n]);
        }
    }

    /// Writes bytes within `limit`.
    pub async fn send(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        what: &'static str,
    ) -> Result<(), ConnError> {
        let io = self.stream.io();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        tokio::time::timeout(limit, write)
            .await
            .map_err(|_| ConnError::Timeout(what))??;
        Ok(())
    }

    /// Sends a command and reads its reply, both within `limit`.
    pub async fn command(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        what: &'static str,
    ) -> Result<Reply, ConnError> {
        self.send(bytes, limit, what).await?;
        self.reply(limit, what).await
    }

    /// The TLS handshake after a 220 to STARTTLS. Bytes the peer sent
    /// after its 220 and before the handshake would be read as if they
    /// came under TLS (the client side of CVE-2011-0411): refused.
    pub async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        limit: Duration,
    ) -> Result<Self, ConnError> {
        if self.parser.has_buffered() {
            return Err(ConnError::PlaintextAfterStartTls);
        }
        let Stream::Plain(tcp) = self.stream else {
            return Err(ConnError::Tls("already under TLS".into()));
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = tokio::time::timeout(limit, connector.connect(name, tcp))
            .await
            .map_err(|_| ConnError::Timeout("TLS handshake"))?
            .map_err(|e| ConnError::Tls(e.to_string()))?;
        Ok(Self {
            stream: Stream::Tls(Box::new(tls)),
            parser: ReplyParser::new(),
            buf: self.buf,
        })
    }

    /// The negotiated TLS version and suite, if under TLS.
    pub fn tls(&self) -> Option<TlsSummary> {
        let Stream::Tls(s) = &self.stream else {
            return None;
        };
        let (_, conn) = s.get_ref();
        Some(TlsSummary {
            version: match conn.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
                other => format!("{other:?}"),
            },
            cipher: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
        })
    }

    /// Says QUIT and closes, ignoring errors: the transaction is over.
    pub async fn quit(mut self, limit: Duration) {
        let _ = self.command(super::command::QUIT, limit, "QUIT").await;
        let _ = self.stream.io().shutdown().await;
    }
}
