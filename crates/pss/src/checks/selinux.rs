//! SELinux: `seLinuxOptions` (`check_seLinuxOptions.go`).

use serde_json::Value;

use crate::pod::{
    Finding, Outcome, Pod, SortedSet, containers_phrase, join_quote, object, pluralize,
    str_or_empty,
};

/// `selinuxAllowedTypes1_0`.
const ALLOWED_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
/// `selinuxAllowedTypes1_31`: adds `container_engine_t`.
const ALLOWED_TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Setting the SELinux type is restricted, and a custom SELinux user or role is forbidden.
pub(crate) fn se_linux_options_1_0(pod: &Pod<'_>) -> Outcome {
    se_linux_options(pod, ALLOWED_TYPES_1_0)
}

/// As v1.0, with `container_engine_t` also allowed (policy v1.31+).
pub(crate) fn se_linux_options_1_31(pod: &Pod<'_>) -> Outcome {
    se_linux_options(pod, ALLOWED_TYPES_1_31)
}

fn se_linux_options(pod: &Pod<'_>, allowed: &[&str]) -> Outcome {
    let mut bad_types = SortedSet::new();
    let mut set_user = false;
    let mut set_role = false;
    let mut paths = Vec::new();
    let mut valid = |opts: &Value, prefix: &str, paths: &mut Vec<String>| {
        let mut ok = true;
        let t = str_or_empty(opts, "type");
        if !allowed.contains(&t) {
            ok = false;
            bad_types.insert(t.to_owned());
            paths.push(format!("{prefix}.type"));
        }
        if !str_or_empty(opts, "user").is_empty() {
            ok = false;
            set_user = true;
            paths.push(format!("{prefix}.user"));
        }
        if !str_or_empty(opts, "role").is_empty() {
            ok = false;
            set_role = true;
            paths.push(format!("{prefix}.role"));
        }
        ok
    };

    let mut setters = Vec::new();
    if let Some(opts) = pod
        .security_context()
        .and_then(|sc| object(sc, "seLinuxOptions"))
        && !valid(opts, "spec.securityContext.seLinuxOptions", &mut paths)
    {
        setters.push("pod".to_owned());
    }
    let mut names = Vec::new();
    for c in pod.containers() {
        if let Some(opts) = c
            .security_context()
            .and_then(|sc| object(sc, "seLinuxOptions"))
            && !valid(opts, &c.at("securityContext.seLinuxOptions"), &mut paths)
        {
            names.push(c.name);
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&bad_types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_owned());
    }
    if set_role {
        data.push("role may not be set".to_owned());
    }
    let detail = format!(
        "{} set forbidden securityContext.seLinuxOptions: {}",
        setters.join(" and "),
        data.join("; ")
    );
    Some(Finding::new("seLinuxOptions", detail, paths))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn detail(f: fn(&Pod<'_>) -> Outcome, spec: &Value) -> Option<String> {
        let meta = json!({});
        f(&Pod {
            metadata: &meta,
            spec,
        })
        .map(|f| f.detail)
    }

    /// check_seLinuxOptions_test.go "invalid pod and containers".
    #[test]
    fn upstream_table_case() {
        let spec = json!({
            "securityContext": {"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
            "containers": [
                {"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_t"}}},
                {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}},
                {"name": "c", "securityContext": {"seLinuxOptions": {"type": "container_kvm_t"}}},
                {"name": "d", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
                {"name": "e", "securityContext": {"seLinuxOptions": {"user": "bar"}}},
                {"name": "f", "securityContext": {"seLinuxOptions": {"role": "baz"}}}
            ]
        });
        assert_eq!(
            detail(se_linux_options_1_0, &spec).as_deref(),
            Some(
                "pod and containers \"d\", \"e\", \"f\" set forbidden securityContext.seLinuxOptions: types \"bar\", \"foo\"; user may not be set; role may not be set"
            )
        );
    }

    #[test]
    fn container_engine_t_allowed_from_1_31() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}
        ]});
        assert_eq!(
            detail(se_linux_options_1_0, &spec).as_deref(),
            Some(
                "container \"a\" set forbidden securityContext.seLinuxOptions: type \"container_engine_t\""
            )
        );
        assert_eq!(detail(se_linux_options_1_31, &spec), None);
    }

    #[test]
    fn user_alone_is_reported() {
        let spec = json!({"securityContext": {"seLinuxOptions": {"user": "u"}}});
        assert_eq!(
            detail(se_linux_options_1_31, &spec).as_deref(),
            Some("pod set forbidden securityContext.seLinuxOptions: user may not be set")
        );
    }
}
