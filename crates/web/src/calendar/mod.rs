//! The web calendar: month, week and day views, an agenda, and the event
//! form, over the same store calendars CalDAV serves.

pub mod grid;
pub mod ics;
pub mod model;

use axum::Router;

use crate::AppState;

/// The calendar pages.
pub fn routes() -> Router<AppState> {
    Router::new()
}
