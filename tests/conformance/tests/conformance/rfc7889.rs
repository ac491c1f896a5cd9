//! RFC 7889 (APPENDLIMIT): the largest APPEND the server takes.

use crate::helpers::{any, cmd, login, with_mail};
use crate::wire::status;

/// The limit the capability announces.
fn limit(caps: &[String]) -> u64 {
    caps.iter()
        .flat_map(|l| l.split([' ', ']']))
        .find_map(|w| w.strip_prefix("APPENDLIMIT="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no APPENDLIMIT=n: {caps:?}"))
}

/// RFC 7889 §3: an APPEND larger than the announced limit is refused with
/// TOOBIG before its octets are sent (no continuation request), and the
/// session goes on.
#[tokio::test]
async fn rfc7889_3_append_over_the_limit_is_toobig() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    let max = limit(&caps);
    let no = any(&mut c, &format!("b APPEND INBOX {{{}}}", max + 1)).await;
    let last = no.last().unwrap();
    assert!(
        last.starts_with("b NO [TOOBIG]") || last.starts_with("b BAD [TOOBIG]"),
        "{no:?}"
    );
    assert!(!no.iter().any(|l| l.starts_with('+')), "{no:?}");
    cmd(&mut c, "c NOOP").await;
}

/// RFC 7889 §3 and its formal syntax (`status-att =/ "APPENDLIMIT"`): STATUS answers
/// the APPENDLIMIT item with the limit for that mailbox, which with a
/// server-wide APPENDLIMIT=n is n.
#[tokio::test]
async fn rfc7889_3_status_appendlimit() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    let max = limit(&caps);
    let st = cmd(&mut c, "b STATUS INBOX (APPENDLIMIT)").await;
    assert_eq!(
        status(&st, "INBOX"),
        [("APPENDLIMIT".into(), max)],
        "{st:?}"
    );
}
