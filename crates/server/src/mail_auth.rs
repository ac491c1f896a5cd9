//! Authentication of mail received on the MX: SPF (RFC 7208) of the
//! envelope sender, DKIM (RFC 6376) of every signature, DMARC (RFC 7489)
//! of the From: domain with alignment, and the ARC chain (RFC 8617), all
//! with mail-auth over the resolver the outbound side uses. The outcome
//! becomes an Authentication-Results header field (RFC 8601) and a
//! disposition: the INBOX, the Junk folder, or a 550 at the end of DATA.
//!
//! Every check is bounded in time: a resolver that does not answer gives
//! `temperror`, which never rejects, after at most [`TOTAL_BUDGET`].
//!
//! # Layout
//! - this file: [`Checker`] (the resolver, the cache, the settings) and
//!   one message's run of the checks.
//! - `results`: the findings, the header field, forged fields removed.
//! - `policy`: the disposition `[mail_auth]` gives them.
//! - `cache`: parsed TXT records for their time to live.

mod cache;
mod policy;
mod results;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, DkimOutput, DkimResult, DmarcOutput, DmarcResult,
    MessageAuthenticator, Parameters, SpfOutput, SpfResult,
};
use postern_config::MailAuthConfig;

use self::cache::TxtCache;
pub use self::policy::Disposition;
use self::results::{b_prefix, Dkim, Dmarc, Outcome, Requested, SpfIdentity};
pub use self::results::{strip_forged, Results};

/// One DNS query's wait: a resolver on the path answers in milliseconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Retries after a query timed out (a lost datagram).
const QUERY_RETRIES: usize = 1;
/// SPF, DKIM and ARC run side by side within this.
const FIRST_BUDGET: Duration = Duration::from_secs(4);
/// DMARC needs their results, then its own lookups.
const DMARC_BUDGET: Duration = Duration::from_secs(2);
/// The whole check; past it, everything is `temperror`.
pub const TOTAL_BUDGET: Duration = Duration::from_secs(7);

/// The checks of one MX listener's messages.
#[derive(Clone)]
pub struct Checker {
    /// `None` when no resolver could be built (logged at start).
    authenticator: Option<MessageAuthenticator>,
    txt: Arc<TxtCache>,
    /// Our host name: the authserv-id (RFC 8601 §2.5), and the receiving
    /// host of SPF's `%{r}` macro (RFC 7208 §7.3).
    hostname: String,
    config: MailAuthConfig,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("hostname", &self.hostname)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the SMTP transaction says about one message.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub peer: IpAddr,
    /// The EHLO/HELO name.
    pub helo: String,
    /// The reverse-path; empty for the null sender.
    pub mail_from: String,
}

impl Envelope {
    /// RFC 7208 §2.4: MAIL FROM, or the HELO name for the null sender.
    fn spf_identity(&self) -> SpfIdentity {
        if self.mail_from.is_empty() {
            SpfIdentity::Helo(self.helo.clone())
        } else {
            SpfIdentity::MailFrom(self.mail_from.clone())
        }
    }

    /// The RFC 5321.MailFrom domain DMARC aligns SPF with (RFC 7489
    /// §4.1: the HELO name for the null sender).
    fn spf_domain(&self) -> &str {
        self.mail_from
            .rsplit_once('@')
            .map_or(self.helo.as_str(), |(_, d)| d)
    }
}

/// One message's outcome.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub results: Results,
    pub disposition: Disposition,
}

impl Checker {
    /// Checks that ask the resolver at `resolver` (the outbound side's
    /// `resolver` setting), or the ones in /etc/resolv.conf.
    pub fn new(hostname: String, config: MailAuthConfig, resolver: Option<SocketAddr>) -> Self {
        Self {
            authenticator: authenticator(resolver),
            txt: Arc::default(),
            hostname,
            config,
        }
    }

    /// The Authentication-Results field for `results`, ending with CRLF.
    pub fn header(&self, results: &Results) -> String {
        results.header(&self.hostname)
    }

    /// Our host name, the authserv-id.
    pub fn authserv_id(&self) -> &str {
        &self.hostname
    }

    /// Runs every check on `message` as received (before any header of
    /// ours is added or removed), in a task of its own: a panic in the
    /// library or a resolver that never answers costs `temperror`, never
    /// the connection.
    pub async fn check(&self, envelope: Envelope, message: Arc<Vec<u8>>) -> Verdict {
        let identity = envelope.spf_identity();
        let Some(authenticator) = self.authenticator.clone() else {
            let results = Results::unfinished(identity);
            let disposition = policy::decide(&self.config, &results);
            return Verdict {
                results,
                disposition,
            };
        };
        let this = Run {
            authenticator,
            txt: self.txt.clone(),
            hostname: self.hostname.clone(),
        };
        let task = tokio::spawn(async move { this.run(&envelope, &message).await });
        let abort = task.abort_handle();
        let results = match tokio::time::timeout(TOTAL_BUDGET, task).await {
            Ok(Ok(results)) => results,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "mail authentication checks failed; recorded as temperror");
                Results::unfinished(identity)
            }
            Err(_) => {
                abort.abort();
                tracing::warn!("mail authentication checks timed out; check the DNS resolver");
                Results::unfinished(identity)
            }
        };
        let disposition = policy::decide(&self.config, &results);
        Verdict {
            results,
            disposition,
        }
    }

    #[cfg(test)]
    fn cache(&self) -> &TxtCache {
        &self.txt
    }
}

/// One message's checks, in their own task.
struct Run {
    authenticator: MessageAuthenticator,
    txt: Arc<TxtCache>,
    hostname: String,
}

impl Run {
    async fn run(&self, envelope: &Envelope, raw: &[u8]) -> Results {
        let message = AuthenticatedMessage::parse(raw);
        let (spf, dkim, arc) = tokio::join!(
            self.spf(envelope),
            self.dkim(message.as_ref()),
            self.arc(message.as_ref())
        );
        // A check that did not finish leaves DMARC unable to fail: what
        // it did not see might have passed.
        let incomplete = spf.is_none() || dkim.is_none();
        let spf = spf.unwrap_or_else(|| {
            SpfOutput::new(envelope.spf_domain().to_owned()).with_result(SpfResult::TempError)
        });
        let dkim_unfinished = dkim.is_none();
        let dkim = dkim.unwrap_or_default();
        let dkim_passed = dkim.iter().any(|d| *d.result() == DkimResult::Pass);
        let dmarc = match &message {
            // Without SPF and a DKIM pass, DMARC cannot pass, and must not
            // fail on a check that did not finish: temperror, at once (the
            // resolver is likely down, no need to wait for it again).
            Some(_) if incomplete && !dkim_passed => None,
            Some(m) => {
                let params = DmarcParameters::new(m, &dkim, envelope.spf_domain(), &spf);
                let p = Parameters::new(params).with_txt_cache(&*self.txt);
                let verify = self.authenticator.verify_dmarc(p);
                tokio::time::timeout(DMARC_BUDGET, verify).await.ok()
            }
            None => Some(DmarcOutput::default()),
        };
        let mut dkim: Vec<Dkim> = dkim.iter().map(dkim_of).collect();
        if dkim_unfinished {
            dkim.push(unfinished_dkim());
        }
        Results {
            spf: spf_outcome(spf.result()),
            spf_identity: envelope.spf_identity(),
            dkim,
            dmarc: dmarc_of(dmarc.as_ref(), incomplete),
            arc: arc.map_or(Outcome::None, |a| arc_outcome(a.result())),
        }
    }

    async fn spf(&self, e: &Envelope) -> Option<SpfOutput> {
        let params = if e.mail_from.is_empty() {
            SpfParameters::verify_ehlo(e.peer, &e.helo, &self.hostname)
        } else {
            SpfParameters::verify_mail_from(e.peer, &e.helo, &self.hostname, &e.mail_from)
        };
        let p = Parameters::new(params).with_txt_cache(&*self.txt);
        tokio::time::timeout(FIRST_BUDGET, self.authenticator.verify_spf(p))
            .await
            .ok()
    }

    async fn dkim<'x>(
        &'x self,
        m: Option<&'x AuthenticatedMessage<'x>>,
    ) -> Option<Vec<DkimOutput<'x>>> {
        let Some(m) = m else {
            return Some(Vec::new());
        };
        let p = Parameters::new(m).with_txt_cache(&*self.txt);
        tokio::time::timeout(FIRST_BUDGET, self.authenticator.verify_dkim(p))
            .await
            .ok()
    }

    async fn arc<'x>(&'x self, m: Option<&'x AuthenticatedMessage<'x>>) -> Option<ArcOutput<'x>> {
        let p = Parameters::new(m?).with_txt_cache(&*self.txt);
        let verify = self.authenticator.verify_arc(p);
        match tokio::time::timeout(FIRST_BUDGET, verify).await {
            Ok(out) => Some(out),
            // Recorded as a failure to validate, like any broken chain.
            Err(_) => Some(ArcOutput::default().with_result(DkimResult::TempError(
                mail_auth::Error::Dns(mail_auth::DnsError::Resolver("timeout".into())),
            ))),
        }
    }
}

/// mail-auth over hickory, asking `resolver` (UDP, then TCP for long
/// answers) or the system's resolvers; without either, a local one.
fn authenticator(resolver: Option<SocketAddr>) -> Option<MessageAuthenticator> {
    let (config, mut opts) = match resolver {
        Some(addr) => (one_server(addr), ResolverOpts::default()),
        None => hickory_resolver::system_conf::read_system_conf().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the system's DNS resolvers; mail authentication asks 127.0.0.1:53 (set outbound.resolver)");
            (one_server(SocketAddr::from(([127, 0, 0, 1], 53))), ResolverOpts::default())
        }),
    };
    opts.timeout = QUERY_TIMEOUT;
    // hickory counts the retries after the first try.
    opts.attempts = QUERY_RETRIES;
    let resolver = hickory_resolver::TokioResolver::builder_with_config(
        config,
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build();
    // Only hickory's TLS set-up can fail here (we ask over UDP and TCP):
    // mail is then delivered with temperror results rather than refused.
    resolver
        .map(MessageAuthenticator)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build the DNS resolver for mail authentication; incoming mail is recorded as temperror until this is fixed");
        })
        .ok()
}

fn one_server(addr: SocketAddr) -> ResolverConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
    ResolverConfig::from_name_servers(vec![server])
}

const fn spf_outcome(r: SpfResult) -> Outcome {
    match r {
        SpfResult::Pass => Outcome::Pass,
        SpfResult::Fail => Outcome::Fail,
        SpfResult::SoftFail => Outcome::SoftFail,
        SpfResult::Neutral => Outcome::Neutral,
        SpfResult::TempError => Outcome::TempError,
        SpfResult::PermError => Outcome::PermError,
        SpfResult::None => Outcome::None,
    }
}

fn dkim_outcome(r: &DkimResult) -> (Outcome, Option<String>) {
    match r {
        DkimResult::Pass => (Outcome::Pass, None),
        DkimResult::None => (Outcome::None, None),
        DkimResult::Neutral(e) => (Outcome::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (Outcome::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (Outcome::PermError, Some(e.to_string())),
        DkimResult::TempError(e) => (Outcome::TempError, Some(e.to_string())),
    }
}

fn dkim_of(out: &DkimOutput<'_>) -> Dkim {
    let (outcome, reason) = dkim_outcome(out.result());
    let sig = out.signature();
    Dkim {
        outcome,
        domain: sig.map(|s| s.d.clone()).unwrap_or_default(),
        selector: sig.map(|s| s.s.clone()).unwrap_or_default(),
        b_prefix: sig.map(|s| b_prefix(&s.b)).unwrap_or_default(),
        reason,
    }
}

fn unfinished_dkim() -> Dkim {
    Dkim {
        outcome: Outcome::TempError,
        domain: String::new(),
        selector: String::new(),
        b_prefix: String::new(),
        reason: Some("the DKIM check did not finish in time".into()),
    }
}

/// RFC 8617 §4.4: the chain validates (pass), there is none, or it does
/// not validate, whatever the reason (fail).
fn arc_outcome(r: &DkimResult) -> Outcome {
    match r {
        DkimResult::Pass => Outcome::Pass,
        DkimResult::None => Outcome::None,
        _ => Outcome::Fail,
    }
}

fn dmarc_of(out: Option<&DmarcOutput>, incomplete: bool) -> Dmarc {
    let Some(out) = out else {
        return Dmarc {
            outcome: Outcome::TempError,
            from_domain: None,
            policy: Requested::None,
        };
    };
    let outcome = match out.result() {
        DmarcResult::Pass => Outcome::Pass,
        DmarcResult::Fail(_) if incomplete => Outcome::TempError,
        DmarcResult::Fail(_) => Outcome::Fail,
        DmarcResult::TempError(_) => Outcome::TempError,
        DmarcResult::PermError(_) => Outcome::PermError,
        DmarcResult::None => Outcome::None,
    };
    Dmarc {
        outcome,
        from_domain: (!out.domain().is_empty()).then(|| out.domain().to_owned()),
        policy: match out.policy() {
            Policy::Reject => Requested::Reject,
            Policy::Quarantine => Requested::Quarantine,
            Policy::None | Policy::Unspecified => Requested::None,
        },
    }
}

#[cfg(test)]
mod tests;
