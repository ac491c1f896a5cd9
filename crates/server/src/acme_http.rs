//! The port-80 listener's one exception to "redirect everything": ACME
//! http-01 answers (RFC 8555 §8.3). `postern cert acme` writes each answer
//! as a file named by its token in [`challenge_dir`]; a request for
//! `/.well-known/acme-challenge/TOKEN` gets that file, every other request
//! the usual redirect. Only base64url tokens are looked up (RFC 8555 §8.1),
//! so no request can name a file outside that directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use postern_types::TlsInfo;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::http_lite::{response, OneRequest, RequestHead};
use crate::session::http::{HttpFactory, HttpSession};

/// The path prefix of RFC 8555 §8.3.
const PREFIX: &str = "/.well-known/acme-challenge/";
/// The largest answer read: a key authorization is under 200 bytes.
const MAX_ANSWER: u64 = 4096;

/// Where http-01 answers are published, inside the data directory.
pub fn challenge_dir(data_dir: &Path) -> PathBuf {
    postern_acme::renew::http01_dir(data_dir)
}

/// The redirector, answering http-01 challenges first.
#[derive(Debug, Clone)]
pub struct ChallengeFactory {
    pub dir: PathBuf,
    pub redirect: HttpFactory,
}

impl SessionFactory for ChallengeFactory {
    type Session = ChallengeSession;

    fn protocol(&self, tls: Option<TlsInfo>, starttls: bool) -> OneRequest {
        self.redirect.protocol(tls, starttls)
    }

    fn session(&self, peer: SocketAddr) -> ChallengeSession {
        ChallengeSession {
            dir: self.dir.clone(),
            redirect: self.redirect.session(peer),
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        self.redirect.busy_line()
    }
}

/// One request: a challenge answer, or the redirect.
#[derive(Debug)]
pub struct ChallengeSession {
    dir: PathBuf,
    redirect: HttpSession,
}

impl Session for ChallengeSession {
    type Proto = OneRequest;

    async fn handle(&mut self, proto: &mut OneRequest, head: RequestHead) -> Control {
        match token(&head) {
            Some(t) => {
                let answer = read_answer(&self.dir.join(t)).await;
                tracing::info!(token = t, found = answer.is_some(), "ACME http-01 request");
                proto.respond(match answer {
                    Some(body) => response(
                        "200 OK",
                        &[("Content-Type", "application/octet-stream")],
                        &body,
                    ),
                    None => response(
                        "404 Not Found",
                        &[("Content-Type", "text/plain")],
                        b"no such challenge\n",
                    ),
                });
                Control::Continue
            }
            None => self.redirect.handle(proto, head).await,
        }
    }
}

/// The token of a `GET /.well-known/acme-challenge/TOKEN`, if well formed.
fn token(head: &RequestHead) -> Option<&str> {
    let t = head.target.strip_prefix(PREFIX)?;
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let ok = head.method == "GET" && !t.is_empty() && t.len() <= 256 && t.bytes().all(base64url);
    ok.then_some(t)
}

async fn read_answer(path: &Path) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut body = Vec::new();
    file.take(MAX_ANSWER).read_to_end(&mut body).await.ok()?;
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, target: &str) -> RequestHead {
        RequestHead {
            method: method.into(),
            target: target.into(),
            host: None,
        }
    }

    #[test]
    fn only_well_formed_challenge_gets_are_answered() {
        assert_eq!(
            token(&head("GET", "/.well-known/acme-challenge/a-B_9")),
            Some("a-B_9")
        );
        for (m, t) in [
            ("POST", "/.well-known/acme-challenge/abc"),
            ("GET", "/.well-known/acme-challenge/"),
            ("GET", "/.well-known/acme-challenge/../../postern.toml"),
            ("GET", "/.well-known/acme-challenge/a.b"),
            ("GET", "/.well-known/acme-challengex/abc"),
            ("GET", "/"),
        ] {
            assert_eq!(token(&head(m, t)), None, "{m} {t}");
        }
    }
}
