//! RFC 2971 (ID).

use crate::helpers::{any, cmd, imaps, login, with_mail};
use crate::wire::{parse, Value};

/// Checks an `* ID` response against RFC 2971 §3.3: NIL, or a list of at
/// most 30 field/value pairs, each field a string of at most 30 octets
/// and each value a string or NIL.
fn check_id(lines: &[String]) {
    let line = lines
        .iter()
        .find(|l| l.starts_with("* ID "))
        .unwrap_or_else(|| panic!("the server must answer * ID: {lines:?}"));
    let v = parse(&line.as_bytes()[5..]).unwrap_or_else(|e| panic!("{e}"));
    match v.as_slice() {
        [Value::Nil] => {}
        [Value::List(items)] => {
            assert!(items.len() % 2 == 0 && items.len() <= 60, "{line}");
            for pair in items.chunks(2) {
                let field = pair[0].bytes().unwrap_or_else(|| panic!("{line}"));
                assert!(
                    matches!(pair[0], Value::Str(_)) && field.len() <= 30,
                    "{line}"
                );
                assert!(matches!(pair[1], Value::Str(_) | Value::Nil), "{line}");
            }
        }
        _ => panic!("ID data is NIL or one list: {line}"),
    }
}

/// RFC 2971 §3.1 and §3.3: ID works in any state, with NIL or with the
/// client's fields, and the server always answers one `* ID`; a field
/// list that is not pairs is a syntax error.
#[tokio::test]
async fn rfc2971_3_id() {
    let srv = with_mail().await;
    let mut pre = imaps(&srv).await;
    check_id(&cmd(&mut pre, "a ID NIL").await);
    let mut c = login(&srv).await;
    check_id(&cmd(&mut c, "b ID (\"name\" \"conformance\" \"version\" \"1\")").await);
    cmd(&mut c, "c SELECT INBOX").await;
    check_id(&cmd(&mut c, "d ID NIL").await);
    let bad = any(&mut c, "e ID (\"name\")").await;
    assert!(bad.last().unwrap().starts_with("e BAD"), "{bad:?}");
}
