//! Cluster inventory history behind the [`Store`] trait: clusters, snapshots of their objects
//! (content-addressed, so an unchanged object costs one small row per snapshot) and the findings
//! of each snapshot.
//!
//! The server's lists do not load whole snapshots. [`Store::recommendations`] reads the
//! findings counted by check, which `save_snapshot` aggregates in SQL (`GROUP BY check_id`) into
//! `snapshot_checks` in the snapshot's transaction: snapshots never change, so the aggregate is
//! computed once and the list costs a few dozen rows however many findings there are.
//! [`Store::findings_page`] pages through the findings with a keyset cursor (the finding's
//! position in the snapshot), so a page costs the same at the first and at the ten-thousandth
//! page; its queries use indexes that start with the snapshot id.
//!
//! The inventory list ([`Store::objects_page`], [`Store::count_objects`]) reads only object
//! rows, never their bodies: `save_snapshot` writes next to each object its labels as
//! `"\nkey=value\n..."`, its container images as `"\nimage\n..."` and its number of
//! findings, so every filter is a column test (a label selector term is one substring test
//! on whole `key=value` lines) and a page is a keyset walk of the snapshot's rows. Rows saved
//! before these columns existed are filled in when the store opens. Why substring tests and
//! not a JSON column: both dialects evaluate `instr`/`strpos` alike, whereas JSON operators
//! differ between SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::future::Future;

use palisade_inventory::Object;
use palisade_model::{Finding, Location, ResourceRef, Severity};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use crate::rows::{Cols, count, unsigned};
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

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Snapshots (with their objects and findings).
    pub snapshots: u64,
    /// Object contents no snapshot refers to any more.
    pub contents: u64,
    /// Resolved alerts (with their evidence).
    pub alerts: u64,
}

/// Deletes old snapshots except each cluster's latest (both dialects).
pub(crate) const PRUNE_SNAPSHOTS_SQL: &str = "DELETE FROM snapshots WHERE taken_at < $1 \
     AND id NOT IN (SELECT max(id) FROM snapshots GROUP BY cluster_id)";
/// Deletes alerts resolved before the cut-off (both dialects): by when they were resolved,
/// so an old alert resolved today is kept for the whole retention.
pub(crate) const PRUNE_ALERTS_SQL: &str = "DELETE FROM alerts WHERE status = 'resolved' \
     AND coalesce(status_changed_at, last_seen) < $1";

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

/// The findings of one check in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recommendation {
    /// Check id.
    pub check_id: String,
    /// Check title.
    pub title: String,
    /// Highest severity among the check's findings.
    pub severity: Severity,
    /// Number of findings.
    pub count: u64,
}

/// Which findings of a snapshot to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    /// Only this check.
    pub check_id: Option<String>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this resource kind.
    pub kind: Option<String>,
    /// Only resources whose name contains this text (ASCII case-insensitive).
    pub name_contains: Option<String>,
    /// Only resources whose `Kind/namespace/name` (`Kind/name` when cluster-scoped) contains
    /// this text (ASCII case-insensitive).
    pub resource_contains: Option<String>,
}

impl FindingFilter {
    /// Whether the filter lets every finding through.
    pub fn is_empty(&self) -> bool {
        self == &FindingFilter::default()
    }
}

/// One requirement of an equality-based label selector (`kubectl -l`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRequirement {
    /// `key=value`.
    Equals(String, String),
    /// `key!=value` (also true when the label is absent, as in Kubernetes).
    NotEquals(String, String),
    /// `key`.
    Exists(String),
    /// `!key`.
    Absent(String),
}

/// Which objects of a snapshot to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectFilter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this kind (ASCII case-insensitive).
    pub kind: Option<String>,
    /// Only objects whose name contains this text (ASCII case-insensitive).
    pub name_contains: Option<String>,
    /// Only objects whose labels meet every requirement.
    pub labels: Vec<LabelRequirement>,
    /// Only objects with a container image containing this text.
    pub image_contains: Option<String>,
}

/// Where the next page of objects starts: after the object at this position of the snapshot.
/// Its text form (`Display`/`FromStr`) goes into URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectCursor(pub i64);

impl std::fmt::Display for ObjectCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for ObjectCursor {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ObjectCursor)
    }
}

/// What an inventory list shows of one object (its body is not read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectSummary {
    /// Position in the snapshot (the cursor after this object).
    pub position: ObjectCursor,
    /// The object.
    pub resource: ResourceRef,
    /// `metadata.labels` (values as text).
    pub labels: BTreeMap<String, String>,
    /// Container images of its pod template, in order, without repeats.
    pub images: Vec<String>,
    /// Number of findings on it in the snapshot.
    pub findings: u64,
}

/// One page of objects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectPage {
    /// The objects, in the order they were saved.
    pub objects: Vec<ObjectSummary>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<ObjectCursor>,
}

/// Where the next page of findings starts: after the finding at this position of the
/// snapshot. Opaque to clients; its text form (`Display`/`FromStr`) goes into URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FindingCursor(pub i64);

impl std::fmt::Display for FindingCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for FindingCursor {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(FindingCursor)
    }
}

/// One page of findings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FindingPage {
    /// The findings, in the order they were saved.
    pub findings: Vec<Finding>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<FindingCursor>,
}

/// Largest page [`Store::findings_page`] returns.
pub const MAX_PAGE: u32 = 10_000;

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

    /// Retention: deletes the snapshots taken before `before` (RFC 3339) except each
    /// cluster's latest, the object contents no snapshot refers to any more, and the alerts
    /// resolved before `before`; one transaction.
    fn prune(&self, before: &str) -> impl Future<Output = Result<Pruned, Error>> + Send;

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

    /// The findings of a snapshot counted by check, most severe first, then most frequent,
    /// then by check id. Empty for an unknown snapshot.
    fn recommendations(
        &self,
        id: SnapshotId,
    ) -> impl Future<Output = Result<Vec<Recommendation>, Error>> + Send;

    /// One page of the findings of a snapshot matching `filter`, in the order they were saved,
    /// starting after `after` (the previous page's `next`). `limit` is clamped to
    /// `1..=`[`MAX_PAGE`].
    fn findings_page(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
        after: Option<FindingCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<FindingPage, Error>> + Send;

    /// The findings of a snapshot matching `filter` counted by check, in the order of
    /// [`recommendations`](Self::recommendations) (which answers when the filter is empty);
    /// title and severity are the check's in the snapshot.
    fn recommendations_matching(
        &self,
        id: SnapshotId,
        filter: &FindingFilter,
    ) -> impl Future<Output = Result<Vec<Recommendation>, Error>> + Send;

    /// The objects of one kind (exact) in a snapshot, in the order they were saved.
    fn objects_of_kind(
        &self,
        id: SnapshotId,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<Object>, Error>> + Send;

    /// One page of the objects of a snapshot matching `filter`, in the order they were saved,
    /// starting after `after`; `limit` is clamped to `1..=`[`MAX_PAGE`].
    fn objects_page(
        &self,
        id: SnapshotId,
        filter: &ObjectFilter,
        after: Option<ObjectCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<ObjectPage, Error>> + Send;

    /// Number of objects of a snapshot matching `filter`.
    fn count_objects(
        &self,
        id: SnapshotId,
        filter: &ObjectFilter,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
}

pub(crate) fn cluster_row(r: &impl Cols) -> Result<ClusterRecord, sqlx::Error> {
    Ok(ClusterRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        server: r.text("server")?,
        first_seen: r.text("first_seen")?,
        last_seen: r.text("last_seen")?,
    })
}

pub(crate) fn snapshot_row(r: &impl Cols) -> Result<SnapshotInfo, Error> {
    Ok(SnapshotInfo {
        id: SnapshotId(r.int("id")?),
        cluster_id: r.text("cluster_id")?,
        taken_at: r.text("taken_at")?,
        objects: unsigned(r, "objects")?,
        findings: unsigned(r, "findings")?,
        summary: serde_json::from_str(&r.text("summary")?)?,
    })
}

pub(crate) fn object_row(r: &impl Cols) -> Result<Object, Error> {
    let index = |name: &str| -> Result<usize, sqlx::Error> {
        Ok(usize::try_from(r.int(name)?).unwrap_or(0))
    };
    Ok(Object {
        resource: ResourceRef {
            api_version: r.text("api_version")?,
            kind: r.text("kind")?,
            namespace: r.opt_text("namespace")?,
            name: r.text("name")?,
        },
        raw: serde_json::from_str(&r.text("body")?)?,
        location: Location {
            file: r.text("file")?,
            document: index("document")?,
            line: index("line")?,
        },
    })
}

/// SQL expression ranking the `severity` column (higher is more severe); both dialects.
pub(crate) const SEVERITY_RANK: &str = "CAST(max(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
     WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) AS BIGINT)";

pub(crate) fn recommendation_row(r: &impl Cols) -> Result<Recommendation, sqlx::Error> {
    let rank = usize::try_from(r.int("rank")?).unwrap_or(0);
    Ok(Recommendation {
        check_id: r.text("check_id")?,
        title: r.text("title")?,
        severity: Severity::ALL
            .get(rank)
            .copied()
            .unwrap_or(Severity::Informational),
        count: unsigned(r, "n")?,
    })
}

/// The page limit actually used, and the number of rows to fetch (one more, to know whether a
/// next page exists).
pub(crate) fn page_limit(limit: u32) -> (usize, i64) {
    let limit = limit.clamp(1, MAX_PAGE);
    (limit as usize, i64::from(limit) + 1)
}

/// `AND`-joined conditions with numbered parameters (`$N`, which both dialects accept) and
/// the text values to bind to them, in order.
pub(crate) struct Conditions {
    pub(crate) sql: String,
    pub(crate) texts: Vec<String>,
    first: usize,
}

impl Conditions {
    /// Conditions whose first text parameter is `$first`.
    pub(crate) fn new(first: usize) -> Conditions {
        Conditions {
            sql: String::new(),
            texts: Vec::new(),
            first,
        }
    }

    /// Adds `condition(param)` with `value` bound to `param`.
    pub(crate) fn add(&mut self, value: impl Into<String>, condition: impl Fn(&str) -> String) {
        let param = format!("${}", self.first + self.texts.len());
        self.texts.push(value.into());
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition(&param));
    }

    /// The number of the next parameter.
    pub(crate) fn next_param(&self) -> usize {
        self.first + self.texts.len()
    }
}

/// The conditions of a finding filter, text parameters from `$first`. `find` is the
/// substring function of the dialect (`instr` for SQLite, `strpos` for PostgreSQL).
pub(crate) fn finding_conditions(filter: &FindingFilter, find: &str, first: usize) -> Conditions {
    let mut c = Conditions::new(first);
    if let Some(v) = &filter.check_id {
        c.add(v, |p| format!("check_id = {p}"));
    }
    if let Some(v) = &filter.namespace {
        c.add(v, |p| format!("namespace = {p}"));
    }
    if let Some(v) = &filter.kind {
        c.add(v, |p| format!("kind = {p}"));
    }
    if let Some(v) = &filter.name_contains {
        c.add(v.to_ascii_lowercase(), |p| {
            format!("{find}(lower(name), {p}) > 0")
        });
    }
    if let Some(v) = &filter.resource_contains {
        c.add(v.to_ascii_lowercase(), |p| {
            format!("{find}(lower(kind || '/' || coalesce(namespace || '/', '') || name), {p}) > 0")
        });
    }
    c
}

/// The query of [`Store::findings_page`] with only the conditions the filter uses (so the
/// planner can pick the matching index), and the text values to bind after `$1` (snapshot id)
/// and `$2` (cursor); the row limit comes last.
pub(crate) fn findings_page_sql(filter: &FindingFilter, find: &str) -> (String, Vec<String>) {
    let c = finding_conditions(filter, find, 3);
    let sql = format!(
        "SELECT position, body FROM snapshot_findings WHERE snapshot_id = $1 AND position > $2{} \
         ORDER BY position LIMIT ${}",
        c.sql,
        c.next_param()
    );
    (sql, c.texts)
}

/// The query of [`Store::recommendations_matching`] for a non-empty filter: the findings
/// counted by check, texts bound after `$1` (snapshot id).
pub(crate) fn recommendations_matching_sql(
    filter: &FindingFilter,
    find: &str,
) -> (String, Vec<String>) {
    let c = finding_conditions(filter, find, 2);
    let sql = format!(
        "SELECT m.check_id, k.title, k.severity_rank AS rank, m.n FROM \
         (SELECT check_id, count(*) AS n FROM snapshot_findings WHERE snapshot_id = $1{} \
          GROUP BY check_id) m \
         JOIN snapshot_checks k ON k.snapshot_id = $1 AND k.check_id = m.check_id \
         ORDER BY rank DESC, n DESC, m.check_id",
        c.sql
    );
    (sql, c.texts)
}

/// The conditions of an object filter, text parameters from `$first`.
pub(crate) fn object_conditions(filter: &ObjectFilter, find: &str, first: usize) -> Conditions {
    let mut c = Conditions::new(first);
    if let Some(v) = &filter.namespace {
        c.add(v, |p| format!("namespace = {p}"));
    }
    if let Some(v) = &filter.kind {
        c.add(v.to_ascii_lowercase(), |p| format!("lower(kind) = {p}"));
    }
    if let Some(v) = &filter.name_contains {
        c.add(v.to_ascii_lowercase(), |p| {
            format!("{find}(lower(name), {p}) > 0")
        });
    }
    for r in &filter.labels {
        let (needle, present) = match r {
            LabelRequirement::Equals(k, v) => (format!("\n{k}={v}\n"), true),
            LabelRequirement::NotEquals(k, v) => (format!("\n{k}={v}\n"), false),
            LabelRequirement::Exists(k) => (format!("\n{k}="), true),
            LabelRequirement::Absent(k) => (format!("\n{k}="), false),
        };
        c.add(needle, |p| {
            if present {
                format!("{find}(labels, {p}) > 0")
            } else {
                format!("{find}(labels, {p}) = 0")
            }
        });
    }
    if let Some(v) = &filter.image_contains {
        c.add(v, |p| format!("{find}(images, {p}) > 0"));
    }
    c
}

/// The query of [`Store::objects_page`]: texts bound after `$1` (snapshot id) and `$2`
/// (cursor); the row limit comes last.
pub(crate) fn objects_page_sql(filter: &ObjectFilter, find: &str) -> (String, Vec<String>) {
    let c = object_conditions(filter, find, 3);
    let sql = format!(
        "SELECT position, api_version, kind, namespace, name, labels, images, findings \
         FROM snapshot_objects WHERE snapshot_id = $1 AND position > $2{} \
         ORDER BY position LIMIT ${}",
        c.sql,
        c.next_param()
    );
    (sql, c.texts)
}

/// The query of [`Store::count_objects`]: texts bound after `$1` (snapshot id).
pub(crate) fn count_objects_sql(filter: &ObjectFilter, find: &str) -> (String, Vec<String>) {
    let c = object_conditions(filter, find, 2);
    let sql = format!(
        "SELECT count(*) AS n FROM snapshot_objects WHERE snapshot_id = $1{}",
        c.sql
    );
    (sql, c.texts)
}

/// An object row of [`Store::objects_page`].
pub(crate) fn object_summary_row(r: &impl Cols) -> Result<ObjectSummary, sqlx::Error> {
    Ok(ObjectSummary {
        position: ObjectCursor(r.int("position")?),
        resource: ResourceRef {
            api_version: r.text("api_version")?,
            kind: r.text("kind")?,
            namespace: r.opt_text("namespace")?,
            name: r.text("name")?,
        },
        labels: r
            .opt_text("labels")?
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        images: r
            .opt_text("images")?
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        findings: r
            .opt_int("findings")?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
    })
}

/// Builds a page of objects from up to `limit + 1` rows.
pub(crate) fn object_page(mut rows: Vec<ObjectSummary>, limit: usize) -> ObjectPage {
    let more = rows.len() > limit;
    rows.truncate(limit);
    ObjectPage {
        next: if more {
            rows.last().map(|o| o.position)
        } else {
            None
        },
        objects: rows,
    }
}

/// What the inventory list keeps of each object besides its identity: labels text, images
/// text (see migration 0006) and number of findings, in the order of `objects`.
pub(crate) fn object_extras(
    objects: &[Object],
    findings: &[Finding],
) -> Vec<(String, String, i64)> {
    let mut on: BTreeMap<&ResourceRef, i64> = BTreeMap::new();
    for f in findings {
        *on.entry(&f.resource).or_default() += 1;
    }
    objects
        .iter()
        .map(|o| {
            (
                labels_text(o),
                images_text(o),
                on.get(&o.resource).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// `"\nkey=value\n..."`: labels whose key or value could not be told apart in this form
/// (a newline anywhere, `=` in the key) are left out; values that are not strings are kept
/// as their JSON text.
pub(crate) fn labels_text(o: &Object) -> String {
    let mut out = String::from("\n");
    if let Value::Object(map) = o.labels() {
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            if k.is_empty() || k.contains(['=', '\n']) || v.contains('\n') {
                continue;
            }
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
            out.push('\n');
        }
    }
    out
}

/// `"\nimage\n..."`: the container images of the object's pod template, in order, without
/// repeats.
pub(crate) fn images_text(o: &Object) -> String {
    let mut images: Vec<&str> = Vec::new();
    if let Some(t) = o.pod_template() {
        for c in t.containers() {
            if let Some(i) = c.value.get("image").and_then(Value::as_str)
                && !i.contains('\n')
                && !images.contains(&i)
            {
                images.push(i);
            }
        }
    }
    let mut out = String::from("\n");
    for i in images {
        out.push_str(i);
        out.push('\n');
    }
    out
}

/// Builds a page from up to `limit + 1` rows of (position, body).
pub(crate) fn finding_page(rows: Vec<(i64, String)>, limit: usize) -> Result<FindingPage, Error> {
    let more = rows.len() > limit;
    let mut findings = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    for (position, body) in rows.into_iter().take(limit) {
        findings.push(serde_json::from_str(&body)?);
        last = Some(position);
    }
    Ok(FindingPage {
        findings,
        next: if more { last.map(FindingCursor) } else { None },
    })
}

/// The JSON text stored for an object; Secret values are dropped again here, whatever the
/// caller passed.
pub(crate) fn stored_body(o: &Object) -> Result<String, serde_json::Error> {
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

pub(crate) fn summary(objects: &[Object], findings: &[Finding]) -> Value {
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
        let extras = object_extras(objects, findings);
        for ((position, o), (labels, images, on)) in objects.iter().enumerate().zip(extras) {
            let body = stored_body(o)?;
            let hash = sha256_hex(&body);
            sqlx::query("INSERT OR IGNORE INTO object_contents (hash, body) VALUES (?1, ?2)")
                .bind(&hash)
                .bind(&body)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO snapshot_objects
                 (snapshot_id, position, api_version, kind, namespace, name, file, document, line, hash,
                  labels, images, findings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
            .bind(labels)
            .bind(images)
            .bind(on)
            .execute(&mut *tx)
            .await?;
        }
        for (position, f) in findings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO snapshot_findings
                 (snapshot_id, position, check_id, title, severity, namespace, kind, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .bind(id)
            .bind(count(position))
            .bind(&f.check_id)
            .bind(&f.title)
            .bind(f.severity.as_str())
            .bind(f.resource.namespace.as_deref())
            .bind(&f.resource.kind)
            .bind(&f.resource.name)
            .bind(serde_json::to_string(f)?)
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let snapshots = sqlx::query(PRUNE_SNAPSHOTS_SQL)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let contents = if snapshots == 0 {
            0
        } else {
            // NOT IN: SQLite builds a temporary index of the subquery once.
            sqlx::query(
                "DELETE FROM object_contents WHERE hash NOT IN (SELECT hash FROM snapshot_objects)",
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
             WHERE cluster_id = ?1 ORDER BY id DESC LIMIT ?2",
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
             WHERE o.snapshot_id = ?1 ORDER BY o.position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(object_row).collect()
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
        let (sql, texts) = findings_page_sql(filter, "instr");
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
        let (sql, texts) = recommendations_matching_sql(filter, "instr");
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
             WHERE o.snapshot_id = ?1 AND o.kind = ?2 ORDER BY o.position",
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
        let (sql, texts) = objects_page_sql(filter, "instr");
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
        let (sql, texts) = count_objects_sql(filter, "instr");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        for t in texts {
            query = query.bind(t);
        }
        let row = query.fetch_one(&self.pool).await?;
        Ok(unsigned(&row, "n")?)
    }
}

impl SqliteStore {
    /// Fills the inventory columns of object rows saved before migration 0006, one snapshot
    /// per transaction.
    pub(crate) async fn fill_object_columns(&self) -> Result<(), Error> {
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
            let mut tx = self.pool.begin().await?;
            for (position, (labels, images, on)) in
                object_extras(&objects, &findings).into_iter().enumerate()
            {
                sqlx::query(
                    "UPDATE snapshot_objects SET labels = ?3, images = ?4, findings = ?5
                     WHERE snapshot_id = ?1 AND position = ?2",
                )
                .bind(id.0)
                .bind(count(position))
                .bind(labels)
                .bind(images)
                .bind(on)
                .execute(&mut *tx)
                .await?;
            }
            // rows past the objects read (none unless the snapshot is damaged) end the loop too
            sqlx::query(
                "UPDATE snapshot_objects SET labels = '\n', images = '\n', findings = 0
                 WHERE snapshot_id = ?1 AND labels IS NULL",
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
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
