//! `postern-bench`: a load generator for Postern's benchmarks. It speaks
//! POP3 and IMAP over verified implicit TLS, SMTP (submission over implicit
//! TLS, the MX port with STARTTLS), and HTTPS to the webmail and to CalDAV,
//! to a server
//! on this machine, for a bounded time and number of operations, and
//! prints one JSON object. The same run against another server (Dovecot,
//! Postfix, Radicale) gives the comparison.

mod caldav;
mod http;
mod imap;
mod json;
mod pop3;
mod procfs;
mod scenario;
mod smtp;
mod stats;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::json::Obj;
use crate::scenario::{Outcome, Plan};

/// What to measure.
// The variants spell the `--scenario` values, which name the protocol
// because IMAP and SMTP scenarios are to come beside them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Whole sessions: connect, TLS handshake, greeting, USER/PASS, STAT,
    /// QUIT. Sessions per second.
    Pop3Sessions,
    /// Each client logs in once, then RETRs its messages over and over.
    /// Messages per second and MB per second.
    Pop3Retr,
    /// Connect, TLS handshake, greeting, QUIT: the sessions scenario without
    /// the login, to separate the TLS cost from the password hashing cost.
    Pop3Connect,
    /// Logs in to each account in turn and reads STAT; prints the number
    /// of messages each holds (checks what the SMTP runs stored).
    Pop3Count,
    /// Submission over implicit TLS: one session per client, AUTH PLAIN
    /// once, then MAIL/RCPT/DATA for message after message. Messages per
    /// second.
    SmtpSubmit,
    /// Submission over implicit TLS with a new connection, handshake and
    /// AUTH PLAIN for every message.
    SmtpSubmitConnect,
    /// The MX port: plain text, STARTTLS, no AUTH, message after message to
    /// a local recipient on one session per client.
    SmtpMx,
    /// IMAP over implicit TLS: connect, handshake, greeting, LOGIN, LOGOUT
    /// per operation. Sessions per second.
    ImapLogin,
    /// One session per client: LOGIN, SELECT INBOX, then
    /// `FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)` over and over. Commands per
    /// second.
    ImapFetch,
    /// One session per client: LOGIN, SELECT INBOX, then
    /// `FETCH n BODY.PEEK[]` for each message in turn. Messages and MB per
    /// second.
    ImapBody,
    /// `--clients` sessions (up to 20,000) LOGIN, SELECT INBOX and IDLE,
    /// held for `--seconds`; the server's memory per idle session, over a
    /// baseline taken after 8 complete warm-up sessions.
    ImapIdle,
    /// HTTPS webmail: each client logs in once through the login form, then
    /// `GET /mail/{folder}?page=K` for K spread over the list's pages, on
    /// one kept-alive connection. Requests per second.
    WebList,
    /// HTTPS webmail: each client logs in once, then
    /// `GET /mail/{folder}/{uid}` for UIDs spread over the folder (the
    /// first opening of a message also sets its \Seen flag). Requests per
    /// second.
    WebOpen,
    /// CalDAV: MKCALENDAR, then every event of the generated calendar PUT
    /// once, the clients sharing the work. Objects per second.
    CaldavLoad,
    /// CalDAV: calendar-query REPORT for one month's events with
    /// `<C:expand>`, each answer checked against the generated calendar.
    /// Requests per second.
    CaldavQuery,
    /// CalDAV: each client PUTs new events (If-None-Match: *) into a
    /// second calendar. Requests per second.
    CaldavPut,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Pop3Sessions => "pop3-sessions",
            Self::Pop3Retr => "pop3-retr",
            Self::Pop3Connect => "pop3-connect",
            Self::Pop3Count => "pop3-count",
            Self::SmtpSubmit => "smtp-submit",
            Self::SmtpSubmitConnect => "smtp-submit-connect",
            Self::SmtpMx => "smtp-mx",
            Self::ImapLogin => "imap-login",
            Self::ImapFetch => "imap-fetch",
            Self::ImapBody => "imap-body",
            Self::ImapIdle => "imap-idle",
            Self::WebList => "web-list",
            Self::WebOpen => "web-open",
            Self::CaldavLoad => "caldav-load",
            Self::CaldavQuery => "caldav-query",
            Self::CaldavPut => "caldav-put",
        }
    }

    fn is_smtp(self) -> bool {
        matches!(
            self,
            Self::SmtpSubmit | Self::SmtpSubmitConnect | Self::SmtpMx
        )
    }

    fn is_web(self) -> bool {
        matches!(self, Self::WebList | Self::WebOpen)
    }

    fn is_caldav(self) -> bool {
        matches!(self, Self::CaldavLoad | Self::CaldavQuery | Self::CaldavPut)
    }
}

/// Loads a POP3, IMAP, SMTP or HTTPS server on loopback over TLS and
/// prints one JSON object with the figures.
#[derive(Debug, Parser)]
#[command(name = "postern-bench", version)]
struct Args {
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// The server's address (implicit-TLS POP3, IMAP, submission or HTTPS,
    /// or the MX port for smtp-mx); loopback only.
    #[arg(long, default_value = "127.0.0.1:2995")]
    connect: SocketAddr,
    /// A PEM file with the certificate(s) to trust; nothing else is.
    #[arg(long)]
    ca: PathBuf,
    /// The name sent with SNI and verified against the certificate.
    #[arg(long, default_value = "localhost")]
    sni: String,
    /// A name for the server under test, copied into the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// How long the measured loop runs (1 to 600; caldav-load: the bound
    /// on the whole load, up to 3600).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients, each its own connection (1 to 256; imap-idle:
    /// the sessions held, 1 to 20000).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Spread the clients over this many accounts (client n logs in as
    /// account n % accounts); 0: one account per client.
    #[arg(long, default_value_t = 0)]
    accounts: usize,
    /// imap-idle: sessions being set up at the same time.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// The account of client n: `{n}` is replaced with 0, 1, ...
    #[arg(long, default_value = "bench{n}@example.test")]
    user_pattern: String,
    /// The accounts' password (all the same); not needed for smtp-mx.
    #[arg(long, env = "POSTERN_BENCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The server's process id: its memory (and its children's) is read
    /// from /proc before and after. Repeat it for a server made of separate
    /// process trees (Postfix and Dovecot): their figures are added.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// At most this many operations in all, whatever the time.
    #[arg(long, default_value_t = 10_000_000)]
    max_ops: u64,
    /// Seconds one session, one RETR or one message may take before it
    /// counts as an error.
    #[arg(long, default_value_t = 10)]
    op_timeout: u64,
    /// Allow TLS session resumption (off: every session pays a full handshake).
    #[arg(long)]
    resume: bool,
    /// ALPN protocol ids to offer (none by default, like most POP3 clients).
    #[arg(long)]
    alpn: Vec<String>,
    /// Worker threads of the load generator (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// SMTP: octets of each message, headers included (512 to 10485760).
    #[arg(long, default_value_t = 4096)]
    message_size: usize,
    /// SMTP: send MAIL, RCPT and DATA in one write (RFC 2920); the server
    /// must advertise PIPELINING.
    #[arg(long)]
    pipelining: bool,
    /// SMTP: the recipient of client n (`{n}` is replaced with 0, 1, ...);
    /// a local account of the server.
    #[arg(long, default_value = "bench{n}@example.test")]
    rcpt_pattern: String,
    /// SMTP: the envelope sender; default: the client's own account for
    /// submission, `bench-sender@example.net` on the MX port.
    #[arg(long)]
    mail_from: Option<String>,
    /// SMTP: the name sent with EHLO.
    #[arg(long, default_value = "bench.localhost")]
    ehlo: String,
    /// SMTP: messages per session before QUIT and a new connection (0: no
    /// limit). Default: 1 for smtp-submit-connect, else 0.
    #[arg(long)]
    per_session: Option<u64>,
    /// Web: the folder whose list is paged or whose messages are opened.
    #[arg(long, default_value = "INBOX")]
    folder: String,
    /// CalDAV: the account's calendar home, `{user}` replaced by the
    /// account (Postern: /dav/calendars/{user}/, Radicale: /{user}/).
    #[arg(long, default_value = "/dav/calendars/{user}/")]
    dav_home: String,
    /// CalDAV: the calendar loaded and queried.
    #[arg(long, default_value = "bench")]
    calendar: String,
    /// CalDAV: the calendar caldav-put writes new events to.
    #[arg(long, default_value = "bench-put")]
    put_calendar: String,
    /// CalDAV: events in the generated calendar (1 to 1000000).
    #[arg(long, default_value_t = 5000)]
    events: usize,
    /// CalDAV: the generator's seed: the same seed, the same calendar.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CalDAV: the month caldav-query asks for, YYYY-MM (UTC).
    #[arg(long, default_value = "2026-06")]
    month: String,
    /// CalDAV: ask for the objects as stored, without `<C:expand>`.
    #[arg(long)]
    no_expand: bool,
}

/// Web sessions one account may hold at once: the webmail drops an
/// account's oldest session beyond it, which would show up as errors.
const WEB_SESSIONS_PER_ACCOUNT: usize = 16;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postern-bench: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn check(args: &Args) -> anyhow::Result<()> {
    // A load generator aimed at someone else's server by a typo is an
    // attack; and over a real network it would measure the network.
    if !args.connect.ip().is_loopback() {
        bail!(
            "--connect {}: only loopback addresses are allowed",
            args.connect
        );
    }
    // Loading a calendar ends when every event is stored, and a server
    // whose PUT slows down as the calendar grows may need long for it.
    let max_seconds = if args.scenario == Scenario::CaldavLoad {
        3600
    } else {
        600
    };
    if !(1..=max_seconds).contains(&args.seconds) {
        bail!("--seconds must be between 1 and {max_seconds}");
    }
    if args.scenario == Scenario::ImapIdle {
        if !(1..=20_000).contains(&args.clients) {
            bail!("--clients must be between 1 and 20000 for imap-idle");
        }
        if !(1..=1024).contains(&args.parallel) {
            bail!("--parallel must be between 1 and 1024");
        }
    } else if !(1..=256).contains(&args.clients) {
        bail!("--clients must be between 1 and 256");
    }
    if args.op_timeout == 0 {
        bail!("--op-timeout must be at least 1");
    }
    if !(512..=10 << 20).contains(&args.message_size) {
        bail!("--message-size must be between 512 and 10485760");
    }
    if args.scenario.is_web() {
        let accounts = match (args.user_pattern.contains("{n}"), args.accounts) {
            (false, _) => 1,
            (true, 0) => args.clients,
            (true, a) => a,
        };
        if args.clients.div_ceil(accounts) > WEB_SESSIONS_PER_ACCOUNT {
            bail!(
                "--clients {}: at most {WEB_SESSIONS_PER_ACCOUNT} web sessions per account; spread the clients with {{n}} in --user-pattern and --accounts",
                args.clients
            );
        }
    }
    if args.scenario.is_caldav() {
        check_caldav(args)?;
    }
    if args.password.is_none() && args.scenario != Scenario::SmtpMx {
        bail!("a password is needed: POSTERN_BENCH_PASSWORD or --password");
    }
    for (what, s) in [
        ("--ehlo", &args.ehlo),
        ("--rcpt-pattern", &args.rcpt_pattern),
    ]
    .into_iter()
    .chain(args.mail_from.iter().map(|m| ("--mail-from", m)))
    {
        // They go into command lines: no line breaks, no spaces, no <>.
        if s.is_empty()
            || s.bytes()
                .any(|b| b <= b' ' || b == b'<' || b == b'>' || b >= 0x7f)
        {
            bail!("{what} {s:?}: printable ASCII without spaces or <> only");
        }
    }
    Ok(())
}

fn check_caldav(args: &Args) -> anyhow::Result<()> {
    if !(1..=1_000_000).contains(&args.events) {
        bail!("--events must be between 1 and 1000000");
    }
    if caldav::events::Window::month(&args.month).is_none() {
        bail!("--month {:?}: YYYY-MM", args.month);
    }
    for (what, s) in [
        ("--calendar", &args.calendar),
        ("--put-calendar", &args.put_calendar),
    ] {
        // One path segment that needs no percent-encoding.
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            bail!("{what} {s:?}: letters, digits, - . _ only");
        }
    }
    if !args.dav_home.starts_with('/') || !args.dav_home.ends_with('/') {
        bail!("--dav-home {:?}: a path from / to a /", args.dav_home);
    }
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    check(args)?;
    let config = pop3::client_config(&args.ca, args.resume, &args.alpn)?;
    let name = ServerName::try_from(args.sni.clone()).context("--sni")?;
    let target = pop3::Target {
        addr: args.connect,
        connector: TlsConnector::from(Arc::new(config)),
        name,
    };
    let plan = Plan::new(
        target,
        args.clients,
        Duration::from_secs(args.seconds),
        Duration::from_secs(args.op_timeout),
        args.max_ops,
        args.user_pattern.clone(),
        args.password.clone().unwrap_or_default(),
        args.server_pid.clone(),
    );
    let mut plan = plan;
    plan.accounts = args.accounts;
    let plan = Arc::new(if args.scenario.is_smtp() {
        plan.with_smtp(smtp_settings(args))
    } else {
        plan
    });
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = args.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.enable_all().build()?;
    if args.scenario == Scenario::Pop3Count {
        let limit = Duration::from_secs(args.op_timeout * (args.clients as u64 + 1));
        let counts = rt.block_on(async {
            tokio::time::timeout(limit, scenario::count(&plan))
                .await
                .map_err(|_| anyhow::anyhow!("counting did not finish within {limit:?}"))?
        })?;
        rt.shutdown_timeout(Duration::from_secs(1));
        println!("{}", count_report(args, &counts));
        return Ok(ExitCode::SUCCESS);
    }
    // The hard bound: the loop stops at --seconds, but a login or the last
    // operation may each take up to --op-timeout, and QUIT one more.
    let mut limit = Duration::from_secs(args.seconds + 4 * args.op_timeout + 5);
    if args.scenario == Scenario::ImapIdle {
        // The set-up of every session, bounded per session in the scenario.
        limit += Duration::from_secs(2 * (2 * args.op_timeout + args.clients as u64 / 20));
    }
    let outcome = rt.block_on(async {
        let work = async {
            match args.scenario {
                Scenario::Pop3Sessions => scenario::sessions(Arc::clone(&plan), true).await,
                Scenario::Pop3Connect => scenario::sessions(Arc::clone(&plan), false).await,
                Scenario::Pop3Retr => scenario::retr(Arc::clone(&plan)).await,
                Scenario::SmtpSubmit | Scenario::SmtpSubmitConnect | Scenario::SmtpMx => {
                    scenario::smtp(Arc::clone(&plan)).await
                }
                Scenario::ImapLogin => scenario::imap_login(Arc::clone(&plan)).await,
                Scenario::ImapFetch => {
                    scenario::imap_held(Arc::clone(&plan), scenario::ImapLoop::Fetch).await
                }
                Scenario::ImapBody => {
                    scenario::imap_held(Arc::clone(&plan), scenario::ImapLoop::Body).await
                }
                Scenario::ImapIdle => scenario::imap_idle(Arc::clone(&plan), args.parallel).await,
                Scenario::WebList | Scenario::WebOpen => {
                    web::web(Arc::clone(&plan), web_settings(args)).await
                }
                Scenario::CaldavLoad | Scenario::CaldavQuery | Scenario::CaldavPut => {
                    caldav::caldav(Arc::clone(&plan), caldav_settings(args)).await
                }
                Scenario::Pop3Count => unreachable!("handled above"),
            }
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| anyhow::anyhow!("the run did not finish within {limit:?}"))?
    })?;
    // Client tasks still blocked on a dead server are abandoned, not awaited.
    rt.shutdown_timeout(Duration::from_secs(1));
    println!("{}", report(args, &outcome));
    let t = &outcome.tally;
    Ok(if t.errors == 0 && t.operations > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The JSON object printed on stdout.
fn report(args: &Args, o: &Outcome) -> String {
    let t = &o.tally;
    let secs = o.elapsed.as_secs_f64();
    let mut out = Obj::new();
    out.str("scenario", args.scenario.name())
        .str("label", &args.label)
        .str("server", &args.connect.to_string())
        .int("clients", args.clients as u64)
        .float("seconds", secs)
        .int("operations", t.operations)
        .float("ops_per_s", t.operations as f64 / secs);
    match args.scenario {
        Scenario::ImapFetch => {
            out.float("commands_per_s", t.operations as f64 / secs);
        }
        Scenario::ImapBody => {
            out.int("octets", t.octets)
                .float("messages_per_s", t.operations as f64 / secs)
                .float("mb_per_s", t.octets as f64 / 1e6 / secs);
        }
        Scenario::WebList | Scenario::WebOpen => {
            out.float("requests_per_s", t.operations as f64 / secs)
                .int("octets", t.octets)
                .float(
                    "kb_per_page",
                    t.octets as f64 / 1e3 / t.operations.max(1) as f64,
                );
        }
        Scenario::CaldavLoad | Scenario::CaldavQuery | Scenario::CaldavPut => {
            // Octets of each answer (query) or of each object sent (PUT).
            out.float("requests_per_s", t.operations as f64 / secs)
                .int("octets", t.octets)
                .float(
                    "bytes_per_request",
                    t.octets as f64 / t.operations.max(1) as f64,
                );
            caldav::report(&mut out, &caldav_settings(args), t.dav.as_ref());
        }
        Scenario::ImapIdle => {
            // Here the time is the set-up of every session, not a loop.
            out.int("sessions_in_idle", t.operations)
                .int("hold_s", args.seconds);
        }
        _ => {}
    }
    if args.scenario == Scenario::Pop3Retr {
        // MB: 10^6 octets of message, un-stuffed, as LIST counts them.
        out.int("octets", t.octets)
            .float("mb_per_s", t.octets as f64 / 1e6 / secs);
    }
    if args.scenario.is_smtp() {
        // Every operation is one message acknowledged with 250.
        out.int("accepted", t.operations)
            .float("messages_per_s", t.operations as f64 / secs)
            .int("message_size", args.message_size as u64)
            .bool("pipelining", args.pipelining)
            .int("per_session", per_session(args))
            .int("unacknowledged", t.unacknowledged);
    }
    // For SMTP: from the end of data sent to the 250 received.
    out.obj("latency_ms", latency(&t.latencies));
    if !t.sessions.is_empty() {
        out.obj("session_latency_ms", latency(&t.sessions));
    }
    out.int("errors", t.errors);
    match &t.first_error {
        Some(e) => out.str("first_error", e),
        None => out.null("first_error"),
    };
    if let Some(tls) = &t.tls {
        let mut o = Obj::new();
        o.str("version", &tls.version)
            .str("cipher_suite", &tls.cipher_suite)
            .str("key_exchange", &tls.key_exchange);
        out.obj("tls", o);
    }
    out.str("tls_resumption", if args.resume { "on" } else { "off" });
    out.float("client_cpu_s", o.client_cpu_s)
        .float("host_busy_cpu_s", o.host_busy_s)
        // Cores idle while some process waited for the disk (fsync).
        .float("host_iowait_s", o.host_iowait_s);
    if let Some(cpu) = o.server_cpu_s {
        // CPU per operation: what the rate would be with the cores to itself.
        out.float("server_cpu_s", cpu)
            .float("server_cpu_ms_per_op", cpu * 1e3 / t.operations as f64)
            // Neither the server nor the load generator: other work that
            // shared the cores (a build, a test run) and skewed the figures.
            .float(
                "other_cpu_s",
                (o.host_busy_s - cpu - o.client_cpu_s).max(0.0),
            );
    }
    if let Some(m) = o.memory {
        memory(&mut out, args, &m);
    }
    out.finish()
}

fn latency(l: &stats::Latencies) -> Obj {
    let mut o = Obj::new();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    match l.summary() {
        Some(s) => o
            .float("p50", ms(s.p50))
            .float("p90", ms(s.p90))
            .float("p99", ms(s.p99))
            .float("max", ms(s.max)),
        None => o.null("p50").null("p90").null("p99").null("max"),
    };
    o
}

fn per_session(args: &Args) -> u64 {
    args.per_session
        .unwrap_or_else(|| u64::from(args.scenario == Scenario::SmtpSubmitConnect))
}

fn web_settings(args: &Args) -> web::Settings {
    web::Settings {
        kind: if args.scenario == Scenario::WebList {
            web::WebLoop::List
        } else {
            web::WebLoop::Open
        },
        folder: args.folder.clone(),
        // The name the certificate is checked against, and the port: what
        // a browser sends for https://NAME:PORT/.
        host: format!("{}:{}", args.sni, args.connect.port()),
    }
}

fn caldav_settings(args: &Args) -> caldav::Settings {
    caldav::Settings {
        kind: match args.scenario {
            Scenario::CaldavLoad => caldav::DavLoop::Load,
            Scenario::CaldavPut => caldav::DavLoop::Put,
            _ => caldav::DavLoop::Query,
        },
        host: format!("{}:{}", args.sni, args.connect.port()),
        home: args.dav_home.clone(),
        calendar: args.calendar.clone(),
        put_calendar: args.put_calendar.clone(),
        events: args.events,
        seed: args.seed,
        // Checked in `check_caldav`.
        window: caldav::events::Window::month(&args.month)
            .unwrap_or_else(|| caldav::events::Window::month("2026-06").expect("a valid month")),
        expand: !args.no_expand,
        // The time and the process: new names on every run against the
        // same server.
        run_id: format!(
            "{}x{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            std::process::id()
        ),
    }
}

fn smtp_settings(args: &Args) -> smtp::Settings {
    let mx = args.scenario == Scenario::SmtpMx;
    smtp::Settings {
        security: if mx {
            smtp::Security::StartTls
        } else {
            smtp::Security::Implicit
        },
        auth: !mx,
        per_session: per_session(args),
        pipelining: args.pipelining,
        message_size: args.message_size,
        mail_from: args
            .mail_from
            .clone()
            .or_else(|| mx.then(|| "bench-sender@example.net".to_owned())),
        rcpt_pattern: args.rcpt_pattern.clone(),
        ehlo: args.ehlo.clone(),
    }
}

/// The JSON object of pop3-count.
fn count_report(args: &Args, counts: &[scenario::Count]) -> String {
    let mut per = Obj::new();
    for c in counts {
        per.int(&c.user, c.messages);
    }
    let mut out = Obj::new();
    out.str("scenario", args.scenario.name())
        .str("label", &args.label)
        .str("server", &args.connect.to_string())
        .int("accounts", counts.len() as u64)
        .int("messages", counts.iter().map(|c| c.messages).sum())
        .int("octets", counts.iter().map(|c| c.octets).sum())
        .obj("per_account", per);
    out.finish()
}

/// Memory of the server. Per connection only where every client holds one
/// connection at the moment of the last reading (pop3-retr, imap-fetch,
/// imap-body, imap-idle).
fn memory(out: &mut Obj, args: &Args, m: &scenario::Memory) {
    let retr = matches!(
        args.scenario,
        Scenario::Pop3Retr | Scenario::ImapFetch | Scenario::ImapBody | Scenario::ImapIdle
    );
    let per_conn = |a: u64, b: u64| (a as f64 - b as f64) / args.clients as f64;
    out.int("server_processes_before", m.before.processes)
        .int("server_processes_after", m.after.processes)
        .int("rss_kb_before", m.before.rss_kb);
    if let Some(l) = m.logged_in {
        out.int("rss_kb_logged_in", l.rss_kb);
    }
    out.int("rss_kb_after", m.after.rss_kb);
    if retr {
        out.float(
            "rss_kb_per_connection",
            per_conn(m.after.rss_kb, m.before.rss_kb),
        );
    }
    if let (Some(b), Some(a)) = (m.before.pss_kb, m.after.pss_kb) {
        out.int("pss_kb_before", b);
        if let Some(l) = m.logged_in.and_then(|l| l.pss_kb) {
            out.int("pss_kb_logged_in", l);
        }
        out.int("pss_kb_after", a);
        if retr {
            out.float("pss_kb_per_connection", per_conn(a, b));
        }
    }
}
