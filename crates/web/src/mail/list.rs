//! `GET /mail/{folder}`: a folder's messages, a page at a time, newest
//! first or sorted by `?sort=` (arrival, date, from, subject, size) and
//! `?order=` (asc, desc), optionally only those whose subject or sender
//! contains `?q=`.
//!
//! Arrival order and size come from the store's listing; sorting by date,
//! sender or subject, and searching, read every message's header block,
//! which costs time in proportion to the folder.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use postern_message::Message;
use postern_store::{AccountId, Flag, MessageMeta, Store, StoreResult};
use serde::Deserialize;

use super::{blocking, folder_href, format_time, human_size, message_href, open, Frame};
use crate::pages::{self, render, Folder};
use crate::session::Authed;
use crate::AppState;

/// Messages per page.
pub const PAGE: usize = 50;
/// How much of a message a list row reads: header sections are a few
/// KiB; one longer than this is shown from what was read.
const HEAD_READ: usize = 64 * 1024;

/// The query string; anything malformed is ignored, not refused.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    page: Option<String>,
    q: Option<String>,
    /// What the previous page did (`/compose` after a send).
    notice: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Arrival (UID order, RFC 9051 §2.3.1.1).
    Arrival,
    /// The Date field, arrival when it has none.
    Date,
    From,
    Subject,
    Size,
}

impl SortKey {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "arrival" => Self::Arrival,
            "date" => Self::Date,
            "from" => Self::From,
            "subject" => Self::Subject,
            "size" => Self::Size,
            _ => return None,
        })
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Arrival => "arrival",
            Self::Date => "date",
            Self::From => "from",
            Self::Subject => "subject",
            Self::Size => "size",
        }
    }
}

/// The sort of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self {
            key: SortKey::Arrival,
            descending: true,
        }
    }
}

/// One row of the list.
#[derive(Debug, Clone)]
pub struct Row {
    pub href: String,
    pub from: String,
    pub subject: String,
    pub date: String,
    pub size: String,
    pub seen: bool,
    pub flagged: bool,
    /// Sort keys.
    time: i64,
    bytes: u64,
    uid: u32,
}

/// A column heading: its link sorts by it, and again the other way.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: &'static str,
    pub href: String,
    /// `ascending`/`descending` when the list is sorted by it (for
    /// `aria-sort`), else empty.
    pub state: &'static str,
    pub numeric: bool,
}

#[derive(Template)]
#[template(path = "folder.html")]
struct FolderPage<'a> {
    hostname: &'a str,
    frame: Frame,
    folder: String,
    href: String,
    rows: Vec<Row>,
    query: String,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
    notice: Option<&'static str>,
    columns: Vec<Column>,
}

/// What the blocking part hands back.
struct Listing {
    folders: Vec<Folder>,
    rows: Vec<Row>,
    pages: usize,
}

/// `GET /mail/{folder}`.
pub async fn folder(
    State(state): State<AppState>,
    Authed(session): Authed,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: Uri,
) -> Response {
    let Ok(Path(name)) = path else {
        return pages::not_found().await;
    };
    let query = axum::extract::Query::<ListQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let page = query
        .page
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let q = query.q.unwrap_or_default().trim().to_owned();
    let sort = match query.sort.as_deref().and_then(SortKey::parse) {
        Some(key) => Sort {
            key,
            descending: query.order.as_deref() != Some("asc"),
        },
        None => Sort::default(),
    };
    let notice = match query.notice.as_deref() {
        Some("sent") => Some("Message sent."),
        Some("sent-nocopy") => Some("Message sent, but no copy could be kept in Sent."),
        _ => None,
    };
    let (account, n, q2) = (session.account, name.clone(), q.clone());
    let listing = blocking(&state, &session.address, move |store| {
        listing(store, account, &n, &q2, sort, page)
    })
    .await;
    let listing = match listing {
        Ok(l) => l,
        Err(r) => return r,
    };
    let base = folder_href(&name);
    let link_with = |p: usize, s: Sort| {
        let mut href = format!("{base}?page={p}");
        if s != Sort::default() {
            href.push_str("&sort=");
            href.push_str(s.key.name());
            href.push_str(if s.descending {
                "&order=desc"
            } else {
                "&order=asc"
            });
        }
        if !q.is_empty() {
            href.push_str("&q=");
            href.push_str(&query_encode(&q));
        }
        href
    };
    let link = |p: usize| link_with(p, sort);
    let columns = [
        ("From", SortKey::From, false),
        ("Subject", SortKey::Subject, false),
        ("Date", SortKey::Date, false),
        ("Size", SortKey::Size, true),
    ]
    .into_iter()
    .map(|(label, key, numeric)| {
        let current = sort.key == key || (key == SortKey::Date && sort.key == SortKey::Arrival);
        // A first click sorts text A to Z, dates and sizes largest first;
        // a click on the current column turns the order round.
        let descending = if current {
            !sort.descending
        } else {
            !matches!(key, SortKey::From | SortKey::Subject)
        };
        Column {
            label,
            href: link_with(1, Sort { key, descending }),
            state: match (current, sort.descending) {
                (false, _) => "",
                (true, true) => "descending",
                (true, false) => "ascending",
            },
            numeric,
        }
    })
    .collect();
    render(&FolderPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, listing.folders),
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < listing.pages).then(|| link(page + 1)),
        href: folder_href(&name),
        folder: name,
        rows: listing.rows,
        query: q,
        page,
        pages: listing.pages,
        notice,
        columns,
    })
}

fn listing(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    q: &str,
    sort: Sort,
    page: usize,
) -> StoreResult<Listing> {
    let mailbox = open(store, account, name)?;
    let first = (page - 1).saturating_mul(PAGE);
    let read_row = |meta: &MessageMeta| -> StoreResult<Row> {
        // Only the start: a row needs the header section, and a message
        // with a large attachment must not be read whole for one line.
        let raw = store.read_blob_head(&meta.blob, meta.size, HEAD_READ)?;
        Ok(row(name, meta, &Message::parse(header_block(&raw))))
    };
    let (rows, matched) = if q.is_empty() && sort.key == SortKey::Arrival {
        // UIDs ascend with arrival (RFC 9051 §2.3.1.1): the store hands
        // over just the page, however large the folder.
        let (metas, total) = store.messages_page(mailbox.id, sort.descending, first, PAGE)?;
        let rows = metas
            .iter()
            .map(read_row)
            .collect::<StoreResult<Vec<_>>>()?;
        (rows, total)
    } else if q.is_empty() && sort.key == SortKey::Size {
        let mut metas = store.messages(mailbox.id)?;
        metas.sort_by_key(|m| (m.size, m.uid));
        if sort.descending {
            metas.reverse();
        }
        let rows = metas
            .iter()
            .skip(first)
            .take(PAGE)
            .map(read_row)
            .collect::<StoreResult<Vec<_>>>()?;
        (rows, metas.len())
    } else {
        let mut all = Vec::new();
        for meta in &store.messages(mailbox.id)? {
            let row = read_row(meta)?;
            if q.is_empty() || matches(&row, q) {
                all.push(row);
            }
        }
        sort_rows(&mut all, sort);
        let matched = all.len();
        let rows = all.into_iter().skip(first).take(PAGE).collect();
        (rows, matched)
    };
    Ok(Listing {
        folders: pages::folders(store, account)?,
        rows,
        pages: matched.div_ceil(PAGE).max(1),
    })
}

/// Sorts rows; ties go by arrival, so the order is stable across pages.
fn sort_rows(rows: &mut [Row], sort: Sort) {
    match sort.key {
        SortKey::Arrival => rows.sort_by_key(|r| r.uid),
        SortKey::Date => rows.sort_by_key(|r| (r.time, r.uid)),
        SortKey::Size => rows.sort_by_key(|r| (r.bytes, r.uid)),
        SortKey::From => rows.sort_by_cached_key(|r| (r.from.to_lowercase(), r.uid)),
        SortKey::Subject => {
            rows.sort_by_cached_key(|r| (base_subject(&r.subject), r.uid));
        }
    }
    if sort.descending {
        rows.reverse();
    }
}

/// The subject without its reply and forward prefixes, lowercased: a
/// thread's messages sort together (after RFC 5256 §2.1, simplified).
fn base_subject(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let stripped = ["re:", "fwd:", "fw:", "aw:", "sv:"]
            .iter()
            .find_map(|p| s.strip_prefix(p).map(|rest| rest.trim_start().to_owned()));
        match stripped {
            Some(rest) => s = rest,
            None => return s,
        }
    }
}

fn row(folder: &str, meta: &MessageMeta, msg: &Message<'_>) -> Row {
    let subject = msg.header_text("Subject").join(" ");
    Row {
        href: message_href(folder, meta.uid.0),
        from: sender(msg),
        subject: if subject.trim().is_empty() {
            "(no subject)".into()
        } else {
            subject
        },
        date: format_time(msg.sent_time().unwrap_or(meta.internal_date)),
        size: human_size(meta.size),
        seen: meta.flags.contains(&Flag::Seen),
        flagged: meta.flags.contains(&Flag::Flagged),
        time: msg.sent_time().unwrap_or(meta.internal_date),
        bytes: meta.size,
        uid: meta.uid.0,
    }
}

/// The header block of a message, up to and including the empty line
/// (RFC 5322 §2.1): all a list row needs, so a large body is not parsed.
fn header_block(raw: &[u8]) -> &[u8] {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = || raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    &raw[..crlf.or_else(lf).unwrap_or(raw.len())]
}

/// The From field for a list: display names where given, else
/// addresses (RFC 2047 words decoded by the message crate).
pub fn sender(msg: &Message<'_>) -> String {
    super::addresses(msg, "From")
        .into_iter()
        .map(|(name, addr)| if name.is_empty() { addr } else { name })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Case-insensitive substring search in the subject and sender.
fn matches(row: &Row, q: &str) -> bool {
    let q = q.to_lowercase();
    row.subject.to_lowercase().contains(&q) || row.from.to_lowercase().contains(&q)
}

/// A query-string value, percent-encoded (RFC 3986 §3.4).
pub(crate) fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_show_names_else_addresses() {
        let raw = b"From: =?UTF-8?Q?Ren=C3=A9?= <rene@x.test>, bob@y.test\r\n\r\n";
        assert_eq!(sender(&Message::parse(raw)), "René, bob@y.test");
    }

    #[test]
    fn rows_parse_the_header_block_only() {
        assert_eq!(
            header_block(b"Subject: a\r\n\r\nbody\r\n\r\n"),
            b"Subject: a\r\n\r\n"
        );
        assert_eq!(header_block(b"Subject: a\n\nbody"), b"Subject: a\n\n");
        assert_eq!(header_block(b"Subject: a"), b"Subject: a");
    }

    #[test]
    fn subjects_sort_without_their_prefixes() {
        assert_eq!(base_subject("Re: FWD:  re: Lunch"), "lunch");
        assert_eq!(base_subject("Reply"), "reply");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
