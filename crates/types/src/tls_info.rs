//! What a finished TLS handshake tells the session.

/// Facts about the TLS session, for logs, `Received:` headers (RFC 8314
/// §4.3) and SASL EXTERNAL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: String,
    /// The IANA name of the cipher suite.
    pub cipher_suite: String,
    /// The server name the client asked for (SNI), if any.
    pub server_name: Option<String>,
    /// The verified client certificate, if the client presented one.
    pub client: Option<ClientIdentity>,
}

/// The identity in a verified client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// E-mail addresses: rfc822Name SANs, then the subject's emailAddress.
    pub emails: Vec<String>,
}
