//! POP3 in front of a back end (RFC 1939, CAPA from RFC 2449, STLS from
//! RFC 2595, AUTH from RFC 5034): the AUTHORIZATION state is answered
//! here, USER/PASS and AUTH PLAIN only inside TLS, then the back end is
//! logged in with the same credentials.

use std::net::SocketAddr;

use postern_config::proxy::Upstream;
use postern_types::Secret;

use super::front::{self, Answer, Event, FrontError, Login, Step};
use super::upstream::{Failure, Link};
use super::Shared;

/// Bad commands before the connection is closed.
const MAX_ERRORS: u32 = 10;

/// The pre-login machine.
#[derive(Debug, Clone)]
pub struct Pre {
    hostname: String,
    starttls: bool,
    /// The name given with USER.
    user: Option<String>,
    /// AUTH PLAIN waits for the client's response to "+ ".
    sasl: bool,
    errors: u32,
}

impl Pre {
    pub fn new(hostname: String, starttls: bool) -> Self {
        Self {
            hostname,
            starttls,
            user: None,
            sasl: false,
            errors: 0,
        }
    }

    pub fn fresh(&self) -> Self {
        Self::new(self.hostname.clone(), false)
    }

    pub fn greeting(&self, out: &mut Vec<u8>, _tls: bool) {
        out.extend_from_slice(format!("+OK {} POP3 proxy ready\r\n", self.hostname).as_bytes());
    }

    pub fn step(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>, tls: bool) -> Step {
        let line = match front::take_line(input) {
            Err(front::TooLong) => {
                out.extend_from_slice(b"-ERR Line too long\r\n");
                return Step::Error(FrontError("line too long"));
            }
            Ok(None) => return Step::NeedMore,
            Ok(Some(line)) => line,
        };
        let Some(text) = front::line_text(&line) else {
            return self.err(out, "Invalid characters in command");
        };
        if std::mem::take(&mut self.sasl) {
            return match text {
                // RFC 5034 §4: "*" cancels the exchange.
                "*" => self.err(out, "AUTH cancelled"),
                b64 => self.plain(b64, out),
            };
        }
        let (verb, rest) = front::verb(text);
        match verb.as_str() {
            "CAPA" => {
                out.extend_from_slice(self.capabilities(tls).as_bytes());
                Step::Again
            }
            "QUIT" => {
                out.extend_from_slice(b"+OK Bye\r\n");
                Step::Finish
            }
            "STLS" if tls || !self.starttls => self.err(out, "TLS is already active"),
            "STLS" => {
                out.extend_from_slice(b"+OK Begin TLS negotiation\r\n");
                Step::Event(Event::StartTls)
            }
            // RFC 2595 §4: no USER/PASS/AUTH before TLS.
            "USER" | "PASS" | "AUTH" if !tls => {
                self.err(out, "Use STLS first: no credentials before TLS")
            }
            "USER" if !rest.is_empty() => {
                self.user = Some(rest.to_owned());
                out.extend_from_slice(b"+OK\r\n");
                Step::Again
            }
            "PASS" => match self.user.take() {
                Some(user) if !rest.is_empty() => Step::Event(Event::Login(Login {
                    authzid: String::new(),
                    user,
                    password: Secret::new(rest.to_owned()),
                    helo: None,
                })),
                _ => self.err(out, "USER first, then PASS"),
            },
            "AUTH" => self.auth(rest, out),
            _ => self.err(out, "Log in first"),
        }
    }

    fn capabilities(&self, tls: bool) -> String {
        let mut caps = String::from("+OK Capability list follows\r\n");
        if tls {
            caps.push_str("USER\r\nSASL PLAIN\r\n");
        } else if self.starttls {
            caps.push_str("STLS\r\n");
        }
        caps.push_str("RESP-CODES\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION Postern\r\n.\r\n");
        caps
    }

    fn auth(&mut self, rest: &str, out: &mut Vec<u8>) -> Step {
        let (mech, ir) = front::verb(rest);
        if mech != "PLAIN" {
            return self.err(out, "Only AUTH PLAIN is offered");
        }
        if ir.is_empty() {
            out.extend_from_slice(b"+ \r\n");
            self.sasl = true;
            return Step::Again;
        }
        self.plain(ir, out)
    }

    fn plain(&mut self, b64: &str, out: &mut Vec<u8>) -> Step {
        let Some((authzid, user, password)) = front::sasl_plain(b64) else {
            return self.err(out, "Invalid SASL PLAIN message");
        };
        Step::Event(Event::Login(Login {
            authzid,
            user,
            password,
            helo: None,
        }))
    }

    fn err(&mut self, out: &mut Vec<u8>, text: &str) -> Step {
        out.extend_from_slice(format!("-ERR {text}\r\n").as_bytes());
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            return Step::Error(FrontError("too many invalid commands"));
        }
        Step::Again
    }

    /// The answer to the pending login; true when the connection ends.
    pub fn answer(&mut self, answer: Answer, out: &mut Vec<u8>) -> bool {
        let text = match answer {
            Answer::LoggedIn(lines) => lines.join("\r\n"),
            // RFC 3206 §4: AUTH, the credentials; SYS/TEMP, try later.
            Answer::Refused => "-ERR [AUTH] Authentication failed".to_owned(),
            Answer::Unavailable => {
                "-ERR [SYS/TEMP] The mail server is unavailable; try again later".to_owned()
            }
        };
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
        false
    }
}

/// Logs in at the back end: greeting, STLS if configured, then USER and
/// PASS (AUTH PLAIN when the client named an authorization identity or
/// the values are not plain text).
pub async fn login_upstream(
    shared: &Shared,
    to: &Upstream,
    peer: SocketAddr,
    login: &Login,
) -> Result<(Link, Vec<String>), Failure> {
    let mut link = shared.connect(to, peer).await?;
    expect_ok(&mut link, "greeting").await?;
    if shared.connector.starttls() {
        link.send(b"STLS\r\n").await?;
        expect_ok(&mut link, "STLS").await?;
        link = shared.connector.start_tls(link).await?;
    }
    // USER and PASS carry their values as text to the line's end: a name
    // or password holding CR or LF (possible through AUTH PLAIN's base64)
    // would add commands of the client's choosing. Those, and an
    // authorization identity, go as AUTH PLAIN (RFC 5034), in base64.
    let text_safe = |s: &str| !s.chars().any(char::is_control);
    let user_pass =
        login.authzid.is_empty() && text_safe(&login.user) && text_safe(login.password.expose());
    let last = if user_pass {
        link.send(format!("USER {}\r\n", login.user).as_bytes())
            .await?;
        let user = link.line().await?;
        if !user.starts_with("+OK") {
            return Err(Failure::Refused(user));
        }
        link.send(format!("PASS {}\r\n", login.password.expose()).as_bytes())
            .await?;
        link.line().await?
    } else {
        let plain = format!(
            "{}\0{}\0{}",
            login.authzid,
            login.user,
            login.password.expose()
        );
        let b64 = postern_auth::sasl::encode(plain.as_bytes());
        link.send(format!("AUTH PLAIN {b64}\r\n").as_bytes())
            .await?;
        link.line().await?
    };
    if last.starts_with("+OK") {
        Ok((link, vec![last]))
    } else if last.contains("[SYS/TEMP]") {
        Err(Failure::unavailable(format!("{to}: {last}")))
    } else {
        Err(Failure::Refused(last))
    }
}

async fn expect_ok(link: &mut Link, what: &str) -> Result<(), Failure> {
    let line = link.line().await?;
    if line.starts_with("+OK") {
        Ok(())
    } else {
        Err(Failure::unavailable(format!(
            "{}: {what}: \"{line}\"",
            link.upstream
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::front::{Front, Machine};

    use crate::proxy::front::run_for_test as run;

    #[test]
    fn credentials_only_inside_tls() {
        let mut f = Front::new(Machine::Pop3(Pre::new("h".into(), true)), false);
        let (out, e) = run(
            &mut f,
            b"CAPA\r\nUSER a\r\nPASS b\r\nAUTH PLAIN AGEAYg==\r\n",
        );
        assert!(e.is_none());
        assert!(out.contains("STLS\r\n") && !out.contains("SASL"), "{out}");
        assert_eq!(out.matches("-ERR Use STLS first").count(), 3, "{out}");
        let (out, e) = run(&mut f, b"STLS\r\n");
        assert!(matches!(e, Some(Event::StartTls)));
        assert!(out.ends_with("+OK Begin TLS negotiation\r\n"));
    }

    #[test]
    fn user_pass_and_auth_plain_inside_tls() {
        let mut f = Front::new(Machine::Pop3(Pre::new("h".into(), false)), true);
        let (_, e) = run(&mut f, b"USER alice@example.com\r\nPASS pass word\r\n");
        let Some(Event::Login(l)) = e else {
            panic!("no login")
        };
        assert_eq!(
            (l.user.as_str(), l.password.expose().as_str()),
            ("alice@example.com", "pass word")
        );
        f.answer(Answer::Refused);
        let (out, _) = run(&mut f, b"AUTH PLAIN\r\n");
        assert_eq!(out, "-ERR [AUTH] Authentication failed\r\n+ \r\n");
        let (_, e) = run(&mut f, b"AGEAYg==\r\n");
        assert!(matches!(e, Some(Event::Login(l)) if l.user == "a"));
    }
}
