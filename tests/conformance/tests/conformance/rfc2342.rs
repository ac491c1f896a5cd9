//! RFC 2342 (NAMESPACE).

use crate::helpers::{any, cmd, imaps, login, with_mail};
use crate::wire::parse;

/// RFC 2342 §5: NAMESPACE answers the personal, other users' and shared
/// namespaces, each a list of (prefix delimiter) or NIL; here one
/// personal namespace with the empty prefix and the `/` delimiter LIST
/// reports, and no others. It needs a login first (§5: authenticated
/// state).
#[tokio::test]
async fn rfc2342_5_namespace() {
    let srv = with_mail().await;
    let mut pre = imaps(&srv).await;
    let bad = any(&mut pre, "a NAMESPACE").await;
    assert!(bad.last().unwrap().starts_with("a BAD"), "{bad:?}");
    let mut c = login(&srv).await;
    let n = cmd(&mut c, "b NAMESPACE").await;
    let line = n.iter().find(|l| l.starts_with("* NAMESPACE ")).unwrap();
    let v = parse(&line.as_bytes()[12..]).unwrap();
    assert_eq!(v.len(), 3, "{line}");
    assert_eq!(v[0], crate::wire::parse_one("((\"\" \"/\"))"), "{line}");
    assert_eq!(
        v[1..],
        [crate::wire::Value::Nil, crate::wire::Value::Nil],
        "{line}"
    );
}
