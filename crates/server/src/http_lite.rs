//! Just enough HTTP/1.1 for the two plain-HTTP listeners: the redirector
//! (every request gets a 301 to HTTPS, never content, and no request body is
//! ever read, so no credential is taken over plain HTTP) and the metrics
//! endpoint. The full web interface is served over HTTPS elsewhere.

/// The largest request head we read (RFC 9112 leaves it to the server;
/// 8 KiB is what common servers accept).
pub const MAX_HEAD: usize = 8 * 1024;

/// The parts of a request head these listeners need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub host: Option<String>,
}

/// Why a request head is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// More input is needed.
    Incomplete,
    TooLarge,
    Malformed,
}

/// Parses a complete request head (through the empty line).
/// A head, terminator included, longer than [`MAX_HEAD`] is too large,
/// however it was cut into reads.
pub fn parse_head(buf: &[u8]) -> Result<RequestHead, HeadError> {
    let end = match find(buf, b"\r\n\r\n") {
        Some(end) if end + 4 <= MAX_HEAD => end,
        Some(_) => return Err(HeadError::TooLarge),
        None if buf.len() > MAX_HEAD => return Err(HeadError::TooLarge),
        None => return Err(HeadError::Incomplete),
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HeadError::Malformed)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (first.next(), first.next(), first.next(), first.next())
    else {
        return Err(HeadError::Malformed);
    };
    // RFC 9112 §3: the target is visible ASCII without spaces (no CR, LF or
    // other control that could forge a log line or a header).
    let target_ok = target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic());
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") || !target_ok || !is_token(method) {
        return Err(HeadError::Malformed);
    }
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_owned());
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        host,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The host (without port) of a Host header, if it is safe to put in a
/// Location header: a DNS name or IPv4 address, or a bracketed IPv6
/// address, with an optional numeric port (RFC 9110 §7.2). Anything else
/// is ignored and the server's own name is used.
fn clean_host(host: &str) -> Option<&str> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        let port_ok = match &rest[end + 1..] {
            "" => true,
            after => after.strip_prefix(':').is_some_and(digits),
        };
        let inside = &rest[..end];
        let ok = port_ok
            && !inside.is_empty()
            && inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return ok.then(|| &host[..end + 2]);
    }
    let name = match host.split_once(':') {
        Some((name, port)) if digits(port) => name,
        Some(_) => return None,
        None => host,
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(name)
}

/// The redirect for a request: the same path on HTTPS.
pub fn redirect(head: &RequestHead, fallback_host: &str, https_port: u16) -> Vec<u8> {
    let host = head
        .host
        .as_deref()
        .and_then(clean_host)
        .unwrap_or(fallback_host);
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    // The path is echoed only if it is plain printable ASCII (no CR/LF
    // header injection); otherwise we redirect to the root.
    let path = if head.target.bytes().all(|b| b.is_ascii_graphic()) {
        head.target.as_str()
    } else {
        "/"
    };
    let location = format!("https://{host}{port}{path}");
    response(
        "301 Moved Permanently",
        &[("Location", &location), ("Content-Type", "text/plain")],
        format!("Postern serves this site over HTTPS only: {location}\n").as_bytes(),
    )
}

/// A complete response that closes the connection.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> RequestHead {
        parse_head(raw.as_bytes()).unwrap()
    }

    #[test]
    fn redirects_to_the_same_path_on_https() {
        let h = head("GET /mail/inbox?x=1 HTTP/1.1\r\nHost: mail.example.com:8080\r\n\r\n");
        let r = String::from_utf8(redirect(&h, "fallback", 8443)).unwrap();
        assert!(r.starts_with("HTTP/1.1 301 Moved Permanently\r\n"), "{r}");
        assert!(
            r.contains("Location: https://mail.example.com:8443/mail/inbox?x=1\r\n"),
            "{r}"
        );
        let r = String::from_utf8(redirect(&h, "fallback", 443)).unwrap();
        assert!(
            r.contains("Location: https://mail.example.com/mail/inbox?x=1\r\n"),
            "{r}"
        );
    }

    #[test]
    fn host_headers_with_ports_and_ipv6() {
        let loc = |host: &str| {
            let h = head(&format!("GET /p HTTP/1.1\r\nHost: {host}\r\n\r\n"));
            let r = String::from_utf8(redirect(&h, "fallback.example", 443)).unwrap();
            r.lines()
                .find_map(|l| l.strip_prefix("Location: "))
                .unwrap()
                .to_owned()
        };
        assert_eq!(loc("mail.example.com:8080"), "https://mail.example.com/p");
        assert_eq!(loc("[2001:db8::1]:8080"), "https://[2001:db8::1]/p");
        assert_eq!(loc("a:b"), "https://fallback.example/p");
        assert_eq!(loc("[::1]x"), "https://fallback.example/p");
    }

    #[test]
    fn hostile_host_headers_are_not_echoed() {
        let h = head("GET / HTTP/1.1\r\nHost: evil.example/\"><script>\r\n\r\n");
        let r = String::from_utf8(redirect(&h, "mail.example.com", 443)).unwrap();
        assert!(r.contains("Location: https://mail.example.com/\r\n"), "{r}");
    }

    #[test]
    fn incomplete_large_and_malformed_heads() {
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\n"),
            Err(HeadError::Incomplete)
        );
        assert_eq!(
            parse_head(&vec![b'a'; MAX_HEAD + 1]),
            Err(HeadError::TooLarge)
        );
        assert_eq!(
            parse_head(b"GET http://x/ HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            parse_head(b"\x16\x03\x01\x00\r\n\r\n"),
            Err(HeadError::Malformed)
        );
    }
}

/// A one-request HTTP core on the common driver: read one request head,
/// answer, close. Request bodies are never read.
#[derive(Debug, Default)]
pub struct OneRequest {
    input: Vec<u8>,
    output: Vec<u8>,
    finished: bool,
    fatal: bool,
}

/// The request head could not be used; a 4xx is queued.
#[derive(Debug, thiserror::Error)]
#[error("bad HTTP request: {0}")]
pub struct BadRequest(&'static str);

impl OneRequest {
    /// Queues the response; the connection closes after it.
    pub fn respond(&mut self, bytes: Vec<u8>) {
        self.output.extend(bytes);
        self.finished = true;
    }

    fn refuse(&mut self, status: &str, why: &'static str) -> BadRequest {
        self.respond(response(
            status,
            &[("Content-Type", "text/plain")],
            format!("{why}\n").as_bytes(),
        ));
        self.fatal = true;
        BadRequest(why)
    }
}

impl postern_types::Protocol for OneRequest {
    type Event = RequestHead;
    type Error = BadRequest;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        // Keep at most one head's worth (plus the terminator) buffered.
        let room = (MAX_HEAD + 4).saturating_sub(self.input.len());
        self.input
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn next(&mut self) -> Result<RequestHead, postern_types::Interrupt<BadRequest>> {
        use postern_types::{Interrupt, Io};
        if let Some(out) = self.take_output() {
            return Err(Interrupt::Io(Io::Output(out)));
        }
        if self.finished {
            return Err(Interrupt::Io(Io::NeedMoreInput));
        }
        match parse_head(&self.input) {
            Ok(head) => {
                self.input.clear();
                Ok(head)
            }
            Err(HeadError::Incomplete) => Err(Interrupt::Io(Io::NeedMoreInput)),
            Err(HeadError::TooLarge) => Err(Interrupt::Error(self.refuse(
                "431 Request Header Fields Too Large",
                "request head too large",
            ))),
            Err(HeadError::Malformed) => Err(Interrupt::Error(
                self.refuse("400 Bad Request", "malformed request"),
            )),
        }
    }

    fn take_output(&mut self) -> Option<Vec<u8>> {
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    fn timeout_class(&self) -> postern_types::TimeoutClass {
        postern_types::TimeoutClass::PreAuth
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn goodbye(&mut self, why: postern_types::Goodbye) {
        if why == postern_types::Goodbye::Timeout && !self.finished {
            self.respond(response("408 Request Timeout", &[], b""));
        }
        self.finished = true;
    }

    fn buffered_input_len(&self) -> usize {
        self.input.len()
    }

    fn start_tls(
        self,
        _tls: postern_types::TlsInfo,
    ) -> Result<Self, postern_types::PlaintextAfterStartTls> {
        match self.input.len() {
            0 => Ok(Self::default()),
            bytes => Err(postern_types::PlaintextAfterStartTls { bytes }),
        }
    }
}
