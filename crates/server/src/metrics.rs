//! Prometheus metrics in the text exposition format (version 0.0.4).
//!
//! A handful of series do not justify a metrics crate: request counters live in a map behind a
//! mutex (updated once per request), and the gauges (findings, alerts, clusters) are read from
//! the store at scrape time, so they are never out of date.
//!
//! Series and their labels (cardinality stays bounded: routes are templates such as
//! `/api/v1/alerts/{id}`, unmatched paths share the route `unmatched`):
//! - `palisade_build_info{version}` gauge, always 1;
//! - `palisade_http_requests_total{method,route,status}` counter;
//! - `palisade_clusters` gauge;
//! - `palisade_findings{severity}` gauge over the latest snapshot of every cluster;
//! - `palisade_alerts{status}` gauge;
//! - `palisade_audit_events_total` counter (events received by the audit webhook).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use palisade_store::AlertStatus;

use crate::error::ApiError;
use crate::{AppState, Backend, views};

/// Request counters by (method, route, status).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    audit_events: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Counts events received by the audit webhook.
    pub(crate) fn audit_events(&self, n: u64) {
        self.audit_events
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn record(&self, method: &str, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
    }

    fn snapshot(&self) -> Vec<((String, String, u16), u64)> {
        self.requests
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

/// Middleware counting every response by route template (not raw path, so ids do not explode
/// the series) and status.
pub(crate) async fn count_requests<S: Backend>(
    State(app): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    app.metrics
        .record(&method, &route, response.status().as_u16());
    response
}

/// Escapes a label value (`\`, `"` and newlines).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric.
pub(crate) async fn render<S: Backend>(app: &AppState<S>) -> Result<String, ApiError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP palisade_build_info Version of the running server.\n\
         # TYPE palisade_build_info gauge\n\
         palisade_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP palisade_http_requests_total HTTP requests answered, by method, route and status.\n\
         # TYPE palisade_http_requests_total counter"
    );
    for ((method, route, status), n) in app.metrics.snapshot() {
        let _ = writeln!(
            out,
            "palisade_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            label(&method),
            label(&route)
        );
    }
    let _ = writeln!(
        out,
        "# HELP palisade_audit_events_total Kubernetes audit events received by the webhook.\n\
         # TYPE palisade_audit_events_total counter\n\
         palisade_audit_events_total {}",
        app.metrics
            .audit_events
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let clusters = app.store.list_clusters().await?.len();
    let _ = writeln!(
        out,
        "# HELP palisade_clusters Clusters known to the server.\n\
         # TYPE palisade_clusters gauge\n\
         palisade_clusters {clusters}"
    );
    let _ = writeln!(
        out,
        "# HELP palisade_findings Posture findings in the latest snapshot of every cluster, by severity.\n\
         # TYPE palisade_findings gauge"
    );
    for (severity, n) in views::findings_by_severity(&app.store, &app.views).await? {
        let _ = writeln!(out, "palisade_findings{{severity=\"{severity}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP palisade_alerts Security alerts, by status.\n\
         # TYPE palisade_alerts gauge"
    );
    let counts = app.store.alert_counts().await?;
    for status in AlertStatus::ALL {
        let n: u64 = counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.count)
            .sum();
        let _ = writeln!(out, "palisade_alerts{{status=\"{status}\"}} {n}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
