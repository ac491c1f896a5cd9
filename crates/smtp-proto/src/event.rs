//! What the core hands to the session.

use postern_types::Secret;

use crate::cmd::{AuthMechanism, Command, MailFrom, RcptTo};

/// A client request the session must answer through the intent methods of
/// [`Server`](crate::Server), before calling `next()` again: replies go out
/// in command order (RFC 2920 §3), and the core's state follows the answer.
/// An event left unanswered gets `451 4.3.0` (`454 4.7.0` for STARTTLS and
/// AUTH) from the core.
///
/// Everything the protocol decides is done by the core before an event is
/// made: sequence (EHLO first, MAIL before RCPT, no AUTH twice), TLS and
/// AUTH requirements, parameter syntax, limits (`SIZE`, message size,
/// recipients), the DATA and BDAT replies. The session decides policy:
/// who may send, to whom, and with which credentials.
///
/// The session can track the envelope from the events alone: `Mail` only
/// comes when no transaction is open (so it always starts a new one), `Rcpt`
/// and `Message` only inside the transaction its `accept_mail` opened.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// STARTTLS on a listener that offers it. Answer `accept_starttls()`
    /// (then the driver flushes and upgrades), or refuse with
    /// `reply(454, Some("4.7.0"), ..)` (RFC 3207 §4) if TLS cannot start.
    StartTls,
    /// `AUTH` on a submission listener under TLS, outside a transaction,
    /// not yet authenticated, with a mechanism we offer (RFC 4954 §4).
    /// Answer `sasl_challenge(..)`, `auth_succeeded()`, `auth_failed()` or
    /// `auth_temporary_failure()`.
    Auth {
        /// The mechanism, one the EHLO reply offered.
        mechanism: AuthMechanism,
        /// The decoded initial response; `Some` of nothing for `=`.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// The client's decoded answer to `sasl_challenge` (RFC 4954 §4).
    /// Answered like [`Event::Auth`]. A `*` (cancel) or a line that is not
    /// base64 is answered by the core and ends the exchange, with no event.
    SaslResponse(Secret<Vec<u8>>),
    /// `MAIL FROM` with its parameters, after EHLO/HELO, outside a
    /// transaction, and on submission after AUTH (RFC 4954 §6). Answer
    /// `accept_mail()`, which opens the transaction, or refuse with
    /// `reply(..)`.
    Mail(MailFrom),
    /// `RCPT TO` inside a transaction, below `Options::max_recipients`.
    /// Answer `accept_rcpt()`, which counts it, or refuse with `reply(..)`.
    Rcpt(RcptTo),
    /// The complete message: after DATA, dot-unstuffed, up to and
    /// including the CRLF before the final `.` (RFC 5321 §4.1.1.4); after
    /// `BDAT n LAST`, the chunks as sent (RFC 3030 §2). It is within
    /// `Options::max_message_size`, and a DATA body has no bare CR or LF.
    /// Answer `accept_message(id)` once it is stored durably, or refuse
    /// with `reply(4xx/5xx, ..)`; either ends the transaction.
    Message(Vec<u8>),
    /// VRFY or EXPN, whose answer is wholly the session's.
    Command(Command),
}
