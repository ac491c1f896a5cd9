//! What CAPA lists (RFC 2449 §5).

use crate::Options;

/// The capabilities, in the order we send them. Before TLS there is
/// nothing to log in with (RFC 2595 §4, DESIGN): no `USER`, no `SASL`; STLS
/// is listed only where offered. Under TLS, STLS is gone (RFC 2595 §4: not
/// permitted when TLS is active) and the login methods appear.
///
/// - `RESP-CODES` (RFC 2449 §6.4) and `AUTH-RESP-CODE` (RFC 3206 §5): our
///   `-ERR` carries `[AUTH]`, `[SYS/TEMP]` codes;
/// - `PIPELINING` (RFC 2449 §6.6): input is framed ahead of parsing and
///   responses stay in order.
pub(crate) fn capabilities(opts: &Options, client_certificate: bool) -> Vec<&'static str> {
    if opts.tls_active {
        return vec![
            "USER",
            if client_certificate {
                "SASL PLAIN LOGIN EXTERNAL"
            } else {
                "SASL PLAIN LOGIN"
            },
            "RESP-CODES",
            "PIPELINING",
            "AUTH-RESP-CODE",
            "UIDL",
            "TOP",
        ];
    }
    let mut caps = Vec::new();
    if opts.starttls_offered {
        caps.push("STLS");
    }
    caps.extend(["RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]);
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_methods_only_under_tls() {
        let plain = Options::default();
        assert_eq!(
            capabilities(&plain, false),
            ["STLS", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
        );
        let no_tls = Options {
            starttls_offered: false,
            ..Options::default()
        };
        assert!(!capabilities(&no_tls, false).contains(&"STLS"));
        assert!(!capabilities(&no_tls, false).contains(&"USER"));
        let tls = Options {
            tls_active: true,
            starttls_offered: false,
            ..Options::default()
        };
        assert!(capabilities(&tls, true).contains(&"SASL PLAIN LOGIN EXTERNAL"));
        let caps = capabilities(&tls, false);
        assert!(caps.contains(&"USER") && caps.contains(&"SASL PLAIN LOGIN"));
        assert!(!caps.contains(&"STLS"));
    }
}
