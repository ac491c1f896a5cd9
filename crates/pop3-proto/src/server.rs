//! The POP3 server state machine: [`Server`].

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, Secret, TimeoutClass, TlsInfo,
};

use crate::capability::capabilities;
use crate::cmd::{self, Request, SyntaxError, Verb};
use crate::framing::{Frame, Framer};
use crate::response;
use crate::{Error, Event, Options};

/// Where the machine is in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading commands.
    Command,
    /// `Event::StartTls` was handed out and not answered yet.
    StlsAsked,
    /// `accept_stls()` queued the `+OK`: nothing more is read in clear.
    StlsAccepted,
    /// A SASL challenge was sent: the next line is the client's response,
    /// not a command (RFC 5034 §4).
    SaslAwait,
}

/// A sans-I/O POP3 server session (RFC 1939).
///
/// The greeting is queued by [`Server::new`]. The driver feeds bytes with
/// [`Protocol::enqueue_input`] and loops on [`Protocol::next`]; the session
/// answers each [`Event`] through [`Server::ok`], [`Server::err`] and
/// [`Server::ok_lines`], never by writing bytes itself.
#[derive(Debug)]
pub struct Server {
    opts: Options,
    framer: Framer,
    output: Vec<u8>,
    state: State,
    bad_commands: u32,
    tls: Option<TlsInfo>,
    error: Option<Error>,
    finished: bool,
    /// Logged in: the TRANSACTION state of RFC 1939 §5.
    authenticated: bool,
    /// QUIT in the TRANSACTION state was handed out: the answer ends it.
    quitting: bool,
}

impl Server {
    /// A new session with its greeting queued (RFC 1939 §4). The greeting
    /// has no `<timestamp>`: we do not offer APOP (§7).
    pub fn new(opts: Options) -> Self {
        let mut server = Self::fresh(opts, None);
        response::ok(&mut server.output, "Postern ready");
        server
    }

    /// Records what the TLS handshake said, for an implicit-TLS listener
    /// (RFC 8314 §3), whose `Options::tls_active` is set.
    #[must_use]
    pub fn with_tls_info(mut self, tls: TlsInfo) -> Self {
        debug_assert!(self.opts.tls_active, "TLS info on a plain-text session");
        self.tls = Some(tls);
        self
    }

    fn fresh(opts: Options, tls: Option<TlsInfo>) -> Self {
        Self {
            framer: Framer::new(opts.max_line),
            opts,
            output: Vec::new(),
            state: State::Command,
            bad_commands: 0,
            tls,
            error: None,
            finished: false,
            authenticated: false,
            quitting: false,
        }
    }

    /// Answers the current event with `+OK text`.
    pub fn ok(&mut self, text: &str) {
        self.answered();
        if !self.finished {
            response::ok(&mut self.output, text);
        }
        self.end_if_quitting();
    }

    /// Answers with `+OK text` and a message, or part of one, dot-stuffed
    /// with CRLF line endings (RFC 1939 §3), as for RETR and TOP.
    pub fn ok_message(&mut self, text: &str, body: &[u8]) {
        self.answered();
        if !self.finished {
            response::ok_message(&mut self.output, text, body);
        }
    }

    /// The session verified the credentials: the TRANSACTION state begins
    /// (RFC 1939 §5). Call it right after answering the PASS or AUTH with
    /// `ok`. From now on credentials and STLS are refused, QUIT comes to the
    /// session as [`Event::Quit`], and the authenticated timeout applies.
    pub fn logged_in(&mut self) {
        self.authenticated = true;
    }

    /// Whether the session is in the TRANSACTION state.
    pub const fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    fn end_if_quitting(&mut self) {
        if self.quitting {
            self.finished = true;
        }
    }

    /// Answers with `+OK text` and a dot-stuffed multi-line body (RFC 1939
    /// §3), as for LIST, UIDL, RETR and TOP.
    pub fn ok_lines(&mut self, text: &str, lines: &[&str]) {
        self.answered();
        if !self.finished {
            response::ok_lines(&mut self.output, text, lines);
        }
    }

    /// Answers with `-ERR [code] text`. `code` is an RFC 2449 §8 response
    /// code such as `AUTH` or `SYS/TEMP` (RFC 3206).
    pub fn err(&mut self, code: Option<&str>, text: &str) {
        self.answered();
        if !self.finished {
            response::err(&mut self.output, code, text);
        }
        self.end_if_quitting();
    }

    /// Answers [`Event::StartTls`] with `+OK Begin TLS negotiation` (RFC
    /// 2595 §4). The driver then flushes with `take_output()` and calls
    /// `start_tls()`; nothing more is parsed in clear text.
    pub fn accept_stls(&mut self) {
        debug_assert_eq!(self.state, State::StlsAsked, "no STLS to accept");
        if self.state != State::StlsAsked || self.finished {
            return;
        }
        response::ok(&mut self.output, "Begin TLS negotiation");
        self.state = State::StlsAccepted;
    }

    /// Answers [`Event::Auth`] (or an earlier [`Event::SaslResponse`]) with
    /// a SASL challenge `+ base64` (RFC 5034 §4); the client's next line
    /// comes back as [`Event::SaslResponse`], or, if it is `*`, the core
    /// answers the cancellation itself.
    pub fn sasl_challenge(&mut self, challenge_base64: &str) {
        self.answered();
        if self.finished {
            return;
        }
        let challenge: String = challenge_base64
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            .collect();
        self.output
            .extend_from_slice(format!("+ {challenge}\r\n").as_bytes());
        self.state = State::SaslAwait;
    }

    /// The listener's options (after STLS: `tls_active` is set).
    pub const fn options(&self) -> &Options {
        &self.opts
    }

    /// What the TLS handshake said, on a machine returned by `start_tls`.
    pub const fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Octets of the incomplete line being read (at most `max_line + 1`).
    pub fn partial_line_len(&self) -> usize {
        self.framer.partial_line()
    }

    /// Bad commands counted so far in this TLS epoch.
    pub const fn bad_commands(&self) -> u32 {
        self.bad_commands
    }

    /// Whether the TLS client presented a verified certificate (then SASL
    /// EXTERNAL is offered, RFC 4422 Appendix A).
    fn client_certificate(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.client.is_some())
    }

    fn answered(&mut self) {
        if self.state == State::StlsAsked {
            self.state = State::Command;
        }
    }

    fn on_frame(&mut self, frame: Frame) -> Option<Event> {
        match frame {
            Frame::Line(line) => self.on_line(&line),
            Frame::TooLong => {
                let limit = self.opts.max_line;
                self.fail(Error::LineTooLong { limit });
                None
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Option<Event> {
        if self.state == State::SaslAwait {
            return self.on_sasl_response(line);
        }
        let (verb, args) = match cmd::split(line) {
            Ok(split) => split,
            Err(error) => return self.syntax_error(error),
        };
        if verb.is_credential() && !self.opts.tls_active {
            return self.refuse_credentials();
        }
        match cmd::parse_args(verb, args) {
            Ok(request) => self.on_request(request),
            Err(error) => self.syntax_error(error),
        }
    }

    fn on_request(&mut self, request: Request) -> Option<Event> {
        if self.authenticated {
            return self.on_transaction_request(request);
        }
        match request {
            Request::Capa => self.capa(),
            Request::Noop => response::ok(&mut self.output, ""),
            Request::Quit => self.quit(),
            Request::Stls => return self.stls(),
            Request::Apop => self.refuse(None, "APOP is not supported"),
            Request::User(name) => return Some(Event::User { name }),
            Request::Pass(password) => return Some(Event::Pass { password }),
            Request::Auth {
                mechanism,
                initial_response,
            } => return Some(auth_event(mechanism, initial_response)),
            Request::Mailbox { verb, args } => return Some(mailbox_event(verb, args)),
        }
        None
    }

    /// The client's answer to a SASL challenge: a base64 line, or `*` to
    /// cancel (RFC 5034 §4: the server then answers `-ERR`).
    fn on_sasl_response(&mut self, line: &[u8]) -> Option<Event> {
        self.state = State::Command;
        let Ok(text) = std::str::from_utf8(line) else {
            self.refuse(None, "SASL response is not base64");
            return None;
        };
        if text.trim() == "*" {
            response::err(&mut self.output, None, "Authentication cancelled");
            return None;
        }
        Some(Event::SaslResponse {
            response: Secret::new(text.trim().to_owned()),
        })
    }

    /// The TRANSACTION state (RFC 1939 §5): mailbox commands and QUIT go to
    /// the session; logging in again or STLS is a sequence error.
    fn on_transaction_request(&mut self, request: Request) -> Option<Event> {
        match request {
            Request::Capa => self.capa(),
            Request::Noop => response::ok(&mut self.output, ""),
            Request::Quit => {
                self.quitting = true;
                return Some(Event::Quit);
            }
            Request::Mailbox { verb, args } => return Some(mailbox_event(verb, args)),
            Request::Stls => self.refuse(None, "STLS is only allowed before login"),
            _ => self.refuse(None, "Already logged in"),
        }
        None
    }

    fn capa(&mut self) {
        let caps = capabilities(&self.opts, self.client_certificate());
        response::ok_lines(&mut self.output, "Capability list follows", &caps);
    }

    /// RFC 1939 §6: in the AUTHORIZATION state QUIT just ends the session.
    fn quit(&mut self) {
        response::ok(&mut self.output, "Logging out");
        self.finished = true;
    }

    fn stls(&mut self) -> Option<Event> {
        if self.opts.tls_active {
            // RFC 2595 §4 gives this text.
            self.refuse(None, "Command not permitted when TLS active");
            return None;
        }
        if !self.opts.starttls_offered {
            self.refuse(None, "STLS is not available on this port");
            return None;
        }
        self.state = State::StlsAsked;
        Some(Event::StartTls)
    }

    /// RFC 2595 §4 and DESIGN: no credential in clear text. The `[AUTH]`
    /// code (RFC 3206 §4) marks an authentication failure that retrying
    /// with the same credentials will not fix; POP3 has no PRIVACYREQUIRED
    /// code, so the text says it.
    fn refuse_credentials(&mut self) -> Option<Event> {
        let text = if self.opts.starttls_offered {
            "PRIVACY: plaintext authentication is disallowed, use STLS first"
        } else {
            "PRIVACY: plaintext authentication is disallowed without TLS"
        };
        self.refuse(Some("AUTH"), text);
        None
    }

    fn syntax_error(&mut self, error: SyntaxError) -> Option<Event> {
        self.refuse(None, error.text());
        None
    }

    fn refuse(&mut self, code: Option<&str>, text: &str) {
        response::err(&mut self.output, code, text);
        self.count_bad();
    }

    fn count_bad(&mut self) {
        self.bad_commands += 1;
        if self.bad_commands >= self.opts.max_bad_commands {
            let limit = self.opts.max_bad_commands;
            self.fail(Error::TooManyBadCommands { limit });
        }
    }

    /// Ends the session on our side with a last `-ERR` and close.
    fn fail(&mut self, error: Error) {
        let why = match error {
            Error::LineTooLong { .. } => "Line too long",
            Error::TooManyBadCommands { .. } => "Too many bad commands",
            Error::UpgradePending => "Protocol error",
        };
        response::err(
            &mut self.output,
            None,
            &format!("{why}, closing connection"),
        );
        self.error = Some(error);
        self.finished = true;
    }
}

fn auth_event(mechanism: String, initial_response: Option<Secret<String>>) -> Event {
    Event::Auth {
        mechanism,
        initial_response,
    }
}

fn mailbox_event(verb: Verb, args: Vec<String>) -> Event {
    Event::Command {
        name: verb.as_str().to_owned(),
        args,
    }
}

impl Protocol for Server {
    type Event = Event;
    type Error = Error;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        if !self.finished {
            self.framer.push(bytes);
        }
    }

    fn next(&mut self) -> Result<Event, Interrupt<Error>> {
        loop {
            if let Some(bytes) = self.take_output() {
                return Err(Interrupt::Io(Io::Output(bytes)));
            }
            if let Some(error) = &self.error {
                return Err(Interrupt::Error(error.clone()));
            }
            if self.state == State::StlsAccepted {
                return Err(Interrupt::Error(Error::UpgradePending));
            }
            self.answered();
            let frame = match self.finished {
                true => None,
                false => self.framer.pop(),
            };
            let Some(frame) = frame else {
                return Err(Interrupt::Io(Io::NeedMoreInput));
            };
            if let Some(event) = self.on_frame(frame) {
                return Ok(event);
            }
        }
    }

    fn take_output(&mut self) -> Option<Vec<u8>> {
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    /// RFC 1939 §3: the autologout timer of a logged-in client is at least
    /// ten minutes; before login the shorter pre-auth deadline applies.
    fn timeout_class(&self) -> TimeoutClass {
        if self.authenticated {
            TimeoutClass::Authenticated
        } else {
            TimeoutClass::PreAuth
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    /// POP3 has no unsolicited goodbye; a last `-ERR` before closing is
    /// what clients understand (RFC 3206 §4: `SYS/TEMP` for a temporary
    /// system problem such as a shutdown).
    fn goodbye(&mut self, why: Goodbye) {
        if self.finished {
            return;
        }
        let (code, text) = match why {
            Goodbye::Shutdown => (Some("SYS/TEMP"), "Server shutting down"),
            Goodbye::Timeout => (None, "Disconnected for inactivity"),
            Goodbye::SessionTooLong => (None, "Session time limit reached"),
        };
        response::err(&mut self.output, code, text);
        self.finished = true;
    }

    /// Octets received and not yet consumed; an incomplete line never holds
    /// more than `max_line + 1` of them.
    fn buffered_input_len(&self) -> usize {
        self.framer.buffered()
    }

    /// RFC 2595 §4: after the handshake the client starts over, with CAPA;
    /// the server sends nothing and knows nothing from before.
    fn start_tls(self, tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
        let bytes = self.framer.buffered();
        if bytes > 0 {
            return Err(PlaintextAfterStartTls { bytes });
        }
        debug_assert!(
            self.output.is_empty(),
            "start_tls before the +OK was flushed"
        );
        let opts = Options {
            tls_active: true,
            starttls_offered: false,
            ..self.opts
        };
        Ok(Self::fresh(opts, Some(tls)))
    }
}
