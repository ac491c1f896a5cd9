//! The MTA-STS policy (RFC 8461 §3.2): `https://mta-sts.<domain>/.well-known/mta-sts.txt`
//! for each of our mail domains, telling other servers to deliver here
//! only over verified TLS.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::security::{host_name, refuse, request_host};
use crate::AppState;

/// How long senders may cache the policy: one week, the RFC's example
/// value and what the large providers publish (§3.2 caps it at a year).
pub const MAX_AGE: u64 = 604_800;

/// `GET /.well-known/mta-sts.txt` on `mta-sts.<local domain>`; any other
/// host has no policy here (404).
pub async fn policy(State(state): State<AppState>, parts: Parts) -> Response {
    let host = request_host(&parts).map(host_name);
    let domain = host.as_deref().and_then(|h| h.strip_prefix("mta-sts."));
    let Some(domain) = domain else {
        return refuse(StatusCode::NOT_FOUND, "not found\n");
    };
    if !state.is_local_domain(domain).await {
        return refuse(StatusCode::NOT_FOUND, "not found\n");
    }
    (
        // §3.2: the policy is served as text/plain.
        [(header::CONTENT_TYPE, "text/plain")],
        policy_text(&state.settings.hostname),
    )
        .into_response()
}

/// The policy itself: enforce, with this server as the only MX.
pub fn policy_text(hostname: &str) -> String {
    // §3.2: key/value lines separated by CRLF.
    format!("version: STSv1\r\nmode: enforce\r\nmx: {hostname}\r\nmax_age: {MAX_AGE}\r\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_has_every_field() {
        assert_eq!(
            super::policy_text("mail.example.com"),
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n"
        );
    }
}
