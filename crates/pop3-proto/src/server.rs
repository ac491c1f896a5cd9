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
        }
    }

    /// Answers the current event with `+OK text`.
    pub fn ok(&mut self, text: &str) {
        self.answered();
        if !self.finished {
            response::ok(&mut self.output, text);
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

    fn capa(&mut self) {
        response::ok_lines(
            &mut self.output,
            "Capability list follows",
            &capabilities(&self.opts),
        );
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

    /// Nobody is logged in yet in this slice: always the pre-auth deadline.
    fn timeout_class(&self) -> TimeoutClass {
        TimeoutClass::PreAuth
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
