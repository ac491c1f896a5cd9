//! `/compose`: writing mail. A new message, a reply, a reply to all, a
//! forward (with the original's attachments), or a draft taken up again;
//! sent through the server's submission path (the same sender check,
//! recipient rules, queue and trace header as SMTP clients on 587), then
//! kept in Sent; or saved in Drafts.
//!
//! The form is `multipart/form-data` (files), read by [`crate::multipart`]
//! from a body bounded by the SMTP size limit. Attachments carried from
//! the source message (a forward, a draft) are named by their part
//! numbers and read again from the store at send time, inside the user's
//! own account: a form cannot name another account's message.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use postern_message::Message;
use postern_store::{
    Account, AccountId, Flag, FlagOp, Mailbox, SpecialUse, Store, StoreError, StoreResult, Uid,
};
use serde::Deserialize;

use super::body::{self, parse_part};
use super::read::parse_uid;
use super::write::{parse_addresses, Address, Attachment, Composed};
use super::{addresses, blocking, folder_href, format_time, human_size, open, Frame};
use crate::multipart::{self, Field};
use crate::pages::{self, render};
use crate::security::refuse;
use crate::session::{Authed, SessionView};
use crate::settings::{Outgoing, Settings, SubmitError};
use crate::{AppState, Client};

/// The compose routes. A message with its attachments may be as large as
/// SMTP accepts, plus room for the form's own fields and boundaries.
pub fn routes(settings: &Settings) -> Router<AppState> {
    let limit = usize::try_from(settings.max_message_size)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/compose", get(form).post(submit))
        .layer(DefaultBodyLimit::max(limit))
}

/// What the compose page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    New,
    Reply,
    ReplyAll,
    Forward,
    Draft,
}

impl Mode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "new" => Self::New,
            "reply" => Self::Reply,
            "all" => Self::ReplyAll,
            "forward" => Self::Forward,
            "draft" => Self::Draft,
            _ => return None,
        })
    }

    const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Reply => "reply",
            Self::ReplyAll => "all",
            Self::Forward => "forward",
            Self::Draft => "draft",
        }
    }
}

/// `GET /compose?mode=reply&folder=INBOX&uid=7`; anything malformed is
/// ignored, a missing source message is 404.
#[derive(Debug, Default, Deserialize)]
struct ComposeQuery {
    mode: Option<String>,
    folder: Option<String>,
    uid: Option<String>,
    notice: Option<String>,
}

/// An attachment of the source message, offered to carry over.
#[derive(Debug, Clone)]
pub struct Carried {
    pub part: String,
    pub name: String,
    pub ctype: String,
    pub size: String,
    pub keep: bool,
}

/// The form's content, as shown.
#[derive(Debug, Clone, Default)]
struct Fields {
    from: String,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    body: String,
    in_reply_to: String,
    references: String,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    hostname: &'a str,
    frame: Frame,
    title: &'static str,
    senders: Vec<String>,
    fields: Fields,
    mode: &'static str,
    source_folder: String,
    source_uid: String,
    carried: Vec<Carried>,
    error: Option<String>,
    notice: Option<&'static str>,
    max_size: String,
}

/// The source message, read for the form.
struct Source {
    folder: String,
    uid: Uid,
    raw: Vec<u8>,
}

/// `GET /compose`.
async fn form(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account_row): Extension<Account>,
    uri: Uri,
) -> Response {
    let query = axum::extract::Query::<ComposeQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let mode = Mode::parse(query.mode.as_deref().unwrap_or("")).unwrap_or(Mode::New);
    let source = match (mode, query.folder, query.uid.as_deref().and_then(parse_uid)) {
        (Mode::New, ..) => None,
        (_, Some(folder), Some(uid)) => Some((folder, uid)),
        _ => return pages::not_found().await,
    };
    let account = session.account;
    let loaded = blocking(&state, &session.address, move |store| {
        let folders = pages::folders(store, account)?;
        let source = match source {
            Some((folder, uid)) => {
                let mailbox = open(store, account, &folder)?;
                let raw = store.read_message(mailbox.id, uid)?;
                Some(Source { folder, uid, raw })
            }
            None => None,
        };
        Ok((folders, source))
    })
    .await;
    let (folders, source) = match loaded {
        Ok(l) => l,
        Err(r) => return r,
    };
    let senders = state.submission.senders(account_row).await;
    let (fields, carried) = match &source {
        Some(s) => prefill(mode, s, &senders),
        None => (Fields::default(), Vec::new()),
    };
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("Draft saved."),
        _ => None,
    };
    let page = ComposePage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, folders),
        title: title(mode),
        fields: Fields {
            // The address the source was sent to, when it is one of
            // ours (a reply to mail for an alias comes from the alias);
            // else the account's own.
            from: senders
                .iter()
                .find(|s| s.eq_ignore_ascii_case(&fields.from))
                .or_else(|| senders.first())
                .cloned()
                .unwrap_or_default(),
            ..fields
        },
        senders,
        mode: mode.as_str(),
        source_folder: source
            .as_ref()
            .map(|s| s.folder.clone())
            .unwrap_or_default(),
        source_uid: source
            .as_ref()
            .map(|s| s.uid.0.to_string())
            .unwrap_or_default(),
        carried,
        error: None,
        notice,
        max_size: human_size(state.settings.max_message_size),
    };
    render(&page)
}

const fn title(mode: Mode) -> &'static str {
    match mode {
        Mode::New => "New message",
        Mode::Reply | Mode::ReplyAll => "Reply",
        Mode::Forward => "Forward",
        Mode::Draft => "Draft",
    }
}

/// The form as a reply, forward or draft of `source` starts.
fn prefill(mode: Mode, source: &Source, ours: &[String]) -> (Fields, Vec<Carried>) {
    let msg = Message::parse(&source.raw);
    let raw_field = |name: &str| {
        msg.raw_field(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    };
    let subject = msg.header_text("Subject").join(" ");
    let text = msg.main_text().unwrap_or_default();
    let list = |field: &str| -> Vec<(String, String)> { addresses(&msg, field) };
    let is_ours = |a: &str| ours.iter().any(|o| o.eq_ignore_ascii_case(a));
    // A message without a (readable) Date field is quoted without one.
    let sent = msg.sent_time().map(|t| format!("{} UTC", format_time(t)));
    let date = sent.clone().unwrap_or_else(|| "(no date)".to_owned());
    let from_line = join(&list("From"));
    let message_id = raw_field("Message-ID");
    let mut references: Vec<String> = raw_field("References")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if references.is_empty() {
        references.extend(
            raw_field("In-Reply-To")
                .split_whitespace()
                .next()
                .map(str::to_owned),
        );
    }
    if !message_id.is_empty() {
        references.push(message_id.clone());
    }
    let attachments = || -> Vec<Carried> {
        let href = super::message_href(&source.folder, source.uid.0);
        body::render(&msg, &href)
            .attachments
            .into_iter()
            .map(|a| Carried {
                part: a.part,
                name: a.name,
                ctype: a.ctype,
                size: human_size(a.size),
                keep: true,
            })
            .collect()
    };
    match mode {
        Mode::New => (Fields::default(), Vec::new()),
        Mode::Reply | Mode::ReplyAll => {
            let addressed_to = list("To")
                .into_iter()
                .chain(list("Cc"))
                .map(|(_, a)| a)
                .find(|a| is_ours(a))
                .unwrap_or_default();
            let reply_to = list("Reply-To");
            let to = if reply_to.is_empty() {
                list("From")
            } else {
                reply_to
            };
            let mut cc = Vec::new();
            if mode == Mode::ReplyAll {
                for pair in list("To").into_iter().chain(list("Cc")) {
                    let seen = to
                        .iter()
                        .chain(&cc)
                        .any(|(_, a)| a.eq_ignore_ascii_case(&pair.1));
                    if !seen && !is_ours(&pair.1) {
                        cc.push(pair);
                    }
                }
            }
            let quoted: String = text.lines().map(|l| format!("> {l}\n")).collect();
            let fields = Fields {
                to: join(&to),
                cc: join(&cc),
                subject: prefixed("Re: ", &subject),
                body: match &sent {
                    Some(date) => format!("\n\nOn {date}, {from_line} wrote:\n{quoted}"),
                    None => format!("\n\n{from_line} wrote:\n{quoted}"),
                },
                in_reply_to: message_id,
                references: references.join(" "),
                from: addressed_to,
                ..Fields::default()
            };
            (fields, Vec::new())
        }
        Mode::Forward => {
            let mut body = format!(
                "\n\n---------- Forwarded message ----------\nFrom: {from_line}\nDate: {date}\nSubject: {subject}\n"
            );
            let to = join(&list("To"));
            if !to.is_empty() {
                body.push_str(&format!("To: {to}\n"));
            }
            body.push('\n');
            body.push_str(&text);
            let fields = Fields {
                subject: prefixed("Fwd: ", &subject),
                body,
                ..Fields::default()
            };
            (fields, attachments())
        }
        Mode::Draft => {
            let fields = Fields {
                to: join(&list("To")),
                cc: join(&list("Cc")),
                bcc: join(&list("Bcc")),
                subject,
                body: text,
                in_reply_to: raw_field("In-Reply-To"),
                references: raw_field("References"),
                from: list("From")
                    .into_iter()
                    .next()
                    .map(|(_, a)| a)
                    .unwrap_or_default(),
            };
            (fields, attachments())
        }
    }
}

/// `Name <addr>, addr` for the form.
fn join(list: &[(String, String)]) -> String {
    list.iter()
        .map(|(name, addr)| {
            if name.is_empty() {
                addr.clone()
            } else if name.contains([',', ';', '"']) {
                format!("\"{}\" <{addr}>", name.replace('"', ""))
            } else {
                format!("{name} <{addr}>")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Re: x` once, however many times the subject was replied to.
fn prefixed(prefix: &str, subject: &str) -> String {
    let already = subject
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    if already {
        subject.to_owned()
    } else {
        format!("{prefix}{subject}")
    }
}

/// The submitted form, by field name.
struct Submitted {
    fields: Vec<Field>,
}

impl Submitted {
    fn text(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.name == name && f.filename.is_none())
            .map(Field::text)
            .unwrap_or_default()
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> {
        self.fields.iter().filter(move |f| f.name == name)
    }
}

/// What the form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Send,
    SaveDraft,
}

/// `POST /compose`.
async fn submit(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account_row): Extension<Account>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match multipart::from_request(&headers, &body) {
        Ok(fields) => Submitted { fields },
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.reason()),
    };
    if !session.csrf.matches(&form.text("csrf")) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let action = match form.text("action").as_str() {
        "send" => Action::Send,
        "draft" => Action::SaveDraft,
        _ => return refuse(StatusCode::BAD_REQUEST, "unknown action\n"),
    };
    let mode = Mode::parse(&form.text("mode")).unwrap_or(Mode::New);
    let source = match (mode, parse_uid(&form.text("source_uid"))) {
        (Mode::New, _) | (_, None) => None,
        (_, Some(uid)) => Some((form.text("source_folder"), uid)),
    };
    let shown = Fields {
        from: form.text("from"),
        to: form.text("to"),
        cc: form.text("cc"),
        bcc: form.text("bcc"),
        subject: form.text("subject"),
        body: form.text("body"),
        in_reply_to: message_ids(&form.text("in_reply_to")).join(" "),
        references: message_ids(&form.text("references")).join(" "),
    };
    let uploads: Vec<Attachment> = form
        .all("attachment")
        .filter(|f| f.filename.as_deref().is_some_and(|n| !n.is_empty()) || !f.value.is_empty())
        .map(|f| Attachment {
            filename: f.filename.clone().unwrap_or_default(),
            content_type: f.content_type.clone().unwrap_or_default(),
            content: f.value.clone(),
        })
        .collect();
    let keep: Vec<String> = form.all("keep").map(Field::text).collect();
    let ctx = Ctx {
        state: &state,
        session: &session,
        account: &account_row,
        mode,
        source: source.clone(),
        keep: keep.clone(),
    };

    let composed = match compose(&shown, uploads) {
        Ok(c) => c,
        Err(error) => return ctx.again(shown, error, StatusCode::BAD_REQUEST).await,
    };
    let carried = match read_carried(&state, &session, source.clone(), keep).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut composed = composed;
    composed.attachments.splice(0..0, carried);
    if action == Action::Send && composed.recipients().is_empty() {
        return ctx
            .again(
                shown,
                "Add at least one recipient.".into(),
                StatusCode::BAD_REQUEST,
            )
            .await;
    }

    let now = time_now();
    let id = format!("<{}@{}>", random_hex(), state.settings.hostname);
    let boundary = format!("=_{}", random_hex());
    let kept_copy = composed.write(now, &id, &boundary, true);
    if kept_copy.len() as u64 > state.settings.max_message_size {
        let error = format!(
            "The message is too large ({}): at most {}, attachments included.",
            human_size(kept_copy.len() as u64),
            human_size(state.settings.max_message_size)
        );
        return ctx.again(shown, error, StatusCode::PAYLOAD_TOO_LARGE).await;
    }
    let draft_uid = match (mode, &source) {
        (Mode::Draft, Some((folder, uid))) => Some((folder.clone(), *uid)),
        _ => None,
    };
    let account = session.account;

    if action == Action::SaveDraft {
        let saved = blocking(&state, &session.address, move |store| {
            let drafts = special(store, account, SpecialUse::Drafts, "Drafts")?;
            let uid = store.append(drafts.id, &kept_copy, &[Flag::Seen, Flag::Draft], now)?;
            if let Some((folder, old)) = draft_uid {
                remove(store, account, &folder, old)?;
            }
            Ok((drafts.name, uid))
        })
        .await;
        return match saved {
            Ok((folder, uid)) => Redirect::to(&format!(
                "/compose?mode=draft&folder={}&uid={}&notice=saved",
                super::list::query_encode(&folder),
                uid.0
            ))
            .into_response(),
            Err(r) => r,
        };
    }

    let outgoing = Outgoing {
        mail_from: composed.from.clone(),
        recipients: composed.recipients(),
        raw: composed.write(now, &id, &boundary, false),
    };
    match state
        .submission
        .submit(account_row.clone(), client, outgoing)
        .await
    {
        Ok(queue_id) => {
            tracing::info!(user = %session.address, id = %queue_id, "message sent from the webmail");
        }
        Err(SubmitError::Refused(why)) => {
            return ctx
                .again(shown, format!("Not sent: {why}."), StatusCode::BAD_REQUEST)
                .await;
        }
        Err(SubmitError::Unavailable) => {
            let error =
                "Not sent: the server cannot store messages right now. Try again in a moment."
                    .to_owned();
            return ctx
                .again(shown, error, StatusCode::SERVICE_UNAVAILABLE)
                .await;
        }
    }
    let back = match &source {
        Some((folder, _)) if mode != Mode::Draft => folder.clone(),
        _ => "INBOX".to_owned(),
    };
    let filed = blocking(&state, &session.address, move |store| {
        let sent = special(store, account, SpecialUse::Sent, "Sent")?;
        store.append(sent.id, &kept_copy, &[Flag::Seen], now)?;
        match (mode, source) {
            (Mode::Draft, Some((folder, uid))) => remove(store, account, &folder, uid)?,
            // RFC 9051 §2.3.2 (\Answered) and the $Forwarded keyword of
            // RFC 5550 §5.9: other clients show the source as handled.
            (Mode::Reply | Mode::ReplyAll, Some((folder, uid))) => {
                mark(store, account, &folder, uid, Flag::Answered)?;
            }
            (Mode::Forward, Some((folder, uid))) => {
                mark(
                    store,
                    account,
                    &folder,
                    uid,
                    Flag::Keyword("$Forwarded".into()),
                )?;
            }
            _ => {}
        }
        Ok(())
    })
    .await;
    if let Err(r) = filed {
        // Sent already: the copy is what failed, and the error page says
        // so no better than the log. Tell the user the message left.
        tracing::error!(user = %session.address, "sent, but the copy for the Sent folder could not be stored");
        drop(r);
        return Redirect::to(&format!("{}?notice=sent-nocopy", folder_href(&back))).into_response();
    }
    Redirect::to(&format!("{}?notice=sent", folder_href(&back))).into_response()
}

/// What a re-shown form needs.
struct Ctx<'a> {
    state: &'a AppState,
    session: &'a SessionView,
    /// Read by `Authed` for this request: the From choices.
    account: &'a Account,
    mode: Mode,
    source: Option<(String, Uid)>,
    keep: Vec<String>,
}

impl Ctx<'_> {
    /// The form again, as the user filled it, with what went wrong. Files
    /// chosen in the browser are not sent back (a file input cannot be
    /// filled in by a page): the error says to choose them again.
    async fn again(&self, fields: Fields, error: String, status: StatusCode) -> Response {
        let account = self.session.account;
        let source = self.source.clone();
        let loaded = blocking(self.state, &self.session.address, move |store| {
            let folders = pages::folders(store, account)?;
            let carried = match source {
                Some((folder, uid)) => {
                    let mailbox = open(store, account, &folder)?;
                    let raw = store.read_message(mailbox.id, uid)?;
                    let msg = Message::parse(&raw);
                    body::render(&msg, &super::message_href(&folder, uid.0)).attachments
                }
                None => Vec::new(),
            };
            Ok((folders, carried))
        })
        .await;
        let (folders, carried) = match loaded {
            Ok(l) => l,
            Err(r) => return r,
        };
        let senders = self.state.submission.senders(self.account.clone()).await;
        let page = ComposePage {
            hostname: &self.state.settings.hostname,
            frame: Frame::new(self.session, folders),
            title: title(self.mode),
            senders,
            fields,
            mode: self.mode.as_str(),
            source_folder: self
                .source
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            source_uid: self
                .source
                .as_ref()
                .map(|s| s.1 .0.to_string())
                .unwrap_or_default(),
            carried: carried
                .into_iter()
                .map(|a| Carried {
                    keep: self.keep.contains(&a.part),
                    part: a.part,
                    name: a.name,
                    ctype: a.ctype,
                    size: human_size(a.size),
                })
                .collect(),
            error: Some(error),
            notice: None,
            max_size: human_size(self.state.settings.max_message_size),
        };
        let mut response = render(&page);
        *response.status_mut() = status;
        response
    }
}

/// The message the fields describe, or what to correct.
fn compose(fields: &Fields, uploads: Vec<Attachment>) -> Result<Composed, String> {
    let list = |name: &str, value: &str| -> Result<Vec<Address>, String> {
        parse_addresses(value)
            .map_err(|bad| format!("{name}: \u{201c}{bad}\u{201d} is not an e-mail address."))
    };
    let files_note = if uploads.is_empty() {
        ""
    } else {
        " Choose the files to attach again."
    };
    let with_note = |e: String| format!("{e}{files_note}");
    let from = fields.from.trim();
    if !super::write::is_address(from) {
        return Err(with_note("Choose the address to send from.".into()));
    }
    Ok(Composed {
        from: from.to_owned(),
        to: list("To", &fields.to).map_err(with_note)?,
        cc: list("Cc", &fields.cc).map_err(with_note)?,
        bcc: list("Bcc", &fields.bcc).map_err(with_note)?,
        subject: fields.subject.clone(),
        body: fields.body.clone(),
        in_reply_to: message_ids(&fields.in_reply_to).into_iter().next(),
        references: message_ids(&fields.references),
        attachments: uploads,
    })
}

/// The `<id>` tokens of a Message-ID list (RFC 5322 §3.6.4), as the form
/// carried them: anything else is dropped, so the field cannot carry
/// header syntax.
fn message_ids(s: &str) -> Vec<String> {
    s.split_whitespace()
        .filter(|t| {
            t.len() > 2
                && t.len() <= 998
                && t.starts_with('<')
                && t.ends_with('>')
                && t[1..t.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
        })
        .map(str::to_owned)
        .collect()
}

/// The kept attachments of the source message, read from the store.
async fn read_carried(
    state: &AppState,
    session: &SessionView,
    source: Option<(String, Uid)>,
    keep: Vec<String>,
) -> Result<Vec<Attachment>, Response> {
    let Some((folder, uid)) = source else {
        return Ok(Vec::new());
    };
    if keep.is_empty() {
        return Ok(Vec::new());
    }
    let account = session.account;
    blocking(state, &session.address, move |store| {
        let mailbox = open(store, account, &folder)?;
        let raw = store.read_message(mailbox.id, uid)?;
        let msg = Message::parse(&raw);
        let listed = body::render(&msg, "").attachments;
        let mut out = Vec::new();
        for part in keep {
            let (Some(path), Some(a)) = (parse_part(&part), listed.iter().find(|a| a.part == part))
            else {
                return Err(StoreError::NotFound {
                    what: "an attachment of the message".into(),
                });
            };
            out.push(Attachment {
                filename: a.name.clone(),
                content_type: a.ctype.clone(),
                content: msg.binary(&path).unwrap_or_default(),
            });
        }
        Ok(out)
    })
    .await
}

/// The account's mailbox with this special use (RFC 6154), else the one
/// with the usual name, else a new one with both.
fn special(
    store: &dyn Store,
    account: AccountId,
    usage: SpecialUse,
    name: &str,
) -> StoreResult<Mailbox> {
    let boxes = store.mailboxes(account)?;
    if let Some(m) = boxes.iter().find(|m| m.special_use == Some(usage)) {
        return Ok(m.clone());
    }
    if let Some(m) = boxes.into_iter().find(|m| m.name == name) {
        return Ok(m);
    }
    store.create_mailbox(account, name, Some(usage))
}

/// Expunges one message of the account's folder (the draft that was
/// replaced or sent); already gone is fine.
fn remove(store: &dyn Store, account: AccountId, folder: &str, uid: Uid) -> StoreResult<()> {
    let mailbox = open(store, account, folder)?;
    store.expunge(mailbox.id, &[uid])
}

fn mark(
    store: &dyn Store,
    account: AccountId,
    folder: &str,
    uid: Uid,
    flag: Flag,
) -> StoreResult<()> {
    let mailbox = open(store, account, folder)?;
    if store.message_meta(mailbox.id, uid)?.is_some() {
        store.store_flags(mailbox.id, &[uid], FlagOp::Add, &[flag], None)?;
    }
    Ok(())
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// 16 random octets in hex: Message-IDs and MIME boundaries that no
/// sender can predict or collide with.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the time and a counter are still unique here.
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        return format!("{:x}.{n:x}", time_now());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(raw: &str) -> Source {
        Source {
            folder: "INBOX".into(),
            uid: Uid(3),
            raw: raw.replace('\n', "\r\n").into_bytes(),
        }
    }

    const ORIGINAL: &str = "From: Bob <bob@x.test>\n\
To: alice@example.test, Carol <carol@y.test>\n\
Cc: dave@z.test\n\
Subject: Lunch\n\
Message-ID: <m1@x.test>\n\
References: <m0@x.test>\n\
Date: Mon, 23 Nov 2026 12:00:00 +0000\n\
\n\
Noon?\nOr one.\n";

    #[test]
    fn reply_all_leaves_us_out_and_threads() {
        let ours = vec!["alice@example.test".to_owned()];
        let (f, carried) = prefill(Mode::ReplyAll, &source(ORIGINAL), &ours);
        assert_eq!(f.to, "Bob <bob@x.test>");
        assert_eq!(f.cc, "Carol <carol@y.test>, dave@z.test");
        assert_eq!(f.subject, "Re: Lunch");
        assert_eq!(f.in_reply_to, "<m1@x.test>");
        assert_eq!(f.references, "<m0@x.test> <m1@x.test>");
        assert!(f.body.contains("> Noon?\n> Or one.\n"), "{}", f.body);
        assert!(
            f.body
                .contains("On 2026-11-23 12:00 UTC, Bob <bob@x.test> wrote:"),
            "{}",
            f.body
        );
        let undated = ORIGINAL.replace("Date: Mon, 23 Nov 2026 12:00:00 +0000\n", "");
        let (f, _) = prefill(Mode::Reply, &source(&undated), &ours);
        assert!(
            f.body.starts_with("\n\nBob <bob@x.test> wrote:\n"),
            "{}",
            f.body
        );
        assert!(carried.is_empty());
        let (f, _) = prefill(Mode::Reply, &source(ORIGINAL), &ours);
        assert_eq!(f.cc, "");
        assert_eq!(
            f.from, "alice@example.test",
            "sent to us: replied from there"
        );
    }

    #[test]
    fn forward_keeps_attachments_and_subject_prefixes_once() {
        let raw = "From: bob@x.test\nSubject: Fwd: doc\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee\n\
--b\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment; filename=a.pdf\n\
Content-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n";
        let (f, carried) = prefill(Mode::Forward, &source(raw), &[]);
        assert_eq!(f.subject, "Fwd: doc");
        assert!(f.body.contains("---------- Forwarded message"));
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].name, "a.pdf");
        assert_eq!(carried[0].part, "2");
        assert_eq!(prefixed("Re: ", "RE: x"), "RE: x");
    }

    #[test]
    fn message_ids_carry_no_header_syntax() {
        assert_eq!(
            message_ids("<a@b> junk <c@d>\r\nBcc: x <e f>"),
            ["<a@b>", "<c@d>"]
        );
    }

    #[test]
    fn compose_names_the_bad_address() {
        let fields = Fields {
            from: "alice@example.test".into(),
            to: "bob@x.test, nobody".into(),
            ..Fields::default()
        };
        let err = compose(&fields, Vec::new()).unwrap_err();
        assert!(err.contains("nobody"), "{err}");
        let fields = Fields {
            from: "alice@example.test".into(),
            to: "bob@x.test".into(),
            ..Fields::default()
        };
        assert_eq!(
            compose(&fields, Vec::new()).unwrap().recipients(),
            ["bob@x.test"]
        );
    }
}
