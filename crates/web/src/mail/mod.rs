//! Webmail: a folder's message list, reading a message, its attachments,
//! the actions on it (read/unread, flag, move, delete), and managing
//! folders.
//!
//! Every store call runs on a blocking thread, against the shared store:
//! its writes broadcast their changes (`Store::subscribe`), so an IMAP
//! session in IDLE learns of a flag set or a message moved here at once.
//! A folder is found by name within the session's own account only, so
//! another account's folder, a name that does not exist and a malformed
//! one all answer the same 404.
//!
//! # Layout
//! - [`list`]: `GET /mail/{folder}`, the paged message list.
//! - [`read`]: `GET /mail/{folder}/{uid}` and its parts' downloads.
//! - [`actions`]: `POST /mail/{folder}/{uid}`.
//! - [`folders`]: `/folders`: create, rename and delete folders.
//! - [`compose`]: `/compose`: new messages, replies, forwards, drafts.
//! - [`invite`]: invitations received by mail (iMIP) and their answers.
//! - [`write`]: the composed message as MIME octets.
//! - [`body`]: MIME parts to show, attachments, HTML sanitizing.

pub mod actions;
pub mod body;
pub mod compose;
pub mod folders;
pub mod invite;
pub mod list;
pub mod read;
pub mod write;

use axum::http::StatusCode;
use axum::response::Response;
use postern_message::Message;
use postern_store::{AccountId, Mailbox, Store, StoreError, StoreResult};

use crate::pages::{self, Folder};
use crate::session::SessionView;
use crate::AppState;

/// Runs `f` on a blocking thread. A missing or malformed thing is the
/// 404 page; any other failure is logged for the administrator and the
/// user gets the generic error page.
pub(crate) async fn blocking<T, F>(state: &AppState, user: &str, f: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
{
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure(state, user, e).await),
        Err(e) => {
            tracing::error!(error = %e, "webmail store task failed");
            Err(pages::internal_error(state))
        }
    }
}

/// The page for a store error no form of the page can correct.
pub(crate) async fn failure(state: &AppState, user: &str, e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } | StoreError::Invalid { .. } => pages::not_found().await,
        // A move copies before it removes, so a full mailbox cannot move
        // a message even to the Trash.
        StoreError::QuotaExceeded { .. } => pages::message(
            state,
            StatusCode::INSUFFICIENT_STORAGE,
            "Mailbox full",
            "Your mailbox is over its quota, so messages cannot be moved. Empty the Trash (delete messages there) or ask the administrator for more space.",
        ),
        e => {
            tracing::error!(error = %e, user = %user, "webmail store call failed; check the store");
            pages::internal_error(state)
        }
    }
}

/// The account's mailbox of this name, or `NotFound`.
pub(crate) fn open(store: &dyn Store, account: AccountId, name: &str) -> StoreResult<Mailbox> {
    store
        .mailbox(account, name)?
        .filter(|m| m.account == account)
        .ok_or_else(|| StoreError::NotFound {
            what: "the folder".into(),
        })
}

/// What every mail page shows around its content.
pub(crate) struct Frame {
    pub address: String,
    pub csrf: String,
    pub folders: Vec<Folder>,
}

impl Frame {
    pub fn new(session: &SessionView, folders: Vec<Folder>) -> Self {
        Self {
            address: session.address.clone(),
            csrf: session.csrf.to_hex(),
            folders,
        }
    }
}

/// The (display name, address) pairs of an address field, names decoded
/// (RFC 2047). The message crate writes each as `name <address>`, joined
/// by `, `; a name may hold `, ` itself, an address never `>`.
pub fn addresses(msg: &Message<'_>, field: &str) -> Vec<(String, String)> {
    let text = msg.header_text(field).join(", ");
    let mut out = Vec::new();
    for item in text.split_inclusive(">, ") {
        let item = item.strip_suffix(", ").unwrap_or(item).trim();
        let pair = match item.rsplit_once('<') {
            Some((name, addr)) => (name.trim(), addr.trim_end_matches('>').trim()),
            None => ("", item),
        };
        if !pair.0.is_empty() || !pair.1.is_empty() {
            out.push((pair.0.to_owned(), pair.1.to_owned()));
        }
    }
    out
}

/// An address field for reading: `Name <address>`, or the address alone.
pub fn address_line(msg: &Message<'_>, field: &str) -> String {
    addresses(msg, field)
        .into_iter()
        .map(|(name, addr)| match name.is_empty() {
            true => addr,
            false => format!("{name} <{addr}>"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A folder's URL path: `/mail/` and the name percent-encoded as one
/// path segment (a `/` of the hierarchy becomes `%2F`; RFC 3986 §2.3
/// leaves only the unreserved characters as they are).
pub fn folder_href(name: &str) -> String {
    let mut out = String::from("/mail/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A message's URL path.
pub fn message_href(folder: &str, uid: u32) -> String {
    format!("{}/{uid}", folder_href(folder))
}

/// `2026-11-23 16:05` in UTC, from Unix seconds.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = postern_types::date::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// `532 B`, `12 KB`, `3.4 MB`.
pub fn human_size(n: u64) -> String {
    const KB: u64 = 1024;
    match n {
        n if n < KB => format!("{n} B"),
        n if n < KB * KB => format!("{} KB", n.div_ceil(KB)),
        n => format!("{:.1} MB", n as f64 / (KB * KB) as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_one_path_segment() {
        assert_eq!(folder_href("INBOX"), "/mail/INBOX");
        assert_eq!(folder_href("Archive/2026"), "/mail/Archive%2F2026");
        assert_eq!(folder_href("a b%é"), "/mail/a%20b%25%C3%A9");
        assert_eq!(folder_href(".."), "/mail/..");
    }

    #[test]
    fn address_fields_keep_names_with_commas() {
        let raw = b"To: \"Doe, John\" <john@x.test>, bob@y.test, =?UTF-8?Q?Ren=C3=A9?= <r@z.test>\r\n\r\n";
        let msg = Message::parse(raw);
        assert_eq!(
            address_line(&msg, "To"),
            "Doe, John <john@x.test>, bob@y.test, René <r@z.test>"
        );
        assert_eq!(address_line(&msg, "Cc"), "");
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(-1), "1969-12-31 23:59");
    }

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1025), "2 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 400_000), "3.4 MB");
    }
}
