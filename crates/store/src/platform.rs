//! The platform server's state behind the [`PlatformStore`] trait: security alerts with their
//! lifecycle, API tokens (stored as hashes only), image vulnerability reports and SBOMs by
//! digest, and settings documents.
//!
//! Alerts are deduplicated here, at write time: [`PlatformStore::record_alert`] folds a repeat
//! of the same type, rule, cluster, resource and user into the open (active or dismissed) alert
//! by raising its count and `last_seen`; once an alert is resolved, the next occurrence opens a
//! new one. A dismissed alert stays dismissed while it repeats, so dismissing silences it.
//!
//! Tokens: the store never sees a plaintext token, only its hash (computed by the caller), so a
//! copy of the database grants nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use palisade_model::{ResourceRef, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;

use crate::snapshots::{now_rfc3339, sha256_hex};
use crate::{Error, SqliteStore};

/// Lifecycle of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Needs attention.
    Active,
    /// Judged harmless by an admin; repeats are counted but stay dismissed.
    Dismissed,
    /// Dealt with; a repeat opens a new alert.
    Resolved,
}

impl AlertStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::Active,
        AlertStatus::Dismissed,
        AlertStatus::Resolved,
    ];

    /// The lowercase name used in JSON, SQL and query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Active => "active",
            AlertStatus::Dismissed => "dismissed",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no alert status (or no role).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}: expected one of {expected}")]
pub struct ParseNameError {
    /// What was being parsed.
    pub what: &'static str,
    /// The text that was given.
    pub input: String,
    /// The accepted names.
    pub expected: &'static str,
}

impl FromStr for AlertStatus {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AlertStatus::Active),
            "dismissed" => Ok(AlertStatus::Dismissed),
            "resolved" => Ok(AlertStatus::Resolved),
            _ => Err(ParseNameError {
                what: "alert status",
                input: s.to_owned(),
                expected: "active, dismissed, resolved",
            }),
        }
    }
}

/// MITRE ATT&CK mapping of an alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mitre {
    /// Tactic id (`TA0002`).
    pub tactic: Option<String>,
    /// Technique id (`T1609`).
    pub technique: Option<String>,
}

/// One occurrence of an alert, as a detector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// Stable alert type (`K8S_PrivilegedContainer`).
    pub alert_type: String,
    /// Id of the rule that fired.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK mapping.
    pub mitre: Mitre,
    /// Cluster the event came from.
    pub cluster: Option<String>,
    /// Resource the alert is about.
    pub resource: Option<ResourceRef>,
    /// User or identity that acted.
    pub user: Option<String>,
    /// What happened.
    pub message: String,
    /// When it happened (RFC 3339); now when absent.
    pub seen_at: Option<String>,
}

/// A stored, deduplicated alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Store id.
    pub id: i64,
    /// Stable alert type.
    #[serde(rename = "type")]
    pub alert_type: String,
    /// Id of the rule that fired.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK mapping.
    pub mitre: Mitre,
    /// Number of occurrences folded into this alert.
    pub count: u64,
    /// First occurrence (RFC 3339).
    pub first_seen: String,
    /// Last occurrence (RFC 3339).
    pub last_seen: String,
    /// Cluster id.
    pub cluster: Option<String>,
    /// Resource the alert is about.
    pub resource: Option<ResourceRef>,
    /// User or identity that acted.
    pub user: Option<String>,
    /// What happened (latest occurrence).
    pub message: String,
    /// Lifecycle status.
    pub status: AlertStatus,
    /// When the status last changed by hand.
    pub status_changed_at: Option<String>,
    /// Who changed it (token label).
    pub status_by: Option<String>,
    /// Why.
    pub status_comment: Option<String>,
}

/// Which alerts to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this status.
    pub status: Option<AlertStatus>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this alert type.
    pub alert_type: Option<String>,
    /// Only this cluster.
    pub cluster: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// Role of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Reader,
    /// Reads everything, dismisses and resolves alerts, changes settings.
    Admin,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reader => "reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "reader" => Ok(Role::Reader),
            _ => Err(ParseNameError {
                what: "role",
                input: s.to_owned(),
                expected: "admin, reader",
            }),
        }
    }
}

/// A stored API token (its hash is not part of the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// Store id.
    pub id: i64,
    /// Role.
    pub role: Role,
    /// Free label (who or what uses it).
    pub label: String,
    /// Creation time.
    pub created_at: String,
}

/// A vulnerability report of one image, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageReport {
    /// Image digest (`sha256:...`).
    pub digest: String,
    /// Reference it was scanned as (`registry/repo:tag`).
    pub reference: String,
    /// Number of vulnerabilities by severity name.
    pub vulnerabilities: BTreeMap<String, u64>,
    /// The full report (JSON).
    pub report: Value,
    /// The SBOM (JSON), when kept.
    pub sbom: Option<Value>,
}

/// A stored image: what the listing shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRecord {
    /// Image digest.
    pub digest: String,
    /// Reference it was scanned as.
    pub reference: String,
    /// When the report was stored.
    pub scanned_at: String,
    /// Number of vulnerabilities by severity name.
    pub vulnerabilities: BTreeMap<String, u64>,
    /// Whether an SBOM is stored.
    pub has_sbom: bool,
}

/// Number of alerts with one status and severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlertCount {
    /// Status.
    pub status: AlertStatus,
    /// Severity.
    pub severity: Severity,
    /// Number of alerts.
    pub count: u64,
}

/// Persistence of the platform server's state. Implemented by [`SqliteStore`].
pub trait PlatformStore: Send + Sync {
    /// Checks that the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records one occurrence of an alert, folding it into the open alert with the same
    /// fingerprint; returns the stored alert.
    fn record_alert(&self, alert: &NewAlert) -> impl Future<Output = Result<Alert, Error>> + Send;

    /// Alerts matching a filter, most recent `last_seen` first.
    fn list_alerts(
        &self,
        filter: &AlertFilter,
    ) -> impl Future<Output = Result<Vec<Alert>, Error>> + Send;

    /// One alert.
    fn get_alert(&self, id: i64) -> impl Future<Output = Result<Option<Alert>, Error>> + Send;

    /// Sets an alert's status by hand; `None` when there is no such alert.
    fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: &str,
        comment: Option<&str>,
    ) -> impl Future<Output = Result<Option<Alert>, Error>> + Send;

    /// Number of alerts by status and severity (only non-zero counts).
    fn alert_counts(&self) -> impl Future<Output = Result<Vec<AlertCount>, Error>> + Send;

    /// Stores the hash of a new token.
    fn insert_token(
        &self,
        hash: &str,
        role: Role,
        label: &str,
    ) -> impl Future<Output = Result<TokenRecord, Error>> + Send;

    /// The token with this hash, if any.
    fn token_by_hash(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<TokenRecord>, Error>> + Send;

    /// Every token, oldest first.
    fn list_tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>, Error>> + Send;

    /// Deletes a token; whether it existed.
    fn revoke_token(&self, id: i64) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Stores (or replaces) the report of an image.
    fn put_image_report(
        &self,
        report: &ImageReport,
    ) -> impl Future<Output = Result<ImageRecord, Error>> + Send;

    /// Every image, by reference.
    fn list_images(&self) -> impl Future<Output = Result<Vec<ImageRecord>, Error>> + Send;

    /// The record and full report of an image.
    fn image_report(
        &self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<(ImageRecord, Value)>, Error>> + Send;

    /// The SBOM of an image (outer `None`: no such image; inner: no SBOM stored).
    fn image_sbom(
        &self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Option<Value>>, Error>> + Send;

    /// A settings document.
    fn get_setting(&self, key: &str) -> impl Future<Output = Result<Option<Value>, Error>> + Send;

    /// Stores a settings document.
    fn put_setting(
        &self,
        key: &str,
        value: &Value,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The deduplication key of an alert.
pub fn alert_fingerprint(a: &NewAlert) -> String {
    let resource = a.resource.as_ref().map(|r| {
        format!(
            "{}/{}/{}/{}",
            r.api_version,
            r.kind,
            r.namespace.as_deref().unwrap_or(""),
            r.name
        )
    });
    sha256_hex(&format!(
        "{}\0{}\0{}\0{}\0{}",
        a.alert_type,
        a.rule,
        a.cluster.as_deref().unwrap_or(""),
        resource.as_deref().unwrap_or(""),
        a.user.as_deref().unwrap_or("")
    ))
}

const ALERT_COLUMNS: &str = "id, alert_type, rule, severity, tactic, technique, count, first_seen, last_seen, \
     cluster_id, resource, user_name, message, status, status_changed_at, status_by, status_comment";

fn bad_column(column: &str, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    }
}

fn alert_row(r: &sqlx::sqlite::SqliteRow) -> Result<Alert, sqlx::Error> {
    let severity: String = r.try_get("severity")?;
    let status: String = r.try_get("status")?;
    let resource: Option<String> = r.try_get("resource")?;
    Ok(Alert {
        id: r.try_get("id")?,
        alert_type: r.try_get("alert_type")?,
        rule: r.try_get("rule")?,
        severity: severity.parse().map_err(|e| bad_column("severity", e))?,
        mitre: Mitre {
            tactic: r.try_get("tactic")?,
            technique: r.try_get("technique")?,
        },
        count: u64::try_from(r.try_get::<i64, _>("count")?).unwrap_or(0),
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
        cluster: r.try_get("cluster_id")?,
        resource: resource
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| bad_column("resource", e))?,
        user: r.try_get("user_name")?,
        message: r.try_get("message")?,
        status: status.parse().map_err(|e| bad_column("status", e))?,
        status_changed_at: r.try_get("status_changed_at")?,
        status_by: r.try_get("status_by")?,
        status_comment: r.try_get("status_comment")?,
    })
}

fn token_row(r: &sqlx::sqlite::SqliteRow) -> Result<TokenRecord, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(TokenRecord {
        id: r.try_get("id")?,
        role: role.parse().map_err(|e| bad_column("role", e))?,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
    })
}

fn image_row(r: &sqlx::sqlite::SqliteRow) -> Result<ImageRecord, Error> {
    let summary: String = r.try_get("summary")?;
    Ok(ImageRecord {
        digest: r.try_get("digest")?,
        reference: r.try_get("reference")?,
        scanned_at: r.try_get("scanned_at")?,
        vulnerabilities: serde_json::from_str(&summary)?,
        has_sbom: r.try_get::<i64, _>("has_sbom")? != 0,
    })
}

impl SqliteStore {
    async fn alert_by_id(&self, id: i64) -> Result<Option<Alert>, Error> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(alert_row).transpose()?)
    }
}

impl PlatformStore for SqliteStore {
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    async fn record_alert(&self, alert: &NewAlert) -> Result<Alert, Error> {
        let fingerprint = alert_fingerprint(alert);
        let seen = alert.seen_at.clone().unwrap_or_else(now_rfc3339);
        let resource = alert
            .resource
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let mut tx = self.pool.begin().await?;
        let open: Option<i64> =
            sqlx::query("SELECT id FROM alerts WHERE fingerprint = ?1 AND status != 'resolved'")
                .bind(&fingerprint)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        let id = match open {
            Some(id) => {
                sqlx::query(
                    "UPDATE alerts SET count = count + 1, message = ?2, severity = ?3,
                         last_seen = max(last_seen, ?4), first_seen = min(first_seen, ?4)
                     WHERE id = ?1",
                )
                .bind(id)
                .bind(&alert.message)
                .bind(alert.severity.as_str())
                .bind(&seen)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO alerts (fingerprint, alert_type, rule, severity, tactic, technique,
                     count, first_seen, last_seen, cluster_id, resource, user_name, message, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8, ?9, ?10, ?11, 'active')
                 RETURNING id",
            )
            .bind(&fingerprint)
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
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?,
        };
        tx.commit().await?;
        self.alert_by_id(id)
            .await?
            .ok_or(Error::Query(sqlx::Error::RowNotFound))
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, Error> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR severity = ?2)
               AND (?3 IS NULL OR alert_type = ?3) AND (?4 IS NULL OR cluster_id = ?4)
             ORDER BY last_seen DESC, id DESC LIMIT ?5 OFFSET ?6"
        );
        let limit = if filter.limit == 0 {
            -1
        } else {
            i64::from(filter.limit)
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.status.map(AlertStatus::as_str))
            .bind(filter.severity.map(Severity::as_str))
            .bind(filter.alert_type.as_deref())
            .bind(filter.cluster.as_deref())
            .bind(limit)
            .bind(i64::from(filter.offset))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(alert_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn get_alert(&self, id: i64) -> Result<Option<Alert>, Error> {
        self.alert_by_id(id).await
    }

    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Option<Alert>, Error> {
        let changed = sqlx::query(
            "UPDATE alerts SET status = ?2, status_changed_at = ?3, status_by = ?4,
                 status_comment = ?5
             WHERE id = ?1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(now_rfc3339())
        .bind(by)
        .bind(comment)
        .execute(&self.pool)
        .await;
        match changed {
            Ok(r) if r.rows_affected() == 0 => Ok(None),
            Ok(_) => self.alert_by_id(id).await,
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
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let severity: String = r.try_get("severity")?;
                Ok(AlertCount {
                    status: status.parse().map_err(|e| bad_column("status", e))?,
                    severity: severity.parse().map_err(|e| bad_column("severity", e))?,
                    count: u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    async fn insert_token(
        &self,
        hash: &str,
        role: Role,
        label: &str,
    ) -> Result<TokenRecord, Error> {
        let row = sqlx::query(
            "INSERT INTO tokens (hash, role, label, created_at) VALUES (?1, ?2, ?3, ?4)
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
        let row = sqlx::query("SELECT id, role, label, created_at FROM tokens WHERE hash = ?1")
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
        let r = sqlx::query("DELETE FROM tokens WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn put_image_report(&self, report: &ImageReport) -> Result<ImageRecord, Error> {
        let row = sqlx::query(
            "INSERT INTO images (digest, reference, scanned_at, summary, report, sbom)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(digest) DO UPDATE SET reference = excluded.reference,
                 scanned_at = excluded.scanned_at, summary = excluded.summary,
                 report = excluded.report, sbom = coalesce(excluded.sbom, images.sbom)
             RETURNING digest, reference, scanned_at, summary, sbom IS NOT NULL AS has_sbom",
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
            "SELECT digest, reference, scanned_at, summary, sbom IS NOT NULL AS has_sbom
             FROM images ORDER BY reference, digest",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_row).collect()
    }

    async fn image_report(&self, digest: &str) -> Result<Option<(ImageRecord, Value)>, Error> {
        let row = sqlx::query(
            "SELECT digest, reference, scanned_at, summary, sbom IS NOT NULL AS has_sbom, report
             FROM images WHERE digest = ?1",
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
        let row = sqlx::query("SELECT sbom FROM images WHERE digest = ?1")
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
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?1")
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
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value.to_string())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
