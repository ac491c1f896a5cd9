//! LOGIN and AUTHENTICATE (RFC 9051 §6.2): PLAIN (RFC 4616, with or
//! without an initial response, RFC 4959), LOGIN, and EXTERNAL with the
//! verified TLS client certificate. Every failure gets the same answer.

use postern_imap_proto::{Server, Tag};
use postern_store::Account;
use postern_types::Secret;

use super::ImapSession;
use crate::session::sasl::{Exchange, Mechanism, Step};

/// A SASL exchange waiting for the client's next line.
#[derive(Debug, Default)]
pub(super) struct Sasl(Exchange);

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
        let Some(mechanism) = Mechanism::named(mechanism) else {
            return imap.tagged_no(
                tag,
                None,
                "Unsupported SASL mechanism; CAPABILITY lists them",
            );
        };
        let mut exchange = Exchange::default();
        let step = exchange.start_encoded(mechanism, initial.as_ref().map(|i| i.expose().as_str()));
        self.sasl_next(imap, tag, exchange, step).await;
    }

    pub(super) async fn sasl_step(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        response: Secret<String>,
    ) {
        let Some(Sasl(mut exchange)) = self.sasl.take() else {
            return imap.tagged_bad(tag, None, "No SASL exchange in progress");
        };
        let step = exchange.respond_encoded(response.expose());
        self.sasl_next(imap, tag, exchange, step).await;
    }

    /// Acts on what the exchange said: ask again, or check credentials.
    async fn sasl_next(&mut self, imap: &mut Server, tag: &Tag, exchange: Exchange, step: Step) {
        let ip = self.peer.ip();
        let account = match step {
            Step::Challenge(challenge) => {
                self.sasl = Some(Sasl(exchange));
                return imap.sasl_challenge(tag, &postern_auth::sasl::encode(challenge));
            }
            Step::Malformed(_) => return imap.tagged_bad(tag, None, "Malformed SASL message"),
            Step::Password { user, password } => {
                self.mail.login(ip, user, password.into_exposed()).await
            }
            // EXTERNAL: the verified client certificate names the account.
            Step::External { authzid } => {
                let client = imap.tls_info().and_then(|t| t.client.clone());
                self.mail.login_external(ip, client, authzid).await
            }
            Step::Refused => None,
        };
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
