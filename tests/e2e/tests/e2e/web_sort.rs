//! The message list's sorting, over real TLS: by arrival, date, sender,
//! subject and size, both ways, with headings that link to each sort.

use postern_testkit::{Browser, TestServer};

const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse battery";

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv
}

#[tokio::test]
async fn the_list_sorts_by_each_column_both_ways() {
    let srv = server().await;
    // Arrival order differs from Date, sender, subject and size order.
    let mails = [
        (
            "Re: banana",
            "zed@example.test",
            "Tue, 8 Feb 1994 10:00:00 +0000",
            10,
        ),
        (
            "apple",
            "Mia <mia@example.test>",
            "Sun, 6 Feb 1994 10:00:00 +0000",
            3000,
        ),
        (
            "cherry",
            "adam@example.test",
            "Mon, 7 Feb 1994 10:00:00 +0000",
            500,
        ),
    ];
    for (subject, from, date, size) in mails {
        let raw = format!(
            "From: {from}\r\nTo: {ALICE}\r\nSubject: {subject}\r\nDate: {date}\r\n\r\n{}\r\n",
            "x".repeat(size)
        );
        srv.deliver(ALICE, raw.as_bytes());
    }
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let order = |text: &str| -> Vec<&'static str> {
        let mut found: Vec<(usize, &'static str)> = ["banana", "apple", "cherry"]
            .into_iter()
            .map(|s| {
                (
                    text.find(&format!(
                        ">{}</a>",
                        if s == "banana" { "Re: banana" } else { s }
                    ))
                    .expect(s),
                    s,
                )
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, s)| s).collect()
    };
    let page = b.get("/mail/INBOX").await.text();
    assert_eq!(
        order(&page),
        ["cherry", "apple", "banana"],
        "newest arrival first"
    );
    for (query, expected) in [
        ("sort=subject&order=asc", ["apple", "banana", "cherry"]),
        ("sort=subject&order=desc", ["cherry", "banana", "apple"]),
        ("sort=date&order=asc", ["apple", "cherry", "banana"]),
        ("sort=date&order=desc", ["banana", "cherry", "apple"]),
        ("sort=from&order=asc", ["cherry", "apple", "banana"]),
        ("sort=size&order=desc", ["apple", "cherry", "banana"]),
        ("sort=arrival&order=asc", ["banana", "apple", "cherry"]),
    ] {
        let page = b.get(&format!("/mail/INBOX?{query}")).await;
        assert_eq!(page.status, 200, "{page}");
        assert_eq!(order(&page.text()), expected, "{query}");
    }
    // The headings link to their sort, the current one the other way.
    let page = b.get("/mail/INBOX?sort=subject&order=asc").await.text();
    assert!(
        page.contains("aria-sort=\"ascending\"><a href=\"/mail/INBOX?page=1&#38;sort=subject&#38;order=desc\">Subject</a>"),
        "{page}"
    );
    // Nonsense is ignored, not refused.
    assert_eq!(b.get("/mail/INBOX?sort=../x&order=up").await.status, 200);
}
