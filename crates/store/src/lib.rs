//! Persistence for palisade: the embedded SQLite store under the data directory, or a
//! PostgreSQL database.
//!
//! # Backends
//!
//! * [`SqliteStore`]: `palisade.db` in a data directory, WAL mode; the default, nothing to run.
//! * [`PgStore`]: a PostgreSQL database named by a `postgres://` URL, for several server
//!   replicas or sites that already operate PostgreSQL ([`postgres`]).
//! * [`AnyStore`]: whichever of the two a *location* names. [`AnyStore::open`] takes a
//!   `postgres://` or `postgresql://` URL (PostgreSQL) or anything else (a data directory for
//!   SQLite), and implements both traits by delegation ([`any`]).
//!
//! Both backends implement the same two traits and run the same test suite
//! (`tests/store.rs`: every test once against SQLite and once against a PostgreSQL server the
//! test starts itself).
//!
//! The schema is created and upgraded by versioned migrations (`migrations/sqlite/NNNN_*.sql`
//! and `migrations/postgres/NNNN_*.sql`, same numbering, embedded in the binary and applied in
//! order at open; applied versions are recorded, so opening is idempotent and a newer binary
//! upgrades an older database in place).
//!
//! # What is stored
//!
//! The history of saved posture scans per target (SQLite only, used by the CLI): each scan's
//! findings, identified by a fingerprint (check, resource, container, evidence), so that a new
//! scan can be compared with the previous one ([`ScanComparison`]).
//!
//! Cluster history goes through the [`Store`] trait ([`snapshots`]): clusters, snapshots of
//! their objects (content-addressed by SHA-256, so unchanged objects are stored once), the
//! findings of each snapshot, and the server's lists over them (recommendations aggregated in
//! SQL, keyset-paginated findings and inventory objects).
//!
//! The platform server's state (alerts with their lifecycle, hashed API tokens, image reports,
//! settings, and the export outbox for at-least-once delivery to SIEMs) goes through the
//! [`PlatformStore`] trait ([`platform`]).
//!
//! The data directory is created with mode 0700 (on Unix) when missing: it holds the inventory
//! of clusters (Secrets by name only, never their values).
//!
//! Why sqlx and hand-written SQL rather than an ORM: the queries that matter (alert upserts on
//! a partial unique index, `FOR UPDATE SKIP LOCKED` leases, keyset pages) are dialect-specific
//! and few; each backend states them plainly, and row decoding is shared.

pub mod any;
pub mod platform;
pub mod postgres;
mod rows;
pub mod snapshots;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use palisade_model::Finding;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row as _, SqlSafeStr as _};

pub use any::AnyStore;
pub use platform::{
    Alert, AlertCount, AlertCursor, AlertEvent, AlertFilter, AlertStatus, ImageRecord, ImageReport,
    MAX_ALERT_EVENTS, MAX_LEASE, MAX_LEASE_BATCH, Mitre, NewAlert, ParseCursorError,
    ParseNameError, PlatformStore, QueuedExport, Role, TokenRecord,
};
pub use postgres::PgStore;
pub use snapshots::{
    ClusterRecord, FindingCursor, FindingFilter, FindingPage, LabelRequirement, MAX_PAGE,
    ObjectCursor, ObjectFilter, ObjectPage, ObjectSummary, Pruned, Recommendation, SnapshotId,
    SnapshotInfo, Store,
};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "palisade.db";

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be opened or created.
    #[error("cannot open the store at {path}")]
    Open {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("cannot migrate the store at {path}")]
    Migrate {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The PostgreSQL location is not a valid URL (the location is shown without password).
    #[error("invalid PostgreSQL URL {location}")]
    InvalidUrl {
        /// The URL, password removed.
        location: String,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("cannot connect to the PostgreSQL store at {location}")]
    Connect {
        /// Server and database, password removed.
        location: String,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration of the PostgreSQL store failed.
    #[error("cannot migrate the PostgreSQL store at {location}")]
    MigrateServer {
        /// Server and database, password removed.
        location: String,
        /// Cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}")]
    CreateDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot was saved for a cluster that was never recorded with `upsert_cluster`.
    #[error("unknown cluster {0:?}: record it with upsert_cluster first")]
    UnknownCluster(String),
    /// A change conflicts with the stored state (e.g. re-opening an alert that was opened
    /// again since).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored finding could not be decoded.
    #[error("stored finding is not valid JSON: {0}")]
    Decode(#[from] serde_json::Error),
}

/// The migrations, in order: (version, description, SQLite text, PostgreSQL text).
const MIGRATIONS: [(i64, &str, &str, &str); 7] = [
    (
        1,
        "scans",
        include_str!("../migrations/sqlite/0001_scans.sql"),
        include_str!("../migrations/postgres/0001_scans.sql"),
    ),
    (
        2,
        "scan objects",
        include_str!("../migrations/sqlite/0002_scan_objects.sql"),
        include_str!("../migrations/postgres/0002_scan_objects.sql"),
    ),
    (
        3,
        "cluster snapshots",
        include_str!("../migrations/sqlite/0003_cluster_snapshots.sql"),
        include_str!("../migrations/postgres/0003_cluster_snapshots.sql"),
    ),
    (
        4,
        "platform",
        include_str!("../migrations/sqlite/0004_platform.sql"),
        include_str!("../migrations/postgres/0004_platform.sql"),
    ),
    (
        5,
        "outbox and lists",
        include_str!("../migrations/sqlite/0005_outbox_and_lists.sql"),
        include_str!("../migrations/postgres/0005_outbox_and_lists.sql"),
    ),
    (
        6,
        "inventory lists",
        include_str!("../migrations/sqlite/0006_inventory_lists.sql"),
        include_str!("../migrations/postgres/0006_inventory_lists.sql"),
    ),
    (
        7,
        "alert events",
        include_str!("../migrations/sqlite/0007_alert_events.sql"),
        include_str!("../migrations/postgres/0007_alert_events.sql"),
    ),
];

/// The embedded migrations of one backend.
pub(crate) fn migrator(postgres: bool) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sqlite, pg)| {
                let sql = if postgres { *pg } else { *sqlite };
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The stable identity of a finding across scans.
pub fn fingerprint(f: &Finding) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        f.check_id,
        f.resource.api_version,
        f.resource.kind,
        f.resource.namespace.as_deref().unwrap_or(""),
        f.resource.name,
        f.container.as_deref().unwrap_or(""),
        f.evidence
    )
}

/// What changed since the previous saved scan of the same target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanComparison {
    /// Id of the scan just saved.
    pub scan_id: i64,
    /// Id of the previous scan of the target, if any.
    pub previous_scan_id: Option<i64>,
    /// Findings present now and not in the previous scan.
    pub new: Vec<Finding>,
    /// Findings of the previous scan that are gone.
    pub fixed: Vec<Finding>,
    /// Findings in both.
    pub unchanged: usize,
    /// Resources (keys) present now and not in the previous scan.
    pub added: Vec<String>,
    /// Resources whose content changed.
    pub changed: Vec<String>,
    /// Resources of the previous scan that are gone.
    pub removed: Vec<String>,
}

/// One object a scan saw: a stable key (`apiVersion/kind/namespace/name`) and a content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDigest {
    /// Stable key.
    pub key: String,
    /// Hash of the content that matters (volatile fields left out by the caller).
    pub hash: String,
}

/// Creates `dir` and its missing parents; the directory itself gets mode 0700 on Unix.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The embedded SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) `palisade.db` in `data_dir`, in WAL mode. A
    /// missing `data_dir` is created (mode 0700 on Unix).
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, Error> {
        create_private_dir(data_dir).map_err(|source| Error::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
        migrator(false)
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate { path, source })?;
        let store = SqliteStore { pool };
        store.fill_object_columns().await?;
        Ok(store)
    }

    /// Saves a scan of `target` and compares it with the target's previous scan.
    pub async fn record_scan(
        &self,
        target: &str,
        objects: &[ObjectDigest],
        findings: &[Finding],
        now: &str,
    ) -> Result<ScanComparison, Error> {
        let resources = objects.len();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO targets (name, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(target)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let target_id: i64 = sqlx::query("SELECT id FROM targets WHERE name = ?1")
            .bind(target)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let previous: Option<i64> = sqlx::query("SELECT max(id) FROM scans WHERE target_id = ?1")
            .bind(target_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let scan_id: i64 = sqlx::query(
            "INSERT INTO scans (target_id, taken_at, resources, findings) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .bind(target_id)
        .bind(now)
        .bind(i64::try_from(resources).unwrap_or(i64::MAX))
        .bind(i64::try_from(findings.len()).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for f in findings {
            sqlx::query(
                "INSERT INTO findings (scan_id, fingerprint, check_id, severity, namespace, kind, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .bind(scan_id)
            .bind(fingerprint(f))
            .bind(&f.check_id)
            .bind(f.severity.as_str())
            .bind(f.resource.namespace.as_deref())
            .bind(&f.resource.kind)
            .bind(&f.resource.name)
            .bind(serde_json::to_string(f)?)
            .execute(&mut *tx)
            .await?;
        }
        for o in objects {
            sqlx::query("INSERT INTO scan_objects (scan_id, key, hash) VALUES (?1, ?2, ?3)")
                .bind(scan_id)
                .bind(&o.key)
                .bind(&o.hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let old_objects: std::collections::HashMap<String, String> = match previous {
            Some(id) => sqlx::query("SELECT key, hash FROM scan_objects WHERE scan_id = ?1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                .collect::<Result<_, sqlx::Error>>()?,
            None => Default::default(),
        };
        let new_keys: std::collections::HashSet<&str> =
            objects.iter().map(|o| o.key.as_str()).collect();
        let mut added = Vec::new();
        let mut changed = Vec::new();
        if previous.is_some() {
            for o in objects {
                match old_objects.get(&o.key) {
                    None => added.push(o.key.clone()),
                    Some(h) if *h != o.hash => changed.push(o.key.clone()),
                    Some(_) => {}
                }
            }
        }
        let mut removed: Vec<String> = old_objects
            .keys()
            .filter(|k| !new_keys.contains(k.as_str()))
            .cloned()
            .collect();
        removed.sort();
        let before = match previous {
            Some(id) => self.scan_findings(id).await?,
            None => Vec::new(),
        };
        let old: std::collections::HashSet<String> = before.iter().map(fingerprint).collect();
        let now_set: std::collections::HashSet<String> = findings.iter().map(fingerprint).collect();
        Ok(ScanComparison {
            scan_id,
            previous_scan_id: previous,
            new: findings
                .iter()
                .filter(|f| previous.is_some() && !old.contains(&fingerprint(f)))
                .cloned()
                .collect(),
            fixed: before
                .iter()
                .filter(|f| !now_set.contains(&fingerprint(f)))
                .cloned()
                .collect(),
            unchanged: findings
                .iter()
                .filter(|f| old.contains(&fingerprint(f)))
                .count(),
            added,
            changed,
            removed,
        })
    }

    /// The findings of a saved scan.
    pub async fn scan_findings(&self, scan_id: i64) -> Result<Vec<Finding>, Error> {
        let rows = sqlx::query("SELECT body FROM findings WHERE scan_id = ?1 ORDER BY rowid")
            .bind(scan_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get(0)?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect()
    }

    /// Number of saved scans of a target.
    pub async fn scan_count(&self, target: &str) -> Result<i64, Error> {
        Ok(sqlx::query(
            "SELECT count(*) FROM scans JOIN targets ON targets.id = scans.target_id WHERE targets.name = ?1",
        )
        .bind(target)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use palisade_model::{ResourceRef, Severity};

    use super::*;

    fn f(check: &str, name: &str) -> Finding {
        Finding {
            check_id: check.to_owned().into(),
            title: "t".into(),
            severity: Severity::High,
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("n".into()),
                name: name.into(),
            },
            container: None,
            message: "m".into(),
            evidence: "$.spec".into(),
            remediation: "r".into(),
            mitre: vec!["T1611".into()],
        }
    }

    fn objs(list: &[(&str, &str)]) -> Vec<ObjectDigest> {
        list.iter()
            .map(|(k, h)| ObjectDigest {
                key: (*k).into(),
                hash: (*h).into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn history_reports_added_changed_and_removed_resources() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store
            .record_scan("c", &objs(&[("a", "1"), ("b", "1"), ("c", "1")]), &[], "t1")
            .await
            .unwrap();
        let next = store
            .record_scan("c", &objs(&[("a", "1"), ("b", "2"), ("d", "1")]), &[], "t2")
            .await
            .unwrap();
        assert_eq!(next.added, vec!["d".to_owned()]);
        assert_eq!(next.changed, vec!["b".to_owned()]);
        assert_eq!(next.removed, vec!["c".to_owned()]);
    }

    #[tokio::test]
    async fn history_reports_new_and_fixed_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let first = store
            .record_scan(
                "prod",
                &[],
                &[f("a", "p1"), f("b", "p1")],
                "2026-01-01T00:00:00Z",
            )
            .await
            .unwrap();
        assert_eq!(first.previous_scan_id, None);
        assert!(first.new.is_empty() && first.fixed.is_empty());
        drop(store);
        // reopening applies no migration twice and keeps the data
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let second = store
            .record_scan(
                "prod",
                &[],
                &[f("b", "p1"), f("c", "p2")],
                "2026-01-02T00:00:00Z",
            )
            .await
            .unwrap();
        assert_eq!(second.previous_scan_id, Some(first.scan_id));
        assert_eq!(second.new, vec![f("c", "p2")]);
        assert_eq!(second.fixed, vec![f("a", "p1")]);
        assert_eq!(second.unchanged, 1);
        assert_eq!(store.scan_count("prod").await.unwrap(), 2);
        assert_eq!(store.scan_findings(first.scan_id).await.unwrap().len(), 2);
        // another target has its own history
        let other = store
            .record_scan("dev", &[], &[], "2026-01-02T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(other.previous_scan_id, None);
    }

    #[tokio::test]
    async fn migration_5_keeps_tokens_and_backfills_titles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        let pool = SqlitePool::connect(&format!("sqlite:{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let mut up_to_4 = migrator(false);
        up_to_4.migrations = std::borrow::Cow::Owned(up_to_4.migrations[..4].to_vec());
        up_to_4.run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO tokens (hash, role, label, created_at) VALUES ('h', 'admin', 'ops', 't');
             INSERT INTO clusters VALUES ('c', 'c', 's', 't', 't');
             INSERT INTO snapshots VALUES (1, 'c', 't', 0, 1, '{}');
             INSERT INTO snapshot_findings VALUES (1, 0, 'privileged', 'high', 'ns', 'Pod', 'p',
                 '{\"title\": \"Privileged container\"}');",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = SqliteStore::open(dir.path()).await.unwrap();
        let tokens = store.list_tokens().await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(
            (tokens[0].role, tokens[0].label.as_str()),
            (Role::Admin, "ops")
        );
        store
            .insert_token("h2", Role::Sensor, "webhook")
            .await
            .unwrap();
        let recs = store.recommendations(SnapshotId(1)).await.unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].title, "Privileged container");
    }

    #[tokio::test]
    async fn migration_6_fills_the_inventory_columns_of_older_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        let pool = SqlitePool::connect(&format!("sqlite:{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let mut up_to_5 = migrator(false);
        up_to_5.migrations = std::borrow::Cow::Owned(up_to_5.migrations[..5].to_vec());
        up_to_5.run(&pool).await.unwrap();
        let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"nginx:1.25"}]}}}}"#;
        sqlx::query(
            "INSERT INTO clusters VALUES ('c', 'c', 's', 't', 't');
             INSERT INTO snapshots VALUES (1, 'c', 't', 1, 1, '{}');
             INSERT INTO object_contents VALUES ('h', ?1);
             INSERT INTO snapshot_objects VALUES (1, 0, 'apps/v1', 'Deployment', 'shop', 'web',
                 'f', 0, 0, 'h');",
        )
        .bind(body)
        .execute(&pool)
        .await
        .unwrap();
        let finding = serde_json::to_string(&f("privileged", "web")).unwrap();
        sqlx::query(
            "INSERT INTO snapshot_findings VALUES (1, 0, 'privileged', 'high', 'shop', 'Pod',
                 'web', ?1, 't')",
        )
        .bind(finding)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = SqliteStore::open(dir.path()).await.unwrap();
        let page = store
            .objects_page(SnapshotId(1), &ObjectFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(page.objects.len(), 1);
        let o = &page.objects[0];
        assert_eq!(o.images, ["nginx:1.25"]);
        assert_eq!(o.labels.get("app").map(String::as_str), Some("web"));
        // the finding is on a Pod named web, not on this Deployment
        assert_eq!(o.findings, 0);
    }
}
