//! What each command line does, and what the core refuses before the
//! session sees a command. A refusal names the RFC that asks for it.

use postern_types::Secret;

use super::{ChunkSink, Mode, Pending, Server, Transaction};
use crate::base64;
use crate::cmd::{
    self, Auth, AuthMechanism, Bdat, Command, HeloName, MailFrom, RcptTo, Request, SyntaxError,
};
use crate::dot::DataReader;
use crate::extensions::{auth_offered, ehlo_keywords, mechanism_offered};
use crate::message::MessageBuf;
use crate::reply::{self, Canned};
use crate::{Error, Event};

/// `Ok` when `ok`, else the refusal.
fn require(ok: bool, otherwise: Canned) -> Result<(), Canned> {
    if ok {
        Ok(())
    } else {
        Err(otherwise)
    }
}

impl Server {
    pub(super) fn on_line(&mut self, line: &[u8]) -> Option<Event> {
        match cmd::parse(line) {
            Ok(request) => self.on_request(request),
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
            // The chunk octets follow anyway and cannot be delimited:
            // reading on would run them as commands (RFC 3030 §2).
            self.fail(Error::BadChunkSize);
        } else {
            self.count_bad();
        }
    }

    fn on_request(&mut self, request: Request) -> Option<Event> {
        match request {
            Request::Ehlo(name) => self.ehlo(name),
            Request::Helo(name) => self.helo(name),
            Request::Noop => self.ok(),
            // RFC 5321 §4.1.1.5: RSET ends the transaction, nothing else.
            Request::Rset => {
                self.transaction = None;
                self.ok();
            }
            Request::Help => self.push(214, Some("2.0.0"), &["See RFC 5321 and RFC 3207"]),
            Request::Quit => self.quit(),
            Request::StartTls => return self.starttls(),
            Request::Mail(mail) => return self.mail(mail),
            Request::Rcpt(rcpt) => return self.rcpt(rcpt),
            Request::Data => self.data(),
            Request::Bdat(bdat) => self.bdat(bdat),
            Request::Auth(auth) => return self.auth(auth),
            Request::Query(command) => return self.query(command),
        }
        None
    }

    fn ok(&mut self) {
        self.push(250, Some("2.0.0"), &["OK"]);
    }

    /// RFC 5321 §4.1.1.1: the first line names us, the others are
    /// keywords; no enhanced code in an EHLO reply (RFC 2034 §3). EHLO
    /// resets the transaction (§4.1.4).
    fn ehlo(&mut self, name: HeloName) {
        let mut lines = vec![self.opts.hostname.clone()];
        lines.extend(ehlo_keywords(&self.opts));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.push(250, None, &lines);
        self.helo = Some(name);
        self.transaction = None;
    }

    fn helo(&mut self, name: HeloName) {
        let hostname = self.opts.hostname.clone();
        self.push(250, None, &[&hostname]);
        self.helo = Some(name);
        self.transaction = None;
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
        self.hand_out(Pending::StartTls, Event::StartTls)
    }

    /// What MAIL, RCPT, DATA, BDAT and VRFY need: TLS on submission (RFC
    /// 3207 §4: a server requiring TLS refuses everything but NOOP, EHLO,
    /// STARTTLS and QUIT; we also let HELO, RSET and HELP through), and a
    /// transaction needs EHLO/HELO first (RFC 5321 §4.1.4).
    fn transaction_gate(&self) -> Result<(), Canned> {
        require(
            !self.opts.submission || self.opts.tls_active,
            reply::MUST_STARTTLS,
        )?;
        require(self.helo.is_some(), reply::NEED_HELO)
    }

    fn mail(&mut self, mail: MailFrom) -> Option<Event> {
        if let Err(canned) = self.mail_check(&mail) {
            self.refuse(canned);
            return None;
        }
        let smtputf8 = mail.smtputf8;
        self.hand_out(Pending::Mail { smtputf8 }, Event::Mail(mail))
    }

    fn mail_check(&self, mail: &MailFrom) -> Result<(), Canned> {
        self.transaction_gate()?;
        require(self.transaction.is_none(), reply::NESTED_MAIL)?;
        // RFC 6409 §4.3 / RFC 4954 §6: submission is for authenticated
        // users only.
        require(
            !self.opts.submission || self.authenticated,
            reply::AUTH_REQUIRED,
        )?;
        require(
            !mail.requiretls || self.opts.tls_active,
            reply::REQUIRETLS_NEEDS_TLS,
        )?;
        // RFC 1870 §6.1: a declared size over the limit is refused at once.
        let fits = mail
            .size
            .is_none_or(|size| size <= self.opts.max_message_size);
        require(fits, reply::TOO_BIG)?;
        let ascii = mail.reverse_path.as_ref().is_none_or(|m| m.is_ascii());
        require(mail.smtputf8 || ascii, reply::NEEDS_SMTPUTF8)
    }

    fn rcpt(&mut self, rcpt: RcptTo) -> Option<Event> {
        if let Err(canned) = self.rcpt_check(&rcpt) {
            self.refuse(canned);
            return None;
        }
        self.hand_out(Pending::Rcpt, Event::Rcpt(rcpt))
    }

    fn rcpt_check(&self, rcpt: &RcptTo) -> Result<(), Canned> {
        self.transaction_gate()?;
        let tx = self.transaction.as_ref().ok_or(reply::NEED_MAIL)?;
        require(
            tx.recipients < self.opts.max_recipients,
            reply::TOO_MANY_RECIPIENTS,
        )?;
        require(
            tx.smtputf8 || rcpt.forward_path.is_ascii(),
            reply::NEEDS_SMTPUTF8,
        )
    }

    /// RFC 5321 §4.1.1.4: `354`, then the body is data until CRLF.CRLF.
    fn data(&mut self) {
        if let Err(canned) = self.data_check() {
            self.refuse(canned);
            return;
        }
        self.push(354, None, &["Start mail input; end with <CRLF>.<CRLF>"]);
        self.mode = Mode::Data(DataReader::new(self.opts.max_message_size));
    }

    fn data_check(&self) -> Result<(), Canned> {
        self.transaction_gate()?;
        let tx = self.transaction.as_ref().ok_or(reply::NEED_MAIL)?;
        require(tx.chunks.is_none(), reply::DATA_AFTER_BDAT)?;
        require(tx.recipients > 0, reply::NO_RECIPIENTS)
    }

    /// RFC 3030 §2: the chunk is read whatever happens; a refusal is sent
    /// once it is.
    fn bdat(&mut self, bdat: Bdat) {
        let limit = self.opts.max_message_size;
        let sink = match self.bdat_check() {
            Ok(tx) => {
                tx.chunks.get_or_insert_with(|| MessageBuf::new(limit));
                ChunkSink::Message {
                    size: bdat.size,
                    last: bdat.last,
                }
            }
            Err(canned) => ChunkSink::Refuse(canned),
        };
        self.mode = Mode::Chunk {
            left: bdat.size,
            sink,
        };
    }

    fn bdat_check(&mut self) -> Result<&mut Transaction, Canned> {
        self.transaction_gate()?;
        let tx = self.transaction.as_mut().ok_or(reply::NEED_MAIL)?;
        require(tx.recipients > 0, reply::NO_RECIPIENTS)?;
        Ok(tx)
    }

    fn auth(&mut self, auth: Auth) -> Option<Event> {
        match self.auth_check(&auth) {
            Ok(mechanism) => {
                let initial_response = auth.initial_response;
                let event = Event::Auth {
                    mechanism,
                    initial_response,
                };
                self.hand_out(Pending::Auth, event)
            }
            Err(canned) => {
                self.refuse(canned);
                None
            }
        }
    }

    /// RFC 4954 §4. AUTH is never offered on the MX (DESIGN) nor before
    /// TLS (RFC 8314 §3), so it is refused there whatever the mechanism.
    fn auth_check(&self, auth: &Auth) -> Result<AuthMechanism, Canned> {
        require(self.opts.submission, reply::AUTH_UNAVAILABLE)?;
        require(auth_offered(&self.opts), reply::MUST_STARTTLS)?;
        require(self.helo.is_some(), reply::NEED_HELO)?;
        require(!self.authenticated, reply::ALREADY_AUTHENTICATED)?;
        require(self.transaction.is_none(), reply::AUTH_IN_TRANSACTION)?;
        AuthMechanism::from_name(&auth.mechanism)
            .filter(|&m| mechanism_offered(&self.opts, m))
            .ok_or(reply::UNKNOWN_MECHANISM)
    }

    /// The line after a `334`: `*` cancels (RFC 4954 §4: `501`), anything
    /// else must be base64.
    pub(super) fn on_sasl_line(&mut self, line: &[u8]) -> Option<Event> {
        self.mode = Mode::Command;
        if line == b"*" {
            self.refuse_quietly(reply::AUTH_CANCELLED);
            return None;
        }
        match base64::decode(line) {
            Some(bytes) => self.hand_out(Pending::Auth, Event::SaslResponse(Secret::new(bytes))),
            None => {
                self.refuse(reply::BAD_BASE64);
                None
            }
        }
    }

    /// VRFY and EXPN need no EHLO (RFC 5321 §4.1.4), only TLS on
    /// submission.
    fn query(&mut self, command: Command) -> Option<Event> {
        if self.opts.submission && !self.opts.tls_active {
            self.refuse(reply::MUST_STARTTLS);
            return None;
        }
        self.hand_out(Pending::Query, Event::Command(command))
    }
}
