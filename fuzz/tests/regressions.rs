//! Inputs that broke a target, kept under `fuzz/regressions/` as
//! `<target>-<n>.bin`, one test each, so the bugs they found stay fixed.

use std::path::PathBuf;

use postern_fuzz::targets;
use postern_server::http_lite::{parse_head, OneRequest};
use postern_smtp_proto::{Options, Server};
use postern_types::{Interrupt, Io, Protocol};

fn input(file: &str) -> Vec<u8> {
    let path = dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// Every saved input names a target and has a test in this file.
#[test]
fn every_regression_input_has_a_test() {
    let this_file = include_str!("regressions.rs");
    for entry in std::fs::read_dir(dir()).expect("fuzz/regressions") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        let Some((target, _)) = name.rsplit_once('-') else {
            panic!("{name} is not <target>-<n>.bin");
        };
        assert!(
            targets::find(target).is_some(),
            "{name}: no target {target}"
        );
        assert!(
            this_file.contains(&format!("\"{name}\"")),
            "{name} has no test"
        );
    }
}

/// Open bug: `http_lite::parse_head` accepts control characters in the
/// request target. `"D /\r HTTP/1.\r\n\r\n"` parses, with the target
/// `"/\r"`: the request line is split on spaces only, and only the method
/// is checked (letters). RFC 9112 §3.2 allows no CR, LF or other control
/// character there (and §2.2: a bare CR is invalid). The redirect itself is
/// safe (it echoes only printable paths), but the target reaches the debug
/// log line of `session::http` unescaped, so a client can forge log lines.
#[test]
fn http_head_1_control_characters_in_the_request_target() {
    let input = input("http_head-1.bin");
    if let Ok(head) = parse_head(&input) {
        assert!(
            !head.target.contains(char::is_control),
            "parse_head accepted the request target {:?}, with control characters (RFC 9112 §3.2)",
            head.target
        );
    }
    (targets::find("http_head").expect("target").run)(&input);
}

/// The same bug through the `OneRequest` core: after the two plan octets
/// (`GE`), the client sends `"T /\n HTTP/1.\r\n\r\n"`, which is handed to
/// the session as a request for `"/\n"`.
#[test]
fn http_core_1_control_characters_in_the_request_target() {
    let input = input("http_core-1.bin");
    let mut core = OneRequest::default();
    // The first two octets are the fuzz target's read plan.
    core.enqueue_input(&input[2..]);
    loop {
        match core.next() {
            Ok(head) => {
                assert!(
                    !head.target.contains(char::is_control),
                    "OneRequest handed over the request target {:?}, with control characters",
                    head.target
                );
                break;
            }
            Err(Interrupt::Io(Io::Output(_))) => {}
            Err(_) => break,
        }
    }
    (targets::find("http_core").expect("target").run)(&input);
}

/// Open bug: `smtp_proto::Server::partial_line_len()` promises "at most
/// `max_line + 1`" octets, but after a `BDAT n` line it returns the
/// incomplete chunk piece, which grows to 64 KiB - 1 before it is handed
/// out (`framing::Framer::partial_line` returns `tail.len()`, and
/// `push_chunk` collects chunk octets in the same `tail`). Here the client
/// sends `BDAT 5555` and then more than 4097 octets of chunk data.
#[test]
fn smtp_mx_1_partial_line_len_inside_a_bdat_chunk() {
    let input = input("smtp_mx-1.bin");
    let mut smtp = Server::new(Options::default());
    let limit = smtp.options().max_line + 1;
    // After the two plan octets, one octet per read.
    for (i, byte) in input[2..].iter().enumerate() {
        smtp.enqueue_input(std::slice::from_ref(byte));
        while let Err(Interrupt::Io(Io::Output(_))) | Ok(_) = smtp.next() {}
        let partial = smtp.partial_line_len();
        assert!(
            partial <= limit,
            "after {} octets, partial_line_len() is {partial}, over max_line + 1 = {limit}",
            i + 1
        );
    }
    (targets::find("smtp_mx").expect("target").run)(&input);
}

/// Open bug: whether the `OneRequest` core accepts a request head whose
/// blank line ends just past `MAX_HEAD` depends on how TCP cut it. This
/// 8196-octet head (`GET /aaa... HTTP/1.1` and the blank line) is parsed
/// and redirected when it arrives in one read, but refused with `431` when
/// it arrives in 3-octet reads (the plan octets `[3, 2]`): after 8193
/// octets without a blank line, `parse_head` says `TooLarge`, while with
/// the blank line present it never checks the length.
#[test]
fn http_core_2_the_head_limit_depends_on_the_reads() {
    let input = input("http_core-2.bin");
    let payload = &input[2..];
    let at_once = one_request(&[payload]);
    let in_pieces = one_request(&payload.chunks(3).collect::<Vec<_>>());
    assert_eq!(
        status_line(&at_once),
        status_line(&in_pieces),
        "the same {}-octet head gets different answers read at once and in 3-octet reads",
        payload.len()
    );
}

/// Drives `OneRequest` as the driver does, answering with a redirect.
fn one_request(reads: &[&[u8]]) -> Vec<u8> {
    let mut core = OneRequest::default();
    let mut out = Vec::new();
    for read in reads {
        core.enqueue_input(read);
        loop {
            match core.next() {
                Ok(head) => core.respond(postern_server::http_lite::redirect(&head, "x", 443)),
                Err(Interrupt::Io(Io::Output(bytes))) => out.extend(bytes),
                Err(_) => break,
            }
        }
        if core.is_finished() {
            break;
        }
    }
    out
}

fn status_line(response: &[u8]) -> String {
    let line = response.split(|&b| b == b'\r').next().unwrap_or_default();
    String::from_utf8_lossy(line).into_owned()
}

/// Fixed: the SMTP client's `ReplyParser` refused a reply line of exactly
/// `MAX_LINE` octets (`250 xxx...`) when the read ended between its CR and
/// LF: the CR made the partial line one octet too long, while the same
/// bytes in one read were accepted.
#[test]
fn smtp_reply_1_a_crlf_cut_in_two_at_the_line_limit() {
    use postern_outbound::client::reply::ReplyParser;
    let input = input("smtp_reply-1.bin");
    let cr = input.iter().position(|&b| b == b'\r').expect("a CR");
    let mut p = ReplyParser::new();
    p.feed(&input[..=cr]);
    assert_eq!(
        p.next_reply(),
        Ok(None),
        "a line of MAX_LINE octets cut after its CR"
    );
    p.feed(&input[cr + 1..]);
    let reply = p.next_reply().expect("a reply").expect("complete");
    assert_eq!(reply.code, 250);
    (targets::find("smtp_reply").expect("target").run)(&input);
}

/// Fixed: a bare CR in the next hop's reply (`220 \ri`) went into the
/// human-readable part of the DSN as it was; line breaks are now folded
/// there as in `Diagnostic-Code`.
#[test]
fn smtp_reply_2_a_bare_cr_from_the_peer_in_a_dsn() {
    use postern_outbound::client::reply::Reply;
    use postern_outbound::dsn::{build, Action, RecipientReport, Report};
    let input = input("smtp_reply-2.bin");
    let text = String::from_utf8_lossy(&input[4..input.len() - 1]).into_owned();
    let reply = Reply::local(550, text);
    let recipients = [RecipientReport {
        address: "bob@example.net".into(),
        orcpt: None,
        action: Action::Failed,
        status: reply.status(),
        diagnostic: Some(format!("smtp; {}", reply.one_line())),
        will_retry_until: None,
    }];
    let dsn = build(&Report {
        reporting_mta: "mx.example.org",
        to: "alice@example.org",
        envid: None,
        ret: None,
        arrival: 0,
        now: 0,
        unique: "1",
        recipients: &recipients,
        original: b"Subject: x\r\n\r\nbody\r\n",
    });
    let bare_cr = dsn.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n');
    assert!(!bare_cr, "a bare CR in the DSN");
    (targets::find("smtp_reply").expect("target").run)(&input);
}

/// Fixed: `mta_sts::txt_id` took any record starting with `v=STSv1`, so
/// `v=STSv10;id=f` gave the id `f`; RFC 8461 §3.1 keeps only records that
/// begin with `v=STSv1;`.
#[test]
fn mta_sts_txt_1_another_version_is_not_sts_v1() {
    let input = input("mta_sts_txt-1.bin");
    let records = vec![String::from_utf8_lossy(&input).into_owned()];
    assert_eq!(postern_outbound::mta_sts::txt_id(&records), None);
    (targets::find("mta_sts_txt").expect("target").run)(&input);
}

/// Fixed: `mta_sts::parse_response` overflowed on the chunk size
/// `ffffffffffffffff` (`size + 2`): a panic in a debug build, and in a
/// release build a slice past the end once a chunk had been read.
#[test]
fn mta_sts_http_1_a_chunk_size_of_usize_max() {
    let input = input("mta_sts_http-1.bin");
    assert!(postern_outbound::mta_sts::parse_response(&input).is_err());
    (targets::find("mta_sts_http").expect("target").run)(&input);
}

/// A VTODO left open, with a VEVENT after it that a lenient parse reads as
/// its child: the expansion wrote that VEVENT both as an instance of its
/// own and inside the VTODO, an object mixing VEVENT and VTODO.
#[test]
fn dav_ical_1_an_event_nested_in_a_todo_is_not_an_instance() {
    let input = input("dav_ical-1.bin");
    let analyzed = postern_dav::ical::analyze(&input).expect("accepted as it was then");
    let expanded = postern_dav::expand::expand(&input, 0, 4_102_444_800).expect("expanded");
    assert!(!expanded.contains("BEGIN:VEVENT"), "{expanded}");
    let back = postern_dav::ical::analyze(expanded.as_bytes()).expect("the expansion is valid");
    assert_eq!(back.uid, analyzed.uid);
    (targets::find("dav_ical").expect("the target").run)(&input);
}

/// Was a bug (fixed): `tlsrpt::Day::parse` overflows on a long year. The name
/// `99999999999999999-2-1` (after the mode octet) reaches
/// `date::days_from_civil`, whose `era * 146_097` overflows an `i64`: a
/// panic in a debug build. Day names are read from the journal
/// directory's listing (`Recorder::unsent_days`), so a stray file there
/// could stop the daily reports.
#[test]
fn tlsrpt_json_1_a_day_name_with_a_long_year() {
    let input = input("tlsrpt_json-1.bin");
    let name = String::from_utf8_lossy(&input[1..]).into_owned();
    assert_eq!(postern_outbound::tlsrpt::Day::parse(&name), None, "{name}");
    (targets::find("tlsrpt_json").expect("target").run)(&input);
}

/// Was a bug (fixed): the proxy's IMAP pre-login machine bounds a command
/// (`MAX_LINE` plus a literal's worth) only while its line end has not
/// arrived. This 9600-octet `NOOP` over TLS is refused with
/// `* BYE Command line too long` when it comes in 256-octet reads, but
/// answered when its CRLF is in the same read, the client's tag of any
/// length echoed back.
#[test]
fn proxy_front_1_the_imap_line_limit_depends_on_the_reads() {
    let input = input("proxy_front-1.bin");
    let payload = &input[2..];
    let at_once = proxy_imap(&[payload]);
    let in_pieces = proxy_imap(&payload.chunks(256).collect::<Vec<_>>());
    let refused = |out: &[u8]| out.ends_with(b"* BYE Command line too long\r\n");
    assert_eq!(
        refused(&at_once),
        refused(&in_pieces),
        "the same {}-octet command is refused in 256-octet reads only",
        payload.len()
    );
    (targets::find("proxy_front").expect("target").run)(&input);
}

/// Drives the proxy's IMAP core over TLS; what it said after its greeting.
fn proxy_imap(reads: &[&[u8]]) -> Vec<u8> {
    use postern_server::proxy::front::{Front, Machine};
    use postern_server::proxy::imap::Pre;
    let mut core = Front::new(Machine::Imap(Pre::new("h".into(), false)), true);
    let _greeting = core.take_output();
    let mut out = Vec::new();
    for read in reads {
        core.enqueue_input(read);
        loop {
            match core.next() {
                Err(Interrupt::Io(Io::Output(bytes))) => out.extend(bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) => break,
                Err(Interrupt::Error(_)) => {
                    out.extend(core.take_output().unwrap_or_default());
                    return out;
                }
                Ok(event) => panic!("no event expected here: {event:?}"),
            }
        }
    }
    out
}

/// Was a bug (fixed): `Recorder::load` adds the counts of a day's lines with `+=`:
/// three lines for the same sessions, each with the largest count a line
/// holds (`i64::MAX`), overflow the `u64` sum (a panic in a debug build, a
/// wrong count in a release build). A damaged journal must not stop the
/// reports; the sum saturates like the counts written.
#[test]
fn tlsrpt_json_2_journal_counts_that_overflow_when_added() {
    use postern_outbound::tlsrpt::{Day, Recorder};
    let input = input("tlsrpt_json-2.bin");
    let dir =
        std::env::temp_dir().join(format!("postern-regression-tlsrpt-{}", std::process::id()));
    let rec = Recorder::open(&dir).expect("a temporary directory");
    std::fs::write(rec.path(Day(20_000), "jsonl"), &input[1..]).expect("written");
    let counts = rec.load(Day(20_000));
    let _ = std::fs::remove_dir_all(&dir);
    let counts = counts.expect("read");
    assert_eq!(counts.len(), 1);
    assert!(
        counts.values().all(|&n| n >= i64::MAX.unsigned_abs()),
        "{counts:?}"
    );
    (targets::find("tlsrpt_json").expect("target").run)(&input);
}

/// Was a bug (fixed): `report::build_json` adds a policy's failure counts with
/// `+=`: three failures of one policy, each counted `i64::MAX` times,
/// overflow the `u64` sum while the report is built.
#[test]
fn tlsrpt_json_3_report_counts_that_overflow_when_added() {
    use postern_outbound::tlsrpt::json::{self, Value};
    use postern_outbound::tlsrpt::report::{build_json, Meta};
    use postern_outbound::tlsrpt::{Counts, Day, Entry, Failure, Policy};
    let input = input("tlsrpt_json-3.bin");
    let policy = Policy {
        kind: "no-policy-found".into(),
        strings: Vec::new(),
        mx_host: Vec::new(),
    };
    let counts: Counts = ["a", "b", "c"]
        .into_iter()
        .map(|r| {
            let failure = Failure {
                result_type: r.into(),
                sending_mta_ip: None,
                receiving_mx_hostname: None,
                receiving_ip: None,
            };
            let entry = Entry {
                domain: "a.example".into(),
                policy: policy.clone(),
                failure: Some(failure),
            };
            (entry, i64::MAX.unsigned_abs())
        })
        .collect();
    let meta = Meta {
        hostname: "mx.example.org",
        contact: "postmaster@example.org",
        report_id: "1",
        day: Day(20_000),
        domain: "a.example",
    };
    let report = json::parse(&build_json(&meta, &counts)).expect("the report reads back");
    let failed = report
        .get("policies")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(|p| p.get("summary"))
        .and_then(|s| s.get("total-failure-session-count"))
        .and_then(Value::as_i64);
    assert_eq!(failed, Some(i64::MAX), "the total saturates");
    (targets::find("tlsrpt_json").expect("target").run)(&input);
}
