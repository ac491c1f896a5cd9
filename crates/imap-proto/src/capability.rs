//! What CAPABILITY lists (RFC 9051 §7.2.2), kept to what is true of the
//! core now; each later slice adds the extensions it implements.

use crate::Options;

/// The capability list, space-separated, in the order we send it.
///
/// - `IMAP4rev1 IMAP4rev2`: the protocol revisions (RFC 3501, RFC 9051);
/// - `SASL-IR` (RFC 4959): AUTHENTICATE takes an initial response;
/// - `LITERAL-` (RFC 7888): non-synchronizing literals up to 4096 octets;
/// - before TLS: `STARTTLS` where offered and `LOGINDISABLED` with no
///   `AUTH=` (RFC 9051 §6.2.1, §6.2.3; DESIGN: no credential in clear);
/// - under TLS: `AUTH=PLAIN`, and neither `STARTTLS` nor `LOGINDISABLED`.
pub(crate) fn capabilities(opts: &Options) -> String {
    let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL-"];
    if opts.tls_active {
        caps.push("AUTH=PLAIN");
    } else {
        if opts.starttls_offered {
            caps.push("STARTTLS");
        }
        caps.push("LOGINDISABLED");
    }
    caps.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_only_under_tls() {
        assert_eq!(
            capabilities(&Options::default()),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- STARTTLS LOGINDISABLED"
        );
        let no_tls = Options {
            starttls_offered: false,
            ..Options::default()
        };
        assert_eq!(
            capabilities(&no_tls),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- LOGINDISABLED"
        );
        let tls = Options {
            tls_active: true,
            starttls_offered: false,
            ..Options::default()
        };
        assert_eq!(
            capabilities(&tls),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- AUTH=PLAIN"
        );
    }
}
