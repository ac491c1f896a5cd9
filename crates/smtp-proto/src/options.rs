//! What a listener tells the core about itself.

/// How an SMTP listener behaves. Every default is the safe choice for a
/// port-25 MX in `starttls` mode, with the source of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Our host name, said in the greeting and the EHLO reply (RFC 5321
    /// §4.1.1.1, §4.2). Default `localhost`; the server always sets it.
    pub hostname: String,
    /// TLS is already on: an implicit-TLS listener (RFC 8314 §3) or a
    /// machine returned by `start_tls`. Default `false`.
    pub tls_active: bool,
    /// A plain listener in `starttls` mode: STARTTLS is advertised and
    /// accepted (RFC 3207 §4). Default `true`: a plain port without STARTTLS
    /// must be asked for explicitly.
    pub starttls_offered: bool,
    /// A submission listener (RFC 6409) rather than an MX: AUTH is offered
    /// once TLS is on, and before TLS only EHLO/HELO, STARTTLS, NOOP, RSET,
    /// HELP and QUIT are accepted (RFC 3207 §4: `530 Must issue a STARTTLS
    /// command first`). Default `false`.
    pub submission: bool,
    /// The longest command line, in octets without the line ending. RFC 5321
    /// §4.5.3.1.4 sets the floor at 512 octets with CRLF (510 here), and
    /// §4.5.3.1 lets extensions raise it: ESMTP parameters on MAIL/RCPT
    /// (SIZE, BODY, SMTPUTF8, DSN) and AUTH initial responses (RFC 4954 §4)
    /// quickly pass 512. Postfix allows 2048 (`line_length_limit`); we take
    /// 4096 so that a SASL initial response for a long user name and password
    /// fits, while one client still costs at most ~4 KiB of line buffer.
    pub max_line: usize,
    /// Refused or malformed commands tolerated per session before `421` and
    /// close. Default 20: Postfix `smtpd_hard_error_limit`.
    pub max_bad_commands: u32,
    /// The message size advertised with `SIZE` (RFC 1870) and enforced on
    /// DATA and BDAT: past it the message is read to its end, discarded and
    /// refused with `552 5.3.4`. The core holds at most this many octets of
    /// message. Default 10 240 000 octets: Postfix `message_size_limit`.
    pub max_message_size: u64,
    /// Recipients accepted per transaction; the next RCPT gets `452 4.5.3`
    /// from the core (RFC 5321 §4.5.3.1.10), and the client sends the rest
    /// in a further transaction. Default 100: the minimum RFC 5321
    /// §4.5.3.1.8 requires a server to accept, and enough for a message to
    /// a long list, while bounding what one transaction holds and how many
    /// local deliveries one DATA starts. (Postfix's
    /// `smtpd_recipient_limit` is 1000; correct clients handle either.)
    pub max_recipients: usize,
    /// Offer SASL EXTERNAL (RFC 4422 Appendix A) in `AUTH`. The server sets
    /// it when the TLS client presented a verified certificate; default
    /// `false`.
    pub auth_external: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            tls_active: false,
            starttls_offered: true,
            submission: false,
            max_line: 4096,
            max_bad_commands: 20,
            max_message_size: 10_240_000,
            max_recipients: 100,
            auth_external: false,
        }
    }
}
