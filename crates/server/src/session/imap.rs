//! IMAP sessions. Mailbox access over IMAP is not served yet: every login
//! gets the same `NO [UNAVAILABLE]` (RFC 5530), before any credential is
//! looked at, so the answer says nothing about which accounts exist.

use std::net::SocketAddr;

use postern_imap_proto::{Event, Options, Server};
use postern_types::TlsInfo;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};

/// Creates IMAP sessions.
#[derive(Debug, Clone)]
pub struct ImapFactory {
    hostname: String,
}

impl ImapFactory {
    pub fn new(hostname: String) -> Self {
        Self { hostname }
    }
}

impl SessionFactory for ImapFactory {
    type Session = ImapSession;

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

    fn session(&self, _peer: SocketAddr) -> ImapSession {
        ImapSession
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 9051 §7.1.5: BYE as the greeting refuses the connection.
        b"* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n"
    }
}

/// One IMAP session.
#[derive(Debug)]
pub struct ImapSession;

impl Session for ImapSession {
    type Proto = Server;

    async fn handle(&mut self, imap: &mut Server, event: Event) -> Control {
        match event {
            Event::StartTls { tag } => {
                imap.accept_starttls(&tag);
                return Control::StartTls;
            }
            Event::Login { tag, .. } | Event::Authenticate { tag, .. } => imap.tagged_no(
                &tag,
                Some("UNAVAILABLE"),
                "Mailbox access over IMAP is not available on this server yet; use POP3",
            ),
            // RFC 9051 §6.3: mailbox commands are valid only once
            // authenticated.
            Event::Command { tag, name, .. } => {
                imap.tagged_bad(&tag, None, &format!("{name} is not valid before login"))
            }
            _ => {}
        }
        Control::Continue
    }
}
