//! A listener in proxy mode (`mode = "proxy"`): TLS and the login are
//! handled here, then the protocol is relayed to an upstream server (an
//! existing Dovecot, Postfix, Exchange...). See docs/proxy.md.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use postern_types::Service;

use crate::file::ListenerSection;
use crate::resolve::Resolver;

/// What a proxy listener relays to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The default back end.
    pub upstream: Upstream,
    /// How the back end is reached.
    pub upstream_tls: UpstreamTls,
    /// Verify the back end against this CA bundle instead of the system's
    /// roots.
    pub upstream_ca: Option<PathBuf>,
    /// The name the back end's certificate must carry (default: its host).
    pub upstream_name: Option<String>,
    /// The SHA-256 of the back end's certificate (DER), base64: when set,
    /// that certificate is accepted and no CA is asked.
    pub upstream_pin: Option<String>,
    /// How the client's address reaches the back end.
    pub client_address: ClientAddress,
    /// Per-user back ends, most specific first: exact addresses, then
    /// `*@domain`.
    pub routes: Vec<Route>,
}

impl ProxyConfig {
    /// A proxy to one back end, every other setting at its default.
    pub fn new(upstream: Upstream) -> Self {
        Self {
            upstream,
            upstream_tls: UpstreamTls::None,
            upstream_ca: None,
            upstream_name: None,
            upstream_pin: None,
            client_address: ClientAddress::None,
            routes: Vec::new(),
        }
    }

    /// The back end of a login name: an exact route, else the route of its
    /// domain, else the default upstream. Names compare without case (the
    /// local part too: mail servers that differ by case in logins are rare,
    /// and a route that misses sends the user to the wrong back end).
    pub fn backend_for(&self, user: &str) -> &Upstream {
        let user = user.to_ascii_lowercase();
        let domain = user.rsplit_once('@').map(|(_, d)| d);
        let exact = self
            .routes
            .iter()
            .find(|r| matches!(&r.pattern, RoutePattern::Address(a) if *a == user));
        let by_domain = || {
            self.routes.iter().find(
                |r| matches!(&r.pattern, RoutePattern::Domain(d) if Some(d.as_str()) == domain),
            )
        };
        exact
            .or_else(by_domain)
            .map_or(&self.upstream, |r| &r.upstream)
    }

    /// The back ends reached in clear text on another machine: a password
    /// crosses that link readable, which the server says at start.
    pub fn cleartext_remote(&self) -> Vec<&Upstream> {
        if self.upstream_tls != UpstreamTls::None {
            return Vec::new();
        }
        std::iter::once(&self.upstream)
            .chain(self.routes.iter().map(|r| &r.upstream))
            .filter(|u| !u.is_loopback())
            .collect()
    }
}

/// A back end's address: a host name or IP address, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

impl Upstream {
    /// Parses `host:port`, `1.2.3.4:port` or `[v6]:port`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hint = "expected HOST:PORT, e.g. \"10.0.0.5:143\" or \"[2001:db8::5]:143\"";
        let (host, port) = s.rsplit_once(':').ok_or_else(|| hint.to_owned())?;
        let port: u16 = port.parse().map_err(|_| hint.to_owned())?;
        let host = match host.strip_prefix('[') {
            Some(rest) => rest.strip_suffix(']').ok_or_else(|| hint.to_owned())?,
            None if host.contains(':') => return Err(hint.to_owned()),
            None => host,
        };
        let valid = host.parse::<IpAddr>().is_ok() || crate::resolve::is_dns_name(host);
        if host.is_empty() || port == 0 || !valid {
            return Err(hint.to_owned());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// On this machine (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `upstream_tls`: how the back end is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTls {
    /// Plain text: fine on loopback or a private link.
    None,
    /// Plain text, then STARTTLS/STLS before the login.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

impl UpstreamTls {
    pub const NAMES: [&'static str; 3] = ["none", "starttls", "implicit"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "implicit" => Some(Self::Implicit),
            _ => None,
        }
    }
}

/// `client_address`: how the back end learns who the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress {
    None,
    /// The HAProxy PROXY protocol, version 2 (binary header first).
    ProxyV2,
    /// Postfix's XCLIENT command (SMTP only).
    Xclient,
    /// IMAP ID with `x-originating-ip` (RFC 2971; Dovecot reads it).
    Id,
}

impl ClientAddress {
    pub const NAMES: [&'static str; 4] = ["none", "proxy-v2", "xclient", "id"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "proxy-v2" => Some(Self::ProxyV2),
            "xclient" => Some(Self::Xclient),
            "id" => Some(Self::Id),
            _ => None,
        }
    }
}

/// One `[listener.routes]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub pattern: RoutePattern,
    pub upstream: Upstream,
}

/// Whom a route is for (lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutePattern {
    /// `"alice@example.com"`
    Address(String),
    /// `"*@example.org"`
    Domain(String),
}

impl RoutePattern {
    fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        let (local, domain) = s.rsplit_once('@')?;
        if local.is_empty() || !crate::resolve::is_dns_name(domain) {
            return None;
        }
        Some(match local {
            "*" => Self::Domain(domain.to_owned()),
            _ => Self::Address(s.clone()),
        })
    }
}

impl Resolver<'_> {
    /// `None` for an ordinary (`mode = "serve"`) listener.
    pub(crate) fn proxy(
        &mut self,
        key: &str,
        service: Service,
        s: &ListenerSection,
    ) -> Option<ProxyConfig> {
        match s.mode.as_deref() {
            None | Some("serve") => {
                self.no_proxy_keys(key, s);
                None
            }
            Some("proxy") => self.proxy_section(key, service, s),
            Some(other) => {
                self.error(
                    format!("{key}: mode = \"{other}\""),
                    "expected \"serve\" (answer from this server's store) or \"proxy\" (relay to an upstream server)",
                );
                None
            }
        }
    }

    /// Proxy keys on a served listener would be silently ignored: say so.
    fn no_proxy_keys(&mut self, key: &str, s: &ListenerSection) {
        let set = [
            ("upstream", s.upstream.is_some()),
            ("upstream_tls", s.upstream_tls.is_some()),
            ("upstream_ca", s.upstream_ca.is_some()),
            ("upstream_name", s.upstream_name.is_some()),
            ("upstream_pin", s.upstream_pin.is_some()),
            ("client_address", s.client_address.is_some()),
            ("routes", s.routes.is_some()),
        ];
        for (name, _) in set.iter().filter(|(_, on)| *on) {
            self.error(
                format!("{key}: {name}"),
                "only a proxy listener uses it; add mode = \"proxy\" or remove it",
            );
        }
    }

    fn proxy_section(
        &mut self,
        key: &str,
        service: Service,
        s: &ListenerSection,
    ) -> Option<ProxyConfig> {
        if !matches!(
            service,
            Service::Smtp | Service::Submission | Service::Imap | Service::Pop3
        ) {
            self.error(
                format!("{key}: mode = \"proxy\""),
                "only smtp, submission, imap and pop3 listeners can proxy; use mode = \"serve\" here",
            );
            return None;
        }
        let upstream = self.upstream(key, "upstream", s.upstream.as_deref())?;
        let mut config = ProxyConfig::new(upstream);
        config.upstream_tls = self.upstream_tls(key, s.upstream_tls.as_deref());
        self.upstream_verification(key, s, &mut config);
        config.client_address = self.client_address(key, service, s.client_address.as_deref());
        config.routes = self.proxy_routes(key, service, s.routes.as_ref());
        Some(config)
    }

    fn upstream(&mut self, key: &str, name: &str, value: Option<&str>) -> Option<Upstream> {
        let Some(v) = value else {
            self.error(
                format!("{key}: {name}"),
                "missing; a proxy listener needs the back end's HOST:PORT, e.g. upstream = \"10.0.0.5:143\"",
            );
            return None;
        };
        match Upstream::parse(v) {
            Ok(u) => Some(u),
            Err(why) => {
                self.error(format!("{key}: {name} = \"{v}\""), why);
                None
            }
        }
    }

    fn upstream_tls(&mut self, key: &str, value: Option<&str>) -> UpstreamTls {
        let Some(v) = value else {
            return UpstreamTls::None;
        };
        UpstreamTls::parse(v).unwrap_or_else(|| {
            self.error(
                format!("{key}: upstream_tls = \"{v}\""),
                format!("expected one of {}", UpstreamTls::NAMES.join(", ")),
            );
            UpstreamTls::None
        })
    }

    /// `upstream_ca`, `upstream_name`, `upstream_pin`: only with TLS to the
    /// back end, and a pin or a CA, not both.
    fn upstream_verification(&mut self, key: &str, s: &ListenerSection, c: &mut ProxyConfig) {
        let keys = [
            ("upstream_ca", s.upstream_ca.is_some()),
            ("upstream_name", s.upstream_name.is_some()),
            ("upstream_pin", s.upstream_pin.is_some()),
        ];
        if c.upstream_tls == UpstreamTls::None {
            for (name, _) in keys.iter().filter(|(_, on)| *on) {
                self.error(
                    format!("{key}: {name}"),
                    "only used with TLS to the back end; set upstream_tls = \"implicit\" or \"starttls\", or remove it",
                );
            }
            return;
        }
        if s.upstream_ca.is_some() && s.upstream_pin.is_some() {
            self.error(
                format!("{key}: upstream_pin"),
                "a pinned certificate is accepted without any CA; remove upstream_ca or upstream_pin",
            );
        }
        c.upstream_ca = s.upstream_ca.as_deref().map(|p| self.path_of(p));
        c.upstream_name = s.upstream_name.clone();
        if let Some(name) = &c.upstream_name {
            if name.parse::<IpAddr>().is_err() && !crate::resolve::is_dns_name(name) {
                self.error(
                    format!("{key}: upstream_name = \"{name}\""),
                    "expected the DNS name (or IP address) in the back end's certificate",
                );
            }
        }
        c.upstream_pin = s.upstream_pin.as_deref().and_then(|p| self.pin(key, p));
    }

    /// `sha256/BASE64`: 32 octets in base64 are 43 characters and one `=`.
    fn pin(&mut self, key: &str, pin: &str) -> Option<String> {
        let b64 = pin.strip_prefix("sha256/").unwrap_or("");
        let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
        let (body, pad) = b64.split_at(b64.len().min(43));
        if body.len() == 43 && body.chars().all(alphabet) && pad == "=" {
            return Some(b64.to_owned());
        }
        self.error(
            format!("{key}: upstream_pin = \"{pin}\""),
            "expected \"sha256/\" and the base64 SHA-256 of the back end's certificate (DER), e.g. from `openssl x509 -in cert.pem -outform DER | openssl dgst -sha256 -binary | base64`",
        );
        None
    }

    fn client_address(&mut self, key: &str, service: Service, v: Option<&str>) -> ClientAddress {
        let Some(v) = v else {
            return ClientAddress::None;
        };
        let Some(mode) = ClientAddress::parse(v) else {
            self.error(
                format!("{key}: client_address = \"{v}\""),
                format!("expected one of {}", ClientAddress::NAMES.join(", ")),
            );
            return ClientAddress::None;
        };
        let smtp = matches!(service, Service::Smtp | Service::Submission);
        let refused = match mode {
            ClientAddress::Xclient if !smtp => Some("xclient is an SMTP command; use proxy-v2"),
            ClientAddress::Id if service != Service::Imap => {
                Some("id is an IMAP command; use proxy-v2 (or xclient for SMTP)")
            }
            _ => None,
        };
        if let Some(why) = refused {
            self.error(format!("{key}: client_address = \"{v}\""), why);
        }
        mode
    }

    fn proxy_routes(
        &mut self,
        key: &str,
        service: Service,
        routes: Option<&BTreeMap<String, String>>,
    ) -> Vec<Route> {
        let Some(routes) = routes else {
            return Vec::new();
        };
        if service == Service::Smtp && !routes.is_empty() {
            self.error(
                format!("{key}: routes"),
                "an MX (smtp) listener has no login to route by; remove [listener.routes] or use a submission, imap or pop3 listener",
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (who, to) in routes {
            let Some(pattern) = RoutePattern::parse(who) else {
                self.error(
                    format!("{key}: routes.\"{who}\""),
                    "expected a login address (\"alice@example.com\") or a whole domain (\"*@example.org\")",
                );
                continue;
            };
            let name = format!("routes.\"{who}\"");
            if let Some(upstream) = self.upstream(key, &name, Some(to)) {
                out.push(Route { pattern, upstream });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(s: &str) -> Upstream {
        Upstream::parse(s).unwrap()
    }

    #[test]
    fn upstream_addresses() {
        assert_eq!(upstream("10.0.0.5:143").to_string(), "10.0.0.5:143");
        assert_eq!(upstream("[2001:db8::5]:993").host, "2001:db8::5");
        assert_eq!(
            upstream("[2001:db8::5]:993").to_string(),
            "[2001:db8::5]:993"
        );
        assert_eq!(upstream("mail.internal:25").host, "mail.internal");
        for bad in [
            "10.0.0.5",
            "2001:db8::5:143",
            "host:0",
            ":143",
            "host:x",
            "a b:1",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
        assert!(upstream("127.0.0.1:143").is_loopback());
        assert!(upstream("[::1]:143").is_loopback());
        assert!(!upstream("10.0.0.5:143").is_loopback());
    }

    #[test]
    fn routes_choose_exact_then_domain_then_default() {
        let mut c = ProxyConfig::new(upstream("10.0.0.5:143"));
        c.routes = vec![
            Route {
                pattern: RoutePattern::Domain("example.org".into()),
                upstream: upstream("10.0.0.7:143"),
            },
            Route {
                pattern: RoutePattern::Address("alice@example.org".into()),
                upstream: upstream("10.0.0.6:143"),
            },
        ];
        assert_eq!(c.backend_for("Alice@Example.org").host, "10.0.0.6");
        assert_eq!(c.backend_for("bob@example.org").host, "10.0.0.7");
        assert_eq!(c.backend_for("bob@example.com").host, "10.0.0.5");
        assert_eq!(c.backend_for("bob").host, "10.0.0.5");
    }

    #[test]
    fn cleartext_remote_lists_only_plain_non_loopback() {
        let mut c = ProxyConfig::new(upstream("127.0.0.1:143"));
        assert!(c.cleartext_remote().is_empty());
        c.upstream = upstream("10.0.0.5:143");
        assert_eq!(c.cleartext_remote().len(), 1);
        c.upstream_tls = UpstreamTls::Implicit;
        assert!(c.cleartext_remote().is_empty());
    }

    fn parse(listener: &str) -> Result<crate::Config, String> {
        let text = format!(
            "[server]\nhostname = \"mail.example.com\"\n\n[[certificate]]\nname = \"main\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:993\"\n{listener}\n"
        );
        crate::Config::parse(std::path::Path::new("/etc/postern/postern.toml"), &text)
            .map_err(|e| e.to_string())
    }

    fn proxy_of(listener: &str) -> ProxyConfig {
        let c = parse(listener).unwrap();
        c.listeners[0].proxy.clone().expect("a proxy listener")
    }

    #[test]
    fn a_complete_section_resolves() {
        let p = proxy_of(
            "mode = \"proxy\"\nupstream = \"10.0.0.5:993\"\nupstream_tls = \"implicit\"\nupstream_ca = \"backend-ca.pem\"\nupstream_name = \"mail.internal\"\nclient_address = \"proxy-v2\"\n[listener.routes]\n\"alice@example.com\" = \"10.0.0.6:993\"\n\"*@example.org\" = \"10.0.0.7:993\"",
        );
        assert_eq!(p.upstream.to_string(), "10.0.0.5:993");
        assert_eq!(p.upstream_tls, UpstreamTls::Implicit);
        assert_eq!(
            p.upstream_ca,
            Some(PathBuf::from("/etc/postern/backend-ca.pem"))
        );
        assert_eq!(p.upstream_name.as_deref(), Some("mail.internal"));
        assert_eq!(p.client_address, ClientAddress::ProxyV2);
        assert_eq!(p.backend_for("alice@example.com").host, "10.0.0.6");
        assert_eq!(p.backend_for("carol@example.org").host, "10.0.0.7");
        let served = parse("").unwrap();
        assert_eq!(served.listeners[0].proxy, None);
    }

    #[test]
    fn mistakes_are_named_with_what_to_do() {
        let cases = [
            ("mode = \"relay\"", "mode = \"relay\""),
            ("mode = \"proxy\"", "upstream: missing"),
            ("upstream = \"10.0.0.5:143\"", "add mode = \"proxy\""),
            ("mode = \"proxy\"\nupstream = \"10.0.0.5\"", "expected HOST:PORT"),
            ("mode = \"proxy\"\nupstream = \"h:1\"\nupstream_tls = \"tls\"", "expected one of none"),
            ("mode = \"proxy\"\nupstream = \"h:1\"\nupstream_ca = \"ca.pem\"", "set upstream_tls"),
            ("mode = \"proxy\"\nupstream = \"h:1\"\nupstream_tls = \"implicit\"\nupstream_pin = \"sha256/abc\"", "upstream_pin"),
            ("mode = \"proxy\"\nupstream = \"h:1\"\nclient_address = \"xclient\"", "use proxy-v2"),
            ("mode = \"proxy\"\nupstream = \"h:1\"\n[listener.routes]\n\"nobody\" = \"h:2\"", "routes.\"nobody\""),
        ];
        for (section, wanted) in cases {
            let e = parse(section).unwrap_err();
            assert!(e.contains(wanted), "{section}: {e}");
        }
        let pin = format!("sha256/{}=", "A".repeat(43));
        let both = format!("mode = \"proxy\"\nupstream = \"h:1\"\nupstream_tls = \"implicit\"\nupstream_pin = \"{pin}\"");
        assert_eq!(proxy_of(&both).upstream_pin, Some(pin[7..].to_owned()));
        let e = parse(&format!("{both}\nupstream_ca = \"ca.pem\"")).unwrap_err();
        assert!(e.contains("remove upstream_ca or upstream_pin"), "{e}");
    }

    #[test]
    fn an_mx_listener_has_no_routes() {
        let mx = "mode = \"proxy\"\nupstream = \"10.0.0.5:25\"\n[listener.routes]\n\"*@example.org\" = \"10.0.0.7:25\"";
        let text = format!(
            "[server]\nhostname = \"mail.example.com\"\n\n[[certificate]]\nname = \"main\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n\n[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:25\"\n{mx}\n"
        );
        let e = crate::Config::parse(std::path::Path::new("/etc/postern/postern.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("listener \"smtp\": routes") && e.contains("no login to route by"),
            "{e}"
        );
    }

    #[test]
    fn route_patterns() {
        assert_eq!(
            RoutePattern::parse("*@Example.org"),
            Some(RoutePattern::Domain("example.org".into()))
        );
        assert_eq!(
            RoutePattern::parse("a@example.org"),
            Some(RoutePattern::Address("a@example.org".into()))
        );
        assert_eq!(RoutePattern::parse("example.org"), None);
        assert_eq!(RoutePattern::parse("@example.org"), None);
    }
}
