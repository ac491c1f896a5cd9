//! POP3 sessions. Maildrops need the store and the authentication service;
//! until a server has accounts, every login fails, identically for every
//! user name, so nothing can be learnt about which accounts exist.

use std::net::SocketAddr;

use postern_pop3_proto::{Event, Options, Server};
use postern_types::TlsInfo;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};

/// Creates POP3 sessions.
#[derive(Debug, Clone)]
pub struct Pop3Factory {
    hostname: String,
}

impl Pop3Factory {
    pub fn new(hostname: String) -> Self {
        Self { hostname }
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

    fn session(&self, _peer: SocketAddr) -> Pop3Session {
        Pop3Session
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 3206 §4: SYS/TEMP for a temporary system problem.
        b"-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n"
    }
}

/// One POP3 session.
#[derive(Debug)]
pub struct Pop3Session;

impl Session for Pop3Session {
    type Proto = Server;

    async fn handle(&mut self, pop3: &mut Server, event: Event) -> Control {
        match event {
            Event::StartTls => {
                pop3.accept_stls();
                return Control::StartTls;
            }
            // RFC 1939 §7: USER may be accepted whatever the name, so the
            // answer to PASS is the only one, and it is the same for all.
            Event::User { .. } => pop3.ok("Send PASS"),
            Event::Pass { .. } | Event::Auth { .. } => {
                pop3.err(Some("AUTH"), "Authentication failed")
            }
            Event::Command { .. } => pop3.err(None, "Log in first"),
            _ => pop3.err(None, "Command not available"),
        }
        Control::Continue
    }
}
