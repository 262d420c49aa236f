//! `gator verify`: Gatekeeper suite files (`test.gatekeeper.sh/v1alpha1`, kind `Suite`).
//!
//! Semantics follow gator's runner:
//! - paths in a suite are relative to the suite file; a directory argument is searched for
//!   suite files (`.yaml`/`.yml` files holding a `Suite`);
//! - `skip` on a suite, test or case skips it (reported as passed, detail `skipped`);
//! - each test names a `template` and a `constraint` (one object); each case an `object` file
//!   holding exactly one object (or an `admission.k8s.io` AdmissionReview, whose request is the
//!   review; on DELETE the old object is the object under review), optional `inventory` files
//!   whose objects become `data.inventory` (and the Namespaces the match criteria look up),
//!   and at least one assertion;
//! - the constraint's `match` decides whether the template runs at all (object or old object);
//! - an assertion `violations: yes | no | N` (default `yes`) with an optional `message`, a
//!   regular expression: `yes` needs at least one violation whose message matches, `no` none,
//!   `N` exactly N;
//! - a constraint is validated against its template when added (parameters against the
//!   template's schema, label selectors); a test with `invalid: true` passes when that fails
//!   (it is reported as one result with an empty case name), any other test fails all its
//!   cases when it does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use palisade_inventory::{LoadOptions, LoadReport};
use serde_json::Value;

use crate::{
    Error, Evaluator, Template, compile_template, inventory_data, matcher, relative_to, review_of,
    str_at, to_rego,
};

/// The outcome of one suite case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseResult {
    /// Suite file.
    pub suite: String,
    /// Test name.
    pub test: String,
    /// Case name.
    pub case: String,
    /// Whether every assertion held (skipped cases count as passed).
    pub passed: bool,
    /// What happened: on failure, expected against actual, with the messages seen.
    pub detail: String,
}

/// Options of [`verify_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Run the CEL (`K8sNativeValidation`) implementation of templates that have both CEL and
    /// Rego (like gator's `--enable-k8s-native-validation`); by default Rego is used.
    pub prefer_cel: bool,
}

fn load_objects(path: &Path) -> Result<Vec<Value>, String> {
    if !path.is_file() {
        return Err(format!("{}: no such file", path.display()));
    }
    let r = LoadReport::load_paths(&[path], &LoadOptions::default());
    if let Some(e) = r.errors.first() {
        return Err(e.to_string());
    }
    Ok(r.inventory.objects.into_iter().map(|o| o.raw).collect())
}

fn is_suite_file(path: &Path) -> bool {
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    yaml && std::fs::read_to_string(path).is_ok_and(|s| {
        s.contains("test.gatekeeper.sh/") && s.lines().any(|l| l.trim() == "kind: Suite")
    })
}

/// Runs every suite file (directories are searched for suite files), with Rego preferred.
pub fn verify(suite_paths: &[PathBuf]) -> Result<Vec<CaseResult>, Error> {
    verify_with(suite_paths, &VerifyOptions::default())
}

/// Runs every suite file (directories are searched for suite files).
pub fn verify_with(
    suite_paths: &[PathBuf],
    options: &VerifyOptions,
) -> Result<Vec<CaseResult>, Error> {
    let mut files = Vec::new();
    for p in suite_paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                if e.file_type().is_file() && is_suite_file(e.path()) {
                    files.push(e.into_path());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        out.extend(verify_suite(&f, options)?);
    }
    Ok(out)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

fn verify_suite(file: &Path, options: &VerifyOptions) -> Result<Vec<CaseResult>, Error> {
    let name = file.display().to_string();
    let suite_err = |message: String| Error::Suite {
        file: name.clone(),
        message,
    };
    let suite = load_objects(file)
        .map_err(suite_err)?
        .into_iter()
        .find(|o| {
            str_of(o, "kind") == "Suite"
                && str_of(o, "apiVersion").starts_with("test.gatekeeper.sh/")
        })
        .ok_or_else(|| suite_err("no test.gatekeeper.sh Suite in the file".into()))?;
    let suite_skipped = is_true(&suite, "skip");
    let mut templates: HashMap<PathBuf, Result<Template, String>> = HashMap::new();
    let mut out = Vec::new();
    for test in suite
        .get("tests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tname = str_of(test, "name").to_owned();
        let result = |case: &str, passed: bool, detail: String| CaseResult {
            suite: name.clone(),
            test: tname.clone(),
            case: case.to_owned(),
            passed,
            detail,
        };
        let cases: Vec<&Value> = test
            .get("cases")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let fail_all = |out: &mut Vec<CaseResult>, e: &str| {
            if cases.is_empty() {
                out.push(result("", false, e.to_owned()));
            }
            out.extend(
                cases
                    .iter()
                    .map(|c| result(str_of(c, "name"), false, e.to_owned())),
            );
        };
        if suite_skipped || is_true(test, "skip") {
            out.extend(
                cases
                    .iter()
                    .map(|c| result(str_of(c, "name"), true, "skipped".into())),
            );
            continue;
        }
        let template = match prepare_template(file, test, &mut templates, options) {
            Ok(t) => t,
            Err(e) => {
                fail_all(&mut out, &e);
                continue;
            }
        };
        let constraint = load_constraint(file, test, &template);
        if is_true(test, "invalid") {
            out.push(match constraint {
                Err(e) if e.starts_with(INVALID) => result("", true, e),
                Err(e) => result("", false, format!("want a schema error, got: {e}")),
                Ok(_) => result(
                    "",
                    false,
                    "want a schema error, but the constraint is valid".into(),
                ),
            });
            continue;
        }
        let constraint = match constraint {
            Ok(c) => c,
            Err(e) => {
                fail_all(&mut out, &e);
                continue;
            }
        };
        for case in cases {
            let cname = str_of(case, "name");
            if is_true(case, "skip") {
                out.push(result(cname, true, "skipped".into()));
                continue;
            }
            match run_case(file, case, &template, &constraint) {
                Ok(()) => out.push(result(cname, true, String::new())),
                Err(detail) => out.push(result(cname, false, detail)),
            }
        }
    }
    Ok(out)
}

fn prepare_template(
    file: &Path,
    test: &Value,
    cache: &mut HashMap<PathBuf, Result<Template, String>>,
    options: &VerifyOptions,
) -> Result<Template, String> {
    let rel = str_of(test, "template");
    if rel.is_empty() {
        return Err("invalid suite: missing template".into());
    }
    let path = relative_to(file, rel);
    cache
        .entry(path.clone())
        .or_insert_with(|| {
            let objs = load_objects(&path)?;
            let t = objs
                .iter()
                .find(|o| str_of(o, "kind") == "ConstraintTemplate")
                .ok_or_else(|| format!("{}: no ConstraintTemplate", path.display()))?;
            compile_template(t, &path.display().to_string(), options.prefer_cel)
                .map_err(|w| w.to_string())
        })
        .clone()
}

/// Start of the error for a constraint that fails validation.
const INVALID: &str = "invalid constraint";

fn load_constraint(file: &Path, test: &Value, template: &Template) -> Result<Value, String> {
    let rel = str_of(test, "constraint");
    if rel.is_empty() {
        return Err("invalid suite: missing constraint".into());
    }
    let path = relative_to(file, rel);
    let mut objs = load_objects(&path)?;
    if objs.len() != 1 {
        return Err(format!(
            "{}: a constraint file must hold one object, found {}",
            path.display(),
            objs.len()
        ));
    }
    let c = objs.remove(0);
    if !str_of(&c, "apiVersion").starts_with("constraints.gatekeeper.sh/") {
        return Err(format!(
            "{}: not a constraints.gatekeeper.sh object",
            path.display()
        ));
    }
    if str_of(&c, "kind") != template.kind {
        return Err(format!(
            "{}: constraint kind {} has no template (the template defines {})",
            path.display(),
            str_of(&c, "kind"),
            template.kind
        ));
    }
    let problems = template.validate(&c);
    if !problems.is_empty() {
        return Err(format!(
            "{INVALID} {}: {}",
            path.display(),
            problems.join("; ")
        ));
    }
    Ok(c)
}

/// The review and the objects the match criteria look at, for an object file's content.
fn review_for(object: &Value) -> Result<(Value, Vec<Value>), String> {
    let is_admission_review = str_of(object, "kind") == "AdmissionReview"
        && str_of(object, "apiVersion").starts_with("admission.k8s.io/");
    if !is_admission_review {
        return Ok((review_of(object), vec![object.clone()]));
    }
    let mut req = object
        .get("request")
        .filter(|r| r.is_object())
        .cloned()
        .ok_or("AdmissionReview has no request")?;
    let present = |v: Option<&Value>| v.filter(|o| !o.is_null()).cloned();
    let obj = present(req.get("object"));
    let old = present(req.get("oldObject"));
    if obj.is_none() && old.is_none() {
        return Err("AdmissionRequest has no object or oldObject to review".into());
    }
    if str_of(&req, "operation") == "DELETE" {
        let old = old
            .clone()
            .ok_or("a DELETE AdmissionRequest needs an oldObject")?;
        if let Some(m) = req.as_object_mut() {
            m.insert("object".into(), old);
        }
    }
    let matchable = [present(req.get("object")), old]
        .into_iter()
        .flatten()
        .collect();
    Ok((req, matchable))
}

fn run_case(
    file: &Path,
    case: &Value,
    template: &Template,
    constraint: &Value,
) -> Result<(), String> {
    let rel = str_of(case, "object");
    if rel.is_empty() {
        return Err("invalid case: must define object".into());
    }
    let assertions = case
        .get("assertions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("invalid case: assertions must be non-empty")?;
    let opath = relative_to(file, rel);
    let mut objects = load_objects(&opath)?;
    if objects.len() != 1 {
        return Err(format!(
            "{} defines {} objects, want exactly one",
            opath.display(),
            objects.len()
        ));
    }
    let object = objects.remove(0);
    let mut inventory = Vec::new();
    for inv in case
        .get("inventory")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let objs = load_objects(&relative_to(file, inv))?;
        if objs.is_empty() {
            return Err(format!("{inv}: defines no objects"));
        }
        inventory.extend(objs);
    }
    let (review, matchable) = review_for(&object)?;
    let ns_name = str_at(&review, "/namespace").filter(|n| !n.is_empty());
    let namespace = ns_name.and_then(|n| {
        inventory.iter().find(|o| {
            str_of(o, "kind") == "Namespace"
                && str_of(o, "apiVersion") == "v1"
                && str_at(o, "/metadata/name") == Some(n)
        })
    });
    let mut matched = false;
    for o in &matchable {
        if matcher::matches(constraint, o, ns_name, namespace)
            .map_err(|e| format!("match error: {e}"))?
        {
            matched = true;
            break;
        }
    }
    let violations = if matched {
        let data = to_rego(&inventory_data(inventory.iter()))?;
        Evaluator::new(template, &data)?.run(&review, constraint, namespace)?
    } else {
        Vec::new()
    };
    let messages: Vec<&str> = violations.iter().map(|v| v.msg.as_str()).collect();
    for a in assertions {
        check_assertion(a, &messages)?;
    }
    Ok(())
}

/// One gator assertion over the violation messages.
fn check_assertion(a: &Value, messages: &[&str]) -> Result<(), String> {
    let pattern = a.get("message").and_then(Value::as_str);
    let counted = match pattern {
        Some(p) => {
            let re =
                regex::Regex::new(p).map_err(|e| format!("invalid message regex {p:?}: {e}"))?;
            messages.iter().filter(|m| re.is_match(m)).count()
        }
        None => messages.len(),
    };
    enum Want {
        Yes,
        No,
        Exactly(u64),
    }
    let want = match a.get("violations") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => Want::Yes,
        Some(Value::Bool(false)) => Want::No,
        Some(Value::String(s)) if s == "yes" => Want::Yes,
        Some(Value::String(s)) if s == "no" => Want::No,
        Some(Value::Number(n)) if n.as_u64().is_some() => Want::Exactly(n.as_u64().unwrap_or(0)),
        Some(other) => {
            return Err(format!(
                "invalid assertion: violations must be a nonnegative integer, \"yes\" or \"no\", got {other}"
            ));
        }
    };
    let containing = pattern
        .map(|p| format!(" matching {p:?}"))
        .unwrap_or_default();
    let problem = match want {
        Want::Yes if counted == 0 => Some("at least 1".to_owned()),
        Want::No if counted > 0 => Some("none".to_owned()),
        Want::Exactly(n) if n != counted as u64 => Some(format!("exactly {n}")),
        _ => None,
    };
    match problem {
        Some(expected) => Err(format!(
            "got {counted} violations{containing} but want {expected}; messages: {messages:?}"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn assertions_follow_gator() {
        let msgs = ["container a is privileged", "container b is privileged"];
        let ok = |a: Value| check_assertion(&a, &msgs).is_ok();
        assert!(ok(json!({})));
        assert!(ok(json!({"violations": "yes"})));
        assert!(!ok(json!({"violations": "no"})));
        assert!(ok(json!({"violations": 2})));
        assert!(!ok(json!({"violations": 1})));
        assert!(ok(json!({"violations": 1, "message": "container a"})));
        // the message is a regular expression
        assert!(ok(json!({"violations": 2, "message": "container [ab] is"})));
        assert!(ok(json!({"violations": "no", "message": "^privileged"})));
        assert!(!ok(json!({"violations": "maybe"})));
        assert!(!ok(json!({"violations": -1})));
        assert!(!ok(json!({"message": "("})));
        assert!(check_assertion(&json!({"violations": "no"}), &[]).is_ok());
        assert!(check_assertion(&json!({"violations": "yes"}), &[]).is_err());
    }

    #[test]
    fn admission_reviews_become_the_review() {
        let ar = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "operation": "DELETE", "namespace": "ns",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "oldObject": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}});
        let (review, matchable) = review_for(&ar).unwrap_or_default();
        assert_eq!(str_at(&review, "/object/metadata/name"), Some("p"));
        assert_eq!(matchable.len(), 2);
        let empty = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}});
        assert!(review_for(&empty).is_err());
    }
}
