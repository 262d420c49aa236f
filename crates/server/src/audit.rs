//! The Kubernetes audit webhook receiver: `POST /api/v1/audit/webhook`.
//!
//! The API server's webhook backend (`--audit-webhook-config-file`) posts `EventList`
//! batches; JSON lines, arrays and the cloud export envelopes that `palisade runtime analyze`
//! reads are accepted too (one ingestion path, recognised per body). Events go through one
//! long-lived analyzer (built-in rules plus the configured Falco rule files), so
//! deduplication windows span batches; every alert the analyzer opens, and every alert
//! re-emitted when its window closes with more events folded in, is recorded in the store
//! together with its export items (one per configured sink) in a single transaction, so a
//! crash between the two never loses an export.
//!
//! Auth: a `sensor` token (it may only post events) or an `admin` token. The body limit of
//! this route is [`crate::Config::audit_body_limit`] (webhook batches are larger than API
//! requests). Analysis runs on the blocking pool: a large batch does not stall the
//! connection tasks.

use std::sync::{Arc, Mutex};

use palisade_detect::alert::{Alert as DetectAlert, Analyzer, Target};
use palisade_detect::ingest::{IngestOptions, IngestStats, Ingestor};
use palisade_model::ResourceRef;
use palisade_store::{Mitre, NewAlert};

/// Path of the webhook.
pub const AUDIT_WEBHOOK_PATH: &str = "/api/v1/audit/webhook";

/// Default body limit of the webhook (64 MiB).
pub const DEFAULT_AUDIT_BODY_LIMIT: usize = 64 << 20;

struct State {
    analyzer: Analyzer,
    ingestor: Ingestor,
}

/// Receives audit events: the analyzer state shared by every request.
#[derive(Clone)]
pub struct AuditReceiver {
    state: Arc<Mutex<State>>,
    cluster: Option<String>,
    sinks: Arc<Vec<String>>,
}

impl std::fmt::Debug for AuditReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditReceiver")
            .field("cluster", &self.cluster)
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BatchOutcome {
    /// Events read.
    pub events: u64,
    /// Malformed records skipped.
    pub malformed: u64,
    /// Records over the size limit skipped.
    pub rejected: u64,
    /// Records that are not audit events.
    pub unrecognized: u64,
    /// Alerts recorded.
    pub alerts: usize,
}

impl AuditReceiver {
    /// A receiver around `analyzer` (build it with `DedupOptions::emit_on_open` so alerts
    /// are recorded as they open). Alerts are attributed to `cluster` when given, and queued
    /// for export to each of `sinks` (names the export worker knows).
    pub fn new(
        analyzer: Analyzer,
        ingest: IngestOptions,
        cluster: Option<String>,
        sinks: Vec<String>,
    ) -> AuditReceiver {
        AuditReceiver {
            state: Arc::new(Mutex::new(State {
                analyzer,
                ingestor: Ingestor::new(ingest),
            })),
            cluster,
            sinks: Arc::new(sinks),
        }
    }

    /// The export sinks alerts are queued for.
    pub fn sinks(&self) -> &[String] {
        &self.sinks
    }

    /// Runs one request body through ingestion and the analyzer; returns the alerts it
    /// raised and the ingestion counts.
    pub fn process(&self, body: &[u8], name: &str) -> (Vec<NewAlert>, BatchOutcome) {
        let Ok(mut state) = self.state.lock() else {
            return (Vec::new(), BatchOutcome::default());
        };
        let State { analyzer, ingestor } = &mut *state;
        let mut input = body;
        if let Err(e) = ingestor.read(&mut input, name, analyzer) {
            tracing::warn!(error = %e, "Audit batch could not be read");
        }
        let stats: IngestStats = ingestor.take_stats();
        for p in &stats.problems {
            tracing::debug!(problem = %p, "Audit batch input problem");
        }
        let alerts: Vec<NewAlert> = analyzer
            .take_alerts()
            .iter()
            .map(|a| self.to_new(a))
            .collect();
        let outcome = BatchOutcome {
            events: stats.events,
            malformed: stats.malformed,
            rejected: stats.rejected,
            unrecognized: stats.unrecognized,
            alerts: alerts.len(),
        };
        (alerts, outcome)
    }

    /// Closes expired deduplication windows and reports the events folded into open alerts
    /// since the last tick; returns those records (each adds its new events to the stored
    /// alert's count). Call it periodically and once more at shutdown, so nothing counted
    /// is lost.
    pub fn tick(&self) -> Vec<NewAlert> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        palisade_detect::ingest::Sink::idle(&mut state.analyzer);
        state.analyzer.report_open();
        state
            .analyzer
            .take_alerts()
            .iter()
            .map(|a| self.to_new(a))
            .collect()
    }

    fn to_new(&self, a: &DetectAlert) -> NewAlert {
        NewAlert {
            alert_type: a.alert_type.clone(),
            rule: a.rule.clone(),
            severity: a.severity,
            mitre: Mitre {
                tactic: a.mitre.tactic.clone(),
                technique: a.mitre.technique.clone(),
            },
            cluster: a.cluster.clone().or_else(|| self.cluster.clone()),
            resource: resource_ref(&a.target),
            user: (!a.user.is_empty()).then(|| a.user.clone()),
            message: a.message.clone(),
            event: a.event.clone(),
            // An alert leaves the analyzer when it opens, with each tick's update while open
            // and when its window closes; each time with the events not reported before.
            occurrences: a.new_events.max(1),
            seen_at: Some(palisade_model::time::rfc3339(
                u64::try_from(a.last_seen.div_euclid(1_000_000_000)).unwrap_or(0),
            )),
        }
    }
}

/// The analyzer's target as a resource reference: `kind` holds the API resource (plural),
/// a subresource is appended to the name (`pod-1/exec`), and an event without a resource is
/// about its request path (`kind` `path`).
fn resource_ref(t: &Target) -> Option<ResourceRef> {
    match (&t.resource, &t.path) {
        (Some(resource), _) => {
            let mut name = t.name.clone().unwrap_or_default();
            if let Some(sub) = &t.subresource {
                name = format!("{name}/{sub}");
            }
            Some(ResourceRef {
                api_version: String::new(),
                kind: resource.clone(),
                namespace: t.namespace.clone(),
                name,
            })
        }
        (None, Some(path)) => Some(ResourceRef {
            api_version: String::new(),
            kind: "path".into(),
            namespace: None,
            name: path.clone(),
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ns: Option<&str>, resource: Option<&str>, name: Option<&str>) -> Target {
        Target {
            namespace: ns.map(str::to_owned),
            resource: resource.map(str::to_owned),
            name: name.map(str::to_owned),
            ..Target::default()
        }
    }

    #[test]
    fn targets_become_resource_references() {
        let mut exec = target(Some("default"), Some("pods"), Some("web-1"));
        exec.subresource = Some("exec".into());
        let r = resource_ref(&exec).unwrap_or_else(|| unreachable!());
        assert_eq!(
            (r.namespace.as_deref(), r.kind.as_str(), r.name.as_str()),
            (Some("default"), "pods", "web-1/exec")
        );
        // Cluster-scoped, also resources no table knows (a custom resource).
        let r = resource_ref(&target(None, Some("clusterissuers"), Some("letsencrypt")))
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            (r.namespace, r.kind.as_str(), r.name.as_str()),
            (None, "clusterissuers", "letsencrypt")
        );
        let r = resource_ref(&target(Some("kube-system"), Some("secrets"), None))
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            (r.namespace.as_deref(), r.kind.as_str(), r.name.as_str()),
            (Some("kube-system"), "secrets", "")
        );
        let path = Target {
            path: Some("/api/v1/pods".into()),
            ..Target::default()
        };
        let r = resource_ref(&path).unwrap_or_else(|| unreachable!());
        assert_eq!((r.kind.as_str(), r.name.as_str()), ("path", "/api/v1/pods"));
        assert!(resource_ref(&Target::default()).is_none());
    }
}
