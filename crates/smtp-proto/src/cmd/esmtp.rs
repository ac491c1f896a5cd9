//! Typed values of the ESMTP parameters we offer on MAIL and RCPT: SIZE
//! (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT
//! (RFC 3461 DSN), AUTH (RFC 4954 §5) and REQUIRETLS (RFC 8689).

use super::SyntaxError;

/// `BODY=` on MAIL (RFC 6152 §2; BINARYMIME is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`: seven-bit content, as without the parameter.
    SevenBit,
    /// `BODY=8BITMIME`: eight-bit MIME content.
    EightBitMime,
}

/// `RET=` on MAIL (RFC 3461 §4.3): what a DSN returns of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// The whole message.
    Full,
    /// Its headers only.
    Hdrs,
}

/// `NOTIFY=` on RCPT (RFC 3461 §4.1): when to send a DSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// `NEVER`, which excludes every other value.
    Never,
    /// A non-empty list of SUCCESS, FAILURE and DELAY (at least one is
    /// true).
    On {
        /// `SUCCESS`: on delivery.
        success: bool,
        /// `FAILURE`: on failure.
        failure: bool,
        /// `DELAY`: when delivery is delayed.
        delay: bool,
    },
}

/// A bad value for a known parameter (RFC 5321 §4.2.3: 501).
const fn bad(usage: &'static str) -> SyntaxError {
    SyntaxError::usage(usage)
}

/// `size-value = 1*20DIGIT` (RFC 1870 §3). A value past `u64::MAX` is
/// larger than any limit: it saturates, and the core answers 552.
pub(super) fn size(value: &str) -> Result<u64, SyntaxError> {
    let digits =
        !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit());
    if !digits {
        return Err(bad("Syntax: SIZE=number"));
    }
    Ok(value.parse().unwrap_or(u64::MAX))
}

pub(super) fn body(value: &str) -> Result<Body, SyntaxError> {
    match value.to_ascii_uppercase().as_str() {
        "7BIT" => Ok(Body::SevenBit),
        "8BITMIME" => Ok(Body::EightBitMime),
        _ => Err(bad("Syntax: BODY=7BIT or BODY=8BITMIME")),
    }
}

pub(super) fn ret(value: &str) -> Result<Ret, SyntaxError> {
    match value.to_ascii_uppercase().as_str() {
        "FULL" => Ok(Ret::Full),
        "HDRS" => Ok(Ret::Hdrs),
        _ => Err(bad("Syntax: RET=FULL or RET=HDRS")),
    }
}

/// RFC 3461 §4.4: at most 100 characters of xtext.
pub(super) fn envid(value: &str) -> Result<String, SyntaxError> {
    let usage = bad("Syntax: ENVID=xtext of 100 characters at most");
    if value.len() > 100 {
        return Err(usage);
    }
    xtext(value).ok_or(usage)
}

/// RFC 4954 §5: `AUTH=` xtext of an addr-spec, or `<>` for an unknown
/// identity.
pub(super) fn auth(value: &str) -> Result<String, SyntaxError> {
    xtext(value)
        .filter(|v| !v.is_empty())
        .ok_or(bad("Syntax: AUTH=mailbox or AUTH=<>"))
}

/// `NOTIFY=NEVER` or `NOTIFY=` a comma list of SUCCESS, FAILURE, DELAY.
pub(super) fn notify(value: &str) -> Result<Notify, SyntaxError> {
    let usage = bad("Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY");
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in value.split(',') {
        let flag = match item.to_ascii_uppercase().as_str() {
            "SUCCESS" => &mut success,
            "FAILURE" => &mut failure,
            "DELAY" => &mut delay,
            _ => return Err(usage),
        };
        *flag = true;
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}

/// `ORCPT=addr-type ";" xtext` (RFC 3461 §4.2), at most 500 characters,
/// given back as `addr-type;decoded-address` (`rfc822;bob@example.org`).
pub(super) fn orcpt(value: &str) -> Result<String, SyntaxError> {
    let usage = bad("Syntax: ORCPT=addr-type;address");
    let (kind, address) = value.split_once(';').ok_or(usage)?;
    let atom = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let address = xtext(address).filter(|a| !a.is_empty());
    match address {
        Some(address) if atom && value.len() <= 500 => Ok(format!("{kind};{address}")),
        _ => Err(usage),
    }
}

/// Decodes xtext (RFC 3461 §4): printable ASCII but `+` and `=` as
/// themselves, `+XX` for any octet. UTF-8 passes as itself (RFC 6533 §3
/// allows it with SMTPUTF8). The result must be UTF-8 without control
/// characters: it ends up in DSNs and logs.
pub(crate) fn xtext(value: &str) -> Option<String> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(hex(bytes.next()?)? << 4 | hex(bytes.next()?)?),
            b'=' => return None,
            b'!'..=b'~' | 0x80.. => out.push(b),
            _ => return None,
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.contains(char::is_control)).then_some(text)
}

/// RFC 3461 §4 asks for upper-case hex; lower case is forgiven.
fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("10240000"), Ok(10_240_000));
        assert_eq!(size("99999999999999999999"), Ok(u64::MAX));
        for bad in ["", "-1", "+1", "1k", "123456789012345678901"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn xtext_known_answers() {
        assert_eq!(xtext("abc"), Some("abc".into()));
        assert_eq!(xtext("a+2Bb+3Dc"), Some("a+b=c".into()));
        assert_eq!(xtext("a+2bb"), Some("a+b".into()));
        assert_eq!(xtext(""), Some(String::new()));
        assert_eq!(xtext("jöran"), Some("jöran".into()));
        for bad in ["a=b", "a+2", "a+zz", "a+0Db", "a b", "+FF"] {
            assert_eq!(xtext(bad), None, "{bad}");
        }
    }

    #[test]
    fn dsn_values() {
        assert_eq!(notify("never"), Ok(Notify::Never));
        assert_eq!(
            notify("SUCCESS,DELAY"),
            Ok(Notify::On {
                success: true,
                failure: false,
                delay: true
            })
        );
        for bad in ["", "NEVER,SUCCESS", "SUCCESS,", "SOMETIMES"] {
            assert!(notify(bad).is_err(), "{bad}");
        }
        assert_eq!(
            orcpt("rfc822;bob+40example.org"),
            Ok("rfc822;bob@example.org".into())
        );
        for bad in [
            "bob@example.org",
            ";bob",
            "rfc822;",
            "rfc 822;x",
            "rfc822;a=b",
        ] {
            assert!(orcpt(bad).is_err(), "{bad}");
        }
        assert_eq!(envid("QQ314159"), Ok("QQ314159".into()));
        assert!(envid(&"x".repeat(101)).is_err());
        assert_eq!(ret("hdrs"), Ok(Ret::Hdrs));
        assert_eq!(body("8bitmime"), Ok(Body::EightBitMime));
        assert!(body("BINARYMIME").is_err());
        assert_eq!(auth("+3C+3E"), Ok("<>".into()));
        assert_eq!(auth("<>"), Ok("<>".into()));
    }
}
