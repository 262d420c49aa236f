//! Exporters against real local listeners: UDP and TCP syslog receivers and small HTTP servers
//! on the loopback interface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use palisade_detect::K8sAuditEvent;
use palisade_detect::alert::{Alert, Analyzer, AnalyzerOptions};
use palisade_detect::export::{
    Exporter, JsonLines, RetryPolicy, SplunkHecExporter, SyslogExporter, SyslogFormat,
    SyslogOptions, SyslogTransport, WebhookExporter, WebhookFormat, ocsf,
};
use serde_json::Value;

/// Alerts made by the real pipeline: a privileged pod, twice, and the canary.
fn alerts() -> Vec<Alert> {
    let (mut an, _) = Analyzer::new(AnalyzerOptions::default()).unwrap();
    for (id, t) in [("a-1", "10:00:00"), ("a-2", "10:03:00")] {
        let ev = format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","stage":"ResponseComplete","verb":"create",
              "user":{{"username":"mallory@example.com"}},"sourceIPs":["203.0.113.5"],
              "objectRef":{{"resource":"pods","namespace":"shop","name":"miner","apiVersion":"v1"}},
              "responseStatus":{{"code":201}},"stageTimestamp":"2024-05-01T{t}.250Z",
              "requestObject":{{"kind":"Pod","spec":{{"containers":[{{"name":"c","image":"busybox","securityContext":{{"privileged":true}}}}]}}}}}}"#
        );
        an.process(
            &K8sAuditEvent::parse(&ev)
                .unwrap()
                .with_cluster_name("prod|eu"),
            None,
        );
    }
    let canary = r#"{"auditID":"c-1","stage":"ResponseComplete","verb":"list","user":{"username":"alice"},
        "objectRef":{"resource":"pods","namespace":"palisade-canary"},"stageTimestamp":"2024-05-01T11:00:00Z"}"#;
    an.process(&K8sAuditEvent::parse(canary).unwrap(), None);
    let out = an.finish();
    assert_eq!(out.len(), 2);
    out
}

#[test]
fn json_lines_round_trip() {
    let alerts = alerts();
    let mut exp = JsonLines::new(Vec::new(), "memory");
    exp.export(&alerts).unwrap();
    exp.flush().unwrap();
    let text = String::from_utf8(exp.into_inner()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["type"], "K8S_PrivilegedContainer");
    assert_eq!(lines[0]["count"], 2);
    assert_eq!(lines[0]["event_ids"], serde_json::json!(["a-1", "a-2"]));
    assert_eq!(lines[0]["mitre"]["technique"], "T1611");
    assert_eq!(lines[1]["type"], "K8S_TestAlert");
}

#[test]
fn syslog_rfc5424_over_udp() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let addr = rx.local_addr().unwrap().to_string();
    let opts = SyslogOptions {
        hostname: "sensor-1".into(),
        ..Default::default()
    };
    let mut exp = SyslogExporter::new(&addr, opts).unwrap();
    let alerts = alerts();
    exp.export(&alerts).unwrap();
    let mut buf = [0u8; 65536];
    let n = rx.recv(&mut buf).unwrap();
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    // Facility 13 (log audit) * 8 + severity 6 (informational).
    assert!(
        msg.starts_with(
            "<110>1 2024-05-01T10:03:00.250000Z sensor-1 palisade - alert [palisade@32473 id=\""
        ),
        "{msg}"
    );
    assert!(msg.contains(r#" type="K8S_PrivilegedContainer""#), "{msg}");
    assert!(msg.contains(r#" technique="T1611""#), "{msg}");
    assert!(msg.contains(r#" count="2""#), "{msg}");
    assert!(msg.contains(r#" resource="shop/pods/miner""#), "{msg}");
    assert!(msg.contains(r#" cluster="prod|eu""#), "{msg}");
    assert!(
        msg.contains("] Privileged container detected: Privileged container in pod shop/miner"),
        "{msg}"
    );
    let n = rx.recv(&mut buf).unwrap();
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    // The test alert is high: severity 3.
    assert!(msg.starts_with("<107>1 "), "{msg}");
}

/// Reads RFC 6587 octet-counted frames from the first connection until it closes.
fn tcp_frames(listener: TcpListener, want: usize) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s);
        let mut frames = Vec::new();
        while frames.len() < want {
            let mut len = Vec::new();
            if r.read_until(b' ', &mut len).unwrap() == 0 {
                break;
            }
            let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                .unwrap()
                .parse()
                .unwrap();
            let mut msg = vec![0u8; n];
            r.read_exact(&mut msg).unwrap();
            frames.push(String::from_utf8(msg).unwrap());
        }
        frames
    })
}

#[test]
fn cef_over_tcp_with_octet_counting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tcp_frames(listener, 2);
    let opts = SyslogOptions {
        format: SyslogFormat::Cef,
        transport: SyslogTransport::Tcp,
        ..Default::default()
    };
    let mut exp = SyslogExporter::new(&addr, opts).unwrap();
    exp.export(&alerts()).unwrap();
    let frames = server.join().unwrap();
    assert_eq!(frames.len(), 2);
    let f = &frames[0];
    let cef = &f[f.find("CEF:0|").unwrap()..];
    let fields: Vec<&str> = cef.splitn(8, '|').collect();
    assert_eq!(fields[1..3], ["palisade", "palisade"]);
    assert_eq!(fields[4], "K8S_PrivilegedContainer");
    assert_eq!(fields[5], "Privileged container detected");
    assert_eq!(fields[6], "1");
    let ext = fields[7];
    assert!(ext.starts_with("rt=1714557780250 start=1714557600250 end=1714557780250 cnt=2 suser=mallory@example.com msg="), "{ext}");
    assert!(ext.contains(" cs3Label=mitreTechnique cs3=T1611 "), "{ext}");
    // The '|' of the cluster name needs no escaping in extensions; '=' would.
    assert!(ext.ends_with(" cs5Label=cluster cs5=prod|eu"), "{ext}");
    assert!(frames[1].contains("|K8S_TestAlert|"), "{}", frames[1]);
}

struct Request {
    head: String,
    body: Vec<u8>,
}

/// A tiny HTTP server: answers the given statuses in turn, one connection each, and hands back
/// what it received.
fn http_server(statuses: Vec<u16>) -> (String, mpsc::Receiver<Request>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        for status in statuses {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            s.write_all(reply.as_bytes()).unwrap();
            tx.send(Request { head, body }).unwrap();
        }
    });
    (url, rx, h)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    }
}

#[test]
fn webhook_retries_server_errors_then_succeeds() {
    let (url, rx, h) = http_server(vec![503, 500, 200]);
    let mut exp = WebhookExporter::new(
        &format!("{url}/hooks/palisade"),
        vec![("Authorization".into(), "Bearer t0k3n".into())],
        WebhookFormat::Alert,
        fast_retries(),
    )
    .unwrap();
    let alerts = alerts();
    exp.export(&alerts[..1]).unwrap();
    h.join().unwrap();
    assert_eq!(exp.attempts(), 3);
    let reqs: Vec<Request> = rx.try_iter().collect();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert!(
            r.head.starts_with("POST /hooks/palisade HTTP/1.1\r\n"),
            "{}",
            r.head
        );
        assert!(r.head.contains("Authorization: Bearer t0k3n\r\n"));
        assert!(r.head.contains("Content-Type: application/json\r\n"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["type"], "K8S_PrivilegedContainer");
    }
}

#[test]
fn webhook_gives_up_on_client_errors_and_after_the_retries() {
    let (url, rx, h) = http_server(vec![400]);
    let mut exp =
        WebhookExporter::new(&url, Vec::new(), WebhookFormat::Ocsf, fast_retries()).unwrap();
    let err = exp.export(&alerts()[..1]).unwrap_err().to_string();
    h.join().unwrap();
    assert!(err.contains("HTTP 400 after 1 attempt"), "{err}");
    let req = rx.recv().unwrap();
    let v: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(v["class_uid"], 2004);

    let (url, _rx, h) = http_server(vec![503, 503, 503, 503]);
    let mut exp =
        WebhookExporter::new(&url, Vec::new(), WebhookFormat::Alert, fast_retries()).unwrap();
    let err = exp.export(&alerts()[..1]).unwrap_err().to_string();
    h.join().unwrap();
    assert!(err.contains("HTTP 503 after 4 attempt"), "{err}");

    // Nothing listens: connection errors are retried, then reported.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut exp = WebhookExporter::new(
        &format!("http://127.0.0.1:{port}/"),
        Vec::new(),
        WebhookFormat::Alert,
        fast_retries(),
    )
    .unwrap();
    assert!(exp.export(&alerts()[..1]).is_err());
}

#[test]
fn splunk_hec_batches_events() {
    let (url, rx, h) = http_server(vec![503, 200]);
    let mut exp =
        SplunkHecExporter::new(&url, "11111111-2222-3333-4444-555555555555", fast_retries())
            .unwrap()
            .with_index("k8s")
            .with_host("sensor-1");
    exp.export(&alerts()).unwrap();
    h.join().unwrap();
    let reqs: Vec<Request> = rx.try_iter().collect();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[1];
    assert!(
        r.head
            .starts_with("POST /services/collector/event HTTP/1.1\r\n"),
        "{}",
        r.head
    );
    assert!(
        r.head
            .contains("Authorization: Splunk 11111111-2222-3333-4444-555555555555\r\n")
    );
    let events: Vec<Value> = serde_json::Deserializer::from_slice(&r.body)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["time"], 1_714_557_780.25);
    assert_eq!(events[0]["index"], "k8s");
    assert_eq!(events[0]["host"], "sensor-1");
    assert_eq!(events[0]["sourcetype"], "palisade:alert");
    assert_eq!(events[0]["event"]["type"], "K8S_PrivilegedContainer");
    assert_eq!(events[1]["event"]["type"], "K8S_TestAlert");
}

#[test]
fn ocsf_detection_finding() {
    let a = &alerts()[0];
    let f = ocsf::detection_finding(a);
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(f["category_uid"], 2);
    assert_eq!(f["activity_id"], 1);
    assert_eq!(f["type_uid"], 200401);
    assert_eq!(f["severity_id"], 1);
    assert_eq!(f["time"], 1_714_557_780_250_i64);
    assert_eq!(f["count"], 2);
    assert_eq!(f["metadata"]["version"], ocsf::OCSF_VERSION);
    assert_eq!(f["metadata"]["product"]["name"], "palisade");
    let info = &f["finding_info"];
    assert_eq!(info["types"][0], "K8S_PrivilegedContainer");
    assert_eq!(info["first_seen_time"], 1_714_557_600_250_i64);
    assert_eq!(info["analytic"]["name"], "Privileged container created");
    assert_eq!(info["attacks"][0]["tactic"]["uid"], "TA0004");
    assert_eq!(info["attacks"][0]["tactic"]["name"], "Privilege Escalation");
    assert_eq!(info["attacks"][0]["technique"]["uid"], "T1611");
    assert_eq!(info["attacks"][0]["technique"]["name"], "Escape to Host");
    assert_eq!(info["related_events"][1]["uid"], "a-2");
    assert_eq!(f["resources"][0]["namespace"], "shop");
    assert_eq!(f["resources"][0]["type"], "pods");
    assert_eq!(f["resources"][0]["name"], "miner");
    assert_eq!(f["actor"]["user"]["name"], "mallory@example.com");
    assert_eq!(f["unmapped"]["cluster"], "prod|eu");
    assert!(
        f["remediation"]["desc"]
            .as_str()
            .unwrap()
            .contains("privileged")
    );
}

// TLS: a CA, and a server certificate for localhost and 127.0.0.1 signed by it, made once
// with openssl for these tests (tests/data/tls; valid until 2126).
const CA_PEM: &[u8] = include_bytes!("data/tls/ca.pem");
const SERVER_PEM: &[u8] = include_bytes!("data/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("data/tls/server.key");

fn tls_server_config() -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM)
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    std::sync::Arc::new(cfg)
}

fn test_ca() -> palisade_detect::export::TlsOptions {
    palisade_detect::export::TlsOptions {
        system_roots: false,
        extra_roots_pem: Some(CA_PEM.to_vec()),
    }
}

#[test]
fn syslog_over_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(tls_server_config()).unwrap();
        let mut r = BufReader::new(rustls::StreamOwned::new(conn, tcp));
        let mut frames = Vec::new();
        while frames.len() < 2 {
            let mut len = Vec::new();
            r.read_until(b' ', &mut len).unwrap();
            let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                .unwrap()
                .parse()
                .unwrap();
            let mut msg = vec![0u8; n];
            r.read_exact(&mut msg).unwrap();
            frames.push(String::from_utf8(msg).unwrap());
        }
        frames
    });
    let opts = SyslogOptions {
        transport: SyslogTransport::Tls,
        tls: test_ca(),
        ..Default::default()
    };
    let mut exp = SyslogExporter::new(&format!("localhost:{port}"), opts).unwrap();
    exp.export(&alerts()).unwrap();
    let frames = server.join().unwrap();
    assert!(
        frames[0].contains(r#" type="K8S_PrivilegedContainer""#),
        "{}",
        frames[0]
    );
    assert!(
        frames[1].contains(r#" type="K8S_TestAlert""#),
        "{}",
        frames[1]
    );
}

#[test]
fn webhook_over_https_verifies_the_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(tls_server_config()).unwrap();
            let mut s = rustls::StreamOwned::new(conn, tcp);
            let mut r = BufReader::new(&mut s);
            let mut head = String::new();
            let mut line = String::new();
            // The client that does not trust our CA aborts the handshake.
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                head.push_str(&line);
                line.clear();
            }
            let Some(len) = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map(|v| v.trim().parse::<usize>().unwrap())
            else {
                continue;
            };
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            s.conn.send_close_notify();
            let _ = s.flush();
            bodies.push(body);
        }
        bodies
    });
    // Without the test CA (the system store does not know it), the handshake fails.
    let untrusting = palisade_detect::export::TlsOptions {
        system_roots: false,
        extra_roots_pem: Some(SERVER_PEM.to_vec()),
    };
    let mut exp = WebhookExporter::new(
        &format!("https://localhost:{port}/hook"),
        Vec::new(),
        WebhookFormat::Alert,
        RetryPolicy {
            max_retries: 0,
            ..fast_retries()
        },
    )
    .unwrap()
    .with_tls(untrusting);
    let err = exp.export(&alerts()[..1]).unwrap_err().to_string();
    assert!(err.contains("certificate"), "{err}");

    let mut exp = WebhookExporter::new(
        &format!("https://localhost:{port}/hook"),
        Vec::new(),
        WebhookFormat::Ocsf,
        fast_retries(),
    )
    .unwrap()
    .with_tls(test_ca());
    exp.export(&alerts()[..1]).unwrap();
    let bodies = server.join().unwrap();
    assert_eq!(bodies.len(), 1);
    let v: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(v["class_uid"], 2004);
}
