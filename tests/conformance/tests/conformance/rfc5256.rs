//! RFC 5256 (SORT, THREAD).

use crate::helpers::{cmd, login, with_mail, ALICE};

/// RFC 5256: SORT by criteria with REVERSE and ties by number; THREAD
/// ORDEREDSUBJECT and REFERENCES.
#[tokio::test]
async fn rfc5256_sort_and_thread() {
    let srv = with_mail().await;
    for (id, refs, subject, date) in [
        ("<r1@x>", "", "Re: first", "Tue, 8 Feb 1994 10:00:00 +0000"),
        (
            "<r2@x>",
            "<1@example.test> <r1@x>",
            "Re: Re: first",
            "Wed, 9 Feb 1994 10:00:00 +0000",
        ),
    ] {
        let refs = if refs.is_empty() {
            "In-Reply-To: <1@example.test>\r\n".to_owned()
        } else {
            format!("References: {refs}\r\n")
        };
        let raw = format!("Message-ID: {id}\r\n{refs}Subject: {subject}\r\nDate: {date}\r\nFrom: zed@example.test\r\n\r\nx\r\n");
        srv.deliver(ALICE, raw.as_bytes());
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let s = cmd(&mut c, "b SORT (SUBJECT REVERSE DATE) UTF-8 ALL").await;
    assert_eq!(s[0], "* SORT 4 3 1 2");
    let s = cmd(&mut c, "c SORT (REVERSE SIZE) UTF-8 UNDELETED").await;
    assert_eq!(s[0], "* SORT 2 1 4 3");
    let s = cmd(&mut c, "d UID SORT (FROM) US-ASCII NOT FROM carol").await;
    assert_eq!(s[0], "* SORT 1 3 4");
    let t = cmd(&mut c, "e THREAD ORDEREDSUBJECT UTF-8 ALL").await;
    assert_eq!(t[0], "* THREAD (1 (3)(4))(2)");
    let t = cmd(&mut c, "f THREAD REFERENCES UTF-8 ALL").await;
    assert_eq!(t[0], "* THREAD (1 3 4)(2)");
}
