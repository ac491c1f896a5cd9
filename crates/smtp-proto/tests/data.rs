//! Mail transactions: DATA and its end (SMTP smuggling), BDAT, the size
//! and recipient limits, and what resets a transaction. Every input is fed
//! whole, at every byte split and one byte at a time.

mod common;

use common::{accept, at_every_split, messages, replies};
use postern_smtp_proto::{Event, Options, Server};
use postern_types::{Protocol, TimeoutClass};

const ENVELOPE: &str = "EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n";
const ENVELOPE_OK: &str = "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n";

fn mx_with(opts: Options) -> impl Fn() -> Server {
    move || {
        Server::new(Options {
            hostname: "mx.example.org".into(),
            ..opts.clone()
        })
    }
}

fn mx() -> Server {
    mx_with(Options::default())()
}

/// The replies after EHLO's (whose length depends on the options).
fn after_ehlo(log: &common::Log<Event>) -> String {
    let text = replies(log);
    let end = text.find("\r\n250 ").map_or(0, |i| i + 2);
    let rest = &text[end..];
    rest.split_once("\r\n")
        .map_or(String::new(), |(_, r)| r.to_owned())
}

fn session(body: &str) -> Vec<u8> {
    format!("{ENVELOPE}{body}").into_bytes()
}

#[test]
fn data_is_dot_unstuffed_and_ends_at_crlf_dot_crlf() {
    let input = session("DATA\r\nline 1\r\n..dot\r\n.\r\nNOOP\r\n");
    let log = at_every_split(mx, &input);
    assert_eq!(messages(&log), [&b"line 1\r\n.dot\r\n"[..]]);
    assert_eq!(
        after_ehlo(&log),
        format!(
            "{ENVELOPE_OK}354 Start mail input; end with <CRLF>.<CRLF>\r\n\
             250 2.0.0 OK queued as Q1\r\n250 2.0.0 OK\r\n"
        )
    );
}

#[test]
fn an_empty_message() {
    let log = at_every_split(mx, &session("DATA\r\n.\r\n"));
    assert_eq!(messages(&log), [&b""[..]]);
}

/// SMTP smuggling: none of these ends the data, so the "MAIL FROM" after
/// them is message content, never a command; the message is then refused
/// for its bare CR or LF (RFC 5321 §2.3.8) after the real end of data.
#[test]
fn smuggled_ends_of_data_are_content() {
    let smuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n";
    for end in [
        "\n.\n",
        "\r.\r",
        "\n.\r\n",
        "\r\n.\n",
        "\r\n.\r",
        "\r.\r\n",
        "\r\n.\r\r\n",
    ] {
        let body = format!("DATA\r\nhello{end}{smuggled}x\r\n.\r\nQUIT\r\n");
        let log = at_every_split(mx, &session(&body));
        let mails = log.events.iter().filter(|e| matches!(e, Event::Mail(_)));
        assert_eq!(mails.count(), 1, "{end:?}: a smuggled MAIL ran");
        assert!(messages(&log).is_empty(), "{end:?}");
        assert_eq!(
            after_ehlo(&log),
            format!(
                "{ENVELOPE_OK}354 Start mail input; end with <CRLF>.<CRLF>\r\n\
                 550 5.6.0 Bare CR or LF in message (RFC 5321 section 2.3.8)\r\n\
                 221 2.0.0 Bye\r\n"
            ),
            "{end:?}"
        );
    }
}

#[test]
fn a_refused_message_ends_the_transaction() {
    let log = at_every_split(mx, &session("DATA\r\na\nb\r\n.\r\nRCPT TO:<c@d.e>\r\n"));
    assert!(after_ehlo(&log).ends_with("503 5.5.1 Need MAIL command first\r\n"));
}

#[test]
fn data_needs_a_transaction_and_a_recipient() {
    let log = at_every_split(
        mx,
        b"EHLO c\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nQUIT\r\n",
    );
    assert_eq!(
        after_ehlo(&log),
        "503 5.5.1 Need MAIL command first\r\n250 2.1.0 Sender OK\r\n\
         554 5.5.1 No valid recipients\r\n221 2.0.0 Bye\r\n"
    );
    let log = at_every_split(
        mx,
        b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<nobody@b.c>\r\nDATA\r\n",
    );
    assert!(
        after_ehlo(&log).ends_with("550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n")
    );
}

#[test]
fn the_size_limit_mid_data() {
    let opts = Options {
        max_message_size: 10,
        ..Options::default()
    };
    // 10 octets fit exactly; 11 do not, and the rest is read and dropped.
    let log = at_every_split(mx_with(opts.clone()), &session("DATA\r\n12345678\r\n.\r\n"));
    assert_eq!(messages(&log), [&b"12345678\r\n"[..]]);
    let body = format!("DATA\r\n{}\r\n.\r\nRCPT TO:<x@y.z>\r\n", "x".repeat(5000));
    let log = at_every_split(mx_with(opts), &session(&body));
    assert!(messages(&log).is_empty());
    assert!(after_ehlo(&log).ends_with(
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n\
         503 5.5.1 Need MAIL command first\r\n"
    ));
}

#[test]
fn message_memory_is_bounded_by_the_limit() {
    let mut s = mx_with(Options {
        max_message_size: 1000,
        ..Options::default()
    })();
    let mut log = common::Log::default();
    s.enqueue_input(&session("DATA\r\n"));
    common::drive(&mut s, &mut log, accept);
    assert_eq!(s.timeout_class(), TimeoutClass::Data);
    for _ in 0..1000 {
        s.enqueue_input(&[b'y'; 1000]);
        common::drive(&mut s, &mut log, accept);
        assert!(s.message_len() <= 1000);
        assert_eq!(s.buffered_input_len(), 0);
    }
    s.enqueue_input(b"\r\n.\r\n");
    common::drive(&mut s, &mut log, accept);
    assert!(log
        .text()
        .ends_with("552 5.3.4 Message size exceeds fixed maximum message size\r\n"));
    assert_eq!(s.timeout_class(), TimeoutClass::PreAuth);
}

#[test]
fn the_size_parameter_is_checked_first() {
    let opts = Options {
        max_message_size: 100,
        ..Options::default()
    };
    let log = at_every_split(
        mx_with(opts),
        b"EHLO c\r\nMAIL FROM:<a@b.c> SIZE=101\r\nMAIL FROM:<a@b.c> SIZE=100\r\n",
    );
    assert_eq!(
        after_ehlo(&log),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(log.events.len(), 1);
}

#[test]
fn bdat_in_several_chunks() {
    let body = "BDAT 6\r\nline\r\nBDAT 0\r\nBDAT 8 LAST\r\n.\r\nend\r\nNOOP\r\n";
    let log = at_every_split(mx, &session(body));
    assert_eq!(messages(&log), [&b"line\r\n.\r\nend\r\n"[..]]);
    assert_eq!(
        after_ehlo(&log),
        format!(
            "{ENVELOPE_OK}250 2.0.0 6 octets received\r\n250 2.0.0 0 octets received\r\n\
             250 2.0.0 OK queued as Q1\r\n250 2.0.0 OK\r\n"
        )
    );
}

/// BDAT chunks are binary: bare CR and LF pass, and nothing in a chunk is
/// read as a command or an end of data.
#[test]
fn bdat_is_binary_clean() {
    let log = at_every_split(mx, &session("BDAT 12 LAST\r\na\n.\nQUIT\r\n\0\r"));
    assert_eq!(messages(&log), [&b"a\n.\nQUIT\r\n\0\r"[..]]);
    assert!(!log.text().contains("221"));
}

#[test]
fn bdat_without_a_transaction_is_refused_after_its_chunk() {
    let log = at_every_split(mx, b"EHLO c\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        after_ehlo(&log),
        "503 5.5.1 Need MAIL command first\r\n250 2.0.0 OK\r\n"
    );
    let log = at_every_split(
        mx,
        b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nBDAT 3 LAST\r\nabcNOOP\r\n",
    );
    assert_eq!(
        after_ehlo(&log),
        "250 2.1.0 Sender OK\r\n554 5.5.1 No valid recipients\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn bdat_over_the_limit() {
    let opts = Options {
        max_message_size: 8,
        ..Options::default()
    };
    let body = "BDAT 5\r\n12345BDAT 5\r\n67890BDAT 1 LAST\r\nxNOOP\r\n";
    let log = at_every_split(mx_with(opts), &session(body));
    assert!(messages(&log).is_empty());
    assert_eq!(
        after_ehlo(&log),
        format!(
            "{ENVELOPE_OK}250 2.0.0 5 octets received\r\n\
             552 5.3.4 Message size exceeds fixed maximum message size\r\n\
             503 5.5.1 Need MAIL command first\r\n250 2.0.0 OK\r\n"
        )
    );
}

#[test]
fn data_after_bdat_is_refused() {
    let log = at_every_split(mx, &session("BDAT 2\r\nabDATA\r\n"));
    assert!(after_ehlo(&log).ends_with("503 5.5.1 DATA is not allowed after BDAT\r\n"));
}

#[test]
fn rset_and_ehlo_end_the_transaction() {
    for reset in ["RSET", "EHLO again", "HELO again"] {
        let input = session(&format!("{reset}\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"));
        let log = at_every_split(mx, &input);
        assert!(
            after_ehlo(&log).ends_with(
                "503 5.5.1 Need MAIL command first\r\n503 5.5.1 Need MAIL command first\r\n"
            ),
            "{reset}: {}",
            log.text()
        );
    }
}

#[test]
fn mail_twice_is_out_of_sequence() {
    let log = at_every_split(mx, b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\n");
    assert!(after_ehlo(&log).ends_with("503 5.5.1 Sender already specified\r\n"));
    assert_eq!(log.events.len(), 1);
}

#[test]
fn a_refused_sender_opens_nothing() {
    let log = at_every_split(
        mx,
        b"EHLO c\r\nMAIL FROM:<spammer@b.c>\r\nRCPT TO:<x@y.z>\r\nMAIL FROM:<a@b.c>\r\n",
    );
    assert_eq!(
        after_ehlo(&log),
        "550 5.7.1 Go away\r\n503 5.5.1 Need MAIL command first\r\n250 2.1.0 Sender OK\r\n"
    );
}

#[test]
fn max_recipients() {
    let opts = Options {
        max_recipients: 2,
        ..Options::default()
    };
    let input = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<nobody@x.y>\r\nRCPT TO:<1@x.y>\r\n\
                 RCPT TO:<2@x.y>\r\nRCPT TO:<3@x.y>\r\nRCPT TO:<4@x.y>\r\n";
    let log = at_every_split(mx_with(opts), input.as_bytes());
    assert_eq!(
        after_ehlo(&log),
        "250 2.1.0 Sender OK\r\n550 5.1.1 No such user\r\n250 2.1.5 Recipient OK\r\n\
         250 2.1.5 Recipient OK\r\n452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n"
    );
    let rcpts = log.events.iter().filter(|e| matches!(e, Event::Rcpt(_)));
    assert_eq!(rcpts.count(), 3, "refused recipients do not count");
}

#[test]
fn utf8_addresses_need_smtputf8() {
    let input = "EHLO c\r\nMAIL FROM:<j\u{f6}ran@b.c>\r\nMAIL FROM:<a@b.c>\r\n\
                 RCPT TO:<\u{e9}@x.y>\r\nRSET\r\nMAIL FROM:<a@b.c> SMTPUTF8\r\nRCPT TO:<\u{e9}@x.y>\r\n";
    let log = at_every_split(mx, input.as_bytes());
    let refusal = "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter\r\n";
    assert_eq!(
        after_ehlo(&log),
        format!(
            "{refusal}250 2.1.0 Sender OK\r\n{refusal}250 2.0.0 OK\r\n\
             250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
        )
    );
}

#[test]
fn requiretls_needs_tls_and_unknown_parameters_are_refused() {
    let input = b"EHLO c\r\nMAIL FROM:<a@b.c> REQUIRETLS\r\nMAIL FROM:<a@b.c> X-FOO=1\r\n\
                  MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z> SIZE=1\r\n";
    let log = at_every_split(mx, input);
    assert_eq!(
        after_ehlo(&log),
        "530 5.7.10 REQUIRETLS needs a TLS session\r\n\
         555 5.5.4 Parameter not recognized or not implemented\r\n\
         250 2.1.0 Sender OK\r\n\
         555 5.5.4 Parameter not recognized or not implemented\r\n"
    );
}

#[test]
fn an_unanswered_message_gets_a_temporary_failure() {
    fn silent(_: &mut Server, _: &Event) -> common::After {
        common::After::Continue
    }
    let mut s = mx();
    let mut log = common::Log::default();
    s.enqueue_input(b"EHLO c\r\nMAIL FROM:<a@b.c>\r\n");
    common::drive(&mut s, &mut log, silent);
    assert!(log
        .text()
        .ends_with("451 4.3.0 Local error in processing\r\n"));
    assert!(!s.in_transaction());
}
