//! The [`Store`] and [`PlatformStore`] contracts, written once over the traits so every backend
//! runs the same suite; run here against the embedded SQLite store in a temporary directory.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;

use palisade_inventory::Object;
use palisade_model::{Finding, Location, ResourceRef, Severity};
use palisade_store::{
    AlertFilter, AlertStatus, ImageReport, Mitre, NewAlert, PlatformStore, Role, SnapshotId,
    SqliteStore, Store,
};
use serde_json::{Value, json};
use sqlx::Row as _;

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
async fn contract<S: Store>(store: &S) {
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

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    contract(&store).await;
}

#[tokio::test]
async fn migrations_apply_from_empty_once_and_data_survives_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let store = SqliteStore::open(&data).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    store.upsert_cluster("c", "c", "s").await.unwrap();
    let id = store
        .save_snapshot("c", &first_objects(), &[])
        .await
        .unwrap();
    drop(store);

    let store = SqliteStore::open(&data).await.unwrap();
    assert_eq!(store.load_snapshot_objects(id).await.unwrap().len(), 3);
    drop(store);

    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite:{}",
        data.join(palisade_store::DATABASE_FILE).display()
    ))
    .await
    .unwrap();
    let versions: Vec<i64> =
        sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
    assert_eq!(
        versions,
        vec![1, 2, 3, 4],
        "each migration applied exactly once"
    );
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unchanged_objects_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.upsert_cluster("c", "c", "s").await.unwrap();
    for _ in 0..3 {
        store
            .save_snapshot("c", &first_objects(), &[])
            .await
            .unwrap();
    }
    drop(store);
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite:{}",
        dir.path().join(palisade_store::DATABASE_FILE).display()
    ))
    .await
    .unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM object_contents").await, 3);
    assert_eq!(count("SELECT count(*) FROM snapshot_objects").await, 9);
}

// --- platform state: alerts, tokens, images, settings ---

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
    }
}

async fn platform_contract<S: PlatformStore>(store: &S) {
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
    let page = store
        .list_alerts(&AlertFilter {
            limit: 1,
            offset: 1,
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
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    assert!(store.revoke_token(t.id).await.unwrap());
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

#[tokio::test]
async fn sqlite_store_meets_the_platform_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    platform_contract(&store).await;
}
