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
pub(crate) fn capabilities(opts: &Options, authenticated: bool, external: bool) -> String {
    if authenticated {
        return authenticated_capabilities(opts);
    }
    let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL-", "ID"];
    if opts.tls_active {
        caps.extend(["AUTH=PLAIN", "AUTH=LOGIN"]);
        if external {
            caps.push("AUTH=EXTERNAL");
        }
    } else {
        if opts.starttls_offered {
            caps.push("STARTTLS");
        }
        caps.push("LOGINDISABLED");
    }
    caps.join(" ")
}

/// After login (RFC 9051 §6.2.3 lets the list change): the extensions the
/// session implements. LITERAL+ (RFC 7888) because any literal up to
/// APPENDLIMIT is read; a larger non-synchronizing one ends the session.
fn authenticated_capabilities(opts: &Options) -> String {
    let caps = [
        "IMAP4rev1",
        "IMAP4rev2",
        "LITERAL+",
        "ID",
        "ENABLE",
        "IDLE",
        "NAMESPACE",
        "UNSELECT",
        "UIDPLUS",
        "MOVE",
        "CHILDREN",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "SPECIAL-USE",
        "CREATE-SPECIAL-USE",
        "ESEARCH",
        "SEARCHRES",
        "CONDSTORE",
        "QRESYNC",
        "UTF8=ACCEPT",
        "STATUS=SIZE",
        "BINARY",
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "SORT",
        "THREAD=ORDEREDSUBJECT",
        "THREAD=REFERENCES",
    ];
    // COMPRESS (RFC 4978) only inside TLS: deflate under a cipher, never
    // instead of one.
    let compress = if opts.tls_active {
        " COMPRESS=DEFLATE"
    } else {
        ""
    };
    format!(
        "{}{compress} APPENDLIMIT={}",
        caps.join(" "),
        opts.max_append
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_only_under_tls() {
        assert_eq!(
            capabilities(&Options::default(), false, false),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID STARTTLS LOGINDISABLED"
        );
        let no_tls = Options {
            starttls_offered: false,
            ..Options::default()
        };
        assert_eq!(
            capabilities(&no_tls, false, false),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID LOGINDISABLED"
        );
        let tls = Options {
            tls_active: true,
            starttls_offered: false,
            ..Options::default()
        };
        assert_eq!(
            capabilities(&tls, false, false),
            "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID AUTH=PLAIN AUTH=LOGIN"
        );
    }
}
