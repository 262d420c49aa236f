//! Browser test of the dashboard in headless Chromium, driven through the Chrome DevTools
//! Protocol.
//!
//! The server runs on plain HTTP on 127.0.0.1 over a temporary SQLite store seeded with a
//! cluster snapshot of real manifests from the corpus (microservices-demo and bank-of-anthos,
//! scanned by the posture engine), alerts of every severity and an image report. Chromium signs
//! in through the login form, opens every page, applies filters through the forms, dismisses
//! an alert as admin, and is refused as a reader. Each page passes markup checks (skip link,
//! one `h1`, heading order, labelled controls, scoped header cells, charts with text) and is
//! saved as a full-page PNG under `$PALISADE_SCREENSHOTS` (default `<target dir>/screenshots`).
//!
//! The CDP client is a few dozen lines over `--remote-debugging-pipe` (NUL-separated JSON on
//! the browser's file descriptors 3 and 4, set up by `sh` redirections so no unsafe code or
//! websocket crate is needed). Chromium is stopped in `Drop` by its pid (also when an
//! assertion fails). When Chromium is missing the test fails under `CI` and prints SKIPPED
//! otherwise.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use palisade_inventory::{LoadOptions, LoadReport};
use palisade_model::{ResourceRef, Severity};
use palisade_server::{Config, Role, Server, TlsMode, create_token};
use palisade_store::{ImageReport, Mitre, NewAlert, PlatformStore as _, SqliteStore, Store as _};
use serde_json::{Value, json};

/// How long one protocol command or page load may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium and one page (a flattened session on one target).
struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: Receiver<Value>,
    /// Events received while waiting for a command's answer.
    events: VecDeque<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium and opens a blank page; `None` when the binary is missing.
    fn start() -> Option<Browser> {
        let binary = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        if !binary.exists() {
            let msg = format!(
                "chromium not found at {} (install it or set CHROMIUM)",
                binary.display()
            );
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        let profile = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(profile.path().join("chromium.log")).unwrap();
        // fd 3 = commands to the browser (our stdin pipe), fd 4 = its answers (our stdout pipe).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1280,900",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let to_browser = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        let mut browser = Browser {
            child,
            to_browser,
            from_browser: rx,
            events: VecDeque::new(),
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        Some(browser)
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        self.to_browser.flush().unwrap();
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let m = self.recv(deadline, method);
            if m["id"].as_u64() == Some(id) {
                if let Some(e) = m.get("error") {
                    panic!("{method} failed: {e}");
                }
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                self.events.push_back(m);
            }
        }
    }

    fn recv(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => panic!("no answer from chromium for {waiting_for}"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("chromium exited while waiting for {waiting_for}")
            }
        }
    }

    /// A browser-level command.
    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command to the page.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    /// Waits for a page event (consuming earlier ones).
    fn wait_event(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let m = match self.events.pop_front() {
                Some(m) => m,
                None => self.recv(deadline, method),
            };
            if m["method"] == method && m["sessionId"].as_str() == Some(self.session.as_str()) {
                return m["params"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page; returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    fn text(&mut self, expression: &str) -> String {
        match self.eval(expression) {
            Value::String(s) => s,
            other => panic!("{expression} is not a string: {other}"),
        }
    }

    /// Runs `action` (which makes the page navigate) and waits until the new page has loaded.
    fn navigating(&mut self, action: impl FnOnce(&mut Browser)) {
        self.events.clear();
        while self.from_browser.try_recv().is_ok() {}
        action(self);
        self.wait_event("Page.loadEventFired");
    }

    fn open(&mut self, url: &str) {
        self.navigating(|b| {
            let r = b.call("Page.navigate", json!({"url": url}));
            assert!(r.get("errorText").is_none(), "{url}: {r}");
        });
    }

    /// Clicks the element matching `selector` (a submit button or a link) and waits for the
    /// next page.
    fn click(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        );
        self.navigating(|b| assert_eq!(b.eval(&js), json!(true), "no element {selector}"));
    }

    /// Sets the value of a form field.
    fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; return true; }})()",
            json!(selector),
            json!(value)
        );
        assert_eq!(self.eval(&js), json!(true), "no field {selector}");
    }

    /// The visible text of the main landmark.
    fn main_text(&mut self) -> String {
        self.text("document.querySelector('main').innerText")
    }

    fn path(&mut self) -> String {
        self.text("location.pathname + location.search")
    }

    /// Markup checks every page must pass: a skip link to the main landmark, one `h1`,
    /// headings without skipped levels, every form control labelled, every table header
    /// cell scoped, every chart with a text alternative.
    fn check_accessibility(&mut self, name: &str) {
        let problems = self.eval(
            r#"(() => {
              const p = [];
              const skip = document.querySelector('a.skip');
              if (!skip || skip.getAttribute('href') !== '#main' || !document.querySelector('main#main')) p.push('skip link / main landmark');
              if (document.querySelectorAll('h1').length !== 1) p.push('exactly one h1');
              let level = 1;
              for (const h of document.querySelectorAll('h1, h2, h3, h4')) {
                const l = Number(h.tagName[1]);
                if (l > level + 1) p.push('heading level skipped at ' + h.innerText);
                level = l;
              }
              for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
                if (c.labels.length === 0 || !c.labels[0].innerText.trim()) p.push('unlabelled control ' + (c.id || c.name));
              }
              for (const th of document.querySelectorAll('th')) {
                if (!th.getAttribute('scope')) p.push('th without scope: ' + th.innerText);
              }
              for (const svg of document.querySelectorAll('svg')) {
                if (svg.getAttribute('role') !== 'img' || !svg.querySelector('title') || !svg.querySelector('desc')) p.push('chart without text alternative');
              }
              return p;
            })()"#,
        );
        assert_eq!(problems, json!([]), "{name}");
    }

    /// Saves a PNG of the whole page (beyond the viewport).
    fn screenshot(&mut self, dir: &Path, name: &str) {
        self.check_accessibility(name);
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let (w, h) = (
            size["width"].as_f64().unwrap().ceil(),
            size["height"].as_f64().unwrap().ceil(),
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
            }),
        );
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely, then make sure: the browser process by its pid.
        self.next_id += 1;
        let msg = json!({"id": self.next_id, "method": "Browser.close", "params": {}});
        let mut bytes = serde_json::to_vec(&msg).unwrap_or_default();
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes);
        let _ = self.to_browser.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (screenshots arrive base64-encoded).
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c) << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..chunk.len() - 1]);
    }
    out
}

#[test]
fn base64_decodes_padded_and_unpadded_input() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("PALISADE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .unwrap()
                .join("screenshots")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const EXTRA: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: palisade-sensor
  namespace: palisade-system
  labels: {app.kubernetes.io/name: palisade-sensor}
spec:
  selector: {matchLabels: {app: sensor}}
  template:
    metadata:
      labels: {app: sensor}
    spec:
      containers:
        - name: sensor
          image: ghcr.io/palisade/sensor:0.1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments-reconciliation-worker-with-an-unusually-long-generated-name-for-layout-checks
  namespace: finance-batch-processing
  labels: {app: reconcile}
spec:
  selector: {matchLabels: {app: reconcile}}
  template:
    metadata:
      labels: {app: reconcile}
    spec:
      hostNetwork: true
      containers:
        - name: worker
          image: registry.internal.example.com/finance/payments-reconciliation-worker@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
          securityContext: {privileged: true}
"#;

const DIGEST: &str = "sha256:4f1c7d0e5a9b3c2d1e0f";

struct Seeded {
    admin: String,
    reader: String,
    alerts: BTreeMap<&'static str, i64>,
}

async fn seed(store: &SqliteStore, corpus: &Path) -> Seeded {
    let mut report = LoadReport::default();
    for file in [
        "manifests/microservices-demo/release/kubernetes-manifests.yaml",
        "manifests/bank-of-anthos/kubernetes-manifests",
    ] {
        report.load_path(&corpus.join(file), &LoadOptions::default());
    }
    report.load_bytes("extra.yaml", EXTRA.as_bytes(), &LoadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.inventory.objects.len() > 30);
    let findings =
        palisade_posture::scan(&report.inventory, &palisade_posture::ScanConfig::default());
    assert!(!findings.is_empty());
    store
        .upsert_cluster("c-prod", "prod-eu-west", "https://10.0.0.1:6443")
        .await
        .unwrap();
    store
        .save_snapshot("c-prod", &report.inventory.objects, &findings)
        .await
        .unwrap();

    let pod = |ns: &str, name: &str| ResourceRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(ns.into()),
        name: name.into(),
    };
    let mut alerts = BTreeMap::new();
    for (key, alert_type, severity, tactic, technique, resource, message) in [
        (
            "miner",
            "K8S_CryptoMiningImage",
            Severity::Critical,
            "TA0040",
            "T1496",
            pod("default", "frontend-7d9f8b6c5-x2x9k"),
            "Container image xmrig/xmrig:latest is a known digital currency miner",
        ),
        (
            "priv",
            "K8S_PrivilegedContainer",
            Severity::High,
            "TA0004",
            "T1611",
            pod(
                "finance-batch-processing",
                "payments-reconciliation-worker-with-an-unusually-long-generated-name-for-layout-checks-5f7c9",
            ),
            "Privileged container started in namespace finance-batch-processing",
        ),
        (
            "exec",
            "K8S_ExecIntoPod",
            Severity::Medium,
            "TA0002",
            "T1609",
            pod("default", "cartservice-6c8f5d7b9-abcde"),
            "kubectl exec into cartservice by alice@example.com <script>alert(1)</script>",
        ),
        (
            "anon",
            "K8S_AnonymousAccess",
            Severity::Low,
            "TA0001",
            "T1078",
            pod("kube-system", "kube-apiserver"),
            "Anonymous request to /version allowed",
        ),
    ] {
        let a = store
            .record_alert(&NewAlert {
                alert_type: alert_type.into(),
                rule: key.into(),
                severity,
                mitre: Mitre {
                    tactic: Some(tactic.into()),
                    technique: Some(technique.into()),
                },
                cluster: Some("c-prod".into()),
                resource: Some(resource),
                user: Some("alice@example.com".into()),
                message: message.into(),
                seen_at: None,
                // The raw audit event the detector keeps as evidence.
                event: (key == "exec").then(|| {
                    json!({
                        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
                        "auditID": "5c1a7f0e-2b1d-4c33-9a51-0d6f0c2e9b11",
                        "stage": "ResponseStarted", "verb": "create",
                        "requestURI": "/api/v1/namespaces/default/pods/cartservice-6c8f5d7b9-abcde/exec?command=sh&stdin=true&tty=true",
                        "user": {"username": "alice@example.com", "groups": ["developers", "system:authenticated"]},
                        "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.30.2 (linux/amd64)",
                        "objectRef": {"resource": "pods", "namespace": "default", "name": "cartservice-6c8f5d7b9-abcde", "apiVersion": "v1", "subresource": "exec"},
                        "responseStatus": {"code": 101},
                        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"developers-edit\""},
                        "requestReceivedTimestamp": "2026-12-01T10:00:00.000000Z",
                        "stageTimestamp": "2026-12-01T10:00:00.020000Z"
                    })
                    .to_string()
                }),
                occurrences: 1,
            })
            .await
            .unwrap();
        alerts.insert(key, a.id);
    }

    let report = json!({
        "artifact": {"digest": DIGEST, "name": "python:3.7-slim", "distro": "debian 12"},
        "packages": [
            {"name": "Jinja2", "version": "2.10", "purl": "pkg:pypi/jinja2@2.10", "type": "python", "locations": ["usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA"]},
            {"name": "openssl", "version": "3.0.11-1~deb12u2", "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12", "type": "deb", "locations": ["var/lib/dpkg/status"]},
            {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "purl": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?distro=debian-12", "type": "deb", "locations": ["var/lib/dpkg/status"]}
        ],
        "vulnerabilities": [
            {"id": "CVE-2019-10906", "aliases": ["GHSA-462w-v97r-4m45", "PYSEC-2019-217"],
             "package": {"name": "Jinja2", "version": "2.10", "purl": "pkg:pypi/jinja2@2.10"},
             "fixed_versions": ["2.10.1"], "severity": "high",
             "cvss": {"score": 8.6, "vector": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N"},
             "kev": false, "epss": {"score": 0.0123, "percentile": 0.85},
             "remediation": "upgrade Jinja2 to >= 2.10.1",
             "summary": "Jinja2 sandbox escape via str.format_map"},
            {"id": "CVE-2023-5678", "aliases": [],
             "package": {"name": "openssl", "version": "3.0.11-1~deb12u2", "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12"},
             "fixed_versions": [], "severity": "medium", "cvss": null, "kev": true, "epss": null,
             "remediation": "no fix yet", "summary": "Excessive time spent in DH check / generation with large Q parameter value"}
        ],
        "problems": []
    });
    let mut vulns = BTreeMap::new();
    vulns.insert("high".to_owned(), 1);
    vulns.insert("medium".to_owned(), 1);
    store
        .put_image_report(&ImageReport {
            digest: DIGEST.into(),
            reference: "python:3.7-slim".into(),
            vulnerabilities: vulns,
            report,
            sbom: Some(json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})),
        })
        .await
        .unwrap();
    Seeded {
        admin: create_token(store, Role::Admin, "ops").await.unwrap(),
        reader: create_token(store, Role::Reader, "auditor").await.unwrap(),
        alerts,
    }
}

fn sign_in(b: &mut Browser, base: &str, token: &str) {
    b.open(&format!("{base}/"));
    assert_eq!(b.path(), "/login", "anonymous visitors are sent to sign in");
    b.fill("#token", token);
    b.click("form[action='/login'] button[type=submit]");
    assert_eq!(b.path(), "/", "signed in lands on the overview");
}

#[test]
fn dashboard_in_headless_chromium() {
    let Some(corpus) = palisade_testkit::corpus("manifests") else {
        return;
    };
    let corpus = corpus.parent().unwrap().to_owned();
    let Some(mut b) = Browser::start() else {
        return;
    };
    let shots = screenshot_dir();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (seeded, port, stop, task) = rt.block_on(async {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let seeded = seed(&store, &corpus).await;
        let mut config = Config::new(dir.path());
        config.tls = TlsMode::Plain;
        let server = Server::new(config, store).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        (seeded, port, stop, task)
    });
    let base = format!("http://127.0.0.1:{port}");

    // sign-in page, a wrong token, then the admin token
    b.open(&format!("{base}/login"));
    assert_eq!(
        b.text("document.querySelector('label[for=token]').innerText"),
        "API token"
    );
    b.screenshot(&shots, "01-login");
    b.fill("#token", "pal_not_a_token");
    b.click("form[action='/login'] button[type=submit]");
    assert!(b.main_text().contains("This token is not valid."));
    b.screenshot(&shots, "02-login-refused");
    sign_in(&mut b, &base, &seeded.admin);

    // overview tiles and charts
    let main = b.main_text();
    for tile in [
        "Active alerts",
        "Recommendations",
        "Vulnerable images",
        "Coverage",
        "Inventory",
    ] {
        assert!(main.contains(tile), "overview lacks {tile}: {main}");
    }
    assert_eq!(b.text("document.title"), "Overview · palisade");
    assert_eq!(
        b.eval("document.querySelectorAll('main svg.chart[role=img]').length"),
        json!(2)
    );
    assert!(
        b.text("document.querySelector('#chart-alerts-d').textContent")
            .contains("critical: 1")
    );
    assert_eq!(
        b.text("document.querySelector('nav a[aria-current=page]').innerText"),
        "Overview"
    );
    b.screenshot(&shots, "03-overview");

    // alerts list, then the severity filter applied through the form
    b.click("nav a[href='/alerts']");
    let main = b.main_text();
    for t in [
        "K8S_CryptoMiningImage",
        "K8S_PrivilegedContainer",
        "K8S_ExecIntoPod",
        // built-in types are listed by their catalogue title
        "Exec into pod detected",
        "<script>alert(1)</script>",
    ] {
        assert!(main.contains(t), "alerts lack {t}");
    }
    assert_eq!(
        b.eval("document.querySelectorAll('main script').length"),
        json!(0)
    );
    b.screenshot(&shots, "04-alerts");
    b.fill("#f-severity", "critical");
    b.click("form.filters button[type=submit]");
    assert!(b.path().contains("severity=critical"), "{}", b.path());
    let main = b.main_text();
    assert!(main.contains("K8S_CryptoMiningImage"));
    assert!(!main.contains("K8S_ExecIntoPod"));
    b.screenshot(&shots, "05-alerts-critical");

    // alert detail, dismissed by the admin
    let exec = seeded.alerts["exec"];
    b.open(&format!("{base}/alerts/{exec}"));
    let main = b.main_text();
    for t in [
        "T1609",
        "Container Administration Command",
        "TA0002",
        "Execution",
        "alice@example.com",
        "active",
        // what the catalogue says about the alert type
        "Exec into pod detected",
        // the evidence read from the raw event
        "Evidence",
        "203.0.113.7",
        "kubectl/v1.30.2",
        "101",
        "allow: RBAC: allowed by ClusterRoleBinding",
        "5c1a7f0e-2b1d-4c33-9a51-0d6f0c2e9b11",
    ] {
        assert!(main.contains(t), "alert detail lacks {t}: {main}");
    }
    b.screenshot(&shots, "06-alert-detail");
    b.fill("#c-dismiss", "expected: on-call debugging");
    b.click(&format!("form[action='/alerts/{exec}/dismiss'] button"));
    assert_eq!(b.path(), format!("/alerts/{exec}"));
    let main = b.main_text();
    assert!(main.contains("dismissed"), "{main}");
    assert!(main.contains("expected: on-call debugging"), "{main}");
    assert_eq!(
        b.eval(&format!(
            "document.querySelector(\"form[action='/alerts/{exec}/dismiss']\") === null"
        )),
        json!(true),
        "no dismiss button on a dismissed alert"
    );
    b.screenshot(&shots, "07-alert-dismissed");

    // recommendations, filtered by resource through the form
    b.click("nav a[href='/recommendations']");
    let all = b.main_text();
    assert!(all.contains("failing checks, most severe first"), "{all}");
    assert!(
        b.text("document.querySelector('main').textContent")
            .contains("Deployment/frontend"),
        "affected resources are in the page, folded"
    );
    b.screenshot(&shots, "08-recommendations");
    b.fill("#f-resource", "payments-reconciliation");
    b.click("form.filters button[type=submit]");
    assert!(b.path().contains("resource=payments-reconciliation"));
    let main = b.main_text();
    assert!(main.contains("payments-reconciliation-worker"), "{main}");
    assert!(
        !main.contains("Deployment/frontend"),
        "resource filter applies"
    );
    b.screenshot(&shots, "09-recommendations-resource");

    // inventory, filtered by namespace and kind
    b.click("nav a[href='/inventory']");
    let main = b.main_text();
    assert!(
        main.contains("frontend") && main.contains("prod-eu-west"),
        "{main}"
    );
    b.screenshot(&shots, "10-inventory");
    b.fill("#f-kind", "Deployment");
    b.fill("#f-label", "app=frontend");
    b.click("form.filters button[type=submit]");
    assert_eq!(
        b.eval(
            "[...document.querySelectorAll('main tbody tr')].map(r => r.cells[0].innerText + ' ' + r.cells[2].innerText).join()"
        ),
        json!("Deployment frontend"),
        "{}",
        b.main_text()
    );
    b.fill("#f-image", "microservices-demo/frontend");
    b.click("form.filters button[type=submit]");
    assert!(
        b.path().contains("image=microservices-demo%2Ffrontend"),
        "{}",
        b.path()
    );
    let main = b.main_text();
    assert_eq!(
        b.eval("document.querySelectorAll('main tbody tr').length"),
        json!(1),
        "{main}"
    );
    assert!(
        main.contains("online-boutique-ci/microservices-demo/frontend:v0.10.6"),
        "{main}"
    );
    b.screenshot(&shots, "11-inventory-filtered");

    // images and the image page
    b.click("nav a[href='/images']");
    assert!(b.main_text().contains("python:3.7-slim"));
    b.screenshot(&shots, "12-images");
    b.click("main a[href^='/images/']");
    let main = b.main_text();
    for t in [
        "CVE-2019-10906",
        "2.10.1",
        "upgrade Jinja2 to >= 2.10.1",
        "CVE-2023-5678",
        "no fix yet",
        "zlib1g",
    ] {
        assert!(main.contains(t), "image page lacks {t}: {main}");
    }
    b.screenshot(&shots, "13-image-detail");

    // coverage
    b.click("nav a[href='/coverage']");
    let main = b.main_text();
    assert!(main.contains("prod-eu-west: runtime sensor"), "{main}");
    assert!(main.contains("admission webhook"), "{main}");
    b.screenshot(&shots, "14-coverage");

    // a reader: no dismiss button, and a forged dismiss is refused
    b.click("form.account button[type=submit]");
    assert_eq!(b.path(), "/login");
    sign_in(&mut b, &base, &seeded.reader);
    let priv_id = seeded.alerts["priv"];
    b.open(&format!("{base}/alerts/{priv_id}"));
    assert_eq!(
        b.eval("document.querySelectorAll(\"main form[action$='/dismiss']\").length"),
        json!(0),
        "readers get no dismiss button"
    );
    assert!(
        b.main_text()
            .contains("Only admins can dismiss or resolve alerts.")
    );
    b.screenshot(&shots, "15-alert-reader");
    b.navigating(|b| {
        let js = format!(
            "(() => {{ const f = document.createElement('form'); f.method = 'post'; \
             f.action = '/alerts/{priv_id}/dismiss'; const c = document.createElement('input'); \
             c.type = 'hidden'; c.name = 'csrf'; \
             c.value = document.querySelector('input[name=csrf]').value; f.appendChild(c); \
             document.body.appendChild(f); f.submit(); return true; }})()"
        );
        assert_eq!(b.eval(&js), json!(true));
    });
    assert_eq!(b.text("document.title"), "Forbidden · palisade");
    assert!(b.main_text().contains("admin"), "{}", b.main_text());
    b.screenshot(&shots, "16-dismiss-refused");
    b.open(&format!("{base}/alerts/{priv_id}"));
    assert!(b.main_text().contains("active"), "the alert is unchanged");

    // a missing page
    b.open(&format!("{base}/no-such-page"));
    assert_eq!(b.text("document.title"), "Not Found · palisade");
    b.screenshot(&shots, "17-not-found");

    drop(b);
    let _ = stop.send(());
    rt.block_on(task).unwrap().unwrap();
}
