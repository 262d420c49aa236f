//! `gator verify`: Gatekeeper suite files (`test.gatekeeper.sh/v1alpha1`, kind `Suite`).
//!
//! For each test: the template and the constraint; for each case: the object under review
//! (or an AdmissionReview whose request is the review), optional inventory objects that
//! become `data.inventory`, and assertions `violations: yes | no | N` with an optional
//! `message` regular expression (a count then applies to violations whose message matches).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use palisade_inventory::{LoadOptions, LoadReport};
use serde_json::{Value, json};

use crate::{
    Error, Template, compile_template, inventory_data, matcher, relative_to, review_of,
    reviewed_object, run,
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
    /// What happened: on failure, expected against actual.
    pub detail: String,
}

fn load_objects(path: &Path) -> Result<Vec<Value>, String> {
    let r = LoadReport::load_paths(&[path], &LoadOptions::default());
    if let Some(e) = r.errors.first() {
        return Err(e.to_string());
    }
    Ok(r.inventory.objects.into_iter().map(|o| o.raw).collect())
}

/// Runs every suite file (directories are searched for `suite.yaml` files).
pub fn verify(suite_paths: &[PathBuf]) -> Result<Vec<CaseResult>, Error> {
    let mut files = Vec::new();
    for p in suite_paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                if e.file_type().is_file() && e.file_name() == "suite.yaml" {
                    files.push(e.into_path());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        out.extend(verify_suite(&f)?);
    }
    Ok(out)
}

fn verify_suite(file: &Path) -> Result<Vec<CaseResult>, Error> {
    let name = file.display().to_string();
    let suite_err = |message: String| Error::Suite {
        file: name.clone(),
        message,
    };
    let suites = load_objects(file).map_err(suite_err)?;
    let suite = suites
        .into_iter()
        .find(|o| o.get("kind").and_then(Value::as_str) == Some("Suite"))
        .ok_or_else(|| suite_err("no Suite object in the file".into()))?;
    let mut templates: HashMap<PathBuf, Result<Template, String>> = HashMap::new();
    let mut out = Vec::new();
    for test in suite
        .get("tests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tname = test
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
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
        let case_name = |c: &Value| {
            c.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if test.get("skip").and_then(Value::as_bool) == Some(true) {
            out.extend(
                cases
                    .iter()
                    .map(|c| result(&case_name(c), true, "skipped".into())),
            );
            continue;
        }
        // template
        let tpath = relative_to(
            file,
            test.get("template").and_then(Value::as_str).unwrap_or(""),
        );
        let template = templates
            .entry(tpath.clone())
            .or_insert_with(|| {
                let objs = load_objects(&tpath)?;
                let t = objs
                    .iter()
                    .find(|o| o.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate"))
                    .ok_or_else(|| format!("{}: no ConstraintTemplate", tpath.display()))?;
                compile_template(t, &tpath.display().to_string()).map_err(|w| w.to_string())
            })
            .clone();
        let template = match template {
            Ok(t) => t,
            Err(e) => {
                out.extend(
                    cases
                        .iter()
                        .map(|c| result(&case_name(c), false, e.clone())),
                );
                continue;
            }
        };
        // constraint
        let cpath = relative_to(
            file,
            test.get("constraint").and_then(Value::as_str).unwrap_or(""),
        );
        let constraint = match load_objects(&cpath).map(|mut v| v.drain(..).next()) {
            Ok(Some(c)) => c,
            Ok(None) => {
                let e = format!("{}: no constraint object", cpath.display());
                out.extend(
                    cases
                        .iter()
                        .map(|c| result(&case_name(c), false, e.clone())),
                );
                continue;
            }
            Err(e) => {
                out.extend(
                    cases
                        .iter()
                        .map(|c| result(&case_name(c), false, e.clone())),
                );
                continue;
            }
        };
        let params = constraint
            .pointer("/spec/parameters")
            .cloned()
            .unwrap_or(json!({}));
        for case in cases {
            let cname = case_name(case);
            if case.get("skip").and_then(Value::as_bool) == Some(true) {
                out.push(result(&cname, true, "skipped".into()));
                continue;
            }
            match run_case(file, case, &template, &constraint, &params) {
                Ok(()) => out.push(result(&cname, true, String::new())),
                Err(detail) => out.push(result(&cname, false, detail)),
            }
        }
    }
    Ok(out)
}

fn run_case(
    file: &Path,
    case: &Value,
    template: &Template,
    constraint: &Value,
    params: &Value,
) -> Result<(), String> {
    let opath = relative_to(
        file,
        case.get("object").and_then(Value::as_str).unwrap_or(""),
    );
    let object = load_objects(&opath)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no object", opath.display()))?;
    let mut inventory = Vec::new();
    for inv in case
        .get("inventory")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        inventory.extend(load_objects(&relative_to(file, inv))?);
    }
    let review = review_of(&object);
    let target = reviewed_object(&review).clone();
    let namespaces: HashMap<&str, &Value> = inventory
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?, o)))
        .collect();
    let violations = if matcher::matches(constraint, &target, |n| namespaces.get(n).copied()) {
        let mut engine = template.engine.clone();
        let data = inventory_data(inventory.iter());
        let data = regorus::Value::from_json_str(&data.to_string()).map_err(|e| e.to_string())?;
        engine.add_data(data).map_err(|e| e.to_string())?;
        run(template, &mut engine, &review, params)?
    } else {
        Vec::new()
    };
    let messages: Vec<&str> = violations.iter().map(|v| v.msg.as_str()).collect();
    for a in case
        .get("assertions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let counted = match a.get("message").and_then(Value::as_str) {
            Some(pattern) => {
                let re = regex::Regex::new(pattern)
                    .map_err(|e| format!("invalid message pattern {pattern:?}: {e}"))?;
                messages.iter().filter(|m| re.is_match(m)).count()
            }
            None => messages.len(),
        };
        let (ok, want) = match a.get("violations") {
            None => (counted > 0, "yes".to_owned()),
            Some(Value::String(s)) if s.trim() == "yes" => (counted > 0, "yes".into()),
            Some(Value::String(s)) if s.trim() == "no" => (counted == 0, "no".into()),
            Some(Value::Bool(true)) => (counted > 0, "yes".into()),
            Some(Value::Bool(false)) => (counted == 0, "no".into()),
            Some(Value::Number(n)) => (n.as_u64() == Some(counted as u64), n.to_string()),
            Some(other) => return Err(format!("unsupported assertion violations: {other}")),
        };
        if !ok {
            let filter = a
                .get("message")
                .and_then(Value::as_str)
                .map(|m| format!(" matching {m:?}"))
                .unwrap_or_default();
            return Err(format!(
                "expected violations{filter}: {want}, got {counted}; messages: {messages:?}"
            ));
        }
    }
    Ok(())
}
