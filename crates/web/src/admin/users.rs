//! The user forms: add, password, disable and enable, administrator on
//! and off, quota, remove. They make the store calls `postern user` makes,
//! with the same checks: the store validates addresses (`names::address`),
//! passwords follow `postern_auth::password::check_strength` and are
//! hashed with argon2id on the blocking thread (tens of milliseconds and
//! 19 MiB each, so never on the async workers).
//!
//! An administrator cannot revoke their own flag, disable or remove their
//! own account: done by mistake, it could leave nobody able to open these
//! pages. Another administrator (or `postern user`) can.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_auth::password::check_strength;
use postern_store::{Account, AccountId, Store, StoreError};

use super::edit::{
    apply, bad_input, find, sentence, Action, Back, Edit, Fields, PageQuery, Refusal,
};
use super::pages::{confirm, Confirm};
use super::Admin;
use crate::AppState;

/// The refusal for a change to one's own account that could lock out.
const OWN_ACCOUNT: &str = "You cannot revoke your own administrator rights, disable or remove your own account: another administrator can (or `postern user` on the server).";

/// `POST /admin/users`: a new account.
pub async fn add(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: Action::AddUser,
        target: address.clone(),
        back: Back::Users,
    };
    let admin = form.admin == "on";
    let (password, again, quota) = (form.password, form.password2, form.quota);
    apply(&state, &session, &form.csrf, edit, move |store| {
        let quota = parse_quota(&quota).map_err(bad_input)?;
        let hash = hash(&password, &again)?;
        let account = store.add_account(&address, &hash)?;
        if quota > 0 {
            store.set_quota(account.id, quota)?;
        }
        if admin {
            store.set_admin(account.id, true)?;
        }
        ensure_postmaster(store, &account)?;
        Ok(())
    })
    .await
}

/// `POST /admin/users/password`.
pub async fn password(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: Action::SetPassword,
        target: address.clone(),
        back: Back::User(address.clone()),
    };
    let (password, again) = (form.password, form.password2);
    // A new password ends the account's web sessions (see `Authed`);
    // the administrator who changed their own keeps the one they used.
    let changed = std::sync::Arc::new(std::sync::OnceLock::new());
    let record = changed.clone();
    let response = apply(&state, &session, &form.csrf, edit, move |store| {
        let account = find(store, &address)?;
        let new_hash = hash(&password, &again)?;
        store.set_password_hash(account.id, &new_hash)?;
        let _ = record.set((account.id, new_hash));
        Ok(())
    })
    .await;
    if let Some((id, new_hash)) = changed.get() {
        if *id == session.account {
            state.sessions.renew_credential(&session.token, new_hash);
        }
    }
    response
}

/// `POST /admin/users/disable`.
pub async fn disable(state: State<AppState>, admin: Admin, form: Form<Fields>) -> Response {
    set_disabled(state, admin, form, true).await
}

/// `POST /admin/users/enable`.
pub async fn enable(state: State<AppState>, admin: Admin, form: Form<Fields>) -> Response {
    set_disabled(state, admin, form, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
    disabled: bool,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: match disabled {
            true => Action::Disable,
            false => Action::Enable,
        },
        target: address.clone(),
        back: Back::User(address.clone()),
    };
    let me = session.account;
    apply(&state, &session, &form.csrf, edit, move |store| {
        let account = find(store, &address)?;
        if disabled {
            not_own(&account, me)?;
        }
        Ok(store.set_disabled(account.id, disabled)?)
    })
    .await
}

/// `POST /admin/users/admin`: `admin=on` grants, anything else revokes.
pub async fn admin(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let grant = form.admin == "on";
    let edit = Edit {
        action: match grant {
            true => Action::GrantAdmin,
            false => Action::RevokeAdmin,
        },
        target: address.clone(),
        back: Back::User(address.clone()),
    };
    let me = session.account;
    apply(&state, &session, &form.csrf, edit, move |store| {
        let account = find(store, &address)?;
        if !grant {
            not_own(&account, me)?;
        }
        Ok(store.set_admin(account.id, grant)?)
    })
    .await
}

/// `POST /admin/users/quota`: empty or 0 is no quota.
pub async fn quota(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: Action::SetQuota,
        target: format!("{address} {}", form.quota.trim()),
        back: Back::User(address.clone()),
    };
    let quota = form.quota;
    apply(&state, &session, &form.csrf, edit, move |store| {
        let bytes = parse_quota(&quota).map_err(bad_input)?;
        let account = find(store, &address)?;
        Ok(store.set_quota(account.id, bytes)?)
    })
    .await
}

/// `GET /admin/users/remove?address=`: says what is lost first.
pub async fn confirm_remove(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let address = query.map(|q| q.0.address).unwrap_or_default();
    let page = Confirm {
        title: format!("Remove the user {address}?"),
        details: vec![
            "Every folder of the account and every message in them are deleted for good.".into(),
            "Aliases left with no other target are removed too.".into(),
        ],
        action: "/admin/users/remove",
        field: "address",
        value: address.clone(),
        button: format!("Remove {address} and its mail"),
        cancel: Back::User(address).href(None),
    };
    confirm(&state, &session, page)
}

/// `POST /admin/users/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<Fields>,
) -> Response {
    let address = form.address.trim().to_owned();
    let edit = Edit {
        action: Action::RemoveUser,
        target: address.clone(),
        back: Back::Users,
    };
    let me = session.account;
    apply(&state, &session, &form.csrf, edit, move |store| {
        let account = find(store, &address)?;
        not_own(&account, me)?;
        Ok(store.remove_account(account.id)?)
    })
    .await
}

fn not_own(account: &Account, me: AccountId) -> Result<(), Refusal> {
    match account.id == me {
        true => Err(Refusal::Mistake(StatusCode::CONFLICT, OWN_ACCOUNT.into())),
        false => Ok(()),
    }
}

/// The argon2id hash of a password typed twice, after the strength rule.
fn hash(password: &str, again: &str) -> Result<String, Refusal> {
    if password != again {
        return Err(bad_input(
            "The two passwords differ; type the same one twice.",
        ));
    }
    check_strength(password).map_err(|e| bad_input(sentence(&e.to_string())))?;
    postern_auth::hash_password(password).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed; nothing was changed");
        Refusal::Failed
    })
}

/// RFC 5321 §4.5.1: every domain accepts mail for `postmaster`. As
/// `postern user add` does, the first account of a domain receives it
/// through an alias the administrator can see and change.
fn ensure_postmaster(store: &dyn Store, account: &Account) -> Result<(), StoreError> {
    let Some((local, domain)) = account.address.split_once('@') else {
        return Ok(());
    };
    let postmaster = format!("postmaster@{domain}");
    if local == "postmaster" || !store.resolve_recipient(&postmaster)?.is_empty() {
        return Ok(());
    }
    store.add_alias(&postmaster, std::slice::from_ref(&account.address))
}

/// A quota as typed: empty, `0` or `none` for no quota; else a whole
/// number with an optional unit, `B`, `KB`, `MB`, `GB` or `TB` (powers of
/// 1024, as the pages show sizes; `K`, `M`, `KiB`, `MiB`... too).
pub fn parse_quota(input: &str) -> Result<u64, String> {
    let s = input.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(0);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(quota_help(s)),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| quota_help(s))
}

fn quota_help(input: &str) -> String {
    format!("The quota \"{input}\" is not understood: give a whole number with KB, MB, GB or TB (1 GB = 1024 MB), or leave it empty for no quota.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_take_units_in_powers_of_1024() {
        assert_eq!(parse_quota(""), Ok(0));
        assert_eq!(parse_quota(" none "), Ok(0));
        assert_eq!(parse_quota("0"), Ok(0));
        assert_eq!(parse_quota("1500"), Ok(1500));
        assert_eq!(parse_quota("10 B"), Ok(10));
        assert_eq!(parse_quota("2k"), Ok(2048));
        assert_eq!(parse_quota("500 MB"), Ok(500 << 20));
        assert_eq!(parse_quota("1GiB"), Ok(1 << 30));
        assert_eq!(parse_quota("3 tb"), Ok(3 << 40));
        for bad in [
            "1.5 GB",
            "-1",
            "GB",
            "12 parsecs",
            "99999999999999999999",
            "20000000 TB",
        ] {
            assert!(parse_quota(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_must_match_and_be_strong() {
        let msg = |r: Result<String, Refusal>| match r {
            Err(Refusal::Mistake(StatusCode::BAD_REQUEST, why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(msg(hash("correct horse battery", "correct horse batery")).contains("differ"));
        assert!(msg(hash("short", "short")).starts_with("The password is too short"));
        assert!(msg(hash("", "")).contains("empty"));
    }
}
