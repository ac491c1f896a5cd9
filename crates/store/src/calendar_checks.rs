//! The checks of calendar object writes that every back end makes, so
//! that both refuse the same input, answer preconditions alike and give
//! the same bytes the same ETag (a store migrated from SQLite to
//! PostgreSQL keeps its ETags, and clients their caches).

use crate::blobs::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{NewCalendarObject, Precondition};
use crate::names;

/// `Invalid` for a calendar object whose name, UID or time bounds are
/// malformed.
pub(crate) fn object(obj: &NewCalendarObject<'_>) -> StoreResult<()> {
    names::calendar_object_name(obj.name)?;
    names::calendar_uid(obj.uid)?;
    if let (Some(start), Some(end)) = (obj.first_start, obj.last_end) {
        if end < start {
            return Err(StoreError::Invalid {
                what: format!("calendar object {}", obj.name),
                why: format!("its time bounds end ({end}) before they start ({start})"),
            });
        }
    }
    Ok(())
}

/// `PreconditionFailed` unless `pre` holds for a resource whose current
/// ETag is `etag` (`None`: it does not exist). RFC 9110 §13.1.1: If-Match
/// fails on a missing resource; §13.1.2: If-None-Match `*` fails on an
/// existing one.
pub(crate) fn precondition(pre: &Precondition, etag: Option<&str>, name: &str) -> StoreResult<()> {
    let holds = match pre {
        Precondition::Any => true,
        Precondition::MustNotExist => etag.is_none(),
        Precondition::MustExist => etag.is_some(),
        Precondition::EtagMatches(want) => etag == Some(want.as_str()),
    };
    if !holds {
        return Err(StoreError::PreconditionFailed {
            what: format!("calendar object {name}"),
        });
    }
    Ok(())
}

/// The strong ETag of `data`: the first 128 bits of its SHA-256 in hex,
/// quoted (RFC 9110 §8.8.3). Equal bytes, equal tag; any change, another.
pub(crate) fn etag_of(data: &[u8]) -> String {
    let hex = BlobStore::id_of(data).0;
    // A SHA-256 in hex is 64 ASCII digits: the first 32 always exist.
    format!("\"{}\"", hex.get(..32).unwrap_or(&hex))
}
