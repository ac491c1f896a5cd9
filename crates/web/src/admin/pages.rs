//! `GET /admin` and its pages. Each reads the store once on a blocking
//! thread (the certificates page asks the server instead) and renders one
//! askama template, which escapes every value. The pages with forms are
//! also drawn by [`show`] after a refused change, with its reason.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_store::{Account, Alias, QueueItem, RecipientState, Store, StoreResult};

use super::edit::{Action, Back, PageQuery};
use super::{Admin, CertificateReport, TlsPolicyReport, USER_PATH};
use crate::mail::list::query_encode;
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

/// The signed-in administrator, around every admin page, with the
/// notice of a change just made or the reason one was refused.
pub(crate) struct AdminFrame {
    pub address: String,
    pub csrf: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
}

impl AdminFrame {
    pub(crate) fn new(session: &SessionView) -> Self {
        Self {
            address: session.address.clone(),
            csrf: session.csrf.to_hex(),
            notice: None,
            error: None,
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
    /// Its removal's confirmation page.
    pub remove_href: String,
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
    /// The user's own page.
    pub href: String,
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
#[template(path = "admin_user.html")]
struct UserPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    user: UserRow,
    /// The administrator's own account: no lock-out controls.
    own: bool,
    /// The quota as the form shows it; empty for none.
    quota: String,
    remove_href: String,
}

/// A confirmation page before something is lost: one form with one
/// field and a way back.
pub struct Confirm {
    pub title: String,
    pub details: Vec<String>,
    /// Where the form posts.
    pub action: &'static str,
    pub field: &'static str,
    pub value: String,
    pub button: String,
    pub cancel: String,
}

#[derive(Template)]
#[template(path = "admin_confirm.html")]
struct ConfirmPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    page: Confirm,
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
    /// The item's first recipient: its row carries the item's buttons.
    pub first: bool,
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
    /// For the request form; empty when the server cannot make keys.
    key_types: Vec<String>,
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

/// The notice a `?done=` code names, if any.
fn notice(query: Result<Query<PageQuery>, QueryRejection>) -> Option<&'static str> {
    query.ok().and_then(|q| Action::notice(&q.done))
}

/// `GET /admin/domains`.
pub async fn domains(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    show(
        &state,
        &session,
        &Back::Domains,
        StatusCode::OK,
        notice(query),
        None,
    )
    .await
}

/// `GET /admin/users`.
pub async fn users(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    show(
        &state,
        &session,
        &Back::Users,
        StatusCode::OK,
        notice(query),
        None,
    )
    .await
}

/// `GET /admin/users/edit?address=`: one user, with every form.
pub async fn user(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let back = Back::User(query.address);
    let done = Action::notice(&query.done);
    show(&state, &session, &back, StatusCode::OK, done, None).await
}

/// `GET /admin/aliases`.
pub async fn aliases(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    show(
        &state,
        &session,
        &Back::Aliases,
        StatusCode::OK,
        notice(query),
        None,
    )
    .await
}

/// `GET /admin/queue`: every recipient of every queued message, oldest
/// message first, at most [`QUEUE_ROWS`].
pub async fn queue(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    show(
        &state,
        &session,
        &Back::Queue,
        StatusCode::OK,
        notice(query),
        None,
    )
    .await
}

/// A page with forms, with a notice or an error above it, answered with
/// `status` (unless drawing it failed).
pub async fn show(
    state: &AppState,
    session: &SessionView,
    back: &Back,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let frame = AdminFrame {
        notice,
        error,
        ..AdminFrame::new(session)
    };
    let mut r = match back {
        Back::Domains => domains_page(state, frame).await,
        Back::Users => users_page(state, frame).await,
        Back::User(address) => user_page(state, session, frame, address).await,
        Back::Aliases => aliases_page(state, frame).await,
        Back::Queue => queue_page(state, frame).await,
        Back::Certificates => certificates_page(state, frame).await,
    };
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

/// A confirmation page.
pub fn confirm(state: &AppState, session: &SessionView, page: Confirm) -> Response {
    render(&ConfirmPage {
        hostname: &state.settings.hostname,
        frame: AdminFrame::new(session),
        page,
    })
}

async fn domains_page(state: &AppState, frame: AdminFrame) -> Response {
    match blocking(state, &frame.address, domain_rows).await {
        Ok(domains) => render(&DomainsPage {
            hostname: &state.settings.hostname,
            frame,
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
            remove_href: format!("/admin/domains/remove?domain={}", query_encode(&name)),
            name,
        })
        .collect())
}

async fn users_page(state: &AppState, frame: AdminFrame) -> Response {
    match blocking(state, &frame.address, |s| s.accounts()).await {
        Ok(accounts) => render(&UsersPage {
            hostname: &state.settings.hostname,
            frame,
            users: accounts.iter().map(user_row).collect(),
        }),
        Err(r) => r,
    }
}

fn user_row(a: &Account) -> UserRow {
    UserRow {
        address: a.address.clone(),
        href: format!("{USER_PATH}?address={}", query_encode(&a.address)),
        admin: a.admin,
        disabled: a.disabled,
        quota: match a.quota_bytes {
            0 => "none".into(),
            q => human_size(q),
        },
    }
}

/// One user's page; for an address with no account, the users page with
/// a 404.
async fn user_page(
    state: &AppState,
    session: &SessionView,
    mut frame: AdminFrame,
    address: &str,
) -> Response {
    let wanted = address.trim().to_owned();
    let found = match blocking(state, &frame.address, move |s| s.account(&wanted)).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(account) = found else {
        frame.error = Some(format!("There is no account {}.", address.trim()));
        let mut r = users_page(state, frame).await;
        if r.status() == StatusCode::OK {
            *r.status_mut() = StatusCode::NOT_FOUND;
        }
        return r;
    };
    render(&UserPage {
        hostname: &state.settings.hostname,
        frame,
        own: account.id == session.account,
        quota: quota_field(account.quota_bytes),
        remove_href: format!(
            "/admin/users/remove?address={}",
            query_encode(&account.address)
        ),
        user: user_row(&account),
    })
}

/// A quota in the largest unit that divides it, as the form takes it.
pub fn quota_field(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TB"), (30, "GB"), (20, "MB"), (10, "KB")];
    if bytes == 0 {
        return String::new();
    }
    UNITS
        .iter()
        .find(|(shift, _)| bytes.is_multiple_of(1u64 << shift))
        .map_or_else(
            || bytes.to_string(),
            |(shift, unit)| format!("{} {unit}", bytes >> shift),
        )
}

async fn aliases_page(state: &AppState, frame: AdminFrame) -> Response {
    match blocking(state, &frame.address, |s| s.aliases()).await {
        Ok(aliases) => render(&AliasesPage {
            hostname: &state.settings.hostname,
            frame,
            aliases,
        }),
        Err(r) => r,
    }
}

async fn queue_page(state: &AppState, frame: AdminFrame) -> Response {
    match blocking(state, &frame.address, |s| s.queue_list()).await {
        Ok(items) => {
            let mut rows: Vec<QueueRow> = items.iter().flat_map(queue_rows).collect();
            let truncated = rows.len() > QUEUE_ROWS;
            rows.truncate(QUEUE_ROWS);
            render(&QueuePage {
                hostname: &state.settings.hostname,
                frame,
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
    item.recipients
        .iter()
        .enumerate()
        .map(move |(i, r)| QueueRow {
            id: item.id.0,
            first: i == 0,
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
/// expiry first, the TLS policy, and the forms to request and import a
/// certificate.
pub async fn certificates(
    State(state): State<AppState>,
    Admin(session): Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    show(
        &state,
        &session,
        &Back::Certificates,
        StatusCode::OK,
        notice(query),
        None,
    )
    .await
}

async fn certificates_page(state: &AppState, frame: AdminFrame) -> Response {
    let tls = state.tls.clone();
    let found =
        tokio::task::spawn_blocking(move || (tls.certificates(), tls.policy(), tls.key_types()))
            .await;
    let (mut reports, policy, key_types) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "certificate report task failed");
            return crate::pages::internal_error(state);
        }
    };
    reports.sort_by(|a, b| (a.days_left, &a.name).cmp(&(b.days_left, &b.name)));
    render(&CertificatesPage {
        hostname: &state.settings.hostname,
        frame,
        certificates: reports.into_iter().map(certificate_row).collect(),
        policy,
        key_types,
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
    fn quotas_show_in_the_largest_whole_unit() {
        assert_eq!(quota_field(0), "");
        assert_eq!(quota_field(1000), "1000");
        assert_eq!(quota_field(2048), "2 KB");
        assert_eq!(quota_field(500 << 20), "500 MB");
        assert_eq!(quota_field(3 << 30), "3 GB");
        assert_eq!(quota_field(1536 << 20), "1536 MB");
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
                notice: None,
                error: None,
            },
            certificates: vec![certificate_row(hostile)],
            policy: TlsPolicyReport {
                versions: vec!["1.3".into()],
                suites: vec!["TLS13_AES_256_GCM_SHA384".into()],
            },
            key_types: vec!["ecdsa-p256".into()],
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
