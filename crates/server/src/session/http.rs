//! The plain-HTTP redirector, the metrics endpoint, and the HTTPS front page.

use std::net::SocketAddr;
use std::sync::Arc;

use postern_tls::Certificates;
use postern_types::TlsInfo;
use time::OffsetDateTime;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::http_lite::{redirect, response, OneRequest, RequestHead};
use crate::metrics::Metrics;

/// Security headers on every HTTPS response: HSTS for two years (RFC 6797;
/// at least one year as browsers' preload lists require), no framing, no
/// inline script, no MIME sniffing, no referrer leaks.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
];

/// What each kind of HTTP listener does with a request.
#[derive(Debug, Clone)]
pub enum HttpRole {
    /// Plain HTTP: a 301 to the same path on HTTPS, never content.
    Redirect { hostname: String, https_port: u16 },
    /// `GET /metrics` in the Prometheus text format.
    Metrics {
        metrics: Arc<Metrics>,
        certificates: Certificates,
    },
    /// The HTTPS site's front page.
    FrontPage { hostname: String },
}

/// Creates one-request HTTP sessions.
#[derive(Debug, Clone)]
pub struct HttpFactory(pub HttpRole);

impl SessionFactory for HttpFactory {
    type Session = HttpSession;

    fn protocol(&self, _tls: Option<TlsInfo>, _starttls: bool) -> OneRequest {
        OneRequest::default()
    }

    fn session(&self, _peer: SocketAddr) -> HttpSession {
        HttpSession(self.0.clone())
    }

    fn busy_line(&self) -> &'static [u8] {
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    }
}

/// One HTTP exchange.
#[derive(Debug)]
pub struct HttpSession(HttpRole);

impl Session for HttpSession {
    type Proto = OneRequest;

    async fn handle(&mut self, proto: &mut OneRequest, head: RequestHead) -> Control {
        tracing::debug!(method = %head.method, target = %head.target, "request");
        proto.respond(self.answer(&head));
        Control::Continue
    }
}

impl HttpSession {
    fn answer(&self, head: &RequestHead) -> Vec<u8> {
        match &self.0 {
            HttpRole::Redirect {
                hostname,
                https_port,
            } => redirect(head, hostname, *https_port),
            HttpRole::Metrics {
                metrics,
                certificates,
            } => metrics_page(head, metrics, certificates),
            HttpRole::FrontPage { hostname } => front_page(head, hostname),
        }
    }
}

fn metrics_page(head: &RequestHead, metrics: &Metrics, certs: &Certificates) -> Vec<u8> {
    if head.method != "GET" || head.target != "/metrics" {
        return response(
            "404 Not Found",
            &[("Content-Type", "text/plain")],
            b"metrics are at GET /metrics\n",
        );
    }
    let body = metrics.render(&certs.snapshot(), OffsetDateTime::now_utc());
    response(
        "200 OK",
        &[("Content-Type", "text/plain; version=0.0.4")],
        body.as_bytes(),
    )
}

fn front_page(head: &RequestHead, hostname: &str) -> Vec<u8> {
    let mut headers = SECURITY_HEADERS.to_vec();
    headers.push(("Content-Type", "text/html; charset=utf-8"));
    if head.method != "GET" && head.method != "HEAD" {
        // RFC 9110 §15.5.6: a 405 says which methods are allowed.
        headers.push(("Allow", "GET, HEAD"));
        return response("405 Method Not Allowed", &headers, b"");
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Postern on {hostname}</title></head>\n<body><h1>Postern on {hostname}</h1>\n<p>This is the mail server {hostname}. Every service here is encrypted.</p></body></html>\n"
    );
    let mut bytes = response("200 OK", &headers, body.as_bytes());
    if head.method == "HEAD" {
        // RFC 9110 §9.3.2: the same headers as GET, no body.
        bytes.truncate(bytes.len() - body.len());
    }
    bytes
}
