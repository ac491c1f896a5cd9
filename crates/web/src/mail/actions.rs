//! `POST /mail/{folder}/{uid}`: mark read or unread, flag or unflag,
//! move, delete. Each form carries the session's CSRF token; the answer
//! is a 303 to the page to show next (RFC 9110 §15.4.4: the browser
//! follows with a GET, so a reload does not repeat the action).
//!
//! Each action is one store call, which broadcasts its change after the
//! commit: IMAP sessions (IDLE included) see it as they see another IMAP
//! client's.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use postern_store::{
    AccountId, Flag, FlagOp, Mailbox, SpecialUse, Store, StoreError, StoreResult, Uid,
};
use serde::Deserialize;

use super::read::parse_uid;
use super::{blocking, folder_href, message_href, open};
use crate::pages;
use crate::security::refuse;
use crate::session::Authed;
use crate::AppState;

/// The action form. Missing fields are empty, and refused.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    /// The folder to move to.
    #[serde(default)]
    to: String,
}

/// What a form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Flags(FlagOp, Flag),
    Move(String),
    Delete,
}

impl Action {
    fn parse(form: &ActionForm) -> Option<Self> {
        Some(match form.action.as_str() {
            "read" => Self::Flags(FlagOp::Add, Flag::Seen),
            "unread" => Self::Flags(FlagOp::Remove, Flag::Seen),
            "flag" => Self::Flags(FlagOp::Add, Flag::Flagged),
            "unflag" => Self::Flags(FlagOp::Remove, Flag::Flagged),
            "move" if !form.to.is_empty() => Self::Move(form.to.clone()),
            "delete" => Self::Delete,
            _ => return None,
        })
    }

    /// Where the browser goes next: back to the message while it is
    /// still there and still meant to be read; to its folder otherwise
    /// (showing the message again after "unread" would mark it read).
    fn next(&self, folder: &str, uid: Uid) -> String {
        match self {
            Self::Flags(FlagOp::Remove, Flag::Seen) | Self::Move(_) | Self::Delete => {
                folder_href(folder)
            }
            Self::Flags(..) => message_href(folder, uid.0),
        }
    }
}

/// `POST /mail/{folder}/{uid}`.
pub async fn act(
    State(state): State<AppState>,
    Authed(session): Authed,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let Some((name, uid)) = path.ok().and_then(|Path((n, u))| Some((n, parse_uid(&u)?))) else {
        return pages::not_found().await;
    };
    let Some(action) = Action::parse(&form) else {
        return refuse(StatusCode::BAD_REQUEST, "unknown action\n");
    };
    let next = action.next(&name, uid);
    let account = session.account;
    let done = blocking(&state, &session.address, move |store| {
        apply(store, account, &name, uid, &action)
    })
    .await;
    match done {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(r) => r,
    }
}

fn apply(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    uid: Uid,
    action: &Action,
) -> StoreResult<()> {
    let from = open(store, account, name)?;
    if store.message_meta(from.id, uid)?.is_none() {
        return Err(StoreError::NotFound {
            what: "the message".into(),
        });
    }
    match action {
        Action::Flags(op, flag) => {
            store.store_flags(from.id, &[uid], *op, std::slice::from_ref(flag), None)?;
        }
        Action::Move(to) => {
            let to = open(store, account, to)?;
            if to.id != from.id {
                store.move_messages(from.id, &[uid], to.id)?;
            }
        }
        Action::Delete => delete(store, account, &from, uid)?,
    }
    Ok(())
}

/// Delete is a move to the Trash folder (RFC 6154 `\Trash`); in the Trash
/// itself it is final: `\Deleted` and expunge, as an IMAP client does.
/// An account without a Trash folder gets one.
fn delete(store: &dyn Store, account: AccountId, from: &Mailbox, uid: Uid) -> StoreResult<()> {
    if from.special_use == Some(SpecialUse::Trash) {
        let deleted = [Flag::Deleted];
        store.store_flags(from.id, &[uid], FlagOp::Add, &deleted, None)?;
        return store.expunge(from.id, &[uid]);
    }
    let boxes = store.mailboxes(account)?;
    let trash = boxes
        .iter()
        .find(|m| m.special_use == Some(SpecialUse::Trash))
        .or_else(|| boxes.iter().find(|m| m.name == "Trash"))
        .cloned();
    let trash = match trash {
        Some(t) => t,
        None => store.create_mailbox(account, "Trash", Some(SpecialUse::Trash))?,
    };
    store.move_messages(from.id, &[uid], trash.id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str, to: &str) -> ActionForm {
        ActionForm {
            csrf: String::new(),
            action: action.into(),
            to: to.into(),
        }
    }

    #[test]
    fn actions_parse_and_know_where_to_go_next() {
        let uid = Uid(7);
        let flag = Action::parse(&form("flag", "")).unwrap();
        assert_eq!(flag, Action::Flags(FlagOp::Add, Flag::Flagged));
        assert_eq!(flag.next("INBOX", uid), "/mail/INBOX/7");
        let unread = Action::parse(&form("unread", "")).unwrap();
        assert_eq!(unread.next("A/B", uid), "/mail/A%2FB");
        assert_eq!(
            Action::parse(&form("move", "Archive")),
            Some(Action::Move("Archive".into()))
        );
        assert_eq!(Action::parse(&form("move", "")), None);
        assert_eq!(Action::parse(&form("expunge", "")), None);
    }
}
