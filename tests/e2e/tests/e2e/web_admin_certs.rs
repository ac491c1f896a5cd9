//! A certificate from a CA through the administration pages, over real
//! TLS: the server makes the key and the CSR, the (test) CA signs the
//! CSR, the signed chain is uploaded and the server serves it at once.
//! Wrong uploads are refused in words and the old certificate keeps
//! serving; ordinary users and forms without their token get 403.

use std::path::PathBuf;

use postern_testkit::server::HOST;
use postern_testkit::{Browser, HttpResponse, LineClient, TestServer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

const ADMIN: &str = "alice@example.test";
const USER: &str = "bob@example.test";
const PASSWORD: &str = "correct horse battery";
const PAGE: &str = "/admin/certificates";
const REQUEST: &str = "/admin/certificates/request";
const IMPORT: &str = "/admin/certificates/import";

/// alice (administrator) and bob.
async fn server() -> TestServer {
    let srv = TestServer::start().await;
    let alice = srv.add_user(ADMIN, PASSWORD);
    srv.add_user(USER, PASSWORD);
    srv.server().store().set_admin(alice.id, true).unwrap();
    srv
}

/// The leaf certificate a new TLS connection gets.
async fn served_cert(srv: &TestServer) -> Vec<u8> {
    let c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    let (_, conn) = c.get_ref().get_ref();
    conn.peer_certificates().unwrap()[0].to_vec()
}

fn pending_dir(srv: &TestServer) -> PathBuf {
    srv.dir().join("certs/pending")
}

fn pending_keys(srv: &TestServer) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(pending_dir(srv)) else {
        return Vec::new();
    };
    let mut keys: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".key.pem"))
        .collect();
    keys.sort();
    keys
}

/// The text of the element after `start` up to `end`, with askama's
/// escapes undone (PEM has none of `<>&"'`, but be exact).
fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start}: {text}"))
        + start.len();
    let len = text[from..].find(end).expect("end marker");
    text[from..from + len]
        .replace("&#43;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
}

/// Requests a CSR for `main` from the web: must answer the CSR page.
async fn request_csr(b: &mut Browser, names: &str) -> (HttpResponse, String) {
    let fields = [
        ("certificate", "main"),
        ("names", names),
        ("key_type", "ecdsa-p256"),
    ];
    let r = b.submit(PAGE, REQUEST, &fields).await;
    assert_eq!(r.status, 200, "request: {r}");
    let text = r.text();
    let csr = between(&text, "<pre class=\"csr\">", "</pre>");
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    (r, csr)
}

/// Uploads files to the import form (with the page's token).
async fn import(
    b: &mut Browser,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &str, &[u8])],
) -> HttpResponse {
    let mut all = vec![("certificate", "main")];
    all.extend_from_slice(fields);
    b.submit_multipart(PAGE, IMPORT, &all, files).await
}

#[tokio::test]
async fn a_csr_made_in_the_browser_is_signed_imported_and_served_at_once() {
    let srv = server().await;
    let before = served_cert(&srv).await;
    let mut b = Browser::logged_in(&srv, ADMIN, PASSWORD).await;

    let page = b.get(PAGE).await;
    assert!(
        page.text()
            .contains("action=\"/admin/certificates/request\""),
        "{page}"
    );
    assert!(page.text().contains("<option value=\"rsa4096\">"), "{page}");

    let (r, csr) = request_csr(&mut b, &format!("{HOST}, localhost")).await;
    assert!(!r.text().contains("PRIVATE KEY"), "the key is shown: {r}");
    let keys = pending_keys(&srv);
    assert_eq!(keys, [pending_dir(&srv).join(format!("{HOST}.key.pem"))]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&keys[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "pending key mode {mode:o}");
    }

    // The CSR as a file to save.
    let token = b.form_token(PAGE).await;
    let file = b
        .post_with_csrf(
            "/admin/certificates/csr",
            &token,
            &[("name", HOST), ("csr", &csr)],
        )
        .await;
    assert_eq!(file.status, 200, "{file}");
    assert_eq!(
        file.header("content-disposition"),
        Some(format!("attachment; filename=\"{HOST}.csr.pem\"").as_str())
    );
    assert_eq!(file.text(), csr);
    let forged = b
        .post_with_csrf(
            "/admin/certificates/csr",
            &token,
            &[("name", HOST), ("csr", "<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(forged.status, 400, "{forged}");

    // The CA signs; the administrator uploads the certificate and its chain.
    let signed = srv.ca.sign_csr(&csr);
    let chain = srv.ca.root_pem();
    let r = import(
        &mut b,
        &[],
        &[
            (
                "cert",
                "signed.pem",
                "application/x-pem-file",
                signed.as_bytes(),
            ),
            (
                "chain",
                "chain.pem",
                "application/x-pem-file",
                chain.as_bytes(),
            ),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "import: {r}");
    let text = r.text();
    assert!(text.contains("It is being served now"), "{text}");
    assert!(text.contains("localhost"), "{text}");
    assert!(text.contains("Postern Test Root"), "{text}");

    let now = served_cert(&srv).await;
    assert_ne!(now, before, "the old certificate is still served");
    let want = CertificateDer::from_pem_slice(signed.as_bytes()).unwrap();
    assert_eq!(now, want.to_vec(), "not the imported certificate");
    assert!(
        pending_keys(&srv).is_empty(),
        "the pending key was not used up"
    );
    let page = b.get(PAGE).await;
    assert!(page.text().contains("localhost"), "{page}");
}

#[tokio::test]
async fn a_keystore_with_its_password_is_imported() {
    if !crate::openssl::available() {
        return;
    }
    let srv = server().await;
    let before = served_cert(&srv).await;
    let mut b = Browser::logged_in(&srv, ADMIN, PASSWORD).await;
    let issued = srv.ca.server_cert(&[HOST, "p12.example.test"]);
    let p12 = pkcs12(&srv, &issued, "keystore secret");

    let wrong = import(
        &mut b,
        &[("password", "not it")],
        &[("pkcs12", "mail.p12", "application/x-pkcs12", &p12)],
    )
    .await;
    assert_eq!(wrong.status, 400, "{wrong}");
    assert!(wrong.text().contains("password"), "{wrong}");
    assert_eq!(served_cert(&srv).await, before);

    let r = import(
        &mut b,
        &[("password", "keystore secret")],
        &[("pkcs12", "mail.p12", "application/x-pkcs12", &p12)],
    )
    .await;
    assert_eq!(r.status, 200, "{r}");
    assert!(r.text().contains("It is being served now"), "{r}");
    assert_eq!(served_cert(&srv).await, issued.cert_der().to_vec());
}

/// `openssl pkcs12 -export` of the certificate, its key and the root.
fn pkcs12(srv: &TestServer, issued: &postern_testkit::Issued, password: &str) -> Vec<u8> {
    let dir = srv.dir().join("p12-work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &issued.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &issued.key_pem).unwrap();
    std::fs::write(dir.join("root.pem"), srv.ca.root_pem()).unwrap();
    let out = std::process::Command::new("openssl")
        .current_dir(&dir)
        .args(["pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem"])
        .args(["-certfile", "root.pem", "-out", "x.p12"])
        .arg("-passout")
        .arg(format!("pass:{password}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("x.p12")).unwrap()
}

#[tokio::test]
async fn wrong_uploads_are_refused_in_words_and_the_old_certificate_stays() {
    let srv = server().await;
    let before = served_cert(&srv).await;
    let mut b = Browser::logged_in(&srv, ADMIN, PASSWORD).await;

    let garbage = import(
        &mut b,
        &[],
        &[("cert", "x.pem", "text/plain", b"hello, world")],
    )
    .await;
    assert_eq!(garbage.status, 400, "{garbage}");
    assert!(
        garbage.text().contains("The input holds no certificate"),
        "{garbage}"
    );

    // Signed by the right CA for the right names, but for a key the
    // server never made.
    let stranger = srv.ca.server_cert(&[HOST]);
    let chain = format!("{}{}", stranger.cert_pem, srv.ca.root_pem());
    let r = import(
        &mut b,
        &[],
        &[("cert", "x.pem", "text/plain", chain.as_bytes())],
    )
    .await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("No pending key"), "{r}");

    // A signed request that leaves out the server's host name.
    let (_, csr) = request_csr(&mut b, "other.example.test").await;
    let signed = srv.ca.sign_csr(&csr) + &srv.ca.root_pem();
    let r = import(
        &mut b,
        &[],
        &[("cert", "x.pem", "text/plain", signed.as_bytes())],
    )
    .await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains(&format!("does not cover {HOST}")), "{r}");

    // Requests the server cannot make are refused in words, no key made.
    let keys = pending_keys(&srv);
    let bad_key = [
        ("certificate", "main"),
        ("names", HOST),
        ("key_type", "dsa512"),
    ];
    let r = b.submit(PAGE, REQUEST, &bad_key).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("Unknown key type"), "{r}");
    let unknown = [
        ("certificate", "nope"),
        ("names", HOST),
        ("key_type", "rsa2048"),
    ];
    let r = b.submit(PAGE, REQUEST, &unknown).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("no [[certificate]] named"), "{r}");
    assert_eq!(pending_keys(&srv), keys);

    let r = import(&mut b, &[], &[]).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(
        r.text().contains("Choose the signed certificate file"),
        "{r}"
    );

    // Bigger than a form (8 KiB), within the upload limit: read, refused.
    let big = vec![b'A'; 100 * 1024];
    let r = import(&mut b, &[], &[("cert", "x.pem", "text/plain", &big)]).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("The input holds no certificate"), "{r}");
    // Beyond the upload limit: refused before the handler.
    let huge = vec![b'A'; 300 * 1024];
    let r = import(&mut b, &[], &[("cert", "x.pem", "text/plain", &huge)]).await;
    assert_eq!(r.status, 413, "{r}");

    assert_eq!(served_cert(&srv).await, before, "the certificate changed");
}

#[tokio::test]
async fn only_administrators_with_the_form_token_get_keys_made_or_certificates_installed() {
    let srv = server().await;
    let before = served_cert(&srv).await;
    let names = [
        ("certificate", "main"),
        ("names", HOST),
        ("key_type", "ecdsa-p256"),
    ];

    // An ordinary user, with a valid token of their own session.
    let mut bob = Browser::logged_in(&srv, USER, PASSWORD).await;
    let token = bob.form_token("/account").await;
    let r = bob.post_with_csrf(REQUEST, &token, &names).await;
    assert_eq!(r.status, 403, "{r}");
    let issued = srv.ca.server_cert(&[HOST]);
    let r = bob
        .post_multipart(
            IMPORT,
            &[("csrf", &token), ("certificate", "main")],
            &[(
                "pkcs12",
                "x.p12",
                "application/x-pkcs12",
                issued.cert_pem.as_bytes(),
            )],
        )
        .await;
    assert_eq!(r.status, 403, "{r}");

    // An administrator without the token, or with a wrong one.
    let mut alice = Browser::logged_in(&srv, ADMIN, PASSWORD).await;
    let r = alice.post(REQUEST, &names).await;
    assert_eq!(r.status, 403, "{r}");
    let r = alice.post_with_csrf(REQUEST, "00", &names).await;
    assert_eq!(r.status, 403, "{r}");
    let r = alice
        .post_multipart(
            IMPORT,
            &[("certificate", "main")],
            &[("cert", "x.pem", "text/plain", issued.cert_pem.as_bytes())],
        )
        .await;
    assert_eq!(r.status, 403, "{r}");

    assert!(pending_keys(&srv).is_empty(), "a key was made");
    assert_eq!(served_cert(&srv).await, before, "the certificate changed");
}
