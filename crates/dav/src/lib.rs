//! The protocol half of CalDAV, sans I/O: request bodies in, typed values
//! out; typed answers in, XML bytes out; iCalendar objects checked and
//! expanded. WebDAV is RFC 4918, CalDAV RFC 4791, sync-collection RFC
//! 6578. The HTTP layer (methods, headers, status codes, discovery)
//! lives in `postern-web`; the storage of calendars in `postern-store`.
//!
//! Pure: no I/O, no clock (times are Unix seconds given by the caller).
//!
//! # Layout
//! - `xml` (private): the bounded XML reader (no DOCTYPE, depth and
//!   element limits, namespaces resolved) and the text escaper.
//! - `request`: PROPFIND, PROPPATCH, MKCALENDAR, MKCOL and REPORT bodies.
//! - `filter`: the calendar-query filter tree (RFC 4791 §9.7).
//! - `multistatus`: the 207 body, the precondition `error` body and the
//!   extended MKCOL's `mkcol-response`.
//! - `ical`: iCalendar objects (RFC 4791 §4.1 checks, instances, filters).
//! - `expand`: `<C:expand>`, a recurring object spelled out as instances in
//!   UTC (RFC 4791 §9.6.5).
//! - `imip`: scheduling messages by mail (iTIP RFC 5546, iMIP RFC 6047).
//! - `error`: [`DavError`], the reason a body was refused.

#![forbid(unsafe_code)]

mod error;
pub mod expand;
pub mod filter;
pub mod ical;
pub mod imip;
pub mod multistatus;
pub mod request;
mod xml;

use std::fmt;

pub use error::DavError;
pub use filter::{Collation, CompFilter, Filter, ParamFilter, PropFilter, TextMatch, TimeRange};
pub use multistatus::{
    encode_path, Condition, MkcolResponse, Multistatus, Privilege, Response, Value,
};
pub use request::{
    parse_mkcalendar, parse_mkcol, parse_propfind, parse_proppatch, parse_report, CalendarQuery,
    Expand, Multiget, Patch, PropValue, Propfind, Report, SyncCollection, SyncLevel,
};
pub use xml::{MAX_DEPTH, MAX_ELEMENTS};

/// The WebDAV namespace (RFC 4918 §21).
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791 §5.1).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's calendar server namespace, for `getctag`.
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal namespace, for `calendar-color` and `calendar-order`.
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// A property or element name: a namespace URI and a local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    /// The namespace URI (empty for none).
    pub namespace: String,
    /// The local name.
    pub local: String,
}

impl PropName {
    /// `namespace:local`.
    pub fn new(namespace: impl Into<String>, local: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            local: local.into(),
        }
    }

    /// A property in the `DAV:` namespace.
    pub fn dav(local: &str) -> Self {
        Self::new(DAV, local)
    }

    /// A property in the CalDAV namespace.
    pub fn caldav(local: &str) -> Self {
        Self::new(CALDAV, local)
    }

    /// Whether this is `namespace:local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace == namespace && self.local == local
    }
}

impl fmt::Display for PropName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.namespace, self.local)
    }
}
