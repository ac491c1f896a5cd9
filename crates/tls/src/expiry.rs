//! Certificate expiry: the daily check and the figures for metrics.

use postern_config::TlsPolicy;
use time::OffsetDateTime;

use crate::certstore::CertStore;

/// How close a certificate is to expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Fine,
    /// Within `expiry_warning_days`.
    Soon,
    /// Within `expiry_error_days` (or expired): the operator must act.
    Urgent,
}

/// One certificate's expiry status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub name: String,
    pub days_left: i64,
    pub urgency: Urgency,
}

/// The expiry status of every certificate in the store.
pub fn expiries(store: &CertStore, policy: &TlsPolicy, now: OffsetDateTime) -> Vec<Expiry> {
    store
        .certs()
        .iter()
        .map(|c| {
            let days_left = c.days_left(now);
            Expiry {
                name: c.name.clone(),
                days_left,
                urgency: urgency(days_left, policy),
            }
        })
        .collect()
}

fn urgency(days_left: i64, policy: &TlsPolicy) -> Urgency {
    if days_left <= i64::from(policy.expiry_error_days) {
        Urgency::Urgent
    } else if days_left <= i64::from(policy.expiry_warning_days) {
        Urgency::Soon
    } else {
        Urgency::Fine
    }
}

/// Logs a warning or an error for each certificate close to expiry.
pub fn log_expiries(store: &CertStore, policy: &TlsPolicy, now: OffsetDateTime) {
    for e in expiries(store, policy, now) {
        match e.urgency {
            Urgency::Urgent => {
                tracing::error!(certificate = %e.name, days_left = e.days_left, "certificate expires very soon; renew it now (postern cert request + import)")
            }
            Urgency::Soon => {
                tracing::warn!(certificate = %e.name, days_left = e.days_left, "certificate expires soon; renew it")
            }
            Urgency::Fine => {
                tracing::debug!(certificate = %e.name, days_left = e.days_left, "certificate expiry checked")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_config::TlsVersion;

    #[test]
    fn thresholds() {
        let p = TlsPolicy {
            min_version: TlsVersion::Tls12,
            cipher_suites: vec![],
            expiry_warning_days: 30,
            expiry_error_days: 7,
        };
        assert_eq!(urgency(31, &p), Urgency::Fine);
        assert_eq!(urgency(30, &p), Urgency::Soon);
        assert_eq!(urgency(8, &p), Urgency::Soon);
        assert_eq!(urgency(7, &p), Urgency::Urgent);
        assert_eq!(urgency(-3, &p), Urgency::Urgent);
    }
}
