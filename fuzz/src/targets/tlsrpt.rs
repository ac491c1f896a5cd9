//! TLS reporting (`postern_outbound::tlsrpt`): the JSON reader and writer,
//! the journal read back from disk, the `rua` of a TLSRPT record, and the
//! day names of the journal files.
//!
//! The first octet picks what the rest is fed to (bits 0-1):
//! 0. `json::parse` on the text: a value it returns has no value inside
//!    more than 16 containers (its depth limit), and what `json::write`
//!    makes of it reads back the same; values built from the input,
//!    strings with every kind of character, read back the same when
//!    within the limit and are refused beyond it;
//! 1. `Recorder::load` on the bytes as a day's journal file: no panic on
//!    damaged lines; each entry read, recorded again, reads back the
//!    same; the report of each domain (`report::build_json`) reads back
//!    with the sessions counted;
//! 2. `report::parse_rua` on the lines as TXT records (RFC 8460 §3):
//!    destinations only from the one `v=TLSRPTv1` record, whatever the
//!    order and the other records; a `mailto:` address with one `@` and
//!    only visible ASCII but `<` and `>` (it goes into a header and an
//!    envelope); the destinations written back into a record read back
//!    the same;
//! 3. `Day::parse` on the text and each line: a day it returns prints
//!    back as the text; every day of the years 0 to 9999 reads back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use postern_outbound::tlsrpt::json::{self, Value};
use postern_outbound::tlsrpt::report::{build_json, parse_rua, Meta, Rua};
use postern_outbound::tlsrpt::{Counts, Day, Recorder};

use super::session::excerpt;
use super::Target;
use crate::rng::{fnv1a, Rng};

pub(super) const JSON: Target = Target {
    name: "tlsrpt_json",
    about:
        "TLS reports: json::parse and write, the journal (Recorder::load), parse_rua, Day::parse",
    run: fuzz,
    seeds,
};

/// `json`'s nesting limit (private there): no value lies inside more
/// containers than this.
const MAX_DEPTH: usize = 16;

fn fuzz(input: &[u8]) {
    let (mode, rest) = input.split_first().unwrap_or((&0, &[]));
    let text = String::from_utf8_lossy(rest);
    match mode & 3 {
        0 => {
            json_text(&text);
            for line in text.lines().take(8) {
                json_text(line);
            }
            json_built(rest);
        }
        1 => journal(rest),
        2 => rua(&text),
        _ => days(&text, rest),
    }
}

/// How many containers the most deeply nested value lies inside.
fn nesting(v: &Value) -> usize {
    let inner = |c: &Value| 1 + nesting(c);
    match v {
        Value::Array(a) => a.iter().map(inner).max().unwrap_or(0),
        Value::Object(m) => m.values().map(inner).max().unwrap_or(0),
        _ => 0,
    }
}

fn within_limit(v: &Value) -> bool {
    nesting(v) <= MAX_DEPTH
}

fn json_text(text: &str) {
    let Some(v) = json::parse(text) else { return };
    assert!(within_limit(&v), "nesting of {} accepted", nesting(&v));
    let written = json::to_string(&v);
    assert_eq!(
        json::parse(&written).as_ref(),
        Some(&v),
        "{written} does not read back as {}",
        excerpt(text.as_bytes())
    );
    assert!(
        !written.contains(['\n', '\r']),
        "a value written over several lines breaks the journal: {written}"
    );
}

/// A value built from the input, written and read back.
fn json_built(input: &[u8]) {
    let mut rng = Rng::new(fnv1a(input));
    let mut budget = 200;
    let v = build(&mut rng, input, 0, &mut budget);
    let written = json::to_string(&v);
    let back = json::parse(&written);
    if within_limit(&v) {
        assert_eq!(back.as_ref(), Some(&v), "{written} does not read back");
    } else {
        assert_eq!(back, None, "nesting of {} accepted: {written}", nesting(&v));
    }
    // One container too many around a value at the limit.
    let mut deep = Value::Null;
    for i in 0..=MAX_DEPTH + usize::from(input.first().is_some_and(|b| b & 1 == 1)) {
        deep = match i % 2 {
            0 => Value::Array(vec![deep]),
            _ => json::object([("k", deep)]),
        };
    }
    let back = json::parse(&json::to_string(&deep));
    assert_eq!(back.is_some(), within_limit(&deep), "the depth limit");
}

fn build(rng: &mut Rng, input: &[u8], level: usize, budget: &mut usize) -> Value {
    *budget = budget.saturating_sub(1);
    let container = *budget > 0 && level < MAX_DEPTH + 3;
    match rng.below(if container { 7 } else { 5 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => {
            let any = rng.next_u64() as i64;
            Value::Number(*rng.pick(&[0, -1, 1, i64::MAX, i64::MIN, any]))
        }
        3 | 4 => Value::String(piece(rng, input)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| build(rng, input, level + 1, budget))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (piece(rng, input), build(rng, input, level + 1, budget)))
                .collect(),
        ),
    }
}

/// A string from the input, with characters JSON must escape.
fn piece(rng: &mut Rng, input: &[u8]) -> String {
    let start = rng.below(input.len() + 1);
    let end = (start + rng.below(24)).min(input.len());
    let mut s = String::from_utf8_lossy(&input[start..end]).into_owned();
    if rng.one_in(2) {
        s.push(*rng.pick(&[
            '"',
            '\\',
            '\n',
            '\r',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            'é',
            '\u{1f4e7}',
            '/',
        ]));
    }
    s
}

/// A fresh directory for one journal, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("postern-fuzz-tlsrpt-{}-{n}", std::process::id()));
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn journal(bytes: &[u8]) {
    let dir = TempDir::new();
    let rec = Recorder::open(&dir.0).expect("a temporary directory");
    let day = Day(20_000);
    std::fs::write(rec.path(day, "jsonl"), bytes).expect("the journal written");
    let counts = rec.load(day).expect("the journal read");
    if counts.is_empty() {
        return;
    }
    // What the recorder writes, it reads back.
    let again = Day(20_001);
    for entry in counts.keys() {
        rec.record_on(again, entry.clone());
    }
    rec.flush().expect("the journal written");
    let back = rec.load(again).expect("the journal read");
    let once: Counts = counts.keys().map(|e| (e.clone(), 1)).collect();
    assert_eq!(back, once, "entries recorded again read back otherwise");
    report(&counts, day);
}

/// Each domain's report reads back, with its sessions counted.
fn report(counts: &Counts, day: Day) {
    let mut domains: BTreeMap<&str, (u128, u128)> = BTreeMap::new();
    for (entry, n) in counts {
        let d = domains.entry(&entry.domain).or_default();
        match entry.failure {
            None => d.0 += u128::from(*n),
            Some(_) => d.1 += u128::from(*n),
        }
    }
    for (domain, (ok, failed)) in domains.into_iter().take(4) {
        let meta = Meta {
            hostname: "mx.example.org",
            contact: "postmaster@example.org",
            report_id: "20001.1@mx.example.org",
            day,
            domain,
        };
        let text = build_json(&meta, counts);
        let v =
            json::parse(&text).unwrap_or_else(|| panic!("the report does not read back: {text}"));
        let policies = v
            .get("policies")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("a report without policies: {text}"));
        let (mut ok_seen, mut failed_seen, mut details_seen) = (0u128, 0u128, 0u128);
        for p in policies {
            let n = |k: &str| {
                let v = p
                    .get("summary")
                    .and_then(|s| s.get(k))
                    .and_then(Value::as_i64);
                u128::try_from(v.unwrap_or(-1)).unwrap_or_else(|_| panic!("{k} in {text}"))
            };
            ok_seen += n("total-successful-session-count");
            failed_seen += n("total-failure-session-count");
            let in_domain = p.get("policy").and_then(|p| p.get("policy-domain"));
            assert_eq!(in_domain.and_then(Value::as_str), Some(domain), "{text}");
            for d in p
                .get("failure-details")
                .and_then(Value::as_array)
                .unwrap_or_default()
            {
                let c = d.get("failed-session-count").and_then(Value::as_i64);
                details_seen += u128::try_from(c.unwrap_or(-1)).expect("a count");
            }
        }
        // Counts past i64::MAX are written as i64::MAX (JSON numbers here
        // are 64-bit); below that they must add up.
        let limit = u128::try_from(i64::MAX).unwrap_or(u128::MAX);
        if ok + failed <= limit {
            assert_eq!(
                (ok_seen, failed_seen),
                (ok, failed),
                "sessions counted in {text}"
            );
            assert_eq!(details_seen, failed, "failure details in {text}");
        }
    }
}

fn rua(text: &str) {
    let records: Vec<String> = text.split('\n').take(16).map(str::to_owned).collect();
    let found = parse_rua(&records);
    let ours: Vec<&String> = records.iter().filter(|r| is_tlsrpt(r)).collect();
    if !found.is_empty() {
        assert_eq!(ours.len(), 1, "destinations {found:?} from {records:?}");
    }
    for r in &found {
        match r {
            Rua::Mailto(addr) => {
                assert!(addr.contains('@'), "{addr:?}");
                assert!(
                    addr.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>'),
                    "the report address {addr:?} would break the To: field or the envelope"
                );
            }
            Rua::Https(url) => assert!(
                url.get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://")),
                "{url:?}"
            ),
        }
    }
    let mut reversed = records.clone();
    reversed.reverse();
    assert_eq!(
        parse_rua(&reversed),
        found,
        "the order of {records:?} matters"
    );
    let mut more = records.clone();
    more.push("v=spf1 -all".into());
    more.insert(0, "v=STSv1; id=1".into());
    assert_eq!(parse_rua(&more), found, "other records change {records:?}");
    if let Some(r) = ours.first() {
        let mut twice = records.clone();
        twice.push((*r).clone());
        assert_eq!(
            parse_rua(&twice),
            Vec::new(),
            "two TLSRPT records in {twice:?}"
        );
    }
    if !found.is_empty() {
        let record = write_record(&found);
        assert_eq!(
            parse_rua(std::slice::from_ref(&record)),
            found,
            "{record:?} reads back otherwise"
        );
    }
}

/// A TLSRPT record: `v=TLSRPTv1` alone or before a `;` (RFC 8460 §3),
/// leading spaces tolerated as the parser does.
fn is_tlsrpt(record: &str) -> bool {
    record
        .trim_start()
        .strip_prefix("v=TLSRPTv1")
        .is_some_and(|rest| rest.trim_start().starts_with(';') || rest.trim().is_empty())
}

/// The destinations as a record: `,` `;` `%` `?` percent-encoded in an
/// address (RFC 8460 §3, RFC 6068).
fn write_record(found: &[Rua]) -> String {
    let uris: Vec<String> = found
        .iter()
        .map(|r| match r {
            Rua::Mailto(addr) => {
                let mut u = String::from("mailto:");
                for c in addr.chars() {
                    match c {
                        ',' | ';' | '%' | '?' => u.push_str(&format!("%{:02X}", u32::from(c))),
                        c => u.push(c),
                    }
                }
                u
            }
            Rua::Https(url) => url.clone(),
        })
        .collect();
    format!("v=TLSRPTv1; rua={}", uris.join(","))
}

fn days(text: &str, bytes: &[u8]) {
    for s in std::iter::once(text).chain(text.lines().take(8)) {
        if let Some(day) = Day::parse(s) {
            assert_eq!(day.to_string(), s, "Day::parse({s:?}) does not print back");
        }
    }
    // 0000-01-01 to 9999-12-31, drawn from the input.
    let n = fnv1a(bytes) % 3_652_425;
    let day = Day(i64::try_from(n).unwrap_or(0) - 719_528);
    let printed = day.to_string();
    assert_eq!(
        Day::parse(&printed),
        Some(day),
        "{printed} does not read back"
    );
}

fn seeds() -> Vec<Vec<u8>> {
    let line = |s: &str| s.to_owned();
    let journal = [
        line(r#"{"count":3,"domain":"a.example","mx-host":[],"policy-string":[],"policy-type":"no-policy-found"}"#),
        line(r#"{"count":1,"domain":"a.example","mx-host":["*.mail.example.net"],"policy-string":["version: STSv1","mode: testing","mx: *.mail.example.net","max_age: 86400"],"policy-type":"sts","receiving-ip":"198.51.100.7","receiving-mx-hostname":"mx.example.net","result-type":"certificate-expired","sending-mta-ip":"192.0.2.1"}"#),
        line(r#"{"count":2,"domain":"b.example","mx-host":["mx.b.example"],"policy-string":["3 1 1 AB01"],"policy-type":"tlsa","result-type":"dane-required"}"#),
        line(r#"{"domain":"a.exa"#),
    ]
    .join("\n");
    // Counts at the edge of what a journal line holds (i64::MAX), as a
    // damaged or very old journal might.
    let huge = [
        line(r#"{"count":9223372036854775807,"domain":"a.example","mx-host":[],"policy-string":[],"policy-type":"sts","result-type":"sts-policy-fetch-error"}"#),
        line(r#"{"count":9223372036854775807,"domain":"a.example","mx-host":[],"policy-string":[],"policy-type":"sts"}"#),
        line(r#"{"count":9223372036854775806,"domain":"a.example","mx-host":[],"policy-string":[],"policy-type":"sts","result-type":"validation-failure"}"#),
    ]
    .join("\n");
    let report = r#"{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"sts-reporting@company-x.example","report-id":"5065427c-23d3-47ca-b6e0-946ea0e8c4be","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: *.mail.company-y.example","max_age: 86400"],"policy-domain":"company-y.example","mx-host":["*.mail.company-y.example"]},"summary":{"total-successful-session-count":5326,"total-failure-session-count":303},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"2001:db8:abcd:0012::1","receiving-mx-hostname":"mx1.mail.company-y.example","failed-session-count":100},{"result-type":"validation-failure","sending-mta-ip":"198.51.100.62","receiving-ip":"192.0.2.201","receiving-mx-hostname":"mx2.mail.company-y.example","failed-session-count":3,"additional-information":"https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"}]}]}"#;
    let records = [
        "v=TLSRPTv1; rua=mailto:reports@example.com",
        "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
        "v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com/v1/tlsrpt",
        "v=spf1 -all\nv=TLSRPTv1;rua=mailto:tls%2Brpt@example.org?subject=x, MAILTO:a%40b@c",
        "v=TLSRPTv1; rua=mailto:a@b\nv=TLSRPTv1; rua=mailto:c@d",
        "v=TLSRPTv10; rua=mailto:a@b",
    ];
    let mut out: Vec<Vec<u8>> = vec![
        [&[0u8][..], report.as_bytes()].concat(),
        [&[0u8][..], b"{ \"k\" : [ 1 , -2 , true, null, \"\\u0001\\n\\\"\" ] }\n[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]"].concat(),
        [&[1u8][..], journal.as_bytes()].concat(),
        [&[1u8][..], journal.lines().next().unwrap_or_default().as_bytes(), b"\n"].concat(),
        [&[1u8][..], huge.as_bytes()].concat(),
        [&[3u8][..], b"2026-05-24\n1970-01-01\n2026-02-31\n0999-12-31"].concat(),
    ];
    out.extend(records.iter().map(|r| [&[2u8][..], r.as_bytes()].concat()));
    out
}
