//! The IMAP server state machine: [`Server`].

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, TimeoutClass, TlsInfo,
};

use crate::capability::capabilities;
use crate::cmd::{self, ParseError, RawPart, Request};
use crate::framing::{Frame, Framer, Limits, Literal, Verdict};
use crate::response::{self, Status};
use crate::{Error, Event, Options, Tag};

/// Where the machine is in the connection's life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading commands.
    Command,
    /// `Event::StartTls` was handed out and not answered yet.
    StartTlsAsked,
    /// `accept_starttls()` queued the OK: nothing more is read in clear.
    StartTlsAccepted,
}

/// A sans-I/O IMAP server session (RFC 9051, RFC 3501).
///
/// The greeting is queued by [`Server::new`]. The driver feeds bytes with
/// [`Protocol::enqueue_input`] and loops on [`Protocol::next`]; the session
/// answers each [`Event`] through [`Server::tagged_ok`] and friends, never
/// by writing bytes itself.
#[derive(Debug)]
pub struct Server {
    opts: Options,
    framer: Framer,
    output: Vec<u8>,
    state: State,
    /// The parts of a command whose literals are still arriving.
    pending: Vec<RawPart>,
    bad_commands: u32,
    tls: Option<TlsInfo>,
    error: Option<Error>,
    finished: bool,
}

impl Server {
    /// A new session with its greeting queued: `* OK [CAPABILITY ...]`
    /// (RFC 9051 §7.1.1), so clients need not ask.
    pub fn new(opts: Options) -> Self {
        let mut server = Self::fresh(opts, None);
        let code = format!("CAPABILITY {}", server.capabilities());
        response::status(
            &mut server.output,
            "*",
            Status::Ok,
            Some(&code),
            "Postern ready",
        );
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
        let limits = Limits {
            max_line: opts.max_line,
            max_literal: opts.max_literal,
            refuse_credentials: !opts.tls_active,
        };
        Self {
            framer: Framer::new(limits),
            opts,
            output: Vec::new(),
            state: State::Command,
            pending: Vec::new(),
            bad_commands: 0,
            tls,
            error: None,
            finished: false,
        }
    }

    /// `tag OK [code] text`: the command succeeded.
    pub fn tagged_ok(&mut self, tag: &Tag, code: Option<&str>, text: &str) {
        self.tagged(tag, Status::Ok, code, text);
    }

    /// `tag NO [code] text`: the command failed (RFC 9051 §7.1.2).
    pub fn tagged_no(&mut self, tag: &Tag, code: Option<&str>, text: &str) {
        self.tagged(tag, Status::No, code, text);
    }

    /// `tag BAD [code] text`: unknown command or bad arguments (RFC 9051
    /// §7.1.3). Counts as a bad command.
    pub fn tagged_bad(&mut self, tag: &Tag, code: Option<&str>, text: &str) {
        self.tagged(tag, Status::Bad, code, text);
        self.count_bad();
    }

    /// `* text`: untagged data (`ID NIL`, `ENABLED`, ...), before the
    /// tagged response.
    pub fn untagged(&mut self, text: &str) {
        self.answered();
        if !self.finished {
            response::untagged(&mut self.output, text);
        }
    }

    /// Answers [`Event::StartTls`] with `tag OK Begin TLS negotiation now`
    /// (RFC 9051 §6.2.1). The driver then flushes with `take_output()` and
    /// calls `start_tls()`; nothing more is parsed in clear text.
    pub fn accept_starttls(&mut self, tag: &Tag) {
        debug_assert_eq!(self.state, State::StartTlsAsked, "no STARTTLS to accept");
        if self.state != State::StartTlsAsked || self.finished {
            return;
        }
        response::status(
            &mut self.output,
            tag.as_str(),
            Status::Ok,
            None,
            "Begin TLS negotiation now",
        );
        self.state = State::StartTlsAccepted;
    }

    /// The capability list as sent now (`CAPABILITY` response, greeting).
    pub fn capabilities(&self) -> String {
        capabilities(&self.opts)
    }

    /// The listener's options (after STARTTLS: `tls_active` is set).
    pub const fn options(&self) -> &Options {
        &self.opts
    }

    /// What the TLS handshake said, on a machine returned by `start_tls`.
    pub const fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Octets of the incomplete line or literal (at most `max_line + 1`).
    pub fn partial_line_len(&self) -> usize {
        self.framer.partial()
    }

    /// Bad commands counted so far in this TLS epoch.
    pub const fn bad_commands(&self) -> u32 {
        self.bad_commands
    }

    fn tagged(&mut self, tag: &Tag, status: Status, code: Option<&str>, text: &str) {
        self.answered();
        if !self.finished {
            response::status(&mut self.output, tag.as_str(), status, code, text);
        }
    }

    fn answered(&mut self) {
        if self.state == State::StartTlsAsked {
            self.state = State::Command;
        }
    }

    fn on_frame(&mut self, frame: Frame) -> Option<Event> {
        match frame {
            Frame::Line { text, literal } => {
                self.pending.push(RawPart::Text(text));
                match literal {
                    None => return self.on_command(),
                    Some(literal) => self.on_literal(literal),
                }
            }
            Frame::LiteralData(bytes) => self.pending.push(RawPart::Literal(bytes)),
            Frame::TooLong => {
                let limit = self.opts.max_line;
                self.fail(Error::LineTooLong { limit });
            }
        }
        None
    }

    /// Follows the framer's verdict on an announced literal.
    fn on_literal(&mut self, literal: Literal) {
        match literal.verdict {
            Verdict::Accept if literal.sync => {
                response::continuation(&mut self.output, "Ready for literal data");
            }
            Verdict::Accept => {}
            Verdict::TooBig => {
                let tag = self.take_pending_tag();
                self.refuse(
                    tag.as_ref(),
                    Status::Bad,
                    Some("TOOBIG"),
                    "Literal too large",
                );
                if !literal.sync {
                    let limit = self.opts.max_literal;
                    self.fail(Error::LiteralTooLarge { limit });
                }
            }
            Verdict::PrivacyRequired => {
                let tag = self.take_pending_tag();
                self.refuse_credentials(tag.as_ref());
            }
        }
    }

    /// Drops the command being assembled and returns its tag, if valid.
    fn take_pending_tag(&mut self) -> Option<Tag> {
        match cmd::head(std::mem::take(&mut self.pending)) {
            Ok(head) => Some(head.tag),
            Err(ParseError::Tagged(tag, _)) => Some(tag),
            Err(ParseError::Untagged(_)) => None,
        }
    }

    fn on_command(&mut self) -> Option<Event> {
        let head = match cmd::head(std::mem::take(&mut self.pending)) {
            Ok(head) => head,
            Err(error) => return self.malformed(error),
        };
        if head.is_credential() && !self.opts.tls_active {
            self.refuse_credentials(Some(&head.tag));
            return None;
        }
        match cmd::request(head) {
            Ok(command) => self.on_request(command.tag, command.request),
            Err(error) => self.malformed(error),
        }
    }

    /// RFC 9051 §6.2.3 and §7.1: no credential in clear text.
    fn refuse_credentials(&mut self, tag: Option<&Tag>) {
        let text = if self.opts.starttls_offered {
            "Plaintext login is disallowed, use STARTTLS first"
        } else {
            "Plaintext login is disallowed without TLS"
        };
        self.refuse(tag, Status::No, Some("PRIVACYREQUIRED"), text);
    }

    fn malformed(&mut self, error: ParseError) -> Option<Event> {
        match error {
            ParseError::Untagged(text) => self.refuse(None, Status::Bad, None, text),
            ParseError::Tagged(tag, text) => self.refuse(Some(&tag), Status::Bad, None, text),
        }
        None
    }

    /// Answers a command the core refuses (tagged, or `*` without a valid
    /// tag) and counts it.
    fn refuse(&mut self, tag: Option<&Tag>, status: Status, code: Option<&str>, text: &str) {
        let prefix = tag.map_or("*", Tag::as_str);
        response::status(&mut self.output, prefix, status, code, text);
        self.count_bad();
    }

    fn on_request(&mut self, tag: Tag, request: Request) -> Option<Event> {
        match request {
            Request::Capability => self.capability(&tag),
            Request::Noop => self.complete(&tag, "NOOP"),
            Request::Logout => self.logout(&tag),
            Request::StartTls => return self.starttls(tag),
            Request::Login { username, password } => {
                return Some(Event::Login {
                    tag,
                    username,
                    password,
                })
            }
            Request::Authenticate {
                mechanism,
                initial_response,
            } => {
                return Some(Event::Authenticate {
                    tag,
                    mechanism,
                    initial_response,
                })
            }
            Request::Other { name, rest } => return Some(Event::Command { tag, name, rest }),
        }
        None
    }

    fn complete(&mut self, tag: &Tag, name: &str) {
        let text = format!("{name} completed");
        response::status(&mut self.output, tag.as_str(), Status::Ok, None, &text);
    }

    fn capability(&mut self, tag: &Tag) {
        let caps = format!("CAPABILITY {}", self.capabilities());
        response::untagged(&mut self.output, &caps);
        self.complete(tag, "CAPABILITY");
    }

    /// RFC 9051 §6.1.3: `* BYE`, then the tagged OK, then close.
    fn logout(&mut self, tag: &Tag) {
        response::status(&mut self.output, "*", Status::Bye, None, "Logging out");
        self.complete(tag, "LOGOUT");
        self.finished = true;
    }

    fn starttls(&mut self, tag: Tag) -> Option<Event> {
        let refusal = if self.opts.tls_active {
            "TLS is already active"
        } else if !self.opts.starttls_offered {
            "STARTTLS is not available on this port"
        } else {
            self.state = State::StartTlsAsked;
            return Some(Event::StartTls { tag });
        };
        self.refuse(Some(&tag), Status::Bad, None, refusal);
        None
    }

    fn count_bad(&mut self) {
        if self.finished {
            return;
        }
        self.bad_commands += 1;
        if self.bad_commands >= self.opts.max_bad_commands {
            let limit = self.opts.max_bad_commands;
            self.fail(Error::TooManyBadCommands { limit });
        }
    }

    /// Ends the session on our side: `* BYE` (RFC 9051 §7.1.5) and close.
    fn fail(&mut self, error: Error) {
        let why = match error {
            Error::LineTooLong { .. } => "Command line too long",
            Error::LiteralTooLarge { .. } => "Literal too large",
            Error::TooManyBadCommands { .. } => "Too many invalid commands",
            Error::UpgradePending => "Protocol error",
        };
        response::status(&mut self.output, "*", Status::Bye, None, why);
        self.error = Some(error);
        self.finished = true;
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
            if self.state == State::StartTlsAccepted {
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

    /// Nobody is logged in yet in this slice, and a pre-auth literal gets no
    /// longer deadline than a command: always the pre-auth deadline.
    fn timeout_class(&self) -> TimeoutClass {
        TimeoutClass::PreAuth
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    /// `* BYE` (RFC 9051 §7.1.5); the timeout text is RFC 9051's example.
    fn goodbye(&mut self, why: Goodbye) {
        if self.finished {
            return;
        }
        let text = match why {
            Goodbye::Shutdown => "Server shutting down",
            Goodbye::Timeout => "Autologout; idle for too long",
            Goodbye::SessionTooLong => "Session time limit reached",
        };
        response::status(&mut self.output, "*", Status::Bye, None, text);
        self.finished = true;
    }

    /// Octets received and not yet consumed, including the parts of a
    /// command still being assembled.
    fn buffered_input_len(&self) -> usize {
        let pending: usize = self
            .pending
            .iter()
            .map(|p| match p {
                RawPart::Text(b) | RawPart::Literal(b) => b.len(),
            })
            .sum();
        self.framer.buffered() + pending
    }

    /// RFC 9051 §6.2.1: after the handshake the server sends nothing, and
    /// the client must ask for the capabilities again.
    fn start_tls(self, tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
        let bytes = self.buffered_input_len();
        if bytes > 0 {
            return Err(PlaintextAfterStartTls { bytes });
        }
        debug_assert!(
            self.output.is_empty(),
            "start_tls before the OK was flushed"
        );
        let opts = Options {
            tls_active: true,
            starttls_offered: false,
            ..self.opts
        };
        Ok(Self::fresh(opts, Some(tls)))
    }
}
