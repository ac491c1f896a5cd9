//! RFC 9208 (QUOTA): quota roots and resources.

use crate::helpers::{any, cmd, login, with_mail, ALICE};

/// RFC 9208 (QUOTA): no quota, then the account's quota in KiB.
#[tokio::test]
async fn rfc9208_quota() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let q = cmd(&mut c, "a GETQUOTAROOT INBOX").await;
    assert_eq!(q[0], "* QUOTAROOT \"INBOX\"", "no quota: no root");
    let no = any(&mut c, "b GETQUOTA \"\"").await;
    assert!(no[0].starts_with("b NO"), "{no:?}");
    let store = srv.server().store();
    let id = store.account(ALICE).unwrap().unwrap().id;
    store.set_quota(id, 10 * 1024 * 1024).unwrap();
    let q = cmd(&mut c, "c GETQUOTAROOT INBOX").await;
    assert_eq!(q[0], "* QUOTAROOT \"INBOX\" \"\"");
    assert_eq!(q[1], "* QUOTA \"\" (STORAGE 1 10240)");
    let no = any(&mut c, "d SETQUOTA \"\" (STORAGE 1)").await;
    assert!(no[0].starts_with("d NO [NOPERM]"), "{no:?}");
}
