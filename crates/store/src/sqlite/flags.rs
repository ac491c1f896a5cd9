//! How flags are stored: the five system flags as bits of
//! `messages.flags`, keywords as rows of `keywords`, byte for byte.
//!
//! Flags always come back in canonical order (see [`crate::names::flags`]):
//! system flags in [`Flag`]'s order, then keywords sorted bytewise (SQLite's
//! BINARY collation is `memcmp`, which on UTF-8 is Rust's `String` order).
//!
//! # Layout
//! - [`split`] / [`join`]: a flag list to and from (bits, keywords).
//! - [`keywords_of`], [`keywords_in`], [`replace_keywords`]: the table.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::error::StoreResult;
use crate::model::Flag;

/// The system flags with their bits. The bit values are on disk: never
/// renumber them.
const BITS: [(Flag, i64); 5] = [
    (Flag::Seen, 1),
    (Flag::Answered, 2),
    (Flag::Flagged, 4),
    (Flag::Deleted, 8),
    (Flag::Draft, 16),
];

/// Splits a canonical flag list into the system-flag bits and the keywords.
pub(super) fn split(flags: &[Flag]) -> (i64, Vec<String>) {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for flag in flags {
        match flag {
            Flag::Keyword(k) => keywords.push(k.clone()),
            system => bits |= bit(system),
        }
    }
    (bits, keywords)
}

fn bit(flag: &Flag) -> i64 {
    BITS.iter().find(|(f, _)| f == flag).map_or(0, |(_, b)| *b)
}

/// The flag list for `bits` and (sorted) `keywords`.
pub(super) fn join(bits: i64, keywords: Vec<String>) -> Vec<Flag> {
    let system = BITS
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(f, _)| f.clone());
    system
        .chain(keywords.into_iter().map(Flag::Keyword))
        .collect()
}

/// One message's keywords, sorted.
pub(super) fn keywords_of(conn: &Connection, message: i64) -> StoreResult<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT keyword FROM keywords WHERE message = ?1 ORDER BY keyword")?;
    let rows = stmt.query_map([message], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The keywords of every message of a mailbox, by message row id.
pub(super) fn keywords_in(
    conn: &Connection,
    mailbox: i64,
) -> StoreResult<HashMap<i64, Vec<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.message, k.keyword FROM keywords k JOIN messages m ON m.id = k.message
         WHERE m.mailbox = ?1 ORDER BY k.message, k.keyword",
    )?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    let rows = stmt.query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?;
    for row in rows {
        let (message, keyword) = row?;
        map.entry(message).or_default().push(keyword);
    }
    Ok(map)
}

/// Sets a message's keywords to exactly `keywords`.
pub(super) fn replace_keywords(
    conn: &Connection,
    message: i64,
    keywords: &[String],
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM keywords WHERE message = ?1")?
        .execute([message])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO keywords (message, keyword) VALUES (?1, ?2)")?;
    for keyword in keywords {
        insert.execute(params![message, keyword])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        let flags = vec![
            Flag::Seen,
            Flag::Deleted,
            Flag::Draft,
            Flag::Keyword("$Forwarded".into()),
            Flag::Keyword("\\Seen".into()),
        ];
        let (bits, keywords) = split(&flags);
        assert_eq!(bits, 1 | 8 | 16);
        assert_eq!(join(bits, keywords), flags);
    }
}
