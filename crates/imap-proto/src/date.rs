//! IMAP dates (RFC 9051 §9 `date`, `date-time`), computed without a clock
//! or a calendar crate: days from the civil date (proleptic Gregorian).

pub use postern_types::date::{civil_from_days, days_from_civil, MONTHS};

/// `date-day "-" date-month "-" date-year` as days since the epoch.
pub fn date(text: &str) -> Option<i64> {
    let mut it = text.split('-');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    civil(d.trim_start(), m, y)
}

fn civil(d: &str, m: &str, y: &str) -> Option<i64> {
    let day = digits(d, 1, 2)?;
    let month = MONTHS.iter().position(|n| n.eq_ignore_ascii_case(m))? as u32 + 1;
    let year = digits(y, 4, 4)?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=max)
        .contains(&day)
        .then(|| days_from_civil(i64::from(year), month, day))
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    let ok = (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
/// time SP zone DQUOTE` (the quotes already removed) as Unix seconds.
pub fn date_time(text: &str) -> Option<i64> {
    let (date_part, rest) = text.split_at_checked(11)?;
    let days = date(date_part)?;
    let mut it = rest.strip_prefix(' ')?.split(' ');
    let (time, zone) = (it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let mut hms = time.split(':');
    let h = digits(hms.next()?, 2, 2).filter(|&h| h < 24)?;
    let m = digits(hms.next()?, 2, 2).filter(|&m| m < 60)?;
    let s = digits(hms.next()?, 2, 2).filter(|&s| s < 61)?;
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let z = digits(&zone[1..], 4, 4)?;
    let offset = sign * i64::from(z / 100 * 3600 + z % 100 * 60);
    Some(days * 86_400 + i64::from(h * 3600 + m * 60 + s) - offset)
}

/// Unix seconds as `dd-Mon-yyyy hh:mm:ss +0000` (INTERNALDATE, UTC).
pub fn format_date_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[m as usize - 1],
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(date("1-Feb-1994"), Some(days_from_civil(1994, 2, 1)));
        assert_eq!(date("01-feb-1970"), Some(31));
        assert_eq!(date("29-Feb-2023"), None);
        assert_eq!(date("29-Feb-2024"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(date("1-Foo-1994"), None);
        assert_eq!(date_time("17-Jul-1996 02:44:25 -0700"), Some(837_596_665));
        assert_eq!(date_time(" 7-Jul-1996 02:44:25 +0000"), Some(836_707_465));
        assert_eq!(date_time("17-Jul-1996 02:44:25"), None);
        assert_eq!(format_date_time(837_596_665), "17-Jul-1996 09:44:25 +0000");
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    }
}
