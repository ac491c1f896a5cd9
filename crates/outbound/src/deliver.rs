//! One delivery attempt for the recipients of one message in one domain:
//! route, decide the transport security, try each host in turn, and
//! report a result per recipient.
//!
//! What each host demands of TLS is decided in `policy`; DANE wins over
//! MTA-STS where both exist (RFC 8461 §2). The smarthost is always reached
//! over PKIX-verified TLS, since it may get our credentials.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::client::{
    command, transaction, Conn, ConnError, Extensions, MailParams, RcptParams, Reply, TlsSummary,
};
use crate::dns::{Dns, LookupError};
use crate::metrics::{FailureKind, Metrics, PolicyKind};
use crate::mta_sts::{self, MtaSts};
use crate::policy::{classify, need_for, Need};
use crate::routing::{self, RouteError, Target, Via};
use crate::settings::{RelayTls, Settings};
use crate::tls::{Check, Trust, Verification};

/// What the workers share.
pub struct Ctx {
    pub settings: Settings,
    pub dns: Dns,
    pub trust: Trust,
    pub mta_sts: Option<MtaSts>,
    pub metrics: Arc<Metrics>,
    pub tlsrpt: Option<Arc<crate::tlsrpt::Recorder>>,
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// Accepted by the next hop; `dsn` says whether it offered DSN (if
    /// not, a requested success notification is ours to send, as
    /// "relayed", RFC 3461 §6.2.3.2).
    Delivered { reply: String, dsn: bool },
    /// Try again later.
    Temporary { status: String, diagnostic: String },
    /// Give up.
    Permanent { status: String, diagnostic: String },
}

/// The message for one attempt.
pub struct Job<'a> {
    pub domain: &'a str,
    pub mail: &'a MailParams,
    pub rcpts: &'a [RcptParams],
    pub body: &'a [u8],
}

/// Why one host did not take the message.
#[derive(Debug, Clone)]
pub(crate) struct HostFailure {
    pub(crate) permanent: bool,
    pub(crate) status: &'static str,
    pub(crate) text: String,
    pub(crate) kind: Option<FailureKind>,
}

impl HostFailure {
    pub(crate) fn temp(status: &'static str, text: impl Into<String>) -> Self {
        Self {
            permanent: false,
            status,
            text: text.into(),
            kind: None,
        }
    }

    pub(crate) fn kind(mut self, kind: FailureKind) -> Self {
        self.kind = Some(kind);
        self
    }
}

/// Runs the attempt; one result per recipient, in order.
pub async fn deliver(ctx: &Ctx, job: &Job<'_>) -> Vec<RcptResult> {
    let targets = match route(ctx, job.domain).await {
        Ok(t) => t,
        Err(e) => return vec![route_failure(&e); job.rcpts.len()],
    };
    let sts = sts_policy(ctx, job.domain, &targets).await;
    if let mta_sts::Lookup::FetchFailed(_) = &sts {
        ctx.metrics.failure(
            job.domain,
            PolicyKind::Sts,
            FailureKind::StsPolicyFetchError,
        );
    }
    let mut failures = Vec::new();
    for target in &targets {
        match try_target(ctx, job, target, &sts).await {
            Ok(results) => return results,
            Err(f) => {
                tracing::info!(domain = job.domain, host = %target.host, error = %f.text, "host skipped");
                failures.push(f);
            }
        }
    }
    vec![overall_failure(&failures); job.rcpts.len()]
}

async fn route(ctx: &Ctx, domain: &str) -> Result<Vec<Target>, RouteError> {
    routing::route(&ctx.settings, &ctx.dns, domain).await
}

fn route_failure(e: &RouteError) -> RcptResult {
    let diagnostic = format!("x-postern; {e}");
    match e {
        // RFC 7505 §4.2: 556 5.1.10 for a null MX.
        RouteError::NullMx(_) => RcptResult::Permanent {
            status: "5.1.10".into(),
            diagnostic,
        },
        RouteError::NoSuchDomain(_) => RcptResult::Permanent {
            status: "5.1.2".into(),
            diagnostic,
        },
        RouteError::Loop(_) => RcptResult::Temporary {
            status: "4.4.6".into(),
            diagnostic,
        },
        RouteError::Temporary(_) => RcptResult::Temporary {
            status: "4.4.3".into(),
            diagnostic,
        },
    }
}

fn overall_failure(failures: &[HostFailure]) -> RcptResult {
    let Some(last) = failures.last() else {
        return RcptResult::Temporary {
            status: "4.4.4".into(),
            diagnostic: "x-postern; no host to try".into(),
        };
    };
    // Permanent only if every host said so: one temporary trouble may pass.
    let permanent = failures.iter().all(|f| f.permanent);
    let diagnostic = if last.text.starts_with("smtp; ") {
        last.text.clone()
    } else {
        format!("x-postern; {}", last.text)
    };
    if permanent {
        RcptResult::Permanent {
            status: last.status.into(),
            diagnostic,
        }
    } else {
        let status = if last.status.starts_with('5') {
            "4.4.0"
        } else {
            last.status
        };
        RcptResult::Temporary {
            status: status.into(),
            diagnostic,
        }
    }
}

/// The MTA-STS policy for MX deliveries (not for the relay or static
/// routes, whose hosts the administrator chose).
async fn sts_policy(ctx: &Ctx, domain: &str, targets: &[Target]) -> mta_sts::Lookup {
    let via_dns = targets
        .iter()
        .all(|t| matches!(t.via, Via::Mx | Via::Implicit));
    match &ctx.mta_sts {
        Some(sts) if via_dns && !targets.is_empty() => sts.lookup(domain).await,
        _ => mta_sts::Lookup::NoPolicy,
    }
}

async fn try_target(
    ctx: &Ctx,
    job: &Job<'_>,
    target: &Target,
    sts: &mta_sts::Lookup,
) -> Result<Vec<RcptResult>, HostFailure> {
    let policy_kind = |need: &Need| match (need, sts) {
        (Need::Dane(_), _) => PolicyKind::Tlsa,
        (_, mta_sts::Lookup::Policy(_)) => PolicyKind::Sts,
        _ => PolicyKind::NoPolicyFound,
    };
    let rpt = crate::tlsrpt::Scope::new(ctx, job.domain, target, sts);
    // RFC 8689 §4.2.1: for a REQUIRETLS message a policy in testing mode
    // is enforced.
    let enforce_sts = matches!(sts, mta_sts::Lookup::Policy(p)
        if p.mode == mta_sts::Mode::Enforce || job.mail.requiretls);
    if let mta_sts::Lookup::Policy(p) = sts {
        if !p.allows(&target.host) {
            ctx.metrics
                .failure(job.domain, PolicyKind::Sts, FailureKind::StsMxMismatch);
            if enforce_sts {
                rpt.failed(None, None, Some(FailureKind::StsMxMismatch));
                return Err(HostFailure::temp(
                    "4.7.5",
                    format!("MX host {} is not in the MTA-STS policy", target.host),
                )
                .kind(FailureKind::StsMxMismatch));
            }
        }
    }
    let addrs = resolve(ctx, &target.host).await?;
    if job.mail.requiretls {
        requiretls_route(target, addrs.secure, sts)?;
    }
    let need = need_for(ctx, job, target, addrs.secure, enforce_sts)
        .await
        .inspect_err(|f| rpt.failed(None, None, f.kind))?;
    let kind = policy_kind(&need);
    let mut last = HostFailure::temp("4.4.1", format!("{}: no address to try", target.host));
    for ip in &addrs.records {
        let addr = SocketAddr::new(*ip, target.port);
        match session(ctx, job, target, addr, &need).await {
            Ok(done) => {
                count_session(ctx, job.domain, kind, &done);
                rpt.session(addr, &need, done.tls, done.verification.as_ref());
                return Ok(done.results);
            }
            Err(f) => {
                rpt.failed(Some(addr), Some(&need), f.kind);
                if let Some(k) = f.kind {
                    ctx.metrics.failure(job.domain, kind, k);
                }
                tracing::info!(domain = job.domain, host = %target.host, peer = %addr, error = %f.text, "delivery attempt failed");
                let stop = f.permanent;
                last = f;
                if stop {
                    break;
                }
            }
        }
    }
    Err(last)
}

/// RFC 8689 §4.2.1: a REQUIRETLS message follows an MX only if the MX
/// answer was DNSSEC-authenticated or an MTA-STS policy lists the host;
/// otherwise an attacker who forged the MX could present a valid
/// certificate for a host of their own. Hosts the administrator named
/// (smarthost, static route) are trusted as configured.
fn requiretls_route(
    target: &Target,
    addrs_secure: bool,
    sts: &mta_sts::Lookup,
) -> Result<(), HostFailure> {
    let dnssec = match target.via {
        Via::Mx => target.mx_secure,
        Via::Implicit => addrs_secure,
        Via::Relay | Via::Static => return Ok(()),
    };
    let listed = matches!(sts, mta_sts::Lookup::Policy(p) if p.allows(&target.host));
    if dnssec || listed {
        return Ok(());
    }
    Err(HostFailure {
        permanent: true,
        status: "5.7.10",
        text: format!(
            "{}: REQUIRETLS needs the MX to be DNSSEC-authenticated or listed by an MTA-STS policy",
            target.host
        ),
        kind: None,
    })
}

/// What a session that ran its transaction tells the counters.
struct Done {
    results: Vec<RcptResult>,
    tls: bool,
    verification: Option<Verification>,
}

/// A success, unless the policy's demands were not met and it went on
/// anyway (MTA-STS `testing`, RFC 8461 §5: report, deliver regardless).
fn count_session(ctx: &Ctx, domain: &str, kind: PolicyKind, done: &Done) {
    let failed = match (&done.verification, done.tls) {
        (_, false) => Some(FailureKind::StartTlsNotSupported),
        (Some(v @ Verification::Failed(_)), true) => Some(classify(v)),
        _ => None,
    };
    match failed {
        Some(f) if kind == PolicyKind::Sts => ctx.metrics.failure(domain, kind, f),
        _ => ctx.metrics.success(domain, kind),
    }
}

async fn resolve(
    ctx: &Ctx,
    host: &str,
) -> Result<crate::dns::Answer<std::net::IpAddr>, HostFailure> {
    routing::resolve(&ctx.dns, host).await.map_err(|e| match e {
        LookupError::NoSuchDomain(_) => HostFailure::temp("4.4.4", e.to_string()),
        LookupError::Failed { .. } => HostFailure::temp("4.4.3", e.to_string()),
    })
}

/// One SMTP session to one address.
async fn session(
    ctx: &Ctx,
    job: &Job<'_>,
    target: &Target,
    addr: SocketAddr,
    need: &Need,
) -> Result<Done, HostFailure> {
    let t = &ctx.settings.timeouts;
    let Opened {
        mut conn,
        ext,
        verification,
    } = open(ctx, target, addr, need).await?;
    let tls = conn.tls();
    if tls.is_none() {
        Metrics::add(&ctx.metrics.plaintext, 1);
        tracing::warn!(domain = job.domain, host = %target.host, peer = %addr, "STARTTLS not offered or refused: sending in plain text (opportunistic TLS)");
    }
    if job.mail.requiretls && !ext.requiretls {
        // RFC 8689 §4.2.1 / §5: 5.7.30 REQUIRETLS support required.
        return Err(HostFailure {
            permanent: true,
            status: "5.7.30",
            text: format!("{addr}: the next hop does not support REQUIRETLS"),
            kind: Some(FailureKind::RequireTlsNotSupported),
        });
    }
    if target.via == Via::Relay {
        authenticate(ctx, &mut conn, &ext, addr).await?;
    }
    let replies = transaction::run(&mut conn, &ext, job.mail, job.rcpts, job.body, t)
        .await
        .map_err(|e| HostFailure::temp("4.4.2", format!("{addr}: {e}")))?;
    log_delivery(
        job,
        target,
        addr,
        tls.as_ref(),
        verification.as_ref(),
        &replies,
    );
    conn.quit(t.mail).await;
    Ok(Done {
        results: replies
            .iter()
            .map(|r| result_of(r, ext.dsn, &target.host))
            .collect(),
        tls: tls.is_some(),
        verification,
    })
}

/// A greeted connection, under TLS if the peer or the policy allowed.
struct Opened {
    conn: Conn,
    ext: Extensions,
    verification: Option<Verification>,
}

/// Connects, reads the greeting, says EHLO, and does STARTTLS (or
/// implicit TLS to a port-465 smarthost) as `need` demands.
async fn open(
    ctx: &Ctx,
    target: &Target,
    addr: SocketAddr,
    need: &Need,
) -> Result<Opened, HostFailure> {
    let s = &ctx.settings;
    let t = &s.timeouts;
    let io = |e: ConnError| HostFailure::temp("4.4.2", format!("{addr}: {e}"));
    let tcp = tokio::time::timeout(s.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| HostFailure::temp("4.4.1", format!("{addr}: connection timed out")))?
        .map_err(|e| HostFailure::temp("4.4.1", format!("{addr}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let mut conn = Conn::new(tcp);
    let mut verification = None;
    let implicit = target.via == Via::Relay
        && s.relay
            .as_ref()
            .is_some_and(|r| r.tls == RelayTls::Implicit);
    if implicit {
        (conn, verification) = handshake(ctx, conn, target, need).await?;
    }
    let greeting = conn.reply(t.greeting, "greeting").await.map_err(io)?;
    if !greeting.is_positive() {
        return Err(reply_failure(&greeting, addr, "greeting"));
    }
    let mut ext = ehlo(&mut conn, &s.hostname, t.mail, addr).await?;
    if implicit {
        return Ok(Opened {
            conn,
            ext,
            verification,
        });
    }
    if !ext.starttls {
        if *need != Need::Opportunistic {
            let text = format!("{addr}: STARTTLS not offered, and TLS is required");
            return Err(HostFailure::temp("4.7.10", text).kind(FailureKind::StartTlsNotSupported));
        }
        return Ok(Opened {
            conn,
            ext,
            verification,
        });
    }
    let r = conn
        .command(command::STARTTLS, t.mail, "STARTTLS")
        .await
        .map_err(io)?;
    if r.code != 220 {
        if *need != Need::Opportunistic {
            return Err(reply_failure(&r, addr, "STARTTLS"));
        }
        return Ok(Opened {
            conn,
            ext,
            verification,
        });
    }
    (conn, verification) = handshake(ctx, conn, target, need).await?;
    // RFC 3207 §4.2: forget what was said before TLS; ask again.
    ext = ehlo(&mut conn, &s.hostname, t.mail, addr).await?;
    Ok(Opened {
        conn,
        ext,
        verification,
    })
}

async fn ehlo(
    conn: &mut Conn,
    name: &str,
    limit: std::time::Duration,
    addr: SocketAddr,
) -> Result<Extensions, HostFailure> {
    let r = conn
        .command(&command::ehlo(name), limit, "EHLO")
        .await
        .map_err(|e| HostFailure::temp("4.4.2", format!("{addr}: {e}")))?;
    if r.is_positive() {
        return Ok(Extensions::from_ehlo(&r));
    }
    // RFC 5321 §3.2: a server that does not know EHLO gets HELO, and no
    // extension is used.
    let r = conn
        .command(&command::helo(name), limit, "HELO")
        .await
        .map_err(|e| HostFailure::temp("4.4.2", format!("{addr}: {e}")))?;
    if r.is_positive() {
        Ok(Extensions::default())
    } else {
        Err(reply_failure(&r, addr, "HELO"))
    }
}

async fn handshake(
    ctx: &Ctx,
    conn: Conn,
    target: &Target,
    need: &Need,
) -> Result<(Conn, Option<Verification>), HostFailure> {
    let check = match need {
        Need::Dane(records) => Check::Dane(records.clone()),
        Need::Pkix => Check::Pkix { enforce: true },
        Need::Tls | Need::Opportunistic => Check::Pkix { enforce: false },
    };
    let (config, outcome) = ctx.trust.client_config(check, &[]);
    // A domain literal's certificate names its address (RFC 5321 §4.1.3).
    let host = routing::domain_literal(&target.host)
        .map_or_else(|| target.host.clone(), |ip| ip.to_string());
    let name = ServerName::try_from(host).map_err(|e| {
        HostFailure::temp(
            "4.4.0",
            format!("{}: not a valid TLS name: {e}", target.host),
        )
    })?;
    match conn
        .start_tls(config, name, ctx.settings.timeouts.tls_handshake)
        .await
    {
        Ok(c) => Ok((c, outcome.get())),
        Err(e) => {
            let v = outcome.get();
            let kind = v.as_ref().map_or(FailureKind::ValidationFailure, classify);
            let why = v.map_or_else(|| e.to_string(), |v| v.to_string());
            Err(HostFailure::temp("4.7.5", format!("{}: TLS: {why}", target.host)).kind(kind))
        }
    }
}

async fn authenticate(
    ctx: &Ctx,
    conn: &mut Conn,
    ext: &Extensions,
    addr: SocketAddr,
) -> Result<(), HostFailure> {
    let Some((user, password)) = ctx.settings.relay.as_ref().and_then(|r| r.auth.as_ref()) else {
        return Ok(());
    };
    if conn.tls().is_none() {
        return Err(HostFailure::temp(
            "4.7.0",
            "refusing to send credentials without TLS",
        ));
    }
    if !ext.auth.iter().any(|m| m == "PLAIN") {
        return Err(HostFailure::temp(
            "4.7.0",
            format!("{addr}: the relay does not offer AUTH PLAIN"),
        ));
    }
    let cmd = command::auth_plain(user, password);
    let r = conn
        .command(cmd.expose(), ctx.settings.timeouts.mail, "AUTH")
        .await
        .map_err(|e| HostFailure::temp("4.4.2", format!("{addr}: {e}")))?;
    if r.code == 235 {
        Ok(())
    } else {
        // A wrong password is the administrator's to fix: defer, not bounce.
        Err(HostFailure::temp(
            "4.7.0",
            format!("smtp; {} (relay authentication)", r.one_line()),
        ))
    }
}

fn reply_failure(r: &Reply, addr: SocketAddr, stage: &str) -> HostFailure {
    // RFC 5321 §5.1: a host that refuses the session is skipped; the next
    // one may take the mail, so even a 5xx here is not final alone.
    HostFailure {
        permanent: r.code >= 500,
        status: if r.code >= 500 { "5.0.0" } else { "4.0.0" },
        text: format!("smtp; {} ({addr} at {stage})", r.one_line()),
        kind: None,
    }
}

fn result_of(r: &Reply, dsn: bool, host: &str) -> RcptResult {
    let diagnostic = format!("smtp; {} ({host})", r.one_line());
    match r.code {
        200..=299 => RcptResult::Delivered {
            reply: format!("{host}: {}", r.one_line()),
            dsn,
        },
        400..=499 => RcptResult::Temporary {
            status: r.status(),
            diagnostic,
        },
        _ => RcptResult::Permanent {
            status: r.status(),
            diagnostic,
        },
    }
}

fn log_delivery(
    job: &Job<'_>,
    target: &Target,
    addr: SocketAddr,
    tls: Option<&TlsSummary>,
    v: Option<&Verification>,
    replies: &[Reply],
) {
    let (version, cipher) = tls.map_or(("none", ""), |t| (t.version.as_str(), t.cipher.as_str()));
    let verification = match (tls, v) {
        (None, _) => "plaintext".to_owned(),
        (Some(_), Some(v)) => v.to_string(),
        (Some(_), None) => "not checked".to_owned(),
    };
    for (rcpt, reply) in job.rcpts.iter().zip(replies) {
        tracing::info!(
            domain = job.domain,
            rcpt = %rcpt.address,
            host = %target.host,
            peer = %addr,
            tls = version,
            cipher,
            verification = %verification,
            reply = %reply.one_line(),
            "delivery"
        );
    }
}
