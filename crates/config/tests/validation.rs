//! Known-answer tests for configuration errors: the messages are the user
//! interface of a misconfigured server, so their exact text is asserted.

use std::path::Path;

use postern_config::{AuthAction, ClientAuth, Config};

const BASE: &str = r#"
[server]
hostname = "mail.example.com"
domains = ["example.com"]

[[certificate]]
name = "main"
cert = "certs/main.crt.pem"
key = "certs/main.key.pem"
"#;

fn errors(extra: &str) -> Vec<String> {
    let text = format!("{BASE}{extra}");
    match Config::parse(Path::new("postern.toml"), &text) {
        Ok(_) => panic!("expected an error for:\n{extra}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn ok(extra: &str) -> Config {
    let text = format!("{BASE}{extra}");
    Config::parse(Path::new("/etc/postern/postern.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn misspelt_tls_mode_names_the_listener_the_value_and_the_choices() {
    let e = errors(
        r#"
[[listener]]
name = "imaps"
protocol = "imap"
bind = "0.0.0.0:993"
tls = "implict"
"#,
    );
    assert_eq!(
        e,
        vec![
            r#"postern.toml:15: listener "imaps": tls = "implict": expected one of none, starttls, implicit"#
        ]
    );
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let e = errors("\n[tls]\nmin_verison = \"1.2\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("postern.toml:12: unknown field `min_verison`"),
        "{}",
        e[0]
    );
}

#[test]
fn password_protocols_never_run_without_tls() {
    for proto in ["imap", "pop3", "submission"] {
        let e = errors(&format!(
            "[[listener]]\nname = \"x\"\nprotocol = \"{proto}\"\nbind = \"127.0.0.1:1\"\ntls = \"none\"\n"
        ));
        assert_eq!(
            e,
            vec![format!(
                "postern.toml:14: listener \"x\": tls = \"none\": {proto} carries passwords and is never served without TLS; use \"starttls\" or \"implicit\""
            )]
        );
    }
}

#[test]
fn old_tls_versions_are_refused() {
    let e = errors("[tls]\nmin_version = \"1.0\"\n");
    assert_eq!(
        e,
        vec!["postern.toml:11: tls.min_version = \"1.0\": TLS 1.0 and 1.1 are deprecated (RFC 8996) and not supported; use \"1.2\" or \"1.3\""]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = errors(
        r#"
[[listener]]
name = "a"
protocol = "imapx"
bind = "0.0.0.0:1"
tls = "implicit"

[[listener]]
name = "b"
protocol = "pop3"
bind = "nowhere"
tls = "implicit"
certificates = ["missing"]
"#,
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].contains(r#"listener "a": protocol = "imapx": expected one of smtp, submission, imap, pop3, http, https, metrics"#));
    assert!(e[1].contains(r#"listener "b": bind = "nowhere": not an IP address with a port"#));
    assert!(e[2]
        .contains(r#"listener "b": certificates = "missing": no [[certificate]] has that name"#));
}

#[test]
fn two_listeners_on_one_address_clash() {
    let l = |n: &str| {
        format!("[[listener]]\nname = \"{n}\"\nprotocol = \"imap\"\nbind = \"127.0.0.1:2993\"\ntls = \"implicit\"\n")
    };
    let e = errors(&format!("{}{}", l("a"), l("b")));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].ends_with("listener \"a\" binds the same address"),
        "{}",
        e[0]
    );
}

#[test]
fn client_certificates_need_a_ca() {
    let e = errors("[[listener]]\nname = \"x\"\nprotocol = \"imap\"\nbind = \"127.0.0.1:1\"\ntls = \"implicit\"\nclient_certificates = \"required\"\n");
    assert!(
        e[0].ends_with("needs client_ca, the PEM file of the CA(s) that sign client certificates"),
        "{}",
        e[0]
    );
    let c = ok("[[listener]]\nname = \"x\"\nprotocol = \"imap\"\nbind = \"127.0.0.1:1\"\ntls = \"implicit\"\nclient_certificates = \"optional\"\nclient_ca = \"ca.pem\"\n");
    assert_eq!(
        c.listeners[0].client_auth,
        ClientAuth::Optional {
            ca: "/etc/postern/ca.pem".into()
        }
    );
}

#[test]
fn durations_need_units() {
    let e = errors("[[listener]]\nname = \"x\"\nprotocol = \"smtp\"\nbind = \"127.0.0.1:1\"\ntls = \"starttls\"\n[listener.limits]\ndata_timeout = \"300\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].contains("limits.data_timeout = \"300\": \"300\" has no unit"),
        "{}",
        e[0]
    );
}

#[test]
fn relative_paths_resolve_against_the_file() {
    let c = ok("");
    match &c.certificates[0].source {
        postern_config::CertSource::Pem { cert, .. } => {
            assert_eq!(cert, Path::new("/etc/postern/certs/main.crt.pem"))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        c.certificates[0].default,
        "a lone certificate is the default"
    );
}

#[test]
fn tls_listeners_need_a_certificate() {
    let text = "[server]\nhostname = \"h.example\"\n[[listener]]\nname = \"x\"\nprotocol = \"imap\"\nbind = \"127.0.0.1:1\"\ntls = \"implicit\"\n";
    let e = Config::parse(Path::new("p.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("uses TLS but no [[certificate]] is configured"),
        "{e}"
    );
}

#[test]
fn missing_hostname_says_what_to_write() {
    let e = Config::parse(Path::new("p.toml"), "")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "p.toml: server.hostname: missing; set it to this server's public name, e.g. hostname = \"mail.example.com\"");
}

#[test]
fn smtp_and_outbound_defaults_are_safe() {
    let c = ok("");
    assert_eq!(c.smtp.max_message_size, 10_240_000);
    assert_eq!(c.smtp.max_recipients, 100);
    assert!(c.smtp.greeting_delay.is_zero());
    assert!(c.outbound.relay.is_none());
    assert!(c.outbound.dane && c.outbound.mta_sts);
    assert_eq!(c.outbound.retry_for.as_secs(), 5 * 86_400);
}

#[test]
fn outbound_relay_routes_and_tls_overrides_are_read() {
    let c = ok(r#"
[outbound]
relay = "smtp.provider.net:465"
relay_username = "me@example.com"
relay_password_file = "relay.pass"
resolver = "127.0.0.1:5353"
retry_for = "2d"

[outbound.routes]
"Example.NET" = "127.0.0.1:2526"

[outbound.tls]
"example.org" = "require-verified"
"#);
    let relay = c.outbound.relay.expect("relay");
    assert_eq!(
        (relay.host.as_str(), relay.port),
        ("smtp.provider.net", 465)
    );
    assert_eq!(
        relay.tls,
        postern_config::RelayTls::Implicit,
        "465 means implicit TLS"
    );
    assert_eq!(
        relay.password_file.as_deref(),
        Some(Path::new("/etc/postern/relay.pass"))
    );
    assert_eq!(c.outbound.resolver, Some("127.0.0.1:5353".parse().unwrap()));
    assert_eq!(c.outbound.retry_for.as_secs(), 2 * 86_400);
    assert_eq!(
        c.outbound.routes,
        vec![postern_config::Route {
            domain: "example.net".into(),
            host: "127.0.0.1".into(),
            port: 2526
        }]
    );
    assert_eq!(
        c.outbound.tls,
        vec![(
            "example.org".into(),
            postern_config::OutboundTls::RequireVerified
        )]
    );
}

#[test]
fn bad_smtp_and_outbound_values_are_all_reported() {
    let e = errors(
        r#"
[smtp]
max_message_size = 1000
max_recipients = 5

[outbound]
relay = "no port here"
relay_username = "me"

[outbound.tls]
"example.org" = "required"
"#,
    );
    let joined = e.join("\n");
    for needle in [
        "smtp.max_message_size = 1000: must be at least 65536 octets",
        "smtp.max_recipients = 5: must be at least 100",
        "outbound.relay = \"no port here\": expected host:port",
        "relay_username and relay_password_file go together",
        "outbound.tls.\"example.org\" = \"required\": expected one of",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
    }
}

#[test]
fn mail_auth_and_caldav_defaults_honour_dmarc_and_allow_ten_mebibytes() {
    let c = ok("");
    assert!(c.mail_auth.verify);
    assert_eq!(c.mail_auth.dmarc_reject, AuthAction::Reject);
    assert_eq!(c.mail_auth.dmarc_quarantine, AuthAction::Quarantine);
    assert_eq!(c.mail_auth.spf_fail, AuthAction::Accept);
    assert_eq!(c.caldav.max_request_size, 10 * 1024 * 1024);

    let c = ok(r#"
[mail_auth]
verify = false
dmarc_reject = "quarantine"
spf_fail = "reject"

[caldav]
max_request_size = 1048576
"#);
    assert!(!c.mail_auth.verify);
    assert_eq!(c.mail_auth.dmarc_reject, AuthAction::Quarantine);
    assert_eq!(c.mail_auth.spf_fail, AuthAction::Reject);
    assert_eq!(c.caldav.max_request_size, 1_048_576);
}

#[test]
fn bad_mail_auth_and_caldav_values_are_reported() {
    let joined = errors(
        r#"
[mail_auth]
dmarc_quarantine = "drop"

[caldav]
max_request_size = 100
"#,
    )
    .join("\n");
    for needle in [
        "mail_auth.dmarc_quarantine = \"drop\": must be \"reject\", \"quarantine\" or \"accept\"",
        "caldav.max_request_size = 100: must be at least 65536 octets",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
    }
}
