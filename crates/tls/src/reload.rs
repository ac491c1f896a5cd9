//! Hot reload: build a new [`CertStore`] and swap it in. New handshakes use
//! it at once; open connections keep the keys they negotiated with.
//!
//! A certificate that fails to load on reload keeps its last good version
//! serving, and the failure is logged loudly (never a silent fallback).

use std::sync::Arc;

use arc_swap::ArcSwap;
use postern_config::CertificateConfig;
use time::OffsetDateTime;

use crate::certstore::{CertError, CertStore, LoadedCert};

/// What one reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Certificates now serving a freshly loaded version.
    pub loaded: Vec<String>,
    /// Certificates that failed; the old version keeps serving where there
    /// was one.
    pub failed: Vec<CertError>,
}

/// The shared, swappable certificate store.
#[derive(Debug, Clone)]
pub struct Certificates {
    current: Arc<ArcSwap<CertStore>>,
}

impl Certificates {
    /// Wraps the store loaded at start.
    pub fn new(store: CertStore) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(store)),
        }
    }

    /// The handle resolvers read from.
    pub fn shared(&self) -> Arc<ArcSwap<CertStore>> {
        self.current.clone()
    }

    /// The store now serving.
    pub fn snapshot(&self) -> Arc<CertStore> {
        self.current.load_full()
    }

    /// Reloads every configured certificate.
    pub fn reload(&self, configs: &[CertificateConfig], now: OffsetDateTime) -> ReloadReport {
        let old = self.current.load_full();
        let mut report = ReloadReport::default();
        let mut next = Vec::with_capacity(configs.len());
        for config in configs {
            match LoadedCert::load(config, now) {
                Ok(cert) => {
                    report.loaded.push(cert.name.clone());
                    next.push(cert);
                }
                Err(e) => {
                    tracing::error!(error = %e, "certificate reload failed; the previous certificate keeps serving");
                    next.extend(old.get(&config.name).cloned());
                    report.failed.push(e);
                }
            }
        }
        self.current.store(Arc::new(CertStore::from_loaded(next)));
        report
    }
}
