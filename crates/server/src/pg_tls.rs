//! TLS to PostgreSQL, with rustls, for the PostgreSQL store.
//!
//! The store links no TLS library (the dependency rules keep keys and
//! certificates out of it); it takes a [`Connector`] from here. The rule
//! ([`store_options`]): a database on another host is reached over TLS,
//! verified against the system's CA bundle and `[store] ca_file`, with
//! the host name checked (libpq's `sslmode=verify-full`), and never
//! without it unless the URL says `sslmode=disable` (which is logged as a
//! warning at start). A database on loopback or a Unix socket is reached
//! as the URL says (plain unless `sslmode=require`): nothing crosses a
//! network there.
//!
//! Channel binding (`SCRAM-SHA-256-PLUS`) is not offered: the password
//! is never sent with SCRAM-SHA-256 either, and the TLS verification
//! above is what keeps a man in the middle out.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postern_config::PostgresConfig;
use postern_store::postgres::Connector;
use postgres::config::{Host, SslMode};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The store's options for `[store]`: the password file read, and TLS
/// as the module comment says.
pub fn store_options(
    pg: &PostgresConfig,
    listen: bool,
) -> Result<postern_store::PgOptions, String> {
    let mut options = postern_store::PgOptions::new(pg.url.clone());
    options.pool_size = pg.pool_size;
    options.listen = listen;
    if let Some(dir) = &pg.blob_dir {
        options.blobs = postern_store::postgres::BlobPlace::Directory(dir.clone());
    }
    if let Some(file) = &pg.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            format!(
                "cannot read [store] password_file {}: {e}; create it (mode 0600) with the database password on its first line",
                file.display()
            )
        })?;
        options.password = Some(text.lines().next().unwrap_or_default().to_owned());
    }
    let url: postgres::Config = pg
        .url
        .parse()
        .map_err(|e| format!("[store] url: {e}; write it as postgres://USER@HOST:PORT/DATABASE"))?;
    if needs_tls(&url)? {
        options.connector = Some(connector(pg.ca_file.as_deref())?);
    }
    Ok(options)
}

/// Whether the connection must use TLS (and be refused without it).
fn needs_tls(url: &postgres::Config) -> Result<bool, String> {
    let remote = url.get_hosts().iter().any(|h| match h {
        Host::Tcp(name) => !is_loopback(name),
        #[cfg(unix)]
        Host::Unix(_) => false,
    });
    match url.get_ssl_mode() {
        SslMode::Disable => {
            if remote {
                tracing::warn!(
                    "[store] url says sslmode=disable for a database on another host: mail and account data cross the network in clear"
                );
            }
            Ok(false)
        }
        SslMode::Require => Ok(true),
        _ => Ok(remote),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A connector that requires TLS and verifies the server's certificate
/// and name.
pub fn connector(ca_file: Option<&Path>) -> Result<Connector, String> {
    let mut roots = RootCertStore::empty();
    // The same system bundle the outbound side verifies peers with.
    postern_outbound::tls::load_system_roots(&mut roots);
    if let Some(file) = ca_file {
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("[store] ca_file {}: {e}", file.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("[store] ca_file {}: {e}", file.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("[store] ca_file {}: {e}", file.display()))?;
        }
    }
    if roots.is_empty() {
        return Err(
            "no CA certificates to verify the database with: install the system CA bundle or set [store] ca_file".into(),
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let make = MakeRustls {
        config: Arc::new(config),
    };
    Ok(Connector(Arc::new(move |url: &postgres::Config| {
        let mut url = url.clone();
        url.ssl_mode(SslMode::Require);
        url.connect(make.clone())
    })))
}

#[derive(Clone)]
struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            config: self.config.clone(),
            name,
        })
    }
}

struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            Ok(RustlsStream(tls))
        })
    }
}

struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> bool {
        needs_tls(&url.parse().unwrap()).unwrap()
    }

    #[test]
    fn remote_databases_need_tls_and_loopback_ones_follow_the_url() {
        assert!(tls("postgres://p@db.internal/m"));
        assert!(tls("postgres://p@10.0.0.5:5432/m"));
        assert!(!tls("postgres://p@127.0.0.1/m"));
        assert!(!tls("postgres://p@localhost/m"));
        assert!(!tls("host=::1 user=p dbname=m"));
        assert!(tls("postgres://p@127.0.0.1/m?sslmode=require"));
        assert!(!tls("postgres://p@db.internal/m?sslmode=disable"));
    }

    #[test]
    fn a_connector_refuses_a_server_without_tls() {
        // A listener that answers PostgreSQL's SSLRequest with 'N' (no TLS).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 8];
            s.read_exact(&mut req).unwrap();
            s.write_all(b"N").unwrap();
        });
        let c = connector(None).expect("the system CA bundle");
        let url: postgres::Config = format!("host=127.0.0.1 port={port} user=p dbname=m")
            .parse()
            .unwrap();
        let err = (c.0)(&url).err().expect("refused without TLS");
        assert!(
            err.to_string().to_lowercase().contains("tls") || err.to_string().contains("SSL"),
            "{err}"
        );
        server.join().unwrap();
    }
}
