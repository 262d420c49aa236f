//! Custom posture policies: Gatekeeper ConstraintTemplates and Constraints, evaluated offline.
//!
//! - [`PolicySet::load`] reads templates (`templates.gatekeeper.sh`) and constraints
//!   (`constraints.gatekeeper.sh`) from files and directories. Each template's Rego is compiled
//!   once into a `regorus` engine (Rego v0 syntax, as Gatekeeper uses); evaluating an object
//!   clones that engine, so nothing is re-parsed per object.
//! - [`PolicySet::evaluate`] runs every constraint over every inventory object its `match`
//!   selects, with Gatekeeper's input (`input.review`, `input.parameters`) and the whole
//!   inventory as `data.inventory` (for referential policies), and returns findings.
//! - [`verify`] runs Gatekeeper suite files (`test.gatekeeper.sh/v1alpha1` `Suite`) the way
//!   `gator verify` does.
//!
//! Templates that carry only a CEL (`K8sNativeValidation`) implementation are reported as
//! warnings and skipped: every template of the public Gatekeeper library also carries Rego.
//! A few constructs the Rego engine does not parse in v0 mode are rewritten at the source
//! level first; [`normalize`] documents each rewrite.

mod matcher;
mod normalize;
mod verify;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use palisade_inventory::{Inventory, LoadOptions, LoadReport, Object};
use palisade_model::{Finding, ResourceRef, Severity};
use serde_json::{Value, json};

pub use verify::{CaseResult, verify};

/// A problem that stops loading or verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file could not be read or parsed.
    #[error("{0}")]
    Load(String),
    /// A suite refers to something that is not there or not usable.
    #[error("{file}: {message}")]
    Suite {
        /// The suite file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A non-fatal problem: a template that did not compile, an evaluation error, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What it is about (file, template, constraint, object).
    pub subject: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// One compiled ConstraintTemplate.
#[derive(Clone)]
pub(crate) struct Template {
    /// CRD kind of its constraints, e.g. `K8sRequiredLabels`.
    pub(crate) kind: String,
    /// `metadata.gatekeeper.sh/title`, or the kind.
    pub(crate) title: String,
    /// Rego package of the main module, e.g. `k8srequiredlabels`.
    pub(crate) package: String,
    /// Engine with the template's modules loaded.
    pub(crate) engine: regorus::Engine,
}

/// One Constraint.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) raw: Value,
}

/// Templates and constraints, ready to evaluate.
#[derive(Clone, Default)]
pub struct PolicySet {
    templates: HashMap<String, Template>,
    constraints: Vec<Constraint>,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .field("constraints", &self.constraints.len())
            .finish()
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// Finds the Rego and libs of a template: `spec.targets[0].rego`/`libs`, or the `Rego` entry
/// of `spec.targets[0].code`.
fn rego_sources(t: &Value) -> Option<(String, Vec<String>)> {
    let target = t.pointer("/spec/targets/0")?;
    let libs_of = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(rego) = target.get("rego").and_then(Value::as_str) {
        return Some((rego.to_owned(), libs_of(target.get("libs"))));
    }
    let code = target.get("code")?.as_array()?;
    let rego = code
        .iter()
        .find(|c| c.get("engine").and_then(Value::as_str) == Some("Rego"))?;
    let src = rego.get("source")?;
    Some((
        src.get("rego")?.as_str()?.to_owned(),
        libs_of(src.get("libs")),
    ))
}

fn package_of(rego: &str) -> Option<String> {
    rego.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim().to_owned())
    })
}

/// Compiles a ConstraintTemplate object.
pub(crate) fn compile_template(t: &Value, subject: &str) -> Result<Template, Warning> {
    let warn = |message: String| Warning {
        subject: subject.to_owned(),
        message,
    };
    let kind = str_at(t, "/spec/crd/spec/names/kind")
        .ok_or_else(|| warn("template has no spec.crd.spec.names.kind".into()))?
        .to_owned();
    let (rego, libs) = rego_sources(t).ok_or_else(|| {
        warn(format!(
            "template {kind} has no Rego implementation (CEL-only templates are not supported)"
        ))
    })?;
    let package =
        package_of(&rego).ok_or_else(|| warn(format!("template {kind}: Rego has no package")))?;
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine
        .add_policy(format!("{kind}.rego"), normalize::rego(&rego))
        .map_err(|e| warn(format!("template {kind}: {e}")))?;
    for (i, lib) in libs.iter().enumerate() {
        engine
            .add_policy(format!("{kind}.lib{i}.rego"), normalize::rego(lib))
            .map_err(|e| warn(format!("template {kind}, lib {i}: {e}")))?;
    }
    let title = str_at(t, "/metadata/annotations/metadata.gatekeeper.sh~1title")
        .unwrap_or(&kind)
        .to_owned();
    Ok(Template {
        kind,
        title,
        package,
        engine,
    })
}

/// A violation as a template returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    pub(crate) msg: String,
}

/// `data.inventory` of Gatekeeper: `cluster[gv][kind][name]` and
/// `namespace[ns][gv][kind][name]`.
pub(crate) fn inventory_data<'a>(objects: impl Iterator<Item = &'a Value>) -> Value {
    let mut cluster = serde_json::Map::new();
    let mut namespaced = serde_json::Map::new();
    for o in objects {
        let (Some(gv), Some(kind), Some(name)) = (
            str_at(o, "/apiVersion"),
            str_at(o, "/kind"),
            str_at(o, "/metadata/name"),
        ) else {
            continue;
        };
        let root = match str_at(o, "/metadata/namespace") {
            Some(ns) if !ns.is_empty() => namespaced
                .entry(ns.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut(),
            _ => Some(&mut cluster),
        };
        let Some(root) = root else { continue };
        if let Some(kinds) = root
            .entry(gv.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            && let Some(names) = kinds
                .entry(kind.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
        {
            names.insert(name.to_owned(), o.clone());
        }
    }
    json!({"inventory": {"cluster": cluster, "namespace": namespaced}})
}

/// The `review` Gatekeeper builds for an object (an AdmissionRequest).
pub(crate) fn review_of(object: &Value) -> Value {
    // An AdmissionReview given as the object under test: its request is the review.
    if str_at(object, "/kind") == Some("AdmissionReview")
        && let Some(req) = object.get("request")
    {
        let mut req = req.clone();
        if req.get("kind").is_none()
            && let Some(obj) = req.get("object").cloned()
            && let Some(m) = req.as_object_mut()
        {
            m.insert("kind".into(), gvk(&obj));
        }
        return req;
    }
    json!({
        "kind": gvk(object),
        "name": str_at(object, "/metadata/name").unwrap_or(""),
        "namespace": str_at(object, "/metadata/namespace").unwrap_or(""),
        "operation": "CREATE",
        "object": object,
        "userInfo": {"username": "palisade", "groups": []},
    })
}

pub(crate) fn gvk(o: &Value) -> Value {
    let api_version = str_at(o, "/apiVersion").unwrap_or("");
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    json!({"group": group, "version": version, "kind": str_at(o, "/kind").unwrap_or("")})
}

/// The object a review is about (the request's object, or the old object on DELETE).
pub(crate) fn reviewed_object(review: &Value) -> &Value {
    match review.get("object") {
        Some(o) if !o.is_null() => o,
        _ => review.get("oldObject").unwrap_or(&Value::Null),
    }
}

/// Runs one template on one review.
pub(crate) fn run(
    template: &Template,
    engine: &mut regorus::Engine,
    review: &Value,
    parameters: &Value,
) -> Result<Vec<Violation>, String> {
    let input = json!({"review": review, "parameters": parameters});
    let input = regorus::Value::from_json_str(&input.to_string()).map_err(|e| e.to_string())?;
    engine.set_input(input);
    let result = engine
        .eval_rule(format!("data.{}.violation", template.package))
        .map_err(|e| e.to_string())?;
    let json: Value = serde_json::from_str(&result.to_json_str().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let items = match json {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        Value::String(s) if s == "<undefined>" => Vec::new(),
        other => vec![other],
    };
    Ok(items
        .into_iter()
        .map(|v| Violation {
            msg: match v.get("msg") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
        })
        .collect())
}

impl PolicySet {
    /// Reads templates and constraints from files and directories.
    pub fn load(paths: &[PathBuf]) -> Result<(PolicySet, Vec<Warning>), Error> {
        let report = LoadReport::load_paths(paths, &LoadOptions::default());
        if let Some(e) = report.errors.first() {
            return Err(Error::Load(e.to_string()));
        }
        let mut set = PolicySet::default();
        let mut warnings = Vec::new();
        for o in &report.inventory.objects {
            if o.resource.kind == "ConstraintTemplate" {
                let subject = o.location.to_string();
                match compile_template(&o.raw, &subject) {
                    Ok(t) => {
                        set.templates.insert(t.kind.clone(), t);
                    }
                    Err(w) => warnings.push(w),
                }
            }
        }
        for o in &report.inventory.objects {
            if o.resource
                .api_version
                .starts_with("constraints.gatekeeper.sh/")
            {
                if !set.templates.contains_key(&o.resource.kind) {
                    warnings.push(Warning {
                        subject: o.location.to_string(),
                        message: format!(
                            "constraint {}/{} has no loaded template of kind {}",
                            o.resource.kind, o.resource.name, o.resource.kind
                        ),
                    });
                    continue;
                }
                set.constraints.push(Constraint {
                    kind: o.resource.kind.clone(),
                    name: o.resource.name.clone(),
                    raw: o.raw.clone(),
                });
            }
        }
        Ok((set, warnings))
    }

    /// Number of templates and constraints loaded.
    pub fn len(&self) -> (usize, usize) {
        (self.templates.len(), self.constraints.len())
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Evaluates every constraint over the objects of the inventory it matches.
    pub fn evaluate(&self, inventory: &Inventory) -> (Vec<Finding>, Vec<Warning>) {
        let mut findings = Vec::new();
        let mut warnings = Vec::new();
        if self.constraints.is_empty() {
            return (findings, warnings);
        }
        let data = inventory_data(inventory.objects.iter().map(|o| &o.raw));
        let data = match regorus::Value::from_json_str(&data.to_string()) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(Warning {
                    subject: "inventory".into(),
                    message: e.to_string(),
                });
                return (findings, warnings);
            }
        };
        let namespaces: HashMap<&str, &Value> = inventory
            .of_kind("Namespace")
            .map(|n| (n.resource.name.as_str(), &n.raw))
            .collect();
        for c in &self.constraints {
            let Some(t) = self.templates.get(&c.kind) else {
                continue;
            };
            let mut engine = t.engine.clone();
            if let Err(e) = engine.add_data(data.clone()) {
                warnings.push(Warning {
                    subject: format!("{}/{}", c.kind, c.name),
                    message: e.to_string(),
                });
                continue;
            }
            let params = c
                .raw
                .pointer("/spec/parameters")
                .cloned()
                .unwrap_or(json!({}));
            for o in &inventory.objects {
                if !matcher::matches(&c.raw, &o.raw, |ns| namespaces.get(ns).copied()) {
                    continue;
                }
                let review = review_of(&o.raw);
                match run(t, &mut engine, &review, &params) {
                    Ok(vs) => {
                        for v in vs {
                            findings.push(finding(t, c, o, v));
                        }
                    }
                    Err(e) => warnings.push(Warning {
                        subject: format!("{}/{} on {}", c.kind, c.name, o.resource),
                        message: e,
                    }),
                }
            }
        }
        (findings, warnings)
    }
}

fn finding(t: &Template, c: &Constraint, o: &Object, v: Violation) -> Finding {
    let severity = str_at(&c.raw, "/metadata/annotations/palisade.io~1severity")
        .and_then(|s| s.parse::<Severity>().ok())
        .unwrap_or(Severity::Medium);
    let remediation = str_at(&c.raw, "/metadata/annotations/palisade.io~1remediation")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "Change the {} so that it satisfies constraint {} ({}).",
                o.resource.kind, c.name, t.title
            )
        });
    Finding {
        check_id: format!(
            "gatekeeper.{}.{}",
            c.kind.to_ascii_lowercase(),
            c.name.to_ascii_lowercase()
        ),
        title: t.title.clone(),
        severity,
        resource: ResourceRef::clone(&o.resource),
        container: None,
        message: v.msg,
        evidence: "$".to_owned(),
        remediation,
        mitre: Vec::new(),
    }
}

/// Path of `rel` relative to the directory of `file`.
pub(crate) fn relative_to(file: &Path, rel: &str) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(rel)
}
