//! Linux capabilities: `capabilities_baseline` and `capabilities_restricted`
//! (`check_capabilities_baseline.go`, `check_capabilities_restricted.go`).

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, containers_phrase, join_quote, object, str_items,
};

/// The default capability set a baseline container may add (`capabilities_allowed_1_0`).
const BASELINE_ALLOWED_1_0: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Adding capabilities beyond the default set must be disallowed.
pub(crate) fn capabilities_baseline_1_0(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut caps = SortedSet::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let Some(capabilities) = c
            .security_context()
            .and_then(|sc| object(sc, "capabilities"))
        else {
            continue;
        };
        let mut valid = true;
        for (j, cap) in str_items(capabilities, "add") {
            if !BASELINE_ALLOWED_1_0.contains(&cap) {
                valid = false;
                caps.insert(cap.to_owned());
                paths.push(c.at(&format!("securityContext.capabilities.add[{j}]")));
            }
        }
        if !valid {
            names.push(c.name);
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not include {} in securityContext.capabilities.add",
        containers_phrase(&names),
        join_quote(&caps)
    );
    Some(Finding::new("non-default capabilities", detail, paths))
}

/// Containers must drop `ALL` and may only add `NET_BIND_SERVICE` (policy v1.22+).
pub(crate) fn capabilities_restricted_1_22(pod: &Pod<'_>) -> Outcome {
    let mut missing_drop_all = Vec::new();
    let mut adding_forbidden = Vec::new();
    let mut forbidden = SortedSet::new();
    let mut paths = Vec::new();
    for c in pod.containers() {
        let Some(capabilities) = c
            .security_context()
            .and_then(|sc| object(sc, "capabilities"))
        else {
            missing_drop_all.push(c.name);
            paths.push(c.at("securityContext.capabilities.drop"));
            continue;
        };
        if !str_items(capabilities, "drop")
            .iter()
            .any(|(_, cap)| *cap == "ALL")
        {
            missing_drop_all.push(c.name);
            paths.push(c.at("securityContext.capabilities.drop"));
        }
        let mut added_forbidden = false;
        for (j, cap) in str_items(capabilities, "add") {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap.to_owned());
                paths.push(c.at(&format!("securityContext.capabilities.add[{j}]")));
            }
        }
        if added_forbidden {
            adding_forbidden.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    Some(Finding::new(
        "unrestricted capabilities",
        details.join("; "),
        paths,
    ))
}

/// From policy v1.25 a Windows pod is exempt (Linux capabilities do not apply to it).
pub(crate) fn capabilities_restricted_1_25(pod: &Pod<'_>) -> Outcome {
    if pod.is_windows() {
        return None;
    }
    capabilities_restricted_1_22(pod)
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

    #[test]
    fn baseline_lists_non_default_capabilities() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": ["FOO", "CHOWN"]}}},
            {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "NET_RAW"]}}},
            {"name": "c", "securityContext": {"capabilities": {"add": ["KILL"]}}}
        ]});
        assert_eq!(
            run(capabilities_baseline_1_0, spec),
            Some((
                "non-default capabilities".to_owned(),
                "containers \"a\", \"b\" must not include \"BAR\", \"FOO\", \"NET_RAW\" in securityContext.capabilities.add".to_owned()
            ))
        );
    }

    #[test]
    fn restricted_joins_both_details() {
        let spec = json!({"containers": [
            {"name": "a"},
            {"name": "b", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}},
            {"name": "c", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}
        ]});
        assert_eq!(
            run(capabilities_restricted_1_22, spec.clone()),
            Some((
                "unrestricted capabilities".to_owned(),
                "containers \"a\", \"c\" must set securityContext.capabilities.drop=[\"ALL\"]; container \"b\" must not include \"CHOWN\" in securityContext.capabilities.add".to_owned()
            ))
        );
        let mut windows = spec;
        windows["os"] = json!({"name": "windows"});
        assert!(run(capabilities_restricted_1_22, windows.clone()).is_some());
        assert_eq!(run(capabilities_restricted_1_25, windows), None);
    }
}
