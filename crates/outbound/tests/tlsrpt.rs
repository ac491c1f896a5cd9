//! TLS reporting (RFC 8460) end to end: deliveries through the queue to a
//! fake MX on 127.0.0.1 are recorded in the journal, survive a restart,
//! and the report step queues one report per domain that publishes a
//! `mailto:` rua, with the counts of those sessions.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData};
use mail_parser::MimeHeaders as _;
use postern_outbound::dns::Dns;
use postern_outbound::tls::Trust;
use postern_outbound::tlsrpt::json::{self, Value};
use postern_outbound::tlsrpt::{gzip, report, Day, Entry, Failure, Policy, Recorder};
use postern_outbound::{Settings, TlsRequirement};
use postern_store::{QueueId, RecipientState, SqliteStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Running {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    /// Stops the workers; the journal's last batch is written on the way.
    async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn run(store: &Arc<SqliteStore>, s: Settings, data: &Path) -> Running {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    postern_outbound::start_with_tls_reports(
        store.clone(),
        s,
        Some(data),
        cancel.clone(),
        &tracker,
    );
    Running { cancel, tracker }
}

/// good.test and plain.test have MX hosts the certificate names; bad.test's
/// MX is not in it. good.test and bad.test ask for reports.
fn zone() -> Zone {
    let mut z = Zone::default();
    for d in ["good.test", "bad.test", "plain.test"] {
        let mx = format!("mx.{d}");
        z.add(
            d,
            RData::MX(MX::new(10, Name::from_ascii(format!("{mx}.")).unwrap())),
        )
        .add(&mx, RData::A(A::new(127, 0, 0, 1)));
    }
    for d in ["good.test", "bad.test"] {
        z.add(
            &format!("_smtp._tls.{d}"),
            RData::TXT(TXT::new(vec![format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}")])),
        );
    }
    z
}

async fn setup(ca: &TestCa) -> (Peer, FakeDns, Settings) {
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(
            &ca.server_cert(&["mx.good.test", "mx.plain.test"]),
        )),
        ..Default::default()
    })
    .await;
    let dns = FakeDns::start(zone()).await;
    let mut s = settings(Some(ca));
    s.resolver = Some(dns.addr);
    s.mx_port = peer.addr.port();
    // bad.test wants a verified certificate: the name mismatch is then a
    // failed session (under opportunistic TLS it would not be).
    s.policies
        .insert("bad.test".into(), TlsRequirement::RequireVerified);
    // One attempt per message in this test: the counts stay exact.
    s.first_retry = std::time::Duration::from_secs(3600);
    s.max_backoff = std::time::Duration::from_secs(3600);
    (peer, dns, s)
}

fn attempted(store: &dyn Store, id: QueueId) -> bool {
    match store.queue_item(id).unwrap() {
        None => true,
        Some(item) => item.recipients.iter().all(|r| r.attempts >= 1),
    }
}

async fn deliver(store: &Arc<SqliteStore>, to: &[&str]) {
    let ids: Vec<QueueId> = to
        .iter()
        .map(|a| queue(&**store, &envelope("alice@example.org"), &[a], BODY))
        .collect();
    let done = wait_for(20, || ids.iter().all(|id| attempted(&**store, *id))).await;
    assert!(done, "{:?}", store.queue_list());
}

/// The queued report messages (from postmaster, with a TLS-Report-Domain).
fn reports(store: &dyn Store) -> Vec<(Vec<String>, Vec<u8>)> {
    store
        .queue_list()
        .unwrap()
        .into_iter()
        .filter(|i| i.envelope.mail_from == "postmaster@example.org")
        .map(|i| {
            let rcpts = i.recipients.iter().map(|r| r.address.clone()).collect();
            (rcpts, store.queue_read(i.id).unwrap())
        })
        .collect()
}

/// The report JSON inside a report message.
fn report_json(raw: &[u8]) -> Value {
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    let part = msg
        .attachments()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.subtype() == Some("tlsrpt+gzip"))
        })
        .expect("an application/tlsrpt+gzip part");
    let text = gzip::decode(part.contents()).expect("gzip");
    json::parse(std::str::from_utf8(&text).unwrap()).expect("JSON")
}

fn summary(v: &Value) -> (i64, i64) {
    let p = &v.get("policies").unwrap().as_array().unwrap()[0];
    let s = p.get("summary").unwrap();
    let n = |k: &str| s.get(k).and_then(Value::as_i64).unwrap();
    (
        n("total-successful-session-count"),
        n("total-failure-session-count"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_recorded_across_a_restart_and_reported_once_per_domain() {
    let ca = TestCa::default();
    let (peer, dns, s) = setup(&ca).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let data = dir.path().join("data");

    let running = run(&store, s.clone(), &data);
    deliver(&store, &["bob@good.test", "bob@bad.test", "bob@plain.test"]).await;
    running.stop().await;
    // A restart: a new recorder appends to the same day's file.
    let running = run(&store, s.clone(), &data);
    deliver(&store, &["carol@good.test"]).await;
    running.stop().await;
    assert_eq!(peer.messages().len(), 3, "good.test twice, plain.test once");

    let today = Day::today();
    let rec = Recorder::open(&data.join("tls-rpt")).unwrap();
    let counts = rec.load(today).unwrap();
    let of = |domain: &str| -> Vec<(Option<String>, u64)> {
        counts
            .iter()
            .filter(|(e, _)| e.domain == domain)
            .map(|(e, n)| (e.failure.as_ref().map(|f| f.result_type.clone()), *n))
            .collect()
    };
    assert_eq!(of("good.test"), [(None, 2)]);
    assert_eq!(of("plain.test"), [(None, 1)]);
    assert_eq!(
        of("bad.test"),
        [(Some("certificate-host-mismatch".to_owned()), 1)]
    );
    let bad = counts.keys().find(|e| e.domain == "bad.test").unwrap();
    let f = bad.failure.as_ref().unwrap();
    assert_eq!(bad.policy.kind, "no-policy-found");
    assert_eq!(f.receiving_mx_hostname.as_deref(), Some("mx.bad.test"));
    assert_eq!(f.receiving_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(f.sending_mta_ip.as_deref(), Some("127.0.0.1"));

    // The report step, run as on the next day.
    let resolver = Dns::new(Some(dns.addr)).unwrap();
    let trust = Trust::new(false, &[ca.root_der()]).unwrap();
    let reporter = report::Reporter {
        hostname: &s.hostname,
        dns: &resolver,
        trust: &trust,
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    let tomorrow = Day(today.0 + 1);
    let sent = report::send_due(&dyn_store, &reporter, &rec, tomorrow).await;
    assert_eq!(sent, 2);
    let mut queued = reports(&*store);
    queued.sort();
    assert_eq!(queued.len(), 2, "none for plain.test, which asks for none");
    let (bad_to, bad_raw) = &queued[0];
    let (good_to, good_raw) = &queued[1];
    assert_eq!(bad_to, &["tlsrpt@bad.test"]);
    assert_eq!(good_to, &["tlsrpt@good.test"]);
    let good = report_json(good_raw);
    assert_eq!(summary(&good), (2, 0));
    assert_eq!(
        good.get("organization-name").and_then(Value::as_str),
        Some("mx.postern.test")
    );
    let start = format!("{today}T00:00:00Z");
    assert_eq!(
        good.get("date-range")
            .and_then(|r| r.get("start-datetime"))
            .and_then(Value::as_str),
        Some(start.as_str())
    );
    let bad = report_json(bad_raw);
    assert_eq!(summary(&bad), (0, 1));
    let details = bad.get("policies").unwrap().as_array().unwrap()[0]
        .get("failure-details")
        .unwrap()
        .as_array()
        .unwrap()
        .to_vec();
    assert_eq!(details.len(), 1);
    assert_eq!(
        details[0].get("result-type").and_then(Value::as_str),
        Some("certificate-host-mismatch")
    );
    assert_eq!(
        details[0]
            .get("failed-session-count")
            .and_then(Value::as_i64),
        Some(1)
    );
    let text = String::from_utf8_lossy(good_raw);
    assert!(text.contains("TLS-Report-Domain: good.test\r\n"), "{text}");

    // Reported once: the next run (or a restart) sends nothing again.
    let again = report::send_due(&dyn_store, &reporter, &rec, tomorrow).await;
    assert_eq!(again, 0);
    assert_eq!(reports(&*store).len(), 2);
    assert!(rec.unsent_days(tomorrow).unwrap().is_empty());
    assert!(data.join(format!("tls-rpt/{today}.sent")).exists());
    // The bad.test message is still waiting for its retry.
    assert!(store.queue_list().unwrap().iter().any(|i| i
        .recipients
        .iter()
        .any(|r| r.address == "bob@bad.test" && r.state == RecipientState::Pending)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_data_directory_nothing_is_recorded() {
    let ca = TestCa::default();
    let (peer, _dns, s) = setup(&ca).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    postern_outbound::start(store.clone(), s, cancel.clone(), &tracker);
    deliver(&store, &["bob@good.test"]).await;
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    assert_eq!(peer.messages().len(), 1);
    assert!(!dir.path().join("tls-rpt").exists());
}

/// Takes one POST over TLS and answers 201; hands back the request.
async fn report_server(ca: &TestCa) -> (u16, tokio::sync::oneshot::Receiver<Vec<u8>>) {
    let tls = server_tls(&ca.server_cert(&["reports.web.test"]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = tokio_rustls::TlsAcceptor::from(tls)
            .accept(tcp)
            .await
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_string();
            if let Some((head, _)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if req.len() >= head.len() + 4 + len || n == 0 {
                    break;
                }
            }
        }
        s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = s.shutdown().await;
        let _ = tx.send(req);
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_rua_gets_the_gzipped_report_by_post() {
    let ca = TestCa::default();
    let (port, request) = report_server(&ca).await;
    let mut z = Zone::default();
    z.add(
        "_smtp._tls.web.test",
        RData::TXT(TXT::new(vec![format!(
            "v=TLSRPTv1; rua=https://reports.web.test:{port}/tlsrpt"
        )])),
    )
    .add("reports.web.test", RData::A(A::new(127, 0, 0, 1)));
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let rec = Recorder::open(&dir.path().join("tls-rpt")).unwrap();
    let day = Day(Day::today().0 - 1);
    let sts = Policy {
        kind: "sts".into(),
        strings: vec!["version: STSv1".into(), "mode: enforce".into()],
        mx_host: vec!["mx.web.test".into()],
    };
    for failure in [None, None, None, Some("certificate-expired")] {
        rec.record_on(
            day,
            Entry {
                domain: "web.test".into(),
                policy: sts.clone(),
                failure: failure.map(|r| Failure {
                    result_type: r.into(),
                    sending_mta_ip: Some("192.0.2.1".into()),
                    receiving_mx_hostname: Some("mx.web.test".into()),
                    receiving_ip: Some("198.51.100.1".into()),
                }),
            },
        );
    }
    let resolver = Dns::new(Some(dns.addr)).unwrap();
    let trust = Trust::new(false, &[ca.root_der()]).unwrap();
    let reporter = report::Reporter {
        hostname: "mx.postern.test",
        dns: &resolver,
        trust: &trust,
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    assert_eq!(
        report::send_due(&dyn_store, &reporter, &rec, Day::today()).await,
        1
    );
    let req = tokio::time::timeout(std::time::Duration::from_secs(10), request)
        .await
        .unwrap()
        .unwrap();
    let split = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&req[..split]).to_string();
    assert!(head.starts_with("POST /tlsrpt HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/tlsrpt+gzip\r\n"),
        "{head}"
    );
    let body = gzip::decode(&req[split + 4..]).expect("gzip");
    let v = json::parse(std::str::from_utf8(&body).unwrap()).unwrap();
    assert_eq!(summary(&v), (3, 1));
    // Nothing was queued: the only destination is HTTPS.
    assert!(reports(&*store).is_empty());
    assert!(rec.unsent_days(Day::today()).unwrap().is_empty());
}

/// Serves each domain's MTA-STS policy over HTTPS; returns the port.
async fn policy_server(ca: &TestCa, policies: &'static [(&'static str, &'static str)]) -> u16 {
    let names: Vec<String> = policies
        .iter()
        .map(|(d, _)| format!("mta-sts.{d}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let tls = server_tls(&ca.server_cert(&names));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let Some((_, policy)) = policies
                    .iter()
                    .find(|(d, _)| text.contains(&format!("\r\nHost: mta-sts.{d}\r\n")))
                else {
                    return;
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{policy}",
                    policy.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

/// Under MTA-STS the policy is in the record; in `testing` mode an MX the
/// policy does not list still gets the mail, and the session is a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mta_sts_sessions_carry_their_policy_and_testing_mode_failures() {
    const POLICIES: &[(&str, &str)] = &[
        (
            "ok.test",
            "version: STSv1\r\nmode: enforce\r\nmx: mx.ok.test\r\nmax_age: 86400\r\n",
        ),
        (
            "try.test",
            "version: STSv1\r\nmode: testing\r\nmx: *.elsewhere.test\r\nmax_age: 3600\r\n",
        ),
    ];
    let ca = TestCa::default();
    let https = policy_server(&ca, POLICIES).await;
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["mx.ok.test", "mx.try.test"]))),
        ..Default::default()
    })
    .await;
    let mut z = Zone::default();
    for (d, _) in POLICIES {
        let mx = format!("mx.{d}");
        z.add(
            d,
            RData::MX(MX::new(10, Name::from_ascii(format!("{mx}.")).unwrap())),
        )
        .add(&mx, RData::A(A::new(127, 0, 0, 1)))
        .add(
            &format!("_mta-sts.{d}"),
            RData::TXT(TXT::new(vec!["v=STSv1; id=1;".into()])),
        )
        .add(&format!("mta-sts.{d}"), RData::A(A::new(127, 0, 0, 1)));
    }
    // gone.test announces a policy that its server does not have.
    z.add(
        "gone.test",
        RData::MX(MX::new(10, Name::from_ascii("mx.gone.test.").unwrap())),
    )
    .add("mx.gone.test", RData::A(A::new(127, 0, 0, 1)))
    .add(
        "_mta-sts.gone.test",
        RData::TXT(TXT::new(vec!["v=STSv1; id=1;".into()])),
    )
    .add("mta-sts.gone.test", RData::A(A::new(127, 0, 0, 1)));
    let dns = FakeDns::start(z).await;
    let mut s = settings(Some(&ca));
    s.resolver = Some(dns.addr);
    s.mx_port = peer.addr.port();
    s.mta_sts = true;
    s.mta_sts_port = https;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let data = dir.path().join("data");
    let running = run(&store, s, &data);
    deliver(&store, &["bob@ok.test", "bob@try.test", "bob@gone.test"]).await;
    running.stop().await;
    assert_eq!(
        peer.messages().len(),
        3,
        "testing mode delivers anyway, and so does a policy that cannot be fetched"
    );

    let counts = Recorder::open(&data.join("tls-rpt"))
        .unwrap()
        .load(Day::today())
        .unwrap();
    let find = |d: &str| -> Vec<(&Entry, u64)> {
        counts
            .iter()
            .filter(|(e, _)| e.domain == d)
            .map(|(e, n)| (e, *n))
            .collect()
    };
    let ok = find("ok.test");
    assert_eq!(ok.len(), 1);
    let (e, n) = ok[0];
    assert_eq!((e.policy.kind.as_str(), n, &e.failure), ("sts", 1, &None));
    assert_eq!(
        e.policy.strings,
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mx.ok.test",
            "max_age: 86400"
        ]
    );
    assert_eq!(e.policy.mx_host, ["mx.ok.test"]);
    let tried = find("try.test");
    assert_eq!(tried.len(), 1);
    let (e, n) = tried[0];
    assert_eq!((e.policy.kind.as_str(), n), ("sts", 1));
    let f = e.failure.as_ref().expect("a failed session");
    assert_eq!(f.result_type, "validation-failure");
    assert_eq!(f.receiving_mx_hostname.as_deref(), Some("mx.try.test"));
    assert_eq!(e.policy.mx_host, ["*.elsewhere.test"]);
    let gone = find("gone.test");
    assert_eq!(gone.len(), 1, "{gone:?}");
    let (e, n) = gone[0];
    assert_eq!((e.policy.kind.as_str(), n), ("sts", 1));
    let f = e.failure.as_ref().expect("a failed session");
    assert_eq!(f.result_type, "sts-policy-fetch-error");
    assert!(e.policy.strings.is_empty());
}
