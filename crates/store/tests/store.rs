//! The [`Store`] and [`PlatformStore`] contracts, written once over [`AnyStore`] and run against
//! both backends: the embedded SQLite store in a temporary directory, and a real PostgreSQL
//! server that each test starts for itself (see [`PgServer`]) and stops when it ends,
//! passed or failed.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use palisade_inventory::Object;
use palisade_model::{Finding, Location, ResourceRef, Severity};
use palisade_store::{
    AlertCursor, AlertFilter, AlertStatus, AnyStore, FindingCursor, FindingFilter, ImageReport,
    LabelRequirement, Mitre, NewAlert, ObjectCursor, ObjectFilter, ObjectSummary, PlatformStore,
    Pruned, Recommendation, Role, SnapshotId, Store,
};
use palisade_testkit::postgres::PgServer;
use serde_json::{Value, json};
use sqlx::Row as _;

/// A store under test and what keeps it alive. Fields drop in order: the store (its pool)
/// first, then the data directory or the server.
struct Fixture {
    store: AnyStore,
    /// Where to open the same store again.
    location: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgServer>,
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty store of `backend`; `None` (after a SKIPPED line) when PostgreSQL is not
/// installed and `CI` is unset.
async fn fixture(backend: Backend) -> Option<Fixture> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let location = dir.path().join("data").display().to_string();
            let store = AnyStore::open(&location).await.unwrap();
            assert_eq!(store.backend(), "sqlite");
            Some(Fixture {
                store,
                location,
                _dir: Some(dir),
                pg: None,
            })
        }
        Backend::Postgres => {
            let server = PgServer::start()?;
            let location = server.fresh_database("palisade_test");
            let store = AnyStore::open(&location).await.unwrap();
            assert_eq!(store.backend(), "postgres");
            Some(Fixture {
                store,
                location,
                _dir: None,
                pg: Some(server),
            })
        }
    }
}

impl Fixture {
    /// Runs a `SELECT` returning one integer, on a connection of its own.
    async fn scalar(&self, sql: &'static str) -> i64 {
        match (&self.store, &self.pg) {
            (AnyStore::Postgres(s), _) => sqlx::query(sql)
                .fetch_one(s.pool())
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap(),
            (AnyStore::Sqlite(_), _) => {
                let pool = sqlx::SqlitePool::connect(&format!(
                    "sqlite:{}/{}",
                    self.location,
                    palisade_store::DATABASE_FILE
                ))
                .await
                .unwrap();
                let n = sqlx::query(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .try_get::<i64, _>(0)
                    .unwrap();
                pool.close().await;
                n
            }
        }
    }
}

/// Defines `mod $name { fn sqlite(); fn postgres(); }`, each running `$name(&Fixture)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(fx) = super::fixture(super::Backend::Sqlite).await {
                    super::$name(&fx).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(fx) = super::fixture(super::Backend::Postgres).await {
                    super::$name(&fx).await;
                }
            }
        }
    )*};
}

on_both_backends!(
    snapshot_contract,
    migrations_apply_once_and_data_survives_reopening,
    unchanged_objects_are_stored_once,
    platform_contract,
    concurrent_occurrences_fold_into_one_alert,
    exports_are_queued_with_the_alert_once_per_sink,
    unacknowledged_exports_come_back_after_the_lease,
    concurrent_leasers_never_share_an_item,
    recommendations_aggregate_findings_by_check,
    findings_pages_walk_the_filtered_findings_once,
    object_pages_filter_in_the_store,
    alert_pages_follow_the_keyset_cursor,
    alerts_keep_their_latest_raw_events,
    folded_occurrences_add_to_the_count,
    retention_keeps_each_clusters_latest_snapshot_and_open_alerts,
);

fn object(raw: Value, document: usize) -> Object {
    let meta = &raw["metadata"];
    Object {
        resource: ResourceRef {
            api_version: raw["apiVersion"].as_str().unwrap().to_owned(),
            kind: raw["kind"].as_str().unwrap().to_owned(),
            namespace: meta["namespace"].as_str().map(str::to_owned),
            name: meta["name"].as_str().unwrap().to_owned(),
        },
        raw,
        location: Location {
            file: "cluster:prod".into(),
            document,
            line: 0,
        },
    }
}

fn finding(check: &str, severity: Severity, name: &str) -> Finding {
    Finding {
        check_id: check.to_owned().into(),
        title: "t".into(),
        severity,
        resource: ResourceRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: name.into(),
        },
        container: Some("app".into()),
        message: "m".into(),
        evidence: "$.spec.template.spec.containers[0]".into(),
        remediation: "r".into(),
        mitre: vec!["T1611".into()],
    }
}

fn first_objects() -> Vec<Object> {
    vec![
        object(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            0,
        ),
        object(
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "web:1"}]}}}}),
            1,
        ),
        object(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "shop"},
                "data": {"password": "c2VjcmV0LXZhbHVl"}}),
            2,
        ),
    ]
}

/// Round trip of clusters, objects and findings, and a history of two snapshots.
async fn snapshot_contract(fx: &Fixture) {
    let store = &fx.store;
    assert!(store.list_clusters().await.unwrap().is_empty());
    let unknown = store.save_snapshot("nope", &[], &[]).await;
    assert!(unknown.is_err(), "a snapshot needs a known cluster");

    let c = store
        .upsert_cluster("id-prod", "prod", "https://10.0.0.1:6443")
        .await
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.first_seen == c.last_seen),
        ("prod", true)
    );
    let again = store
        .upsert_cluster("id-prod", "prod-eu", "https://10.0.0.1:6443")
        .await
        .unwrap();
    assert_eq!(again.first_seen, c.first_seen);
    assert_eq!(again.name, "prod-eu");
    store
        .upsert_cluster("id-dev", "dev", "https://127.0.0.1:6443")
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_clusters()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["dev", "prod-eu"]);

    let objects = first_objects();
    let findings = vec![
        finding("privileged", Severity::Critical, "web"),
        finding("no-limits", Severity::Medium, "web"),
    ];
    let first = store
        .save_snapshot("id-prod", &objects, &findings)
        .await
        .unwrap();
    let loaded = store.load_snapshot_objects(first).await.unwrap();
    assert_eq!(loaded.len(), 3);
    assert_eq!(loaded[..2], objects[..2], "objects round-trip exactly");
    assert_eq!(loaded[2].resource, objects[2].resource);
    assert!(
        loaded[2].raw.get("data").is_none(),
        "secret values are never stored: {}",
        loaded[2].raw
    );
    assert_eq!(store.load_findings(first).await.unwrap(), findings);

    // second snapshot: web scaled, namespace unchanged, secret gone, one finding fixed
    let mut second_objects = first_objects();
    second_objects.truncate(2);
    second_objects[1].raw["spec"]["replicas"] = json!(5);
    let second = store
        .save_snapshot("id-prod", &second_objects, &findings[..1])
        .await
        .unwrap();
    assert!(second > first);
    assert_eq!(
        store.load_snapshot_objects(second).await.unwrap(),
        second_objects
    );
    assert_eq!(
        store.load_snapshot_objects(first).await.unwrap()[1].raw["spec"]["replicas"],
        json!(2),
        "history keeps the old content"
    );
    let latest = store.latest_snapshots("id-prod", 10).await.unwrap();
    let ids: Vec<SnapshotId> = latest.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![second, first], "newest first");
    assert_eq!((latest[0].objects, latest[0].findings), (2, 1));
    assert_eq!(
        latest[1].summary,
        json!({"objects_by_kind": {"Deployment": 1, "Namespace": 1, "Secret": 1},
               "findings_by_severity": {"critical": 1, "medium": 1}})
    );
    assert_eq!(store.latest_snapshots("id-prod", 1).await.unwrap().len(), 1);
    assert!(
        store
            .latest_snapshots("id-dev", 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .load_findings(SnapshotId(9999))
            .await
            .unwrap()
            .is_empty()
    );
}

fn occurrence(user: &str, at: &str, message: &str) -> NewAlert {
    NewAlert {
        alert_type: "K8S_ExecIntoContainer".into(),
        rule: "exec-into-pod".into(),
        severity: Severity::Medium,
        mitre: Mitre {
            tactic: Some("TA0002".into()),
            technique: Some("T1609".into()),
        },
        cluster: Some("prod".into()),
        resource: Some(ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("shop".into()),
            name: "web-0".into(),
        }),
        user: Some(user.into()),
        message: message.into(),
        seen_at: Some(at.into()),
        event: None,
        occurrences: 1,
    }
}

async fn platform_contract(fx: &Fixture) {
    let store = &fx.store;
    store.ping().await.unwrap();

    // deduplication: same type, rule, cluster, resource and user fold into one alert
    let a = store
        .record_alert(&occurrence("alice", "2026-01-01T10:00:00Z", "first"))
        .await
        .unwrap();
    let again = store
        .record_alert(&occurrence("alice", "2026-01-01T11:00:00Z", "second"))
        .await
        .unwrap();
    assert_eq!(again.id, a.id);
    assert_eq!(again.count, 2);
    assert_eq!(again.first_seen, "2026-01-01T10:00:00Z");
    assert_eq!(again.last_seen, "2026-01-01T11:00:00Z");
    assert_eq!(again.message, "second");
    let bob = store
        .record_alert(&occurrence("bob", "2026-01-01T09:00:00Z", "other user"))
        .await
        .unwrap();
    assert_ne!(bob.id, a.id);

    // listing, newest first, with filters
    let all = store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![a.id, bob.id]
    );
    let none = store
        .list_alerts(&AlertFilter {
            severity: Some(Severity::High),
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let first = store
        .list_alerts(&AlertFilter {
            limit: 1,
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let page = store
        .list_alerts(&AlertFilter {
            limit: 1,
            after: Some(AlertCursor::after(&first[0])),
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, bob.id);

    // lifecycle: a dismissed alert stays dismissed while it repeats
    let dismissed = store
        .set_alert_status(
            a.id,
            AlertStatus::Dismissed,
            "admin-token",
            Some("expected"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dismissed.status, AlertStatus::Dismissed);
    assert_eq!(dismissed.status_by.as_deref(), Some("admin-token"));
    let repeat = store
        .record_alert(&occurrence("alice", "2026-01-01T12:00:00Z", "third"))
        .await
        .unwrap();
    assert_eq!((repeat.id, repeat.count), (a.id, 3));
    assert_eq!(repeat.status, AlertStatus::Dismissed);
    // a resolved alert is closed: the next occurrence opens a new one
    store
        .set_alert_status(a.id, AlertStatus::Resolved, "admin-token", None)
        .await
        .unwrap();
    let reopened = store
        .record_alert(&occurrence("alice", "2026-01-02T12:00:00Z", "fourth"))
        .await
        .unwrap();
    assert_ne!(reopened.id, a.id);
    assert_eq!((reopened.count, reopened.status), (1, AlertStatus::Active));
    assert!(
        store
            .set_alert_status(a.id, AlertStatus::Active, "x", None)
            .await
            .is_err(),
        "two open alerts cannot share a fingerprint"
    );
    assert!(
        store
            .set_alert_status(9999, AlertStatus::Dismissed, "x", None)
            .await
            .unwrap()
            .is_none()
    );
    let active = store
        .list_alerts(&AlertFilter {
            status: Some(AlertStatus::Active),
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(active.len(), 2);
    let counts = store.alert_counts().await.unwrap();
    let total: u64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(total, 3);
    assert!(
        counts
            .iter()
            .any(|c| c.status == AlertStatus::Resolved && c.count == 1)
    );

    // tokens are found by hash only
    let t = store
        .insert_token("hash-1", Role::Reader, "ci")
        .await
        .unwrap();
    assert_eq!(t.role, Role::Reader);
    assert_eq!(
        store
            .token_by_hash("hash-1")
            .await
            .unwrap()
            .map(|t| t.label),
        Some("ci".to_owned())
    );
    assert!(store.token_by_hash("hash-2").await.unwrap().is_none());
    assert!(
        store
            .insert_token("hash-1", Role::Admin, "dup")
            .await
            .is_err()
    );
    // a sensor token is stored with its role
    let sensor = store
        .insert_token("hash-3", Role::Sensor, "audit webhook")
        .await
        .unwrap();
    assert_eq!(sensor.role, Role::Sensor);
    assert_eq!(
        store.token_by_hash("hash-3").await.unwrap().map(|t| t.role),
        Some(Role::Sensor)
    );
    assert_eq!(
        store
            .list_tokens()
            .await
            .unwrap()
            .iter()
            .map(|t| t.role)
            .collect::<Vec<_>>(),
        vec![Role::Reader, Role::Sensor]
    );
    assert!(store.revoke_token(t.id).await.unwrap());
    assert!(!store.revoke_token(t.id).await.unwrap());
    assert!(store.token_by_hash("hash-1").await.unwrap().is_none());

    // images by digest; a later report keeps the stored SBOM
    let mut vulns = BTreeMap::new();
    vulns.insert("critical".to_owned(), 2);
    let report = ImageReport {
        digest: "sha256:aa".into(),
        reference: "registry.example/web:1".into(),
        vulnerabilities: vulns,
        report: json!({"matches": [1, 2]}),
        sbom: Some(json!({"bomFormat": "CycloneDX"})),
    };
    let rec = store.put_image_report(&report).await.unwrap();
    assert!(rec.has_sbom);
    store
        .put_image_report(&ImageReport {
            sbom: None,
            ..report.clone()
        })
        .await
        .unwrap();
    let (rec, body) = store.image_report("sha256:aa").await.unwrap().unwrap();
    assert_eq!(rec.vulnerabilities["critical"], 2);
    assert_eq!(body, json!({"matches": [1, 2]}));
    assert_eq!(
        store.image_sbom("sha256:aa").await.unwrap(),
        Some(Some(json!({"bomFormat": "CycloneDX"})))
    );
    assert_eq!(store.image_sbom("sha256:bb").await.unwrap(), None);
    assert_eq!(store.list_images().await.unwrap().len(), 1);

    // settings documents
    assert!(store.get_setting("server").await.unwrap().is_none());
    store.put_setting("server", &json!({"a": 1})).await.unwrap();
    store.put_setting("server", &json!({"a": 2})).await.unwrap();
    assert_eq!(
        store.get_setting("server").await.unwrap(),
        Some(json!({"a": 2}))
    );
}

async fn migrations_apply_once_and_data_survives_reopening(fx: &Fixture) {
    fx.store.upsert_cluster("c", "c", "s").await.unwrap();
    let id = fx
        .store
        .save_snapshot("c", &first_objects(), &[])
        .await
        .unwrap();
    // reopening applies no migration twice and keeps the data
    let again = AnyStore::open(&fx.location).await.unwrap();
    assert_eq!(again.load_snapshot_objects(id).await.unwrap().len(), 3);
    drop(again);
    assert_eq!(
        fx.scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .await,
        7,
        "each migration applied exactly once"
    );
    assert_eq!(
        fx.scalar("SELECT max(version) FROM _sqlx_migrations").await,
        7
    );
    if let AnyStore::Sqlite(_) = fx.store {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&fx.location)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "the data directory is private");
        }
        let pool = sqlx::SqlitePool::connect(&format!(
            "sqlite:{}/{}",
            fx.location,
            palisade_store::DATABASE_FILE
        ))
        .await
        .unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

async fn unchanged_objects_are_stored_once(fx: &Fixture) {
    fx.store.upsert_cluster("c", "c", "s").await.unwrap();
    for _ in 0..3 {
        fx.store
            .save_snapshot("c", &first_objects(), &[])
            .await
            .unwrap();
    }
    assert_eq!(fx.scalar("SELECT count(*) FROM object_contents").await, 3);
    assert_eq!(fx.scalar("SELECT count(*) FROM snapshot_objects").await, 9);
}

/// Two writers (two server replicas, or two requests) reporting the same alert at once.
async fn concurrent_occurrences_fold_into_one_alert(fx: &Fixture) {
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let store = fx.store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let at = format!("2026-01-01T10:{worker}{i}:00Z");
                store
                    .record_alert(&occurrence("alice", &at, "again"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = fx.store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1, "one open alert per fingerprint");
    assert_eq!(all[0].count, 40);
    assert_eq!(all[0].first_seen, "2026-01-01T10:00:00Z");
    assert_eq!(all[0].last_seen, "2026-01-01T10:39:00Z");
}

async fn exports_are_queued_with_the_alert_once_per_sink(fx: &Fixture) {
    let store = &fx.store;
    let first = store
        .record_alert_with_exports(
            &occurrence("alice", "2026-01-01T10:00:00Z", "first"),
            &["splunk", "elastic"],
        )
        .await
        .unwrap();
    assert_eq!(first.count, 1);
    // a repeat folds into the same alert and queues its new state
    let second = store
        .record_alert_with_exports(
            &occurrence("alice", "2026-01-01T11:00:00Z", "second"),
            &["splunk"],
        )
        .await
        .unwrap();
    assert_eq!((second.id, second.count), (first.id, 2));
    // a plain record queues nothing
    store
        .record_alert(&occurrence("bob", "2026-01-01T12:00:00Z", "quiet"))
        .await
        .unwrap();
    assert_eq!(store.pending_exports("splunk").await.unwrap(), 2);
    assert_eq!(store.pending_exports("elastic").await.unwrap(), 1);
    assert_eq!(store.pending_exports("nobody").await.unwrap(), 0);

    let items = store
        .lease_exports("splunk", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0].id < items[1].id, "oldest first");
    assert!(items.iter().all(|i| i.sink == "splunk" && i.attempts == 1));
    assert_eq!(
        items[0].payload,
        serde_json::to_value(&first).unwrap(),
        "the payload is the alert as stored by that occurrence"
    );
    assert_eq!(items[1].payload["count"], json!(2));
    assert_eq!(items[1].payload["message"], json!("second"));
    assert_eq!(items[1].payload["type"], json!("K8S_ExecIntoContainer"));

    // acknowledged items are gone for good; other sinks keep theirs
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    assert_eq!(store.ack_exports(&ids).await.unwrap(), 2);
    assert_eq!(store.ack_exports(&ids).await.unwrap(), 0);
    assert_eq!(store.ack_exports(&[]).await.unwrap(), 0);
    assert_eq!(store.pending_exports("splunk").await.unwrap(), 0);
    assert!(
        store
            .lease_exports("splunk", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.pending_exports("elastic").await.unwrap(), 1);
}

async fn unacknowledged_exports_come_back_after_the_lease(fx: &Fixture) {
    let store = &fx.store;
    for user in ["a", "b", "c"] {
        store
            .record_alert_with_exports(&occurrence(user, "2026-01-01T10:00:00Z", "m"), &["siem"])
            .await
            .unwrap();
    }
    // a sender leases two items and dies before acknowledging them
    let lost = store
        .lease_exports("siem", 2, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(lost.len(), 2);
    // while the lease holds, only the third item is handed out
    let held = store
        .lease_exports("siem", 10, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].id > lost[1].id);
    assert!(
        store
            .lease_exports("siem", 10, Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.pending_exports("siem").await.unwrap(), 3);

    tokio::time::sleep(Duration::from_millis(600)).await;
    let back = store
        .lease_exports("siem", 10, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|i| i.id).collect::<Vec<_>>(),
        lost.iter().map(|i| i.id).collect::<Vec<_>>(),
        "the dead sender's items come back, oldest first"
    );
    assert!(back.iter().all(|i| i.attempts == 2));
    assert_eq!(back[0].payload, lost[0].payload);
    let ids: Vec<i64> = back.iter().chain(&held).map(|i| i.id).collect();
    assert_eq!(store.ack_exports(&ids).await.unwrap(), 3);
    assert_eq!(store.pending_exports("siem").await.unwrap(), 0);
}

async fn concurrent_leasers_never_share_an_item(fx: &Fixture) {
    let total = 200;
    for n in 0..total {
        fx.store
            .record_alert_with_exports(
                &occurrence(&format!("user-{n}"), "2026-01-01T10:00:00Z", "m"),
                &["siem"],
            )
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = fx.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .lease_exports("siem", 7, Duration::from_secs(3600))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|i| i.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut seen = BTreeSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "item {id} was leased twice");
        }
    }
    assert_eq!(seen.len(), total, "every item was leased once");
}

fn spread_findings() -> Vec<Finding> {
    let mut out = Vec::new();
    for i in 0..60 {
        let (check, severity) = match i % 4 {
            0 | 1 => ("no-limits", Severity::Medium),
            2 => ("privileged", Severity::Critical),
            _ => ("latest-tag", Severity::Low),
        };
        let mut f = finding(check, severity, &format!("web-{i:02}"));
        f.title = format!("title of {check}").into();
        f.resource.namespace = Some(if i % 3 == 0 { "shop" } else { "ops" }.into());
        if i % 5 == 0 {
            f.resource.kind = "StatefulSet".into();
        }
        out.push(f);
    }
    // one check whose findings differ in severity: the highest wins
    let mut odd = finding("host-path", Severity::Low, "db");
    odd.title = "title of host-path".into();
    out.push(odd.clone());
    odd.severity = Severity::High;
    odd.resource.name = "DB-Primary".into();
    out.push(odd);
    out
}

async fn recommendations_aggregate_findings_by_check(fx: &Fixture) {
    let store = &fx.store;
    store.upsert_cluster("c", "c", "s").await.unwrap();
    let id = store
        .save_snapshot("c", &[], &spread_findings())
        .await
        .unwrap();
    let rec = |check: &str, severity, count| Recommendation {
        check_id: check.into(),
        title: format!("title of {check}"),
        severity,
        count,
    };
    assert_eq!(
        store.recommendations(id).await.unwrap(),
        vec![
            rec("privileged", Severity::Critical, 15),
            rec("host-path", Severity::High, 2),
            rec("no-limits", Severity::Medium, 30),
            rec("latest-tag", Severity::Low, 15),
        ],
        "most severe first, then most frequent"
    );
    // filtered: counted over the matching findings only
    let ops = FindingFilter {
        namespace: Some("ops".into()),
        ..FindingFilter::default()
    };
    assert_eq!(
        store.recommendations_matching(id, &ops).await.unwrap(),
        vec![
            rec("privileged", Severity::Critical, 10),
            rec("no-limits", Severity::Medium, 20),
            rec("latest-tag", Severity::Low, 10),
        ]
    );
    let db = FindingFilter {
        resource_contains: Some("deployment/SHOP/db".into()),
        ..FindingFilter::default()
    };
    assert_eq!(
        store.recommendations_matching(id, &db).await.unwrap(),
        vec![rec("host-path", Severity::High, 2)],
        "Kind/namespace/name, any case"
    );
    assert_eq!(
        store
            .recommendations_matching(id, &FindingFilter::default())
            .await
            .unwrap(),
        store.recommendations(id).await.unwrap()
    );
    let other = store.save_snapshot("c", &[], &[]).await.unwrap();
    assert!(store.recommendations(other).await.unwrap().is_empty());
    assert!(
        store
            .recommendations(SnapshotId(9999))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Pages through the whole filtered list, `limit` at a time, through the cursor's text form.
async fn walk(
    store: &AnyStore,
    id: SnapshotId,
    filter: &FindingFilter,
    limit: u32,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut after: Option<FindingCursor> = None;
    let mut pages = 0;
    loop {
        let page = store.findings_page(id, filter, after, limit).await.unwrap();
        assert!(page.findings.len() <= limit.max(1) as usize);
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        out.extend(page.findings);
        match page.next {
            Some(c) => after = Some(c.to_string().parse().unwrap()),
            None => return out,
        }
    }
}

async fn findings_pages_walk_the_filtered_findings_once(fx: &Fixture) {
    let store = &fx.store;
    store.upsert_cluster("c", "c", "s").await.unwrap();
    let all = spread_findings();
    let id = store.save_snapshot("c", &[], &all).await.unwrap();
    // a second snapshot's findings never leak into the first one's pages
    store.save_snapshot("c", &[], &all[..5]).await.unwrap();

    let none = FindingFilter::default();
    assert_eq!(walk(store, id, &none, 7).await, all);
    assert_eq!(walk(store, id, &none, 1000).await, all);
    let first = store.findings_page(id, &none, None, 10).await.unwrap();
    assert_eq!(first.findings, all[..10]);
    let exact = store.findings_page(id, &none, None, 62).await.unwrap();
    assert_eq!(
        (exact.findings.len(), exact.next),
        (62, None),
        "no empty last page"
    );
    let zero = store.findings_page(id, &none, None, 0).await.unwrap();
    assert_eq!(zero.findings.len(), 1, "a limit of 0 means 1");

    let filters = [
        FindingFilter {
            check_id: Some("privileged".into()),
            ..FindingFilter::default()
        },
        FindingFilter {
            namespace: Some("shop".into()),
            kind: Some("StatefulSet".into()),
            ..FindingFilter::default()
        },
        FindingFilter {
            name_contains: Some("B-p".into()),
            ..FindingFilter::default()
        },
        FindingFilter {
            check_id: Some("no-limits".into()),
            namespace: Some("ops".into()),
            name_contains: Some("web-1".into()),
            ..FindingFilter::default()
        },
        FindingFilter {
            name_contains: Some("%".into()),
            ..FindingFilter::default()
        },
    ];
    for filter in &filters {
        let contains = |f: &Finding, text: &str| {
            f.resource
                .name
                .to_ascii_lowercase()
                .contains(&text.to_ascii_lowercase())
        };
        let expected: Vec<Finding> = all
            .iter()
            .filter(|f| filter.check_id.as_deref().is_none_or(|c| f.check_id == c))
            .filter(|f| {
                filter
                    .namespace
                    .as_deref()
                    .is_none_or(|n| f.resource.namespace.as_deref() == Some(n))
            })
            .filter(|f| filter.kind.as_deref().is_none_or(|k| f.resource.kind == k))
            .filter(|f| {
                filter
                    .name_contains
                    .as_deref()
                    .is_none_or(|t| contains(f, t))
            })
            .cloned()
            .collect();
        assert_eq!(walk(store, id, filter, 3).await, expected, "{filter:?}");
    }
    assert_eq!(
        walk(store, id, &filters[2], 3).await.len(),
        1,
        "name search ignores ASCII case"
    );
    assert!(
        walk(store, id, &filters[4], 3).await.is_empty(),
        "no wildcards"
    );
    assert!(
        store
            .findings_page(SnapshotId(9999), &none, None, 10)
            .await
            .unwrap()
            .findings
            .is_empty()
    );
}

/// Objects of an inventory: 30 Deployments in two namespaces with labels and images, a
/// cluster-scoped Namespace and a Pod with two containers sharing an image.
fn inventory() -> Vec<Object> {
    let mut out = vec![object(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        0,
    )];
    for i in 0..30 {
        let ns = if i % 3 == 0 { "shop" } else { "ops" };
        let tier = if i % 2 == 0 { "web" } else { "db" };
        let mut labels = json!({"app": format!("app-{i:02}"), "tier": tier});
        if i % 5 == 0 {
            labels["canary"] = json!("yes");
        }
        out.push(object(
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("App-{i:02}"), "namespace": ns, "labels": labels},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "app", "image": format!("registry.example/app:{i}")}]}}}}),
            i + 1,
        ));
    }
    out.push(object(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "ops"},
            "spec": {"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}],
                     "initContainers": [{"name": "i", "image": "alpine"}]}}),
        31,
    ));
    out
}

async fn walk_objects(
    store: &AnyStore,
    id: SnapshotId,
    filter: &ObjectFilter,
    limit: u32,
) -> Vec<ObjectSummary> {
    let mut out = Vec::new();
    let mut after: Option<ObjectCursor> = None;
    for _ in 0..1000 {
        let page = store.objects_page(id, filter, after, limit).await.unwrap();
        assert!(page.objects.len() <= limit as usize);
        out.extend(page.objects);
        match page.next {
            Some(c) => after = Some(c.to_string().parse().unwrap()),
            None => {
                let n = store.count_objects(id, filter).await.unwrap();
                assert_eq!(
                    n,
                    out.len() as u64,
                    "count agrees with the pages: {filter:?}"
                );
                return out;
            }
        }
    }
    panic!("paging does not end");
}

async fn object_pages_filter_in_the_store(fx: &Fixture) {
    let store = &fx.store;
    store.upsert_cluster("c", "c", "s").await.unwrap();
    let objects = inventory();
    let mut findings = vec![finding("no-limits", Severity::Medium, "App-03")];
    findings[0].resource.namespace = Some("shop".into());
    findings.push(findings[0].clone());
    let id = store.save_snapshot("c", &objects, &findings).await.unwrap();
    store.save_snapshot("c", &objects[..3], &[]).await.unwrap();

    let all = walk_objects(store, id, &ObjectFilter::default(), 7).await;
    assert_eq!(all.len(), 32);
    let names: Vec<&str> = all.iter().map(|o| o.resource.name.as_str()).collect();
    assert_eq!(&names[..3], ["shop", "App-00", "App-01"], "saved order");
    let app3 = &all[4];
    assert_eq!(app3.resource.name, "App-03");
    assert_eq!(app3.findings, 2);
    assert_eq!(app3.images, ["registry.example/app:3"]);
    assert_eq!(
        app3.labels,
        BTreeMap::from([
            ("app".into(), "app-03".into()),
            ("tier".into(), "db".into())
        ])
    );
    assert_eq!(all[31].images, ["busybox", "alpine"], "no repeats");
    assert!(all[0].images.is_empty() && all[0].labels.is_empty());

    let by = |f: ObjectFilter| f;
    let cases: Vec<(ObjectFilter, usize)> = vec![
        (
            by(ObjectFilter {
                namespace: Some("shop".into()),
                ..Default::default()
            }),
            10,
        ),
        (
            by(ObjectFilter {
                kind: Some("deployment".into()),
                ..Default::default()
            }),
            30,
        ),
        (
            by(ObjectFilter {
                name_contains: Some("APP-2".into()),
                ..Default::default()
            }),
            10,
        ),
        (
            by(ObjectFilter {
                labels: vec![LabelRequirement::Equals("tier".into(), "web".into())],
                ..Default::default()
            }),
            15,
        ),
        (
            by(ObjectFilter {
                labels: vec![
                    LabelRequirement::Exists("canary".into()),
                    LabelRequirement::NotEquals("tier".into(), "db".into()),
                ],
                ..Default::default()
            }),
            3,
        ),
        (
            by(ObjectFilter {
                labels: vec![LabelRequirement::Absent("app".into())],
                ..Default::default()
            }),
            2,
        ),
        (
            by(ObjectFilter {
                labels: vec![LabelRequirement::Equals("app".into(), "app-0".into())],
                ..Default::default()
            }),
            0,
        ),
        (
            by(ObjectFilter {
                image_contains: Some("app:1".into()),
                ..Default::default()
            }),
            11,
        ),
        (
            by(ObjectFilter {
                image_contains: Some("busybox".into()),
                ..Default::default()
            }),
            1,
        ),
        (
            by(ObjectFilter {
                namespace: Some("ops".into()),
                kind: Some("Deployment".into()),
                image_contains: Some("registry.example".into()),
                labels: vec![LabelRequirement::Equals("tier".into(), "web".into())],
                ..Default::default()
            }),
            10,
        ),
    ];
    for (filter, n) in &cases {
        let found = walk_objects(store, id, filter, 4).await;
        assert_eq!(found.len(), *n, "{filter:?}");
    }
    // the selector terms test whole keys and values, not parts of them
    let canary = walk_objects(store, id, &cases[4].0, 2).await;
    for o in &canary {
        assert_eq!(o.labels.get("canary").map(String::as_str), Some("yes"));
        assert_eq!(o.labels.get("tier").map(String::as_str), Some("web"));
    }

    let deployments = store.objects_of_kind(id, "Deployment").await.unwrap();
    assert_eq!(deployments.len(), 30);
    assert_eq!(deployments[0].raw["metadata"]["name"], "App-00");
    assert!(
        store
            .objects_of_kind(id, "deployment")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .objects_page(SnapshotId(9999), &ObjectFilter::default(), None, 10)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

async fn alert_pages_follow_the_keyset_cursor(fx: &Fixture) {
    let store = &fx.store;
    // 25 alerts, some sharing a last_seen (the id breaks the tie)
    for i in 0..25 {
        let mut a = occurrence(&format!("user-{i}"), "", "m");
        a.seen_at = Some(format!("2026-01-01T10:{:02}:00Z", i / 2));
        if i % 4 == 0 {
            a.cluster = Some("other".into());
        }
        store.record_alert(&a).await.unwrap();
    }
    let everything = store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(everything.len(), 25);
    for filter in [
        AlertFilter::default(),
        AlertFilter {
            cluster: Some("other".into()),
            ..AlertFilter::default()
        },
        AlertFilter {
            status: Some(AlertStatus::Active),
            ..AlertFilter::default()
        },
    ] {
        let expected = store.list_alerts(&filter).await.unwrap();
        let mut walked = Vec::new();
        let mut after: Option<AlertCursor> = None;
        loop {
            let page = store
                .list_alerts(&AlertFilter {
                    limit: 4,
                    after: after.clone(),
                    ..filter.clone()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(AlertCursor::after(last).to_string().parse().unwrap());
            walked.extend(page);
        }
        assert_eq!(walked, expected, "{filter:?}");
    }
}

async fn alerts_keep_their_latest_raw_events(fx: &Fixture) {
    let store = &fx.store;
    let with_event = |i: usize, event: String| NewAlert {
        event: Some(event),
        ..occurrence("mallory", &format!("2026-03-01T10:{i:02}:00Z"), "exec")
    };
    let first = store
        .record_alert(&with_event(0, r#"{"auditID":"e0","verb":"create"}"#.into()))
        .await
        .unwrap();
    let events = store.alert_events(first.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event["auditID"], "e0");
    assert_eq!(events[0].seen_at, "2026-03-01T10:00:00Z");
    // An occurrence without an event folds in and keeps the evidence there is.
    let plain = store
        .record_alert(&occurrence("mallory", "2026-03-01T10:00:30Z", "exec"))
        .await
        .unwrap();
    assert_eq!(plain.id, first.id);
    assert_eq!(store.alert_events(first.id).await.unwrap().len(), 1);
    // The latest ten are kept, newest first.
    for i in 1..15 {
        store
            .record_alert(&with_event(i, format!(r#"{{"auditID":"e{i}"}}"#)))
            .await
            .unwrap();
    }
    let events = store.alert_events(first.id).await.unwrap();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e.event["auditID"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "e14", "e13", "e12", "e11", "e10", "e9", "e8", "e7", "e6", "e5"
        ]
    );
    // An event cut at the detector's size limit is not JSON: it comes back as text.
    let cut = store
        .record_alert(&NewAlert {
            event: Some(r#"{"auditID":"cut","requestObject":{"spec":"#.into()),
            ..occurrence("eve", "2026-03-01T11:00:00Z", "exec")
        })
        .await
        .unwrap();
    let events = store.alert_events(cut.id).await.unwrap();
    assert_eq!(
        events[0].event,
        Value::String(r#"{"auditID":"cut","requestObject":{"spec":"#.into())
    );
    assert!(store.alert_events(999_999).await.unwrap().is_empty());
}

async fn folded_occurrences_add_to_the_count(fx: &Fixture) {
    let store = &fx.store;
    // A detector reports the first event of a burst, then the 41 that followed in one record.
    let first = store
        .record_alert(&occurrence("trudy", "2026-04-01T10:00:00Z", "burst"))
        .await
        .unwrap();
    assert_eq!(first.count, 1);
    let folded = store
        .record_alert(&NewAlert {
            occurrences: 41,
            ..occurrence("trudy", "2026-04-01T10:09:00Z", "burst")
        })
        .await
        .unwrap();
    assert_eq!((folded.id, folded.count), (first.id, 42));
    assert_eq!(folded.last_seen, "2026-04-01T10:09:00Z");
    // A new alert starts at its record's occurrences; zero counts as one.
    let fresh = store
        .record_alert(&NewAlert {
            occurrences: 7,
            ..occurrence("victor", "2026-04-01T11:00:00Z", "burst")
        })
        .await
        .unwrap();
    assert_eq!(fresh.count, 7);
    let zero = store
        .record_alert(&NewAlert {
            occurrences: 0,
            ..occurrence("victor", "2026-04-01T11:01:00Z", "burst")
        })
        .await
        .unwrap();
    assert_eq!(zero.count, 8);
}

async fn retention_keeps_each_clusters_latest_snapshot_and_open_alerts(fx: &Fixture) {
    let store = &fx.store;
    for id in ["c-a", "c-b"] {
        store
            .upsert_cluster(id, id, "https://10.0.0.1:6443")
            .await
            .unwrap();
    }
    let mut changed = first_objects();
    changed[1] = object(
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:2"}]}}}}),
        1,
    );
    let findings = [finding("privileged", Severity::High, "web")];
    let old_a = store
        .save_snapshot("c-a", &first_objects(), &findings)
        .await
        .unwrap();
    let new_a = store.save_snapshot("c-a", &changed, &[]).await.unwrap();
    let only_b = store.save_snapshot("c-b", &changed, &[]).await.unwrap();
    let active = store
        .record_alert(&occurrence("oscar", "2026-05-01T10:00:00Z", "kept"))
        .await
        .unwrap();
    let done = store
        .record_alert(&occurrence("peggy", "2026-05-01T10:00:00Z", "gone"))
        .await
        .unwrap();
    store
        .set_alert_status(done.id, AlertStatus::Resolved, "ops", None)
        .await
        .unwrap();

    // Nothing is older than a cut-off in the past.
    let none = store.prune("2000-01-01T00:00:00Z").await.unwrap();
    assert_eq!(none, Pruned::default());
    // An alert last seen months ago but resolved just now is kept for the retention.
    let hour_ago =
        palisade_model::time::rfc3339(palisade_model::time::unix_now().saturating_sub(3600));
    assert_eq!(store.prune(&hour_ago).await.unwrap(), Pruned::default());

    // Everything is older than a cut-off in the future: all but each cluster's latest go.
    let pruned = store.prune("9999-01-01T00:00:00Z").await.unwrap();
    assert_eq!((pruned.snapshots, pruned.alerts), (1, 1), "{pruned:?}");
    // The first Deployment body is referred to by no snapshot any more (the other two
    // objects are shared with the kept snapshots).
    assert_eq!(pruned.contents, 1, "{pruned:?}");
    let a = store.latest_snapshots("c-a", 5).await.unwrap();
    assert_eq!(a.iter().map(|s| s.id).collect::<Vec<_>>(), [new_a]);
    assert!(store.load_findings(old_a).await.unwrap().is_empty());
    assert_eq!(store.load_snapshot_objects(new_a).await.unwrap().len(), 3);
    assert_eq!(store.load_snapshot_objects(only_b).await.unwrap().len(), 3);
    assert!(store.get_alert(active.id).await.unwrap().is_some());
    assert!(store.get_alert(done.id).await.unwrap().is_none());
    // Pruning again finds nothing more.
    assert_eq!(
        store.prune("9999-01-01T00:00:00Z").await.unwrap(),
        Pruned::default()
    );
}
