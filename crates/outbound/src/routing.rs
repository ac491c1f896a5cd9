//! Where a domain's mail goes: the smarthost, else a static route, else
//! the domain's MX hosts by preference (RFC 5321 §5.1), else the domain
//! itself (the implicit MX); a null MX (RFC 7505) refuses mail.

use std::net::IpAddr;

use crate::dns::{Answer, Dns, LookupError};
use crate::settings::Settings;

/// How a host was chosen, which decides the security policies that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Relay,
    Static,
    Mx,
    /// No MX: the domain's own address (RFC 5321 §5.1).
    Implicit,
}

/// One host to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub via: Via,
    /// The MX RRset was DNSSEC-authenticated (DANE needs it, RFC 7672
    /// §2.2.1); for an implicit MX, the domain's address records' status
    /// is checked later with the host's addresses.
    pub mx_secure: bool,
}

/// Why there is nowhere to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// RFC 7505 §3: the domain accepts no mail. Permanent.
    #[error("{0} accepts no mail (null MX, RFC 7505)")]
    NullMx(String),
    /// NXDOMAIN: permanent.
    #[error("{0}: no such domain")]
    NoSuchDomain(String),
    /// We are the best MX ourselves and nothing better exists (§5.1):
    /// a configuration error, retried until it is fixed.
    #[error("mail for {0} loops back to this server (it is the best MX)")]
    Loop(String),
    #[error("{0}")]
    Temporary(String),
}

impl RouteError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::NullMx(_) | Self::NoSuchDomain(_))
    }
}

/// The hosts to try for `domain`, best first.
pub async fn route(
    settings: &Settings,
    dns: &Dns,
    domain: &str,
) -> Result<Vec<Target>, RouteError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if let Some(r) = &settings.relay {
        return Ok(vec![target(&r.host, r.port, Via::Relay, false)]);
    }
    if let Some((host, port)) = settings.routes.get(&domain) {
        return Ok(vec![target(host, *port, Via::Static, false)]);
    }
    if domain_literal(&domain).is_some() {
        return Ok(vec![target(
            &domain,
            settings.mx_port,
            Via::Implicit,
            false,
        )]);
    }
    let mx = match dns.mx(&domain).await {
        Ok(a) => a,
        Err(LookupError::NoSuchDomain(_)) => return Err(RouteError::NoSuchDomain(domain)),
        Err(e) => return Err(RouteError::Temporary(e.to_string())),
    };
    if mx.records.is_empty() {
        return Ok(vec![target(
            &domain,
            settings.mx_port,
            Via::Implicit,
            false,
        )]);
    }
    let hosts = order_mx(&domain, mx.records, &settings.hostname)?;
    Ok(hosts
        .into_iter()
        .map(|h| target(&h, settings.mx_port, Via::Mx, mx.secure))
        .collect())
}

fn target(host: &str, port: u16, via: Via, mx_secure: bool) -> Target {
    Target {
        host: host.trim_end_matches('.').to_ascii_lowercase(),
        port,
        via,
        mx_secure,
    }
}

/// MX hosts by preference. A lone `0 .` is a null MX (RFC 7505 §3); `.`
/// among others is ignored. If we are one of the hosts, ours and the
/// worse ones are dropped (RFC 5321 §5.1). Equal preferences keep the
/// DNS order (which resolvers already rotate).
pub fn order_mx(
    domain: &str,
    mut records: Vec<(u16, String)>,
    me: &str,
) -> Result<Vec<String>, RouteError> {
    let is_null = |h: &str| h.is_empty() || h == ".";
    if records.len() == 1 && is_null(&records[0].1) {
        return Err(RouteError::NullMx(domain.to_owned()));
    }
    records.retain(|(_, h)| !is_null(h));
    records.sort_by_key(|(pref, _)| *pref);
    let me = me.trim_end_matches('.').to_ascii_lowercase();
    if let Some(mine) = records
        .iter()
        .find(|(_, h)| h.trim_end_matches('.').eq_ignore_ascii_case(&me))
    {
        let cut = mine.0;
        records.retain(|(p, _)| *p < cut);
        if records.is_empty() {
            return Err(RouteError::Loop(domain.to_owned()));
        }
    }
    Ok(records.into_iter().map(|(_, h)| h).collect())
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
pub fn domain_literal(s: &str) -> Option<IpAddr> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

/// A host's addresses: an IP literal as is, `localhost` as loopback
/// (RFC 6761 §6.3: never asked of DNS), the rest through DNS.
pub async fn resolve(dns: &Dns, host: &str) -> Result<Answer<IpAddr>, LookupError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Answer {
            records: vec![ip],
            secure: false,
        });
    }
    if let Some(ip) = domain_literal(host) {
        return Ok(Answer {
            records: vec![ip],
            secure: false,
        });
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(Answer {
            records: vec![IpAddr::from([127, 0, 0, 1])],
            secure: false,
        });
    }
    let a = dns.addresses(host).await?;
    if a.records.is_empty() {
        return Err(LookupError::Failed {
            name: host.to_owned(),
            reason: "no A or AAAA record".into(),
        });
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, h)| (*p, (*h).to_owned())).collect()
    }

    #[test]
    fn sorted_by_preference() {
        let got = order_mx(
            "example.net",
            mx(&[
                (20, "b.example.net"),
                (10, "a.example.net"),
                (30, "c.example.net"),
            ]),
            "me.example.org",
        )
        .unwrap();
        assert_eq!(got, ["a.example.net", "b.example.net", "c.example.net"]);
    }

    #[test]
    fn null_mx_is_a_permanent_refusal() {
        let e = order_mx("example.net", mx(&[(0, "")]), "me").unwrap_err();
        assert_eq!(e, RouteError::NullMx("example.net".into()));
        assert!(e.is_permanent());
        // A stray "." among real hosts is ignored.
        assert_eq!(
            order_mx("x", mx(&[(0, ""), (5, "mx.x")]), "me").unwrap(),
            ["mx.x"]
        );
    }

    #[test]
    fn never_relays_to_itself_or_worse() {
        let list = mx(&[
            (10, "a.example.net"),
            (20, "me.example.net"),
            (30, "c.example.net"),
        ]);
        assert_eq!(
            order_mx("example.net", list, "ME.example.net.").unwrap(),
            ["a.example.net"]
        );
        let only_me = mx(&[(10, "me.example.net"), (20, "c.example.net")]);
        assert!(matches!(
            order_mx("example.net", only_me, "me.example.net"),
            Err(RouteError::Loop(_))
        ));
    }

    #[test]
    fn literals() {
        assert_eq!(
            domain_literal("[192.0.2.1]"),
            Some(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(domain_literal("[IPv6:::1]"), Some("::1".parse().unwrap()));
        assert_eq!(domain_literal("example.net"), None);
    }
}
