//! The client side of a proxied connection as a sans-I/O core: each
//! protocol's small pre-login machine ([`super::imap`], [`super::pop3`],
//! [`super::smtp`]) answers what needs no back end, and once the session
//! has logged in upstream the core only carries bytes: what the client
//! sends becomes [`Event::Relay`], what the back end sends is queued with
//! [`Front::relay_out`].

use postern_types::{
    Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, Secret, TimeoutClass, TlsInfo,
};

use super::{imap, pop3, smtp};

/// The longest command line before the login (RFC 9051 §4 leaves it to
/// the server; a SASL PLAIN response with long names fits, and a client
/// cannot make us buffer more).
pub const MAX_LINE: usize = 8 * 1024;

/// What the core hands the session.
#[derive(Debug)]
pub enum Event {
    /// The go-ahead for STARTTLS is queued.
    StartTls,
    /// Credentials to try upstream; the machine waits for
    /// [`Front::answer`].
    Login(Login),
    /// SMTP MX: the client's first EHLO/HELO inside TLS (or on a plain MX
    /// listener): the relay starts with it.
    Begin(Vec<u8>),
    /// Bytes from the client, for the back end.
    Relay(Vec<u8>),
}

/// Credentials a client gave (never logged but for the name).
#[derive(Debug)]
pub struct Login {
    /// The SASL authorization identity; empty when the client gave none.
    pub authzid: String,
    pub user: String,
    pub password: Secret<String>,
    /// SMTP: the client's EHLO name, for XCLIENT.
    pub helo: Option<String>,
}

/// The session's verdict on a login or on an MX relay's start.
#[derive(Debug)]
pub enum Answer {
    /// The back end accepted: its reply lines (without CRLF), relayed.
    LoggedIn(Vec<String>),
    /// The back end refused the credentials (or the throttle did).
    Refused,
    /// The back end cannot be reached or failed: a temporary failure.
    Unavailable,
}

/// A fatal error in the client's input: its reply is queued.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FrontError(pub &'static str);

/// What a machine did with the input it was shown.
#[derive(Debug)]
pub enum Step {
    /// Nothing complete yet.
    NeedMore,
    /// It answered a command (output queued); call again.
    Again,
    /// An event for the session.
    Event(Event),
    /// The session is over (LOGOUT, QUIT); output queued.
    Finish,
    /// The client broke the protocol; the last reply is queued.
    Error(FrontError),
}

/// The pre-login machine of one protocol.
#[derive(Debug)]
pub enum Machine {
    Imap(imap::Pre),
    Pop3(pop3::Pre),
    Smtp(smtp::Pre),
}

impl Machine {
    fn greeting(&self, out: &mut Vec<u8>, tls: bool) {
        match self {
            Self::Imap(m) => m.greeting(out, tls),
            Self::Pop3(m) => m.greeting(out, tls),
            Self::Smtp(m) => m.greeting(out, tls),
        }
    }

    fn step(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>, tls: bool) -> Step {
        match self {
            Self::Imap(m) => m.step(input, out, tls),
            Self::Pop3(m) => m.step(input, out, tls),
            Self::Smtp(m) => m.step(input, out, tls),
        }
    }

    fn answer(&mut self, answer: Answer, out: &mut Vec<u8>) -> bool {
        match self {
            Self::Imap(m) => m.answer(answer, out),
            Self::Pop3(m) => m.answer(answer, out),
            Self::Smtp(m) => m.answer(answer, out),
        }
    }

    fn goodbye(&self, out: &mut Vec<u8>) {
        match self {
            Self::Imap(_) => out.extend_from_slice(b"* BYE Server shutting down or timeout\r\n"),
            Self::Pop3(_) => out.extend_from_slice(b"-ERR Server shutting down or timeout\r\n"),
            Self::Smtp(_) => {
                out.extend_from_slice(b"421 4.4.2 Server shutting down or timeout\r\n")
            }
        }
    }

    /// After STARTTLS: the same protocol, nothing remembered.
    fn after_tls(&self) -> Self {
        match self {
            Self::Imap(m) => Self::Imap(m.fresh()),
            Self::Pop3(m) => Self::Pop3(m.fresh()),
            Self::Smtp(m) => Self::Smtp(m.fresh()),
        }
    }

    /// The read timeout while relaying: IMAP clients sit in IDLE for up
    /// to 29 minutes (RFC 9051 §6.3.13); an SMTP relay is mostly message
    /// data (RFC 5321 §4.5.3.2).
    fn relay_class(&self) -> TimeoutClass {
        match self {
            Self::Imap(_) => TimeoutClass::Idle,
            Self::Pop3(_) => TimeoutClass::Authenticated,
            Self::Smtp(_) => TimeoutClass::Data,
        }
    }
}

/// The sans-I/O core of a proxied connection.
#[derive(Debug)]
pub struct Front {
    machine: Machine,
    input: Vec<u8>,
    output: Vec<u8>,
    tls: bool,
    relaying: bool,
    finished: bool,
}

impl Front {
    /// A core whose greeting is queued. `tls`: the connection is already
    /// inside TLS (implicit TLS).
    pub fn new(machine: Machine, tls: bool) -> Self {
        let mut output = Vec::new();
        machine.greeting(&mut output, tls);
        Self {
            machine,
            input: Vec::new(),
            output,
            tls,
            relaying: false,
            finished: false,
        }
    }

    /// Answers the pending login (or MX start); a login that succeeded
    /// switches the core to relaying.
    pub fn answer(&mut self, answer: Answer) {
        let ok = matches!(answer, Answer::LoggedIn(_));
        let finish = self.machine.answer(answer, &mut self.output);
        self.relaying = ok;
        self.finished |= finish;
    }

    /// Bytes from the back end, for the client.
    pub fn relay_out(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// The back end closed: flush what is queued and end.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    pub fn is_relaying(&self) -> bool {
        self.relaying
    }
}

impl Protocol for Front {
    type Event = Event;
    type Error = FrontError;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    fn next(&mut self) -> Result<Event, Interrupt<FrontError>> {
        loop {
            if let Some(out) = self.take_output() {
                return Err(Interrupt::Io(Io::Output(out)));
            }
            if self.finished {
                return Err(Interrupt::Io(Io::NeedMoreInput));
            }
            if self.relaying {
                if self.input.is_empty() {
                    return Err(Interrupt::Io(Io::NeedMoreInput));
                }
                return Ok(Event::Relay(std::mem::take(&mut self.input)));
            }
            match self
                .machine
                .step(&mut self.input, &mut self.output, self.tls)
            {
                Step::NeedMore if self.output.is_empty() => {
                    return Err(Interrupt::Io(Io::NeedMoreInput))
                }
                Step::NeedMore | Step::Again => {}
                Step::Event(e) => return Ok(e),
                Step::Finish => self.finished = true,
                Step::Error(e) => {
                    self.finished = true;
                    return Err(Interrupt::Error(e));
                }
            }
        }
    }

    fn take_output(&mut self) -> Option<Vec<u8>> {
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    fn timeout_class(&self) -> TimeoutClass {
        if self.relaying {
            self.machine.relay_class()
        } else {
            TimeoutClass::PreAuth
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    /// Before the login, the protocol's goodbye; while relaying nothing is
    /// added (it could land inside a back end's response): the connection
    /// just closes.
    fn goodbye(&mut self, _why: Goodbye) {
        if !self.relaying && !self.finished {
            self.machine.goodbye(&mut self.output);
        }
        self.finished = true;
    }

    fn buffered_input_len(&self) -> usize {
        self.input.len()
    }

    fn start_tls(self, _tls: TlsInfo) -> Result<Self, PlaintextAfterStartTls> {
        if !self.input.is_empty() {
            return Err(PlaintextAfterStartTls {
                bytes: self.input.len(),
            });
        }
        Ok(Self {
            machine: self.machine.after_tls(),
            input: Vec::new(),
            output: Vec::new(),
            tls: true,
            relaying: false,
            finished: false,
        })
    }
}

/// A line longer than [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Takes one line (without its CRLF or LF) off the input.
pub fn take_line(input: &mut Vec<u8>) -> Result<Option<Vec<u8>>, TooLong> {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) if end > MAX_LINE => Err(TooLong),
        Some(end) => {
            let mut line: Vec<u8> = input.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Ok(Some(line))
        }
        None if input.len() > MAX_LINE => Err(TooLong),
        None => Ok(None),
    }
}

/// A command line as text: `None` if it holds a control character (NUL,
/// a bare CR...) or is not UTF-8; such input is refused, never truncated.
pub fn line_text(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    (!text.chars().any(|c| c.is_control() && c != '\t')).then_some(text)
}

/// The first word (upper-cased) and the rest after one space.
pub fn verb(text: &str) -> (String, &str) {
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    (verb.to_ascii_uppercase(), rest)
}

/// Decodes a SASL PLAIN message (RFC 4616) given in base64.
pub fn sasl_plain(b64: &str) -> Option<(String, String, Secret<String>)> {
    let bytes = postern_auth::sasl::decode(b64).ok()?;
    let p = postern_auth::sasl::plain_decoded(bytes).ok()?;
    Some((p.authzid, p.authcid, p.password))
}

/// For the machines' tests: feeds `input`; returns what was written and
/// the event, if any.
#[cfg(test)]
pub(crate) fn run_for_test(f: &mut Front, input: &[u8]) -> (String, Option<Event>) {
    use postern_types::{Interrupt, Io, Protocol};
    f.enqueue_input(input);
    let mut out = Vec::new();
    loop {
        match f.next() {
            Ok(e) => {
                out.extend(f.take_output().unwrap_or_default());
                return (String::from_utf8_lossy(&out).into_owned(), Some(e));
            }
            Err(Interrupt::Io(Io::Output(b))) => out.extend_from_slice(&b),
            Err(_) => {
                out.extend(f.take_output().unwrap_or_default());
                return (String::from_utf8_lossy(&out).into_owned(), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_lf_and_are_bounded() {
        let mut input = b"A\r\nB\nC".to_vec();
        assert_eq!(take_line(&mut input), Ok(Some(b"A".to_vec())));
        assert_eq!(take_line(&mut input), Ok(Some(b"B".to_vec())));
        assert_eq!(take_line(&mut input), Ok(None));
        let mut long = vec![b'x'; MAX_LINE + 1];
        assert_eq!(take_line(&mut long), Err(TooLong));
        long.extend_from_slice(b"\r\n");
        assert_eq!(take_line(&mut long), Err(TooLong));
    }

    #[test]
    fn control_characters_make_a_line_invalid() {
        assert_eq!(line_text(b"USER a\tb"), Some("USER a\tb"));
        assert_eq!(line_text(b"USER a\0b"), None);
        assert_eq!(line_text(b"USER a\rb"), None);
        assert_eq!(line_text(b"USER \xff"), None);
    }

    #[test]
    fn relaying_passes_bytes_and_goodbye_adds_none() {
        let machine = Machine::Pop3(pop3::Pre::new("h".into(), false));
        let mut f = Front::new(machine, true);
        f.take_output();
        f.answer(Answer::LoggedIn(vec!["+OK in".into()]));
        assert_eq!(f.take_output().as_deref(), Some(&b"+OK in\r\n"[..]));
        f.enqueue_input(b"\0any bytes");
        assert!(matches!(f.next(), Ok(Event::Relay(b)) if b == b"\0any bytes"));
        assert_eq!(f.timeout_class(), TimeoutClass::Authenticated);
        f.goodbye(Goodbye::Shutdown);
        assert_eq!(f.take_output(), None);
        assert!(f.is_finished());
    }
}
