//! Defensive access to a pod held as JSON, and the message helpers every check shares.
//!
//! Kubernetes decodes a pod into typed Go structs before Pod Security Admission sees it, so a
//! pointer field is either nil or a value of the right type. Here the pod is raw JSON that may
//! be slightly off-schema, so every accessor maps "missing", `null` and "wrong type" to nil:
//! a check never panics and never reports a field it cannot read.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One failed check before it is named and formatted: PSA's `ForbiddenReason`,
/// `ForbiddenDetail`, and the pod-relative paths of the offending fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) reason: String,
    pub(crate) detail: String,
    pub(crate) paths: Vec<String>,
}

impl Finding {
    pub(crate) fn new(
        reason: impl Into<String>,
        detail: impl Into<String>,
        paths: Vec<String>,
    ) -> Self {
        Finding {
            reason: reason.into(),
            detail: detail.into(),
            paths,
        }
    }
}

/// What a check function returns: `None` = allowed.
pub(crate) type Outcome = Option<Finding>;

/// The pod under evaluation: its `metadata` and `spec` objects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pod<'a> {
    pub(crate) metadata: &'a Value,
    pub(crate) spec: &'a Value,
}

/// A container as PSA's `visitContainers` hands it over, with its JSON path.
#[derive(Debug, Clone)]
pub(crate) struct Container<'a> {
    /// e.g. `spec.initContainers[0]`.
    pub(crate) path: String,
    pub(crate) name: &'a str,
    pub(crate) value: &'a Value,
}

impl<'a> Container<'a> {
    /// `container.securityContext`, if it is an object.
    pub(crate) fn security_context(&self) -> Option<&'a Value> {
        object(self.value, "securityContext")
    }

    /// A field of the security context that is present and not null.
    pub(crate) fn sc_field(&self, key: &str) -> Option<&'a Value> {
        self.security_context().and_then(|sc| field(sc, key))
    }

    /// `<container path>.<suffix>`.
    pub(crate) fn at(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.path)
    }
}

impl<'a> Pod<'a> {
    /// Every container in PSA's visiting order: init containers, containers, then ephemeral
    /// containers (an `EphemeralContainerCommon` has the same fields as a `Container`).
    pub(crate) fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(items) = self.spec.get(list).and_then(Value::as_array) else {
                continue;
            };
            for (i, value) in items.iter().enumerate() {
                if !value.is_object() {
                    continue;
                }
                out.push(Container {
                    path: format!("spec.{list}[{i}]"),
                    name: value.get("name").and_then(Value::as_str).unwrap_or(""),
                    value,
                });
            }
        }
        out
    }

    /// `spec.securityContext`, if it is an object.
    pub(crate) fn security_context(&self) -> Option<&'a Value> {
        object(self.spec, "securityContext")
    }

    /// A field of the pod security context that is present and not null.
    pub(crate) fn sc_field(&self, key: &str) -> Option<&'a Value> {
        self.security_context().and_then(|sc| field(sc, key))
    }

    /// `metadata.annotations` as (key, string value) pairs; non-string values are skipped.
    pub(crate) fn annotations(&self) -> Vec<(&'a str, &'a str)> {
        object(self.metadata, "annotations")
            .and_then(Value::as_object)
            .map(|m: &'a Map<String, Value>| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One annotation's string value.
    pub(crate) fn annotation(&self, key: &str) -> Option<&'a str> {
        object(self.metadata, "annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// `spec.os.name == "windows"` (the OS-based relaxations of policy v1.25+).
    pub(crate) fn is_windows(&self) -> bool {
        object(self.spec, "os")
            .and_then(|os| os.get("name"))
            .and_then(Value::as_str)
            == Some("windows")
    }

    /// `spec.hostUsers` is explicitly `false`: the pod runs in a user namespace.
    pub(crate) fn in_user_namespace(&self) -> bool {
        self.spec.get("hostUsers").and_then(Value::as_bool) == Some(false)
    }
}

/// `v[key]` when present and not null.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// `v[key]` when it is an object (Go: a non-nil struct pointer).
pub(crate) fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| x.is_object())
}

/// `v[key]` as a string; missing, null or non-string read as Go's zero value `""`.
pub(crate) fn str_or_empty<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `v[key]` as a bool, when it is one.
pub(crate) fn bool_field(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// `v[key]` as an integer, when it is one (an integral float such as `0.0` counts).
pub(crate) fn int_field(v: &Value, key: &str) -> Option<i64> {
    let x = v.get(key)?;
    x.as_i64().or_else(|| {
        x.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// `v[key]` as an array of strings; non-string items are skipped, with their indices kept.
pub(crate) fn str_items<'a>(v: &'a Value, key: &str) -> Vec<(usize, &'a str)> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, x)| x.as_str().map(|s| (i, s)))
                .collect()
        })
        .unwrap_or_default()
}

/// PSA's `joinQuote`: `"a", "b"`, or empty for no items.
pub(crate) fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
    if items.is_empty() {
        return String::new();
    }
    format!("\"{}\"", items.join("\", \""))
}

/// PSA's `pluralize`.
pub(crate) fn pluralize<'s>(singular: &'s str, plural: &'s str, count: usize) -> &'s str {
    if count == 1 { singular } else { plural }
}

/// `container "a"` / `containers "a", "b"`.
pub(crate) fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Sorted, de-duplicated set (Go `sets.String.List()`).
pub(crate) type SortedSet = BTreeSet<String>;

/// Go's `%q` for a string (`strconv.Quote`): double quotes, backslash escapes for quotes,
/// backslashes and control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Path of an annotation: `metadata.annotations["key"]`.
pub(crate) fn annotation_path(key: &str) -> String {
    let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""));
    format!("metadata.annotations[{quoted}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn join_quote_matches_go() {
        assert_eq!(join_quote(Vec::<String>::new()), "");
        assert_eq!(join_quote(["a"]), "\"a\"");
        assert_eq!(join_quote(["a", "b"]), "\"a\", \"b\"");
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("unconfined"), "\"unconfined\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
    }

    #[test]
    fn containers_skip_wrong_types_and_keep_indices() {
        let spec = json!({
            "initContainers": [{"name": "i"}],
            "containers": ["oops", {"name": "c"}, {"name": 5}],
            "ephemeralContainers": {"not": "a list"}
        });
        let meta = json!({});
        let pod = Pod {
            metadata: &meta,
            spec: &spec,
        };
        let got: Vec<(String, &str)> = pod
            .containers()
            .into_iter()
            .map(|c| (c.path, c.name))
            .collect();
        assert_eq!(
            got,
            vec![
                ("spec.initContainers[0]".to_owned(), "i"),
                ("spec.containers[1]".to_owned(), "c"),
                ("spec.containers[2]".to_owned(), ""),
            ]
        );
    }

    #[test]
    fn accessors_treat_null_and_wrong_types_as_nil() {
        let v = json!({"a": null, "b": "x", "c": {}, "n": 0.0, "m": "0"});
        assert!(field(&v, "a").is_none());
        assert!(object(&v, "b").is_none());
        assert!(object(&v, "c").is_some());
        assert_eq!(int_field(&v, "n"), Some(0));
        assert_eq!(int_field(&v, "m"), None);
        assert_eq!(str_or_empty(&v, "c"), "");
    }

    #[test]
    fn annotation_paths_are_quoted() {
        assert_eq!(
            annotation_path("container.apparmor.security.beta.kubernetes.io/app"),
            "metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/app\"]"
        );
    }
}
