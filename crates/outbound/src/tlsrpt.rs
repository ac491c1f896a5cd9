//! SMTP TLS Reporting (RFC 8460), the sending side: every outbound
//! session's TLS result is recorded, and once a day each recipient domain
//! that asks for it (`_smtp._tls.<domain>` TXT, §3) gets a report of the
//! previous UTC day.
//!
//! Results are counted in memory per (UTC day, policy domain, policy,
//! result) and appended about once a second (or every 100 sessions) to
//! `DATA/tls-rpt/YYYY-MM-DD.jsonl`, one JSON object per line with its
//! count, fsynced: a crash loses at most the last second, a restart
//! nothing else. A line cut short by a crash is skipped when read. After
//! a day is reported its file is renamed to `.sent`, so a restart never
//! reports it twice.
//!
//! Several nodes on one store each report their own sessions (RFC 8460 §4
//! allows one report per sending MTA; the report IDs differ).
//!
//! # Layout
//! - this file: what a session's result is, the journal, the daily task;
//! - [`report`]: the JSON report (§4), the `rua` record (§3), the message
//!   (§5.3) and its submission through the queue;
//! - `json`: the report's JSON and the journal lines; `gzip`: flate2.

pub mod gzip;
mod https;
pub mod json;
pub mod report;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_store::Store;
use postern_types::date::{civil_from_days, days_from_civil};
use tokio_util::sync::CancellationToken;

use crate::deliver::Ctx;
use crate::dns::Tlsa;
use crate::metrics::FailureKind;
use crate::mta_sts::{self, Mode};
use crate::policy::Need;
use crate::routing::{Target, Via};
use crate::tls::Verification;
use crate::worker::unix_now;

/// The directory under the data directory.
pub const DIR: &str = "tls-rpt";
/// A batch is written once this many sessions wait.
const BATCH: u64 = 100;
/// ... or after this long.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The policy that applied (RFC 8460 §4.4 `policy`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Policy {
    /// `sts`, `tlsa` or `no-policy-found` (§4.4 `policy-type`).
    pub kind: String,
    /// The MTA-STS policy's lines or the TLSA records (§4.4
    /// `policy-string`); empty for `no-policy-found`.
    pub strings: Vec<String>,
    /// The MTA-STS `mx` patterns, or the MX host of a TLSA policy (§4.4
    /// `mx-host`).
    pub mx_host: Vec<String>,
}

/// Why a session failed (RFC 8460 §4.4 `failure-details`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Failure {
    /// The §4.3 result type (`certificate-expired`...).
    pub result_type: String,
    pub sending_mta_ip: Option<String>,
    pub receiving_mx_hostname: Option<String>,
    pub receiving_ip: Option<String>,
}

/// One journal entry: sessions with the same result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// The policy domain: the recipient domain (§3).
    pub domain: String,
    pub policy: Policy,
    /// `None`: the sessions succeeded.
    pub failure: Option<Failure>,
}

/// A UTC day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn of(unix: i64) -> Self {
        Self(unix.div_euclid(86_400))
    }

    pub fn today() -> Self {
        Self::of(unix_now())
    }

    /// The first second of the day.
    pub fn start(self) -> i64 {
        self.0 * 86_400
    }

    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        // YYYY-MM-DD exactly: a longer year would overflow the day count.
        if s.len() != 10 {
            return None;
        }
        let mut parts = s.splitn(3, '-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        let day = Self(days_from_civil(y, m, d));
        // Refuses 2026-02-31 and the like: it would not print back.
        (day.to_string() == s).then_some(day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The results of one day's sessions, as read back.
pub type Counts = BTreeMap<Entry, u64>;

/// Counts sessions and appends them to the day files.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    pending: Mutex<BTreeMap<(Day, Entry), u64>>,
    /// One writer at a time, so lines are never interleaved.
    writing: Mutex<()>,
    full: tokio::sync::Notify,
}

impl Recorder {
    /// Over `dir` (created if missing).
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            pending: Mutex::new(BTreeMap::new()),
            writing: Mutex::new(()),
            full: tokio::sync::Notify::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counts one session, today.
    pub fn record(&self, entry: Entry) {
        self.record_on(Day::today(), entry);
    }

    /// Counts one session on `day`.
    pub fn record_on(&self, day: Day, entry: Entry) {
        let waiting = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            *p.entry((day, entry)).or_default() += 1;
            p.values().sum::<u64>()
        };
        if waiting >= BATCH {
            self.full.notify_one();
        }
    }

    /// Appends what is waiting to the day files and fsyncs them. On an
    /// error the counts are kept for the next try.
    pub fn flush(&self) -> io::Result<()> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let mut by_day: BTreeMap<Day, String> = BTreeMap::new();
        for ((day, entry), count) in &batch {
            let line = by_day.entry(*day).or_default();
            line.push_str(&json::to_string(&entry_json(entry, *count)));
            line.push('\n');
        }
        for (day, text) in by_day {
            if let Err(e) = self.append(day, text.as_bytes()) {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                for ((d, entry), count) in batch.into_iter().filter(|((d, _), _)| *d >= day) {
                    *p.entry((d, entry)).or_default() += count;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn append(&self, day: Day, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(day, "jsonl");
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        // A line cut short by an earlier crash would swallow ours: start
        // on a fresh line (the torn one is then skipped alone).
        if f.metadata()?.len() > 0 && !ends_with_newline(&path)? {
            f.write_all(b"\n")?;
        }
        f.write_all(bytes)?;
        f.sync_data()
    }

    /// `DIR/YYYY-MM-DD.ext`.
    pub fn path(&self, day: Day, ext: &str) -> PathBuf {
        self.dir.join(format!("{day}.{ext}"))
    }

    /// The days with results not yet reported, before `before`.
    pub fn unsent_days(&self, before: Day) -> io::Result<Vec<Day>> {
        let mut days: Vec<Day> = fs::read_dir(&self.dir)?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                Day::parse(name.strip_suffix(".jsonl")?)
            })
            .filter(|d| *d < before)
            .collect();
        days.sort();
        Ok(days)
    }

    /// A day's results as written (torn or unreadable lines skipped).
    pub fn load(&self, day: Day) -> io::Result<Counts> {
        let text = match fs::read(self.path(day, "jsonl")) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Counts::new()),
            Err(e) => return Err(e),
        };
        let mut counts = Counts::new();
        for line in text.split(|&b| b == b'\n') {
            let Some((entry, n)) = std::str::from_utf8(line)
                .ok()
                .and_then(json::parse)
                .and_then(|v| entry_from_json(&v))
            else {
                if !line.is_empty() {
                    tracing::warn!(day = %day, "skipping a damaged line of the TLS report journal");
                }
                continue;
            };
            // A forged or damaged journal must not overflow the sum.
            let count = counts.entry(entry).or_default();
            *count = count.saturating_add(n);
        }
        Ok(counts)
    }

    /// Marks a day reported.
    pub fn mark_sent(&self, day: Day) -> io::Result<()> {
        fs::rename(self.path(day, "jsonl"), self.path(day, "sent"))?;
        let _ = fs::remove_file(self.path(day, "done"));
        fsync_dir(&self.dir)
    }

    /// The domains of `day` already reported (a crash between two
    /// domains must not report the first again).
    pub fn done_domains(&self, day: Day) -> Vec<String> {
        fs::read_to_string(self.path(day, "done"))
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn mark_domain_done(&self, day: Day, domain: &str) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(day, "done"))?;
        f.write_all(format!("{domain}\n").as_bytes())?;
        f.sync_data()
    }
}

fn ends_with_newline(path: &Path) -> io::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = fs::File::open(path)?;
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn entry_json(e: &Entry, count: u64) -> json::Value {
    use json::Value::{Number, String as S};
    let mut v = json::object([
        ("domain", S(e.domain.clone())),
        ("policy-type", S(e.policy.kind.clone())),
        ("policy-string", json::strings(&e.policy.strings)),
        ("mx-host", json::strings(&e.policy.mx_host)),
        ("count", Number(i64::try_from(count).unwrap_or(i64::MAX))),
    ]);
    if let (Some(f), json::Value::Object(m)) = (&e.failure, &mut v) {
        m.insert("result-type".into(), S(f.result_type.clone()));
        let opt = [
            ("sending-mta-ip", &f.sending_mta_ip),
            ("receiving-mx-hostname", &f.receiving_mx_hostname),
            ("receiving-ip", &f.receiving_ip),
        ];
        for (k, x) in opt {
            if let Some(x) = x {
                m.insert(k.into(), S(x.clone()));
            }
        }
    }
    v
}

fn entry_from_json(v: &json::Value) -> Option<(Entry, u64)> {
    let s = |k: &str| v.get(k).and_then(json::Value::as_str).map(str::to_owned);
    let count = u64::try_from(v.get("count")?.as_i64()?).ok()?;
    let failure = s("result-type").map(|result_type| Failure {
        result_type,
        sending_mta_ip: s("sending-mta-ip"),
        receiving_mx_hostname: s("receiving-mx-hostname"),
        receiving_ip: s("receiving-ip"),
    });
    let entry = Entry {
        domain: s("domain")?,
        policy: Policy {
            kind: s("policy-type")?,
            strings: v.get("policy-string")?.strings(),
            mx_host: v.get("mx-host")?.strings(),
        },
        failure,
    };
    Some((entry, count))
}

// --- what the delivery code tells us ---

/// The policy of a session to `target` under `need` and `sts`.
pub(crate) fn policy_of(target: &Target, need: Option<&Need>, sts: &mta_sts::Lookup) -> Policy {
    match (need, sts) {
        (Some(Need::Dane(records)), _) => Policy {
            kind: "tlsa".into(),
            strings: records.iter().map(tlsa_text).collect(),
            mx_host: vec![target.host.trim_end_matches('.').to_ascii_lowercase()],
        },
        (_, mta_sts::Lookup::Policy(p)) if p.mode != Mode::None => Policy {
            kind: "sts".into(),
            strings: sts_lines(p),
            mx_host: p.mx.clone(),
        },
        // §4.3.2.2: the domain has a policy we could not get; the
        // session went on as without one (RFC 8461 §5.1).
        (_, mta_sts::Lookup::FetchFailed(_)) => Policy {
            kind: "sts".into(),
            strings: Vec::new(),
            mx_host: Vec::new(),
        },
        _ => no_policy(),
    }
}

fn no_policy() -> Policy {
    Policy {
        kind: "no-policy-found".into(),
        strings: Vec::new(),
        mx_host: Vec::new(),
    }
}

/// The policy as its lines (§4.4: "the policy string ... as it was
/// fetched", one array element per line).
fn sts_lines(p: &mta_sts::Policy) -> Vec<String> {
    let mode = match p.mode {
        Mode::Enforce => "enforce",
        Mode::Testing => "testing",
        Mode::None => "none",
    };
    let mut lines = vec!["version: STSv1".to_owned(), format!("mode: {mode}")];
    lines.extend(p.mx.iter().map(|m| format!("mx: {m}")));
    lines.push(format!("max_age: {}", p.max_age));
    lines
}

/// A TLSA record in presentation format (RFC 6698 §2.2).
fn tlsa_text(t: &Tlsa) -> String {
    let hex: String = t.data.iter().map(|b| format!("{b:02X}")).collect();
    format!("{} {} {} {hex}", t.usage, t.selector, t.matching)
}

/// The local address the system would use towards `peer`: a UDP socket
/// "connected" sends nothing, it only picks the route.
fn sending_ip(peer: IpAddr) -> Option<String> {
    let bind: SocketAddr = if peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect((peer, 25)).ok()?;
    Some(s.local_addr().ok()?.ip().to_string())
}

fn failure(kind: FailureKind, target: &Target, addr: Option<SocketAddr>) -> Option<Failure> {
    // RFC 8689's missing REQUIRETLS is not a TLS-RPT result.
    if kind == FailureKind::RequireTlsNotSupported {
        return None;
    }
    Some(Failure {
        result_type: kind.name().to_owned(),
        sending_mta_ip: addr.and_then(|a| sending_ip(a.ip())),
        receiving_mx_hostname: Some(target.host.trim_end_matches('.').to_ascii_lowercase()),
        receiving_ip: addr.map(|a| a.ip().to_string()),
    })
}

/// One target of one delivery attempt, for recording its sessions.
pub(crate) struct Scope<'a> {
    /// `None`: nothing to record.
    rec: Option<&'a Arc<Recorder>>,
    domain: &'a str,
    target: &'a Target,
    sts: &'a mta_sts::Lookup,
}

impl<'a> Scope<'a> {
    /// Sessions to the smarthost or a static route are left out: the
    /// recipient domain did not choose those hosts, and a report about
    /// them would tell it nothing about its own.
    pub(crate) fn new(
        ctx: &'a Ctx,
        domain: &'a str,
        target: &'a Target,
        sts: &'a mta_sts::Lookup,
    ) -> Self {
        let mx = matches!(target.via, Via::Mx | Via::Implicit);
        Self {
            rec: if mx { ctx.tlsrpt.as_ref() } else { None },
            domain,
            target,
            sts,
        }
    }

    /// A session that ran its transaction. A session without TLS failed
    /// (`starttls-not-supported`), whatever the policy; one to a domain
    /// whose MTA-STS policy could not be fetched failed with
    /// `sts-policy-fetch-error` (it went on without the policy); a certificate
    /// that did not verify, or an MX the policy does not list, is a
    /// failure only under an MTA-STS policy (`testing` delivers anyway,
    /// and §4.3 still counts it), never under opportunistic TLS, which
    /// asks for no verification (RFC 7435).
    pub(crate) fn session(
        &self,
        addr: SocketAddr,
        need: &Need,
        tls: bool,
        verification: Option<&Verification>,
    ) {
        let Some(rec) = self.rec else { return };
        let policy = policy_of(self.target, Some(need), self.sts);
        let listed = match self.sts {
            mta_sts::Lookup::Policy(p) => p.allows(&self.target.host),
            _ => true,
        };
        let kind = match (tls, verification) {
            (false, _) => Some(FailureKind::StartTlsNotSupported),
            _ if policy.kind == "sts" && matches!(self.sts, mta_sts::Lookup::FetchFailed(_)) => {
                Some(FailureKind::StsPolicyFetchError)
            }
            _ if policy.kind == "sts" && !listed => Some(FailureKind::StsMxMismatch),
            (true, Some(v @ Verification::Failed(_))) if policy.kind == "sts" => {
                Some(crate::policy::classify(v))
            }
            _ => None,
        };
        let failure = kind.and_then(|k| failure(k, self.target, Some(addr)));
        rec.record(Entry {
            domain: self.domain.to_ascii_lowercase(),
            policy,
            failure,
        });
    }

    /// A session (or the decision before one) that failed on transport
    /// security: `kind` says why; `None` (a refused connection, a 4xx) is
    /// not a TLS result and is not counted.
    pub(crate) fn failed(
        &self,
        addr: Option<SocketAddr>,
        need: Option<&Need>,
        kind: Option<FailureKind>,
    ) {
        let (Some(rec), Some(kind)) = (self.rec, kind) else {
            return;
        };
        let mut policy = policy_of(self.target, need, self.sts);
        if need.is_none() && kind == FailureKind::DnssecInvalid {
            // The TLSA lookup itself failed: a DANE policy, unseen.
            policy = Policy {
                kind: "tlsa".into(),
                strings: Vec::new(),
                mx_host: vec![self.target.host.to_ascii_lowercase()],
            };
        }
        let Some(failure) = failure(kind, self.target, addr) else {
            return;
        };
        rec.record(Entry {
            domain: self.domain.to_ascii_lowercase(),
            policy,
            failure: Some(failure),
        });
    }
}

// --- the tasks ---

/// Writes the journal every second, and on shutdown; sends the reports
/// of each finished day after UTC midnight plus a random 0-60 minutes
/// (RFC 8460 §4.1 asks reports to be spread, not sent at 00:00 by all).
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    ctx: Arc<Ctx>,
    cancel: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    let Some(rec) = ctx.tlsrpt.clone() else {
        return;
    };
    tracker.spawn(flusher(rec, cancel.clone()));
    tracker.spawn(daily(store, ctx, cancel));
}

async fn flusher(rec: Arc<Recorder>, cancel: CancellationToken) {
    loop {
        let stop = tokio::select! {
            () = cancel.cancelled() => true,
            () = tokio::time::sleep(FLUSH_EVERY) => false,
            () = rec.full.notified() => false,
        };
        let r = rec.clone();
        let result = tokio::task::spawn_blocking(move || r.flush()).await;
        if let Ok(Err(e)) = result {
            tracing::error!(dir = %rec.dir.display(), error = %e,
                "cannot write the TLS report journal; check the directory's permissions and free space (results are kept in memory and written again)");
        }
        if stop {
            return;
        }
    }
}

async fn daily(store: Arc<dyn Store>, ctx: Arc<Ctx>, cancel: CancellationToken) {
    let Some(rec) = ctx.tlsrpt.clone() else {
        return;
    };
    loop {
        // Days a restart left unreported go out at once, then each night.
        let reporter = report::Reporter {
            hostname: &ctx.settings.hostname,
            dns: &ctx.dns,
            trust: &ctx.trust,
        };
        report::send_due(&store, &reporter, &rec, Day::today()).await;
        let now = unix_now();
        let midnight = Day::of(now).start() + 86_400;
        let mut wait = u64::try_from(midnight - now).unwrap_or(0) + random_below(3600);
        if rec.unsent_days(Day::of(now)).is_ok_and(|d| !d.is_empty()) {
            // Something failed (DNS, the store): again in an hour.
            wait = wait.min(3600);
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(wait)) => {}
        }
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0;
    }
    u64::from_le_bytes(b) % n.max(1)
}

/// 16 random hex digits, for report IDs.
pub(crate) fn random_hex() -> String {
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(domain: &str, failure: Option<&str>) -> Entry {
        Entry {
            domain: domain.into(),
            policy: no_policy(),
            failure: failure.map(|r| Failure {
                result_type: r.into(),
                sending_mta_ip: Some("192.0.2.1".into()),
                receiving_mx_hostname: Some("mx.example.net".into()),
                receiving_ip: Some("198.51.100.7".into()),
            }),
        }
    }

    #[test]
    fn days_print_and_parse() {
        assert_eq!(Day::of(0).to_string(), "1970-01-01");
        assert_eq!(Day::of(1_779_580_800 - 1).to_string(), "2026-05-23");
        assert_eq!(Day::parse("2026-05-24"), Some(Day::of(1_779_580_800)));
        assert_eq!(Day::parse("2026-02-31"), None);
        assert_eq!(Day::parse("x"), None);
    }

    #[test]
    fn batches_survive_a_new_recorder_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let day = Day(20_000);
        let rec = Recorder::open(dir.path()).unwrap();
        for _ in 0..3 {
            rec.record_on(day, entry("a.example", None));
        }
        rec.record_on(day, entry("a.example", Some("certificate-expired")));
        rec.flush().unwrap();
        rec.record_on(day, entry("a.example", None));
        rec.flush().unwrap();
        // A crash in the middle of a line.
        let path = rec.path(day, "jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"domain\":\"a.exa").unwrap();
        drop(f);
        let again = Recorder::open(dir.path()).unwrap();
        again.record_on(day, entry("b.example", None));
        again.flush().unwrap();
        let counts = again.load(day).unwrap();
        assert_eq!(counts[&entry("a.example", None)], 4);
        assert_eq!(counts[&entry("a.example", Some("certificate-expired"))], 1);
        assert_eq!(counts[&entry("b.example", None)], 1);
        assert_eq!(counts.len(), 3);
        assert_eq!(again.unsent_days(Day(20_001)).unwrap(), vec![day]);
        assert!(again.unsent_days(day).unwrap().is_empty());
        again.mark_sent(day).unwrap();
        assert!(again.unsent_days(Day(20_001)).unwrap().is_empty());
    }

    #[test]
    fn sts_policy_strings_are_the_policy_lines() {
        let p = mta_sts::Policy {
            mode: Mode::Testing,
            mx: vec!["*.mail.example.net".into()],
            max_age: 86400,
        };
        assert_eq!(
            sts_lines(&p),
            [
                "version: STSv1",
                "mode: testing",
                "mx: *.mail.example.net",
                "max_age: 86400"
            ]
        );
        let t = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0xab, 0x01],
        };
        assert_eq!(tlsa_text(&t), "3 1 1 AB01");
    }

    #[test]
    fn the_sending_address_is_the_route_s_source() {
        assert_eq!(
            sending_ip("127.0.0.1".parse().unwrap()).as_deref(),
            Some("127.0.0.1")
        );
    }
}
