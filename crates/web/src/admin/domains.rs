//! `POST /admin/domains` (add) and `/admin/domains/remove` (after a
//! confirmation page). The store checks the name (`names::domain`) and
//! refuses to remove a domain still used by accounts or aliases; its
//! reason is shown as it is, as `postern domain del` prints it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::response::Response;

use super::edit::{apply, Action, Back, Edit, Fields, PageQuery};
use super::pages::{confirm, Confirm};
use super::Admin;
use crate::AppState;

/// `POST /admin/domains`.
pub async fn add(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let domain = form.domain.trim().to_owned();
    let edit = Edit {
        action: Action::AddDomain,
        target: domain.clone(),
        back: Back::Domains,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        Ok(store.add_domain(&domain)?)
    })
    .await
}

/// `GET /admin/domains/remove?domain=`: asks first.
pub async fn confirm_remove(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let domain = query.map(|q| q.0.domain).unwrap_or_default();
    let page = Confirm {
        title: format!("Remove the domain {domain}?"),
        details: vec![
            "Postern will no longer accept mail for it.".into(),
            "A domain that still has users or aliases cannot be removed: remove them first.".into(),
        ],
        action: "/admin/domains/remove",
        field: "domain",
        value: domain.clone(),
        button: format!("Remove {domain}"),
        cancel: Back::Domains.href(None),
    };
    confirm(&state, &session, page)
}

/// `POST /admin/domains/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let domain = form.domain.trim().to_owned();
    let edit = Edit {
        action: Action::RemoveDomain,
        target: domain.clone(),
        back: Back::Domains,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        Ok(store.remove_domain(&domain)?)
    })
    .await
}
