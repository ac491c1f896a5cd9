//! What a listener tells the core about itself.

/// How an IMAP listener behaves. Every default is the safe choice for a
/// port-143 listener in `starttls` mode, with the source of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Our host name, for the session's logs and texts. Default `localhost`.
    pub hostname: String,
    /// TLS is already on: an implicit-TLS listener (RFC 8314 §3, port 993)
    /// or a machine returned by `start_tls`. Default `false`.
    pub tls_active: bool,
    /// A plain listener in `starttls` mode: STARTTLS is advertised and
    /// accepted (RFC 9051 §6.2.1). Default `true`.
    pub starttls_offered: bool,
    /// The longest command, in octets without line endings, literals
    /// included. RFC 7162 §4 asks servers to accept at least 8192 octets
    /// (Dovecot: `imap_max_line_length` is larger, but that is after login);
    /// one number bounds what an anonymous client makes us hold.
    pub max_line: usize,
    /// Refused or malformed commands tolerated per session before
    /// `* BYE`. Default 20: Dovecot's `CLIENT_MAX_BAD_COMMANDS`.
    pub max_bad_commands: u32,
    /// The largest literal, synchronizing or not. Default 4096: the
    /// ceiling RFC 7888 §5 sets for LITERAL- non-synchronizing literals,
    /// and plenty for a user name or password before login.
    pub max_literal: u32,
    /// After login: the longest command line, literals aside. Default
    /// 64 KiB: RFC 7162 §4 wants at least 8192 octets, and a UID set
    /// from a synchronising client can be long.
    pub max_line_authenticated: usize,
    /// After login: the largest literal, i.e. the largest message APPEND
    /// takes (advertised as APPENDLIMIT, RFC 7889). Default 64 MiB.
    pub max_append: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            tls_active: false,
            starttls_offered: true,
            max_line: 8192,
            max_bad_commands: 20,
            max_literal: 4096,
            max_line_authenticated: 64 * 1024,
            max_append: 64 * 1024 * 1024,
        }
    }
}
