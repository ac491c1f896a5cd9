//! The server's memory and CPU time, and the machine's CPU time, read from
//! /proc. The server's figures are summed over the
//! server's process tree: Postern is one process, but Dovecot runs one
//! process per POP3 session (plus login, auth and other helpers), and the
//! master's own figures would hide nearly all of its work.

use std::fs;

use anyhow::bail;

/// Linux reports CPU times in USER_HZ ticks, 100 per second on every
/// architecture it runs on (the ABI fixes it; CONFIG_HZ does not change it).
const TICKS_PER_SECOND: f64 = 100.0;

/// A process tree at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub processes: u64,
    /// The sum of VmRSS: counts pages shared between the processes (the
    /// libraries, for Dovecot) once per process, so it overstates a
    /// multi-process server.
    pub rss_kb: u64,
    /// The sum of Pss (each shared page divided among its sharers): the fair
    /// figure for a multi-process server. `None` where the kernel has no
    /// smaps_rollup.
    pub pss_kb: Option<u64>,
    /// User and system CPU seconds of the live processes, plus what their
    /// reaped children used (Dovecot's login processes end after each
    /// login and are reaped by the master).
    pub cpu_s: f64,
}

/// One line of /proc/PID/stat, the fields used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    parent: u32,
    /// utime + stime + cutime + cstime.
    ticks: u64,
}

/// Reads `pid` and all its descendants.
pub fn sample(pid: u32) -> anyhow::Result<Sample> {
    let all = all_stats();
    if !all.iter().any(|(p, _)| *p == pid) {
        bail!("no process {pid} (is the server running?)");
    }
    let mut total = Sample {
        processes: 0,
        rss_kb: 0,
        pss_kb: Some(0),
        cpu_s: 0.0,
    };
    for (p, stat) in tree(&all, pid) {
        // A process may end between listing and reading: skip it.
        let Ok(status) = fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        total.processes += 1;
        total.rss_kb += kb_field(&status, "VmRSS:").unwrap_or(0);
        total.pss_kb = total.pss_kb.zip(pss_kb(p)).map(|(a, b)| a + b);
        total.cpu_s += stat.ticks as f64 / TICKS_PER_SECOND;
    }
    Ok(total)
}

impl Sample {
    /// Two process trees as one server.
    pub fn plus(&self, o: &Self) -> Self {
        Self {
            processes: self.processes + o.processes,
            rss_kb: self.rss_kb + o.rss_kb,
            pss_kb: self.pss_kb.zip(o.pss_kb).map(|(a, b)| a + b),
            cpu_s: self.cpu_s + o.cpu_s,
        }
    }
}

/// CPU seconds all cores spent busy (not idle, not waiting for I/O) since
/// boot: compared with the server's and the load generator's own, it shows
/// how much other work shared the cores during a run.
pub fn host_busy_s() -> anyhow::Result<f64> {
    let text = fs::read_to_string("/proc/stat")?;
    match text.lines().next().and_then(busy_ticks) {
        Some(t) => Ok(t as f64 / TICKS_PER_SECOND),
        None => bail!("cannot read the first line of /proc/stat"),
    }
}

/// CPU seconds all cores spent idle while a process of theirs waited for
/// I/O since boot (the iowait field of /proc/stat): with fsync-bound work,
/// the time the disk, not the CPU, set the pace.
pub fn host_iowait_s() -> anyhow::Result<f64> {
    let text = fs::read_to_string("/proc/stat")?;
    let iowait = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse::<u64>().ok());
    match iowait {
        Some(t) => Ok(t as f64 / TICKS_PER_SECOND),
        None => bail!("cannot read the iowait time in /proc/stat"),
    }
}

/// The first line of /proc/stat: `cpu user nice system idle iowait irq
/// softirq steal guest guest_nice`; guest time is already in user time.
fn busy_ticks(line: &str) -> Option<u64> {
    let mut f = line.strip_prefix("cpu ")?.split_whitespace();
    let v: Vec<u64> = f
        .by_ref()
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let &[user, nice, system, _idle, _iowait, irq, softirq, steal] = v.as_slice() else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

fn pss_kb(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kb_field(&text, "Pss:")
}

/// Every process's stat line (there is no portable list of children, so
/// the tree is rebuilt from the parent ids).
fn all_stats() -> Vec<(u32, Stat)> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&text)?))
        })
        .collect()
}

/// `root` and every process below it.
fn tree(all: &[(u32, Stat)], root: u32) -> Vec<(u32, Stat)> {
    let mut found: Vec<(u32, Stat)> = all.iter().filter(|(p, _)| *p == root).copied().collect();
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].0;
        found.extend(all.iter().filter(|(_, s)| s.parent == parent).copied());
        i += 1;
    }
    found
}

/// Parses /proc/PID/stat. The command name (second field) is in
/// parentheses and may itself hold spaces and parentheses, so the fields are
/// counted from the last `)`: then state is field 3, the parent 4, and the
/// CPU times 14 to 17 (proc(5)).
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        parent: u32::try_from(field(4)?).ok()?,
        ticks: (14..=17).map(field).sum::<Option<u64>>()?,
    })
}

/// A `Key:   1234 kB` line of /proc status-like files.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "42 (a) b (c) S 7 42 42 0 -1 4194560 100 0 0 0 11 22 3 4 20 0 1 0";

    #[test]
    fn stat_fields_survive_odd_command_names() {
        assert_eq!(
            parse_stat(LINE),
            Some(Stat {
                parent: 7,
                ticks: 40
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 0"), None, "too short");
    }

    #[test]
    fn tree_follows_parents() {
        let s = |parent| Stat { parent, ticks: 1 };
        let all = [(1, s(0)), (5, s(1)), (6, s(5)), (7, s(2)), (8, s(6))];
        let pids: Vec<u32> = tree(&all, 5).iter().map(|(p, _)| *p).collect();
        assert_eq!(pids, vec![5, 6, 8]);
    }

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        assert_eq!(busy_ticks("cpu  1 2 3 1000 500 4 5 6 7 8"), Some(21));
        assert_eq!(
            busy_ticks("cpu0 1 2 3 4 5 6 7 8"),
            None,
            "a single core's line"
        );
        assert_eq!(busy_ticks("cpu  1 2 3"), None);
        assert!(host_busy_s().unwrap() > 0.0);
    }

    #[test]
    fn reads_kb_fields() {
        let text = "Name:\tx\nVmRSS:\t   1234 kB\nPss:  7 kB\n";
        assert_eq!(kb_field(text, "VmRSS:"), Some(1234));
        assert_eq!(kb_field(text, "Pss:"), Some(7));
        assert_eq!(kb_field(text, "VmHWM:"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_kb > 0);
        assert!(s.processes >= 1);
        assert!(sample(u32::MAX).is_err());
    }
}
