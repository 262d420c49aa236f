//! [`AnyStore`]: one concrete type for whichever backend the configuration names, so the
//! server and the CLI stay generic over [`Store`] + [`PlatformStore`] without being generic
//! over the backend choice made at run time.
//!
//! [`AnyStore::open`] takes one *location* string:
//!
//! * `postgres://...` or `postgresql://...` selects PostgreSQL ([`PgStore`]); the URL carries
//!   user, host, port, database and options such as `sslmode=require` (TLS through rustls with
//!   the system's root certificates);
//! * anything else is a data directory for the embedded SQLite store ([`SqliteStore`]), created
//!   if missing.
//!
//! Every method delegates to the selected backend; a `match` per call costs nothing next to the
//! query.

use std::path::Path;
use std::time::Duration;

use palisade_inventory::Object;
use palisade_model::Finding;
use serde_json::Value;

use crate::platform::{
    Alert, AlertCount, AlertEvent, AlertFilter, AlertStatus, ImageRecord, ImageReport, NewAlert,
    PlatformStore, QueuedExport, Role, TokenRecord,
};
use crate::snapshots::{
    ClusterRecord, FindingCursor, FindingFilter, FindingPage, ObjectCursor, ObjectFilter,
    ObjectPage, Pruned, Recommendation, SnapshotId, SnapshotInfo, Store,
};
use crate::{Error, PgStore, SqliteStore};

/// The store a location string names: embedded SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// The embedded SQLite store in a data directory.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

/// Whether a location names a PostgreSQL database rather than a data directory.
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl AnyStore {
    /// Opens the store at `location`: a `postgres://`/`postgresql://` URL, or else a data
    /// directory for SQLite.
    pub async fn open(location: &str) -> Result<AnyStore, Error> {
        if is_postgres_url(location) {
            Ok(AnyStore::Postgres(PgStore::open(location).await?))
        } else {
            Ok(AnyStore::Sqlite(
                SqliteStore::open(Path::new(location)).await?,
            ))
        }
    }

    /// The backend's name: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> Self {
        AnyStore::Postgres(s)
    }
}

/// Calls the same method on whichever backend `self` holds.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn upsert_cluster(
        &self,
        id: &str,
        name: &str,
        server: &str,
    ) -> Result<ClusterRecord, Error> {
        delegate!(self.upsert_cluster(id, name, server))
    }

    async fn list_clusters(&self) -> Result<Vec<ClusterRecord>, Error> {
        delegate!(self.list_clusters())
    }

    async fn save_snapshot(
        &self,
        cluster_id: &str,
        objects: &[Object],
        findings: &[Finding],
    ) -> Result<SnapshotId, Error> {
        delegate!(self.save_snapshot(cluster_id, objects, findings))
    }

    async fn prune(&self, before: &str) -> Result<Pruned, Error> {
        delegate!(self.prune(before))
    }

    async fn latest_snapshots(&self, cluster_id: &str, n: u32) -> Result<Vec<SnapshotInfo>, Error> {
        delegate!(self.latest_snapshots(cluster_id, n))
    }

    async fn load_snapshot_objects(&self, id: SnapshotId) -> Result<Vec<Object>, Error> {
        delegate!(self.load_snapshot_objects(id))
    }

    async fn load_findings(&self, id: SnapshotId) -> Result<Vec<Finding>, Error> {
        delegate!(self.load_findings(id))
    }

    async fn recommendations(&self, id: SnapshotId) -> Result<Vec<Recommendation>, Error> {
        delegate!(self.recommendations(id))
    }

    async fn findings_page(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
        after: Option<FindingCursor>,
        limit: u32,
    ) -> Result<FindingPage, Error> {
        delegate!(self.findings_page(id, filter, after, limit))
    }

    async fn recommendations_matching(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
    ) -> Result<Vec<Recommendation>, Error> {
        delegate!(self.recommendations_matching(id, filter))
    }

    async fn objects_of_kind(&self, id: SnapshotId, kind: &str) -> Result<Vec<Object>, Error> {
        delegate!(self.objects_of_kind(id, kind))
    }

    async fn objects_page(
        &self,
        id: SnapshotId,
        filter: &ObjectFilter,
        after: Option<ObjectCursor>,
        limit: u32,
    ) -> Result<ObjectPage, Error> {
        delegate!(self.objects_page(id, filter, after, limit))
    }

    async fn count_objects(&self, id: SnapshotId, filter: &ObjectFilter) -> Result<u64, Error> {
        delegate!(self.count_objects(id, filter))
    }
}

impl PlatformStore for AnyStore {
    async fn ping(&self) -> Result<(), Error> {
        delegate!(self.ping())
    }

    async fn record_alert(&self, alert: &NewAlert) -> Result<Alert, Error> {
        delegate!(self.record_alert(alert))
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, Error> {
        delegate!(self.list_alerts(filter))
    }

    async fn get_alert(&self, id: i64) -> Result<Option<Alert>, Error> {
        delegate!(self.get_alert(id))
    }

    async fn alert_events(&self, id: i64) -> Result<Vec<AlertEvent>, Error> {
        delegate!(self.alert_events(id))
    }

    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Option<Alert>, Error> {
        delegate!(self.set_alert_status(id, status, by, comment))
    }

    async fn alert_counts(&self) -> Result<Vec<AlertCount>, Error> {
        delegate!(self.alert_counts())
    }

    async fn insert_token(
        &self,
        hash: &str,
        role: Role,
        label: &str,
    ) -> Result<TokenRecord, Error> {
        delegate!(self.insert_token(hash, role, label))
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, Error> {
        delegate!(self.token_by_hash(hash))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        delegate!(self.list_tokens())
    }

    async fn revoke_token(&self, id: i64) -> Result<bool, Error> {
        delegate!(self.revoke_token(id))
    }

    async fn put_image_report(&self, report: &ImageReport) -> Result<ImageRecord, Error> {
        delegate!(self.put_image_report(report))
    }

    async fn list_images(&self) -> Result<Vec<ImageRecord>, Error> {
        delegate!(self.list_images())
    }

    async fn image_report(&self, digest: &str) -> Result<Option<(ImageRecord, Value)>, Error> {
        delegate!(self.image_report(digest))
    }

    async fn image_sbom(&self, digest: &str) -> Result<Option<Option<Value>>, Error> {
        delegate!(self.image_sbom(digest))
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Value>, Error> {
        delegate!(self.get_setting(key))
    }

    async fn put_setting(&self, key: &str, value: &Value) -> Result<(), Error> {
        delegate!(self.put_setting(key, value))
    }

    async fn record_alert_with_exports(
        &self,
        alert: &NewAlert,
        sinks: &[&str],
    ) -> Result<Alert, Error> {
        delegate!(self.record_alert_with_exports(alert, sinks))
    }

    async fn lease_exports(
        &self,
        sink: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedExport>, Error> {
        delegate!(self.lease_exports(sink, limit, lease))
    }

    async fn ack_exports(&self, ids: &[i64]) -> Result<u64, Error> {
        delegate!(self.ack_exports(ids))
    }

    async fn pending_exports(&self, sink: &str) -> Result<u64, Error> {
        delegate!(self.pending_exports(sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_directories() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(is_postgres_url("PostgreSQL://h/db"));
        assert!(!is_postgres_url("/var/lib/palisade"));
        assert!(!is_postgres_url("postgres"));
        assert!(!is_postgres_url("./postgres://x"));
        assert!(!is_postgres_url("é"));
    }
}
