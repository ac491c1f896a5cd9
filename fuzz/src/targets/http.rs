//! The plain-HTTP listeners' HTTP: `http_lite::parse_head`, `redirect`,
//! and the `OneRequest` core on the common driver.
//!
//! Invariants of `http_head`:
//! - `parse_head` says `Incomplete` only without a blank line and within
//!   8 KiB, `TooLarge` only without a blank line and over 8 KiB; a parsed
//!   head has an alphabetic method and a target starting with `/`, with no
//!   space or control character (CR, LF, ...) in it;
//! - every `redirect` (for parsed heads, and for heads made of arbitrary
//!   text) is a well-formed 301 whose `Location` is `https://` and holds no
//!   CR, LF or space (no header injection, no response splitting), with a
//!   correct `Content-Length`.
//!
//! Invariants of `http_core` (besides those of `session`): the output is
//! empty or exactly one well-formed response (301, or 400, 431 or 408 from
//! the core), after which the core is finished; it never buffers more than
//! one head's worth of input.

use postern_server::http_lite::{
    parse_head, redirect, HeadError, OneRequest, RequestHead, MAX_HEAD,
};
use postern_types::Protocol;

use super::session::{excerpt, play, After, Harness, Plan};
use super::Target;

pub(super) const HEAD: Target = Target {
    name: "http_head",
    about: "http_lite::parse_head and redirect (the Location header)",
    run: fuzz_head,
    seeds: head_seeds,
};

pub(super) const CORE: Target = Target {
    name: "http_core",
    about: "the OneRequest core on the common driver, answered with a redirect",
    run: fuzz_core,
    seeds: core_seeds,
};

const FALLBACK: &str = "mail.example.com";

fn fuzz_head(input: &[u8]) {
    // The head's length, terminator included, if it is complete.
    let head_len = input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let fits = head_len.is_some_and(|l| l <= MAX_HEAD);
    match parse_head(input) {
        Ok(head) => {
            assert!(fits, "a head parsed without a blank line within the limit");
            check_head(&head);
            for port in [443, 8443, port_of(input)] {
                check_response(&redirect(&head, FALLBACK, port), &[301]);
            }
        }
        Err(HeadError::Incomplete) => assert!(head_len.is_none() && input.len() <= MAX_HEAD),
        Err(HeadError::TooLarge) => assert!(match head_len {
            Some(l) => l > MAX_HEAD,
            None => input.len() > MAX_HEAD,
        }),
        Err(HeadError::Malformed) => assert!(fits, "malformed, yet incomplete or too large"),
    }
    // Heads no parser made: any text as target and Host.
    let text = String::from_utf8_lossy(input);
    for line in text.split('\n').take(8) {
        let head = RequestHead {
            method: "GET".into(),
            target: line.to_owned(),
            host: Some(line.to_owned()),
        };
        check_response(&redirect(&head, FALLBACK, port_of(input)), &[301]);
    }
}

/// A port from the input, so that odd ports (0, 65535) are tried.
fn port_of(input: &[u8]) -> u16 {
    u16::from_le_bytes([
        input.first().copied().unwrap_or(0),
        input.last().copied().unwrap_or(0),
    ])
}

fn check_head(head: &RequestHead) {
    assert!(
        !head.method.is_empty() && head.method.bytes().all(|b| b.is_ascii_alphabetic()),
        "method {:?}",
        head.method
    );
    assert!(head.target.starts_with('/'), "target {:?}", head.target);
    assert!(!head.target.contains(' '), "target {:?}", head.target);
    assert!(
        !head.target.contains(char::is_control),
        "a control character (CR, LF, ...) in the request target {:?}",
        head.target
    );
}

/// `HTTP/1.1 <status>`, header lines, a blank line, then exactly
/// `Content-Length` octets of body.
fn check_response(r: &[u8], statuses: &[u16]) {
    let shown = || excerpt(r);
    let end = r
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("a response without a blank line: {}", shown()));
    let head = std::str::from_utf8(&r[..end])
        .unwrap_or_else(|_| panic!("a response head that is not UTF-8: {}", shown()));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok());
    assert!(
        status.is_some_and(|s| statuses.contains(&s)),
        "status line {status_line:?}, expected one of {statuses:?}"
    );
    let mut length = None;
    let mut location = None;
    for line in lines {
        assert!(
            !line.contains(['\r', '\n']),
            "a bare CR or LF in a header: {}",
            shown()
        );
        let Some((name, value)) = line.split_once(": ") else {
            panic!("a header line without \": \": {line:?}");
        };
        match name {
            "Content-Length" => length = value.parse::<usize>().ok(),
            "Location" => location = Some(value),
            _ => {}
        }
    }
    let body = r.len() - end - 4;
    assert_eq!(length, Some(body), "Content-Length does not match the body");
    if status == Some(301) {
        let Some(location) = location else {
            panic!("a redirect without Location: {}", shown());
        };
        assert!(location.starts_with("https://"), "Location {location:?}");
        assert!(
            !location.contains(['\r', '\n', ' ', '\t']),
            "Location {location:?} breaks the header"
        );
    }
}

fn head_seeds() -> Vec<Vec<u8>> {
    let seeds: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: mail.example.com\r\n\r\n",
        b"GET /mail/inbox?x=1&y=%20 HTTP/1.1\r\nHost: mail.example.com:8080\r\nUser-Agent: fuzz\r\n\r\n",
        b"POST /login HTTP/1.0\r\nhost: [2001:db8::1]:80\r\nContent-Length: 5\r\n\r\nhello",
        b"HEAD /a/../b HTTP/1.1\r\nHOST:   evil.example/\"><script>\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a:b:c\r\nHost: second\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"GET http://x/ HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
        b"GET / HTTP/1.1\r\n",
    ];
    seeds.iter().map(|s| s.to_vec()).collect()
}

fn fuzz_core(input: &[u8]) {
    let plan = Plan::new(input);
    let transcript = play(&plan, || (Session, OneRequest::default()));
    if !transcript.output.is_empty() {
        check_response(&transcript.output, &[301, 400, 408, 431]);
    }
}

/// The redirector's session (`server::session::http`).
#[derive(Debug)]
struct Session;

impl Harness for Session {
    type P = OneRequest;

    fn on_event(&mut self, p: &mut OneRequest, head: RequestHead) -> After {
        assert!(!p.is_finished(), "a request after the response");
        check_head(&head);
        p.respond(redirect(&head, FALLBACK, 8443));
        assert!(p.is_finished(), "not finished after the response");
        After::Continue
    }

    fn check_buffers(&self, p: &OneRequest) {
        let held = p.buffered_input_len();
        assert!(held <= MAX_HEAD + 4, "{held} octets buffered");
    }
}

fn core_seeds() -> Vec<Vec<u8>> {
    let mut seeds =
        super::session::with_plans(&head_seeds().iter().map(Vec::as_slice).collect::<Vec<_>>());
    // A head right at the limit: its blank line ends 4 octets past 8 KiB.
    let mut big = b"GET /".to_vec();
    big.resize(MAX_HEAD - 9, b'a');
    big.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    seeds.push([&[0u8, 0][..], &big].concat());
    seeds
}
