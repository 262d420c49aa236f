//! Users: `runAsNonRoot` and `runAsUser` (`check_runAsNonRoot.go`, `check_runAsUser.go`).
//!
//! From policy v1.35 both are skipped for a pod in a user namespace (`hostUsers: false`),
//! where root in the container is not root on the host. Earlier revisions only relaxed this
//! behind an alpha feature gate that was off by default; upstream removed the gate and its
//! effect from those revisions, and so do we.

use crate::pod::{Finding, Outcome, Pod, bool_field, containers_phrase, int_field};

/// Containers must run as non-root: `runAsNonRoot: true` at pod level, or on every container,
/// and never explicitly `false`.
pub(crate) fn run_as_non_root_1_0(pod: &Pod<'_>) -> Outcome {
    let mut setters = Vec::new();
    let mut explicit_paths = Vec::new();
    let mut pod_non_root = false;
    match pod
        .security_context()
        .and_then(|sc| bool_field(sc, "runAsNonRoot"))
    {
        Some(false) => {
            setters.push("pod".to_owned());
            explicit_paths.push("spec.securityContext.runAsNonRoot".to_owned());
        }
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_paths = Vec::new();
    for c in pod.containers() {
        let path = c.at("securityContext.runAsNonRoot");
        match c
            .security_context()
            .and_then(|sc| bool_field(sc, "runAsNonRoot"))
        {
            Some(false) => {
                explicit.push(c.name);
                explicit_paths.push(path);
            }
            Some(true) => {}
            None if !pod_non_root => {
                implicit.push(c.name);
                implicit_paths.push(path);
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        let detail = format!(
            "{} must not set securityContext.runAsNonRoot=false",
            setters.join(" and ")
        );
        return Some(Finding::new("runAsNonRoot != true", detail, explicit_paths));
    }
    if implicit.is_empty() {
        return None;
    }
    let detail = format!(
        "pod or {} must set securityContext.runAsNonRoot=true",
        containers_phrase(&implicit)
    );
    Some(Finding::new("runAsNonRoot != true", detail, implicit_paths))
}

/// v1.35: as v1.0, skipped for a pod in a user namespace.
pub(crate) fn run_as_non_root_1_35(pod: &Pod<'_>) -> Outcome {
    if pod.in_user_namespace() {
        return None;
    }
    run_as_non_root_1_0(pod)
}

/// Containers must not set `runAsUser: 0` (pod or container level).
pub(crate) fn run_as_user_1_23(pod: &Pod<'_>) -> Outcome {
    let mut setters = Vec::new();
    let mut paths = Vec::new();
    if pod
        .security_context()
        .and_then(|sc| int_field(sc, "runAsUser"))
        == Some(0)
    {
        setters.push("pod".to_owned());
        paths.push("spec.securityContext.runAsUser".to_owned());
    }
    let mut names = Vec::new();
    for c in pod.containers() {
        if c.security_context()
            .and_then(|sc| int_field(sc, "runAsUser"))
            == Some(0)
        {
            names.push(c.name);
            paths.push(c.at("securityContext.runAsUser"));
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    if setters.is_empty() {
        return None;
    }
    let detail = format!("{} must not set runAsUser=0", setters.join(" and "));
    Some(Finding::new("runAsUser=0", detail, paths))
}

/// v1.35: as v1.23, skipped for a pod in a user namespace.
pub(crate) fn run_as_user_1_35(pod: &Pod<'_>) -> Outcome {
    if pod.in_user_namespace() {
        return None;
    }
    run_as_user_1_23(pod)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn detail(f: fn(&Pod<'_>) -> Outcome, spec: &Value) -> Option<String> {
        let meta = json!({});
        f(&Pod {
            metadata: &meta,
            spec,
        })
        .map(|f| f.detail)
    }

    #[test]
    fn run_as_non_root_explicit_beats_implicit() {
        let spec = json!({
            "securityContext": {"runAsNonRoot": false},
            "containers": [
                {"name": "a", "securityContext": {"runAsNonRoot": false}},
                {"name": "b"}
            ]
        });
        assert_eq!(
            detail(run_as_non_root_1_0, &spec).as_deref(),
            Some("pod and container \"a\" must not set securityContext.runAsNonRoot=false")
        );
        let implicit = json!({"containers": [
            {"name": "a"}, {"name": "b", "securityContext": {"runAsNonRoot": true}}, {"name": "c"}
        ]});
        assert_eq!(
            detail(run_as_non_root_1_0, &implicit).as_deref(),
            Some("pod or containers \"a\", \"c\" must set securityContext.runAsNonRoot=true")
        );
    }

    #[test]
    fn user_namespace_relaxation_only_from_1_35() {
        let spec = json!({
            "hostUsers": false,
            "securityContext": {"runAsUser": 0},
            "containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]
        });
        assert_eq!(
            detail(run_as_user_1_23, &spec).as_deref(),
            Some("pod and container \"a\" must not set runAsUser=0")
        );
        assert_eq!(detail(run_as_user_1_35, &spec), None);
        assert!(detail(run_as_non_root_1_0, &spec).is_some());
        assert_eq!(detail(run_as_non_root_1_35, &spec), None);
        // hostUsers: true (or unset) is not relaxed.
        let host = json!({"hostUsers": true, "containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]});
        assert!(detail(run_as_user_1_35, &host).is_some());
    }
}
