//! Ingestion of real audit logs and cloud exports, and following a rotating log file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_detect::K8sAuditEvent;
use palisade_detect::alert::{Analyzer, AnalyzerOptions};
use palisade_detect::ingest::{FollowOptions, IngestOptions, Ingestor, Position, Sink};

#[test]
fn api_server_log_from_a_real_cluster() {
    let Some(p) = palisade_testkit::corpus("runtime/audit/audit2rbac/testdata/demo.log") else {
        return;
    };
    let mut ids = Vec::new();
    let mut ing = Ingestor::new(IngestOptions::default());
    let mut sink = |ev: &K8sAuditEvent<'_>, at: &Position<'_>| {
        ids.push((ev.audit_id().unwrap().to_string(), at.line));
    };
    ing.read_path(&p, &mut sink).unwrap();
    assert_eq!(ids.len(), 37);
    assert_eq!(ids[0].0, "033d17af-082d-4b24-aa22-627752e83d71");
    assert_eq!(ids[36].1, 37);
    let s = ing.stats();
    assert_eq!(
        (s.events, s.malformed, s.rejected, s.unrecognized),
        (37, 0, 0, 0)
    );
}

#[test]
fn unreadable_and_damaged_inputs_are_errors_not_panics() {
    let mut ing = Ingestor::new(IngestOptions::default());
    let mut sink = |_: &K8sAuditEvent<'_>, _: &Position<'_>| {};
    let err = ing
        .read_path(Path::new("/nonexistent/audit.log"), &mut sink)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/audit.log"),
        "{err}"
    );

    // A gzip stream cut short: the events before the cut are delivered, then an error.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..2000 {
        writeln!(
            gz,
            r#"{{"auditID":"{i}","verb":"get","stage":"ResponseComplete","pad":"{}"}}"#,
            i * 7919
        )
        .unwrap();
    }
    let bytes = gz.finish().unwrap();
    let cut = &bytes[..bytes.len() / 2];
    let mut n = 0;
    let mut count = |_: &K8sAuditEvent<'_>, _: &Position<'_>| n += 1;
    assert!(ing.read(&mut &cut[..], "cut.gz", &mut count).is_err());
    assert!(n > 0 && n < 2000, "{n}");

    // Arbitrary bytes.
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut ing = Ingestor::new(IngestOptions::default());
    let _ = ing.read(&mut &junk[..], "junk", &mut sink);
    assert_eq!(ing.stats().events, 0);
}

/// Collects what the follower sees, shared with the test thread.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<(String, u64)>>>);

impl Sink for Shared {
    fn event(&mut self, ev: &K8sAuditEvent<'_>, at: &Position<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((ev.audit_id().unwrap_or("-").to_string(), at.line));
    }
}

fn line(id: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","verb":"get","stage":"ResponseComplete"}}"#
    ) + "\n"
}

fn wait_for(seen: &Shared, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.0.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "follower saw {:?}",
            seen.0.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn follow_reads_appends_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, line("a1")).unwrap();
    let opts = FollowOptions {
        poll_interval: Duration::from_millis(10),
        ..Default::default()
    };
    let stop = opts.stop.clone();
    let seen = Shared::default();
    let mut sink = seen.clone();
    let p = path.clone();
    let follower = std::thread::spawn(move || {
        let mut ing = Ingestor::new(IngestOptions::default());
        ing.follow(&p, &opts, &mut sink).unwrap();
        ing.take_stats()
    });
    wait_for(&seen, 1);

    // Appends, one of them written in two parts.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(line("a2").as_bytes()).unwrap();
    let l3 = line("a3");
    f.write_all(&l3.as_bytes()[..20]).unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    f.write_all(&l3.as_bytes()[20..]).unwrap();
    drop(f);
    wait_for(&seen, 3);

    // Rotation: the file is renamed away and a new one created under the path.
    std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
    std::fs::write(&path, line("b1") + &line("b2")).unwrap();
    wait_for(&seen, 5);

    // Truncation in place, then new content.
    std::fs::write(&path, line("c1")).unwrap();
    wait_for(&seen, 6);

    stop.store(true, Ordering::Relaxed);
    let stats = follower.join().unwrap();
    let got = seen.0.lock().unwrap().clone();
    let ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "b1", "b2", "c1"]);
    // Line numbers restart with each file.
    let lines: Vec<u64> = got.iter().map(|(_, l)| *l).collect();
    assert_eq!(lines, [1, 2, 3, 1, 2, 1]);
    assert_eq!(stats.events, 6);
    assert_eq!(stats.malformed, 0);
}

#[test]
fn cloud_exports_end_to_end() {
    // One input mixing a GKE Cloud Logging export (as `gcloud logging read --format=json`
    // writes it: a pretty-printed array) ...
    let gke = r#"[
  {
    "insertId": "1x2y3z",
    "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
    "protoPayload": {
      "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
      "authenticationInfo": {"principalEmail": "dev@example.com"},
      "authorizationInfo": [{"granted": true, "permission": "io.k8s.core.v1.pods.exec.create",
        "resource": "core/v1/namespaces/shop/pods/web-1/exec"}],
      "methodName": "io.k8s.core.v1.pods.exec.create",
      "requestMetadata": {"callerIp": "203.0.113.7", "callerSuppliedUserAgent": "kubectl/v1.30.1"},
      "resourceName": "core/v1/namespaces/shop/pods/web-1/exec",
      "serviceName": "k8s.io"
    },
    "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "gke-prod", "location": "europe-west1", "project_id": "p"}},
    "timestamp": "2024-05-01T10:00:00.123Z"
  }
]
"#;
    // ... an AKS diagnostic-settings export (JSON lines of records) ...
    let inner = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"aks-1","stage":"ResponseComplete","verb":"list","user":{"username":"alice@example.com"},"objectRef":{"resource":"pods","namespace":"palisade-canary","apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2024-05-01T10:05:00Z"}"#;
    let aks = format!(
        "{}\n",
        serde_json::json!({"time": "2024-05-01T10:05:00Z", "category": "kube-audit-admin",
            "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD",
            "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
            "properties": {"log": inner, "stream": "stdout", "pod": "kube-apiserver-1"}})
    );
    let run = |input: &[u8]| {
        let (mut an, _) = Analyzer::new(AnalyzerOptions::default()).unwrap();
        let mut ing = Ingestor::new(IngestOptions::default());
        ing.read(&mut &input[..], "export", &mut an).unwrap();
        (an.finish(), ing.take_stats())
    };
    let (alerts, stats) = run(gke.as_bytes());
    assert_eq!(stats.events, 1);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.alert_type, "K8S_ExecIntoPod");
    assert_eq!(a.user, "dev@example.com");
    assert_eq!(a.cluster.as_deref(), Some("gke-prod"));
    assert_eq!(a.resource, "shop/pods/web-1/exec");
    assert_eq!(a.event_ids, ["1x2y3z"]);
    assert_eq!(a.first_seen_rfc3339(), "2024-05-01T10:00:00.123000000Z");

    let (alerts, stats) = run(aks.as_bytes());
    assert_eq!(stats.events, 1);
    assert_eq!(alerts[0].alert_type, "K8S_TestAlert");
    assert_eq!(alerts[0].cluster.as_deref(), Some("AKS-PROD"));
}

#[test]
fn batch_analysis_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("audit.log");
    std::fs::write(
        &good,
        line("x1")
            + r#"{"auditID":"c1","verb":"list","stage":"ResponseComplete","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"palisade-canary"}}"#
            + "\n{oops\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.log");
    let report = palisade_detect::alert::analyze_paths(
        AnalyzerOptions::default(),
        IngestOptions::default(),
        &[&good, &missing],
    )
    .unwrap();
    assert_eq!(report.alerts.len(), 1);
    assert_eq!(report.alerts[0].alert_type, "K8S_TestAlert");
    assert_eq!(report.stats.events, 2);
    assert_eq!(report.stats.malformed, 1);
    assert_eq!(report.problems[0].line, 3);
    assert!(report.problems[0].input.ends_with("audit.log"));
    assert_eq!(report.errors.len(), 1);
    assert!(report.warnings.is_empty());
}

#[test]
fn every_truncation_of_every_shape_is_survived() {
    let event = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"t","stage":"ResponseComplete","verb":"create","user":{"username":"u\"x"},"objectRef":{"resource":"pods","namespace":"n","name":"p"},"requestObject":{"spec":{"containers":[{"name":"c","image":"i","securityContext":{"privileged":true}}]}},"responseStatus":{"code":201}}"#;
    let gke = r#"{"insertId":"g","protoPayload":{"methodName":"io.k8s.core.v1.pods.create","resourceName":"core/v1/namespaces/n/pods/p","authenticationInfo":{"principalEmail":"e"},"request":{"spec":{"hostPID":true}},"status":{"code":0}},"resource":{"labels":{"cluster_name":"c"}}}"#;
    let aks =
        serde_json::json!({"records": [{"category": "kube-audit", "properties": {"log": event}}]})
            .to_string();
    let cw =
        serde_json::json!({"logGroup": "/aws/eks/c/cluster", "logEvents": [{"message": event}]})
            .to_string();
    let (mut an, _) = Analyzer::new(AnalyzerOptions::default()).unwrap();
    for shape in [event, gke, aks.as_str(), cw.as_str()] {
        for cut in 0..=shape.len() {
            let Some(prefix) = shape.get(..cut) else {
                continue;
            };
            for input in [
                prefix.to_string(),
                format!("[{prefix}"),
                format!("{prefix}\n{prefix}"),
            ] {
                let mut ing = Ingestor::new(IngestOptions::default());
                ing.read(&mut input.as_bytes(), "cut", &mut an).unwrap();
                let s = ing.stats();
                if cut < shape.len() && cut > 0 {
                    assert!(s.events == 0 || input.contains('\n'), "{input}");
                }
            }
        }
        // The whole shape is one event.
        let mut ing = Ingestor::new(IngestOptions::default());
        ing.read(&mut shape.as_bytes(), "whole", &mut an).unwrap();
        assert_eq!(ing.stats().events, 1, "{shape}");
    }
    an.finish();
}

/// Exports and samples drop `stage`; ingestion accepts such events but does not invent a
/// stage for them (the API server always writes one, and Falco's rules wait for it).
#[test]
fn events_without_stage_keep_no_stage() {
    let lines = [
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","objectRef":{"resource":"services","namespace":"a","name":"s"},"responseStatus":{"code":201}}"#,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","objectRef":{"resource":"services","namespace":"a","name":"s"}}"#,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","stage":"ResponseStarted","objectRef":{"resource":"pods"},"responseStatus":{"code":200}}"#,
    ];
    let input = lines.join("\n");
    let mut stages = Vec::new();
    let mut sink = |ev: &palisade_detect::K8sAuditEvent<'_>,
                    _: &palisade_detect::ingest::Position<'_>| {
        stages.push(ev.stage().map(str::to_string));
    };
    let mut ing = palisade_detect::ingest::Ingestor::new(Default::default());
    ing.read(&mut input.as_bytes(), "samples", &mut sink)
        .unwrap();
    assert_eq!(stages, [None, None, Some("ResponseStarted".to_string())]);
}
