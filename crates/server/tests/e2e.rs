//! End-to-end tests: the server on 127.0.0.1:0 over TLS with its generated self-signed
//! certificate, a real HTTPS client trusting that certificate, data seeded through the store
//! (a snapshot parsed from manifests and scanned by the posture engine, alerts, an image
//! report), then every API route, auth, limits, the dashboard and plain-HTTP rules.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_inventory::{LoadOptions, LoadReport};
use palisade_model::{ResourceRef, Severity};
use palisade_server::{Config, Role, Server, TlsMode, create_token};
use palisade_store::{ImageReport, Mitre, NewAlert, PlatformStore as _, SqliteStore, Store as _};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: nginx:1.25
          securityContext:
            privileged: true
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {app: api, tier: backend}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example/api:2.1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: palisade-sensor
  namespace: palisade
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
"#;

const DIGEST: &str = "sha256:4f1c7d0e5a9b";

struct Seeded {
    alert_ids: BTreeMap<&'static str, i64>,
}

async fn seed(store: &SqliteStore) -> Seeded {
    let mut report = LoadReport::default();
    report.load_bytes("shop.yaml", MANIFESTS.as_bytes(), &LoadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let findings =
        palisade_posture::scan(&report.inventory, &palisade_posture::ScanConfig::default());
    assert!(findings.iter().any(|f| f.resource.name == "web"));
    store
        .upsert_cluster("c-prod", "prod", "https://10.0.0.1:6443")
        .await
        .unwrap();
    store
        .save_snapshot("c-prod", &report.inventory.objects, &findings)
        .await
        .unwrap();

    let pod = |name: &str| ResourceRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some("shop".into()),
        name: name.into(),
    };
    let mut alert_ids = BTreeMap::new();
    for (key, alert_type, severity, technique, message) in [
        (
            "exec",
            "K8S_ExecIntoContainer",
            Severity::Medium,
            "T1609",
            "kubectl exec into web-0 by alice <script>alert(1)</script>",
        ),
        (
            "priv",
            "K8S_PrivilegedContainer",
            Severity::High,
            "T1611",
            "privileged container started",
        ),
        (
            "miner",
            "K8S_CryptoMiningImage",
            Severity::Critical,
            "T1496",
            "digital currency mining image",
        ),
    ] {
        let a = store
            .record_alert(&NewAlert {
                alert_type: alert_type.into(),
                rule: key.into(),
                severity,
                mitre: Mitre {
                    tactic: Some("TA0002".into()),
                    technique: Some(technique.into()),
                },
                cluster: Some("c-prod".into()),
                resource: Some(pod("web-0")),
                user: Some("alice".into()),
                message: message.into(),
                seen_at: None,
                event: (key == "exec").then(|| {
                    json!({"auditID": "a-1", "verb": "create", "sourceIPs": ["10.0.0.7"],
                           "objectRef": {"resource": "pods", "namespace": "shop",
                                         "name": "web-0", "subresource": "exec"}})
                    .to_string()
                }),
                occurrences: 1,
            })
            .await
            .unwrap();
        alert_ids.insert(key, a.id);
    }

    let mut vulns = BTreeMap::new();
    vulns.insert("critical".to_owned(), 1);
    vulns.insert("high".to_owned(), 3);
    store
        .put_image_report(&ImageReport {
            digest: DIGEST.into(),
            reference: "nginx:1.25".into(),
            vulnerabilities: vulns,
            report: json!({"matches": [{"id": "CVE-2024-0001", "severity": "critical"}]}),
            sbom: Some(json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})),
        })
        .await
        .unwrap();
    Seeded { alert_ids }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Harness {
    base: String,
    client: HttpsClient,
    admin: String,
    reader: String,
    sensor: String,
    seeded: Seeded,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), palisade_server::Error>>>,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

fn tls_client(cert_pem: &std::path::Path) -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let seeded = seed(&store).await;
        let admin = create_token(&store, Role::Admin, "ops").await.unwrap();
        let reader = create_token(&store, Role::Reader, "auditor").await.unwrap();
        let sensor = create_token(&store, Role::Sensor, "node-sensor")
            .await
            .unwrap();
        // As `palisade up` builds it: alerts recorded as they open, with their first event.
        let (analyzer, _) =
            palisade_detect::alert::Analyzer::new(palisade_detect::alert::AnalyzerOptions {
                dedup: palisade_detect::alert::DedupOptions {
                    emit_on_open: true,
                    keep_event: true,
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        let audit = palisade_server::AuditReceiver::new(
            analyzer,
            palisade_detect::ingest::IngestOptions::default(),
            None,
            Vec::new(),
        );
        let server = Server::new(Config::new(dir.path()), store)
            .unwrap()
            .with_audit(audit);
        let cert = server.certificate_path().unwrap().to_owned();
        assert!(cert.starts_with(dir.path()), "generated under the data dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        Harness {
            base: format!("https://127.0.0.1:{port}"),
            client: tls_client(&cert),
            admin,
            reader,
            sensor,
            seeded,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some((ctype, bytes)) => {
                req = req.header(header::CONTENT_TYPE, ctype);
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.client.request(req.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(Method::GET, path, token, &[], None).await
    }

    async fn post_json(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            Method::POST,
            path,
            Some(token),
            &[],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// Stops the server and hands over its data directory (deleted when dropped).
    async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        self._dir
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

fn openapi() -> Value {
    serde_json::from_str(palisade_server::OPENAPI_JSON).unwrap()
}

/// Validates `instance` against the documented JSON schema of `path`/`method`/`status`.
fn assert_documented(doc: &Value, path: &str, method: &str, status: u16, instance: &Value) {
    let errors = schema_errors(doc, path, method, status, instance);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: response does not match the schema: {errors:#?}\n{instance:#}"
    );
}

/// The schema violations of `instance` against the documented response.
fn schema_errors(
    doc: &Value,
    path: &str,
    method: &str,
    status: u16,
    instance: &Value,
) -> Vec<String> {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let mut response = op["responses"][status.to_string()].clone();
    assert!(
        response.is_object(),
        "{method} {path}: status {status} is not documented"
    );
    if let Some(r) = response["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        response = doc["components"]["responses"][name].clone();
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema"
    );
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_documented_route_answers_and_matches_its_schema() {
    let h = Harness::start().await;
    let doc = openapi();
    let recs = h.get("/api/v1/recommendations", Some(&h.reader)).await;
    assert_eq!(recs.status, StatusCode::OK);
    let check_id = recs.json()["items"][0]["check_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alert = h.seeded.alert_ids["exec"].to_string();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("/clusters/{id}", "/clusters/c-prod")
                .replace("/alerts/{id}", &format!("/alerts/{alert}"))
                .replace("{check_id}", &check_id)
                .replace("{digest}", DIGEST);
            let body = match (method.as_str(), path.as_str()) {
                ("put", "/api/v1/settings") => Some(
                    json!({"trusted_registries": ["registry.example"], "scan_interval_seconds": 600})
                        .to_string(),
                ),
                ("post", _) => Some(json!({"comment": "checked by the e2e test"}).to_string()),
                _ => None,
            };
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = h
                .send(
                    m,
                    &concrete,
                    Some(&h.admin),
                    &[],
                    body.map(|b| ("application/json", b.into_bytes())),
                )
                .await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{method} {concrete}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            assert!(answer.headers.contains_key("x-request-id"));
            let ctype = answer.headers[header::CONTENT_TYPE].to_str().unwrap();
            if ctype.starts_with("application/json") {
                assert_documented(&doc, path, method, 200, &answer.json());
            } else {
                assert!(
                    doc["paths"][path][method]["responses"]["200"]["content"]
                        .get(ctype.split(';').next().unwrap())
                        .is_some(),
                    "{path}: undocumented content type {ctype}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 22, "routes exercised");

    // the validation has teeth: a wrong type deep inside, or a missing field, is caught
    let mut alert_doc = h
        .get(&format!("/api/v1/alerts/{alert}"), Some(&h.reader))
        .await
        .json();
    alert_doc["mitre"]["technique"] = json!("not-a-technique");
    assert!(!schema_errors(&doc, "/api/v1/alerts/{id}", "get", 200, &alert_doc).is_empty());
    alert_doc.as_object_mut().unwrap().remove("mitre");
    assert!(!schema_errors(&doc, "/api/v1/alerts/{id}", "get", 200, &alert_doc).is_empty());

    // what those calls changed
    let a = h
        .get(&format!("/api/v1/alerts/{alert}"), Some(&h.reader))
        .await;
    assert_eq!(a.json()["status"], "resolved", "dismissed, then resolved");
    assert_eq!(a.json()["status_by"], json!("ops#1"));
    let s = h.get("/api/v1/settings", Some(&h.reader)).await.json();
    assert_eq!(s["scan_interval_seconds"], 600);
    assert_eq!(
        s["alert_retention_days"], 90,
        "omitted fields take defaults"
    );

    // error bodies match the documented error schema too
    let missing = h.get("/api/v1/alerts/9999", Some(&h.reader)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = h.get("/api/v1/alerts/9999/events", Some(&h.reader)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let exec = h.seeded.alert_ids["exec"];
    let events = h
        .get(&format!("/api/v1/alerts/{exec}/events"), Some(&h.reader))
        .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.json()["items"][0]["event"]["auditID"], "a-1");
    assert_documented(&doc, "/api/v1/alerts/{id}", "get", 404, &missing.json());
    let bad = h
        .get("/api/v1/alerts?severity=urgent", Some(&h.reader))
        .await;
    assert_documented(&doc, "/api/v1/alerts", "get", 400, &bad.json());
    h.stop().await;
}

#[tokio::test]
async fn api_content_reflects_the_seeded_store() {
    let h = Harness::start().await;
    let t = Some(h.reader.as_str());
    let clusters = h.get("/api/v1/clusters", t).await.json();
    assert_eq!(clusters["items"][0]["name"], "prod");
    assert_eq!(clusters["items"][0]["latest_snapshot"]["objects"], 5);

    let web = h
        .get("/api/v1/resources?label=app%3Dweb&kind=deployment", t)
        .await
        .json();
    assert_eq!(web["total"], 1);
    assert_eq!(web["items"][0]["name"], "web");
    assert_eq!(web["items"][0]["images"], json!(["nginx:1.25"]));
    assert!(web["items"][0]["findings"].as_u64().unwrap() > 0);
    let by_image = h
        .get("/api/v1/resources?image=registry.example", t)
        .await
        .json();
    assert_eq!(by_image["items"][0]["name"], "api");
    let ns = h
        .get("/api/v1/resources?namespace=shop&limit=2", t)
        .await
        .json();
    assert_eq!(
        (ns["total"].as_u64(), ns["items"].as_array().unwrap().len()),
        (Some(3), 2)
    );

    let recs = h.get("/api/v1/recommendations", t).await.json();
    let items = recs["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let severities: Vec<Severity> = items
        .iter()
        .map(|r| serde_json::from_value(r["severity"].clone()).unwrap())
        .collect();
    assert!(
        severities.windows(2).all(|w| w[0] >= w[1]),
        "most severe first"
    );
    let privileged = items
        .iter()
        .find(|r| r["check_id"].as_str().unwrap().contains("privileged"))
        .expect("the privileged web deployment is flagged");
    let check = privileged["check_id"].as_str().unwrap();
    let detail = h
        .get(&format!("/api/v1/recommendations/{check}"), t)
        .await
        .json();
    assert_eq!(detail["affected"][0]["resource"]["name"], "web");
    assert_eq!(detail["affected_count"], privileged["affected_count"]);
    assert_eq!(detail["next"], Value::Null);
    let only_api = h
        .get("/api/v1/recommendations?resource=deployment/shop/api", t)
        .await
        .json();
    let only_api = only_api["items"].as_array().unwrap();
    assert!(!only_api.is_empty());
    for r in only_api {
        let detail = h
            .get(
                &format!(
                    "/api/v1/recommendations/{}?resource=deployment/shop/api",
                    r["check_id"].as_str().unwrap()
                ),
                t,
            )
            .await
            .json();
        let affected = detail["affected"].as_array().unwrap();
        assert_eq!(affected.len() as u64, r["affected_count"].as_u64().unwrap());
        for a in affected {
            assert_eq!(a["resource"]["name"], "api");
        }
    }
    // the affected resources of the most common check, one per page through the cursor
    let busiest = items
        .iter()
        .max_by_key(|r| r["affected_count"].as_u64().unwrap())
        .unwrap();
    let check = busiest["check_id"].as_str().unwrap();
    let all = h
        .get(&format!("/api/v1/recommendations/{check}"), t)
        .await
        .json();
    let mut walked = Vec::new();
    let mut path = format!("/api/v1/recommendations/{check}?limit=1");
    loop {
        let p = h.get(&path, t).await.json();
        assert_eq!(p["affected"].as_array().unwrap().len(), 1, "{p}");
        walked.push(p["affected"][0].clone());
        match p["next"].as_str() {
            Some(next) => path = format!("/api/v1/recommendations/{check}?limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(walked), all["affected"]);
    assert!(all["affected"].as_array().unwrap().len() > 1);
    assert_eq!(
        h.get("/api/v1/recommendations/no-such-check", t)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let alerts = h.get("/api/v1/alerts?severity=critical", t).await.json();
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);
    assert_eq!(alerts["items"][0]["type"], "K8S_CryptoMiningImage");
    assert_eq!(alerts["items"][0]["mitre"]["technique"], "T1496");
    let active = h.get("/api/v1/alerts?status=active", t).await.json();
    assert_eq!(active["items"].as_array().unwrap().len(), 3);
    assert_eq!(active["next"], Value::Null);
    // one alert per page: the cursor walks the same list
    let mut walked = Vec::new();
    let mut path = "/api/v1/alerts?status=active&limit=1".to_owned();
    loop {
        let p = h.get(&path, t).await.json();
        walked.extend(p["items"].as_array().unwrap().iter().cloned());
        match p["next"].as_str() {
            Some(next) => path = format!("/api/v1/alerts?status=active&limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(walked), active["items"]);

    // the inventory pages through its cursor too
    let everything = h.get("/api/v1/resources", t).await.json();
    assert_eq!(everything["next"], Value::Null);
    let mut walked = Vec::new();
    let mut path = "/api/v1/resources?limit=2".to_owned();
    loop {
        let p = h.get(&path, t).await.json();
        assert_eq!(p["total"], everything["total"]);
        walked.extend(p["items"].as_array().unwrap().iter().cloned());
        match p["next"].as_str() {
            Some(next) => path = format!("/api/v1/resources?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(walked), everything["items"]);

    let overview = h.get("/api/v1/overview", t).await.json();
    assert_eq!(overview["active_alerts"]["critical"], 1);
    assert_eq!(overview["images"], json!({"total": 1, "vulnerable": 1}));

    let cov = h.get("/api/v1/coverage", t).await.json();
    let status_of = |component: &str| {
        cov["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["component"] == component)
            .map(|i| i["status"].clone())
            .unwrap()
    };
    assert_eq!(status_of("discovery"), "healthy");
    assert_eq!(status_of("sensor"), "healthy");
    assert_eq!(status_of("admission"), "missing");

    let sbom = h
        .get(&format!("/api/v1/images/{DIGEST}/sbom"), t)
        .await
        .json();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let none = h.get("/api/v1/images/sha256:0000/sbom", t).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);

    // metrics count requests by route template and expose findings and alerts
    let m = h.get("/metrics", t).await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.text();
    assert!(
        text.contains(
            "palisade_http_requests_total{method=\"GET\",route=\"/api/v1/images/{digest}/sbom\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("palisade_alerts{status=\"active\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("palisade_findings{severity=\"critical\"}"),
        "{text}"
    );
    assert!(text.contains("palisade_clusters 1"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn tokens_are_required_and_roles_enforced() {
    let h = Harness::start().await;
    let anonymous = h.get("/api/v1/alerts", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(anonymous.json()["error"], "unauthorized");
    let forged = h.get("/api/v1/alerts", Some("pal_0000")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let wrong_scheme = h
        .send(
            Method::GET,
            "/api/v1/alerts",
            None,
            &[("authorization", &format!("Basic {}", h.reader))],
            None,
        )
        .await;
    assert_eq!(wrong_scheme.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.get("/metrics", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // health, readiness and the API document are public
    assert_eq!(h.get("/healthz", None).await.json()["status"], "ok");
    assert_eq!(h.get("/readyz", None).await.json()["status"], "ready");
    assert_eq!(
        h.get("/api/v1/openapi.json", None).await.status,
        StatusCode::OK
    );

    let id = h.seeded.alert_ids["priv"];
    assert_eq!(
        h.get(&format!("/api/v1/alerts/{id}"), Some(&h.reader))
            .await
            .status,
        StatusCode::OK
    );
    let refused = h
        .post_json(
            &format!("/api/v1/alerts/{id}/dismiss"),
            &h.reader,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"], "forbidden");
    let refused = h
        .send(
            Method::PUT,
            "/api/v1/settings",
            Some(&h.reader),
            &[],
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let still = h
        .get(&format!("/api/v1/alerts/{id}"), Some(&h.reader))
        .await;
    assert_eq!(still.json()["status"], "active");

    let done = h
        .post_json(
            &format!("/api/v1/alerts/{id}/dismiss"),
            &h.admin,
            json!({"comment": "known debug pod"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.json()["status"], "dismissed");
    assert_eq!(done.json()["status_comment"], "known debug pod");
    let gone = h
        .send(
            Method::POST,
            &format!("/api/v1/alerts/{id}/resolve"),
            Some(&h.admin),
            &[],
            None,
        )
        .await;
    assert_eq!(
        gone.json()["status"],
        "resolved",
        "an empty body is allowed"
    );
    h.stop().await;
}

/// A sensor token posts audit events and nothing else: every other API route and every
/// dashboard page refuses it, and the sign-in form says why.
#[tokio::test]
async fn a_sensor_token_only_posts_events() {
    let h = Harness::start().await;
    let sensor = Some(h.sensor.as_str());
    for path in [
        "/api/v1/overview",
        "/api/v1/alerts",
        "/api/v1/resources",
        "/api/v1/recommendations",
        "/api/v1/settings",
        "/metrics",
    ] {
        let a = h.get(path, sensor).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
    }
    let posted = h
        .send(
            Method::POST,
            palisade_server::AUDIT_WEBHOOK_PATH,
            sensor,
            &[],
            Some((
                "application/json",
                br#"{"kind":"EventList","items":[]}"#.to_vec(),
            )),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());

    let login = h
        .send(
            Method::POST,
            "/login",
            None,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                format!("token={}", h.sensor).into_bytes(),
            )),
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(!login.headers.contains_key(header::SET_COOKIE));
    assert!(
        login.text().contains("A sensor token only posts events"),
        "{}",
        login.text()
    );
    // a session cookie made by hand gets nowhere either
    let cookie = format!("palisade_session={}", h.sensor);
    for path in [
        "/",
        "/alerts",
        "/recommendations",
        "/inventory",
        "/images",
        "/coverage",
    ] {
        let a = h
            .send(Method::GET, path, None, &[("cookie", &cookie)], None)
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
        assert!(a.text().contains("sign in with a reader or admin token"));
    }
    let id = h.seeded.alert_ids["exec"];
    let a = h
        .send(
            Method::GET,
            &format!("/alerts/{id}"),
            None,
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    h.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_oversized_bodies_413() {
    let h = Harness::start().await;
    let t = Some(h.reader.as_str());
    for (path, needle) in [
        ("/api/v1/resources?label=%3Dweb", "invalid label key"),
        (
            "/api/v1/resources?label=app%3Dwe%20b",
            "invalid label value",
        ),
        ("/api/v1/alerts?severity=urgent", "unknown severity"),
        ("/api/v1/alerts?status=open", "unknown alert status"),
        ("/api/v1/alerts?colour=red", "unknown field"),
        ("/api/v1/alerts?limit=many", "invalid"),
        ("/api/v1/alerts?limit=0", "limit"),
        ("/api/v1/alerts/abc", "not a positive integer"),
        ("/api/v1/recommendations?severity=bad", "severity"),
        ("/api/v1/recommendations?limit=5", "limit and after"),
        ("/api/v1/alerts?after=12", "invalid alert cursor"),
        ("/api/v1/resources?after=x", "invalid cursor"),
        ("/api/v1/resources?offset=5", "unknown field"),
        ("/api/v1/clusters?x=1", "unknown field"),
    ] {
        let a = h.get(path, t).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        let body = a.json();
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
        assert_eq!(
            body["request_id"].as_str().unwrap(),
            a.headers["x-request-id"].to_str().unwrap()
        );
    }
    let id = h.seeded.alert_ids["exec"];
    let bad_json = h
        .send(
            Method::POST,
            &format!("/api/v1/alerts/{id}/dismiss"),
            Some(&h.admin),
            &[],
            Some(("application/json", b"{\"comment\": ".to_vec())),
        )
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_json.json()["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
    for body in [
        json!({"scan_interval_seconds": 5}),
        json!({"unknown_setting": true}),
        json!({"excluded_namespaces": ["Not A Namespace"]}),
    ] {
        let a = h
            .send(
                Method::PUT,
                "/api/v1/settings",
                Some(&h.admin),
                &[],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
    }

    let big = vec![b' '; (1 << 20) + 1];
    for (method, path) in [
        (Method::PUT, "/api/v1/settings".to_owned()),
        (Method::POST, format!("/api/v1/alerts/{id}/dismiss")),
        (Method::GET, "/api/v1/alerts".to_owned()),
        (Method::POST, "/login".to_owned()),
    ] {
        let a = h
            .send(
                method.clone(),
                &path,
                Some(&h.admin),
                &[],
                Some(("application/json", big.clone())),
            )
            .await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}");
    }
    // a body just under the limit is read (and then judged on its content)
    let mut padded = b"{\"comment\": \"ok\"}".to_vec();
    padded.resize(1 << 20, b' ');
    let a = h
        .send(
            Method::POST,
            &format!("/api/v1/alerts/{id}/dismiss"),
            Some(&h.admin),
            &[],
            Some(("application/json", padded)),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);

    let unknown = h.get("/api/v1/nothing-here", t).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "not_found");
    h.stop().await;
}

/// Signs in through the login form; returns the session cookie (`name=value`).
async fn sign_in(h: &Harness, token: &str) -> String {
    let a = h
        .send(
            Method::POST,
            "/login",
            None,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                format!("token={token}").into_bytes(),
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[header::LOCATION], "/");
    let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(h: &Harness, path: &str, cookie: &str) -> String {
    let a = h
        .send(Method::GET, path, None, &[("cookie", cookie)], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
    assert!(
        a.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        a.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    a.text()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_owned()
}

#[tokio::test]
async fn dashboard_pages_render_and_writes_are_guarded() {
    let h = Harness::start().await;
    let anonymous = h.get("/", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers[header::LOCATION], "/login");
    let login = h.get("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login
            .text()
            .contains("<label for=\"token\">API token</label>")
    );
    let refused = h
        .send(
            Method::POST,
            "/login",
            None,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                b"token=pal_nope".to_vec(),
            )),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.text().contains("not valid"));
    let css = h.get("/assets/style.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let reader = sign_in(&h, &h.reader).await;
    let home = page(&h, "/", &reader).await;
    for needle in [
        "<h1>Overview</h1>",
        "Active alerts",
        "Recommendations",
        "Vulnerable images",
        "Coverage",
        "<svg class=\"chart\" role=\"img\"",
        "critical: 1",
        "aria-current=\"page\"",
    ] {
        assert!(home.contains(needle), "overview lacks {needle:?}");
    }

    let alerts = page(&h, "/alerts", &reader).await;
    assert!(alerts.contains("K8S_ExecIntoContainer"));
    assert!(alerts.contains("<th scope=\"col\">Severity</th>"));
    assert!(alerts.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!alerts.contains("<script>"), "alert text is escaped");
    let critical = page(&h, "/alerts?severity=critical&status=", &reader).await;
    assert!(critical.contains("K8S_CryptoMiningImage"));
    assert!(!critical.contains("K8S_ExecIntoContainer"));
    assert!(critical.contains("<option value=\"critical\" selected>"));
    let bad = h
        .send(
            Method::GET,
            "/alerts?severity=urgent",
            None,
            &[("cookie", &reader)],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("unknown severity"));

    let id = h.seeded.alert_ids["exec"];
    let detail = page(&h, &format!("/alerts/{id}"), &reader).await;
    assert!(detail.contains("T1609"));
    assert!(
        !detail.contains("action=\"/alerts/"),
        "readers get no dismiss button"
    );
    let reader_csrf = csrf_of(&detail); // from the sign-out form
    let refused = h
        .send(
            Method::POST,
            &format!("/alerts/{id}/dismiss"),
            None,
            &[("cookie", &reader)],
            Some((
                "application/x-www-form-urlencoded",
                format!("csrf={reader_csrf}").into_bytes(),
            )),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let recs = page(
        &h,
        "/recommendations?resource=deployment%2Fshop%2Fapi",
        &reader,
    )
    .await;
    assert!(recs.contains("Deployment/shop/api"));
    assert!(
        !recs.contains("Deployment/shop/web"),
        "resource filter applies"
    );
    assert!(recs.contains("<label for=\"f-resource\">"));
    let inv = page(&h, "/inventory?label=tier%3Dbackend", &reader).await;
    assert!(inv.contains("registry.example/api:2.1"));
    assert!(!inv.contains("nginx:1.25"));
    let images = page(&h, "/images", &reader).await;
    assert!(images.contains("nginx:1.25"));
    assert!(images.contains("href=\"/images/sha256%3A4f1c7d0e5a9b\""));
    let image = page(&h, &format!("/images/{DIGEST}"), &reader).await;
    assert!(image.contains("CVE-2024-0001"));
    assert!(image.contains("/sbom"));
    let cov = page(&h, "/coverage", &reader).await;
    assert!(cov.contains("prod: runtime sensor"));
    assert!(cov.contains("admission webhook"));
    let missing = h
        .send(
            Method::GET,
            "/no-such-page",
            None,
            &[("cookie", &reader)],
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // admins dismiss through the form; the CSRF field is required
    let admin = sign_in(&h, &h.admin).await;
    let detail = page(&h, &format!("/alerts/{id}"), &admin).await;
    assert!(detail.contains(&format!("action=\"/alerts/{id}/dismiss\"")));
    let csrf = csrf_of(&detail);
    let form = |csrf: &str| {
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&comment=seen+it").into_bytes(),
        ))
    };
    let forged = h
        .send(
            Method::POST,
            &format!("/alerts/{id}/dismiss"),
            None,
            &[("cookie", &admin)],
            form(&reader_csrf),
        )
        .await;
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "another session's CSRF token"
    );
    let no_field = h
        .send(
            Method::POST,
            &format!("/alerts/{id}/dismiss"),
            None,
            &[("cookie", &admin)],
            Some(("application/x-www-form-urlencoded", b"comment=x".to_vec())),
        )
        .await;
    assert_eq!(no_field.status, StatusCode::FORBIDDEN);
    let done = h
        .send(
            Method::POST,
            &format!("/alerts/{id}/dismiss"),
            None,
            &[("cookie", &admin)],
            form(&csrf),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let after = page(&h, &format!("/alerts/{id}"), &admin).await;
    assert!(after.contains("st-dismissed"));
    assert!(after.contains("seen it"));

    // the API takes the cookie too; cookie writes need the CSRF header
    let via_cookie = h
        .send(
            Method::GET,
            "/api/v1/alerts",
            None,
            &[("cookie", &admin)],
            None,
        )
        .await;
    assert_eq!(via_cookie.status, StatusCode::OK);
    let priv_id = h.seeded.alert_ids["priv"];
    let no_header = h
        .send(
            Method::POST,
            &format!("/api/v1/alerts/{priv_id}/dismiss"),
            None,
            &[("cookie", &admin)],
            None,
        )
        .await;
    assert_eq!(no_header.status, StatusCode::FORBIDDEN);
    let with_header = h
        .send(
            Method::POST,
            &format!("/api/v1/alerts/{priv_id}/dismiss"),
            None,
            &[("cookie", &admin), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
    assert_eq!(with_header.status, StatusCode::OK);

    let out = h
        .send(Method::POST, "/logout", None, &[("cookie", &admin)], None)
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    h.stop().await;
}

#[tokio::test]
async fn plain_http_only_on_loopback_and_given_certificates_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let mut config = Config::new(dir.path());
    config.tls = TlsMode::Plain;

    let any = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let server = Server::new(config.clone(), store.clone()).unwrap();
    assert!(server.certificate_path().is_none());
    let err = server.serve(any, async {}).await.unwrap_err();
    assert!(
        matches!(err, palisade_server::Error::PlainNotLoopback(_)),
        "{err}"
    );
    assert!(err.to_string().contains("loopback"));

    let local = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = local.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        Server::new(config, store.clone())
            .unwrap()
            .serve(local, async move {
                let _ = stopped.await;
            }),
    );
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let res = client
        .get(format!("http://127.0.0.1:{port}/healthz").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        !res.headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // a given certificate and key (here: one generated in another directory) are served
    let other = tempfile::tempdir().unwrap();
    let generated = Server::new(Config::new(other.path()), store.clone()).unwrap();
    let cert = generated.certificate_path().unwrap().to_owned();
    let key = cert.with_file_name("key.pem");
    let mut config = Config::new(dir.path());
    config.tls = TlsMode::Files {
        cert: cert.clone(),
        key,
    };
    let server = Server::new(config, store).unwrap();
    assert_eq!(server.certificate_path(), Some(cert.as_path()));
    assert!(!dir.path().join("tls").exists(), "no self-signed pair made");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let res = tls_client(&cert)
        .get(format!("https://127.0.0.1:{port}/healthz").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );
    // a client that does not trust the certificate cannot connect
    let stranger = tempfile::tempdir().unwrap();
    let foreign = Server::new(
        Config::new(stranger.path()),
        SqliteStore::open(stranger.path()).await.unwrap(),
    )
    .unwrap()
    .certificate_path()
    .unwrap()
    .to_owned();
    let refused = tls_client(&foreign)
        .get(format!("https://127.0.0.1:{port}/healthz").parse().unwrap())
        .await;
    assert!(refused.is_err());
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// Canary list requests by one user: each raises the built-in test alert, all fold into one.
fn canary_batch(ids: std::ops::Range<u32>) -> Vec<u8> {
    let items: Vec<Value> = ids
        .map(|i| {
            json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("00000000-0000-0000-0000-{i:012}"), "stage": "ResponseComplete",
                "requestURI": "/api/v1/namespaces/palisade-canary/pods", "verb": "list",
                "user": {"username": "canary-tester"}, "sourceIPs": ["10.0.0.7"],
                "objectRef": {"resource": "pods", "namespace": "palisade-canary", "apiVersion": "v1"},
                "responseStatus": {"code": 200},
                "stageTimestamp": format!("2026-12-01T10:00:{i:02}.000000Z")
            })
        })
        .collect();
    json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folded_audit_events_count_in_the_stored_alert_live_and_at_shutdown() {
    let h = Harness::start().await;
    let post = |body: Vec<u8>| {
        h.send(
            Method::POST,
            palisade_server::AUDIT_WEBHOOK_PATH,
            Some(h.sensor.as_str()),
            &[],
            Some(("application/json", body)),
        )
    };
    let canary = |answer: &Answer| {
        answer.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"] == "K8S_TestAlert")
            .cloned()
    };
    let posted = post(canary_batch(0..3)).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
    // Recorded when it opens, with its first event as evidence ...
    let list = h.get("/api/v1/alerts", Some(&h.admin)).await;
    let alert = canary(&list).expect("the test alert is recorded as it opens");
    let id = alert["id"].as_i64().unwrap();
    let events = h
        .get(&format!("/api/v1/alerts/{id}/events"), Some(&h.admin))
        .await;
    assert_eq!(
        events.json()["items"][0]["event"]["auditID"],
        "00000000-0000-0000-0000-000000000000"
    );
    // ... and the two folded in after it are counted by the periodic tick, while the
    // deduplication window is still open.
    let mut count = 0;
    for _ in 0..40 {
        let list = h.get("/api/v1/alerts", Some(&h.admin)).await;
        count = canary(&list).unwrap()["count"].as_u64().unwrap();
        if count == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(count, 3, "live count after a tick");
    // Two more right before shutdown: counted by the last tick, not lost.
    assert_eq!(post(canary_batch(3..5)).await.status, StatusCode::OK);
    let dir = h.stop_keeping_data().await;
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let stored = store.get_alert(id).await.unwrap().unwrap();
    assert_eq!(stored.count, 5, "{stored:?}");
}
