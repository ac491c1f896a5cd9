//! The configuration file (`Config::parse`) and its durations
//! (`duration::parse`).
//!
//! Invariants of `config`:
//! - an error list is never empty; every message is non-empty, starts with
//!   the file's path and, when it names a line, names one that exists;
//! - an accepted configuration has a valid host name, unique certificate
//!   and listener names, exactly one default certificate when it has any,
//!   non-zero timeouts and connection limits, and no two enabled listeners
//!   on one address.
//!
//! Invariants of `duration`: an error message is non-empty; an accepted
//! duration prints (`duration::format`) to text that parses back to it, as
//! does any whole number of milliseconds.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use postern_config::template::{render, InitParams};
use postern_config::{duration, resolve, Config};

use super::session::excerpt;
use super::Target;

pub(super) const CONFIG: Target = Target {
    name: "config",
    about: "postern.toml through Config::parse (TOML, then every validation rule)",
    run: fuzz_config,
    seeds: config_seeds,
};

pub(super) const DURATION: Target = Target {
    name: "duration",
    about: "configuration durations through duration::parse and back",
    run: fuzz_duration,
    seeds: duration_seeds,
};

const PATH: &str = "fuzz.toml";

/// The longest configuration text tried.
const MAX_CONFIG: usize = 64 * 1024;

fn fuzz_config(input: &[u8]) {
    // Real files are a few KiB. Error reporting is quadratic in the number
    // of errors (`Resolver::locate` rescans the whole text for each one):
    // 256 KiB of broken listeners takes seconds, so inputs are cut here.
    let input = &input[..input.len().min(MAX_CONFIG)];
    let text = String::from_utf8_lossy(input);
    match Config::parse(Path::new(PATH), &text) {
        Ok(config) => check_config(&config),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an empty error list");
            let lines = text.lines().count() + 1;
            for e in &errors.0 {
                let shown = e.to_string();
                assert!(
                    shown.starts_with(PATH),
                    "an error without the path: {shown}"
                );
                assert!(!e.message.trim().is_empty(), "an empty message: {shown}");
                if let Some(line) = e.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "line {line} of {lines}: {shown}"
                    );
                }
            }
        }
    }
}

fn check_config(c: &Config) {
    assert_eq!(c.path, Path::new(PATH));
    assert!(
        resolve::is_dns_name(&c.hostname),
        "accepted host name {:?}",
        c.hostname
    );
    let mut names = HashSet::new();
    assert!(
        c.certificates.iter().all(|cert| names.insert(&cert.name)),
        "two certificates with one name"
    );
    if !c.certificates.is_empty() {
        let defaults = c.certificates.iter().filter(|cert| cert.default).count();
        assert_eq!(defaults, 1, "{defaults} default certificates");
    }
    let mut names = HashSet::new();
    let mut addrs = HashSet::new();
    for l in &c.listeners {
        assert!(names.insert(&l.name), "two listeners named {:?}", l.name);
        let t = &l.limits;
        let timeouts = [
            t.handshake_timeout,
            t.pre_auth_timeout,
            t.authenticated_timeout,
            t.data_timeout,
            t.idle_timeout,
            t.write_timeout,
            t.session_timeout,
        ];
        assert!(
            timeouts.iter().all(|d| !d.is_zero()),
            "a zero timeout in {l:?}"
        );
        assert!(t.max_connections > 0 && t.max_connections_per_ip > 0);
        for a in l.bind.iter().filter(|a| l.enabled && a.port() != 0) {
            assert!(addrs.insert(*a), "two enabled listeners on {a}");
        }
    }
}

fn config_seeds() -> Vec<Vec<u8>> {
    let params = |dev_ports| InitParams {
        hostname: "mail.example.com".into(),
        domain: "example.com".into(),
        dev_ports,
        cert_file: "c.pem".into(),
        key_file: "k.pem".into(),
        store_url: None,
    };
    let small: &[&str] = &[
        "[server]\nhostname = \"mx.example.org\"\n",
        "[server]\nhostname = \"mx.example.org\"\ndomains = [\"example.org\", \"xn--bcher-kva.example\"]\ndata_dir = \"/var/lib/postern\"\nshutdown_grace = \"500ms\"\n[log]\nformat = \"json\"\nlevel = \"postern_server=debug,info\"\n[tls]\nmin_version = \"1.3\"\ncipher_suites = [\"TLS13_AES_256_GCM_SHA384\"]\n",
        "[server]\nhostname = \"mx.example.org\"\n[[certificate]]\nname = \"p12\"\npkcs12 = \"x.p12\"\npassword_file = \"x.pass\"\n[[certificate]]\nname = \"pem\"\ncert = \"c.pem\"\nkey = \"k.pem\"\ndefault = true\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\nbind = [\"127.0.0.1:0\", \"[::1]:0\"]\ntls = \"implicit\"\ncertificates = [\"p12\"]\nclient_certificates = \"optional\"\nclient_ca = \"ca.pem\"\n[listener.limits]\nmax_connections = 1\nidle_timeout = \"29m\"\nsession_timeout = \"1d\"\n[[listener]]\nname = \"http\"\nprotocol = \"http\"\nbind = \"127.0.0.1:8080\"\ntls = \"none\"\nredirect_https_port = 8443\nenabled = false\n",
        "[server]\nhostname = \"-bad-\"\nshutdown_grace = \"0s\"\n[[listener]]\nname = \"a\"\nprotocol = \"smtp\"\nbind = \"0.0.0.0:25\"\ntls = \"implict\"\n[[listener]]\nname = \"a\"\nprotocol = \"pop4\"\nbind = \"0.0.0.0:25\"\n",
        "x = 1\n[server\n",
    ];
    let mut seeds = vec![
        render(&params(true)).into_bytes(),
        render(&params(false)).into_bytes(),
    ];
    seeds.extend(small.iter().map(|s| s.as_bytes().to_vec()));
    seeds
}

fn fuzz_duration(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    match duration::parse(&text) {
        Ok(d) => round_trip(d, &text),
        Err(message) => assert!(!message.is_empty(), "an empty error for {text:?}"),
    }
    // Any whole number of milliseconds, from the first eight bytes.
    let mut ms = [0u8; 8];
    let n = input.len().min(8);
    ms[..n].copy_from_slice(&input[..n]);
    round_trip(Duration::from_millis(u64::from_le_bytes(ms)), &text);
}

fn round_trip(d: Duration, from: &str) {
    let printed = duration::format(d);
    assert_eq!(
        duration::parse(&printed),
        Ok(d),
        "{d:?} (from {}) prints as {printed:?}, which does not parse back",
        excerpt(from.as_bytes())
    );
}

fn duration_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&str] = &[
        "500ms",
        "30s",
        "10m",
        "2h",
        "1d",
        " 90s ",
        "0s",
        "30",
        "3x",
        "s",
        "18446744073709551615ms",
        "99999999999999999999d",
        "213503982334601d",
    ];
    seeds.iter().map(|s| s.as_bytes().to_vec()).collect()
}
