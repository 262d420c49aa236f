//! Privileged execution: `privileged`, `windowsHostProcess`, `procMount`,
//! `procMount_restricted` and `allowPrivilegeEscalation` (`check_privileged.go`,
//! `check_windowsHostProcess.go`, `check_procMount_baseline.go`,
//! `check_procMount_restricted.go`, `check_allowPrivilegeEscalation.go`).

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, bool_field, containers_phrase, join_quote, object,
};

/// Privileged pods disable most security mechanisms and must be disallowed.
pub(crate) fn privileged_1_0(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        if c.security_context()
            .and_then(|sc| bool_field(sc, "privileged"))
            == Some(true)
        {
            names.push(c.name);
            paths.push(c.at("securityContext.privileged"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.privileged=true",
        containers_phrase(&names)
    );
    Some(Finding::new("privileged", detail, paths))
}

/// Windows HostProcess containers must not be allowed (pod or container level).
pub(crate) fn windows_host_process_1_0(pod: &Pod<'_>) -> Outcome {
    let host_process = |sc: &serde_json::Value| {
        object(sc, "windowsOptions").and_then(|w| bool_field(w, "hostProcess")) == Some(true)
    };
    let mut names = Vec::new();
    let mut paths = Vec::new();
    let pod_forbidden = pod.security_context().is_some_and(host_process);
    if pod_forbidden {
        paths.push("spec.securityContext.windowsOptions.hostProcess".to_owned());
    }
    for c in pod.containers() {
        if c.security_context().is_some_and(host_process) {
            names.push(c.name);
            paths.push(c.at("securityContext.windowsOptions.hostProcess"));
        }
    }
    let mut setters = Vec::new();
    if pod_forbidden {
        setters.push("pod".to_owned());
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    if setters.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.windowsOptions.hostProcess=true",
        setters.join(" and ")
    );
    Some(Finding::new("hostProcess", detail, paths))
}

/// The default /proc masks are required: `procMount` must be unset or `Default`.
pub(crate) fn proc_mount_1_0(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut types = SortedSet::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let Some(value) = c.sc_field("procMount") else {
            continue;
        };
        // A non-string value cannot decode into a Go `ProcMountType`; read it as text so the
        // pod is still refused rather than silently allowed.
        let text = value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        if text != "Default" {
            names.push(c.name);
            types.insert(text);
            paths.push(c.at("securityContext.procMount"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.procMount to {}",
        containers_phrase(&names),
        join_quote(&types)
    );
    Some(Finding::new("procMount", detail, paths))
}

/// Baseline `procMount` from policy v1.35: any value is allowed for a pod in a user namespace
/// (`hostUsers: false`); otherwise as in v1.0.
pub(crate) fn proc_mount_1_35_baseline(pod: &Pod<'_>) -> Outcome {
    if pod.in_user_namespace() {
        return None;
    }
    proc_mount_1_0(pod)
}

/// Privilege escalation must be disallowed: `allowPrivilegeEscalation` must be `false`
/// on every container.
pub(crate) fn allow_privilege_escalation_1_8(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let value = c
            .security_context()
            .and_then(|sc| bool_field(sc, "allowPrivilegeEscalation"));
        if value != Some(false) {
            names.push(c.name);
            paths.push(c.at("securityContext.allowPrivilegeEscalation"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must set securityContext.allowPrivilegeEscalation=false",
        containers_phrase(&names)
    );
    Some(Finding::new(
        "allowPrivilegeEscalation != false",
        detail,
        paths,
    ))
}

/// From policy v1.25 a Windows pod (`spec.os.name: windows`) is exempt: the API server
/// rejects the field for Windows pods anyway.
pub(crate) fn allow_privilege_escalation_1_25(pod: &Pod<'_>) -> Outcome {
    if pod.is_windows() {
        return None;
    }
    allow_privilege_escalation_1_8(pod)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn run(f: fn(&Pod<'_>) -> Outcome, spec: Value) -> Option<(String, String)> {
        let meta = json!({});
        f(&Pod {
            metadata: &meta,
            spec: &spec,
        })
        .map(|f| (f.reason, f.detail))
    }

    fn s(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.to_owned(), b.to_owned()))
    }

    #[test]
    fn privileged_detail() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"privileged": true}},
            {"name": "b", "securityContext": {"privileged": false}},
            {"name": "c", "securityContext": {"privileged": true}}
        ]});
        assert_eq!(
            run(privileged_1_0, spec),
            s(
                "privileged",
                "containers \"a\", \"c\" must not set securityContext.privileged=true"
            )
        );
    }

    #[test]
    fn windows_host_process_detail() {
        let spec = json!({
            "securityContext": {"windowsOptions": {"hostProcess": true}},
            "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}}]
        });
        assert_eq!(
            run(windows_host_process_1_0, spec),
            s(
                "hostProcess",
                "pod and container \"a\" must not set securityContext.windowsOptions.hostProcess=true"
            )
        );
    }

    #[test]
    fn proc_mount_user_namespace_relaxation_only_from_1_35_baseline() {
        let spec = json!({"hostUsers": false, "containers": [
            {"name": "d", "securityContext": {"procMount": "Unmasked"}},
            {"name": "e", "securityContext": {"procMount": "other"}},
            {"name": "f", "securityContext": {"procMount": "Default"}}
        ]});
        let want = s(
            "procMount",
            "containers \"d\", \"e\" must not set securityContext.procMount to \"Unmasked\", \"other\"",
        );
        assert_eq!(run(proc_mount_1_0, spec.clone()), want);
        assert_eq!(run(proc_mount_1_35_baseline, spec), None);
    }

    #[test]
    fn allow_privilege_escalation_requires_explicit_false() {
        let spec = json!({"containers": [
            {"name": "a"},
            {"name": "b", "securityContext": {"allowPrivilegeEscalation": true}},
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}
        ]});
        assert_eq!(
            run(allow_privilege_escalation_1_8, spec.clone()),
            s(
                "allowPrivilegeEscalation != false",
                "containers \"a\", \"b\" must set securityContext.allowPrivilegeEscalation=false"
            )
        );
        let mut windows = spec;
        windows["os"] = json!({"name": "windows"});
        assert!(run(allow_privilege_escalation_1_8, windows.clone()).is_some());
        assert_eq!(run(allow_privilege_escalation_1_25, windows), None);
    }
}
