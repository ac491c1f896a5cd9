//! Writing mail: `/compose` (new, reply, reply-all, forward, drafts).

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::settings::Settings;
use crate::AppState;

/// The compose routes. A message with its attachments may be as large as
/// SMTP accepts, plus room for the form's own fields and boundaries.
pub fn routes(settings: &Settings) -> Router<AppState> {
    let limit = usize::try_from(settings.max_message_size)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new().layer(DefaultBodyLimit::max(limit))
}
