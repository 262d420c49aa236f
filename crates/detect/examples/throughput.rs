//! End-to-end throughput of control-plane detection: JSON-lines audit events through
//! ingestion, the built-in rules (optionally plus Falco rule files given as arguments) and
//! deduplication, on one thread.
//!
//! ```text
//! cargo run -p palisade-detect --release --example throughput [RULES.yaml ...]
//! ```
//!
//! Prints events per second for three mixes: pod creations with full request and response
//! bodies (the expensive case), read-only requests at Metadata level, and a mix like a busy
//! cluster's log.
#![allow(clippy::expect_used, reason = "a benchmark program: a failure ends it")]

use std::time::Instant;

use palisade_detect::alert::{Analyzer, AnalyzerOptions};
use palisade_detect::ingest::{IngestOptions, Ingestor};
use palisade_detect::{K8sAuditEvent, RulesFile};

fn pod_create(i: usize) -> String {
    let pod = format!(
        r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"web-{i}","generateName":"web-7d4b9c8f6-","namespace":"shop","labels":{{"app":"web","pod-template-hash":"7d4b9c8f6","app.kubernetes.io/part-of":"shop"}},"annotations":{{"kubectl.kubernetes.io/restartedAt":"2024-05-01T09:00:00Z","prometheus.io/scrape":"true"}},"ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c8f6","uid":"6c1f5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b","controller":true,"blockOwnerDeletion":true}}],"managedFields":[{{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2024-05-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:generateName":{{}},"f:labels":{{".":{{}},"f:app":{{}},"f:pod-template-hash":{{}}}},"f:ownerReferences":{{".":{{}},"k:{{\"uid\":\"6c1f5a2e\"}}":{{}}}}}},"f:spec":{{"f:containers":{{"k:{{\"name\":\"web\"}}":{{".":{{}},"f:image":{{}},"f:imagePullPolicy":{{}},"f:name":{{}},"f:ports":{{}},"f:resources":{{}}}}}}}}}}}}]}},"spec":{{"volumes":[{{"name":"kube-api-access-x7k2p","projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},{{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}}],"defaultMode":420}}}},{{"name":"config","configMap":{{"name":"web-config"}}}}],"containers":[{{"name":"web","image":"registry.example.com/shop/web:1.42.{i}","ports":[{{"name":"http","containerPort":8080,"protocol":"TCP"}}],"env":[{{"name":"LOG_LEVEL","value":"info"}},{{"name":"DB_HOST","value":"db.shop.svc"}}],"resources":{{"limits":{{"cpu":"1","memory":"512Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}},"volumeMounts":[{{"name":"config","mountPath":"/etc/web"}},{{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}}],"livenessProbe":{{"httpGet":{{"path":"/healthz","port":8080,"scheme":"HTTP"}},"periodSeconds":10}},"imagePullPolicy":"IfNotPresent","securityContext":{{"runAsNonRoot":true,"allowPrivilegeEscalation":false,"capabilities":{{"drop":["ALL"]}}}}}},{{"name":"istio-proxy","image":"docker.io/istio/proxyv2:1.21.0","args":["proxy","sidecar"],"resources":{{"limits":{{"cpu":"2","memory":"1Gi"}}}}}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"web","securityContext":{{"runAsUser":1000,"fsGroup":2000}},"schedulerName":"default-scheduler","tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"}},"status":{{"phase":"Pending","qosClass":"Burstable"}}}}"#
    );
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a3c1d2e4-{i:08}-4f5e-9a8b-7c6d5e4f3a2b","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods","verb":"create","user":{{"username":"system:serviceaccount:kube-system:replicaset-controller","uid":"8b3c1e2d","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]}},"sourceIPs":["10.0.0.12"],"userAgent":"kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/system:serviceaccount:kube-system:replicaset-controller","objectRef":{{"resource":"pods","namespace":"shop","name":"web-{i}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":201}},"requestObject":{pod},"responseObject":{pod},"requestReceivedTimestamp":"2024-05-01T10:00:00.000000Z","stageTimestamp":"2024-05-01T10:00:00.012345Z","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller:replicaset-controller\" of ClusterRole \"system:controller:replicaset-controller\" to ServiceAccount \"replicaset-controller/kube-system\"","pod-security.kubernetes.io/enforce-policy":"baseline:latest"}}}}"#
    )
}

fn read_only(i: usize) -> String {
    let (verb, resource, name) = match i % 4 {
        0 => ("get", "configmaps", "\"name\":\"kube-root-ca.crt\","),
        1 => ("list", "pods", ""),
        2 => ("watch", "endpointslices", ""),
        _ => ("get", "leases", "\"name\":\"kube-scheduler\","),
    };
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"b4d2e3f5-{i:08}-4a5b-8c7d-6e5f4a3b2c1d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/{resource}?resourceVersion=12345","verb":"{verb}","user":{{"username":"system:serviceaccount:shop:web","groups":["system:serviceaccounts","system:serviceaccounts:shop","system:authenticated"]}},"sourceIPs":["10.244.3.17"],"userAgent":"web/v0.0.0 (linux/amd64) kubernetes/$Format","objectRef":{{"resource":"{resource}","namespace":"shop",{name}"apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2024-05-01T10:00:01.000000Z","stageTimestamp":"2024-05-01T10:00:01.002000Z","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"web/shop\" of Role \"web\" to ServiceAccount \"web/shop\""}}}}"#
    )
}

fn lines(n: usize, f: impl Fn(usize) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(f(i).as_bytes());
        out.push(b'\n');
    }
    out
}

fn run(name: &str, input: &[u8], events: usize, rules: &[RulesFile]) {
    let opts = AnalyzerOptions {
        rules: rules.to_vec(),
        ..Default::default()
    };
    let (mut an, warnings) = Analyzer::new(opts).expect("rules load");
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    // Parsing alone, for comparison.
    let start = Instant::now();
    let mut n = 0usize;
    for l in input.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if K8sAuditEvent::from_slice(l).is_ok() {
            n += 1;
        }
    }
    let parse = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut ing = Ingestor::new(IngestOptions::default());
    ing.read(&mut &input[..], name, &mut an).expect("read");
    let alerts = an.finish();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(ing.stats().events as usize, events);
    assert_eq!(n, events);
    println!(
        "{name:<28} {events:>8} events {:>7.1} MB  parse only {:>9.0} ev/s  end to end {:>9.0} ev/s ({:.0} MB/s)  {} alerts, {} matches",
        input.len() as f64 / 1e6,
        events as f64 / parse,
        events as f64 / secs,
        input.len() as f64 / 1e6 / secs,
        alerts.len(),
        an.stats().matches,
    );
}

fn main() {
    let rules: Vec<RulesFile> = std::env::args()
        .skip(1)
        .map(|p| RulesFile::read(&p).expect("rules file"))
        .collect();
    let n = 200_000;
    let creates = lines(n / 4, pod_create);
    run("pod creates (full bodies)", &creates, n / 4, &rules);
    let reads = lines(n, read_only);
    run("read-only (Metadata)", &reads, n, &rules);
    let mixed = lines(n, |i| {
        if i % 10 == 0 {
            pod_create(i)
        } else {
            read_only(i)
        }
    });
    run("mixed (10% pod creates)", &mixed, n, &rules);
}
