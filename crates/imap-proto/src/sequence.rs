//! Sequence sets (RFC 9051 §9 `sequence-set`): message numbers or UIDs,
//! with `*` for the largest in use.

use crate::syntax::{Cursor, Invalid};

/// One end of a range: a number, or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A message number or UID.
    Num(u32),
    /// `*`: the largest number in use (RFC 9051 §9 `seq-number`).
    Star,
}

/// `1:3,5,7:*` as written; resolved against a mailbox by [`SequenceSet::contains`]
/// or [`SequenceSet::ranges`]. `$` (RFC 5182 SEARCHRES: the result saved
/// by `SEARCH RETURN (SAVE)`) is the one set without ranges; see
/// [`SequenceSet::is_saved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(Bound, Bound)>);

impl SequenceSet {
    /// Reads a sequence set.
    pub(crate) fn parse(cursor: &mut Cursor<'_>) -> Result<Self, Invalid> {
        if cursor.eat('$') {
            return Ok(Self::saved());
        }
        let text = cursor.take_while(|b| b.is_ascii_digit() || matches!(b, b':' | b',' | b'*'));
        Self::from_text_inner(text)
    }

    /// Parses `text` as a whole sequence set; `None` if it is not one.
    pub fn from_text(text: &str) -> Option<Self> {
        Self::from_text_inner(text).ok()
    }

    /// `$`: the saved search result (RFC 5182 §2.1).
    pub const fn saved() -> Self {
        Self(Vec::new())
    }

    /// Whether this is `$`, which the session resolves from its saved
    /// search result (`contains` and `ranges` match nothing for it).
    pub fn is_saved(&self) -> bool {
        self.0.is_empty()
    }

    fn from_text_inner(text: &str) -> Result<Self, Invalid> {
        if text == "$" {
            return Ok(Self::saved());
        }
        let ranges = text
            .split(',')
            .map(|item| match item.split_once(':') {
                Some((a, b)) => Ok((bound(a)?, bound(b)?)),
                None => bound(item).map(|b| (b, b)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(ranges))
    }

    /// The ranges with `*` replaced by `largest`, each as `lo..=hi` with
    /// `lo <= hi` (RFC 9051 §9: `4:2` means `2:4`).
    pub fn ranges(&self, largest: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.iter().map(move |&(a, b)| {
            let resolve = |x| match x {
                Bound::Num(n) => n,
                Bound::Star => largest,
            };
            let (a, b) = (resolve(a), resolve(b));
            (a.min(b), a.max(b))
        })
    }

    /// Whether `n` is in the set, `*` being `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.ranges(largest).any(|(lo, hi)| (lo..=hi).contains(&n))
    }

    /// Writes the set in its shortest form from sorted, distinct numbers
    /// (`1:3,7`), as COPYUID and ESEARCH want.
    pub fn compact(sorted: &[u32]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < sorted.len() {
            let start = sorted[i];
            let mut end = start;
            while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
                i += 1;
                end = sorted[i];
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&start.to_string());
            if end != start {
                out.push(':');
                out.push_str(&end.to_string());
            }
            i += 1;
        }
        out
    }
}

fn bound(text: &str) -> Result<Bound, Invalid> {
    if text == "*" {
        return Ok(Bound::Star);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return Err(());
    }
    text.parse().map(Bound::Num).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let set = SequenceSet::from_text("1:3,5,7:*,9:8").unwrap();
        assert_eq!(
            set.0,
            vec![
                (Bound::Num(1), Bound::Num(3)),
                (Bound::Num(5), Bound::Num(5)),
                (Bound::Num(7), Bound::Star),
                (Bound::Num(9), Bound::Num(8)),
            ]
        );
        assert!(set.contains(2, 10) && set.contains(10, 10) && !set.contains(4, 10));
        assert_eq!(set.ranges(6).nth(2), Some((6, 7)));
        assert!(SequenceSet::from_text("$").unwrap().is_saved());
        assert!(!SequenceSet::from_text("1").unwrap().is_saved());
        for bad in [
            "",
            "0",
            "1,",
            ":1",
            "1:",
            "1::2",
            "01",
            "a",
            "4294967296",
            "$,1",
        ] {
            assert!(SequenceSet::from_text(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn compact() {
        assert_eq!(SequenceSet::compact(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(SequenceSet::compact(&[4]), "4");
        assert_eq!(SequenceSet::compact(&[]), "");
    }
}
