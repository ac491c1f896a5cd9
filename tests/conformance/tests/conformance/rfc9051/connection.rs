//! RFC 9051 §6.2.1 (STARTTLS) and §6.2.3 (LOGIN): the plain-text port
//! takes no password until TLS is up.

use crate::helpers::{any, cmd, imaps, with_mail, Imap, ALICE, PASSWORD};

fn capabilities(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .find(|l| l.starts_with("* CAPABILITY "))
        .map(|l| l.split(' ').skip(2).map(str::to_owned).collect())
        .unwrap_or_else(|| panic!("no CAPABILITY: {lines:?}"))
}

/// RFC 9051 §6.2.1 and §7.2.2: on the STARTTLS port, CAPABILITY offers
/// STARTTLS and LOGINDISABLED and no AUTH= mechanism; LOGIN and
/// AUTHENTICATE are refused; after STARTTLS and the handshake the server
/// sends nothing unasked (no second greeting), and CAPABILITY then drops
/// STARTTLS and LOGINDISABLED and offers AUTH=PLAIN, and LOGIN works.
#[tokio::test]
async fn rfc9051_6_2_1_starttls_and_logindisabled() {
    let srv = with_mail().await;
    let mut c = Imap::plain(&srv, "imap").await;
    let caps = capabilities(&cmd(&mut c, "a CAPABILITY").await);
    for want in ["STARTTLS", "LOGINDISABLED", "IMAP4rev2"] {
        assert!(caps.iter().any(|c| c == want), "{want}: {caps:?}");
    }
    assert!(!caps.iter().any(|c| c.starts_with("AUTH=")), "{caps:?}");
    let no = any(&mut c, &format!("b LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(no.last().unwrap().starts_with("b NO"), "{no:?}");
    let no = any(&mut c, "c AUTHENTICATE PLAIN").await;
    let last = no.last().unwrap();
    assert!(
        last.starts_with("c NO") || last.starts_with("c BAD"),
        "{no:?}"
    );
    cmd(&mut c, "d STARTTLS").await;
    let mut c = c.start_tls(&srv).await;
    c.send("e CAPABILITY").await;
    let first = c.expect("* ").await;
    assert!(
        first.starts_with("* CAPABILITY "),
        "no greeting after TLS: {first}"
    );
    c.expect("e OK").await;
    let caps = capabilities(&[first]);
    assert!(
        !caps.iter().any(|c| c == "STARTTLS" || c == "LOGINDISABLED"),
        "{caps:?}"
    );
    assert!(caps.iter().any(|c| c == "AUTH=PLAIN"), "{caps:?}");
    cmd(&mut c, &format!("f LOGIN {ALICE} \"{PASSWORD}\"")).await;
    cmd(&mut c, "g SELECT INBOX").await;
}

/// RFC 9051 §6.2.1: STARTTLS where TLS is already up (the implicit-TLS
/// port, RFC 8314) is refused and the session goes on.
#[tokio::test]
async fn rfc9051_6_2_1_starttls_under_tls_is_refused() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    let caps = capabilities(&cmd(&mut c, "a CAPABILITY").await);
    assert!(
        !caps.iter().any(|c| c == "STARTTLS" || c == "LOGINDISABLED"),
        "{caps:?}"
    );
    let no = any(&mut c, "b STARTTLS").await;
    let last = no.last().unwrap();
    assert!(
        last.starts_with("b BAD") || last.starts_with("b NO"),
        "{no:?}"
    );
    cmd(&mut c, &format!("c LOGIN {ALICE} \"{PASSWORD}\"")).await;
}
