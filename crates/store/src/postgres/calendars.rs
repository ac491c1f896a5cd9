//! PostgreSQL: calendar collections (RFC 4791 §4.2), their object
//! resources (§4.1) and the change log behind sync tokens (RFC 6578),
//! with the SQLite back end's semantics (`sqlite::calendars`,
//! `sqlite::calendar_objects`; the `Store` trait is the contract).
//!
//! Several nodes write one calendar at once, so every write of a member
//! first locks the account's row (its quota), then the calendar's (its
//! sync token), in that order, and only then reads what it checks: the
//! precondition, the UID and the quota are checked against every write
//! committed before, and none can slip in between the check and the
//! write. The sync token is moved on by `UPDATE ... RETURNING` on the
//! locked row, and the change is recorded in the same transaction, so a
//! token always covers exactly the changes committed with it.
//!
//! Lists are sorted here, bytewise as the SQLite back end sorts them: an
//! ORDER BY would follow the database's collation, which in most locales
//! puts `personal` before `Tasks`.
//!
//! # Layout
//! - collections: [`create_calendar_with`], [`calendars`], [`calendar`],
//!   [`update_calendar`], [`delete_calendar`]; rows and locks: `require`,
//!   `lock`, `bump`.
//! - members, reads: [`calendar_objects`], [`calendar_object`],
//!   [`calendar_objects_by_name`], [`calendar_objects_in_range`].
//! - members, writes: [`put_calendar_object`], [`delete_calendar_object`].
//! - sync: [`calendar_changes_since`].
//! - the checks the SQLite back end makes too: `check_object`,
//!   `check_precondition`, `etag_of`, `Owner::check_quota`.

use std::collections::HashMap;

use postgres::Row;

use super::Tx;

use super::{is_foreign_key_violation, Effects, PgStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    AccountId, Calendar, CalendarChanges, CalendarId, CalendarObject, CalendarObjectMeta,
    CalendarProps, Change, ComponentKind, NewCalendarObject, Precondition,
};
use crate::names;

/// DAV:displayname and the colour are one-line labels (as SQLite).
const MAX_LABEL: usize = 1024;
/// A description or a VTIMEZONE: a real VTIMEZONE with its history of
/// rules is a few kilobytes; 64 KiB leaves room without inviting abuse.
const MAX_TEXT: usize = 64 * 1024;

/// The calendar columns, in [`calendar_from_row`]'s order.
const COLUMNS: &str =
    "id, account, name, display_name, description, color, timezone, components, sync_token";

/// The metadata columns, in [`meta_from_row`]'s order; `data` follows
/// them when the bytes are wanted.
const META: &str = "calendar, name, uid, etag, component, size, first_start, last_end, modseq";

// --- rows ---

fn calendar_from_row(r: &Row) -> StoreResult<Calendar> {
    Ok(Calendar {
        id: CalendarId(r.try_get(0)?),
        account: AccountId(r.try_get(1)?),
        name: r.try_get(2)?,
        display_name: r.try_get(3)?,
        description: r.try_get(4)?,
        color: r.try_get(5)?,
        timezone: r.try_get(6)?,
        components: kinds(r.try_get(7)?),
        sync_token: unsigned(r.try_get(8)?),
    })
}

fn meta_from_row(r: &Row) -> StoreResult<CalendarObjectMeta> {
    let name: String = r.try_get(1)?;
    Ok(CalendarObjectMeta {
        calendar: CalendarId(r.try_get(0)?),
        uid: r.try_get(2)?,
        etag: r.try_get(3)?,
        component: kind(r.try_get(4)?, &name)?,
        size: unsigned(r.try_get(5)?),
        first_start: r.try_get(6)?,
        last_end: r.try_get(7)?,
        modseq: unsigned(r.try_get(8)?),
        name,
    })
}

fn object_from_row(r: &Row) -> StoreResult<CalendarObject> {
    Ok(CalendarObject {
        meta: meta_from_row(r)?,
        data: r.try_get(9)?,
    })
}

/// The kinds of a stored bit set, in [`ComponentKind::ALL`] order.
fn kinds(bits: i32) -> Vec<ComponentKind> {
    ComponentKind::ALL
        .into_iter()
        .filter(|k| i64::from(bits) & k.bit() != 0)
        .collect()
}

/// The bit set of `components`; none means every kind.
fn bits(components: &[ComponentKind]) -> i32 {
    let all = if components.is_empty() {
        &ComponentKind::ALL[..]
    } else {
        components
    };
    let set = all.iter().fold(0, |acc, k| acc | k.bit());
    // Each kind is one of the low bits (`ComponentKind::bit`): the set
    // always fits an INTEGER.
    i32::try_from(set).unwrap_or(i32::MAX)
}

/// The one kind an object's stored bit names.
fn kind(bit: i32, name: &str) -> StoreResult<ComponentKind> {
    ComponentKind::ALL
        .into_iter()
        .find(|k| k.bit() == i64::from(bit))
        .ok_or_else(|| {
            StoreError::Database(format!(
                "calendar object {name} has the unknown component kind {bit}; \
                 was the database written by a newer Postern?"
            ))
        })
}

/// A counter or size read back; never negative as written.
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A counter or size to store; none comes near `i64::MAX`.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn missing(what: String) -> StoreError {
    StoreError::NotFound { what }
}

fn calendar_missing(id: CalendarId) -> StoreError {
    missing(format!("calendar {}", id.0))
}

// --- collections ---

/// Creates a calendar with its properties in one transaction: a value
/// refused by `apply` rolls the new row back with it.
pub(super) fn create_calendar_with(
    store: &PgStore,
    account: AccountId,
    name: &str,
    components: &[ComponentKind],
    props: &CalendarProps,
) -> StoreResult<Calendar> {
    let name = names::calendar_name(name)?;
    store.write(|tx, _| {
        let mut cal = insert(tx, account, &name, components)?;
        apply(&mut cal, props)?;
        save(tx, &cal)?;
        Ok(cal)
    })
}

/// Inserts an empty calendar (sync token 0). A concurrent insert of the
/// same name waits for the other to commit and then finds it.
fn insert(
    tx: &mut Tx<'_>,
    account: AccountId,
    name: &str,
    components: &[ComponentKind],
) -> StoreResult<Calendar> {
    let sql = format!(
        "INSERT INTO calendars (account, name, display_name, components) VALUES ($1, $2, '', $3)
         ON CONFLICT (account, name) DO NOTHING RETURNING {COLUMNS}"
    );
    match tx.query_opt(&sql, &[&account.0, &name, &bits(components)]) {
        Ok(Some(row)) => calendar_from_row(&row),
        Ok(None) => Err(StoreError::AlreadyExists {
            what: format!("calendar {name}"),
        }),
        Err(e) if is_foreign_key_violation(&e) => Err(missing(format!("account {}", account.0))),
        Err(e) => Err(e.into()),
    }
}

/// The account's calendars, sorted by name.
pub(super) fn calendars(store: &PgStore, account: AccountId) -> StoreResult<Vec<Calendar>> {
    store.read(|tx| {
        let sql = format!("SELECT {COLUMNS} FROM calendars WHERE account = $1");
        let mut list = tx
            .query(&sql, &[&account.0])?
            .iter()
            .map(calendar_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if list.is_empty()
            && tx
                .query_opt("SELECT 1 FROM accounts WHERE id = $1", &[&account.0])?
                .is_none()
        {
            return Err(missing(format!("account {}", account.0)));
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    })
}

/// The account's calendar named exactly `name`; a malformed name is
/// simply not found.
pub(super) fn calendar(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Calendar>> {
    let Ok(name) = names::calendar_name(name) else {
        return Ok(None);
    };
    store.read(|tx| {
        let sql = format!("SELECT {COLUMNS} FROM calendars WHERE account = $1 AND name = $2");
        tx.query_opt(&sql, &[&account.0, &name])?
            .as_ref()
            .map(calendar_from_row)
            .transpose()
    })
}

/// Changes the properties given. The row is locked while read, so that
/// two nodes changing different properties at once keep both.
pub(super) fn update_calendar(
    store: &PgStore,
    id: CalendarId,
    props: &CalendarProps,
) -> StoreResult<Calendar> {
    store.write(|tx, _| {
        let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1 FOR NO KEY UPDATE");
        let row = tx.query_opt(&sql, &[&id.0])?;
        let mut cal = calendar_from_row(&row.ok_or_else(|| calendar_missing(id))?)?;
        apply(&mut cal, props)?;
        save(tx, &cal)?;
        Ok(cal)
    })
}

/// Applies `props` to `cal`, refusing what SQLite refuses; `Some("")`
/// clears an optional property, `None` keeps it.
fn apply(cal: &mut Calendar, props: &CalendarProps) -> StoreResult<()> {
    if let Some(v) = &props.display_name {
        names::calendar_text("display name", v, MAX_LABEL, false)?;
        cal.display_name.clone_from(v);
    }
    let (text, label) = ((MAX_TEXT, true), (MAX_LABEL, false));
    set_optional(
        &mut cal.description,
        props.description.as_deref(),
        "description",
        text,
    )?;
    set_optional(&mut cal.color, props.color.as_deref(), "color", label)?;
    set_optional(
        &mut cal.timezone,
        props.timezone.as_deref(),
        "timezone",
        text,
    )
}

/// Applies one optional property of [`CalendarProps`] to `field`,
/// refusing a value longer than `max` or with control characters
/// (line breaks allowed when `multiline`).
fn set_optional(
    field: &mut Option<String>,
    value: Option<&str>,
    what: &str,
    (max, multiline): (usize, bool),
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

/// Writes `cal`'s properties (not its members or sync token).
fn save(tx: &mut Tx<'_>, cal: &Calendar) -> StoreResult<()> {
    tx.execute(
        "UPDATE calendars SET display_name = $2, description = $3, color = $4, timezone = $5
         WHERE id = $1",
        &[
            &cal.id.0,
            &cal.display_name,
            &cal.description,
            &cal.color,
            &cal.timezone,
        ],
    )?;
    Ok(())
}

/// Deletes a calendar with its members and change log.
pub(super) fn delete_calendar(store: &PgStore, id: CalendarId) -> StoreResult<()> {
    store.write(|tx, _| {
        lock(tx, id)?;
        // Members first, while the calendar row still exists: the
        // used_bytes trigger finds the account through it, and a cascade
        // from the calendar's row would run after that row is gone.
        tx.execute("DELETE FROM calendar_objects WHERE calendar = $1", &[&id.0])?;
        tx.execute("DELETE FROM calendars WHERE id = $1", &[&id.0])?;
        Ok(())
    })
}

/// The calendar with this id, or `NotFound`.
fn require(tx: &mut Tx<'_>, id: CalendarId) -> StoreResult<Calendar> {
    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1");
    let row = tx.query_opt(&sql, &[&id.0])?;
    calendar_from_row(&row.ok_or_else(|| calendar_missing(id))?)
}

/// The account owning a calendar, as its quota check needs it.
struct Owner {
    address: String,
    quota: u64,
    used: u64,
}

impl Owner {
    /// `QuotaExceeded` unless `grow` more bytes fit (a quota of 0 is no
    /// limit), as SQLite's `check_quota`.
    fn check_quota(self, grow: u64) -> StoreResult<()> {
        if self.quota != 0 && self.used.saturating_add(grow) > self.quota {
            return Err(StoreError::QuotaExceeded {
                address: self.address,
                used: self.used,
                quota: self.quota,
            });
        }
        Ok(())
    }
}

/// Locks the calendar's account, then the calendar, for a write of its
/// members: account before calendar, the order every write of the store
/// takes, so that two nodes do not deadlock. `NotFound` if either is
/// gone. `NO KEY UPDATE` leaves inserts referencing the rows free.
fn lock(tx: &mut Tx<'_>, id: CalendarId) -> StoreResult<(Calendar, Owner)> {
    let owner = tx
        .query_opt(
            "SELECT address, quota_bytes, used_bytes FROM accounts
             WHERE id = (SELECT account FROM calendars WHERE id = $1)
             FOR NO KEY UPDATE",
            &[&id.0],
        )?
        .ok_or_else(|| calendar_missing(id))?;
    let owner = Owner {
        address: owner.try_get(0)?,
        quota: unsigned(owner.try_get(1)?),
        used: unsigned(owner.try_get(2)?),
    };
    let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1 FOR NO KEY UPDATE");
    let row = tx.query_opt(&sql, &[&id.0])?;
    let cal = calendar_from_row(&row.ok_or_else(|| calendar_missing(id))?)?;
    Ok((cal, owner))
}

/// Moves the calendar's sync token on by one and returns the new value:
/// the modification sequence of the change being made. The row lock
/// orders this against every other node's write of the calendar.
fn bump(tx: &mut Tx<'_>, id: CalendarId) -> StoreResult<u64> {
    let row = tx
        .query_opt(
            "UPDATE calendars SET sync_token = sync_token + 1 WHERE id = $1 RETURNING sync_token",
            &[&id.0],
        )?
        .ok_or_else(|| calendar_missing(id))?;
    Ok(unsigned(row.try_get(0)?))
}

// --- members: reads ---

/// The calendar's objects' metadata, sorted by name; the data column is
/// left out: a listing must not read every body.
pub(super) fn calendar_objects(
    store: &PgStore,
    calendar: CalendarId,
) -> StoreResult<Vec<CalendarObjectMeta>> {
    store.read(|tx| {
        require(tx, calendar)?;
        let sql = format!("SELECT {META} FROM calendar_objects WHERE calendar = $1");
        let mut list = tx
            .query(&sql, &[&calendar.0])?
            .iter()
            .map(meta_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    })
}

/// One object with its data; `NotFound` only for an unknown calendar, a
/// malformed name is simply not found.
pub(super) fn calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<CalendarObject>> {
    let name = names::calendar_object_name(name).ok();
    store.read(|tx| {
        require(tx, calendar)?;
        let Some(name) = name else {
            return Ok(None);
        };
        let sql =
            format!("SELECT {META}, data FROM calendar_objects WHERE calendar = $1 AND name = $2");
        tx.query_opt(&sql, &[&calendar.0, &name])?
            .as_ref()
            .map(object_from_row)
            .transpose()
    })
}

/// The objects of `names` that exist, in the order asked, each once
/// (RFC 4791 §7.9 calendar-multiget), read with one statement.
pub(super) fn calendar_objects_by_name(
    store: &PgStore,
    calendar: CalendarId,
    names: &[String],
) -> StoreResult<Vec<CalendarObject>> {
    store.read(|tx| {
        require(tx, calendar)?;
        let sql = format!(
            "SELECT {META}, data FROM calendar_objects WHERE calendar = $1 AND name = ANY($2)"
        );
        let mut found = tx
            .query(&sql, &[&calendar.0, &names])?
            .iter()
            .map(|r| object_from_row(r).map(|o| (o.meta.name.clone(), o)))
            .collect::<StoreResult<HashMap<_, _>>>()?;
        // Taking each one out leaves a name asked twice with one answer.
        Ok(names.iter().filter_map(|n| found.remove(n)).collect())
    })
}

/// The objects whose bounds may overlap `[start, end)`, sorted by name.
pub(super) fn calendar_objects_in_range(
    store: &PgStore,
    calendar: CalendarId,
    start: i64,
    end: i64,
) -> StoreResult<Vec<CalendarObject>> {
    // `last_end >= start` rather than `>`: an instant (DTSTART = DTEND)
    // at `start` overlaps the range (RFC 4791 §9.9); the caller's exact
    // check drops what only touches it. A missing bound never excludes.
    // Two searches of the span index (calendar, first_start, last_end),
    // as in SQLite: the objects without a start, and those starting
    // before the end whose end the index entry shows to be late enough.
    let sql = format!(
        "SELECT {META}, data FROM calendar_objects WHERE calendar = $1
         AND first_start IS NULL AND (last_end IS NULL OR last_end >= $2)
         UNION ALL
         SELECT {META}, data FROM calendar_objects WHERE calendar = $1
         AND first_start < $3 AND (last_end IS NULL OR last_end >= $2)"
    );
    store.read(|tx| {
        require(tx, calendar)?;
        let mut found = tx
            .query(&sql, &[&calendar.0, &start, &end])?
            .iter()
            .map(object_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        found.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        Ok(found)
    })
}

// --- members: writes ---

/// Creates or replaces an object; see `Store::put_calendar_object`.
pub(super) fn put_calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
    pre: Precondition,
) -> StoreResult<(CalendarObjectMeta, bool)> {
    crate::calendar_checks::object(obj)?;
    store.write(|tx, fx| put(tx, calendar, obj, &pre, fx))
}

/// `put_calendar_object`'s transaction: the checks in the trait's order
/// (precondition, UID, component, quota), then the write.
fn put(
    tx: &mut Tx<'_>,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
    pre: &Precondition,
    fx: &mut Effects,
) -> StoreResult<(CalendarObjectMeta, bool)> {
    let (cal, owner) = lock(tx, calendar)?;
    let old = current(tx, calendar, obj.name)?;
    crate::calendar_checks::precondition(pre, old.as_ref().map(|(e, _)| e.as_str()), obj.name)?;
    refuse_uid_conflict(tx, calendar, obj)?;
    refuse_component(&cal, obj.component)?;
    let size = u64::try_from(obj.data.len()).unwrap_or(u64::MAX);
    let old_size = old.as_ref().map_or(0, |(_, s)| *s);
    // Only growth is checked: replacing an object with a smaller one must
    // work even for an account already over its quota.
    if size > old_size {
        owner.check_quota(size - old_size)?;
    }
    let modseq = bump(tx, calendar)?;
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
    upsert(tx, &meta, obj.data)?;
    record(tx, calendar, obj.name, modseq, false)?;
    fx.changes.push(Change::Calendar {
        calendar,
        sync_token: modseq,
    });
    Ok((meta, old.is_none()))
}

/// The current ETag and size of a resource, if it exists.
fn current(
    tx: &mut Tx<'_>,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<(String, u64)>> {
    let row = tx.query_opt(
        "SELECT etag, size FROM calendar_objects WHERE calendar = $1 AND name = $2",
        &[&calendar.0, &name],
    )?;
    row.map(|r| Ok((r.try_get(0)?, unsigned(r.try_get(1)?))))
        .transpose()
}

/// `UidConflict` if another resource of the calendar has the UID
/// (RFC 4791 §5.3.2.1 no-uid-conflict). Checked under the calendar's
/// lock, so no other node adds the UID before this write commits.
fn refuse_uid_conflict(
    tx: &mut Tx<'_>,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
) -> StoreResult<()> {
    let owner = tx.query_opt(
        "SELECT name FROM calendar_objects WHERE calendar = $1 AND uid = $2",
        &[&calendar.0, &obj.uid],
    )?;
    let existing: Option<String> = owner.map(|r| r.try_get(0)).transpose()?;
    match existing {
        Some(existing) if existing != obj.name => Err(StoreError::UidConflict { existing }),
        _ => Ok(()),
    }
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

fn upsert(tx: &mut Tx<'_>, meta: &CalendarObjectMeta, data: &[u8]) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO calendar_objects
             (calendar, name, uid, etag, component, size, first_start, last_end, modseq, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (calendar, name) DO UPDATE SET
             uid = EXCLUDED.uid, etag = EXCLUDED.etag, component = EXCLUDED.component,
             size = EXCLUDED.size, first_start = EXCLUDED.first_start,
             last_end = EXCLUDED.last_end, modseq = EXCLUDED.modseq, data = EXCLUDED.data",
        &[
            &meta.calendar.0,
            &meta.name,
            &meta.uid,
            &meta.etag,
            &bits(&[meta.component]),
            &signed(meta.size),
            &meta.first_start,
            &meta.last_end,
            &signed(meta.modseq),
            &data,
        ],
    )?;
    Ok(())
}

/// Records the last change of `name` (a tombstone when `deleted`).
fn record(
    tx: &mut Tx<'_>,
    calendar: CalendarId,
    name: &str,
    modseq: u64,
    deleted: bool,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO calendar_changes (calendar, name, modseq, deleted) VALUES ($1, $2, $3, $4)
         ON CONFLICT (calendar, name) DO UPDATE SET
             modseq = EXCLUDED.modseq, deleted = EXCLUDED.deleted",
        &[&calendar.0, &name, &signed(modseq), &deleted],
    )?;
    Ok(())
}

/// Deletes an object; see `Store::delete_calendar_object`.
pub(super) fn delete_calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    name: &str,
    pre: Precondition,
) -> StoreResult<()> {
    let name = names::calendar_object_name(name)?;
    store.write(|tx, fx| {
        lock(tx, calendar)?;
        let old = current(tx, calendar, &name)?;
        crate::calendar_checks::precondition(&pre, old.as_ref().map(|(e, _)| e.as_str()), &name)?;
        if old.is_none() {
            return Err(missing(format!("calendar object {name}")));
        }
        tx.execute(
            "DELETE FROM calendar_objects WHERE calendar = $1 AND name = $2",
            &[&calendar.0, &name],
        )?;
        let modseq = bump(tx, calendar)?;
        record(tx, calendar, &name, modseq, true)?;
        fx.changes.push(Change::Calendar {
            calendar,
            sync_token: modseq,
        });
        Ok(())
    })
}

// --- sync ---

/// What changed after `token`; see `Store::calendar_changes_since`. One
/// snapshot: the token returned covers exactly the changes listed.
pub(super) fn calendar_changes_since(
    store: &PgStore,
    calendar: CalendarId,
    token: u64,
) -> StoreResult<CalendarChanges> {
    store.read(|tx| {
        let cal = require(tx, calendar)?;
        if token > cal.sync_token {
            return Err(StoreError::Invalid {
                what: format!("sync token {token}"),
                why: format!(
                    "calendar {} is only at {}; the client must synchronise again from the \
                     start (RFC 6578 §3.2 valid-sync-token)",
                    cal.name, cal.sync_token
                ),
            });
        }
        let mut out = CalendarChanges {
            sync_token: cal.sync_token,
            ..CalendarChanges::default()
        };
        // Token 0 is the initial synchronisation: every member, no
        // deletions (RFC 6578 §3.4). Otherwise the log names each changed
        // resource once.
        let rows = if token == 0 {
            tx.query(
                "SELECT name, FALSE FROM calendar_objects WHERE calendar = $1",
                &[&calendar.0],
            )?
        } else {
            tx.query(
                "SELECT name, deleted FROM calendar_changes WHERE calendar = $1 AND modseq > $2",
                &[&calendar.0, &signed(token)],
            )?
        };
        for row in rows {
            let name: String = row.try_get(0)?;
            if row.try_get(1)? {
                out.deleted.push(name);
            } else {
                out.changed.push(name);
            }
        }
        out.changed.sort();
        out.deleted.sort();
        Ok(out)
    })
}
