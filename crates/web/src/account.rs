//! `/account`: the signed-in user's own account. For now, changing the
//! password: the current one first (checked by the same login service as
//! every protocol, throttle included, so a session left open on a shared
//! machine cannot be turned into a stolen account), then the new one
//! twice, with the strength rule and argon2id hashing of `postern user
//! add`. The change ends the account's other web sessions (see
//! [`crate::session::Authed`]); this one goes on.

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::mail::{blocking, Frame};
use crate::pages::{self, render};
use crate::security::refuse;
use crate::session::{Authed, SessionView};
use crate::{AppState, Client};

/// The routes (the application adds the form body limit).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/password", post(change_password))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    hostname: &'a str,
    frame: Frame,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// `GET /account`.
async fn page(State(state): State<AppState>, Authed(session): Authed, uri: Uri) -> Response {
    let notice = (uri.query() == Some("done=password")).then_some("Password changed.");
    show(&state, &session, None, notice, StatusCode::OK).await
}

async fn show(
    state: &AppState,
    session: &SessionView,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let account = session.account;
    let folders = blocking(state, &session.address, move |store| {
        pages::folders(store, account)
    })
    .await;
    let folders = match folders {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut response = render(&AccountPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(session, folders),
        error,
        notice,
    });
    *response.status_mut() = status;
    response
}

/// The password form.
#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// `POST /account/password`.
async fn change_password(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(client): Extension<Client>,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let again = |error: String| show(&state, &session, Some(error), None, StatusCode::BAD_REQUEST);
    if form.password != form.password2 {
        return again("The new passwords do not match.".into()).await;
    }
    if let Err(e) = postern_auth::password::check_strength(&form.password) {
        return again(format!("The new password cannot be used: {e}.")).await;
    }
    // The login service answers a wrong password after the throttle's
    // delay, and counts it like any failed login.
    let checked = state
        .accounts
        .password_login(client.peer.ip(), session.address.clone(), form.current)
        .await;
    let Some(account) = checked.filter(|a| a.id == session.account) else {
        tracing::warn!(user = %session.address, peer = %client.peer, "password change refused: wrong current password");
        return again("The current password is not right.".into()).await;
    };
    let password = form.password;
    let changed = blocking(&state, &session.address, move |store| {
        let hash = postern_auth::password::hash_password(&password).map_err(|e| {
            postern_store::StoreError::Database(format!("cannot hash the new password: {e}"))
        })?;
        store.set_password_hash(account.id, &hash)?;
        Ok(hash)
    })
    .await;
    match changed {
        Ok(hash) => {
            state.sessions.renew_credential(&session.token, &hash);
            tracing::info!(user = %session.address, "password changed from the web");
            Redirect::to("/account?done=password").into_response()
        }
        Err(r) => r,
    }
}
