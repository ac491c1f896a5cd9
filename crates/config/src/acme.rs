//! `[[acme]]`: certificates obtained and renewed automatically from an
//! ACME CA (RFC 8555). Each section keeps one `[[certificate]]`: its PEM
//! files are where every issued certificate is installed.
//!
//! ```toml
//! [[acme]]
//! certificate = "main"
//! directory = "https://acme-v02.api.letsencrypt.org/directory"
//! names = ["mail.example.org", "example.org"]
//! contact = ["mailto:postmaster@example.org"]
//! ```
//!
//! The checks that need only this section are in [`Resolver::acme`]; the
//! ones that need the certificates and listeners are in
//! [`reference_problems`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use postern_types::{Service, TlsMode};
use serde::Deserialize;

use crate::resolve::{is_dns_name, Resolver};
use crate::{CertSource, CertificateConfig, Listener};

/// The certificate key types an order may ask for (the `postern cert`
/// names); ECDSA P-256 first: small, fast, and accepted everywhere.
pub const KEY_TYPES: [&str; 5] = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096"];

/// `[[acme]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSection {
    pub certificate: Option<String>,
    pub directory: Option<String>,
    pub names: Option<Vec<String>>,
    pub challenge: Option<String>,
    pub contact: Option<Vec<String>>,
    pub key: Option<String>,
    pub ca_bundle: Option<String>,
    pub renew_before: Option<String>,
    pub eab_kid: Option<String>,
    pub eab_hmac_file: Option<String>,
    pub dns_server: Option<String>,
    pub dns_zone: Option<String>,
    pub tsig_key_name: Option<String>,
    pub tsig_algorithm: Option<String>,
    pub tsig_secret_file: Option<String>,
}

/// One resolved `[[acme]]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The `[[certificate]]` it keeps (its `cert`/`key` files are replaced).
    pub certificate: String,
    /// The CA's directory URL (RFC 8555 §7.1.1), always `https`.
    pub directory: String,
    /// DNS names, lowercase; the first is also the subject CN.
    pub names: Vec<String>,
    pub challenge: AcmeChallenge,
    /// `mailto:` URLs for the account (RFC 8555 §7.3).
    pub contact: Vec<String>,
    /// One of [`KEY_TYPES`].
    pub key: String,
    /// Extra roots (PEM) for the CA's HTTPS server: a private or test CA.
    pub ca_bundle: Option<PathBuf>,
    /// Renew this long before the end; `None`: once two thirds of the
    /// lifetime have passed.
    pub renew_before: Option<Duration>,
    /// External Account Binding (RFC 8555 §7.3.4), for CAs that need it.
    pub eab: Option<ExternalAccountBinding>,
}

/// How control of the names is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// RFC 8555 §8.3, answered by the `http` listener.
    Http01,
    /// RFC 8737, answered by the `https` listener (port 443).
    TlsAlpn01,
    /// RFC 8555 §8.4: TXT records published by RFC 2136 updates.
    Dns01(DnsUpdateConfig),
}

/// Where dns-01 records are published: the zone's primary, which takes
/// RFC 2136 updates signed with a TSIG key (RFC 8945).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsUpdateConfig {
    pub server: SocketAddr,
    /// Absolute (trailing dot); `None`: each name's parent.
    pub zone: Option<String>,
    pub key_name: String,
    /// The secret (base64, first line); never in the configuration itself.
    pub secret_file: PathBuf,
}

/// The TSIG algorithms offered: RFC 8945 §6 makes HMAC-SHA256 mandatory.
pub const TSIG_ALGORITHMS: [&str; 1] = ["hmac-sha256"];

/// The DNS server of `dns_server`: "ip:port", or an IP for port 53.
pub fn parse_dns_server(v: &str) -> Option<SocketAddr> {
    v.parse().ok().or_else(|| {
        v.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// The key id the CA gave and the file holding its MAC key (base64url, as
/// CAs hand it out); the key itself never sits in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccountBinding {
    pub kid: String,
    pub hmac_file: PathBuf,
}

/// The dns-01 keys of a section as written.
struct DnsFields {
    server: Option<String>,
    zone: Option<String>,
    key_name: Option<String>,
    algorithm: Option<String>,
    secret_file: Option<String>,
}

impl DnsFields {
    fn any(&self) -> bool {
        self.server.is_some()
            || self.zone.is_some()
            || self.key_name.is_some()
            || self.algorithm.is_some()
            || self.secret_file.is_some()
    }
}

impl Resolver<'_> {
    pub(crate) fn acme(&mut self, sections: Vec<AcmeSection>) -> Vec<AcmeConfig> {
        let mut out: Vec<AcmeConfig> = Vec::new();
        for (i, s) in sections.into_iter().enumerate() {
            let Some(a) = self.acme_section(i, s) else {
                continue;
            };
            if out.iter().any(|o| o.certificate == a.certificate) {
                self.error(
                    format!("acme \"{}\"", a.certificate),
                    "two [[acme]] sections keep this certificate; merge their names into one section",
                );
                continue;
            }
            out.push(a);
        }
        out
    }

    fn acme_section(&mut self, index: usize, s: AcmeSection) -> Option<AcmeConfig> {
        let Some(certificate) = s.certificate else {
            self.error(
                format!("acme #{}", index + 1),
                "missing certificate; name the [[certificate]] this section keeps, e.g. certificate = \"main\"",
            );
            return None;
        };
        let key = format!("acme \"{certificate}\"");
        let directory = self.acme_directory(&key, s.directory);
        let dns = DnsFields {
            server: s.dns_server,
            zone: s.dns_zone,
            key_name: s.tsig_key_name,
            algorithm: s.tsig_algorithm,
            secret_file: s.tsig_secret_file,
        };
        let challenge = self.acme_challenge(&key, s.challenge.as_deref(), dns);
        let wildcards = matches!(challenge, Some(AcmeChallenge::Dns01(_)));
        let names = self.acme_names(&key, s.names.unwrap_or_default(), wildcards);
        let contact = self.acme_contact(&key, s.contact.unwrap_or_default());
        let key_type = self.acme_key(&key, s.key);
        let renew_before = s
            .renew_before
            .map(|v| self.duration_or(&format!("{key}: renew_before"), Some(v), Duration::ZERO));
        let eab = self.acme_eab(&key, s.eab_kid, s.eab_hmac_file);
        Some(AcmeConfig {
            directory: directory?,
            names,
            challenge: challenge?,
            contact,
            key: key_type?,
            ca_bundle: s.ca_bundle.map(|p| self.path_of(&p)),
            renew_before: renew_before.filter(|d| !d.is_zero()),
            eab,
            certificate,
        })
    }

    fn acme_directory(&mut self, key: &str, directory: Option<String>) -> Option<String> {
        let Some(url) = directory else {
            self.error(
                key,
                "missing directory; give the CA's ACME directory URL, e.g. directory = \"https://acme-v02.api.letsencrypt.org/directory\"",
            );
            return None;
        };
        // RFC 8555 §6.1: ACME runs over HTTPS only.
        let host = url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.starts_with('/') {
            self.error(
                format!("{key}: directory = \"{url}\""),
                "not an https:// URL; ACME runs over HTTPS only (RFC 8555 §6.1)",
            );
            return None;
        }
        Some(url)
    }

    fn acme_names(&mut self, key: &str, names: Vec<String>, wildcards: bool) -> Vec<String> {
        if names.is_empty() {
            self.error(
                format!("{key}: names"),
                "no names; list the DNS names the certificate is for, e.g. names = [\"mail.example.org\"]",
            );
        }
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            // RFC 8555 §7.1.3: only dns-01 proves a wildcard.
            let base = n.strip_prefix("*.").unwrap_or(&n);
            if n.starts_with("*.") && !wildcards {
                self.error(
                    format!("{key}: names = \"{n}\""),
                    "a wildcard needs challenge = \"dns-01\" (RFC 8555 §7.1.3); use it, or list each host name instead",
                );
            } else if !is_dns_name(base) || !base.contains('.') {
                self.error(
                    format!("{key}: names = \"{n}\""),
                    "not a public DNS name (letters, digits, '-' and '.', at least two labels); CAs issue only for names they can resolve",
                );
            } else if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    fn acme_challenge(
        &mut self,
        key: &str,
        challenge: Option<&str>,
        dns: DnsFields,
    ) -> Option<AcmeChallenge> {
        let name = challenge.unwrap_or("http-01");
        if name != "dns-01" && dns.any() {
            self.error(
                key,
                "dns_server, dns_zone and the tsig_ keys are for challenge = \"dns-01\"; set it, or remove them",
            );
        }
        match name {
            "http-01" => Some(AcmeChallenge::Http01),
            "tls-alpn-01" => Some(AcmeChallenge::TlsAlpn01),
            "dns-01" => self.acme_dns(key, dns).map(AcmeChallenge::Dns01),
            other => {
                self.error(
                    format!("{key}: challenge = \"{other}\""),
                    "expected \"http-01\" (port 80), \"tls-alpn-01\" (port 443) or \"dns-01\" (a TXT record by dynamic DNS update)",
                );
                None
            }
        }
    }

    fn acme_dns(&mut self, key: &str, dns: DnsFields) -> Option<DnsUpdateConfig> {
        let server = match dns.server.as_deref() {
            None => {
                self.error(key, "dns-01 needs dns_server: the address of the zone's primary, which takes dynamic updates, e.g. dns_server = \"192.0.2.53:53\"");
                None
            }
            Some(v) => {
                let a = parse_dns_server(v);
                if a.is_none() {
                    self.error(format!("{key}: dns_server = \"{v}\""), "not an \"ip:port\" address (or an IP for port 53); give the primary's address, not its name");
                }
                a
            }
        };
        let algorithm = dns
            .algorithm
            .unwrap_or_else(|| TSIG_ALGORITHMS[0].to_owned());
        if !TSIG_ALGORITHMS.contains(&algorithm.to_ascii_lowercase().trim_end_matches('.')) {
            self.error(
                format!("{key}: tsig_algorithm = \"{algorithm}\""),
                "expected \"hmac-sha256\" (RFC 8945 §6); make the key on the DNS server with it",
            );
        }
        let key_name = dns
            .key_name
            .filter(|k| !k.is_empty() && is_dns_name(k.trim_end_matches('.')));
        if key_name.is_none() {
            self.error(key, "dns-01 needs tsig_key_name: the name of the TSIG key the zone grants updates to, e.g. tsig_key_name = \"acme-update\"");
        }
        let secret_file = dns.secret_file.map(|f| self.path_of(&f));
        if secret_file.is_none() {
            self.error(key, "dns-01 needs tsig_secret_file: a file (mode 0600) with the key's base64 secret on its first line");
        }
        let zone = dns
            .zone
            .map(|z| format!("{}.", z.trim_end_matches('.').to_ascii_lowercase()));
        if let Some(z) = &zone {
            if !is_dns_name(z.trim_end_matches('.')) {
                self.error(
                    format!("{key}: dns_zone = \"{z}\""),
                    "not a DNS name; give the zone holding the names, e.g. \"example.org.\"",
                );
            }
        }
        Some(DnsUpdateConfig {
            server: server?,
            zone,
            key_name: key_name?,
            secret_file: secret_file?,
        })
    }

    fn acme_contact(&mut self, key: &str, contact: Vec<String>) -> Vec<String> {
        for c in &contact {
            let address = c.strip_prefix("mailto:").unwrap_or_default();
            if !address.contains('@') || address.contains(',') {
                self.error(
                    format!("{key}: contact = \"{c}\""),
                    "give one mailto: URL per entry, e.g. \"mailto:postmaster@example.org\" (RFC 8555 §7.3)",
                );
            }
        }
        contact
    }

    fn acme_key(&mut self, key: &str, value: Option<String>) -> Option<String> {
        let v = value.unwrap_or_else(|| KEY_TYPES[0].to_owned());
        if KEY_TYPES.contains(&v.as_str()) {
            return Some(v);
        }
        self.error(
            format!("{key}: key = \"{v}\""),
            format!("expected one of {}", KEY_TYPES.join(", ")),
        );
        None
    }

    fn acme_eab(
        &mut self,
        key: &str,
        kid: Option<String>,
        hmac_file: Option<String>,
    ) -> Option<ExternalAccountBinding> {
        match (kid, hmac_file) {
            (Some(kid), Some(file)) if !kid.is_empty() => Some(ExternalAccountBinding {
                kid,
                hmac_file: self.path_of(&file),
            }),
            (None, None) => None,
            _ => {
                self.error(
                    key,
                    "external account binding needs both eab_kid and eab_hmac_file (a file holding the MAC key your CA gave, base64url); set both or neither",
                );
                None
            }
        }
    }
}

/// The host names a listener expects `certificate` to cover: this server's
/// host name, when it is the default certificate of a TLS listener (a
/// certificate chosen by SNI covers what it covers). Installing a
/// certificate that misses one would break those listeners.
pub fn required_names(
    certificate: &str,
    certificates: &[CertificateConfig],
    listeners: &[Listener],
    hostname: &str,
) -> Vec<String> {
    let used_by_tls = listeners.iter().any(|l| {
        l.enabled && l.tls != TlsMode::None && l.certificates.iter().any(|c| c == certificate)
    });
    let is_default = certificates
        .iter()
        .any(|c| c.default && c.name == certificate);
    if used_by_tls && is_default {
        vec![hostname.to_owned()]
    } else {
        Vec::new()
    }
}

/// The `[[acme]]` problems that involve other sections, as (key, message):
/// an unknown or PKCS#12 certificate, names the listeners need but the
/// section leaves out, and a challenge without the listener to answer it:
/// `http` for http-01, `https` for tls-alpn-01.
pub fn reference_problems(
    acme: &[AcmeConfig],
    certificates: &[CertificateConfig],
    listeners: &[Listener],
    hostname: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in acme {
        let key = format!("acme \"{}\"", a.certificate);
        match certificates.iter().find(|c| c.name == a.certificate) {
            None => out.push((
                format!("{key}: certificate = \"{}\"", a.certificate),
                "no [[certificate]] has this name; add one with cert and key files where the issued certificate is to be installed".to_owned(),
            )),
            Some(c) if matches!(c.source, CertSource::Pkcs12 { .. }) => out.push((
                format!("{key}: certificate = \"{}\"", a.certificate),
                "that certificate is a PKCS#12 keystore; ACME installs PEM files: give it cert and key instead".to_owned(),
            )),
            Some(_) => {}
        }
        let missing: Vec<String> =
            required_names(&a.certificate, certificates, listeners, hostname)
                .into_iter()
                .filter(|n| !a.names.contains(n))
                .collect();
        if !missing.is_empty() {
            out.push((
                format!("{key}: names"),
                format!("add {}: the TLS listeners serve this certificate as the default for that name, and a certificate without it would be refused", missing.join(", ")),
            ));
        }
        let serves = |service: Service| {
            listeners
                .iter()
                .any(|l| l.enabled && l.service == service && l.proxy.is_none())
        };
        match a.challenge {
            AcmeChallenge::Http01 if !serves(Service::Http) => out.push((
                key,
                "http-01 is answered by the `http` listener, and none is enabled; add a [[listener]] with protocol = \"http\" on port 80 (or on the port that port 80 is forwarded to)".to_owned(),
            )),
            // RFC 8737 §3: the CA connects to port 443.
            AcmeChallenge::TlsAlpn01 if !serves(Service::Https) => out.push((
                key,
                "tls-alpn-01 is answered by the `https` listener, and none is enabled; add a [[listener]] with protocol = \"https\" on port 443 (or on the port that port 443 is forwarded to), or use challenge = \"http-01\"".to_owned(),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{Config, ConfigErrors};

    use super::*;

    const BASE: &str = r#"
[server]
hostname = "mail.example.com"
domains = ["example.com"]

[[certificate]]
name = "main"
cert = "certs/main.crt.pem"
key = "certs/main.key.pem"

[[listener]]
name = "http"
protocol = "http"
bind = "0.0.0.0:80"
tls = "none"

[[listener]]
name = "imaps"
protocol = "imap"
bind = "0.0.0.0:993"
tls = "implicit"
certificates = ["main"]
"#;

    const GOOD: &str = r#"
[[acme]]
certificate = "main"
directory = "https://acme.example/dir"
names = ["Mail.Example.com", "example.com"]
contact = ["mailto:postmaster@example.com"]
"#;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(Path::new("/etc/postern/postern.toml"), text)
    }

    fn errors(base: &str, acme: &str) -> Vec<String> {
        match parse(&format!("{base}{acme}")) {
            Ok(_) => panic!("expected an error for:\n{acme}"),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn has(errors: &[String], needle: &str) {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "no error containing {needle:?} in {errors:#?}"
        );
    }

    /// The cross-section problems of a parsed configuration.
    fn references(c: &Config) -> Vec<(String, String)> {
        reference_problems(&c.acme, &c.certificates, &c.listeners, &c.hostname)
    }

    #[test]
    fn a_complete_section_resolves_with_its_defaults() {
        let c = parse(&format!(
            "{BASE}{GOOD}ca_bundle = \"ca.pem\"\nrenew_before = \"30d\"\neab_kid = \"kid-1\"\neab_hmac_file = \"/etc/postern/eab.key\"\n"
        ))
        .unwrap();
        let a = &c.acme[0];
        assert_eq!(a.certificate, "main");
        assert_eq!(a.names, ["mail.example.com", "example.com"]);
        assert_eq!(a.challenge, AcmeChallenge::Http01);
        assert_eq!(a.key, "ecdsa-p256");
        assert_eq!(
            a.ca_bundle.as_deref(),
            Some(Path::new("/etc/postern/ca.pem"))
        );
        assert_eq!(a.renew_before, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(
            a.eab,
            Some(ExternalAccountBinding {
                kid: "kid-1".into(),
                hmac_file: "/etc/postern/eab.key".into()
            })
        );
        assert!(references(&c).is_empty(), "{:?}", references(&c));
    }

    #[test]
    fn missing_and_malformed_values_are_each_reported() {
        let e = errors(
            BASE,
            r#"
[[acme]]
directory = "https://acme.example/dir"

[[acme]]
certificate = "main"
directory = "http://acme.example/dir"
names = []
challenge = "dns-02"
contact = ["postmaster@example.com"]
key = "dsa"
renew_before = "30"
eab_kid = "kid"
"#,
        );
        has(&e, "acme #1: missing certificate");
        has(
            &e,
            "directory = \"http://acme.example/dir\": not an https:// URL",
        );
        has(&e, "acme \"main\": names: no names");
        has(
            &e,
            "challenge = \"dns-02\": expected \"http-01\" (port 80), \"tls-alpn-01\"",
        );
        has(
            &e,
            "contact = \"postmaster@example.com\": give one mailto: URL",
        );
        has(&e, "key = \"dsa\": expected one of ecdsa-p256");
        has(&e, "renew_before = \"30\"");
        has(&e, "needs both eab_kid and eab_hmac_file");
    }

    #[test]
    fn wildcards_and_bad_names_are_refused_with_advice() {
        let e = errors(
            BASE,
            r#"
[[acme]]
certificate = "main"
directory = "https://acme.example/dir"
names = ["*.example.com", "localhost", "bad_name.example.com"]
"#,
        );
        has(
            &e,
            "\"*.example.com\": a wildcard needs challenge = \"dns-01\"",
        );
        has(&e, "names = \"localhost\": not a public DNS name");
        has(&e, "names = \"bad_name.example.com\"");
    }

    #[test]
    fn tls_alpn01_is_answered_by_an_https_listener() {
        let tls_alpn = GOOD.replace("names =", "challenge = \"tls-alpn-01\"\nnames =");
        // No https listener in BASE (nor any need of http): refused.
        let no_http = BASE.replace("tls = \"none\"", "tls = \"none\"\nenabled = false");
        let e = errors(&no_http, &tls_alpn);
        assert_eq!(e.len(), 1, "{e:?}");
        has(
            &e,
            "add a [[listener]] with protocol = \"https\" on port 443",
        );
        let with_https = format!(
            "{no_http}\n[[listener]]\nname = \"https\"\nprotocol = \"https\"\nbind = \"0.0.0.0:443\"\ntls = \"implicit\"\ncertificates = [\"main\"]\n"
        );
        let c = parse(&format!("{with_https}{tls_alpn}")).unwrap();
        assert_eq!(c.acme[0].challenge, AcmeChallenge::TlsAlpn01);
        assert!(references(&c).is_empty(), "{:?}", references(&c));
    }

    #[test]
    fn one_certificate_is_kept_by_one_section() {
        let e = errors(BASE, &format!("{GOOD}{GOOD}"));
        has(&e, "two [[acme]] sections keep this certificate");
    }

    #[test]
    fn references_to_other_sections_are_checked() {
        // An unknown certificate; names without the host name that the
        // default certificate must cover: both refuse the configuration.
        let e = errors(
            BASE,
            &GOOD
                .replace("\"main\"", "\"other\"")
                .replace("\"Mail.Example.com\", ", ""),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        has(&e, "no [[certificate]] has this name");

        let e = errors(BASE, &GOOD.replace("\"Mail.Example.com\", ", ""));
        assert_eq!(e.len(), 1, "{e:?}");
        has(&e, "acme \"main\": names");
        has(&e, "add mail.example.com:");
        // The same rule, asked directly, finds nothing in a good one.
        let c = parse(&format!("{BASE}{GOOD}")).unwrap();
        assert!(references(&c).is_empty());
    }

    #[test]
    fn http01_needs_an_enabled_http_listener() {
        let base = BASE.replace("tls = \"none\"", "tls = \"none\"\nenabled = false");
        let e = errors(&base, GOOD);
        assert_eq!(e.len(), 1, "{e:?}");
        has(&e, "add a [[listener]] with protocol = \"http\"");
    }

    #[test]
    fn a_pkcs12_certificate_cannot_be_kept() {
        let base = BASE.replace(
            "cert = \"certs/main.crt.pem\"\nkey = \"certs/main.key.pem\"",
            "pkcs12 = \"main.p12\"\npassword_file = \"main.pw\"",
        );
        let e = errors(&base, GOOD);
        assert_eq!(e.len(), 1, "{e:?}");
        has(&e, "PKCS#12");
    }

    const DNS01: &str = r#"
[[acme]]
certificate = "main"
directory = "https://acme.example/dir"
names = ["mail.example.com", "*.Example.com"]
challenge = "dns-01"
dns_server = "192.0.2.53:5353"
dns_zone = "Example.com"
tsig_key_name = "acme-update"
tsig_secret_file = "acme.key"
"#;

    #[test]
    fn dns01_resolves_and_allows_wildcards() {
        // No listener is needed: the CA asks DNS.
        let no_http = BASE.replace("tls = \"none\"", "tls = \"none\"\nenabled = false");
        let c = parse(&format!("{no_http}{DNS01}")).unwrap();
        let a = &c.acme[0];
        assert_eq!(a.names, ["mail.example.com", "*.example.com"]);
        assert_eq!(
            a.challenge,
            AcmeChallenge::Dns01(DnsUpdateConfig {
                server: "192.0.2.53:5353".parse().unwrap(),
                zone: Some("example.com.".into()),
                key_name: "acme-update".into(),
                secret_file: "/etc/postern/acme.key".into(),
            })
        );
        assert!(references(&c).is_empty(), "{:?}", references(&c));
        // An IP alone means port 53; the zone is optional.
        let short = DNS01
            .replace("192.0.2.53:5353", "192.0.2.53")
            .replace("dns_zone = \"Example.com\"\n", "");
        let c = parse(&format!("{BASE}{short}")).unwrap();
        let AcmeChallenge::Dns01(d) = &c.acme[0].challenge else {
            panic!("not dns-01");
        };
        assert_eq!((d.server.port(), d.zone.as_deref()), (53, None));
    }

    #[test]
    fn dns01_settings_are_each_checked() {
        let e = errors(
            BASE,
            r#"
[[acme]]
certificate = "main"
directory = "https://acme.example/dir"
names = ["mail.example.com"]
challenge = "dns-01"
dns_server = "ns1.example.com"
tsig_algorithm = "hmac-md5"
"#,
        );
        has(
            &e,
            "dns_server = \"ns1.example.com\": not an \"ip:port\" address",
        );
        has(
            &e,
            "tsig_algorithm = \"hmac-md5\": expected \"hmac-sha256\"",
        );
        has(&e, "dns-01 needs tsig_key_name");
        has(&e, "dns-01 needs tsig_secret_file");
        let e = errors(
            BASE,
            &DNS01
                .replace("dns_server", "challenge_x = 1\ndns_server")
                .replace("challenge = \"dns-01\"\n", "")
                .replace("challenge_x = 1\n", ""),
        );
        has(&e, "are for challenge = \"dns-01\"");
        has(&e, "a wildcard needs challenge = \"dns-01\"");
        let e = errors(
            BASE,
            &DNS01.replace("dns_server = \"192.0.2.53:5353\"\n", ""),
        );
        has(&e, "dns-01 needs dns_server");
    }
}
