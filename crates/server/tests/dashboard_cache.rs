//! The dashboard keeps a derived view of each cluster's latest snapshot in memory: a new
//! snapshot must show on the next page, for the overview, recommendations and coverage alike.
#![expect(clippy::unwrap_used, reason = "tests")]

use palisade_inventory::{LoadOptions, LoadReport};
use palisade_server::{Config, Role, Server, TlsMode, create_token};
use palisade_store::{SqliteStore, Store as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PRIVILEGED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx:1.25
          securityContext: {privileged: true}
"#;

const FIXED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx:1.25
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
    metadata: {labels: {app: sensor}}
    spec:
      containers: [{name: sensor, image: "ghcr.io/palisade/sensor:0.1"}]
"#;

async fn snapshot(store: &SqliteStore, yaml: &str) {
    let mut report = LoadReport::default();
    report.load_bytes("x.yaml", yaml.as_bytes(), &LoadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let findings =
        palisade_posture::scan(&report.inventory, &palisade_posture::ScanConfig::default());
    store
        .save_snapshot("c1", &report.inventory.objects, &findings)
        .await
        .unwrap();
}

async fn page(port: u16, path: &str, token: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: palisade_session={token}\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    response
}

#[tokio::test]
async fn a_new_snapshot_replaces_the_cached_view() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store
        .upsert_cluster("c1", "prod", "https://10.0.0.1:6443")
        .await
        .unwrap();
    snapshot(&store, PRIVILEGED).await;
    let token = create_token(&store, Role::Reader, "t").await.unwrap();
    let mut config = Config::new(dir.path());
    config.tls = TlsMode::Plain;
    let server = Server::new(config, store.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));

    let privileged = "Privileged containers should be avoided";
    for _ in 0..2 {
        let recs = page(port, "/recommendations", &token).await;
        assert!(recs.contains(privileged), "{recs}");
    }
    let overview = page(port, "/", &token).await;
    assert!(
        overview.contains("<p class=\"big\">1 / 3</p>"),
        "{overview}"
    );
    assert!(overview.contains("resources in 1 cluster<"), "{overview}");

    // a new snapshot lands (as the discovery loop saves it): the next pages show it
    snapshot(&store, FIXED).await;
    let recs = page(port, "/recommendations", &token).await;
    assert!(!recs.contains(privileged), "the cached view was replaced");
    let overview = page(port, "/", &token).await;
    assert!(
        overview.contains("<p class=\"big\">2 / 3</p>"),
        "the sensor is now found: {overview}"
    );
    let coverage = page(port, "/coverage", &token).await;
    assert!(coverage.contains("prod: runtime sensor</th><td><span class=\"badge st-healthy\">"));

    // a renamed cluster keeps its snapshot but shows the new name
    store
        .upsert_cluster("c1", "production", "https://10.0.0.1:6443")
        .await
        .unwrap();
    let coverage = page(port, "/coverage", &token).await;
    assert!(
        coverage.contains("production: runtime sensor"),
        "{coverage}"
    );

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
