//! Differences between two inventory snapshots, and between two finding lists.
//!
//! Objects are matched by [`ObjectKey`]: API group (not version, so `apps/v1beta2` and
//! `apps/v1` Deployments of the same name are one object), kind, namespace and name. Fields the
//! server changes on its own are ignored when comparing ([`VOLATILE_METADATA`], `status`, and
//! `apiVersion`), so a diff reports what someone changed, not that a controller reconciled.
//!
//! Findings are matched by check id, resource, container and evidence path: a finding whose
//! message wording changed is still the same finding.

use std::collections::BTreeMap;

use palisade_model::{Finding, ResourceRef};
use serde_json::Value;

use crate::object::{Inventory, Object};

/// Metadata fields ignored when comparing two versions of an object.
pub const VOLATILE_METADATA: &[&str] = &[
    "resourceVersion",
    "managedFields",
    "generation",
    "creationTimestamp",
    "selfLink",
];

/// Identity of an object across snapshots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group, `""` for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, `""` for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a resource.
    pub fn of(r: &ResourceRef) -> ObjectKey {
        let group = match r.api_version.split_once('/') {
            Some((g, _)) => g.to_owned(),
            None => String::new(),
        };
        ObjectKey {
            group,
            kind: r.kind.clone(),
            namespace: r.namespace.clone().unwrap_or_default(),
            name: r.name.clone(),
        }
    }
}

/// One object present in both snapshots with different content.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The object in the old snapshot.
    pub old: Object,
    /// The object in the new snapshot.
    pub new: Object,
    /// JSON paths (`$.spec.replicas`) of the fields that differ, in order; a field added or
    /// removed is listed by its own path.
    pub paths: Vec<String>,
}

/// What changed between two snapshots. Every list is sorted by [`ObjectKey`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Objects only in the new snapshot.
    pub added: Vec<Object>,
    /// Objects in both, with different content.
    pub changed: Vec<Change>,
    /// Objects only in the old snapshot.
    pub removed: Vec<Object>,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Compares two snapshots. When a snapshot holds the same key twice, the first object counts.
pub fn diff(old: &Inventory, new: &Inventory) -> Diff {
    let old_map = index(old);
    let mut new_map = index(new);
    let mut out = Diff::default();
    for (key, o) in old_map {
        match new_map.remove(&key) {
            None => out.removed.push(o.clone()),
            Some(n) => {
                let mut paths = Vec::new();
                compare(&comparable(&o.raw), &comparable(&n.raw), "$", &mut paths);
                if !paths.is_empty() {
                    out.changed.push(Change {
                        old: o.clone(),
                        new: n.clone(),
                        paths,
                    });
                }
            }
        }
    }
    out.added = new_map.into_values().cloned().collect();
    out
}

fn index(inv: &Inventory) -> BTreeMap<ObjectKey, &Object> {
    let mut m = BTreeMap::new();
    for o in &inv.objects {
        m.entry(ObjectKey::of(&o.resource)).or_insert(o);
    }
    m
}

/// The object without the fields a diff ignores.
fn comparable(raw: &Value) -> Value {
    let mut v = raw.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
        map.remove("apiVersion");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in VOLATILE_METADATA {
                meta.remove(*f);
            }
        }
    }
    v
}

fn compare(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = child_path(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => compare(va, vb, &p, out),
                    _ => out.push(p),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => compare(va, vb, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

/// Identity of a finding across scans.
type FindingKey<'a> = (&'a str, &'a ResourceRef, Option<&'a str>, &'a str);

fn finding_key(f: &Finding) -> FindingKey<'_> {
    (
        &f.check_id,
        &f.resource,
        f.container.as_deref(),
        &f.evidence,
    )
}

/// How findings moved between two scans. Lists keep the order of their source list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingDiff {
    /// Findings of the new scan that the old one did not have.
    pub new: Vec<Finding>,
    /// Findings of the old scan that the new one no longer has.
    pub fixed: Vec<Finding>,
    /// Findings of both (as reported by the new scan).
    pub unchanged: Vec<Finding>,
}

/// Compares two finding lists by (check id, resource, container, evidence).
pub fn diff_findings(old: &[Finding], new: &[Finding]) -> FindingDiff {
    let old_keys: std::collections::HashSet<FindingKey<'_>> = old.iter().map(finding_key).collect();
    let new_keys: std::collections::HashSet<FindingKey<'_>> = new.iter().map(finding_key).collect();
    let mut out = FindingDiff::default();
    for f in new {
        if old_keys.contains(&finding_key(f)) {
            out.unchanged.push(f.clone());
        } else {
            out.new.push(f.clone());
        }
    }
    out.fixed = old
        .iter()
        .filter(|f| !new_keys.contains(&finding_key(f)))
        .cloned()
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::resource_ref;
    use palisade_model::{Location, Severity};
    use serde_json::json;

    fn inv(values: Vec<Value>) -> Inventory {
        Inventory {
            objects: values
                .into_iter()
                .filter_map(|raw| {
                    Some(Object {
                        resource: resource_ref(&raw)?,
                        raw,
                        location: Location {
                            file: "t".into(),
                            document: 0,
                            line: 0,
                        },
                    })
                })
                .collect(),
        }
    }

    fn names(objs: &[Object]) -> Vec<String> {
        objs.iter().map(|o| o.resource.to_string()).collect()
    }

    #[test]
    fn added_changed_removed_ignoring_volatile_fields() {
        let old = inv(vec![
            json!({"apiVersion": "apps/v1beta2", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "a", "resourceVersion": "1", "generation": 1},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c"}]}}},
                "status": {"ready": 0}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone", "namespace": "a"}}),
        ]);
        let new = inv(vec![
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s", "namespace": "a", "resourceVersion": "9",
                    "creationTimestamp": "2024-01-01T00:00:00Z", "managedFields": []},
                "status": {"loadBalancer": {}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "a", "resourceVersion": "7", "generation": 4},
                "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c"}, {"name": "side.car"}]}}},
                "status": {"ready": 3}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}}),
        ]);
        let d = diff(&old, &new);
        assert_eq!(names(&d.added), vec!["Pod/a/p"]);
        assert_eq!(names(&d.removed), vec!["ConfigMap/a/gone"]);
        assert_eq!(d.changed.len(), 1);
        let c = &d.changed[0];
        assert_eq!(c.new.resource.to_string(), "Deployment/a/d");
        assert_eq!(
            c.paths,
            vec!["$.spec.replicas", "$.spec.template.spec.containers[1]"]
        );
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn group_separates_kinds_of_the_same_name() {
        let a = inv(vec![
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}}),
        ]);
        let b = inv(vec![
            json!({"apiVersion": "other.example/v1", "kind": "Ingress", "metadata": {"name": "i"}}),
        ]);
        let d = diff(&a, &b);
        assert_eq!((d.added.len(), d.removed.len()), (1, 1));
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let a = inv(vec![
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app.kubernetes.io/name": "x"}}}),
        ]);
        let b = inv(vec![
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app.kubernetes.io/name": "y"}}}),
        ]);
        let d = diff(&a, &b);
        let paths: Vec<_> = d.changed.iter().flat_map(|c| c.paths.clone()).collect();
        assert_eq!(
            paths,
            vec![r#"$.metadata.labels["app.kubernetes.io/name"]"#]
        );
    }

    fn finding(check: &str, name: &str, container: Option<&str>, message: &str) -> Finding {
        Finding {
            check_id: check.to_owned().into(),
            title: "t".into(),
            severity: Severity::High,
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("n".into()),
                name: name.into(),
            },
            container: container.map(str::to_owned),
            message: message.into(),
            evidence: "$.spec".into(),
            remediation: "".into(),
            mitre: vec![],
        }
    }

    #[test]
    fn findings_new_fixed_unchanged() {
        let old = vec![
            finding("privileged", "a", Some("c"), "old wording"),
            finding("privileged", "b", Some("c"), "m"),
        ];
        let new = vec![
            finding("privileged", "a", Some("c"), "new wording"),
            finding("privileged", "a", Some("d"), "m"),
        ];
        let d = diff_findings(&old, &new);
        let ids = |v: &[Finding]| -> Vec<String> {
            v.iter()
                .map(|f| {
                    format!(
                        "{}:{}",
                        f.resource.name,
                        f.container.as_deref().unwrap_or("")
                    )
                })
                .collect()
        };
        assert_eq!(ids(&d.new), vec!["a:d"]);
        assert_eq!(ids(&d.fixed), vec!["b:c"]);
        assert_eq!(ids(&d.unchanged), vec!["a:c"]);
        assert_eq!(d.unchanged[0].message, "new wording");
    }
}
