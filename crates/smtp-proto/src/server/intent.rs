//! The intent methods: how the session answers events. The core's state
//! follows the answer, so that it always matches what the client was told:
//! a MAIL answered 2xx opens a transaction, an RCPT answered 2xx counts, an
//! AUTH answered 2xx authenticates, any answer to a message ends its
//! transaction.

use postern_types::Protocol;

use super::{Mode, Pending, Server, Transaction};
use crate::base64;
use crate::reply::{self, Canned};

impl Server {
    /// Answers the current event with a one-line reply. `enhanced` is the
    /// RFC 3463 code (`"2.1.0"`); text with line breaks cannot forge further
    /// replies. A `50x` reply counts as a bad command (RFC 5321 §4.2.1: the
    /// client made a syntax or sequence error). With no event pending, the
    /// reply is simply sent.
    pub fn reply(&mut self, code: u16, enhanced: Option<&str>, text: &str) {
        self.reply_lines(code, enhanced, &[text]);
    }

    /// Answers with a multi-line reply (`code-` on all lines but the last).
    ///
    /// 3yz replies are the core's own (`354` after DATA, `334` through
    /// [`Server::sasl_challenge`]): one from the session would make the
    /// client send data the core reads as commands, so a `451` goes out
    /// instead (and debug builds panic).
    pub fn reply_lines(&mut self, code: u16, enhanced: Option<&str>, lines: &[&str]) {
        debug_assert!(
            code / 100 != 3,
            "3yz replies are sent by the core, not {code}"
        );
        if code / 100 == 3 {
            self.answer_with(reply::LOCAL_ERROR);
            return;
        }
        self.answer(code, enhanced, lines);
        if reply::is_syntax_class(code) {
            self.count_bad();
        }
    }

    /// Answers [`Event::StartTls`](crate::Event::StartTls) with `220 2.0.0
    /// Ready to start TLS` (RFC 3207 §4). The driver then flushes with
    /// `take_output()` and calls `start_tls()`; nothing more is parsed in
    /// clear text.
    pub fn accept_starttls(&mut self) {
        if self.expect(Pending::StartTls) {
            self.answer(220, Some("2.0.0"), &["Ready to start TLS"]);
        }
    }

    /// Answers [`Event::Mail`](crate::Event::Mail) with `250 2.1.0 Sender
    /// OK` and opens the transaction.
    pub fn accept_mail(&mut self) {
        if self.expect_with(|p| matches!(p, Pending::Mail { .. })) {
            self.answer(250, Some("2.1.0"), &["Sender OK"]);
        }
    }

    /// Answers [`Event::Rcpt`](crate::Event::Rcpt) with `250 2.1.5
    /// Recipient OK` and counts the recipient.
    pub fn accept_rcpt(&mut self) {
        if self.expect(Pending::Rcpt) {
            self.answer(250, Some("2.1.5"), &["Recipient OK"]);
        }
    }

    /// Answers [`Event::Auth`](crate::Event::Auth) or
    /// [`Event::SaslResponse`](crate::Event::SaslResponse) with a challenge:
    /// `334` and the challenge in base64 (RFC 4954 §4). The client's next
    /// line comes back as `Event::SaslResponse`, or, if it is `*`, the core
    /// answers the cancellation itself.
    pub fn sasl_challenge(&mut self, challenge: &[u8]) {
        if !self.expect(Pending::Auth) || self.finished {
            return;
        }
        self.pending = None;
        // `334 SP [base64]` (RFC 4954 §4): the space stays when the
        // challenge is empty, and the line is not cut to 512 octets.
        let line = format!("334 {}\r\n", base64::encode(challenge));
        self.output.extend_from_slice(line.as_bytes());
        self.mode = Mode::SaslResponse;
    }

    /// `235 2.7.0 Authentication successful` (RFC 4954 §6); the session is
    /// authenticated from now on.
    pub fn auth_succeeded(&mut self) {
        self.answer_auth(reply::AUTH_OK);
    }

    /// `535 5.7.8 Authentication credentials invalid` (RFC 4954 §6).
    pub fn auth_failed(&mut self) {
        self.answer_auth(reply::AUTH_INVALID);
    }

    /// `454 4.7.0 Temporary authentication failure` (RFC 4954 §6).
    pub fn auth_temporary_failure(&mut self) {
        self.answer_auth(reply::AUTH_TEMPORARY);
    }

    /// Answers [`Event::Message`](crate::Event::Message) with `250 2.0.0 OK
    /// queued as <id>` and ends the transaction. Call it only once the
    /// message is durable (DESIGN: no acknowledgement before fsync).
    pub fn accept_message(&mut self, id: &str) {
        if self.expect(Pending::Message) {
            let text = format!("OK queued as {id}");
            self.answer(250, Some("2.0.0"), &[&text]);
        }
    }

    fn answer_auth(&mut self, canned: Canned) {
        if self.expect(Pending::Auth) {
            self.answer_with(canned);
        }
    }

    fn answer_with(&mut self, canned: Canned) {
        self.answer(canned.code, Some(canned.enhanced), &[canned.text]);
    }

    /// Sends a reply to the pending event, if any, and applies its effect.
    fn answer(&mut self, code: u16, enhanced: Option<&str>, lines: &[&str]) {
        let success = code / 100 == 2;
        match self.pending.take() {
            Some(Pending::StartTls) if success && !self.finished => {
                self.mode = Mode::StartTlsAccepted;
            }
            Some(Pending::Mail { smtputf8 }) if success => {
                self.transaction = Some(Transaction {
                    smtputf8,
                    recipients: 0,
                    chunks: None,
                });
            }
            Some(Pending::Rcpt) if success => {
                if let Some(tx) = self.transaction.as_mut() {
                    tx.recipients += 1;
                }
            }
            Some(Pending::Auth) if success => self.authenticated = true,
            Some(Pending::Message) => self.transaction = None,
            _ => {}
        }
        self.push(code, enhanced, lines);
    }

    /// An event the session did not answer before calling `next()` again:
    /// the client still gets a reply, a temporary failure.
    pub(super) fn settle_unanswered(&mut self) {
        let canned = match self.pending {
            None => return,
            Some(Pending::StartTls) => reply::TLS_UNAVAILABLE,
            Some(Pending::Auth) => reply::AUTH_TEMPORARY,
            Some(_) => reply::LOCAL_ERROR,
        };
        self.answer_with(canned);
    }

    /// Whether `kind` is the pending event; calling an intent method that
    /// answers another event is a bug in the session (debug builds panic,
    /// others ignore the call and the event gets the default answer).
    fn expect(&self, kind: Pending) -> bool {
        self.expect_with(|p| *p == kind)
    }

    fn expect_with(&self, kind: impl Fn(&Pending) -> bool) -> bool {
        let ok = self.pending.as_ref().is_some_and(kind);
        debug_assert!(
            ok || self.finished,
            "intent method does not answer the pending event {:?}",
            self.pending
        );
        ok && !self.is_finished()
    }
}
