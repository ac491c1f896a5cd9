//! Messages written in the webmail take the submission path of SMTP
//! clients: the envelope is parsed by the SMTP core's own command parser,
//! the sender checked against the account's addresses (envelope and From:
//! header), every recipient resolved and refused as a RCPT would be, a
//! trace header prepended, and the message stored for its local
//! recipients and queued for the others in one durable transaction. A
//! browser is one more mail client, with no way around the rules.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use postern_smtp_proto::cmd::{self, Request};
use postern_store::{Account, StoreError};
use postern_types::TlsInfo;
use postern_web::{Client, Outgoing, Submission, SubmitError, SubmitFuture};
use time::OffsetDateTime;

use super::received::Trace;
use super::sender::{check_header_from, Senders};
use super::transaction::{Recipient, Transaction};
use super::{has_bare_line_end, message_id};
use crate::mail::Mail;

/// The submission path for the web application.
#[derive(Debug, Clone)]
pub struct WebSubmission {
    mail: Mail,
    hostname: String,
    max_message_size: u64,
    max_recipients: usize,
}

impl WebSubmission {
    pub fn new(mail: Mail, hostname: String, max_message_size: u64, max_recipients: usize) -> Self {
        Self {
            mail,
            hostname,
            max_message_size,
            max_recipients,
        }
    }

    async fn submit_now(
        &self,
        account: Account,
        peer: SocketAddr,
        tls: TlsInfo,
        message: Outgoing,
    ) -> Result<String, SubmitError> {
        let Outgoing {
            mail_from,
            recipients,
            raw,
        } = message;
        if recipients.is_empty() {
            return Err(refused("Add at least one recipient"));
        }
        if recipients.len() > self.max_recipients {
            return Err(refused(format!(
                "Too many recipients: at most {} in one message",
                self.max_recipients
            )));
        }
        if raw.len() as u64 > self.max_message_size {
            return Err(refused(format!(
                "The message is too large: at most {} octets, attachments included",
                self.max_message_size
            )));
        }
        if has_bare_line_end(&raw) {
            // The web crate writes CRLF only; a bare LF could hide a
            // header from the checks below (RFC 5321 §2.3.8).
            return Err(refused("The message has bare line ends"));
        }
        let utf8 = !mail_from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        let mail = parse_mail_from(&mail_from, utf8)?;

        let account2 = account.clone();
        let senders = self
            .mail
            .with_store(move |s| Senders::load(s, &account2))
            .await
            .map_err(|e| unavailable(&e))?;
        if !senders.allows(&mail_from) {
            tracing::warn!(%peer, account = %account.address, sender = %mail_from, "web sender refused");
            return Err(refused(format!(
                "You cannot send as <{mail_from}>: use your own address or one of your aliases"
            )));
        }
        if let Some(why) = check_header_from(&senders, &raw) {
            return Err(refused(why));
        }

        let mut txn = Transaction::new(&mail);
        for address in recipients {
            let rcpt = parse_rcpt_to(&address)?;
            let recipient = Recipient::resolve(&self.mail, &self.hostname, rcpt).await;
            // The user is authenticated: relaying to other domains is
            // theirs to do, as on port 587.
            if let Err(refusal) = txn.add(recipient, true) {
                return Err(if refusal.code == 451 {
                    SubmitError::Unavailable
                } else {
                    refused(refusal.text)
                });
            }
        }

        let id = message_id();
        let trace = Trace {
            helo: &self.hostname,
            peer: peer.ip(),
            by: &self.hostname,
            tls: Some(&tls),
            authenticated: true,
            utf8,
            id: &id,
            single_recipient: txn.single_recipient(),
            date: OffsetDateTime::now_utc(),
            via_web: true,
        };
        let mut traced = trace.header().into_bytes();
        traced.extend_from_slice(&raw);
        match txn.store(&self.mail, traced).await {
            Ok(stored) => {
                tracing::info!(
                    id, %peer, from = %txn.mail_from(), local = stored.local,
                    remote = stored.remote, size = stored.size, via = "web",
                    "message accepted"
                );
                Ok(id)
            }
            Err(StoreError::QuotaExceeded { .. }) => Err(refused(
                "A recipient's mailbox here is full; try again later",
            )),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

impl Submission for WebSubmission {
    fn submit(&self, account: Account, client: Client, message: Outgoing) -> SubmitFuture {
        let this = self.clone();
        Box::pin(async move {
            this.submit_now(account, client.peer, client.tls, message)
                .await
        })
    }

    fn senders(&self, account: Account) -> Pin<Box<dyn Future<Output = Vec<String>> + Send>> {
        let mail = self.mail.clone();
        Box::pin(async move {
            let own = account.address.clone();
            match mail.with_store(move |s| Senders::load(s, &account)).await {
                Ok(senders) => senders.addresses().to_vec(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the account's aliases");
                    vec![own]
                }
            }
        })
    }
}

fn refused(text: impl Into<String>) -> SubmitError {
    SubmitError::Refused(text.into())
}

fn unavailable(e: &StoreError) -> SubmitError {
    tracing::error!(error = %e, "cannot store a message written in the webmail; check the store");
    SubmitError::Unavailable
}

/// An address fit to stand between `<` and `>` in a command line: the
/// parser below then sees exactly one path and no parameters.
fn plain_address(address: &str) -> Result<&str, SubmitError> {
    let bad = |c: char| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>');
    if address.is_empty() || address.chars().any(bad) {
        Err(refused(format!("<{address}> is not an e-mail address")))
    } else {
        Ok(address)
    }
}

fn parse_mail_from(address: &str, utf8: bool) -> Result<cmd::MailFrom, SubmitError> {
    let param = if utf8 { " SMTPUTF8" } else { "" };
    let line = format!("MAIL FROM:<{}>{param}", plain_address(address)?);
    match cmd::parse(line.as_bytes()) {
        Ok(Request::Mail(mail)) if mail.reverse_path.is_some() => Ok(mail),
        _ => Err(refused(format!("<{address}> is not an e-mail address"))),
    }
}

fn parse_rcpt_to(address: &str) -> Result<cmd::RcptTo, SubmitError> {
    let line = format!("RCPT TO:<{}>", plain_address(address)?);
    match cmd::parse(line.as_bytes()) {
        Ok(Request::Rcpt(rcpt)) => Ok(rcpt),
        _ => Err(refused(format!("<{address}> is not an e-mail address"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_cannot_smuggle_parameters_or_paths() {
        for bad in [
            "",
            "a@b.test> NOTIFY=NEVER",
            "a@b.test>",
            "<a@b.test",
            "a @b.test",
            "a@b.test\r\nRCPT TO:<c@d.test",
        ] {
            assert!(parse_rcpt_to(bad).is_err(), "{bad:?}");
            assert!(parse_mail_from(bad, false).is_err(), "{bad:?}");
        }
        let rcpt = parse_rcpt_to("Bob@Example.TEST").unwrap();
        assert!(rcpt.notify.is_none());
        assert!(parse_mail_from("alice@example.test", false).is_ok());
        assert!(parse_mail_from("josé@example.test", true).is_ok());
    }
}
