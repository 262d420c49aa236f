//! Host access: `hostNamespaces`, `hostPorts`, `hostPathVolumes`, `hostProbesAndHostLifecycle`
//! (`check_hostNamespaces.go`, `check_hostPorts.go`, `check_hostPathVolumes.go`,
//! `check_hostProbesAndhostLifecycle.go`).

use serde_json::Value;

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, bool_field, containers_phrase, int_field, join_quote, object,
    pluralize, str_or_empty,
};

/// Sharing the host namespaces must be disallowed: `hostNetwork`, `hostPID`, `hostIPC`.
pub(crate) fn host_namespaces_1_0(pod: &Pod<'_>) -> Outcome {
    let mut set = Vec::new();
    let mut paths = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if bool_field(pod.spec, key) == Some(true) {
            set.push(format!("{key}=true"));
            paths.push(format!("spec.{key}"));
        }
    }
    if set.is_empty() {
        return None;
    }
    Some(Finding::new("host namespaces", set.join(", "), paths))
}

/// HostPorts should be disallowed entirely (non-zero `hostPort` on any container port).
///
/// PSA sees the pod after API-server defaulting, which, for a `hostNetwork` pod, sets each
/// unset `hostPort` of a container or init container to its `containerPort`
/// (`defaultHostNetworkPorts`); that is applied here, with the `containerPort` as evidence.
pub(crate) fn host_ports_1_0(pod: &Pod<'_>) -> Outcome {
    let host_network = bool_field(pod.spec, "hostNetwork") == Some(true);
    let mut bad_containers = Vec::new();
    let mut ports = SortedSet::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let mut valid = true;
        let Some(list) = c.value.get("ports").and_then(Value::as_array) else {
            continue;
        };
        let defaulted = host_network && !c.path.starts_with("spec.ephemeralContainers");
        for (j, port) in list.iter().enumerate() {
            let (value, key) = match int_field(port, "hostPort") {
                Some(p) if p != 0 => (p, "hostPort"),
                _ if defaulted => (
                    int_field(port, "containerPort").unwrap_or(0),
                    "containerPort",
                ),
                _ => (0, "hostPort"),
            };
            if value != 0 {
                valid = false;
                ports.insert(value.to_string());
                paths.push(c.at(&format!("ports[{j}].{key}")));
            }
        }
        if !valid {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&bad_containers),
        pluralize("uses", "use", bad_containers.len()),
        pluralize("hostPort", "hostPorts", ports.len()),
        ports.into_iter().collect::<Vec<_>>().join(", "),
    );
    Some(Finding::new("hostPort", detail, paths))
}

/// HostPath volumes must be forbidden.
pub(crate) fn host_path_volumes_1_0(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for (i, v) in volumes(pod) {
        if object(v, "hostPath").is_some() {
            names.push(str_or_empty(v, "name"));
            paths.push(format!("spec.volumes[{i}].hostPath"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} {}",
        pluralize("volume", "volumes", names.len()),
        join_quote(&names)
    );
    Some(Finding::new("hostPath volumes", detail, paths))
}

/// `spec.volumes` entries that are objects, with their indices.
pub(crate) fn volumes<'a>(pod: &Pod<'a>) -> Vec<(usize, &'a Value)> {
    pod.spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter(|(_, v)| v.is_object())
                .collect()
        })
        .unwrap_or_default()
}

/// The `host` field of probes and lifecycle handlers must be empty (policy v1.34+).
pub(crate) fn host_probes_and_host_lifecycle_1_34(pod: &Pod<'_>) -> Outcome {
    let mut bad_containers = SortedSet::new();
    let mut hosts = SortedSet::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let mut handlers: Vec<(String, &Value)> = Vec::new();
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = object(c.value, probe) {
                handlers.push((probe.to_owned(), p));
            }
        }
        if let Some(lifecycle) = object(c.value, "lifecycle") {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = object(lifecycle, hook) {
                    handlers.push((format!("lifecycle.{hook}"), h));
                }
            }
        }
        for (name, handler) in handlers {
            for action in ["httpGet", "tcpSocket"] {
                let Some(a) = object(handler, action) else {
                    continue;
                };
                let host = str_or_empty(a, "host");
                if !host.is_empty() {
                    bad_containers.insert(c.name.to_owned());
                    hosts.insert(host.to_owned());
                    paths.push(c.at(&format!("{name}.{action}.host")));
                }
            }
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&bad_containers.iter().collect::<Vec<_>>()),
        pluralize("uses", "use", bad_containers.len()),
        pluralize(
            "probe or lifecycle host",
            "probe or lifecycle hosts",
            hosts.len()
        ),
        join_quote(&hosts),
    );
    Some(Finding::new("probe or lifecycle host", detail, paths))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(f: fn(&Pod<'_>) -> Outcome, spec: Value) -> Outcome {
        let meta = json!({});
        f(&Pod {
            metadata: &meta,
            spec: &spec,
        })
    }

    #[test]
    fn host_namespaces_detail() {
        let f = run(
            host_namespaces_1_0,
            json!({"hostNetwork": true, "hostPID": true, "hostIPC": true}),
        );
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.reason, "host namespaces");
        assert_eq!(f.detail, "hostNetwork=true, hostPID=true, hostIPC=true");
        assert_eq!(
            f.paths,
            ["spec.hostNetwork", "spec.hostPID", "spec.hostIPC"]
        );
        assert!(run(host_namespaces_1_0, json!({"hostNetwork": false})).is_none());
    }

    #[test]
    fn host_ports_sort_lexically_like_go_sets() {
        let f = run(
            host_ports_1_0,
            json!({"containers": [
                {"name": "a", "ports": [{"hostPort": 9}, {"hostPort": 10}]},
                {"name": "b", "ports": [{"containerPort": 80, "hostPort": 0}]}
            ]}),
        );
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.reason, "hostPort");
        assert_eq!(f.detail, "container \"a\" uses hostPorts 10, 9");
        assert_eq!(
            f.paths,
            [
                "spec.containers[0].ports[0].hostPort",
                "spec.containers[0].ports[1].hostPort"
            ]
        );
    }

    #[test]
    fn host_network_defaults_host_ports() {
        let spec = json!({"hostNetwork": true, "containers": [
            {"name": "a", "ports": [{"containerPort": 8080}]}
        ]});
        let f = run(host_ports_1_0, spec).unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.detail, "container \"a\" uses hostPort 8080");
        assert_eq!(f.paths, ["spec.containers[0].ports[0].containerPort"]);
        let no_host_network =
            json!({"containers": [{"name": "a", "ports": [{"containerPort": 8080}]}]});
        assert!(run(host_ports_1_0, no_host_network).is_none());
    }

    #[test]
    fn host_probes_detail() {
        let f = run(
            host_probes_and_host_lifecycle_1_34,
            json!({"containers": [
                {"name": "b", "livenessProbe": {"httpGet": {"host": "h1"}}},
                {"name": "a", "lifecycle": {"preStop": {"tcpSocket": {"host": "h0"}}}}
            ]}),
        );
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(
            f.detail,
            "containers \"a\", \"b\" use probe or lifecycle hosts \"h0\", \"h1\""
        );
        assert_eq!(
            f.paths,
            [
                "spec.containers[0].livenessProbe.httpGet.host",
                "spec.containers[1].lifecycle.preStop.tcpSocket.host"
            ]
        );
    }
}
