//! The outbound crate's parsers: SMTP replies from the next hop, EHLO
//! capabilities, and the MTA-STS TXT record, HTTP response and policy.
//!
//! Invariants of `smtp_reply` (`ReplyParser`):
//! - split invariance: the input fed whole, cut at a point drawn from the
//!   input, cut right after each of its first CRs, and in small pieces
//!   gives the same replies, then the same error or the same buffered
//!   state;
//! - every reply has a code in 200..=599, 1..=`MAX_LINES` lines, none with
//!   a line feed or longer than `MAX_LINE`;
//! - memory is bounded: whenever the parser asks for more bytes, the
//!   unterminated tail it holds is at most `MAX_LINE` octets (plus the CR
//!   of a CRLF cut in two) and the lines of the reply in progress at most
//!   `MAX_LINES`;
//! - `enhanced` agrees with the reply's class; `status` is `d.d.d` and
//!   survives `dsn::encode_error`/`decode_error`; `Extensions::from_ehlo`
//!   sees STARTTLS exactly when a line after the greeting names it, and
//!   upper-cases the AUTH mechanisms; `xtext` of every line is visible
//!   ASCII without `+`/`=` except as escapes, and decodes back;
//! - a DSN carrying the reply as its diagnostic (`dsn::build`) has only
//!   CRLF line ends and exactly its own four MIME boundary lines.
//!
//! Invariants of `mta_sts_policy` (`Policy::parse`): an error has a
//! message; a policy has `max_age <= MAX_AGE_CAP`, at least one `mx`
//! unless the mode is `none`, lower-case patterns; LF and CRLF texts parse
//! alike; `allows` matches each plain pattern (any case, trailing dot), a
//! wildcard exactly one label deep, and ignores case and trailing dots.
//!
//! Invariants of `mta_sts_txt` (`txt_id`): an id is 1..=32 letters and
//! digits, taken from an `id=` field of the only record whose first field
//! is `v=STSv1` (RFC 8461 §3.1); the order of the records and records of
//! other kinds change nothing; two copies of the record mean no policy.
//!
//! Invariants of `mta_sts_http` (`parse_response`): a body is returned
//! only for a complete head with status 200 and `text/plain`, is at most
//! `MAX_BODY` octets, is the raw body when not chunked, and comes back
//! unchanged when sent again as one chunk; it then goes through
//! `Policy::parse` as a fetched policy does.

use std::fmt::Write as _;

use postern_outbound::client::command::xtext;
use postern_outbound::client::reply::{Reply, ReplyError, ReplyParser, MAX_LINE, MAX_LINES};
use postern_outbound::client::{Extensions, Ret};
use postern_outbound::dsn::{self, Action, RecipientReport, Report};
use postern_outbound::mta_sts::{parse_response, txt_id, Mode, Policy, MAX_AGE_CAP, MAX_BODY};

use super::session::excerpt;
use super::Target;
use crate::rng::fnv1a;

pub(super) const SMTP_REPLY: Target = Target {
    name: "smtp_reply",
    about: "the SMTP client's ReplyParser (split invariance, limits), EHLO keywords, xtext, DSN",
    run: fuzz_reply,
    seeds: reply_seeds,
};

pub(super) const MTA_STS_POLICY: Target = Target {
    name: "mta_sts_policy",
    about: "MTA-STS policy text through Policy::parse, and Policy::allows",
    run: fuzz_policy,
    seeds: policy_seeds,
};

pub(super) const MTA_STS_TXT: Target = Target {
    name: "mta_sts_txt",
    about: "_mta-sts TXT records (one per line) through txt_id",
    run: fuzz_txt,
    seeds: txt_seeds,
};

pub(super) const MTA_STS_HTTP: Target = Target {
    name: "mta_sts_http",
    about: "the policy fetch's HTTP response through parse_response, then Policy::parse",
    run: fuzz_http,
    seeds: http_seeds,
};

/// What feeding an input produced: the replies, then the error that
/// stopped the parser or whether bytes were left buffered.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    replies: Vec<Reply>,
    end: Result<bool, ReplyError>,
}

/// Feeds `input` cut at `cuts` (ascending), draining replies after every
/// read as the client's connection does, and checks the memory bounds.
fn feed(input: &[u8], cuts: &[usize]) -> Outcome {
    let mut p = ReplyParser::new();
    let mut replies = Vec::new();
    let mut lines_returned = 0usize;
    // Line feeds fed so far, and where the unterminated tail starts.
    let (mut newlines, mut tail_start) = (0usize, 0usize);
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        let to = to.clamp(from, input.len());
        p.feed(&input[from..to]);
        for (i, &b) in input[from..to].iter().enumerate() {
            if b == b'\n' {
                newlines += 1;
                tail_start = from + i + 1;
            }
        }
        from = to;
        loop {
            match p.next_reply() {
                Ok(Some(r)) => {
                    lines_returned += r.lines.len();
                    replies.push(r);
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        replies,
                        end: Err(e),
                    }
                }
            }
        }
        let tail = to - tail_start;
        let cr = usize::from(to > 0 && input[to - 1] == b'\r');
        assert!(
            tail <= MAX_LINE + cr,
            "{tail} octets of an unterminated line held"
        );
        let pending = newlines - lines_returned;
        assert!(pending <= MAX_LINES, "{pending} lines of one reply held");
    }
    Outcome {
        replies,
        end: Ok(p.has_buffered()),
    }
}

/// The longest input `smtp_reply` tries: a read is at most a few KiB, and
/// `next_reply` moves the rest of the buffer down after each line, so much
/// longer inputs only slow the run down.
const MAX_REPLY_INPUT: usize = 32 * 1024;

fn fuzz_reply(input: &[u8]) {
    let input = &input[..input.len().min(MAX_REPLY_INPUT)];
    let whole = feed(input, &[]);
    let random = (fnv1a(input) % (input.len() as u64 + 1)) as usize;
    let mut cuts = vec![vec![random]];
    cuts.extend(
        input
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\r')
            .take(4)
            .map(|(i, _)| vec![i + 1]),
    );
    if input.len() <= 8 * 1024 {
        let step = 1 + (fnv1a(input) >> 32) as usize % 7;
        cuts.push((step..input.len()).step_by(step).collect());
    }
    for cut in &cuts {
        let split = feed(input, cut);
        assert_eq!(
            split,
            whole,
            "cut at {:?} ({} cuts) differs from one read of {}",
            &cut[..cut.len().min(4)],
            cut.len(),
            excerpt(input)
        );
    }
    let now = i64::from_le_bytes(std::array::from_fn(|i| input.get(i).copied().unwrap_or(0)));
    for r in &whole.replies {
        check_reply(r, now);
    }
}

fn check_reply(r: &Reply, now: i64) {
    assert!((200..=599).contains(&r.code), "code {}", r.code);
    assert!(
        (1..=MAX_LINES).contains(&r.lines.len()),
        "{} lines",
        r.lines.len()
    );
    for line in &r.lines {
        assert!(!line.contains('\n'), "a line feed in {line:?}");
        assert!(line.chars().count() <= MAX_LINE, "a line over the limit");
        check_xtext(line);
    }
    let class = (r.code / 100).to_string();
    if let Some(e) = r.enhanced() {
        assert!(e.starts_with(&class), "{e} in a {} reply", r.code);
    }
    let status = r.status();
    let parts: Vec<&str> = status.split('.').collect();
    assert!(
        parts.len() == 3
            && parts[0] == class
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        "status {status:?} for {r:?}"
    );
    let diagnostic = format!("smtp; {}", r.one_line());
    let queued = dsn::encode_error(&status, &diagnostic);
    assert_eq!(
        dsn::decode_error(&queued, r.code >= 500),
        (status.clone(), diagnostic.clone())
    );
    if r.code == 250 {
        check_ehlo(r);
    }
    check_dsn(r, status, diagnostic, now);
}

fn check_ehlo(r: &Reply) {
    let ext = Extensions::from_ehlo(r);
    let named = |k: &str| {
        r.lines.iter().skip(1).any(|l| {
            l.split_ascii_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
        })
    };
    assert_eq!(ext.starttls, named("STARTTLS"), "STARTTLS in {r:?}");
    assert_eq!(ext.pipelining, named("PIPELINING"));
    assert_eq!(ext.size.is_some(), named("SIZE"));
    assert!(
        ext.auth
            .iter()
            .all(|m| *m == m.to_ascii_uppercase() && !m.is_empty()),
        "AUTH {:?}",
        ext.auth
    );
}

fn check_xtext(s: &str) {
    let x = xtext(s);
    let b = x.as_bytes();
    let mut decoded = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        assert!((33..=126).contains(&b[i]) && b[i] != b'=', "xtext {x:?}");
        if b[i] == b'+' {
            let hex = x.get(i + 1..i + 3).unwrap_or_else(|| panic!("xtext {x:?}"));
            assert!(hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')));
            decoded.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            decoded.push(b[i]);
            i += 1;
        }
    }
    assert_eq!(decoded, s.as_bytes(), "xtext {x:?} does not decode back");
}

fn check_dsn(r: &Reply, status: String, diagnostic: String, now: i64) {
    let recipients = [RecipientReport {
        address: "bob@example.net".into(),
        orcpt: Some("rfc822;bob@example.net".into()),
        action: if r.code >= 500 {
            Action::Failed
        } else {
            Action::Delayed
        },
        status,
        diagnostic: Some(diagnostic),
        will_retry_until: (r.code < 500).then_some(now),
    }];
    let line = r.lines.first().map(String::as_str);
    let report = Report {
        reporting_mta: "mx.example.org",
        to: "alice@example.org",
        envid: line,
        ret: Some(Ret::Headers),
        arrival: now,
        now,
        unique: "u1",
        recipients: &recipients,
        original: b"From: alice@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
    };
    let m = dsn::build(&report);
    for (i, &b) in m.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(m.get(i + 1), Some(&b'\n'), "a bare CR in the DSN"),
            b'\n' => assert_eq!(
                m.get(i.wrapping_sub(1)),
                Some(&b'\r'),
                "a bare LF in the DSN"
            ),
            _ => {}
        }
    }
    let boundaries = m
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"--=_dsn_u1"))
        .count();
    assert_eq!(boundaries, 4, "MIME boundary lines in the DSN");
}

fn reply_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&[u8]] = &[
        b"220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n",
        b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        b"250-mx.google.com at your service, [203.0.113.7]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as 4Xyz1234\r\n221 2.0.0 Bye\r\n",
        b"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser\r\n",
        b"451 4.7.1 Greylisted, try again in 300 seconds\r\n421 4.3.2 Service shutting down\n",
        b"220 ok\r\n250\r\n354\r\n",
        b"250-a\r\n251 b\r\n",
        b"hello\r\n",
        b"220 go ahead\r\n250 early",
        b"530 5.7.0 Must issue a STARTTLS command first\r\n554 5.7.1 <x@y>: Relay access denied\r\n",
    ];
    let mut out: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
    // Lines at the length limit, and a reply at the line limit.
    for len in [MAX_LINE - 1, MAX_LINE, MAX_LINE + 1] {
        let mut line = b"250 ".to_vec();
        line.resize(len, b'x');
        line.extend_from_slice(b"\r\n250 next\r\n");
        out.push(line);
    }
    let mut many = b"250-x\r\n".repeat(MAX_LINES - 1);
    many.extend_from_slice(b"250 last\r\n");
    out.push(many);
    out
}

fn fuzz_policy(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let parsed = Policy::parse(&text);
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(
        Policy::parse(&crlf),
        parsed,
        "CRLF line ends change the policy"
    );
    let hosts: Vec<&str> = text.lines().take(8).collect();
    match parsed {
        Err(e) => assert!(!e.0.is_empty(), "an empty error"),
        Ok(p) => {
            assert!(p.max_age <= MAX_AGE_CAP, "max_age {}", p.max_age);
            assert!(
                p.mode == Mode::None || !p.mx.is_empty(),
                "mode {:?} without mx",
                p.mode
            );
            for pattern in &p.mx {
                assert_eq!(*pattern, pattern.to_ascii_lowercase());
                check_pattern(&p, pattern);
            }
            for host in hosts {
                let allowed = p.allows(host);
                assert_eq!(p.allows(&host.to_ascii_uppercase()), allowed, "{host:?}");
                assert_eq!(p.allows(&format!("{host}.")), allowed, "{host:?}");
            }
        }
    }
}

fn check_pattern(p: &Policy, pattern: &str) {
    if pattern.is_empty() || pattern.ends_with('.') {
        return;
    }
    let only = Policy {
        mode: p.mode,
        mx: vec![pattern.to_owned()],
        max_age: p.max_age,
    };
    match pattern.strip_prefix("*.") {
        Some(suffix) if !suffix.is_empty() => {
            assert!(only.allows(&format!("mx1.{suffix}")), "{pattern:?}");
            assert!(!only.allows(suffix), "{pattern:?} allows {suffix:?}");
            assert!(!only.allows(&format!(".{suffix}")), "{pattern:?}");
            assert!(
                !only.allows(&format!("a.b.{suffix}")),
                "{pattern:?} is more than one label deep"
            );
        }
        Some(_) => {}
        None => {
            assert!(only.allows(pattern), "{pattern:?}");
            assert!(only.allows(&pattern.to_ascii_uppercase()), "{pattern:?}");
            assert!(only.allows(&format!("{pattern}.")), "{pattern:?}");
        }
    }
}

fn policy_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&str] = &[
        // RFC 8461 §3.2.
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
        "version: STSv1\nmode: testing\nmx: mx1.example.org\nmax_age: 86400\n",
        "version: STSv1\nmode: none\nmax_age: 99999999999\nextension: x\n",
        "version: STSv1\r\nmode: enforce\r\nmx: *.mail.protection.outlook.com\r\nmax_age: 31557600\r\n",
        "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
        "mode: enforce\nmx: a\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: MX.Example.COM.\nmax_age: -1\n",
        "version:STSv1\nmode:enforce\nmx:*.\nmx:\nmax_age:0\n",
    ];
    seeds.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn fuzz_txt(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let records: Vec<String> = text.split('\n').take(16).map(str::to_owned).collect();
    let id = txt_id(&records);
    if let Some(id) = &id {
        assert!(
            (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "id {id:?}"
        );
        let sts: Vec<&String> = records.iter().filter(|r| is_sts(r)).collect();
        assert_eq!(sts.len(), 1, "an id from {records:?}");
        assert!(
            sts[0].split(';').any(|f| f.trim() == format!("id={id}")),
            "id {id:?} not in {:?}",
            sts[0]
        );
    }
    let mut reversed = records.clone();
    reversed.reverse();
    assert_eq!(txt_id(&reversed), id, "the order of {records:?} matters");
    let mut more = records.clone();
    more.push("v=spf1 -all".into());
    more.insert(0, "google-site-verification=abc".into());
    assert_eq!(txt_id(&more), id, "other records change {records:?}");
    if let Some(r) = records.iter().find(|r| is_sts(r)) {
        let mut twice = records.clone();
        twice.push(r.clone());
        assert_eq!(txt_id(&twice), None, "two STS records in {twice:?}");
    }
}

/// An MTA-STS record: its first field is `v=STSv1` (RFC 8461 §3.1).
fn is_sts(record: &str) -> bool {
    record.split(';').next().map(str::trim_end) == Some("v=STSv1")
}

fn txt_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&str] = &[
        "v=STSv1; id=20160831085700Z;",
        "v=STSv1;id=20190429T010101",
        "v=spf1 include:_spf.example.com -all\nv=STSv1; id=abc123",
        "v=STSv1; id=a\nv=STSv1; id=b",
        "v=STSv1; id=bad-id!",
        "v=STSv1; id=123456789012345678901234567890123",
        "v=STSv10; id=future",
        "v=STSv1 ; ext=1 ; id=x ;",
        "v=STSv1",
    ];
    seeds.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn fuzz_http(input: &[u8]) {
    let Ok(body) = parse_response(input) else {
        return;
    };
    let split = input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a body without a complete head");
    let head = std::str::from_utf8(&input[..split]).expect("a head that is not UTF-8");
    let status = head.split("\r\n").next().unwrap_or_default();
    assert_eq!(status.split(' ').nth(1), Some("200"), "status {status:?}");
    let header = |name: &'static str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(move |(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    assert!(
        header("content-type").any(|v| v.split(';').next().map(str::trim) == Some("text/plain")),
        "no text/plain in {head:?}"
    );
    assert!(body.len() <= MAX_BODY, "a body of {} octets", body.len());
    if !header("transfer-encoding").any(|v| v.contains("chunked")) {
        assert_eq!(body.as_bytes(), &input[split + 4..], "the body changed");
    }
    let mut again = String::from(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    if !body.is_empty() {
        let _ = write!(again, "{:x}\r\n{body}\r\n", body.len());
    }
    again.push_str("0\r\n\r\n");
    assert_eq!(
        parse_response(again.as_bytes()).as_deref(),
        Ok(body.as_str()),
        "one chunk"
    );
    // What the fetch does with it.
    fuzz_policy(body.as_bytes());
}

fn http_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 108\r\n\r\nversion: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1a\r\nversion: STSv1\r\nmode: test\r\n11;ext=1\r\ning\nmx: mx.example\n\r\nd\r\nmax_age: 300\n\r\n0\r\n\r\n",
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
        b"HTTP/1.1 200 OK\r\ncontent-type:TEXT/PLAIN\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // A chunk size that does not fit in memory.
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
    ];
    seeds.iter().map(|s| s.to_vec()).collect()
}
