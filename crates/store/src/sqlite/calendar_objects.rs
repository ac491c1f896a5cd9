//! Calendar object resources (RFC 4791 §4.1) and the change log behind
//! sync tokens (RFC 6578).
//!
//! Every write bumps its calendar's sync token by one and records the
//! resource name in `calendar_changes` with that value (a tombstone for a
//! deletion), in the transaction of the write: the token a client is given
//! always covers exactly the changes committed with it.
//!
//! # Layout
//! - reads: [`list`], [`get`], [`get_many`], [`in_range`].
//! - writes: [`put`], [`delete`], with the precondition check [`check`].
//! - sync: [`changes_since`].

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::messages::{check_quota, to_i64};
use super::{calendars, missing, Effects};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Calendar, CalendarChanges, CalendarId, CalendarObject, CalendarObjectMeta, Change,
    ComponentKind, NewCalendarObject, Precondition,
};

/// The metadata columns, in [`meta_from_row`]'s order; `data` follows
/// them when the bytes are wanted.
const META: &str = "calendar, name, uid, etag, component, size, first_start, last_end, modseq";

fn meta_from_row(r: &Row<'_>) -> rusqlite::Result<CalendarObjectMeta> {
    let bits: i64 = r.get(4)?;
    let component = ComponentKind::ALL
        .into_iter()
        .find(|k| k.bit() == bits)
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(4, bits))?;
    Ok(CalendarObjectMeta {
        calendar: CalendarId(r.get(0)?),
        name: r.get(1)?,
        uid: r.get(2)?,
        etag: r.get(3)?,
        component,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        first_start: r.get(6)?,
        last_end: r.get(7)?,
        modseq: r.get::<_, i64>(8)?.max(0) as u64,
    })
}

fn object_from_row(r: &Row<'_>) -> rusqlite::Result<CalendarObject> {
    Ok(CalendarObject {
        meta: meta_from_row(r)?,
        data: r.get(9)?,
    })
}

/// The calendar's objects' metadata, sorted by name.
pub(super) fn list(
    conn: &Connection,
    calendar: CalendarId,
) -> StoreResult<Vec<CalendarObjectMeta>> {
    calendars::require(conn, calendar)?;
    // The data column is left out: a listing must not read every body.
    let sql = format!("SELECT {META} FROM calendar_objects WHERE calendar = ?1 ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([calendar.0], meta_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One object by its (valid) name.
fn find(
    conn: &Connection,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<CalendarObject>> {
    let sql =
        format!("SELECT {META}, data FROM calendar_objects WHERE calendar = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![calendar.0, name], object_from_row)
        .optional()?)
}

/// One object; `NotFound` only for an unknown calendar.
pub(super) fn get(
    conn: &Connection,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<CalendarObject>> {
    calendars::require(conn, calendar)?;
    find(conn, calendar, name)
}

/// The objects of `names` that exist, in the order asked, each once.
pub(super) fn get_many(
    conn: &Connection,
    calendar: CalendarId,
    names: &[String],
) -> StoreResult<Vec<CalendarObject>> {
    calendars::require(conn, calendar)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names.iter().filter(|n| seen.insert(n.as_str())) {
        out.extend(find(conn, calendar, name)?);
    }
    Ok(out)
}

/// The objects whose bounds may overlap `[start, end)`, sorted by name.
pub(super) fn in_range(
    conn: &Connection,
    calendar: CalendarId,
    start: i64,
    end: i64,
) -> StoreResult<Vec<CalendarObject>> {
    calendars::require(conn, calendar)?;
    // `last_end >= start` rather than `>`: an instant (DTSTART = DTEND)
    // at `start` overlaps the range (RFC 4791 §9.9); the caller's exact
    // check drops what only touches it. A missing bound never excludes.
    // Two searches of the span index, not one OR (which keeps SQLite off
    // the index and reads every row with its data): objects without a
    // start, and those starting before the end whose end the index
    // entry itself shows to be late enough. Sorted here: an ORDER BY
    // lets SQLite prefer the name index and read every row again.
    let sql = format!(
        "SELECT {META}, data FROM calendar_objects WHERE calendar = ?1
         AND first_start IS NULL AND (last_end IS NULL OR last_end >= ?2)
         UNION ALL
         SELECT {META}, data FROM calendar_objects WHERE calendar = ?1
         AND first_start < ?3 AND (last_end IS NULL OR last_end >= ?2)"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![calendar.0, start, end], object_from_row)?;
    let mut found: Vec<CalendarObject> = rows.collect::<Result<_, _>>()?;
    found.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    Ok(found)
}

/// The current ETag and size of a resource, if it exists.
fn current(
    conn: &Connection,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<(String, u64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT etag, size FROM calendar_objects WHERE calendar = ?1 AND name = ?2",
        )?
        .query_row(params![calendar.0, name], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })
        .optional()?)
}

/// Stores (creates or replaces) an object; see `Store::put_calendar_object`.
pub(super) fn put(
    conn: &Connection,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
    pre: &Precondition,
    fx: &mut Effects,
) -> StoreResult<(CalendarObjectMeta, bool)> {
    let cal = calendars::require(conn, calendar)?;
    let old = current(conn, calendar, obj.name)?;
    crate::calendar_checks::precondition(pre, old.as_ref().map(|(e, _)| e.as_str()), obj.name)?;
    refuse_uid_conflict(conn, calendar, obj)?;
    refuse_component(&cal, obj.component)?;
    let size = obj.data.len() as u64;
    let old_size = old.as_ref().map_or(0, |(_, s)| *s);
    // Only growth is checked: replacing an object with a smaller one must
    // work even for an account already over its quota.
    if size > old_size {
        check_quota(conn, cal.account.0, size - old_size)?;
    }
    let modseq = calendars::bump(conn, calendar)?;
    let meta = CalendarObjectMeta {
        calendar,
        name: obj.name.to_owned(),
        uid: obj.uid.to_owned(),
        etag: crate::calendar_checks::etag_of(obj.data),
        component: obj.component,
        size,
        first_start: obj.first_start,
        last_end: obj.last_end,
        modseq,
    };
    upsert(conn, &meta, obj.data)?;
    record(conn, calendar, obj.name, modseq, false)?;
    fx.changes.push(Change::Calendar {
        calendar,
        sync_token: modseq,
    });
    Ok((meta, old.is_none()))
}

/// `Invalid` if the calendar does not hold `kind` (RFC 4791 §5.3.2.1
/// supported-calendar-component).
fn refuse_component(cal: &Calendar, kind: ComponentKind) -> StoreResult<()> {
    if cal.components.contains(&kind) {
        return Ok(());
    }
    Err(StoreError::Invalid {
        what: format!("calendar {}", cal.name),
        why: format!(
            "it does not hold {kind} components (RFC 4791 §5.3.2.1 supported-calendar-component)"
        ),
    })
}

/// `UidConflict` if another resource of the calendar has the UID
/// (RFC 4791 §5.3.2.1 no-uid-conflict).
fn refuse_uid_conflict(
    conn: &Connection,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
) -> StoreResult<()> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT name FROM calendar_objects WHERE calendar = ?1 AND uid = ?2")?
        .query_row(params![calendar.0, obj.uid], |r| r.get(0))
        .optional()?;
    match owner {
        Some(existing) if existing != obj.name => Err(StoreError::UidConflict { existing }),
        _ => Ok(()),
    }
}

fn upsert(conn: &Connection, meta: &CalendarObjectMeta, data: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO calendar_objects
             (calendar, name, uid, etag, component, size, first_start, last_end, modseq, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (calendar, name) DO UPDATE SET
             uid = excluded.uid, etag = excluded.etag, component = excluded.component,
             size = excluded.size, first_start = excluded.first_start,
             last_end = excluded.last_end, modseq = excluded.modseq, data = excluded.data",
    )?
    .execute(params![
        meta.calendar.0,
        meta.name,
        meta.uid,
        meta.etag,
        meta.component.bit(),
        to_i64(meta.size),
        meta.first_start,
        meta.last_end,
        to_i64(meta.modseq),
        data
    ])?;
    Ok(())
}

/// Records the last change of `name` (a tombstone when `deleted`).
fn record(
    conn: &Connection,
    calendar: CalendarId,
    name: &str,
    modseq: u64,
    deleted: bool,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO calendar_changes (calendar, name, modseq, deleted) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (calendar, name) DO UPDATE SET
             modseq = excluded.modseq, deleted = excluded.deleted",
    )?
    .execute(params![calendar.0, name, to_i64(modseq), deleted])?;
    Ok(())
}

/// Deletes an object; see `Store::delete_calendar_object`.
pub(super) fn delete(
    conn: &Connection,
    calendar: CalendarId,
    name: &str,
    pre: &Precondition,
    fx: &mut Effects,
) -> StoreResult<()> {
    calendars::require(conn, calendar)?;
    let old = current(conn, calendar, name)?;
    crate::calendar_checks::precondition(pre, old.as_ref().map(|(e, _)| e.as_str()), name)?;
    if old.is_none() {
        return Err(missing(format!("calendar object {name}")));
    }
    conn.prepare_cached("DELETE FROM calendar_objects WHERE calendar = ?1 AND name = ?2")?
        .execute(params![calendar.0, name])?;
    let modseq = calendars::bump(conn, calendar)?;
    record(conn, calendar, name, modseq, true)?;
    fx.changes.push(Change::Calendar {
        calendar,
        sync_token: modseq,
    });
    Ok(())
}

/// What changed after `token`; see `Store::calendar_changes_since`.
pub(super) fn changes_since(
    conn: &Connection,
    calendar: CalendarId,
    token: u64,
) -> StoreResult<CalendarChanges> {
    let cal = calendars::require(conn, calendar)?;
    if token > cal.sync_token {
        return Err(StoreError::Invalid {
            what: format!("sync token {token}"),
            why: format!(
                "calendar {} is only at {}; the client must synchronise again from the start \
                 (RFC 6578 §3.2 valid-sync-token)",
                cal.name, cal.sync_token
            ),
        });
    }
    let mut out = CalendarChanges {
        sync_token: cal.sync_token,
        ..CalendarChanges::default()
    };
    // Token 0 is the initial synchronisation: every member, no deletions
    // (RFC 6578 §3.4). Otherwise the log names each changed resource once.
    let sql = if token == 0 {
        "SELECT name, 0 FROM calendar_objects WHERE calendar = ?1 AND ?2 = 0 ORDER BY name"
    } else {
        "SELECT name, deleted FROM calendar_changes WHERE calendar = ?1 AND modseq > ?2
         ORDER BY name"
    };
    // (Both statements take the token, so that one parameter list fits.)
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![calendar.0, to_i64(token)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
    })?;
    for row in rows {
        let (name, deleted) = row?;
        if deleted {
            out.deleted.push(name);
        } else {
            out.changed.push(name);
        }
    }
    Ok(out)
}
