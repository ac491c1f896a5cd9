//! The client messages of the SASL mechanisms we offer, decoded. Pure
//! functions; the protocol cores carry them base64-encoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use postern_types::Secret;

/// Why a SASL message is unusable. Each ends the exchange with the
/// protocol's "malformed" answer, never with a hint about the account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    #[error("not valid base64")]
    Base64,
    #[error("not valid UTF-8")]
    Utf8,
    #[error("malformed PLAIN message (expected authzid NUL authcid NUL password)")]
    MalformedPlain,
    #[error("the exchange was cancelled by the client")]
    Cancelled,
}

/// PLAIN credentials (RFC 4616).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// The identity to act as; empty means the authcid itself.
    pub authzid: String,
    pub authcid: String,
    pub password: Secret<String>,
}

/// Decodes a base64 client message. `*` alone cancels (RFC 4954 §4, RFC
/// 9051 §6.2.2); `=` is the empty message (RFC 4959).
pub fn decode(message: &str) -> Result<Vec<u8>, SaslError> {
    match message.trim() {
        "*" => Err(SaslError::Cancelled),
        "=" => Ok(Vec::new()),
        m => STANDARD.decode(m).map_err(|_| SaslError::Base64),
    }
}

/// Decodes a PLAIN message, already base64-decoded: `[authzid] NUL
/// authcid NUL passwd` (RFC 4616 §2). Exactly two NULs; the authcid and
/// password are non-empty.
pub fn plain_decoded(bytes: Vec<u8>) -> Result<Plain, SaslError> {
    let text = String::from_utf8(bytes).map_err(|_| SaslError::Utf8)?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::MalformedPlain);
    };
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::MalformedPlain);
    }
    Ok(Plain {
        authzid: authzid.to_owned(),
        authcid: authcid.to_owned(),
        password: Secret::new(password.to_owned()),
    })
}

/// Base64 for server challenges.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(message: &str) -> Result<Plain, SaslError> {
        plain_decoded(decode(message)?)
    }

    #[test]
    fn plain_known_answers() {
        // RFC 4616 §4's example, "\0tim\0tanstaaftanstaaf".
        let p = plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
        assert_eq!((p.authzid.as_str(), p.authcid.as_str()), ("", "tim"));
        assert_eq!(p.password.expose(), "tanstaaftanstaaf");
        let p = plain(&encode(b"Ursel\0Kurt\0xipj3plmq")).unwrap();
        assert_eq!(p.authzid, "Ursel");
        assert_eq!(plain(&encode(b"a\0b")), Err(SaslError::MalformedPlain));
        assert_eq!(plain(&encode(b"\0b\0c\0d")), Err(SaslError::MalformedPlain));
        assert_eq!(plain(&encode(b"\0\0pw")), Err(SaslError::MalformedPlain));
        assert_eq!(plain("not base64!"), Err(SaslError::Base64));
        assert_eq!(plain("*"), Err(SaslError::Cancelled));
        assert_eq!(plain(&encode(b"\0a\0\xff")), Err(SaslError::Utf8));
    }

    #[test]
    fn decode_empty_and_cancel() {
        assert_eq!(decode("dGltQGV4YW1wbGUuY29t").unwrap(), b"tim@example.com");
        assert_eq!(decode("="), Ok(Vec::new()));
        assert_eq!(decode("*"), Err(SaslError::Cancelled));
    }
}
