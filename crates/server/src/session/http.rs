//! The plain-HTTP redirector and the metrics endpoint. The HTTPS site is
//! the web application (`crate::web`).

use std::net::SocketAddr;
use std::sync::Arc;

use postern_tls::Certificates;
use postern_types::TlsInfo;
use time::OffsetDateTime;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::http_lite::{redirect, response, OneRequest, RequestHead};
use crate::metrics::Metrics;

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
