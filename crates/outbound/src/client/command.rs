//! What the client says: EHLO capabilities, the commands with their
//! extension parameters, and the message body on the wire.
//!
//! Every parameter is offered only when the peer advertised its extension
//! (RFC 5321 §4.1.1.11 forbids the others); the one exception is
//! REQUIRETLS, whose message must not go to a peer without it at all
//! (RFC 8689 §4.2.1), which the delivery code checks before we get here.

use std::fmt::Write as _;

use postern_types::Secret;

use super::reply::Reply;

/// The EHLO keywords we use (RFC 5321 §4.1.1.1 and the extension RFCs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub pipelining: bool,
    /// RFC 1870: the peer's limit, 0 = none stated.
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub chunking: bool,
    pub dsn: bool,
    pub starttls: bool,
    pub requiretls: bool,
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads a 250 EHLO reply; the first line is the peer's greeting name.
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut ext = Self::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "SIZE" => ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "CHUNKING" => ext.chunking = true,
                "DSN" => ext.dsn = true,
                "STARTTLS" => ext.starttls = true,
                "REQUIRETLS" => ext.requiretls = true,
                "AUTH" => ext.auth = words.map(str::to_ascii_uppercase).collect(),
                _ => {}
            }
        }
        ext
    }
}

/// RET (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Headers,
}

/// NOTIFY (RFC 3461 §4.1): `never` excludes the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

impl Default for Notify {
    /// RFC 3461 §4.1: without NOTIFY, the MTA reports failures and may
    /// report delays.
    fn default() -> Self {
        Self {
            never: false,
            success: false,
            failure: true,
            delay: true,
        }
    }
}

/// The envelope of one transaction, as MAIL FROM carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// The reverse path; empty for the null sender (bounces).
    pub from: String,
    pub size: u64,
    /// The body has 8-bit octets (BODY=8BITMIME, RFC 6152).
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    pub envid: Option<String>,
    pub requiretls: bool,
}

/// One RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    pub address: String,
    pub notify: Notify,
    /// The original recipient, `type;address` (RFC 3461 §4.2), decoded.
    pub orcpt: Option<String>,
}

pub fn ehlo(name: &str) -> Vec<u8> {
    format!("EHLO {name}\r\n").into_bytes()
}

pub fn helo(name: &str) -> Vec<u8> {
    format!("HELO {name}\r\n").into_bytes()
}

pub const STARTTLS: &[u8] = b"STARTTLS\r\n";
pub const DATA: &[u8] = b"DATA\r\n";
pub const QUIT: &[u8] = b"QUIT\r\n";
pub const RSET: &[u8] = b"RSET\r\n";

/// AUTH PLAIN with the initial response (RFC 4954 §4, RFC 4616): no
/// authorization identity, then the user and password.
pub fn auth_plain(user: &str, password: &Secret<String>) -> Secret<Vec<u8>> {
    use base64::Engine as _;
    let mut raw = Vec::with_capacity(user.len() + password.expose().len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.expose().as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    Secret::new(format!("AUTH PLAIN {b64}\r\n").into_bytes())
}

/// MAIL FROM with the parameters the peer supports.
pub fn mail_from(p: &MailParams, ext: &Extensions) -> Vec<u8> {
    let mut s = format!("MAIL FROM:<{}>", p.from);
    if ext.size.is_some() {
        let _ = write!(s, " SIZE={}", p.size);
    }
    if p.eight_bit && ext.eight_bit_mime {
        s.push_str(" BODY=8BITMIME");
    }
    if p.smtputf8 && ext.smtputf8 {
        s.push_str(" SMTPUTF8");
    }
    if ext.dsn {
        match p.ret {
            Some(Ret::Full) => s.push_str(" RET=FULL"),
            Some(Ret::Headers) => s.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(id) = &p.envid {
            let _ = write!(s, " ENVID={}", xtext(id));
        }
    }
    if p.requiretls && ext.requiretls {
        s.push_str(" REQUIRETLS");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// RCPT TO, with NOTIFY and ORCPT when the peer offers DSN (RFC 3461
/// §4.1, §4.2): the next hop must report as the original submitter asked.
pub fn rcpt_to(r: &RcptParams, ext: &Extensions) -> Vec<u8> {
    let mut s = format!("RCPT TO:<{}>", r.address);
    if ext.dsn {
        let n = r.notify;
        if n.never {
            s.push_str(" NOTIFY=NEVER");
        } else if n != Notify::default() {
            let words: Vec<&str> = [
                (n.success, "SUCCESS"),
                (n.failure, "FAILURE"),
                (n.delay, "DELAY"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect();
            if !words.is_empty() {
                let _ = write!(s, " NOTIFY={}", words.join(","));
            }
        }
        if let Some(orcpt) = &r.orcpt {
            match orcpt.split_once(';') {
                Some((kind, addr)) => {
                    let _ = write!(s, " ORCPT={kind};{}", xtext(addr));
                }
                None => {
                    let _ = write!(s, " ORCPT=rfc822;{}", xtext(orcpt));
                }
            }
        }
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// BDAT with the whole message as the last chunk (RFC 3030 §2).
pub fn bdat_last(len: usize) -> Vec<u8> {
    format!("BDAT {len} LAST\r\n").into_bytes()
}

/// xtext (RFC 3461 §4): `+`, `=`, controls, space and non-ASCII as `+XX`.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

/// The message for DATA: line ends made CRLF (a bare LF or CR never goes
/// out, RFC 5321 §2.3.8), a dot doubled at the start of a line
/// (§4.5.2), and the terminating `.` line.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        match b {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                // CRLF is one line end; so are a lone CR and a lone LF.
                i += if b == b'\r' && body.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                at_line_start = true;
                continue;
            }
            b'.' if at_line_start => out.extend_from_slice(b".."),
            _ => out.push(b),
        }
        at_line_start = false;
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The message for BDAT: binary-clean (RFC 3030 §2), only a final CRLF
/// added if missing, since the header/body grammar needs it.
pub fn chunk(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if body.is_empty() || body.ends_with(b"\r\n") {
        std::borrow::Cow::Borrowed(body)
    } else {
        let mut v = body.to_vec();
        v.extend_from_slice(b"\r\n");
        std::borrow::Cow::Owned(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(lines: &[&str]) -> Extensions {
        let mut all = vec!["mx.example".to_owned()];
        all.extend(lines.iter().map(|l| (*l).to_owned()));
        Extensions::from_ehlo(&Reply {
            code: 250,
            lines: all,
        })
    }

    #[test]
    fn ehlo_keywords() {
        let e = ext(&[
            "PIPELINING",
            "SIZE 35882577",
            "8BITMIME",
            "starttls",
            "AUTH PLAIN login",
            "DSN",
            "CHUNKING",
            "REQUIRETLS",
            "SMTPUTF8",
            "X-UNKNOWN 1",
        ]);
        assert!(
            e.pipelining
                && e.eight_bit_mime
                && e.starttls
                && e.dsn
                && e.chunking
                && e.requiretls
                && e.smtputf8
        );
        assert_eq!(e.size, Some(35_882_577));
        assert_eq!(e.auth, ["PLAIN", "LOGIN"]);
        // The greeting line is never read as a keyword.
        let bare = Extensions::from_ehlo(&Reply::local(250, "STARTTLS"));
        assert!(!bare.starttls);
    }

    #[test]
    fn mail_from_offers_only_what_the_peer_supports() {
        let p = MailParams {
            from: "a@example.org".into(),
            size: 1234,
            eight_bit: true,
            smtputf8: true,
            ret: Some(Ret::Headers),
            envid: Some("id+1=x".into()),
            requiretls: true,
        };
        assert_eq!(mail_from(&p, &ext(&[])), b"MAIL FROM:<a@example.org>\r\n");
        let all = ext(&["SIZE", "8BITMIME", "SMTPUTF8", "DSN", "REQUIRETLS"]);
        assert_eq!(
            String::from_utf8(mail_from(&p, &all)).unwrap(),
            "MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx REQUIRETLS\r\n"
        );
        let null = MailParams::default();
        assert_eq!(mail_from(&null, &ext(&[])), b"MAIL FROM:<>\r\n");
    }

    #[test]
    fn rcpt_to_carries_dsn_parameters() {
        let r = RcptParams {
            address: "b@example.net".into(),
            notify: Notify {
                never: false,
                success: true,
                failure: true,
                delay: false,
            },
            orcpt: Some("rfc822;b+tag@example.net".into()),
        };
        assert_eq!(rcpt_to(&r, &ext(&[])), b"RCPT TO:<b@example.net>\r\n");
        assert_eq!(
            String::from_utf8(rcpt_to(&r, &ext(&["DSN"]))).unwrap(),
            "RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Btag@example.net\r\n"
        );
        let never = RcptParams {
            address: "c@x".into(),
            notify: Notify {
                never: true,
                success: false,
                failure: false,
                delay: false,
            },
            orcpt: None,
        };
        assert_eq!(
            rcpt_to(&never, &ext(&["DSN"])),
            b"RCPT TO:<c@x> NOTIFY=NEVER\r\n"
        );
    }

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b"no end"), b"no end\r\n.\r\n");
        // Bare LF and bare CR become CRLF, so that no peer sees a bare
        // line end that another might read differently (smuggling).
        assert_eq!(dot_stuff(b"a\n.\nb\rc"), b"a\r\n..\r\nb\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    #[test]
    fn auth_plain_encodes_user_and_password() {
        let cmd = auth_plain("user", &Secret::new("pass".into()));
        assert_eq!(cmd.expose(), b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    }

    #[test]
    fn xtext_encodes_specials() {
        assert_eq!(xtext("a b+c=é"), "a+20b+2Bc+3D+C3+A9");
    }
}
