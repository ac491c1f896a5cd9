//! Invitations by mail (iMIP, RFC 6047): the invitation shown with a
//! message, its answer, and the messages an organizer's changes send.
//!
//! - [`organizer_changed`]: the web calendar's hook after a save or a
//!   delete: REQUEST and CANCEL messages to the attendees.
//! - [`on_open`]: the invitation box of a message page. A REPLY is
//!   applied to the organizer's event when they open it.
//! - `POST /mail/{folder}/{uid}/invitation`: the attendee's answer
//!   (accept, tentative, decline: the event into their calendar and a
//!   REPLY to the organizer) or "remove" for a CANCEL.
//!
//! Every message leaves through the server's submission path (the same
//! sender check, queue and local delivery as SMTP clients on 587). Only
//! the message's own text/calendar part is read (not one inside a
//! forwarded message), and only when the user opens or answers it.

use axum::extract::{DefaultBodyLimit, Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use postern_dav::ical;
use postern_dav::imip::{self, Method, PartStat, Scheduling};
use postern_message::{Body, Message};
use postern_store::{
    Account, AccountId, Calendar, CalendarObject, ComponentKind, NewCalendarObject, Precondition,
    Store, StoreError, StoreResult, Uid,
};
use serde::Deserialize;

use super::read::parse_uid;
use super::write::{is_address, quoted_printable, Address, Composed};
use super::{addresses, blocking, format_time, message_href, open};
use crate::pages;
use crate::security::refuse;
use crate::session::{Authed, SessionView};
use crate::settings::{Outgoing, SubmitError};
use crate::{AppState, Client};

/// The answer form is two short fields.
const FORM_LIMIT: usize = 4 * 1024;

/// The invitation answers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mail/{folder}/{uid}/invitation", post(answer))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
}

/// Sends the iMIP messages an organizer's change to an event calls for
/// (RFC 5546 §3.2: REQUEST to the attendees of a new or changed event,
/// CANCEL to those removed or when it is deleted). `before` and `after`
/// are the stored iCalendar objects (`None` when created or deleted).
/// `Ok` is the number of messages sent; `Err` a sentence for the page.
pub async fn organizer_changed(
    state: &AppState,
    account: &Account,
    client: &Client,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<usize, String> {
    let own = state.submission.senders(account.clone()).await;
    let planned = imip::plan(
        before.map(str::as_bytes),
        after.map(str::as_bytes),
        &own,
        now(),
    )
    .map_err(|e| format!("No invitations were sent: {e}."))?;
    let mut sent = 0;
    let mut failed = Vec::new();
    for out in planned {
        let Ok(event) = imip::read(out.ical.as_bytes()) else {
            continue;
        };
        let mail = Mail {
            from: &event.organizer.address,
            to: &out.recipients,
            ical: &out.ical,
            event: &event,
            answer: None,
        };
        match send(state, account, client, &mail).await {
            Ok(()) => sent += 1,
            Err(why) => failed.push(why),
        }
    }
    match failed.first() {
        None => Ok(sent),
        Some(why) => Err(format!(
            "The event is saved, but {} invitation message(s) were not sent: {why}",
            failed.len()
        )),
    }
}

/// The invitation box on a message page.
pub struct InvitationBox {
    /// "Invitation", "Answer", "Cancellation".
    pub title: &'static str,
    pub summary: String,
    pub when: String,
    pub location: String,
    pub organizer: String,
    /// Each attendee as shown, with their answer in words.
    pub attendees: Vec<(String, &'static str)>,
    /// What the calendar holds or what was done.
    pub status: Option<String>,
    /// Why nothing can be done.
    pub problem: Option<String>,
    /// Accept / Tentative / Decline.
    pub answers: bool,
    /// Remove from my calendar.
    pub remove: bool,
    /// The answer form's target.
    pub action: String,
}

/// The invitation box for a message being opened, if it carries a
/// scheduling message; a REPLY is applied to the organizer's event now
/// (RFC 6047 §3: the organizer's side processes it). A calendar part
/// that does not read as one shows no box.
pub(crate) async fn on_open(
    state: &AppState,
    session: &SessionView,
    account_row: &Account,
    folder: &str,
    uid: Uid,
    raw: &[u8],
) -> Option<InvitationBox> {
    let msg = Message::parse(raw);
    let part = calendar_part(&msg)?;
    let event = match read_part(&part) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(user = %session.address, error = %e, "a calendar part that is no scheduling message");
            return None;
        }
    };
    let own = own_addresses(state, session, account_row).await;
    let sender = only_sender(&msg);
    let (account, ev, data) = (session.account, event.clone(), part.data);
    let looked = blocking(state, &session.address, move |store| {
        Ok(look(store, account, &own, &ev, &data, sender.as_deref()))
    })
    .await
    .unwrap_or_else(|_| Looked::problem("Your calendar cannot be read right now."));
    Some(InvitationBox {
        title: match event.method {
            Method::Request => "Invitation",
            Method::Reply => "Answer",
            Method::Cancel => "Cancellation",
        },
        summary: event.summary.clone().unwrap_or_else(|| "(no title)".into()),
        when: when(&event),
        location: event.location.clone().unwrap_or_default(),
        organizer: event.organizer.display(),
        attendees: event
            .attendees
            .iter()
            .map(|a| {
                let said = match &looked.mine {
                    Some((me, held)) if me.eq_ignore_ascii_case(&a.address) => *held,
                    _ => a.partstat,
                };
                (a.display(), said.label())
            })
            .collect(),
        status: looked.status,
        problem: looked.problem,
        answers: looked.answers,
        remove: looked.remove,
        action: format!("{}/invitation", message_href(folder, uid.0)),
    })
}

/// What the box says and offers.
#[derive(Default)]
struct Looked {
    status: Option<String>,
    problem: Option<String>,
    answers: bool,
    remove: bool,
    /// The user's own answer as their calendar holds it, shown in place
    /// of the one the invitation carries.
    mine: Option<(String, PartStat)>,
}

impl Looked {
    fn problem(text: &str) -> Self {
        Self {
            problem: Some(text.to_owned()),
            ..Self::default()
        }
    }

    fn status(text: String) -> Self {
        Self {
            status: Some(text),
            ..Self::default()
        }
    }
}

/// The box's state from the user's calendars (blocking).
fn look(
    store: &dyn Store,
    account: AccountId,
    own: &[String],
    event: &Scheduling,
    part: &[u8],
    sender: Option<&str>,
) -> Looked {
    let found = match find_event(store, account, &event.uid) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the calendars for an invitation; check the store");
            return Looked::problem("Your calendar cannot be read right now.");
        }
    };
    match event.method {
        Method::Request => look_request(own, event, found.as_ref()),
        Method::Cancel => look_cancel(event, found.as_ref()),
        Method::Reply => match sender {
            Some(sender) => apply_reply(store, own, part, sender, found),
            None => {
                Looked::problem("The answer has no single sender address, so it is not applied.")
            }
        },
    }
}

fn look_request(
    own: &[String],
    event: &Scheduling,
    found: Option<&(Calendar, CalendarObject)>,
) -> Looked {
    if is_own(own, &event.organizer.address) {
        return Looked::status("You organize this event; your attendees answer it.".into());
    }
    let Some(me) = own.iter().find_map(|a| event.attendee(a)) else {
        return Looked::problem("You are not among the attendees of this invitation.");
    };
    let Some((_, obj)) = found else {
        return Looked {
            answers: true,
            ..Looked::default()
        };
    };
    if let Err(e) = imip::may_replace(&obj.data, event) {
        return Looked::problem(&refusal(&e));
    }
    let Ok(stored) = imip::read_stored(&obj.data) else {
        return Looked::problem("The event of this UID in your calendar cannot be read.");
    };
    let held = stored
        .attendees
        .iter()
        .find(|a| a.address.eq_ignore_ascii_case(&me.address))
        .map_or(PartStat::NeedsAction, |a| a.partstat);
    // RFC 5546 §2.1.5: a higher SEQUENCE is a new revision the calendar
    // does not have yet; the answer given was to the older one.
    let status = match event.sequence > stored.sequence {
        true => format!(
            "This updates the event in your calendar (you {} the earlier version); answer to take the update.",
            held.label()
        ),
        false => format!("In your calendar: you {}.", held.label()),
    };
    Looked {
        status: Some(status),
        answers: true,
        mine: (event.sequence <= stored.sequence).then(|| (me.address.clone(), held)),
        ..Looked::default()
    }
}

fn look_cancel(event: &Scheduling, found: Option<&(Calendar, CalendarObject)>) -> Looked {
    let Some((_, obj)) = found else {
        return Looked::status("This event is not in your calendar.".into());
    };
    if let Err(e) = imip::may_replace(&obj.data, event) {
        return Looked::problem(&refusal(&e));
    }
    if event.one_occurrence {
        return Looked::problem(
            "This cancels one occurrence only; remove it from the event in your calendar.",
        );
    }
    Looked {
        status: Some("This event is in your calendar.".into()),
        remove: true,
        ..Looked::default()
    }
}

/// Applies an attendee's REPLY to the user's own event: only the
/// PARTSTAT of the attendee who sent the message (its From: address),
/// only on an event the user organizes, with the ETag read as the
/// write's precondition (a client's change meanwhile wins; the next
/// opening applies the answer again).
fn apply_reply(
    store: &dyn Store,
    own: &[String],
    part: &[u8],
    sender: &str,
    found: Option<(Calendar, CalendarObject)>,
) -> Looked {
    let Some((cal, obj)) = found else {
        return Looked::status("This event is not in your calendar.".into());
    };
    let ours = imip::read_stored(&obj.data)
        .ok()
        .and_then(|s| s.organizer)
        .is_some_and(|o| is_own(own, &o.address));
    if !ours {
        return Looked::problem(
            "This answers an event you do not organize; your calendar is unchanged.",
        );
    }
    let applied = match imip::apply_reply(&obj.data, part, sender) {
        Ok(a) => a,
        Err(e) => return Looked::problem(&format!("Not applied to your calendar: {e}.")),
    };
    let said = format!("{sender} {}", applied.partstat.label());
    let Some(data) = applied.data else {
        return Looked::status(format!("Your calendar shows this answer: {said}."));
    };
    match put(
        store,
        &cal,
        &obj.meta.name,
        &data,
        Precondition::EtagMatches(obj.meta.etag.clone()),
    ) {
        Ok(()) => Looked::status(format!("Your calendar was updated: {said}.")),
        Err(e) => {
            tracing::warn!(error = %e, "an answer to an invitation was not stored");
            Looked::problem("Your calendar changed meanwhile or could not be written; open the message again to apply the answer.")
        }
    }
}

/// The answer form.
#[derive(Debug, Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
}

/// `POST /mail/{folder}/{uid}/invitation`.
async fn answer(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account_row): Extension<Account>,
    Extension(client): Extension<Client>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    Form(form): Form<AnswerForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let Some((folder, uid)) = path.ok().and_then(|Path((n, u))| Some((n, parse_uid(&u)?))) else {
        return pages::not_found().await;
    };
    let choice = match form.answer.as_str() {
        "remove" => None,
        other => match PartStat::answer(other) {
            Some(p) => Some(p),
            None => return refuse(StatusCode::BAD_REQUEST, "unknown answer\n"),
        },
    };
    let account = session.account;
    let f = folder.clone();
    let raw = blocking(&state, &session.address, move |store| {
        let mailbox = open(store, account, &f)?;
        store.read_message(mailbox.id, uid)
    })
    .await;
    let raw = match raw {
        Ok(r) => r,
        Err(r) => return r,
    };
    let msg = Message::parse(&raw);
    let Some(part) = calendar_part(&msg) else {
        return bad(&state, "This message holds no invitation to answer.");
    };
    let event = match read_part(&part) {
        Ok(e) => e,
        Err(e) => return bad(&state, &refusal(&e)),
    };
    let done = match choice {
        Some(partstat) => {
            accept(
                &state,
                &session,
                &account_row,
                &client,
                &part.data,
                &event,
                partstat,
            )
            .await
        }
        None => remove(&state, &session, &event).await,
    };
    match done {
        Ok(()) => Redirect::to(&message_href(&folder, uid.0)).into_response(),
        Err(r) => r,
    }
}

/// The attendee's answer: the event with it into their calendar, then a
/// REPLY to the organizer (RFC 5546 §3.2.3).
async fn accept(
    state: &AppState,
    session: &SessionView,
    account_row: &Account,
    client: &Client,
    part: &[u8],
    event: &Scheduling,
    partstat: PartStat,
) -> Result<(), Response> {
    if event.method != Method::Request {
        return Err(bad(
            state,
            "Only an invitation (METHOD:REQUEST) can be answered.",
        ));
    }
    let own = own_addresses(state, session, account_row).await;
    if is_own(&own, &event.organizer.address) {
        return Err(bad(
            state,
            "You organize this event; your attendees answer it.",
        ));
    }
    let Some(me) = own
        .iter()
        .find_map(|a| event.attendee(a))
        .map(|a| a.address.clone())
    else {
        return Err(bad(
            state,
            "You are not among the attendees of this invitation.",
        ));
    };
    let copy = imip::attendee_copy(part, &me, partstat).map_err(|e| bad(state, &refusal(&e)))?;
    let analyzed = ical::analyze(copy.as_bytes()).map_err(|e| {
        bad(
            state,
            &format!("The invitation's event cannot be stored: {e}."),
        )
    })?;
    let (account, ev) = (session.account, event.clone());
    let stored = blocking(state, &session.address, move |store| {
        store_copy(store, account, &ev, &copy, &analyzed)
    })
    .await?;
    if let Err(why) = stored {
        return Err(pages::message(
            state,
            StatusCode::CONFLICT,
            "Invitation",
            &why,
        ));
    }
    let ical = imip::reply(part, &me, partstat, now()).map_err(|e| bad(state, &refusal(&e)))?;
    let reply = imip::read(ical.as_bytes()).map_err(|e| bad(state, &refusal(&e)))?;
    let to = [event.organizer.address.clone()];
    let mail = Mail {
        from: &me,
        to: &to,
        ical: &ical,
        event: &reply,
        answer: Some(partstat),
    };
    send(state, account_row, client, &mail).await.map_err(|why| {
        pages::message(
            state,
            StatusCode::BAD_GATEWAY,
            "Answer not sent",
            &format!("The event is in your calendar, but the answer to the organizer was not sent: {why}"),
        )
    })
}

/// Stores the attendee's copy: over the event of the same UID if there
/// is one (not an older revision, the same organizer), else as a new
/// event of the default calendar. `Ok(Err)` is a sentence for the user.
fn store_copy(
    store: &dyn Store,
    account: AccountId,
    event: &Scheduling,
    copy: &str,
    analyzed: &ical::Analyzed,
) -> StoreResult<Result<(), String>> {
    if let Some((cal, obj)) = find_event(store, account, &event.uid)? {
        if let Err(e) = imip::may_replace(&obj.data, event) {
            return Ok(Err(refusal(&e)));
        }
        // An update of single occurrences joins the series already held
        // instead of replacing it.
        let data = match event.one_occurrence {
            true => match imip::merge_occurrences(&obj.data, copy) {
                Ok(d) => d,
                Err(e) => return Ok(Err(refusal(&e))),
            },
            false => copy.to_owned(),
        };
        let pre = Precondition::EtagMatches(obj.meta.etag.clone());
        return match put(store, &cal, &obj.meta.name, &data, pre) {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::PreconditionFailed { .. }) => Ok(Err(CHANGED.into())),
            Err(StoreError::Invalid { why, .. }) => Ok(Err(format!(
                "The invitation's event cannot be stored: {why}."
            ))),
            Err(e) => Err(e),
        };
    }
    let cal = default_calendar(store, account, kind(analyzed.component))?;
    let name = object_name(&event.uid);
    match store.put_calendar_object(
        cal.id,
        &object(&name, analyzed, copy),
        Precondition::MustNotExist,
    ) {
        Ok(_) => Ok(Ok(())),
        Err(StoreError::PreconditionFailed { .. } | StoreError::UidConflict { .. }) => {
            Ok(Err(CHANGED.into()))
        }
        Err(e) => Err(e),
    }
}

const CHANGED: &str = "Your calendar changed meanwhile; go back to the message and answer again.";

/// "Remove from my calendar" for a CANCEL of the whole event: only an
/// event of the same organizer, not of a later revision.
async fn remove(
    state: &AppState,
    session: &SessionView,
    event: &Scheduling,
) -> Result<(), Response> {
    if event.method != Method::Cancel || event.one_occurrence {
        return Err(bad(
            state,
            "Only the cancellation of a whole event removes it.",
        ));
    }
    let (account, ev) = (session.account, event.clone());
    let removed = blocking(state, &session.address, move |store| {
        let Some((cal, obj)) = find_event(store, account, &ev.uid)? else {
            return Ok(Ok(()));
        };
        if let Err(e) = imip::may_replace(&obj.data, &ev) {
            return Ok(Err(refusal(&e)));
        }
        let pre = Precondition::EtagMatches(obj.meta.etag.clone());
        match store.delete_calendar_object(cal.id, &obj.meta.name, pre) {
            Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Ok(())),
            Err(StoreError::PreconditionFailed { .. }) => Ok(Err(CHANGED.into())),
            Err(e) => Err(e),
        }
    })
    .await?;
    removed.map_err(|why| pages::message(state, StatusCode::CONFLICT, "Invitation", &why))
}

// --- the mail ---

/// An iTIP message to send.
struct Mail<'a> {
    from: &'a str,
    to: &'a [String],
    ical: &'a str,
    /// The iTIP object, read (for the subject and the summary text).
    event: &'a Scheduling,
    /// For a REPLY: the answer.
    answer: Option<PartStat>,
}

impl Mail<'_> {
    fn subject(&self) -> String {
        let what = self.event.summary.as_deref().unwrap_or("(no title)");
        let prefix = match (self.event.method, self.answer) {
            (Method::Request, _) => "Invitation",
            (Method::Cancel, _) => "Cancelled",
            (Method::Reply, Some(PartStat::Accepted)) => "Accepted",
            (Method::Reply, Some(PartStat::Tentative)) => "Tentative",
            (Method::Reply, Some(PartStat::Declined)) => "Declined",
            (Method::Reply, _) => "Answer",
        };
        format!("{prefix}: {what}")
    }

    /// The text/plain alternative: who, what, when, where.
    fn text(&self) -> String {
        let e = self.event;
        let lead = match (e.method, self.answer) {
            (Method::Request, _) => format!("{} invites you to an event.", e.organizer.display()),
            (Method::Cancel, _) => format!("{} cancelled this event.", e.organizer.display()),
            (Method::Reply, a) => format!(
                "{} {} your invitation.",
                self.from,
                a.unwrap_or(PartStat::NeedsAction).label()
            ),
        };
        let mut out = format!(
            "{lead}\n\nWhat:  {}\nWhen:  {}\n",
            e.summary.as_deref().unwrap_or("(no title)"),
            when(e)
        );
        if let Some(l) = e.location.as_deref().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("Where: {l}\n"));
        }
        out.push_str(&format!("Organizer: {}\n", e.organizer.display()));
        for a in &e.attendees {
            out.push_str(&format!(
                "Attendee:  {} ({})\n",
                a.display(),
                a.partstat.label()
            ));
        }
        if let Some(d) = e.description.as_deref().filter(|d| !d.trim().is_empty()) {
            out.push_str(&format!("\n{d}\n"));
        }
        if e.method == Method::Request {
            out.push_str("\nAnswer from your calendar program or webmail: the invitation is attached as text/calendar.\n");
        }
        out
    }

    /// The message (RFC 6047 §2.4): multipart/alternative of the text
    /// and the iTIP object as `text/calendar; method=...`. No second
    /// copy as an application/ics attachment: RFC 6047 needs only the
    /// text/calendar part, and clients that see both offer the same
    /// invitation twice.
    fn write(&self, date: i64, message_id: &str, boundary: &str) -> Vec<u8> {
        let composed = Composed {
            from: self.from.to_owned(),
            to: self
                .to
                .iter()
                .map(|a| Address {
                    name: String::new(),
                    address: a.clone(),
                })
                .collect(),
            subject: self.subject(),
            body: self.text(),
            ..Composed::default()
        };
        // The writer's single-part message: its header, then the text
        // part's own Content-Type and the text; the text part becomes
        // the first alternative.
        let single = composed.write(date, message_id, boundary, false);
        let at = find(&single, b"\r\nContent-Type: text/plain").map_or(single.len(), |i| i + 2);
        let (head, text) = single.split_at(at);
        let mut out = head.to_vec();
        out.extend_from_slice(
            format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n").as_bytes(),
        );
        out.extend_from_slice(text);
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        calendar_entity(&mut out, self.event.method, self.ical);
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }
}

/// The text/calendar part: 7bit when the object is ASCII (its lines are
/// folded at 75 octets), quoted-printable otherwise.
fn calendar_entity(out: &mut Vec<u8>, method: Method, ical: &str) {
    let head = format!(
        "Content-Type: text/calendar; charset=UTF-8; method={}\r\n",
        method.as_str()
    );
    out.extend_from_slice(head.as_bytes());
    let seven_bit = ical.is_ascii() && ical.split("\r\n").all(|l| l.len() <= 76);
    if seven_bit {
        out.extend_from_slice(b"Content-Transfer-Encoding: 7bit\r\n\r\n");
        out.extend_from_slice(ical.as_bytes());
    } else {
        out.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        out.extend_from_slice(quoted_printable(ical).as_bytes());
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends through submission; `Err` is a sentence for a page.
async fn send(
    state: &AppState,
    account: &Account,
    client: &Client,
    mail: &Mail<'_>,
) -> Result<(), String> {
    if !is_address(mail.from) || mail.to.iter().any(|a| !is_address(a)) {
        return Err("an address of the event is not a mail address.".into());
    }
    let id = format!("<{}@{}>", random_hex(), state.settings.hostname);
    let raw = mail.write(now(), &id, &format!("=_{}", random_hex()));
    let outgoing = Outgoing {
        mail_from: mail.from.to_owned(),
        recipients: mail.to.to_vec(),
        raw,
    };
    match state
        .submission
        .submit(account.clone(), client.clone(), outgoing)
        .await
    {
        Ok(queue_id) => {
            tracing::info!(user = %account.address, id = %queue_id, method = mail.event.method.as_str(), "iMIP message sent");
            Ok(())
        }
        Err(SubmitError::Refused(why)) => Err(format!("{why}.")),
        Err(SubmitError::Unavailable) => {
            Err("the server cannot store messages right now; try again in a moment.".into())
        }
    }
}

// --- helpers ---

/// The message's own text/calendar part (not one inside an attached
/// message), decoded, with its `method` parameter.
pub(crate) struct CalendarPart {
    data: Vec<u8>,
    method: Option<String>,
}

pub(crate) fn calendar_part(msg: &Message<'_>) -> Option<CalendarPart> {
    let body = msg.body();
    let (path, method) = find_calendar(&body, &mut Vec::new())?;
    let path = if path.is_empty() { vec![1] } else { path };
    Some(CalendarPart {
        data: msg.binary(&path)?,
        method,
    })
}

fn find_calendar(b: &Body, at: &mut Vec<u32>) -> Option<(Vec<u32>, Option<String>)> {
    match b {
        Body::Single(s) => {
            let is =
                s.ctype.eq_ignore_ascii_case("text") && s.subtype.eq_ignore_ascii_case("calendar");
            let method = s
                .params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("method"))
                .map(|(_, v)| v.clone());
            is.then(|| (at.clone(), method))
        }
        Body::Multi { parts, .. } => parts.iter().zip(1u32..).find_map(|(p, n)| {
            at.push(n);
            let found = find_calendar(p, at);
            at.pop();
            found
        }),
    }
}

/// The part read; its Content-Type `method` must be the object's METHOD
/// (RFC 6047 §2.4).
fn read_part(part: &CalendarPart) -> Result<Scheduling, imip::ImipError> {
    let event = imip::read(&part.data)?;
    match &part.method {
        Some(m) if !m.eq_ignore_ascii_case(event.method.as_str()) => {
            Err(imip::ImipError::WrongMethod {
                expected: Some(event.method),
                found: Some(m.clone()),
            })
        }
        _ => Ok(event),
    }
}

/// The From: address, if there is exactly one.
fn only_sender(msg: &Message<'_>) -> Option<String> {
    let from = addresses(msg, "From");
    match from.as_slice() {
        [(_, address)] if is_address(address) => Some(address.clone()),
        _ => None,
    }
}

/// The user's addresses: their own and their aliases.
async fn own_addresses(state: &AppState, session: &SessionView, account: &Account) -> Vec<String> {
    let mut own = state.submission.senders(account.clone()).await;
    if own.is_empty() {
        own.push(session.address.clone());
    }
    own
}

fn is_own(own: &[String], address: &str) -> bool {
    own.iter().any(|a| a.eq_ignore_ascii_case(address))
}

/// The account's event with this UID, in any of its calendars.
fn find_event(
    store: &dyn Store,
    account: AccountId,
    uid: &str,
) -> StoreResult<Option<(Calendar, CalendarObject)>> {
    for cal in store.calendars(account)? {
        let Some(meta) = store
            .calendar_objects(cal.id)?
            .into_iter()
            .find(|m| m.uid == uid)
        else {
            continue;
        };
        if let Some(obj) = store.calendar_object(cal.id, &meta.name)? {
            return Ok(Some((cal, obj)));
        }
    }
    Ok(None)
}

/// The calendar a new invitation goes to: `default` (the one CalDAV
/// creates first), else the first that holds this kind, else a new
/// `default`.
fn default_calendar(
    store: &dyn Store,
    account: AccountId,
    kind: ComponentKind,
) -> StoreResult<Calendar> {
    let holds = |c: &Calendar| c.components.is_empty() || c.components.contains(&kind);
    let cals = store.calendars(account)?;
    let found = cals
        .iter()
        .find(|c| c.name == "default" && holds(c))
        .or_else(|| cals.iter().find(|c| holds(c)));
    if let Some(c) = found {
        return Ok(c.clone());
    }
    match store.create_calendar(account, "default", "Calendar", &[]) {
        Ok(c) => Ok(c),
        // Made meanwhile by another request.
        Err(StoreError::AlreadyExists { .. }) => {
            store
                .calendar(account, "default")?
                .ok_or_else(|| StoreError::NotFound {
                    what: "the default calendar".into(),
                })
        }
        Err(e) => Err(e),
    }
}

/// `UID.ics` when the UID makes a resource name, else a random one.
fn object_name(uid: &str) -> String {
    let name = format!("{uid}.ics");
    match postern_store::names::calendar_object_name(&name) {
        Ok(n) => n,
        Err(_) => format!("{}.ics", random_hex()),
    }
}

fn put(
    store: &dyn Store,
    cal: &Calendar,
    name: &str,
    data: &str,
    pre: Precondition,
) -> StoreResult<()> {
    let analyzed = ical::analyze(data.as_bytes()).map_err(|e| StoreError::Invalid {
        what: format!("calendar object {name}"),
        why: e.to_string(),
    })?;
    store
        .put_calendar_object(cal.id, &object(name, &analyzed, data), pre)
        .map(drop)
}

fn object<'a>(name: &'a str, analyzed: &'a ical::Analyzed, data: &'a str) -> NewCalendarObject<'a> {
    NewCalendarObject {
        name,
        uid: &analyzed.uid,
        component: kind(analyzed.component),
        data: data.as_bytes(),
        first_start: analyzed.first_start,
        last_end: analyzed.last_end,
    }
}

const fn kind(c: ical::Component) -> ComponentKind {
    match c {
        ical::Component::Event => ComponentKind::Event,
        ical::Component::Todo => ComponentKind::Todo,
    }
}

/// A refusal in words for a page.
fn refusal(e: &imip::ImipError) -> String {
    match e {
        imip::ImipError::Outdated { .. } => {
            "Your calendar holds a newer version of this event; this message is out of date.".into()
        }
        imip::ImipError::OtherOrganizer => {
            "Your calendar holds an event with this identifier from another organizer; this message cannot change it.".into()
        }
        e => format!("This invitation cannot be used: {e}."),
    }
}

/// When, in UTC as the webmail shows times: `2026-12-01 10:00 – 11:00
/// UTC`, a day alone for an all-day event.
fn when(e: &Scheduling) -> String {
    let Some(start) = e.start else {
        return "(no time given)".into();
    };
    let mut out = if e.all_day {
        let day = |t: i64| format_time(t)[..10].to_owned();
        match e.end.filter(|&end| end - start > 86_400) {
            Some(end) => format!("{} – {} (all day)", day(start), day(end - 86_400)),
            None => format!("{} (all day)", day(start)),
        }
    } else {
        let (s, end) = (format_time(start), e.end.map(format_time));
        match end {
            Some(end) if end[..10] == s[..10] => format!("{s} – {} UTC", &end[11..]),
            Some(end) if end != s => format!("{s} – {end} UTC"),
            _ => format!("{s} UTC"),
        }
    };
    if e.recurring {
        out.push_str(", repeating");
    }
    out
}

fn bad(state: &AppState, text: &str) -> Response {
    pages::message(state, StatusCode::BAD_REQUEST, "Invitation", text)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// 16 random octets in hex, for Message-IDs and boundaries no sender
/// can predict.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        return format!("{:x}.{:x}", now(), N.fetch_add(1, Ordering::Relaxed));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:u1\r\n\
DTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nSUMMARY:Caf\u{e9} planning\r\n\
LOCATION:Room 4\r\nORGANIZER;CN=Alice:mailto:alice@example.test\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn written(ical: &str) -> Vec<u8> {
        let event = imip::read(ical.as_bytes()).unwrap();
        let to = ["bob@example.test".to_owned()];
        let mail = Mail {
            from: "alice@example.test",
            to: &to,
            ical,
            event: &event,
            answer: None,
        };
        mail.write(1_795_000_000, "<id@example.test>", "=_b")
    }

    #[test]
    fn the_mail_is_an_alternative_of_text_and_the_calendar_part() {
        let raw = written(REQUEST);
        let msg = Message::parse(&raw);
        let Body::Multi { parts, subtype, .. } = msg.body() else {
            panic!("not multipart: {}", String::from_utf8_lossy(&raw));
        };
        assert!(subtype.eq_ignore_ascii_case("alternative"));
        assert_eq!(parts.len(), 2);
        let text = msg.main_text().unwrap();
        assert!(
            text.contains("Alice <alice@example.test> invites you"),
            "{text}"
        );
        assert!(
            text.contains("When:  2026-12-01 10:00 – 11:00 UTC"),
            "{text}"
        );
        assert!(text.contains("Where: Room 4"), "{text}");
        assert_eq!(msg.header_text("Subject"), ["Invitation: Café planning"]);
        let part = calendar_part(&msg).unwrap();
        assert_eq!(part.method.as_deref(), Some("REQUEST"));
        // Non-ASCII text travels quoted-printable and decodes as sent.
        assert_eq!(String::from_utf8(part.data.clone()).unwrap(), REQUEST);
        assert_eq!(read_part(&part).unwrap().method, Method::Request);
        let head = String::from_utf8_lossy(&raw);
        assert!(
            head.contains("Content-Type: text/calendar; charset=UTF-8; method=REQUEST\r\n"),
            "{head}"
        );
    }

    #[test]
    fn a_calendar_part_inside_a_forwarded_message_is_not_ours() {
        let raw = format!(
            "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nFYI\r\n\
--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\
Content-Type: text/calendar; method=REQUEST\r\n\r\n{REQUEST}\r\n--o--\r\n"
        );
        assert!(calendar_part(&Message::parse(raw.as_bytes())).is_none());
        // A message that is the calendar part alone is read.
        let single = format!("Content-Type: text/calendar; method=REQUEST\r\n\r\n{REQUEST}");
        let part = calendar_part(&Message::parse(single.as_bytes())).unwrap();
        assert!(read_part(&part).is_ok());
    }

    #[test]
    fn the_method_parameter_must_match_the_object() {
        let part = CalendarPart {
            data: REQUEST.as_bytes().to_vec(),
            method: Some("CANCEL".into()),
        };
        assert!(read_part(&part).is_err());
    }

    #[test]
    fn times_read_as_the_webmail_shows_them() {
        let mut e = imip::read(REQUEST.as_bytes()).unwrap();
        assert_eq!(when(&e), "2026-12-01 10:00 – 11:00 UTC");
        e.end = Some(e.start.unwrap() + 86_400);
        assert_eq!(when(&e), "2026-12-01 10:00 – 2026-12-02 10:00 UTC");
        e.all_day = true;
        e.start = Some(1_796_083_200);
        e.end = Some(1_796_083_200 + 3 * 86_400);
        e.recurring = true;
        assert_eq!(when(&e), "2026-12-01 – 2026-12-03 (all day), repeating");
        e.start = None;
        assert_eq!(when(&e), "(no time given)");
    }

    #[test]
    fn object_names_come_from_safe_uids_only() {
        assert_eq!(
            object_name("planning-1@example.test"),
            "planning-1@example.test.ics"
        );
        let odd = object_name("a/b c");
        assert!(
            odd.ends_with(".ics") && !odd.contains('/') && odd.len() == 36,
            "{odd}"
        );
    }
}
