//! The SMTP server state machine: [`Server`].

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, TimeoutClass, TlsInfo,
};

use crate::cmd::{self, Command, CoreCommand, HeloName, Request, SyntaxError};
use crate::extensions::ehlo_keywords;
use crate::framing::{Frame, Framer};
use crate::reply::{self, Canned};
use crate::{Error, Event, Options};

/// Where the machine is in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading commands.
    Command,
    /// `Event::StartTls` was handed out and not answered yet.
    StartTlsAsked,
    /// `accept_starttls()` queued the 220: nothing more is read in clear.
    StartTlsAccepted,
    /// Reading a BDAT chunk. When the core refused the BDAT itself, its
    /// answer waits for the end of the chunk (RFC 3030 §2).
    Chunk { refusal: Option<Canned> },
}

/// A sans-I/O SMTP server session (RFC 5321).
///
/// The greeting is queued by [`Server::new`]. The driver feeds bytes with
/// [`Protocol::enqueue_input`] and loops on [`Protocol::next`]; the session
/// answers each [`Event`] through [`Server::reply`] and friends, never by
/// writing bytes itself.
#[derive(Debug)]
pub struct Server {
    opts: Options,
    framer: Framer,
    output: Vec<u8>,
    state: State,
    /// The EHLO/HELO name; `None` until one is given (and after STARTTLS,
    /// RFC 3207 §4.2).
    helo: Option<HeloName>,
    bad_commands: u32,
    tls: Option<TlsInfo>,
    error: Option<Error>,
    finished: bool,
}

impl Server {
    /// A new session with its `220` greeting queued (RFC 5321 §4.3.1).
    pub fn new(opts: Options) -> Self {
        let mut server = Self::fresh(opts, None);
        let greeting = format!("{} ESMTP Postern", server.opts.hostname);
        server.push(220, None, &[&greeting]);
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
            helo: None,
            bad_commands: 0,
            tls,
            error: None,
            finished: false,
        }
    }

    /// Answers the current event with a one-line reply. `enhanced` is the
    /// RFC 3463 code (`"2.1.0"`); text with line breaks cannot forge further
    /// replies. A `50x` reply counts as a bad command (RFC 5321 §4.2.1: the
    /// client made a syntax or sequence error).
    pub fn reply(&mut self, code: u16, enhanced: Option<&str>, text: &str) {
        self.reply_lines(code, enhanced, &[text]);
    }

    /// Answers with a multi-line reply (`code-` on all lines but the last).
    ///
    /// `354` is refused (a `451` goes out instead): the message body that
    /// would follow cannot be framed by this core yet, so its lines would be
    /// read as commands. DATA gets its own intent method with that framing.
    pub fn reply_lines(&mut self, code: u16, enhanced: Option<&str>, lines: &[&str]) {
        if self.state == State::StartTlsAsked {
            self.state = State::Command;
        }
        debug_assert_ne!(code, 354, "DATA is not framed by this core yet");
        if code == 354 {
            self.push(451, Some("4.3.0"), &["Local error: DATA is not available"]);
            return;
        }
        self.push(code, enhanced, lines);
        if reply::is_syntax_class(code) {
            self.count_bad();
        }
    }

    /// Answers [`Event::StartTls`] with `220 2.0.0 Ready to start TLS`
    /// (RFC 3207 §4). The driver then flushes with `take_output()` and calls
    /// `start_tls()`; nothing more is parsed in clear text.
    pub fn accept_starttls(&mut self) {
        debug_assert_eq!(self.state, State::StartTlsAsked, "no STARTTLS to accept");
        if self.state != State::StartTlsAsked || self.finished {
            return;
        }
        self.push(220, Some("2.0.0"), &["Ready to start TLS"]);
        self.state = State::StartTlsAccepted;
    }

    /// The listener's options (after STARTTLS: `tls_active` is set).
    pub const fn options(&self) -> &Options {
        &self.opts
    }

    /// The name given with EHLO or HELO in this TLS epoch, if any.
    pub const fn helo_name(&self) -> Option<&HeloName> {
        self.helo.as_ref()
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

    fn on_frame(&mut self, frame: Frame) -> Option<Event> {
        match frame {
            Frame::Line(line) => self.on_line(&line),
            Frame::Chunk { bytes, end } => self.on_chunk(bytes, end),
            Frame::TooLong => {
                self.refuse_quietly(reply::LINE_TOO_LONG);
                let limit = self.opts.max_line;
                self.fail(Error::LineTooLong { limit });
                None
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Option<Event> {
        match cmd::parse(line) {
            Ok(Request::Core(command)) => self.on_core(command),
            Ok(Request::Session(command)) => self.on_session(command),
            Err(error) => {
                self.on_syntax_error(error);
                None
            }
        }
    }

    fn on_syntax_error(&mut self, error: SyntaxError) {
        let (code, enhanced, text) = error.reply();
        self.push(code, Some(enhanced), &[text]);
        if error == SyntaxError::ChunkSize {
            // The chunk octets follow anyway: reading on would run them.
            self.fail(Error::BadChunkSize);
        } else {
            self.count_bad();
        }
    }

    fn on_core(&mut self, command: CoreCommand) -> Option<Event> {
        match command {
            CoreCommand::Ehlo(name) => self.ehlo(name),
            CoreCommand::Helo(name) => self.helo(name),
            CoreCommand::Noop | CoreCommand::Rset => self.push(250, Some("2.0.0"), &["OK"]),
            CoreCommand::Help => self.push(214, Some("2.0.0"), &["See RFC 5321 and RFC 3207"]),
            CoreCommand::Quit => self.quit(),
            CoreCommand::StartTls => return self.starttls(),
        }
        None
    }

    /// RFC 5321 §4.1.1.1: the first line names us, the others are keywords;
    /// no enhanced code in an EHLO reply (RFC 2034 §3).
    fn ehlo(&mut self, name: HeloName) {
        let mut lines = vec![self.opts.hostname.clone()];
        lines.extend(ehlo_keywords(&self.opts));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.push(250, None, &lines);
        self.helo = Some(name);
    }

    fn helo(&mut self, name: HeloName) {
        let hostname = self.opts.hostname.clone();
        self.push(250, None, &[&hostname]);
        self.helo = Some(name);
    }

    /// RFC 5321 §4.1.1.10: 221, then the server closes.
    fn quit(&mut self) {
        self.push(221, Some("2.0.0"), &["Bye"]);
        self.finished = true;
    }

    fn starttls(&mut self) -> Option<Event> {
        if self.opts.tls_active {
            self.refuse(reply::TLS_ALREADY_ACTIVE);
            return None;
        }
        if !self.opts.starttls_offered {
            self.refuse(reply::STARTTLS_UNAVAILABLE);
            return None;
        }
        self.state = State::StartTlsAsked;
        Some(Event::StartTls)
    }

    fn on_session(&mut self, command: Command) -> Option<Event> {
        let refusal = self.gate(&command);
        if matches!(command, Command::Bdat(_)) {
            // The chunk follows whatever we answer (RFC 3030 §2).
            self.state = State::Chunk { refusal };
            return refusal.is_none().then_some(Event::Command(command));
        }
        match refusal {
            Some(canned) => {
                self.refuse(canned);
                None
            }
            None => Some(Event::Command(command)),
        }
    }

    /// What the core refuses before the session sees a command.
    fn gate(&self, command: &Command) -> Option<Canned> {
        if matches!(command, Command::Auth(_)) && !self.opts.submission {
            return Some(reply::AUTH_UNAVAILABLE);
        }
        // RFC 3207 §4: a server requiring TLS refuses everything but NOOP,
        // EHLO, STARTTLS and QUIT (we also let HELO, RSET and HELP through).
        if self.opts.submission && !self.opts.tls_active {
            return Some(reply::MUST_STARTTLS);
        }
        let needs_helo = !matches!(command, Command::Vrfy(_) | Command::Expn(_));
        if needs_helo && self.helo.is_none() {
            return Some(reply::NEED_HELO);
        }
        None
    }

    fn on_chunk(&mut self, bytes: Vec<u8>, end: bool) -> Option<Event> {
        // The framer only cuts chunks after a BDAT line, which set this state.
        let State::Chunk { refusal } = self.state else {
            debug_assert!(false, "chunk octets outside BDAT");
            return None;
        };
        if end {
            self.state = State::Command;
        }
        match refusal {
            None => Some(Event::ChunkData {
                bytes,
                end_of_chunk: end,
            }),
            Some(canned) if end => {
                self.refuse(canned);
                None
            }
            Some(_) => None,
        }
    }

    fn refuse(&mut self, canned: Canned) {
        self.refuse_quietly(canned);
        self.count_bad();
    }

    fn refuse_quietly(&mut self, canned: Canned) {
        self.push(canned.code, Some(canned.enhanced), &[canned.text]);
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

    /// Ends the session on our side: `421` (RFC 5321 §3.8) and close.
    fn fail(&mut self, error: Error) {
        let why = match error {
            Error::LineTooLong { .. } => "Line too long",
            Error::TooManyBadCommands { .. } => "Too many errors",
            Error::BadChunkSize | Error::UpgradePending => "Protocol error",
        };
        let text = format!("{} {why}, closing connection", self.opts.hostname);
        self.push(421, Some("4.7.0"), &[&text]);
        self.error = Some(error);
        self.finished = true;
    }

    fn push(&mut self, code: u16, enhanced: Option<&str>, lines: &[&str]) {
        if !self.finished {
            reply::write(&mut self.output, code, enhanced, lines);
        }
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
            if self.state == State::StartTlsAsked {
                // Unanswered: the session let the STARTTLS go.
                self.state = State::Command;
            }
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

    fn timeout_class(&self) -> TimeoutClass {
        match self.state {
            State::Chunk { .. } => TimeoutClass::Data,
            _ => TimeoutClass::PreAuth,
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    /// RFC 5321 §3.8: `421` before closing on our own initiative; RFC 3463
    /// X.3.2 "system not accepting messages", X.4.2 "bad connection".
    fn goodbye(&mut self, why: Goodbye) {
        let (enhanced, what) = match why {
            Goodbye::Shutdown => ("4.3.2", "shutting down"),
            Goodbye::Timeout => ("4.4.2", "timeout"),
            Goodbye::SessionTooLong => ("4.4.2", "session time limit reached"),
        };
        let text = format!("{} {what}", self.opts.hostname);
        self.push(421, Some(enhanced), &[&text]);
        self.finished = true;
    }

    /// Octets received and not yet consumed; an incomplete line never holds
    /// more than `max_line + 1` of them.
    fn buffered_input_len(&self) -> usize {
        self.framer.buffered()
    }

    /// RFC 3207 §4.2: the upgraded session starts from nothing (no EHLO, no
    /// greeting: the client speaks first) and with STARTTLS gone.
    fn start_tls(self, tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
        let bytes = self.framer.buffered();
        if bytes > 0 {
            return Err(PlaintextAfterStartTls { bytes });
        }
        debug_assert!(
            self.output.is_empty(),
            "start_tls before the 220 was flushed"
        );
        let opts = Options {
            tls_active: true,
            starttls_offered: false,
            ..self.opts
        };
        Ok(Self::fresh(opts, Some(tls)))
    }
}
