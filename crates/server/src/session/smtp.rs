//! SMTP sessions (MX and submission). Mail transactions and AUTH need the
//! store and the authentication service; until a server has them, the
//! answers below are the honest ones: no mail can be accepted and no login
//! can succeed, and they say so with temporary codes.

use std::net::SocketAddr;

use postern_config::Listener;
use postern_smtp_proto::cmd::Command;
use postern_smtp_proto::{Event, Options, Server};
use postern_types::{Service, TlsInfo, TlsMode};

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};

/// Creates SMTP sessions for one listener.
#[derive(Debug, Clone)]
pub struct SmtpFactory {
    hostname: String,
    submission: bool,
    starttls: bool,
}

impl SmtpFactory {
    pub fn new(hostname: String, listener: &Listener) -> Self {
        Self {
            hostname,
            submission: listener.service == Service::Submission,
            starttls: listener.tls == TlsMode::StartTls,
        }
    }
}

impl SessionFactory for SmtpFactory {
    type Session = SmtpSession;

    fn protocol(&self, tls: Option<TlsInfo>, starttls_offered: bool) -> Server {
        let opts = Options {
            hostname: self.hostname.clone(),
            tls_active: tls.is_some(),
            starttls_offered: starttls_offered && self.starttls,
            submission: self.submission,
            ..Options::default()
        };
        match tls {
            Some(info) => Server::new(opts).with_tls_info(info),
            None => Server::new(opts),
        }
    }

    fn session(&self, _peer: SocketAddr) -> SmtpSession {
        SmtpSession {
            submission: self.submission,
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 5321 §3.8: 421 and close when the service is not available.
        b"421 4.7.0 Too many connections from your address, try again later\r\n"
    }
}

/// One SMTP session.
#[derive(Debug)]
pub struct SmtpSession {
    submission: bool,
}

impl Session for SmtpSession {
    type Proto = Server;

    async fn handle(&mut self, smtp: &mut Server, event: Event) -> Control {
        match event {
            Event::StartTls => {
                smtp.accept_starttls();
                Control::StartTls
            }
            Event::Command(cmd) => {
                self.command(smtp, &cmd);
                Control::Continue
            }
            Event::ChunkData { end_of_chunk, .. } => {
                if end_of_chunk {
                    smtp.reply(503, Some("5.5.1"), "No mail transaction in progress");
                }
                Control::Continue
            }
            _ => Control::Continue,
        }
    }
}

impl SmtpSession {
    fn command(&self, smtp: &mut Server, cmd: &Command) {
        match cmd {
            Command::Mail(_) | Command::Rcpt(_) => smtp.reply(
                451,
                Some("4.3.2"),
                "This server does not accept mail yet, try again later",
            ),
            Command::Data => smtp.reply(503, Some("5.5.1"), "No mail transaction in progress"),
            // BDAT is answered once its chunk has been read (RFC 3030 §2).
            Command::Bdat(_) => {}
            Command::Auth(_) if !self.submission => smtp.reply(
                503,
                Some("5.5.1"),
                "AUTH is offered on the submission ports only",
            ),
            // RFC 4954 §6: 454 when the server cannot authenticate now.
            Command::Auth(_) => smtp.reply(454, Some("4.7.0"), "Temporary authentication failure"),
            // RFC 5321 §3.5.3: 252 says nothing about whether a user exists.
            Command::Vrfy(_) => smtp.reply(
                252,
                Some("2.5.0"),
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Expn(_) => smtp.reply(502, Some("5.5.1"), "EXPN is not offered"),
            _ => smtp.reply(502, Some("5.5.1"), "Command not implemented"),
        }
    }
}
