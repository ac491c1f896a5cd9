//! What a listener tells the core about itself.

/// How a POP3 listener behaves. Every default is the safe choice for a
/// port-110 listener in `starttls` mode, with the source of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Our host name, for the session's logs and texts. Default `localhost`.
    pub hostname: String,
    /// TLS is already on: an implicit-TLS listener (RFC 8314 §3, port 995)
    /// or a machine returned by `start_tls`. Default `false`.
    pub tls_active: bool,
    /// A plain listener in `starttls` mode: STLS is advertised and accepted
    /// (RFC 2595 §4). Default `true`.
    pub starttls_offered: bool,
    /// The longest command line, in octets without CRLF. RFC 2449 §4 makes
    /// 255 octets (with CRLF) the floor, and RFC 5034 §4 lets a client send
    /// an AUTH initial response only if it fits; longer SASL responses go in
    /// continuation lines, which the same limit will bound. We take 2048, the
    /// input buffer of Dovecot's pop3-login (`MAX_INBUF_SIZE`): room for a
    /// PLAIN response with a long user name and password, and at most 2 KiB
    /// of line buffer per anonymous client.
    pub max_line: usize,
    /// Refused or malformed commands tolerated per session before the
    /// goodbye. Default 20: Dovecot's `CLIENT_MAX_BAD_COMMANDS` (and Postfix
    /// `smtpd_hard_error_limit`).
    pub max_bad_commands: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            tls_active: false,
            starttls_offered: true,
            max_line: 2048,
            max_bad_commands: 20,
        }
    }
}
