//! The sans-I/O contract every protocol core implements.
//!
//! A core never touches a socket or a clock. The driver feeds it the bytes it
//! read ([`Protocol::enqueue_input`]) and asks it what to do next
//! ([`Protocol::next`]): write these bytes, read more, hand this event to the
//! session logic, or give up because the peer misbehaved. The shape follows
//! imap-next's `State`/`Interrupt`/`Io`.

use std::fmt;

use crate::TlsInfo;

/// A sans-I/O protocol state machine (server side).
pub trait Protocol: Sized {
    /// A complete, validated client request (a command, a message, ...).
    type Event;
    /// A fatal protocol error: the core has already queued its last reply, the
    /// driver flushes it and closes the connection.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Adds bytes received from the peer to the core's input buffer.
    fn enqueue_input(&mut self, bytes: &[u8]);

    /// Advances the machine. Pending output is always returned before any
    /// further input is parsed, so a reply is on the wire before the next
    /// command is even looked at.
    fn next(&mut self) -> Result<Self::Event, Interrupt<Self::Error>>;

    /// Takes the queued output without parsing more input (used to flush the
    /// STARTTLS go-ahead before the handshake).
    fn take_output(&mut self) -> Option<Vec<u8>>;

    /// Which read timeout applies now (RFC 5321 §4.5.3.2 has different values
    /// for commands and DATA, RFC 9051 §5.4 for authenticated and idle).
    fn timeout_class(&self) -> TimeoutClass;

    /// Whether the session is over (QUIT/LOGOUT answered): the driver flushes
    /// and closes.
    fn is_finished(&self) -> bool;

    /// Queues the protocol's goodbye (`421`, `* BYE`, `-ERR`) and finishes.
    fn goodbye(&mut self, why: Goodbye);

    /// How many received bytes are buffered and not yet consumed. The driver
    /// checks it right after a STARTTLS go-ahead, before the handshake: any
    /// byte there was pipelined in plain text and the connection is closed.
    fn buffered_input_len(&self) -> usize;

    /// The STARTTLS upgrade. Consumes the plaintext machine and returns a fresh
    /// one that knows nothing of what was said before (RFC 3207 §4.2, RFC 9051
    /// §6.2.1, RFC 2595 §4). Fails if the client pipelined anything after the
    /// STARTTLS command: those bytes were sent in clear text and may have been
    /// injected by an attacker (CVE-2011-0411), so they are never executed.
    fn start_tls(self, tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls>;
}

/// Why [`Protocol::next`] did not return an event.
#[must_use]
#[derive(Debug)]
pub enum Interrupt<E> {
    /// The driver must do I/O.
    Io(Io),
    /// The peer broke the protocol in a way that ends the session.
    Error(E),
}

/// The I/O a core asks the driver for.
#[derive(Debug, PartialEq, Eq)]
pub enum Io {
    /// Read from the peer and call [`Protocol::enqueue_input`].
    NeedMoreInput,
    /// Write these bytes to the peer.
    Output(Vec<u8>),
}

/// Which deadline the driver applies to the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutClass {
    /// Before authentication: short, a stalled anonymous peer costs us.
    PreAuth,
    /// An authenticated client between commands.
    Authenticated,
    /// Inside a message transfer (SMTP DATA/BDAT, an IMAP literal).
    Data,
    /// An authenticated client that asked to wait (IMAP IDLE).
    Idle,
}

/// Why the server ends a session on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goodbye {
    /// The server is shutting down.
    Shutdown,
    /// The peer was silent for longer than the read timeout.
    Timeout,
    /// The session lasted longer than the configured maximum.
    SessionTooLong,
}

/// The client sent bytes after STARTTLS and before the TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaintextAfterStartTls {
    /// How many bytes were pipelined (never their content: they are hostile).
    pub bytes: usize,
}

impl fmt::Display for PlaintextAfterStartTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} byte(s) of plain text pipelined after STARTTLS (possible command injection)",
            self.bytes
        )
    }
}

impl std::error::Error for PlaintextAfterStartTls {}
