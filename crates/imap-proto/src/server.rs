//! The IMAP server state machine: [`Server`].

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, TimeoutClass, TlsInfo,
};

use crate::capability::capabilities;
use crate::cmd::{self, Ctx, ParseError, RawPart, Request};
use crate::data::Data;
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
    /// `idle()` sent `+ idling`: the next line must be `DONE` (RFC 2177).
    Idling(Tag),
    /// `sasl_challenge()` sent `+ challenge`: the next line is the
    /// client's SASL response (RFC 9051 §6.2.2).
    Sasl(Tag),
}

/// What the client turned on with ENABLE (RFC 5161).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// CONDSTORE (RFC 7162 §3.1): MODSEQ in FETCH responses.
    pub condstore: bool,
    /// QRESYNC (RFC 7162 §3.2), which implies CONDSTORE.
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855): mailbox names in UTF-8.
    pub utf8: bool,
    /// IMAP4rev2 (RFC 9051 §6.3.1): rev2 responses (ESEARCH, no RECENT).
    pub rev2: bool,
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
    /// `logged_in()` was called: the authenticated state (RFC 9051 §3.2).
    authenticated: bool,
    enabled: Enabled,
    /// `hold()`: a command is still being answered; no input is parsed.
    held: bool,
    /// COMPRESS was accepted (RFC 4978): a second one is refused.
    compressing: bool,
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
            max_text: opts.max_line,
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
            authenticated: false,
            enabled: Enabled::default(),
            held: false,
            compressing: false,
        }
    }

    /// The session answers the current command in pieces: until
    /// `release()`, `next()` hands out queued output and then asks for
    /// input without parsing any, so a pipelined command waits its turn.
    pub fn hold(&mut self) {
        self.held = true;
    }

    /// The command answered in pieces is complete.
    pub fn release(&mut self) {
        self.held = false;
    }

    /// The login succeeded: the authenticated state. Commands may now be
    /// as long as an APPEND of `Options::max_append` octets, lines up to
    /// `Options::max_line_authenticated`, and the capabilities grow.
    pub fn logged_in(&mut self) {
        self.authenticated = true;
        self.framer.set_limits(Limits {
            max_line: self.opts.max_append as usize + self.opts.max_line_authenticated,
            max_text: self.opts.max_line_authenticated,
            max_literal: self.opts.max_append,
            refuse_credentials: false,
        });
    }

    /// Whether `logged_in()` was called.
    pub const fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// What the client enabled.
    pub const fn enabled(&self) -> Enabled {
        self.enabled
    }

    /// Turns CONDSTORE on without ENABLE: RFC 7162 §3.1 makes any
    /// CONDSTORE-enabling command (SELECT with CONDSTORE, FETCH of MODSEQ
    /// or CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS
    /// HIGHESTMODSEQ) do so for the rest of the session.
    pub fn enable_condstore(&mut self) {
        self.enabled.condstore = true;
    }

    /// Mailbox names are UTF-8 for this client (UTF8=ACCEPT or IMAP4rev2).
    pub const fn utf8(&self) -> bool {
        self.enabled.utf8 || self.enabled.rev2
    }

    /// The largest message APPEND takes, as advertised in APPENDLIMIT
    /// (RFC 7889 §2); STATUS APPENDLIMIT reports it for every mailbox.
    pub const fn append_limit(&self) -> u32 {
        self.opts.max_append
    }

    /// `* data`: untagged data built by the session (FETCH, LIST, ...).
    pub fn data(&mut self, data: Data) {
        if !self.finished {
            self.output.extend_from_slice(b"* ");
            self.output.extend_from_slice(&data.into_bytes());
            self.output.extend_from_slice(b"\r\n");
        }
    }

    /// Octets queued and not yet taken by the driver: a session streaming
    /// a large FETCH checks this to bound its memory.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// Answers IDLE (RFC 2177): `+ idling`; untagged data may follow at
    /// any time until the client's `DONE` arrives as [`Event::IdleDone`].
    pub fn idle(&mut self, tag: &Tag) {
        if self.finished {
            return;
        }
        response::continuation(&mut self.output, "idling");
        self.state = State::Idling(tag.clone());
    }

    /// Whether the session is in IDLE.
    pub const fn is_idling(&self) -> bool {
        matches!(self.state, State::Idling(_))
    }

    /// `+ challenge` (base64) in an AUTHENTICATE exchange: the client's
    /// answer comes as [`Event::SaslResponse`]; `*` cancels it, which the
    /// core answers itself.
    pub fn sasl_challenge(&mut self, tag: &Tag, challenge: &str) {
        if self.finished {
            return;
        }
        response::continuation(&mut self.output, challenge);
        self.state = State::Sasl(tag.clone());
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
        let external = self.tls.as_ref().is_some_and(|t| t.client.is_some());
        capabilities(&self.opts, self.authenticated, external)
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
        if let Frame::Line {
            text,
            literal: None,
        } = &frame
        {
            if let Some(event) = self.on_continuation_line(text) {
                return event;
            }
        }
        if matches!(self.state, State::Idling(_) | State::Sasl(_)) {
            // A literal where DONE or a SASL response belonged: the
            // exchange is over and this is read as a command.
            self.state = State::Command;
        }
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

    /// A line that answers `+ idling` or a SASL challenge; `None` when no
    /// such exchange is going on.
    fn on_continuation_line(&mut self, text: &[u8]) -> Option<Option<Event>> {
        let tag = match &self.state {
            State::Idling(tag) | State::Sasl(tag) => tag.clone(),
            _ => return None,
        };
        let idle = matches!(self.state, State::Idling(_));
        self.state = State::Command;
        Some(match (idle, text) {
            (true, t) if t.eq_ignore_ascii_case(b"DONE") => Some(Event::IdleDone { tag }),
            (true, _) => {
                self.refuse(Some(&tag), Status::Bad, None, "Expected DONE");
                None
            }
            // RFC 9051 §6.2.2: `*` cancels, answered with a tagged BAD.
            (false, b"*") => {
                self.refuse(Some(&tag), Status::Bad, None, "Authentication cancelled");
                None
            }
            (false, t) => match std::str::from_utf8(t) {
                Ok(r) if r.bytes().all(|b| b.is_ascii_graphic()) => Some(Event::SaslResponse {
                    tag,
                    response: postern_types::Secret::new(r.to_owned()),
                }),
                _ => {
                    self.refuse(Some(&tag), Status::Bad, None, "Malformed SASL response");
                    None
                }
            },
        })
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
        let ctx = Ctx { utf8: self.utf8() };
        match cmd::request(head, ctx) {
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
        let auth_only = !matches!(
            request,
            Request::Capability
                | Request::Noop
                | Request::Logout
                | Request::StartTls
                | Request::Login { .. }
                | Request::Authenticate { .. }
                | Request::Id
                | Request::Other { .. }
        );
        if auth_only && !self.authenticated {
            // RFC 9051 §6.3: valid only in the authenticated state.
            self.refuse(Some(&tag), Status::Bad, None, "Log in first");
            return None;
        }
        match request {
            Request::Capability => self.capability(&tag),
            Request::Noop if !self.authenticated => self.complete(&tag, "NOOP"),
            Request::Logout => self.logout(&tag),
            Request::StartTls => return self.starttls(tag),
            Request::Compress => return self.compress(tag),
            Request::Login { .. } | Request::Authenticate { .. } if self.authenticated => {
                self.refuse(Some(&tag), Status::Bad, None, "Already logged in");
            }
            Request::Id => {
                // RFC 2971 §3.2: the server's own fields.
                response::untagged(&mut self.output, "ID (\"name\" \"Postern\")");
                self.complete(&tag, "ID");
            }
            Request::Namespace => {
                // RFC 2342 §5: one personal namespace, "/" separated.
                response::untagged(&mut self.output, "NAMESPACE ((\"\" \"/\")) NIL NIL");
                self.complete(&tag, "NAMESPACE");
            }
            Request::Enable(caps) => self.enable(&tag, &caps),
            Request::Select {
                qresync: Some(_), ..
            }
            | Request::Fetch { vanished: true, .. }
                if !self.enabled.qresync =>
            {
                // RFC 7162 §3.2.3: both need ENABLE QRESYNC first.
                self.refuse(Some(&tag), Status::Bad, None, "ENABLE QRESYNC first");
            }
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
            request => return Some(Event::Request { tag, request }),
        }
        None
    }

    /// ENABLE (RFC 5161 §3.1): `* ENABLED` lists what was newly enabled
    /// among what we support; the rest is ignored. QRESYNC turns
    /// CONDSTORE on as well (RFC 7162 §3.2.3), which is listed only if
    /// the client named it too.
    fn enable(&mut self, tag: &Tag, caps: &[String]) {
        let before = self.enabled;
        let mut newly = Vec::new();
        for cap in caps {
            let (was, flag) = match cap.as_str() {
                "CONDSTORE" => (before.condstore, &mut self.enabled.condstore),
                "QRESYNC" => (before.qresync, &mut self.enabled.qresync),
                "UTF8=ACCEPT" => (before.utf8, &mut self.enabled.utf8),
                "IMAP4REV2" => (before.rev2, &mut self.enabled.rev2),
                _ => continue,
            };
            *flag = true;
            let name = if cap == "IMAP4REV2" {
                "IMAP4rev2"
            } else {
                cap.as_str()
            };
            if !was && !newly.contains(&name) {
                newly.push(name);
            }
        }
        self.enabled.condstore |= self.enabled.qresync;
        let line = format!("ENABLED {}", newly.join(" "));
        response::untagged(&mut self.output, line.trim_end());
        self.complete(tag, "ENABLE");
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

    /// RFC 4978 §3. Only under TLS (the capability is not offered
    /// before it), and once: `NO [COMPRESSIONACTIVE]` after that.
    fn compress(&mut self, tag: Tag) -> Option<Event> {
        if !self.opts.tls_active {
            self.refuse(
                Some(&tag),
                Status::No,
                None,
                "COMPRESS is offered under TLS only",
            );
            return None;
        }
        if self.compressing {
            response::status(
                &mut self.output,
                tag.as_str(),
                Status::No,
                Some("COMPRESSIONACTIVE"),
                "DEFLATE is already active",
            );
            return None;
        }
        self.compressing = true;
        response::status(
            &mut self.output,
            tag.as_str(),
            Status::Ok,
            None,
            "DEFLATE active",
        );
        Some(Event::Compress { tag })
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
            if self.held {
                return Err(Interrupt::Io(Io::NeedMoreInput));
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

    /// Before login the short pre-auth deadline (a pre-auth literal gets no
    /// longer); after it the authenticated one, and in IDLE the idle one
    /// (RFC 9051 §5.4: at least 30 minutes).
    fn timeout_class(&self) -> TimeoutClass {
        match (&self.state, self.authenticated) {
            (State::Idling(_), _) => TimeoutClass::Idle,
            (_, true) => TimeoutClass::Authenticated,
            (_, false) => TimeoutClass::PreAuth,
        }
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
