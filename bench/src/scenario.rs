//! The scenarios: N clients, each its own task, for a fixed time and a
//! capped number of operations, then the tallies merged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use tokio::sync::Barrier;
use tokio::time::{sleep, timeout};

use crate::imap;
use crate::pop3::{Conn, Target, TlsSummary};
use crate::procfs::{self, Sample};
use crate::smtp::{self, MessageMaker};
use crate::stats::Latencies;

/// What every client shares.
pub struct Plan {
    pub target: Target,
    pub clients: usize,
    pub duration: Duration,
    /// Any one network step (a session, a RETR) that takes longer is an
    /// error: a stuck server must not stretch the run.
    pub op_timeout: Duration,
    pub user_pattern: String,
    pub password: String,
    pub server_pids: Vec<u32>,
    /// The SMTP scenarios' settings and messages.
    pub smtp: Option<(smtp::Settings, MessageMaker)>,
    /// Accounts the clients are spread over (client n uses account
    /// n % accounts); 0: one account per client.
    pub accounts: usize,
    /// Operations left for all clients together: the count bound.
    budget: AtomicU64,
}

impl Plan {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: Target,
        clients: usize,
        duration: Duration,
        op_timeout: Duration,
        max_ops: u64,
        user_pattern: String,
        password: String,
        server_pids: Vec<u32>,
    ) -> Self {
        Self {
            target,
            clients,
            duration,
            op_timeout,
            user_pattern,
            password,
            server_pids,
            smtp: None,
            accounts: 0,
            budget: AtomicU64::new(max_ops),
        }
    }

    pub fn with_smtp(mut self, settings: smtp::Settings) -> Self {
        let maker = MessageMaker::new(settings.message_size);
        self.smtp = Some((settings, maker));
        self
    }

    /// Client `n`'s account: POP3 locks a maildrop per account, so clients
    /// sharing one would mostly measure `-ERR [IN-USE]`; SMTP clients each
    /// submit as their own account, as many users of one server do.
    pub(crate) fn user(&self, n: usize) -> String {
        let n = if self.accounts > 0 {
            n % self.accounts
        } else {
            n
        };
        self.user_pattern.replace("{n}", &n.to_string())
    }

    /// Takes one operation from the budget; false once it is spent.
    pub(crate) fn take_op(&self) -> bool {
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
    }
}

/// One client's counts, and after merging, everyone's.
#[derive(Debug, Default)]
pub struct Tally {
    pub operations: u64,
    /// Message octets received (RETR only).
    pub octets: u64,
    pub latencies: Latencies,
    /// Whole sessions, where a session carries a bounded number of
    /// operations (smtp-submit-connect: connect to QUIT's answer).
    pub sessions: Latencies,
    /// SMTP: messages whose end of data was sent and whose answer never
    /// came; the server may have stored them.
    pub unacknowledged: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub tls: Option<TlsSummary>,
    /// CalDAV: connections opened and what the answers held.
    pub dav: Option<crate::caldav::Seen>,
}

impl Tally {
    pub(crate) fn ok(&mut self, took: Duration, octets: u64) {
        self.operations += 1;
        self.octets += octets;
        self.latencies.record(took);
    }

    pub(crate) fn error(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{e:#}"));
    }

    fn merge(&mut self, other: Self) {
        self.operations += other.operations;
        self.octets += other.octets;
        self.latencies.merge(other.latencies);
        self.sessions.merge(other.sessions);
        self.unacknowledged += other.unacknowledged;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        if self.tls.is_none() {
            self.tls = other.tls;
        }
        match (&mut self.dav, other.dav) {
            (Some(a), Some(b)) => a.merge(b),
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
    }
}

/// The result of a whole run.
#[derive(Debug)]
pub struct Outcome {
    pub tally: Tally,
    /// From the start of the measured loop until the last client stopped.
    pub elapsed: Duration,
    /// The server's memory, when its PID was given.
    pub memory: Option<Memory>,
    /// CPU seconds the server used in the measured loop.
    pub server_cpu_s: Option<f64>,
    /// CPU seconds the load generator used in the measured loop: it shares
    /// the cores with the server.
    pub client_cpu_s: f64,
    /// CPU seconds the whole machine was busy in the measured loop.
    pub host_busy_s: f64,
    /// CPU seconds the cores sat idle with a disk write (fsync) pending.
    pub host_iowait_s: f64,
}

/// The server's memory at the points of a run.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Before any client connected.
    pub before: Sample,
    /// pop3-retr: once every client has logged in, before the first RETR.
    pub logged_in: Option<Sample>,
    /// At the end; for pop3-retr while every client still holds its
    /// connection.
    pub after: Sample,
}

fn own_cpu_s() -> anyhow::Result<f64> {
    Ok(procfs::sample(std::process::id())?.cpu_s)
}

/// Runs `op` with the per-operation time limit, as one error if it passes.
pub(crate) async fn bounded<T>(
    limit: Duration,
    what: &str,
    op: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    timeout(limit, op)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {limit:?}"))?
}

/// The server's process trees added together; `None` without a PID.
fn memory_sample(plan: &Plan) -> anyhow::Result<Option<Sample>> {
    let mut total: Option<Sample> = None;
    for &pid in &plan.server_pids {
        let s = procfs::sample(pid)?;
        total = Some(match total {
            None => s,
            Some(t) => t.plus(&s),
        });
    }
    Ok(total)
}

/// Waits for all client tasks and merges what they counted.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> anyhow::Result<Tally> {
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await?);
    }
    Ok(all)
}

// ---- pop3-sessions and pop3-connect --------------------------------------

/// Each client: whole sessions back to back, each a new TCP connection and
/// a full TLS handshake; with `login`, USER/PASS and STAT too.
pub async fn sessions(plan: Arc<Plan>, login: bool) -> anyhow::Result<Outcome> {
    run_clients(&plan, |plan, n, start| {
        session_client(plan, n, login, start)
    })
    .await
}

/// Starts one task per client, each running `client` until the time or the
/// operations run out, and measures the server and the machine around them.
pub(crate) async fn run_clients<F, Fut>(plan: &Arc<Plan>, client: F) -> anyhow::Result<Outcome>
where
    F: Fn(Arc<Plan>, usize, Instant) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let before = memory_sample(plan)?;
    let client_before = own_cpu_s()?;
    let host_before = procfs::host_busy_s()?;
    let iowait_before = procfs::host_iowait_s()?;
    let start = Instant::now();
    let tasks = (0..plan.clients)
        .map(|n| tokio::spawn(client(Arc::clone(plan), n, start)))
        .collect();
    let tally = gather(tasks).await?;
    let elapsed = start.elapsed();
    let client_cpu_s = own_cpu_s()? - client_before;
    let host_busy_s = procfs::host_busy_s()? - host_before;
    let host_iowait_s = procfs::host_iowait_s()? - iowait_before;
    let after = memory_sample(plan)?;
    Ok(Outcome {
        tally,
        elapsed,
        server_cpu_s: before.zip(after).map(|(b, a)| a.cpu_s - b.cpu_s),
        memory: before.zip(after).map(|(before, after)| Memory {
            before,
            logged_in: None,
            after,
        }),
        client_cpu_s,
        host_busy_s,
        host_iowait_s,
    })
}

async fn session_client(plan: Arc<Plan>, n: usize, login: bool, start: Instant) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    while start.elapsed() < plan.duration && plan.take_op() {
        let t0 = Instant::now();
        let session = one_session(&plan, &user, login);
        match bounded(plan.op_timeout, "session", session).await {
            Ok(tls) => {
                tally.ok(t0.elapsed(), 0);
                tally.tls.get_or_insert(tls);
            }
            Err(e) => {
                tally.error(&e);
                // A refused connection fails at once: without a pause the
                // loop would spin and steal the server's CPU.
                sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

async fn one_session(plan: &Plan, user: &str, login: bool) -> anyhow::Result<TlsSummary> {
    let mut conn = Conn::connect(&plan.target).await?;
    if login {
        conn.login(user, &plan.password).await?;
        conn.stat().await?;
    }
    let tls = conn.tls();
    conn.quit().await?;
    Ok(tls)
}

// ---- pop3-retr -----------------------------------------------------------

/// The points where the clients and the main task meet, so the memory is
/// read while every client holds its connection.
#[derive(Debug)]
pub(crate) struct Gates {
    pub(crate) logged_in: Barrier,
    pub(crate) finished: Barrier,
    pub(crate) measured: Barrier,
}

/// Each client: one login, then RETR of every message in its maildrop, over
/// and over.
pub async fn retr(plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    run_held(&plan, retr_client).await
}

/// Starts one task per client; each logs in, meets the others at
/// `logged_in`, runs its loop, and holds its connection through `finished`
/// and `measured`, so that the measured time starts once everyone is in and
/// the memory is read while every client still holds its connection.
pub(crate) async fn run_held<F, Fut>(plan: &Arc<Plan>, client: F) -> anyhow::Result<Outcome>
where
    F: Fn(Arc<Plan>, usize, Arc<Gates>) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let gates = Arc::new(Gates {
        logged_in: Barrier::new(plan.clients + 1),
        finished: Barrier::new(plan.clients + 1),
        measured: Barrier::new(plan.clients + 1),
    });
    let before = memory_sample(plan)?;
    let tasks = (0..plan.clients)
        .map(|n| tokio::spawn(client(Arc::clone(plan), n, Arc::clone(&gates))))
        .collect();
    gates.logged_in.wait().await;
    let start = Instant::now();
    // Read even if they fail, so the clients are released before reporting.
    let logged_in = memory_sample(plan);
    let client_start = own_cpu_s();
    let host_start = procfs::host_busy_s();
    let iowait_start = procfs::host_iowait_s();
    gates.finished.wait().await;
    let elapsed = start.elapsed();
    let after = memory_sample(plan);
    let client_end = own_cpu_s();
    let host_end = procfs::host_busy_s();
    let iowait_end = procfs::host_iowait_s();
    gates.measured.wait().await;
    let tally = gather(tasks).await?;
    let (logged_in, after) = (logged_in?, after?);
    Ok(Outcome {
        tally,
        elapsed,
        server_cpu_s: logged_in.zip(after).map(|(b, a)| a.cpu_s - b.cpu_s),
        memory: before.zip(after).map(|(before, after)| Memory {
            before,
            logged_in,
            after,
        }),
        client_cpu_s: client_end? - client_start?,
        host_busy_s: host_end? - host_start?,
        host_iowait_s: iowait_end? - iowait_start?,
    })
}

/// A logged-in connection and its maildrop listing.
type Maildrop = (Conn, Vec<(u32, u64)>);

async fn open_maildrop(plan: &Plan, user: &str) -> anyhow::Result<Maildrop> {
    let mut conn = Conn::connect(&plan.target).await?;
    conn.login(user, &plan.password).await?;
    let list = conn.list().await?;
    if list.is_empty() {
        anyhow::bail!("{user} has no messages to retrieve");
    }
    Ok((conn, list))
}

/// Every client reaches every gate, whatever failed, or the others would
/// wait for it forever.
async fn retr_client(plan: Arc<Plan>, n: usize, gates: Arc<Gates>) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    let mut maildrop = match bounded(plan.op_timeout, "login", open_maildrop(&plan, &user)).await {
        Ok(d) => Some(d),
        Err(e) => {
            tally.error(&e);
            None
        }
    };
    gates.logged_in.wait().await;
    let start = Instant::now();
    let mut next = 0usize;
    while start.elapsed() < plan.duration {
        let Some((conn, list)) = maildrop.as_mut() else {
            maildrop = reopen(&plan, &user, &mut tally).await;
            continue;
        };
        if !plan.take_op() {
            break;
        }
        let (number, size) = list[next % list.len()];
        next += 1;
        let t0 = Instant::now();
        match bounded(plan.op_timeout, "RETR", conn.retr(number)).await {
            Ok(got) if got == size => tally.ok(t0.elapsed(), got),
            // The framing held, so the connection can go on; but a wrong
            // body is not a retrieved message.
            Ok(got) => tally.error(&anyhow!(
                "RETR {number}: {got} octets received, LIST announced {size}"
            )),
            Err(e) => {
                tally.error(&e);
                maildrop = None;
            }
        }
        if tally.tls.is_none() {
            tally.tls = maildrop.as_ref().map(|(c, _)| c.tls());
        }
    }
    gates.finished.wait().await;
    gates.measured.wait().await;
    if let Some((conn, _)) = maildrop {
        if let Err(e) = bounded(plan.op_timeout, "QUIT", conn.quit()).await {
            tally.error(&e);
        }
    }
    tally
}

/// After a failure: log in again, pausing first so that a server which
/// still holds the old session's lock (or refuses) is not hammered.
async fn reopen(plan: &Plan, user: &str, tally: &mut Tally) -> Option<Maildrop> {
    sleep(Duration::from_millis(100)).await;
    match bounded(plan.op_timeout, "login", open_maildrop(plan, user)).await {
        Ok(d) => Some(d),
        Err(e) => {
            tally.error(&e);
            None
        }
    }
}

// ---- smtp-submit, smtp-submit-connect, smtp-mx --------------------------

/// Each client: SMTP sessions, each carrying messages until the time, the
/// operations or the per-session count run out; one operation is one
/// message acknowledged with 250 after its end of data.
pub async fn smtp(plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    if plan.smtp.is_none() {
        anyhow::bail!("no SMTP settings");
    }
    run_clients(&plan, smtp_client).await
}

/// An open session: the connection, the messages it carried, and when it
/// began.
type SmtpSession = (smtp::Conn, u64, Instant);

async fn smtp_client(plan: Arc<Plan>, n: usize, start: Instant) -> Tally {
    let mut tally = Tally::default();
    let Some((settings, maker)) = plan.smtp.as_ref() else {
        return tally;
    };
    let user = plan.user(n);
    let from = settings.mail_from.clone().unwrap_or_else(|| user.clone());
    let to = settings.rcpt_pattern.replace("{n}", &n.to_string());
    let login = settings
        .auth
        .then_some((user.as_str(), plan.password.as_str()));
    let mut session: Option<SmtpSession> = None;
    let mut message = Vec::with_capacity(settings.message_size);
    let mut seq = 0u64;
    while start.elapsed() < plan.duration && plan.take_op() {
        let (conn, sent, _) = match session.as_mut() {
            Some(s) => s,
            None => {
                let began = Instant::now();
                let open = smtp::Conn::open(&plan.target, settings, login);
                match bounded(plan.op_timeout, "session set-up", open).await {
                    Ok(c) => {
                        if tally.tls.is_none() {
                            tally.tls = c.tls();
                        }
                        session.insert((c, 0, began))
                    }
                    Err(e) => {
                        tally.error(&e);
                        // A refused connection fails at once: without a
                        // pause the loop would spin and steal the server's CPU.
                        sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
        };
        seq += 1;
        maker.make(n, seq, &from, &to, &mut message);
        let send = conn.send_message(&from, &to, &message, settings.pipelining);
        match timeout(plan.op_timeout, send).await {
            Ok(Ok(ack)) => {
                tally.ok(ack, message.len() as u64);
                *sent += 1;
            }
            Ok(Err(e)) => {
                tally.unacknowledged += u64::from(e.outcome_unknown);
                tally.error(&e.error);
                session = None;
                sleep(Duration::from_millis(10)).await;
                continue;
            }
            Err(_) => {
                // Where it stopped is not known: the message may be stored.
                tally.unacknowledged += 1;
                tally.error(&anyhow!("message: no answer within {:?}", plan.op_timeout));
                session = None;
                continue;
            }
        }
        if settings.per_session > 0 && *sent >= settings.per_session {
            if let Some((conn, _, began)) = session.take() {
                match bounded(plan.op_timeout, "QUIT", conn.quit()).await {
                    Ok(()) => tally.sessions.record(began.elapsed()),
                    Err(e) => tally.error(&e),
                }
            }
        }
    }
    if let Some((conn, _, _)) = session {
        if let Err(e) = bounded(plan.op_timeout, "QUIT", conn.quit()).await {
            tally.error(&e);
        }
    }
    tally
}

// ---- imap-login ------------------------------------------------------------

/// Each client: TCP, TLS handshake, greeting, LOGIN, LOGOUT, over and
/// over; one operation is one whole session.
pub async fn imap_login(plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    run_clients(&plan, imap_login_client).await
}

async fn imap_login_client(plan: Arc<Plan>, n: usize, start: Instant) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    while start.elapsed() < plan.duration && plan.take_op() {
        let t0 = Instant::now();
        let session = async {
            let mut conn = imap::Conn::connect(&plan.target).await?;
            conn.login(&user, &plan.password).await?;
            let tls = conn.tls();
            conn.logout().await?;
            anyhow::Ok(tls)
        };
        match bounded(plan.op_timeout, "session", session).await {
            Ok(tls) => {
                tally.ok(t0.elapsed(), 0);
                tally.tls.get_or_insert(tls);
            }
            Err(e) => {
                tally.error(&e);
                sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

// ---- imap-fetch and imap-body ------------------------------------------------

/// What a logged-in IMAP client repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapLoop {
    /// `FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)`: one operation per command.
    Fetch,
    /// `FETCH n BODY.PEEK[]` over the messages in turn: one operation per
    /// message, its octets counted.
    Body,
}

/// Each client: one session (LOGIN, SELECT INBOX), then the loop; the
/// memory is read while every client holds its session, as for pop3-retr.
pub async fn imap_held(plan: Arc<Plan>, kind: ImapLoop) -> anyhow::Result<Outcome> {
    run_held(&plan, move |plan, n, gates| {
        imap_held_client(plan, n, kind, gates)
    })
    .await
}

async fn open_selected(plan: &Plan, user: &str) -> anyhow::Result<(imap::Conn, u64)> {
    let mut conn = imap::Conn::connect(&plan.target).await?;
    conn.login(user, &plan.password).await?;
    let exists = conn.select("INBOX").await?;
    if exists == 0 {
        anyhow::bail!("{user}: INBOX is empty");
    }
    Ok((conn, exists))
}

async fn imap_held_client(plan: Arc<Plan>, n: usize, kind: ImapLoop, gates: Arc<Gates>) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    let mut session = match bounded(plan.op_timeout, "login", open_selected(&plan, &user)).await {
        Ok(s) => Some(s),
        Err(e) => {
            tally.error(&e);
            None
        }
    };
    gates.logged_in.wait().await;
    let start = Instant::now();
    let mut next = 0u64;
    while start.elapsed() < plan.duration {
        let Some((conn, exists)) = session.as_mut() else {
            sleep(Duration::from_millis(100)).await;
            match bounded(plan.op_timeout, "login", open_selected(&plan, &user)).await {
                Ok(s) => session = Some(s),
                Err(e) => tally.error(&e),
            }
            continue;
        };
        if !plan.take_op() {
            break;
        }
        let exists = *exists;
        let t0 = Instant::now();
        let result = match kind {
            ImapLoop::Fetch => bounded(
                plan.op_timeout,
                "FETCH",
                conn.command("FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)"),
            )
            .await
            .and_then(|r| {
                if r.fetches == exists {
                    Ok(0)
                } else {
                    Err(anyhow!(
                        "FETCH 1:*: {} answers for {exists} messages",
                        r.fetches
                    ))
                }
            }),
            ImapLoop::Body => {
                let number = next % exists + 1;
                next += 1;
                let cmd = format!("FETCH {number} BODY.PEEK[]");
                bounded(plan.op_timeout, "FETCH BODY.PEEK[]", conn.command(&cmd))
                    .await
                    .and_then(|r| {
                        if r.fetches == 1 && r.literals == 1 && r.literal_octets > 0 {
                            Ok(r.literal_octets)
                        } else {
                            Err(anyhow!("{cmd}: {r:?}"))
                        }
                    })
            }
        };
        match result {
            Ok(octets) => tally.ok(t0.elapsed(), octets),
            Err(e) => {
                tally.error(&e);
                session = None;
            }
        }
        if tally.tls.is_none() {
            tally.tls = session.as_ref().map(|(c, _)| c.tls());
        }
    }
    gates.finished.wait().await;
    gates.measured.wait().await;
    if let Some((conn, _)) = session {
        if let Err(e) = bounded(plan.op_timeout, "LOGOUT", conn.logout()).await {
            tally.error(&e);
        }
    }
    tally
}

// ---- imap-idle -------------------------------------------------------------

/// Opens `plan.clients` sessions (at most `parallel` being set up at a
/// time), each LOGIN, SELECT INBOX, IDLE; holds them all for
/// `plan.duration`, reads the server's memory, then ends them. One
/// operation is one session that reached IDLE.
pub async fn imap_idle(plan: Arc<Plan>, parallel: usize) -> anyhow::Result<Outcome> {
    let gates = Arc::new(Gates {
        logged_in: Barrier::new(plan.clients + 1),
        finished: Barrier::new(plan.clients + 1),
        measured: Barrier::new(plan.clients + 1),
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    warm_up(&plan).await?;
    let before = memory_sample(&plan)?;
    let client_start = own_cpu_s()?;
    let host_start = procfs::host_busy_s()?;
    let iowait_start = procfs::host_iowait_s()?;
    let start = Instant::now();
    let tasks = (0..plan.clients)
        .map(|n| {
            let (plan, gates, permits) =
                (Arc::clone(&plan), Arc::clone(&gates), Arc::clone(&permits));
            tokio::spawn(async move { idle_client(plan, n, gates, permits).await })
        })
        .collect();
    gates.logged_in.wait().await;
    // Every session is in IDLE (or failed): the set-up is over.
    let elapsed = start.elapsed();
    let client_end = own_cpu_s();
    let host_end = procfs::host_busy_s();
    let iowait_end = procfs::host_iowait_s();
    let set_up = memory_sample(&plan);
    // Held, so that what the set-up allocated for a moment is freed.
    sleep(plan.duration).await;
    let after = memory_sample(&plan);
    gates.finished.wait().await;
    gates.measured.wait().await;
    let tally = gather(tasks).await?;
    let (set_up, after) = (set_up?, after?);
    Ok(Outcome {
        tally,
        elapsed,
        server_cpu_s: before.zip(set_up).map(|(b, a)| a.cpu_s - b.cpu_s),
        memory: before.zip(after).map(|(before, after)| Memory {
            before,
            logged_in: set_up,
            after,
        }),
        client_cpu_s: client_end? - client_start,
        host_busy_s: host_end? - host_start,
        host_iowait_s: iowait_end? - iowait_start,
    })
}

/// Sessions run to the end before the baseline is sampled.
const WARM_UP_SESSIONS: usize = 8;

/// A few complete sessions (login, SELECT, IDLE, DONE, LOGOUT), in
/// parallel, before the memory baseline: what a server allocates once,
/// not per session (its allocator's arenas and pools, such as the argon2
/// working memory a first login leaves behind; caches of the first
/// SELECT), is then in the baseline rather than spread over the sessions.
async fn warm_up(plan: &Arc<Plan>) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..WARM_UP_SESSIONS.min(plan.clients))
        .map(|n| {
            let plan = Arc::clone(plan);
            tokio::spawn(async move {
                let user = plan.user(n);
                let session = async {
                    let (mut conn, _) = open_selected(&plan, &user).await?;
                    let tag = conn.idle().await?;
                    conn.done(&tag).await?;
                    conn.logout().await
                };
                bounded(plan.op_timeout * 2, "warm-up session", session).await
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn idle_client(
    plan: Arc<Plan>,
    n: usize,
    gates: Arc<Gates>,
    permits: Arc<tokio::sync::Semaphore>,
) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    let open = async {
        let _permit = permits.acquire().await?;
        let t0 = Instant::now();
        let (mut conn, _) = open_selected(&plan, &user).await?;
        let tag = conn.idle().await?;
        anyhow::Ok((conn, tag, t0.elapsed()))
    };
    // The wait for a permit is not the server's time: bound the set-up only
    // loosely, the latency is measured from the permit.
    let limit = plan.op_timeout * 2 + Duration::from_secs(plan.clients as u64 / 20);
    let mut session = match timeout(limit, open).await {
        Ok(Ok((conn, tag, took))) => {
            tally.ok(took, 0);
            tally.tls = Some(conn.tls());
            Some((conn, tag))
        }
        Ok(Err(e)) => {
            tally.error(&e);
            None
        }
        Err(_) => {
            tally.error(&anyhow!("session set-up: no answer within {limit:?}"));
            None
        }
    };
    gates.logged_in.wait().await;
    gates.finished.wait().await;
    gates.measured.wait().await;
    if let Some((mut conn, tag)) = session.take() {
        let end = async {
            conn.done(&tag).await?;
            conn.logout().await
        };
        if let Err(e) = bounded(plan.op_timeout, "DONE and LOGOUT", end).await {
            tally.error(&e.context("after the hold"));
        }
    }
    tally
}

// ---- pop3-count ------------------------------------------------------------

/// One account's maildrop as POP3 STAT sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub user: String,
    pub messages: u64,
    pub octets: u64,
}

/// Logs in to each of the `clients` accounts in turn and reads STAT: what
/// the store holds, read through the server, to check that every message
/// acknowledged was stored.
pub async fn count(plan: &Plan) -> anyhow::Result<Vec<Count>> {
    let mut out = Vec::with_capacity(plan.clients);
    for n in 0..plan.clients {
        let user = plan.user(n);
        let stat = async {
            let mut conn = Conn::connect(&plan.target).await?;
            conn.login(&user, &plan.password).await?;
            let stat = conn.stat().await?;
            conn.quit().await?;
            anyhow::Ok(stat)
        };
        let (messages, octets) = bounded(plan.op_timeout, "STAT", stat)
            .await
            .with_context(|| format!("counting the messages of {user}"))?;
        out.push(Count {
            user,
            messages,
            octets,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_merge_and_keep_the_first_error() {
        let mut a = Tally::default();
        a.ok(Duration::from_millis(1), 10);
        let mut b = Tally::default();
        b.error(&anyhow!("first"));
        b.error(&anyhow!("second"));
        b.ok(Duration::from_millis(2), 5);
        a.merge(b);
        assert_eq!((a.operations, a.octets, a.errors), (2, 15, 2));
        assert_eq!(a.first_error.as_deref(), Some("first"));
    }
}
