//! What happens to a message after its checks, per `[mail_auth]`.
//!
//! DMARC is the policy layer (RFC 7489 §6.3): when it fails and the
//! author's domain asks for `p=reject` or `p=quarantine`, the matching
//! setting decides. Only when DMARC does not decide (no record, `p=none`,
//! a broken record) does a bare SPF `fail` lead to `spf_fail`. A DMARC
//! temperror decides nothing and never rejects: the next delivery attempt
//! may see the DNS again (RFC 7489 §6.6.3 lets a receiver defer; we
//! accept rather than defer, so that a broken resolver here never stops
//! all incoming mail).
//!
//! ARC (RFC 8617) is recorded only: overriding a DMARC failure because a
//! forwarder's chain vouches for the message needs a list of trusted
//! sealers, which there is no setting for yet.

use postern_config::{AuthAction, MailAuthConfig};

use super::results::{Outcome, Requested, Results, SpfIdentity};

/// Where the message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Inbox,
    Junk,
    /// Refused at the end of DATA with this reply.
    Reject {
        code: u16,
        enhanced: &'static str,
        text: String,
    },
}

/// The disposition `config` gives to these results.
pub fn decide(config: &MailAuthConfig, r: &Results) -> Disposition {
    let dmarc = &r.dmarc;
    let domain = dmarc.from_domain.as_deref().unwrap_or("the From: domain");
    if dmarc.outcome == Outcome::Fail {
        let action = match dmarc.policy {
            Requested::Reject => Some(config.dmarc_reject),
            Requested::Quarantine => Some(config.dmarc_quarantine),
            Requested::None => None,
        };
        if let Some(action) = action {
            return act(action, || dmarc_refusal(domain, dmarc.policy));
        }
    }
    let undecided = matches!(dmarc.outcome, Outcome::None | Outcome::PermError)
        || (dmarc.outcome == Outcome::Fail && dmarc.policy == Requested::None);
    if undecided && r.spf == Outcome::Fail {
        return act(config.spf_fail, || spf_refusal(&r.spf_identity));
    }
    Disposition::Inbox
}

fn act(action: AuthAction, refusal: impl FnOnce() -> Disposition) -> Disposition {
    match action {
        AuthAction::Reject => refusal(),
        AuthAction::Quarantine => Disposition::Junk,
        AuthAction::Accept => Disposition::Inbox,
    }
}

/// RFC 7489 §10.3 suggests 5.7.1 and a text naming DMARC.
fn dmarc_refusal(domain: &str, policy: Requested) -> Disposition {
    let p = if policy == Requested::Reject {
        "reject"
    } else {
        "quarantine"
    };
    Disposition::Reject {
        code: 550,
        enhanced: "5.7.1",
        text: format!(
            "Rejected by the DMARC policy of {} (p={p}): no valid DKIM signature or SPF pass matches the From: domain",
            printable(domain)
        ),
    }
}

/// RFC 7208 §8.4: 550 for a fail; 5.7.23 is RFC 7372's "SPF validation
/// failed".
fn spf_refusal(identity: &SpfIdentity) -> Disposition {
    let (what, name) = match identity {
        SpfIdentity::MailFrom(a) => ("sender", a.as_str()),
        SpfIdentity::Helo(h) => ("HELO name", h.as_str()),
    };
    Disposition::Reject {
        code: 550,
        enhanced: "5.7.23",
        text: format!(
            "SPF check failed: the domain of the {what} {} does not allow this server to send its mail",
            printable(name)
        ),
    }
}

/// Peer-chosen text in a reply: printable ASCII only, bounded.
fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail_auth::results::Dmarc;

    fn results(spf: Outcome, dmarc: Outcome, policy: Requested) -> Results {
        Results {
            spf,
            spf_identity: SpfIdentity::MailFrom("eve@a.test".into()),
            dkim: Vec::new(),
            dmarc: Dmarc {
                outcome: dmarc,
                from_domain: Some("a.test".into()),
                policy,
            },
            arc: Outcome::None,
        }
    }

    fn config(reject: AuthAction, quarantine: AuthAction, spf: AuthAction) -> MailAuthConfig {
        MailAuthConfig {
            verify: true,
            dmarc_reject: reject,
            dmarc_quarantine: quarantine,
            spf_fail: spf,
        }
    }

    #[test]
    fn defaults_reject_and_quarantine_as_the_domain_asks() {
        let c = MailAuthConfig::default();
        let d = decide(
            &c,
            &results(Outcome::Fail, Outcome::Fail, Requested::Reject),
        );
        let Disposition::Reject {
            code,
            enhanced,
            text,
        } = d
        else {
            panic!("not rejected: {d:?}");
        };
        assert_eq!((code, enhanced), (550, "5.7.1"));
        assert!(text.contains("DMARC policy of a.test (p=reject)"), "{text}");
        let q = results(Outcome::Pass, Outcome::Fail, Requested::Quarantine);
        assert_eq!(decide(&c, &q), Disposition::Junk);
        // p=none, a pass, no record, a temperror: delivered, even with an
        // SPF fail (the default spf_fail is accept).
        for (dmarc, policy) in [
            (Outcome::Fail, Requested::None),
            (Outcome::Pass, Requested::Reject),
            (Outcome::None, Requested::None),
            (Outcome::TempError, Requested::Reject),
        ] {
            let r = results(Outcome::Fail, dmarc, policy);
            assert_eq!(decide(&c, &r), Disposition::Inbox, "{dmarc:?} {policy:?}");
        }
    }

    #[test]
    fn each_setting_is_honoured() {
        use AuthAction::{Accept, Quarantine, Reject};
        let reject_policy = results(Outcome::None, Outcome::Fail, Requested::Reject);
        let c = config(Accept, Reject, Reject);
        // DMARC decided (accept): the SPF setting does not apply.
        assert_eq!(decide(&c, &reject_policy), Disposition::Inbox);
        let quarantine_policy = results(Outcome::None, Outcome::Fail, Requested::Quarantine);
        assert!(matches!(
            decide(&c, &quarantine_policy),
            Disposition::Reject { ref text, .. } if text.contains("(p=quarantine)")
        ));
        let c = config(Quarantine, Accept, Quarantine);
        assert_eq!(decide(&c, &reject_policy), Disposition::Junk);
        assert_eq!(decide(&c, &quarantine_policy), Disposition::Inbox);
        // No DMARC to decide: SPF fail follows spf_fail; softfail never.
        let spf_fail = results(Outcome::Fail, Outcome::None, Requested::None);
        assert_eq!(decide(&c, &spf_fail), Disposition::Junk);
        let c = config(Reject, Reject, Reject);
        assert!(matches!(
            decide(&c, &spf_fail),
            Disposition::Reject { enhanced: "5.7.23", ref text, .. } if text.contains("sender eve@a.test")
        ));
        let softfail = results(Outcome::SoftFail, Outcome::PermError, Requested::None);
        assert_eq!(decide(&c, &softfail), Disposition::Inbox);
    }
}
