//! `[smtp]` and `[outbound]`: what the SMTP listeners accept and how queued
//! mail leaves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{is_dns_name, Resolver};
use crate::file::{CaldavSection, MailAuthSection, OutboundSection, SmtpSection};
use crate::{
    AuthAction, CaldavConfig, MailAuthConfig, OutboundConfig, OutboundTls, RelayConfig, RelayTls,
    Route, SmtpConfig,
};

/// RFC 5321 §4.5.3.1.7: a server must accept messages of at least 64 KiB.
const MIN_MESSAGE_SIZE: u64 = 64 * 1024;
/// RFC 5321 §4.5.3.1.8: at least 100 recipients per message.
const MIN_RECIPIENTS: usize = 100;

/// A CalDAV request must hold at least one ordinary event with its
/// time zones.
const MIN_CALDAV_REQUEST: u64 = 64 * 1024;

impl Resolver<'_> {
    pub(super) fn mail_auth(&mut self, s: MailAuthSection) -> MailAuthConfig {
        let default = MailAuthConfig::default();
        MailAuthConfig {
            verify: s.verify.unwrap_or(default.verify),
            dmarc_reject: self.auth_action(
                "mail_auth.dmarc_reject",
                s.dmarc_reject,
                default.dmarc_reject,
            ),
            dmarc_quarantine: self.auth_action(
                "mail_auth.dmarc_quarantine",
                s.dmarc_quarantine,
                default.dmarc_quarantine,
            ),
            spf_fail: self.auth_action("mail_auth.spf_fail", s.spf_fail, default.spf_fail),
        }
    }

    fn auth_action(&mut self, key: &str, value: Option<String>, default: AuthAction) -> AuthAction {
        match value.as_deref() {
            None => default,
            Some("reject") => AuthAction::Reject,
            Some("quarantine") => AuthAction::Quarantine,
            Some("accept") => AuthAction::Accept,
            Some(other) => {
                self.error(
                    format!("{key} = \"{other}\""),
                    "must be \"reject\", \"quarantine\" or \"accept\"",
                );
                default
            }
        }
    }

    pub(super) fn caldav(&mut self, s: CaldavSection) -> CaldavConfig {
        let default = CaldavConfig::default();
        let max_request_size = s.max_request_size.unwrap_or(default.max_request_size);
        if max_request_size < MIN_CALDAV_REQUEST {
            self.error(
                format!("caldav.max_request_size = {max_request_size}"),
                format!("must be at least {MIN_CALDAV_REQUEST} octets: calendar clients send whole events with their time zones"),
            );
        }
        CaldavConfig { max_request_size }
    }

    pub(super) fn smtp(&mut self, s: SmtpSection) -> SmtpConfig {
        let default = SmtpConfig::default();
        let max_message_size = s.max_message_size.unwrap_or(default.max_message_size);
        if max_message_size < MIN_MESSAGE_SIZE {
            self.error(
                format!("smtp.max_message_size = {max_message_size}"),
                format!("must be at least {MIN_MESSAGE_SIZE} octets (RFC 5321 §4.5.3.1.7)"),
            );
        }
        let max_recipients = s.max_recipients.unwrap_or(default.max_recipients);
        if max_recipients < MIN_RECIPIENTS {
            self.error(
                format!("smtp.max_recipients = {max_recipients}"),
                format!("must be at least {MIN_RECIPIENTS} (RFC 5321 §4.5.3.1.8)"),
            );
        }
        let greeting_delay = match s.greeting_delay.as_deref() {
            None | Some("0s") => Duration::ZERO,
            Some(_) => self.duration_or("smtp.greeting_delay", s.greeting_delay, Duration::ZERO),
        };
        if greeting_delay > Duration::from_secs(30) {
            self.error(
                "smtp.greeting_delay",
                "must be at most 30s: senders give up after 5 minutes for the whole greeting (RFC 5321 §4.5.3.2.1), and legitimate servers should not wait long",
            );
        }
        SmtpConfig {
            max_message_size,
            max_recipients,
            greeting_delay,
        }
    }

    pub(super) fn outbound(&mut self, s: OutboundSection) -> OutboundConfig {
        let default = OutboundConfig::default();
        let relay = self.relay(&s);
        let routes = self.routes(s.routes.unwrap_or_default());
        let resolver = s
            .resolver
            .as_deref()
            .and_then(|r| self.socket_addr(&format!("outbound.resolver = \"{r}\""), r, 53));
        let retry_for = self.duration_or("outbound.retry_for", s.retry_for, default.retry_for);
        let concurrency_per_domain = s
            .concurrency_per_domain
            .unwrap_or(default.concurrency_per_domain);
        if concurrency_per_domain == 0 {
            self.error("outbound.concurrency_per_domain = 0", "must be at least 1");
        }
        OutboundConfig {
            relay,
            routes,
            resolver,
            retry_for,
            dane: s.dane.unwrap_or(default.dane),
            mta_sts: s.mta_sts.unwrap_or(default.mta_sts),
            ca_file: s.ca_file.as_deref().map(|p| self.path_of(p)),
            concurrency_per_domain,
            tls: self.tls_overrides(s.tls.unwrap_or_default()),
            tls_reports: s.tls_reports.unwrap_or(default.tls_reports),
        }
    }

    fn relay(&mut self, s: &OutboundSection) -> Option<RelayConfig> {
        let Some(relay) = s.relay.as_deref() else {
            for (key, set) in [
                ("relay_tls", s.relay_tls.is_some()),
                ("relay_username", s.relay_username.is_some()),
                ("relay_password_file", s.relay_password_file.is_some()),
            ] {
                if set {
                    self.error(
                        format!("outbound.{key}"),
                        "only means something with outbound.relay = \"host:port\"",
                    );
                }
            }
            return None;
        };
        if s.relay_username.is_some() != s.relay_password_file.is_some() {
            self.error(
                "outbound.relay_username",
                "relay_username and relay_password_file go together (the password is read from the file, never written in this configuration)",
            );
        }
        let key = format!("outbound.relay = \"{relay}\"");
        let (host, port) = self.host_port(&key, relay)?;
        let tls = match s.relay_tls.as_deref() {
            None if port == 465 => RelayTls::Implicit,
            None | Some("starttls") => RelayTls::StartTls,
            Some("implicit") => RelayTls::Implicit,
            Some(other) => {
                self.error(
                    format!("outbound.relay_tls = \"{other}\""),
                    "expected \"starttls\" or \"implicit\" (a smarthost is never used without TLS)",
                );
                RelayTls::StartTls
            }
        };
        Some(RelayConfig {
            host,
            port,
            tls,
            username: s.relay_username.clone(),
            password_file: s.relay_password_file.as_deref().map(|p| self.path_of(p)),
        })
    }

    fn routes(&mut self, routes: BTreeMap<String, String>) -> Vec<Route> {
        let mut out = Vec::new();
        for (domain, target) in routes {
            let domain = domain.to_ascii_lowercase();
            let key = format!("outbound.routes.\"{domain}\" = \"{target}\"");
            if !is_dns_name(&domain) {
                self.error(key.clone(), "the key is not a valid domain name");
            }
            if let Some((host, port)) = self.host_port(&key, &target) {
                out.push(Route { domain, host, port });
            }
        }
        out
    }

    fn tls_overrides(&mut self, tls: BTreeMap<String, String>) -> Vec<(String, OutboundTls)> {
        let mut out = Vec::new();
        for (domain, value) in tls {
            let domain = domain.to_ascii_lowercase();
            let key = format!("outbound.tls.\"{domain}\" = \"{value}\"");
            if !is_dns_name(&domain) {
                self.error(key.clone(), "the key is not a valid domain name");
            }
            let requirement = match value.as_str() {
                "require-verified" => OutboundTls::RequireVerified,
                "require-tls" => OutboundTls::RequireTls,
                "opportunistic" => OutboundTls::Opportunistic,
                _ => {
                    self.error(
                        key,
                        "expected one of \"require-verified\", \"require-tls\", \"opportunistic\"",
                    );
                    continue;
                }
            };
            out.push((domain, requirement));
        }
        out
    }

    /// `host:port` or `[v6]:port`; the host is a DNS name or an IP literal.
    fn host_port(&mut self, key: &str, text: &str) -> Option<(String, u16)> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some((addr.ip().to_string(), addr.port()));
        }
        let parsed = text
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host.to_ascii_lowercase(), port.parse::<u16>().ok()?)));
        match parsed {
            Some((host, port)) if is_dns_name(&host) && port != 0 => Some((host, port)),
            _ => {
                self.error(
                    key,
                    "expected host:port, e.g. \"smtp.example.net:587\" or \"127.0.0.1:2525\"",
                );
                None
            }
        }
    }

    fn socket_addr(&mut self, key: &str, text: &str, default_port: u16) -> Option<SocketAddr> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some(addr);
        }
        if let Ok(ip) = text.parse::<std::net::IpAddr>() {
            return Some(SocketAddr::new(ip, default_port));
        }
        self.error(
            key,
            "expected an IP address with an optional port, e.g. \"127.0.0.1:53\"",
        );
        None
    }
}
