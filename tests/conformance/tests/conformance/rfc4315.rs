//! RFC 4315 (UIDPLUS): APPENDUID, COPYUID and UID EXPUNGE.

use crate::helpers::{any, cmd, code, login, with_five, with_mail};
use crate::wire::{expand, fetch_of, fetches};

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

/// RFC 4315 §3 APPENDUID: the UIDVALIDITY of the target mailbox and the
/// UID the message got, which is the UIDNEXT that STATUS announced and
/// fetches the very octets appended.
#[tokio::test]
async fn rfc4315_3_appenduid_names_the_new_message() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let st = cmd(&mut c, "a STATUS Archive (UIDVALIDITY UIDNEXT)").await;
    let status = crate::wire::parse(st[0].as_bytes()).unwrap();
    let items = status.last().unwrap().list().unwrap().to_vec();
    let item = |name: &str| {
        let at = items
            .iter()
            .position(|v| v.text().as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {name}: {st:?}"));
        items[at + 1].number().unwrap()
    };
    let (validity, next) = (item("UIDVALIDITY"), item("UIDNEXT"));
    let msg = "Subject: appended\r\n\r\nappended body\r\n";
    let ok = cmd(
        &mut c,
        &format!("b APPEND Archive {{{}+}}\r\n{msg}", msg.len()),
    )
    .await;
    assert_eq!(
        code(&ok, "APPENDUID"),
        Some(format!("{validity} {next}")),
        "{ok:?}"
    );
    cmd(&mut c, "c EXAMINE Archive").await;
    let f = cmd(&mut c, &format!("d UID FETCH {next} BODY.PEEK[]")).await;
    assert_eq!(fetch_of(&f, 1).bytes("BODY[]"), msg.as_bytes(), "{f:?}");
}

/// RFC 4315 §3 COPYUID: the source and destination UID sets correspond
/// one to one in the order given, whatever order the client named the
/// messages in; the copy keeps each message's content.
#[tokio::test]
async fn rfc4315_3_copyuid_sets_correspond() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let ok = cmd(&mut c, "b UID COPY 5,1,3 Archive").await;
    let copyuid = code(&ok, "COPYUID").unwrap_or_else(|| panic!("no COPYUID: {ok:?}"));
    let parts: Vec<&str> = copyuid.split(' ').collect();
    let [_, source, dest] = parts[..] else {
        panic!("COPYUID is validity, source, destination: {copyuid}");
    };
    let (source, dest) = (expand(source), expand(dest));
    let mut sorted = source.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 3, 5], "{copyuid}");
    assert_eq!(source.len(), dest.len(), "{copyuid}");
    let subject = "BODY.PEEK[HEADER.FIELDS (SUBJECT)]";
    let item = "BODY[HEADER.FIELDS (SUBJECT)]";
    let mut want = Vec::new();
    for uid in &source {
        let f = cmd(&mut c, &format!("c UID FETCH {uid} {subject}")).await;
        want.push(fetches(&f)[0].bytes(item).to_vec());
    }
    cmd(&mut c, "d EXAMINE Archive").await;
    for (uid, want) in dest.iter().zip(want) {
        let f = cmd(&mut c, &format!("e UID FETCH {uid} {subject}")).await;
        assert_eq!(fetches(&f)[0].bytes(item), want, "UID {uid} of {copyuid}");
    }
}

/// RFC 9051 §6.4.7: COPY to a mailbox that does not exist fails with
/// TRYCREATE and copies nothing; UIDPLUS adds no COPYUID then.
#[tokio::test]
async fn rfc9051_6_4_7_copy_to_a_missing_mailbox_is_trycreate() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let no = any(&mut c, "b COPY 1:2 Nowhere").await;
    assert!(no.last().unwrap().starts_with("b NO [TRYCREATE]"), "{no:?}");
    assert!(code(&no, "COPYUID").is_none(), "{no:?}");
}

/// RFC 4315 §2.1 UID EXPUNGE: only messages both \Deleted and named go;
/// a named message without \Deleted stays, and so does a \Deleted one
/// not named.
#[tokio::test]
async fn rfc4315_2_1_uid_expunge_needs_both() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut c, "b STORE 2:4 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "c UID EXPUNGE 1:3").await;
    let mut uids = vec![1, 2, 3, 4, 5];
    crate::helpers::expunge(&mut uids, &ex);
    assert_eq!(uids, [1, 4, 5], "{ex:?}");
    let f = cmd(&mut c, "d FETCH 1:* UID").await;
    let got: Vec<u64> = fetches(&f).iter().map(|f| f.number("UID")).collect();
    assert_eq!(got, [1, 4, 5], "{f:?}");
}
