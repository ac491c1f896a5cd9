//! IMAP in front of a back end (RFC 9051): before the login this machine
//! answers CAPABILITY, NOOP, LOGOUT, ID and STARTTLS itself, takes LOGIN
//! and AUTHENTICATE PLAIN (with SASL-IR, RFC 4959) only inside TLS, and
//! logs in upstream with the same credentials.

use std::net::SocketAddr;

use postern_config::proxy::{ClientAddress, Upstream};

use super::front::{self, Answer, Event, FrontError, Login, Step};
use super::imap_syntax::{literal_marker, Parser};
use super::upstream::{Failure, Link};
use super::Shared;

/// The longest literal accepted before the login: a user name or a
/// password (RFC 9051 §4.3 lets the server refuse larger ones).
const MAX_LITERAL: usize = 1024;
/// A whole pre-login command, its literals included: a line's worth and
/// two literals (a user name and a password). One bound, whatever part
/// of the command has arrived, so a command gets the same answer however
/// it is cut into reads.
const MAX_COMMAND: usize = front::MAX_LINE + 2 * MAX_LITERAL;

/// Bad commands before the connection is closed (a client looping on
/// errors, or someone probing).
const MAX_ERRORS: u32 = 10;

/// The pre-login machine.
#[derive(Debug, Clone)]
pub struct Pre {
    hostname: String,
    /// STARTTLS is offered (a `starttls` listener).
    starttls: bool,
    /// The current command's end is searched from here (after literals).
    scan: usize,
    /// The synchronizing literal at this offset has had its "+".
    announced: usize,
    /// AUTHENTICATE waits for the client's response to "+ ".
    sasl_tag: Option<String>,
    /// The tag of the login the session is trying.
    pending_tag: Option<String>,
    errors: u32,
}

impl Pre {
    pub fn new(hostname: String, starttls: bool) -> Self {
        Self {
            hostname,
            starttls,
            scan: 0,
            announced: 0,
            sasl_tag: None,
            pending_tag: None,
            errors: 0,
        }
    }

    pub fn fresh(&self) -> Self {
        Self::new(self.hostname.clone(), false)
    }

    /// RFC 9051 §7.1: the capabilities in the greeting save the client
    /// a round trip.
    pub fn greeting(&self, out: &mut Vec<u8>, tls: bool) {
        let caps = self.capabilities(tls);
        let line = format!("* OK [CAPABILITY {caps}] {} ready\r\n", self.hostname);
        out.extend_from_slice(line.as_bytes());
    }

    pub fn step(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>, tls: bool) -> Step {
        if self.pending_tag.is_some() {
            // Wait for the session's answer before reading on.
            return Step::NeedMore;
        }
        if let Some(tag) = self.sasl_tag.take() {
            return self.sasl_response(tag, input, out);
        }
        match self.take_command(input, out) {
            Err(why) => {
                out.extend_from_slice(format!("* BYE {why}\r\n").as_bytes());
                Step::Error(FrontError(why))
            }
            Ok(None) => Step::NeedMore,
            Ok(Some(cmd)) => self.command(&cmd, out, tls),
        }
    }

    /// One whole command: a line, and for each literal announced at a
    /// line's end (RFC 9051 §4.3) its octets and the line after them.
    fn take_command(
        &mut self,
        input: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, &'static str> {
        loop {
            let Some(rel) = input[self.scan..].iter().position(|&b| b == b'\n') else {
                let line_so_far = input.len() - self.scan;
                return match line_so_far > front::MAX_LINE || input.len() > MAX_COMMAND {
                    true => Err("Command line too long"),
                    false => Ok(None),
                };
            };
            let eol = self.scan + rel;
            // The same bounds once the line's end is here: each line at
            // most MAX_LINE, the whole command at most MAX_COMMAND.
            if eol - self.scan > front::MAX_LINE || eol > MAX_COMMAND {
                return Err("Command line too long");
            }
            let line = &input[self.scan..eol];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some((size, sync)) = literal_marker(line) else {
                let cmd: Vec<u8> = input.drain(..=eol).collect();
                (self.scan, self.announced) = (0, 0);
                return Ok(Some(cmd));
            };
            let start = eol + 1;
            // One literal, and the whole command, are bounded: a user
            // name and a password, never a stream of literals.
            if size > MAX_LITERAL || start + size > MAX_COMMAND {
                return Err("Literal too large before login");
            }
            if sync && self.announced < start {
                out.extend_from_slice(b"+ Ready for literal data\r\n");
                self.announced = start;
            }
            if input.len() < start + size {
                return Ok(None);
            }
            self.scan = start + size;
        }
    }

    fn command(&mut self, cmd: &[u8], out: &mut Vec<u8>, tls: bool) -> Step {
        let mut p = Parser::new(cmd);
        let Some(tag) = p.tag() else {
            return self.bad(out, "*", "Missing or invalid tag");
        };
        let name = match p.sp().and_then(|()| p.atom()) {
            Some(n) => n.to_ascii_uppercase(),
            None => return self.bad(out, &tag, "Missing command"),
        };
        match name.as_str() {
            "CAPABILITY" if p.end() => {
                let caps = self.capabilities(tls);
                reply(
                    out,
                    &format!("* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed"),
                );
                Step::Again
            }
            "NOOP" if p.end() => {
                reply(out, &format!("{tag} OK NOOP completed"));
                Step::Again
            }
            "LOGOUT" if p.end() => {
                reply(
                    out,
                    &format!("* BYE Logging out\r\n{tag} OK LOGOUT completed"),
                );
                Step::Finish
            }
            // RFC 2971 §3.1: the server answers with its own parameters
            // (or NIL); the client's are not needed here.
            "ID" => {
                reply(
                    out,
                    &format!("* ID (\"name\" \"Postern\")\r\n{tag} OK ID completed"),
                );
                Step::Again
            }
            "STARTTLS" if p.end() => self.starttls(&tag, out, tls),
            "LOGIN" => self.login(&tag, &mut p, out, tls),
            "AUTHENTICATE" => self.authenticate(&tag, &mut p, out, tls),
            "CAPABILITY" | "NOOP" | "LOGOUT" | "STARTTLS" => {
                self.bad(out, &tag, "Unexpected arguments")
            }
            _ => self.bad(out, &tag, "Log in first"),
        }
    }

    fn capabilities(&self, tls: bool) -> String {
        let mut caps = String::from("IMAP4rev1 IMAP4rev2 ID");
        if tls {
            caps.push_str(" AUTH=PLAIN SASL-IR");
        } else {
            // RFC 9051 §6.2.3: no LOGIN (and no AUTH=) until TLS.
            caps.push_str(" LOGINDISABLED");
            if self.starttls {
                caps.push_str(" STARTTLS");
            }
        }
        caps
    }

    fn starttls(&mut self, tag: &str, out: &mut Vec<u8>, tls: bool) -> Step {
        if tls || !self.starttls {
            return self.bad(out, tag, "TLS is already active");
        }
        reply(out, &format!("{tag} OK Begin TLS negotiation now"));
        Step::Event(Event::StartTls)
    }

    fn login(&mut self, tag: &str, p: &mut Parser<'_>, out: &mut Vec<u8>, tls: bool) -> Step {
        if !tls {
            return privacy_required(tag, out);
        }
        let args = (|| {
            p.sp()?;
            let user = p.astring()?;
            p.sp()?;
            let pass = p.astring()?;
            p.end().then_some((user, pass))
        })();
        let Some((user, pass)) = args else {
            return self.bad(out, tag, "LOGIN expects a user name and a password");
        };
        let (Ok(user), Ok(pass)) = (String::from_utf8(user), String::from_utf8(pass)) else {
            return self.bad(out, tag, "LOGIN arguments must be UTF-8");
        };
        self.pending_tag = Some(tag.to_owned());
        Step::Event(Event::Login(Login {
            authzid: String::new(),
            user,
            password: postern_types::Secret::new(pass),
            helo: None,
        }))
    }

    fn authenticate(
        &mut self,
        tag: &str,
        p: &mut Parser<'_>,
        out: &mut Vec<u8>,
        tls: bool,
    ) -> Step {
        if !tls {
            return privacy_required(tag, out);
        }
        let mech = p
            .sp()
            .and_then(|()| p.atom())
            .map(|m| m.to_ascii_uppercase());
        if mech.as_deref() != Some("PLAIN") {
            reply(
                out,
                &format!("{tag} NO [CANNOT] Only AUTHENTICATE PLAIN is offered"),
            );
            return Step::Again;
        }
        if p.end() {
            out.extend_from_slice(b"+ \r\n");
            self.sasl_tag = Some(tag.to_owned());
            return Step::Again;
        }
        // SASL-IR (RFC 4959 §3): the initial response on the command line.
        match p.sp().and_then(|()| p.atom()) {
            Some(ir) if p.end() => self.plain(tag, &ir, out),
            _ => self.bad(out, tag, "Invalid initial response"),
        }
    }

    fn sasl_response(&mut self, tag: String, input: &mut Vec<u8>, out: &mut Vec<u8>) -> Step {
        let line = match front::take_line(input) {
            Err(front::TooLong) => return Step::Error(FrontError("SASL response too long")),
            Ok(None) => {
                self.sasl_tag = Some(tag);
                return Step::NeedMore;
            }
            Ok(Some(line)) => line,
        };
        match front::line_text(&line) {
            // RFC 9051 §6.2.2: "*" cancels, answered with BAD.
            Some("*") => self.bad(out, &tag, "AUTHENTICATE cancelled"),
            Some(text) => {
                let text = text.to_owned();
                self.plain(&tag, &text, out)
            }
            None => self.bad(out, &tag, "Invalid SASL response"),
        }
    }

    fn plain(&mut self, tag: &str, b64: &str, out: &mut Vec<u8>) -> Step {
        let Some((authzid, user, password)) = front::sasl_plain(b64) else {
            return self.bad(out, tag, "Invalid SASL PLAIN message");
        };
        self.pending_tag = Some(tag.to_owned());
        Step::Event(Event::Login(Login {
            authzid,
            user,
            password,
            helo: None,
        }))
    }

    fn bad(&mut self, out: &mut Vec<u8>, tag: &str, text: &str) -> Step {
        reply(out, &format!("{tag} BAD {text}"));
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            out.extend_from_slice(b"* BYE Too many invalid commands\r\n");
            return Step::Error(FrontError("too many invalid commands"));
        }
        Step::Again
    }

    /// The answer to the pending login; true when the connection ends.
    pub fn answer(&mut self, answer: Answer, out: &mut Vec<u8>) -> bool {
        let tag = self.pending_tag.take().unwrap_or_else(|| "*".to_owned());
        match answer {
            Answer::LoggedIn(lines) => {
                let (last, untagged) = lines
                    .split_last()
                    .map_or(("OK Logged in", &[][..]), |(l, u)| (l.as_str(), u));
                for l in untagged {
                    reply(out, l);
                }
                reply(out, &format!("{tag} {last}"));
            }
            Answer::Refused => {
                reply(
                    out,
                    &format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed"),
                );
            }
            // RFC 5530 §3: UNAVAILABLE, the back end is down.
            Answer::Unavailable => reply(
                out,
                &format!("{tag} NO [UNAVAILABLE] The mail server is unavailable; try again later"),
            ),
        }
        false
    }
}

fn reply(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// RFC 9051 §6.2.3 and RFC 5530 §3: no credentials before TLS.
fn privacy_required(tag: &str, out: &mut Vec<u8>) -> Step {
    reply(
        out,
        &format!("{tag} NO [PRIVACYREQUIRED] Log in only after STARTTLS"),
    );
    Step::Again
}

/// Logs in at the back end: greeting, STARTTLS if configured, the client's
/// address by ID if configured, then LOGIN. The reply lines are what the
/// client is told (the tagged OK without its tag).
pub async fn login_upstream(
    shared: &Shared,
    to: &Upstream,
    peer: SocketAddr,
    login: &Login,
) -> Result<(Link, Vec<String>), Failure> {
    let mut link = shared.connect(to, peer).await?;
    let greeting = link.line().await?;
    if !greeting.starts_with("* OK") {
        return Err(Failure::unavailable(format!(
            "{to}: unexpected greeting \"{greeting}\""
        )));
    }
    if shared.connector.starttls() {
        command(&mut link, "P1 STARTTLS").await?.ok("STARTTLS")?;
        link = shared.connector.start_tls(link).await?;
    }
    if shared.proxy.client_address == ClientAddress::Id {
        // Dovecot trusts these from hosts in login_trusted_networks.
        let id = format!(
            "P2 ID (\"x-originating-ip\" \"{}\" \"x-originating-port\" \"{}\" \"x-connected-ip\" \"{}\" \"x-connected-port\" \"{}\")",
            peer.ip().to_canonical(),
            peer.port(),
            shared.local.ip(),
            shared.local.port()
        );
        let r = command(&mut link, &id).await?;
        if !r.tagged.starts_with("OK") {
            tracing::warn!(upstream = %to, answer = %r.tagged, "the back end refused ID with the client's address");
        }
    }
    send_login(&mut link, login).await?;
    let r = collect(&mut link, "P3").await?;
    match r.tagged.split(' ').next() {
        Some("OK") => {
            let mut lines = r.untagged;
            lines.push(r.tagged);
            Ok((link, lines))
        }
        Some("NO") => Err(Failure::Refused(r.tagged)),
        _ => Err(Failure::unavailable(format!(
            "{to}: answered LOGIN with \"{}\"",
            r.tagged
        ))),
    }
}

/// A back end's answer to one command.
struct Response {
    untagged: Vec<String>,
    /// The tagged line without its tag.
    tagged: String,
}

impl Response {
    fn ok(self, what: &str) -> Result<(), Failure> {
        if self.tagged.starts_with("OK") {
            Ok(())
        } else {
            Err(Failure::unavailable(format!(
                "refused {what}: \"{}\"",
                self.tagged
            )))
        }
    }
}

async fn command(link: &mut Link, line: &str) -> Result<Response, Failure> {
    link.send(format!("{line}\r\n").as_bytes()).await?;
    let tag = line.split(' ').next().unwrap_or_default().to_owned();
    collect(link, &tag).await
}

/// Lines up to the tagged one.
async fn collect(link: &mut Link, tag: &str) -> Result<Response, Failure> {
    let mut untagged = Vec::new();
    loop {
        let line = link.line().await?;
        if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            return Ok(Response {
                untagged,
                tagged: rest.to_owned(),
            });
        }
        if line.starts_with("* BYE") {
            return Err(Failure::unavailable(format!("{}: {line}", link.upstream)));
        }
        untagged.push(line);
    }
}

/// `P3 LOGIN user pass`, each as a quoted string when it can be one, else
/// as a synchronizing literal (RFC 9051 §4.3: wait for "+" before its
/// octets; LITERAL+ may not be offered).
async fn send_login(link: &mut Link, login: &Login) -> Result<(), Failure> {
    let mut line = b"P3 LOGIN".to_vec();
    for arg in [login.user.as_bytes(), login.password.expose().as_bytes()] {
        line.push(b' ');
        if quotable(arg) {
            line.push(b'"');
            for &c in arg {
                if matches!(c, b'"' | b'\\') {
                    line.push(b'\\');
                }
                line.push(c);
            }
            line.push(b'"');
            continue;
        }
        line.extend_from_slice(format!("{{{}}}\r\n", arg.len()).as_bytes());
        link.send(&line).await?;
        let go = link.line().await?;
        if !go.starts_with('+') {
            return Err(Failure::unavailable(format!(
                "{}: refused a literal: \"{go}\"",
                link.upstream
            )));
        }
        line = arg.to_vec();
    }
    line.extend_from_slice(b"\r\n");
    link.send(&line).await
}

/// Printable ASCII fits a quoted string (RFC 9051 §9 QUOTED-CHAR).
fn quotable(s: &[u8]) -> bool {
    s.iter().all(|&c| (0x20..0x7f).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::front::{Front, Machine};
    use postern_types::Protocol;

    fn front(tls: bool) -> Front {
        let mut f = Front::new(Machine::Imap(Pre::new("mx.test".into(), true)), tls);
        let _ = f.take_output();
        f
    }

    use crate::proxy::front::run_for_test as run;

    #[test]
    fn before_tls_no_login_and_logindisabled() {
        let mut f = front(false);
        let (out, e) = run(
            &mut f,
            b"a CAPABILITY\r\nb LOGIN u p\r\nc AUTHENTICATE PLAIN AHUAcA==\r\n",
        );
        assert!(e.is_none());
        assert!(
            out.contains("LOGINDISABLED") && out.contains("STARTTLS"),
            "{out}"
        );
        assert!(!out.contains("AUTH=PLAIN"), "{out}");
        assert!(
            out.contains("b NO [PRIVACYREQUIRED]") && out.contains("c NO [PRIVACYREQUIRED]"),
            "{out}"
        );
    }

    #[test]
    fn starttls_keeps_pipelined_bytes_for_the_driver_to_refuse() {
        let mut f = front(false);
        let (out, e) = run(&mut f, b"a STARTTLS\r\nb LOGIN u p\r\n");
        assert!(matches!(e, Some(Event::StartTls)), "{out}");
        assert_eq!(out, "a OK Begin TLS negotiation now\r\n");
        assert!(f.buffered_input_len() > 0);
    }

    #[test]
    fn login_with_quoted_and_literal_arguments() {
        let mut f = front(true);
        let (out, e) = run(&mut f, b"a LOGIN \"al\\\"ice\" {3}\r\n");
        assert_eq!(out, "+ Ready for literal data\r\n");
        assert!(e.is_none());
        let (_, e) = run(&mut f, b"p w\r\n");
        let Some(Event::Login(l)) = e else {
            panic!("no login")
        };
        assert_eq!(
            (l.user.as_str(), l.password.expose().as_str()),
            ("al\"ice", "p w")
        );
        f.answer(Answer::LoggedIn(vec![
            "* CAPABILITY IMAP4rev2".into(),
            "OK [CAPABILITY IMAP4rev2] hi".into(),
        ]));
        let (out, _) = run(&mut f, b"");
        assert_eq!(
            out,
            "* CAPABILITY IMAP4rev2\r\na OK [CAPABILITY IMAP4rev2] hi\r\n"
        );
        assert!(f.is_relaying());
        let (_, e) = run(&mut f, b"b SELECT INBOX\r\n");
        assert!(matches!(e, Some(Event::Relay(b)) if b == b"b SELECT INBOX\r\n"));
    }

    #[test]
    fn authenticate_plain_with_and_without_initial_response() {
        let mut f = front(true);
        let (_, e) = run(&mut f, b"a AUTHENTICATE PLAIN AHUAcA==\r\n");
        assert!(matches!(e, Some(Event::Login(l)) if l.user == "u"));
        f.answer(Answer::Refused);
        let (out, _) = run(&mut f, b"b AUTHENTICATE PLAIN\r\n");
        assert_eq!(
            out,
            "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n+ \r\n"
        );
        let (_, e) = run(&mut f, b"AHUAcA==\r\n");
        assert!(matches!(e, Some(Event::Login(l)) if l.password.expose() == "p"));
        f.answer(Answer::Unavailable);
        let (out, _) = run(&mut f, b"");
        assert!(out.starts_with("b NO [UNAVAILABLE]"), "{out}");
    }

    #[test]
    fn a_stream_of_literals_is_cut_short() {
        let mut f = front(true);
        let mut input = b"a LOGIN".to_vec();
        for _ in 0..12 {
            input.extend_from_slice(b" {1000+}\r\n");
            input.extend_from_slice(&[b'x'; 1000]);
        }
        let (out, e) = run(&mut f, &input);
        assert!(e.is_none());
        assert!(out.starts_with("* BYE Literal too large"), "{out}");
        assert!(f.is_finished());
    }

    #[test]
    fn the_greeting_carries_the_capabilities() {
        let mut f = Front::new(Machine::Imap(Pre::new("mx.test".into(), true)), false);
        let g = String::from_utf8(f.take_output().unwrap()).unwrap();
        assert!(
            g.starts_with(
                "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ID LOGINDISABLED STARTTLS] mx.test"
            ),
            "{g}"
        );
    }

    #[test]
    fn control_characters_and_bad_tags_are_refused() {
        let mut f = front(true);
        let (out, e) = run(&mut f, b"a LOGIN \"u\0\" p\r\n+x NOOP\r\n");
        assert!(e.is_none());
        assert!(out.contains("a BAD") && out.contains("* BAD"), "{out}");
    }
}
