//! RFC 4315 (UIDPLUS): APPENDUID, COPYUID and UID EXPUNGE.

use crate::helpers::{cmd, login, with_mail};

/// RFC 4315 §3 (UIDPLUS) and RFC 6851 §4.3 (MOVE): APPENDUID, COPYUID
/// with the source and destination UID sets, and UID EXPUNGE touching
/// only the named UIDs.
#[tokio::test]
async fn rfc4315_rfc6851_uidplus_and_move() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a SELECT Trash").await;
    let validity = s
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .to_owned();
    cmd(&mut c, "b SELECT INBOX").await;
    let cp = cmd(&mut c, "c COPY 1:2 Trash").await;
    assert!(
        cp[0].starts_with(&format!("c OK [COPYUID {validity} 1:2 1,2]")),
        "{cp:?}"
    );
    let mv = cmd(&mut c, "d MOVE 2 Trash").await;
    assert_eq!(mv[0], format!("* OK [COPYUID {validity} 2 3] Moved"));
    assert_eq!(mv[1], "* 2 EXPUNGE");
    cmd(&mut c, "e SELECT Trash").await;
    cmd(&mut c, "f STORE 1:* +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "g UID EXPUNGE 2").await;
    assert_eq!(ex[0], "* 2 EXPUNGE", "{ex:?}");
    assert_eq!(ex.len(), 2, "{ex:?}");
}
