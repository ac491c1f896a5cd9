//! `GET /mail/{folder}`: a folder's messages, newest first, a page at a
//! time, optionally only those whose subject or sender contains `?q=`.

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

/// The query string; anything malformed is ignored, not refused.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    page: Option<String>,
    q: Option<String>,
    /// What the previous page did (`/compose` after a send).
    notice: Option<String>,
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
    let notice = match query.notice.as_deref() {
        Some("sent") => Some("Message sent."),
        Some("sent-nocopy") => Some("Message sent, but no copy could be kept in Sent."),
        _ => None,
    };
    let (account, n, q2) = (session.account, name.clone(), q.clone());
    let listing = blocking(&state, &session.address, move |store| {
        listing(store, account, &n, &q2, page)
    })
    .await;
    let listing = match listing {
        Ok(l) => l,
        Err(r) => return r,
    };
    let link = |p: usize| {
        let mut href = format!("{}?page={p}", folder_href(&name));
        if !q.is_empty() {
            href.push_str("&q=");
            href.push_str(&query_encode(&q));
        }
        href
    };
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
    })
}

fn listing(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    q: &str,
    page: usize,
) -> StoreResult<Listing> {
    let mailbox = open(store, account, name)?;
    let mut metas = store.messages(mailbox.id)?;
    // UIDs ascend with arrival (RFC 9051 §2.3.1.1): newest first is
    // descending UID.
    metas.reverse();
    let mut rows = Vec::new();
    let mut matched = 0usize;
    let first = (page - 1).saturating_mul(PAGE);
    for meta in &metas {
        let in_page = matched >= first && matched < first + PAGE;
        // Without a search only the page's messages need reading.
        if q.is_empty() && !in_page {
            matched += 1;
            continue;
        }
        let raw = store.read_blob(&meta.blob, meta.size)?;
        let row = row(name, meta, &Message::parse(header_block(&raw)));
        if !q.is_empty() && !matches(&row, q) {
            continue;
        }
        if in_page {
            rows.push(row);
        }
        matched += 1;
    }
    Ok(Listing {
        folders: pages::folders(store, account)?,
        rows,
        pages: matched.div_ceil(PAGE).max(1),
    })
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
    fn query_values_are_encoded() {
        assert_eq!(query_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
