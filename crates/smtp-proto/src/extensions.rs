//! What the EHLO reply advertises (RFC 5321 §4.1.1.1).

use crate::cmd::AuthMechanism;
use crate::Options;

/// The EHLO keywords, in the order we send them. Each is true of the core:
///
/// - `PIPELINING` (RFC 2920): replies are queued in order, one command is
///   parsed at a time;
/// - `SIZE n` (RFC 1870) from `Options::max_message_size`, enforced on
///   `SIZE=` and on the data itself;
/// - `8BITMIME` (RFC 6152), `SMTPUTF8` (RFC 6531): commands are UTF-8,
///   bodies are 8-bit clean;
/// - `ENHANCEDSTATUSCODES` (RFC 2034): every core reply carries one;
/// - `CHUNKING` (RFC 3030): BDAT chunks are read by size;
/// - `DSN` (RFC 3461): RET, ENVID, NOTIFY and ORCPT are parsed and handed
///   over;
/// - `REQUIRETLS` (RFC 8689 §4) only under TLS: the message must arrive
///   over TLS to ask for it;
/// - `STARTTLS` (RFC 3207) only on a plain listener that offers it, and
///   never after the upgrade (§4.2);
/// - `AUTH PLAIN LOGIN [EXTERNAL]` (RFC 4954) only on submission, only
///   under TLS (RFC 8314 §3, DESIGN: no credential before TLS), EXTERNAL
///   only with a verified client certificate (`Options::auth_external`).
pub(crate) fn ehlo_keywords(opts: &Options) -> Vec<String> {
    let mut keywords: Vec<String> = vec![
        "PIPELINING".into(),
        format!("SIZE {}", opts.max_message_size),
        "8BITMIME".into(),
        "ENHANCEDSTATUSCODES".into(),
        "SMTPUTF8".into(),
        "CHUNKING".into(),
        "DSN".into(),
    ];
    if opts.tls_active {
        keywords.push("REQUIRETLS".into());
    }
    if opts.starttls_offered && !opts.tls_active {
        keywords.push("STARTTLS".into());
    }
    if auth_offered(opts) {
        keywords.push(auth_keyword(opts));
    }
    keywords
}

/// AUTH is offered on submission listeners under TLS only.
pub(crate) const fn auth_offered(opts: &Options) -> bool {
    opts.submission && opts.tls_active
}

/// Whether `mechanism` is in the `AUTH` keyword.
pub(crate) const fn mechanism_offered(opts: &Options, mechanism: AuthMechanism) -> bool {
    match mechanism {
        AuthMechanism::Plain | AuthMechanism::Login => true,
        AuthMechanism::External => opts.auth_external,
    }
}

fn auth_keyword(opts: &Options) -> String {
    let mut keyword = String::from("AUTH PLAIN LOGIN");
    if opts.auth_external {
        keyword.push_str(" EXTERNAL");
    }
    keyword
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
    fn requiretls_dsn_and_external() {
        let plain = Options::default();
        assert!(has(&plain, "DSN") && !has(&plain, "REQUIRETLS"));
        let tls = Options {
            tls_active: true,
            submission: true,
            auth_external: true,
            ..Options::default()
        };
        assert!(has(&tls, "DSN") && has(&tls, "REQUIRETLS"));
        assert!(has(&tls, "AUTH PLAIN LOGIN EXTERNAL"));
        assert!(mechanism_offered(&tls, AuthMechanism::External));
        assert!(!mechanism_offered(&plain, AuthMechanism::External));
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
