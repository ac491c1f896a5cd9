//! The HTTPS client the ACME exchange runs over: one HTTP/1.1 connection
//! per request on tokio-rustls, trusting only the roots the caller gives
//! (the system's bundle, or a private CA's for a test or in-house ACME CA).
//!
//! An ACME client makes a handful of requests per certificate, so there is
//! no connection pool; every wait has a deadline, so a CA that stops
//! answering fails the command instead of hanging it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HOST;
use http::uri::PathAndQuery;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// How long one request (connect, handshake, exchange) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response we read: a certificate chain or a directory is a
/// few KiB; a server sending more is not an ACME CA.
const MAX_BODY: usize = 1024 * 1024;

/// An [`HttpClient`] over tokio-rustls with the given TLS configuration.
#[derive(Debug, Clone)]
pub struct TlsHttpClient {
    tls: Arc<ClientConfig>,
}

impl TlsHttpClient {
    /// `tls` decides which CAs are trusted; its ALPN should offer
    /// `http/1.1` (or nothing), the only protocol spoken here.
    pub fn new(tls: Arc<ClientConfig>) -> Self {
        Self { tls }
    }
}

impl HttpClient for TlsHttpClient {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            let uri = req.uri().to_string();
            match timeout(REQUEST_TIMEOUT, send(tls, req)).await {
                Ok(r) => r.map_err(|e| Error::Other(format!("{uri}: {e}").into())),
                Err(_) => Err(Error::Other(
                    format!("{uri}: no answer within {REQUEST_TIMEOUT:?}").into(),
                )),
            }
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn send(
    tls: Arc<ClientConfig>,
    mut req: Request<BodyWrapper<Bytes>>,
) -> Result<BytesResponse, BoxError> {
    let (host, port, authority) = target(req.uri())?;
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    let name = ServerName::try_from(host.clone())?;
    let stream = TlsConnector::from(tls).connect(name, tcp).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "ACME HTTP connection ended with an error");
        }
    });
    // HTTP/1.1 wants the origin form and a Host header (RFC 9112 §3.2).
    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(path);
    req.headers_mut().insert(HOST, authority.parse()?);
    let rsp = sender.send_request(req).await?;
    let (parts, body) = rsp.into_parts();
    let body = Limited::new(body, MAX_BODY).collect().await?.to_bytes();
    Ok(BytesResponse::from(http::Response::from_parts(
        parts,
        Full::new(body),
    )))
}

/// Host, port and Host-header value of an `https` URL. RFC 8555 §6.1: all
/// ACME traffic is over HTTPS, so plain `http` URLs are refused.
fn target(uri: &Uri) -> Result<(String, u16, String), BoxError> {
    if uri.scheme_str() != Some("https") {
        return Err(format!("{uri} is not an https URL; ACME runs over HTTPS only").into());
    }
    let authority = uri.authority().ok_or("the URL has no host")?;
    let host = authority.host().trim_matches(['[', ']']).to_owned();
    let port = authority.port_u16().unwrap_or(443);
    Ok((host, port, authority.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_takes_host_and_port_from_https_urls_only() {
        let uri: Uri = "https://ca.example:14000/dir".parse().unwrap();
        let (host, port, auth) = target(&uri).unwrap();
        assert_eq!(
            (host.as_str(), port, auth.as_str()),
            ("ca.example", 14000, "ca.example:14000")
        );
        let uri: Uri = "https://[::1]/dir".parse().unwrap();
        assert_eq!(target(&uri).unwrap().0, "::1");
        assert_eq!(target(&uri).unwrap().1, 443);
        let plain: Uri = "http://ca.example/dir".parse().unwrap();
        assert!(target(&plain)
            .unwrap_err()
            .to_string()
            .contains("HTTPS only"));
    }
}
