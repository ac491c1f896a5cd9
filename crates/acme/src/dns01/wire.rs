//! The DNS messages dns-01 needs, as bytes and without I/O: an RFC 2136
//! UPDATE adding or deleting one TXT record, signed with TSIG (RFC 8945,
//! HMAC-SHA256), a TXT query, and the few facts read back from an answer.
//!
//! The messages are built by hand: they are small, and TSIG signs the exact
//! bytes sent, so owning them keeps the signature and the message in step.

use aws_lc_rs::hmac;

/// RFC 1035 §3.2.2 / RFC 2136 §1.3 / RFC 8945 §4.2.
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_TSIG: u16 = 250;
const CLASS_IN: u16 = 1;
/// RFC 2136 §2.5.4: "delete an RR from an RRset" uses class NONE.
const CLASS_NONE: u16 = 254;
/// RFC 8945 §4.2: the TSIG record's class.
const CLASS_ANY: u16 = 255;
/// RFC 2136 §1.3: the UPDATE opcode.
const OPCODE_UPDATE: u8 = 5;
/// The TTL of the challenge record: short, it lives for one order.
pub const TXT_TTL: u32 = 60;
/// RFC 8945 §10: 300 seconds of clock difference are accepted.
const FUDGE: u16 = 300;
/// The only algorithm offered (RFC 8945 §6: HMAC-SHA256 is mandatory).
pub const HMAC_SHA256: &str = "hmac-sha256.";

/// A malformed name, value or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

fn err<T>(why: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(why.into()))
}

/// A TSIG key: its name (as configured on the server) and its secret.
#[derive(Clone)]
pub struct TsigKey {
    pub name: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    // The secret never appears in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What an UPDATE does to the challenge record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Delete,
}

/// A name in wire form (RFC 1035 §3.1), lowercased: DNS names compare
/// without case, and TSIG signs names in canonical (lowercase) form
/// (RFC 8945 §4.3.3).
pub fn encode_name(name: &str) -> Result<Vec<u8>, WireError> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::with_capacity(name.len() + 2);
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return err(format!("{name:?} is not a DNS name (empty or long label)"));
            }
            out.push(label.len() as u8);
            out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
    }
    out.push(0);
    if out.len() > 255 {
        return err(format!("{name:?} is longer than 255 bytes"));
    }
    Ok(out)
}

fn header(id: u16, opcode: u8, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend(id.to_be_bytes());
    out.push(opcode << 3);
    out.push(0);
    for c in counts {
        out.extend(c.to_be_bytes());
    }
    out
}

/// An unsigned UPDATE (RFC 2136 §2) of `zone`: one record in the update
/// section, `name 60 IN TXT "value"` to add, or the same with class NONE
/// and TTL 0 to delete that one record (§2.5.4). No prerequisites: the
/// record is ours, and a leftover with another value must not block.
pub fn update(
    id: u16,
    zone: &str,
    name: &str,
    value: &str,
    change: Change,
) -> Result<Vec<u8>, WireError> {
    if value.len() > 255 || !value.is_ascii() {
        return err("a TXT value longer than 255 bytes or not ASCII");
    }
    let mut m = header(id, OPCODE_UPDATE, [1, 0, 1, 0]);
    // Zone section (§2.3): the zone's name, type SOA, its class.
    m.extend(encode_name(zone)?);
    m.extend(TYPE_SOA.to_be_bytes());
    m.extend(CLASS_IN.to_be_bytes());
    // Update section (§2.5.1 add, §2.5.4 delete one RR).
    let (class, ttl) = match change {
        Change::Add => (CLASS_IN, TXT_TTL),
        Change::Delete => (CLASS_NONE, 0),
    };
    m.extend(encode_name(name)?);
    m.extend(TYPE_TXT.to_be_bytes());
    m.extend(class.to_be_bytes());
    m.extend(ttl.to_be_bytes());
    // RDATA: one <character-string> (RFC 1035 §3.3.14).
    m.extend((value.len() as u16 + 1).to_be_bytes());
    m.push(value.len() as u8);
    m.extend(value.as_bytes());
    Ok(m)
}

/// A query for the TXT records of `name`, recursion not desired: the
/// primary is asked what it holds itself.
pub fn txt_query(id: u16, name: &str) -> Result<Vec<u8>, WireError> {
    let mut m = header(id, 0, [1, 0, 0, 0]);
    m.extend(encode_name(name)?);
    m.extend(TYPE_TXT.to_be_bytes());
    m.extend(CLASS_IN.to_be_bytes());
    Ok(m)
}

/// The TSIG variables of RFC 8945 §4.3.3 that follow the message in the
/// MAC's input.
fn tsig_variables(
    key: &TsigKey,
    time: u64,
    error: u16,
    other: &[u8],
) -> Result<Vec<u8>, WireError> {
    let mut v = encode_name(&key.name)?;
    v.extend(CLASS_ANY.to_be_bytes());
    v.extend(0u32.to_be_bytes()); // TTL
    v.extend(encode_name(HMAC_SHA256)?);
    v.extend(&time.to_be_bytes()[2..]); // 48-bit time signed
    v.extend(FUDGE.to_be_bytes());
    v.extend(error.to_be_bytes());
    v.extend((other.len() as u16).to_be_bytes());
    v.extend(other);
    Ok(v)
}

fn mac(key: &TsigKey, parts: &[&[u8]]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
    let mut ctx = hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

/// Signs `message` (RFC 8945 §4.3): the MAC covers the message as it is
/// and the TSIG variables; the TSIG record is appended to the additional
/// section. Returns the signed message and the MAC, which the answer's
/// MAC covers in turn (§4.3.1).
pub fn sign(message: &[u8], key: &TsigKey, time: u64) -> Result<(Vec<u8>, Vec<u8>), WireError> {
    if message.len() < 12 {
        return err("a message shorter than its header");
    }
    let digest = mac(key, &[message, &tsig_variables(key, time, 0, &[])?]);
    let mut out = message.to_vec();
    let arcount = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    out.extend(encode_name(&key.name)?);
    out.extend(TYPE_TSIG.to_be_bytes());
    out.extend(CLASS_ANY.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    let mut rdata = encode_name(HMAC_SHA256)?;
    rdata.extend(&time.to_be_bytes()[2..]);
    rdata.extend(FUDGE.to_be_bytes());
    rdata.extend((digest.len() as u16).to_be_bytes());
    rdata.extend(&digest);
    rdata.extend(&message[..2]); // original ID
    rdata.extend(0u16.to_be_bytes()); // error
    rdata.extend(0u16.to_be_bytes()); // other len
    out.extend((rdata.len() as u16).to_be_bytes());
    out.extend(rdata);
    Ok((out, digest))
}

/// An answer's TSIG record (RFC 8945 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigRecord {
    /// Where the record starts in the message.
    pub start: usize,
    pub time: u64,
    pub mac: Vec<u8>,
    /// 16 BADSIG, 17 BADKEY, 18 BADTIME (§5.3.2), else 0.
    pub error: u16,
    pub other: Vec<u8>,
}

/// What is read from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub id: u16,
    /// RFC 1035 §4.1.1 RCODE (the header's four bits).
    pub rcode: u8,
    /// The TXT strings of the answer section, one per record (joined).
    pub txt: Vec<String>,
    pub tsig: Option<TsigRecord>,
}

/// A bounds-checked reader: an answer is peer input.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return err("the answer is cut short");
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Skips a name, compressed or not (RFC 1035 §4.1.4).
    fn skip_name(&mut self) -> Result<(), WireError> {
        loop {
            let len = self.take(1)?[0];
            match len {
                0 => return Ok(()),
                l if l & 0xC0 == 0xC0 => {
                    self.take(1)?;
                    return Ok(());
                }
                l if l & 0xC0 != 0 => return err("an unknown label type in the answer"),
                l => {
                    self.take(usize::from(l))?;
                }
            }
        }
    }
}

/// Reads the header, the TXT answers and the TSIG record of `msg`.
pub fn parse_answer(msg: &[u8]) -> Result<Answer, WireError> {
    let mut r = Reader { buf: msg, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return err("a query where an answer was expected");
    }
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    for _ in 0..counts[0] {
        r.skip_name()?;
        r.take(4)?;
    }
    let mut answer = Answer {
        id,
        rcode: (flags & 0x000F) as u8,
        txt: Vec::new(),
        tsig: None,
    };
    let records = u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3]);
    for i in 0..records {
        let start = r.pos;
        r.skip_name()?;
        let rtype = r.u16()?;
        r.take(6)?; // class, TTL
        let len = usize::from(r.u16()?);
        let rdata = r.take(len)?;
        if rtype == TYPE_TXT && i < u32::from(counts[1]) {
            answer.txt.push(txt_strings(rdata)?);
        }
        // RFC 8945 §5.1: TSIG is the last record of the additional section.
        if rtype == TYPE_TSIG && i + 1 == records {
            answer.tsig = Some(tsig_rdata(start, rdata)?);
        }
    }
    Ok(answer)
}

fn txt_strings(rdata: &[u8]) -> Result<String, WireError> {
    let mut r = Reader { buf: rdata, pos: 0 };
    let mut out = String::new();
    while r.pos < rdata.len() {
        let len = usize::from(r.take(1)?[0]);
        out.push_str(&String::from_utf8_lossy(r.take(len)?));
    }
    Ok(out)
}

fn tsig_rdata(start: usize, rdata: &[u8]) -> Result<TsigRecord, WireError> {
    let mut r = Reader { buf: rdata, pos: 0 };
    r.skip_name()?; // algorithm
    let t = r.take(6)?;
    let time = t.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    r.u16()?; // fudge
    let mac_len = usize::from(r.u16()?);
    let mac = r.take(mac_len)?.to_vec();
    r.u16()?; // original ID
    let error = r.u16()?;
    let other_len = usize::from(r.u16()?);
    let other = r.take(other_len)?.to_vec();
    Ok(TsigRecord {
        start,
        time,
        mac,
        error,
        other,
    })
}

/// Checks a signed answer (RFC 8945 §4.3.1, §5.3): its MAC covers the
/// request's MAC (length first), the answer without its TSIG record and
/// with the original ID and ARCOUNT, and the TSIG variables.
pub fn verify_answer(
    msg: &[u8],
    answer: &Answer,
    key: &TsigKey,
    request_mac: &[u8],
    request_id: u16,
) -> Result<(), WireError> {
    let Some(t) = &answer.tsig else {
        return err("the answer is not signed");
    };
    if t.mac.is_empty() {
        return err("the answer's signature is empty");
    }
    let mut body = msg[..t.start].to_vec();
    body[..2].copy_from_slice(&request_id.to_be_bytes());
    let arcount = u16::from_be_bytes([body[10], body[11]]).saturating_sub(1);
    body[10..12].copy_from_slice(&arcount.to_be_bytes());
    let request_len = (request_mac.len() as u16).to_be_bytes();
    let vars = tsig_variables(key, t.time, t.error, &t.other)?;
    let mut input = Vec::with_capacity(body.len() + vars.len() + 64);
    for p in [&request_len[..], request_mac, &body, &vars] {
        input.extend_from_slice(p);
    }
    // hmac::verify compares in constant time.
    let k = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
    hmac::verify(&k, &input, &t.mac)
        .or_else(|_| err("the answer's signature does not match the key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TsigKey {
        TsigKey {
            name: "Postern-Key.".into(),
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        }
    }

    #[test]
    fn names_are_length_prefixed_lowercase_labels() {
        assert_eq!(
            encode_name("WWW.Example.test.").unwrap(),
            b"\x03www\x07example\x04test\x00"
        );
        assert_eq!(encode_name(".").unwrap(), b"\x00");
        assert!(encode_name("a..b").is_err());
        assert!(encode_name(&"x".repeat(64)).is_err());
    }

    #[test]
    fn an_add_is_one_txt_record_in_the_update_section() {
        let m = update(
            0x1234,
            "example.test.",
            "_acme-challenge.www.example.test",
            "abc",
            Change::Add,
        )
        .unwrap();
        let mut want: Vec<u8> = vec![
            0x12, 0x34, 0x28, 0x00, // ID, QR=0 opcode UPDATE (5 << 3)
            0, 1, 0, 0, 0, 1, 0, 0, // ZOCOUNT 1, PRCOUNT 0, UPCOUNT 1, ADCOUNT 0
        ];
        want.extend(b"\x07example\x04test\x00\x00\x06\x00\x01"); // zone, SOA, IN
        want.extend(b"\x0f_acme-challenge\x03www\x07example\x04test\x00");
        want.extend([0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3]); // TXT IN 60, rdlen 4
        want.extend(b"abc");
        assert_eq!(m, want);
    }

    #[test]
    fn a_delete_names_the_one_record_with_class_none_and_ttl_zero() {
        let m = update(1, "example.test", "x.example.test", "abc", Change::Delete).unwrap();
        let rr = &m[m.len() - 4 - 10..];
        assert_eq!(rr, [0, 16, 0, 254, 0, 0, 0, 0, 0, 4, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn the_tsig_mac_covers_the_message_and_the_variables() {
        let msg = update(7, "example.test", "x.example.test", "v", Change::Add).unwrap();
        let time = 0x0000_6000_0001u64;
        let (signed, mac_bytes) = sign(&msg, &key(), time).unwrap();
        // The MAC input written out byte by byte (RFC 8945 §4.3.3), and
        // the HMAC computed over it here, apart from the signer.
        let mut input = msg.clone();
        input.extend(b"\x0bpostern-key\x00"); // key name, canonical
        input.extend([0, 255, 0, 0, 0, 0]); // class ANY, TTL 0
        input.extend(b"\x0bhmac-sha256\x00");
        input.extend([0, 0, 0x60, 0, 0, 1, 1, 44]); // time, fudge 300
        input.extend([0, 0, 0, 0]); // error, other len
        let k = hmac::Key::new(hmac::HMAC_SHA256, &key().secret);
        assert_eq!(mac_bytes, hmac::sign(&k, &input).as_ref());
        // The message now counts one additional record: the TSIG record.
        assert_eq!(&signed[..10], &msg[..10]);
        assert_eq!(&signed[10..12], [0, 1]);
        let mut rr = b"\x0bpostern-key\x00\x00\xfa\x00\xff\x00\x00\x00\x00".to_vec();
        rr.extend([0, 13 + 6 + 2 + 2 + 32 + 6]); // rdlength
        rr.extend(b"\x0bhmac-sha256\x00");
        rr.extend([0, 0, 0x60, 0, 0, 1, 1, 44, 0, 32]);
        rr.extend(&mac_bytes);
        rr.extend([0, 7, 0, 0, 0, 0]); // original ID, error, other len
        assert_eq!(&signed[msg.len()..], &rr[..]);
    }

    /// A server's signed answer, built as RFC 8945 §4.3.1 says.
    fn signed_answer(request_mac: &[u8], rcode: u8, tamper: bool) -> Vec<u8> {
        let mut body = header(9, OPCODE_UPDATE, [1, 0, 0, 0]);
        body[2] |= 0x80;
        body[3] = rcode;
        body.extend(b"\x07example\x04test\x00\x00\x06\x00\x01");
        let time = 1_700_000_000u64;
        let vars = tsig_variables(&key(), time, 0, &[]).unwrap();
        let len = (request_mac.len() as u16).to_be_bytes();
        let mut m = mac(&key(), &[&len, request_mac, &body, &vars]);
        if tamper {
            m[0] ^= 1;
        }
        let mut out = body.clone();
        out[11] = 1;
        out.extend(b"\x0bpostern-key\x00\x00\xfa\x00\xff\x00\x00\x00\x00");
        out.extend([0, 13 + 6 + 2 + 2 + 32 + 6]);
        out.extend(b"\x0bhmac-sha256\x00");
        out.extend(&time.to_be_bytes()[2..]);
        out.extend([1, 44, 0, 32]);
        out.extend(&m);
        out.extend([0, 9, 0, 0, 0, 0]);
        out
    }

    #[test]
    fn a_signed_answer_is_verified_and_a_forged_one_refused() {
        let request_mac = [5u8; 32];
        let good = signed_answer(&request_mac, 0, false);
        let a = parse_answer(&good).unwrap();
        assert_eq!((a.id, a.rcode), (9, 0));
        verify_answer(&good, &a, &key(), &request_mac, 9).unwrap();
        let other_request = [6u8; 32];
        assert!(verify_answer(&good, &a, &key(), &other_request, 9).is_err());
        let bad = signed_answer(&request_mac, 0, true);
        let b = parse_answer(&bad).unwrap();
        assert!(verify_answer(&bad, &b, &key(), &request_mac, 9).is_err());
    }

    #[test]
    fn answers_give_their_rcode_txt_and_tsig_error() {
        // NOTAUTH with an unsigned TSIG record carrying BADSIG (§5.3.2).
        let mut m = header(3, OPCODE_UPDATE, [0, 0, 0, 1]);
        m[2] |= 0x80;
        m[3] = 9;
        m.extend(b"\x0bpostern-key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x1d");
        m.extend(
            b"\x0bhmac-sha256\x00\x00\x00\x00\x00\x00\x01\x01\x2c\x00\x00\x00\x03\x00\x10\x00\x00",
        );
        let a = parse_answer(&m).unwrap();
        assert_eq!(a.rcode, 9);
        assert_eq!(a.tsig.as_ref().map(|t| t.error), Some(16));
        // A TXT answer with a compressed owner name and two strings.
        let mut q = txt_query(4, "a.test").unwrap();
        q[2] = 0x84;
        q[7] = 1;
        q.extend([
            0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 2, b'a', b'b', 2, b'c', b'd',
        ]);
        assert_eq!(parse_answer(&q).unwrap().txt, ["abcd"]);
        // Cut short anywhere: an error, never a panic.
        for n in 0..q.len() {
            let _ = parse_answer(&q[..n]);
        }
        assert!(parse_answer(&q[..q.len() - 1]).is_err());
    }
}
