//! Gatekeeper's `spec.match` criteria: kinds, scope, namespaces, excludedNamespaces,
//! labelSelector, namespaceSelector, name.

use serde_json::Value;

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Gatekeeper's namespace globs: `prefix*`, `*suffix`, or an exact name.
fn glob(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        pattern == name
    }
}

/// Kubernetes label selector semantics (matchLabels and matchExpressions).
pub(crate) fn selector_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if label(k) != v.as_str() {
                return false;
            }
        }
    }
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values = strs(e.get("values"));
        let have = label(key);
        let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether constraint `c` applies to `obj`; `namespace` looks a Namespace object up by name.
pub(crate) fn matches<'a>(
    c: &Value,
    obj: &Value,
    namespace: impl Fn(&str) -> Option<&'a Value>,
) -> bool {
    let m = c.pointer("/spec/match").unwrap_or(&Value::Null);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_namespace = kind == "Namespace" && group.is_empty();
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    // the namespace an object is "in" for namespace criteria: a Namespace is in itself
    let ns_for_match = if is_namespace { Some(name) } else { ns };

    if let Some(kinds) = m.get("kinds").and_then(Value::as_array)
        && !kinds.is_empty()
        && !kinds.iter().any(|k| {
            let groups = strs(k.get("apiGroups"));
            let ks = strs(k.get("kinds"));
            (groups.is_empty() || groups.iter().any(|g| *g == "*" || *g == group))
                && (ks.is_empty() || ks.iter().any(|x| *x == "*" || *x == kind))
        })
    {
        return false;
    }
    match m.get("scope").and_then(Value::as_str) {
        Some("Cluster") if ns.is_some() => return false,
        Some("Namespaced") if ns.is_none() => return false,
        _ => {}
    }
    let namespaces = strs(m.get("namespaces"));
    if !namespaces.is_empty()
        && let Some(n) = ns_for_match
        && !namespaces.iter().any(|p| glob(p, n))
    {
        return false;
    }
    let excluded = strs(m.get("excludedNamespaces"));
    if let Some(n) = ns_for_match
        && excluded.iter().any(|p| glob(p, n))
    {
        return false;
    }
    if let Some(pattern) = m.get("name").and_then(Value::as_str)
        && !glob(pattern, name)
    {
        return false;
    }
    if let Some(sel) = m.get("labelSelector")
        && !selector_matches(sel, obj.pointer("/metadata/labels"))
    {
        return false;
    }
    if let Some(sel) = m.get("namespaceSelector") {
        let labels = if is_namespace {
            obj.pointer("/metadata/labels")
        } else if let Some(n) = ns {
            match namespace(n) {
                Some(nsobj) => nsobj.pointer("/metadata/labels"),
                None => return false,
            }
        } else {
            return true;
        };
        if !selector_matches(sel, labels) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn c(m: Value) -> Value {
        json!({"spec": {"match": m}})
    }

    #[test]
    fn kinds_namespaces_and_selectors() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a", "labels": {"app": "x"}}});
        let none = |_: &str| None;
        assert!(matches(
            &c(json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]})),
            &pod,
            none
        ));
        assert!(!matches(
            &c(json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]})),
            &pod,
            none
        ));
        assert!(matches(&c(json!({"namespaces": ["team-*"]})), &pod, none));
        assert!(!matches(
            &c(json!({"excludedNamespaces": ["*-a"]})),
            &pod,
            none
        ));
        assert!(!matches(&c(json!({"scope": "Cluster"})), &pod, none));
        assert!(matches(
            &c(
                json!({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}})
            ),
            &pod,
            none
        ));
        assert!(!matches(
            &c(json!({"labelSelector": {"matchLabels": {"app": "y"}}})),
            &pod,
            none
        ));
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}});
        let lookup = |n: &str| (n == "team-a").then_some(&ns);
        assert!(matches(
            &c(json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}})),
            &pod,
            lookup
        ));
        assert!(!matches(
            &c(json!({"namespaceSelector": {"matchLabels": {"env": "dev"}}})),
            &pod,
            lookup
        ));
    }
}
