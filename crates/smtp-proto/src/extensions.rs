//! What the EHLO reply advertises (RFC 5321 §4.1.1.1).

use crate::Options;

/// The EHLO keywords, in the order we send them. Each is true of the core:
///
/// - `PIPELINING` (RFC 2920): replies are queued in order, input is framed
///   ahead of parsing;
/// - `SIZE n` (RFC 1870) from `Options::max_message_size`;
/// - `8BITMIME` (RFC 6152), `SMTPUTF8` (RFC 6531): commands are UTF-8;
/// - `ENHANCEDSTATUSCODES` (RFC 2034): every core reply carries one;
/// - `CHUNKING` (RFC 3030): BDAT chunks are framed by size;
/// - `STARTTLS` (RFC 3207) only on a plain listener that offers it, and
///   never after the upgrade (§4.2);
/// - `AUTH PLAIN LOGIN` (RFC 4954) only on submission, only under TLS
///   (RFC 8314 §3, DESIGN: no credential before TLS).
pub(crate) fn ehlo_keywords(opts: &Options) -> Vec<String> {
    let mut keywords: Vec<String> = vec![
        "PIPELINING".into(),
        format!("SIZE {}", opts.max_message_size),
        "8BITMIME".into(),
        "ENHANCEDSTATUSCODES".into(),
        "SMTPUTF8".into(),
        "CHUNKING".into(),
    ];
    if opts.starttls_offered && !opts.tls_active {
        keywords.push("STARTTLS".into());
    }
    if opts.submission && opts.tls_active {
        keywords.push("AUTH PLAIN LOGIN".into());
    }
    keywords
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(opts: &Options, keyword: &str) -> bool {
        ehlo_keywords(opts).iter().any(|k| k == keyword)
    }

    #[test]
    fn tls_and_auth_follow_the_listener() {
        let mx = Options::default();
        assert!(has(&mx, "STARTTLS") && !has(&mx, "AUTH PLAIN LOGIN"));
        let mx_tls = Options {
            tls_active: true,
            ..Options::default()
        };
        assert!(!has(&mx_tls, "STARTTLS") && !has(&mx_tls, "AUTH PLAIN LOGIN"));
        let submission = Options {
            submission: true,
            ..Options::default()
        };
        assert!(has(&submission, "STARTTLS") && !has(&submission, "AUTH PLAIN LOGIN"));
        let submissions = Options {
            submission: true,
            tls_active: true,
            starttls_offered: false,
            ..Options::default()
        };
        assert!(!has(&submissions, "STARTTLS") && has(&submissions, "AUTH PLAIN LOGIN"));
        let plain = Options {
            starttls_offered: false,
            ..Options::default()
        };
        assert!(!has(&plain, "STARTTLS"));
    }

    #[test]
    fn size_comes_from_the_options() {
        let opts = Options {
            max_message_size: 123,
            ..Options::default()
        };
        assert!(has(&opts, "SIZE 123"));
    }
}
