//! One day's report for one policy domain: the JSON (RFC 8460 §4.4), the
//! `rua` destinations from `_smtp._tls.<domain>` (§3), and the message
//! (§5.3), queued like any other outgoing mail so that it is DKIM-signed
//! and retried.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use postern_store::{Envelope, Incoming, Notify, RemoteRecipient, Store};
use postern_types::date::rfc5322;

use super::json::{self, Value};
use super::{gzip, https, random_hex, Counts, Day, Entry, Failure, Policy, Recorder};
use crate::dns::{Dns, LookupError};
use crate::tls::Trust;
use crate::worker::unix_now;

/// Where a domain wants its reports (§3 `rua`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rua {
    Mailto(String),
    Https(String),
}

/// The `rua` of the domain's TLSRPT record. §3: records not starting
/// with `v=TLSRPTv1` are ignored, and unless exactly one is left the
/// domain is taken to want no reports.
pub fn parse_rua(records: &[String]) -> Vec<Rua> {
    let ours: Vec<&String> = records
        .iter()
        .filter(|r| {
            let r = r.trim_start();
            r.strip_prefix("v=TLSRPTv1")
                .is_some_and(|rest| rest.trim_start().starts_with(';') || rest.trim().is_empty())
        })
        .collect();
    let [record] = ours[..] else {
        return Vec::new();
    };
    let Some(rua) = record
        .split(';')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim() == "rua")
        .map(|(_, v)| v)
    else {
        return Vec::new();
    };
    rua.split(',').filter_map(|u| uri(u.trim())).collect()
}

fn uri(u: &str) -> Option<Rua> {
    if let Some(rest) = strip_prefix_ignore_case(u, "mailto:") {
        // RFC 6068: hfields after `?` are not ours to use; %XX decoded.
        let addr = percent_decode(rest.split('?').next()?)?;
        let (local, domain) = addr.rsplit_once('@')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        };
        return (plain(local) && plain(domain)).then_some(Rua::Mailto(addr));
    }
    strip_prefix_ignore_case(u, "https://").map(|_| Rua::Https(u.to_owned()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a report says about itself.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    /// Our host name: `organization-name` and the submitter.
    pub hostname: &'a str,
    /// `contact-info`.
    pub contact: &'a str,
    pub report_id: &'a str,
    pub day: Day,
    /// The policy domain.
    pub domain: &'a str,
}

fn datetime(day: Day, end: bool) -> String {
    let time = if end { "23:59:59" } else { "00:00:00" };
    format!("{day}T{time}Z")
}

/// The JSON report (§4.4) of one domain's entries.
pub fn build_json(meta: &Meta<'_>, counts: &Counts) -> String {
    let mut policies: BTreeMap<&Policy, (u64, u64, BTreeMap<&Failure, u64>)> = BTreeMap::new();
    for (entry, n) in counts.iter().filter(|(e, _)| e.domain == meta.domain) {
        let p = policies.entry(&entry.policy).or_default();
        match &entry.failure {
            None => p.0 = p.0.saturating_add(*n),
            Some(f) => {
                p.1 = p.1.saturating_add(*n);
                let count = p.2.entry(f).or_default();
                *count = count.saturating_add(*n);
            }
        }
    }
    let policies = policies
        .into_iter()
        .map(|(policy, (ok, failed, details))| {
            policy_json(meta.domain, policy, ok, failed, &details)
        })
        .collect();
    let report = json::object([
        ("organization-name", Value::String(meta.hostname.into())),
        (
            "date-range",
            json::object([
                ("start-datetime", Value::String(datetime(meta.day, false))),
                ("end-datetime", Value::String(datetime(meta.day, true))),
            ]),
        ),
        ("contact-info", Value::String(meta.contact.into())),
        ("report-id", Value::String(meta.report_id.into())),
        ("policies", Value::Array(policies)),
    ]);
    json::to_string(&report)
}

fn count(n: u64) -> Value {
    Value::Number(i64::try_from(n).unwrap_or(i64::MAX))
}

fn policy_json(
    domain: &str,
    p: &Policy,
    ok: u64,
    failed: u64,
    details: &BTreeMap<&Failure, u64>,
) -> Value {
    let mut policy = json::object([
        ("policy-type", Value::String(p.kind.clone())),
        ("policy-domain", Value::String(domain.into())),
    ]);
    if let Value::Object(m) = &mut policy {
        // §4.4: policy-string and mx-host only where a policy exists.
        if !p.strings.is_empty() {
            m.insert("policy-string".into(), json::strings(&p.strings));
        }
        if !p.mx_host.is_empty() {
            m.insert("mx-host".into(), json::strings(&p.mx_host));
        }
    }
    let details: Vec<Value> = details.iter().map(|(f, n)| detail_json(f, *n)).collect();
    let mut v = json::object([
        ("policy", policy),
        (
            "summary",
            json::object([
                ("total-successful-session-count", count(ok)),
                ("total-failure-session-count", count(failed)),
            ]),
        ),
    ]);
    if let (Value::Object(m), false) = (&mut v, details.is_empty()) {
        m.insert("failure-details".into(), Value::Array(details));
    }
    v
}

fn detail_json(f: &Failure, n: u64) -> Value {
    let mut v = json::object([
        ("result-type", Value::String(f.result_type.clone())),
        ("failed-session-count", count(n)),
    ]);
    if let Value::Object(m) = &mut v {
        let opt = [
            ("sending-mta-ip", &f.sending_mta_ip),
            ("receiving-mx-hostname", &f.receiving_mx_hostname),
            ("receiving-ip", &f.receiving_ip),
        ];
        for (k, x) in opt {
            if let Some(x) = x {
                m.insert(k.into(), Value::String(x.clone()));
            }
        }
    }
    v
}

/// The report's file name (§5.1): `sender!policy-domain!begin!end.json.gz`.
pub fn file_name(meta: &Meta<'_>) -> String {
    let begin = meta.day.start();
    format!(
        "{}!{}!{begin}!{}.json.gz",
        meta.hostname,
        meta.domain,
        begin + 86_399
    )
}

/// The report message (§5.3): multipart/report with the gzipped JSON.
pub fn build_message(meta: &Meta<'_>, from: &str, to: &[String], json: &str, now: i64) -> Vec<u8> {
    let boundary = format!("=_tlsrpt_{}", random_hex());
    let gz = gzip::encode(json.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz);
    let mut m = format!(
        "From: <{from}>\r\n\
         Date: {date}\r\n\
         To: {to}\r\n\
         Subject: Report Domain: {domain}\r\n Submitter: {host}\r\n Report-ID: <{id}>\r\n\
         Message-ID: <{id}>\r\n\
         TLS-Report-Domain: {domain}\r\n\
         TLS-Report-Submitter: {host}\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a multipart message in MIME format.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=\"us-ascii\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         This is an aggregate TLS report (RFC 8460) from {host} for {domain},\r\n\
         {start} to {end}.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: application/tlsrpt+gzip\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment;\r\n\tfilename=\"{file}\"\r\n\
         \r\n",
        date = rfc5322(now),
        to = to
            .iter()
            .map(|a| format!("<{a}>"))
            .collect::<Vec<_>>()
            .join(", "),
        domain = meta.domain,
        host = meta.hostname,
        id = meta.report_id,
        start = datetime(meta.day, false),
        end = datetime(meta.day, true),
        file = file_name(meta),
    );
    for line in b64.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(line).unwrap_or_default());
        m.push_str("\r\n");
    }
    m.push_str(&format!("\r\n--{boundary}--\r\n"));
    m.into_bytes()
}

/// How many days a report waits for its domain's DNS to answer.
const GIVE_UP_DAYS: i64 = 3;

/// What sending reports needs besides the store.
#[derive(Clone, Copy)]
pub struct Reporter<'a> {
    /// Our host name: organization-name and submitter.
    pub hostname: &'a str,
    /// For the `_smtp._tls` records and the HTTPS hosts.
    pub dns: &'a Dns,
    /// For HTTPS destinations (PKIX, as for MTA-STS policies).
    pub trust: &'a Trust,
}

/// Reports every finished day (before `today`) not yet reported; returns
/// how many domains got their report (queued or posted).
pub async fn send_due(
    store: &Arc<dyn Store>,
    reporter: &Reporter<'_>,
    rec: &Recorder,
    today: Day,
) -> usize {
    // What the last second counted belongs in the files first.
    if let Err(e) = rec.flush() {
        tracing::error!(error = %e, "cannot write the TLS report journal; reports wait for the next day");
        return 0;
    }
    let days = match rec.unsent_days(today) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(dir = %rec.dir().display(), error = %e, "cannot list the TLS report journal");
            return 0;
        }
    };
    let mut sent = 0;
    for day in days {
        match send_day(store, reporter, rec, day).await {
            Ok(n) => sent += n,
            Err(e) => {
                tracing::error!(day = %day, error = %e, "TLS reports not sent; they are tried again at the next start or tomorrow")
            }
        }
    }
    sent
}

async fn send_day(
    store: &Arc<dyn Store>,
    reporter: &Reporter<'_>,
    rec: &Recorder,
    day: Day,
) -> Result<usize, String> {
    let counts = rec.load(day).map_err(|e| e.to_string())?;
    let sender = sender(store).await?;
    let done = rec.done_domains(day);
    let domains: Vec<String> = {
        let mut d: Vec<String> = counts.keys().map(|e: &Entry| e.domain.clone()).collect();
        d.dedup();
        d.retain(|x| !done.contains(x));
        d
    };
    let mut sent = 0;
    for domain in domains {
        let ruas = match reporter.dns.txt(&format!("_smtp._tls.{domain}")).await {
            Ok(a) => parse_rua(&a.records),
            Err(LookupError::NoSuchDomain(_)) => Vec::new(),
            // A DNS failure must not drop the report: the day stays and is
            // tried again, for a few days (then the domain's report is
            // given up, so that one broken zone does not hold the rest).
            Err(e) if day.0 + GIVE_UP_DAYS >= Day::today().0 => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(domain, day = %day, error = %e, "no TLS report for this domain: its _smtp._tls record could not be looked up for days");
                Vec::new()
            }
        };
        if send_report(store, reporter, &sender, day, &domain, &ruas, &counts).await? {
            sent += 1;
        }
        rec.mark_domain_done(day, &domain)
            .map_err(|e| e.to_string())?;
    }
    rec.mark_sent(day).map_err(|e| e.to_string())?;
    Ok(sent)
}

/// `postmaster@` our first domain: the report's sender and contact.
async fn sender(store: &Arc<dyn Store>) -> Result<String, String> {
    let s = store.clone();
    let domains = tokio::task::spawn_blocking(move || s.domains())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let first = domains
        .first()
        .ok_or("no local domain to send TLS reports from: add one with `postern domain add`")?;
    Ok(format!("postmaster@{first}"))
}

/// Sends one domain's report to each of its destinations; whether any
/// took it. A mailto: report is queued (a store failure is an error: the
/// day is tried again); an HTTPS one is posted once, and a refusal is
/// only logged (RFC 8460 §5.4 leaves retries to the sender; one day's
/// report is not worth a queue of its own).
async fn send_report(
    store: &Arc<dyn Store>,
    reporter: &Reporter<'_>,
    sender: &str,
    day: Day,
    domain: &str,
    ruas: &[Rua],
    counts: &Counts,
) -> Result<bool, String> {
    if ruas.is_empty() {
        return Ok(false);
    }
    let hostname = reporter.hostname;
    let id = format!("{day}.{}.{}@{hostname}", domain, random_hex());
    let meta = Meta {
        hostname,
        contact: sender,
        report_id: &id,
        day,
        domain,
    };
    let json = build_json(&meta, counts);
    let mut sent = false;
    for r in ruas {
        let Rua::Https(url) = r else { continue };
        let gz = gzip::encode(json.as_bytes());
        match https::post(reporter.dns, reporter.trust, url, &gz).await {
            Ok(()) => {
                sent = true;
                tracing::info!(domain, day = %day, report_id = %id, url = %url, "TLS report posted");
            }
            Err(e) => {
                tracing::warn!(domain, day = %day, url = %url, error = %e, "TLS report not accepted by HTTPS; not retried")
            }
        }
    }
    let to: Vec<String> = ruas
        .iter()
        .filter_map(|r| match r {
            Rua::Mailto(a) => Some(a.clone()),
            Rua::Https(_) => None,
        })
        .collect();
    if to.is_empty() {
        return Ok(sent);
    }
    let now = unix_now();
    let raw = build_message(&meta, sender, &to, &json, now);
    let envelope = Envelope {
        mail_from: sender.to_owned(),
        ..Envelope::default()
    };
    let remote: Vec<RemoteRecipient> = to
        .iter()
        .map(|a| RemoteRecipient {
            address: a.clone(),
            // A report that cannot be delivered is not worth a bounce.
            notify: Notify::NEVER,
            orcpt: None,
        })
        .collect();
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        s.accept(&Incoming {
            raw: &raw,
            internal_date: now,
            local: &[],
            envelope: &envelope,
            remote: &remote,
        })
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    tracing::info!(domain, day = %day, report_id = %id, "TLS report queued");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Counts {
        let sts = Policy {
            kind: "sts".into(),
            strings: vec![
                "version: STSv1".into(),
                "mode: testing".into(),
                "mx: *.mail.company-y.example".into(),
                "max_age: 86400".into(),
            ],
            mx_host: vec!["*.mail.company-y.example".into()],
        };
        let fail = |r: &str, mx: &str, ip: Option<&str>| Failure {
            result_type: r.into(),
            sending_mta_ip: Some("2001:db8:abcd:12::1".into()),
            receiving_mx_hostname: Some(mx.into()),
            receiving_ip: ip.map(str::to_owned),
        };
        let e = |f: Option<Failure>| Entry {
            domain: "company-y.example".into(),
            policy: sts.clone(),
            failure: f,
        };
        let mut c = Counts::new();
        c.insert(e(None), 5326);
        c.insert(
            e(Some(fail(
                "certificate-expired",
                "mx1.mail.company-y.example",
                None,
            ))),
            100,
        );
        c.insert(
            e(Some(fail(
                "starttls-not-supported",
                "mx2.mail.company-y.example",
                Some("203.0.113.56"),
            ))),
            200,
        );
        c.insert(
            e(Some(fail(
                "validation-failure",
                "mx-backup.mail.company-y.example",
                Some("203.0.113.58"),
            ))),
            3,
        );
        // Another domain's entries stay out of this report.
        c.insert(
            Entry {
                domain: "other.example".into(),
                policy: sts,
                failure: None,
            },
            7,
        );
        c
    }

    fn meta() -> Meta<'static> {
        Meta {
            hostname: "mx.company-x.example",
            contact: "postmaster@company-x.example",
            report_id: "2016-04-01.r1@mx.company-x.example",
            // 2016-04-01
            day: Day(16_892),
            domain: "company-y.example",
        }
    }

    /// The fields of RFC 8460 §4.4's example report, with its counts.
    #[test]
    fn the_json_has_the_shape_of_the_rfc_example() {
        let v = json::parse(&build_json(&meta(), &counts())).unwrap();
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap().to_owned();
        assert_eq!(s(&v, "organization-name"), "mx.company-x.example");
        assert_eq!(s(&v, "contact-info"), "postmaster@company-x.example");
        assert_eq!(s(&v, "report-id"), "2016-04-01.r1@mx.company-x.example");
        let range = v.get("date-range").unwrap();
        assert_eq!(s(range, "start-datetime"), "2016-04-01T00:00:00Z");
        assert_eq!(s(range, "end-datetime"), "2016-04-01T23:59:59Z");
        let policies = v.get("policies").unwrap().as_array().unwrap();
        assert_eq!(policies.len(), 1);
        let p = &policies[0];
        let policy = p.get("policy").unwrap();
        assert_eq!(s(policy, "policy-type"), "sts");
        assert_eq!(s(policy, "policy-domain"), "company-y.example");
        assert_eq!(
            policy.get("policy-string").unwrap().strings()[1],
            "mode: testing"
        );
        assert_eq!(
            policy.get("mx-host").unwrap().strings(),
            ["*.mail.company-y.example"]
        );
        let summary = p.get("summary").unwrap();
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap();
        assert_eq!(n(summary, "total-successful-session-count"), 5326);
        assert_eq!(n(summary, "total-failure-session-count"), 303);
        let details = p.get("failure-details").unwrap().as_array().unwrap();
        let by_type: BTreeMap<String, &Value> =
            details.iter().map(|d| (s(d, "result-type"), d)).collect();
        assert_eq!(by_type.len(), 3);
        let starttls = by_type["starttls-not-supported"];
        assert_eq!(n(starttls, "failed-session-count"), 200);
        assert_eq!(
            s(starttls, "receiving-mx-hostname"),
            "mx2.mail.company-y.example"
        );
        assert_eq!(s(starttls, "receiving-ip"), "203.0.113.56");
        assert_eq!(s(starttls, "sending-mta-ip"), "2001:db8:abcd:12::1");
        assert_eq!(
            n(by_type["certificate-expired"], "failed-session-count"),
            100
        );
        assert!(by_type["certificate-expired"].get("receiving-ip").is_none());
        assert_eq!(n(by_type["validation-failure"], "failed-session-count"), 3);
    }

    #[test]
    fn no_policy_found_has_no_policy_string_and_no_failures_list() {
        let mut c = Counts::new();
        c.insert(
            Entry {
                domain: "company-y.example".into(),
                policy: Policy {
                    kind: "no-policy-found".into(),
                    strings: Vec::new(),
                    mx_host: Vec::new(),
                },
                failure: None,
            },
            2,
        );
        let v = json::parse(&build_json(&meta(), &c)).unwrap();
        let p = &v.get("policies").unwrap().as_array().unwrap()[0];
        let policy = p.get("policy").unwrap();
        assert_eq!(
            policy.get("policy-type").unwrap().as_str(),
            Some("no-policy-found")
        );
        assert!(policy.get("policy-string").is_none());
        assert!(policy.get("mx-host").is_none());
        assert!(p.get("failure-details").is_none());
    }

    #[test]
    fn rua_from_the_txt_record() {
        let r = |t: &[&str]| parse_rua(&t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            r(&["v=TLSRPTv1; rua=mailto:tls%2Brpt@example.com,https://r.example.com/x"]),
            [
                Rua::Mailto("tls+rpt@example.com".into()),
                Rua::Https("https://r.example.com/x".into())
            ]
        );
        assert_eq!(
            r(&[
                "v=spf1 -all",
                "v=TLSRPTv1;rua=MAILTO:a@example.com?subject=x"
            ]),
            [Rua::Mailto("a@example.com".into())]
        );
        // Two TLSRPT records: none applies (§3).
        assert!(r(&[
            "v=TLSRPTv1; rua=mailto:a@x.example",
            "v=TLSRPTv1; rua=mailto:b@x.example"
        ])
        .is_empty());
        assert!(r(&["v=TLSRPTv10; rua=mailto:a@x.example"]).is_empty());
        assert!(r(&["v=TLSRPTv1; rua=mailto:nobody"]).is_empty());
        assert!(r(&["v=TLSRPTv1; rua=ftp://x.example/"]).is_empty());
    }

    /// §5.3: the headers, the multipart/report and the gzip part, decoded
    /// with an independent MIME parser.
    #[test]
    fn the_message_carries_the_gzipped_report() {
        let m = meta();
        let json = build_json(&m, &counts());
        let to = vec!["tlsrpt@company-y.example".to_owned()];
        let raw = build_message(
            &m,
            "postmaster@company-x.example",
            &to,
            &json,
            1_459_555_200,
        );
        use mail_parser::MimeHeaders as _;
        let msg = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .unwrap();
        let subject = msg.subject().unwrap();
        assert!(
            subject.contains("Report Domain: company-y.example"),
            "{subject}"
        );
        assert!(
            subject.contains("Submitter: mx.company-x.example"),
            "{subject}"
        );
        assert!(
            subject.contains("Report-ID: <2016-04-01.r1@mx.company-x.example>"),
            "{subject}"
        );
        let header = |n: &str| msg.header_raw(n).map(|v| v.trim().to_owned());
        assert_eq!(
            header("TLS-Report-Domain").as_deref(),
            Some("company-y.example")
        );
        assert_eq!(
            header("TLS-Report-Submitter").as_deref(),
            Some("mx.company-x.example")
        );
        let ct = msg.content_type().unwrap();
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("tlsrpt"));
        let part = msg
            .attachments()
            .find(|p| {
                p.content_type()
                    .is_some_and(|c| c.subtype() == Some("tlsrpt+gzip"))
            })
            .unwrap();
        assert_eq!(
            part.attachment_name(),
            Some("mx.company-x.example!company-y.example!1459468800!1459555199.json.gz")
        );
        let unzipped = gzip::decode(part.contents()).unwrap();
        assert_eq!(String::from_utf8(unzipped).unwrap(), json);
        let text = String::from_utf8(raw).unwrap();
        assert!(text.lines().all(|l| l.len() <= 998));
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
