//! Render time of the dashboard with a 100,000-resource cluster snapshot, and the server's
//! resident memory.
//!
//! ```text
//! cargo run --release -p palisade-server --example overview_render [-- RESOURCES]
//! ```
//!
//! Seeds a temporary SQLite store with one snapshot of generated workloads (Deployments with
//! their Pods, 5 Pods per Deployment, over 200 namespaces; a third of them privileged, most
//! without limits) and the posture engine's findings on them, then starts the server as a
//! child process (plain HTTP on 127.0.0.1) so its memory is measured alone. Each page is
//! fetched once cold and then 20 times; the median is printed. `/api/v1/overview` computes
//! the same figures from the same per-snapshot views as the dashboard. VmRSS of the
//! server is read from `/proc` after start, after the first (cold) page and after all requests.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "benchmark program")]

#[path = "common/child_server.rs"]
mod child_server;

use std::time::{Duration, Instant};

use palisade_inventory::{Inventory, Object};
use palisade_model::{Location, ResourceRef};
use palisade_server::{Role, create_token};
use palisade_store::{SqliteStore, Store as _};
use serde_json::json;

use child_server::{get, rss_mib};

const RUNS: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if child_server::serve_if_child(&args) {
        return;
    }
    let resources: usize = args
        .get(1)
        .map_or(100_000, |a| a.parse().expect("RESOURCES"));
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = Instant::now();
    let inventory = generate(resources);
    let findings = palisade_posture::scan(&inventory, &palisade_posture::ScanConfig::default());
    println!(
        "generated {} objects and {} findings in {:.1} s",
        inventory.objects.len(),
        findings.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let token = rt.block_on(async {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store
            .upsert_cluster("c-bench", "bench", "https://10.0.0.1:6443")
            .await
            .unwrap();
        store
            .save_snapshot("c-bench", &inventory.objects, &findings)
            .await
            .unwrap();
        create_token(&store, Role::Reader, "bench").await.unwrap()
    });
    drop((inventory, findings, rt));
    println!("saved the snapshot in {:.1} s", t.elapsed().as_secs_f64());

    let (mut child, port) = child_server::start(&dir.path().display().to_string(), dir.path());
    let pid = child.id();
    println!("server RSS after start: {} MiB", rss_mib(pid));
    let cookie = format!("Cookie: palisade_session={token}");

    for (i, path) in [
        "/",
        "/recommendations",
        "/recommendations?resource=ns-007%2Fweb-0042",
        "/coverage",
        "/api/v1/overview",
        "/inventory?namespace=ns-007",
    ]
    .iter()
    .enumerate()
    {
        let (cold, body) = get(port, path, &cookie);
        let bytes = body.len();
        let mut times: Vec<Duration> = (0..RUNS).map(|_| get(port, path, &cookie).0).collect();
        times.sort();
        println!(
            "{path:<45} cold {:>8.1} ms   median of {RUNS} {:>8.1} ms   ({} KiB)",
            cold.as_secs_f64() * 1e3,
            times[RUNS / 2].as_secs_f64() * 1e3,
            bytes / 1024
        );
        if i == 0 {
            println!("server RSS after the first overview: {} MiB", rss_mib(pid));
        }
    }
    println!("server RSS after all requests: {} MiB", rss_mib(pid));
    let _ = child.kill();
    let _ = child.wait();
}

/// Deployments and their Pods (1 + 5 objects per workload), spread over 200 namespaces.
fn generate(resources: usize) -> Inventory {
    let mut objects = Vec::with_capacity(resources);
    let mut n = 0usize;
    while objects.len() < resources {
        let ns = format!("ns-{:03}", n % 200);
        let app = format!("web-{:04}", n / 200);
        let image = format!(
            "registry.example.com/team-{}/{}:1.{}.{}",
            n % 17,
            ["api", "web", "worker", "cache"][n % 4],
            n % 9,
            n % 5
        );
        let privileged = n.is_multiple_of(3);
        let limits = n.is_multiple_of(4);
        let container = json!({
            "name": "app",
            "image": image,
            "ports": [{"containerPort": 8080}],
            "securityContext": {"privileged": privileged, "runAsNonRoot": n.is_multiple_of(2)},
            "resources": if limits {
                json!({"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
            } else {
                json!({"requests": {"cpu": "100m"}})
            },
        });
        let tier = ["frontend", "backend"][n % 2];
        let labels = json!({"app": app, "tier": tier, "team": format!("team-{}", n % 17)});
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
            }
        });
        objects.push(object(&deployment, n * 6));
        for p in 0..5 {
            if objects.len() >= resources {
                break;
            }
            let pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{app}-7d9f8b6c5-{p:05}"),
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8b6c5"), "controller": true}]
                },
                "spec": {"containers": [container], "nodeName": format!("node-{}", (n + p) % 40)},
                "status": {"phase": "Running"}
            });
            objects.push(object(&pod, n * 6 + p + 1));
        }
        n += 1;
    }
    Inventory { objects }
}

fn object(raw: &serde_json::Value, document: usize) -> Object {
    let m = &raw["metadata"];
    Object {
        resource: ResourceRef {
            api_version: raw["apiVersion"].as_str().unwrap_or_default().to_owned(),
            kind: raw["kind"].as_str().unwrap_or_default().to_owned(),
            namespace: m["namespace"].as_str().map(str::to_owned),
            name: m["name"].as_str().unwrap_or_default().to_owned(),
        },
        raw: raw.clone(),
        location: Location {
            file: "cluster:bench".into(),
            document,
            line: 0,
        },
    }
}
