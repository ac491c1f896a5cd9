//! The trace header we prepend to every accepted message (RFC 5321 §4.4),
//! with the protocol keyword of RFC 3848 / RFC 6531 and the `tls` clause
//! of RFC 8314 §7.4 naming the cipher suite, so that a reader can see how
//! each hop was protected.

use std::fmt::Write as _;
use std::net::IpAddr;

use postern_types::date::rfc5322;
use postern_types::TlsInfo;
use time::OffsetDateTime;

/// What the trace header says about one transaction.
#[derive(Debug)]
pub struct Trace<'a> {
    /// The EHLO/HELO name the client gave.
    pub helo: &'a str,
    pub peer: IpAddr,
    /// Our host name.
    pub by: &'a str,
    pub tls: Option<&'a TlsInfo>,
    pub authenticated: bool,
    /// The transaction used SMTPUTF8 (RFC 6531 §3.7.3: UTF8SMTP keywords).
    pub utf8: bool,
    /// Our identifier of the message, also in the 250 reply and the log.
    pub id: &'a str,
    /// Named only when there is exactly one: listing every recipient
    /// would show each of them the others (Bcc).
    pub single_recipient: Option<&'a str>,
    pub date: OffsetDateTime,
    /// Written in the webmail and submitted over HTTPS, not SMTP.
    pub via_web: bool,
}

impl Trace<'_> {
    /// The header field, folded, ending with CRLF.
    pub fn header(&self) -> String {
        let mut h = format!(
            "Received: from {} ([{}])\r\n\tby {} (Postern) with {} id {}",
            sanitize(self.helo),
            self.peer,
            self.by,
            self.protocol(),
            self.id
        );
        if let Some(tls) = self.tls {
            let _ = write!(
                h,
                "\r\n\ttls {} ({})",
                iana_suite_name(&tls.cipher_suite),
                sanitize(&tls.version)
            );
        }
        if let Some(rcpt) = self.single_recipient {
            let _ = write!(h, "\r\n\tfor <{}>", sanitize(rcpt));
        }
        let _ = write!(h, ";\r\n\t{}\r\n", rfc5322(self.date.unix_timestamp()));
        h
    }

    /// RFC 3848 §2 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC 6531 §3.7.3
    /// (UTF8SMTP...).
    fn protocol(&self) -> String {
        // Not one of RFC 3848's SMTP keywords (the message did not come
        // by SMTP): says how it entered, as other webmail servers do.
        if self.via_web {
            return "HTTPS".to_owned();
        }
        let base = if self.utf8 { "UTF8SMTP" } else { "ESMTP" };
        let s = if self.tls.is_some() { "S" } else { "" };
        let a = if self.authenticated { "A" } else { "" };
        format!("{base}{s}{a}")
    }
}

/// RFC 8314 §7.4 names the suite as the IANA TLS registry does; rustls
/// prefixes its TLS 1.3 suites with `TLS13_` where IANA writes `TLS_`.
fn iana_suite_name(name: &str) -> String {
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{}", sanitize(rest)),
        None => sanitize(name),
    }
}

/// Keeps client-chosen text (the HELO name) from breaking the header: only
/// printable characters other than parentheses, angle brackets and
/// semicolons, which would end the clause early. Square brackets stay: an
/// address literal (`[192.0.2.1]`) is a valid HELO name.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => '?',
            '(' | ')' | ';' | '<' | '>' => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> TlsInfo {
        TlsInfo {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
            server_name: None,
            client: None,
        }
    }

    #[test]
    fn submission_over_tls_names_the_cipher_and_esmtpsa() {
        let tls = tls();
        let trace = Trace {
            helo: "laptop",
            peer: "192.0.2.7".parse().unwrap(),
            by: "mail.example.com",
            tls: Some(&tls),
            authenticated: true,
            utf8: false,
            id: "0123ABCD",
            single_recipient: Some("bob@example.org"),
            date: OffsetDateTime::from_unix_timestamp(1_795_420_898).unwrap(),
            via_web: false,
        };
        assert_eq!(
            trace.header(),
            "Received: from laptop ([192.0.2.7])\r\n\tby mail.example.com (Postern) with ESMTPSA id 0123ABCD\r\n\ttls TLS_AES_256_GCM_SHA384 (TLSv1.3)\r\n\tfor <bob@example.org>;\r\n\tMon, 23 Nov 2026 08:01:38 +0000\r\n"
        );
    }

    #[test]
    fn plain_mx_with_a_hostile_helo_stays_one_header() {
        let trace = Trace {
            helo: "x)\r\nBcc: evil;[",
            peer: "2001:db8::1".parse().unwrap(),
            by: "mx.example.com",
            tls: None,
            authenticated: false,
            utf8: true,
            id: "1",
            single_recipient: None,
            date: OffsetDateTime::from_unix_timestamp(1_767_571_141).unwrap(),
            via_web: false,
        };
        let h = trace.header();
        assert!(
            h.starts_with("Received: from x???Bcc: evil?[ ([2001:db8::1])"),
            "{h}"
        );
        assert!(h.contains("with UTF8SMTP id 1;"), "{h}");
        assert!(h.ends_with("\tSun, 4 Jan 2026 23:59:01 +0000\r\n"), "{h}");
        // Every line break is a fold (CRLF then a tab).
        assert_eq!(h.matches("\r\n").count(), h.matches("\r\n\t").count() + 1);
    }
}
