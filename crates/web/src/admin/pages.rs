//! `GET /admin` and its pages. Each reads the store once on a blocking
//! thread (the certificates page asks the server instead) and renders one
//! askama template, which escapes every value.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use postern_store::{Account, Alias, QueueItem, RecipientState, Store, StoreResult};

use super::{Admin, CertificateReport, TlsPolicyReport};
use crate::mail::{blocking, format_time, human_size};
use crate::pages::render;
use crate::session::SessionView;
use crate::AppState;

/// Queue rows on one page: a queue that long is a problem to look at
/// with `postern queue list`, not something to render whole.
pub const QUEUE_ROWS: usize = 500;

/// A certificate this close to expiry is shown as a warning...
pub const WARN_DAYS: i64 = 30;
/// ...and this close (or expired) as a failure.
pub const BAD_DAYS: i64 = 7;

/// The signed-in administrator, around every admin page.
pub(crate) struct AdminFrame {
    pub address: String,
    pub csrf: String,
}

impl AdminFrame {
    fn new(session: &SessionView) -> Self {
        Self {
            address: session.address.clone(),
            csrf: session.csrf.to_hex(),
        }
    }
}

/// One line of the overview.
pub struct Count {
    pub label: &'static str,
    pub href: &'static str,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct OverviewPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    counts: Vec<Count>,
}

/// One domain with what uses it.
pub struct DomainRow {
    pub name: String,
    pub users: usize,
    pub aliases: usize,
}

#[derive(Template)]
#[template(path = "admin_domains.html")]
struct DomainsPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    domains: Vec<DomainRow>,
}

/// One account.
pub struct UserRow {
    pub address: String,
    pub admin: bool,
    pub disabled: bool,
    /// `none`, or the size.
    pub quota: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    users: Vec<UserRow>,
}

#[derive(Template)]
#[template(path = "admin_aliases.html")]
struct AliasesPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    aliases: Vec<Alias>,
}

/// One recipient of a queued message.
pub struct QueueRow {
    pub id: i64,
    pub recipient: String,
    /// The reverse-path; `<>` for the null sender (a bounce).
    pub sender: String,
    pub state: &'static str,
    pub attempts: u32,
    /// UTC, or `-` once the recipient is final.
    pub next_attempt: String,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "admin_queue.html")]
struct QueuePage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    rows: Vec<QueueRow>,
    truncated: bool,
}

/// One certificate, ready to show.
pub struct CertificateRow {
    pub name: String,
    pub subject: String,
    pub names: Vec<String>,
    pub issuer: String,
    pub not_after: String,
    pub days_left: i64,
    /// `ok`, `warn` or `bad`: the cell's CSS class.
    pub class: &'static str,
    pub listeners: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_certificates.html")]
struct CertificatesPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    certificates: Vec<CertificateRow>,
    policy: TlsPolicyReport,
}

/// `GET /admin`: what there is, with links.
pub async fn overview(State(state): State<AppState>, Admin(session): Admin) -> Response {
    let tls = state.tls.clone();
    let counts = blocking(&state, &session.address, move |store| {
        let mut counts = store_counts(store)?;
        counts.push(Count {
            label: "Certificates",
            href: "/admin/certificates",
            count: tls.certificates().len(),
        });
        Ok(counts)
    })
    .await;
    match counts {
        Ok(counts) => render(&OverviewPage {
            hostname: &state.settings.hostname,
            frame: AdminFrame::new(&session),
            counts,
        }),
        Err(r) => r,
    }
}

fn store_counts(store: &dyn Store) -> StoreResult<Vec<Count>> {
    let accounts = store.accounts()?;
    let admins = accounts.iter().filter(|a| a.admin).count();
    Ok(vec![
        Count {
            label: "Domains",
            href: "/admin/domains",
            count: store.domains()?.len(),
        },
        Count {
            label: "Users",
            href: "/admin/users",
            count: accounts.len(),
        },
        Count {
            label: "Administrators",
            href: "/admin/users",
            count: admins,
        },
        Count {
            label: "Aliases",
            href: "/admin/aliases",
            count: store.aliases()?.len(),
        },
        Count {
            label: "Queued messages",
            href: "/admin/queue",
            count: store.queue_list()?.len(),
        },
    ])
}

/// `GET /admin/domains`.
pub async fn domains(State(state): State<AppState>, Admin(session): Admin) -> Response {
    match blocking(&state, &session.address, domain_rows).await {
        Ok(domains) => render(&DomainsPage {
            hostname: &state.settings.hostname,
            frame: AdminFrame::new(&session),
            domains,
        }),
        Err(r) => r,
    }
}

fn domain_rows(store: &dyn Store) -> StoreResult<Vec<DomainRow>> {
    let (accounts, aliases) = (store.accounts()?, store.aliases()?);
    let in_domain = |address: &str, domain: &str| {
        address
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
    };
    Ok(store
        .domains()?
        .into_iter()
        .map(|name| DomainRow {
            users: accounts
                .iter()
                .filter(|a| in_domain(&a.address, &name))
                .count(),
            aliases: aliases
                .iter()
                .filter(|a| in_domain(&a.address, &name))
                .count(),
            name,
        })
        .collect())
}

/// `GET /admin/users`.
pub async fn users(State(state): State<AppState>, Admin(session): Admin) -> Response {
    match blocking(&state, &session.address, |s| s.accounts()).await {
        Ok(accounts) => render(&UsersPage {
            hostname: &state.settings.hostname,
            frame: AdminFrame::new(&session),
            users: accounts.iter().map(user_row).collect(),
        }),
        Err(r) => r,
    }
}

fn user_row(a: &Account) -> UserRow {
    UserRow {
        address: a.address.clone(),
        admin: a.admin,
        disabled: a.disabled,
        quota: match a.quota_bytes {
            0 => "none".into(),
            q => human_size(q),
        },
    }
}

/// `GET /admin/aliases`.
pub async fn aliases(State(state): State<AppState>, Admin(session): Admin) -> Response {
    match blocking(&state, &session.address, |s| s.aliases()).await {
        Ok(aliases) => render(&AliasesPage {
            hostname: &state.settings.hostname,
            frame: AdminFrame::new(&session),
            aliases,
        }),
        Err(r) => r,
    }
}

/// `GET /admin/queue`: every recipient of every queued message, oldest
/// message first, at most [`QUEUE_ROWS`].
pub async fn queue(State(state): State<AppState>, Admin(session): Admin) -> Response {
    match blocking(&state, &session.address, |s| s.queue_list()).await {
        Ok(items) => {
            let mut rows: Vec<QueueRow> = items.iter().flat_map(queue_rows).collect();
            let truncated = rows.len() > QUEUE_ROWS;
            rows.truncate(QUEUE_ROWS);
            render(&QueuePage {
                hostname: &state.settings.hostname,
                frame: AdminFrame::new(&session),
                rows,
                truncated,
            })
        }
        Err(r) => r,
    }
}

fn queue_rows(item: &QueueItem) -> impl Iterator<Item = QueueRow> + '_ {
    let sender = match item.envelope.mail_from.as_str() {
        "" => "<>".to_owned(),
        s => s.to_owned(),
    };
    item.recipients.iter().map(move |r| QueueRow {
        id: item.id.0,
        recipient: r.address.clone(),
        sender: sender.clone(),
        state: match r.state {
            RecipientState::Pending => "waiting",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        },
        attempts: r.attempts,
        next_attempt: match r.state {
            RecipientState::Pending => format_time(r.next_attempt),
            _ => "-".into(),
        },
        last_error: r.last_error.clone().unwrap_or_default(),
    })
}

/// `GET /admin/certificates`: what the server serves now, soonest
/// expiry first, and the TLS policy.
pub async fn certificates(State(state): State<AppState>, Admin(session): Admin) -> Response {
    let tls = state.tls.clone();
    let found = tokio::task::spawn_blocking(move || (tls.certificates(), tls.policy())).await;
    let (mut reports, policy) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "certificate report task failed");
            return crate::pages::internal_error(&state);
        }
    };
    reports.sort_by(|a, b| (a.days_left, &a.name).cmp(&(b.days_left, &b.name)));
    render(&CertificatesPage {
        hostname: &state.settings.hostname,
        frame: AdminFrame::new(&session),
        certificates: reports.into_iter().map(certificate_row).collect(),
        policy,
    })
}

fn certificate_row(c: CertificateReport) -> CertificateRow {
    CertificateRow {
        class: expiry_class(c.days_left),
        not_after: format_time(c.not_after_unix),
        name: c.name,
        subject: c.subject,
        names: c.names,
        issuer: c.issuer,
        days_left: c.days_left,
        listeners: c.listeners,
    }
}

/// The colour of a days-left figure.
pub fn expiry_class(days_left: i64) -> &'static str {
    match days_left {
        d if d <= BAD_DAYS => "bad",
        d if d <= WARN_DAYS => "warn",
        _ => "ok",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_colours_change_at_thirty_and_seven_days() {
        assert_eq!(expiry_class(365), "ok");
        assert_eq!(expiry_class(31), "ok");
        assert_eq!(expiry_class(30), "warn");
        assert_eq!(expiry_class(8), "warn");
        assert_eq!(expiry_class(7), "bad");
        assert_eq!(expiry_class(0), "bad");
        assert_eq!(expiry_class(-3), "bad", "expired");
    }

    #[test]
    fn certificate_values_are_escaped_and_coloured() {
        let hostile = CertificateReport {
            name: "<script>x</script>".into(),
            subject: "CN=a&b".into(),
            names: vec!["\"><img src=x>".into()],
            issuer: "CN=<i>".into(),
            not_after_unix: 1_700_000_000,
            days_left: 5,
            listeners: vec!["imaps".into(), "https".into()],
        };
        let page = CertificatesPage {
            hostname: "mail.example.test",
            frame: AdminFrame {
                address: "a@example.test".into(),
                csrf: "00".into(),
            },
            certificates: vec![certificate_row(hostile)],
            policy: TlsPolicyReport {
                versions: vec!["1.3".into()],
                suites: vec!["TLS13_AES_256_GCM_SHA384".into()],
            },
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(html.contains("&#60;script&#62;x"), "{html}");
        assert!(html.contains("<td class=\"num days bad\">5</td>"), "{html}");
        assert!(html.contains("2023-11-14 22:13"), "{html}");
        assert!(html.contains("imaps, https"), "{html}");
        assert!(html.contains("TLS 1.3"), "{html}");
    }
}
