//! Delivery status notifications (RFC 3464) in a multipart/report
//! (RFC 6522), built without I/O.

use std::fmt::Write as _;

use postern_types::date::rfc5322;

use crate::client::Ret;

/// What happened to a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    /// Handed to a next hop that does not offer DSN, so no further
    /// notification will come (RFC 3461 §6.2).
    Relayed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Delayed => "delayed",
            Self::Relayed => "relayed",
        }
    }
}

/// One recipient's part of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    pub address: String,
    /// ORCPT as the client gave it (`rfc822;bob@example.org`).
    pub orcpt: Option<String>,
    pub action: Action,
    /// `5.1.1` (RFC 3463).
    pub status: String,
    /// `smtp; 550 5.1.1 ...` or `x-postern; ...` (RFC 3464 §2.3.6).
    pub diagnostic: Option<String>,
    /// For `delayed`: when we give up (RFC 3464 §2.3.9).
    pub will_retry_until: Option<i64>,
}

/// Everything a report needs.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Our host name (Reporting-MTA, and the From address's domain).
    pub reporting_mta: &'a str,
    /// The envelope sender, who gets the report.
    pub to: &'a str,
    pub envid: Option<&'a str>,
    pub ret: Option<Ret>,
    /// When the message was accepted; and now (seconds since the epoch).
    pub arrival: i64,
    pub now: i64,
    /// Unique within this server, for the Message-ID.
    pub unique: &'a str,
    pub recipients: &'a [RecipientReport],
    pub original: &'a [u8],
}

/// Without RET, the whole message is returned up to this size, its
/// headers beyond (RFC 3461 §4.3 leaves the choice to the MTA; returning
/// megabytes to a sender who has them helps nobody).
const FULL_RETURN_LIMIT: usize = 256 * 1024;

/// A recipient's last error, as queued: `<status> <diagnostic>`.
pub fn encode_error(status: &str, diagnostic: &str) -> String {
    format!("{status} {diagnostic}")
}

/// The inverse of [`encode_error`]; an error without a status gets one
/// from `permanent`.
pub fn decode_error(error: &str, permanent: bool) -> (String, String) {
    if let Some((status, rest)) = error.split_once(' ') {
        let parts: Vec<&str> = status.split('.').collect();
        if parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return (status.to_owned(), rest.to_owned());
        }
    }
    let status = if permanent { "5.0.0" } else { "4.0.0" };
    (status.to_owned(), format!("x-postern; {error}"))
}

/// The report message.
pub fn build(r: &Report<'_>) -> Vec<u8> {
    let boundary = format!("=_dsn_{}", r.unique);
    let failed = r.recipients.iter().any(|x| x.action == Action::Failed);
    let subject = if failed {
        "Undelivered Mail Returned to Sender"
    } else if r.recipients.iter().any(|x| x.action == Action::Delayed) {
        "Delayed Mail (still being retried)"
    } else {
        "Successful Mail Delivery Report"
    };
    let mut m = String::new();
    let _ = write!(
        m,
        "From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <dsn.{unique}@{mta}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\r\n\
         This is a MIME-encapsulated message.\r\n\r\n",
        mta = r.reporting_mta,
        to = r.to,
        date = rfc5322(r.now),
        unique = r.unique,
    );
    human_part(&mut m, r, &boundary);
    status_part(&mut m, r, &boundary);
    let mut out = m.into_bytes();
    original_part(&mut out, r, &boundary);
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn human_part(m: &mut String, r: &Report<'_>, boundary: &str) {
    let _ = write!(
        m,
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    let _ = write!(m, "This is the mail system at {}.\r\n\r\n", r.reporting_mta);
    for x in r.recipients {
        let what = match x.action {
            Action::Failed => "could not be delivered to",
            Action::Delayed => "has not yet been delivered to",
            Action::Relayed => "was relayed (no further notification will follow) to",
        };
        let _ = write!(m, "Your message {what} <{}>.\r\n", x.address);
        if let Some(d) = &x.diagnostic {
            // A bare CR from the peer's reply must not reach the body.
            let _ = write!(m, "  {}\r\n", one_line(d));
        }
    }
    m.push_str("\r\n");
}

fn status_part(m: &mut String, r: &Report<'_>, boundary: &str) {
    let _ = write!(
        m,
        "--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    );
    let _ = write!(m, "Reporting-MTA: dns; {}\r\n", r.reporting_mta);
    if let Some(id) = r.envid {
        let _ = write!(
            m,
            "Original-Envelope-Id: {}\r\n",
            crate::client::command::xtext(id)
        );
    }
    let _ = write!(m, "Arrival-Date: {}\r\n", rfc5322(r.arrival));
    for x in r.recipients {
        m.push_str("\r\n");
        if let Some(o) = &x.orcpt {
            let o = if o.contains(';') {
                o.clone()
            } else {
                format!("rfc822;{o}")
            };
            let _ = write!(m, "Original-Recipient: {o}\r\n");
        }
        let _ = write!(
            m,
            "Final-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
            x.address,
            x.action.name(),
            x.status
        );
        if let Some(d) = &x.diagnostic {
            let _ = write!(m, "Diagnostic-Code: {}\r\n", one_line(d));
        }
        let _ = write!(m, "Last-Attempt-Date: {}\r\n", rfc5322(r.now));
        if let Some(t) = x.will_retry_until {
            let _ = write!(m, "Will-Retry-Until: {}\r\n", rfc5322(t));
        }
    }
    m.push_str("\r\n");
}

fn original_part(out: &mut Vec<u8>, r: &Report<'_>, boundary: &str) {
    let headers_end = r
        .original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(r.original.len(), |p| p + 2);
    let full = match r.ret {
        Some(Ret::Full) => true,
        Some(Ret::Headers) => false,
        None => r.original.len() <= FULL_RETURN_LIMIT,
    };
    let (ctype, body) = if full {
        ("message/rfc822", r.original)
    } else {
        ("text/rfc822-headers", &r.original[..headers_end])
    };
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: {ctype}\r\n\r\n").as_bytes());
    out.extend_from_slice(body);
    if !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

/// Header fields are lines: a diagnostic with line breaks is folded flat.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip() {
        let e = encode_error("5.1.1", "smtp; 550 5.1.1 no such user");
        assert_eq!(
            decode_error(&e, true),
            ("5.1.1".into(), "smtp; 550 5.1.1 no such user".into())
        );
        assert_eq!(
            decode_error("connection refused", false),
            ("4.0.0".into(), "x-postern; connection refused".into())
        );
    }

    fn report<'a>(
        recipients: &'a [RecipientReport],
        original: &'a [u8],
        ret: Option<Ret>,
    ) -> Report<'a> {
        Report {
            reporting_mta: "mx.example.org",
            to: "alice@example.org",
            envid: Some("env 1"),
            ret,
            arrival: 0,
            now: 60,
            unique: "42.60",
            recipients,
            original,
        }
    }

    #[test]
    fn failure_report_has_every_required_field() {
        let rcpts = [RecipientReport {
            address: "bob@example.net".into(),
            orcpt: Some("rfc822;Bob@example.net".into()),
            action: Action::Failed,
            status: "5.1.1".into(),
            diagnostic: Some("smtp; 550 5.1.1 no\r\n such user".into()),
            will_retry_until: None,
        }];
        let original = b"Subject: hi\r\nFrom: alice@example.org\r\n\r\nsecret body\r\n";
        let text = String::from_utf8(build(&report(&rcpts, original, Some(Ret::Headers)))).unwrap();
        for want in [
            "To: <alice@example.org>\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "Content-Type: multipart/report; report-type=delivery-status;",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n",
            "Original-Envelope-Id: env+201\r\n",
            "Original-Recipient: rfc822;Bob@example.net\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no  such user\r\n",
            "Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n",
            "--=_dsn_42.60--\r\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(
            !text.contains("secret body"),
            "RET=HDRS returns headers only"
        );
        let full = String::from_utf8(build(&report(&rcpts, original, Some(Ret::Full)))).unwrap();
        assert!(full.contains("Content-Type: message/rfc822\r\n\r\nSubject: hi\r\n"));
        assert!(full.contains("secret body"));
    }
}
