//! POP3 sessions (RFC 1939): login through the authentication service, then
//! a locked snapshot of INBOX; deletions happen only in the UPDATE state
//! after QUIT, so a dropped connection deletes nothing.

use std::net::SocketAddr;

use postern_pop3_proto::{Event, Options, Server};
use postern_store::Account;
use postern_types::{Secret, TlsInfo};

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::mail::{Mail, MaildropLock};
use crate::session::maildrop::{top, Maildrop};
use crate::session::sasl::{Exchange, Mechanism, Step};

/// Creates POP3 sessions.
#[derive(Debug, Clone)]
pub struct Pop3Factory {
    hostname: String,
    mail: Mail,
}

impl Pop3Factory {
    pub fn new(hostname: String, mail: Mail) -> Self {
        Self { hostname, mail }
    }
}

impl SessionFactory for Pop3Factory {
    type Session = Pop3Session;

    fn protocol(&self, tls: Option<TlsInfo>, starttls_offered: bool) -> Server {
        let opts = Options {
            hostname: self.hostname.clone(),
            tls_active: tls.is_some(),
            starttls_offered,
            ..Options::default()
        };
        match tls {
            Some(info) => Server::new(opts).with_tls_info(info),
            None => Server::new(opts),
        }
    }

    fn session(&self, peer: SocketAddr) -> Pop3Session {
        Pop3Session {
            peer,
            mail: self.mail.clone(),
            user: None,
            sasl: None,
            maildrop: None,
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 3206 §4: SYS/TEMP for a temporary system problem.
        b"-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n"
    }
}

/// One POP3 session.
#[derive(Debug)]
pub struct Pop3Session {
    peer: SocketAddr,
    mail: Mail,
    /// The name given with USER, waiting for PASS.
    user: Option<String>,
    /// A SASL exchange waiting for the client's next line.
    sasl: Option<Exchange>,
    /// The locked maildrop, once logged in.
    maildrop: Option<(Maildrop, MaildropLock)>,
}

/// The answer to every failed login, whatever failed (RFC 3206 §4 AUTH).
const LOGIN_FAILED: &str = "Authentication failed";

impl Session for Pop3Session {
    type Proto = Server;

    async fn handle(&mut self, pop3: &mut Server, event: Event) -> Control {
        match event {
            Event::StartTls => {
                pop3.accept_stls();
                return Control::StartTls;
            }
            // RFC 1939 §7: USER may be accepted whatever the name, so that
            // the answer to PASS is the only one, and the same for all.
            Event::User { name } => {
                self.user = Some(name);
                pop3.ok("Send PASS");
            }
            Event::Pass { password } => self.pass(pop3, password).await,
            Event::Auth {
                mechanism,
                initial_response,
            } => self.auth(pop3, &mechanism, initial_response).await,
            Event::SaslResponse { response } => self.sasl_step(pop3, response.expose()).await,
            Event::Command { name, args } => self.command(pop3, &name, &args).await,
            Event::Quit => self.quit(pop3).await,
            _ => pop3.err(None, "Command not available"),
        }
        Control::Continue
    }
}

impl Pop3Session {
    async fn pass(&mut self, pop3: &mut Server, password: Secret<String>) {
        let Some(user) = self.user.take() else {
            return pop3.err(None, "Send USER first");
        };
        let account = self
            .mail
            .login(self.peer.ip(), user, password.into_exposed())
            .await;
        self.logged_in(pop3, account).await;
    }

    /// AUTH PLAIN (RFC 5034; with an initial response, RFC 4959, or after
    /// an empty challenge), LOGIN, and EXTERNAL with the TLS client
    /// certificate.
    async fn auth(&mut self, pop3: &mut Server, mechanism: &str, initial: Option<Secret<String>>) {
        let Some(mechanism) = Mechanism::named(mechanism) else {
            return pop3.err(
                None,
                "Unsupported SASL mechanism; CAPA lists the ones offered",
            );
        };
        let mut exchange = Exchange::default();
        let step = exchange.start_encoded(mechanism, initial.as_ref().map(|i| i.expose().as_str()));
        self.sasl_next(pop3, exchange, step).await;
    }

    /// The client's answer to our last challenge.
    async fn sasl_step(&mut self, pop3: &mut Server, response: &str) {
        let Some(mut exchange) = self.sasl.take() else {
            return pop3.err(None, "No SASL exchange in progress");
        };
        let step = exchange.respond_encoded(response);
        self.sasl_next(pop3, exchange, step).await;
    }

    /// Acts on what the exchange said: ask again, or check credentials.
    async fn sasl_next(&mut self, pop3: &mut Server, exchange: Exchange, step: Step) {
        let ip = self.peer.ip();
        let account = match step {
            Step::Challenge(challenge) => {
                self.sasl = Some(exchange);
                return pop3.sasl_challenge(&postern_auth::sasl::encode(challenge));
            }
            Step::Malformed(e) => return pop3.err(None, &format!("Malformed SASL message: {e}")),
            Step::Password { user, password } => {
                self.mail.login(ip, user, password.into_exposed()).await
            }
            // EXTERNAL: the verified client certificate's e-mail address
            // names the account; the authzid may only repeat it.
            Step::External { authzid } => {
                let client = pop3.tls_info().and_then(|t| t.client.clone());
                self.mail.login_external(ip, client, authzid).await
            }
            Step::Refused => None,
        };
        self.logged_in(pop3, account).await;
    }

    /// After the credentials were checked: lock and read the maildrop.
    async fn logged_in(&mut self, pop3: &mut Server, account: Option<Account>) {
        let Some(account) = account else {
            return pop3.err(Some("AUTH"), LOGIN_FAILED);
        };
        // RFC 2449 §8.1.1 IN-USE: another session holds the maildrop.
        let Some(lock) = self.mail.locks.try_lock(account.id) else {
            return pop3.err(Some("IN-USE"), "Maildrop already in use by another session");
        };
        let id = account.id;
        let snapshot = self
            .mail
            .with_store(move |s| {
                let inbox =
                    s.mailbox(id, "INBOX")?
                        .ok_or_else(|| postern_store::StoreError::NotFound {
                            what: "INBOX".into(),
                        })?;
                let messages = s.messages(inbox.id)?;
                Ok(Maildrop::new(inbox, messages))
            })
            .await;
        match snapshot {
            Ok(drop) => {
                let (n, size) = drop.stat();
                pop3.ok(&format!(
                    "{} has {n} messages ({size} octets)",
                    account.address
                ));
                pop3.logged_in();
                self.maildrop = Some((drop, lock));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the maildrop");
                pop3.err(
                    Some("SYS/TEMP"),
                    "Cannot open the maildrop now, try again later",
                );
            }
        }
    }

    async fn command(&mut self, pop3: &mut Server, name: &str, args: &[String]) {
        let Some((drop, _)) = self.maildrop.as_mut() else {
            return pop3.err(None, "Log in first");
        };
        let arg = |i: usize| args.get(i).map(String::as_str);
        match (name, arg(0), arg(1)) {
            ("STAT", None, _) => {
                let (n, size) = drop.stat();
                pop3.ok(&format!("{n} {size}"));
            }
            ("LIST", None, _) => {
                let lines = drop.list();
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                pop3.ok_lines(&format!("{} messages", refs.len()), &refs);
            }
            ("UIDL", None, _) => {
                let lines = drop.uidl();
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                pop3.ok_lines("Unique-ID listing follows", &refs);
            }
            ("LIST", Some(n), None) => match drop.get(n) {
                Ok((n, m)) => pop3.ok(&format!("{n} {}", m.size)),
                Err(e) => pop3.err(None, e.text()),
            },
            ("UIDL", Some(n), None) => match drop.get(n) {
                Ok((n, m)) => pop3.ok(&format!("{n} {}", drop.unique_id(m))),
                Err(e) => pop3.err(None, e.text()),
            },
            ("DELE", Some(n), None) => match drop.delete(n) {
                Ok(n) => pop3.ok(&format!("Message {n} marked deleted")),
                Err(e) => pop3.err(None, e.text()),
            },
            ("RSET", None, _) => {
                drop.reset();
                let (n, size) = drop.stat();
                pop3.ok(&format!("Maildrop has {n} messages ({size} octets)"));
            }
            ("RETR", Some(n), None) => self.retr(pop3, n, None).await,
            ("TOP", Some(n), Some(lines)) => match lines.parse::<usize>() {
                Ok(lines) => self.retr(pop3, n, Some(lines)).await,
                Err(_) => pop3.err(None, "TOP needs a message number and a line count"),
            },
            _ => pop3.err(None, "Bad arguments"),
        }
    }

    /// RETR, or TOP with a line count.
    async fn retr(&mut self, pop3: &mut Server, n: &str, lines: Option<usize>) {
        let Some((drop, _)) = self.maildrop.as_ref() else {
            return pop3.err(None, "Log in first");
        };
        let (blob, uid, size) = match drop.get(n) {
            Ok((_, m)) => (m.blob.clone(), m.uid, m.size),
            Err(e) => return pop3.err(None, e.text()),
        };
        match self.mail.read_blob(blob, size).await {
            Ok(raw) => match lines {
                None => pop3.ok_message(&format!("{size} octets"), &raw),
                Some(l) => pop3.ok_message("Top of message follows", top(&raw, l)),
            },
            Err(e) => {
                tracing::error!(error = %e, uid = uid.0, "cannot read a message");
                pop3.err(Some("SYS/TEMP"), "Cannot read the message now");
            }
        }
    }

    /// QUIT in the TRANSACTION state: the UPDATE state (RFC 1939 §6).
    async fn quit(&mut self, pop3: &mut Server) {
        let Some((maildrop, lock)) = self.maildrop.take() else {
            return pop3.ok("Logging out");
        };
        let marked = maildrop.marked();
        let count = marked.len();
        let mailbox = maildrop.mailbox().id;
        let removed = self
            .mail
            .with_store(move |s| s.expunge(mailbox, &marked))
            .await;
        // Released only once the removal is committed, so the next session
        // never sees messages this one is removing.
        drop(lock);
        match removed {
            Ok(()) => pop3.ok(&format!("Logging out, {count} messages deleted")),
            Err(e) => {
                tracing::error!(error = %e, "cannot remove deleted messages at QUIT");
                pop3.err(Some("SYS/TEMP"), "Some deleted messages were not removed");
            }
        }
    }
}
