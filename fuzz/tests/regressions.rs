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
