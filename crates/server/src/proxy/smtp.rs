//! SMTP in front of a back end. Submission (RFC 6409): EHLO, STARTTLS
//! (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954) are answered here, AUTH
//! only inside TLS, then the back end is logged in with the same
//! credentials. MX (RFC 5321): no login; once TLS is up (or on a plain MX
//! listener) the client's EHLO goes to the back end and everything after
//! it is relayed.

use std::net::SocketAddr;

use postern_config::proxy::{ClientAddress, Upstream};
use postern_types::Secret;

use super::front::{self, Answer, Event, FrontError, Login, Step};
use super::upstream::{Failure, Link};
use super::Shared;

/// Bad commands before the connection is closed.
const MAX_ERRORS: u32 = 10;

/// What the EHLO reply offers besides Postern's own extensions: learned
/// from the back end (SIZE's limit, SMTPUTF8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advert {
    pub size: Option<u64>,
    pub smtputf8: bool,
}

impl Advert {
    /// From a back end's EHLO reply lines.
    pub fn from_ehlo(lines: &[String]) -> Self {
        let mut a = Self::default();
        for l in lines.iter().skip(1) {
            let ext = l.get(4..).unwrap_or_default().to_ascii_uppercase();
            if ext == "SMTPUTF8" {
                a.smtputf8 = true;
            }
            if let Some(n) = ext.strip_prefix("SIZE ") {
                a.size = n.trim().parse().ok();
            }
        }
        a
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sasl {
    None,
    Plain,
    LoginUser,
    LoginPass(String),
}

/// The pre-login machine.
#[derive(Debug, Clone)]
pub struct Pre {
    hostname: String,
    /// An MX listener: no AUTH, relay after EHLO.
    mx: bool,
    starttls: bool,
    /// A plain MX listener (`tls = "none"`): relay without TLS.
    plain_relay: bool,
    advert: Advert,
    helo: Option<String>,
    sasl: Sasl,
    errors: u32,
}

impl Pre {
    pub fn new(
        hostname: String,
        mx: bool,
        starttls: bool,
        plain_relay: bool,
        advert: Advert,
    ) -> Self {
        Self {
            hostname,
            mx,
            starttls,
            plain_relay,
            advert,
            helo: None,
            sasl: Sasl::None,
            errors: 0,
        }
    }

    /// After STARTTLS: the client must say EHLO again (RFC 3207 §4.2).
    pub fn fresh(&self) -> Self {
        let mut m = self.clone();
        (m.starttls, m.plain_relay, m.helo, m.sasl, m.errors) = (false, false, None, Sasl::None, 0);
        m
    }

    pub fn greeting(&self, out: &mut Vec<u8>, _tls: bool) {
        out.extend_from_slice(format!("220 {} ESMTP Postern\r\n", self.hostname).as_bytes());
    }

    pub fn step(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>, tls: bool) -> Step {
        let line = match front::take_line(input) {
            Err(front::TooLong) => {
                out.extend_from_slice(b"500 5.5.6 Line too long\r\n");
                return Step::Error(FrontError("line too long"));
            }
            Ok(None) => return Step::NeedMore,
            Ok(Some(line)) => line,
        };
        let Some(text) = front::line_text(&line) else {
            return self.reply(out, "500 5.5.2 Invalid characters in command");
        };
        match std::mem::replace(&mut self.sasl, Sasl::None) {
            Sasl::None => self.command(text, out, tls),
            // RFC 4954 §4: "*" cancels the exchange with 501.
            _ if text == "*" => self.reply(out, "501 5.7.0 Authentication cancelled"),
            Sasl::Plain => self.plain(text, out),
            Sasl::LoginUser => match decode_text(text) {
                Some(user) => {
                    self.sasl = Sasl::LoginPass(user);
                    out.extend_from_slice(b"334 UGFzc3dvcmQ6\r\n");
                    Step::Again
                }
                None => self.reply(out, "501 5.5.2 Invalid base64"),
            },
            Sasl::LoginPass(user) => match decode_text(text) {
                Some(password) => self.login(String::new(), user, Secret::new(password)),
                None => self.reply(out, "501 5.5.2 Invalid base64"),
            },
        }
    }

    fn command(&mut self, text: &str, out: &mut Vec<u8>, tls: bool) -> Step {
        let (verb, rest) = front::verb(text);
        let relay_now = self.mx && (tls || self.plain_relay);
        match verb.as_str() {
            "EHLO" | "HELO" if rest.is_empty() => self.reply(out, "501 5.5.4 Give your host name"),
            "EHLO" | "HELO" if relay_now => {
                let mut line = text.as_bytes().to_vec();
                line.extend_from_slice(b"\r\n");
                Step::Event(Event::Begin(line))
            }
            "EHLO" => {
                self.helo = Some(rest.to_owned());
                let ehlo = self.ehlo(tls);
                out.extend_from_slice(ehlo.as_bytes());
                Step::Again
            }
            "HELO" => {
                self.helo = Some(rest.to_owned());
                let line = format!("250 {}", self.hostname);
                self.ok(out, &line)
            }
            "STARTTLS" if tls || !self.starttls => {
                self.reply(out, "502 5.5.1 STARTTLS not available")
            }
            "STARTTLS" => {
                out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                Step::Event(Event::StartTls)
            }
            "AUTH" if self.mx => self.reply(out, "502 5.5.1 No AUTH on this port"),
            // RFC 3207 §4: 530 until STARTTLS (as the served submission port).
            "AUTH" if !tls => self.reply(out, "530 5.7.0 Must issue a STARTTLS command first"),
            "AUTH" if self.helo.is_none() => self.reply(out, "503 5.5.1 EHLO first"),
            "AUTH" => self.auth(rest, out),
            "NOOP" | "RSET" => self.ok(out, "250 2.0.0 OK"),
            "QUIT" => {
                out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                Step::Finish
            }
            "MAIL" | "RCPT" | "DATA" | "BDAT" if self.mx => {
                self.reply(out, "530 5.7.0 Must issue a STARTTLS command first")
            }
            "MAIL" | "RCPT" | "DATA" | "BDAT" => {
                self.reply(out, "530 5.7.0 Authentication required")
            }
            _ => self.reply(out, "502 5.5.1 Command not available before login"),
        }
    }

    /// Postern's own EHLO reply: what the relay passes through unchanged,
    /// STARTTLS before TLS, AUTH only inside it (RFC 4954 §4 forbids
    /// PLAIN and LOGIN over an unprotected channel here).
    fn ehlo(&self, tls: bool) -> String {
        let mut ext = vec!["PIPELINING".to_owned(), "8BITMIME".to_owned()];
        ext.push(match self.advert.size {
            Some(n) => format!("SIZE {n}"),
            None => "SIZE".to_owned(),
        });
        if self.advert.smtputf8 {
            ext.push("SMTPUTF8".to_owned());
        }
        if !tls && self.starttls {
            ext.push("STARTTLS".to_owned());
        }
        if tls && !self.mx {
            ext.push("AUTH PLAIN LOGIN".to_owned());
        }
        let mut reply = format!("250-{}\r\n", self.hostname);
        for (i, e) in ext.iter().enumerate() {
            let sep = if i + 1 == ext.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{e}\r\n"));
        }
        reply
    }

    fn auth(&mut self, rest: &str, out: &mut Vec<u8>) -> Step {
        let (mech, ir) = front::verb(rest);
        match (mech.as_str(), ir) {
            ("PLAIN", "") => {
                self.sasl = Sasl::Plain;
                out.extend_from_slice(b"334 \r\n");
                Step::Again
            }
            ("PLAIN", ir) => self.plain(ir, out),
            ("LOGIN", "") => {
                self.sasl = Sasl::LoginUser;
                out.extend_from_slice(b"334 VXNlcm5hbWU6\r\n");
                Step::Again
            }
            ("LOGIN", ir) => match decode_text(ir) {
                Some(user) => {
                    self.sasl = Sasl::LoginPass(user);
                    out.extend_from_slice(b"334 UGFzc3dvcmQ6\r\n");
                    Step::Again
                }
                None => self.reply(out, "501 5.5.2 Invalid base64"),
            },
            _ => self.reply(out, "504 5.5.4 Only AUTH PLAIN and LOGIN are offered"),
        }
    }

    fn plain(&mut self, b64: &str, out: &mut Vec<u8>) -> Step {
        match front::sasl_plain(b64) {
            Some((authzid, user, password)) => self.login(authzid, user, password),
            None => self.reply(out, "501 5.5.2 Invalid SASL PLAIN message"),
        }
    }

    fn login(&mut self, authzid: String, user: String, password: Secret<String>) -> Step {
        Step::Event(Event::Login(Login {
            authzid,
            user,
            password,
            helo: self.helo.clone(),
        }))
    }

    fn ok(&mut self, out: &mut Vec<u8>, line: &str) -> Step {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        Step::Again
    }

    /// An error reply; too many of them close the connection.
    fn reply(&mut self, out: &mut Vec<u8>, line: &str) -> Step {
        self.ok(out, line);
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            out.extend_from_slice(b"421 4.7.0 Too many errors\r\n");
            return Step::Error(FrontError("too many invalid commands"));
        }
        Step::Again
    }

    /// The answer to the pending login (or MX start); true when the
    /// connection ends.
    pub fn answer(&mut self, answer: Answer, out: &mut Vec<u8>) -> bool {
        let (text, end) = match answer {
            Answer::LoggedIn(lines) => (lines.join("\r\n"), false),
            Answer::Refused => (
                "535 5.7.8 Authentication credentials invalid".to_owned(),
                false,
            ),
            Answer::Unavailable if self.mx => (
                format!(
                    "421 4.3.0 {} Service not available; try again later",
                    self.hostname
                ),
                true,
            ),
            // RFC 4954 §6: 454, temporary authentication failure.
            Answer::Unavailable => (
                "454 4.7.0 Temporary authentication failure; try again later".to_owned(),
                false,
            ),
        };
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
        end
    }
}

fn decode_text(b64: &str) -> Option<String> {
    let bytes = postern_auth::sasl::decode(b64).ok()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

/// A reply: its code and its lines (RFC 5321 §4.2.1).
async fn reply(link: &mut Link) -> Result<(u16, Vec<String>), Failure> {
    let mut lines = Vec::new();
    loop {
        let line = link.line().await?;
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(Failure::unavailable(format!(
                "{}: not an SMTP reply: \"{line}\"",
                link.upstream
            )));
        };
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok((code, lines));
        }
    }
}

/// Sends a command and wants a reply of class `want` (2 or 3).
async fn command(link: &mut Link, line: &str, want: u16) -> Result<Vec<String>, Failure> {
    link.send(format!("{line}\r\n").as_bytes()).await?;
    let (code, lines) = reply(link).await?;
    if code / 100 != want {
        let verb = line.split(' ').next().unwrap_or_default();
        return Err(Failure::unavailable(format!(
            "{}: {verb}: \"{}\"",
            link.upstream,
            lines.join(" / ")
        )));
    }
    Ok(lines)
}

/// Connects, reads the greeting, says EHLO, does STARTTLS and XCLIENT as
/// configured. Returns the last EHLO reply's lines.
async fn open(
    shared: &Shared,
    to: &Upstream,
    peer: SocketAddr,
    helo: Option<&str>,
) -> Result<(Link, Vec<String>), Failure> {
    let mut link = shared.connect(to, peer).await?;
    let (code, greeting) = reply(&mut link).await?;
    if code != 220 {
        return Err(Failure::unavailable(format!(
            "{to}: greeting \"{}\"",
            greeting.join(" / ")
        )));
    }
    let ehlo = format!("EHLO {}", shared.hostname);
    let mut caps = command(&mut link, &ehlo, 2).await?;
    if shared.connector.starttls() {
        command(&mut link, "STARTTLS", 2).await?;
        link = shared.connector.start_tls(link).await?;
        caps = command(&mut link, &ehlo, 2).await?;
    }
    if shared.proxy.client_address == ClientAddress::Xclient {
        if !has_ext(&caps, "XCLIENT") {
            return Err(Failure::unavailable(format!(
                "{to}: offers no XCLIENT to this host (Postfix: add this host to smtpd_authorized_xclient_hosts)"
            )));
        }
        // Postfix's XCLIENT answers with a new greeting (220), and the
        // session starts over with EHLO.
        command(&mut link, &xclient(peer, helo), 2).await?;
        caps = command(&mut link, &ehlo, 2).await?;
    }
    if to == &shared.proxy.upstream {
        shared.learn(Advert::from_ehlo(&caps));
    }
    Ok((link, caps))
}

/// `XCLIENT ADDR=... NAME=[UNAVAILABLE] HELO=...` (Postfix XCLIENT_README):
/// values in xtext (RFC 3461 §4), IPv6 addresses with an `IPV6:` prefix.
/// The name is not looked up here: the back end can do that itself.
fn xclient(peer: SocketAddr, helo: Option<&str>) -> String {
    let ip = peer.ip().to_canonical();
    let addr = match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPV6:{v6}"),
    };
    let mut cmd = format!(
        "XCLIENT ADDR={addr} PORT={} NAME=[UNAVAILABLE]",
        peer.port()
    );
    if let Some(h) = helo {
        cmd.push_str(&format!(" HELO={}", xtext(h)));
    }
    cmd
}

fn xtext(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'!'..=b'~' if b != b'+' && b != b'=' => (b as char).to_string(),
            _ => format!("+{b:02X}"),
        })
        .collect()
}

fn has_ext(caps: &[String], ext: &str) -> bool {
    caps.iter().skip(1).any(|l| {
        let e = l.get(4..).unwrap_or_default();
        e.split(' ')
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(ext))
    })
}

/// Submission: opens the back end and authenticates with AUTH PLAIN.
pub async fn login_upstream(
    shared: &Shared,
    to: &Upstream,
    peer: SocketAddr,
    login: &Login,
) -> Result<(Link, Vec<String>), Failure> {
    let (mut link, caps) = open(shared, to, peer, login.helo.as_deref()).await?;
    if !caps.iter().any(|l| {
        l.to_ascii_uppercase().contains("AUTH") && l.to_ascii_uppercase().contains("PLAIN")
    }) {
        return Err(Failure::unavailable(format!(
            "{to}: offers no AUTH PLAIN after EHLO; enable it on the back end"
        )));
    }
    let plain = format!(
        "{}\0{}\0{}",
        login.authzid,
        login.user,
        login.password.expose()
    );
    let b64 = postern_auth::sasl::encode(plain.as_bytes());
    link.send(format!("AUTH PLAIN {b64}\r\n").as_bytes())
        .await?;
    let (code, lines) = reply(&mut link).await?;
    match code {
        235 => Ok((link, lines)),
        500..=599 => Err(Failure::Refused(lines.join(" / "))),
        _ => Err(Failure::unavailable(format!(
            "{to}: AUTH: \"{}\"",
            lines.join(" / ")
        ))),
    }
}

/// MX: opens the back end, passes the client's EHLO and returns the
/// reply without STARTTLS (TLS is this side's job; a client must not try
/// it again through the relay).
pub async fn begin_upstream(
    shared: &Shared,
    to: &Upstream,
    peer: SocketAddr,
    client_ehlo: &[u8],
) -> Result<(Link, Vec<String>), Failure> {
    let text = String::from_utf8_lossy(client_ehlo);
    let helo = text.trim_end().split_once(' ').map(|(_, h)| h.to_owned());
    let (mut link, _) = open(shared, to, peer, helo.as_deref()).await?;
    link.send(client_ehlo).await?;
    let (_, lines) = reply(&mut link).await?;
    Ok((link, without_starttls(lines)))
}

/// Removes the STARTTLS line of an EHLO reply and mends the continuation
/// marks (RFC 5321 §4.2.1: `-` on every line but the last).
fn without_starttls(lines: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = lines
        .into_iter()
        .filter(|l| {
            !l.get(4..)
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("STARTTLS")
        })
        .collect();
    let n = kept.len();
    for (i, l) in kept.iter_mut().enumerate() {
        if l.len() >= 4 {
            l.replace_range(3..4, if i + 1 == n { " " } else { "-" });
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::front::{Front, Machine};
    use postern_types::Protocol;

    use crate::proxy::front::run_for_test as run;

    fn submission(tls: bool) -> Front {
        let mut f = Front::new(
            Machine::Smtp(Pre::new("h".into(), false, true, false, Advert::default())),
            tls,
        );
        let _ = f.take_output();
        f
    }

    #[test]
    fn submission_ehlo_offers_auth_only_inside_tls() {
        let mut f = submission(false);
        let (out, _) = run(
            &mut f,
            b"EHLO c\r\nAUTH PLAIN AGEAYg==\r\nMAIL FROM:<a@b>\r\n",
        );
        assert!(
            out.contains("250-STARTTLS") || out.contains("250 STARTTLS"),
            "{out}"
        );
        assert!(!out.contains("AUTH PLAIN"), "{out}");
        assert!(out.matches("530 5.7.0").count() == 2, "{out}");
        let mut f = submission(true);
        let (out, _) = run(&mut f, b"EHLO c\r\n");
        assert!(
            out.ends_with("250 AUTH PLAIN LOGIN\r\n") && !out.contains("STARTTLS"),
            "{out}"
        );
        let (out, e) = run(&mut f, b"AUTH LOGIN\r\nYQ==\r\nYg==\r\n");
        assert_eq!(out, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n");
        let Some(Event::Login(l)) = e else {
            panic!("no login")
        };
        assert_eq!(
            (
                l.user.as_str(),
                l.password.expose().as_str(),
                l.helo.as_deref()
            ),
            ("a", "b", Some("c"))
        );
    }

    #[test]
    fn mx_relays_from_the_ehlo_inside_tls() {
        let mut f = Front::new(
            Machine::Smtp(Pre::new("h".into(), true, true, false, Advert::default())),
            false,
        );
        let (out, e) = run(&mut f, b"EHLO c\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\n");
        assert!(
            out.contains("STARTTLS") && out.contains("530 5.7.0"),
            "{out}"
        );
        assert!(matches!(e, Some(Event::StartTls)));
        let mut f = f.start_tls(Default::default()).unwrap();
        let (_, e) = run(&mut f, b"EHLO c\r\n");
        assert!(matches!(e, Some(Event::Begin(l)) if l == b"EHLO c\r\n"));
    }

    #[test]
    fn a_plain_mx_listener_relays_at_once_and_a_submission_one_never() {
        let plain_mx = Pre::new("h".into(), true, false, true, Advert::default());
        let mut f = Front::new(Machine::Smtp(plain_mx), false);
        let (_, e) = run(&mut f, b"HELO c\r\n");
        assert!(matches!(e, Some(Event::Begin(l)) if l == b"HELO c\r\n"));
        let mut f = submission(false);
        let (out, e) = run(&mut f, b"EHLO c\r\nSTARTTLS\r\n");
        assert!(matches!(e, Some(Event::StartTls)), "{out}");
        let mut f = f.start_tls(Default::default()).unwrap();
        let (out, e) = run(&mut f, b"EHLO c\r\nSTARTTLS\r\n");
        assert!(
            e.is_none() && out.contains("AUTH PLAIN") && out.contains("502 5.5.1"),
            "{out}"
        );
    }

    #[test]
    fn starttls_is_taken_out_of_a_relayed_ehlo_reply() {
        let lines = vec![
            "250-mx".to_owned(),
            "250-PIPELINING".to_owned(),
            "250 STARTTLS".to_owned(),
        ];
        assert_eq!(without_starttls(lines), vec!["250-mx", "250 PIPELINING"]);
    }

    #[test]
    fn xclient_encodes_its_values() {
        let c = xclient("[2001:db8::1]:25".parse().unwrap(), Some("a+b=c"));
        assert_eq!(
            c,
            "XCLIENT ADDR=IPV6:2001:db8::1 PORT=25 NAME=[UNAVAILABLE] HELO=a+2Bb+3Dc"
        );
        assert!(
            xclient("192.0.2.1:25".parse().unwrap(), None).starts_with("XCLIENT ADDR=192.0.2.1 ")
        );
    }

    #[test]
    fn advert_learns_size_and_smtputf8() {
        let a = Advert::from_ehlo(&[
            "250-mx".into(),
            "250-SIZE 1000".into(),
            "250 SMTPUTF8".into(),
        ]);
        assert_eq!(
            a,
            Advert {
                size: Some(1000),
                smtputf8: true
            }
        );
    }
}
