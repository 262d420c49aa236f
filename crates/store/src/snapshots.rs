//! Cluster inventory history behind the [`Store`] trait: clusters, snapshots of their objects
//! (content-addressed, so an unchanged object costs one small row per snapshot) and the findings
//! of each snapshot.

use std::collections::BTreeMap;
use std::future::Future;

use palisade_inventory::Object;
use palisade_model::{Finding, Location, ResourceRef};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use crate::{Error, SqliteStore};

/// Identifier of a saved snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SnapshotId(pub i64);

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A cluster the store knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterRecord {
    /// Stable cluster id (see `palisade_inventory::live::Cluster::id`).
    pub id: String,
    /// Display name (kubeconfig context).
    pub name: String,
    /// API server URL.
    pub server: String,
    /// When the cluster was first recorded (RFC 3339, UTC).
    pub first_seen: String,
    /// When the cluster was last recorded (RFC 3339, UTC).
    pub last_seen: String,
}

/// What the store says about one snapshot, without its objects.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SnapshotInfo {
    /// Id.
    pub id: SnapshotId,
    /// Cluster id.
    pub cluster_id: String,
    /// When it was saved (RFC 3339, UTC).
    pub taken_at: String,
    /// Number of objects.
    pub objects: u64,
    /// Number of findings.
    pub findings: u64,
    /// `{"objects_by_kind": {kind: n}, "findings_by_severity": {severity: n}}`.
    pub summary: Value,
}

/// Persistence of cluster history. Implemented by [`SqliteStore`]; a server backend implements
/// the same trait and runs the same test suite.
pub trait Store: Send + Sync {
    /// Records a cluster (or refreshes its name, server and `last_seen`).
    fn upsert_cluster(
        &self,
        id: &str,
        name: &str,
        server: &str,
    ) -> impl Future<Output = Result<ClusterRecord, Error>> + Send;

    /// Every known cluster, by name.
    fn list_clusters(&self) -> impl Future<Output = Result<Vec<ClusterRecord>, Error>> + Send;

    /// Saves one snapshot of a known cluster: its objects and the findings computed on them.
    fn save_snapshot(
        &self,
        cluster_id: &str,
        objects: &[Object],
        findings: &[Finding],
    ) -> impl Future<Output = Result<SnapshotId, Error>> + Send;

    /// The `n` most recent snapshots of a cluster, newest first.
    fn latest_snapshots(
        &self,
        cluster_id: &str,
        n: u32,
    ) -> impl Future<Output = Result<Vec<SnapshotInfo>, Error>> + Send;

    /// The objects of a snapshot, in the order they were saved.
    fn load_snapshot_objects(
        &self,
        id: SnapshotId,
    ) -> impl Future<Output = Result<Vec<Object>, Error>> + Send;

    /// The findings of a snapshot, in the order they were saved.
    fn load_findings(
        &self,
        id: SnapshotId,
    ) -> impl Future<Output = Result<Vec<Finding>, Error>> + Send;
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn cluster_row(r: &sqlx::sqlite::SqliteRow) -> Result<ClusterRecord, sqlx::Error> {
    Ok(ClusterRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        server: r.try_get("server")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

/// The JSON text stored for an object; Secret values are dropped again here, whatever the
/// caller passed.
fn stored_body(o: &Object) -> Result<String, serde_json::Error> {
    if o.resource.kind == "Secret"
        && let Some(map) = o.raw.as_object()
        && (map.contains_key("data") || map.contains_key("stringData"))
    {
        let mut v = o.raw.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("data");
            m.remove("stringData");
        }
        return serde_json::to_string(&v);
    }
    serde_json::to_string(&o.raw)
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn summary(objects: &[Object], findings: &[Finding]) -> Value {
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for o in objects {
        *kinds.entry(o.resource.kind.as_str()).or_default() += 1;
    }
    let mut severities: BTreeMap<&str, u64> = BTreeMap::new();
    for f in findings {
        *severities.entry(f.severity.as_str()).or_default() += 1;
    }
    serde_json::json!({"objects_by_kind": kinds, "findings_by_severity": severities})
}

impl Store for SqliteStore {
    async fn upsert_cluster(
        &self,
        id: &str,
        name: &str,
        server: &str,
    ) -> Result<ClusterRecord, Error> {
        let now = now_rfc3339();
        let row = sqlx::query(
            "INSERT INTO clusters (id, name, server, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, server = excluded.server,
                 last_seen = excluded.last_seen
             RETURNING id, name, server, first_seen, last_seen",
        )
        .bind(id)
        .bind(name)
        .bind(server)
        .bind(&now)
        .fetch_one(&self.pool)
        .await?;
        Ok(cluster_row(&row)?)
    }

    async fn list_clusters(&self) -> Result<Vec<ClusterRecord>, Error> {
        let rows = sqlx::query(
            "SELECT id, name, server, first_seen, last_seen FROM clusters ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(cluster_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn save_snapshot(
        &self,
        cluster_id: &str,
        objects: &[Object],
        findings: &[Finding],
    ) -> Result<SnapshotId, Error> {
        let mut tx = self.pool.begin().await?;
        let known: i64 = sqlx::query("SELECT count(*) FROM clusters WHERE id = ?1")
            .bind(cluster_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if known == 0 {
            return Err(Error::UnknownCluster(cluster_id.to_owned()));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO snapshots (cluster_id, taken_at, objects, findings, summary)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(cluster_id)
        .bind(now_rfc3339())
        .bind(count(objects.len()))
        .bind(count(findings.len()))
        .bind(summary(objects, findings).to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for (position, o) in objects.iter().enumerate() {
            let body = stored_body(o)?;
            let hash = sha256_hex(&body);
            sqlx::query("INSERT OR IGNORE INTO object_contents (hash, body) VALUES (?1, ?2)")
                .bind(&hash)
                .bind(&body)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO snapshot_objects
                 (snapshot_id, position, api_version, kind, namespace, name, file, document, line, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(id)
            .bind(count(position))
            .bind(&o.resource.api_version)
            .bind(&o.resource.kind)
            .bind(o.resource.namespace.as_deref())
            .bind(&o.resource.name)
            .bind(&o.location.file)
            .bind(count(o.location.document))
            .bind(count(o.location.line))
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        }
        for (position, f) in findings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO snapshot_findings
                 (snapshot_id, position, check_id, severity, namespace, kind, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .bind(id)
            .bind(count(position))
            .bind(&f.check_id)
            .bind(f.severity.as_str())
            .bind(f.resource.namespace.as_deref())
            .bind(&f.resource.kind)
            .bind(&f.resource.name)
            .bind(serde_json::to_string(f)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(SnapshotId(id))
    }

    async fn latest_snapshots(&self, cluster_id: &str, n: u32) -> Result<Vec<SnapshotInfo>, Error> {
        let rows = sqlx::query(
            "SELECT id, cluster_id, taken_at, objects, findings, summary FROM snapshots
             WHERE cluster_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(cluster_id)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let summary: String = r.try_get("summary")?;
                Ok(SnapshotInfo {
                    id: SnapshotId(r.try_get("id")?),
                    cluster_id: r.try_get("cluster_id")?,
                    taken_at: r.try_get("taken_at")?,
                    objects: u64::try_from(r.try_get::<i64, _>("objects")?).unwrap_or(0),
                    findings: u64::try_from(r.try_get::<i64, _>("findings")?).unwrap_or(0),
                    summary: serde_json::from_str(&summary)?,
                })
            })
            .collect()
    }

    async fn load_snapshot_objects(&self, id: SnapshotId) -> Result<Vec<Object>, Error> {
        let rows = sqlx::query(
            "SELECT o.api_version, o.kind, o.namespace, o.name, o.file, o.document, o.line, c.body
             FROM snapshot_objects o JOIN object_contents c ON c.hash = o.hash
             WHERE o.snapshot_id = ?1 ORDER BY o.position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                let index = |name: &str| -> Result<usize, sqlx::Error> {
                    Ok(usize::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0))
                };
                Ok(Object {
                    resource: ResourceRef {
                        api_version: r.try_get("api_version")?,
                        kind: r.try_get("kind")?,
                        namespace: r.try_get("namespace")?,
                        name: r.try_get("name")?,
                    },
                    raw: serde_json::from_str(&body)?,
                    location: Location {
                        file: r.try_get("file")?,
                        document: index("document")?,
                        line: index("line")?,
                    },
                })
            })
            .collect()
    }

    async fn load_findings(&self, id: SnapshotId) -> Result<Vec<Finding>, Error> {
        let rows = sqlx::query(
            "SELECT body FROM snapshot_findings WHERE snapshot_id = ?1 ORDER BY position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get(0)?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect()
    }
}

pub(crate) use palisade_model::time::now_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_sha256_of_the_text() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
