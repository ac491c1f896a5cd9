//! MTA-STS (RFC 8461): the TXT record, the HTTPS policy, its cache, and
//! which MX hosts it allows.
//!
//! The policy is fetched with a small HTTP/1.1 GET over tokio-rustls,
//! verified against the WebPKI for `mta-sts.<domain>` (§3.3), size and time
//! bounded, with no redirects (§3.3). The cache is in memory: after a
//! restart, the first message to a domain fetches its policy again, which
//! only matters if an attacker can block that fetch at that moment (the
//! risk §10.2 describes for first contact).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dns::{Dns, LookupError};
use crate::tls::{Check, Trust};

/// Largest policy body we read (§3.3 suggests 64 KiB).
pub const MAX_BODY: usize = 64 * 1024;
/// The whole fetch (§3.3 suggests 60 s).
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest max_age honoured (§3.2: 31557600, about a year).
pub const MAX_AGE_CAP: u64 = 31_557_600;

/// The policy mode (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to listed MX hosts over PKIX-verified TLS.
    Enforce,
    /// Report failures but deliver anyway.
    Testing,
    /// No policy.
    None,
}

/// A parsed policy (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MTA-STS policy: {0}")]
pub struct Invalid(pub String);

impl Policy {
    /// Parses the policy body: `key: value` lines, CRLF or LF (§3.2).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let (mut version, mut mode, mut max_age) = (None, None, None);
        let mut mx = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| Invalid(format!("line without a colon: {line:?}")))?;
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_owned()),
                "mode" => mode = Some(value.to_owned()),
                "max_age" => {
                    max_age = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| Invalid(format!("max_age {value:?}")))?,
                    )
                }
                "mx" => mx.push(value.to_ascii_lowercase()),
                // §3.2: unknown fields are ignored, for extensions.
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err(Invalid("version is not STSv1".into()));
        }
        let mode = match mode.as_deref() {
            Some("enforce") => Mode::Enforce,
            Some("testing") => Mode::Testing,
            Some("none") => Mode::None,
            other => return Err(Invalid(format!("mode {other:?}"))),
        };
        let max_age = max_age
            .ok_or_else(|| Invalid("no max_age".into()))?
            .min(MAX_AGE_CAP);
        if mx.is_empty() && mode != Mode::None {
            return Err(Invalid("no mx line".into()));
        }
        Ok(Self { mode, mx, max_age })
    }

    /// Whether an MX host name is allowed (§4.1): exact, or `*.` matching
    /// exactly one left-most label.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => *pattern == host,
            })
    }
}

/// The `id` of the `_mta-sts` TXT record (§3.1); `None` if there is no
/// valid record (none, several, or malformed: then no policy applies).
pub fn txt_id(records: &[String]) -> Option<String> {
    let sts: Vec<&String> = records
        .iter()
        // §3.1: records that do not begin with `v=STSv1;` are discarded
        // (`v=STSv10` is another version).
        .filter(|r| r.split(';').next().map(str::trim_end) == Some("v=STSv1"))
        .collect();
    if sts.len() != 1 {
        return None;
    }
    let mut id = None;
    for field in sts[0].split(';') {
        let field = field.trim();
        match field.split_once('=') {
            Some(("v", "STSv1")) => {}
            Some(("id", v))
                if !v.is_empty()
                    && v.len() <= 32
                    && v.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                id = Some(v.to_owned());
            }
            Some(("id", _)) => return None,
            _ => {}
        }
    }
    id
}

/// What applies to a domain now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No policy (no TXT record and nothing cached, or mode none).
    NoPolicy,
    Policy(Arc<Policy>),
    /// There is a TXT record but the policy could not be had and nothing
    /// is cached: delivery goes on as without a policy (§5.1), and
    /// TLS-RPT counts a `sts-policy-fetch-error`.
    FetchFailed(String),
}

struct Cached {
    id: String,
    policy: Arc<Policy>,
    expires: Instant,
}

/// Fetches and caches policies.
pub struct MtaSts {
    dns: Dns,
    trust: Trust,
    port: u16,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for MtaSts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MtaSts")
    }
}

impl MtaSts {
    pub fn new(dns: Dns, trust: Trust, port: u16) -> Self {
        Self {
            dns,
            trust,
            port,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy for `domain` (§5.1: TXT first; a changed id refetches;
    /// a failed fetch falls back on the cached policy).
    pub async fn lookup(&self, domain: &str) -> Lookup {
        let domain = domain.to_ascii_lowercase();
        let txt = self.dns.txt(&format!("_mta-sts.{domain}")).await;
        let cached = self.cached(&domain);
        let id = match txt {
            Ok(a) => txt_id(&a.records),
            Err(LookupError::NoSuchDomain(_)) => None,
            // DNS trouble: keep what we have.
            Err(_) => return cached.map_or(Lookup::NoPolicy, |(_, p)| usable(p)),
        };
        let Some(id) = id else {
            return cached.map_or(Lookup::NoPolicy, |(_, p)| usable(p));
        };
        if let Some((cached_id, p)) = &cached {
            if *cached_id == id {
                return usable(p.clone());
            }
        }
        match self.fetch(&domain).await {
            Ok(policy) => {
                let policy = Arc::new(policy);
                self.store(&domain, id, policy.clone());
                usable(policy)
            }
            Err(e) => {
                tracing::warn!(domain, error = %e, "MTA-STS policy fetch failed");
                cached.map_or(Lookup::FetchFailed(e), |(_, p)| usable(p))
            }
        }
    }

    fn cached(&self, domain: &str) -> Option<(String, Arc<Policy>)> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(domain)
            .filter(|c| c.expires > Instant::now())
            .map(|c| (c.id.clone(), c.policy.clone()))
    }

    fn store(&self, domain: &str, id: String, policy: Arc<Policy>) {
        let expires = Instant::now() + Duration::from_secs(policy.max_age);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            domain.to_owned(),
            Cached {
                id,
                policy,
                expires,
            },
        );
    }

    async fn fetch(&self, domain: &str) -> Result<Policy, String> {
        let host = format!("mta-sts.{domain}");
        let body = tokio::time::timeout(FETCH_TIMEOUT, self.get(&host))
            .await
            .map_err(|_| format!("https://{host}: timed out"))??;
        Policy::parse(&body).map_err(|e| e.to_string())
    }

    async fn get(&self, host: &str) -> Result<String, String> {
        let addrs = crate::routing::resolve(&self.dns, host)
            .await
            .map_err(|e| e.to_string())?;
        let mut last = format!("{host}: no address");
        for ip in addrs.records {
            match self
                .get_from(host, std::net::SocketAddr::new(ip, self.port))
                .await
            {
                Ok(body) => return Ok(body),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn get_from(&self, host: &str, addr: std::net::SocketAddr) -> Result<String, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let (config, _) = self
            .trust
            .client_config(Check::Pkix { enforce: true }, &[b"http/1.1"]);
        let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("https://{host}: TLS: {e}"))?;
        let request = format!(
            "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: postern\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let mut limited = (&mut tls).take((MAX_BODY + 16 * 1024) as u64);
        limited
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("https://{host}: {e}"))?;
        parse_response(&raw)
    }
}

fn usable(p: Arc<Policy>) -> Lookup {
    if p.mode == Mode::None {
        Lookup::NoPolicy
    } else {
        Lookup::Policy(p)
    }
}

/// The body of an HTTP/1.1 response: status 200 only (§3.3: no
/// redirects), `text/plain` (§3.2), plain or chunked.
pub fn parse_response(raw: &[u8]) -> Result<String, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("HTTP response without a complete header")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "HTTP header not UTF-8")?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("HTTP status {status:?}"));
    }
    let mut chunked = false;
    let mut text_plain = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        if k == "transfer-encoding" && v.contains("chunked") {
            chunked = true;
        }
        if k == "content-type" && v.split(';').next().map(str::trim) == Some("text/plain") {
            text_plain = true;
        }
    }
    if !text_plain {
        return Err("policy media type is not text/plain".into());
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err("policy larger than 64 KiB".into());
    }
    String::from_utf8(body).map_err(|_| "policy not UTF-8".into())
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk")?;
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        // `out` never exceeds MAX_BODY; a size past what is left (up to
        // usize::MAX) is refused before any arithmetic on it.
        if size > MAX_BODY - out.len() || data.len() < size + 2 {
            return Err("truncated or oversized chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_example() {
        let p = Policy::parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n").unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert!(p.allows("mail.example.com"));
        assert!(p.allows("MAIL.example.com."));
        assert!(p.allows("mx1.example.net"));
        // A wildcard covers exactly one label (§4.1).
        assert!(!p.allows("a.b.example.net"));
        assert!(!p.allows("example.net"));
        assert!(!p.allows("evil.example.org"));
    }

    #[test]
    fn refuses_incomplete_policies() {
        assert!(Policy::parse("mode: enforce\nmx: a\nmax_age: 1\n").is_err());
        assert!(Policy::parse("version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(Policy::parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n").is_err());
        assert!(Policy::parse("version: STSv1\nmode: enforce\nmx: a\n").is_err());
        let none =
            Policy::parse("version: STSv1\nmode: none\nmax_age: 99999999999\nextension: x\n")
                .unwrap();
        assert_eq!(none.max_age, MAX_AGE_CAP);
    }

    #[test]
    fn txt_record_ids() {
        assert_eq!(
            txt_id(&["v=STSv1; id=20160831085700Z;".into()]),
            Some("20160831085700Z".into())
        );
        assert_eq!(txt_id(&["v=spf1 -all".into()]), None);
        assert_eq!(
            txt_id(&["v=STSv1; id=a".into(), "v=STSv1; id=b".into()]),
            None
        );
        assert_eq!(txt_id(&["v=STSv1; id=bad-id!".into()]), None);
    }

    #[test]
    fn http_responses() {
        let ok =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nversion: STSv1\r\n";
        assert_eq!(parse_response(ok).unwrap(), "version: STSv1\r\n");
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), "hello world");
        let redirect = b"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n";
        assert!(parse_response(redirect).unwrap_err().contains("301"));
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>";
        assert!(parse_response(html).is_err());
    }
}
