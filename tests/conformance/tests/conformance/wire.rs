//! The server's responses, parsed by the RFC 9051 §9 grammar, so that a
//! test checks what was said rather than how it was spelled: a string may
//! come quoted or as a literal, a media type in any case.

use std::fmt;

/// One value of a response: `NIL`, an atom (numbers, flags, `FETCH`
/// item names with their section), a string (quoted or literal) or a
/// parenthesised list.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Nil,
    Atom(String),
    Str(Vec<u8>),
    List(Vec<Self>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nil => f.write_str("NIL"),
            Self::Atom(a) => f.write_str(a),
            Self::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            Self::List(items) => {
                f.write_str("(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v:?}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl Value {
    /// The string's octets (a string, or an atom standing for one).
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Str(s) => Some(s),
            Self::Atom(a) => Some(a.as_bytes()),
            _ => None,
        }
    }

    /// The string as text; `None` for NIL.
    pub(crate) fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The list's items; a failure for anything else.
    pub(crate) fn list(&self) -> Result<&[Self], String> {
        match self {
            Self::List(items) => Ok(items),
            other => Err(format!("expected a list, got {other:?}")),
        }
    }

    /// The number this atom spells.
    pub(crate) fn number(&self) -> Result<u64, String> {
        match self {
            Self::Atom(a) => a.parse().map_err(|_| format!("not a number: {a}")),
            other => Err(format!("expected a number, got {other:?}")),
        }
    }
}

/// Parses a run of values separated by spaces, to the end of `input`.
pub(crate) fn parse(input: &[u8]) -> Result<Vec<Value>, String> {
    let mut p = Parser { s: input, pos: 0 };
    let mut out = Vec::new();
    loop {
        p.spaces();
        if p.pos == p.s.len() {
            return Ok(out);
        }
        out.push(p.value()?);
    }
}

/// Parses exactly one value.
pub(crate) fn parse_one(input: &str) -> Value {
    let mut v = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{e}: {input}"));
    assert_eq!(v.len(), 1, "one value expected: {input}");
    v.remove(0)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "{what} at octet {} of {:?}",
            self.pos,
            String::from_utf8_lossy(self.s)
        ))
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'(') => self.list(),
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            Some(b'~') if self.s.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal()
            }
            Some(_) => self.atom(),
            None => self.fail("a value expected"),
        }
    }

    fn list(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.spaces();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                None => return self.fail("unclosed list"),
                _ => items.push(self.value()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Value::Str(out));
                }
                Some(b'\\') => {
                    let Some(&c) = self.s.get(self.pos + 1) else {
                        return self.fail("escape at the end");
                    };
                    if c != b'\\' && c != b'"' {
                        return self.fail("only \\\\ and \\\" may be escaped");
                    }
                    out.push(c);
                    self.pos += 2;
                }
                Some(b'\r' | b'\n') | None => return self.fail("unterminated quoted string"),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Value, String> {
        let Some(close) = self.s[self.pos..].iter().position(|b| *b == b'}') else {
            return self.fail("unclosed literal length");
        };
        let digits = &self.s[self.pos + 1..self.pos + close];
        let Some(len) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<usize>().ok())
        else {
            return self.fail("bad literal length");
        };
        self.pos += close + 1;
        if !self.s[self.pos..].starts_with(b"\r\n") || self.s.len() < self.pos + 2 + len {
            return self.fail("literal octets missing");
        }
        self.pos += 2;
        let data = self.s[self.pos..self.pos + len].to_vec();
        self.pos += len;
        Ok(Value::Str(data))
    }

    /// An atom; a `[...]` section inside it (`BODY[HEADER.FIELDS (A B)]`)
    /// is part of it, spaces and parentheses included.
    fn atom(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'[' => {
                    let Some(end) = self.s[self.pos..].iter().position(|b| *b == b']') else {
                        return self.fail("unclosed section");
                    };
                    self.pos += end + 1;
                }
                b' ' | b'(' | b')' | b'"' | b'{' | b'\r' | b'\n' => break,
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            return self.fail("an atom expected");
        }
        let atom = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        Ok(if atom.eq_ignore_ascii_case("NIL") {
            Value::Nil
        } else {
            Value::Atom(atom)
        })
    }
}

/// A FETCH response: the message number and its items.
#[derive(Debug)]
pub(crate) struct Fetch {
    pub(crate) seq: u32,
    pub(crate) items: Vec<(String, Value)>,
}

impl Fetch {
    /// The item of this name (case-insensitive, section included).
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The item of this name, or a failure naming what came instead.
    pub(crate) fn item(&self, name: &str) -> &Value {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
    }

    /// The item's string octets.
    pub(crate) fn bytes(&self, name: &str) -> &[u8] {
        self.item(name)
            .bytes()
            .unwrap_or_else(|| panic!("{name} is not a string in {self:?}"))
    }

    /// The item's number.
    pub(crate) fn number(&self, name: &str) -> u64 {
        self.item(name).number().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The item names, in the order sent.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.items.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Parses `* n FETCH (name value ...)` (RFC 9051 §7.5.2).
pub(crate) fn fetch(response: &[u8]) -> Result<Fetch, String> {
    let head = String::from_utf8_lossy(&response[..response.len().min(40)]).into_owned();
    let rest = response
        .strip_prefix(b"* ")
        .ok_or_else(|| format!("not untagged: {head}"))?;
    let space = rest
        .iter()
        .position(|b| *b == b' ')
        .ok_or_else(|| format!("no number: {head}"))?;
    let seq = std::str::from_utf8(&rest[..space])
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad number: {head}"))?;
    let body = rest[space + 1..]
        .strip_prefix(b"FETCH ")
        .ok_or_else(|| format!("not a FETCH: {head}"))?;
    let values = parse(body)?;
    let [Value::List(list)] = values.as_slice() else {
        return Err(format!("FETCH data is not one list: {head}"));
    };
    if list.len() % 2 != 0 {
        return Err(format!("FETCH items are not name/value pairs: {list:?}"));
    }
    let mut items = Vec::new();
    for pair in list.chunks(2) {
        let Value::Atom(name) = &pair[0] else {
            return Err(format!("FETCH item name is not an atom: {:?}", pair[0]));
        };
        items.push((name.clone(), pair[1].clone()));
    }
    Ok(Fetch { seq, items })
}

/// The FETCH responses among `lines`, parsed; a failure if one does not
/// parse.
pub(crate) fn fetches(lines: &[String]) -> Vec<Fetch> {
    lines
        .iter()
        .filter(|l| l.starts_with("* ") && l.split(' ').nth(2) == Some("FETCH"))
        .map(|l| fetch(l.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The one FETCH response for message `seq`.
pub(crate) fn fetch_of(lines: &[String], seq: u32) -> Fetch {
    let mut all: Vec<Fetch> = fetches(lines)
        .into_iter()
        .filter(|f| f.seq == seq)
        .collect();
    assert_eq!(all.len(), 1, "one FETCH for {seq} expected: {lines:?}");
    all.remove(0)
}

/// The numbers of `* SEARCH` (RFC 9051 §7.3.5's rev1 form), in order; a
/// failure if there is none or more than one.
pub(crate) fn search(lines: &[String]) -> Vec<u32> {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| *l == "* SEARCH" || l.starts_with("* SEARCH "))
        .collect();
    assert_eq!(found.len(), 1, "one SEARCH response expected: {lines:?}");
    found[0]["* SEARCH".len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap_or_else(|_| panic!("bad number {n}")))
        .collect()
}

/// Expands a sequence set (`1:3,7`) into its numbers, in order.
pub(crate) fn expand(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for range in set.split(',') {
        let (a, b) = range.split_once(':').unwrap_or((range, range));
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        out.extend(a.min(b)..=a.max(b));
    }
    out
}

/// A `* ESEARCH` response (RFC 4731 §3.1, RFC 9051 §7.3.4): its tag
/// correlator, whether it says UID, and the result items by name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Esearch {
    pub(crate) tag: Option<String>,
    pub(crate) uid: bool,
    pub(crate) items: Vec<(String, String)>,
}

impl Esearch {
    /// A result item's value, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the one `* ESEARCH` response among `lines`.
pub(crate) fn esearch(lines: &[String]) -> Esearch {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| *l == "* ESEARCH" || l.starts_with("* ESEARCH "))
        .collect();
    assert_eq!(found.len(), 1, "one ESEARCH response expected: {lines:?}");
    let values = parse(&found[0].as_bytes()[9..]).unwrap_or_else(|e| panic!("{e}"));
    let mut it = values.into_iter().peekable();
    let mut tag = None;
    if let Some(Value::List(corr)) = it.peek() {
        match corr.as_slice() {
            [Value::Atom(t), Value::Str(v)] if t.eq_ignore_ascii_case("TAG") => {
                tag = Some(String::from_utf8_lossy(v).into_owned());
            }
            other => panic!("bad search correlator {other:?} in {}", found[0]),
        }
        it.next();
    }
    let uid = matches!(it.peek(), Some(Value::Atom(a)) if a.eq_ignore_ascii_case("UID"));
    if uid {
        it.next();
    }
    let mut items = Vec::new();
    while let Some(name) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| panic!("{name:?} without a value in {}", found[0]));
        let (Value::Atom(name), Value::Atom(value)) = (name, value) else {
            panic!("ESEARCH items must be atoms: {}", found[0]);
        };
        items.push((name, value));
    }
    Esearch { tag, uid, items }
}

/// An IMAP date-time (`"05-Jan-2024 10:00:00 +0100"`, RFC 9051 §9) as
/// seconds since the epoch.
pub(crate) fn date_time(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let (date, time, zone) = (parts.next()?, parts.next()?, parts.next()?);
    parse_date_time(date, time, zone)
}

fn parse_date_time(date: &str, time: &str, zone: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut d = date.split('-');
    let day: i64 = d.next()?.parse().ok()?;
    let name = d.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))? as i64 + 1;
    let year: i64 = d.next()?.parse().ok()?;
    let mut t = time.split(':').map(|x| x.parse::<i64>());
    let (h, m, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let z: i64 = zone[1..].parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The items of the `* STATUS` response for `mailbox` among `lines`
/// (RFC 9051 §7.3.2), by name; a failure if there is none.
pub(crate) fn status(lines: &[String], mailbox: &str) -> Vec<(String, u64)> {
    for line in lines.iter().filter(|l| l.starts_with("* STATUS ")) {
        let values = parse(&line.as_bytes()[9..]).unwrap_or_else(|e| panic!("{e}"));
        let [name, Value::List(items)] = values.as_slice() else {
            panic!("STATUS is a name and a list: {line}");
        };
        if name.text().as_deref() != Some(mailbox) {
            continue;
        }
        return items
            .chunks(2)
            .map(|kv| {
                let [k, v] = kv else {
                    panic!("STATUS items are name/value pairs: {line}");
                };
                let value = v.number().unwrap_or_else(|e| panic!("{e}: {line}"));
                (k.text().unwrap_or_default().to_ascii_uppercase(), value)
            })
            .collect();
    }
    panic!("no STATUS for {mailbox}: {lines:?}")
}

/// A `* LIST` response (RFC 9051 §7.3.1): attributes, delimiter, name and
/// any extended data.
#[derive(Debug)]
pub(crate) struct List {
    pub(crate) attributes: Vec<String>,
    pub(crate) delimiter: Option<String>,
    pub(crate) name: String,
    pub(crate) extended: Vec<Value>,
}

impl List {
    /// Whether the attribute is present (case-insensitive).
    pub(crate) fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }
}

/// The `* LIST` (or `* LSUB`) responses among `lines`, parsed, in order.
pub(crate) fn lists(lines: &[String], verb: &str) -> Vec<List> {
    let prefix = format!("* {verb} ");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let values = parse(rest.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            let [attrs, delim, name, extended @ ..] = values.as_slice() else {
                panic!("{verb} has attributes, delimiter and name: {rest}");
            };
            List {
                attributes: attrs
                    .list()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .iter()
                    .filter_map(Value::text)
                    .collect(),
                delimiter: delim.text(),
                name: name.text().unwrap_or_else(|| panic!("no name: {rest}")),
                extended: extended.to_vec(),
            }
        })
        .collect()
}
