//! Fake peers on 127.0.0.1 for the outbound tests: an SMTP server whose
//! replies each test scripts, and a DNS responder that can set the AD bit.
#![allow(dead_code)]

pub mod ca;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use ca::{Issued, TestCa};
use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use postern_outbound::Settings;
use postern_store::{Envelope, Incoming, Notify, RemoteRecipient, SqliteStore, Store};
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

/// Decides the reply to RCPT: (recipient, connection number from 0).
pub type RcptScript = Arc<dyn Fn(&str, usize) -> String + Send + Sync>;

/// How the fake SMTP server behaves.
#[derive(Clone)]
pub struct PeerOptions {
    pub tls: Option<Arc<ServerConfig>>,
    pub requiretls: bool,
    pub dsn: bool,
    pub rcpt: RcptScript,
    /// TLS from the first byte (port 465 style).
    pub implicit_tls: bool,
    /// The AUTH PLAIN token (base64) accepted, offered under TLS.
    pub auth: Option<String>,
    /// On the first connection, take the message and never answer it
    /// (a crash of ours, or of the network, at the worst moment).
    pub stall_first_message: bool,
    /// Offer PIPELINING (RFC 2920).
    pub pipelining: bool,
}

impl Default for PeerOptions {
    fn default() -> Self {
        Self {
            tls: None,
            requiretls: false,
            dsn: true,
            rcpt: Arc::new(|_, _| "250 2.1.5 ok".to_owned()),
            implicit_tls: false,
            auth: None,
            stall_first_message: false,
            pipelining: true,
        }
    }
}

/// What one connection saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub commands: Vec<String>,
    /// Whether TLS was up when MAIL came.
    pub mail_under_tls: bool,
    pub messages: Vec<Vec<u8>>,
    /// RCPT was already waiting when MAIL was read (PIPELINING used).
    pub pipelined: bool,
}

/// A running fake SMTP server.
pub struct Peer {
    pub addr: SocketAddr,
    pub sessions: Arc<Mutex<Vec<Seen>>>,
}

impl Peer {
    pub async fn start(opts: PeerOptions) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), opts)
    }

    pub fn start_on(listener: TcpListener, opts: PeerOptions) -> Self {
        let addr = listener.local_addr().unwrap();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let log = sessions.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                let (opts, log) = (opts.clone(), log.clone());
                let idx = {
                    let mut l = log.lock().unwrap();
                    l.push(Seen::default());
                    l.len() - 1
                };
                let conn_no = n;
                n += 1;
                tokio::spawn(async move {
                    let mut st = State {
                        opts: opts.clone(),
                        log,
                        idx,
                        conn_no,
                        tls: false,
                        greeted: false,
                    };
                    if opts.implicit_tls {
                        let acceptor = tokio_rustls::TlsAcceptor::from(opts.tls.clone().unwrap());
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            st.tls = true;
                            st.session(tls).await;
                        }
                        return;
                    }
                    if let Some(tcp) = st.session(tcp).await {
                        let acceptor = tokio_rustls::TlsAcceptor::from(opts.tls.clone().unwrap());
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            st.tls = true;
                            st.session(tls).await;
                        }
                    }
                });
            }
        });
        Self { addr, sessions }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.sessions.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.seen().into_iter().flat_map(|s| s.messages).collect()
    }

    pub fn saw_mail(&self) -> bool {
        self.seen()
            .iter()
            .any(|s| s.commands.iter().any(|c| c.starts_with("MAIL")))
    }
}

struct State {
    opts: PeerOptions,
    log: Arc<Mutex<Vec<Seen>>>,
    idx: usize,
    conn_no: usize,
    tls: bool,
    greeted: bool,
}

impl State {
    fn record(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.log.lock().unwrap()[self.idx]);
    }

    /// Serves until QUIT or STARTTLS; returns the stream for the handshake
    /// after a STARTTLS.
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: S) -> Option<S> {
        let mut io = BufReader::new(io);
        if !self.greeted {
            self.greeted = true;
            io.get_mut()
                .write_all(b"220 peer.test ESMTP\r\n")
                .await
                .ok()?;
        }
        loop {
            let mut line = String::new();
            if io.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let cmd = line.trim_end().to_owned();
            self.record(|s| s.commands.push(cmd.clone()));
            let upper = cmd.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") {
                self.ehlo()
            } else if upper.starts_with("AUTH PLAIN ") {
                if self.opts.auth.as_deref() == cmd.get(11..) {
                    "235 2.7.0 Authentication successful".to_owned()
                } else {
                    "535 5.7.8 Authentication credentials invalid".to_owned()
                }
            } else if upper == "STARTTLS" && self.opts.tls.is_some() && !self.tls {
                io.get_mut()
                    .write_all(b"220 2.0.0 go ahead\r\n")
                    .await
                    .ok()?;
                return Some(io.into_inner());
            } else if upper.starts_with("MAIL") {
                let tls = self.tls;
                let pipelined = io.buffer().starts_with(b"RCPT");
                self.record(|s| {
                    s.mail_under_tls = tls;
                    s.pipelined = pipelined;
                });
                "250 2.1.0 ok".to_owned()
            } else if upper.starts_with("RCPT") {
                let addr = cmd.split(['<', '>']).nth(1).unwrap_or_default().to_owned();
                (self.opts.rcpt)(&addr, self.conn_no)
            } else if upper == "DATA" {
                io.get_mut().write_all(b"354 go on\r\n").await.ok()?;
                let msg = read_data(&mut io).await?;
                self.record(|s| s.messages.push(msg));
                if self.opts.stall_first_message && self.conn_no == 0 {
                    std::future::pending::<()>().await;
                }
                "250 2.0.0 queued as 1".to_owned()
            } else if upper.starts_with("BDAT") {
                let n: usize = upper.split(' ').nth(1)?.parse().ok()?;
                let mut buf = vec![0; n];
                io.read_exact(&mut buf).await.ok()?;
                self.record(|s| s.messages.push(buf));
                "250 2.0.0 queued".to_owned()
            } else if upper == "QUIT" {
                io.get_mut().write_all(b"221 bye\r\n").await.ok()?;
                return None;
            } else if upper == "RSET" || upper == "NOOP" || upper.starts_with("HELO") {
                "250 ok".to_owned()
            } else {
                "502 5.5.1 unknown".to_owned()
            };
            io.get_mut()
                .write_all(format!("{reply}\r\n").as_bytes())
                .await
                .ok()?;
        }
    }

    fn ehlo(&self) -> String {
        let mut lines = vec![
            "peer.test".to_owned(),
            "SIZE 10000000".into(),
            "8BITMIME".into(),
        ];
        if self.opts.pipelining {
            lines.push("PIPELINING".into());
        }
        if self.opts.dsn {
            lines.push("DSN".into());
        }
        if self.opts.tls.is_some() && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.opts.auth.is_some() && self.tls {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        if self.opts.requiretls && self.tls {
            lines.push("REQUIRETLS".into());
        }
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\r\n")
    }
}

/// Reads DATA up to CRLF.CRLF, undoing the dot-stuffing.
async fn read_data<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Option<Vec<u8>> {
    let mut msg = Vec::new();
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" {
            return Some(msg);
        }
        let l = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        msg.extend_from_slice(l);
    }
}

/// A TLS server configuration with this certificate.
pub fn server_tls(cert: &Issued) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert_der()], cert.key_der())
        .unwrap();
    Arc::new(config)
}

/// A fake DNS resolver: fixed answers, AD bit as told.
pub struct FakeDns {
    pub addr: SocketAddr,
}

#[derive(Default, Clone)]
pub struct Zone {
    pub records: HashMap<(String, RecordType), Vec<RData>>,
    /// Names whose answers carry AD=1.
    pub secure: Vec<String>,
}

impl Zone {
    pub fn add(&mut self, name: &str, data: RData) -> &mut Self {
        let key = (name.to_ascii_lowercase(), data.record_type());
        self.records.entry(key).or_default().push(data);
        self
    }
}

impl FakeDns {
    pub async fn start(zone: Zone) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries.first().cloned() else {
                    continue;
                };
                let name = query
                    .name()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                let mut resp = Message::response(q.metadata.id, OpCode::Query);
                resp.metadata.recursion_desired = true;
                resp.metadata.recursion_available = true;
                resp.add_query(query.clone());
                let exists = zone.records.keys().any(|(n, _)| *n == name);
                if !exists {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                }
                for data in zone
                    .records
                    .get(&(name.clone(), query.query_type()))
                    .into_iter()
                    .flatten()
                {
                    resp.add_answer(Record::from_rdata(
                        Name::from_ascii(format!("{name}.")).unwrap(),
                        300,
                        data.clone(),
                    ));
                }
                resp.metadata.authentic_data = zone.secure.contains(&name);
                if let Ok(bytes) = resp.to_vec() {
                    let _ = sock.send_to(&bytes, from).await;
                }
            }
        });
        Self { addr }
    }
}

/// Settings for tests: nothing leaves loopback.
pub fn settings(ca: Option<&TestCa>) -> Settings {
    let mut s = Settings::new("mx.postern.test");
    // A closed port: no DNS traffic leaves the machine unless a test
    // starts a fake resolver.
    s.resolver = Some("127.0.0.1:9".parse().unwrap());
    s.system_roots = false;
    s.extra_roots = ca.map(|c| vec![c.root_der()]).unwrap_or_default();
    s.mta_sts = false;
    s.dane = false;
    s.first_retry = Duration::from_secs(1);
    s.max_backoff = Duration::from_secs(1);
    s.connect_timeout = Duration::from_secs(5);
    s
}

/// A store in `dir` with the local domain example.org and alice in it.
pub fn store(dir: &Path) -> Arc<SqliteStore> {
    let store = SqliteStore::open(dir).unwrap();
    if store.domains().unwrap().is_empty() {
        store.add_domain("example.org").unwrap();
        store.add_account("alice@example.org", "$hash$").unwrap();
    }
    Arc::new(store)
}

pub fn envelope(from: &str) -> Envelope {
    Envelope {
        mail_from: from.to_owned(),
        ..Envelope::default()
    }
}

/// Queues a message from alice to these remote recipients.
pub fn queue(
    store: &dyn Store,
    env: &Envelope,
    to: &[&str],
    body: &[u8],
) -> postern_store::QueueId {
    let remote: Vec<RemoteRecipient> = to
        .iter()
        .map(|a| RemoteRecipient {
            address: (*a).to_owned(),
            notify: Notify::default(),
            orcpt: None,
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let msg = Incoming {
        raw: body,
        internal_date: now,
        local: &[],
        envelope: env,
        remote: &remote,
    };
    store.accept(&msg).unwrap().queued.unwrap()
}

pub const BODY: &[u8] = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nHi Bob,\r\n.leading dot\r\n";

/// Polls until `f` holds, for at most `secs` seconds.
pub async fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Reads alice's INBOX.
pub fn inbox(store: &dyn Store) -> Vec<Vec<u8>> {
    let alice = store.account("alice@example.org").unwrap().unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap();
    store
        .messages(inbox.id)
        .unwrap()
        .iter()
        .map(|m| store.read_message(inbox.id, m.uid).unwrap())
        .collect()
}
