//! The outbound queue's forms, per item: retry now, and delete after a
//! confirmation page. The store calls are those of `postern queue retry`
//! and `postern queue delete`; deleting sends no bounce.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_store::QueueId;

use super::edit::{apply, bad_input, Action, Back, Edit, Fields, PageQuery, Refusal};
use super::pages::{confirm, show, Confirm};
use super::Admin;
use crate::mail::blocking;
use crate::AppState;

/// `POST /admin/queue/retry`: pending recipients become due now.
pub async fn retry(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let id = form.id.trim().to_owned();
    let edit = Edit {
        action: Action::RetryQueued,
        target: id.clone(),
        back: Back::Queue,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        Ok(store.queue_retry_now(item_id(&id)?, unix_now())?)
    })
    .await
}

/// `GET /admin/queue/delete?id=`: shows the item first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let raw = query.map(|q| q.0.id).unwrap_or_default();
    let Ok(id) = item_id(&raw) else {
        let why = format!("There is no queue item \"{raw}\".");
        return show(
            &state,
            &session,
            &Back::Queue,
            StatusCode::NOT_FOUND,
            None,
            Some(why),
        )
        .await;
    };
    let item = match blocking(&state, &session.address, move |s| s.queue_item(id)).await {
        Ok(Some(item)) => item,
        Ok(None) => {
            let why = format!(
                "There is no queue item {}: it was delivered, returned or deleted.",
                id.0
            );
            return show(
                &state,
                &session,
                &Back::Queue,
                StatusCode::NOT_FOUND,
                None,
                Some(why),
            )
            .await;
        }
        Err(r) => return r,
    };
    let sender = match item.envelope.mail_from.as_str() {
        "" => "<>",
        s => s,
    };
    let mut details = vec![format!("From {sender}, to:")];
    details.extend(item.recipients.iter().map(|r| r.address.clone()));
    details.push("Nobody is told: no bounce is sent to the sender.".into());
    let page = Confirm {
        title: format!("Delete queue item {}?", id.0),
        details,
        action: "/admin/queue/delete",
        field: "id",
        value: id.0.to_string(),
        button: format!("Delete item {}", id.0),
        cancel: Back::Queue.href(None),
    };
    confirm(&state, &session, page)
}

/// `POST /admin/queue/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let id = form.id.trim().to_owned();
    let edit = Edit {
        action: Action::DeleteQueued,
        target: id.clone(),
        back: Back::Queue,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        Ok(store.queue_delete(item_id(&id)?)?)
    })
    .await
}

fn item_id(input: &str) -> Result<QueueId, Refusal> {
    input
        .trim()
        .parse()
        .map(QueueId)
        .map_err(|_| bad_input(format!("\"{input}\" is no queue item number.")))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
