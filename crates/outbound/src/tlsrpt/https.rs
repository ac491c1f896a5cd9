//! Report delivery by HTTPS POST (RFC 8460 §5.4): the gzipped report as
//! `application/tlsrpt+gzip`, over PKIX-verified TLS, one HTTP/1.1
//! request, bounded in time; any 2xx is success.

use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dns::Dns;
use crate::tls::{Check, Trust};

/// The whole exchange with one address.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The most of the answer we read: its status line is all we need.
const MAX_ANSWER: u64 = 4096;

/// `https://host[:port]/path` split up; `None` for anything else (user
/// info, IPv6 literals and fragments are not used by report URIs).
pub(crate) fn split(url: &str) -> Option<(String, u16, String)> {
    let rest = url
        .get(..8)?
        .eq_ignore_ascii_case("https://")
        .then(|| &url[8..])?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 443),
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let path_ok = path.bytes().all(|b| b.is_ascii_graphic()) && !path.contains('#');
    (ok && path_ok).then(|| (host.to_ascii_lowercase(), port, path.to_owned()))
}

/// POSTs the report to `url`, trying each address of its host.
pub(crate) async fn post(dns: &Dns, trust: &Trust, url: &str, gz: &[u8]) -> Result<(), String> {
    let (host, port, path) = split(url).ok_or_else(|| format!("{url}: not a usable https URI"))?;
    let addrs = crate::routing::resolve(dns, &host)
        .await
        .map_err(|e| e.to_string())?;
    let mut last = format!("{host}: no address");
    for ip in addrs.records {
        let addr = SocketAddr::new(ip, port);
        match tokio::time::timeout(TIMEOUT, post_to(trust, &host, addr, &path, gz)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("{url} ({addr}): timed out"),
        }
    }
    Err(last)
}

async fn post_to(
    trust: &Trust,
    host: &str,
    addr: SocketAddr,
    path: &str,
    gz: &[u8],
) -> Result<(), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let (config, _) = trust.client_config(Check::Pkix { enforce: true }, &[b"http/1.1"]);
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("https://{host}: TLS: {e}"))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: postern\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        gz.len()
    );
    let io = |e: std::io::Error| format!("https://{host}: {e}");
    tls.write_all(head.as_bytes()).await.map_err(io)?;
    tls.write_all(gz).await.map_err(io)?;
    tls.flush().await.map_err(io)?;
    let mut answer = Vec::new();
    // A server may close without close_notify once it has answered: what
    // was read by then is enough.
    let _ = (&mut tls).take(MAX_ANSWER).read_to_end(&mut answer).await;
    let status = status(&answer).ok_or_else(|| format!("https://{host}: no HTTP answer"))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("https://{host}{path}: HTTP {status}"))
    }
}

/// The status code of an HTTP/1.x status line.
fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    parts.next()?.starts_with("HTTP/1.").then_some(())?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_uris() {
        assert_eq!(
            split("https://Reports.Example.com/tls?x=1"),
            Some(("reports.example.com".into(), 443, "/tls?x=1".into()))
        );
        assert_eq!(
            split("https://r.example.com:8443"),
            Some(("r.example.com".into(), 8443, "/".into()))
        );
        assert_eq!(split("http://r.example.com/"), None);
        assert_eq!(split("https://user@r.example.com/"), None);
        assert_eq!(split("https://r.example.com:x/"), None);
        assert_eq!(split("https://r.example.com/a b"), None);
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 201 Created\r\n\r\n"), Some(201));
        assert_eq!(status(b"HTTP/1.0 500 Oops\r\n"), Some(500));
        assert_eq!(status(b"SSH-2.0\r\n"), None);
        assert_eq!(status(b""), None);
    }
}
