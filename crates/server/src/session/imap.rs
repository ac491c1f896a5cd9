//! IMAP sessions (RFC 9051, RFC 3501): login through the authentication
//! service, then the mailbox commands over the store, with untagged
//! EXISTS / EXPUNGE / FETCH from the store's change notifications.
//!
//! The core (`postern-imap-proto`) parses; this module decides. A
//! selected mailbox is a `view::View`: the sequence numbers the client
//! knows. Changes made by other sessions (or deliveries) arrive through
//! `Store::subscribe`; the view is re-read when one concerns the selected
//! mailbox and the client is told at the next point the RFC allows (and at
//! once in IDLE).
//!
//! # Layout
//! - `auth`: LOGIN and AUTHENTICATE (PLAIN, LOGIN, EXTERNAL).
//! - `mailboxes`: CREATE, DELETE, RENAME, SUBSCRIBE, LIST/LSUB, STATUS,
//!   APPEND, QUOTA.
//! - `selected`: SELECT/EXAMINE, CLOSE, UNSELECT, EXPUNGE, STORE, COPY,
//!   MOVE, and the reporting of changes.
//! - `fetch`: FETCH, answered in pieces of about 1 MiB.
//! - `search`, `sort`: SEARCH (ESEARCH), SORT and THREAD.
//! - `view`: sequence numbers over UIDs, and syncing with the store.
//! - `flags`: flags between IMAP and the store.
//!
//! MOVE is one store transaction (`Store::move_messages`), and so is
//! STORE with its UNCHANGEDSINCE check (`Store::store_flags`);
//! subscriptions are stored (`Store::subscriptions`). \Recent (RFC 3501
//! §2.3.2) is claimed from the store (`Store::claim_recent`) by an
//! IMAP4rev1 session's SELECT, not EXAMINE, and again when new mail
//! reaches the selected mailbox; STATUS RECENT counts what the next
//! claim would hand out (`Store::recent_mark`).
//!
//! QRESYNC (RFC 7162 §3.2): SELECT with the client's cached MODSEQ sends
//! `VANISHED (EARLIER)` from `Store::vanished_since` and the flags
//! changed since; once enabled, removals are `VANISHED` rather than
//! EXPUNGE, and UID FETCH VANISHED is answered before `fetch` runs.

mod auth;
mod fetch;
mod flags;
mod mailboxes;
mod search;
mod selected;
mod sort;
mod thread;
mod view;

use std::net::SocketAddr;

use postern_imap_proto::cmd::Request;
use postern_imap_proto::{Event, Options, Server, Tag};
use postern_store::{Account, Change, MailboxId};
use postern_types::TlsInfo;
use tokio::sync::broadcast;

use crate::conn::SessionFactory;
use crate::driver::{Control, Session};
use crate::mail::Mail;

/// Creates IMAP sessions.
#[derive(Debug, Clone)]
pub struct ImapFactory {
    hostname: String,
    mail: Mail,
}

impl ImapFactory {
    pub fn new(hostname: String, mail: Mail) -> Self {
        Self { hostname, mail }
    }
}

impl SessionFactory for ImapFactory {
    type Session = ImapSession;

    fn protocol(&self, tls: Option<TlsInfo>, starttls_offered: bool) -> Server {
        let opts = Options {
            hostname: self.hostname.clone(),
            tls_active: tls.is_some(),
            starttls_offered,
            ..Options::default()
        };
        match tls {
            Some(info) => Server::new(opts).with_tls_info(info),
            None => Server::new(opts),
        }
    }

    fn session(&self, peer: SocketAddr) -> ImapSession {
        ImapSession {
            peer,
            mail: self.mail.clone(),
            account: None,
            sasl: None,
            selected: None,
            idling: false,
            fetch_job: None,
            pace: Pace::default(),
        }
    }

    fn busy_line(&self) -> &'static [u8] {
        // RFC 9051 §7.1.5: BYE as the greeting refuses the connection.
        b"* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n"
    }
}

/// One IMAP session.
#[derive(Debug)]
pub struct ImapSession {
    peer: SocketAddr,
    mail: Mail,
    /// The logged-in account.
    account: Option<Account>,
    /// A SASL exchange waiting for the client's next line.
    sasl: Option<auth::Sasl>,
    /// The selected mailbox (RFC 9051 §3.3).
    selected: Option<selected::Selected>,
    /// IDLE is running: store changes are reported as they happen.
    idling: bool,
    /// A FETCH answered in pieces (see `fetch::FetchJob`).
    fetch_job: Option<fetch::FetchJob>,
    pace: Pace,
}

/// Commands per second: a client over the limit is slowed down, not cut
/// off (a synchronizer's burst of small commands is legitimate).
#[derive(Debug)]
struct Pace {
    window: tokio::time::Instant,
    count: u32,
}

/// Commands a session may issue per second before it waits; it bounds
/// what one session can make the store do (Dovecot has no such limit; mox
/// none either: this is ours). A session answers one command at a time,
/// so it can never use more than one core; the limit only has to stop a
/// tight loop of cheap commands. It was 1,000, and a client pipelining
/// `FETCH n BODY.PEEK[]` of small messages on loopback hit it (8 sessions
/// were held at exactly 8,000 messages/s in the benchmark): a synchronizer
/// on a LAN would too.
const MAX_COMMANDS_PER_SECOND: u32 = 5000;

impl Default for Pace {
    fn default() -> Self {
        Self {
            window: tokio::time::Instant::now(),
            count: 0,
        }
    }
}

impl Pace {
    /// Counts a command; sleeps out the second if it is one too many.
    async fn tick(&mut self) {
        let now = tokio::time::Instant::now();
        if now >= self.window + std::time::Duration::from_secs(1) {
            self.window = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count > MAX_COMMANDS_PER_SECOND {
            tokio::time::sleep_until(self.window + std::time::Duration::from_secs(1)).await;
            self.window = tokio::time::Instant::now();
            self.count = 1;
        }
    }
}

/// How often an idling session checks its mailbox for changes made by
/// another process: a one-row read, and a full re-read only on change.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// The answer to a failed store call: the details go to the log.
const STORE_TROUBLE: &str = "Server error, try again later";

impl Session for ImapSession {
    type Proto = Server;

    async fn handle(&mut self, imap: &mut Server, event: Event) -> Control {
        self.pace.tick().await;
        match event {
            Event::StartTls { tag } => {
                imap.accept_starttls(&tag);
                return Control::StartTls;
            }
            // The core queued the OK; the driver flushes it in clear and
            // deflates from there on (RFC 4978 §3).
            Event::Compress { .. } => return Control::Compress,
            Event::Login {
                tag,
                username,
                password,
            } => self.login(imap, &tag, username, password).await,
            Event::Authenticate {
                tag,
                mechanism,
                initial_response,
            } => {
                self.authenticate(imap, &tag, &mechanism, initial_response)
                    .await
            }
            Event::SaslResponse { tag, response } => self.sasl_step(imap, &tag, response).await,
            Event::Request { tag, request } => self.request(imap, &tag, request).await,
            Event::IdleDone { tag } => {
                self.idling = false;
                self.report(imap, true).await;
                imap.tagged_ok(&tag, None, "IDLE terminated");
            }
            Event::Command { tag, name, .. } => {
                imap.tagged_bad(&tag, None, &format!("Unknown command {name}"));
            }
            _ => {}
        }
        Control::Continue
    }

    /// In IDLE with a mailbox selected: until a change concerns it, or
    /// the poll interval passed (changes made by another process, such as
    /// `postern deliver`, are not broadcast here).
    async fn wait(&mut self) {
        let Some(sel) = self.selected.as_mut().filter(|_| self.idling) else {
            return std::future::pending().await;
        };
        let poll = tokio::time::sleep(IDLE_POLL);
        tokio::pin!(poll);
        loop {
            tokio::select! {
                () = &mut poll => {
                    sel.poll_due = true;
                    return;
                }
                change = sel.changes.recv() => match change {
                    Ok(change) if concerns(&change, sel.mailbox.id) => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                },
            }
        }
        sel.dirty = true;
    }

    async fn wake(&mut self, imap: &mut Server) {
        self.poll_mailbox().await;
        self.report(imap, true).await;
    }

    fn busy(&self) -> bool {
        self.fetch_job.is_some()
    }

    async fn resume(&mut self, imap: &mut Server) {
        self.fetch_some(imap).await;
    }
}

/// The CONDSTORE-enabling commands (RFC 7162 §3.1).
fn enables_condstore(request: &Request) -> bool {
    use postern_imap_proto::cmd::{FetchAttr, SearchKey, StatusItem};
    fn modseq_key(key: &SearchKey) -> bool {
        match key {
            SearchKey::ModSeq(_) => true,
            SearchKey::And(keys) => keys.iter().any(modseq_key),
            SearchKey::Or(a, b) => modseq_key(a) || modseq_key(b),
            SearchKey::Not(k) => modseq_key(k),
            _ => false,
        }
    }
    match request {
        Request::Select { condstore, .. } => *condstore,
        Request::Fetch {
            attrs,
            changed_since,
            ..
        } => changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq),
        Request::Store {
            unchanged_since, ..
        } => unchanged_since.is_some(),
        Request::Search { key, .. } => modseq_key(key),
        Request::Status { items, .. } => items.contains(&StatusItem::HighestModSeq),
        _ => false,
    }
}

/// Whether a change is about `mailbox`.
fn concerns(change: &Change, mailbox: MailboxId) -> bool {
    match change {
        Change::Appended { mailbox: m, .. }
        | Change::FlagsChanged { mailbox: m, .. }
        | Change::Expunged { mailbox: m, .. }
        | Change::MailboxDeleted { mailbox: m } => *m == mailbox,
        _ => false,
    }
}

impl ImapSession {
    /// The commands of the authenticated and selected states.
    ///
    /// Changes seen since the last command are reported first, EXPUNGEs
    /// only before commands that do not name messages by sequence number
    /// (RFC 9051 §7.5.1), so the numbers the client sent keep meaning
    /// what it meant.
    async fn request(&mut self, imap: &mut Server, tag: &Tag, request: Request) {
        let by_number = matches!(
            request,
            Request::Fetch { uid: false, .. }
                | Request::Store { uid: false, .. }
                | Request::Search { uid: false, .. }
                | Request::Sort { uid: false, .. }
                | Request::Thread { uid: false, .. }
                | Request::Copy { uid: false, .. }
                | Request::Move { uid: false, .. }
        );
        if enables_condstore(&request) {
            imap.enable_condstore();
        }
        if !matches!(request, Request::Select { .. }) {
            self.report(imap, !by_number).await;
        }
        match request {
            Request::Noop => imap.tagged_ok(tag, None, "NOOP completed"),
            Request::Idle => {
                self.idling = true;
                imap.idle(tag);
            }
            Request::Select {
                mailbox,
                readonly,
                condstore,
                qresync,
            } => {
                self.select(imap, tag, &mailbox, readonly, condstore, qresync)
                    .await
            }
            Request::Create { name, special_use } => {
                self.create(imap, tag, &name, &special_use).await
            }
            Request::Delete(name) => self.delete(imap, tag, &name).await,
            Request::Rename { from, to } => self.rename(imap, tag, &from, &to).await,
            Request::Subscribe(name) => self.subscribe(imap, tag, &name, true).await,
            Request::Unsubscribe(name) => self.subscribe(imap, tag, &name, false).await,
            Request::List(list) => self.list(imap, tag, &list).await,
            Request::Status { name, items } => self.status(imap, tag, &name, &items).await,
            Request::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                self.append(imap, tag, &mailbox, &flags, date, message)
                    .await
            }
            Request::GetQuota(root) => self.quota(imap, tag, Some(&root), None).await,
            Request::GetQuotaRoot(name) => self.quota(imap, tag, None, Some(&name)).await,
            Request::SetQuota => {
                imap.tagged_no(tag, Some("NOPERM"), "Quotas are set by the administrator")
            }
            other => self.selected_request(imap, tag, other).await,
        }
    }

    /// The commands valid only with a mailbox selected (RFC 9051 §6.4).
    async fn selected_request(&mut self, imap: &mut Server, tag: &Tag, request: Request) {
        if self.selected.is_none() {
            return imap.tagged_bad(tag, None, "No mailbox selected");
        }
        match request {
            Request::Check => imap.tagged_ok(tag, None, "CHECK completed"),
            Request::Close => self.close(imap, tag, true).await,
            Request::Unselect => self.close(imap, tag, false).await,
            Request::Expunge { uids } => self.expunge(imap, tag, uids.as_ref()).await,
            Request::Search { uid, ret, key } => self.search(imap, tag, uid, ret, &key).await,
            Request::Sort { uid, criteria, key } => {
                self.sort(imap, tag, uid, &criteria, &key).await
            }
            Request::Thread {
                uid,
                algorithm,
                key,
            } => self.thread(imap, tag, uid, algorithm, &key).await,
            Request::Fetch {
                uid,
                set,
                attrs,
                changed_since,
                vanished,
            } => {
                // RFC 7162 §3.2.6: VANISHED (EARLIER) before any FETCH.
                if let Some(since) = changed_since.filter(|_| vanished) {
                    if !self.vanished_earlier(imap, tag, &set, since).await {
                        return;
                    }
                }
                self.fetch(imap, tag, uid, &set, &attrs, changed_since)
                    .await
            }
            Request::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                let store = selected::StoreArgs {
                    uid,
                    set: &set,
                    mode,
                    silent,
                    flags: &flags,
                    unchanged_since,
                };
                self.store(imap, tag, store).await;
            }
            Request::Copy { uid, set, mailbox } => {
                self.copy(imap, tag, uid, &set, &mailbox, false).await
            }
            Request::Move { uid, set, mailbox } => {
                self.copy(imap, tag, uid, &set, &mailbox, true).await
            }
            _ => imap.tagged_bad(tag, None, "Command not supported"),
        }
    }

    /// The account, which every request has (the core sends requests only
    /// after `logged_in`).
    fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }
}
