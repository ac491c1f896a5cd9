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

/// RFC 5256 §3 steps 1–3: a reference to a message the mailbox does not
/// hold leaves a placeholder; a placeholder at the root with several
/// children stays and is written as its children's list; one with a
/// single child gives way to it. Step 5: a root whose base subject is a
/// reply's joins the thread of the same subject.
#[tokio::test]
async fn rfc5256_3_references_keeps_placeholders() {
    let srv = with_mail().await;
    for (id, refs, subject, date) in [
        // 3 and 4 answer <gone@x>, which is not here.
        (
            "<p1@x>",
            "<gone@x>",
            "Re: plans",
            "Tue, 8 Feb 1994 10:00:00 +0000",
        ),
        (
            "<p2@x>",
            "<gone@x>",
            "Re: plans",
            "Wed, 9 Feb 1994 10:00:00 +0000",
        ),
        // 5 answers <lost@x>, also missing: it stands alone.
        (
            "<p3@x>",
            "<lost@x>",
            "other",
            "Thu, 10 Feb 1994 10:00:00 +0000",
        ),
        // 6 references nothing, but its subject is a reply to "other".
        ("<p4@x>", "", "Re: other", "Fri, 11 Feb 1994 10:00:00 +0000"),
    ] {
        let refs = match refs {
            "" => String::new(),
            r => format!("References: {r}\r\n"),
        };
        let raw = format!("Message-ID: {id}\r\n{refs}Subject: {subject}\r\nDate: {date}\r\nFrom: zed@example.test\r\n\r\nx\r\n");
        srv.deliver(ALICE, raw.as_bytes());
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let t = cmd(&mut c, "b THREAD REFERENCES UTF-8 ALL").await;
    // Threads by date (step 4): message 2 has no Date, so its arrival,
    // today, puts it last.
    assert_eq!(t[0], "* THREAD (1)((3)(4))(5 6)(2)", "{t:?}");
}
