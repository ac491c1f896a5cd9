//! The dns-01 challenge (RFC 8555 §8.4): the CA looks up the TXT records
//! of `_acme-challenge.NAME` and expects the base64url SHA-256 digest of
//! the key authorization among them. It is the only challenge that proves
//! control of a wildcard name (§7.1.3).
//!
//! The record is published by an RFC 2136 dynamic update to the zone's
//! primary, signed with TSIG (RFC 8945), and deleted again when the order
//! ends, whatever its outcome ([`Dns01::finish`]).

pub mod wire;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::AcmeError;
pub use wire::TsigKey;
use wire::{Change, WireError};

/// How long one exchange with the DNS server may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the primary to answer with a new record.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (RFC 1035 §4.2.2: TCP length is 16 bits).
const MAX_ANSWER: usize = 65_535;

/// Where and how the challenge records are updated.
#[derive(Debug, Clone)]
pub struct DnsUpdate {
    /// The zone's primary, which accepts updates (RFC 2136 §4).
    pub server: SocketAddr,
    /// The zone holding the records; `None`: each name's parent
    /// (`example.com` for `www.example.com` and `*.example.com`).
    pub zone: Option<String>,
    pub key: TsigKey,
}

/// Reads a TSIG secret: base64 on the first line, as BIND's `tsig-keygen`
/// prints it in its `secret "..."` clause.
pub fn read_tsig_secret(path: &Path) -> Result<Vec<u8>, AcmeError> {
    let text = std::fs::read_to_string(path).map_err(|e| AcmeError::io(path, e))?;
    warn_if_readable_by_others(path);
    let line = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    let secret = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|e| {
            AcmeError::Config(format!(
                "{}: the first line is not a base64 TSIG secret ({e}); put the key's secret there, as in the server's `secret \"...\";` clause",
                path.display()
            ))
        })?;
    if secret.is_empty() {
        return Err(AcmeError::Config(format!(
            "{}: the TSIG secret is empty; put the key's base64 secret on the first line",
            path.display()
        )));
    }
    Ok(secret)
}

/// Anyone who reads the secret can change the zone's TXT records (the
/// key's grant), so a file others may read is worth a warning.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the TSIG secret file is readable by other users; chmod 600 it");
        }
    }
}

/// The record name for a name or a wildcard (RFC 8555 §8.4: the wildcard
/// label is dropped, `*.example.com` is proven at `example.com`).
pub fn record_name(name: &str) -> String {
    let base = name
        .strip_prefix("*.")
        .unwrap_or(name)
        .trim_end_matches('.');
    format!("_acme-challenge.{base}.")
}

/// The zone to update for `name` when none is configured: its parent,
/// the zone a wildcard names (`example.com` for `www.example.com` and for
/// `*.example.com`).
pub fn default_zone(name: &str) -> String {
    let name = name.trim_end_matches('.');
    let zone = match name.strip_prefix("*.") {
        Some(base) => base,
        None => name.split_once('.').map_or(name, |(_, parent)| parent),
    };
    format!("{zone}.")
}

/// The records published for one order; [`Dns01::finish`] deletes them.
#[derive(Debug)]
pub struct Dns01 {
    update: DnsUpdate,
    /// (zone, record name, value) of each record added.
    published: Vec<(String, String, String)>,
}

impl Dns01 {
    pub fn new(update: DnsUpdate) -> Self {
        Self {
            update,
            published: Vec::new(),
        }
    }

    /// Adds the TXT record proving `name` (`*.example.com` for a wildcard
    /// authorization) with `value`, the base64url digest of the key
    /// authorization.
    pub async fn publish(&mut self, name: &str, value: &str) -> Result<(), AcmeError> {
        let zone = self.zone_for(name);
        let record = record_name(name);
        // Recorded first: an update whose answer is lost may still have
        // been applied, and the delete at the end is harmless if it was not.
        self.published
            .push((zone.clone(), record.clone(), value.to_owned()));
        send_update(&self.update, &zone, &record, value, Change::Add).await?;
        tracing::info!(record, zone, server = %self.update.server, "published the dns-01 TXT record");
        Ok(())
    }

    /// Waits until the primary answers every published record, so the CA
    /// does not look before it is there. A primary that does not answer
    /// queries is not an error: the CA may still see the record.
    pub async fn wait_visible(&self) {
        let until = Instant::now() + VISIBLE_TIMEOUT;
        for (_, record, value) in &self.published {
            loop {
                match query_txt(self.update.server, record).await {
                    Ok(values) if values.iter().any(|v| v == value) => break,
                    Ok(_) => {}
                    Err(e) => tracing::debug!(record, error = %e, "querying the TXT record"),
                }
                if Instant::now() >= until {
                    tracing::warn!(record, server = %self.update.server, "the DNS server does not answer the new TXT record yet; asking the CA anyway");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }

    /// Deletes every published record; failures are logged with what to
    /// remove by hand, since the order's own outcome is what is reported.
    pub async fn finish(mut self) {
        for (zone, record, value) in std::mem::take(&mut self.published) {
            match send_update(&self.update, &zone, &record, &value, Change::Delete).await {
                Ok(()) => tracing::info!(record, "deleted the dns-01 TXT record"),
                Err(e) => {
                    tracing::warn!(record, error = %e, "could not delete the dns-01 TXT record; remove `{record} TXT \"{value}\"` from zone {zone} by hand")
                }
            }
        }
    }

    fn zone_for(&self, name: &str) -> String {
        match &self.update.zone {
            Some(z) => format!("{}.", z.trim_end_matches('.')),
            None => default_zone(name),
        }
    }
}

fn wire_error(server: SocketAddr) -> impl Fn(WireError) -> AcmeError {
    move |e| AcmeError::DnsUpdate {
        server,
        why: format!("{e}; check that dns_server is a DNS server's address"),
    }
}

/// Sends one signed UPDATE and checks its answer.
async fn send_update(
    u: &DnsUpdate,
    zone: &str,
    record: &str,
    value: &str,
    change: Change,
) -> Result<(), AcmeError> {
    let id = message_id();
    let unsigned = wire::update(id, zone, record, value, change).map_err(wire_error(u.server))?;
    let (signed, request_mac) =
        wire::sign(&unsigned, &u.key, unix_time()).map_err(wire_error(u.server))?;
    let raw = exchange(u.server, &signed).await?;
    let answer = wire::parse_answer(&raw).map_err(wire_error(u.server))?;
    if answer.id != id {
        return Err(wire_error(u.server)(WireError(
            "an answer to another message".into(),
        )));
    }
    let tsig_error = answer.tsig.as_ref().map_or(0, |t| t.error);
    if answer.rcode != 0 || tsig_error != 0 {
        return Err(AcmeError::DnsUpdate {
            server: u.server,
            why: rcode_advice(answer.rcode, tsig_error, zone, &u.key.name),
        });
    }
    // RFC 8945 §5.3: a success is believed only when signed with the key.
    wire::verify_answer(&raw, &answer, &u.key, &request_mac, id).map_err(|e| {
        AcmeError::DnsUpdate {
            server: u.server,
            why: format!("{e}: the answer to the update was not signed with key {}; check that dns_server is the zone's primary itself, not a forwarder", u.key.name),
        }
    })
}

/// What the administrator should do about an UPDATE's RCODE (RFC 2136
/// §2.2) or TSIG error (RFC 8945 §5.3.2).
fn rcode_advice(rcode: u8, tsig_error: u16, zone: &str, key: &str) -> String {
    match (rcode, tsig_error) {
        (_, 16) => format!("the server refused the signature of key {key} (BADSIG): the secret in tsig_secret_file (--tsig-secret-file) is not the one the server has for this key; copy the secret from the server's key clause"),
        (_, 17) => format!("the server does not know key {key} (BADKEY): check tsig_key_name, and tsig_algorithm = \"hmac-sha256\" on both sides"),
        (_, 18) => "the server refused the signature's time (BADTIME): this machine's clock and the server's differ by more than 5 minutes; synchronise them (NTP)".to_owned(),
        (5, _) => format!("the server REFUSED the update of zone {zone}: the zone does not allow updates with key {key}; grant it (BIND: update-policy {{ grant {key} zonesub TXT; }};)"),
        (9, _) => format!("the server is not authoritative for zone {zone} or did not accept key {key} (NOTAUTH): check dns_zone, that dns_server is the zone's primary, and the key"),
        (10, _) => format!("the record is not inside zone {zone} (NOTZONE): set dns_zone to the zone holding the names"),
        (4, _) => "the server does not implement dynamic updates (NOTIMP, RFC 2136); give the address of the zone's primary as dns_server".to_owned(),
        (2, _) => format!("the server failed to update zone {zone} (SERVFAIL); see its log"),
        (1, _) => "the server could not read the update (FORMERR); see its log".to_owned(),
        (r, e) => format!("the update failed with RCODE {r} (TSIG error {e}); see the DNS server's log"),
    }
}

/// The TXT values the server answers for `record`.
async fn query_txt(server: SocketAddr, record: &str) -> Result<Vec<String>, AcmeError> {
    let id = message_id();
    let q = wire::txt_query(id, record).map_err(wire_error(server))?;
    let raw = exchange(server, &q).await?;
    let a = wire::parse_answer(&raw).map_err(wire_error(server))?;
    if a.id != id {
        return Err(wire_error(server)(WireError(
            "an answer to another query".into(),
        )));
    }
    Ok(a.txt)
}

/// One message and its answer over TCP (RFC 1035 §4.2.2: two bytes of
/// length first). TCP: an UPDATE with TSIG may not fit a small UDP
/// answer, and a connection cannot be answered by a spoofed packet.
async fn exchange(server: SocketAddr, msg: &[u8]) -> Result<Vec<u8>, AcmeError> {
    let io_err = |e: std::io::Error| {
        AcmeError::DnsUpdate {
        server,
        why: format!("{e}; check dns_server (the zone's primary, \"ip:port\") and that it accepts TCP from this machine"),
    }
    };
    let timed_out = || {
        io_err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer within 10 s",
        ))
    };
    let work = async {
        let mut s = TcpStream::connect(server).await?;
        let mut out = (msg.len() as u16).to_be_bytes().to_vec();
        out.extend(msg);
        s.write_all(&out).await?;
        let len = usize::from(s.read_u16().await?);
        let mut buf = vec![0u8; len.min(MAX_ANSWER)];
        s.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    timeout(EXCHANGE_TIMEOUT, work)
        .await
        .map_err(|_| timed_out())?
        .map_err(io_err)
}

fn message_id() -> u16 {
    // RFC 5452 §9.2: unpredictable IDs, from the system's random source.
    let mut b = [0u8; 2];
    aws_lc_rs::rand::fill(&mut b).map_or(0, |()| u16::from_be_bytes(b))
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_and_default_zones_drop_the_wildcard() {
        assert_eq!(
            record_name("www.example.com"),
            "_acme-challenge.www.example.com."
        );
        assert_eq!(record_name("*.example.com"), "_acme-challenge.example.com.");
        assert_eq!(default_zone("www.example.com"), "example.com.");
        assert_eq!(default_zone("*.example.com"), "example.com.");
        assert_eq!(default_zone("a.b.example.com."), "b.example.com.");
    }

    #[test]
    fn tsig_secrets_are_base64_on_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "c2VjcmV0LWtleQ==\nignored\n").unwrap();
        assert_eq!(read_tsig_secret(&p).unwrap(), b"secret-key");
        std::fs::write(&p, "not base64!\n").unwrap();
        let e = read_tsig_secret(&p).unwrap_err().to_string();
        assert!(e.contains("not a base64 TSIG secret"), "{e}");
    }

    #[test]
    fn each_refusal_says_what_to_change() {
        let a = |r, e| rcode_advice(r, e, "example.com.", "k");
        assert!(a(9, 16).contains("tsig_secret_file"));
        assert!(a(9, 17).contains("tsig_key_name"));
        assert!(a(9, 18).contains("clock"));
        assert!(a(5, 0).contains("does not allow updates with key k"));
        assert!(a(10, 0).contains("dns_zone"));
    }
}
