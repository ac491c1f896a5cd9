//! `postern import --mbox FILE | --maildir DIR --to ADDRESS`: migrations.
//!
//! Every message goes into the account's INBOX through [`Store::append`],
//! the same durable path as `deliver` (blob fsynced, rows committed before
//! the next message is read), with the flags the source recorded and its
//! date as the INTERNALDATE. Messages are stored with CRLF line endings, as
//! SMTP delivers them.
//!
//! - mbox (mboxrd and mboxo): a message starts at a line beginning with
//!   `From ` at the start of the file or after a blank line; that separator
//!   line is not part of the message, nor is the blank line before the next
//!   one. `>From ` quoting is undone (one `>` off every `^>+From ` line).
//!   The file is read as a stream: memory holds one message at a time.
//! - Maildir: the files in `new/` and `cur/` (never `tmp/`, where a writer
//!   may be half-way), in the order of the leading timestamp of their names,
//!   with the flags of the `:2,` suffix and the file's mtime as the date.
//!
//! A message larger than [`MAX_IMPORT_MESSAGE`], an empty one, or one the
//! store refuses (over quota) is skipped and reported; the rest goes on.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use postern_store::{Flag, MailboxId, Store, StoreError};

use crate::cmd::accounts::open_store;
use crate::paths::Location;

/// The largest message `import` stores, in bytes once its line endings are
/// CRLF. Larger than what SMTP accepts (old mailboxes hold big
/// attachments), small enough that one message in memory is harmless.
pub const MAX_IMPORT_MESSAGE: u64 = 50_000_000;

/// How the limit is shown to people.
const LIMIT_TEXT: &str = "50 MB";

/// Arguments of `postern import`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["mbox", "maildir"])))]
pub struct ImportArgs {
    /// An mbox file (mboxrd or mboxo, as mutt, Thunderbird, Dovecot and
    /// `formail` write them).
    #[arg(long, value_name = "FILE")]
    pub mbox: Option<PathBuf>,
    /// A Maildir (the directory holding cur/, new/ and tmp/); only its own
    /// messages are imported, not those of Maildir++ subfolders.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// The account whose INBOX receives the messages.
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// Read and count everything, store nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(loc: &Location, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    // An import goes to one account's INBOX: an alias could name several
    // accounts, so only an account is accepted.
    let account = store.account(&args.to)?.with_context(|| {
        format!(
            "there is no account {} (postern user list shows them; aliases are not accepted here); nothing was imported",
            args.to
        )
    })?;
    let inbox = store
        .mailbox(account.id, "INBOX")?
        .with_context(|| format!("the account {} has no INBOX", account.address))?;

    let mut sink = Sink {
        store: store.as_ref(),
        inbox: inbox.id,
        dry_run: args.dry_run,
        imported: 0,
        bytes: 0,
        skipped: BTreeMap::new(),
        skipped_count: 0,
    };
    let now = unix_now();
    let result = match (&args.mbox, &args.maildir) {
        (Some(file), None) => read_mbox(file, now, &mut |m| sink.take(m)),
        (None, Some(dir)) => read_maildir(dir, &mut |m| sink.take(m)),
        // clap enforces exactly one of the two.
        _ => anyhow::bail!("give exactly one of --mbox FILE and --maildir DIR"),
    };
    let summary = sink.summary(&account.address);
    if let Err(e) = result {
        if sink.imported > 0 && !args.dry_run {
            // What is stored stays stored; say so, so that a second run is
            // not mistaken for the first.
            println!("{summary}");
            return Err(e.context(format!(
                "the import stopped after {} stored message(s); running it again would import those again",
                sink.imported
            )));
        }
        return Err(e.context("nothing was imported"));
    }
    println!("{summary}");
    if sink.imported == 0 && sink.skipped_count > 0 {
        eprintln!("postern: nothing could be imported (see the reasons above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One message read from the source.
struct Found {
    /// Where it is in the source, for reports (`message 3 (line 57)`,
    /// `cur/1700000000.M1P2.host:2,S`).
    origin: String,
    /// Its bytes with CRLF line endings; `None` when it is too large to
    /// keep (then `size` says how large).
    raw: Option<Vec<u8>>,
    size: u64,
    flags: Vec<Flag>,
    internal_date: i64,
}

/// Stores (or, in a dry run, counts) messages and keeps the tally.
struct Sink<'a> {
    store: &'a dyn Store,
    inbox: MailboxId,
    dry_run: bool,
    imported: u64,
    bytes: u64,
    /// Reason -> the origins of the messages skipped for it.
    skipped: BTreeMap<String, Vec<String>>,
    skipped_count: u64,
}

impl Sink<'_> {
    fn take(&mut self, m: Found) -> anyhow::Result<()> {
        let Some(raw) = m.raw.filter(|_| m.size <= MAX_IMPORT_MESSAGE) else {
            self.skip(
                &m.origin,
                format!("larger than the {LIMIT_TEXT} limit"),
                &format!("{} bytes", m.size),
            );
            return Ok(());
        };
        if raw.is_empty() {
            self.skip(&m.origin, "empty".to_owned(), "no bytes");
            return Ok(());
        }
        if !self.dry_run {
            match self
                .store
                .append(self.inbox, &raw, &m.flags, m.internal_date)
            {
                Ok(_) => {}
                Err(e @ StoreError::QuotaExceeded { .. }) => {
                    self.skip(
                        &m.origin,
                        "over the account's quota".to_owned(),
                        &e.to_string(),
                    );
                    return Ok(());
                }
                Err(e @ StoreError::Invalid { .. }) => {
                    self.skip(&m.origin, "refused by the store".to_owned(), &e.to_string());
                    return Ok(());
                }
                // The disk or the database failed: every further message
                // would fail the same way, so stop here.
                Err(e) => return Err(e).with_context(|| format!("storing {}", m.origin)),
            }
        }
        self.imported += 1;
        self.bytes += raw.len() as u64;
        Ok(())
    }

    fn skip(&mut self, origin: &str, reason: String, detail: &str) {
        eprintln!("postern import: skipped {origin}: {reason} ({detail})");
        self.skipped_count += 1;
        self.skipped
            .entry(reason)
            .or_default()
            .push(origin.to_owned());
    }

    /// `Imported N messages (M bytes) into the INBOX of A; skipped K: ...`
    fn summary(&self, address: &str) -> String {
        let n = self.imported;
        let noun = if n == 1 { "message" } else { "messages" };
        let mut out = if self.dry_run {
            format!(
                "Dry run: would import {n} {noun} ({} bytes) into the INBOX of {address}; nothing was stored",
                self.bytes
            )
        } else {
            format!(
                "Imported {n} {noun} ({} bytes) into the INBOX of {address}",
                self.bytes
            )
        };
        if self.skipped_count > 0 {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(reason, origins)| {
                    const SHOWN: usize = 5;
                    let mut list = origins[..origins.len().min(SHOWN)].join(", ");
                    if origins.len() > SHOWN {
                        list.push_str(&format!(" and {} more", origins.len() - SHOWN));
                    }
                    format!("{} {reason} ({list})", origins.len())
                })
                .collect();
            out.push_str(&format!(
                "; skipped {}: {}",
                self.skipped_count,
                reasons.join("; ")
            ));
        }
        out.push('.');
        out
    }
}

// ---------------------------------------------------------------------------
// mbox

/// Reads an mbox file as a stream, handing each message to `each`.
fn read_mbox(
    path: &Path,
    now: i64,
    each: &mut dyn FnMut(Found) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        anyhow::bail!(
            "{} is a directory, not an mbox file (for a Maildir use --maildir)",
            path.display()
        );
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut line_no: u64 = 0;
    let mut current: Option<MboxMessage> = None;
    let mut count: u64 = 0;
    // The start of the file counts as following a blank line.
    let mut after_blank = true;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {} after line {line_no}", path.display()))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        if after_blank && line.starts_with(b"From ") {
            if let Some(done) = current.take() {
                each(done.finish())?;
            }
            let date = separator_date(&line).unwrap_or(now);
            count += 1;
            current = Some(MboxMessage::new(count, line_no, date));
            after_blank = false;
            continue;
        }
        let Some(message) = current.as_mut() else {
            // Only line 1 can get here: every later line has a message.
            anyhow::bail!(
                "{} is not an mbox file: its first line does not begin with \"From \" (for a single message use postern deliver; for a Maildir use --maildir)",
                path.display()
            );
        };
        let content = without_line_ending(&line);
        after_blank = content.is_empty();
        message.push_line(unquote_from(content));
    }
    if let Some(done) = current.take() {
        each(done.finish())?;
    }
    Ok(())
}

/// A message being read from an mbox.
struct MboxMessage {
    number: u64,
    line: u64,
    date: i64,
    /// The CRLF bytes so far; emptied once the message is too large.
    bytes: Vec<u8>,
    size: u64,
    too_large: bool,
    last_blank: bool,
}

impl MboxMessage {
    fn new(number: u64, line: u64, date: i64) -> Self {
        Self {
            number,
            line,
            date,
            bytes: Vec::new(),
            size: 0,
            too_large: false,
            last_blank: false,
        }
    }

    fn push_line(&mut self, content: &[u8]) {
        self.size += content.len() as u64 + 2;
        self.last_blank = content.is_empty();
        // Two bytes of slack: the blank line before the next separator is
        // counted here but dropped in `finish`.
        if self.size > MAX_IMPORT_MESSAGE + 2 {
            if !self.too_large {
                self.too_large = true;
                self.bytes = Vec::new();
            }
            return;
        }
        self.bytes.extend_from_slice(content);
        self.bytes.extend_from_slice(b"\r\n");
    }

    fn finish(mut self) -> Found {
        // The blank line before a separator (or at the end of the file)
        // belongs to the mbox format, not to the message.
        if self.last_blank {
            self.size -= 2;
            if !self.too_large {
                self.bytes.truncate(self.bytes.len() - 2);
            }
        }
        let origin = format!("message {} (line {})", self.number, self.line);
        if self.too_large || self.size > MAX_IMPORT_MESSAGE {
            return Found {
                origin,
                raw: None,
                size: self.size,
                flags: Vec::new(),
                internal_date: self.date,
            };
        }
        Found {
            origin,
            flags: status_flags(&self.bytes),
            size: self.size,
            raw: Some(self.bytes),
            internal_date: self.date,
        }
    }
}

/// A line without its `\n` or `\r\n`.
fn without_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// mboxrd quoting undone: `>From `, `>>From `... lose one `>`. (mboxo
/// writers quote only `From ` and never unquote; for them this is the best
/// guess too.)
fn unquote_from(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Flags from the `Status:` and `X-Status:` headers that mail readers
/// (mutt, Thunderbird, Dovecot's mbox) write: R read, A answered, F flagged.
fn status_flags(message: &[u8]) -> Vec<Flag> {
    let mut flags = Vec::new();
    for line in message.split(|&b| b == b'\n') {
        let line = without_line_ending(line);
        if line.is_empty() {
            break; // the end of the header
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if !name.eq_ignore_ascii_case(b"Status") && !name.eq_ignore_ascii_case(b"X-Status") {
            continue;
        }
        for &c in &line[colon + 1..] {
            match c {
                b'R' => flags.push(Flag::Seen),
                b'A' => flags.push(Flag::Answered),
                b'F' => flags.push(Flag::Flagged),
                // D (deleted) is deliberately not imported: a message marked
                // for deletion in the old mailbox was still there to migrate,
                // and importing \Deleted would let the next EXPUNGE (or a
                // client that hides deleted mail) lose it without the user
                // ever seeing it. An import should not hide mail.
                _ => {}
            }
        }
    }
    flags.sort();
    flags.dedup();
    flags
}

/// The date of a separator line, `From sender Mon Nov 23 06:19:57 2026`
/// (asctime; a numeric zone before or after the year is honoured). Without
/// a zone the date is taken as UTC: mbox does not say, and a few hours
/// either way do not change the order of a mailbox.
fn separator_date(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(without_line_ending(line)).ok()?;
    let words: Vec<&str> = text.split_ascii_whitespace().skip(1).collect();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    (0..words.len()).find_map(|i| {
        if !DAYS.contains(&words[i]) {
            return None;
        }
        asctime(&words[i + 1..])
    })
}

/// `Nov 23 06:19:57 2026` (the words after the weekday), optionally with a
/// `+hhmm` zone before or after the year.
fn asctime(words: &[&str]) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = *words.first()?;
    let month = MONTHS.iter().position(|m| *m == name)? as u8 + 1;
    let day: u8 = words.get(1)?.parse().ok()?;
    let mut clock = words.get(2)?.split(':');
    let hour: u8 = clock.next()?.parse().ok()?;
    let minute: u8 = clock.next()?.parse().ok()?;
    let second: u8 = clock.next().map_or(Some(0), |s| s.parse().ok())?;
    let (year, zone) = match (words.get(3).copied(), words.get(4).copied()) {
        (Some(y), z) if is_year(y) => (y, z.and_then(zone_offset).unwrap_or(0)),
        (Some(z), Some(y)) if is_year(y) => (y, zone_offset(z)?),
        _ => return None,
    };
    let date =
        time::Date::from_calendar_date(year.parse().ok()?, time::Month::try_from(month).ok()?, day)
            .ok()?;
    let local = date.with_hms(hour, minute, second).ok()?;
    Some(local.assume_utc().unix_timestamp() - zone)
}

fn is_year(word: &str) -> bool {
    word.len() == 4 && word.bytes().all(|b| b.is_ascii_digit())
}

/// `+0100` -> 3600 seconds east of UTC.
fn zone_offset(word: &str) -> Option<i64> {
    let (sign, digits) = match word.as_bytes().first()? {
        b'+' => (1, &word[1..]),
        b'-' => (-1, &word[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

// ---------------------------------------------------------------------------
// Maildir

/// A message file of a Maildir.
struct MaildirFile {
    /// `cur/NAME` or `new/NAME`.
    origin: String,
    path: PathBuf,
    name: String,
    mtime: i64,
    len: u64,
}

/// Reads a Maildir's `new/` and `cur/`, oldest first, handing each message
/// to `each`.
fn read_maildir(
    dir: &Path,
    each: &mut dyn FnMut(Found) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory (for an mbox file use --mbox)",
            dir.display()
        );
    }
    if !dir.join("cur").is_dir() && !dir.join("new").is_dir() {
        anyhow::bail!(
            "{} is not a Maildir: it has neither cur/ nor new/",
            dir.display()
        );
    }
    let mut files = Vec::new();
    // tmp/ holds messages still being written: never read.
    for sub in ["new", "cur"] {
        let folder = dir.join(sub);
        if !folder.is_dir() {
            continue;
        }
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", folder.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if !meta.is_file() {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            files.push(MaildirFile {
                origin: format!("{sub}/{name}"),
                path,
                name,
                mtime,
                len: meta.len(),
            });
        }
    }
    // Delivery order: the time at the start of the name (when it was
    // delivered), then the mtime, then the name.
    files.sort_by(|a, b| {
        let ka = (leading_timestamp(&a.name).unwrap_or(a.mtime), a.mtime);
        let kb = (leading_timestamp(&b.name).unwrap_or(b.mtime), b.mtime);
        ka.cmp(&kb).then_with(|| a.name.cmp(&b.name))
    });
    for f in files {
        let flags = maildir_flags(&f.name);
        if f.len > MAX_IMPORT_MESSAGE {
            each(Found {
                origin: f.origin,
                raw: None,
                size: f.len,
                flags,
                internal_date: f.mtime,
            })?;
            continue;
        }
        let mut bytes = Vec::new();
        File::open(&f.path)
            .and_then(|file| file.take(MAX_IMPORT_MESSAGE + 1).read_to_end(&mut bytes))
            .with_context(|| format!("reading {}", f.path.display()))?;
        let raw = to_crlf(&bytes);
        each(Found {
            origin: f.origin,
            size: raw.len() as u64,
            raw: Some(raw),
            flags,
            internal_date: f.mtime,
        })?;
    }
    Ok(())
}

/// The seconds at the start of a Maildir name (`1700000000.M1P2.host`).
fn leading_timestamp(name: &str) -> Option<i64> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    name[..digits].parse().ok()
}

/// The flags of a Maildir name's `:2,` suffix.
fn maildir_flags(name: &str) -> Vec<Flag> {
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return Vec::new();
    };
    let mut flags = Vec::new();
    for c in info.chars() {
        match c {
            'S' => flags.push(Flag::Seen),
            'R' => flags.push(Flag::Answered),
            'F' => flags.push(Flag::Flagged),
            'D' => flags.push(Flag::Draft),
            'P' => flags.push(Flag::Keyword("$Forwarded".to_owned())),
            // T (trashed) is not imported as \Deleted: the message was
            // still in the old mailbox, and an import should not hide mail
            // (the next EXPUNGE would remove it unseen). Lowercase letters
            // are Dovecot keywords whose names live in another file.
            _ => {}
        }
    }
    flags.sort();
    flags.dedup();
    flags
}

/// The bytes with every line ending as CRLF (a last line without one gets
/// one); nothing else changes. Messages are stored as SMTP carries them
/// (RFC 5322 §2.3), so sizes reported by POP3 and IMAP are what is sent.
pub(crate) fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n');
        let (line, next) = match end {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        out.extend_from_slice(without_line_ending(line));
        out.extend_from_slice(b"\r\n");
        rest = next;
    }
    out
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_dates_parse() {
        let t = separator_date(b"From alice@example.org Mon Nov 23 06:19:57 2026\n");
        // date -u -d '2026-11-23 06:19:57' +%s
        assert_eq!(t, Some(1_795_414_797));
        assert_eq!(
            separator_date(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\r\n"),
            Some(0)
        );
        assert_eq!(
            separator_date(b"From a@b Thu Jan  1 01:00:00 1970 +0100\n"),
            Some(0)
        );
        assert_eq!(separator_date(b"From a@b yesterday\n"), None);
        assert_eq!(separator_date(b"From \n"), None);
    }

    #[test]
    fn from_quoting_is_undone_once() {
        assert_eq!(unquote_from(b">From here"), b"From here");
        assert_eq!(unquote_from(b">>From here"), b">From here");
        assert_eq!(unquote_from(b">Fromage"), b">Fromage");
        assert_eq!(unquote_from(b"> From"), b"> From");
    }

    #[test]
    fn maildir_names_give_flags_and_order() {
        assert_eq!(
            maildir_flags("1700000000.M1P2.host:2,FRST"),
            vec![Flag::Seen, Flag::Answered, Flag::Flagged]
        );
        assert_eq!(maildir_flags("1700000000.M1P2.host"), Vec::<Flag>::new());
        assert_eq!(
            leading_timestamp("1700000000.M1P2.host"),
            Some(1_700_000_000)
        );
        assert_eq!(leading_timestamp("msg.1"), None);
    }

    #[test]
    fn line_endings_become_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b""), b"");
        assert_eq!(to_crlf(b"\n\n"), b"\r\n\r\n");
    }
}
