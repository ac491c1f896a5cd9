//! A minimal HTTP/1.1 client over TLS (RFC 9112): one request at a time on
//! a kept-alive connection, the response read to its end by
//! `Content-Length` or chunked framing, and a cookie jar of name=value
//! pairs. Only what the webmail and CalDAV benchmarks send; strict in what it
//! accepts, so a broken answer is an error, not speed.

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::pop3::{Target, TlsSummary};

/// The longest status or header line, and the longest chunk-size line: a
/// bound against a broken server only.
const MAX_LINE: u64 = 64 * 1024;

/// Header fields in one response.
const MAX_HEADERS: usize = 200;

/// The largest body accepted: far above any page, below harm.
const MAX_BODY: u64 = 64 << 20;

/// One response, read whole.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    /// Field names in lower case (they are case-insensitive, RFC 9110
    /// §5.1), values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server will close the connection after this response: the next
    /// request needs a new one.
    pub close: bool,
}

impl Response {
    /// The first value of a field.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body holds `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        let n = needle.as_bytes();
        !n.is_empty() && self.body.windows(n.len()).any(|w| w == n)
    }

    /// The body as text, for the markers the scenarios look for.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// Cookies as a browser would send them back: name and value only, no
/// domain or path matching (one host, every cookie at `Path=/`).
#[derive(Debug, Clone, Default)]
pub struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    /// Takes every `Set-Cookie` of a response (RFC 6265 §5.2): a new value
    /// replaces the old one, `Max-Age=0` or an empty value deletes it.
    pub fn update(&mut self, r: &Response) {
        for (_, v) in r.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            self.cookies.retain(|(n, _)| n != name);
            if !expired && !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header's value (RFC 6265 §5.4), empty without cookies.
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One HTTPS connection.
#[derive(Debug)]
pub struct Conn {
    io: BufReader<TlsStream<TcpStream>>,
    /// The `Host` header: the certificate's name and the port.
    host: String,
    line: Vec<u8>,
}

impl Conn {
    /// TCP and the TLS handshake.
    pub async fn connect(target: &Target, host: &str) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        // A request is one small write waiting for its answer: Nagle would
        // only add delay.
        tcp.set_nodelay(true)?;
        let tls = target
            .connector
            .connect(target.name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        Ok(Self {
            io: BufReader::with_capacity(64 * 1024, tls),
            host: host.to_owned(),
            line: Vec::with_capacity(1024),
        })
    }

    pub fn tls(&self) -> TlsSummary {
        TlsSummary::of(self.io.get_ref().get_ref().1)
    }

    /// `GET path` with the jar's cookies.
    pub async fn get(&mut self, path: &str, jar: &Jar) -> anyhow::Result<Response> {
        self.request("GET", path, jar, None).await
    }

    /// `POST path` with an `application/x-www-form-urlencoded` body.
    pub async fn post_form(
        &mut self,
        path: &str,
        jar: &Jar,
        form: &[(&str, &str)],
    ) -> anyhow::Result<Response> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", path, jar, Some(&body)).await
    }

    /// Sends one request in one write and reads its whole response.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        jar: &Jar,
        form: Option<&str>,
    ) -> anyhow::Result<Response> {
        let cookies = jar.header();
        let mut fields = Vec::new();
        if !cookies.is_empty() {
            fields.push(("Cookie", cookies));
        }
        if form.is_some() {
            fields.push((
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            ));
        }
        let body = form.map(str::as_bytes);
        self.send(method, path, &fields, body).await
    }

    /// Any method with the given header fields; with a body, its
    /// `Content-Length` is added. One write, then the whole response.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        fields: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in fields {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.unwrap_or_default());
        self.io.write_all(&out).await?;
        self.io.flush().await?;
        read_response(&mut self.io, &mut self.line)
            .await
            .with_context(|| format!("{method} {path}"))
    }
}

/// Reads the status line, the header fields and the body (RFC 9112 §6.3:
/// chunked wins over `Content-Length`; neither means the body runs to the
/// close, except for the statuses that never have one).
async fn read_response<R: AsyncBufRead + Unpin>(
    io: &mut R,
    line: &mut Vec<u8>,
) -> anyhow::Result<Response> {
    read_line(io, line).await.context("status line")?;
    // An HTTP/1.0 server closes after each response unless it says
    // otherwise (RFC 9112 §9.3).
    let http10 = line.starts_with(b"HTTP/1.0 ");
    let mut r = Response {
        status: parse_status(line)?,
        ..Response::default()
    };
    loop {
        read_line(io, line).await.context("header field")?;
        if line.is_empty() {
            break;
        }
        if r.headers.len() == MAX_HEADERS {
            bail!("more than {MAX_HEADERS} header fields");
        }
        let text = std::str::from_utf8(line).context("a header field is not UTF-8")?;
        let (name, value) = text
            .split_once(':')
            .with_context(|| format!("malformed header field {text:?}"))?;
        r.headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let connection = |token: &str| {
        r.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    r.close = connection("close") || (http10 && !connection("keep-alive"));
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if matches!(r.status, 100..=199 | 204 | 304) {
        return Ok(r);
    }
    if chunked {
        read_chunked(io, line, &mut r.body).await?;
    } else if let Some(len) = r.header("content-length") {
        let len: u64 = len
            .parse()
            .with_context(|| format!("Content-Length {len:?}"))?;
        if len > MAX_BODY {
            bail!("a body of {len} octets (the limit is {MAX_BODY})");
        }
        r.body.resize(len as usize, 0);
        io.read_exact(&mut r.body).await.context("body")?;
    } else {
        io.take(MAX_BODY + 1)
            .read_to_end(&mut r.body)
            .await
            .context("body to the close")?;
        if r.body.len() as u64 > MAX_BODY {
            bail!("a body over {MAX_BODY} octets");
        }
        r.close = true;
    }
    Ok(r)
}

/// `HTTP/1.1 200 OK`: the code.
fn parse_status(line: &[u8]) -> anyhow::Result<u16> {
    let text = std::str::from_utf8(line).unwrap_or("");
    let code = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..600).contains(c));
    code.with_context(|| format!("not an HTTP/1.x status line: {:?}", show(line)))
}

/// Chunked transfer coding (RFC 9112 §7.1): size lines in hex (extensions
/// ignored), data, CRLF; a zero size, then trailer fields to an empty line.
async fn read_chunked<R: AsyncBufRead + Unpin>(
    io: &mut R,
    line: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> anyhow::Result<()> {
    loop {
        read_line(io, line).await.context("chunk size")?;
        let text = std::str::from_utf8(line).unwrap_or("");
        let hex = text.split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(hex, 16).with_context(|| format!("chunk size {:?}", show(line)))?;
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > MAX_BODY {
            bail!("a chunked body over {MAX_BODY} octets");
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        io.read_exact(&mut body[start..]).await.context("chunk")?;
        read_line(io, line).await.context("chunk end")?;
        if !line.is_empty() {
            bail!("a chunk is longer than its size line says");
        }
    }
    loop {
        read_line(io, line).await.context("trailer")?;
        if line.is_empty() {
            return Ok(());
        }
    }
}

/// Reads one line without its CRLF (a bare LF is accepted as the end, RFC
/// 9112 §2.2).
async fn read_line<R: AsyncBufRead + Unpin>(io: &mut R, line: &mut Vec<u8>) -> anyhow::Result<()> {
    line.clear();
    let n = io.take(MAX_LINE).read_until(b'\n', line).await?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    if line.last() != Some(&b'\n') {
        bail!("a line over {MAX_LINE} octets, or cut short");
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` (the URL Standard's serializer):
/// space as `+`, unreserved octets as they are, the rest `%XX`.
pub fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A line for an error message, cut short.
fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &[u8]) -> anyhow::Result<Response> {
        let mut io = raw;
        read_response(&mut io, &mut Vec::new()).await
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn bodies_by_length_and_by_chunks() {
        let r = block_on(parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1; Path=/\r\n\r\nhelloNEXT",
        ))
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (200, &b"hello"[..], false)
        );
        assert_eq!(r.header("set-cookie"), Some("a=1; Path=/"));
        let r = block_on(parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(r.body, b"abc0123456789");
        assert!(r.close);
        let r = block_on(parse(
            b"HTTP/1.1 303 See Other\r\nLocation: /mail\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert_eq!((r.status, r.header("location")), (303, Some("/mail")));
        let r = block_on(parse(
            b"HTTP/1.0 207 Multi-Status\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(r.close, "HTTP/1.0 closes unless kept alive");
        let r = block_on(parse(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(!r.close);
    }

    #[test]
    fn broken_answers_are_errors() {
        for raw in [
            &b"HTTP/2 200\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"",
        ] {
            assert!(block_on(parse(raw)).is_err(), "{:?}", show(raw));
        }
    }

    #[test]
    fn the_jar_keeps_replaces_and_deletes() {
        let mut jar = Jar::default();
        let set = |v: &[&str]| Response {
            headers: v
                .iter()
                .map(|s| ("set-cookie".to_owned(), (*s).to_owned()))
                .collect(),
            ..Response::default()
        };
        jar.update(&set(&["a=1; Secure", "b=2"]));
        assert_eq!(jar.header(), "a=1; b=2");
        jar.update(&set(&["a=; Max-Age=0", "b=3; HttpOnly"]));
        assert_eq!((jar.get("a"), jar.get("b")), (None, Some("3")));
        jar.update(&set(&["b=4; Path=/; Max-Age=0"]));
        assert_eq!(jar.header(), "");
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form_encode("bench0@example.test"), "bench0%40example.test");
        assert_eq!(form_encode("a b&c=é"), "a+b%26c%3D%C3%A9");
    }
}
