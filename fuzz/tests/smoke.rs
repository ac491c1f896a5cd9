//! The fuzz smoke run: every target for its default budget (about 2 s
//! each; `POSTERN_FUZZ_SECONDS` for longer). A failure prints the panic, the
//! saved input under `fuzz/artifacts/` and the command that replays it.
//! With `POSTERN_FUZZ_SAVE_SLOWEST` set, each target's slowest input is
//! saved there too, as `slowest-<target>-<hash>.bin`.

use postern_fuzz::targets;
use postern_fuzz::Budget;

fn fuzz(name: &str) {
    let target = targets::find(name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    let budget = Budget::from_env().unwrap_or_else(|e| panic!("{e}"));
    match target.fuzz(budget) {
        Ok(stats) => {
            eprintln!("{stats}");
            // For profiling: keep the slowest input of each target.
            if std::env::var_os("POSTERN_FUZZ_SAVE_SLOWEST").is_some() {
                let name = format!("slowest-{name}");
                if let Some(path) = postern_fuzz::save_artifact(&name, &stats.slowest_input) {
                    eprintln!("{name}: {}", path.display());
                }
            }
        }
        Err(failure) => panic!("\n{failure}"),
    }
}

#[test]
fn smtp_mx() {
    fuzz("smtp_mx");
}

#[test]
fn smtp_submission() {
    fuzz("smtp_submission");
}

#[test]
fn smtp_tls() {
    fuzz("smtp_tls");
}

#[test]
fn imap() {
    fuzz("imap");
}

#[test]
fn imap_message() {
    fuzz("imap_message");
}

#[test]
fn pop3() {
    fuzz("pop3");
}

#[test]
fn config() {
    fuzz("config");
}

#[test]
fn duration() {
    fuzz("duration");
}

#[test]
fn http_head() {
    fuzz("http_head");
}

#[test]
fn http_core() {
    fuzz("http_core");
}

#[test]
fn tls_pem() {
    fuzz("tls_pem");
}

#[test]
fn tls_pkcs12() {
    fuzz("tls_pkcs12");
}

#[test]
fn tls_cert() {
    fuzz("tls_cert");
}

#[test]
fn smtp_reply() {
    fuzz("smtp_reply");
}

#[test]
fn mta_sts_policy() {
    fuzz("mta_sts_policy");
}

#[test]
fn mta_sts_txt() {
    fuzz("mta_sts_txt");
}

#[test]
fn mta_sts_http() {
    fuzz("mta_sts_http");
}

/// Every registered target has its test above.
#[test]
fn every_target_is_smoke_tested() {
    let this_file = include_str!("smoke.rs");
    for t in targets::ALL {
        let call = format!("fuzz(\"{}\");", t.name);
        assert!(
            this_file.contains(&call),
            "no smoke test for target {}",
            t.name
        );
    }
}

#[test]
fn web_multipart() {
    fuzz("web_multipart");
}

#[test]
fn web_write() {
    fuzz("web_write");
}

#[test]
fn dav_xml() {
    fuzz("dav_xml");
}

#[test]
fn dav_ical() {
    fuzz("dav_ical");
}

#[test]
fn dav_imip() {
    fuzz("dav_imip");
}

#[test]
fn proxy_front() {
    fuzz("proxy_front");
}

#[test]
fn tlsrpt_json() {
    fuzz("tlsrpt_json");
}
