//! The real server, started in-process on loopback with a temporary data
//! directory and certificates from a throw-away CA.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postern_config::defaults::WELL_KNOWN;
use postern_config::Config;
use postern_server::Server;
use rustls::ClientConfig;
use tempfile::TempDir;

use crate::ca::{Issued, TestCa};

/// The host name the default test certificate is issued for.
pub const HOST: &str = "mail.example.test";

/// Tests stay on loopback: DNS goes to the discard port, where nothing
/// answers, and no MTA-STS policy is fetched. Incoming mail is not
/// authenticated either (each check would wait for that DNS); tests that
/// replace this section with a resolver of their own get the checks.
const DEFAULT_OUTBOUND: &str =
    "[outbound]\nresolver = \"127.0.0.1:9\"\nmta_sts = false\ndane = false\n[mail_auth]\nverify = false\n";

/// Builds a [`TestServer`].
#[derive(Debug)]
pub struct TestServerBuilder {
    ca: TestCa,
    certs: Vec<(String, Issued, bool)>,
    listener_lines: Vec<(String, String)>,
    limit_lines: Vec<(String, String)>,
    top: String,
    outbound: String,
    binds: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TestServerBuilder {
    /// Every well-known listener on `127.0.0.1:0`, one certificate "main"
    /// for [`HOST`], `localhost` and 127.0.0.1.
    pub fn new() -> Self {
        let ca = TestCa::default();
        let main = ca.server_cert(&[HOST, "localhost", "127.0.0.1"]);
        Self {
            ca,
            certs: vec![("main".into(), main, true)],
            listener_lines: Vec::new(),
            limit_lines: Vec::new(),
            top: String::new(),
            outbound: DEFAULT_OUTBOUND.to_owned(),
            binds: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The CA that signs the server's certificates.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// Adds a certificate.
    pub fn certificate(mut self, name: &str, issued: Issued) -> Self {
        self.certs.push((name.to_owned(), issued, false));
        self
    }

    /// Adds a TOML line to one listener's section (`client_certificates =
    /// "required"`, ...). Paths are relative to the data directory.
    pub fn listener_line(mut self, listener: &str, line: &str) -> Self {
        self.listener_lines
            .push((listener.to_owned(), line.to_owned()));
        self
    }

    /// Adds a line to one listener's `[listener.limits]` (`pre_auth_timeout
    /// = "1s"`). The test defaults are 8 connections per IP and a 5 s
    /// pre-auth timeout.
    pub fn limit(mut self, listener: &str, line: &str) -> Self {
        self.limit_lines
            .push((listener.to_owned(), line.to_owned()));
        self
    }

    /// Adds TOML at the top (e.g. a `[tls]` section).
    pub fn toml(mut self, text: &str) -> Self {
        self.top.push_str(text);
        self.top.push('\n');
        self
    }

    /// Replaces the `[outbound]` section (routes to a test peer, a CA file
    /// for verified TLS). The default points DNS at a port where nothing
    /// answers, so that no test ever asks a real resolver.
    pub fn outbound(mut self, section: &str) -> Self {
        section.clone_into(&mut self.outbound);
        self
    }

    /// Binds one listener to a fixed address instead of `127.0.0.1:0`: a
    /// peer that must come back on the same port after a restart, or whose
    /// port another server's configuration names before it starts (see
    /// [`unused_port`]).
    pub fn bind(mut self, listener: &str, addr: &str) -> Self {
        self.binds.push((listener.to_owned(), addr.to_owned()));
        self
    }

    /// Writes a file into the data directory before the server starts
    /// (a CA bundle that `[outbound] ca_file` names, say).
    pub fn file(mut self, name: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_owned(), contents.into()));
        self
    }

    fn render(&self) -> String {
        let mut t = format!(
            "[server]\nhostname = \"{HOST}\"\ndomains = [\"example.test\"]\nshutdown_grace = \"2s\"\n{}\n{}\n",
            self.top, self.outbound
        );
        for (name, _, default) in &self.certs {
            let _ = write!(
                t,
                "[[certificate]]\nname = \"{name}\"\ncert = \"certs/{name}.crt.pem\"\nkey = \"certs/{name}.key.pem\"\ndefault = {default}\n\n"
            );
        }
        for wk in WELL_KNOWN {
            let bind = self
                .binds
                .iter()
                .rev()
                .find(|(l, _)| l == wk.name)
                .map_or("127.0.0.1:0", |(_, a)| a.as_str());
            let _ = write!(
                t,
                "[[listener]]\nname = \"{}\"\nprotocol = \"{}\"\nbind = \"{bind}\"\ntls = \"{}\"\n",
                wk.name, wk.service, wk.tls
            );
            if wk.name == "http" {
                t.push_str("redirect_https_port = 8443\n");
            }
            for (_, line) in self.listener_lines.iter().filter(|(l, _)| l == wk.name) {
                t.push_str(line);
                t.push('\n');
            }
            t.push_str("[listener.limits]\n");
            let mut limits: Vec<&str> = self
                .limit_lines
                .iter()
                .filter(|(l, _)| l == wk.name)
                .map(|(_, line)| line.as_str())
                .collect();
            for default in ["max_connections_per_ip = 8", "pre_auth_timeout = \"5s\""] {
                let key = default.split(' ').next().unwrap_or_default();
                if !limits.iter().any(|l| l.starts_with(key)) {
                    limits.push(default);
                }
            }
            for line in limits {
                t.push_str(line);
                t.push('\n');
            }
            t.push('\n');
        }
        t
    }

    /// Writes the data directory and starts the server.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("certs")).expect("certs dir");
        for (name, issued, _) in &self.certs {
            write_cert(dir.path(), name, issued);
        }
        std::fs::write(dir.path().join("ca.pem"), self.ca.root_pem()).expect("ca.pem");
        for (name, contents) in &self.files {
            std::fs::write(dir.path().join(name), contents).expect("extra file");
        }
        let path = dir.path().join("postern.toml");
        std::fs::write(&path, self.render()).expect("postern.toml");
        TestServer {
            server: Some(boot(dir.path()).await),
            dir,
            ca: self.ca,
        }
    }
}

/// Loads `DIR/postern.toml` and starts the server it describes.
async fn boot(dir: &Path) -> Server {
    let config =
        Config::load(&dir.join("postern.toml")).unwrap_or_else(|e| panic!("test config: {e}"));
    Server::start(config)
        .await
        .unwrap_or_else(|e| panic!("server start: {e}"))
}

/// A loopback port nothing listens on right now: bound, read, released.
/// Another process could take it in between; on a test machine that is
/// rare enough, and the server's start would then fail loudly.
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Writes `certs/NAME.crt.pem` and `certs/NAME.key.pem`, each atomically
/// (what `postern cert import` does too).
pub fn write_cert(dir: &Path, name: &str, issued: &Issued) {
    let certs = dir.join("certs");
    for (file, body) in [
        (format!("{name}.key.pem"), &issued.key_pem),
        (format!("{name}.crt.pem"), &issued.cert_pem),
    ] {
        let tmp = certs.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, body).expect("write cert");
        std::fs::rename(&tmp, certs.join(file)).expect("rename cert");
    }
}

/// A running test server.
#[derive(Debug)]
pub struct TestServer {
    server: Option<Server>,
    dir: TempDir,
    pub ca: TestCa,
}

impl TestServer {
    /// The default server.
    pub async fn start() -> Self {
        TestServerBuilder::new().start().await
    }

    /// The server itself.
    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    /// A listener's address.
    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.server()
            .addr(listener)
            .unwrap_or_else(|| panic!("no listener {listener}"))
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A certificate file of the data directory.
    pub fn cert_path(&self, name: &str) -> PathBuf {
        self.dir
            .path()
            .join("certs")
            .join(format!("{name}.crt.pem"))
    }

    /// Adds the domain of `address` (if new) and an account with this
    /// password, as `postern user add` does.
    pub fn add_user(&self, address: &str, password: &str) -> postern_store::Account {
        let store = self.server().store();
        let domain = address
            .rsplit('@')
            .next()
            .expect("an address with a domain");
        if !store
            .domains()
            .expect("domains")
            .iter()
            .any(|d| d == domain)
        {
            store.add_domain(domain).expect("add domain");
        }
        let hash = postern_auth::hash_password(password).expect("a strong test password");
        store.add_account(address, &hash).expect("add account")
    }

    /// Delivers a message to an account's INBOX, durably, as `postern
    /// deliver` does; returns its UID.
    pub fn deliver(&self, address: &str, raw: &[u8]) -> u32 {
        let store = self.server().store();
        let accounts = store.resolve_recipient(address).expect("resolve");
        assert!(!accounts.is_empty(), "no recipient {address}");
        store
            .deliver(&accounts, raw, 1_700_000_000)
            .expect("deliver")[0]
            .1
             .0
    }

    /// The messages in an account's INBOX, oldest first, as stored.
    pub fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        let store = self.server().store();
        let account = store
            .account(address)
            .expect("account lookup")
            .unwrap_or_else(|| panic!("no account {address}"));
        let inbox = store
            .mailbox(account.id, "INBOX")
            .expect("mailbox lookup")
            .expect("every account has an INBOX");
        store
            .messages(inbox.id)
            .expect("messages")
            .iter()
            .map(|m| store.read_message(inbox.id, m.uid).expect("read message"))
            .collect()
    }

    /// A client trusting the test CA.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        self.ca.client_config(alpn)
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the server gracefully but keeps its data directory, for
    /// [`TestServer::resume`]. Until then, [`TestServer::server`] panics.
    pub async fn halt(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    /// Starts the server again on the same data directory and
    /// configuration, as a restart of the process would (listeners bound
    /// to port 0 get new ports).
    pub async fn resume(&mut self) {
        assert!(self.server.is_none(), "the server is still running");
        self.server = Some(boot(self.dir.path()).await);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            s.shutdown_token().cancel();
        }
    }
}
