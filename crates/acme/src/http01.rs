//! The http-01 challenge (RFC 8555 §8.3): the CA fetches
//! `http://NAME/.well-known/acme-challenge/TOKEN` on port 80 and expects the
//! key authorization as the body.
//!
//! The answers are files in one directory of the data dir, one per token,
//! so that a running `postern serve` (whose port-80 listener reads that
//! directory) and this process agree without talking to each other. When no
//! server holds the port, a temporary listener answers from the same files.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::AcmeError;

/// The path prefix of RFC 8555 §8.3.
pub const PREFIX: &str = "/.well-known/acme-challenge/";
/// How long one challenge request may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Validation connections served at once.
const MAX_CONNECTIONS: usize = 32;
/// The longest request head read (a CA's GET is a few hundred bytes).
const MAX_HEAD: usize = 8 * 1024;

/// A token as RFC 8555 §8.1 defines it: base64url characters only. Anything
/// else is refused, so a token can never name a file outside the directory.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Published answers and, when this process holds the port, the listener.
/// Dropping it removes the files and stops the listener.
#[derive(Debug)]
pub struct Http01 {
    dir: PathBuf,
    check_addr: SocketAddr,
    written: Vec<PathBuf>,
    listener: Option<JoinHandle<()>>,
}

impl Http01 {
    /// Prepares `dir` and, when `may_listen`, listens on `listen` unless a
    /// running server already holds that address (it answers from `dir`
    /// itself). Without `may_listen` the caller is that server.
    pub async fn start(
        dir: &Path,
        listen: SocketAddr,
        may_listen: bool,
    ) -> Result<Self, AcmeError> {
        std::fs::create_dir_all(dir).map_err(|e| AcmeError::io(dir, e))?;
        if !may_listen {
            return Ok(Self {
                dir: dir.to_owned(),
                check_addr: loopback_for(listen),
                written: Vec::new(),
                listener: None,
            });
        }
        let listener = match TcpListener::bind(listen).await {
            Ok(l) => {
                tracing::info!(%listen, "answering http-01 challenges on a temporary listener");
                Some(tokio::spawn(serve(l, dir.to_owned())))
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                tracing::info!(%listen, "the address is in use; expecting the running server to answer http-01 challenges");
                None
            }
            Err(e) => {
                return Err(AcmeError::Listen {
                    addr: listen,
                    source: e,
                })
            }
        };
        Ok(Self {
            dir: dir.to_owned(),
            check_addr: loopback_for(listen),
            written: Vec::new(),
            listener,
        })
    }

    /// Publishes the answer for one token.
    pub fn publish(&mut self, token: &str, key_authorization: &str) -> Result<(), AcmeError> {
        if !valid_token(token) {
            return Err(AcmeError::BadToken(token.chars().take(80).collect()));
        }
        let path = self.dir.join(token);
        std::fs::write(&path, key_authorization).map_err(|e| AcmeError::io(&path, e))?;
        self.written.push(path);
        Ok(())
    }

    /// Fetches a published answer the way the CA will, over the listening
    /// address, so a port held by some other program is reported before
    /// the CA is asked to validate.
    pub async fn self_check(&self, token: &str, expected: &str) -> Result<(), AcmeError> {
        let got = timeout(REQUEST_TIMEOUT, fetch(self.check_addr, token)).await;
        match got {
            Ok(Ok(body)) if body == expected.as_bytes() => Ok(()),
            Ok(Ok(_)) => Err(AcmeError::SelfCheck {
                addr: self.check_addr,
                why: "it answered, but not with the challenge".into(),
            }),
            Ok(Err(e)) => Err(AcmeError::SelfCheck {
                addr: self.check_addr,
                why: e.to_string(),
            }),
            Err(_) => Err(AcmeError::SelfCheck {
                addr: self.check_addr,
                why: "no answer within 10 s".into(),
            }),
        }
    }
}

impl Drop for Http01 {
    fn drop(&mut self) {
        for p in &self.written {
            let _ = std::fs::remove_file(p);
        }
        if let Some(l) = &self.listener {
            l.abort();
        }
    }
}

/// Where to reach a listening address from this machine.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

async fn serve(listener: TcpListener, dir: PathBuf) {
    // A CA makes a few validation connections; more at once is someone
    // else, who need not get a task each (STYLE: a semaphore before accept).
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a challenge connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let dir = dir.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if timeout(REQUEST_TIMEOUT, answer(stream, &dir))
                .await
                .is_err()
            {
                tracing::debug!(%peer, "http-01 request timed out");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, dir: &Path) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let reply = response_for(&head, dir);
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// The answer to a request head: the key authorization for a published
/// token, 404 for anything else (this listener serves nothing more).
pub fn response_for(head: &str, dir: &Path) -> Vec<u8> {
    let body = request_token(head).and_then(|t| std::fs::read(dir.join(t)).ok());
    match body {
        Some(b) => http_response("200 OK", &b),
        None => http_response("404 Not Found", b"no such challenge\n"),
    }
}

/// The token of a `GET /.well-known/acme-challenge/TOKEN` request line.
pub fn request_token(head: &str) -> Option<&str> {
    let mut parts = head.lines().next()?.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let token = target.strip_prefix(PREFIX)?;
    (method == "GET" && valid_token(token)).then_some(token)
}

fn http_response(status: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

async fn fetch(addr: SocketAddr, token: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!("GET {PREFIX}{token} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.take(64 * 1024).read_to_end(&mut raw).await?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => return Err(std::io::Error::other("it did not answer HTTP")),
    };
    let status = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or_default())
        .into_owned();
    if !status.contains(" 200 ") {
        return Err(std::io::Error::other(format!(
            "it answered \"{}\"",
            status.trim()
        )));
    }
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_only() {
        assert!(valid_token("abc-DEF_123"));
        for bad in ["", "../etc/passwd", "a/b", "a.b", "a b", "%2e%2e"] {
            assert!(!valid_token(bad), "{bad}");
        }
    }

    #[test]
    fn serves_published_tokens_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "tok.thumb").unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();
        let ok = response_for(
            "GET /.well-known/acme-challenge/tok HTTP/1.1\r\n\r\n",
            dir.path(),
        );
        assert!(ok.starts_with(b"HTTP/1.1 200 OK"));
        assert!(ok.ends_with(b"\r\n\r\ntok.thumb"));
        for head in [
            "GET /.well-known/acme-challenge/../secret HTTP/1.1",
            "POST /.well-known/acme-challenge/tok HTTP/1.1",
            "GET /secret HTTP/1.1",
            "GET /.well-known/acme-challenge/missing HTTP/1.1",
        ] {
            let r = response_for(head, dir.path());
            assert!(r.starts_with(b"HTTP/1.1 404"), "{head}");
        }
    }

    #[tokio::test]
    async fn a_temporary_listener_answers_and_files_go_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut h = Http01::start(dir.path(), port, true).await.unwrap();
        h.publish("tok", "tok.thumb").unwrap();
        h.self_check("tok", "tok.thumb").await.unwrap();
        let wrong = h.self_check("tok", "other").await.unwrap_err();
        assert!(
            wrong.to_string().contains("not with the challenge"),
            "{wrong}"
        );
        assert!(h.publish("../x", "y").is_err());
        drop(h);
        assert!(!dir.path().join("tok").exists());
    }
}
