//! A DNS responder on loopback for tests of mail authentication: a fixed
//! zone of TXT and A records, answered over UDP (RFC 1035 §4), so that a
//! server's `outbound.resolver` can point at it and no query ever leaves
//! the machine. Plus a DKIM key in the layout `postern dkim generate`
//! writes, with its TXT record.
//!
//! Names are compared without case. A name with records of another type
//! gets an empty answer (NODATA); an unknown name gets NXDOMAIN, which is
//! what makes the DMARC tree walk (RFC 7489 §6.6.3) and absent SPF records
//! come out as "none". No TCP: every answer here fits in a datagram.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
const CLASS_IN: u16 = 1;

/// One record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Data {
    A(Ipv4Addr),
    /// The whole text; split into strings of 255 octets on the wire.
    Txt(String),
}

impl Data {
    const fn rtype(&self) -> u16 {
        match self {
            Self::A(_) => TYPE_A,
            Self::Txt(_) => TYPE_TXT,
        }
    }

    fn rdata(&self) -> Vec<u8> {
        match self {
            Self::A(ip) => ip.octets().to_vec(),
            // RFC 1035 §3.3.14: character-strings of at most 255 octets.
            Self::Txt(text) => text.as_bytes().chunks(255).fold(Vec::new(), |mut out, s| {
                out.push(s.len() as u8);
                out.extend_from_slice(s);
                out
            }),
        }
    }
}

/// The records served, by lower-case name without the final dot.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: HashMap<String, Vec<Data>>,
}

impl Zone {
    /// Adds a TXT record (`v=spf1 ...`, `v=DMARC1; ...`, a DKIM key).
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        self.add(name, Data::Txt(text.to_owned()));
        self
    }

    /// Adds an A record (for SPF `a` and `mx` mechanisms).
    pub fn a(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.add(name, Data::A(ip));
        self
    }

    fn add(&mut self, name: &str, data: Data) {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        self.records.entry(key).or_default().push(data);
    }
}

/// The running responder; stops when dropped.
#[derive(Debug)]
pub struct DnsStub {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DnsStub {
    /// Serves `zone` on `127.0.0.1:0`.
    pub async fn start(zone: Zone) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = socket.local_addr().expect("UDP address");
        let task = tokio::spawn(serve(socket, zone));
        Self { addr, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `[outbound]` section sending every lookup of a server here (no
    /// MTA-STS or DANE: those would ask for records the zone lacks).
    pub fn outbound_section(&self, extra: &str) -> String {
        format!(
            "[outbound]\nresolver = \"{}\"\nmta_sts = false\ndane = false\n{extra}\n",
            self.addr
        )
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: UdpSocket, zone: Zone) {
    let mut buf = vec![0; 4096];
    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
        if let Some(reply) = answer(&zone, &buf[..n]) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

/// The response to one query, or `None` for what is not a query of one
/// question (dropped, as a server may).
fn answer(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    let is_query = header[2] & 0x80 == 0;
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    if !is_query || qdcount != 1 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let question = query.get(12..end + 4)?;
    let qtype = u16::from_be_bytes([query[end], query[end + 1]]);
    let records = zone.records.get(&name);
    let matching: Vec<&Data> = records
        .into_iter()
        .flatten()
        .filter(|d| d.rtype() == qtype)
        .collect();
    // QR, the query's opcode and RD; RA; NXDOMAIN (3) for an unknown name.
    let flags1 = 0x80 | (header[2] & 0x79);
    let rcode = if records.is_none() { 3 } else { 0 };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&header[..2]);
    out.extend_from_slice(&[flags1, 0x80 | rcode, 0, 1]);
    out.extend_from_slice(&(matching.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for data in matching {
        let rdata = data.rdata();
        // The owner is the question's name: a pointer to offset 12.
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&data.rtype().to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

/// The question's name (lower case, no final dot) and the offset after
/// it. Queries carry no compression pointers in the question.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    Some((labels.join("."), pos))
}

/// Writes an Ed25519 DKIM key for `domain` and `selector` where `postern
/// dkim generate` puts it (`DATA/dkim/DOMAIN/SELECTOR.ed25519.pem`,
/// PKCS#8, mode 0600), and returns its TXT record's text (RFC 8463 §4.2:
/// `p=` is the raw public key).
pub fn write_dkim_key(data_dir: &Path, domain: &str, selector: &str) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an Ed25519 key");
    let dir = data_dir.join("dkim").join(domain);
    std::fs::create_dir_all(&dir).expect("DKIM key directory");
    let path = dir.join(format!("{selector}.ed25519.pem"));
    std::fs::write(&path, key.serialize_pem()).expect("DKIM key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&path, private).expect("DKIM key mode");
    }
    format!("v=DKIM1; k=ed25519; p={}", base64(key.public_key_raw()))
}

/// RFC 4648 §4 base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` and `qtype`, as a resolver sends it (with an
    /// EDNS OPT record the responder ignores).
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        q
    }

    #[test]
    fn answers_txt_nodata_and_nxdomain() {
        let long = "x".repeat(300);
        let zone = Zone::default()
            .txt("A.test", "v=spf1 -all")
            .txt("k.a.test.", &long)
            .a("a.test", Ipv4Addr::LOCALHOST);
        let r = answer(&zone, &query("a.TEST", TYPE_TXT)).unwrap();
        assert_eq!(&r[..4], &[0x12, 0x34, 0x81, 0x80]);
        assert_eq!(&r[6..8], &[0, 1], "one answer");
        assert!(r.ends_with(b"\x00\x0c\x0bv=spf1 -all"), "{r:?}");
        let r = answer(&zone, &query("k.a.test", TYPE_TXT)).unwrap();
        assert!(r.ends_with(&[&[255][..], &[b'x'; 255], &[45], &[b'x'; 45]].concat()));
        let r = answer(&zone, &query("a.test", 28)).unwrap();
        assert_eq!((r[3], &r[6..8]), (0x80, &[0, 0][..]), "NODATA");
        let r = answer(&zone, &query("_dmarc.test", TYPE_TXT)).unwrap();
        assert_eq!(r[3] & 0x0f, 3, "NXDOMAIN");
        assert!(answer(&zone, &[0; 5]).is_none());
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }
}
