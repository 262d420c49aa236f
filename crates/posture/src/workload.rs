//! Data-plane hardening of pod templates: the reference product's workload recommendations.

use palisade_inventory::{ContainerKind, ContainerRef, Object, PodTemplate};
use palisade_model::Finding;
use serde_json::Value;

use crate::image;
use crate::{Ctx, finding};

/// Capabilities that give a container power over the node or other processes.
const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "NET_ADMIN",
    "NET_RAW",
    "BPF",
    "PERFMON",
    "DAC_READ_SEARCH",
    "DAC_OVERRIDE",
    "SETFCAP",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
];

/// Host paths that give control of the node (prefix semantics, `/` only exactly).
const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/root",
    "/home",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
    "/var/run/cri-dockerd.sock",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/log",
    "/etc/kubernetes",
];

fn bool_at(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn is_sensitive_host_path(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    let p = if p.is_empty() { "/" } else { p };
    SENSITIVE_HOST_PATHS.iter().any(|s| {
        if *s == "/" {
            p == "/"
        } else {
            p == *s || (p.starts_with(s) && p.as_bytes().get(s.len()) == Some(&b'/'))
        }
    })
}

pub(crate) fn check(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    let Some(t) = obj.pod_template() else { return };
    if obj.resource.kind == "Pod" && crate::is_controlled(obj) {
        return;
    }
    let sp = t.spec_path;
    let spec = t.spec;
    for (key, id, what) in [
        ("hostPID", "host-pid", "the host PID namespace"),
        ("hostIPC", "host-ipc", "the host IPC namespace"),
        ("hostNetwork", "host-network", "the host network namespace"),
    ] {
        if bool_at(spec, key) == Some(true) {
            out.push(finding(
                id,
                obj,
                None,
                format!("pods share {what} ({key}: true)"),
                format!("{sp}.{key}"),
            ));
        }
    }
    host_paths(obj, &t, out);
    token_automount(ctx, obj, &t, out);
    if obj.resource.namespace.as_deref() == Some("default") {
        out.push(finding(
            "default-namespace",
            obj,
            None,
            format!("{} is deployed in the default namespace", obj.resource.kind),
            "$.metadata.namespace".to_owned(),
        ));
    }
    let pod_sc = spec.get("securityContext").unwrap_or(&Value::Null);
    for c in t.containers() {
        container(ctx, obj, &t, pod_sc, &c, out);
    }
}

fn host_paths(obj: &Object, t: &PodTemplate<'_>, out: &mut Vec<Finding>) {
    let Some(vols) = t.spec.get("volumes").and_then(Value::as_array) else {
        return;
    };
    for (i, v) in vols.iter().enumerate() {
        let Some(path) = v.pointer("/hostPath/path").and_then(Value::as_str) else {
            continue;
        };
        let name = str_at(v, "name").unwrap_or("");
        let evidence = format!("{}.volumes[{i}].hostPath.path", t.spec_path);
        if is_sensitive_host_path(path) {
            out.push(finding(
                "sensitive-host-path",
                obj,
                None,
                format!("volume {name:?} mounts the sensitive host path {path:?}"),
                evidence,
            ));
        } else {
            out.push(finding(
                "host-path-volume",
                obj,
                None,
                format!("volume {name:?} mounts the host path {path:?}"),
                evidence,
            ));
        }
    }
}

fn token_automount(ctx: &Ctx<'_>, obj: &Object, t: &PodTemplate<'_>, out: &mut Vec<Finding>) {
    match bool_at(t.spec, "automountServiceAccountToken") {
        Some(false) => return,
        Some(true) => {
            out.push(finding(
                "service-account-token-automount",
                obj,
                None,
                "the pod mounts its service account token (automountServiceAccountToken: true)"
                    .to_owned(),
                format!("{}.automountServiceAccountToken", t.spec_path),
            ));
            return;
        }
        None => {}
    }
    let sa = t
        .spec
        .get("serviceAccountName")
        .or_else(|| t.spec.get("serviceAccount"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let sa_obj = ctx.service_accounts.get(&(crate::ns(obj), sa));
    if sa_obj.and_then(|o| bool_at(&o.raw, "automountServiceAccountToken")) == Some(false) {
        return;
    }
    out.push(finding(
        "service-account-token-automount",
        obj,
        None,
        format!(
            "the pod mounts the token of service account {sa:?}: neither the pod nor the service account sets automountServiceAccountToken: false"
        ),
        format!("{}.automountServiceAccountToken", t.spec_path),
    ));
}

fn container(
    ctx: &Ctx<'_>,
    obj: &Object,
    t: &PodTemplate<'_>,
    pod_sc: &Value,
    c: &ContainerRef<'_>,
    out: &mut Vec<Finding>,
) {
    let sc = c.value.get("securityContext").unwrap_or(&Value::Null);
    let scp = format!("{}.securityContext", c.path);
    let name = Some(c.name);
    let cname = c.name;
    let ephemeral = c.kind == ContainerKind::Ephemeral;

    if bool_at(sc, "privileged") == Some(true) {
        out.push(finding(
            "privileged-container",
            obj,
            name,
            format!("container {cname:?} is privileged"),
            format!("{scp}.privileged"),
        ));
    }
    if bool_at(sc, "allowPrivilegeEscalation") != Some(false) {
        let how = match bool_at(sc, "allowPrivilegeEscalation") {
            Some(true) => "sets allowPrivilegeEscalation: true",
            _ => "does not set allowPrivilegeEscalation: false",
        };
        out.push(finding(
            "privilege-escalation-allowed",
            obj,
            name,
            format!("container {cname:?} {how}"),
            format!("{scp}.allowPrivilegeEscalation"),
        ));
    }
    // capabilities
    let caps = sc.get("capabilities");
    if let Some(add) = caps.and_then(|c| c.get("add")).and_then(Value::as_array) {
        for (i, cap) in add.iter().enumerate() {
            let Some(cap) = cap.as_str() else { continue };
            let norm = cap.trim_start_matches("CAP_").to_ascii_uppercase();
            if DANGEROUS_CAPS.contains(&norm.as_str()) {
                out.push(finding(
                    "dangerous-capability",
                    obj,
                    name,
                    format!("container {cname:?} adds capability {cap}"),
                    format!("{scp}.capabilities.add[{i}]"),
                ));
            }
        }
    }
    let drops_all = caps
        .and_then(|c| c.get("drop"))
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter()
                .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("ALL")))
        });
    if !drops_all && !ephemeral {
        out.push(finding(
            "capabilities-not-dropped",
            obj,
            name,
            format!("container {cname:?} does not drop ALL capabilities"),
            format!("{scp}.capabilities.drop"),
        ));
    }
    if let Some(ports) = c.value.get("ports").and_then(Value::as_array) {
        for (i, p) in ports.iter().enumerate() {
            if let Some(hp) = p.get("hostPort").and_then(Value::as_i64).filter(|p| *p > 0) {
                out.push(finding(
                    "host-port",
                    obj,
                    name,
                    format!("container {cname:?} binds host port {hp}"),
                    format!("{}.ports[{i}].hostPort", c.path),
                ));
            }
        }
    }
    if ephemeral {
        return;
    }
    // user
    let run_as_user = sc
        .get("runAsUser")
        .or_else(|| pod_sc.get("runAsUser"))
        .and_then(Value::as_i64);
    let non_root = bool_at(sc, "runAsNonRoot").or_else(|| bool_at(pod_sc, "runAsNonRoot"));
    if run_as_user == Some(0) {
        let path = if sc.get("runAsUser").is_some() {
            format!("{scp}.runAsUser")
        } else {
            format!("{}.securityContext.runAsUser", t.spec_path)
        };
        out.push(finding(
            "run-as-root",
            obj,
            name,
            format!("container {cname:?} runs as user 0 (root)"),
            path,
        ));
    } else if non_root != Some(true) && run_as_user.is_none() {
        out.push(finding(
            "run-as-root",
            obj,
            name,
            format!(
                "container {cname:?} may run as root: neither runAsNonRoot: true nor a non-zero runAsUser is set"
            ),
            format!("{scp}.runAsNonRoot"),
        ));
    }
    if bool_at(sc, "readOnlyRootFilesystem") != Some(true) {
        out.push(finding(
            "writable-root-filesystem",
            obj,
            name,
            format!("container {cname:?} has a writable root file system"),
            format!("{scp}.readOnlyRootFilesystem"),
        ));
    }
    let limits = c.value.pointer("/resources/limits");
    for (res, id) in [
        ("cpu", "missing-cpu-limit"),
        ("memory", "missing-memory-limit"),
    ] {
        if limits.and_then(|l| l.get(res)).is_none_or(Value::is_null) {
            out.push(finding(
                id,
                obj,
                name,
                format!("container {cname:?} has no {res} limit"),
                format!("{}.resources.limits.{res}", c.path),
            ));
        }
    }
    apparmor(obj, t, pod_sc, sc, c, &scp, out);
    seccomp(obj, t, pod_sc, sc, c, &scp, out);
    images(ctx, obj, c, out);
}

fn apparmor(
    obj: &Object,
    t: &PodTemplate<'_>,
    pod_sc: &Value,
    sc: &Value,
    c: &ContainerRef<'_>,
    scp: &str,
    out: &mut Vec<Finding>,
) {
    let cname = c.name;
    let key = format!("container.apparmor.security.beta.kubernetes.io/{cname}");
    if t.annotation(&key).is_some_and(|v| v == "unconfined") {
        out.push(finding(
            "apparmor-unconfined",
            obj,
            Some(cname),
            format!("container {cname:?} runs without AppArmor (annotation {key}: unconfined)"),
            format!("{}.annotations[\"{key}\"]", t.metadata_path),
        ));
        return;
    }
    fn field(v: &Value) -> Option<&str> {
        v.pointer("/appArmorProfile/type").and_then(Value::as_str)
    }
    if field(sc) == Some("Unconfined") {
        out.push(finding(
            "apparmor-unconfined",
            obj,
            Some(cname),
            format!("container {cname:?} sets appArmorProfile type Unconfined"),
            format!("{scp}.appArmorProfile.type"),
        ));
    } else if field(sc).is_none() && field(pod_sc) == Some("Unconfined") {
        out.push(finding(
            "apparmor-unconfined",
            obj,
            Some(cname),
            format!("container {cname:?} inherits the pod's appArmorProfile type Unconfined"),
            format!("{}.securityContext.appArmorProfile.type", t.spec_path),
        ));
    }
}

fn seccomp(
    obj: &Object,
    t: &PodTemplate<'_>,
    pod_sc: &Value,
    sc: &Value,
    c: &ContainerRef<'_>,
    scp: &str,
    out: &mut Vec<Finding>,
) {
    let cname = c.name;
    fn field(v: &Value) -> Option<&str> {
        v.pointer("/seccompProfile/type").and_then(Value::as_str)
    }
    let ann_key = format!("container.seccomp.security.alpha.kubernetes.io/{cname}");
    let (kind, path) = if let Some(k) = field(sc) {
        (Some(k), format!("{scp}.seccompProfile.type"))
    } else if let Some(k) = field(pod_sc) {
        (
            Some(k),
            format!("{}.securityContext.seccompProfile.type", t.spec_path),
        )
    } else if let Some(k) = t.annotation(&ann_key) {
        (
            Some(k),
            format!("{}.annotations[\"{ann_key}\"]", t.metadata_path),
        )
    } else if let Some(k) = t.annotation("seccomp.security.alpha.kubernetes.io/pod") {
        (
            Some(k),
            format!(
                "{}.annotations[\"seccomp.security.alpha.kubernetes.io/pod\"]",
                t.metadata_path
            ),
        )
    } else {
        (None, format!("{scp}.seccompProfile.type"))
    };
    match kind {
        Some(k) if k.eq_ignore_ascii_case("unconfined") => out.push(finding(
            "seccomp-unconfined",
            obj,
            Some(cname),
            format!("container {cname:?} runs with seccomp profile {k}"),
            path,
        )),
        Some(_) => {}
        None => out.push(finding(
            "seccomp-profile-missing",
            obj,
            Some(cname),
            format!("container {cname:?} has no seccomp profile"),
            path,
        )),
    }
}

fn images(ctx: &Ctx<'_>, obj: &Object, c: &ContainerRef<'_>, out: &mut Vec<Finding>) {
    let cname = c.name;
    let Some(img) = str_at(c.value, "image").filter(|s| !s.is_empty()) else {
        return;
    };
    let evidence = format!("{}.image", c.path);
    let r = image::parse(img);
    if !ctx.config.trusted_registries.is_empty()
        && !image::is_trusted(&r, &ctx.config.trusted_registries)
    {
        out.push(finding(
            "untrusted-registry",
            obj,
            Some(cname),
            format!(
                "container {cname:?} uses image {img:?} from {}, which is not a trusted registry",
                r.registry
            ),
            evidence.clone(),
        ));
    }
    if r.digest.is_none() {
        match r.tag {
            None | Some("latest") => out.push(finding(
                "image-latest-tag",
                obj,
                Some(cname),
                format!("container {cname:?} uses image {img:?}, which resolves to the mutable latest tag"),
                evidence,
            )),
            Some(_) => out.push(finding(
                "image-no-digest",
                obj,
                Some(cname),
                format!("container {cname:?} uses image {img:?} without a digest"),
                evidence,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{of, one, scan_yaml, scan_yaml_with};

    const HARDENED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: api
          image: r.example.com/api@sha256:0123
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources: {limits: {cpu: 100m, memory: 64Mi}}
"#;

    #[test]
    fn hardened_workload_has_no_workload_findings() {
        let fs = scan_yaml(HARDENED);
        let workload: Vec<_> = fs
            .iter()
            .filter(|f| crate::catalog::info(&f.check_id).is_some_and(|c| c.category == "workload"))
            .collect();
        assert!(workload.is_empty(), "{workload:#?}");
    }

    #[test]
    fn privileged_daemonset_with_host_access() {
        let fs = scan_yaml(
            r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  template:
    spec:
      hostPID: true
      hostNetwork: true
      containers:
        - name: a
          image: nginx
          ports: [{containerPort: 80, hostPort: 8080}]
          securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN, CHOWN]}, runAsUser: 0}
      volumes:
        - {name: root, hostPath: {path: /}}
        - {name: sock, hostPath: {path: /var/run/docker.sock}}
        - {name: data, hostPath: {path: /opt/data}}
"#,
        );
        let f = one(&fs, "privileged-container");
        assert_eq!(
            f.evidence,
            "$.spec.template.spec.containers[0].securityContext.privileged"
        );
        assert_eq!(f.container.as_deref(), Some("a"));
        assert_eq!(
            one(&fs, "host-pid").evidence,
            "$.spec.template.spec.hostPID"
        );
        one(&fs, "host-network");
        assert!(of(&fs, "host-ipc").is_empty());
        assert_eq!(
            one(&fs, "host-port").evidence,
            "$.spec.template.spec.containers[0].ports[0].hostPort"
        );
        let sens = of(&fs, "sensitive-host-path");
        assert_eq!(sens.len(), 2);
        assert_eq!(
            sens[1].evidence,
            "$.spec.template.spec.volumes[1].hostPath.path"
        );
        one(&fs, "host-path-volume");
        let cap = one(&fs, "dangerous-capability");
        assert!(cap.message.contains("SYS_ADMIN"));
        assert_eq!(
            one(&fs, "run-as-root").evidence,
            "$.spec.template.spec.containers[0].securityContext.runAsUser"
        );
        assert!(one(&fs, "image-latest-tag").message.contains("nginx"));
    }

    #[test]
    fn sensitive_paths_use_component_prefixes() {
        use super::is_sensitive_host_path as s;
        assert!(s("/") && s("/etc") && s("/etc/") && s("/etc/ssl") && s("/var/lib/kubelet/pods"));
        assert!(!s("/etcetera") && !s("/opt") && !s("/var/lib/app"));
    }

    #[test]
    fn service_account_opt_out_is_honoured() {
        let text = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: quiet, namespace: n}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: n}
spec:
  serviceAccountName: quiet
  containers: [{name: c, image: x:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: n}
spec:
  containers: [{name: c, image: x:1}]
"#;
        let fs = scan_yaml(text);
        let f = one(&fs, "service-account-token-automount");
        assert_eq!(f.resource.name, "q");
        assert!(f.message.contains("\"default\""));
    }

    #[test]
    fn seccomp_apparmor_and_inheritance() {
        let text = r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: default
  annotations: {container.apparmor.security.beta.kubernetes.io/a: unconfined}
spec:
  securityContext: {seccompProfile: {type: Unconfined}, runAsNonRoot: true}
  containers:
    - {name: a, image: "x:1"}
    - {name: b, image: "x:1", securityContext: {seccompProfile: {type: RuntimeDefault}}}
"#;
        let fs = scan_yaml(text);
        let f = one(&fs, "seccomp-unconfined");
        assert_eq!(f.container.as_deref(), Some("a"));
        assert_eq!(f.evidence, "$.spec.securityContext.seccompProfile.type");
        let f = one(&fs, "apparmor-unconfined");
        assert_eq!(
            f.evidence,
            "$.metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/a\"]"
        );
        assert!(
            of(&fs, "run-as-root").is_empty(),
            "runAsNonRoot is inherited from the pod"
        );
        one(&fs, "default-namespace");
    }

    #[test]
    fn trusted_registries_are_configurable() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n  - {name: a, image: ghcr.io/x/y:1}\n  - {name: b, image: registry.example.com/y:1}\n";
        assert!(
            of(&scan_yaml(text), "untrusted-registry").is_empty(),
            "off by default"
        );
        let cfg = crate::ScanConfig {
            trusted_registries: vec!["registry.example.com".into()],
            ..Default::default()
        };
        let fs = scan_yaml_with(text, &cfg);
        assert_eq!(
            one(&fs, "untrusted-registry").container.as_deref(),
            Some("a")
        );
        assert_eq!(of(&fs, "image-no-digest").len(), 2);
    }

    #[test]
    fn controlled_pods_are_reported_through_their_controller() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: n\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: r, uid: u, controller: true}]\nspec:\n  containers: [{name: a, image: x, securityContext: {privileged: true}}]\n";
        assert!(of(&scan_yaml(text), "privileged-container").is_empty());
    }
}
