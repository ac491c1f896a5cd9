//! One mail transaction's envelope, built from MAIL and each accepted RCPT,
//! and stored as one unit (`Store::accept`: local copies and the queue item
//! in one durable transaction).

use postern_smtp_proto::cmd::{Body, ForwardPath, MailFrom, Notify as RcptNotify, RcptTo, Ret};
use postern_store::{
    AccountId, DsnRet, Envelope, Incoming, LocalFolder, Notify, RemoteRecipient, StoreError,
    StoreResult,
};
use time::OffsetDateTime;

use crate::mail::Mail;

/// Where one recipient goes, as the store sees it.
#[derive(Debug)]
pub enum Recipient {
    /// One of our addresses, with the accounts it reaches.
    Local {
        address: String,
        accounts: Vec<AccountId>,
    },
    /// In one of our domains, but no account or alias has it.
    Unknown { address: String },
    /// Another domain's: relayed through the queue.
    Foreign(RemoteRecipient),
    /// Not a usable address (a quoted local part, say).
    Invalid { address: String },
    /// The store did not answer.
    Unavailable,
}

/// Why a RCPT is refused.
#[derive(Debug)]
pub struct Refusal {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

impl Refusal {
    fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced,
            text: text.into(),
        }
    }
}

impl Recipient {
    /// Looks the forward-path up: our domain or not, and if ours, who gets
    /// it (account, alias, catch-all).
    pub async fn resolve(mail: &Mail, hostname: &str, rcpt: RcptTo) -> Self {
        let notify = notify_of(rcpt.notify);
        let orcpt = rcpt.orcpt;
        let hostname = hostname.to_owned();
        let looked_up = mail
            .with_store(move |s| {
                let domains = s.domains()?;
                let address = match rcpt.forward_path {
                    // RFC 5321 §4.5.1: <Postmaster> without a domain is ours.
                    ForwardPath::Postmaster => {
                        let domain = domains.first().cloned().unwrap_or(hostname);
                        format!("postmaster@{domain}")
                    }
                    ForwardPath::Mailbox(m) => format!("{}@{}", m.local_part, m.domain),
                };
                let domain = address.rsplit_once('@').map(|(_, d)| d.to_lowercase());
                if !domain.is_some_and(|d| domains.contains(&d)) {
                    return Ok(Self::Foreign(RemoteRecipient {
                        address,
                        notify,
                        orcpt,
                    }));
                }
                Ok(match s.resolve_recipient(&address) {
                    Ok(accounts) if accounts.is_empty() => Self::Unknown { address },
                    Ok(accounts) => Self::Local { address, accounts },
                    Err(StoreError::Invalid { .. }) => Self::Invalid { address },
                    Err(e) => return Err(e),
                })
            })
            .await;
        looked_up.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot look up a recipient");
            Self::Unavailable
        })
    }
}

/// RFC 3461 §4.1: without NOTIFY, the server acts as if FAILURE (and
/// possibly DELAY) were given; we send both.
fn notify_of(notify: Option<RcptNotify>) -> Notify {
    match notify {
        Some(RcptNotify::Never) => Notify::NEVER,
        Some(RcptNotify::On {
            success,
            failure,
            delay,
        }) => Notify {
            success,
            failure,
            delay,
        },
        None => Notify {
            success: false,
            failure: true,
            delay: true,
        },
    }
}

/// The envelope so far.
#[derive(Debug)]
pub struct Transaction {
    envelope: Envelope,
    local: Vec<AccountId>,
    remote: Vec<RemoteRecipient>,
    /// Every accepted forward-path, in order (the trace header names the
    /// only one, if there is only one).
    accepted: Vec<String>,
}

/// What was stored, for the log.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub local: usize,
    pub remote: usize,
    pub size: usize,
}

impl Transaction {
    pub fn new(mail: &MailFrom) -> Self {
        let mail_from = mail
            .reverse_path
            .as_ref()
            .map_or_else(String::new, |m| format!("{}@{}", m.local_part, m.domain));
        Self {
            envelope: Envelope {
                mail_from,
                envid: mail.envid.clone(),
                ret: mail.ret.map(|r| match r {
                    Ret::Full => DsnRet::Full,
                    Ret::Hdrs => DsnRet::Headers,
                }),
                requiretls: mail.requiretls,
                smtputf8: mail.smtputf8,
                eight_bit: mail.body == Some(Body::EightBitMime),
            },
            local: Vec::new(),
            remote: Vec::new(),
            accepted: Vec::new(),
        }
    }

    pub fn mail_from(&self) -> &str {
        &self.envelope.mail_from
    }

    pub const fn smtputf8(&self) -> bool {
        self.envelope.smtputf8
    }

    pub fn single_recipient(&self) -> Option<&str> {
        match self.accepted.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// Takes a recipient in, or says why not. Relaying (a foreign domain)
    /// needs an authenticated sender: never an open relay (RFC 5321
    /// §3.6.2). Unknown local users are refused at RCPT (550 5.1.1), which
    /// is what lets other servers bounce at once instead of us later.
    pub fn add(&mut self, recipient: Recipient, may_relay: bool) -> Result<(), Refusal> {
        match recipient {
            Recipient::Local { address, accounts } => {
                for id in accounts {
                    if !self.local.contains(&id) {
                        self.local.push(id);
                    }
                }
                self.accepted.push(address);
            }
            Recipient::Foreign(remote) if may_relay => {
                let duplicate = self
                    .remote
                    .iter()
                    .any(|r| r.address.eq_ignore_ascii_case(&remote.address));
                self.accepted.push(remote.address.clone());
                if !duplicate {
                    self.remote.push(remote);
                }
            }
            Recipient::Foreign(remote) => {
                return Err(Refusal::new(
                    550,
                    "5.7.1",
                    format!(
                        "Relaying denied: <{}> is not a domain of this server; send through your own provider's submission server",
                        remote.address
                    ),
                ))
            }
            Recipient::Unknown { address } => {
                return Err(Refusal::new(
                    550,
                    "5.1.1",
                    format!("<{address}>: no such recipient here"),
                ))
            }
            Recipient::Invalid { address } => {
                return Err(Refusal::new(
                    553,
                    "5.1.3",
                    format!("<{address}> is not a valid address here"),
                ))
            }
            Recipient::Unavailable => {
                return Err(Refusal::new(
                    451,
                    "4.3.0",
                    "Cannot look the recipient up now, try again later",
                ))
            }
        }
        Ok(())
    }

    /// Stores the message for every recipient at once, durably.
    pub async fn store(&self, mail: &Mail, raw: Vec<u8>) -> StoreResult<Stored> {
        self.store_into(mail, raw, LocalFolder::Inbox).await
    }

    /// [`Transaction::store`], with the local copies in `folder` (the Junk
    /// folder for quarantined mail).
    pub async fn store_into(
        &self,
        mail: &Mail,
        raw: Vec<u8>,
        folder: LocalFolder,
    ) -> StoreResult<Stored> {
        let stored = Stored {
            local: self.local.len(),
            remote: self.remote.len(),
            size: raw.len(),
        };
        let (local, remote, envelope) = (
            self.local.clone(),
            self.remote.clone(),
            self.envelope.clone(),
        );
        mail.with_store(move |s| {
            let incoming = Incoming {
                raw: &raw,
                internal_date: OffsetDateTime::now_utc().unix_timestamp(),
                local: &local,
                envelope: &envelope,
                remote: &remote,
            };
            s.accept_into(&incoming, folder)
        })
        .await?;
        Ok(stored)
    }
}
