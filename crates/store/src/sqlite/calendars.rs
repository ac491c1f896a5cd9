//! Calendar collections (RFC 4791 §4.2): create, list, update, delete.
//!
//! Names are validated by [`crate::names`] before they reach a statement.
//! The members and the sync token's change log are in `calendar_objects`.
//!
//! # Layout
//! - [`create`], [`list`], [`by_name`], [`by_id`], [`require`].
//! - [`update`] (properties), [`delete`].

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{accounts, missing};
use crate::error::{StoreError, StoreResult};
use crate::model::{AccountId, Calendar, CalendarId, CalendarProps, ComponentKind};
use crate::names;

/// DAV:displayname and the colour are one-line labels.
const MAX_LABEL: usize = 1024;
/// A description or a VTIMEZONE: a real VTIMEZONE with its history of
/// rules is a few kilobytes; 64 KiB leaves room without inviting abuse.
const MAX_TEXT: usize = 64 * 1024;

const COLUMNS: &str =
    "id, account, name, display_name, description, color, timezone, components, sync_token";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Calendar> {
    Ok(Calendar {
        id: CalendarId(r.get(0)?),
        account: AccountId(r.get(1)?),
        name: r.get(2)?,
        display_name: r.get(3)?,
        description: r.get(4)?,
        color: r.get(5)?,
        timezone: r.get(6)?,
        components: kinds(r.get(7)?),
        sync_token: r.get::<_, i64>(8)?.max(0) as u64,
    })
}

/// The kinds of a stored bit set, in [`ComponentKind::ALL`] order.
fn kinds(bits: i64) -> Vec<ComponentKind> {
    ComponentKind::ALL
        .into_iter()
        .filter(|k| bits & k.bit() != 0)
        .collect()
}

/// The bit set of `components`; none means every kind.
fn bits(components: &[ComponentKind]) -> i64 {
    let all = if components.is_empty() {
        &ComponentKind::ALL[..]
    } else {
        components
    };
    all.iter().fold(0, |acc, k| acc | k.bit())
}

/// Creates a calendar with no members and sync token 0.
pub(super) fn create(
    conn: &Connection,
    account: AccountId,
    name: &str,
    display_name: &str,
    components: &[ComponentKind],
) -> StoreResult<Calendar> {
    let name = names::calendar_name(name)?;
    names::calendar_text("display name", display_name, MAX_LABEL, false)?;
    if accounts::by_id(conn, account)?.is_none() {
        return Err(missing(format!("account {}", account.0)));
    }
    if by_name(conn, account, &name)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: format!("calendar {name}"),
        });
    }
    conn.prepare_cached(
        "INSERT INTO calendars (account, name, display_name, components) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![account.0, name, display_name, bits(components)])?;
    require(conn, CalendarId(conn.last_insert_rowid()))
}

/// The account's calendars, sorted by name.
pub(super) fn list(conn: &Connection, account: AccountId) -> StoreResult<Vec<Calendar>> {
    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE account = ?1 ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([account.0], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The account's calendar named `name` (already validated).
pub(super) fn by_name(
    conn: &Connection,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Calendar>> {
    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE account = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![account.0, name], from_row)
        .optional()?)
}

pub(super) fn by_id(conn: &Connection, id: CalendarId) -> StoreResult<Option<Calendar>> {
    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.0], from_row)
        .optional()?)
}

/// The calendar with this id, or `NotFound`.
pub(super) fn require(conn: &Connection, id: CalendarId) -> StoreResult<Calendar> {
    by_id(conn, id)?.ok_or_else(|| missing(format!("calendar {}", id.0)))
}

/// Changes the properties given; `Some("")` clears an optional one.
pub(super) fn update(
    conn: &Connection,
    id: CalendarId,
    props: &CalendarProps,
) -> StoreResult<Calendar> {
    let mut cal = require(conn, id)?;
    if let Some(v) = &props.display_name {
        names::calendar_text("display name", v, MAX_LABEL, false)?;
        cal.display_name.clone_from(v);
    }
    set_optional(
        &mut cal.description,
        props.description.as_deref(),
        "description",
        MAX_TEXT,
        true,
    )?;
    set_optional(
        &mut cal.color,
        props.color.as_deref(),
        "color",
        MAX_LABEL,
        false,
    )?;
    set_optional(
        &mut cal.timezone,
        props.timezone.as_deref(),
        "timezone",
        MAX_TEXT,
        true,
    )?;
    conn.prepare_cached(
        "UPDATE calendars SET display_name = ?2, description = ?3, color = ?4, timezone = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        id.0,
        cal.display_name,
        cal.description,
        cal.color,
        cal.timezone
    ])?;
    Ok(cal)
}

/// Applies one optional property of [`CalendarProps`] to `field`.
fn set_optional(
    field: &mut Option<String>,
    value: Option<&str>,
    what: &str,
    max: usize,
    multiline: bool,
) -> StoreResult<()> {
    match value {
        None => {}
        Some("") => *field = None,
        Some(v) => {
            names::calendar_text(what, v, max, multiline)?;
            *field = Some(v.to_owned());
        }
    }
    Ok(())
}

/// Deletes a calendar with its members and change log.
pub(super) fn delete(conn: &Connection, id: CalendarId) -> StoreResult<()> {
    require(conn, id)?;
    // Members first, while the calendar row still exists: the quota
    // trigger finds the account through it.
    conn.prepare_cached("DELETE FROM calendar_objects WHERE calendar = ?1")?
        .execute([id.0])?;
    conn.prepare_cached("DELETE FROM calendars WHERE id = ?1")?
        .execute([id.0])?;
    Ok(())
}

/// Moves the calendar's sync token on by one and returns the new value:
/// the modification sequence of the change being made.
pub(super) fn bump(conn: &Connection, id: CalendarId) -> StoreResult<u64> {
    let token: i64 = conn
        .prepare_cached(
            "UPDATE calendars SET sync_token = sync_token + 1 WHERE id = ?1 RETURNING sync_token",
        )?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .ok_or_else(|| missing(format!("calendar {}", id.0)))?;
    Ok(token.max(0) as u64)
}
