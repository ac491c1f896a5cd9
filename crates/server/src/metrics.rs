//! Prometheus metrics: the cost of encryption made visible (handshakes by
//! version, suite and group, failures by reason, latency), open connections,
//! and the days left of each certificate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use postern_tls::CertStore;
use time::OffsetDateTime;

/// Upper bounds of the handshake latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Every counter, behind one lock each (updates are rare next to TLS work).
#[derive(Debug, Default)]
pub struct Metrics {
    handshakes: Mutex<BTreeMap<[String; 4], u64>>,
    failures: Mutex<BTreeMap<[String; 2], u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    open: Mutex<BTreeMap<String, i64>>,
    refused: Mutex<BTreeMap<[String; 2], u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful even if a holder panicked.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    pub fn handshake_ok(
        &self,
        listener: &str,
        version: &str,
        suite: &str,
        group: &str,
        took: Duration,
    ) {
        let key = [listener, version, suite, group].map(str::to_owned);
        *lock(&self.handshakes).entry(key).or_default() += 1;
        lock(&self.latency)
            .entry(listener.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    pub fn handshake_failed(&self, listener: &str, reason: &str) {
        *lock(&self.failures)
            .entry([listener.to_owned(), reason.to_owned()])
            .or_default() += 1;
    }

    /// A connection refused before any protocol (per-IP limit, ...).
    pub fn refused(&self, listener: &str, reason: &str) {
        *lock(&self.refused)
            .entry([listener.to_owned(), reason.to_owned()])
            .or_default() += 1;
    }

    pub fn opened(&self, listener: &str) {
        *lock(&self.open).entry(listener.to_owned()).or_default() += 1;
    }

    pub fn closed(&self, listener: &str) {
        *lock(&self.open).entry(listener.to_owned()).or_default() -= 1;
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self, certs: &CertStore, now: OffsetDateTime) -> String {
        let mut out = String::new();
        self.render_handshakes(&mut out);
        self.render_latency(&mut out);
        render_map(
            &mut out,
            "postern_tls_handshake_failures_total",
            "counter",
            "Failed TLS handshakes by reason.",
            &["listener", "reason"],
            &lock(&self.failures),
        );
        render_map(
            &mut out,
            "postern_connections_refused_total",
            "counter",
            "Connections refused before the protocol started.",
            &["listener", "reason"],
            &lock(&self.refused),
        );
        out.push_str("# HELP postern_connections_open Open connections.\n# TYPE postern_connections_open gauge\n");
        for (listener, n) in lock(&self.open).iter() {
            let _ = writeln!(
                out,
                "postern_connections_open{{listener=\"{}\"}} {n}",
                esc(listener)
            );
        }
        out.push_str("# HELP postern_certificate_days_left Whole days until the certificate expires.\n# TYPE postern_certificate_days_left gauge\n");
        for c in certs.certs() {
            let _ = writeln!(
                out,
                "postern_certificate_days_left{{certificate=\"{}\"}} {}",
                esc(&c.name),
                c.days_left(now)
            );
        }
        out
    }

    fn render_handshakes(&self, out: &mut String) {
        render_map(
            out,
            "postern_tls_handshakes_total",
            "counter",
            "Completed TLS handshakes.",
            &["listener", "version", "cipher_suite", "group"],
            &lock(&self.handshakes),
        );
    }

    fn render_latency(&self, out: &mut String) {
        out.push_str("# HELP postern_tls_handshake_seconds TLS handshake duration.\n# TYPE postern_tls_handshake_seconds histogram\n");
        for (listener, h) in lock(&self.latency).iter() {
            let l = esc(listener);
            for (le, n) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(
                    out,
                    "postern_tls_handshake_seconds_bucket{{listener=\"{l}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "postern_tls_handshake_seconds_bucket{{listener=\"{l}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "postern_tls_handshake_seconds_sum{{listener=\"{l}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "postern_tls_handshake_seconds_count{{listener=\"{l}\"}} {}",
                h.count
            );
        }
    }
}

fn render_map<const N: usize>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    labels: &[&str; N],
    map: &BTreeMap<[String; N], u64>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (values, n) in map {
        let pairs: Vec<String> = labels
            .iter()
            .zip(values)
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {n}", pairs.join(","));
    }
}

/// Label values escape backslash, quote and newline.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.handshake_ok(
            "imaps",
            "TLSv1.3",
            "TLS13_AES_256_GCM_SHA384",
            "X25519MLKEM768",
            Duration::from_millis(3),
        );
        m.handshake_failed("imaps", "protocol_version");
        m.opened("imaps");
        let text = m.render(&CertStore::default(), OffsetDateTime::now_utc());
        assert!(text.contains("postern_tls_handshakes_total{listener=\"imaps\",version=\"TLSv1.3\",cipher_suite=\"TLS13_AES_256_GCM_SHA384\",group=\"X25519MLKEM768\"} 1"), "{text}");
        assert!(
            text.contains(
                "postern_tls_handshake_seconds_bucket{listener=\"imaps\",le=\"0.0025\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "postern_tls_handshake_seconds_bucket{listener=\"imaps\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("postern_tls_handshake_failures_total{listener=\"imaps\",reason=\"protocol_version\"} 1"));
        assert!(text.contains("postern_connections_open{listener=\"imaps\"} 1"));
    }
}
