//! SMTP sessions: the MX (port 25: mail for our own domains, from anyone,
//! no AUTH) and submission (587 after STARTTLS, 465: authenticated users,
//! to anyone). The core in `postern-smtp-proto` runs the protocol; this
//! layer decides who may send what to whom, and stores what it accepts.
//!
//! - `transaction`: the envelope being built, recipient by recipient.
//! - `received`: the trace header prepended to every message.
//! - `sender`: which addresses an authenticated user may send as.
//! - `from_web`: the same submission path for messages written in the
//!   webmail.
//!
//! On the MX, each message is authenticated at the end of DATA
//! ([`crate::mail_auth`]): it gets an Authentication-Results header above
//! our Received header, forged ones claiming to be ours are removed, and
//! DMARC (or SPF) may send it to the Junk folder or refuse it. Submission
//! is not checked: its users are authenticated, and their mail is signed
//! on the way out instead.

mod from_web;
mod received;
mod sender;
mod transaction;

pub use self::from_web::WebSubmission;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postern_config::{Listener, SmtpConfig};
use postern_smtp_proto::cmd::{AuthMechanism, Command, HeloName, MailFrom, RcptTo};
use postern_smtp_proto::{Event, Options, Server};
use postern_store::{Account, LocalFolder, StoreError};
use postern_types::{Service, TlsInfo, TlsMode};
use time::OffsetDateTime;

use self::received::Trace;
use self::sender::Senders;
use self::transaction::{Recipient, Transaction};
use super::sasl::{Exchange, Mechanism, Step};
use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::mail::Mail;
use crate::mail_auth::{self, strip_forged, Checker, Disposition, Verdict};

/// Creates SMTP sessions for one listener.
#[derive(Debug, Clone)]
pub struct SmtpFactory {
    shared: Arc<Shared>,
}

/// What every session of a listener knows.
#[derive(Debug)]
struct Shared {
    hostname: String,
    submission: bool,
    starttls: bool,
    limits: SmtpConfig,
    mail: Mail,
    /// The MX's checks of incoming mail; `None` on submission, or when
    /// `[mail_auth] verify = false`.
    checker: Option<Checker>,
}

impl SmtpFactory {
    /// `checker` is used on the MX only: submission never checks.
    pub fn new(
        hostname: String,
        listener: &Listener,
        limits: SmtpConfig,
        mail: Mail,
        checker: Option<Checker>,
    ) -> Self {
        let submission = listener.service == Service::Submission;
        Self {
            shared: Arc::new(Shared {
                hostname,
                submission,
                starttls: listener.tls == TlsMode::StartTls,
                limits,
                mail,
                checker: checker.filter(|_| !submission),
            }),
        }
    }
}

impl SessionFactory for SmtpFactory {
    type Session = SmtpSession;

    fn protocol(&self, tls: Option<TlsInfo>, starttls_offered: bool) -> Server {
        let s = &self.shared;
        let opts = Options {
            hostname: s.hostname.clone(),
            tls_active: tls.is_some(),
            starttls_offered: starttls_offered && s.starttls,
            submission: s.submission,
            max_message_size: s.limits.max_message_size,
            max_recipients: s.limits.max_recipients,
            // EXTERNAL only when there is a verified certificate to use.
            auth_external: tls.as_ref().is_some_and(|t| t.client.is_some()),
            ..Options::default()
        };
        match tls {
            Some(info) => Server::new(opts).with_tls_info(info),
            None => Server::new(opts),
        }
    }

    fn session(&self, peer: SocketAddr) -> SmtpSession {
        SmtpSession {
            shared: self.shared.clone(),
            peer,
            account: None,
            senders: None,
            sasl: Exchange::default(),
            txn: None,
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 5321 §3.8: 421 and close when the service is not available.
        b"421 4.7.0 Too many connections from your address, try again later\r\n"
    }

    /// Only the MX waits: submission clients are people's mail programs,
    /// and pre-greeting chatter is a trait of bulk senders to port 25.
    fn greeting_delay(&self) -> Duration {
        if self.shared.submission {
            Duration::ZERO
        } else {
            self.shared.limits.greeting_delay
        }
    }

    fn early_talker_line(&self) -> &'static [u8] {
        // RFC 5321 §4.3.1: the client waits for the greeting.
        b"554 5.5.0 Protocol error: you talked before my greeting\r\n"
    }
}

/// One SMTP session.
#[derive(Debug)]
pub struct SmtpSession {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// The authenticated account (submission only).
    account: Option<Account>,
    /// Its allowed sender addresses, read at its first MAIL.
    senders: Option<Senders>,
    sasl: Exchange,
    /// The open transaction, from an accepted MAIL to the message's answer.
    txn: Option<Transaction>,
}

impl Session for SmtpSession {
    type Proto = Server;

    async fn handle(&mut self, smtp: &mut Server, event: Event) -> Control {
        match event {
            Event::StartTls => {
                smtp.accept_starttls();
                return Control::StartTls;
            }
            Event::Auth {
                mechanism,
                initial_response,
            } => {
                let step = match mechanism_of(mechanism) {
                    Some(m) => self
                        .sasl
                        .start(m, initial_response.map(|r| r.into_exposed())),
                    None => return self.unsupported_mechanism(smtp),
                };
                self.sasl_step(smtp, step).await;
            }
            Event::SaslResponse(response) => {
                let step = self.sasl.respond(response.into_exposed());
                self.sasl_step(smtp, step).await;
            }
            Event::Mail(mail) => self.mail_from(smtp, mail).await,
            Event::Rcpt(rcpt) => self.rcpt_to(smtp, rcpt).await,
            Event::Message(body) => self.message(smtp, body).await,
            Event::Command(command) => query(smtp, &command),
            _ => smtp.reply(502, Some("5.5.1"), "Command not implemented"),
        }
        Control::Continue
    }
}

fn mechanism_of(m: AuthMechanism) -> Option<Mechanism> {
    match m {
        AuthMechanism::Plain => Some(Mechanism::Plain),
        AuthMechanism::Login => Some(Mechanism::Login),
        AuthMechanism::External => Some(Mechanism::External),
        _ => None,
    }
}

/// VRFY and EXPN. RFC 5321 §3.5.3: 252 says nothing about whether a user
/// exists, and DESIGN forbids answers that would (enumeration).
fn query(smtp: &mut Server, command: &Command) {
    match command {
        Command::Vrfy(_) => smtp.reply(
            252,
            Some("2.5.0"),
            "Cannot VRFY user, but will accept message and attempt delivery",
        ),
        Command::Expn(_) => smtp.reply(502, Some("5.5.1"), "EXPN is not offered"),
        _ => smtp.reply(502, Some("5.5.1"), "Command not implemented"),
    }
}

impl SmtpSession {
    fn unsupported_mechanism(&self, smtp: &mut Server) -> Control {
        smtp.reply(504, Some("5.5.4"), "Unrecognized authentication type");
        Control::Continue
    }

    /// RFC 4954 §4 and §6: each step of PLAIN, LOGIN or EXTERNAL.
    async fn sasl_step(&mut self, smtp: &mut Server, step: Step) {
        let ip = self.peer.ip();
        let account = match step {
            Step::Challenge(challenge) => return smtp.sasl_challenge(challenge),
            Step::Malformed(e) => {
                return smtp.reply(501, Some("5.5.2"), &format!("Malformed SASL message: {e}"))
            }
            Step::Refused => None,
            Step::Password { user, password } => {
                let mail = &self.shared.mail;
                mail.login(ip, user, password.into_exposed()).await
            }
            Step::External { authzid } => {
                let client = smtp.tls_info().and_then(|t| t.client.clone());
                self.shared.mail.login_external(ip, client, authzid).await
            }
        };
        match account {
            Some(account) => {
                tracing::info!(peer = %self.peer, account = %account.address, "smtp login");
                self.account = Some(account);
                smtp.auth_succeeded();
            }
            // The same answer for every failure, after the throttle's delay
            // (RFC 4954 §6: 535 5.7.8).
            None => smtp.auth_failed(),
        }
    }

    async fn mail_from(&mut self, smtp: &mut Server, mail: MailFrom) {
        self.txn = None;
        if let Some(account) = self.account.clone() {
            if let Err((code, enhanced, text)) = self.check_sender(&account, &mail).await {
                return smtp.reply(code, Some(enhanced), &text);
            }
        }
        self.txn = Some(Transaction::new(&mail));
        smtp.accept_mail();
    }

    /// Submission: the envelope sender must be one of the account's
    /// addresses (RFC 6409 §8.1 lets the MSA enforce it; DESIGN says it
    /// must). The null sender is for bounces, which users do not send.
    async fn check_sender(
        &mut self,
        account: &Account,
        mail: &MailFrom,
    ) -> Result<(), (u16, &'static str, String)> {
        let Some(from) = &mail.reverse_path else {
            return Err((
                553,
                "5.7.1",
                "The null sender <> is for bounces only".into(),
            ));
        };
        let address = format!("{}@{}", from.local_part, from.domain);
        let senders = self.senders(account).await.map_err(|_| {
            (
                451,
                "4.3.0",
                "Cannot check the sender now, try again later".to_owned(),
            )
        })?;
        if senders.allows(&address) {
            Ok(())
        } else {
            tracing::warn!(peer = %self.peer, account = %account.address, sender = %address, "sender refused");
            Err((
                553,
                "5.7.1",
                format!("Sender <{address}> is not yours; send as your own address or one of your aliases"),
            ))
        }
    }

    async fn senders(&mut self, account: &Account) -> Result<Senders, StoreError> {
        if let Some(senders) = &self.senders {
            return Ok(senders.clone());
        }
        let account = account.clone();
        let senders = self
            .shared
            .mail
            .with_store(move |s| Senders::load(s, &account))
            .await?;
        self.senders = Some(senders.clone());
        Ok(senders)
    }

    async fn rcpt_to(&mut self, smtp: &mut Server, rcpt: RcptTo) {
        let Some(txn) = self.txn.as_mut() else {
            // The core only sends RCPT inside a transaction we opened.
            return smtp.reply(503, Some("5.5.1"), "Send MAIL first");
        };
        let may_relay = self.account.is_some();
        let recipient = Recipient::resolve(&self.shared.mail, &self.shared.hostname, rcpt).await;
        match txn.add(recipient, may_relay) {
            Ok(()) => smtp.accept_rcpt(),
            Err(refusal) => smtp.reply(refusal.code, Some(refusal.enhanced), &refusal.text),
        }
    }

    async fn message(&mut self, smtp: &mut Server, body: Vec<u8>) {
        let Some(txn) = self.txn.take() else {
            return smtp.reply(503, Some("5.5.1"), "Send MAIL first");
        };
        // The core refuses these in DATA; BDAT chunks are binary-clean in
        // the core, but we offer no BINARYMIME (RFC 3030 §3), so a message
        // is lines ending in CRLF however it came. A bare LF could hide a
        // header from the checks below and become a real line once a
        // relay normalises it.
        if has_bare_line_end(&body) {
            return smtp.reply(
                550,
                Some("5.6.0"),
                "Bare CR or LF in message (RFC 5321 section 2.3.8)",
            );
        }
        if let Some(refusal) = self.check_header_from(&body) {
            return smtp.reply(553, Some("5.7.1"), &refusal);
        }
        let id = message_id();
        let (body, checked) = self.authenticate(smtp, &txn, &id, body).await;
        let folder = match checked.as_ref().map(|(v, _)| &v.disposition) {
            Some(Disposition::Reject {
                code,
                enhanced,
                text,
            }) => {
                tracing::info!(id, peer = %self.peer, from = %txn.mail_from(), reply = %text, "message refused by mail authentication");
                return smtp.reply(*code, Some(enhanced), text);
            }
            Some(Disposition::Junk) => LocalFolder::Junk,
            Some(Disposition::Inbox) | None => LocalFolder::Inbox,
        };
        let header = checked.as_ref().map(|(_, h)| h.as_str());
        let raw = self.with_trace(smtp, &txn, &id, header, body);
        match txn.store_into(&self.shared.mail, raw, folder).await {
            Ok(stored) => {
                tracing::info!(
                    id, peer = %self.peer, from = %txn.mail_from(), local = stored.local,
                    remote = stored.remote, size = stored.size,
                    tls = smtp.tls_info().map_or("none", |t| t.version.as_str()),
                    junk = folder == LocalFolder::Junk,
                    "message accepted"
                );
                smtp.accept_message(&id);
            }
            Err(StoreError::QuotaExceeded { .. }) => {
                smtp.reply(452, Some("4.2.2"), "Mailbox full, try again later");
            }
            Err(e) => {
                tracing::error!(id, error = %e, "cannot store an incoming message");
                smtp.reply(
                    451,
                    Some("4.3.0"),
                    "Local error in processing, try again later",
                );
            }
        }
    }

    /// The MX's checks (SPF, DKIM, DMARC, ARC) on the message as it came,
    /// then the message without forged Authentication-Results fields of
    /// ours (RFC 8601 §5), with the verdict and our header field. Nothing
    /// to do without a checker.
    async fn authenticate(
        &self,
        smtp: &Server,
        txn: &Transaction,
        id: &str,
        body: Vec<u8>,
    ) -> (Vec<u8>, Option<(Verdict, String)>) {
        let Some(checker) = &self.shared.checker else {
            return (body, None);
        };
        let envelope = mail_auth::Envelope {
            peer: self.peer.ip(),
            helo: smtp.helo_name().map_or("", HeloName::as_str).to_owned(),
            mail_from: txn.mail_from().to_owned(),
        };
        let shared = Arc::new(body);
        let verdict = checker.check(envelope, shared.clone()).await;
        // The check's task has ended and dropped its reference, unless it
        // was abandoned at its deadline.
        let body = Arc::try_unwrap(shared).unwrap_or_else(|b| (*b).clone());
        let (stripped, removed) = match strip_forged(&body, checker.authserv_id()) {
            (Cow::Owned(kept), n) => (Some(kept), n),
            (Cow::Borrowed(_), n) => (None, n),
        };
        let body = stripped.unwrap_or(body);
        if removed > 0 {
            tracing::warn!(id, peer = %self.peer, removed, "removed Authentication-Results fields forged with our host name");
        }
        let r = &verdict.results;
        tracing::info!(
            id, peer = %self.peer, spf = r.spf.word(), dkim = %r.dkim_summary(),
            dmarc = r.dmarc.outcome.word(), arc = r.arc.word(), "mail authentication"
        );
        let header = checker.header(r);
        (body, Some((verdict, header)))
    }

    /// Submission: the From header must be the user's too (see
    /// [`sender::check_header_from`]).
    fn check_header_from(&self, body: &[u8]) -> Option<String> {
        sender::check_header_from(self.senders.as_ref()?, body)
    }

    /// Our header fields on top: the Authentication-Results field (if the
    /// message was checked; RFC 8601 §5 wants it above the fields it
    /// received, where no sender can place one before ours), then the
    /// Received field.
    fn with_trace(
        &self,
        smtp: &Server,
        txn: &Transaction,
        id: &str,
        auth_results: Option<&str>,
        body: Vec<u8>,
    ) -> Vec<u8> {
        let helo = smtp.helo_name().map_or("", HeloName::as_str).to_owned();
        let trace = Trace {
            helo: &helo,
            peer: self.peer.ip(),
            by: &self.shared.hostname,
            tls: smtp.tls_info(),
            authenticated: self.account.is_some(),
            utf8: txn.smtputf8(),
            id,
            single_recipient: txn.single_recipient(),
            date: OffsetDateTime::now_utc(),
            via_web: false,
        };
        let received = trace.header();
        let auth_results = auth_results.unwrap_or_default();
        let mut raw = Vec::with_capacity(auth_results.len() + received.len() + body.len());
        raw.extend_from_slice(auth_results.as_bytes());
        raw.extend_from_slice(received.as_bytes());
        raw.extend_from_slice(&body);
        raw
    }
}

/// A CR not followed by LF, or an LF not preceded by CR.
pub(crate) fn has_bare_line_end(body: &[u8]) -> bool {
    body.iter().enumerate().any(|(i, &b)| match b {
        b'\r' => body.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || body[i - 1] != b'\r',
        _ => false,
    })
}

/// A short identifier, unique within this server's life and unlikely to
/// repeat across restarts: seconds since the epoch and a counter.
pub(crate) fn message_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let secs = OffsetDateTime::now_utc().unix_timestamp();
    format!("{secs:X}{n:06X}")
}

#[cfg(test)]
mod tests {
    use super::has_bare_line_end;

    #[test]
    fn bare_line_ends_are_found_anywhere() {
        assert!(!has_bare_line_end(b"a\r\nb\r\n\r\nc\r\n"));
        for bad in [
            &b"\n"[..],
            b"a\nb\r\n",
            b"a\r",
            b"a\rb\r\n",
            b"x\r\n\n",
            b"\r\r\n",
        ] {
            assert!(has_bare_line_end(bad), "{bad:?}");
        }
    }
}
