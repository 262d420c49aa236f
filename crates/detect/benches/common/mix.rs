//! A realistic stream of Kubernetes audit events for the throughput benchmark and the
//! flat-memory run, built from real audit events of the corpus.
//!
//! Templates come from Panther's labelled EKS samples (`runtime/audit/panther-analysis`,
//! native `audit.k8s.io/v1` events only) and audit2rbac's recorded cluster log
//! (`runtime/audit/audit2rbac/testdata/demo.log`). Each generated event takes one template and
//! varies what a busy cluster varies: the audit id, the time (1 ms apart), the user (mostly
//! controllers, nodes and workload service accounts, a few people), the namespace and the
//! object name. The shares follow a real API server's log:
//!
//! - 88% reads (`get`/`list`/`watch`) at level Metadata;
//! - 7% pod creates and updates at level RequestResponse, with full pod bodies as the API
//!   server returns them (managed fields, projected token volume, tolerations, status);
//! - 5% other writes (role, binding, service, CSR, webhook, secret, ... creates and updates),
//!   some of which are detections.
//!
//! Events are rendered from pre-split template text, so generation costs little next to
//! detection.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark support: a broken corpus ends the run"
)]

use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

/// The Falco k8saudit rules file, inside the corpus.
pub(crate) const FALCO_K8S_RULES: &str =
    "runtime/falco/falcosecurity-plugins/plugins/k8saudit/rules/k8s_audit_rules.yaml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Id,
    User,
    Ns,
    Name,
    Time,
    Resource,
    Ip,
}

const SLOTS: [(&str, Slot); 7] = [
    ("@@RES@@", Slot::Resource),
    ("@@IP@@", Slot::Ip),
    ("@@ID@@", Slot::Id),
    ("@@USER@@", Slot::User),
    ("@@NS@@", Slot::Ns),
    ("@@NAME@@", Slot::Name),
    ("@@TS@@", Slot::Time),
];

#[derive(Debug)]
enum Part {
    Lit(String),
    Slot(Slot),
}

#[derive(Debug)]
struct Template {
    parts: Vec<Part>,
}

/// The kinds of events of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// `get`, `list`, `watch`.
    Read,
    /// Pod creates and updates with full bodies.
    PodWrite,
    /// Every other write.
    OtherWrite,
}

/// The event generator.
#[derive(Debug)]
pub(crate) struct Mix {
    reads: Vec<Template>,
    pod_writes: Vec<Template>,
    other_writes: Vec<Template>,
    users: Vec<String>,
    namespaces: Vec<String>,
}

/// Resources of reads, with their weights: leases, configmaps, pods and endpoints lead, as on
/// a real API server; secrets are a few percent.
const READ_RESOURCES: &[(&str, u64)] = &[
    ("leases", 20),
    ("configmaps", 18),
    ("pods", 16),
    ("endpointslices", 10),
    ("nodes", 8),
    ("services", 6),
    ("deployments", 5),
    ("replicasets", 4),
    ("events", 3),
    ("secrets", 3),
    ("serviceaccounts", 3),
    ("namespaces", 2),
    ("persistentvolumeclaims", 2),
];

/// Per mille of each class.
const READ_PER_MILLE: u64 = 880;
const POD_WRITE_PER_MILLE: u64 = 70;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

/// The native audit events of the corpus: Panther's EKS samples, then audit2rbac's log.
fn corpus_events(corpus: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    yaml_files(
        &corpus.join("runtime/audit/panther-analysis/rules"),
        &mut files,
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let Some(tests) = doc.get("Tests").and_then(|t| t.as_sequence()) else {
            continue;
        };
        for t in tests {
            let Some(log) = t.get("Log") else { continue };
            let log: Value = serde_json::to_value(log).unwrap();
            let native = log.get("kind").and_then(Value::as_str) == Some("Event")
                && log.get("verb").and_then(Value::as_str).is_some()
                && log.get("objectRef").is_some_and(Value::is_object);
            if native {
                out.push(log);
            }
        }
    }
    let demo = corpus.join("runtime/audit/audit2rbac/testdata/demo.log");
    if let Ok(text) = std::fs::read_to_string(demo) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// A pod as the API server returns it after a create: the request's pod plus what the
/// server and the admission chain add.
fn full_pod(req: &Value) -> Value {
    let mut pod = req.clone();
    let Some(obj) = pod.as_object_mut() else {
        return pod;
    };
    obj.insert("kind".into(), json!("Pod"));
    obj.insert("apiVersion".into(), json!("v1"));
    let md = obj.entry("metadata").or_insert_with(|| json!({}));
    if let Some(md) = md.as_object_mut() {
        md.insert("name".into(), json!("@@NAME@@"));
        md.insert("namespace".into(), json!("@@NS@@"));
        md.insert("uid".into(), json!("@@ID@@"));
        md.insert("resourceVersion".into(), json!("48213977"));
        md.insert("creationTimestamp".into(), json!("@@TS@@"));
        md.entry("labels").or_insert_with(
            || json!({"app": "web", "pod-template-hash": "7d4b9c8f6", "app.kubernetes.io/part-of": "shop"}),
        );
        md.insert(
            "annotations".into(),
            json!({"kubectl.kubernetes.io/restartedAt": "2024-05-01T09:00:00Z", "prometheus.io/scrape": "true"}),
        );
        md.insert("ownerReferences".into(), json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f6", "uid": "6c1f5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "controller": true, "blockOwnerDeletion": true}]));
        md.insert("managedFields".into(), json!([{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "@@TS@@", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"6c1f5a2e\"}": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}}}}}}]));
    }
    let spec = obj.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        let vols = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(v) = vols.as_array_mut() {
            v.push(json!({"name": "kube-api-access-x7k2p", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}, {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}}));
        }
        if let Some(cs) = spec.get_mut("containers").and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.entry("imagePullPolicy").or_insert(json!("IfNotPresent"));
                c.entry("terminationMessagePath")
                    .or_insert(json!("/dev/termination-log"));
                c.entry("resources").or_insert(json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}));
                c.entry("env").or_insert(json!([{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_HOST", "value": "db.shop.svc"}]));
                let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
                if let Some(m) = mounts.as_array_mut() {
                    m.push(json!({"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}));
                }
            }
        }
        spec.insert("restartPolicy".into(), json!("Always"));
        spec.insert("terminationGracePeriodSeconds".into(), json!(30));
        spec.insert("dnsPolicy".into(), json!("ClusterFirst"));
        spec.entry("serviceAccountName").or_insert(json!("default"));
        spec.insert("schedulerName".into(), json!("default-scheduler"));
        spec.insert("tolerations".into(), json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]));
        spec.insert("priority".into(), json!(0));
        spec.insert("enableServiceLinks".into(), json!(true));
        spec.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    }
    obj.insert(
        "status".into(),
        json!({"phase": "Pending", "qosClass": "Burstable"}),
    );
    pod
}

/// Turns a corpus event into a template: the varied fields become slots, Panther's own
/// `p_*` fields go, and a missing `stage` is the one the API server logs at.
fn templatize(mut ev: Value) -> (Class, Value) {
    let obj = ev.as_object_mut().unwrap();
    obj.retain(|k, _| !k.starts_with("p_"));
    obj.insert("auditID".into(), json!("@@ID@@"));
    obj.entry("stage").or_insert(json!("ResponseComplete"));
    obj.insert("requestReceivedTimestamp".into(), json!("@@TS@@"));
    obj.insert("stageTimestamp".into(), json!("@@TS@@"));
    obj.remove("timestamp");
    obj.remove("metadata");
    let user = obj.entry("user").or_insert_with(|| json!({}));
    if let Some(u) = user.as_object_mut() {
        u.insert("username".into(), json!("@@USER@@"));
    }
    let verb = obj
        .get("verb")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut resource = String::new();
    if let Some(r) = obj.get_mut("objectRef").and_then(Value::as_object_mut) {
        resource = r
            .get("resource")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if r.contains_key("namespace") {
            r.insert("namespace".into(), json!("@@NS@@"));
        }
        if r.contains_key("name") {
            r.insert("name".into(), json!("@@NAME@@"));
        }
    }
    obj.insert("sourceIPs".into(), json!(["@@IP@@"]));
    let class = match verb.as_str() {
        "get" | "list" | "watch" => Class::Read,
        "create" | "update" | "patch" if resource == "pods" => Class::PodWrite,
        _ => Class::OtherWrite,
    };
    if class == Class::Read {
        // Reads spread over resources like a busy API server's (see READ_RESOURCES).
        let namespaced = obj
            .get("objectRef")
            .is_some_and(|r| r.get("namespace").is_some());
        let named = obj
            .get("objectRef")
            .is_some_and(|r| r.get("name").is_some());
        if let Some(r) = obj.get_mut("objectRef").and_then(Value::as_object_mut) {
            r.insert("resource".into(), json!("@@RES@@"));
        }
        let mut uri = String::from("/api/v1/");
        if namespaced {
            uri.push_str("namespaces/@@NS@@/");
        }
        uri.push_str("@@RES@@");
        if named {
            uri.push_str("/@@NAME@@");
        }
        obj.insert("requestURI".into(), json!(uri));
        obj.insert("level".into(), json!("Metadata"));
        obj.remove("requestObject");
        obj.remove("responseObject");
    }
    if class == Class::PodWrite
        && let Some(req) = obj.get("requestObject").cloned()
    {
        obj.insert("level".into(), json!("RequestResponse"));
        let pod = full_pod(&req);
        obj.insert("requestObject".into(), pod.clone());
        obj.insert("responseObject".into(), pod);
    }
    (class, ev)
}

fn split(text: &str) -> Template {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let next = SLOTS
            .iter()
            .filter_map(|(pat, slot)| rest.find(pat).map(|i| (i, pat.len(), *slot)))
            .min_by_key(|(i, _, _)| *i);
        match next {
            Some((i, len, slot)) => {
                if i > 0 {
                    parts.push(Part::Lit(rest[..i].to_string()));
                }
                parts.push(Part::Slot(slot));
                rest = &rest[i + len..];
            }
            None => {
                if !rest.is_empty() {
                    parts.push(Part::Lit(rest.to_string()));
                }
                return Template { parts };
            }
        }
    }
}

impl Mix {
    /// The mix over the corpus at `corpus` (the `PALISADE_CORPUS` root).
    pub(crate) fn from_corpus(corpus: &Path) -> Self {
        let mut mix = Mix {
            reads: Vec::new(),
            pod_writes: Vec::new(),
            other_writes: Vec::new(),
            users: Vec::new(),
            namespaces: Vec::new(),
        };
        for ev in corpus_events(corpus) {
            let (class, v) = templatize(ev);
            let t = split(&serde_json::to_string(&v).unwrap());
            match class {
                Class::Read => mix.reads.push(t),
                Class::PodWrite => mix.pod_writes.push(t),
                Class::OtherWrite => mix.other_writes.push(t),
            }
        }
        assert!(
            !mix.reads.is_empty() && !mix.pod_writes.is_empty() && !mix.other_writes.is_empty(),
            "the corpus has no audit events to build the mix from"
        );
        mix.namespaces = (0..60).map(|i| format!("team-{i:02}")).collect();
        mix.namespaces.extend(
            [
                "default",
                "kube-system",
                "monitoring",
                "ingress-nginx",
                "shop",
            ]
            .map(String::from),
        );
        // Mostly controllers, kubelets and workload service accounts; about 3% people.
        for i in 0..40 {
            mix.users
                .push(format!("system:node:ip-10-0-{}-{}.ec2.internal", i / 8, i));
        }
        for c in [
            "system:kube-controller-manager",
            "system:kube-scheduler",
            "system:apiserver",
            "system:kube-proxy",
            "system:serviceaccount:kube-system:replicaset-controller",
            "system:serviceaccount:kube-system:endpointslice-controller",
            "system:serviceaccount:kube-system:generic-garbage-collector",
            "system:serviceaccount:kube-system:coredns",
        ] {
            for _ in 0..6 {
                mix.users.push(c.to_string());
            }
        }
        for i in 0..120 {
            mix.users.push(format!(
                "system:serviceaccount:team-{:02}:app-{}",
                i % 60,
                i
            ));
        }
        for u in [
            "alice@example.com",
            "bob@example.com",
            "ci-deployer",
            "eks:admin",
        ] {
            for _ in 0..2 {
                mix.users.push(u.to_string());
            }
        }
        mix
    }

    /// How many templates of each class.
    pub(crate) fn template_counts(&self) -> (usize, usize, usize) {
        (
            self.reads.len(),
            self.pod_writes.len(),
            self.other_writes.len(),
        )
    }

    /// The class of event `i`.
    pub(crate) fn class(i: u64) -> Class {
        let r = splitmix(i) % 1000;
        if r < READ_PER_MILLE {
            Class::Read
        } else if r < READ_PER_MILLE + POD_WRITE_PER_MILLE {
            Class::PodWrite
        } else {
            Class::OtherWrite
        }
    }

    /// Appends event `i` (one JSON line) to `out`.
    pub(crate) fn write_event(&self, i: u64, out: &mut Vec<u8>) {
        let h = splitmix(i ^ 0x5eed);
        let list = match Self::class(i) {
            Class::Read => &self.reads,
            Class::PodWrite => &self.pod_writes,
            Class::OtherWrite => &self.other_writes,
        };
        let t = &list[(h % list.len() as u64) as usize];
        let user = &self.users[((h >> 16) % self.users.len() as u64) as usize];
        let ns = &self.namespaces[((h >> 32) % self.namespaces.len() as u64) as usize];
        let name_n = (h >> 40) % 5000;
        let total: u64 = READ_RESOURCES.iter().map(|(_, w)| w).sum();
        let mut pick = (h >> 24) % total;
        let mut resource = READ_RESOURCES[0].0;
        for (r, w) in READ_RESOURCES {
            if pick < *w {
                resource = r;
                break;
            }
            pick -= w;
        }
        let person = !user.starts_with("system:");
        // 1 ms apart from 2024-05-01T00:00:00Z.
        let ms = i;
        let (day, rem) = (ms / 86_400_000, ms % 86_400_000);
        let (hh, mm, ss, milli) = (
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000,
        );
        for p in &t.parts {
            match p {
                Part::Lit(s) => out.extend_from_slice(s.as_bytes()),
                Part::Slot(Slot::Id) => {
                    write!(out, "5f0c9a1e-{:04x}-4c2b-9d8e-{i:012x}", h & 0xffff).unwrap();
                }
                Part::Slot(Slot::User) => out.extend_from_slice(user.as_bytes()),
                Part::Slot(Slot::Ns) => out.extend_from_slice(ns.as_bytes()),
                Part::Slot(Slot::Name) => write!(out, "web-{name_n}").unwrap(),
                Part::Slot(Slot::Resource) => out.extend_from_slice(resource.as_bytes()),
                // Cluster traffic from pod and node addresses; people through the VPN's NAT.
                Part::Slot(Slot::Ip) if person => out.extend_from_slice(b"172.20.4.17"),
                Part::Slot(Slot::Ip) => {
                    write!(out, "10.244.{}.{}", (h >> 8) % 64, (h >> 48) % 250 + 2).unwrap();
                }
                Part::Slot(Slot::Time) => write!(
                    out,
                    "2024-05-{:02}T{hh:02}:{mm:02}:{ss:02}.{milli:03}000Z",
                    1 + day % 28
                )
                .unwrap(),
            }
        }
        out.push(b'\n');
    }

    /// Events `0..n` as JSON lines.
    pub(crate) fn lines(&self, n: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(n as usize * 1200);
        for i in 0..n {
            self.write_event(i, &mut out);
        }
        out
    }
}
