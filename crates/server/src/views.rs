//! What the API and the dashboard show, computed from the store: clusters with their latest
//! snapshot, inventory resources, recommendations (findings grouped by check), coverage and the
//! overview counts. Both front ends call these functions, so a page and its API route always
//! agree.
//!
//! The latest snapshot of a cluster is turned once into a [`SnapshotView`]: its findings
//! grouped by check (with the lower-case resource text the filter searches) and the state of
//! the palisade components found among its objects; the objects are not kept. The dashboard
//! keeps these views in a [`ViewCache`] keyed by cluster and checked against the id of the
//! cluster's latest snapshot at each request (two small queries), so a new snapshot replaces
//! the view on the next page and a page never rescans a 100k-object snapshot. The API
//! functions without `_with` build the views per request (they have no cache to hand).
//! The inventory still reads the snapshot's objects per request: it needs labels and images
//! of every object, which would double the cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use palisade_inventory::Object;
use palisade_model::{Finding, ResourceRef, Severity};
use palisade_store::{AlertStatus, ClusterRecord, SnapshotInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Backend;
use crate::error::ApiError;
use crate::query::{RecommendationFilter, ResourceFilter};

/// Key of the server settings document in the store.
pub(crate) const SETTINGS_KEY: &str = "server";

/// A cluster and its latest snapshot.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClusterView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) server: String,
    pub(crate) first_seen: String,
    pub(crate) last_seen: String,
    pub(crate) latest_snapshot: Option<SnapshotInfo>,
}

/// Every cluster with its latest snapshot.
pub(crate) async fn clusters<S: Backend>(store: &S) -> Result<Vec<ClusterView>, ApiError> {
    let mut out = Vec::new();
    for c in store.list_clusters().await? {
        let latest = store.latest_snapshots(&c.id, 1).await?.into_iter().next();
        out.push(ClusterView {
            id: c.id,
            name: c.name,
            server: c.server,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            latest_snapshot: latest,
        });
    }
    Ok(out)
}

fn cluster_matches(c: &ClusterRecord, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| c.id == w || c.name == w)
}

/// The latest snapshot's objects and findings of each cluster (optionally one cluster).
pub(crate) struct Latest {
    pub(crate) cluster: ClusterRecord,
    pub(crate) objects: Vec<Object>,
    pub(crate) findings: Vec<Finding>,
}

async fn latest<S: Backend>(
    store: &S,
    cluster: Option<&str>,
    with_objects: bool,
) -> Result<Vec<Latest>, ApiError> {
    let mut out = Vec::new();
    for c in store.list_clusters().await? {
        if !cluster_matches(&c, cluster) {
            continue;
        }
        let Some(snapshot) = store.latest_snapshots(&c.id, 1).await?.into_iter().next() else {
            continue;
        };
        let objects = if with_objects {
            store.load_snapshot_objects(snapshot.id).await?
        } else {
            Vec::new()
        };
        let findings = store.load_findings(snapshot.id).await?;
        out.push(Latest {
            cluster: c,
            objects,
            findings,
        });
    }
    Ok(out)
}

/// One inventory resource.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResourceView {
    pub(crate) cluster: String,
    pub(crate) cluster_name: String,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) labels: Value,
    pub(crate) images: Vec<String>,
    pub(crate) findings: u64,
}

/// A page of results and the number of matches before paging.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: usize,
}

fn images_of(o: &Object) -> Vec<String> {
    let mut images: Vec<String> = o
        .pod_template()
        .map(|t| {
            t.containers()
                .filter_map(|c| c.value.get("image").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    images.dedup();
    images
}

/// Inventory resources of the latest snapshots, filtered and paged.
pub(crate) async fn resources<S: Backend>(
    store: &S,
    filter: &ResourceFilter,
) -> Result<Page<ResourceView>, ApiError> {
    let mut matched = Vec::new();
    for l in latest(store, filter.cluster.as_deref(), true).await? {
        let mut finding_counts: BTreeMap<&ResourceRef, u64> = BTreeMap::new();
        for f in &l.findings {
            *finding_counts.entry(&f.resource).or_default() += 1;
        }
        for o in &l.objects {
            let r = &o.resource;
            if filter
                .namespace
                .as_deref()
                .is_some_and(|ns| r.namespace.as_deref() != Some(ns))
                || filter
                    .kind
                    .as_deref()
                    .is_some_and(|k| !r.kind.eq_ignore_ascii_case(k))
                || filter.name.as_deref().is_some_and(|n| !r.name.contains(n))
                || !filter.labels.matches(o.labels())
            {
                continue;
            }
            let images = images_of(o);
            if let Some(wanted) = &filter.image
                && !images.iter().any(|i| i.contains(wanted.as_str()))
            {
                continue;
            }
            matched.push(ResourceView {
                cluster: l.cluster.id.clone(),
                cluster_name: l.cluster.name.clone(),
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                labels: match o.labels() {
                    Value::Object(m) => Value::Object(m.clone()),
                    _ => Value::Object(serde_json::Map::new()),
                },
                images,
                findings: finding_counts.get(r).copied().unwrap_or(0),
            });
        }
    }
    Ok(paged(matched, filter.offset, filter.limit))
}

fn paged<T>(all: Vec<T>, offset: u32, limit: u32) -> Page<T> {
    let total = all.len();
    let items = all
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Page { items, total }
}

/// One affected resource of a recommendation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Affected {
    pub(crate) cluster: String,
    pub(crate) cluster_name: String,
    pub(crate) resource: ResourceRef,
    pub(crate) container: Option<String>,
    pub(crate) message: String,
    pub(crate) evidence: String,
}

/// A recommendation: one check with every resource that fails it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Recommendation {
    pub(crate) check_id: String,
    pub(crate) title: String,
    pub(crate) severity: Severity,
    pub(crate) remediation: String,
    pub(crate) mitre: Vec<String>,
    pub(crate) affected_count: usize,
    pub(crate) affected: Vec<Affected>,
}

/// What the pages need from one snapshot, derived once: its findings grouped by check and the
/// state of the palisade components found among its objects. The objects themselves are not
/// kept.
#[derive(Clone)]
pub(crate) struct SnapshotView {
    pub(crate) cluster: ClusterRecord,
    pub(crate) snapshot: SnapshotInfo,
    /// Findings grouped by check, most severe first, then by check id.
    pub(crate) checks: Arc<Vec<CheckGroup>>,
    /// The runtime sensor DaemonSet: `None` when missing, else whether every pod is ready.
    pub(crate) sensor_ready: Option<bool>,
    /// Whether the admission webhook is registered.
    pub(crate) webhook: bool,
}

/// The findings of one check in one snapshot.
pub(crate) struct CheckGroup {
    pub(crate) check_id: String,
    pub(crate) title: String,
    pub(crate) severity: Severity,
    pub(crate) remediation: String,
    pub(crate) mitre: Vec<String>,
    pub(crate) affected: Vec<AffectedRow>,
}

/// One failing resource of a [`CheckGroup`].
pub(crate) struct AffectedRow {
    pub(crate) resource: ResourceRef,
    /// `resource` as `Kind/namespace/name`, lower case (what the resource filter searches).
    pub(crate) search: String,
    pub(crate) container: Option<String>,
    pub(crate) message: String,
    pub(crate) evidence: String,
}

/// The runtime sensor (`None` when missing, else whether every pod is ready) and whether the
/// admission webhook is registered, among a snapshot's objects.
fn components(objects: &[Object]) -> (Option<bool>, bool) {
    let sensor_ready = objects
        .iter()
        .find(|o| o.resource.kind == "DaemonSet" && has_label(o, "palisade-sensor"))
        .map(daemonset_ready);
    let webhook = objects.iter().any(|o| {
        o.resource.kind == "ValidatingWebhookConfiguration"
            && (o.resource.name.starts_with("palisade") || has_label(o, "palisade-admission"))
    });
    (sensor_ready, webhook)
}

impl SnapshotView {
    /// The view of a snapshot from the state of its palisade components and its findings.
    fn derive(
        cluster: ClusterRecord,
        snapshot: SnapshotInfo,
        (sensor_ready, webhook): (Option<bool>, bool),
        findings: Vec<Finding>,
    ) -> SnapshotView {
        let mut by_check: BTreeMap<String, CheckGroup> = BTreeMap::new();
        for f in findings {
            let group = by_check
                .entry(f.check_id.to_string())
                .or_insert_with(|| CheckGroup {
                    check_id: f.check_id.to_string(),
                    title: f.title.to_string(),
                    severity: f.severity,
                    remediation: f.remediation.to_string(),
                    mitre: f.mitre.clone(),
                    affected: Vec::new(),
                });
            group.affected.push(AffectedRow {
                search: f.resource.to_string().to_lowercase(),
                resource: f.resource,
                container: f.container,
                message: f.message,
                evidence: f.evidence,
            });
        }
        let mut checks: Vec<CheckGroup> = by_check.into_values().collect();
        checks.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.check_id.cmp(&b.check_id))
        });
        SnapshotView {
            cluster,
            snapshot,
            checks: Arc::new(checks),
            sensor_ready,
            webhook,
        }
    }
}

/// Derived views of the latest snapshot of each cluster, kept per server and rebuilt when a
/// cluster's latest snapshot changes. A page then costs two small queries per cluster instead
/// of reading every object and finding of the snapshot.
#[derive(Default)]
pub(crate) struct ViewCache {
    /// By cluster id. Held across a rebuild, so concurrent requests wait for one build
    /// instead of each reading the snapshot.
    by_cluster: tokio::sync::Mutex<BTreeMap<String, Arc<SnapshotView>>>,
}

async fn build_view<S: Backend>(
    store: &S,
    cluster: ClusterRecord,
    snapshot: SnapshotInfo,
) -> Result<Arc<SnapshotView>, ApiError> {
    // One at a time: the objects are dropped before the findings are read.
    let components = components(&store.load_snapshot_objects(snapshot.id).await?);
    let findings = store.load_findings(snapshot.id).await?;
    Ok(Arc::new(SnapshotView::derive(
        cluster, snapshot, components, findings,
    )))
}

/// The derived view of the latest snapshot of each cluster (optionally one cluster), from
/// `cache` when it holds the same snapshot, else read from the store (and cached).
pub(crate) async fn latest_views<S: Backend>(
    store: &S,
    cache: Option<&ViewCache>,
    cluster: Option<&str>,
) -> Result<Vec<Arc<SnapshotView>>, ApiError> {
    let clusters = store.list_clusters().await?;
    let mut cached = match cache {
        Some(c) => Some(c.by_cluster.lock().await),
        None => None,
    };
    if let Some(map) = cached.as_deref_mut() {
        map.retain(|id, _| clusters.iter().any(|c| &c.id == id));
    }
    let mut out = Vec::new();
    for c in clusters {
        if !cluster_matches(&c, cluster) {
            continue;
        }
        let Some(snapshot) = store.latest_snapshots(&c.id, 1).await?.into_iter().next() else {
            continue;
        };
        let view = match cached.as_deref_mut() {
            Some(map) => match map.get(&c.id) {
                Some(v) if v.snapshot.id == snapshot.id => {
                    if v.cluster == c {
                        Arc::clone(v)
                    } else {
                        // the cluster was renamed or seen again: same snapshot, new record
                        let v = Arc::new(SnapshotView {
                            cluster: c.clone(),
                            ..SnapshotView::clone(v)
                        });
                        map.insert(c.id, Arc::clone(&v));
                        v
                    }
                }
                _ => {
                    let v = build_view(store, c.clone(), snapshot).await?;
                    map.insert(c.id, Arc::clone(&v));
                    v
                }
            },
            None => build_view(store, c, snapshot).await?,
        };
        out.push(view);
    }
    Ok(out)
}

/// A recommendation over the views, borrowing their rows.
pub(crate) struct RecommendationRef<'a> {
    pub(crate) check: &'a CheckGroup,
    pub(crate) affected: Vec<(&'a ClusterRecord, &'a AffectedRow)>,
}

/// Findings of the views grouped by check and filtered, most severe first.
pub(crate) fn recommendation_refs<'a>(
    views: &'a [Arc<SnapshotView>],
    filter: &RecommendationFilter,
) -> Vec<RecommendationRef<'a>> {
    let needle = filter.resource.as_deref().map(str::to_lowercase);
    let mut by_check: BTreeMap<&'a str, RecommendationRef<'a>> = BTreeMap::new();
    for v in views {
        for check in v.checks.iter() {
            if filter.severity.is_some_and(|s| s != check.severity)
                || filter.check.as_deref().is_some_and(|c| c != check.check_id)
            {
                continue;
            }
            for row in &check.affected {
                if filter
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| row.resource.namespace.as_deref() != Some(ns))
                    || needle.as_deref().is_some_and(|n| !row.search.contains(n))
                {
                    continue;
                }
                by_check
                    .entry(check.check_id.as_str())
                    .or_insert_with(|| RecommendationRef {
                        check,
                        affected: Vec::new(),
                    })
                    .affected
                    .push((&v.cluster, row));
            }
        }
    }
    let mut out: Vec<RecommendationRef<'a>> = by_check.into_values().collect();
    out.sort_by(|a, b| {
        b.check
            .severity
            .cmp(&a.check.severity)
            .then_with(|| a.check.check_id.cmp(&b.check.check_id))
    });
    out
}

/// Findings of the latest snapshots grouped by check, most severe first.
pub(crate) async fn recommendations<S: Backend>(
    store: &S,
    filter: &RecommendationFilter,
) -> Result<Vec<Recommendation>, ApiError> {
    let views = latest_views(store, None, filter.cluster.as_deref()).await?;
    Ok(recommendation_refs(&views, filter)
        .into_iter()
        .map(|r| Recommendation {
            check_id: r.check.check_id.clone(),
            title: r.check.title.clone(),
            severity: r.check.severity,
            remediation: r.check.remediation.clone(),
            mitre: r.check.mitre.clone(),
            affected_count: r.affected.len(),
            affected: r
                .affected
                .into_iter()
                .map(|(c, a)| Affected {
                    cluster: c.id.clone(),
                    cluster_name: c.name.clone(),
                    resource: a.resource.clone(),
                    container: a.container.clone(),
                    message: a.message.clone(),
                    evidence: a.evidence.clone(),
                })
                .collect(),
        })
        .collect())
}

/// One line of the coverage report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CoverageItem {
    pub(crate) item: String,
    pub(crate) cluster: Option<String>,
    pub(crate) component: String,
    pub(crate) status: String,
    pub(crate) how_to_fix: Option<String>,
    pub(crate) last_seen: Option<String>,
}

fn has_label(o: &Object, value: &str) -> bool {
    o.labels()
        .get("app.kubernetes.io/name")
        .and_then(Value::as_str)
        == Some(value)
        || o.resource.name == value
}

/// Whether a DaemonSet's status reports every scheduled pod ready (true when it has no status,
/// as in manifests).
fn daemonset_ready(o: &Object) -> bool {
    let status = &o.raw["status"];
    match (
        status["desiredNumberScheduled"].as_u64(),
        status["numberReady"].as_u64(),
    ) {
        (Some(desired), Some(ready)) => ready >= desired,
        _ => true,
    }
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as the store writes it.
fn epoch_seconds(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The coverage report: per cluster, discovery freshness, runtime sensor and admission webhook.
pub(crate) async fn coverage<S: Backend>(
    store: &S,
    settings: &Settings,
) -> Result<Vec<CoverageItem>, ApiError> {
    coverage_with(store, None, settings).await
}

/// [`coverage`] over cached snapshot views.
pub(crate) async fn coverage_with<S: Backend>(
    store: &S,
    cache: Option<&ViewCache>,
    settings: &Settings,
) -> Result<Vec<CoverageItem>, ApiError> {
    let known = store.list_clusters().await?;
    let all = latest_views(store, cache, None).await?;
    Ok(coverage_items(&known, &all, settings))
}

fn coverage_items(
    known: &[ClusterRecord],
    all: &[Arc<SnapshotView>],
    settings: &Settings,
) -> Vec<CoverageItem> {
    let mut out = Vec::new();
    if known.is_empty() {
        out.push(CoverageItem {
            item: "Clusters".into(),
            cluster: None,
            component: "discovery".into(),
            status: "missing".into(),
            how_to_fix: Some(
                "Connect a cluster: run `palisade posture scan --cluster --save` with a kubeconfig \
                 that can use deploy/clusterrole.yaml."
                    .into(),
            ),
            last_seen: None,
        });
    }
    let now = now_seconds();
    for c in known {
        let l = all.iter().find(|l| l.cluster.id == c.id);
        let taken = l.map(|l| l.snapshot.taken_at.clone());
        let fresh = taken
            .as_deref()
            .and_then(epoch_seconds)
            .is_some_and(|t| now.saturating_sub(t) <= settings.coverage_stale_after_seconds);
        let (status, fix) = match (&taken, fresh) {
            (None, _) => (
                "missing",
                Some("No snapshot yet: run a discovery of this cluster.".to_owned()),
            ),
            (Some(_), false) => (
                "stale",
                Some(format!(
                    "The last snapshot is older than {} seconds: check that discovery runs and can \
                     reach the API server.",
                    settings.coverage_stale_after_seconds
                )),
            ),
            (Some(_), true) => ("healthy", None),
        };
        out.push(CoverageItem {
            item: format!("{}: agentless discovery", c.name),
            cluster: Some(c.id.clone()),
            component: "discovery".into(),
            status: status.into(),
            how_to_fix: fix,
            last_seen: taken.clone(),
        });

        let sensor = l.and_then(|l| l.sensor_ready);
        let (status, fix) = match sensor {
            None => (
                "missing",
                Some("Deploy the palisade-sensor DaemonSet (deploy/sensor.yaml or the Helm chart).".to_owned()),
            ),
            Some(false) => (
                "degraded",
                Some("Some sensor pods are not ready: check `kubectl -n <namespace> get pods -l app.kubernetes.io/name=palisade-sensor`.".to_owned()),
            ),
            Some(true) => ("healthy", None),
        };
        out.push(CoverageItem {
            item: format!("{}: runtime sensor", c.name),
            cluster: Some(c.id.clone()),
            component: "sensor".into(),
            status: status.into(),
            how_to_fix: fix,
            last_seen: sensor.and(taken.clone()),
        });

        let webhook = l.is_some_and(|l| l.webhook);
        out.push(CoverageItem {
            item: format!("{}: admission webhook", c.name),
            cluster: Some(c.id.clone()),
            component: "admission".into(),
            status: if webhook { "healthy" } else { "missing" }.into(),
            how_to_fix: (!webhook).then(|| {
                "Deploy the palisade admission webhook (deploy/admission.yaml or the Helm chart)."
                    .to_owned()
            }),
            last_seen: if webhook { taken.clone() } else { None },
        });
    }
    out
}

/// Server settings (the `server` document of the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Settings {
    /// Registries images may come from.
    pub(crate) trusted_registries: Vec<String>,
    /// Namespaces left out of posture checks.
    pub(crate) excluded_namespaces: Vec<String>,
    /// Seconds between two discoveries of a cluster.
    pub(crate) scan_interval_seconds: u64,
    /// A cluster whose last snapshot is older than this is reported stale in coverage.
    pub(crate) coverage_stale_after_seconds: u64,
    /// Days resolved and dismissed alerts are kept.
    pub(crate) alert_retention_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            trusted_registries: Vec::new(),
            excluded_namespaces: Vec::new(),
            scan_interval_seconds: 3600,
            coverage_stale_after_seconds: 86_400,
            alert_retention_days: 90,
        }
    }
}

impl Settings {
    /// Checks ranges and names; the message names the field.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(60..=7 * 86_400).contains(&self.scan_interval_seconds) {
            return Err("scan_interval_seconds must be between 60 and 604800".into());
        }
        if !(60..=30 * 86_400).contains(&self.coverage_stale_after_seconds) {
            return Err("coverage_stale_after_seconds must be between 60 and 2592000".into());
        }
        if !(1..=3650).contains(&self.alert_retention_days) {
            return Err("alert_retention_days must be between 1 and 3650".into());
        }
        for r in &self.trusted_registries {
            if r.is_empty() || r.len() > 253 || r.contains(char::is_whitespace) {
                return Err(format!("trusted_registries: invalid registry {r:?}"));
            }
        }
        for n in &self.excluded_namespaces {
            let ok = !n.is_empty()
                && n.len() <= 63
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(format!("excluded_namespaces: invalid namespace {n:?}"));
            }
        }
        Ok(())
    }
}

/// The stored settings, or the defaults.
pub(crate) async fn settings<S: Backend>(store: &S) -> Result<Settings, ApiError> {
    match store.get_setting(SETTINGS_KEY).await? {
        None => Ok(Settings::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| ApiError::Internal(format!("stored settings are invalid: {e}"))),
    }
}

/// Counts by severity name, every severity present (zero when none).
pub(crate) type BySeverity = BTreeMap<&'static str, u64>;

fn zero_by_severity() -> BySeverity {
    Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect()
}

/// The overview tiles.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    pub(crate) clusters: usize,
    pub(crate) resources: u64,
    pub(crate) active_alerts: BySeverity,
    pub(crate) recommendations: BySeverity,
    pub(crate) images: ImageCounts,
    pub(crate) coverage: CoverageCounts,
}

/// Image tile.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageCounts {
    pub(crate) total: usize,
    pub(crate) vulnerable: usize,
}

/// Coverage tile.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CoverageCounts {
    pub(crate) healthy: usize,
    pub(crate) total: usize,
}

/// Counts of active alerts by severity.
pub(crate) async fn active_alerts<S: Backend>(store: &S) -> Result<BySeverity, ApiError> {
    let mut out = zero_by_severity();
    for c in store.alert_counts().await? {
        if c.status == AlertStatus::Active {
            *out.entry(c.severity.as_str()).or_default() += c.count;
        }
    }
    Ok(out)
}

/// The overview: clusters, resources, active alerts and recommendations (checks failing) by
/// severity, vulnerable images, healthy coverage items.
pub(crate) async fn overview<S: Backend>(store: &S) -> Result<Overview, ApiError> {
    overview_with(store, None).await
}

/// [`overview`] over cached snapshot views.
pub(crate) async fn overview_with<S: Backend>(
    store: &S,
    cache: Option<&ViewCache>,
) -> Result<Overview, ApiError> {
    let known = store.list_clusters().await?;
    let views = latest_views(store, cache, None).await?;
    let resources = views.iter().map(|v| v.snapshot.objects).sum();
    let mut recs = zero_by_severity();
    let mut checks: BTreeMap<&str, Severity> = BTreeMap::new();
    for v in &views {
        for c in v.checks.iter() {
            checks.entry(c.check_id.as_str()).or_insert(c.severity);
        }
    }
    for severity in checks.into_values() {
        *recs.entry(severity.as_str()).or_default() += 1;
    }
    let images = store.list_images().await?;
    let vulnerable = images
        .iter()
        .filter(|i| i.vulnerabilities.values().any(|n| *n > 0))
        .count();
    let cov = coverage_items(&known, &views, &settings(store).await?);
    Ok(Overview {
        clusters: known.len(),
        resources,
        active_alerts: active_alerts(store).await?,
        recommendations: recs,
        images: ImageCounts {
            total: images.len(),
            vulnerable,
        },
        coverage: CoverageCounts {
            healthy: cov.iter().filter(|c| c.status == "healthy").count(),
            total: cov.len(),
        },
    })
}

/// Finding counts by severity over the latest snapshots (for metrics).
pub(crate) async fn findings_by_severity<S: Backend>(store: &S) -> Result<BySeverity, ApiError> {
    let mut out = zero_by_severity();
    for l in latest(store, None, false).await? {
        for f in &l.findings {
            *out.entry(f.severity.as_str()).or_default() += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn store_timestamps_convert_to_epoch_seconds() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("2026-01-02T03:04:05Z"), Some(1_767_323_045));
        assert_eq!(epoch_seconds("garbage"), None);
    }

    #[test]
    fn settings_are_validated_field_by_field() {
        assert!(Settings::default().validate().is_ok());
        let bad = Settings {
            scan_interval_seconds: 1,
            ..Settings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("scan_interval_seconds")
        );
        let bad = Settings {
            excluded_namespaces: vec!["Kube System".into()],
            ..Settings::default()
        };
        assert!(bad.validate().is_err());
    }
}
