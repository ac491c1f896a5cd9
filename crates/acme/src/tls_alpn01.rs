//! The tls-alpn-01 challenge (RFC 8737): the CA opens TLS to port 443
//! offering only the ALPN protocol `acme-tls/1` and the name as SNI, and
//! expects a self-signed certificate for that name carrying the SHA-256
//! digest of the key authorization in the critical acmeIdentifier
//! extension (§3).
//!
//! A running server answers through its HTTPS listener: the challenge
//! certificates go into the [`AcmeChallenges`] its resolvers read
//! ([`TlsAlpn01::shared`]). Without a server, a temporary listener that
//! speaks nothing but `acme-tls/1` answers for the length of an order
//! ([`TlsAlpn01::start`]): a ClientHello without it, or for a name without
//! a challenge, gets no certificate and the handshake fails. Either way the
//! connection is closed after the handshake (§3: no application data).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postern_tls::resolver::AcmeChallenges;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::AcmeError;

/// The ALPN protocol of RFC 8737 §6.2.
pub use postern_tls::resolver::ACME_TLS_ALPN;
/// Validation connections served at once.
const MAX_CONNECTIONS: usize = 32;
/// How long one validation handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One order at a time answers through the server's listeners: a name
/// has one challenge certificate, and the CA's validation says nothing of
/// which order it is for, so two orders for one name (an ECDSA and an RSA
/// certificate, say) would replace each other's answer.
static SHARED_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Answers tls-alpn-01 for one order; dropping it withdraws every
/// challenge it published and stops its temporary listener, if any.
#[derive(Debug)]
pub struct TlsAlpn01 {
    certs: AcmeChallenges,
    provider: Arc<CryptoProvider>,
    /// The temporary listener's task; `None` when a server answers.
    task: Option<JoinHandle<()>>,
    published: Vec<String>,
    /// Held while publishing into a server's map.
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl TlsAlpn01 {
    /// Listens on `listen`. A running server on that address is not used
    /// (its listeners do not answer tls-alpn-01): the port must be free.
    pub async fn start(listen: SocketAddr) -> Result<Self, AcmeError> {
        let socket = match TcpListener::bind(listen).await {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                return Err(AcmeError::TlsAlpnBusy(listen))
            }
            Err(e) => {
                return Err(AcmeError::Listen {
                    addr: listen,
                    source: e,
                })
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs = AcmeChallenges::default();
        let config = server_config(provider.clone(), certs.clone())?;
        let task = tokio::spawn(serve(socket, TlsAcceptor::from(Arc::new(config))));
        tracing::info!(%listen, "answering tls-alpn-01 challenges on a temporary listener");
        Ok(Self {
            certs,
            provider,
            task: Some(task),
            published: Vec::new(),
            _turn: None,
        })
    }

    /// Publishes into `certs`, which a running server's HTTPS listeners
    /// read: they answer the CA. Waits while another order does.
    pub async fn shared(certs: AcmeChallenges) -> Self {
        let turn = SHARED_TURN.lock().await;
        Self {
            certs,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            task: None,
            published: Vec::new(),
            _turn: Some(turn),
        }
    }

    /// Makes and serves the challenge certificate for `name`; `digest` is
    /// the SHA-256 of the key authorization (RFC 8737 §3).
    pub fn publish(&mut self, name: &str, digest: &[u8]) -> Result<(), AcmeError> {
        let key = challenge_cert(name, digest, &self.provider)?;
        self.certs.publish(name, Arc::new(key));
        self.published.push(name.to_owned());
        Ok(())
    }
}

impl Drop for TlsAlpn01 {
    fn drop(&mut self) {
        for name in &self.published {
            self.certs.withdraw(name);
        }
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// TLS 1.2 and 1.3 (RFC 8737 §4 forbids older), `acme-tls/1` only.
fn server_config(
    provider: Arc<CryptoProvider>,
    certs: AcmeChallenges,
) -> Result<ServerConfig, AcmeError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::Key(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver(certs)));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(config)
}

fn challenge_cert(
    name: &str,
    digest: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, AcmeError> {
    let err = |e: &dyn std::fmt::Display| AcmeError::Key(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(|e| err(&e))?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let cert = params.self_signed(&key).map_err(|e| err(&e))?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Not `CertifiedKey::from_der`: its consistency check parses the
    // certificate with webpki, which rejects the critical acmeIdentifier
    // extension it does not know. The key is the one just signed with.
    let signing_key = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| err(&e))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}

/// Serves a challenge certificate only to a ClientHello that offers
/// `acme-tls/1` and names a published challenge (RFC 8737 §3).
#[derive(Debug)]
struct Resolver(AcmeChallenges);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offers_acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        let name = hello.server_name()?.to_ascii_lowercase();
        if !offers_acme {
            return None;
        }
        self.0.get(&name)
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor) {
    // A CA makes a few validation connections; more at once is someone
    // else, who need not get a task each (STYLE: a semaphore before accept).
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a challenge connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(mut tls)) => {
                    tracing::info!(%peer, "tls-alpn-01 handshake done");
                    let _ = tls.shutdown().await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls-alpn-01 handshake failed"),
                Err(_) => tracing::debug!(%peer, "tls-alpn-01 handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_certificate_carries_the_digest_for_the_name() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let digest = [7u8; 32];
        let ck = challenge_cert("mail.example.org", &digest, &provider).unwrap();
        let der = ck.cert[0].as_ref();
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        // id-pe-acmeIdentifier, RFC 8737 §6.1: 1.3.6.1.5.5.7.1.31, critical.
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("the acmeIdentifier extension");
        assert!(ext.critical);
        // An OCTET STRING of the 32-byte digest.
        assert_eq!(&ext.value[2..], &digest);
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 1);
    }
}

#[cfg(test)]
mod listener_tests {
    use super::*;
    use rustls::{ClientConfig, RootCertStore};
    use rustls_pki_types::ServerName;
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;

    /// A handshake to the listener; the error says who gave up.
    async fn handshake(addr: SocketAddr, name: &str, alpn: &[&[u8]]) -> std::io::Error {
        let mut config = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect_err("no client trusts a challenge certificate")
    }

    #[tokio::test]
    async fn only_acme_tls_for_a_published_name_gets_a_certificate() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut l = TlsAlpn01::start(port).await.unwrap();
        l.publish("mail.example.org", &[1u8; 32]).unwrap();
        // The server sent a certificate: the client refused it (unknown
        // issuer), so the listener's side of the handshake worked.
        let e = handshake(port, "mail.example.org", &[ACME_TLS_ALPN]).await;
        assert!(e.to_string().contains("invalid peer certificate"), "{e}");
        // Not offering acme-tls/1, or another name: the server refuses.
        for (name, alpn) in [
            ("mail.example.org", &[b"http/1.1".as_slice()][..]),
            ("mail.example.org", &[][..]),
            ("other.example.org", &[ACME_TLS_ALPN][..]),
        ] {
            let e = handshake(port, name, alpn).await;
            assert!(
                e.to_string().contains("received fatal alert"),
                "{name} {alpn:?}: {e}"
            );
        }
        // A second listener on the same address is refused with advice.
        let busy = TlsAlpn01::start(port).await.unwrap_err();
        assert!(busy.to_string().contains("--challenge http-01"), "{busy}");
    }

    #[tokio::test]
    async fn server_answers_are_withdrawn_and_orders_take_turns() {
        let map = AcmeChallenges::default();
        let mut first = TlsAlpn01::shared(map.clone()).await;
        first.publish("mail.example.org", &[1u8; 32]).unwrap();
        assert!(map.get("MAIL.example.org").is_some());
        // A second order (the RSA twin of the first) waits its turn.
        let second = tokio::spawn(TlsAlpn01::shared(map.clone()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished());
        drop(first);
        assert!(map.get("mail.example.org").is_none());
        let second = timeout(Duration::from_secs(5), second).await;
        assert!(second.is_ok(), "the second order never got its turn");
    }
}
