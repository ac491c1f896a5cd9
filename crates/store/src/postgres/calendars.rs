//! PostgreSQL: calendars (to be written).

use super::PgStore;
use crate::error::StoreResult;
#[allow(unused_imports)]
use crate::model::*;

pub(super) fn create_calendar_with(
    store: &PgStore,
    account: AccountId,
    name: &str,
    components: &[ComponentKind],
    props: &CalendarProps,
) -> StoreResult<Calendar> {
    let _ = (store, account, name, components, props);
    todo!("PostgreSQL create_calendar_with")
}

pub(super) fn calendars(store: &PgStore, account: AccountId) -> StoreResult<Vec<Calendar>> {
    let _ = (store, account);
    todo!("PostgreSQL calendars")
}

pub(super) fn calendar(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Calendar>> {
    let _ = (store, account, name);
    todo!("PostgreSQL calendar")
}

pub(super) fn update_calendar(
    store: &PgStore,
    id: CalendarId,
    props: &CalendarProps,
) -> StoreResult<Calendar> {
    let _ = (store, id, props);
    todo!("PostgreSQL update_calendar")
}

pub(super) fn delete_calendar(store: &PgStore, id: CalendarId) -> StoreResult<()> {
    let _ = (store, id);
    todo!("PostgreSQL delete_calendar")
}

pub(super) fn calendar_objects(
    store: &PgStore,
    calendar: CalendarId,
) -> StoreResult<Vec<CalendarObjectMeta>> {
    let _ = (store, calendar);
    todo!("PostgreSQL calendar_objects")
}

pub(super) fn calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    name: &str,
) -> StoreResult<Option<CalendarObject>> {
    let _ = (store, calendar, name);
    todo!("PostgreSQL calendar_object")
}

pub(super) fn calendar_objects_by_name(
    store: &PgStore,
    calendar: CalendarId,
    names: &[String],
) -> StoreResult<Vec<CalendarObject>> {
    let _ = (store, calendar, names);
    todo!("PostgreSQL calendar_objects_by_name")
}

pub(super) fn calendar_objects_in_range(
    store: &PgStore,
    calendar: CalendarId,
    start: i64,
    end: i64,
) -> StoreResult<Vec<CalendarObject>> {
    let _ = (store, calendar, start, end);
    todo!("PostgreSQL calendar_objects_in_range")
}

pub(super) fn put_calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    obj: &NewCalendarObject<'_>,
    pre: Precondition,
) -> StoreResult<(CalendarObjectMeta, bool)> {
    let _ = (store, calendar, obj, pre);
    todo!("PostgreSQL put_calendar_object")
}

pub(super) fn delete_calendar_object(
    store: &PgStore,
    calendar: CalendarId,
    name: &str,
    pre: Precondition,
) -> StoreResult<()> {
    let _ = (store, calendar, name, pre);
    todo!("PostgreSQL delete_calendar_object")
}

pub(super) fn calendar_changes_since(
    store: &PgStore,
    calendar: CalendarId,
    token: u64,
) -> StoreResult<CalendarChanges> {
    let _ = (store, calendar, token);
    todo!("PostgreSQL calendar_changes_since")
}
