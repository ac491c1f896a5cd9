//! `postern dns records --domain D`: every DNS record a mail domain needs
//! to receive mail here and have its outgoing mail trusted, in zone-file
//! form, each with a comment saying why. Built from the configuration
//! (host name, listeners and their ports), the DKIM keys and the current
//! certificate, so it is right for this installation, not a template.

use std::fmt::Write as _;
use std::process::ExitCode;

use postern_config::Config;
use postern_outbound::dkim::keys;
use postern_server::outbound::DKIM_DIR;
use postern_types::{Service, TlsMode};
use sha2::{Digest as _, Sha256};

use crate::paths::Location;

/// `postern dns ...`
#[derive(Debug, clap::Subcommand)]
pub enum DnsCommand {
    /// Print the records to publish for a mail domain.
    Records {
        /// One of this server's mail domains.
        #[arg(long)]
        domain: String,
    },
}

pub fn run(loc: &Location, cmd: DnsCommand) -> anyhow::Result<ExitCode> {
    let DnsCommand::Records { domain } = cmd;
    let config = loc.load()?;
    let domain = keys::normalize_domain(&domain)?;
    print!("{}", records(&config, &domain)?);
    Ok(ExitCode::SUCCESS)
}

/// The whole listing.
fn records(config: &Config, domain: &str) -> anyhow::Result<String> {
    let host = config.hostname.trim_end_matches('.').to_ascii_lowercase();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; DNS records for {domain}, whose mail this server ({host}) handles.\n\
         ; Zone-file syntax; names end with a dot. The host name needs its own\n\
         ; A (and AAAA) record with this server's public address, and a PTR record\n\
         ; back to {host} from whoever runs that address.\n"
    );
    mx(&mut out, domain, &host);
    spf(&mut out, domain);
    dkim(&mut out, config, domain)?;
    dmarc(&mut out, domain);
    mta_sts(&mut out, domain, &host);
    tls_rpt(&mut out, domain);
    tlsa(&mut out, config, &host);
    srv(&mut out, config, domain, &host);
    Ok(out)
}

fn mx(out: &mut String, domain: &str, host: &str) {
    let _ = writeln!(
        out,
        "; MX: mail for {domain} is delivered to this server (RFC 5321 §5.1).\n\
         {domain}. IN MX 10 {host}.\n"
    );
}

fn spf(out: &mut String, domain: &str) {
    let _ = writeln!(
        out,
        "; SPF: only the hosts of the MX record may send mail as {domain}; receivers\n\
         ; reject mail from anywhere else (RFC 7208). Add `a:HOST` or `ip4:ADDR` before\n\
         ; -all if mail leaves from another address (a relay).\n\
         {domain}. IN TXT \"v=spf1 mx -all\"\n"
    );
}

fn dkim(out: &mut String, config: &Config, domain: &str) -> anyhow::Result<()> {
    let found = crate::cmd::dkim::records(&config.data_dir.join(DKIM_DIR), domain)?;
    if found.is_empty() {
        let _ = writeln!(
            out,
            "; DKIM: no key yet. Run `postern dkim generate --domain {domain}` and print\n\
             ; these records again: without DKIM, DMARC below fails for all your mail.\n"
        );
        return Ok(());
    }
    let _ = writeln!(
        out,
        "; DKIM: the public keys that verify the signatures this server puts on mail\n\
         ; from {domain} (RFC 6376; Ed25519 per RFC 8463, with RSA for older verifiers)."
    );
    for (_, line) in found {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    Ok(())
}

fn dmarc(out: &mut String, domain: &str) {
    let _ = writeln!(
        out,
        "; DMARC: receivers quarantine mail that claims to be from {domain} but passes\n\
         ; neither SPF nor DKIM for it, and send daily reports to postmaster (RFC 7489).\n\
         ; A suggested start: once the reports show only your own servers, use p=reject.\n\
         _dmarc.{domain}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}\"\n"
    );
}

fn mta_sts(out: &mut String, domain: &str, host: &str) {
    let policy = postern_web::mta_sts::policy_text(host);
    let _ = writeln!(
        out,
        "; MTA-STS: senders must deliver to {domain} over verified TLS (RFC 8461). The\n\
         ; policy is served by this server at https://mta-sts.{domain}/.well-known/mta-sts.txt,\n\
         ; so that name must reach this server's HTTPS listener, with a certificate\n\
         ; valid for it. The id is a digest of the policy: it changes, as §3.1 asks,\n\
         ; exactly when the policy does (a new host name).\n\
         _mta-sts.{domain}. IN TXT \"v=STSv1; id={}\"\n\
         mta-sts.{domain}. IN CNAME {host}.\n",
        policy_id(&policy)
    );
}

/// RFC 8461 §3.1: up to 32 letters and digits; 20 hex digits of the
/// policy's SHA-256 are plenty to tell two policies apart.
fn policy_id(policy: &str) -> String {
    hex(&Sha256::digest(policy.as_bytes()))[..20].to_owned()
}

fn tls_rpt(out: &mut String, domain: &str) {
    let _ = writeln!(
        out,
        "; TLS-RPT: senders report failed TLS connections to {domain} daily (RFC 8460).\n\
         ; Create the mailbox or an alias for tlsrpt@{domain}, or change the address.\n\
         _smtp._tls.{domain}. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"\n"
    );
}

fn tlsa(out: &mut String, config: &Config, host: &str) {
    let _ = writeln!(
        out,
        "; DANE: the key of the certificate on port 25, for senders that validate DNSSEC\n\
         ; (RFC 7672; 3 1 1 = this server's own key, its SubjectPublicKeyInfo, SHA-256).\n\
         ; Only useful in a DNSSEC-signed zone. Publish the record of a new key before\n\
         ; the certificate with that key is installed, and remove the old one after."
    );
    let digests = smtp_key_digests(config, host);
    if digests.is_empty() {
        let _ = writeln!(
            out,
            "; (no certificate for {host} could be read; run `postern check`)"
        );
    }
    for (name, digest) in digests {
        let _ = writeln!(
            out,
            "_25._tcp.{host}. IN TLSA 3 1 1 {digest} ; certificate \"{name}\""
        );
    }
    out.push('\n');
}

/// SHA-256 of the public key of each certificate the SMTP listener would
/// serve to a sender asking for `host` (an ECDSA and an RSA one may both).
fn smtp_key_digests(config: &Config, host: &str) -> Vec<(String, String)> {
    let allowed: Vec<&String> = config
        .enabled_listeners()
        .filter(|l| l.service == Service::Smtp)
        .flat_map(|l| &l.certificates)
        .collect();
    let mut candidates = Vec::new();
    for c in &config.certificates {
        if !allowed.is_empty() && !allowed.contains(&&c.name) {
            continue;
        }
        let Ok(ck) = postern_tls::certstore::read_cert_key(c) else {
            continue;
        };
        let Some(leaf) = ck.chain.first() else {
            continue;
        };
        let covers =
            postern_tls::inspect::CertSummary::from_der(leaf).is_ok_and(|s| s.covers_name(host));
        if let Some(digest) = spki_sha256(leaf) {
            candidates.push((covers, c.default, c.name.clone(), digest));
        }
    }
    // SNI picks the certificates for the host name; without one, the
    // default certificate answers.
    let any_covers = candidates.iter().any(|c| c.0);
    candidates
        .into_iter()
        .filter(|(covers, default, ..)| if any_covers { *covers } else { *default })
        .map(|(_, _, name, digest)| (name, digest))
        .collect()
}

fn spki_sha256(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(hex(&Sha256::digest(cert.tbs_certificate.subject_pki.raw)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn srv(out: &mut String, config: &Config, domain: &str, host: &str) {
    let _ = writeln!(
        out,
        "; SRV: where mail programs find this server for {domain} (RFC 6186); implicit\n\
         ; TLS first (priority 0), STARTTLS after (RFC 8314 §5.1)."
    );
    for l in config.enabled_listeners() {
        let Some(name) = srv_name(l.service, l.tls) else {
            continue;
        };
        let Some(port) = l.bind.first().map(std::net::SocketAddr::port) else {
            continue;
        };
        let priority = if l.tls == TlsMode::Implicit { 0 } else { 10 };
        let _ = writeln!(
            out,
            "_{name}._tcp.{domain}. IN SRV {priority} 1 {port} {host}."
        );
    }
}

/// The RFC 6186 / RFC 8314 service label of a listener, if it has one.
fn srv_name(service: Service, tls: TlsMode) -> Option<&'static str> {
    Some(match (service, tls) {
        (Service::Submission, TlsMode::Implicit) => "submissions",
        (Service::Submission, TlsMode::StartTls) => "submission",
        (Service::Imap, TlsMode::Implicit) => "imaps",
        (Service::Imap, TlsMode::StartTls) => "imap",
        (Service::Pop3, TlsMode::Implicit) => "pop3s",
        (Service::Pop3, TlsMode::StartTls) => "pop3",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_id_changes_with_the_policy_only() {
        let a = super::policy_id("version: STSv1\r\nmx: a.example\r\n");
        assert_eq!(a, super::policy_id("version: STSv1\r\nmx: a.example\r\n"));
        assert_ne!(a, super::policy_id("version: STSv1\r\nmx: b.example\r\n"));
        assert_eq!(a.len(), 20);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
