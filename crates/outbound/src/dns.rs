//! DNS lookups for delivery: MX, A/AAAA, TLSA and TXT, each with whether
//! the resolver vouched for it (the AD bit).
//!
//! We talk to the configured resolver through hickory's name-server pool
//! rather than its caching resolver, because DANE needs the AD bit of each
//! answer (RFC 7672 §2.1.1), which the high-level lookups do not keep. Every
//! query sets AD=1, which asks a validating resolver to report whether the
//! answer was DNSSEC-authenticated without sending us the signatures
//! (RFC 6840 §5.7). We do not validate signatures ourselves: like Postfix
//! (`smtp_dns_support_level = dnssec`), we trust the AD bit of a resolver
//! that must be local or reached over a trusted path; the crate docs say
//! why.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle as _;
use hickory_resolver::proto::op::{
    DnsRequest, DnsRequestOptions, Edns, Message, Query, ResponseCode,
};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};

/// Records of one type, and whether the resolver authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub records: Vec<T>,
    /// The AD bit: a validating resolver checked the DNSSEC chain.
    pub secure: bool,
}

/// A lookup that gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// NXDOMAIN: the name does not exist.
    #[error("{0}: no such domain (NXDOMAIN)")]
    NoSuchDomain(String),
    /// SERVFAIL, a timeout, a broken answer: try again later.
    #[error("{name}: DNS lookup failed: {reason}")]
    Failed { name: String, reason: String },
}

/// A TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

/// The resolver.
#[derive(Clone)]
pub struct Dns {
    pool: NameServerPool<TokioRuntimeProvider>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

/// EDNS payload size recommended since DNS flag day 2020 (no
/// fragmentation); larger answers come over TCP.
const EDNS_PAYLOAD: u16 = 1232;

impl Dns {
    /// A resolver at `server`, or the ones in /etc/resolv.conf.
    pub fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        let (servers, mut opts) = match server {
            Some(addr) => (vec![server_config(addr)], ResolverOpts::default()),
            None => {
                let (config, opts) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(|e| format!("reading the system's resolver configuration: {e}"))?;
                (config.name_servers().to_vec(), opts)
            }
        };
        if servers.is_empty() {
            return Err("no DNS resolver configured".into());
        }
        opts.timeout = opts.timeout.min(Duration::from_secs(10));
        let tls = TlsConfig::new().map_err(|e| e.to_string())?;
        let cx = Arc::new(PoolContext::new(opts, tls));
        let pool = NameServerPool::from_config(servers, cx, TokioRuntimeProvider::default());
        Ok(Self { pool })
    }

    /// MX records, as (preference, exchange without the final dot).
    pub async fn mx(&self, domain: &str) -> Result<Answer<(u16, String)>, LookupError> {
        self.query(domain, RecordType::MX, |d| match d {
            RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
            _ => None,
        })
        .await
    }

    /// A and AAAA addresses (IPv6 first; we try each in turn). Secure
    /// when every non-empty answer was: an empty answer comes back as an
    /// error without its header, and an unauthenticated denial can only
    /// hide an address, never add one an attacker chose.
    pub async fn addresses(&self, host: &str) -> Result<Answer<IpAddr>, LookupError> {
        let v6 = self.query(host, RecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        });
        let v4 = self.query(host, RecordType::A, |d| match d {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        });
        match tokio::join!(v6, v4) {
            (Ok(a), Ok(b)) => {
                let secure =
                    (a.records.is_empty() || a.secure) && (b.records.is_empty() || b.secure);
                let records: Vec<IpAddr> = a.records.into_iter().chain(b.records).collect();
                Ok(Answer {
                    secure: secure && !records.is_empty(),
                    records,
                })
            }
            (Ok(a), Err(_)) if !a.records.is_empty() => Ok(Answer { secure: false, ..a }),
            (Err(_), Ok(b)) if !b.records.is_empty() => Ok(Answer { secure: false, ..b }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    /// TLSA records at `_port._tcp.host` (RFC 7672 §2.2.3).
    pub async fn tlsa(&self, host: &str, port: u16) -> Result<Answer<Tlsa>, LookupError> {
        self.query(
            &format!("_{port}._tcp.{host}"),
            RecordType::TLSA,
            |d| match d {
                RData::TLSA(t) => Some(Tlsa {
                    usage: t.cert_usage.into(),
                    selector: t.selector.into(),
                    matching: t.matching.into(),
                    data: t.cert_data.clone(),
                }),
                _ => None,
            },
        )
        .await
    }

    /// TXT records, each one's strings joined (RFC 7208 §3.3 style).
    pub async fn txt(&self, name: &str) -> Result<Answer<String>, LookupError> {
        self.query(name, RecordType::TXT, |d| match d {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect(),
            ),
            _ => None,
        })
        .await
    }

    async fn query<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Answer<T>, LookupError> {
        let failed = |reason: String| LookupError::Failed {
            name: name.to_owned(),
            reason,
        };
        // from_utf8 turns an internationalised name into its A-labels
        // (RFC 5890), for SMTPUTF8 recipients.
        let mut fqdn = Name::from_utf8(name).map_err(|e| failed(e.to_string()))?;
        fqdn.set_fqdn(true);
        let mut msg = Message::query();
        msg.add_query(Query::query(fqdn, rtype));
        msg.metadata.recursion_desired = true;
        msg.metadata.authentic_data = true;
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        msg.set_edns(edns);
        let request = DnsRequest::new(msg, DnsRequestOptions::default());
        let response = self.pool.send(request).next().await;
        match response {
            Some(Ok(resp)) => {
                let secure = resp.metadata.authentic_data;
                if resp.metadata.response_code == ResponseCode::NXDomain {
                    return Err(LookupError::NoSuchDomain(name.to_owned()));
                }
                let records = resp
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .filter_map(|r| pick(&r.data))
                    .collect();
                Ok(Answer { records, secure })
            }
            // NOERROR with no records of the type is an empty answer;
            // NXDOMAIN is its own error; the rest is temporary.
            Some(Err(e)) if e.is_nx_domain() => Err(LookupError::NoSuchDomain(name.to_owned())),
            Some(Err(e)) if e.is_no_records_found() => Ok(Answer {
                records: Vec::new(),
                secure: false,
            }),
            Some(Err(e)) => Err(failed(e.to_string())),
            None => Err(failed("no response".into())),
        }
    }
}

fn server_config(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

fn name_text(n: &Name) -> String {
    let s = n.to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_ascii_lowercase()
}
