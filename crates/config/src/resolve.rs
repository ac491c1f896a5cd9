//! From the file as written to a validated [`Config`]. Every rule that can be
//! checked without touching certificates or sockets is checked here, and all
//! problems are reported together.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postern_types::{Service, TlsMode};

mod mail;

use crate::file::{self, CertificateSection, File, LimitsSection, ListenerSection};
use crate::{
    defaults, duration, CertSource, CertificateConfig, ClientAuth, Config, ConfigError,
    ConfigErrors, Limits, Listener, LogConfig, LogFormat, TlsPolicy, TlsVersion,
};

/// Validates `file` (parsed from `text`, read from `path`).
pub fn resolve(path: &Path, text: &str, file: File) -> Result<Config, ConfigErrors> {
    let mut r = Resolver {
        path,
        text,
        base: path.parent().map(Path::to_owned).unwrap_or_default(),
        errors: Vec::new(),
    };
    let config = r.config(file);
    if r.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(r.errors))
    }
}

pub(crate) struct Resolver<'a> {
    path: &'a Path,
    text: &'a str,
    /// Relative paths resolve against the configuration file's directory.
    base: PathBuf,
    errors: Vec<ConfigError>,
}

impl Resolver<'_> {
    fn config(&mut self, file: File) -> Config {
        let server = file.server.unwrap_or_default();
        let hostname = self.hostname(server.hostname);
        let domains = self.domains(server.domains);
        let data_dir = server
            .data_dir
            .map_or_else(|| self.base.clone(), |d| self.path_of(&d));
        let shutdown_grace = self.duration_or(
            "server.shutdown_grace",
            server.shutdown_grace,
            Duration::from_secs(10),
        );
        let log = self.log(file.log.unwrap_or_default());
        let tls = self.tls(file.tls.unwrap_or_default());
        let certificates = self.certificates(file.certificates);
        let listeners = self.listeners(file.listeners, &certificates);
        let smtp = self.smtp(file.smtp.unwrap_or_default());
        let outbound = self.outbound(file.outbound.unwrap_or_default());
        let mail_auth = self.mail_auth(file.mail_auth.unwrap_or_default());
        let caldav = self.caldav(file.caldav.unwrap_or_default());
        let store = self.store(file.store.unwrap_or_default());
        let acme = self.acme(file.acme);
        for (key, message) in
            crate::acme::reference_problems(&acme, &certificates, &listeners, &hostname)
        {
            self.error(key, message);
        }
        Config {
            path: self.path.to_owned(),
            data_dir,
            hostname,
            domains,
            shutdown_grace,
            log,
            tls,
            certificates,
            listeners,
            smtp,
            outbound,
            mail_auth,
            caldav,
            store,
            acme,
        }
    }

    pub(crate) fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let line = self.locate(&key);
        self.errors
            .push(ConfigError::key(self.path, key, message).at_line(line));
    }

    /// Finds the line of a `key = "value"` pair named in an error key such as
    /// `listener "imaps": tls = "implict"`, so the message points at it. The
    /// search starts at the section's `name = "imaps"` line.
    fn locate(&self, key: &str) -> Option<usize> {
        let tail = key.rsplit(": ").next()?;
        let (name, value) = tail.split_once(" = ")?;
        let name = name.rsplit('.').next()?;
        let section = key
            .split_once('"')
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(section, _)| format!("name = \"{section}\""));
        let lines: Vec<&str> = self.text.lines().map(str::trim_start).collect();
        let start = section
            .and_then(|s| lines.iter().position(|l| l.starts_with(&s)))
            .unwrap_or(0);
        lines[start..]
            .iter()
            .position(|l| l.starts_with(name) && l.contains(value))
            .map(|i| start + i + 1)
    }

    pub(crate) fn path_of(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    fn hostname(&mut self, hostname: Option<String>) -> String {
        let Some(h) = hostname else {
            self.error(
                "server.hostname",
                "missing; set it to this server's public name, e.g. hostname = \"mail.example.com\"",
            );
            return String::new();
        };
        let h = h.to_ascii_lowercase();
        if !is_dns_name(&h) {
            self.error(
                format!("server.hostname = \"{h}\""),
                "not a valid host name (letters, digits, '-' and '.', labels of at most 63 characters)",
            );
        }
        h
    }

    fn domains(&mut self, domains: Option<Vec<String>>) -> Vec<String> {
        let domains: Vec<String> = domains
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        for d in &domains {
            if !is_dns_name(d) {
                self.error(
                    format!("server.domains = \"{d}\""),
                    "not a valid domain name",
                );
            }
        }
        domains
    }

    fn log(&mut self, log: file::LogSection) -> LogConfig {
        let format = match log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.error(
                    format!("log.format = \"{other}\""),
                    "expected one of text, json",
                );
                LogFormat::Text
            }
        };
        LogConfig {
            format,
            level: log.level.unwrap_or_else(|| "info".to_owned()),
        }
    }

    fn tls(&mut self, tls: file::TlsSection) -> TlsPolicy {
        let min_version = match tls.min_version.as_deref() {
            None | Some("1.2") => TlsVersion::Tls12,
            Some("1.3") => TlsVersion::Tls13,
            Some(v @ ("1.0" | "1.1")) => {
                self.error(
                    format!("tls.min_version = \"{v}\""),
                    "TLS 1.0 and 1.1 are deprecated (RFC 8996) and not supported; use \"1.2\" or \"1.3\"",
                );
                TlsVersion::Tls12
            }
            Some(v) => {
                self.error(
                    format!("tls.min_version = \"{v}\""),
                    "expected one of \"1.2\", \"1.3\"",
                );
                TlsVersion::Tls12
            }
        };
        let warning = tls.expiry_warning_days.unwrap_or(30);
        let error = tls.expiry_error_days.unwrap_or(7);
        if error > warning {
            self.error(
                "tls.expiry_error_days",
                format!("({error}) must not be larger than tls.expiry_warning_days ({warning})"),
            );
        }
        TlsPolicy {
            min_version,
            cipher_suites: tls.cipher_suites.unwrap_or_default(),
            expiry_warning_days: warning,
            expiry_error_days: error,
        }
    }

    fn certificates(&mut self, sections: Vec<CertificateSection>) -> Vec<CertificateConfig> {
        let mut certs: Vec<CertificateConfig> = Vec::new();
        for (i, s) in sections.into_iter().enumerate() {
            let Some(c) = self.certificate(i, s) else {
                continue;
            };
            if certs.iter().any(|o| o.name == c.name) {
                self.error(
                    format!("certificate \"{}\"", c.name),
                    "the name is used twice; certificate names must be unique",
                );
                continue;
            }
            certs.push(c);
        }
        match certs.iter().filter(|c| c.default).count() {
            // A single certificate is the default without saying so.
            0 if certs.len() == 1 => certs[0].default = true,
            0 if certs.len() > 1 => self.error(
                "certificate.default",
                "several certificates and none has default = true; mark the one served to clients without SNI",
            ),
            0 | 1 => {}
            _ => self.error(
                "certificate.default",
                "more than one certificate has default = true; mark exactly one",
            ),
        }
        certs
    }

    fn certificate(&mut self, index: usize, s: CertificateSection) -> Option<CertificateConfig> {
        let Some(name) = s.name else {
            self.error(
                format!("certificate #{}", index + 1),
                "missing name; give every [[certificate]] a name = \"...\"",
            );
            return None;
        };
        let key = format!("certificate \"{name}\"");
        let source = match (s.cert, s.key, s.pkcs12, s.password_file) {
            (Some(cert), Some(key), None, None) => CertSource::Pem {
                cert: self.path_of(&cert),
                key: self.path_of(&key),
            },
            (None, None, Some(p12), Some(pw)) => CertSource::Pkcs12 {
                path: self.path_of(&p12),
                password_file: self.path_of(&pw),
            },
            (None, None, Some(_), None) => {
                self.error(
                    key,
                    "pkcs12 needs password_file (a file holding the keystore password)",
                );
                return None;
            }
            _ => {
                self.error(
                    key,
                    "set either cert and key (PEM files) or pkcs12 and password_file, not a mix",
                );
                return None;
            }
        };
        Some(CertificateConfig {
            name,
            source,
            default: s.default.unwrap_or(false),
        })
    }

    fn listeners(
        &mut self,
        sections: Vec<ListenerSection>,
        certs: &[CertificateConfig],
    ) -> Vec<Listener> {
        let listeners: Vec<Listener> = sections
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| self.listener(i, s, certs))
            .collect();
        self.check_listener_clashes(&listeners);
        listeners
    }

    fn check_listener_clashes(&mut self, listeners: &[Listener]) {
        let mut names = HashSet::new();
        let mut addrs: Vec<(SocketAddr, &str)> = Vec::new();
        for l in listeners {
            if !names.insert(l.name.as_str()) {
                self.error(
                    format!("listener \"{}\"", l.name),
                    "the name is used twice; listener names must be unique",
                );
            }
            // Port 0 asks the system for a free port: never a clash.
            for a in l.bind.iter().filter(|a| l.enabled && a.port() != 0) {
                if let Some((_, other)) = addrs.iter().find(|(b, _)| b == a) {
                    self.error(
                        format!("listener \"{}\": bind = \"{a}\"", l.name),
                        format!("listener \"{other}\" binds the same address"),
                    );
                }
                addrs.push((*a, &l.name));
            }
        }
    }

    fn listener(
        &mut self,
        index: usize,
        s: ListenerSection,
        certs: &[CertificateConfig],
    ) -> Option<Listener> {
        let Some(name) = s.name.clone() else {
            self.error(
                format!("listener #{}", index + 1),
                "missing name; give every [[listener]] a name = \"...\"",
            );
            return None;
        };
        let key = format!("listener \"{name}\"");
        let service = self.service(&key, s.protocol.as_deref())?;
        let tls = self.tls_mode(&key, service, s.tls.as_deref())?;
        let bind = self.bind(&key, s.bind.as_ref());
        let client_auth = self.client_auth(&key, tls, &s);
        let proxy = self.proxy(&key, service, &s);
        let certificates = self.listener_certs(&key, tls, s.certificates, certs);
        let limits = self.limits(&key, service, s.limits.unwrap_or_default());
        if s.redirect_https_port.is_some() && service != Service::Http {
            self.error(
                format!("{key}: redirect_https_port"),
                "only an http listener redirects; remove it here",
            );
        }
        Some(Listener {
            name,
            service,
            bind,
            tls,
            certificates,
            client_auth,
            limits,
            enabled: s.enabled.unwrap_or(true),
            redirect_https_port: s.redirect_https_port,
            proxy,
        })
    }

    fn service(&mut self, key: &str, protocol: Option<&str>) -> Option<Service> {
        let Some(p) = protocol else {
            self.error(
                format!("{key}: protocol"),
                format!("missing; expected one of {}", Service::NAMES.join(", ")),
            );
            return None;
        };
        let parsed = Service::from_str(p).ok();
        if parsed.is_none() {
            self.error(
                format!("{key}: protocol = \"{p}\""),
                format!("expected one of {}", Service::NAMES.join(", ")),
            );
        }
        parsed
    }

    fn tls_mode(&mut self, key: &str, service: Service, tls: Option<&str>) -> Option<TlsMode> {
        let Some(t) = tls else {
            self.error(
                format!("{key}: tls"),
                format!("missing; expected one of {}", TlsMode::NAMES.join(", ")),
            );
            return None;
        };
        let Ok(mode) = TlsMode::from_str(t) else {
            self.error(
                format!("{key}: tls = \"{t}\""),
                format!("expected one of {}", TlsMode::NAMES.join(", ")),
            );
            return None;
        };
        if let Err(why) = allowed_tls(service, mode) {
            self.error(format!("{key}: tls = \"{t}\""), why);
        }
        Some(mode)
    }

    fn bind(&mut self, key: &str, bind: Option<&file::Bind>) -> Vec<SocketAddr> {
        let Some(bind) = bind else {
            self.error(
                format!("{key}: bind"),
                "missing; e.g. bind = [\"0.0.0.0:993\", \"[::]:993\"]",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for a in bind.addresses() {
            match a.parse::<SocketAddr>() {
                Ok(addr) => out.push(addr),
                Err(_) => self.error(
                    format!("{key}: bind = \"{a}\""),
                    "not an IP address with a port; write \"0.0.0.0:993\" or \"[::1]:993\"",
                ),
            }
        }
        if out.is_empty() && self.errors.is_empty() {
            self.error(
                format!("{key}: bind"),
                "is empty; give at least one address",
            );
        }
        out
    }

    fn listener_certs(
        &mut self,
        key: &str,
        tls: TlsMode,
        wanted: Option<Vec<String>>,
        certs: &[CertificateConfig],
    ) -> Vec<String> {
        if tls == TlsMode::None {
            if wanted.is_some() {
                self.error(
                    format!("{key}: certificates"),
                    "a listener with tls = \"none\" serves no certificate; remove the key",
                );
            }
            return Vec::new();
        }
        if certs.is_empty() {
            self.error(
                key.to_owned(),
                "uses TLS but no [[certificate]] is configured; add one (postern cert self-signed --name HOST writes one)",
            );
            return Vec::new();
        }
        let Some(wanted) = wanted else {
            return certs.iter().map(|c| c.name.clone()).collect();
        };
        for w in &wanted {
            if !certs.iter().any(|c| &c.name == w) {
                self.error(
                    format!("{key}: certificates = \"{w}\""),
                    "no [[certificate]] has that name",
                );
            }
        }
        wanted
    }

    fn client_auth(&mut self, key: &str, tls: TlsMode, s: &ListenerSection) -> ClientAuth {
        let policy = s.client_certificates.as_deref().unwrap_or("none");
        let ca = s.client_ca.as_deref().map(|p| self.path_of(p));
        let auth = match (policy, ca) {
            ("none", None) => return ClientAuth::None,
            ("none", Some(_)) => {
                self.error(
                    format!("{key}: client_ca"),
                    "is set but client_certificates = \"none\"; set it to \"optional\" or \"required\", or remove client_ca",
                );
                return ClientAuth::None;
            }
            ("optional" | "required", None) => {
                self.error(
                    format!("{key}: client_certificates = \"{policy}\""),
                    "needs client_ca, the PEM file of the CA(s) that sign client certificates",
                );
                return ClientAuth::None;
            }
            ("optional", Some(ca)) => ClientAuth::Optional { ca },
            ("required", Some(ca)) => ClientAuth::Required { ca },
            (other, _) => {
                self.error(
                    format!("{key}: client_certificates = \"{other}\""),
                    "expected one of none, optional, required",
                );
                return ClientAuth::None;
            }
        };
        if tls == TlsMode::None {
            self.error(
                format!("{key}: client_certificates = \"{policy}\""),
                "client certificates need TLS; this listener has tls = \"none\"",
            );
        }
        auth
    }

    fn limits(&mut self, key: &str, service: Service, s: LimitsSection) -> Limits {
        let d = defaults::limits(service);
        let k = |f: &str| format!("{key}: limits.{f}");
        let l = Limits {
            max_connections: s.max_connections.unwrap_or(d.max_connections),
            max_connections_per_ip: s.max_connections_per_ip.unwrap_or(d.max_connections_per_ip),
            handshake_timeout: self.duration_or(
                &k("handshake_timeout"),
                s.handshake_timeout,
                d.handshake_timeout,
            ),
            pre_auth_timeout: self.duration_or(
                &k("pre_auth_timeout"),
                s.pre_auth_timeout,
                d.pre_auth_timeout,
            ),
            authenticated_timeout: self.duration_or(
                &k("authenticated_timeout"),
                s.authenticated_timeout,
                d.authenticated_timeout,
            ),
            data_timeout: self.duration_or(&k("data_timeout"), s.data_timeout, d.data_timeout),
            idle_timeout: self.duration_or(&k("idle_timeout"), s.idle_timeout, d.idle_timeout),
            write_timeout: self.duration_or(&k("write_timeout"), s.write_timeout, d.write_timeout),
            session_timeout: self.duration_or(
                &k("session_timeout"),
                s.session_timeout,
                d.session_timeout,
            ),
        };
        if l.max_connections == 0 || l.max_connections_per_ip == 0 {
            self.error(
                k("max_connections"),
                "must be at least 1 (to turn a listener off, set enabled = false)",
            );
        }
        l
    }

    pub(crate) fn duration_or(
        &mut self,
        key: &str,
        value: Option<String>,
        default: Duration,
    ) -> Duration {
        let Some(v) = value else { return default };
        match duration::parse(&v) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(format!("{key} = \"{v}\""), "must be longer than zero");
                default
            }
            Err(why) => {
                self.error(format!("{key} = \"{v}\""), why);
                default
            }
        }
    }
}

/// Which TLS modes make sense for a service. "No credential before TLS":
/// services where users log in never run without TLS at all.
fn allowed_tls(service: Service, mode: TlsMode) -> Result<(), String> {
    match (service, mode) {
        (Service::Submission | Service::Imap | Service::Pop3, TlsMode::None) => Err(format!(
            "{service} carries passwords and is never served without TLS; use \"starttls\" or \"implicit\""
        )),
        (Service::Http, TlsMode::StartTls | TlsMode::Implicit) => Err(
            "the http listener only redirects to HTTPS; use tls = \"none\" (or protocol = \"https\")".to_owned(),
        ),
        (Service::Https, TlsMode::None | TlsMode::StartTls) => {
            Err("https is served with implicit TLS; use tls = \"implicit\"".to_owned())
        }
        (Service::Metrics, TlsMode::StartTls) => {
            Err("metrics are plain HTTP or HTTPS; use \"none\" or \"implicit\"".to_owned())
        }
        _ => Ok(()),
    }
}

/// A syntactically valid DNS host name (RFC 1123 §2.1), ASCII.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
