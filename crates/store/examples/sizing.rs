//! Sizing of the store: fills a store with findings, alerts and image reports through the
//! public API, then prints the storage cost per row and the latency of the server's list
//! queries. Results are written up in `docs/sizing.md`.
//!
//! ```text
//! cargo run --release -p palisade-store --example sizing                  # SQLite, temp dir
//! cargo run --release -p palisade-store --example sizing -- postgres://user@host:5432/db
//! options: --findings N (1000000)  --snapshots N (10)  --alerts N (100000)
//!          --images N (500)  --packages N (200 per image)  --runs N (200)
//! ```
//!
//! The PostgreSQL database should be empty: sizes are whole-table sizes.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use palisade_model::{Finding, ResourceRef, Severity};
use palisade_store::{
    AlertCursor, AlertFilter, AlertStatus, AnyStore, FindingCursor, FindingFilter, ImageReport,
    Mitre, NewAlert, PlatformStore, SnapshotId, Store,
};
use serde_json::json;
use sqlx::Row as _;

struct Options {
    location: Option<String>,
    findings: usize,
    snapshots: usize,
    alerts: usize,
    images: usize,
    packages: usize,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        location: None,
        findings: 1_000_000,
        snapshots: 10,
        alerts: 100_000,
        images: 500,
        packages: 200,
        runs: 200,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .expect("option needs a number")
        };
        match a.as_str() {
            "--findings" => o.findings = value(),
            "--snapshots" => o.snapshots = value().max(1),
            "--alerts" => o.alerts = value(),
            "--images" => o.images = value(),
            "--packages" => o.packages = value(),
            "--runs" => o.runs = value().max(1),
            _ => o.location = Some(a),
        }
    }
    o
}

const CHECKS: [(&str, Severity); 6] = [
    ("privileged-container", Severity::Critical),
    ("host-path-mount", Severity::High),
    ("run-as-root", Severity::High),
    ("no-resource-limits", Severity::Medium),
    ("image-latest-tag", Severity::Low),
    ("no-readiness-probe", Severity::Informational),
];
const KINDS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "CronJob"];

/// A realistic finding: 60 checks (6 severities), 50 namespaces, 4 kinds.
fn finding(i: usize) -> Finding {
    let (base, severity) = CHECKS[i % CHECKS.len()];
    let check = format!("{base}-{}", (i / CHECKS.len()) % 10);
    Finding {
        check_id: check.clone().into(),
        title: format!("Workload fails {check}").into(),
        severity,
        resource: ResourceRef {
            api_version: "apps/v1".into(),
            kind: KINDS[i % KINDS.len()].into(),
            namespace: Some(format!("team-{:02}", i % 50)),
            name: format!("service-{:06}", i / 7),
        },
        container: Some("app".into()),
        message: format!("container app of service-{:06} violates {check}", i / 7),
        evidence: "$.spec.template.spec.containers[0].securityContext".into(),
        remediation: "Set securityContext fields as the check describes and redeploy.".into(),
        mitre: vec!["T1611".into()],
    }
}

fn alert(i: usize) -> NewAlert {
    let severities = [
        Severity::Low,
        Severity::Medium,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    NewAlert {
        alert_type: format!("K8S_Type{:02}", i % 20),
        rule: format!("rule-{:02}", i % 20),
        severity: severities[i % severities.len()],
        mitre: Mitre {
            tactic: Some("TA0002".into()),
            technique: Some("T1609".into()),
        },
        cluster: Some(format!("cluster-{}", i % 5)),
        resource: Some(ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(format!("team-{:02}", i % 50)),
            name: format!("pod-{i}"),
        }),
        user: Some(format!("system:serviceaccount:team-{:02}:deployer", i % 50)),
        message: format!("exec into pod-{i} by a service account"),
        seen_at: Some(format!(
            "2026-01-{:02}T{:02}:{:02}:{:02}Z",
            1 + (i / 86_400) % 28,
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        )),
        event: None,
        occurrences: 1,
    }
}

fn image(i: usize, packages: usize) -> ImageReport {
    let components: Vec<_> = (0..packages)
        .map(|p| {
            json!({"type": "library", "name": format!("lib{p:03}-pkg"),
                   "version": format!("1.{}.{}-{}", p % 9, i % 13, p % 4),
                   "purl": format!("pkg:deb/debian/lib{p:03}-pkg@1.{}.{}-{}?arch=amd64", p % 9, i % 13, p % 4)})
        })
        .collect();
    let matches: Vec<_> = (0..packages / 10)
        .map(|p| json!({"vulnerability": format!("CVE-2025-{:05}", p * 7 + i % 100), "package": format!("lib{p:03}-pkg"), "severity": "high"}))
        .collect();
    let mut vulns = BTreeMap::new();
    vulns.insert("high".to_owned(), matches.len() as u64);
    ImageReport {
        digest: format!("sha256:{i:064x}"),
        reference: format!("registry.example/team-{:02}/app-{i}:1.0", i % 50),
        vulnerabilities: vulns,
        report: json!({"matches": matches}),
        sbom: Some(
            json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components}),
        ),
    }
}

/// Bytes used by each table with its indexes.
async fn table_bytes(store: &AnyStore, location: &str) -> BTreeMap<String, u64> {
    let rows = match store {
        AnyStore::Postgres(pg) => sqlx::query(
            "SELECT relname::text AS t, pg_total_relation_size(oid)::int8 AS b
             FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
        )
        .fetch_all(pg.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>("t"), r.get::<i64, _>("b")))
        .collect::<Vec<_>>(),
        AnyStore::Sqlite(_) => {
            let file = format!("sqlite:{location}/{}", palisade_store::DATABASE_FILE);
            let pool = sqlx::SqlitePool::connect(&file).await.unwrap();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .unwrap();
            let rows = sqlx::query(
                "SELECT m.tbl_name AS t, sum(d.pgsize) AS b FROM dbstat d
                 JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>("t"), r.get::<i64, _>("b")))
            .collect();
            pool.close().await;
            rows
        }
    };
    rows.into_iter()
        .map(|(t, b)| (t, u64::try_from(b).unwrap_or(0)))
        .collect()
}

/// p50 and p99 of `runs` calls.
async fn latency<F, Fut>(runs: usize, mut f: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    f(0).await; // warm the cache and the statement cache
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let start = Instant::now();
        f(i).await;
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], times[(runs * 99 / 100).min(runs - 1)])
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let o = options();
    let tmp = tempfile::tempdir().unwrap();
    let location = o
        .location
        .clone()
        .unwrap_or_else(|| tmp.path().join("data").display().to_string());
    let store = AnyStore::open(&location).await.unwrap();
    println!(
        "backend: {} ({} findings in {} snapshots, {} alerts, {} images x {} packages)",
        store.backend(),
        o.findings,
        o.snapshots,
        o.alerts,
        o.images,
        o.packages
    );

    let started = Instant::now();
    store
        .upsert_cluster("cluster-0", "prod", "https://10.0.0.1:6443")
        .await
        .unwrap();
    let per = o.findings / o.snapshots;
    let mut last = SnapshotId(0);
    for s in 0..o.snapshots {
        let findings: Vec<Finding> = (s * per..(s + 1) * per).map(finding).collect();
        last = store
            .save_snapshot("cluster-0", &[], &findings)
            .await
            .unwrap();
    }
    println!(
        "filled findings in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let workers = 4;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = store.clone();
        let n = o.alerts;
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(workers) {
                let a = store.record_alert(&alert(i)).await.unwrap();
                match i % 20 {
                    0..=2 => {
                        store
                            .set_alert_status(a.id, AlertStatus::Dismissed, "ops", None)
                            .await
                            .unwrap();
                    }
                    3 => {
                        store
                            .set_alert_status(a.id, AlertStatus::Resolved, "ops", None)
                            .await
                            .unwrap();
                    }
                    _ => {}
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("filled alerts in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    for i in 0..o.images {
        store.put_image_report(&image(i, o.packages)).await.unwrap();
    }
    println!("filled images in {:.1} s", started.elapsed().as_secs_f64());

    if let AnyStore::Postgres(pg) = &store {
        // What autovacuum does within a minute of a bulk load: without statistics the planner
        // guesses, and the first minute's figures say nothing about the steady state.
        sqlx::query("ANALYZE").execute(pg.pool()).await.unwrap();
    }
    let bytes = table_bytes(&store, &location).await;
    let total: u64 = bytes.values().sum();
    let per_row = |table: &str, rows: usize| {
        let b = bytes.get(table).copied().unwrap_or(0);
        println!(
            "| {table} | {rows} | {:.1} MiB | {} B |",
            b as f64 / 1_048_576.0,
            if rows == 0 { 0 } else { b / rows as u64 }
        );
    };
    println!("\n| table (with indexes) | rows | size | bytes per row |\n|---|---|---|---|");
    per_row("snapshot_findings", per * o.snapshots);
    per_row("alerts", o.alerts);
    per_row("images", o.images * o.packages);
    println!(
        "(images: rows = packages in the stored SBOMs; whole store {:.1} MiB)",
        total as f64 / 1_048_576.0
    );

    let runs = o.runs;
    println!("\n| query | p50 ms | p99 ms |\n|---|---|---|");
    let row = |name: &str, (p50, p99): (Duration, Duration)| {
        println!("| {name} | {} | {} |", ms(p50), ms(p99));
    };
    let s = &store;
    row(
        "alerts, first page (50)",
        latency(runs, |_| async move {
            let page = s
                .list_alerts(&AlertFilter {
                    limit: 50,
                    ..AlertFilter::default()
                })
                .await
                .unwrap();
            assert_eq!(page.len(), 50.min(o.alerts));
        })
        .await,
    );
    row(
        "alerts, filtered page (active, high, one cluster; 50)",
        latency(runs, |_| async move {
            s.list_alerts(&AlertFilter {
                status: Some(AlertStatus::Active),
                severity: Some(Severity::High),
                cluster: Some("cluster-3".into()),
                limit: 50,
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        })
        .await,
    );
    // the cursor after 4,950 dismissed alerts: page 100 of 50
    let mut after = None;
    for _ in 0..99 {
        let page = s
            .list_alerts(&AlertFilter {
                status: Some(AlertStatus::Dismissed),
                limit: 50,
                after: after.clone(),
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        after = page.last().map(AlertCursor::after);
    }
    row(
        "alerts, dismissed, page 100 (keyset cursor after 4950)",
        latency(runs, |_| {
            let after = after.clone();
            async move {
                s.list_alerts(&AlertFilter {
                    status: Some(AlertStatus::Dismissed),
                    limit: 50,
                    after,
                    ..AlertFilter::default()
                })
                .await
                .unwrap();
            }
        })
        .await,
    );
    row(
        &format!("recommendations of a {per}-finding snapshot"),
        latency(runs, |_| async move {
            let r = s.recommendations(last).await.unwrap();
            assert!(!r.is_empty());
        })
        .await,
    );
    let none = FindingFilter::default();
    row(
        "findings, first page (50)",
        latency(runs, |_| {
            let none = none.clone();
            async move {
                s.findings_page(last, &none, None, 50).await.unwrap();
            }
        })
        .await,
    );
    row(
        "findings, deep page (after position 90% of the snapshot)",
        latency(runs, |_| {
            let none = none.clone();
            let after = FindingCursor((per as i64) * 9 / 10);
            async move {
                let p = s.findings_page(last, &none, Some(after), 50).await.unwrap();
                assert_eq!(p.findings.len(), 50.min(per / 10));
            }
        })
        .await,
    );
    let check = FindingFilter {
        check_id: Some("run-as-root-4".into()),
        ..FindingFilter::default()
    };
    let page_1 = s.findings_page(last, &check, None, 50).await.unwrap();
    row(
        "findings, one check, page 2 (50)",
        latency(runs, |_| {
            let check = check.clone();
            async move {
                s.findings_page(last, &check, page_1.next, 50)
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        "findings, namespace + kind + name contains (50)",
        latency(runs, |i| async move {
            let filter = FindingFilter {
                namespace: Some(format!("team-{:02}", i % 50)),
                kind: Some("Deployment".into()),
                name_contains: Some("0042".into()),
                ..FindingFilter::default()
            };
            s.findings_page(last, &filter, None, 50).await.unwrap();
        })
        .await,
    );
}
