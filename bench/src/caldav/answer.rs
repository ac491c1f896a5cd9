//! Reading a calendar-query answer (a 207 multistatus, RFC 4918 §13)
//! just enough to check it: the members named, and what the iCalendar
//! data in it holds. A scan, not an XML parser: both servers write the
//! same elements with different prefixes (`<d:href>`, `<href>`), and
//! calendar data is escaped text, so its lines cannot be markup.

/// What one answer holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// `response` elements: one per member returned.
    pub responses: usize,
    /// `BEGIN:VCALENDAR` lines: members whose data came back.
    pub objects: usize,
    /// `BEGIN:VEVENT` lines: the instances when the server expanded the
    /// recurrences (RFC 4791 §9.6.5), else one per event object.
    pub vevents: usize,
    /// `RRULE` properties: none in an expanded answer.
    pub rrules: usize,
    /// `RECURRENCE-ID` properties: one per instance of an expanded
    /// recurrence.
    pub recurrence_ids: usize,
}

impl Counts {
    pub fn of(body: &[u8]) -> Self {
        let mut c = Self {
            responses: elements(body, b"response"),
            ..Self::default()
        };
        let mut in_event = false;
        for line in body.split(|&b| b == b'\n').map(content_line) {
            match line {
                b"BEGIN:VCALENDAR" => c.objects += 1,
                b"BEGIN:VEVENT" => {
                    c.vevents += 1;
                    in_event = true;
                }
                b"END:VEVENT" => in_event = false,
                // Inside events only: a VTIMEZONE has RRULEs of its own.
                l if in_event && is_property(l, b"RRULE") => c.rrules += 1,
                l if in_event && is_property(l, b"RECURRENCE-ID") => c.recurrence_ids += 1,
                _ => {}
            }
        }
        c
    }
}

/// The iCalendar content line in one line of the answer: what follows
/// the line's last `>`, which ends the markup before the data's first
/// line (the generated events hold no `>` of their own), without the
/// line end, raw or escaped as `&#13;` (XML writers keep the CR of CRLF
/// that way).
fn content_line(line: &[u8]) -> &[u8] {
    let line = match line.iter().rposition(|&b| b == b'>') {
        Some(i) => &line[i + 1..],
        None => line,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_suffix(b"&#13;").unwrap_or(line)
}

/// `NAME:value` or `NAME;param=...:value` (RFC 5545 §3.1).
fn is_property(line: &[u8], name: &[u8]) -> bool {
    line.strip_prefix(name)
        .is_some_and(|rest| matches!(rest.first(), Some(b':' | b';')))
}

/// Opening tags `<name` or `<prefix:name`, followed by `>`, `/` or
/// white space (so `responsedescription` does not count).
fn elements(body: &[u8], name: &[u8]) -> usize {
    let mut n = 0;
    for (i, _) in body.iter().enumerate().filter(|(_, &b)| b == b'<') {
        let rest = &body[i + 1..];
        let end = rest
            .iter()
            .position(|b| matches!(b, b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        let tag = &rest[..end];
        let local = match tag.iter().position(|&b| b == b':') {
            Some(c) => &tag[c + 1..],
            None => tag,
        };
        n += usize::from(local == name && end < rest.len());
    }
    n
}

/// The last path segment of every `href` element's text, sorted: the
/// member names, to compare with the names expected.
pub fn member_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut names = Vec::new();
    let mut rest = text.as_ref();
    while let Some(open) = rest.find("href>") {
        let after = &rest[open + 5..];
        let Some(close) = after.find('<') else {
            break;
        };
        let href = after[..close].trim();
        if let Some(seg) = href.rsplit('/').next().filter(|s| !s.is_empty()) {
            names.push(seg.to_owned());
        }
        rest = &after[close..];
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTERN_LIKE: &str = "<?xml version=\"1.0\"?>\n<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
<d:response><d:href>/dav/calendars/a%40b/bench/e00001.ics</d:href><d:propstat><d:prop>\
<c:calendar-data>BEGIN:VCALENDAR&#13;\nBEGIN:VTIMEZONE&#13;\nRRULE:FREQ=YEARLY&#13;\nEND:VTIMEZONE&#13;\nBEGIN:VEVENT&#13;\nRRULE:FREQ=DAILY;COUNT=2&#13;\nEND:VEVENT&#13;\nEND:VCALENDAR&#13;\n</c:calendar-data>\
</d:prop></d:propstat></d:response>\
<d:response><d:href>/dav/calendars/a%40b/bench/e00002.ics</d:href><d:responsedescription>x</d:responsedescription></d:response></d:multistatus>";

    const RADICALE_LIKE: &str = "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
<response><href>/u/bench/e00003.ics</href><propstat><prop><C:calendar-data>BEGIN:VCALENDAR\n\
BEGIN:VEVENT\nRECURRENCE-ID;TZID=Europe/Berlin:20260601T090000\nEND:VEVENT\n\
BEGIN:VEVENT\nRECURRENCE-ID:20260608T090000Z\nEND:VEVENT\nEND:VCALENDAR\n</C:calendar-data></prop></propstat></response></multistatus>";

    #[test]
    fn both_styles_of_answer_are_counted() {
        assert_eq!(
            Counts::of(POSTERN_LIKE.as_bytes()),
            Counts {
                responses: 2,
                objects: 1,
                vevents: 1,
                rrules: 1,
                recurrence_ids: 0
            }
        );
        assert_eq!(
            Counts::of(RADICALE_LIKE.as_bytes()),
            Counts {
                responses: 1,
                objects: 1,
                vevents: 2,
                rrules: 0,
                recurrence_ids: 2
            }
        );
    }

    #[test]
    fn member_names_come_from_the_hrefs() {
        assert_eq!(
            member_names(POSTERN_LIKE.as_bytes()),
            ["e00001.ics", "e00002.ics"]
        );
        assert_eq!(member_names(RADICALE_LIKE.as_bytes()), ["e00003.ics"]);
        assert!(member_names(b"<multistatus/>").is_empty());
    }

    #[test]
    fn words_inside_text_are_not_properties() {
        let body = b"BEGIN:VEVENT\nDESCRIPTION:the RRULE: and\n BEGIN:VEVENT in a folded line\n";
        assert_eq!(Counts::of(body).rrules, 0);
        assert_eq!(Counts::of(body).vevents, 1);
    }
}
