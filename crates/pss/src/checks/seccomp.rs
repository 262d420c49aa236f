//! Seccomp: `seccompProfile_baseline` and `seccompProfile_restricted`
//! (`check_seccompProfile_baseline.go`, `check_seccompProfile_restricted.go`).
//!
//! Before policy v1.19 seccomp was configured through alpha annotations, so the baseline
//! v1.0 revision reads those; from v1.19 both checks read the `seccompProfile` fields. The
//! restricted check only exists from v1.19: a restricted namespace pinned below that gets the
//! baseline (annotation) check.

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, annotation_path, containers_phrase, go_quote, join_quote,
    object, pluralize, str_or_empty,
};

const ANNOTATION_KEY_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const ANNOTATION_KEY_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_type(t: &str) -> bool {
    t == "Localhost" || t == "RuntimeDefault"
}

fn valid_annotation_value(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

/// Baseline v1.0: the seccomp alpha annotations (pod, and per visited container) may only
/// name `runtime/default`, `docker/default` or `localhost/*`.
pub(crate) fn seccomp_profile_baseline_1_0(pod: &Pod<'_>) -> Outcome {
    let mut forbidden: std::collections::BTreeMap<String, String> = Default::default();
    if let Some(v) = pod.annotation(ANNOTATION_KEY_POD)
        && !valid_annotation_value(v)
    {
        forbidden.insert(
            format!("{ANNOTATION_KEY_POD}={}", go_quote(v)),
            annotation_path(ANNOTATION_KEY_POD),
        );
    }
    for c in pod.containers() {
        let key = format!("{ANNOTATION_KEY_CONTAINER_PREFIX}{}", c.name);
        if let Some(v) = pod.annotation(&key)
            && !valid_annotation_value(v)
        {
            forbidden.insert(format!("{key}={}", go_quote(v)), annotation_path(&key));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let detail = format!(
        "forbidden {} {}",
        pluralize("annotation", "annotations", forbidden.len()),
        forbidden.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    Some(Finding::new(
        "seccompProfile",
        detail,
        forbidden.into_values().collect(),
    ))
}

/// What the field-based revisions found.
struct FieldScan<'a> {
    setters: Vec<String>,
    bad_values: SortedSet,
    /// Containers with no `seccompProfile` of their own.
    unset: Vec<(&'a str, String)>,
    pod_valid: bool,
    paths: Vec<String>,
}

fn scan_fields<'a>(pod: &Pod<'a>) -> FieldScan<'a> {
    let mut scan = FieldScan {
        setters: Vec::new(),
        bad_values: SortedSet::new(),
        unset: Vec::new(),
        pod_valid: false,
        paths: Vec::new(),
    };
    if let Some(profile) = pod
        .security_context()
        .and_then(|sc| object(sc, "seccompProfile"))
    {
        let t = str_or_empty(profile, "type");
        if valid_type(t) {
            scan.pod_valid = true;
        } else {
            scan.setters.push("pod".to_owned());
            scan.bad_values.insert(t.to_owned());
            scan.paths
                .push("spec.securityContext.seccompProfile.type".to_owned());
        }
    }
    let mut explicit = Vec::new();
    for c in pod.containers() {
        let path = c.at("securityContext.seccompProfile.type");
        match c
            .security_context()
            .and_then(|sc| object(sc, "seccompProfile"))
        {
            Some(profile) => {
                let t = str_or_empty(profile, "type");
                if !valid_type(t) {
                    explicit.push(c.name);
                    scan.bad_values.insert(t.to_owned());
                    scan.paths.push(path);
                }
            }
            None => scan.unset.push((c.name, path)),
        }
    }
    if !explicit.is_empty() {
        scan.setters.push(containers_phrase(&explicit));
    }
    scan
}

fn explicit_finding(scan: FieldScan<'_>) -> Outcome {
    if scan.setters.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.seccompProfile.type to {}",
        scan.setters.join(" and "),
        join_quote(&scan.bad_values)
    );
    Some(Finding::new("seccompProfile", detail, scan.paths))
}

/// Baseline v1.19: if set, `seccompProfile.type` must be `RuntimeDefault` or `Localhost`.
pub(crate) fn seccomp_profile_baseline_1_19(pod: &Pod<'_>) -> Outcome {
    explicit_finding(scan_fields(pod))
}

/// Restricted v1.19: the profile must be set (pod level, or on every container) to
/// `RuntimeDefault` or `Localhost`.
pub(crate) fn seccomp_profile_restricted_1_19(pod: &Pod<'_>) -> Outcome {
    let scan = scan_fields(pod);
    if !scan.setters.is_empty() {
        return explicit_finding(scan);
    }
    if scan.pod_valid || scan.unset.is_empty() {
        return None;
    }
    let names: Vec<&str> = scan.unset.iter().map(|(n, _)| *n).collect();
    let detail = format!(
        "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
        containers_phrase(&names)
    );
    let paths = scan.unset.into_iter().map(|(_, p)| p).collect();
    Some(Finding::new("seccompProfile", detail, paths))
}

/// Restricted v1.25: a Windows pod is exempt (the API server rejects seccomp there).
pub(crate) fn seccomp_profile_restricted_1_25(pod: &Pod<'_>) -> Outcome {
    if pod.is_windows() {
        return None;
    }
    seccomp_profile_restricted_1_19(pod)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn detail(f: fn(&Pod<'_>) -> Outcome, meta: &Value, spec: &Value) -> Option<String> {
        f(&Pod {
            metadata: meta,
            spec,
        })
        .map(|f| f.detail)
    }

    #[test]
    fn annotations_before_1_19() {
        let meta = json!({"annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/a": "docker/default",
            "container.seccomp.security.alpha.kubernetes.io/b": "foo",
            "container.seccomp.security.alpha.kubernetes.io/gone": "foo"
        }});
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            detail(seccomp_profile_baseline_1_0, &meta, &spec).as_deref(),
            Some(
                "forbidden annotations container.seccomp.security.alpha.kubernetes.io/b=\"foo\", seccomp.security.alpha.kubernetes.io/pod=\"unconfined\""
            )
        );
        // The field-based revision ignores the annotations.
        assert_eq!(detail(seccomp_profile_baseline_1_19, &meta, &spec), None);
    }

    #[test]
    fn restricted_explicit_then_implicit() {
        let meta = json!({});
        let explicit = json!({
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Bad"}}}, {"name": "b"}]
        });
        assert_eq!(
            detail(seccomp_profile_restricted_1_19, &meta, &explicit).as_deref(),
            Some(
                "pod and container \"a\" must not set securityContext.seccompProfile.type to \"Bad\", \"Unconfined\""
            )
        );
        let implicit = json!({"containers": [
            {"name": "a"},
            {"name": "b", "securityContext": {"seccompProfile": {"type": "Localhost"}}},
            {"name": "c", "securityContext": {}}
        ]});
        assert_eq!(
            detail(seccomp_profile_restricted_1_19, &meta, &implicit).as_deref(),
            Some(
                "pod or containers \"a\", \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\""
            )
        );
        assert_eq!(
            detail(seccomp_profile_baseline_1_19, &meta, &implicit),
            None
        );
        let mut windows = implicit;
        windows["os"] = json!({"name": "windows"});
        assert_eq!(
            detail(seccomp_profile_restricted_1_25, &meta, &windows),
            None
        );
    }
}
