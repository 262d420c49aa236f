//! Validation of a constraint against its template, as Gatekeeper does when a constraint is
//! added: `spec.parameters` against the template's `openAPIV3Schema` (the structural-schema
//! subset Kubernetes CRDs use: `type`, `enum`, `properties`, `additionalProperties`, `items`,
//! `required`, `nullable`, numeric and length bounds, `pattern`,
//! `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`; combinators such as
//! `anyOf` are not checked), and the label selectors of `spec.match`.

use serde_json::Value;

use crate::matcher::selector_matches;

/// Checks a constraint; returns every problem found (empty when valid).
pub(crate) fn validate_constraint(constraint: &Value, schema: Option<&Value>) -> Vec<String> {
    let mut problems = Vec::new();
    if let (Some(schema), Some(params)) = (schema, constraint.pointer("/spec/parameters")) {
        check(schema, params, "spec.parameters", &mut problems);
    }
    for key in ["labelSelector", "namespaceSelector"] {
        if let Some(sel) = constraint
            .pointer(&format!("/spec/match/{key}"))
            .filter(|s| !s.is_null())
            && let Err(e) = selector_matches(sel, None)
        {
            problems.push(format!("spec.match.{key}: {e}"));
        }
    }
    problems
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, v: &Value, path: &str, problems: &mut Vec<String>) {
    if v.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true)
            && schema.get("type").is_some()
        {
            problems.push(format!("{path}: must not be null"));
        }
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    let actual = type_name(v);
    if int_or_string {
        if actual != "integer" && actual != "string" {
            problems.push(format!(
                "{path}: must be an integer or a string, got {actual}"
            ));
            return;
        }
    } else if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let ok = want == actual || (want == "number" && actual == "integer");
        if !ok {
            problems.push(format!("{path}: must be of type {want}, got {actual}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        problems.push(format!(
            "{path}: {v} is not one of {}",
            Value::from(values.clone())
        ));
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(req) {
                    problems.push(format!("{path}.{req}: required"));
                }
            }
            for (k, item) in map {
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    check(s, item, &format!("{path}.{k}"), problems);
                } else if let Some(s) = schema.get("additionalProperties").filter(|s| s.is_object())
                {
                    check(s, item, &format!("{path}.{k}"), problems);
                }
            }
        }
        Value::Array(items) => {
            bound(
                schema,
                "minItems",
                "maxItems",
                items.len(),
                path,
                "items",
                problems,
            );
            if let Some(s) = schema.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    check(s, item, &format!("{path}[{i}]"), problems);
                }
            }
        }
        Value::String(s) => {
            bound(
                schema,
                "minLength",
                "maxLength",
                s.chars().count(),
                path,
                "characters",
                problems,
            );
            if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                && let Ok(re) = regex::Regex::new(p)
                && !re.is_match(s)
            {
                problems.push(format!("{path}: {s:?} does not match {p:?}"));
            }
        }
        Value::Number(n) => {
            if let (Some(x), Some(min)) =
                (n.as_f64(), schema.get("minimum").and_then(Value::as_f64))
                && x < min
            {
                problems.push(format!("{path}: {x} is below the minimum {min}"));
            }
            if let (Some(x), Some(max)) =
                (n.as_f64(), schema.get("maximum").and_then(Value::as_f64))
                && x > max
            {
                problems.push(format!("{path}: {x} is above the maximum {max}"));
            }
        }
        _ => {}
    }
}

fn bound(
    schema: &Value,
    min_key: &str,
    max_key: &str,
    n: usize,
    path: &str,
    unit: &str,
    problems: &mut Vec<String>,
) {
    let n = n as u64;
    if let Some(min) = schema.get(min_key).and_then(Value::as_u64)
        && n < min
    {
        problems.push(format!("{path}: {n} {unit}, fewer than {min}"));
    }
    if let Some(max) = schema.get(max_key).and_then(Value::as_u64)
        && n > max
    {
        problems.push(format!("{path}: {n} {unit}, more than {max}"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parameters_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "labels": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
                "key": {"type": "string"}, "allowedRegex": {"type": "string"}}}},
            "rule": {"type": "string", "enum": ["MustRunAs", "RunAsAny"]},
            "max": {"type": "integer", "minimum": 0},
            "cpu": {"x-kubernetes-int-or-string": true},
            "other": {"type": "object", "nullable": true}}});
        let c = |params: Value| json!({"spec": {"parameters": params}});
        assert!(validate_constraint(&c(json!({"labels": [{"key": "owner"}], "rule": "RunAsAny", "max": 3, "cpu": "1", "other": null, "unknown": 1})), Some(&schema)).is_empty());
        let bad = validate_constraint(
            &c(json!({"labels": [{"allowedRegex": 1}], "rule": "Maybe", "max": -1, "cpu": true})),
            Some(&schema),
        );
        assert_eq!(bad.len(), 5, "{bad:?}");
        let sel = json!({"spec": {"match": {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}}});
        assert_eq!(validate_constraint(&sel, None).len(), 1);
    }
}
