//! The connection to a back end: TCP, the PROXY v2 header, TLS (implicit
//! or after STARTTLS) verified against a CA or a pinned certificate, and
//! line reads with a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postern_config::proxy::{ProxyConfig, Upstream, UpstreamTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// How long the back end may take for each step of the login dialogue
/// (connect, handshake, each reply). A back end this slow is treated as
/// down: the client gets a temporary failure and can retry.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest line read from a back end during the login dialogue (a
/// CAPABILITY line with every extension fits many times over).
const MAX_LINE: usize = 64 * 1024;

/// A stream to the back end, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why the dialogue with the back end failed.
#[derive(Debug)]
pub enum Failure {
    /// Down, unreachable, slow, its TLS unverifiable, or it spoke
    /// something unexpected: a temporary failure for the client, an
    /// error in the log (the text says what the administrator should
    /// check).
    Unavailable(String),
    /// The back end refused the credentials; its own words, for the log.
    Refused(String),
}

impl Failure {
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable(what.into())
    }
}

/// How to reach the back ends of one listener.
#[derive(Clone)]
pub struct Connector {
    tls: UpstreamTls,
    /// `Some` unless `upstream_tls = "none"`.
    client: Option<Arc<ClientConfig>>,
    name: Option<String>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Reads the CA bundle (or the system's) or decodes the pin. The error
    /// says which key to fix.
    pub fn new(config: &ProxyConfig) -> Result<Self, String> {
        let client = match config.upstream_tls {
            UpstreamTls::None => None,
            _ => Some(client_config(config)?),
        };
        Ok(Self {
            tls: config.upstream_tls,
            client,
            name: config.upstream_name.clone(),
        })
    }

    /// Whether TLS is started by a command after the greeting.
    pub fn starttls(&self) -> bool {
        self.tls == UpstreamTls::StartTls
    }

    /// Connects, sends the PROXY v2 header if given, and starts TLS at
    /// once when it is implicit.
    pub async fn connect(&self, to: &Upstream, header: Option<&[u8]>) -> Result<Link, Failure> {
        let addr = (to.host.as_str(), to.port);
        let tcp = match timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
            Err(_) => return Err(Failure::unavailable(format!("{to}: connect timed out"))),
            Ok(Err(e)) => return Err(Failure::unavailable(format!("{to}: cannot connect: {e}"))),
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        let mut link = Link::new(Box::new(tcp), to.clone());
        if let Some(header) = header {
            link.send(header).await?;
        }
        if self.tls == UpstreamTls::Implicit {
            link = self.start_tls(link).await?;
        }
        Ok(link)
    }

    /// The TLS handshake over the link (after the back end's go-ahead for
    /// STARTTLS, or at once for implicit TLS), verified.
    pub async fn start_tls(&self, link: Link) -> Result<Link, Failure> {
        let to = link.upstream.clone();
        let Some(client) = self.client.clone() else {
            return Err(Failure::unavailable(format!(
                "{to}: TLS asked without a TLS configuration"
            )));
        };
        if !link.buf.is_empty() {
            // RFC 3207 §4.2 / RFC 9051 §6.2.1: what came before the
            // handshake must not be mixed into the TLS session.
            return Err(Failure::unavailable(format!(
                "{to}: sent data after its STARTTLS go-ahead; refusing to continue"
            )));
        }
        let name = self.name.clone().unwrap_or_else(|| to.host.clone());
        let server_name = ServerName::try_from(name.clone()).map_err(|_| {
            Failure::unavailable(format!(
                "{to}: \"{name}\" is not a name TLS can verify; set upstream_name"
            ))
        })?;
        let connect = TlsConnector::from(client).connect(server_name, link.stream);
        match timeout(STEP_TIMEOUT, connect).await {
            Err(_) => Err(Failure::unavailable(format!(
                "{to}: TLS handshake timed out"
            ))),
            Ok(Err(e)) => Err(Failure::unavailable(format!(
                "{to}: TLS handshake failed: {e} (check upstream_ca, upstream_name or upstream_pin)"
            ))),
            Ok(Ok(tls)) => Ok(Link::new(Box::new(tls), to)),
        }
    }
}

/// The rustls client configuration: a pin, else the CA bundle, else the
/// system's roots.
fn client_config(config: &ProxyConfig) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    if let Some(pin) = &config.upstream_pin {
        let pin = postern_auth::sasl::decode(pin)
            .ok()
            .and_then(|p| <[u8; 32]>::try_from(p).ok())
            .ok_or("upstream_pin: not the base64 of a SHA-256 digest; compute it again")?;
        let verifier = Arc::new(PinVerifier {
            pin,
            provider: provider.clone(),
        });
        let c = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        return Ok(Arc::new(c));
    }
    let extra = match &config.upstream_ca {
        Some(path) => ca_bundle(path)?,
        None => Vec::new(),
    };
    let trust = postern_outbound::tls::Trust::new(config.upstream_ca.is_none(), &extra)
        .map_err(|e| format!("upstream_ca: {e}"))?;
    let check = postern_outbound::tls::Check::Pkix { enforce: true };
    Ok(trust.client_config(check, &[]).0)
}

fn ca_bundle(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    // Read once as a CA bundle for its clear errors (empty, not PEM, not
    // a usable CA), then kept as certificates for the verifier.
    postern_tls::policy::client_roots(path)
        .map_err(|e| format!("upstream_ca {}: {e}", path.display()))?;
    CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("upstream_ca {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("upstream_ca {}: {e}", path.display()))
}

/// SHA-256, from the TLS provider's own hash (no other crypto crate).
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    use rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256;
    match TLS13_AES_128_GCM_SHA256 {
        rustls::SupportedCipherSuite::Tls13(s) => {
            s.common.hash_provider.hash(bytes).as_ref().to_vec()
        }
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// Accepts exactly the pinned end-entity certificate; its handshake
/// signatures are still checked, so only the holder of its key passes.
#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if sha256(end_entity.as_ref()) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the back end's certificate does not match upstream_pin".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connection to a back end with what was read and not yet used.
pub struct Link {
    pub stream: Box<dyn Stream>,
    pub upstream: Upstream,
    /// Read, not yet consumed: after the login it goes to the client first.
    pub buf: Vec<u8>,
}

impl Link {
    fn new(stream: Box<dyn Stream>, upstream: Upstream) -> Self {
        Self {
            stream,
            upstream,
            buf: Vec::new(),
        }
    }

    /// Writes and flushes, bounded in time.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let to = &self.upstream;
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout(STEP_TIMEOUT, write).await {
            Err(_) => Err(Failure::unavailable(format!("{to}: write timed out"))),
            Ok(Err(e)) => Err(Failure::unavailable(format!("{to}: write failed: {e}"))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// One line without its CRLF (or LF).
    pub async fn line(&mut self) -> Result<String, Failure> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buf.len() > MAX_LINE {
                let to = &self.upstream;
                return Err(Failure::unavailable(format!("{to}: line too long")));
            }
            self.fill().await?;
        }
    }

    /// Reads more into the buffer.
    async fn fill(&mut self) -> Result<(), Failure> {
        let to = &self.upstream;
        let mut chunk = [0u8; 4096];
        match timeout(STEP_TIMEOUT, self.stream.read(&mut chunk)).await {
            Err(_) => Err(Failure::unavailable(format!("{to}: no answer in time"))),
            Ok(Err(e)) => Err(Failure::unavailable(format!("{to}: read failed: {e}"))),
            Ok(Ok(0)) => Err(Failure::unavailable(format!("{to}: closed the connection"))),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }
}

/// The HAProxy PROXY protocol version 2 header for a TCP connection from
/// `src` to `dst` (proxy-protocol.txt §2.2): signature, version 2 and
/// PROXY command, the address family and TCP, the length, then the
/// addresses and ports in network order. Mixed families (an IPv4 client
/// on an IPv6 socket) are given as IPv6, mapping the IPv4 address.
pub fn proxy_v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
    let mut h = SIGNATURE.to_vec();
    h.push(0x21); // version 2, PROXY
    let (src_ip, dst_ip) = (src.ip().to_canonical(), dst.ip().to_canonical());
    match (src_ip, dst_ip) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => {
            h.push(0x11); // AF_INET, STREAM
            h.extend_from_slice(&12u16.to_be_bytes());
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: std::net::IpAddr| match ip {
                std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                std::net::IpAddr::V6(v6) => v6,
            };
            h.push(0x21); // AF_INET6, STREAM
            h.extend_from_slice(&36u16.to_be_bytes());
            h.extend_from_slice(&v6(s).octets());
            h.extend_from_slice(&v6(d).octets());
        }
    }
    h.extend_from_slice(&src.port().to_be_bytes());
    h.extend_from_slice(&dst.port().to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_v2_ipv4_header_is_byte_exact() {
        let h = proxy_v2_header(
            "192.0.2.7:51000".parse().unwrap(),
            "198.51.100.1:993".parse().unwrap(),
        );
        let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        want.extend_from_slice(&[0x21, 0x11, 0, 12, 192, 0, 2, 7, 198, 51, 100, 1]);
        want.extend_from_slice(&[0xc7, 0x38, 0x03, 0xe1]);
        assert_eq!(h, want);
    }

    #[test]
    fn proxy_v2_ipv6_and_mixed_families() {
        let h = proxy_v2_header(
            "[2001:db8::7]:1".parse().unwrap(),
            "[::1]:2".parse().unwrap(),
        );
        assert_eq!(&h[12..16], &[0x21, 0x21, 0, 36]);
        assert_eq!(h.len(), 16 + 36);
        let mixed = proxy_v2_header("192.0.2.7:1".parse().unwrap(), "[::1]:2".parse().unwrap());
        assert_eq!(mixed[13], 0x21);
        assert_eq!(
            &mixed[16..32],
            &"::ffff:192.0.2.7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        let d = sha256(b"abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(d.len(), 32);
    }
}
