//! Invitations by mail (iMIP, RFC 6047): the invitation shown with a
//! message, and the answer to it.

use axum::Router;

use crate::AppState;

/// The invitation answers.
pub fn routes() -> Router<AppState> {
    Router::new()
}
