//! RFC 7888 (LITERAL+ and LITERAL-): non-synchronizing literals.

use crate::helpers::{any, cmd, imaps, login, with_mail, ALICE, PASSWORD};

fn caps(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .find(|l| l.starts_with("* CAPABILITY "))
        .map(|l| l.split(' ').skip(2).map(str::to_owned).collect())
        .unwrap_or_else(|| panic!("no CAPABILITY: {lines:?}"))
}

/// RFC 7888 §4 (LITERAL-): before login the server offers LITERAL-, and a
/// non-synchronizing literal of up to 4096 octets is read without a
/// continuation request.
#[tokio::test]
async fn rfc7888_4_literal_minus_before_login() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    let before = caps(&cmd(&mut c, "a CAPABILITY").await);
    assert!(before.iter().any(|c| c == "LITERAL-"), "{before:?}");
    let line = format!(
        "b LOGIN {{{}+}}\r\n{ALICE} {{{}+}}\r\n{PASSWORD}",
        ALICE.len(),
        PASSWORD.len()
    );
    let ok = any(&mut c, &line).await;
    assert!(!ok.iter().any(|l| l.starts_with('+')), "{ok:?}");
    assert!(ok.last().unwrap().starts_with("b OK"), "{ok:?}");
}

/// RFC 7888 §4 (LITERAL-): a non-synchronizing literal over 4096 octets
/// is refused with `BAD [TOOBIG]`; its octets are already on the way, so
/// the server may close the connection after saying so (§5).
#[tokio::test]
async fn rfc7888_4_literal_minus_over_4096_is_toobig() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    c.send("a LOGIN {4097+}").await;
    c.expect("a BAD [TOOBIG]").await;
}

/// RFC 7888 §3 (LITERAL+): after login the server offers LITERAL+, and a
/// large non-synchronizing APPEND goes through without a continuation
/// request; a synchronizing literal still gets one (RFC 9051 §4.3).
#[tokio::test]
async fn rfc7888_3_literal_plus_after_login() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let after = caps(&cmd(&mut c, "a CAPABILITY").await);
    assert!(after.iter().any(|c| c == "LITERAL+"), "{after:?}");
    let body = format!("Subject: big\r\n\r\n{}", "0123456789\r\n".repeat(2000));
    let ok = any(
        &mut c,
        &format!("b APPEND INBOX {{{}+}}\r\n{body}", body.len()),
    )
    .await;
    assert!(!ok.iter().any(|l| l.starts_with('+')), "{ok:?}");
    assert!(ok.last().unwrap().starts_with("b OK"), "{ok:?}");
    c.send(&format!("c APPEND INBOX {{{}}}", body.len())).await;
    c.expect("+").await;
    c.send(&body).await;
    c.expect("c OK").await;
}
