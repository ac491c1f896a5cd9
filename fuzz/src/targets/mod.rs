//! One fuzz target per parser, each with its seeds and the invariants it
//! asserts on every input.
//!
//! # Layout
//! - `session` (private): drives a sans-I/O core the way
//!   `server::driver::drive` does, with the checks all cores share.
//! - `smtp`, `imap`, `pop3`: the protocol cores (MX, submission and
//!   implicit-TLS SMTP; IMAP and POP3 plain or TLS by a header bit).
//! - `imap_message`: the message structure FETCH serves (`postern-message`).
//! - `config`: `Config::parse` and `duration::parse`.
//! - `http`: `http_lite::parse_head`, `redirect` and the `OneRequest` core.
//! - `tls`: PEM and PKCS#12 loading, certificate inspection.
//! - `outbound`: the SMTP client's replies, MTA-STS TXT, HTTP and policy.
//! - `web`: the compose form's multipart bodies and the message writer.
//! - `dav`: CalDAV request bodies and iCalendar objects (`postern-dav`).
//! - `imip`: invitations by mail, read and answered (`postern-dav`).
//! - `proxy`: the proxy listeners' pre-login core and its relay.
//! - `tlsrpt`: TLS reporting's JSON, journal, `rua` record and day names.

mod config;
mod dav;
mod http;
mod imap;
mod imap_message;
mod imip;
mod outbound;
mod pop3;
mod proxy;
mod session;
mod smtp;
mod tls;
mod tlsrpt;
mod web;

use crate::{Budget, Failure, Stats};

/// A fuzz target: a parser, what it promises, where to start.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name used by the tests, the artifacts and `replay`.
    pub name: &'static str,
    /// What is fed and what is checked, in one line.
    pub about: &'static str,
    /// Runs one input; panics when an invariant breaks.
    pub run: fn(&[u8]),
    /// Valid inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

impl Target {
    /// Fuzzes this target from its seeds.
    pub fn fuzz(&self, budget: Budget) -> Result<Stats, Box<Failure>> {
        let seeds = (self.seeds)();
        let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        crate::run(self.name, &self.run, &seeds, budget)
    }
}

/// Every target.
pub const ALL: &[Target] = &[
    smtp::MX,
    smtp::SUBMISSION,
    smtp::TLS,
    imap::TARGET,
    imap_message::TARGET,
    pop3::TARGET,
    config::CONFIG,
    config::DURATION,
    http::HEAD,
    http::CORE,
    tls::PEM,
    tls::PKCS12,
    tls::CERT,
    outbound::SMTP_REPLY,
    outbound::MTA_STS_POLICY,
    outbound::MTA_STS_TXT,
    outbound::MTA_STS_HTTP,
    web::MULTIPART,
    web::WRITE,
    dav::XML,
    dav::ICAL,
    imip::TARGET,
    proxy::FRONT,
    tlsrpt::JSON,
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_file_safe() {
        for (i, t) in ALL.iter().enumerate() {
            assert!(t
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
            assert!(ALL[i + 1..].iter().all(|u| u.name != t.name), "{}", t.name);
            assert!(find(t.name).is_some());
        }
    }
}
