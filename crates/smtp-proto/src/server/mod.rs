//! The SMTP server state machine: [`Server`].
//!
//! - this file: the machine's state and its [`Protocol`] implementation;
//! - `command`: what each command line does, and what the core refuses by
//!   itself;
//! - `body`: DATA bodies and BDAT chunks;
//! - `intent`: the methods the session answers events with.

mod body;
mod command;
mod intent;

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, TimeoutClass, TlsInfo,
};

use crate::cmd::HeloName;
use crate::dot::DataReader;
use crate::framing::{Input, Line};
use crate::message::MessageBuf;
use crate::reply::{self, Canned};
use crate::{Error, Event, Options};

/// What the next input octets are.
#[derive(Debug)]
enum Mode {
    /// Command lines.
    Command,
    /// One line: the client's answer to a `334` challenge, never a command
    /// (RFC 4954 §4).
    SaslResponse,
    /// A DATA body, after our `354` (RFC 5321 §4.1.1.4).
    Data(DataReader),
    /// The octets of a BDAT chunk, `left` of them still to come (RFC 3030
    /// §2); they are data whatever the answer to the BDAT.
    Chunk { left: u64, sink: ChunkSink },
    /// `accept_starttls()` queued the 220: nothing more is read in clear.
    StartTlsAccepted,
}

/// Where the octets of a BDAT chunk go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkSink {
    /// Into the transaction's message.
    Message { size: u64, last: bool },
    /// Nowhere: the BDAT is refused with this once its chunk is read.
    Refuse(Canned),
}

/// The event handed to the session and not answered yet: the answer's
/// effect on the state depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    StartTls,
    /// AUTH, or a response to a challenge.
    Auth,
    /// MAIL; an accepting answer opens a transaction with this flag.
    Mail {
        smtputf8: bool,
    },
    Rcpt,
    Message,
    /// VRFY or EXPN.
    Query,
}

/// An open mail transaction (RFC 5321 §3.3): from an accepted MAIL to the
/// answer to its message, RSET, EHLO/HELO, or a refusal that ends it.
#[derive(Debug)]
struct Transaction {
    /// MAIL had `SMTPUTF8`: UTF-8 addresses are allowed (RFC 6531 §3.4).
    smtputf8: bool,
    /// Recipients accepted so far.
    recipients: usize,
    /// The chunks received so far, once a BDAT was accepted (RFC 3030 §2).
    chunks: Option<MessageBuf>,
}

/// What one step of the machine produced.
#[derive(Debug)]
enum Step {
    Event(Event),
    /// Something happened (a reply, a change of mode): look again.
    Again,
    NeedInput,
}

impl From<Option<Event>> for Step {
    fn from(event: Option<Event>) -> Self {
        event.map_or(Self::Again, Self::Event)
    }
}

/// A sans-I/O SMTP server session (RFC 5321).
///
/// The greeting is queued by [`Server::new`]. The driver feeds bytes with
/// [`Protocol::enqueue_input`] and loops on [`Protocol::next`]; the session
/// answers each [`Event`] through [`Server::reply`] and the other intent
/// methods, never by writing bytes itself.
#[derive(Debug)]
pub struct Server {
    opts: Options,
    input: Input,
    output: Vec<u8>,
    mode: Mode,
    pending: Option<Pending>,
    /// The EHLO/HELO name; `None` until one is given (and after STARTTLS,
    /// RFC 3207 §4.2).
    helo: Option<HeloName>,
    /// AUTH succeeded (RFC 4954 §4); it lasts for the session.
    authenticated: bool,
    transaction: Option<Transaction>,
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
            input: Input::new(opts.max_line),
            opts,
            output: Vec::new(),
            mode: Mode::Command,
            pending: None,
            helo: None,
            authenticated: false,
            transaction: None,
            bad_commands: 0,
            tls,
            error: None,
            finished: false,
        }
    }

    /// The listener's options (after STARTTLS: `tls_active` is set).
    pub const fn options(&self) -> &Options {
        &self.opts
    }

    /// The name given with EHLO or HELO in this TLS epoch, if any.
    pub const fn helo_name(&self) -> Option<&HeloName> {
        self.helo.as_ref()
    }

    /// What the TLS handshake said, on a machine returned by `start_tls` or
    /// given [`Server::with_tls_info`].
    pub const fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// AUTH succeeded in this session (RFC 4954 §4).
    pub const fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// A mail transaction is open: MAIL was accepted, and neither its
    /// message was answered nor RSET, EHLO or a refusal ended it.
    pub const fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Octets of the incomplete command line being read (at most
    /// `max_line + 1` once `next()` has run); 0 while message data is read
    /// and once the session is over (nothing more is read then).
    pub fn partial_line_len(&self) -> usize {
        match self.mode {
            _ if self.finished => 0,
            Mode::Command | Mode::SaslResponse => self.input.partial_line(),
            _ => 0,
        }
    }

    /// Octets of message data held (at most `Options::max_message_size`).
    pub fn message_len(&self) -> usize {
        let chunks = self.transaction.as_ref().and_then(|t| t.chunks.as_ref());
        let data = match &self.mode {
            Mode::Data(reader) => reader.held(),
            _ => 0,
        };
        data + chunks.map_or(0, MessageBuf::held)
    }

    /// Bad commands counted so far in this TLS epoch.
    pub const fn bad_commands(&self) -> u32 {
        self.bad_commands
    }

    /// One step: a line, or message data, depending on the mode.
    fn step(&mut self) -> Step {
        match self.mode {
            Mode::Command | Mode::SaslResponse => self.read_line(),
            Mode::Data(_) => self.read_data(),
            Mode::Chunk { .. } => self.read_chunk(),
            Mode::StartTlsAccepted => Step::NeedInput,
        }
    }

    fn read_line(&mut self) -> Step {
        match self.input.line() {
            None => Step::NeedInput,
            Some(Line::TooLong) => {
                self.refuse_quietly(reply::LINE_TOO_LONG);
                let limit = self.opts.max_line;
                self.fail(Error::LineTooLong { limit });
                Step::Again
            }
            Some(Line::Text(line)) if matches!(self.mode, Mode::SaslResponse) => {
                self.on_sasl_line(&line).into()
            }
            Some(Line::Text(line)) => self.on_line(&line).into(),
        }
    }

    /// Hands an event out; its answer is expected before the next step.
    fn hand_out(&mut self, pending: Pending, event: Event) -> Option<Event> {
        self.pending = Some(pending);
        Some(event)
    }

    fn refuse(&mut self, canned: Canned) {
        self.refuse_quietly(canned);
        if reply::is_bad_command(canned.code) {
            self.count_bad();
        }
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
            let lines = matches!(self.mode, Mode::Command | Mode::SaslResponse);
            self.input.push(bytes, lines);
        }
    }

    fn next(&mut self) -> Result<Event, Interrupt<Error>> {
        self.settle_unanswered();
        loop {
            if let Some(bytes) = self.take_output() {
                return Err(Interrupt::Io(Io::Output(bytes)));
            }
            if let Some(error) = &self.error {
                return Err(Interrupt::Error(error.clone()));
            }
            if matches!(self.mode, Mode::StartTlsAccepted) {
                return Err(Interrupt::Error(Error::UpgradePending));
            }
            if self.finished {
                return Err(Interrupt::Io(Io::NeedMoreInput));
            }
            match self.step() {
                Step::Event(event) => return Ok(event),
                Step::Again => {}
                Step::NeedInput => return Err(Interrupt::Io(Io::NeedMoreInput)),
            }
        }
    }

    fn take_output(&mut self) -> Option<Vec<u8>> {
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    fn timeout_class(&self) -> TimeoutClass {
        match self.mode {
            Mode::Data(_) | Mode::Chunk { .. } => TimeoutClass::Data,
            _ if self.authenticated => TimeoutClass::Authenticated,
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

    /// Octets received and not yet consumed.
    fn buffered_input_len(&self) -> usize {
        self.input.buffered()
    }

    /// RFC 3207 §4.2: the upgraded session starts from nothing (no EHLO, no
    /// transaction, no greeting: the client speaks first) and with STARTTLS
    /// gone.
    fn start_tls(self, tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
        let bytes = self.input.buffered();
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
