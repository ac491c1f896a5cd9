//! Getting a certificate from a CA through the admin pages, as
//! `postern cert request` and `postern cert import` do on the command
//! line:
//!
//! - `POST /admin/certificates/request`: the server makes a key, keeps it
//!   (mode 0600, where the command keeps its pending keys) and answers
//!   with the CSR (PKCS#10, RFC 2986) to paste into the CA's form;
//! - `POST /admin/certificates/csr`: that CSR again, as a file to save;
//! - `POST /admin/certificates/import`: the CA's answer, uploaded as
//!   `multipart/form-data` (RFC 7578), is checked and installed by the
//!   server, which then serves it without a restart.
//!
//! This crate only carries forms and words: the key is made, kept and
//! matched by the server behind [`TlsReports`](super::TlsReports), and
//! never appears in a page or a log line.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::edit::{sentence, token_refusal, Action, Back};
use super::pages::{self, AdminFrame};
use super::{Admin, CertImported, CertRequest, CertRequested, CertUpload};
use crate::mail::format_time;
use crate::multipart::{self, Field};
use crate::pages::render;
use crate::security::refuse;
use crate::session::SessionView;
use crate::AppState;

/// The largest upload: a certificate with a long chain, or a PKCS#12
/// keystore with an RSA-4096 key and its chain, is a few tens of KiB.
pub const UPLOAD_LIMIT: usize = 256 * 1024;

/// The import route, with its own body limit: it is the innermost
/// `DefaultBodyLimit`, so it wins over the form limit the application
/// puts around all the admin routes.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/certificates/import", post(import))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
}

/// The request form. Nothing secret in it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RequestForm {
    pub csrf: String,
    pub certificate: String,
    /// Host names, separated by commas or blanks.
    pub names: String,
    pub key_type: String,
}

#[derive(Template)]
#[template(path = "admin_cert_request.html")]
struct RequestedPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    certificate: String,
    names: Vec<String>,
    requested: CertRequested,
}

#[derive(Template)]
#[template(path = "admin_cert_imported.html")]
struct ImportedPage<'a> {
    hostname: &'a str,
    frame: AdminFrame,
    imported: CertImported,
    not_after: String,
    class: &'static str,
}

/// `POST /admin/certificates/request`.
pub async fn request(
    State(state): State<AppState>,
    Admin(session): Admin,
    Form(form): Form<RequestForm>,
) -> Response {
    let names = split_names(&form.names);
    let target = format!("{} ({})", form.certificate.trim(), names.join(", "));
    let action = Action::RequestCertificate;
    if let Some(r) = token_refusal(&session, &form.csrf, action, &target) {
        return r;
    }
    if names.is_empty() {
        let why = "Name at least one host name for the certificate.".to_owned();
        return refused(&state, &session, action, &target, why).await;
    }
    let request = CertRequest {
        certificate: form.certificate.trim().to_owned(),
        names: names.clone(),
        key_type: form.key_type.trim().to_owned(),
    };
    let tls = state.tls.clone();
    let requested = match on_blocking_thread(&state, move || tls.request_certificate(request)).await
    {
        Ok(Ok(requested)) => requested,
        Ok(Err(why)) => return refused(&state, &session, action, &target, why).await,
        Err(r) => return r,
    };
    tracing::info!(admin = %session.address, action = action.code(), target = %target, key = %requested.key_path, "administration change");
    render(&RequestedPage {
        hostname: &state.settings.hostname,
        frame: AdminFrame::new(&session),
        certificate: form.certificate.trim().to_owned(),
        names,
        requested,
    })
}

/// The CSR download form: the CSR shown on the page, sent back.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CsrForm {
    pub csrf: String,
    pub csr: String,
    /// The first name of the request, for the file name.
    pub name: String,
}

/// `POST /admin/certificates/csr`: the CSR as a file. The server keeps no
/// copy to hand out here: the page posts back the CSR it shows, which
/// must be one PEM `CERTIFICATE REQUEST` block and nothing else, so this
/// cannot be made to answer with arbitrary content.
pub async fn download_csr(Admin(session): Admin, Form(form): Form<CsrForm>) -> Response {
    if let Some(r) = token_refusal(
        &session,
        &form.csrf,
        Action::RequestCertificate,
        "CSR download",
    ) {
        return r;
    }
    let Some(pem) = csr_pem(&form.csr) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "this is not a certificate signing request; make the request again\n",
        );
    };
    let disposition = format!("attachment; filename=\"{}.csr.pem\"", file_stem(&form.name));
    // PEM is text; application/pkcs10 (RFC 5967 §3.1) names the DER form.
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=us-ascii".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pem,
    )
        .into_response()
}

/// `POST /admin/certificates/import`.
pub async fn import(
    State(state): State<AppState>,
    Admin(session): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match multipart::from_request(&headers, &body) {
        Ok(fields) => fields,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.reason()),
    };
    let certificate = text(&fields, "certificate").trim().to_owned();
    let action = Action::ImportCertificate;
    if let Some(r) = token_refusal(&session, &text(&fields, "csrf"), action, &certificate) {
        return r;
    }
    let upload = match upload(&fields) {
        Ok(upload) => upload,
        Err(why) => return refused(&state, &session, action, &certificate, why.into()).await,
    };
    let tls = state.tls.clone();
    let name = certificate.clone();
    let imported =
        match on_blocking_thread(&state, move || tls.import_certificate(&name, upload)).await {
            Ok(Ok(imported)) => imported,
            Ok(Err(why)) => return refused(&state, &session, action, &certificate, why).await,
            Err(r) => return r,
        };
    tracing::info!(admin = %session.address, action = action.code(), target = %certificate, names = %imported.names.join(", "), not_after = imported.not_after_unix, "administration change");
    render(&ImportedPage {
        hostname: &state.settings.hostname,
        frame: AdminFrame::new(&session),
        not_after: format_time(imported.not_after_unix),
        class: pages::expiry_class(imported.days_left),
        imported,
    })
}

/// What was uploaded: a PKCS#12 keystore, or the PEM certificate with an
/// optional chain file. A file input left empty sends an empty part.
fn upload(fields: &[Field]) -> Result<CertUpload, &'static str> {
    let cert = file(fields, "cert");
    let chain = file(fields, "chain");
    match (file(fields, "pkcs12"), cert) {
        (Some(_), Some(_)) => {
            Err("Upload either the signed certificate (PEM) or a PKCS#12 keystore, not both.")
        }
        (Some(der), None) => Ok(CertUpload::Pkcs12 {
            der,
            password: text(fields, "password"),
        }),
        (None, Some(cert_pem)) => Ok(CertUpload::Pem {
            cert_pem,
            chain_pem: chain,
        }),
        (None, None) => {
            Err("Choose the signed certificate file the CA sent (PEM), or a PKCS#12 keystore.")
        }
    }
}

/// A text field's value; empty if absent.
fn text(fields: &[Field], name: &str) -> String {
    fields
        .iter()
        .find(|f| f.name == name && f.filename.is_none())
        .map(Field::text)
        .unwrap_or_default()
}

/// A file input's content, if a non-empty file was chosen.
fn file(fields: &[Field], name: &str) -> Option<Vec<u8>> {
    fields
        .iter()
        .find(|f| f.name == name && !f.value.is_empty())
        .map(|f| f.value.clone())
}

/// Runs a call to the server's certificate work on a blocking thread
/// (key generation and file writes block); a failed task is a 500.
async fn on_blocking_thread<T, F>(state: &AppState, f: F) -> Result<T, Response>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "certificate task failed");
        crate::pages::internal_error(state)
    })
}

/// The certificates page again, with the reason, logged for the audit
/// trail. 400: the administrator can correct the input or the files.
async fn refused(
    state: &AppState,
    session: &SessionView,
    action: Action,
    target: &str,
    why: String,
) -> Response {
    let why = sentence(&why);
    tracing::info!(admin = %session.address, action = action.code(), target = %target, reason = %why, "administration change refused");
    pages::show(
        state,
        session,
        &Back::Certificates,
        StatusCode::BAD_REQUEST,
        None,
        Some(why),
    )
    .await
}

/// Names as typed: separated by commas, blanks or line breaks.
fn split_names(input: &str) -> Vec<String> {
    input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text` if it is exactly one PEM CSR block (RFC 7468 §7: the label is
/// `CERTIFICATE REQUEST`), normalised to CRLF-free lines.
fn csr_pem(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE REQUEST-----";
    const END: &str = "-----END CERTIFICATE REQUEST-----";
    let lines: Vec<&str> = text.trim().lines().map(str::trim).collect();
    let (first, rest) = lines.split_first()?;
    let (last, body) = rest.split_last()?;
    let base64 = |l: &&str| {
        l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    let ok = *first == BEGIN && *last == END && !body.is_empty() && body.iter().all(base64);
    ok.then(|| format!("{}\n", lines.join("\n")))
}

/// A file name from a host name: only letters, digits, `-` and `.`, so
/// the Content-Disposition parameter needs no quoting rules.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .trim()
        .to_ascii_lowercase()
        .replace('*', "wildcard")
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                true => c,
                false => '_',
            },
        )
        .collect();
    match stem.trim_start_matches('.') {
        "" => "request".into(),
        s => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\r\nMIIBATCBqAIBADAbMRkwFwYDVQQDDBBtYWlsLmV4YW1wbGUub3Jn\r\nAAAA==\r\n-----END CERTIFICATE REQUEST-----\r\n";

    #[test]
    fn only_a_csr_block_is_handed_back() {
        let pem = csr_pem(CSR).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\nMIIB"));
        assert!(!pem.contains('\r'));
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "-----BEGIN CERTIFICATE REQUEST-----\n<script>\n-----END CERTIFICATE REQUEST-----",
            "x\n-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        ] {
            assert_eq!(csr_pem(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn download_names_are_safe() {
        assert_eq!(file_stem("Mail.Example.org"), "mail.example.org");
        assert_eq!(file_stem("*.example.org"), "wildcard.example.org");
        assert_eq!(file_stem("a\"; b/../c"), "a___b_.._c");
        assert_eq!(file_stem(""), "request");
    }

    #[test]
    fn names_split_on_commas_and_blanks() {
        assert_eq!(
            split_names(" a.example, b.example\r\nc.example,,"),
            ["a.example", "b.example", "c.example"]
        );
    }

    fn part(name: &str, filename: Option<&str>, value: &[u8]) -> Field {
        Field {
            name: name.into(),
            filename: filename.map(str::to_owned),
            content_type: None,
            value: value.to_vec(),
        }
    }

    #[test]
    fn an_upload_is_a_keystore_or_a_pem_file_not_both() {
        let pem = part("cert", Some("c.pem"), b"PEM");
        let empty_chain = part("chain", Some(""), b"");
        let p12 = part("pkcs12", Some("k.p12"), b"P12");
        let password = part("password", None, b"secret");
        let got = upload(&[pem.clone(), empty_chain.clone()]).unwrap();
        assert!(matches!(
            got,
            CertUpload::Pem {
                chain_pem: None,
                ..
            }
        ));
        let got = upload(&[part("cert", Some(""), b""), p12.clone(), password]).unwrap();
        match got {
            CertUpload::Pkcs12 { der, password } => {
                assert_eq!(der, b"P12");
                assert_eq!(password, "secret");
            }
            other => panic!("{other:?}"),
        }
        assert!(upload(&[pem, p12]).is_err());
        assert!(upload(&[empty_chain]).is_err());
    }
}
