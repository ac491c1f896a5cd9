//! `POST /admin/aliases` (add) and `/admin/aliases/remove`. The store
//! checks what `postern alias add` has it check: the address is in a
//! served domain (`@domain` is the catch-all), is no account's, and each
//! target is an existing account.

use axum::extract::{Form, State};
use axum::response::Response;

use super::edit::{apply, bad_input, Action, Back, Edit, Fields};
use super::Admin;
use crate::AppState;

/// `POST /admin/aliases`.
pub async fn add(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let targets = targets(&form.targets);
    let edit = Edit {
        action: Action::AddAlias,
        target: format!("{address} -> {}", targets.join(", ")),
        back: Back::Aliases,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        if targets.is_empty() {
            return Err(bad_input(
                "Name at least one account the alias delivers to.",
            ));
        }
        Ok(store.add_alias(&address, &targets)?)
    })
    .await
}

/// `POST /admin/aliases/remove`: nothing but a routing rule is lost, so
/// no confirmation page.
pub async fn remove(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: Action::RemoveAlias,
        target: address.clone(),
        back: Back::Aliases,
    };
    apply(&state, &session, &form.csrf, edit, move |store| {
        Ok(store.remove_alias(&address)?)
    })
    .await
}

/// Targets as typed: separated by commas, blanks or line breaks.
fn targets(input: &str) -> Vec<String> {
    input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_on_commas_and_blanks() {
        assert_eq!(
            targets(" a@x.test, b@x.test\r\nc@x.test,,d@x.test "),
            ["a@x.test", "b@x.test", "c@x.test", "d@x.test"]
        );
        assert!(targets(" , ").is_empty());
    }
}
