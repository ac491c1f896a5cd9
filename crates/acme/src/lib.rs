//! ACME (RFC 8555) for Postern: obtain a certificate from a CA such as
//! Let's Encrypt, proving control of each name with http-01 (§8.3),
//! tls-alpn-01 (RFC 8737) or dns-01 (§8.4, through RFC 2136 updates).
//!
//! This crate talks to the CA and answers the challenge; it writes nothing
//! but the account file and the challenge answers. Installing the result
//! (checks, atomic replace, hot reload) is the caller's job, through the
//! same path as `postern cert import`, so a failed order never touches the
//! certificate being served.
//!
//! A separate crate keeps the ACME client's dependencies out of the server:
//! the running server only reads challenge answers from a directory.

#![forbid(unsafe_code)]

mod account;
pub mod dns01;
pub mod http;
pub mod http01;
pub mod install;
pub mod renew;
pub mod tls_alpn01;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewOrder,
    Order, OrderStatus, RetryPolicy,
};
use postern_tls::tooling::{generate_key, KeyType};

pub use dns01::{Dns01, DnsUpdate, TsigKey};
pub use http::TlsHttpClient;
pub use http01::Http01;
pub use renew::{Job, Outcome, Reason};
pub use tls_alpn01::TlsAlpn01;

/// How long the CA may take to validate every name, then to issue.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(120);

/// What to ask for, and where.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The CA's directory URL (RFC 8555 §7.1.1).
    pub directory: String,
    /// DNS names; the first is also the subject's CN.
    pub names: Vec<String>,
    /// Contact URLs for the account (`mailto:...`), RFC 8555 §7.3.
    pub contact: Vec<String>,
    /// Which CAs the HTTPS client trusts.
    pub tls: Arc<rustls::ClientConfig>,
    /// Where the account keys live (one file per directory URL, 0600).
    pub account_dir: PathBuf,
    /// Where http-01 answers are published (the running server reads it).
    pub http01_dir: PathBuf,
    /// How control of the names is proven.
    pub challenge: Challenge,
    /// The address the CA's port-80 requests reach (http-01).
    pub http_listen: SocketAddr,
    /// The address the CA's port-443 connections reach (tls-alpn-01).
    pub tls_listen: SocketAddr,
    /// The running server's tls-alpn-01 map: its HTTPS listeners answer
    /// the CA. `None`: a temporary listener on `tls_listen` answers.
    pub tls_alpn01_shared: Option<postern_tls::resolver::AcmeChallenges>,
    /// The certificate's key type.
    pub key: KeyType,
    /// Whether this process answers http-01 on `http_listen` itself when
    /// the address is free (the command line). The server never does: its
    /// own `http` listener answers.
    pub http01_may_listen: bool,
    /// External Account Binding (RFC 8555 §7.3.4), used when registering.
    pub eab: Option<Eab>,
}

/// An External Account Binding: the key id and MAC key the CA handed out.
#[derive(Clone)]
pub struct Eab {
    pub kid: String,
    pub hmac_key: Vec<u8>,
}

impl std::fmt::Debug for Eab {
    // The MAC key never appears in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .finish()
    }
}

/// The challenge types answered.
#[derive(Debug, Clone)]
pub enum Challenge {
    /// RFC 8555 §8.3: a file over HTTP on port 80.
    Http01,
    /// RFC 8737: a special certificate over TLS on port 443.
    TlsAlpn01,
    /// RFC 8555 §8.4: a TXT record, published by a dynamic update.
    Dns01(DnsUpdate),
}

/// A certificate chain (leaf first, PEM) and its new key (PEM).
#[derive(Debug)]
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// Why no certificate was obtained. Nothing served has changed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("{}: {source}; check the data directory's permissions", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the ACME account file {} is unreadable ({why}); move it away to register a new account", path.display())]
    AccountFile { path: PathBuf, why: String },
    #[error("cannot use the ACME directory {url}: {source}; check the URL, that this machine reaches it over HTTPS, and for a private CA give its root with --ca-bundle")]
    Directory {
        url: String,
        source: instant_acme::Error,
    },
    #[error("the ACME CA refused to {step}: {source}")]
    Ca {
        step: &'static str,
        source: instant_acme::Error,
    },
    #[error("the CA offers no {kind} challenge for {name}; use --challenge with a type it offers")]
    NotOffered { name: String, kind: &'static str },
    #[error("{0} is in use (a running server?); this command answers tls-alpn-01 on its own listener, which needs that address for the length of the order: stop the server for a moment, or use --challenge http-01, which a running server answers; a running server renews its tls-alpn-01 [[acme]] sections by itself")]
    TlsAlpnBusy(SocketAddr),
    #[error("cannot listen on {addr} for the challenge: {source}; run as a user allowed to bind it (or give the binary CAP_NET_BIND_SERVICE), or give --http-listen / --tls-listen with an address the CA's requests reach")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the CA sent a token that is not base64url ({0:?}); refusing to publish it")]
    BadToken(String),
    #[error("the http-01 answer is not served on {addr}: {why}; if another program holds that port stop it, or start `postern serve` (its port-80 listener answers challenges)")]
    SelfCheck { addr: SocketAddr, why: String },
    #[error("the CA could not validate {}; check that DNS for each name points to this machine and that the CA reaches it on port 80 for http-01, port 443 for tls-alpn-01 (firewall, NAT, --http-listen, --tls-listen); for dns-01, that the zone's public servers serve the _acme-challenge TXT records the primary received", .0.join("; "))]
    Validation(Vec<String>),
    #[error("the order ended in state {0:?}; try again later")]
    Order(OrderStatus),
    #[error("cannot make the certificate key or request: {0}")]
    Key(String),
    #[error("the dynamic DNS update through {server} failed: {why}")]
    DnsUpdate { server: SocketAddr, why: String },
    #[error("{0}")]
    Config(String),
    #[error("the CA's certificate was refused: {0}; the installed one is unchanged")]
    Refused(String),
    #[error("{0}")]
    Install(String),
}

impl AcmeError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn ca(step: &'static str) -> impl FnOnce(instant_acme::Error) -> Self {
        move |source| Self::Ca { step, source }
    }
}

/// Runs one order to the end: account, challenges, CSR, certificate.
pub async fn obtain(s: &Settings) -> Result<Issued, AcmeError> {
    let account = open_account(s).await?;
    obtain_with(&account, s, None).await
}

/// The stored account for `s.directory`, registered first if there is none.
pub async fn open_account(s: &Settings) -> Result<Account, AcmeError> {
    account::load_or_create(TlsHttpClient::new(s.tls.clone()), s).await
}

/// Runs one order on an open account. `replaces` names the certificate
/// this one succeeds (RFC 9773 §5), for CAs that offer renewal information.
pub async fn obtain_with(
    account: &Account,
    s: &Settings,
    replaces: Option<CertificateIdentifier<'static>>,
) -> Result<Issued, AcmeError> {
    let ids: Vec<Identifier> = s.names.iter().cloned().map(Identifier::Dns).collect();
    let mut new = NewOrder::new(&ids);
    if let Some(r) = replaces {
        new = new.replaces(r);
    }
    let mut order = account
        .new_order(&new)
        .await
        .map_err(AcmeError::ca("create an order"))?;
    let mut responder = match &s.challenge {
        Challenge::Http01 => {
            Responder::Http(Http01::start(&s.http01_dir, s.http_listen, s.http01_may_listen).await?)
        }
        Challenge::TlsAlpn01 => Responder::Tls(match &s.tls_alpn01_shared {
            Some(map) => TlsAlpn01::shared(map.clone()).await,
            None => TlsAlpn01::start(s.tls_listen).await?,
        }),
        Challenge::Dns01(update) => Responder::Dns(Dns01::new(update.clone())),
    };
    let answered = answer_challenges(&mut order, &mut responder).await;
    // The TXT records go whatever the outcome; the others go on drop.
    if let Responder::Dns(d) = responder {
        d.finish().await;
    }
    answered?;
    let (key_pem, csr_der) = csr(&s.names, s.key)?;
    order
        .finalize_csr(&csr_der)
        .await
        .map_err(AcmeError::ca("sign the certificate request"))?;
    let policy = RetryPolicy::new().timeout(VALIDATION_TIMEOUT);
    let chain_pem = order
        .poll_certificate(&policy)
        .await
        .map_err(AcmeError::ca("issue the certificate"))?;
    Ok(Issued { chain_pem, key_pem })
}

/// What answers the CA's validation requests for the length of an order.
enum Responder {
    Http(Http01),
    Tls(TlsAlpn01),
    Dns(Dns01),
}

impl Responder {
    fn kind(&self) -> (ChallengeType, &'static str) {
        match self {
            Self::Http(_) => (ChallengeType::Http01, "http-01"),
            Self::Tls(_) => (ChallengeType::TlsAlpn01, "tls-alpn-01"),
            Self::Dns(_) => (ChallengeType::Dns01, "dns-01"),
        }
    }
}

/// Publishes every pending authorization's answer, tells the CA it is
/// ready (RFC 8555 §7.5.1) and waits for the order to be ready.
async fn answer_challenges(order: &mut Order, responder: &mut Responder) -> Result<(), AcmeError> {
    let (kind, kind_name) = responder.kind();
    let mut authzs = order.authorizations();
    while let Some(authz) = authzs.next().await {
        let mut authz = authz.map_err(AcmeError::ca("show an authorization"))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        let name = authz.identifier().to_string();
        let mut challenge = authz.challenge(kind.clone()).ok_or(AcmeError::NotOffered {
            name: name.clone(),
            kind: kind_name,
        })?;
        let key_auth = challenge.key_authorization();
        match responder {
            Responder::Http(h) => {
                h.publish(&challenge.token, key_auth.as_str())?;
                h.self_check(&challenge.token, key_auth.as_str()).await?;
            }
            Responder::Tls(t) => t.publish(&name, key_auth.digest().as_ref())?,
            Responder::Dns(d) => {
                d.publish(&name, &key_auth.dns_value()).await?;
                d.wait_visible().await;
            }
        }
        challenge
            .set_ready()
            .await
            .map_err(AcmeError::ca("start validating"))?;
    }
    let policy = RetryPolicy::new().timeout(VALIDATION_TIMEOUT);
    // A failed validation shows as an invalid order, or as an order
    // carrying an error document (RFC 8555 §7.1.3): either way the reason
    // is in the failed challenge of each authorization.
    match order.poll_ready(&policy).await {
        Ok(OrderStatus::Ready) => Ok(()),
        Ok(OrderStatus::Invalid) | Err(instant_acme::Error::Api(_)) => {
            Err(AcmeError::Validation(failures(order).await))
        }
        Ok(other) => Err(AcmeError::Order(other)),
        Err(e) => Err(AcmeError::ca("validate the names")(e)),
    }
}

/// What the CA said about each failed authorization (RFC 8555 §7.1.4:
/// the failed challenge carries an error problem document).
async fn failures(order: &mut Order) -> Vec<String> {
    let mut out = Vec::new();
    let mut authzs = order.authorizations();
    while let Some(Ok(mut authz)) = authzs.next().await {
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        let name = state.identifier().to_string();
        for c in &state.challenges {
            if let Some(e) = &c.error {
                out.push(format!("{name}: {e}"));
            }
        }
    }
    if out.is_empty() {
        out.push("the names (the CA gave no reason)".into());
    }
    out
}

/// A fresh key and a CSR for the names (RFC 8555 §7.4: the CSR carries
/// the names as subjectAltName; the CN is the first name).
fn csr(names: &[String], key: KeyType) -> Result<(String, Vec<u8>), AcmeError> {
    let err = |e: &dyn std::fmt::Display| AcmeError::Key(e.to_string());
    let key = generate_key(key).map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| err(&e))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    let req = params.serialize_request(&key).map_err(|e| err(&e))?;
    Ok((key.serialize_pem(), req.der().to_vec()))
}
