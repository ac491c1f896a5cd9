//! Secure defaults, each with its reason.

use std::time::Duration;

use postern_types::{Service, TlsMode};

use crate::Limits;

const MINUTE: Duration = Duration::from_secs(60);

/// The standard port and TLS mode of each well-known listener name, and the
/// dev port used by `--dev-ports` (non-root, above 1024).
pub struct WellKnown {
    pub name: &'static str,
    pub service: Service,
    pub tls: TlsMode,
    pub port: u16,
    pub dev_port: u16,
}

/// The listeners `postern init` writes. Port 25 stays plain with STARTTLS
/// for other servers (RFC 3207); people submit over TLS only (RFC 8314 §3:
/// implicit TLS preferred, STARTTLS still offered on 587/143/110).
pub const WELL_KNOWN: &[WellKnown] = &[
    wk("smtp", Service::Smtp, TlsMode::StartTls, 25, 2525),
    wk(
        "submission",
        Service::Submission,
        TlsMode::StartTls,
        587,
        2587,
    ),
    wk(
        "submissions",
        Service::Submission,
        TlsMode::Implicit,
        465,
        2465,
    ),
    wk("imap", Service::Imap, TlsMode::StartTls, 143, 2143),
    wk("imaps", Service::Imap, TlsMode::Implicit, 993, 2993),
    wk("pop3", Service::Pop3, TlsMode::StartTls, 110, 2110),
    wk("pop3s", Service::Pop3, TlsMode::Implicit, 995, 2995),
    wk("http", Service::Http, TlsMode::None, 80, 8080),
    wk("https", Service::Https, TlsMode::Implicit, 443, 8443),
    wk("metrics", Service::Metrics, TlsMode::None, 9187, 9187),
];

const fn wk(
    name: &'static str,
    service: Service,
    tls: TlsMode,
    port: u16,
    dev_port: u16,
) -> WellKnown {
    WellKnown {
        name,
        service,
        tls,
        port,
        dev_port,
    }
}

/// Default limits for a service.
pub fn limits(service: Service) -> Limits {
    let base = Limits {
        // Postfix's default_process_limit is 100 processes; one task costs far
        // less, so allow 1000 concurrent sessions per listener.
        max_connections: 1000,
        // Postfix smtpd_client_connection_count_limit is 50; a mail client
        // opens a handful (Thunderbird: 5 per IMAP account by default).
        max_connections_per_ip: 20,
        // A handshake is a few round trips; 10 s covers slow links and
        // bounds half-open TLS attempts.
        handshake_timeout: Duration::from_secs(10),
        pre_auth_timeout: MINUTE,
        authenticated_timeout: 30 * MINUTE,
        data_timeout: 5 * MINUTE,
        idle_timeout: 31 * MINUTE,
        write_timeout: MINUTE,
        session_timeout: 24 * 60 * MINUTE,
    };
    match service {
        // RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the
        // next command; §4.5.3.2.5: at least 3 minutes for a DATA block.
        Service::Smtp | Service::Submission => Limits {
            pre_auth_timeout: 5 * MINUTE,
            authenticated_timeout: 5 * MINUTE,
            session_timeout: 60 * MINUTE,
            ..base
        },
        // RFC 9051 §5.4: the inactivity autologout timer is at least 30
        // minutes once authenticated; IDLE clients re-issue every 29 minutes
        // (RFC 2177), so idle waits 31.
        Service::Imap => base,
        // RFC 1939 §3: the autologout timer is at least 10 minutes.
        Service::Pop3 => Limits {
            authenticated_timeout: 10 * MINUTE,
            session_timeout: 60 * MINUTE,
            ..base
        },
        Service::Http | Service::Https => Limits {
            max_connections_per_ip: 50,
            pre_auth_timeout: MINUTE,
            session_timeout: 60 * MINUTE,
            ..base
        },
        // A scraper makes one short request; nothing should linger.
        Service::Metrics => Limits {
            max_connections: 16,
            max_connections_per_ip: 4,
            pre_auth_timeout: Duration::from_secs(10),
            session_timeout: MINUTE,
            ..base
        },
    }
}
