//! Which delivery status notifications an item owes its sender, and
//! where they go: the sender's INBOX when the sender is local, else the
//! queue, always with the null sender.

use postern_store::{
    AccountId, DsnRet, Envelope, Notify, QueueItem, QueuedRecipient, RecipientState,
    RemoteRecipient, Store, StoreResult,
};

use crate::client::Ret;
use crate::dsn::{self, Action, RecipientReport};
use crate::worker::{domain_of, RELAYED};

/// The DSN for a finished item: failed recipients that asked for failure
/// notices, relayed ones that asked for success notices. `None` for the
/// null sender (RFC 5321 §4.5.5) or when nobody asked.
pub fn build_dsn(hostname: &str, item: &QueueItem, original: &[u8], now: i64) -> Option<Vec<u8>> {
    let recipients: Vec<RecipientReport> =
        item.recipients.iter().filter_map(final_report).collect();
    build(hostname, item, &recipients, original, now)
}

/// A warning that these recipients are still being retried.
pub fn build_delay_warning(
    hostname: &str,
    item: &QueueItem,
    delayed: &[RecipientReport],
    original: &[u8],
    now: i64,
    until: i64,
) -> Option<Vec<u8>> {
    let recipients: Vec<RecipientReport> = delayed
        .iter()
        .cloned()
        .map(|r| RecipientReport {
            will_retry_until: Some(until),
            ..r
        })
        .collect();
    build(hostname, item, &recipients, original, now)
}

fn build(
    hostname: &str,
    item: &QueueItem,
    recipients: &[RecipientReport],
    original: &[u8],
    now: i64,
) -> Option<Vec<u8>> {
    if item.envelope.mail_from.is_empty() || recipients.is_empty() {
        return None;
    }
    let unique = format!("{}.{now}", item.id);
    let report = dsn::Report {
        reporting_mta: hostname,
        to: &item.envelope.mail_from,
        envid: item.envelope.envid.as_deref(),
        // RFC 8689 §5: a report on a REQUIRETLS message returns only the
        // headers, whatever RET said.
        ret: if item.envelope.requiretls {
            Some(Ret::Headers)
        } else {
            item.envelope.ret.map(ret)
        },
        arrival: item.created,
        now,
        unique: &unique,
        recipients,
        original,
    };
    Some(dsn::build(&report))
}

/// A deferred recipient's line in a delay warning.
pub fn delayed(r: &QueuedRecipient, error: &str) -> RecipientReport {
    let (status, diagnostic) = dsn::decode_error(error, false);
    RecipientReport {
        address: r.address.clone(),
        orcpt: r.orcpt.clone(),
        action: Action::Delayed,
        status,
        diagnostic: Some(diagnostic),
        will_retry_until: None,
    }
}

fn final_report(r: &QueuedRecipient) -> Option<RecipientReport> {
    let (action, status, diagnostic) = match r.state {
        RecipientState::Failed if r.notify.failure => {
            let (status, diag) =
                dsn::decode_error(r.last_error.as_deref().unwrap_or("failed"), true);
            (Action::Failed, status, Some(diag))
        }
        RecipientState::Delivered if r.notify.success => {
            let reply = r.detail.as_deref()?.strip_prefix(RELAYED)?;
            (
                Action::Relayed,
                "2.0.0".to_owned(),
                Some(format!("smtp; {reply}")),
            )
        }
        _ => return None,
    };
    Some(RecipientReport {
        address: r.address.clone(),
        orcpt: r.orcpt.clone(),
        action,
        status,
        diagnostic,
        will_retry_until: None,
    })
}

pub fn ret(r: DsnRet) -> Ret {
    match r {
        DsnRet::Full => Ret::Full,
        DsnRet::Headers => Ret::Headers,
    }
}

/// Where a report to `sender` goes: (local accounts, remote recipient).
/// `None` when it must be dropped: a sender in one of our domains that no
/// longer exists (relaying the report would send it back here).
pub fn destination(
    s: &dyn Store,
    sender: &str,
) -> StoreResult<Option<(Vec<AccountId>, Vec<RemoteRecipient>)>> {
    let local = s.resolve_recipient(sender).unwrap_or_default();
    if !local.is_empty() {
        return Ok(Some((local, Vec::new())));
    }
    if s.domains()?.contains(&domain_of(sender)) {
        tracing::warn!(
            sender,
            "no local account for a report's recipient; report dropped"
        );
        return Ok(None);
    }
    let remote = RemoteRecipient {
        address: sender.to_owned(),
        notify: Notify::NEVER,
        orcpt: None,
    };
    Ok(Some((Vec::new(), vec![remote])))
}

/// The envelope of a report: the null sender, so that no report is ever
/// answered by another (RFC 3461 §6.2, RFC 5321 §4.5.5); REQUIRETLS kept
/// from the original (RFC 8689 §5).
pub fn envelope(requiretls: bool) -> Envelope {
    Envelope {
        requiretls,
        ..Envelope::default()
    }
}
