//! Mail-client autoconfiguration: Thunderbird's autoconfig file and
//! Microsoft's autodiscover (POX) answer. Both name only TLS services:
//! implicit TLS first (RFC 8314 §4.1 prefers it), and submission with
//! STARTTLS as the one STARTTLS entry; plain-text ports never appear.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::settings::{Endpoint, MailService};
use crate::AppState;

/// `?emailaddress=` on the autoconfig URL (Thunderbird sends it; other
/// clients may not).
#[derive(Debug, Deserialize)]
pub struct AutoconfigQuery {
    emailaddress: Option<String>,
}

/// `GET /.well-known/autoconfig/mail/config-v1.1.xml` and
/// `GET /mail/config-v1.1.xml` (the URL Thunderbird tries on
/// `autoconfig.<domain>`).
pub async fn thunderbird(
    State(state): State<AppState>,
    Query(query): Query<AutoconfigQuery>,
) -> Response {
    let asked = query.emailaddress.as_deref().and_then(domain_of);
    let domain = match asked {
        Some(d) if state.is_local_domain(&d).await => d,
        _ => state.primary_domain(),
    };
    xml(thunderbird_xml(
        &state.settings.hostname,
        &domain,
        &state.settings.endpoints,
    ))
}

/// `POST /autodiscover/autodiscover.xml` (and the capitalised spelling
/// Outlook also uses). The request is read leniently: only its
/// `EMailAddress` matters, and it is echoed back as the login name only
/// when its domain is one of ours.
pub async fn autodiscover(State(state): State<AppState>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let mut login = None;
    if let Some(address) = element(&text, "EMailAddress").filter(|a| plausible_address(a)) {
        let local = match domain_of(address) {
            Some(d) => state.is_local_domain(&d).await,
            None => false,
        };
        if local {
            login = Some(address.to_ascii_lowercase());
        }
    }
    xml(autodiscover_xml(
        &state.settings.hostname,
        login.as_deref(),
        &state.settings.endpoints,
    ))
}

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Thunderbird's clientConfig 1.1 document.
pub fn thunderbird_xml(hostname: &str, domain: &str, endpoints: &[Endpoint]) -> String {
    let (host, domain) = (escape(hostname), escape(domain));
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n",
    );
    let _ = writeln!(x, "  <emailProvider id=\"{domain}\">");
    let _ = writeln!(x, "    <domain>{domain}</domain>");
    let _ = writeln!(
        x,
        "    <displayName>{domain} (Postern on {host})</displayName>"
    );
    let _ = writeln!(x, "    <displayShortName>{domain}</displayShortName>");
    for e in ordered(endpoints) {
        let (element, kind) = match e.service {
            MailService::Imap => ("incomingServer", "imap"),
            MailService::Pop3 => ("incomingServer", "pop3"),
            MailService::Submission => ("outgoingServer", "smtp"),
        };
        let socket = if e.implicit_tls { "SSL" } else { "STARTTLS" };
        let _ = write!(
            x,
            "    <{element} type=\"{kind}\">\n      <hostname>{host}</hostname>\n      <port>{}</port>\n      <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </{element}>\n",
            e.port
        );
    }
    x.push_str("  </emailProvider>\n</clientConfig>\n");
    x
}

/// The Outlook autodiscover response (POX, the 2006a response schema).
pub fn autodiscover_xml(hostname: &str, login: Option<&str>, endpoints: &[Endpoint]) -> String {
    let host = escape(hostname);
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n",
    );
    for e in ordered(endpoints) {
        let kind = match e.service {
            MailService::Imap => "IMAP",
            MailService::Pop3 => "POP3",
            MailService::Submission => "SMTP",
        };
        // Encryption overrides SSL where clients know it: SSL = TLS from
        // the first byte, TLS = STARTTLS.
        let encryption = if e.implicit_tls { "SSL" } else { "TLS" };
        let _ = write!(
            x,
            "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{host}</Server>\n        <Port>{}</Port>\n        <DomainRequired>off</DomainRequired>\n",
            e.port
        );
        if let Some(login) = login {
            let _ = writeln!(x, "        <LoginName>{}</LoginName>", escape(login));
        }
        let _ = write!(
            x,
            "        <SPA>off</SPA>\n        <SSL>on</SSL>\n        <Encryption>{encryption}</Encryption>\n        <AuthRequired>on</AuthRequired>\n      </Protocol>\n"
        );
    }
    x.push_str("    </Account>\n  </Response>\n</Autodiscover>\n");
    x
}

/// Implicit TLS before STARTTLS, IMAP before POP3 before submission:
/// clients take the first that fits.
fn ordered(endpoints: &[Endpoint]) -> Vec<Endpoint> {
    let mut v = endpoints.to_vec();
    v.sort_by_key(|e| {
        let rank = match e.service {
            MailService::Imap => 0,
            MailService::Pop3 => 1,
            MailService::Submission => 2,
        };
        (rank, !e.implicit_tls)
    });
    v
}

/// The text of the first `<name>` element, its case ignored, namespace
/// prefixes and attributes tolerated.
fn element<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let lower = doc.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find('<').map(|i| from + i) {
        let tag_end = at + lower[at..].find('>')?;
        let tag = &lower[at + 1..tag_end];
        let bare = tag.split_whitespace().next().unwrap_or_default();
        let local = bare.rsplit(':').next().unwrap_or_default();
        if local == name && !tag.ends_with('/') {
            let content = tag_end + 1;
            let end = content + lower[content..].find("</")?;
            return Some(doc[content..end].trim());
        }
        from = tag_end;
    }
    None
}

/// A conservative check before an address goes anywhere near the output:
/// one `@`, printable ASCII without markup or quoting characters, and the
/// RFC 5321 §4.5.3.1.3 length.
fn plausible_address(a: &str) -> bool {
    a.len() <= 254
        && a.matches('@').count() == 1
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>&\"'\\".contains(&b))
}

fn domain_of(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then(|| domain.trim_end_matches('.').to_ascii_lowercase())
}

/// XML character escaping (XML 1.0 §2.4).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENDPOINTS: &[Endpoint] = &[
        Endpoint {
            service: MailService::Submission,
            port: 587,
            implicit_tls: false,
        },
        Endpoint {
            service: MailService::Submission,
            port: 465,
            implicit_tls: true,
        },
        Endpoint {
            service: MailService::Imap,
            port: 993,
            implicit_tls: true,
        },
    ];

    #[test]
    fn thunderbird_lists_tls_services_in_order() {
        let x = thunderbird_xml("mail.example.com", "example.com", ENDPOINTS);
        let imap = x.find("<port>993</port>").unwrap();
        let smtps = x.find("<port>465</port>").unwrap();
        let submission = x.find("<port>587</port>").unwrap();
        assert!(imap < smtps && smtps < submission, "{x}");
        assert!(x.contains("<socketType>STARTTLS</socketType>"), "{x}");
        assert_eq!(x.matches("<socketType>SSL</socketType>").count(), 2);
        assert_eq!(
            x.matches("<hostname>mail.example.com</hostname>").count(),
            3
        );
    }

    #[test]
    fn autodiscover_echoes_only_what_it_is_given() {
        let x = autodiscover_xml("mail.example.com", Some("a@example.com"), ENDPOINTS);
        assert_eq!(x.matches("<LoginName>a@example.com</LoginName>").count(), 3);
        assert!(x.contains("<Encryption>TLS</Encryption>"));
        let x = autodiscover_xml("mail.example.com", None, ENDPOINTS);
        assert!(!x.contains("LoginName"), "{x}");
    }

    #[test]
    fn request_parsing_is_lenient_but_careful() {
        let doc = "<?xml version=\"1.0\"?><Autodiscover xmlns=\"x\"><Request>\n<a:EMailAddress xmlns:a=\"y\"> Bob@Example.com </a:EMailAddress><AcceptableResponseSchema>z</AcceptableResponseSchema></Request></Autodiscover>";
        assert_eq!(element(doc, "EMailAddress"), Some("Bob@Example.com"));
        assert_eq!(element("<emailaddress/>", "EMailAddress"), None);
        assert_eq!(element("<EMailAddress>x", "EMailAddress"), None);
        assert_eq!(element("garbage <<<>", "EMailAddress"), None);
        assert!(plausible_address("bob@example.com"));
        assert!(!plausible_address("<x>@example.com"));
        assert!(!plausible_address("a@b@c"));
        assert_eq!(domain_of("Bob@Example.COM"), Some("example.com".into()));
        assert_eq!(domain_of("bob@exa/mple"), None);
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }
}
