//! The static files, embedded in the binary: nothing is read from disk,
//! so no request path can reach the file system.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::security::refuse;

const STYLE: &str = include_str!("../static/style.css");

/// Every file: name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[("style.css", "text/css; charset=utf-8", STYLE.as_bytes())];

/// Served with a year's caching: the pages link each file with its content
/// hash in the query, so a new version is a new URL.
const CACHE: &str = "public, max-age=31536000, immutable";

/// `GET /static/{name}`: one of [`FILES`], or 404. The name is compared
/// with the list, never joined to a path, so `..` and encoded slashes
/// simply name nothing.
pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, CACHE),
            ],
            *body,
        )
            .into_response(),
        None => refuse(axum::http::StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The style sheet's URL, versioned by its content.
pub fn style_href() -> &'static str {
    static HREF: LazyLock<String> =
        LazyLock::new(|| format!("/static/style.css?v={:016x}", fnv1a(STYLE.as_bytes())));
    &HREF
}

/// FNV-1a: a cache-busting tag, not a security property.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_the_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert!(style_href().starts_with("/static/style.css?v="));
    }
}
