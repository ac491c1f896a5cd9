//! RFC 5819 (LIST-STATUS): STATUS returned with LIST.

use crate::helpers::{cmd, login, with_mail};
use crate::wire::{lists, status};

/// RFC 5819 §2: LIST ... RETURN (STATUS (...)) sends, for each listed
/// mailbox that can be selected, one STATUS response after its LIST
/// response, with the values STATUS itself would give; a name that cannot
/// be selected gets none.
#[tokio::test]
async fn rfc5819_2_status_follows_each_selectable_list() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Work/Reports").await;
    cmd(&mut c, "b SUBSCRIBE Gone").await;
    let l = cmd(&mut c, "c LIST \"\" * RETURN (STATUS (MESSAGES UNSEEN))").await;
    for entry in lists(&l, "LIST") {
        let quoted = format!("* STATUS \"{}\" ", entry.name);
        let listed = l
            .iter()
            .position(|x| x.starts_with("* LIST ") && x.ends_with(&format!(" \"{}\"", entry.name)))
            .unwrap();
        let statuses: Vec<usize> = l
            .iter()
            .enumerate()
            .filter(|(_, x)| x.starts_with(&quoted))
            .map(|(i, _)| i)
            .collect();
        if entry.has("\\Noselect") || entry.has("\\NonExistent") {
            assert!(statuses.is_empty(), "{}: {l:?}", entry.name);
        } else {
            assert_eq!(statuses.len(), 1, "{}: {l:?}", entry.name);
            assert!(
                statuses[0] > listed,
                "{}: STATUS before LIST: {l:?}",
                entry.name
            );
        }
    }
    assert_eq!(
        status(&l, "INBOX"),
        [("MESSAGES".into(), 2), ("UNSEEN".into(), 2)],
        "{l:?}"
    );
    let l = cmd(
        &mut c,
        "d LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES))",
    )
    .await;
    assert!(
        !l.iter().any(|x| x.starts_with("* STATUS \"Gone\"")),
        "a subscribed name without a mailbox has no STATUS: {l:?}"
    );
}
