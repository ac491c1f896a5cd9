//! `/folders`: create, rename and delete folders, with the rules IMAP
//! CREATE, RENAME and DELETE follow here (RFC 9051 §6.3.4-§6.3.6):
//!
//! - names are checked by the store (`/` separates levels); a trailing
//!   `/` only says a folder is meant and is dropped (§6.3.4);
//! - renaming the INBOX moves its messages to a new folder and leaves the
//!   INBOX, empty (§6.3.6); the INBOX is never deleted;
//! - special-use folders (Sent, Drafts, Trash, Junk, Archive) may be
//!   renamed and deleted, as over IMAP; renaming keeps their role;
//! - deleting a folder deletes its messages; folders below it stay.
//!
//! Every form carries the session's CSRF token and is answered with a
//! 303 back to `/folders` (RFC 9110 §15.4.4). A user's mistake is shown on
//! the page: 409 for a name in use, 400 for a malformed one. The store
//! broadcasts each change, so IMAP sessions see it at once.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use postern_store::{AccountId, SpecialUse, Store, StoreError, StoreResult};
use serde::Deserialize;

use super::list::query_encode;
use super::{blocking, failure, open, Frame};
use crate::pages::{self, render, Folder};
use crate::security::refuse;
use crate::session::{Authed, SessionView};
use crate::AppState;

/// The page's own path: outside `/mail/`, so no folder name can reach it.
pub const PATH: &str = "/folders";

/// The forms; missing fields are empty, and refused.
#[derive(Debug, Default, Deserialize)]
pub struct FolderForm {
    #[serde(default)]
    csrf: String,
    /// The folder acted on (rename, delete) or created.
    #[serde(default)]
    name: String,
    /// A rename's new name.
    #[serde(default)]
    to: String,
}

/// `?name=` of the delete confirmation.
#[derive(Debug, Default, Deserialize)]
pub struct NameQuery {
    #[serde(default)]
    name: String,
}

/// One folder on the page.
struct Managed {
    name: String,
    total: usize,
    delete_href: String,
    deletable: bool,
}

#[derive(Template)]
#[template(path = "folders.html")]
struct FoldersPage<'a> {
    hostname: &'a str,
    frame: Frame,
    managed: Vec<Managed>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "folder_delete.html")]
struct ConfirmPage<'a> {
    hostname: &'a str,
    frame: Frame,
    folder: String,
    total: usize,
    children: Vec<String>,
}

/// `GET /folders`.
pub async fn manage(State(state): State<AppState>, Authed(session): Authed) -> Response {
    page(&state, &session, StatusCode::OK, None).await
}

/// `POST /folders`: create.
pub async fn create(
    State(state): State<AppState>,
    Authed(session): Authed,
    Form(form): Form<FolderForm>,
) -> Response {
    let account = session.account;
    let name = clean(&form.name);
    change(&state, &session, &form.csrf, move |store| {
        // The INBOX is made with the account (RFC 9051 §6.3.4).
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists {
                what: "INBOX".into(),
            });
        }
        store.create_mailbox(account, &name, None).map(drop)
    })
    .await
}

/// `POST /folders/rename`.
pub async fn rename(
    State(state): State<AppState>,
    Authed(session): Authed,
    Form(form): Form<FolderForm>,
) -> Response {
    let account = session.account;
    let (from, to) = (form.name.clone(), clean(&form.to));
    change(&state, &session, &form.csrf, move |store| {
        rename_in(store, account, &from, &to)
    })
    .await
}

/// `GET /folders/delete?name=`: asks before anything is lost.
pub async fn confirm(
    State(state): State<AppState>,
    Authed(session): Authed,
    query: Result<Query<NameQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let name = query.map(|q| q.0.name).unwrap_or_default();
    // Any capitalisation names the INBOX (RFC 9051 §5.1).
    if name.eq_ignore_ascii_case("INBOX") {
        return page(&state, &session, StatusCode::BAD_REQUEST, Some(NO_INBOX)).await;
    }
    let account = session.account;
    let found = blocking(&state, &session.address, move |store| {
        let mailbox = open(store, account, &name)?;
        let total = store.messages(mailbox.id)?.len();
        let prefix = format!("{name}/");
        let children = store
            .mailboxes(account)?
            .into_iter()
            .filter(|m| m.name.starts_with(&prefix))
            .map(|m| m.name)
            .collect();
        Ok((name, total, children, pages::folders(store, account)?))
    })
    .await;
    match found {
        Ok((folder, total, children, folders)) => render(&ConfirmPage {
            hostname: &state.settings.hostname,
            frame: Frame::new(&session, folders),
            folder,
            total,
            children,
        }),
        Err(r) => r,
    }
}

/// `POST /folders/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Authed(session): Authed,
    Form(form): Form<FolderForm>,
) -> Response {
    let account = session.account;
    let name = form.name.clone();
    change(&state, &session, &form.csrf, move |store| {
        let mailbox = open(store, account, &name)?;
        if mailbox.name == "INBOX" || mailbox.special_use == Some(SpecialUse::Inbox) {
            return Err(StoreError::Invalid {
                what: "INBOX".into(),
                why: NO_INBOX.into(),
            });
        }
        store.delete_mailbox(mailbox.id)
    })
    .await
}

const NO_INBOX: &str = "the INBOX cannot be deleted; new mail arrives there";

/// A typed name: surrounding blanks and a trailing `/` dropped.
fn clean(name: &str) -> String {
    name.trim().trim_end_matches('/').to_owned()
}

/// RENAME as IMAP does it: of the INBOX, a new folder gets its messages
/// and the INBOX stays, empty (RFC 9051 §6.3.6).
fn rename_in(store: &dyn Store, account: AccountId, from: &str, to: &str) -> StoreResult<()> {
    let mailbox = open(store, account, from)?;
    if mailbox.name != "INBOX" {
        return store.rename_mailbox(mailbox.id, to);
    }
    let target = store.create_mailbox(account, to, None)?;
    let uids: Vec<_> = store.messages(mailbox.id)?.iter().map(|m| m.uid).collect();
    store.copy(mailbox.id, &uids, target.id)?;
    store.expunge(mailbox.id, &uids)
}

/// Checks the token, runs `f` and answers: 303 back to the page when
/// done; the page with the reason when the user can fix it.
async fn change<F>(state: &AppState, session: &SessionView, csrf: &str, f: F) -> Response
where
    F: FnOnce(&dyn Store) -> StoreResult<()> + Send + 'static,
{
    if !session.csrf.matches(csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let store = state.store.clone();
    let done = tokio::task::spawn_blocking(move || f(store.as_ref())).await;
    let (status, text) = match done {
        Ok(Ok(())) => return Redirect::to(PATH).into_response(),
        Ok(Err(StoreError::AlreadyExists { what })) => (
            StatusCode::CONFLICT,
            format!("{what} exists already; choose another name."),
        ),
        Ok(Err(StoreError::Invalid { what, why })) => {
            (StatusCode::BAD_REQUEST, format!("{what}: {why}."))
        }
        // Anything else (a missing folder, a full mailbox, a store
        // failure) is answered as the other mail pages answer it.
        Ok(Err(e)) => return failure(state, &session.address, e).await,
        Err(e) => {
            tracing::error!(error = %e, "webmail folder task failed");
            return pages::internal_error(state);
        }
    };
    page(state, session, status, Some(&text)).await
}

/// The page, with an error above it if there is one.
async fn page(
    state: &AppState,
    session: &SessionView,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let account = session.account;
    let listed = blocking(state, &session.address, move |store| {
        pages::folders(store, account)
    })
    .await;
    let folders = match listed {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut r = render(&FoldersPage {
        hostname: &state.settings.hostname,
        managed: folders.iter().filter(|f| f.exists).map(managed).collect(),
        frame: Frame::new(session, folders),
        error: error.map(str::to_owned),
    });
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

fn managed(f: &Folder) -> Managed {
    Managed {
        name: f.name.clone(),
        total: f.total,
        delete_href: format!("{PATH}/delete?name={}", query_encode(&f.name)),
        deletable: f.name != "INBOX",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_names_lose_blanks_and_a_trailing_separator() {
        assert_eq!(clean(" Work/2026/ "), "Work/2026");
        assert_eq!(clean("a b"), "a b");
        assert_eq!(clean("/"), "");
    }

    #[test]
    fn the_inbox_offers_no_delete() {
        let folder = |name: &str| pages::tree_entry(name, true);
        let inbox = managed(&folder("INBOX"));
        assert!(!inbox.deletable);
        let nested = managed(&folder("A b/c"));
        assert!(nested.deletable);
        assert_eq!(nested.delete_href, "/folders/delete?name=A%20b%2Fc");
    }
}
