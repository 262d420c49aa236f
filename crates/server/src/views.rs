//! What the API and the dashboard show, computed from the store: clusters with their latest
//! snapshot, inventory resources, recommendations (findings grouped by check), coverage and the
//! overview counts. Both front ends call these functions, so a page and its API route always
//! agree.
//!
//! Inventory and recommendations read the latest snapshot of each cluster in full at each
//! request; that is linear in the inventory and fine for one server with SQLite.

use std::collections::BTreeMap;

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
    pub(crate) snapshot: SnapshotInfo,
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
            snapshot,
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

/// Findings of the latest snapshots grouped by check, most severe first.
pub(crate) async fn recommendations<S: Backend>(
    store: &S,
    filter: &RecommendationFilter,
) -> Result<Vec<Recommendation>, ApiError> {
    let needle = filter.resource.as_deref().map(str::to_lowercase);
    let mut by_check: BTreeMap<String, Recommendation> = BTreeMap::new();
    for l in latest(store, filter.cluster.as_deref(), false).await? {
        for f in l.findings {
            if filter.severity.is_some_and(|s| s != f.severity)
                || filter.check.as_deref().is_some_and(|c| c != f.check_id)
                || filter
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| f.resource.namespace.as_deref() != Some(ns))
                || needle
                    .as_deref()
                    .is_some_and(|n| !f.resource.to_string().to_lowercase().contains(n))
            {
                continue;
            }
            let rec = by_check
                .entry(f.check_id.to_string())
                .or_insert_with(|| Recommendation {
                    check_id: f.check_id.to_string(),
                    title: f.title.to_string(),
                    severity: f.severity,
                    remediation: f.remediation.to_string(),
                    mitre: f.mitre.clone(),
                    affected_count: 0,
                    affected: Vec::new(),
                });
            rec.affected.push(Affected {
                cluster: l.cluster.id.clone(),
                cluster_name: l.cluster.name.clone(),
                resource: f.resource,
                container: f.container,
                message: f.message,
                evidence: f.evidence,
            });
            rec.affected_count += 1;
        }
    }
    let mut out: Vec<Recommendation> = by_check.into_values().collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check_id.cmp(&b.check_id))
    });
    Ok(out)
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
    let all = latest(store, None, true).await?;
    let mut out = Vec::new();
    let known = store.list_clusters().await?;
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
    for c in &known {
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

        let objects: &[Object] = l.map_or(&[], |l| &l.objects);
        let sensor = objects
            .iter()
            .find(|o| o.resource.kind == "DaemonSet" && has_label(o, "palisade-sensor"));
        let (status, fix) = match sensor {
            None => (
                "missing",
                Some("Deploy the palisade-sensor DaemonSet (deploy/sensor.yaml or the Helm chart).".to_owned()),
            ),
            Some(o) if !daemonset_ready(o) => (
                "degraded",
                Some("Some sensor pods are not ready: check `kubectl -n <namespace> get pods -l app.kubernetes.io/name=palisade-sensor`.".to_owned()),
            ),
            Some(_) => ("healthy", None),
        };
        out.push(CoverageItem {
            item: format!("{}: runtime sensor", c.name),
            cluster: Some(c.id.clone()),
            component: "sensor".into(),
            status: status.into(),
            how_to_fix: fix,
            last_seen: sensor.and(taken.clone()),
        });

        let webhook = objects.iter().find(|o| {
            o.resource.kind == "ValidatingWebhookConfiguration"
                && (o.resource.name.starts_with("palisade") || has_label(o, "palisade-admission"))
        });
        out.push(CoverageItem {
            item: format!("{}: admission webhook", c.name),
            cluster: Some(c.id.clone()),
            component: "admission".into(),
            status: if webhook.is_some() {
                "healthy"
            } else {
                "missing"
            }
            .into(),
            how_to_fix: webhook.is_none().then(|| {
                "Deploy the palisade admission webhook (deploy/admission.yaml or the Helm chart)."
                    .to_owned()
            }),
            last_seen: webhook.and(taken.clone()),
        });
    }
    Ok(out)
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
    let clusters = clusters(store).await?;
    let resources = clusters
        .iter()
        .filter_map(|c| c.latest_snapshot.as_ref())
        .map(|s| s.objects)
        .sum();
    let mut recs = zero_by_severity();
    for r in recommendations(store, &RecommendationFilter::default()).await? {
        *recs.entry(r.severity.as_str()).or_default() += 1;
    }
    let images = store.list_images().await?;
    let vulnerable = images
        .iter()
        .filter(|i| i.vulnerabilities.values().any(|n| *n > 0))
        .count();
    let cov = coverage(store, &settings(store).await?).await?;
    Ok(Overview {
        clusters: clusters.len(),
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
