//! AppArmor: `appArmorProfile` (`check_appArmorProfile.go`).
//!
//! One revision at policy v1.0 that reads both channels: the `appArmorProfile` fields (pod and
//! containers; GA in Kubernetes 1.30, patched into the v1.0 function, so every pinned version
//! checks them) and the deprecated `container.apparmor.security.beta.kubernetes.io/*`
//! annotations.

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, annotation_path, containers_phrase, go_quote, join_quote,
    object, pluralize, str_or_empty,
};

const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_annotation_value(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

fn allowed_profile_type(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

/// Overriding or disabling the default AppArmor profile must be restricted to
/// `RuntimeDefault` / `Localhost` (fields) and `runtime/default` / `localhost/*` (annotations).
pub(crate) fn app_armor_profile_1_0(pod: &Pod<'_>) -> Outcome {
    let mut setters = Vec::new();
    let mut bad_values = SortedSet::new();
    let mut paths = Vec::new();

    if let Some(profile) = pod
        .security_context()
        .and_then(|sc| object(sc, "appArmorProfile"))
    {
        let t = str_or_empty(profile, "type");
        if !allowed_profile_type(t) {
            setters.push("pod".to_owned());
            bad_values.insert(t.to_owned());
            paths.push("spec.securityContext.appArmorProfile.type".to_owned());
        }
    }

    let mut names = Vec::new();
    for c in pod.containers() {
        let Some(profile) = c
            .security_context()
            .and_then(|sc| object(sc, "appArmorProfile"))
        else {
            continue;
        };
        let t = str_or_empty(profile, "type");
        if !allowed_profile_type(t) {
            names.push(c.name);
            bad_values.insert(t.to_owned());
            paths.push(c.at("securityContext.appArmorProfile.type"));
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }

    let mut bad_annotations: Vec<(String, String)> = pod
        .annotations()
        .into_iter()
        .filter(|(k, v)| k.starts_with(ANNOTATION_PREFIX) && !allowed_annotation_value(v))
        .map(|(k, v)| (format!("{k}={}", go_quote(v)), annotation_path(k)))
        .collect();
    bad_annotations.sort();

    let mut bad_value_list: Vec<String> = bad_values.into_iter().collect();
    if !bad_annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", bad_annotations.len()).to_owned());
        for (text, path) in bad_annotations {
            bad_value_list.push(text);
            paths.push(path);
        }
    }

    if setters.is_empty() {
        return None;
    }
    let reason = pluralize(
        "forbidden AppArmor profile",
        "forbidden AppArmor profiles",
        bad_value_list.len(),
    );
    let detail = format!(
        "{} must not set AppArmor profile type to {}",
        setters.join(" and "),
        join_quote(&bad_value_list)
    );
    Some(Finding::new(reason, detail, paths))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_and_annotations_are_both_reported() {
        let meta = json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/b": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/a": "localhost/foo",
            "container.apparmor.security.beta.kubernetes.io/c": "runtime/default",
            "other": "unconfined"
        }});
        let spec = json!({
            "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [
                {"name": "x", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}},
                {"name": "y", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}
            ]
        });
        let f = app_armor_profile_1_0(&Pod {
            metadata: &meta,
            spec: &spec,
        });
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.reason, "forbidden AppArmor profiles");
        assert_eq!(
            f.detail,
            "pod and container \"y\" and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/b=\"unconfined\"\""
        );
        assert_eq!(
            f.paths,
            [
                "spec.securityContext.appArmorProfile.type",
                "spec.containers[1].securityContext.appArmorProfile.type",
                "metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/b\"]"
            ]
        );
    }

    #[test]
    fn allowed_values_pass() {
        let meta = json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": ""}});
        let spec = json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}});
        assert!(
            app_armor_profile_1_0(&Pod {
                metadata: &meta,
                spec: &spec
            })
            .is_none()
        );
    }
}
