//! The calendar-query filter (RFC 4791 §9.7): a tree of component
//! filters with time ranges, property filters and text matches. Matching
//! an object against it is [`crate::ical::matches`].

use crate::error::{excerpt, DavError};
use crate::xml::Element;
use crate::CALDAV;

/// The whole filter: one component filter for `VCALENDAR` (§9.7).
pub type Filter = CompFilter;

/// `CALDAV:comp-filter` (§9.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompFilter {
    /// The component name, e.g. `VEVENT` (upper case).
    pub name: String,
    /// Matches when the component is absent.
    pub is_not_defined: bool,
    /// Matches when the component overlaps this range.
    pub time_range: Option<TimeRange>,
    /// Every one must match.
    pub prop_filters: Vec<PropFilter>,
    /// Every one must match, among this component's children.
    pub comp_filters: Vec<Self>,
}

/// `CALDAV:time-range` (§9.9), in Unix seconds; at least one bound is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start; `None` is minus infinity.
    pub start: Option<i64>,
    /// Exclusive end; `None` is plus infinity.
    pub end: Option<i64>,
}

impl TimeRange {
    /// Whether `[start, end)` overlaps this range (§9.9's table, for an
    /// instance whose end is known; a zero-length one at `start` counts).
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        let before_end = self.end.is_none_or(|e| start < e);
        let after_start = self
            .start
            .is_none_or(|s| end > s || (start == end && start >= s));
        before_end && after_start
    }
}

/// `CALDAV:prop-filter` (§9.7.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropFilter {
    /// The property name, e.g. `SUMMARY` (upper case).
    pub name: String,
    /// Matches when the property is absent.
    pub is_not_defined: bool,
    /// Matches when the property's date-time value is within this range.
    pub time_range: Option<TimeRange>,
    /// Matches on the property's value.
    pub text_match: Option<TextMatch>,
    /// Every one must match.
    pub param_filters: Vec<ParamFilter>,
}

/// `CALDAV:param-filter` (§9.7.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamFilter {
    /// The parameter name, e.g. `PARTSTAT` (upper case).
    pub name: String,
    /// Matches when the parameter is absent.
    pub is_not_defined: bool,
    /// Matches on the parameter's value.
    pub text_match: Option<TextMatch>,
}

/// `CALDAV:text-match` (§9.7.5): a substring test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The text to find.
    pub text: String,
    /// How characters compare.
    pub collation: Collation,
    /// `negate-condition="yes"`.
    pub negate: bool,
}

impl TextMatch {
    /// Whether `value` satisfies this test (negation applied).
    pub fn matches(&self, value: &str) -> bool {
        let found = match self.collation {
            Collation::Octet => value.contains(&self.text),
            Collation::AsciiCasemap => value
                .to_ascii_lowercase()
                .contains(&self.text.to_ascii_lowercase()),
        };
        found != self.negate
    }
}

/// The collations CalDAV servers must support (RFC 4791 §7.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;ascii-casemap`, the default: ASCII letters compare without case.
    AsciiCasemap,
    /// `i;octet`: exact.
    Octet,
}

/// Parses `CALDAV:filter`.
pub(crate) fn parse_filter(filter: &Element) -> Result<Filter, DavError> {
    let root = filter
        .child(CALDAV, "comp-filter")
        .ok_or(DavError::Missing("CALDAV:comp-filter"))?;
    let comp = comp_filter(root)?;
    if comp.name != "VCALENDAR" {
        return Err(DavError::Invalid {
            what: "top-level comp-filter name (must be VCALENDAR)",
            value: excerpt(&comp.name),
        });
    }
    Ok(comp)
}

fn comp_filter(el: &Element) -> Result<CompFilter, DavError> {
    Ok(CompFilter {
        name: name_of(el)?,
        is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
        time_range: el.child(CALDAV, "time-range").map(time_range).transpose()?,
        prop_filters: el
            .all(CALDAV, "prop-filter")
            .map(prop_filter)
            .collect::<Result<_, _>>()?,
        comp_filters: el
            .all(CALDAV, "comp-filter")
            .map(comp_filter)
            .collect::<Result<_, _>>()?,
    })
}

fn prop_filter(el: &Element) -> Result<PropFilter, DavError> {
    Ok(PropFilter {
        name: name_of(el)?,
        is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
        time_range: el.child(CALDAV, "time-range").map(time_range).transpose()?,
        text_match: el.child(CALDAV, "text-match").map(text_match).transpose()?,
        param_filters: el
            .all(CALDAV, "param-filter")
            .map(|p| {
                Ok(ParamFilter {
                    name: name_of(p)?,
                    is_not_defined: p.child(CALDAV, "is-not-defined").is_some(),
                    text_match: p.child(CALDAV, "text-match").map(text_match).transpose()?,
                })
            })
            .collect::<Result<_, DavError>>()?,
    })
}

fn name_of(el: &Element) -> Result<String, DavError> {
    match el.attr("name") {
        Some(n) if !n.is_empty() => Ok(n.to_ascii_uppercase()),
        _ => Err(DavError::Missing("the name attribute of a filter")),
    }
}

fn text_match(el: &Element) -> Result<TextMatch, DavError> {
    let collation = match el.attr("collation").unwrap_or("i;ascii-casemap") {
        "i;ascii-casemap" => Collation::AsciiCasemap,
        "i;octet" => Collation::Octet,
        other => return Err(DavError::UnsupportedCollation(excerpt(other))),
    };
    let negate = match el.attr("negate-condition").unwrap_or("no") {
        "yes" => true,
        "no" => false,
        other => {
            return Err(DavError::Invalid {
                what: "negate-condition",
                value: excerpt(other),
            })
        }
    };
    Ok(TextMatch {
        text: el.text.clone(),
        collation,
        negate,
    })
}

fn time_range(el: &Element) -> Result<TimeRange, DavError> {
    let bound = |name: &'static str| {
        el.attr(name)
            .map(|v| {
                utc_seconds(v).ok_or_else(|| DavError::Invalid {
                    what: name,
                    value: excerpt(v),
                })
            })
            .transpose()
    };
    let range = TimeRange {
        start: bound("start")?,
        end: bound("end")?,
    };
    // §9.9: at least one of the attributes; and a range that ends before
    // it starts can match nothing, which is the client's mistake.
    match (range.start, range.end) {
        (None, None) => Err(DavError::Missing("the start or end of a time-range")),
        (Some(s), Some(e)) if e <= s => Err(DavError::Invalid {
            what: "time-range (end not after start)",
            value: format!("{s}..{e}"),
        }),
        _ => Ok(range),
    }
}

/// An iCalendar UTC date-time `YYYYMMDDTHHMMSSZ` (RFC 5545 §3.3.5 form 2,
/// required by RFC 4791 §9.9) as Unix seconds.
pub fn utc_seconds(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = v.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the usual
/// era-based computation).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{parse_report, Report};

    #[test]
    fn utc_times() {
        assert_eq!(utc_seconds("19700101T000000Z"), Some(0));
        assert_eq!(utc_seconds("20060104T000000Z"), Some(1_136_332_800));
        assert_eq!(utc_seconds("20240229T120000Z"), Some(1_709_208_000));
        for bad in [
            "20230229T000000Z",
            "20060104T000000",
            "20060104",
            "2006010AT000000Z",
            "20061304T000000Z",
            "+0060104T000000Z",
        ] {
            assert_eq!(utc_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc4791_example_filter() {
        // RFC 4791 §7.8.1, trimmed.
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="20060104T000000Z" end="20060105T000000Z"/>
        <C:prop-filter name="summary"><C:text-match collation="i;octet" negate-condition="yes">Lunch</C:text-match></C:prop-filter>
        <C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>NEEDS-ACTION</C:text-match></C:param-filter></C:prop-filter>
      </C:comp-filter>
      <C:comp-filter name="VTODO"><C:is-not-defined/></C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#;
        let Ok(Report::CalendarQuery(q)) = parse_report(body) else {
            panic!("not a calendar-query");
        };
        let ev = &q.filter.comp_filters[0];
        assert_eq!(ev.name, "VEVENT");
        assert_eq!(
            ev.time_range,
            Some(TimeRange {
                start: Some(1_136_332_800),
                end: Some(1_136_419_200)
            })
        );
        assert_eq!(ev.prop_filters[0].name, "SUMMARY");
        assert_eq!(
            ev.prop_filters[0].text_match,
            Some(TextMatch {
                text: "Lunch".into(),
                collation: Collation::Octet,
                negate: true
            })
        );
        assert_eq!(ev.prop_filters[1].param_filters[0].name, "PARTSTAT");
        assert!(q.filter.comp_filters[1].is_not_defined);
    }

    fn query(inner: &str) -> Result<Report, DavError> {
        let body = format!("<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:filter>{inner}</C:filter></C:calendar-query>");
        parse_report(body.as_bytes())
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(matches!(
            query("<C:comp-filter name=\"VEVENT\"/>"),
            Err(DavError::Invalid { .. })
        ));
        assert_eq!(
            query("<C:comp-filter name=\"VCALENDAR\"><C:prop-filter name=\"X\"><C:text-match collation=\"i;unicode-casemap\">a</C:text-match></C:prop-filter></C:comp-filter>"),
            Err(DavError::UnsupportedCollation("i;unicode-casemap".into()))
        );
        assert!(matches!(
            query("<C:comp-filter name=\"VCALENDAR\"><C:time-range/></C:comp-filter>"),
            Err(DavError::Missing(_))
        ));
        assert!(matches!(
            query(
                "<C:comp-filter name=\"VCALENDAR\"><C:time-range start=\"2006\"/></C:comp-filter>"
            ),
            Err(DavError::Invalid { .. })
        ));
        assert_eq!(query(""), Err(DavError::Missing("CALDAV:comp-filter")));
    }

    #[test]
    fn overlap_rules() {
        let r = TimeRange {
            start: Some(10),
            end: Some(20),
        };
        assert!(r.overlaps(5, 11));
        assert!(r.overlaps(19, 30));
        assert!(!r.overlaps(20, 30));
        assert!(!r.overlaps(5, 10));
        assert!(r.overlaps(10, 10));
        let open = TimeRange {
            start: None,
            end: Some(20),
        };
        assert!(open.overlaps(i64::MIN, 0));
    }

    #[test]
    fn text_match_collations() {
        let m = |text: &str, collation, negate| TextMatch {
            text: text.into(),
            collation,
            negate,
        };
        assert!(m("lunch", Collation::AsciiCasemap, false).matches("Team LUNCH"));
        assert!(!m("lunch", Collation::Octet, false).matches("Team LUNCH"));
        assert!(m("lunch", Collation::Octet, true).matches("Team LUNCH"));
    }
}
