//! The platform server's state behind the [`PlatformStore`] trait: security alerts with their
//! lifecycle, API tokens (stored as hashes only), image vulnerability reports and SBOMs by
//! digest, and settings documents.
//!
//! Alerts are deduplicated here, at write time: [`PlatformStore::record_alert`] folds a repeat
//! of the same type, rule, cluster, resource and user into the open (active or dismissed) alert
//! by raising its count and `last_seen`; once an alert is resolved, the next occurrence opens a
//! new one. A dismissed alert stays dismissed while it repeats, so dismissing silences it.
//!
//! Alert lists are keyset-paged ([`AlertCursor`]: the `last_seen` and id of the previous page's
//! last alert, the list's order), so a deep page walks the same index range as the first.
//!
//! Tokens: the store never sees a plaintext token, only its hash (computed by the caller), so a
//! copy of the database grants nothing.
//!
//! Export outbox: [`PlatformStore::record_alert_with_exports`] writes the alert and one queue
//! item per sink (the alert's JSON as stored after this occurrence) in one transaction, so an
//! alert is never stored without being queued nor queued without being stored. A sender
//! [leases](PlatformStore::lease_exports) items for a while, delivers them and
//! [acknowledges](PlatformStore::ack_exports) them, which deletes them. A sender that dies
//! before acknowledging loses its lease when it expires and the items are handed out again:
//! delivery is at least once, and a sink may see an item twice. Lease times come from the
//! database's clock, the one clock every sender shares.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use palisade_model::{ResourceRef, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;

use crate::rows::{Cols, bad_column, unsigned};
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
    /// The raw event behind this occurrence (the detector's JSON), kept as evidence: the
    /// latest [`MAX_ALERT_EVENTS`] of an alert are stored.
    pub event: Option<String>,
    /// How many events this record stands for (at least 1): a detector that folds repeats
    /// reports them with one record; the alert's `count` grows by this much.
    pub occurrences: u64,
}

/// Most raw events kept per alert.
pub const MAX_ALERT_EVENTS: u32 = 10;

/// A raw event kept as an alert's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// When the occurrence happened (RFC 3339).
    pub seen_at: String,
    /// The event: parsed JSON, or the text as stored when it is not valid JSON (an event
    /// the detector cut at its size limit).
    pub event: Value,
}

/// An `alert_events` row (`seen_at`, `event`) of either backend.
pub(crate) fn alert_event_row(r: &impl Cols) -> Result<AlertEvent, sqlx::Error> {
    let text = r.text("event")?;
    let event = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(AlertEvent {
        seen_at: r.text("seen_at")?,
        event,
    })
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
    /// Only alerts listed after this one (the last alert of the previous page): a keyset
    /// cursor, so a deep page costs the same as the first.
    pub after: Option<AlertCursor>,
}

/// Where the next page of alerts starts: after the alert with this `last_seen` and id (the
/// list's order). Its text form (`Display`/`FromStr`: `<id>.<last_seen>`) goes into URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AlertCursor {
    /// `last_seen` of the last alert of the previous page.
    pub last_seen: String,
    /// Its id.
    pub id: i64,
}

impl AlertCursor {
    /// The cursor of the page after `alert`.
    pub fn after(alert: &Alert) -> AlertCursor {
        AlertCursor {
            last_seen: alert.last_seen.clone(),
            id: alert.id,
        }
    }
}

impl fmt::Display for AlertCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.last_seen)
    }
}

/// A text that is not an alert cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid alert cursor {0:?}: expected <id>.<last_seen> as a previous page's next")]
pub struct ParseCursorError(pub String);

impl FromStr for AlertCursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split_once('.')
            .and_then(|(id, last_seen)| {
                Some(AlertCursor {
                    id: id.parse().ok()?,
                    last_seen: Some(last_seen)
                        .filter(|t| !t.is_empty() && t.len() <= 64)?
                        .to_owned(),
                })
            })
            .ok_or_else(|| ParseCursorError(s.to_owned()))
    }
}

/// Role of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Reader,
    /// Reads everything, dismisses and resolves alerts, changes settings.
    Admin,
    /// Only posts events (the audit webhook, node sensors); reads nothing.
    Sensor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Reader, Role::Admin, Role::Sensor];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reader => "reader",
            Role::Sensor => "sensor",
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
            "sensor" => Ok(Role::Sensor),
            _ => Err(ParseNameError {
                what: "role",
                input: s.to_owned(),
                expected: "admin, reader, sensor",
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

/// An alert waiting in the export outbox for one sink.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuedExport {
    /// Queue item id (pass it to [`PlatformStore::ack_exports`]).
    pub id: i64,
    /// Sink name.
    pub sink: String,
    /// The alert as JSON, as it was stored when this occurrence was recorded.
    pub payload: Value,
    /// Number of times the item was leased, this lease included.
    pub attempts: u32,
}

/// Longest lease [`PlatformStore::lease_exports`] grants (longer requests are shortened).
pub const MAX_LEASE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest batch [`PlatformStore::lease_exports`] hands out at once.
pub const MAX_LEASE_BATCH: u32 = 10_000;

/// A lease duration in milliseconds, at most [`MAX_LEASE`].
pub(crate) fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX)
}

/// Persistence of the platform server's state. Implemented by [`SqliteStore`] and
/// [`PgStore`](crate::PgStore).
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

    /// The raw events kept as an alert's evidence, newest first (at most
    /// [`MAX_ALERT_EVENTS`]; none for an unknown alert).
    fn alert_events(&self, id: i64) -> impl Future<Output = Result<Vec<AlertEvent>, Error>> + Send;

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

    /// Records one occurrence of an alert exactly as [`record_alert`](Self::record_alert)
    /// does and, in the same transaction, queues the resulting alert (as JSON) once for each
    /// sink.
    fn record_alert_with_exports(
        &self,
        alert: &NewAlert,
        sinks: &[&str],
    ) -> impl Future<Output = Result<Alert, Error>> + Send;

    /// Leases up to `limit` (at most [`MAX_LEASE_BATCH`]) queued items of `sink` that are not
    /// leased or whose lease expired, oldest first, for `lease` (at most [`MAX_LEASE`]); each
    /// lease raises the item's `attempts`. While a lease holds, no other caller gets the item.
    fn lease_exports(
        &self,
        sink: &str,
        limit: u32,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<QueuedExport>, Error>> + Send;

    /// Deletes delivered items (whoever holds their lease); returns how many existed.
    fn ack_exports(&self, ids: &[i64]) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Number of items of `sink` not yet acknowledged, leased or not.
    fn pending_exports(&self, sink: &str) -> impl Future<Output = Result<u64, Error>> + Send;
}

/// The occurrences a record adds to its alert's count (at least 1, at most `i64::MAX`).
pub(crate) fn occurrences(alert: &NewAlert) -> i64 {
    i64::try_from(alert.occurrences.max(1)).unwrap_or(i64::MAX)
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

pub(crate) const ALERT_COLUMNS: &str = "id, alert_type, rule, severity, tactic, technique, count, first_seen, last_seen, \
     cluster_id, resource, user_name, message, status, status_changed_at, status_by, status_comment";

pub(crate) fn alert_row(r: &impl Cols) -> Result<Alert, sqlx::Error> {
    let severity = r.text("severity")?;
    let status = r.text("status")?;
    let resource = r.opt_text("resource")?;
    Ok(Alert {
        id: r.int("id")?,
        alert_type: r.text("alert_type")?,
        rule: r.text("rule")?,
        severity: severity.parse().map_err(|e| bad_column("severity", e))?,
        mitre: Mitre {
            tactic: r.opt_text("tactic")?,
            technique: r.opt_text("technique")?,
        },
        count: unsigned(r, "count")?,
        first_seen: r.text("first_seen")?,
        last_seen: r.text("last_seen")?,
        cluster: r.opt_text("cluster_id")?,
        resource: resource
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| bad_column("resource", e))?,
        user: r.opt_text("user_name")?,
        message: r.text("message")?,
        status: status.parse().map_err(|e| bad_column("status", e))?,
        status_changed_at: r.opt_text("status_changed_at")?,
        status_by: r.opt_text("status_by")?,
        status_comment: r.opt_text("status_comment")?,
    })
}

pub(crate) fn token_row(r: &impl Cols) -> Result<TokenRecord, sqlx::Error> {
    let role = r.text("role")?;
    Ok(TokenRecord {
        id: r.int("id")?,
        role: role.parse().map_err(|e| bad_column("role", e))?,
        label: r.text("label")?,
        created_at: r.text("created_at")?,
    })
}

pub(crate) fn image_row(r: &impl Cols) -> Result<ImageRecord, Error> {
    Ok(ImageRecord {
        digest: r.text("digest")?,
        reference: r.text("reference")?,
        scanned_at: r.text("scanned_at")?,
        vulnerabilities: serde_json::from_str(&r.text("summary")?)?,
        has_sbom: r.int("has_sbom")? != 0,
    })
}

pub(crate) fn count_row(r: &impl Cols) -> Result<AlertCount, sqlx::Error> {
    let status = r.text("status")?;
    let severity = r.text("severity")?;
    Ok(AlertCount {
        status: status.parse().map_err(|e| bad_column("status", e))?,
        severity: severity.parse().map_err(|e| bad_column("severity", e))?,
        count: unsigned(r, "n")?,
    })
}

pub(crate) fn export_row(r: &impl Cols) -> Result<QueuedExport, Error> {
    Ok(QueuedExport {
        id: r.int("id")?,
        sink: r.text("sink")?,
        payload: serde_json::from_str(&r.text("payload")?)?,
        attempts: u32::try_from(r.int("attempts")?).unwrap_or(u32::MAX),
    })
}

/// The query of [`PlatformStore::list_alerts`] with only the conditions the filter uses (so
/// the planner can pick the matching index), and the text values to bind first; the limit
/// comes last. The cursor is a row-value comparison on `(last_seen, id)`, which both
/// dialects answer from the `(last_seen, id)` and `(status, last_seen, id)` indexes. Both
/// dialects accept `$N`.
pub(crate) fn list_alerts_sql(filter: &AlertFilter) -> (String, Vec<String>) {
    let mut conditions = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let fields = [
        ("status", filter.status.map(AlertStatus::as_str)),
        ("severity", filter.severity.map(Severity::as_str)),
        ("alert_type", filter.alert_type.as_deref()),
        ("cluster_id", filter.cluster.as_deref()),
    ];
    for (column, value) in fields {
        if let Some(v) = value {
            texts.push(v.to_owned());
            conditions.push(format!("{column} = ${}", texts.len()));
        }
    }
    if let Some(after) = &filter.after {
        texts.push(after.last_seen.clone());
        texts.push(after.id.to_string());
        let n = texts.len();
        conditions.push(format!(
            "(last_seen, id) < (${}, CAST(${n} AS BIGINT))",
            n - 1
        ));
    }
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (
        format!(
            "SELECT {ALERT_COLUMNS} FROM alerts {filter_sql}
             ORDER BY last_seen DESC, id DESC LIMIT ${}",
            texts.len() + 1
        ),
        texts,
    )
}

/// SQLite's clock as Unix milliseconds.
const SQLITE_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// Records an occurrence inside a transaction (SQLite).
async fn sqlite_record(
    conn: &mut sqlx::SqliteConnection,
    alert: &NewAlert,
) -> Result<Alert, Error> {
    let fingerprint = alert_fingerprint(alert);
    let seen = alert.seen_at.clone().unwrap_or_else(now_rfc3339);
    let resource = alert
        .resource
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let open: Option<i64> =
        sqlx::query("SELECT id FROM alerts WHERE fingerprint = ?1 AND status != 'resolved'")
            .bind(&fingerprint)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    let id = match open {
        Some(id) => {
            sqlx::query(
                "UPDATE alerts SET count = count + ?5, message = ?2, severity = ?3,
                     last_seen = max(last_seen, ?4), first_seen = min(first_seen, ?4)
                 WHERE id = ?1",
            )
            .bind(id)
            .bind(&alert.message)
            .bind(alert.severity.as_str())
            .bind(&seen)
            .bind(occurrences(alert))
            .execute(&mut *conn)
            .await?;
            id
        }
        None => sqlx::query(
            "INSERT INTO alerts (fingerprint, alert_type, rule, severity, tactic, technique,
                 count, first_seen, last_seen, cluster_id, resource, user_name, message, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?12, ?7, ?7, ?8, ?9, ?10, ?11, 'active')
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
        .bind(occurrences(alert))
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?,
    };
    if let Some(event) = &alert.event {
        sqlx::query("INSERT INTO alert_events (alert_id, seen_at, event) VALUES (?1, ?2, ?3)")
            .bind(id)
            .bind(&seen)
            .bind(event)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM alert_events WHERE alert_id = ?1 AND id NOT IN
                 (SELECT id FROM alert_events WHERE alert_id = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(id)
        .bind(i64::from(MAX_ALERT_EVENTS))
        .execute(&mut *conn)
        .await?;
    }
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(alert_row(&row)?)
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
        self.record_alert_with_exports(alert, &[]).await
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, Error> {
        let (sql, texts) = list_alerts_sql(filter);
        let limit = if filter.limit == 0 {
            -1
        } else {
            i64::from(filter.limit)
        };
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
            "SELECT seen_at, event FROM alert_events WHERE alert_id = ?1 ORDER BY id DESC LIMIT ?2",
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

    async fn record_alert_with_exports(
        &self,
        alert: &NewAlert,
        sinks: &[&str],
    ) -> Result<Alert, Error> {
        // IMMEDIATE: take the write lock before reading, so concurrent writers wait for each
        // other instead of failing on a stale snapshot.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let stored = sqlite_record(&mut tx, alert).await?;
        if !sinks.is_empty() {
            let payload = serde_json::to_string(&stored)?;
            let now = now_rfc3339();
            for sink in sinks {
                sqlx::query(
                    "INSERT INTO export_queue (sink, payload, enqueued_at) VALUES (?1, ?2, ?3)",
                )
                .bind(sink)
                .bind(&payload)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn lease_exports(
        &self,
        sink: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<QueuedExport>, Error> {
        // One statement: SQLite runs it under the database's write lock, so two leasers never
        // pick the same free item.
        let sql = format!(
            "UPDATE export_queue SET attempts = attempts + 1,
                 leased_until = {SQLITE_NOW_MS} + ?3
             WHERE id IN (SELECT id FROM export_queue
                          WHERE sink = ?1 AND leased_until <= {SQLITE_NOW_MS}
                          ORDER BY id LIMIT ?2)
             RETURNING id, sink, payload, attempts"
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
        let r =
            sqlx::query("DELETE FROM export_queue WHERE id IN (SELECT value FROM json_each(?1))")
                .bind(serde_json::to_string(ids)?)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected())
    }

    async fn pending_exports(&self, sink: &str) -> Result<u64, Error> {
        let row = sqlx::query("SELECT count(*) AS n FROM export_queue WHERE sink = ?1")
            .bind(sink)
            .fetch_one(&self.pool)
            .await?;
        Ok(unsigned(&row, "n")?)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn roles_parse_and_display_as_their_names() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                Value::String(role.as_str().to_owned())
            );
        }
        assert_eq!("sensor".parse::<Role>().unwrap(), Role::Sensor);
        assert_eq!(Role::Sensor.to_string(), "sensor");
        let err = "Sensor".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role \"Sensor\": expected one of admin, reader, sensor"
        );
    }

    #[test]
    fn statuses_parse_and_display_as_their_names() {
        for status in AlertStatus::ALL {
            assert_eq!(status.to_string().parse::<AlertStatus>().unwrap(), status);
        }
        assert!("open".parse::<AlertStatus>().is_err());
    }

    #[test]
    fn alert_lists_use_only_the_filters_given() {
        let everything = AlertFilter::default();
        let (sql, texts) = list_alerts_sql(&everything);
        assert!(!sql.contains("WHERE") && sql.contains("LIMIT $1"), "{sql}");
        assert!(texts.is_empty());
        let some = AlertFilter {
            status: Some(AlertStatus::Active),
            cluster: Some("prod".into()),
            ..AlertFilter::default()
        };
        let (sql, texts) = list_alerts_sql(&some);
        assert!(
            sql.contains("WHERE status = $1 AND cluster_id = $2") && sql.contains("LIMIT $3"),
            "{sql}"
        );
        assert_eq!(texts, vec!["active", "prod"]);
        let next = AlertFilter {
            status: Some(AlertStatus::Active),
            after: Some("42.2026-01-02T03:04:05Z".parse().unwrap()),
            ..AlertFilter::default()
        };
        let (sql, texts) = list_alerts_sql(&next);
        assert!(
            sql.contains("status = $1 AND (last_seen, id) < ($2, CAST($3 AS BIGINT))")
                && sql.contains("LIMIT $4"),
            "{sql}"
        );
        assert_eq!(texts, vec!["active", "2026-01-02T03:04:05Z", "42"]);
    }

    #[test]
    fn alert_cursors_round_trip_through_text() {
        let c = AlertCursor {
            last_seen: "2026-01-02T03:04:05.123Z".into(),
            id: 7,
        };
        assert_eq!(c.to_string().parse::<AlertCursor>().unwrap(), c);
        for bad in ["", "7", "x.2026", "7.", "-"] {
            assert!(bad.parse::<AlertCursor>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn leases_are_capped() {
        assert_eq!(lease_millis(Duration::from_millis(1500)), 1500);
        assert_eq!(lease_millis(Duration::MAX), lease_millis(MAX_LEASE));
    }
}
