//! Latency of the API's lists at scale and the server's resident memory.
//!
//! ```text
//! cargo run --release -p palisade-server --example api_latency [-- [postgres://URL] [--runs N] [--small]]
//! ```
//!
//! `--small` (2 clusters of 1,000 Deployments, 2,000 alerts) checks the program quickly.
//!
//! Seeds a store (SQLite in a temporary directory, or the empty PostgreSQL database of the URL)
//! with 10 clusters, each with one snapshot of 10,000 Deployments (100,000 resources in all)
//! and 100,000 findings on them (10 per Deployment over 14 checks): 1,000,000 findings, all of
//! them in the latest snapshots, which is the worst case for the lists. Then 100,000 alerts
//! (one transaction each, as the server records them; every tenth dismissed). The server runs
//! as a child process (plain HTTP on 127.0.0.1) so its memory is measured alone.
//!
//! Each request below is sent `--runs` times (default 200) after one warm-up, each over a
//! fresh connection; p50 and p99 of the time until the whole body is read are printed. The
//! first overview after start is timed separately (cold: the per-snapshot views are built
//! then). VmRSS of the server is read from `/proc` after start, after the cold overview and
//! after all requests.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "benchmark program")]

#[path = "common/child_server.rs"]
mod child_server;

use std::time::{Duration, Instant};

use palisade_inventory::Object;
use palisade_model::{Finding, Location, ResourceRef, Severity};
use palisade_server::{Role, create_token};
use palisade_store::{AlertStatus, AnyStore, Mitre, NewAlert, PlatformStore as _, Store as _};
use serde_json::{Value, json};

use child_server::{get, rss_mib};

const FINDINGS_PER_OBJECT: usize = 10;

/// How much to seed.
#[derive(Clone, Copy)]
struct Scale {
    clusters: usize,
    objects: usize,
    alerts: usize,
}

/// Checks, their severities and how many Deployments out of 14 fail each (so counts differ).
const CHECKS: [(&str, Severity); 14] = [
    ("privileged-container", Severity::Critical),
    ("host-pid", Severity::Critical),
    ("host-path-mount", Severity::High),
    ("run-as-root", Severity::High),
    ("allow-privilege-escalation", Severity::High),
    ("capabilities-added", Severity::High),
    ("no-memory-limit", Severity::Medium),
    ("no-cpu-limit", Severity::Medium),
    ("writable-root-filesystem", Severity::Medium),
    ("default-service-account", Severity::Medium),
    ("latest-tag", Severity::Low),
    ("no-liveness-probe", Severity::Low),
    ("no-readiness-probe", Severity::Low),
    ("image-pull-policy", Severity::Informational),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if child_server::serve_if_child(&args) {
        return;
    }
    let mut url = None;
    let mut runs = 200usize;
    let mut scale = Scale {
        clusters: 10,
        objects: 10_000,
        alerts: 100_000,
    };
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        if a == "--small" {
            scale = Scale {
                clusters: 2,
                objects: 1000,
                alerts: 2000,
            };
        } else if a == "--runs" {
            runs = rest.next().and_then(|n| n.parse().ok()).expect("--runs N");
        } else {
            url = Some(a.clone());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let location = url.unwrap_or_else(|| dir.path().join("data").display().to_string());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(seed(&location, scale));
    drop(rt);

    let (mut child, port) = child_server::start(&location, dir.path());
    let pid = child.id();
    let auth = format!("Authorization: Bearer {token}");
    let rss_start = rss_mib(pid);

    let (cold, _) = get(port, "/api/v1/overview", &auth);
    let rss_cold = rss_mib(pid);
    let (cold_page, _) = get(port, "/", &auth);

    // the cursor after half the alerts (pages of 1,000)
    let mut after = String::new();
    for _ in 0..scale.alerts / 2000 {
        let path = format!("/api/v1/alerts?limit=1000{after}");
        let page: Value = serde_json::from_slice(&get(port, &path, &auth).1).unwrap();
        after = format!("&after={}", page["next"].as_str().unwrap());
    }
    let recs: Value =
        serde_json::from_slice(&get(port, "/api/v1/recommendations", &auth).1).unwrap();
    let busiest = recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|r| r["affected_count"].as_u64().unwrap())
        .unwrap()["check_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let requests: Vec<(&str, String)> = vec![
        ("alerts, first page (50)", "/api/v1/alerts?limit=50".into()),
        (
            "alerts, filtered (active, high, one cluster; 50)",
            "/api/v1/alerts?status=active&severity=high&cluster=c-03&limit=50".into(),
        ),
        (
            "alerts, deep page (keyset cursor after half of them; 50)",
            format!("/api/v1/alerts?limit=50{after}"),
        ),
        ("recommendations list", "/api/v1/recommendations".into()),
        (
            "recommendation, affected resources, first page (50)",
            format!("/api/v1/recommendations/{busiest}?limit=50"),
        ),
        (
            "recommendation, affected resources, resource filter (50)",
            format!("/api/v1/recommendations/{busiest}?limit=50&resource=team-07/app-000"),
        ),
        ("overview (API)", "/api/v1/overview".into()),
        ("overview (dashboard page)", "/".into()),
        (
            "inventory, namespace + label filter (50)",
            "/api/v1/resources?namespace=team-07&label=tier%3Dbackend&limit=50".into(),
        ),
    ];
    println!(
        "\ncold overview: API {:.1} ms, then dashboard page {:.1} ms\n",
        ms(cold),
        ms(cold_page)
    );
    println!("| request | p50 | p99 |\n|---|---|---|");
    for (name, path) in &requests {
        let _ = get(port, path, &auth);
        let mut times: Vec<Duration> = (0..runs).map(|_| get(port, path, &auth).0).collect();
        times.sort();
        let p99 = times[(runs * 99).div_ceil(100).saturating_sub(1)];
        println!(
            "| {name} | {:.2} ms | {:.2} ms |",
            ms(times[runs / 2]),
            ms(p99)
        );
    }
    println!(
        "\nserver RSS: {rss_start} MiB after start, {rss_cold} MiB after the cold overview, {} MiB \
         after all requests",
        rss_mib(pid)
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Fills the store; returns a reader token.
async fn seed(location: &str, scale: Scale) -> String {
    let Scale {
        clusters,
        objects: per_cluster,
        alerts,
    } = scale;
    let store = AnyStore::open(location).await.unwrap();
    let t = Instant::now();
    for c in 0..clusters {
        let id = format!("c-{c:02}");
        store
            .upsert_cluster(&id, &format!("cluster-{c:02}"), "https://10.0.0.1:6443")
            .await
            .unwrap();
        let (objects, findings) = snapshot(c, per_cluster);
        store.save_snapshot(&id, &objects, &findings).await.unwrap();
    }
    println!(
        "saved {clusters} snapshots ({} resources, {} findings) in {:.0} s",
        clusters * per_cluster,
        clusters * per_cluster * FINDINGS_PER_OBJECT,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    for i in 0..alerts {
        let alert = NewAlert {
            alert_type: format!("K8S_Type{}", i % 20),
            rule: format!("rule-{}", i % 20),
            severity: severities[i % 4],
            mitre: Mitre {
                tactic: Some("TA0002".into()),
                technique: Some("T1609".into()),
            },
            cluster: Some(format!("c-{:02}", i % 10)),
            resource: Some(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some(format!("team-{:02}", i % 50)),
                name: format!("app-{i:06}"),
            }),
            user: Some(format!("user-{}", i % 300)),
            message: format!(
                "kubectl exec into pod team-{:02}/app-{i:06} by user-{}: /bin/sh -c id",
                i % 50,
                i % 300
            ),
            seen_at: Some(format!(
                "2026-01-{:02}T{:02}:{:02}:{:02}Z",
                1 + i / 86_400 % 28,
                i / 3600 % 24,
                i / 60 % 60,
                i % 60
            )),
            event: None,
            occurrences: 1,
        };
        let stored = store.record_alert(&alert).await.unwrap();
        if i % 10 == 0 {
            store
                .set_alert_status(stored.id, AlertStatus::Dismissed, "bench#1", None)
                .await
                .unwrap();
        }
    }
    println!(
        "recorded {alerts} alerts in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    if let AnyStore::Postgres(pg) = &store {
        // What autovacuum does shortly after a bulk load (PostgreSQL 13 and later vacuum
        // insert-only tables too): statistics for the planner, and the visibility map that
        // lets the finding lists answer from their covering index without reading rows.
        sqlx::query("VACUUM (ANALYZE)")
            .execute(pg.pool())
            .await
            .unwrap();
    }
    create_token(&store, Role::Reader, "bench").await.unwrap()
}

/// One cluster's snapshot: Deployments over 50 namespaces and their findings.
fn snapshot(cluster: usize, count: usize) -> (Vec<Object>, Vec<Finding>) {
    let mut objects = Vec::with_capacity(count);
    let mut findings = Vec::with_capacity(count * FINDINGS_PER_OBJECT);
    for n in 0..count {
        let ns = format!("team-{:02}", n % 50);
        let app = format!("app-{:04}", n / 50);
        let tier = ["frontend", "backend"][n % 2];
        let labels = json!({"app": app, "tier": tier, "cluster": cluster});
        let raw = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                    "name": "app",
                    "image": format!("registry.example.com/{ns}/{app}:1.{}", n % 9),
                    "securityContext": {"privileged": n % 3 == 0},
                }]}}
            }
        });
        let resource = ResourceRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some(ns),
            name: app,
        };
        for k in 0..FINDINGS_PER_OBJECT {
            let (check, severity) = CHECKS[(n % 5 + k) % CHECKS.len()];
            findings.push(Finding {
                check_id: check.into(),
                title: format!("Title of {check}").into(),
                severity,
                resource: resource.clone(),
                container: Some("app".into()),
                message: format!(
                    "Container \"app\" of Deployment {}/{} fails {check}",
                    resource.namespace.as_deref().unwrap_or(""),
                    resource.name
                ),
                evidence: "$.spec.template.spec.containers[0].securityContext".into(),
                remediation: format!("Change the pod template so that {check} passes.").into(),
                mitre: vec!["T1611".into()],
            });
        }
        objects.push(Object {
            resource,
            raw,
            location: Location {
                file: format!("cluster:c-{cluster:02}"),
                document: n,
                line: 0,
            },
        });
    }
    (objects, findings)
}
