//! Reply formatting: RFC 5321 §4.2 reply lines with RFC 2034 / RFC 3463
//! enhanced status codes.

/// The longest reply line we write, CRLF included (RFC 5321 §4.5.3.1.5).
const MAX_REPLY_LINE: usize = 512;

/// A fixed reply the core sends on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canned {
    pub(crate) code: u16,
    pub(crate) enhanced: &'static str,
    pub(crate) text: &'static str,
}

/// RFC 3207 §4: a server that requires TLS answers this to anything but
/// NOOP, EHLO, STARTTLS and QUIT.
pub(crate) const MUST_STARTTLS: Canned = Canned {
    code: 530,
    enhanced: "5.7.0",
    text: "Must issue a STARTTLS command first",
};
/// RFC 5321 §4.1.4 and RFC 4954 §4: a transaction or AUTH needs EHLO first.
pub(crate) const NEED_HELO: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "Send EHLO or HELO first",
};
/// AUTH is only offered on submission listeners (DESIGN: no AUTH on the MX).
pub(crate) const AUTH_UNAVAILABLE: Canned = Canned {
    code: 502,
    enhanced: "5.5.1",
    text: "AUTH is not available on this port",
};
/// RFC 3207 §4.2: STARTTLS is not advertised after the handshake, so a
/// second one is out of sequence (RFC 5321 §4.2.4: 503).
pub(crate) const TLS_ALREADY_ACTIVE: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "TLS is already active",
};
/// RFC 5321 §4.2.4: 502 for a command this listener does not implement.
pub(crate) const STARTTLS_UNAVAILABLE: Canned = Canned {
    code: 502,
    enhanced: "5.5.1",
    text: "STARTTLS is not available on this port",
};
/// RFC 5321 §4.5.3.1.10 names "500 Line too long" as the reply.
pub(crate) const LINE_TOO_LONG: Canned = Canned {
    code: 500,
    enhanced: "5.5.2",
    text: "Line too long",
};

/// RFC 5321 §4.1.4: MAIL while a transaction is open is out of sequence.
pub(crate) const NESTED_MAIL: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "Sender already specified",
};
/// RFC 5321 §4.1.4: RCPT, DATA and BDAT need an open transaction.
pub(crate) const NEED_MAIL: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "Need MAIL command first",
};
/// RFC 5321 §3.3: DATA (or BDAT) with no accepted recipient.
pub(crate) const NO_RECIPIENTS: Canned = Canned {
    code: 554,
    enhanced: "5.5.1",
    text: "No valid recipients",
};
/// RFC 3030 §2: DATA and BDAT cannot be mixed in one transaction.
pub(crate) const DATA_AFTER_BDAT: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "DATA is not allowed after BDAT",
};
/// RFC 4954 §6 (X.7.0): submission needs AUTH before MAIL.
pub(crate) const AUTH_REQUIRED: Canned = Canned {
    code: 530,
    enhanced: "5.7.0",
    text: "Authentication required",
};
/// RFC 4954 §4: AUTH is refused once authenticated.
pub(crate) const ALREADY_AUTHENTICATED: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "Already authenticated",
};
/// RFC 4954 §4: AUTH is not permitted during a mail transaction.
pub(crate) const AUTH_IN_TRANSACTION: Canned = Canned {
    code: 503,
    enhanced: "5.5.1",
    text: "AUTH is not permitted during a mail transaction",
};
/// RFC 4954 §4 and §6: a mechanism we did not offer.
pub(crate) const UNKNOWN_MECHANISM: Canned = Canned {
    code: 504,
    enhanced: "5.5.4",
    text: "Unrecognized authentication type",
};
/// RFC 4954 §4: the client answered a challenge with `*`.
pub(crate) const AUTH_CANCELLED: Canned = Canned {
    code: 501,
    enhanced: "5.0.0",
    text: "Authentication cancelled",
};
/// RFC 4954 §4: a response that is not base64.
pub(crate) const BAD_BASE64: Canned = Canned {
    code: 501,
    enhanced: "5.5.2",
    text: "Cannot decode base64",
};
/// RFC 4954 §6.
pub(crate) const AUTH_OK: Canned = Canned {
    code: 235,
    enhanced: "2.7.0",
    text: "Authentication successful",
};
/// RFC 4954 §6.
pub(crate) const AUTH_INVALID: Canned = Canned {
    code: 535,
    enhanced: "5.7.8",
    text: "Authentication credentials invalid",
};
/// RFC 4954 §6.
pub(crate) const AUTH_TEMPORARY: Canned = Canned {
    code: 454,
    enhanced: "4.7.0",
    text: "Temporary authentication failure",
};
/// RFC 1870 §6.1 (X.3.4 "message too big for system", RFC 3463 §3.4).
pub(crate) const TOO_BIG: Canned = Canned {
    code: 552,
    enhanced: "5.3.4",
    text: "Message size exceeds fixed maximum message size",
};
/// RFC 5321 §4.5.3.1.10: `452 Too many recipients` (X.5.3, RFC 3463 §3.6).
pub(crate) const TOO_MANY_RECIPIENTS: Canned = Canned {
    code: 452,
    enhanced: "4.5.3",
    text: "Too many recipients",
};
/// RFC 6531 §3.5 (X.6.7, RFC 5248): a UTF-8 address without SMTPUTF8.
pub(crate) const NEEDS_SMTPUTF8: Canned = Canned {
    code: 553,
    enhanced: "5.6.7",
    text: "Non-ASCII address requires the SMTPUTF8 parameter",
};
/// RFC 8689 §4: REQUIRETLS is only offered under TLS, and a message that
/// asks for it must have arrived over TLS itself. X.7.10 is "encryption
/// needed" (RFC 5248 registry).
pub(crate) const REQUIRETLS_NEEDS_TLS: Canned = Canned {
    code: 530,
    enhanced: "5.7.10",
    text: "REQUIRETLS needs a TLS session",
};
/// RFC 5321 §2.3.8: CR and LF only occur together, as a line ending.
/// Refusing such a message (after its end, like any content check) keeps
/// it from being relayed to a server that would split it differently (SMTP
/// smuggling). X.6.0 is "other or undefined media error" (RFC 3463 §3.7).
pub(crate) const BARE_LINE_ENDING: Canned = Canned {
    code: 550,
    enhanced: "5.6.0",
    text: "Bare CR or LF in message (RFC 5321 section 2.3.8)",
};
/// RFC 5321 §4.2.3 (451) and RFC 3463 X.3.0: the session gave no answer.
pub(crate) const LOCAL_ERROR: Canned = Canned {
    code: 451,
    enhanced: "4.3.0",
    text: "Local error in processing",
};
/// RFC 3207 §4: the session gave no answer to STARTTLS.
pub(crate) const TLS_UNAVAILABLE: Canned = Canned {
    code: 454,
    enhanced: "4.7.0",
    text: "TLS not available due to temporary reason",
};

/// Appends one reply, single- or multi-line (RFC 5321 §4.2.1: `code-`
/// on every line but the last).
pub(crate) fn write(out: &mut Vec<u8>, code: u16, enhanced: Option<&str>, lines: &[&str]) {
    let code = checked_code(code);
    debug_assert!(
        enhanced.is_none_or(|e| valid_enhanced(code, e)),
        "enhanced code {enhanced:?} does not fit reply {code}"
    );
    let enhanced = enhanced.filter(|e| valid_enhanced(code, e));
    let lines = if lines.is_empty() { &[""][..] } else { lines };
    for (i, text) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        write_line(out, code, last, enhanced, text);
    }
}

fn write_line(out: &mut Vec<u8>, code: u16, last: bool, enhanced: Option<&str>, text: &str) {
    let mut line = format!("{code}{}", if last { ' ' } else { '-' });
    if let Some(enhanced) = enhanced {
        line.push_str(enhanced);
        line.push(' ');
    }
    line.push_str(&clean(text));
    while line.len() > MAX_REPLY_LINE - 2 {
        line.pop();
    }
    // `250 ` with no text is not a valid reply-line (RFC 5321 §4.2).
    line.truncate(line.trim_end_matches(' ').len());
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Reply codes are 2yz to 5yz (RFC 5321 §4.2.1); anything else is a bug in
/// the caller, answered as a local error rather than sent.
fn checked_code(code: u16) -> u16 {
    let valid = (200..=599).contains(&code);
    debug_assert!(valid, "invalid SMTP reply code {code}");
    if valid {
        code
    } else {
        451
    }
}

/// `class.subject.detail` (RFC 3463 §2) whose class matches the reply code
/// (RFC 2034 §4); 3yz replies carry none.
fn valid_enhanced(code: u16, enhanced: &str) -> bool {
    let class = match code / 100 {
        2 => "2",
        4 => "4",
        5 => "5",
        _ => return false,
    };
    let mut parts = enhanced.split('.');
    parts.next() == Some(class)
        && parts.next().is_some_and(is_number)
        && parts.next().is_some_and(is_number)
        && parts.next().is_none()
}

fn is_number(s: &str) -> bool {
    (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Text from the session never breaks the line structure: a CR or LF in it
/// would let it forge further replies.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether a reply tells the client it made a syntax or sequence error
/// (RFC 5321 §4.2.1: second digit 0, "Syntax"), which counts as a bad command.
pub(crate) const fn is_syntax_class(code: u16) -> bool {
    code / 10 == 50
}

/// Whether a refusal counts against `Options::max_bad_commands`: syntax
/// and sequence errors, and `530` (a client pushing commands that need TLS
/// or AUTH first). Policy refusals a correct client meets in normal
/// operation (`452` too many recipients, `552`, `554`) do not: a client
/// pipelining 150 recipients must not be disconnected for it.
pub(crate) const fn is_bad_command(code: u16) -> bool {
    is_syntax_class(code) || code == 530
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(code: u16, enhanced: Option<&str>, lines: &[&str]) -> String {
        let mut out = Vec::new();
        write(&mut out, code, enhanced, lines);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_answers() {
        let cases: &[(u16, Option<&str>, &[&str], &str)] = &[
            (250, Some("2.0.0"), &["OK"], "250 2.0.0 OK\r\n"),
            (220, None, &["mx ESMTP"], "220 mx ESMTP\r\n"),
            (250, None, &["a", "b", "c"], "250-a\r\n250-b\r\n250 c\r\n"),
            (250, None, &[], "250\r\n"),
            (354, None, &["go"], "354 go\r\n"),
            (
                550,
                Some("5.1.1"),
                &["x\r\n250 forged"],
                "550 5.1.1 x  250 forged\r\n",
            ),
            (221, Some("2.0.0"), &[""], "221 2.0.0\r\n"),
        ];
        for (code, enhanced, lines, expected) in cases {
            assert_eq!(render(*code, *enhanced, lines), *expected);
        }
    }

    #[test]
    fn long_text_is_cut_to_the_reply_line_limit() {
        let text = "é".repeat(600);
        let out = render(250, None, &[&text]);
        assert!(out.len() <= MAX_REPLY_LINE);
        assert!(out.ends_with("\r\n"));
    }

    #[test]
    fn enhanced_code_validation() {
        assert!(valid_enhanced(250, "2.1.0"));
        assert!(valid_enhanced(550, "5.123.999"));
        assert!(is_syntax_class(500) && is_syntax_class(503) && !is_syntax_class(530));
    }
}
