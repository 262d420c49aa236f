//! What the API and the dashboard show, computed from the store: clusters with their latest
//! snapshot, inventory resources, recommendations (findings grouped by check), coverage and the
//! overview counts. Both front ends call these functions, so a page and its API route always
//! agree.
//!
//! Nothing here loads a whole snapshot. The latest snapshot of each cluster is summarised once
//! into a [`SnapshotView`]: the store's per-snapshot count of findings by check (aggregated in
//! SQL when the snapshot was saved), the remediation and MITRE techniques of each check (one
//! finding read per check) and the state of the palisade components (the DaemonSets and
//! webhook configurations of the snapshot, read by kind). The server keeps these views in its
//! [`ViewCache`] (a field of the shared state), keyed by cluster and checked against the id of
//! the cluster's latest snapshot at each request (two small queries), so a new snapshot
//! replaces the view on the next request and a view costs a few kilobytes whatever the size
//! of the snapshot. The overview, coverage and unfiltered recommendation lists are answered
//! from the views alone.
//!
//! Lists that can be long are paged in SQL with keyset cursors: the affected resources of a
//! check (the store's `findings_page`), filtered recommendation counts
//! (`recommendations_matching`) and the inventory (`objects_page`, whose filters — namespace,
//! kind, name, label selector, image — are answered from columns of the object rows). A list
//! over several clusters walks their latest snapshots in id order; its cursor ([`ListCursor`])
//! names the snapshot and the position in it.

use std::collections::BTreeMap;
use std::sync::Arc;

use palisade_inventory::Object;
use palisade_model::{ResourceRef, Severity};
use palisade_store::{
    AlertStatus, ClusterRecord, FindingFilter, ObjectCursor, ObjectFilter, SnapshotId, SnapshotInfo,
};
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

/// Where the next page of a list over several snapshots starts: in this snapshot, after this
/// position (`None`: from its start). Text form `<snapshot>` or `<snapshot>.<position>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListCursor {
    pub(crate) snapshot: i64,
    pub(crate) after: Option<i64>,
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.after {
            Some(p) => write!(f, "{}.{p}", self.snapshot),
            None => write!(f, "{}", self.snapshot),
        }
    }
}

impl std::str::FromStr for ListCursor {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ApiError::BadRequest(format!(
                "after: invalid cursor {s:?} (pass the previous page's next)"
            ))
        };
        let (snapshot, after) = match s.split_once('.') {
            Some((a, b)) => (a, Some(b.parse::<i64>().map_err(|_| bad())?)),
            None => (s, None),
        };
        Ok(ListCursor {
            snapshot: snapshot.parse().map_err(|_| bad())?,
            after,
        })
    }
}

/// One page of a list over the snapshots `ids` (ascending), starting at `from`: `fetch(id,
/// after, n)` gives up to `n` items of one snapshot after a position and the position to go
/// on from when that snapshot has more. The next cursor is `None` only when nothing follows.
async fn page_across<T, F, Fut>(
    ids: &[SnapshotId],
    from: Option<ListCursor>,
    limit: u32,
    mut fetch: F,
) -> Result<(Vec<T>, Option<ListCursor>), ApiError>
where
    F: FnMut(SnapshotId, Option<i64>, u32) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<i64>), ApiError>>,
{
    let limit = limit.max(1);
    let mut out: Vec<T> = Vec::new();
    let rest: Vec<SnapshotId> = ids
        .iter()
        .copied()
        .filter(|id| from.is_none_or(|c| id.0 >= c.snapshot))
        .collect();
    for (i, id) in rest.iter().enumerate() {
        let after = from.filter(|c| c.snapshot == id.0).and_then(|c| c.after);
        let need = limit.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
        let (items, more) = fetch(*id, after, need).await?;
        out.extend(items);
        if let Some(p) = more {
            return Ok((
                out,
                Some(ListCursor {
                    snapshot: id.0,
                    after: Some(p),
                }),
            ));
        }
        if out.len() >= limit as usize {
            // full at the end of a snapshot: a next page only if a later one has a match
            for later in rest.iter().skip(i + 1) {
                let (probe, _) = fetch(*later, None, 1).await?;
                if !probe.is_empty() {
                    return Ok((
                        out,
                        Some(ListCursor {
                            snapshot: later.0,
                            after: None,
                        }),
                    ));
                }
            }
            return Ok((out, None));
        }
    }
    Ok((out, None))
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
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) images: Vec<String>,
    pub(crate) findings: u64,
}

/// A page of results, the number of matches before paging and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
    pub(crate) next: Option<String>,
}

/// The latest views in snapshot id order (the order of lists over several clusters).
fn by_snapshot(views: &[Arc<SnapshotView>]) -> Vec<Arc<SnapshotView>> {
    let mut v = views.to_vec();
    v.sort_by_key(|v| v.snapshot.id);
    v
}

/// Inventory resources of the latest snapshots, filtered and paged in the store.
pub(crate) async fn resources<S: Backend>(
    store: &S,
    cache: &ViewCache,
    filter: &ResourceFilter,
) -> Result<Page<ResourceView>, ApiError> {
    let views = by_snapshot(&latest_views(store, cache, filter.cluster.as_deref()).await?);
    let of = ObjectFilter {
        namespace: filter.namespace.clone(),
        kind: filter.kind.clone(),
        name_contains: filter.name.clone(),
        labels: filter.labels.0.clone(),
        image_contains: filter.image.clone(),
    };
    let unfiltered = of == ObjectFilter::default();
    let mut total = 0;
    for v in &views {
        total += if unfiltered {
            v.snapshot.objects
        } else {
            store.count_objects(v.snapshot.id, &of).await?
        };
    }
    let ids: Vec<SnapshotId> = views.iter().map(|v| v.snapshot.id).collect();
    let of = &of;
    let (objects, next) = page_across(
        &ids,
        filter.after,
        filter.limit,
        |id, after, n| async move {
            let page = store
                .objects_page(id, of, after.map(ObjectCursor), n)
                .await?;
            let items: Vec<(SnapshotId, _)> = page.objects.into_iter().map(|o| (id, o)).collect();
            Ok((items, page.next.map(|c| c.0)))
        },
    )
    .await?;
    let items = objects
        .into_iter()
        .filter_map(|(id, o)| {
            let v = views.iter().find(|v| v.snapshot.id == id)?;
            Some(ResourceView {
                cluster: v.cluster.id.clone(),
                cluster_name: v.cluster.name.clone(),
                api_version: o.resource.api_version,
                kind: o.resource.kind,
                namespace: o.resource.namespace,
                name: o.resource.name,
                labels: o.labels,
                images: o.images,
                findings: o.findings,
            })
        })
        .collect();
    Ok(Page {
        items,
        total,
        next: next.map(|c| c.to_string()),
    })
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

/// A recommendation: one failing check and how many resources fail it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Recommendation {
    pub(crate) check_id: String,
    pub(crate) title: String,
    pub(crate) severity: Severity,
    pub(crate) remediation: String,
    pub(crate) mitre: Vec<String>,
    pub(crate) affected_count: u64,
}

/// A recommendation with one page of its affected resources.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecommendationDetail {
    #[serde(flatten)]
    pub(crate) recommendation: Recommendation,
    pub(crate) affected: Vec<Affected>,
    pub(crate) next: Option<String>,
}

/// What the pages need from one snapshot, derived once: the findings counted by check and the
/// state of the palisade components found among its objects.
#[derive(Clone)]
pub(crate) struct SnapshotView {
    pub(crate) cluster: ClusterRecord,
    pub(crate) snapshot: SnapshotInfo,
    /// Failing checks, most severe first, then by check id.
    pub(crate) checks: Arc<Vec<Recommendation>>,
    /// The runtime sensor DaemonSet: `None` when missing, else whether every pod is ready.
    pub(crate) sensor_ready: Option<bool>,
    /// Whether the admission webhook is registered.
    pub(crate) webhook: bool,
}

/// Derived views of the latest snapshot of each cluster, kept per server and rebuilt when a
/// cluster's latest snapshot changes.
#[derive(Default)]
pub(crate) struct ViewCache {
    /// By cluster id. Held across a rebuild, so concurrent requests wait for one build
    /// instead of each reading the snapshot.
    by_cluster: tokio::sync::Mutex<BTreeMap<String, Arc<SnapshotView>>>,
}

fn by_severity_then_id(a: &Recommendation, b: &Recommendation) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then_with(|| a.check_id.cmp(&b.check_id))
}

async fn build_view<S: Backend>(
    store: &S,
    cluster: ClusterRecord,
    snapshot: SnapshotInfo,
) -> Result<Arc<SnapshotView>, ApiError> {
    let mut checks = Vec::new();
    for r in store.recommendations(snapshot.id).await? {
        // remediation and techniques are the same on every finding of a check: read one
        let one = FindingFilter {
            check_id: Some(r.check_id.clone()),
            ..FindingFilter::default()
        };
        let sample = store.findings_page(snapshot.id, &one, None, 1).await?;
        let (remediation, mitre) = sample
            .findings
            .into_iter()
            .next()
            .map(|f| (f.remediation.to_string(), f.mitre))
            .unwrap_or_default();
        checks.push(Recommendation {
            check_id: r.check_id,
            title: r.title,
            severity: r.severity,
            remediation,
            mitre,
            affected_count: r.count,
        });
    }
    checks.sort_by(by_severity_then_id);
    let daemonsets = store.objects_of_kind(snapshot.id, "DaemonSet").await?;
    let sensor_ready = daemonsets
        .iter()
        .find(|o| has_label(o, "palisade-sensor"))
        .map(daemonset_ready);
    let webhook = store
        .objects_of_kind(snapshot.id, "ValidatingWebhookConfiguration")
        .await?
        .iter()
        .any(|o| o.resource.name.starts_with("palisade") || has_label(o, "palisade-admission"));
    Ok(Arc::new(SnapshotView {
        cluster,
        snapshot,
        checks: Arc::new(checks),
        sensor_ready,
        webhook,
    }))
}

/// The derived view of the latest snapshot of each cluster (optionally one cluster), from
/// `cache` when it holds the same snapshot, else read from the store (and cached).
pub(crate) async fn latest_views<S: Backend>(
    store: &S,
    cache: &ViewCache,
    cluster: Option<&str>,
) -> Result<Vec<Arc<SnapshotView>>, ApiError> {
    let clusters = store.list_clusters().await?;
    let mut map = cache.by_cluster.lock().await;
    map.retain(|id, _| clusters.iter().any(|c| &c.id == id));
    let mut out = Vec::new();
    for c in clusters {
        if !cluster_matches(&c, cluster) {
            continue;
        }
        let Some(snapshot) = store.latest_snapshots(&c.id, 1).await?.into_iter().next() else {
            continue;
        };
        let view = match map.get(&c.id) {
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
        };
        out.push(view);
    }
    Ok(out)
}

/// The finding filter of a recommendation filter (the cluster and severity are applied to the
/// snapshots and checks).
fn finding_filter(filter: &RecommendationFilter, check: Option<&str>) -> FindingFilter {
    FindingFilter {
        check_id: check.map(str::to_owned),
        namespace: filter.namespace.clone(),
        resource_contains: filter.resource.clone(),
        ..FindingFilter::default()
    }
}

/// Failing checks of the latest snapshots, most severe first: counted from the views, or in
/// the store when the filter narrows the affected resources.
pub(crate) async fn recommendations<S: Backend>(
    store: &S,
    cache: &ViewCache,
    filter: &RecommendationFilter,
) -> Result<(Vec<Recommendation>, Vec<Arc<SnapshotView>>), ApiError> {
    let views = latest_views(store, cache, filter.cluster.as_deref()).await?;
    let narrowed = filter.namespace.is_some() || filter.resource.is_some();
    let mut merged: BTreeMap<String, Recommendation> = BTreeMap::new();
    for v in &views {
        let counts: Vec<(String, u64)> = if narrowed {
            store
                .recommendations_matching(
                    v.snapshot.id,
                    &finding_filter(filter, filter.check.as_deref()),
                )
                .await?
                .into_iter()
                .map(|r| (r.check_id, r.count))
                .collect()
        } else {
            v.checks
                .iter()
                .map(|c| (c.check_id.clone(), c.affected_count))
                .collect()
        };
        for (check_id, n) in counts {
            let Some(meta) = v.checks.iter().find(|c| c.check_id == check_id) else {
                continue;
            };
            if filter.severity.is_some_and(|s| s != meta.severity)
                || filter.check.as_deref().is_some_and(|c| c != check_id)
            {
                continue;
            }
            let entry = merged.entry(check_id).or_insert_with(|| Recommendation {
                affected_count: 0,
                ..meta.clone()
            });
            entry.affected_count += n;
            entry.severity = entry.severity.max(meta.severity);
        }
    }
    let mut out: Vec<Recommendation> = merged.into_values().collect();
    out.sort_by(by_severity_then_id);
    Ok((out, views))
}

/// One page of the resources failing `check` in the latest snapshots (`views`, from
/// [`recommendations`]), filtered like the recommendation.
pub(crate) async fn affected<S: Backend>(
    store: &S,
    views: &[Arc<SnapshotView>],
    check: &str,
    filter: &RecommendationFilter,
    after: Option<ListCursor>,
    limit: u32,
) -> Result<(Vec<Affected>, Option<ListCursor>), ApiError> {
    let views = by_snapshot(views);
    let ff = finding_filter(filter, Some(check));
    let ids: Vec<SnapshotId> = views
        .iter()
        .filter(|v| v.checks.iter().any(|c| c.check_id == check))
        .map(|v| v.snapshot.id)
        .collect();
    let ff = &ff;
    let (found, next) = page_across(&ids, after, limit, |id, after, n| async move {
        let page = store
            .findings_page(id, ff, after.map(palisade_store::FindingCursor), n)
            .await?;
        let items: Vec<_> = page.findings.into_iter().map(|f| (id, f)).collect();
        Ok((items, page.next.map(|c| c.0)))
    })
    .await?;
    let items = found
        .into_iter()
        .filter_map(|(id, f)| {
            let v = views.iter().find(|v| v.snapshot.id == id)?;
            Some(Affected {
                cluster: v.cluster.id.clone(),
                cluster_name: v.cluster.name.clone(),
                resource: f.resource,
                container: f.container,
                message: f.message,
                evidence: f.evidence,
            })
        })
        .collect();
    Ok((items, next))
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
    cache: &ViewCache,
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
/// severity, vulnerable images, healthy coverage items; all from counts (the views, the
/// alert counts by status and severity, the image summaries).
pub(crate) async fn overview<S: Backend>(
    store: &S,
    cache: &ViewCache,
) -> Result<Overview, ApiError> {
    let known = store.list_clusters().await?;
    let views = latest_views(store, cache, None).await?;
    let resources = views.iter().map(|v| v.snapshot.objects).sum();
    let mut recs = zero_by_severity();
    let mut checks: BTreeMap<&str, Severity> = BTreeMap::new();
    for v in &views {
        for c in v.checks.iter() {
            let s = checks.entry(c.check_id.as_str()).or_insert(c.severity);
            *s = (*s).max(c.severity);
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

/// Finding counts by severity over the latest snapshots (for metrics), from the counts each
/// snapshot keeps in its summary.
pub(crate) async fn findings_by_severity<S: Backend>(
    store: &S,
    cache: &ViewCache,
) -> Result<BySeverity, ApiError> {
    let mut out = zero_by_severity();
    for v in latest_views(store, cache, None).await? {
        if let Some(map) = v.snapshot.summary["findings_by_severity"].as_object() {
            for s in Severity::ALL {
                *out.entry(s.as_str()).or_default() +=
                    map.get(s.as_str()).and_then(Value::as_u64).unwrap_or(0);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn list_cursors_round_trip_through_text() {
        for c in [
            ListCursor {
                snapshot: 12,
                after: Some(99),
            },
            ListCursor {
                snapshot: 3,
                after: None,
            },
        ] {
            assert_eq!(c.to_string().parse::<ListCursor>().unwrap(), c);
        }
        for bad in ["", "x", "1.x", "1.2.3"] {
            assert!(bad.parse::<ListCursor>().is_err(), "{bad:?}");
        }
    }

    async fn pages(ids: &[i64], per: i64, limit: u32) -> Vec<Vec<(i64, i64)>> {
        let ids: Vec<SnapshotId> = ids.iter().copied().map(SnapshotId).collect();
        let mut out = Vec::new();
        let mut from = None;
        loop {
            let (items, next) = page_across(&ids, from, limit, |id, after, n| async move {
                let start = after.map_or(0, |p| p + 1);
                let end = (start + i64::from(n)).min(per);
                let items: Vec<(i64, i64)> = (start..end).map(|p| (id.0, p)).collect();
                Ok((items, (end < per).then_some(end - 1)))
            })
            .await
            .unwrap();
            out.push(items);
            match next {
                Some(c) => from = Some(c.to_string().parse().unwrap()),
                None => return out,
            }
        }
    }

    #[tokio::test]
    async fn pages_across_snapshots_list_every_item_once() {
        let walked = pages(&[4, 9, 11], 5, 3).await;
        let flat: Vec<(i64, i64)> = walked.iter().flatten().copied().collect();
        let expected: Vec<(i64, i64)> = [4, 9, 11]
            .iter()
            .flat_map(|s| (0..5).map(move |p| (*s, p)))
            .collect();
        assert_eq!(flat, expected);
        assert!(walked.iter().all(|p| !p.is_empty()), "no empty page");
        // a page that ends exactly at the end of a snapshot still points to the next one
        let walked = pages(&[1, 2], 4, 4).await;
        assert_eq!(walked.len(), 2);
        assert_eq!(pages(&[], 4, 4).await, vec![Vec::<(i64, i64)>::new()]);
    }

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
