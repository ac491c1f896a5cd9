//! LOGIN and AUTHENTICATE (RFC 9051 §6.2): PLAIN (RFC 4616, with or
//! without an initial response, RFC 4959), LOGIN, and EXTERNAL with the
//! verified TLS client certificate. Every failure gets the same answer.

use postern_imap_proto::{Server, Tag};
use postern_store::Account;
use postern_types::Secret;

use super::ImapSession;

/// Where a multi-step SASL exchange stands.
#[derive(Debug)]
pub(super) enum Sasl {
    /// PLAIN after an empty challenge.
    Plain,
    /// LOGIN: the next line is the base64 user name.
    LoginUser,
    /// LOGIN: the next line is the base64 password.
    LoginPassword { user: String },
    /// EXTERNAL: the next line is the authorization identity.
    External,
}

/// "Username:" and "Password:" in base64 (draft-murchison-sasl-login).
const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

impl ImapSession {
    pub(super) async fn login(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        user: String,
        password: Secret<String>,
    ) {
        let account = self
            .mail
            .login(self.peer.ip(), user, password.into_exposed())
            .await;
        self.logged_in(imap, tag, account);
    }

    pub(super) async fn authenticate(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        mechanism: &str,
        initial: Option<Secret<String>>,
    ) {
        match (mechanism, initial) {
            ("PLAIN", Some(message)) => self.plain(imap, tag, message.expose()).await,
            ("PLAIN", None) => self.challenge(imap, tag, Sasl::Plain, ""),
            ("LOGIN", Some(user)) => self.login_user(imap, tag, user.expose()),
            ("LOGIN", None) => self.challenge(imap, tag, Sasl::LoginUser, LOGIN_USERNAME),
            ("EXTERNAL", None) => self.challenge(imap, tag, Sasl::External, ""),
            ("EXTERNAL", Some(authzid)) => self.external(imap, tag, authzid.expose()).await,
            _ => imap.tagged_no(
                tag,
                None,
                "Unsupported SASL mechanism; CAPABILITY lists them",
            ),
        }
    }

    fn challenge(&mut self, imap: &mut Server, tag: &Tag, next: Sasl, challenge: &str) {
        self.sasl = Some(next);
        imap.sasl_challenge(tag, challenge);
    }

    pub(super) async fn sasl_step(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        response: Secret<String>,
    ) {
        let response = response.expose();
        match self.sasl.take() {
            Some(Sasl::Plain) => self.plain(imap, tag, response).await,
            Some(Sasl::LoginUser) => self.login_user(imap, tag, response),
            Some(Sasl::External) => self.external(imap, tag, response).await,
            Some(Sasl::LoginPassword { user }) => match postern_auth::sasl::login_step(response) {
                Ok(password) => {
                    let account = self
                        .mail
                        .login(self.peer.ip(), user, password.into_exposed())
                        .await;
                    self.logged_in(imap, tag, account);
                }
                Err(_) => malformed(imap, tag),
            },
            None => imap.tagged_bad(tag, None, "No SASL exchange in progress"),
        }
    }

    fn login_user(&mut self, imap: &mut Server, tag: &Tag, response: &str) {
        match postern_auth::sasl::login_step(response) {
            Ok(user) => {
                let user = user.into_exposed();
                self.challenge(imap, tag, Sasl::LoginPassword { user }, LOGIN_PASSWORD);
            }
            Err(_) => malformed(imap, tag),
        }
    }

    /// `authzid NUL authcid NUL password`; we act only as the
    /// authenticated identity itself.
    async fn plain(&mut self, imap: &mut Server, tag: &Tag, message: &str) {
        let account = match postern_auth::sasl::plain(message) {
            Ok(p) if p.authzid.is_empty() || p.authzid.eq_ignore_ascii_case(&p.authcid) => {
                self.mail
                    .login(self.peer.ip(), p.authcid, p.password.into_exposed())
                    .await
            }
            Ok(_) => None,
            Err(_) => return malformed(imap, tag),
        };
        self.logged_in(imap, tag, account);
    }

    async fn external(&mut self, imap: &mut Server, tag: &Tag, authzid: &str) {
        let authzid = match postern_auth::sasl::login_step(authzid) {
            Ok(a) => a.into_exposed(),
            Err(_) => return malformed(imap, tag),
        };
        let client = imap.tls_info().and_then(|t| t.client.clone());
        let account = self
            .mail
            .login_external(self.peer.ip(), client, authzid)
            .await;
        self.logged_in(imap, tag, account);
    }

    /// RFC 9051 §6.2.3: the new capabilities come with the OK.
    fn logged_in(&mut self, imap: &mut Server, tag: &Tag, account: Option<Account>) {
        let Some(account) = account else {
            return imap.tagged_no(tag, Some("AUTHENTICATIONFAILED"), "Authentication failed");
        };
        tracing::info!(user = %account.address, "IMAP login");
        self.account = Some(account);
        imap.logged_in();
        let code = format!("CAPABILITY {}", imap.capabilities());
        imap.tagged_ok(tag, Some(&code), "Logged in");
    }
}

fn malformed(imap: &mut Server, tag: &Tag) {
    imap.tagged_bad(tag, None, "Malformed SASL message");
}
