use palisade_model::{Location, ResourceRef};
use serde_json::Value;

/// One Kubernetes object as read from a source, with its raw JSON tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Reference used in reports.
    pub resource: ResourceRef,
    /// The object itself (secret values already removed).
    pub raw: Value,
    /// Where the object was read from.
    pub location: Location,
}

/// A set of objects: one snapshot of a cluster, or everything read from some files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// The objects, in the order they were read.
    pub objects: Vec<Object>,
}

impl Inventory {
    /// Objects of one kind (exact `kind` match).
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.resource.kind == kind)
    }
}

/// Which list of a pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// `spec.containers`.
    Container,
    /// `spec.initContainers`.
    Init,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The pod spec field that holds this list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// The pod template of a workload: the pod's metadata and spec, with the JSON path of the spec.
#[derive(Debug, Clone, Copy)]
pub struct PodTemplate<'a> {
    /// `metadata` of the pod (template), or `Value::Null` when absent.
    pub metadata: &'a Value,
    /// The pod spec.
    pub spec: &'a Value,
    /// JSON path of the pod metadata, e.g. `$.spec.template.metadata`.
    pub metadata_path: &'static str,
    /// JSON path of the pod spec, e.g. `$.spec.template.spec`.
    pub spec_path: &'static str,
}

/// One container of a pod template.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Index in that list.
    pub index: usize,
    /// `name` of the container (empty when missing).
    pub name: &'a str,
    /// The container object.
    pub value: &'a Value,
    /// JSON path of the container, e.g. `$.spec.template.spec.containers[0]`.
    pub path: String,
}

static NULL: Value = Value::Null;

impl Object {
    /// The pod template of a workload object, for every kind that runs pods: Pod, Deployment,
    /// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController, PodTemplate.
    pub fn pod_template(&self) -> Option<PodTemplate<'_>> {
        let (meta_ptr, spec_ptr, metadata_path, spec_path) = match self.resource.kind.as_str() {
            "Pod" => ("/metadata", "/spec", "$.metadata", "$.spec"),
            "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "ReplicationController" => (
                "/spec/template/metadata",
                "/spec/template/spec",
                "$.spec.template.metadata",
                "$.spec.template.spec",
            ),
            "PodTemplate" => (
                "/template/metadata",
                "/template/spec",
                "$.template.metadata",
                "$.template.spec",
            ),
            "CronJob" => (
                "/spec/jobTemplate/spec/template/metadata",
                "/spec/jobTemplate/spec/template/spec",
                "$.spec.jobTemplate.spec.template.metadata",
                "$.spec.jobTemplate.spec.template.spec",
            ),
            _ => return None,
        };
        let spec = self.raw.pointer(spec_ptr).filter(|v| v.is_object())?;
        Some(PodTemplate {
            metadata: self.raw.pointer(meta_ptr).unwrap_or(&NULL),
            spec,
            metadata_path,
            spec_path,
        })
    }

    /// Stable identity across snapshots: `apiVersion/kind/namespace/name`.
    pub fn key(&self) -> String {
        let r = &self.resource;
        format!(
            "{}/{}/{}/{}",
            r.api_version,
            r.kind,
            r.namespace.as_deref().unwrap_or(""),
            r.name
        )
    }

    /// A stable hash (FNV-1a, 64 bits, hex) of the object's content without the fields that
    /// change at every write (`status`, `metadata.resourceVersion`, `managedFields`,
    /// `generation`, `uid`, `creationTimestamp`): equal digests mean no meaningful change.
    /// Hand-written because stability across builds is the point (std's hasher is not stable).
    pub fn content_digest(&self) -> String {
        // The bytes hashed are the compact JSON text of the object with keys in sorted order
        // (whatever order the map keeps them in), written straight into the hasher.
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        write_canonical(&self.raw, &mut h, Level::Top);
        format!("{:016x}", h.0)
    }

    /// `metadata.labels` as a JSON object (or `Value::Null`).
    pub fn labels(&self) -> &Value {
        self.raw.pointer("/metadata/labels").unwrap_or(&NULL)
    }

    /// `metadata.annotations` as a JSON object (or `Value::Null`).
    pub fn annotations(&self) -> &Value {
        self.raw.pointer("/metadata/annotations").unwrap_or(&NULL)
    }
}

impl<'a> PodTemplate<'a> {
    /// Every container of the template: regular, then init, then ephemeral.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + 'a {
        let spec = self.spec;
        let spec_path = self.spec_path;
        [
            ContainerKind::Container,
            ContainerKind::Init,
            ContainerKind::Ephemeral,
        ]
        .into_iter()
        .flat_map(move |kind| {
            spec.get(kind.field())
                .and_then(Value::as_array)
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_object())
                .map(move |(index, value)| ContainerRef {
                    kind,
                    index,
                    name: value.get("name").and_then(Value::as_str).unwrap_or(""),
                    value,
                    path: format!("{spec_path}.{}[{index}]", kind.field()),
                })
        })
    }

    /// A field of the pod spec.
    pub fn field(&self, name: &str) -> Option<&'a Value> {
        self.spec.get(name)
    }

    /// A pod annotation value.
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.metadata
            .get("annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }
}

/// Removes what must never be stored from an object: the values of Secrets.
pub(crate) fn redact(kind: &str, raw: &mut Value) {
    if kind != "Secret" {
        return;
    }
    if let Some(map) = raw.as_object_mut() {
        map.remove("data");
        map.remove("stringData");
    }
    if let Some(ann) = raw
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        ann.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Builds the reference of a raw object. Returns `None` when `kind` or `apiVersion` is missing.
pub(crate) fn resource_ref(raw: &Value) -> Option<ResourceRef> {
    let kind = raw.get("kind")?.as_str()?.to_owned();
    let api_version = raw.get("apiVersion")?.as_str()?.to_owned();
    let meta = raw.get("metadata");
    let name = meta
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some(ResourceRef {
        api_version,
        kind,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(raw: Value) -> Object {
        Object {
            resource: resource_ref(&raw).unwrap_or_else(|| ResourceRef {
                api_version: String::new(),
                kind: String::new(),
                namespace: None,
                name: String::new(),
            }),
            raw,
            location: Location {
                file: "t".into(),
                document: 0,
                line: 1,
            },
        }
    }

    #[test]
    fn cronjob_template_and_all_container_lists() {
        let o = obj(json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a"}],
                "initContainers": [{"name": "i"}],
                "ephemeralContainers": [{"name": "e"}]
            }}}}}
        }));
        let t = o.pod_template();
        let t = t.as_ref().map(|t| t.containers().collect::<Vec<_>>());
        let names: Vec<_> = t
            .iter()
            .flatten()
            .map(|c| (c.name, c.path.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "a",
                    "$.spec.jobTemplate.spec.template.spec.containers[0]".to_string()
                ),
                (
                    "i",
                    "$.spec.jobTemplate.spec.template.spec.initContainers[0]".to_string()
                ),
                (
                    "e",
                    "$.spec.jobTemplate.spec.template.spec.ephemeralContainers[0]".to_string()
                ),
            ]
        );
    }

    #[test]
    fn digest_ignores_volatile_fields_only() {
        let a = obj(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "resourceVersion": "1"}, "spec": {"type": "ClusterIP"}}),
        );
        let b = obj(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "resourceVersion": "2"}, "spec": {"type": "ClusterIP"}, "status": {"x": 1}}),
        );
        let c = obj(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort"}}),
        );
        assert_eq!(a.content_digest(), b.content_digest());
        assert_ne!(a.content_digest(), c.content_digest());
        assert_eq!(a.key(), "v1/Service//s");
        // The digest is FNV-1a of the compact JSON text with sorted keys, whatever the order
        // of the input: digests stored by earlier versions stay comparable.
        let text = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"ClusterIP"}}"#;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(a.content_digest(), format!("{h:016x}"));
        let reordered = obj(
            json!({"spec": {"type": "ClusterIP"}, "metadata": {"resourceVersion": "9", "name": "s"}, "kind": "Service", "apiVersion": "v1"}),
        );
        assert_eq!(a.content_digest(), reordered.content_digest());
    }

    #[test]
    fn non_workloads_have_no_template() {
        let o = obj(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}));
        assert!(o.pod_template().is_none());
    }

    #[test]
    fn secret_values_are_removed() {
        let mut raw = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"c2VjcmV0\"}}",
                "keep": "me"}},
            "data": {"p": "c2VjcmV0"}, "stringData": {"q": "secret"}});
        redact("Secret", &mut raw);
        let text = raw.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("secret\""),
            "{text}"
        );
        assert!(text.contains("keep"));
    }
}

/// FNV-1a over everything written to it.
struct Fnv(u64);

impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for b in buf {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Metadata,
    Inner,
}

/// Fields left out of the digest, by level.
fn volatile(level: Level, key: &str) -> bool {
    match level {
        Level::Top => key == "status",
        Level::Metadata => matches!(
            key,
            "resourceVersion" | "managedFields" | "generation" | "uid" | "creationTimestamp"
        ),
        Level::Inner => false,
    }
}

fn write_canonical(v: &Value, w: &mut Fnv, level: Level) {
    use std::io::Write as _;
    // Writing into `Fnv` cannot fail.
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().filter(|k| !volatile(level, k)).collect();
            keys.sort_unstable();
            let _ = w.write_all(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    let _ = w.write_all(b",");
                }
                let _ = serde_json::to_writer(&mut *w, k);
                let _ = w.write_all(b":");
                let next = if level == Level::Top && k == "metadata" {
                    Level::Metadata
                } else {
                    Level::Inner
                };
                if let Some(child) = m.get(k) {
                    write_canonical(child, w, next);
                }
            }
            let _ = w.write_all(b"}");
        }
        Value::Array(a) => {
            let _ = w.write_all(b"[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    let _ = w.write_all(b",");
                }
                write_canonical(x, w, Level::Inner);
            }
            let _ = w.write_all(b"]");
        }
        _ => {
            let _ = serde_json::to_writer(&mut *w, v);
        }
    }
}
