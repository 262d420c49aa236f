//! `palisade runtime serve-audit`: the audit webhook with a sensor token, alerts stored with
//! their lifecycle, and at-least-once export: the process is killed (SIGKILL) while a batch
//! is in flight to a SIEM that never answers, and after a restart every alert arrives.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Running, http, token};

/// A SIEM webhook: records every alert posted; while `hang` is set it accepts connections,
/// reads the request and never answers.
struct Siem {
    port: u16,
    hang: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Siem {
    fn start() -> Siem {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hang = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (h, c, r) = (hang.clone(), connections.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (h, r) = (h.clone(), r.clone());
                std::thread::spawn(move || serve(stream, &h, &r));
            }
        });
        Siem {
            port,
            hang,
            connections,
            received,
        }
    }
}

fn serve(stream: TcpStream, hang: &AtomicBool, received: &Mutex<Vec<serde_json::Value>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if hang.load(Ordering::SeqCst) {
        // hold the connection open, never answer
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        received.lock().unwrap().push(v);
    }
    let mut s = stream;
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// Starts `serve-audit` on a free port; returns it and its port.
fn serve_audit(data: &Path, siem: u16) -> (Running, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "runtime",
            "serve-audit",
            "--plain-http",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--export",
            &format!("webhook=http://127.0.0.1:{siem}/hook"),
            "--export-lease",
            "2s",
        ])
        .env("PALISADE_DATA_DIR", data)
        .env_remove("PALISADE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve-audit did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (running, port)
}

/// An EventList as the API server's webhook backend posts it: `users` each list pods in the
/// reserved canary namespace (the built-in test alert, one alert per user).
fn event_list(users: &[String]) -> String {
    let items: Vec<serde_json::Value> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            serde_json::json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("00000000-0000-0000-0000-{i:012}"), "stage": "ResponseComplete",
                "requestURI": "/api/v1/namespaces/palisade-canary/pods", "verb": "list",
                "user": {"username": u, "groups": ["system:authenticated"]},
                "sourceIPs": ["10.0.0.7"],
                "objectRef": {"resource": "pods", "namespace": "palisade-canary", "apiVersion": "v1"},
                "responseStatus": {"code": 200},
                "requestReceivedTimestamp": "2026-12-01T10:00:00.000000Z",
                "stageTimestamp": "2026-12-01T10:00:00.010000Z"
            })
        })
        .collect();
    serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
        .to_string()
}

#[test]
fn audit_webhook_alerts_survive_a_kill_mid_export() {
    let data = tempfile::tempdir().unwrap();
    let siem = Siem::start();
    let sensor = token(data.path(), &[], "sensor");
    let reader = token(data.path(), &[], "reader");
    let admin = token(data.path(), &[], "admin");
    let (mut server, port) = serve_audit(data.path(), siem.port);

    let users: Vec<String> = (0..5).map(|i| format!("canary-tester-{i}")).collect();
    let body = event_list(&users);
    // no token, a reader token: refused; the sensor token: accepted
    assert_eq!(
        http(port, "POST", "/api/v1/audit/webhook", None, &body).0,
        401
    );
    assert_eq!(
        http(port, "POST", "/api/v1/audit/webhook", Some(&reader), &body).0,
        403
    );
    let (status, outcome) = http(port, "POST", "/api/v1/audit/webhook", Some(&sensor), &body);
    assert_eq!(status, 200, "{outcome}");
    let outcome: serde_json::Value = serde_json::from_str(&outcome).unwrap();
    assert_eq!(outcome["events"], 5, "{outcome}");
    assert_eq!(outcome["alerts"], 5, "{outcome}");
    // a sensor token reads nothing
    assert_eq!(
        http(port, "GET", "/api/v1/alerts", Some(&sensor), "").0,
        403
    );
    // the alerts are stored with their lifecycle
    let (status, alerts) = http(port, "GET", "/api/v1/alerts", Some(&admin), "");
    assert_eq!(status, 200);
    let alerts: serde_json::Value = serde_json::from_str(&alerts).unwrap();
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{alerts}");
    assert!(items.iter().all(|a| a["status"] == "active"), "{alerts}");

    // the export is in flight to a SIEM that never answers: kill the process there
    let deadline = Instant::now() + Duration::from_secs(30);
    while siem.connections.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no export was attempted");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(siem.received.lock().unwrap().is_empty());

    // the SIEM recovers, palisade restarts: every alert arrives (duplicates allowed)
    siem.hang.store(false, Ordering::SeqCst);
    let (mut server, _port) = serve_audit(data.path(), siem.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        let got: BTreeSet<String> = siem
            .received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|a| a["user"].as_str().map(str::to_owned))
            .collect();
        if got.len() == users.len() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(delivered, users.iter().cloned().collect::<BTreeSet<_>>());
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.0.wait().unwrap().success());
}
