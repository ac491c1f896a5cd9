//! A small HTTP/1.1 client over TLS for the web tests: it writes exactly
//! the bytes a test gives (so tests can send what browsers never would)
//! and reads responses framed by Content-Length or chunked coding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// How long a response may take before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header fields in order, names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first field of this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every field of this name, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` field that sets `name`, whole (value and flags).
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&prefix))
    }

    /// The value a `Set-Cookie` gives `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        let value = c.split(';').next()?.split_once('=')?.1;
        Some(value.to_owned())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the page's hidden CSRF field (`name="csrf"`), which
    /// every form of the web application carries; a failure if absent.
    pub fn csrf_field(&self) -> String {
        const MARKER: &str = "name=\"csrf\" value=\"";
        let text = self.text();
        let at = text
            .find(MARKER)
            .unwrap_or_else(|| panic!("no CSRF field in\n{self}"));
        let rest = &text[at + MARKER.len()..];
        let end = rest
            .find('"')
            .unwrap_or_else(|| panic!("an unterminated CSRF field in\n{self}"));
        rest[..end].to_owned()
    }
}

impl std::fmt::Display for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "HTTP {}", self.status)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        writeln!(f)?;
        f.write_str(&self.text())
    }
}

/// An HTTPS connection.
#[derive(Debug)]
pub struct HttpsClient {
    stream: TlsStream<TcpStream>,
    /// Bytes read past the last response (a pipelined answer).
    pending: Vec<u8>,
}

impl HttpsClient {
    /// Connects and completes the TLS handshake.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> std::io::Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = TlsConnector::from(config).connect(name, tcp).await?;
        Ok(Self {
            stream,
            pending: Vec::new(),
        })
    }

    /// The TLS stream itself, for a test that reads and writes at once
    /// (split it with `tokio::io::split`).
    pub fn into_stream(self) -> TlsStream<TcpStream> {
        self.stream
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Sends a request with `Host` and `Content-Length` filled in, and
    /// reads its response.
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<HttpResponse> {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await?;
        self.read_response(method == "HEAD").await
    }

    /// Reads one response; `head_only` for the answer to a HEAD request
    /// (RFC 9110 §9.3.2: no body whatever the headers say).
    pub async fn read_response(&mut self, head_only: bool) -> std::io::Result<HttpResponse> {
        tokio::time::timeout(READ_TIMEOUT, self.read_inner(head_only))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no HTTP response"))?
    }

    async fn read_inner(&mut self, head_only: bool) -> std::io::Result<HttpResponse> {
        let end = loop {
            if let Some(i) = find(&self.pending, b"\r\n\r\n") {
                break i;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
        self.pending.drain(..end + 4);
        let (status, headers) = parse_head(&head)?;
        let mut response = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let no_body = head_only || status == 204 || status == 304 || status / 100 == 1;
        if no_body {
            return Ok(response);
        }
        if response
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            response.body = self.read_chunked().await?;
        } else if let Some(len) = response.header("content-length") {
            let len: usize = len.trim().parse().map_err(|_| bad("Content-Length"))?;
            response.body = self.read_exact_body(len).await?;
        } else {
            // Framed by the close of the connection.
            while self.fill().await.is_ok() {}
            response.body = std::mem::take(&mut self.pending);
        }
        Ok(response)
    }

    async fn read_exact_body(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        while self.pending.len() < len {
            self.fill().await?;
        }
        Ok(self.pending.drain(..len).collect())
    }

    async fn read_chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailer fields, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_body(size).await?);
            self.read_line().await?;
        }
    }

    async fn read_line(&mut self) -> std::io::Result<String> {
        loop {
            if let Some(i) = find(&self.pending, b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending[..i]).into_owned();
                self.pending.drain(..i + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let n = read_some(&mut self.stream, &mut buf).await?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(())
    }

    /// Whether the server has closed the connection (reads end of stream
    /// or an error within `wait`).
    pub async fn is_closed(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 1];
        match tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => true,
            Ok(Ok(_)) | Err(_) => false,
        }
    }
}

async fn read_some<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match s.read(buf).await? {
        0 => Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the response was complete",
        )),
        n => Ok(n),
    }
}

fn parse_head(head: &str) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("status line"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status code"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("malformed HTTP response: {what}"),
    )
}

/// `application/x-www-form-urlencoded` for a form's fields (HTML §4.10.21.8).
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A `multipart/form-data` body: text fields, then files.
pub fn multipart_body(
    boundary: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &str, &[u8])],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, filename, ctype, content) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What a browser keeps between requests: one HTTPS connection and the
/// cookies it was given (a cookie set again replaces the old one; one set
/// with `Max-Age=0` is forgotten). Forms are posted as a same-origin page
/// posts them: [`Browser::submit`] loads the page first and sends its
/// CSRF token back, as every form of the web application needs.
#[derive(Debug)]
pub struct Browser {
    conn: HttpsClient,
    host: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    /// A browser with no cookies yet, connected to the `https` listener.
    pub async fn open(srv: &crate::TestServer) -> Self {
        let conn = HttpsClient::connect(
            srv.addr("https"),
            crate::server::HOST,
            srv.client_config(&[b"http/1.1"]),
        )
        .await
        .expect("TLS connection to the https listener");
        Self::over(conn)
    }

    /// A browser with no cookies yet over a connection the test made (with
    /// a client certificate, say).
    pub fn over(conn: HttpsClient) -> Self {
        Self {
            conn,
            host: crate::server::HOST.to_owned(),
            cookies: Vec::new(),
        }
    }

    /// A browser signed in through the login form (which must answer 303).
    pub async fn logged_in(srv: &crate::TestServer, user: &str, password: &str) -> Self {
        let mut b = Self::open(srv).await;
        let r = b.login(user, password).await;
        assert_eq!(r.status, 303, "login of {user}: {r}");
        b
    }

    /// Fills in the login form and posts it; the answer is the test's to
    /// judge (303 to `/mail` when the password is right).
    pub async fn login(&mut self, user: &str, password: &str) -> HttpResponse {
        let fields = [("user", user), ("password", password)];
        self.submit("/login", "/login", &fields).await
    }

    /// The CSRF token of the form on `page`, which must load (200): what a
    /// browser holds when it posts that page's form.
    pub async fn form_token(&mut self, page: &str) -> String {
        let r = self.get(page).await;
        assert_eq!(r.status, 200, "GET {page}: {r}");
        r.csrf_field()
    }

    /// Posts a form of `page` to `action` as the page itself would: loads
    /// `page` (which must answer 200) and sends `fields` with its token.
    pub async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> HttpResponse {
        let token = self.form_token(page).await;
        self.post_with_csrf(action, &token, fields).await
    }

    /// [`Browser::submit`] for a form with file inputs: `fields` and the
    /// page's token as text parts, then `files` (see
    /// [`Browser::post_multipart`]).
    pub async fn submit_multipart(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> HttpResponse {
        let token = self.form_token(page).await;
        self.post_multipart(action, &with_csrf(&token, fields), files)
            .await
    }

    /// A form POST of `fields` with `token` as its CSRF field: a token
    /// taken from another page, or a forged one.
    pub async fn post_with_csrf(
        &mut self,
        action: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> HttpResponse {
        self.post(action, &with_csrf(token, fields)).await
    }

    /// The `Cookie` header value: every cookie held, `name=value; ...`.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The connection, for a test that goes on by hand.
    pub fn into_connection(self) -> HttpsClient {
        self.conn
    }

    pub async fn get(&mut self, path: &str) -> HttpResponse {
        self.send("GET", path, &[], b"").await
    }

    /// A form POST.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        self.post_with(path, fields, &[]).await
    }

    /// A form POST with more headers (`Origin`, `Sec-Fetch-Site`...).
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> HttpResponse {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        headers.extend_from_slice(extra);
        self.send("POST", path, &headers, form(fields).as_bytes())
            .await
    }

    /// A `multipart/form-data` POST (RFC 7578), as a browser sends a form
    /// with file inputs: `fields` as text parts, then `files` as
    /// (field name, file name, content type, content).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> HttpResponse {
        let boundary = "----PosternTestBoundary7MA4YWxkTrZu0gW";
        let body = multipart_body(boundary, fields, files);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send("POST", path, &[("Content-Type", &content_type)], &body)
            .await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let cookies = self.cookie_header();
        let mut all = headers.to_vec();
        if !cookies.is_empty() {
            all.push(("Cookie", cookies.as_str()));
        }
        let r = self
            .conn
            .request(method, path, &self.host, &all, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.remember(&r);
        r
    }

    fn remember(&mut self, r: &HttpResponse) {
        for c in r.header_all("set-cookie") {
            let Some((name, rest)) = c.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default();
            self.cookies.retain(|(k, _)| k != name);
            if !c.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

/// The form's fields with the CSRF field (`csrf`, the name every form of
/// the web application gives it) first.
fn with_csrf<'a>(token: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf", token)];
    all.extend_from_slice(fields);
    all
}
