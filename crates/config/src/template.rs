//! The commented `postern.toml` that `postern init` writes. Every default is
//! spelled out with its reason, so the file documents itself.

use std::fmt::Write as _;

use postern_types::TlsMode;

use crate::defaults::{self, WellKnown, WELL_KNOWN};
use crate::duration::format as dur;

/// What `postern init` knows when it writes the file.
#[derive(Debug, Clone)]
pub struct InitParams {
    pub hostname: String,
    pub domain: String,
    /// Listen on the unprivileged dev ports (2525, 2993, ...) on loopback.
    pub dev_ports: bool,
    /// The certificate files, relative to the data directory.
    pub cert_file: String,
    pub key_file: String,
    /// A PostgreSQL URL for `[store]`; `None` keeps the embedded SQLite.
    pub store_url: Option<String>,
}

/// Renders the initial configuration.
pub fn render(p: &InitParams) -> String {
    let mut out = header(p);
    out.push_str(&store(p.store_url.as_deref()));
    for wk in WELL_KNOWN {
        out.push_str(&listener(wk, p.dev_ports));
    }
    out
}

fn header(p: &InitParams) -> String {
    format!(
        r#"# Postern configuration, written by `postern init`.
# Check it with `postern check --config postern.toml` after every edit.
# Relative paths are relative to the directory of this file.

[server]
# The public name of this server: greetings, EHLO, the certificate's name.
hostname = "{host}"
# Mail domains this server receives mail for (add more with `postern domain add`).
domains = ["{domain}"]
# How long open sessions get to finish when the server stops (SIGTERM).
shutdown_grace = "10s"

[log]
# "text" for people, "json" for log collectors.
format = "text"
# A tracing filter: error, warn, info, debug, or per module
# ("postern_server=debug,info").
level = "info"

[tls]
# TLS 1.2 and 1.3 only; 1.0 and 1.1 are deprecated (RFC 8996). "1.3" drops 1.2.
min_version = "1.2"
# Empty: the provider's forward-secret suites (ECDHE for TLS 1.2, all of
# TLS 1.3's), strongest first. To narrow, list IANA names, e.g.
# cipher_suites = ["TLS13_AES_256_GCM_SHA384", "TLS13_CHACHA20_POLY1305_SHA256",
#                  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
cipher_suites = []
# Key exchange: the provider's default, X25519MLKEM768 (hybrid post-quantum)
# first, then X25519, P-256, P-384. Not configurable on purpose.
# Log a warning this many days before a certificate in use expires, an error at
# the second figure.
expiry_warning_days = 30
expiry_error_days = 7

# Certificates. SNI picks the one whose names cover the name the client asks
# for (exact first, then wildcard); the default serves clients without SNI.
# Replace this self-signed one with a CA's: `postern cert request`, then
# `postern cert import`: no restart needed, changed files are reloaded.
# A PKCS#12 keystore works too: pkcs12 = "x.p12", password_file = "x.pass".
[[certificate]]
name = "main"
cert = "{cert}"
key = "{key}"
default = true

[smtp]
# The largest message accepted, in octets (advertised with SIZE, RFC 1870).
max_message_size = 10240000
# Recipients per message; RFC 5321 asks for at least 100.
max_recipients = 100
# Wait this long before greeting on the MX port; clients that talk first are
# refused (many spam senders do). "0s" turns it off; "3s" is a common choice.
greeting_delay = "0s"

[mail_auth]
# Mail arriving on the MX is checked (SPF, DKIM, DMARC, ARC) and gets an
# Authentication-Results header. What to do when DMARC fails, as the sending
# domain asks: "reject" (refused, nothing stored), "quarantine" (to Junk) or
# "accept" (delivered, the header tells).
verify = true
dmarc_reject = "reject"
dmarc_quarantine = "quarantine"
# SPF failed and DMARC did not decide; forwarding breaks SPF, so only report.
spf_fail = "accept"

[caldav]
# The largest CalDAV request (an event with its time zones, a REPORT), in octets.
max_request_size = 10485760

[outbound]
# Mail for other domains leaves through the queue: MX lookup, STARTTLS, and
# verified TLS where the recipient domain asks for it (MTA-STS, DANE).
# Retried with growing delays, then returned to the sender with a report.
retry_for = "5d"
dane = true
mta_sts = true
# TLS reporting (RFC 8460): daily reports to recipient domains that
# publish _smtp._tls, of how TLS went when delivering to them.
tls_reports = true
# Send everything through a smarthost instead (TLS always; AUTH if set):
# relay = "smtp.provider.net:587"
# relay_tls = "starttls"            # or "implicit" (port 465)
# relay_username = "me@example.com"
# relay_password_file = "relay.pass"
# A DNS resolver other than /etc/resolv.conf's (DANE needs a validating one):
# resolver = "127.0.0.1:53"
# Static routes, before any MX lookup:
# [outbound.routes]
# "example.net" = "mx.example.net:25"
# Per-domain transport security: "require-verified", "require-tls" or
# "opportunistic":
# [outbound.tls]
# "example.org" = "require-verified"
"#,
        host = p.hostname,
        domain = p.domain,
        cert = p.cert_file,
        key = p.key_file,
    )
}

fn listener(wk: &WellKnown, dev: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n# {}", describe(wk));
    s.push_str("[[listener]]\n");
    let _ = writeln!(s, "name = \"{}\"", wk.name);
    let _ = writeln!(s, "protocol = \"{}\"", wk.service);
    let _ = writeln!(s, "bind = {}", bind(wk, dev));
    let _ = writeln!(s, "tls = \"{}\"", wk.tls);
    if wk.tls != TlsMode::None {
        s.push_str(
            "# Client certificates: \"none\", \"optional\" or \"required\" (with client_ca).\n",
        );
        s.push_str("client_certificates = \"none\"\n");
    }
    if wk.name == "http" {
        let _ = writeln!(s, "redirect_https_port = {}", if dev { 8443 } else { 443 });
    }
    s.push_str(&limits(wk));
    s
}

fn bind(wk: &WellKnown, dev: bool) -> String {
    if wk.name == "metrics" {
        // Metrics name listeners and certificates: loopback only by default.
        return format!("[\"127.0.0.1:{}\"]", wk.port);
    }
    if dev {
        format!("[\"127.0.0.1:{}\"]", wk.dev_port)
    } else {
        format!("[\"0.0.0.0:{p}\", \"[::]:{p}\"]", p = wk.port)
    }
}

fn limits(wk: &WellKnown) -> String {
    let l = defaults::limits(wk.service);
    format!(
        r#"[listener.limits]
max_connections = {}         # at once; more wait before accept
max_connections_per_ip = {}
handshake_timeout = "{}"
pre_auth_timeout = "{}"       # read timeout before login
authenticated_timeout = "{}"
data_timeout = "{}"           # inside a message transfer
idle_timeout = "{}"           # IMAP IDLE
write_timeout = "{}"          # a client that stops reading is dropped
session_timeout = "{}"
"#,
        l.max_connections,
        l.max_connections_per_ip,
        dur(l.handshake_timeout),
        dur(l.pre_auth_timeout),
        dur(l.authenticated_timeout),
        dur(l.data_timeout),
        dur(l.idle_timeout),
        dur(l.write_timeout),
        dur(l.session_timeout),
    )
}

fn describe(wk: &WellKnown) -> &'static str {
    match wk.name {
        "smtp" => "Mail from other servers (MX). Plain text with STARTTLS offered, as RFC 3207 expects; no login here.",
        "submission" => "Mail from your users' clients (RFC 6409): STARTTLS required before login.",
        "submissions" => "Mail submission with implicit TLS (RFC 8314), preferred by modern clients.",
        "imap" => "IMAP with STARTTLS: LOGINDISABLED until the upgrade.",
        "imaps" => "IMAP with implicit TLS (RFC 8314).",
        "pop3" => "POP3 with STLS: no USER/PASS until the upgrade.",
        "pop3s" => "POP3 with implicit TLS.",
        "http" => "Plain HTTP only redirects to HTTPS: secure mode is the only mode.",
        "https" => "Webmail, calendar, CalDAV, admin, autoconfig.",
        "metrics" => "Prometheus metrics (handshakes, failures, certificate expiry). Loopback only.",
        _ => "",
    }
}

/// `[store]`: PostgreSQL when a URL was given, else the embedded
/// default, written out as a comment.
fn store(url: Option<&str>) -> String {
    let about = "# Where mail and calendars are kept: \"sqlite\" (embedded, in this directory)\n\
                 # or \"postgres\" (several Postern nodes on one database; see\n\
                 # docs/postgresql.md).\n";
    match url {
        Some(url) => format!(
            "[store]\n{about}backend = \"postgres\"\nurl = \"{}\"\n# The password may stay out of this file, on the first line of:\n# password_file = \"store.pass\"\npool_size = 16\n# Message bytes: \"database\" (bytea rows) or \"directory\" (blob_dir, shared by every node).\nblobs = \"database\"\n\n",
            toml_escape(url)
        ),
        None => format!(
            "# [store]\n{}# backend = \"postgres\"\n# url = \"postgres://postern@db.internal/postern\"\n\n",
            about.replace("# ", "#   ")
        ),
    }
}

/// `s` inside a TOML basic string.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    fn params(dev: bool) -> InitParams {
        InitParams {
            hostname: "mail.example.com".into(),
            domain: "example.com".into(),
            dev_ports: dev,
            cert_file: "certs/main.crt.pem".into(),
            key_file: "certs/main.key.pem".into(),
            store_url: None,
        }
    }

    #[test]
    fn a_store_url_makes_a_postgres_store() {
        let mut p = params(false);
        p.store_url = Some("postgres://postern@db.internal/mail?x=\"q\"".into());
        let text = render(&p);
        let c = Config::parse(Path::new("/srv/postern/postern.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        match c.store {
            crate::StoreConfig::Postgres(pg) => {
                assert_eq!(pg.url, "postgres://postern@db.internal/mail?x=\"q\"");
            }
            other => panic!("{other:?}"),
        }
        let default = Config::parse(Path::new("p.toml"), &render(&params(false))).unwrap();
        assert_eq!(default.store, crate::StoreConfig::Sqlite);
    }

    #[test]
    fn the_template_is_a_valid_config() {
        for dev in [false, true] {
            let text = render(&params(dev));
            let c = Config::parse(Path::new("/srv/postern/postern.toml"), &text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(c.listeners.len(), WELL_KNOWN.len());
            assert_eq!(c.hostname, "mail.example.com");
            let imaps = c.listeners.iter().find(|l| l.name == "imaps").unwrap();
            let port = if dev { 2993 } else { 993 };
            assert_eq!(imaps.bind[0].port(), port);
            assert_eq!(imaps.tls, TlsMode::Implicit);
            assert_eq!(imaps.certificates, vec!["main".to_owned()]);
            assert!(c.default_certificate().is_some());
        }
    }

    #[test]
    fn dev_ports_bind_loopback_only() {
        let c = Config::parse(Path::new("p.toml"), &render(&params(true))).unwrap();
        assert!(c
            .listeners
            .iter()
            .all(|l| l.bind.iter().all(|a| a.ip().is_loopback())));
    }
}
