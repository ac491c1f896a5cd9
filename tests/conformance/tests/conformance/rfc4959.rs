//! RFC 4959 (SASL-IR) and RFC 9051 §6.2.2 AUTHENTICATE.

use crate::helpers::{any, base64, cmd, imaps, with_mail, ALICE, PASSWORD};

fn plain(user: &str, password: &str) -> String {
    base64(format!("\0{user}\0{password}").as_bytes())
}

/// RFC 4959 §3: AUTHENTICATE PLAIN with an initial response logs in at
/// once, with no continuation request; a wrong password in it is `NO
/// [AUTHENTICATIONFAILED]` (RFC 9051 §7.1).
#[tokio::test]
async fn rfc4959_3_authenticate_with_initial_response() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    assert!(caps[0].split(' ').any(|w| w == "SASL-IR"), "{caps:?}");
    let no = any(
        &mut c,
        &format!("b AUTHENTICATE PLAIN {}", plain(ALICE, "wrong")),
    )
    .await;
    assert!(!no.iter().any(|l| l.starts_with('+')), "{no:?}");
    assert!(
        no.last()
            .unwrap()
            .starts_with("b NO [AUTHENTICATIONFAILED]"),
        "{no:?}"
    );
    let ok = any(
        &mut c,
        &format!("c AUTHENTICATE PLAIN {}", plain(ALICE, PASSWORD)),
    )
    .await;
    assert!(!ok.iter().any(|l| l.starts_with('+')), "{ok:?}");
    assert!(ok.last().unwrap().starts_with("c OK"), "{ok:?}");
    cmd(&mut c, "d SELECT INBOX").await;
}

/// RFC 9051 §6.2.2: without an initial response the server sends an
/// empty challenge; a `*` line cancels the exchange and an invalid base64
/// line fails it, each with a tagged BAD, and the session stays usable.
#[tokio::test]
async fn rfc9051_6_2_2_authenticate_cancel_and_bad_base64() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    c.send("a AUTHENTICATE PLAIN").await;
    c.expect("+").await;
    c.send("*").await;
    c.expect("a BAD").await;
    c.send("b AUTHENTICATE PLAIN").await;
    c.expect("+").await;
    c.send("not base64!").await;
    c.expect("b BAD").await;
    c.send("c AUTHENTICATE PLAIN").await;
    c.expect("+").await;
    c.send(&plain(ALICE, PASSWORD)).await;
    c.expect("c OK").await;
}
