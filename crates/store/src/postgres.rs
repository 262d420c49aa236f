//! The PostgreSQL backend: [`PgStore`] implements [`Store`] and [`PlatformStore`] with the same
//! behaviour as the embedded SQLite store, for deployments that run several server replicas or
//! already operate PostgreSQL.
//!
//! The schema mirrors SQLite's (`migrations/postgres/NNNN_*.sql`, same numbering, embedded and
//! applied at open under sqlx's advisory lock, so replicas starting together migrate once).
//! Timestamps are RFC 3339 text and JSON documents are text, exactly as written, so both
//! backends return identical values; sorted text columns use the `"C"` collation, so ordering
//! is bytewise whatever the database's locale.
//!
//! Differences that only concern concurrency: an alert occurrence is one `INSERT ... ON
//! CONFLICT` on the partial unique index of open alerts (no read-then-write race between
//! replicas), and the export outbox is leased with `FOR UPDATE SKIP LOCKED`. Bulk rows of a
//! snapshot are inserted with `UNNEST` in batches rather than one statement per row.
//!
//! The connection URL is never logged or put in an error with its password: errors name the
//! server as `postgres://user@host:port/database`.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use palisade_inventory::Object;
use palisade_model::Finding;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::platform::{
    ALERT_COLUMNS, Alert, AlertCount, AlertEvent, AlertFilter, AlertStatus, ImageRecord,
    ImageReport, MAX_ALERT_EVENTS, MAX_LEASE_BATCH, NewAlert, PlatformStore, QueuedExport, Role,
    TokenRecord, alert_event_row, alert_fingerprint, alert_row, count_row, export_row, image_row,
    lease_millis, list_alerts_sql, token_row,
};
use crate::rows::{count, unsigned};
use crate::snapshots::{
    ClusterRecord, FindingCursor, FindingFilter, FindingPage, ObjectCursor, ObjectFilter,
    ObjectPage, PRUNE_ALERTS_SQL, PRUNE_SNAPSHOTS_SQL, Pruned, Recommendation, SEVERITY_RANK,
    SnapshotId, SnapshotInfo, Store, cluster_row, count_objects_sql, finding_page,
    findings_page_sql, now_rfc3339, object_extras, object_page, object_row, object_summary_row,
    objects_page_sql, page_limit, recommendation_row, recommendations_matching_sql, sha256_hex,
    snapshot_row, stored_body, summary,
};
use crate::{Error, migrator};

/// Rows per `UNNEST` insert statement.
const BATCH: usize = 1000;

/// The database's clock as Unix milliseconds.
const PG_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A PostgreSQL store (a connection pool; cheap to clone).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    location: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A PostgreSQL URL without its password (and without query parameters, which may carry one).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_owned();
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((p, _)) => format!("{p}?..."),
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "postgres://{}@{}/{}",
        options.get_username(),
        host,
        options.get_database().unwrap_or("")
    )
}

impl PgStore {
    /// Connects to the database of a `postgres://` or `postgresql://` URL and applies the
    /// missing migrations.
    pub async fn open(url: &str) -> Result<PgStore, Error> {
        let options = PgConnectOptions::from_str(url).map_err(|source| Error::InvalidUrl {
            location: redact_url(url),
            source,
        })?;
        PgStore::open_with(options).await
    }

    /// Connects with explicit options and applies the missing migrations.
    pub async fn open_with(options: PgConnectOptions) -> Result<PgStore, Error> {
        let location = describe(&options);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect {
                location: location.clone(),
                source,
            })?;
        migrator(true)
            .run(&pool)
            .await
            .map_err(|source| Error::MigrateServer {
                location: location.clone(),
                source,
            })?;
        let store = PgStore { pool, location };
        store.fill_object_columns().await?;
        Ok(store)
    }

    /// Where the store is, as `postgres://user@host:port/database` (no password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The connection pool (for maintenance queries such as sizing).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn alert_by_id(&self, id: i64) -> Result<Option<Alert>, Error> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(alert_row).transpose()?)
    }
}

/// Records an occurrence inside a transaction: one upsert on the open-alert index.
async fn pg_record(conn: &mut sqlx::PgConnection, alert: &NewAlert) -> Result<Alert, Error> {
    let seen = alert.seen_at.clone().unwrap_or_else(now_rfc3339);
    let resource = alert
        .resource
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let sql = format!(
        "INSERT INTO alerts (fingerprint, alert_type, rule, severity, tactic, technique,
             count, first_seen, last_seen, cluster_id, resource, user_name, message, status)
         VALUES ($1, $2, $3, $4, $5, $6, $12, $7, $7, $8, $9, $10, $11, 'active')
         ON CONFLICT (fingerprint) WHERE status <> 'resolved' DO UPDATE SET
             count = alerts.count + excluded.count, message = excluded.message, severity = excluded.severity,
             last_seen = greatest(alerts.last_seen, excluded.last_seen),
             first_seen = least(alerts.first_seen, excluded.first_seen)
         RETURNING {ALERT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(alert_fingerprint(alert))
        .bind(&alert.alert_type)
        .bind(&alert.rule)
        .bind(alert.severity.as_str())
        .bind(alert.mitre.tactic.as_deref())
        .bind(alert.mitre.technique.as_deref())
        .bind(&seen)
        .bind(alert.cluster.as_deref())
        .bind(resource.as_deref())
        .bind(alert.user.as_deref())
        .bind(&alert.message)
        .bind(crate::platform::occurrences(alert))
        .fetch_one(&mut *conn)
        .await?;
    let stored = alert_row(&row)?;
    if let Some(event) = &alert.event {
        sqlx::query("INSERT INTO alert_events (alert_id, seen_at, event) VALUES ($1, $2, $3)")
            .bind(stored.id)
            .bind(&seen)
            .bind(event)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM alert_events WHERE alert_id = $1 AND id NOT IN
                 (SELECT id FROM alert_events WHERE alert_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(stored.id)
        .bind(i64::from(MAX_ALERT_EVENTS))
        .execute(&mut *conn)
        .await?;
    }
    Ok(stored)
}

impl Store for PgStore {
    async fn upsert_cluster(
        &self,
        id: &str,
        name: &str,
        server: &str,
    ) -> Result<ClusterRecord, Error> {
        let row = sqlx::query(
            "INSERT INTO clusters (id, name, server, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, server = excluded.server,
                 last_seen = excluded.last_seen
             RETURNING id, name, server, first_seen, last_seen",
        )
        .bind(id)
        .bind(name)
        .bind(server)
        .bind(now_rfc3339())
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
        let known: i64 = sqlx::query("SELECT count(*) FROM clusters WHERE id = $1")
            .bind(cluster_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if known == 0 {
            return Err(Error::UnknownCluster(cluster_id.to_owned()));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO snapshots (cluster_id, taken_at, objects, findings, summary)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(cluster_id)
        .bind(now_rfc3339())
        .bind(count(objects.len()))
        .bind(count(findings.len()))
        .bind(summary(objects, findings).to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let extras = object_extras(objects, findings);
        for (chunk_no, chunk) in objects.chunks(BATCH).enumerate() {
            let first = chunk_no * BATCH;
            let extra = extras.get(first..first + chunk.len()).unwrap_or_default();
            let mut hashes = Vec::with_capacity(chunk.len());
            let mut bodies = Vec::with_capacity(chunk.len());
            for o in chunk {
                let body = stored_body(o)?;
                hashes.push(sha256_hex(&body));
                bodies.push(body);
            }
            sqlx::query(
                "INSERT INTO object_contents (hash, body)
                 SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(&hashes)
            .bind(&bodies)
            .execute(&mut *tx)
            .await?;
            let positions: Vec<i64> = (first..first + chunk.len()).map(count).collect();
            let column = |f: fn(&Object) -> String| chunk.iter().map(f).collect::<Vec<_>>();
            let labels: Vec<&str> = extra.iter().map(|e| e.0.as_str()).collect();
            let images: Vec<&str> = extra.iter().map(|e| e.1.as_str()).collect();
            let on: Vec<i64> = extra.iter().map(|e| e.2).collect();
            let namespaces: Vec<Option<String>> =
                chunk.iter().map(|o| o.resource.namespace.clone()).collect();
            let documents: Vec<i64> = chunk.iter().map(|o| count(o.location.document)).collect();
            let lines: Vec<i64> = chunk.iter().map(|o| count(o.location.line)).collect();
            sqlx::query(
                "INSERT INTO snapshot_objects
                 (snapshot_id, position, api_version, kind, namespace, name, file, document, line, hash,
                  labels, images, findings)
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[],
                     $11::text[], $12::text[], $13::bigint[])",
            )
            .bind(id)
            .bind(&positions)
            .bind(column(|o| o.resource.api_version.clone()))
            .bind(column(|o| o.resource.kind.clone()))
            .bind(&namespaces)
            .bind(column(|o| o.resource.name.clone()))
            .bind(column(|o| o.location.file.clone()))
            .bind(&documents)
            .bind(&lines)
            .bind(&hashes)
            .bind(&labels)
            .bind(&images)
            .bind(&on)
            .execute(&mut *tx)
            .await?;
        }
        for (chunk_no, chunk) in findings.chunks(BATCH).enumerate() {
            let first = chunk_no * BATCH;
            let positions: Vec<i64> = (first..first + chunk.len()).map(count).collect();
            let column = |f: fn(&Finding) -> String| chunk.iter().map(f).collect::<Vec<_>>();
            let namespaces: Vec<Option<String>> =
                chunk.iter().map(|f| f.resource.namespace.clone()).collect();
            let bodies = chunk
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>()?;
            sqlx::query(
                "INSERT INTO snapshot_findings
                 (snapshot_id, position, check_id, title, severity, namespace, kind, name, body)
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[])",
            )
            .bind(id)
            .bind(&positions)
            .bind(column(|f| f.check_id.to_string()))
            .bind(column(|f| f.title.to_string()))
            .bind(column(|f| f.severity.as_str().to_owned()))
            .bind(&namespaces)
            .bind(column(|f| f.resource.kind.clone()))
            .bind(column(|f| f.resource.name.clone()))
            .bind(&bodies)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO snapshot_checks (snapshot_id, check_id, title, severity_rank, findings)
             SELECT snapshot_id, check_id, min(title), {SEVERITY_RANK}, count(*)
             FROM snapshot_findings WHERE snapshot_id = $1 GROUP BY snapshot_id, check_id"
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SnapshotId(id))
    }

    async fn prune(&self, before: &str) -> Result<Pruned, Error> {
        let mut tx = self.pool.begin().await?;
        let snapshots = sqlx::query(PRUNE_SNAPSHOTS_SQL)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let contents = if snapshots == 0 {
            0
        } else {
            // NOT EXISTS: an anti-join (NOT IN over a large subquery may not be hashed).
            sqlx::query(
                "DELETE FROM object_contents c WHERE NOT EXISTS \
                 (SELECT 1 FROM snapshot_objects o WHERE o.hash = c.hash)",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        let alerts = sqlx::query(PRUNE_ALERTS_SQL)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned {
            snapshots,
            contents,
            alerts,
        })
    }

    async fn latest_snapshots(&self, cluster_id: &str, n: u32) -> Result<Vec<SnapshotInfo>, Error> {
        let rows = sqlx::query(
            "SELECT id, cluster_id, taken_at, objects, findings, summary FROM snapshots
             WHERE cluster_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(cluster_id)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(snapshot_row).collect()
    }

    async fn load_snapshot_objects(&self, id: SnapshotId) -> Result<Vec<Object>, Error> {
        let rows = sqlx::query(
            "SELECT o.api_version, o.kind, o.namespace, o.name, o.file, o.document, o.line, c.body
             FROM snapshot_objects o JOIN object_contents c ON c.hash = o.hash
             WHERE o.snapshot_id = $1 ORDER BY o.position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(object_row).collect()
    }

    async fn load_findings(&self, id: SnapshotId) -> Result<Vec<Finding>, Error> {
        let rows = sqlx::query(
            "SELECT body FROM snapshot_findings WHERE snapshot_id = $1 ORDER BY position",
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

    async fn recommendations(&self, id: SnapshotId) -> Result<Vec<Recommendation>, Error> {
        let rows = sqlx::query(
            "SELECT check_id, title, severity_rank AS rank, findings AS n
             FROM snapshot_checks WHERE snapshot_id = $1
             ORDER BY rank DESC, n DESC, check_id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(recommendation_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn findings_page(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
        after: Option<FindingCursor>,
        limit: u32,
    ) -> Result<FindingPage, Error> {
        let (limit, fetch) = page_limit(limit);
        let (sql, texts) = findings_page_sql(filter, "strpos");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .bind(after.map_or(-1, |c| c.0));
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.bind(fetch).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(i64, String)>, sqlx::Error>>()?;
        finding_page(rows, limit)
    }

    async fn recommendations_matching(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
    ) -> Result<Vec<Recommendation>, Error> {
        if filter.is_empty() {
            return self.recommendations(id).await;
        }
        let (sql, texts) = recommendations_matching_sql(filter, "strpos");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(recommendation_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn objects_of_kind(&self, id: SnapshotId, kind: &str) -> Result<Vec<Object>, Error> {
        let rows = sqlx::query(
            "SELECT o.api_version, o.kind, o.namespace, o.name, o.file, o.document, o.line, c.body
             FROM snapshot_objects o JOIN object_contents c ON c.hash = o.hash
             WHERE o.snapshot_id = $1 AND o.kind = $2 ORDER BY o.position",
        )
        .bind(id.0)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(object_row).collect()
    }

    async fn objects_page(
        &self,
        id: SnapshotId,
        filter: &ObjectFilter,
        after: Option<ObjectCursor>,
        limit: u32,
    ) -> Result<ObjectPage, Error> {
        let (limit, fetch) = page_limit(limit);
        let (sql, texts) = objects_page_sql(filter, "strpos");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .bind(after.map_or(-1, |c| c.0));
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.bind(fetch).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(object_summary_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(object_page(rows, limit))
    }

    async fn count_objects(&self, id: SnapshotId, filter: &ObjectFilter) -> Result<u64, Error> {
        let (sql, texts) = count_objects_sql(filter, "strpos");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        for t in texts {
            query = query.bind(t);
        }
        let row = query.fetch_one(&self.pool).await?;
        Ok(unsigned(&row, "n")?)
    }
}

impl PgStore {
    /// Fills the inventory columns of object rows saved before migration 0006, one snapshot
    /// per transaction.
    async fn fill_object_columns(&self) -> Result<(), Error> {
        loop {
            let Some(row) = sqlx::query(
                "SELECT snapshot_id FROM snapshot_objects WHERE labels IS NULL LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await?
            else {
                return Ok(());
            };
            let id = SnapshotId(row.try_get(0)?);
            let objects = self.load_snapshot_objects(id).await?;
            let findings = self.load_findings(id).await?;
            let extras = object_extras(&objects, &findings);
            let mut tx = self.pool.begin().await?;
            for (chunk_no, chunk) in extras.chunks(BATCH).enumerate() {
                let first = chunk_no * BATCH;
                let positions: Vec<i64> = (first..first + chunk.len()).map(count).collect();
                let labels: Vec<&str> = chunk.iter().map(|e| e.0.as_str()).collect();
                let images: Vec<&str> = chunk.iter().map(|e| e.1.as_str()).collect();
                let on: Vec<i64> = chunk.iter().map(|e| e.2).collect();
                sqlx::query(
                    "UPDATE snapshot_objects o SET labels = u.l, images = u.i, findings = u.f
                     FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(p, l, i, f)
                     WHERE o.snapshot_id = $1 AND o.position = u.p",
                )
                .bind(id.0)
                .bind(&positions)
                .bind(&labels)
                .bind(&images)
                .bind(&on)
                .execute(&mut *tx)
                .await?;
            }
            // rows past the objects read (none unless the snapshot is damaged) end the loop too
            sqlx::query(
                "UPDATE snapshot_objects SET labels = E'\\n', images = E'\\n', findings = 0
                 WHERE snapshot_id = $1 AND labels IS NULL",
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
    }
}

impl PlatformStore for PgStore {
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    async fn record_alert(&self, alert: &NewAlert) -> Result<Alert, Error> {
        let mut conn = self.pool.acquire().await?;
        pg_record(&mut conn, alert).await
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, Error> {
        let (sql, texts) = list_alerts_sql(filter);
        let limit = (filter.limit != 0).then_some(i64::from(filter.limit));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(alert_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn get_alert(&self, id: i64) -> Result<Option<Alert>, Error> {
        self.alert_by_id(id).await
    }

    async fn alert_events(&self, id: i64) -> Result<Vec<AlertEvent>, Error> {
        let rows = sqlx::query(
            "SELECT seen_at, event FROM alert_events WHERE alert_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(MAX_ALERT_EVENTS))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(alert_event_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Option<Alert>, Error> {
        let sql = format!(
            "UPDATE alerts SET status = $2, status_changed_at = $3, status_by = $4,
                 status_comment = $5
             WHERE id = $1 RETURNING {ALERT_COLUMNS}"
        );
        let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(status.as_str())
            .bind(now_rfc3339())
            .bind(by)
            .bind(comment)
            .fetch_optional(&self.pool)
            .await;
        match changed {
            Ok(row) => Ok(row.as_ref().map(alert_row).transpose()?),
            // Re-opening a resolved alert whose fingerprint has been opened again since.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Error::Conflict(format!(
                    "alert {id} cannot become {status}: a newer open alert has the same fingerprint"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn alert_counts(&self) -> Result<Vec<AlertCount>, Error> {
        let rows = sqlx::query(
            "SELECT status, severity, count(*) AS n FROM alerts GROUP BY status, severity",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(count_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn insert_token(
        &self,
        hash: &str,
        role: Role,
        label: &str,
    ) -> Result<TokenRecord, Error> {
        let row = sqlx::query(
            "INSERT INTO tokens (hash, role, label, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, role, label, created_at",
        )
        .bind(hash)
        .bind(role.as_str())
        .bind(label)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await?;
        Ok(token_row(&row)?)
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, Error> {
        let row = sqlx::query("SELECT id, role, label, created_at FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(token_row).transpose()?)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        let rows = sqlx::query("SELECT id, role, label, created_at FROM tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(token_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn revoke_token(&self, id: i64) -> Result<bool, Error> {
        let r = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn put_image_report(&self, report: &ImageReport) -> Result<ImageRecord, Error> {
        let row = sqlx::query(
            "INSERT INTO images (digest, reference, scanned_at, summary, report, sbom)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (digest) DO UPDATE SET reference = excluded.reference,
                 scanned_at = excluded.scanned_at, summary = excluded.summary,
                 report = excluded.report, sbom = coalesce(excluded.sbom, images.sbom)
             RETURNING digest, reference, scanned_at, summary,
                 (sbom IS NOT NULL)::int4::int8 AS has_sbom",
        )
        .bind(&report.digest)
        .bind(&report.reference)
        .bind(now_rfc3339())
        .bind(serde_json::to_string(&report.vulnerabilities)?)
        .bind(report.report.to_string())
        .bind(report.sbom.as_ref().map(Value::to_string))
        .fetch_one(&self.pool)
        .await?;
        image_row(&row)
    }

    async fn list_images(&self) -> Result<Vec<ImageRecord>, Error> {
        let rows = sqlx::query(
            "SELECT digest, reference, scanned_at, summary, (sbom IS NOT NULL)::int4::int8 AS has_sbom
             FROM images ORDER BY reference, digest",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_row).collect()
    }

    async fn image_report(&self, digest: &str) -> Result<Option<(ImageRecord, Value)>, Error> {
        let row = sqlx::query(
            "SELECT digest, reference, scanned_at, summary, (sbom IS NOT NULL)::int4::int8 AS has_sbom,
                 report
             FROM images WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let report: String = r.try_get("report")?;
                Ok(Some((image_row(&r)?, serde_json::from_str(&report)?)))
            }
        }
    }

    async fn image_sbom(&self, digest: &str) -> Result<Option<Option<Value>>, Error> {
        let row = sqlx::query("SELECT sbom FROM images WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let sbom: Option<String> = r.try_get(0)?;
                Ok(Some(sbom.map(|s| serde_json::from_str(&s)).transpose()?))
            }
        }
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Value>, Error> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(serde_json::from_str(&text)?))
            }
        }
    }

    async fn put_setting(&self, key: &str, value: &Value) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value.to_string())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_alert_with_exports(
        &self,
        alert: &NewAlert,
        sinks: &[&str],
    ) -> Result<Alert, Error> {
        if sinks.is_empty() {
            return self.record_alert(alert).await;
        }
        let mut tx = self.pool.begin().await?;
        let stored = pg_record(&mut tx, alert).await?;
        let sinks: Vec<&str> = sinks.to_vec();
        sqlx::query(
            "INSERT INTO export_queue (sink, payload, enqueued_at)
             SELECT s, $2, $3 FROM unnest($1::text[]) WITH ORDINALITY AS t(s, n) ORDER BY n",
        )
        .bind(&sinks)
        .bind(serde_json::to_string(&stored)?)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn lease_exports(
        &self,
        sink: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedExport>, Error> {
        // SKIP LOCKED: concurrent leasers pass over rows another one is taking right now; the
        // lease re-check on the locked row version keeps a held item out.
        let sql = format!(
            "WITH picked AS (
                 SELECT id FROM export_queue
                 WHERE sink = $1 AND leased_until <= {PG_NOW_MS}
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
             UPDATE export_queue q SET attempts = q.attempts + 1,
                 leased_until = {PG_NOW_MS} + $3
             FROM picked WHERE q.id = picked.id
             RETURNING q.id, q.sink, q.payload, q.attempts"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sink)
            .bind(i64::from(limit.min(MAX_LEASE_BATCH)))
            .bind(lease_millis(lease))
            .fetch_all(&self.pool)
            .await?;
        let mut items = rows.iter().map(export_row).collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn ack_exports(&self, ids: &[i64]) -> Result<u64, Error> {
        if ids.is_empty() {
            return Ok(0);
        }
        let r = sqlx::query("DELETE FROM export_queue WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn pending_exports(&self, sink: &str) -> Result<u64, Error> {
        let row = sqlx::query("SELECT count(*) AS n FROM export_queue WHERE sink = $1")
            .bind(sink)
            .fetch_one(&self.pool)
            .await?;
        Ok(unsigned(&row, "n")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://palisade:s3cret@db.example:5432/palisade?sslmode=require"),
            "postgres://palisade@db.example:5432/palisade?..."
        );
        assert_eq!(
            redact_url("postgresql://db.example/p"),
            "postgresql://db.example/p"
        );
        assert_eq!(
            redact_url("postgres://u:p@w@h/db"),
            "postgres://u@h/db",
            "the last @ ends the user info"
        );
        assert_eq!(redact_url("nonsense"), "(not a URL)");
    }

    #[tokio::test]
    async fn a_bad_url_is_reported_without_its_password() {
        let err = PgStore::open("postgres://u:hunter2@h:notaport/db")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("postgres://u@h:notaport/db"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
