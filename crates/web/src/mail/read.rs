//! `GET /mail/{folder}/{uid}`: one message, and
//! `GET /mail/{folder}/{uid}/part/{n.m}`: one of its parts, as a download.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use postern_message::{Body, Message};
use postern_store::{Account, AccountId, Flag, FlagOp, Store, StoreError, StoreResult, Uid};

use super::body::{self, parse_part, Attachment, Shown};
use super::invite::{self, InvitationBox};
use super::{
    address_line, blocking, folder_href, format_time, human_size, message_href, open, Frame,
};
use crate::pages::{self, render, Folder};
use crate::security::RemoteImages;
use crate::session::Authed;
use crate::AppState;

/// Image types a browser may show from here: raster formats only (an SVG
/// image can carry script).
const SAFE_IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

#[derive(Template)]
#[template(path = "read.html")]
struct ReadPage<'a> {
    hostname: &'a str,
    frame: Frame,
    folder: String,
    folder_href: String,
    action: String,
    subject: String,
    from: String,
    to: String,
    cc: String,
    date: String,
    shown: Vec<Shown>,
    truncated: bool,
    /// Remote images were left out; the page offers to load them.
    images_blocked: bool,
    /// The reader chose to load them.
    images_shown: bool,
    attachments: Vec<AttachmentRow>,
    seen: bool,
    flagged: bool,
    /// Folders this message can move to.
    targets: Vec<String>,
    /// `/compose?folder=..&uid=..`, for reply, reply all, forward.
    compose_href: String,
    is_draft: bool,
    /// The invitation the message carries (iMIP, RFC 6047).
    invitation: Option<InvitationBox>,
}

/// An attachment as listed.
pub struct AttachmentRow {
    pub href: String,
    pub name: String,
    pub ctype: String,
    pub size: String,
}

/// What the blocking part hands back.
struct Opened {
    folders: Vec<Folder>,
    raw: Vec<u8>,
    flags: Vec<Flag>,
    internal_date: i64,
}

/// `GET /mail/{folder}/{uid}`. Opening a message sets `\Seen`, as an IMAP
/// FETCH of `BODY[]` does (RFC 9051 §6.4.5).
pub async fn message(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account_row): Extension<Account>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    uri: axum::http::Uri,
) -> Response {
    let Some((name, uid)) = path.ok().and_then(|Path((n, u))| Some((n, parse_uid(&u)?))) else {
        return pages::not_found().await;
    };
    // `?images=show`: the reader's choice for this message, this time
    // (a link on the page; nothing is remembered).
    let show_images = uri.query() == Some("images=show");
    let (account, n) = (session.account, name.clone());
    let opened = blocking(&state, &session.address, move |store| {
        open_message(store, account, &n, uid)
    })
    .await;
    let opened = match opened {
        Ok(o) => o,
        Err(r) => return r,
    };
    let invitation = invite::on_open(&state, &session, &account_row, &name, uid, &opened.raw).await;
    let page = read_page(
        &state.settings.hostname,
        Frame::new(&session, vec![]),
        (name, uid),
        opened,
        show_images,
        invitation,
    );
    let mut response = render(&page);
    if show_images {
        response.extensions_mut().insert(RemoteImages);
    }
    response
}

fn open_message(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    uid: Uid,
) -> StoreResult<Opened> {
    let mailbox = open(store, account, name)?;
    let meta = store
        .message_meta(mailbox.id, uid)?
        .ok_or_else(|| StoreError::NotFound {
            what: "the message".into(),
        })?;
    let raw = store.read_blob(&meta.blob, meta.size)?;
    let mut flags = meta.flags;
    if !flags.contains(&Flag::Seen) {
        // A change the store broadcasts: IMAP sessions see it at once.
        store.store_flags(mailbox.id, &[uid], FlagOp::Add, &[Flag::Seen], None)?;
        flags.push(Flag::Seen);
    }
    Ok(Opened {
        folders: pages::folders(store, account)?,
        raw,
        flags,
        internal_date: meta.internal_date,
    })
}

fn read_page<'a>(
    hostname: &'a str,
    mut frame: Frame,
    (folder, uid): (String, Uid),
    o: Opened,
    show_images: bool,
    invitation: Option<InvitationBox>,
) -> ReadPage<'a> {
    let msg = Message::parse(&o.raw);
    let href = message_href(&folder, uid.0);
    let rendered = body::render_with(&msg, &href, show_images);
    let header = |n: &str| msg.header_text(n).join(", ");
    let compose_href = format!(
        "/compose?folder={}&uid={}",
        super::list::query_encode(&folder),
        uid.0
    );
    let targets = o
        .folders
        .iter()
        .filter(|f| f.exists)
        .map(|f| f.name.clone())
        .filter(|f| *f != folder)
        .collect();
    frame.folders = o.folders;
    ReadPage {
        hostname,
        frame,
        folder_href: folder_href(&folder),
        attachments: rendered
            .attachments
            .iter()
            .map(|a| attachment_row(&href, a))
            .collect(),
        action: href,
        folder,
        subject: header("Subject"),
        from: address_line(&msg, "From"),
        to: address_line(&msg, "To"),
        cc: address_line(&msg, "Cc"),
        date: format_time(msg.sent_time().unwrap_or(o.internal_date)),
        truncated: rendered.truncated,
        images_blocked: rendered.remote_images_blocked,
        images_shown: show_images,
        shown: rendered.shown,
        seen: o.flags.contains(&Flag::Seen),
        flagged: o.flags.contains(&Flag::Flagged),
        is_draft: o.flags.contains(&Flag::Draft),
        targets,
        compose_href,
        invitation,
    }
}

fn attachment_row(message: &str, a: &Attachment) -> AttachmentRow {
    AttachmentRow {
        href: format!("{message}/part/{}", a.part),
        name: a.name.clone(),
        ctype: a.ctype.clone(),
        size: human_size(a.size),
    }
}

/// A UID as it appears in our URLs: decimal, not zero.
pub(crate) fn parse_uid(s: &str) -> Option<Uid> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0).map(Uid)
}

/// `GET /mail/{folder}/{uid}/part/{n.m}`: the part's content with its
/// transfer encoding undone, always as a download (`attachment`): never
/// rendered by the browser as a page of ours. Only raster images keep
/// their type; everything else is `application/octet-stream`. Reading a
/// part does not set `\Seen` (as IMAP's BINARY.PEEK).
pub async fn part(
    State(state): State<AppState>,
    Authed(session): Authed,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let parsed = path
        .ok()
        .and_then(|Path((n, u, p))| Some((n, parse_uid(&u)?, parse_part(&p)?)));
    let Some((name, uid, part)) = parsed else {
        return pages::not_found().await;
    };
    let account = session.account;
    let raw = blocking(&state, &session.address, move |store| {
        let mailbox = open(store, account, &name)?;
        store.read_message(mailbox.id, uid)
    })
    .await;
    let raw = match raw {
        Ok(r) => r,
        Err(r) => return r,
    };
    match download(&raw, &part) {
        Some(response) => response,
        None => pages::not_found().await,
    }
}

fn download(raw: &[u8], part: &[u32]) -> Option<Response> {
    let msg = Message::parse(raw);
    let single = find_single(&msg.body(), part)?;
    let bytes = msg.binary(part)?;
    let ctype = format!("{}/{}", single.ctype, single.subtype).to_ascii_lowercase();
    let served = if SAFE_IMAGES.contains(&ctype.as_str()) {
        ctype
    } else {
        "application/octet-stream".to_owned()
    };
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        rfc8187(&body::file_name(&single, part))
    );
    Some(
        (
            [
                (header::CONTENT_TYPE, served),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response(),
    )
}

/// The non-multipart body at this part number, as numbered by
/// [`body::render`]; multiparts have no content of their own to download.
fn find_single(root: &Body, part: &[u32]) -> Option<postern_message::Single> {
    let mut at = root;
    for (depth, &n) in part.iter().enumerate() {
        at = match at {
            Body::Multi { parts, .. } => parts.get(usize::try_from(n).ok()?.checked_sub(1)?)?,
            // Part 1 of a message that is not multipart is its body.
            Body::Single(_) if depth == 0 && n == 1 && part.len() == 1 => at,
            Body::Single(_) => return None,
        };
    }
    match at {
        Body::Single(s) => Some((**s).clone()),
        Body::Multi { .. } => None,
    }
}

/// RFC 8187 §3.2.1 `value-chars`: attr-char as is, every other octet of
/// the UTF-8 form percent-encoded.
fn rfc8187(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_plain_decimal() {
        assert_eq!(parse_uid("42"), Some(Uid(42)));
        for bad in ["", "0", "+1", "-1", "1e3", "4294967296", "..", "%31"] {
            assert_eq!(parse_uid(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_names_are_rfc8187_encoded() {
        assert_eq!(rfc8187("a b\"é;.pdf"), "a%20b%22%C3%A9%3B.pdf");
    }

    #[test]
    fn downloads_are_attachments_and_html_is_never_html() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
Content-Type: text/html; name=x.html\r\n\r\n<script>1</script>\r\n--b\r\n\
Content-Type: image/png; name=i.png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--b--\r\n";
        let r = download(raw, &[2]).unwrap();
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename*=UTF-8''x.html"
        );
        let r = download(raw, &[3]).unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
        assert!(download(raw, &[4]).is_none());
        assert!(download(raw, &[1, 1]).is_none());
        // The plain body of a single-part message is part 1.
        assert!(download(b"Subject: x\r\n\r\nbody\r\n", &[1]).is_some());
    }
}
