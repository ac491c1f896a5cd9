//! The server side of a SASL exchange (RFC 4422) for PLAIN, LOGIN and
//! EXTERNAL, shared by SMTP, IMAP and POP3. Pure: it says what to ask next
//! or which credentials to check; the session checks them with the
//! authentication service. SMTP's core hands over decoded messages; IMAP's
//! and POP3's hand over the base64 text (the `_encoded` entry points).

use postern_auth::sasl::{decode, plain_decoded, SaslError};
use postern_types::Secret;

/// A mechanism we offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    External,
}

impl Mechanism {
    /// The mechanism a client named (the cores upper-case the name), if
    /// it is one we offer.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Self::Plain),
            "LOGIN" => Some(Self::Login),
            "EXTERNAL" => Some(Self::External),
            _ => None,
        }
    }
}

/// What the session does next.
#[derive(Debug)]
pub enum Step {
    /// Send this challenge (raw bytes; the core base64-encodes them) and
    /// wait for the client's answer.
    Challenge(&'static [u8]),
    /// Check a user name and password.
    Password {
        user: String,
        password: Secret<String>,
    },
    /// Check the TLS client certificate; `authzid` may only repeat the
    /// identity it proves (empty: none asked for).
    External { authzid: String },
    /// The client's message is malformed; the exchange is over.
    Malformed(SaslError),
    /// PLAIN asked to act as someone else (an authzid other than the
    /// authcid): refused like a wrong password, without checking it.
    Refused,
}

/// The LOGIN mechanism's challenges (draft-murchison-sasl-login §2).
const LOGIN_USERNAME: &[u8] = b"Username:";
const LOGIN_PASSWORD: &[u8] = b"Password:";

/// Where a multi-step exchange stands.
#[derive(Debug, Default)]
pub struct Exchange {
    waiting: Option<Waiting>,
}

#[derive(Debug)]
enum Waiting {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    External,
}

impl Exchange {
    /// Starts `mechanism`, with the client's initial response if it sent
    /// one (RFC 4954 §4; `Some(empty)` for `=`).
    pub fn start(&mut self, mechanism: Mechanism, initial: Option<Vec<u8>>) -> Step {
        self.waiting = None;
        match (mechanism, initial) {
            (Mechanism::Plain, Some(message)) => plain(message),
            // RFC 4422 §5: without an initial response the server sends an
            // empty challenge and the client answers with the message.
            (Mechanism::Plain, None) => self.ask(Waiting::Plain, b""),
            (Mechanism::Login, Some(user)) => self.login_user(user),
            (Mechanism::Login, None) => self.ask(Waiting::LoginUser, LOGIN_USERNAME),
            (Mechanism::External, Some(authzid)) => external(authzid),
            (Mechanism::External, None) => self.ask(Waiting::External, b""),
        }
    }

    /// [`Exchange::start`] with the initial response still in base64 (`=`
    /// for an empty one, RFC 4959 §3).
    pub fn start_encoded(&mut self, mechanism: Mechanism, initial: Option<&str>) -> Step {
        match initial.map(decode) {
            None => self.start(mechanism, None),
            Some(Ok(message)) => self.start(mechanism, Some(message)),
            Some(Err(e)) => {
                self.waiting = None;
                Step::Malformed(e)
            }
        }
    }

    /// [`Exchange::respond`] with the answer still in base64; `*` cancels
    /// (RFC 9051 §6.2.2, RFC 5034 §4).
    pub fn respond_encoded(&mut self, message: &str) -> Step {
        match decode(message) {
            Ok(message) => self.respond(message),
            Err(e) => {
                self.waiting = None;
                Step::Malformed(e)
            }
        }
    }

    /// Whether a challenge was sent and its answer is awaited.
    pub fn in_progress(&self) -> bool {
        self.waiting.is_some()
    }

    /// The client's answer to our last challenge.
    pub fn respond(&mut self, message: Vec<u8>) -> Step {
        match self.waiting.take() {
            Some(Waiting::Plain) => plain(message),
            Some(Waiting::LoginUser) => self.login_user(message),
            Some(Waiting::LoginPassword { user }) => match String::from_utf8(message) {
                Ok(password) => Step::Password {
                    user,
                    password: Secret::new(password),
                },
                Err(_) => Step::Malformed(SaslError::Utf8),
            },
            Some(Waiting::External) => external(message),
            // The core only hands out answers to challenges we sent.
            None => Step::Malformed(SaslError::Cancelled),
        }
    }

    fn ask(&mut self, next: Waiting, challenge: &'static [u8]) -> Step {
        self.waiting = Some(next);
        Step::Challenge(challenge)
    }

    fn login_user(&mut self, user: Vec<u8>) -> Step {
        match String::from_utf8(user) {
            Ok(user) => self.ask(Waiting::LoginPassword { user }, LOGIN_PASSWORD),
            Err(_) => Step::Malformed(SaslError::Utf8),
        }
    }
}

/// PLAIN (RFC 4616): we act only as the authenticated identity itself.
fn plain(message: Vec<u8>) -> Step {
    match plain_decoded(message) {
        Ok(p) if p.authzid.is_empty() || p.authzid.eq_ignore_ascii_case(&p.authcid) => {
            Step::Password {
                user: p.authcid,
                password: p.password,
            }
        }
        Ok(_) => Step::Refused,
        Err(e) => Step::Malformed(e),
    }
}

fn external(authzid: Vec<u8>) -> Step {
    match String::from_utf8(authzid) {
        Ok(authzid) => Step::External { authzid },
        Err(_) => Step::Malformed(SaslError::Utf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(step: Step) -> (String, String) {
        match step {
            Step::Password { user, password } => (user, password.into_exposed()),
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let mut x = Exchange::default();
        let (u, p) = password(x.start(Mechanism::Plain, Some(b"\0al\0pw".to_vec())));
        assert_eq!((u.as_str(), p.as_str()), ("al", "pw"));
        assert!(matches!(
            x.start(Mechanism::Plain, None),
            Step::Challenge(b"")
        ));
        let (u, _) = password(x.respond(b"al\0al\0pw".to_vec()));
        assert_eq!(u, "al");
    }

    #[test]
    fn plain_for_someone_else_is_refused() {
        let mut x = Exchange::default();
        assert!(matches!(
            x.start(Mechanism::Plain, Some(b"boss\0al\0pw".to_vec())),
            Step::Refused
        ));
    }

    #[test]
    fn login_asks_for_the_user_then_the_password() {
        let mut x = Exchange::default();
        assert!(matches!(
            x.start(Mechanism::Login, None),
            Step::Challenge(LOGIN_USERNAME)
        ));
        assert!(matches!(
            x.respond(b"al".to_vec()),
            Step::Challenge(LOGIN_PASSWORD)
        ));
        assert_eq!(
            password(x.respond(b"pw".to_vec())),
            ("al".into(), "pw".into())
        );
        // Over: a further answer is not taken as anything.
        assert!(matches!(x.respond(b"x".to_vec()), Step::Malformed(_)));
    }

    #[test]
    fn malformed_messages_end_the_exchange() {
        let mut x = Exchange::default();
        assert!(matches!(
            x.start(Mechanism::Plain, Some(b"no nuls".to_vec())),
            Step::Malformed(SaslError::MalformedPlain)
        ));
        assert!(matches!(
            x.start(Mechanism::Login, Some(vec![0xff])),
            Step::Malformed(SaslError::Utf8)
        ));
    }

    #[test]
    fn base64_entry_points() {
        let mut x = Exchange::default();
        // "\0al\0pw"
        let (u, p) = password(x.start_encoded(Mechanism::Plain, Some("AGFsAHB3")));
        assert_eq!((u.as_str(), p.as_str()), ("al", "pw"));
        assert!(matches!(
            x.start_encoded(Mechanism::Plain, Some("not base64!")),
            Step::Malformed(SaslError::Base64)
        ));
        assert!(matches!(
            x.start_encoded(Mechanism::Login, None),
            Step::Challenge(LOGIN_USERNAME)
        ));
        assert!(x.in_progress());
        assert!(matches!(
            x.respond_encoded("*"),
            Step::Malformed(SaslError::Cancelled)
        ));
        assert!(!x.in_progress());
        match x.start_encoded(Mechanism::External, Some("=")) {
            Step::External { authzid } => assert!(authzid.is_empty()),
            other => panic!("{other:?}"),
        }
        assert_eq!(Mechanism::named("LOGIN"), Some(Mechanism::Login));
        assert_eq!(Mechanism::named("CRAM-MD5"), None);
    }

    #[test]
    fn external_carries_the_authzid() {
        let mut x = Exchange::default();
        assert!(matches!(
            x.start(Mechanism::External, None),
            Step::Challenge(b"")
        ));
        match x.respond(Vec::new()) {
            Step::External { authzid } => assert!(authzid.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
