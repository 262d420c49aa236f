//! Gatekeeper's `spec.match` criteria: kinds, scope, namespaces, excludedNamespaces,
//! labelSelector, namespaceSelector, name.

use serde_json::Value;

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Gatekeeper's wildcards (`util.Wildcard`): `prefix*`, `*suffix`, `*infix*`, or an exact name.
fn glob(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) if pattern.len() >= 2 => name.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), _) => name.ends_with(suffix),
        (None, Some(prefix)) => name.starts_with(prefix),
        (None, None) => pattern == name,
    }
}

/// Kubernetes label selector semantics (matchLabels and matchExpressions). An invalid selector
/// (unknown operator, `In` without values, `Exists` with values) is an error, as in Kubernetes.
pub(crate) fn selector_matches(selector: &Value, labels: Option<&Value>) -> Result<bool, String> {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let mut ok = true;
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let want = v
                .as_str()
                .ok_or_else(|| format!("matchLabels value of {k:?} is not a string"))?;
            ok &= label(k) == Some(want);
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
        let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
        ok &= match op {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!("operator {op} for key {key:?} needs values"));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!("operator {op} for key {key:?} takes no values"));
            }
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
    }
    Ok(ok)
}

/// Whether constraint `c` applies to `obj`, with Gatekeeper's `match` semantics.
/// `ns_name` is the namespace the request is in and `namespace` its Namespace object, when
/// known; a `namespaceSelector` on a namespaced object whose Namespace is unknown is an error,
/// as in Gatekeeper.
pub(crate) fn matches(
    c: &Value,
    obj: &Value,
    ns_name: Option<&str>,
    namespace: Option<&Value>,
) -> Result<bool, String> {
    let Some(m) = c.pointer("/spec/match").filter(|m| !m.is_null()) else {
        return Ok(true);
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_namespace = kind == "Namespace" && group.is_empty();
    let obj_ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let ns_name = ns_name.filter(|s| !s.is_empty());
    // The namespace an object is "in" for namespace criteria: a Namespace is in itself.
    let ns_for_match = if is_namespace {
        Some(name)
    } else {
        ns_name.or(obj_ns)
    };
    let has_namespace = obj_ns.is_some() || namespace.is_some();

    if let Some(kinds) = m.get("kinds").and_then(Value::as_array)
        && !kinds.is_empty()
        && !kinds.iter().any(|k| {
            let groups = strs(k.get("apiGroups"));
            let ks = strs(k.get("kinds"));
            (ks.is_empty() || ks.iter().any(|x| *x == "*" || *x == kind))
                && (groups.is_empty() || groups.iter().any(|g| *g == "*" || *g == group))
        })
    {
        return Ok(false);
    }
    match m.get("scope").and_then(Value::as_str) {
        // Cluster: Namespaces and objects without a namespace.
        Some("Cluster") if !is_namespace && has_namespace => return Ok(false),
        // Namespaced: objects in a namespace, not Namespaces.
        Some("Namespaced") if is_namespace || !has_namespace => return Ok(false),
        _ => {}
    }
    let namespaces = strs(m.get("namespaces"));
    if !namespaces.is_empty()
        && let Some(n) = ns_for_match
        && !namespaces.iter().any(|p| glob(p, n))
    {
        return Ok(false);
    }
    let excluded = strs(m.get("excludedNamespaces"));
    if let Some(n) = ns_for_match
        && excluded.iter().any(|p| glob(p, n))
    {
        return Ok(false);
    }
    if let Some(sel) = m.get("labelSelector").filter(|s| !s.is_null())
        && !selector_matches(sel, obj.pointer("/metadata/labels"))?
    {
        return Ok(false);
    }
    if let Some(sel) = m.get("namespaceSelector").filter(|s| !s.is_null()) {
        let labels = if is_namespace {
            obj.pointer("/metadata/labels")
        } else if let Some(nsobj) = namespace {
            nsobj.pointer("/metadata/labels")
        } else if obj_ns.is_none() {
            // non-Namespace cluster-scoped objects always match
            return name_matches(m, name);
        } else {
            return Err(format!(
                "namespaceSelector needs Namespace {:?}, which is not in the inventory",
                ns_for_match.unwrap_or_default()
            ));
        };
        if !selector_matches(sel, labels)? {
            return Ok(false);
        }
    }
    name_matches(m, name)
}

fn name_matches(m: &Value, name: &str) -> Result<bool, String> {
    Ok(match m.get("name").and_then(Value::as_str) {
        Some(pattern) if !pattern.is_empty() => glob(pattern, name),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn c(m: Value) -> Value {
        json!({"spec": {"match": m}})
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "team-a", "labels": {"app": "x"}}})
    }

    fn m(constraint: Value, obj: &Value) -> bool {
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        matches(&constraint, obj, ns, None).unwrap()
    }

    #[test]
    fn kinds_need_group_and_kind_in_one_entry() {
        let pod = pod();
        assert!(m(
            c(json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]})),
            &pod
        ));
        assert!(m(
            c(json!({"kinds": [{"apiGroups": ["*"], "kinds": ["*"]}]})),
            &pod
        ));
        assert!(m(c(json!({"kinds": [{"kinds": ["Pod"]}]})), &pod));
        assert!(!m(
            c(json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]})),
            &pod
        ));
        assert!(!m(
            c(
                json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}, {"apiGroups": [""], "kinds": ["Service"]}]})
            ),
            &pod
        ));
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        assert!(m(
            c(json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]})),
            &deploy
        ));
        assert!(!m(
            c(json!({"kinds": [{"apiGroups": [""], "kinds": ["Deployment"]}]})),
            &deploy
        ));
    }

    #[test]
    fn namespace_globs_and_exclusions() {
        let pod = pod();
        assert!(m(c(json!({"namespaces": ["team-*"]})), &pod));
        assert!(m(c(json!({"namespaces": ["*-a"]})), &pod));
        assert!(m(c(json!({"namespaces": ["*eam*"]})), &pod));
        assert!(!m(c(json!({"namespaces": ["team-b"]})), &pod));
        assert!(!m(c(json!({"excludedNamespaces": ["*-a"]})), &pod));
        assert!(m(c(json!({"excludedNamespaces": ["kube-*"]})), &pod));
        // A Namespace is in itself; cluster-scoped objects are not filtered by namespace.
        let ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}});
        assert!(!m(c(json!({"excludedNamespaces": ["kube-*"]})), &ns));
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        assert!(m(c(json!({"namespaces": ["team-a"]})), &node));
    }

    #[test]
    fn scope_and_name() {
        let pod = pod();
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        assert!(!m(c(json!({"scope": "Cluster"})), &pod));
        assert!(m(c(json!({"scope": "Cluster"})), &ns));
        assert!(m(c(json!({"scope": "Cluster"})), &node));
        assert!(m(c(json!({"scope": "Namespaced"})), &pod));
        assert!(!m(c(json!({"scope": "Namespaced"})), &ns));
        assert!(m(c(json!({"scope": "*"})), &node));
        assert!(m(c(json!({"name": "web-*"})), &pod));
        assert!(!m(c(json!({"name": "db-*"})), &pod));
        assert!(m(c(json!({"name": ""})), &pod));
    }

    #[test]
    fn label_selectors() {
        let pod = pod();
        let sel = |s: Value| c(json!({"labelSelector": s}));
        assert!(m(
            sel(json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]})),
            &pod
        ));
        assert!(!m(
            sel(
                json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]})
            ),
            &pod
        ));
        assert!(m(
            sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]})
            ),
            &pod
        ));
        assert!(m(
            sel(json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})),
            &pod
        ));
        assert!(m(
            sel(json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})),
            &pod
        ));
        assert!(!m(sel(json!({"matchLabels": {"app": "y"}})), &pod));
        assert!(m(sel(json!({"matchLabels": {"app": "x"}})), &pod));
        assert!(
            matches(
                &sel(
                    json!({"matchExpressions": [{"key": "app", "operator": "Is", "values": ["x"]}]})
                ),
                &pod,
                None,
                None
            )
            .is_err()
        );
        assert!(
            matches(
                &sel(json!({"matchExpressions": [{"key": "app", "operator": "In", "values": []}]})),
                &pod,
                None,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn namespace_selector_uses_the_namespace_object() {
        let pod = pod();
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}});
        let prod = c(json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}}));
        let dev = c(json!({"namespaceSelector": {"matchLabels": {"env": "dev"}}}));
        assert!(matches(&prod, &pod, Some("team-a"), Some(&ns)).unwrap());
        assert!(!matches(&dev, &pod, Some("team-a"), Some(&ns)).unwrap());
        // the Namespace itself is selected by its own labels
        assert!(matches(&prod, &ns, None, None).unwrap());
        // cluster-scoped objects always match; a namespaced object needs its Namespace
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        assert!(matches(&dev, &node, None, None).unwrap());
        assert!(matches(&prod, &pod, Some("team-a"), None).is_err());
    }
}
