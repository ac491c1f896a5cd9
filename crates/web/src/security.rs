//! What holds for every HTTPS response and every state-changing request:
//! the security headers, the cross-site refusal, the request deadline.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Security headers on every HTTPS response.
///
/// - HSTS for two years (RFC 6797 §6.1.1; browsers' preload lists ask for
///   at least one year), subdomains included: every service here is TLS.
/// - A content security policy that allows no inline script or style, no
///   plugin, no `<base>`, no framing (clickjacking), and forms posting
///   only back here. Images may be `data:` URLs for small inline icons.
/// - No MIME sniffing; no referrer to other sites (a mail link must not
///   leak the page URL), `same-origin` rather than `no-referrer` because
///   under `no-referrer` browsers send `Origin: null` on the site's own
///   form posts, which the cross-site check must then refuse; and
///   X-Frame-Options for browsers without `frame-ancestors`.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

/// The policy of a message page whose reader chose to load its remote
/// images: [`SECURITY_HEADERS`]' policy with `https:` images allowed,
/// nothing else.
const CSP_REMOTE_IMAGES: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Put in a response's extensions by a page that shows remote images the
/// reader asked for; [`guard`] then sends [`CSP_REMOTE_IMAGES`].
#[derive(Debug, Clone, Copy)]
pub struct RemoteImages;

/// Wraps every request: refuses cross-site state changes, bounds the time
/// a request may take, and sets the security headers on whatever comes
/// out. Pages are `Cache-Control: no-store` unless they say otherwise (the
/// static files do): a shared machine's cache must not keep a mailbox
/// listing or a page with a CSRF token.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = if is_cross_site(&req) {
        tracing::info!(method = %req.method(), path = %req.uri().path(), "cross-site request refused");
        refuse(StatusCode::FORBIDDEN, "cross-site request refused\n")
    } else {
        let deadline = state.settings.request_timeout;
        match tokio::time::timeout(deadline, next.run(req)).await {
            Ok(response) => response,
            Err(_) => {
                let mut r = refuse(StatusCode::REQUEST_TIMEOUT, "request took too long\n");
                // The body may be half read: this connection is done.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
        }
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if response.extensions().get::<RemoteImages>().is_some() {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP_REMOTE_IMAGES),
        );
    }
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A plain-text refusal.
pub fn refuse(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// A state-changing request (anything but GET, HEAD, OPTIONS) another site
/// made the browser send: `Sec-Fetch-Site` says it came from elsewhere, or
/// `Origin` (RFC 6454 §7) is not this site. Requests with neither header
/// (mail clients, old browsers) pass here; the CSRF token still guards the
/// forms.
fn is_cross_site(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let headers = req.headers();
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes().to_ascii_lowercase());
    // "same-site" is a sibling host (another subdomain): foreign too.
    if fetch_site
        .as_deref()
        .is_some_and(|s| s != b"same-origin" && s != b"none")
    {
        return true;
    }
    // The browser's own word (a header no page can set, Fetch §2.2.2):
    // a same-origin post stands even where a privacy setting made the
    // Origin `null`.
    if fetch_site.as_deref() == Some(b"same-origin") {
        return false;
    }
    match headers.get(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let host = host_of(req.uri(), headers);
            let expected = host.map(|h| format!("https://{h}"));
            !expected.is_some_and(|e| origin.as_bytes().eq_ignore_ascii_case(e.as_bytes()))
        }
    }
}

/// The host (with its port, if any) a request was sent to: the authority
/// of an absolute-form target, which RFC 9112 §3.2.2 says wins over the
/// Host header, else the Host header.
pub fn host_of<'a>(uri: &'a axum::http::Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    if let Some(authority) = uri.authority() {
        return Some(authority.as_str());
    }
    headers.get(header::HOST)?.to_str().ok()
}

/// [`host_of`] for extractors.
pub fn request_host(parts: &Parts) -> Option<&str> {
    host_of(&parts.uri, &parts.headers)
}

/// The host name alone: lowercase, without port or trailing dot.
pub fn host_name(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method("POST").uri("/login");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn same_origin_passes_and_foreign_origins_do_not() {
        let host = ("host", "mail.example.test:8443");
        assert!(!is_cross_site(&post(&[host])));
        assert!(!is_cross_site(&post(&[
            host,
            ("origin", "https://mail.example.test:8443")
        ])));
        assert!(!is_cross_site(&post(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(is_cross_site(&post(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(is_cross_site(&post(&[host, ("origin", "null")])));
        // What Chromium sends for the site's own form under a strict
        // referrer policy: the browser's Sec-Fetch-Site decides.
        assert!(!is_cross_site(&post(&[
            host,
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(is_cross_site(&post(&[
            host,
            ("origin", "null"),
            ("sec-fetch-site", "cross-site")
        ])));
        // Same host over plain HTTP is another origin (RFC 6454 §4).
        assert!(is_cross_site(&post(&[
            host,
            ("origin", "http://mail.example.test:8443")
        ])));
        assert!(is_cross_site(&post(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(is_cross_site(&post(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
        // No Host at all: nothing to compare an Origin with.
        assert!(is_cross_site(&post(&[("origin", "https://x")])));
    }

    #[test]
    fn safe_methods_are_never_refused() {
        let req = Request::builder()
            .uri("/")
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(!is_cross_site(&req));
    }

    #[test]
    fn absolute_form_authority_wins_over_host() {
        let uri: axum::http::Uri = "https://mta-sts.example.test/x".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("other.example"));
        assert_eq!(host_of(&uri, &headers), Some("mta-sts.example.test"));
        let uri: axum::http::Uri = "/x".parse().unwrap();
        assert_eq!(host_of(&uri, &headers), Some("other.example"));
    }

    #[test]
    fn host_names_lose_port_case_and_final_dot() {
        assert_eq!(
            host_name("MTA-STS.Example.TEST.:8443"),
            "mta-sts.example.test"
        );
        assert_eq!(host_name("[::1]:8443"), "[::1]");
        assert_eq!(host_name("example.test"), "example.test");
    }
}
