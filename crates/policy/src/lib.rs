//! Custom posture policies: Gatekeeper ConstraintTemplates and Constraints, evaluated offline.
//!
//! - [`PolicySet::load`] reads templates (`templates.gatekeeper.sh`) and constraints
//!   (`constraints.gatekeeper.sh`) from files and directories. Each template is compiled once:
//!   its Rego into a `regorus` engine (Rego v0 syntax, as Gatekeeper uses), or, for a template
//!   that carries only a CEL (`K8sNativeValidation`) implementation, its expressions into
//!   `cel-interpreter` programs. Evaluating an object reuses the compiled template (the Rego
//!   engine holding the inventory data is built once per template), nothing is re-parsed per
//!   object. When a template has both, Rego is used, as Gatekeeper does by default.
//! - [`PolicySet::evaluate`] runs every constraint over every inventory object its `match`
//!   selects, with Gatekeeper's input (`input.review`, an AdmissionRequest for a CREATE, and
//!   `input.parameters`) and the whole inventory as `data.inventory`
//!   (`namespace[ns][apiVersion][kind][name]`, `cluster[apiVersion][kind][name]`) for
//!   referential policies, and returns findings.
//! - [`verify`] runs Gatekeeper suite files (`test.gatekeeper.sh/v1alpha1` `Suite`) the way
//!   `gator verify` does.
//!
//! A few Rego constructs the engine does not read as OPA does are rewritten at the source level
//! first; the `normalize` module documents each rewrite.

mod cel;
mod matcher;
mod normalize;
mod schema;
mod verify;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use palisade_inventory::{Inventory, LoadOptions, LoadReport, Object};
use palisade_model::{Finding, ResourceRef, Severity};
use serde_json::{Value, json};

pub use verify::{CaseResult, VerifyOptions, verify, verify_with};

/// The only target Gatekeeper's Kubernetes admission templates use.
const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// A problem that stops loading or verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file could not be read or parsed.
    #[error("{0}")]
    Load(String),
    /// A suite file could not be read or is not a suite.
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

/// How a template is implemented.
#[derive(Clone)]
pub(crate) enum Implementation {
    /// Rego: the package of the main module, and an engine with every module loaded.
    Rego {
        package: String,
        engine: Box<regorus::Engine>,
    },
    /// CEL (`K8sNativeValidation`).
    Cel(cel::CelTemplate),
}

/// One compiled ConstraintTemplate.
#[derive(Clone)]
pub(crate) struct Template {
    /// CRD kind of its constraints, e.g. `K8sRequiredLabels`.
    pub(crate) kind: String,
    /// `metadata.gatekeeper.sh/title`, or the kind.
    pub(crate) title: String,
    /// `spec.crd.spec.validation.openAPIV3Schema`: the schema of constraint parameters.
    pub(crate) schema: Option<Value>,
    pub(crate) implementation: Implementation,
}

impl Template {
    /// Problems of a constraint of this template (parameters against the schema, selectors).
    pub(crate) fn validate(&self, constraint: &Value) -> Vec<String> {
        schema::validate_constraint(constraint, self.schema.as_ref())
    }
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

pub(crate) fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn libs_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The implementations a template target carries.
struct Sources<'a> {
    rego: Option<(String, Vec<String>)>,
    cel: Option<&'a Value>,
    /// Engines that are neither.
    other: Vec<String>,
}

fn sources(target: &Value) -> Sources<'_> {
    let mut s = Sources {
        rego: None,
        cel: None,
        other: Vec::new(),
    };
    if let Some(rego) = target.get("rego").and_then(Value::as_str) {
        s.rego = Some((rego.to_owned(), libs_of(target.get("libs"))));
    }
    for code in target
        .get("code")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let source = code.get("source");
        match code.get("engine").and_then(Value::as_str) {
            Some("Rego") if s.rego.is_none() => {
                if let Some(rego) = source.and_then(|v| v.get("rego")).and_then(Value::as_str) {
                    s.rego = Some((rego.to_owned(), libs_of(source.and_then(|v| v.get("libs")))));
                }
            }
            Some("K8sNativeValidation") => s.cel = source,
            Some("Rego") => {}
            other => s.other.push(other.unwrap_or("<none>").to_owned()),
        }
    }
    s
}

fn package_of(rego: &str) -> Option<String> {
    rego.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim().to_owned())
    })
}

/// Compiles a ConstraintTemplate object. `subject` names where it was read from; `prefer_cel`
/// picks the CEL implementation when a template has both.
pub(crate) fn compile_template(
    t: &Value,
    subject: &str,
    prefer_cel: bool,
) -> Result<Template, Warning> {
    let name = str_at(t, "/metadata/name").unwrap_or("<unnamed>");
    let warn = |message: String| Warning {
        subject: format!("{subject}: template {name}"),
        message,
    };
    let kind = str_at(t, "/spec/crd/spec/names/kind")
        .ok_or_else(|| warn("no spec.crd.spec.names.kind".into()))?
        .to_owned();
    let targets = t
        .pointer("/spec/targets")
        .and_then(Value::as_array)
        .ok_or_else(|| warn("no spec.targets".into()))?;
    let target = match targets.as_slice() {
        [one] => one,
        [] => return Err(warn("spec.targets is empty".into())),
        _ => return Err(warn("more than one target is not supported".into())),
    };
    match target.get("target").and_then(Value::as_str) {
        Some(TARGET) | None => {}
        Some(other) => return Err(warn(format!("unsupported target {other:?}"))),
    }
    let src = sources(target);
    let title = str_at(t, "/metadata/annotations/metadata.gatekeeper.sh~1title")
        .unwrap_or(&kind)
        .to_owned();
    let implementation = match (src.rego, src.cel) {
        (_, Some(cel)) if prefer_cel => compile_cel(cel).map_err(warn)?,
        (Some((rego, libs)), _) => compile_rego(&kind, &rego, &libs).map_err(warn)?,
        (None, Some(cel)) => compile_cel(cel).map_err(warn)?,
        (None, None) => {
            return Err(warn(if src.other.is_empty() {
                "no Rego or CEL implementation".into()
            } else {
                format!("unsupported engine(s): {}", src.other.join(", "))
            }));
        }
    };
    Ok(Template {
        kind,
        title,
        schema: t
            .pointer("/spec/crd/spec/validation/openAPIV3Schema")
            .filter(|s| s.is_object())
            .cloned(),
        implementation,
    })
}

fn compile_cel(source: &Value) -> Result<Implementation, String> {
    cel::CelTemplate::compile(source).map(Implementation::Cel)
}

fn compile_rego(kind: &str, rego: &str, libs: &[String]) -> Result<Implementation, String> {
    let package = package_of(rego).ok_or("Rego has no package")?;
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine
        .add_policy(format!("{kind}.rego"), normalize::rego(rego))
        .map_err(|e| format!("Rego: {e}"))?;
    for (i, lib) in libs.iter().enumerate() {
        engine
            .add_policy(format!("{kind}.lib{i}.rego"), normalize::rego(lib))
            .map_err(|e| format!("Rego lib {i}: {e}"))?;
    }
    Ok(Implementation::Rego {
        package,
        engine: Box::new(engine),
    })
}

/// A violation as a template returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    pub(crate) msg: String,
}

/// `data` for Rego: Gatekeeper's `data.inventory`, i.e. `cluster[apiVersion][kind][name]` and
/// `namespace[ns][apiVersion][kind][name]`.
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

/// The `review` Gatekeeper builds for an object (an AdmissionRequest for its creation).
pub(crate) fn review_of(object: &Value) -> Value {
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

/// A template ready to run on reviews against one `data.inventory`.
pub(crate) struct Evaluator<'t> {
    template: &'t Template,
    /// The Rego engine with the data loaded (None for CEL templates).
    rego: Option<regorus::Engine>,
}

impl<'t> Evaluator<'t> {
    /// Prepares `template` with `data` (from [`inventory_data`]).
    pub(crate) fn new(template: &'t Template, data: &regorus::Value) -> Result<Self, String> {
        let rego = match &template.implementation {
            Implementation::Rego { engine, .. } => {
                let mut engine = engine.as_ref().clone();
                engine.add_data(data.clone()).map_err(|e| e.to_string())?;
                Some(engine)
            }
            Implementation::Cel(_) => None,
        };
        Ok(Evaluator { template, rego })
    }

    /// Runs the template on one review for one constraint; `namespace` is the Namespace object
    /// of the reviewed object, when known.
    pub(crate) fn run(
        &mut self,
        review: &Value,
        constraint: &Value,
        namespace: Option<&Value>,
    ) -> Result<Vec<Violation>, String> {
        let parameters = constraint
            .pointer("/spec/parameters")
            .cloned()
            .unwrap_or(json!({}));
        match (&self.template.implementation, self.rego.as_mut()) {
            (Implementation::Cel(cel), _) => cel.run(review, constraint, namespace),
            (Implementation::Rego { package, .. }, Some(engine)) => {
                run_rego(engine, package, review, &parameters)
            }
            (Implementation::Rego { .. }, None) => Err("Rego engine not prepared".into()),
        }
    }
}

pub(crate) fn to_rego(v: &Value) -> Result<regorus::Value, String> {
    regorus::Value::from_json_str(&v.to_string()).map_err(|e| e.to_string())
}

fn run_rego(
    engine: &mut regorus::Engine,
    package: &str,
    review: &Value,
    parameters: &Value,
) -> Result<Vec<Violation>, String> {
    let input = json!({"review": review, "parameters": parameters});
    engine.set_input(to_rego(&input)?);
    let result = engine
        .eval_rule(format!("data.{package}.violation"))
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
    /// Reads templates and constraints from files and directories. Other objects in those
    /// files are ignored; a template that cannot be used, or a constraint without a template,
    /// is reported as a warning naming the file and the template.
    pub fn load(paths: &[PathBuf]) -> Result<(PolicySet, Vec<Warning>), Error> {
        let report = LoadReport::load_paths(paths, &LoadOptions::default());
        if let Some(e) = report.errors.first() {
            return Err(Error::Load(e.to_string()));
        }
        let mut set = PolicySet::default();
        let mut warnings = Vec::new();
        for o in &report.inventory.objects {
            if o.resource.kind == "ConstraintTemplate"
                && o.resource
                    .api_version
                    .starts_with("templates.gatekeeper.sh/")
            {
                match compile_template(&o.raw, &o.location.to_string(), false) {
                    Ok(t) => {
                        if set.templates.contains_key(&t.kind) {
                            warnings.push(Warning {
                                subject: o.location.to_string(),
                                message: format!(
                                    "template {} defines kind {} again; the later one is used",
                                    o.resource.name, t.kind
                                ),
                            });
                        }
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
                let Some(t) = set.templates.get(&o.resource.kind) else {
                    warnings.push(Warning {
                        subject: o.location.to_string(),
                        message: format!(
                            "constraint {}/{} has no usable template of kind {}",
                            o.resource.kind, o.resource.name, o.resource.kind
                        ),
                    });
                    continue;
                };
                let problems = t.validate(&o.raw);
                if !problems.is_empty() {
                    // Gatekeeper would refuse such a constraint.
                    warnings.push(Warning {
                        subject: o.location.to_string(),
                        message: format!(
                            "constraint {}/{} is invalid and is not used: {}",
                            o.resource.kind,
                            o.resource.name,
                            problems.join("; ")
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

    /// Whether no constraint was loaded.
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
        let data = match to_rego(&inventory_data(inventory.objects.iter().map(|o| &o.raw))) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(Warning {
                    subject: "inventory".into(),
                    message: e,
                });
                return (findings, warnings);
            }
        };
        let namespaces: HashMap<&str, &Value> = inventory
            .objects
            .iter()
            .filter(|n| n.resource.kind == "Namespace" && n.resource.api_version == "v1")
            .map(|n| (n.resource.name.as_str(), &n.raw))
            .collect();
        // One prepared engine per template, shared by its constraints.
        let mut evaluators: HashMap<&str, Evaluator<'_>> = HashMap::new();
        for c in &self.constraints {
            let subject = || format!("constraint {}/{}", c.kind, c.name);
            let Some(t) = self.templates.get(&c.kind) else {
                continue;
            };
            let evaluator = match evaluators.entry(c.kind.as_str()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => match Evaluator::new(t, &data) {
                    Ok(ev) => v.insert(ev),
                    Err(e) => {
                        warnings.push(Warning {
                            subject: subject(),
                            message: e,
                        });
                        continue;
                    }
                },
            };
            for o in &inventory.objects {
                let ns_name = str_at(&o.raw, "/metadata/namespace").filter(|n| !n.is_empty());
                let namespace = ns_name.and_then(|n| namespaces.get(n).copied());
                match matcher::matches(&c.raw, &o.raw, ns_name, namespace) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        warnings.push(Warning {
                            subject: format!("{} on {}", subject(), o.resource),
                            message: e,
                        });
                        continue;
                    }
                }
                let review = review_of(&o.raw);
                match evaluator.run(&review, &c.raw, namespace) {
                    Ok(vs) => findings.extend(vs.into_iter().map(|v| finding(t, c, o, v))),
                    Err(e) => warnings.push(Warning {
                        subject: format!("{} on {}", subject(), o.resource),
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
        )
        .into(),
        title: t.title.clone().into(),
        severity,
        resource: ResourceRef::clone(&o.resource),
        container: None,
        message: v.msg,
        evidence: "$".to_owned(),
        remediation: remediation.into(),
        mitre: Vec::new(),
    }
}

/// Path of `rel` relative to the directory of `file`.
pub(crate) fn relative_to(file: &Path, rel: &str) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(rel)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inventory_data_has_gatekeepers_layout() {
        let objs = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "b"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "b"}}),
        ];
        let data = inventory_data(objs.iter());
        assert_eq!(
            data.pointer("/inventory/cluster/v1/Namespace/a"),
            Some(&objs[0])
        );
        assert_eq!(
            data.pointer("/inventory/namespace/a/apps~1v1/Deployment/d"),
            Some(&objs[1])
        );
        assert_eq!(
            data.pointer("/inventory/namespace/b/v1/Service")
                .and_then(Value::as_object)
                .map(serde_json::Map::len),
            Some(1),
            "objects without a name are left out"
        );
    }

    #[test]
    fn review_is_an_admission_request() {
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}});
        let r = review_of(&pod);
        assert_eq!(
            r.get("kind"),
            Some(&json!({"group": "", "version": "v1", "kind": "Pod"}))
        );
        assert_eq!(str_at(&r, "/name"), Some("p"));
        assert_eq!(str_at(&r, "/namespace"), Some("n"));
        assert_eq!(str_at(&r, "/operation"), Some("CREATE"));
        assert_eq!(r.get("object"), Some(&pod));
        assert_eq!(
            gvk(&json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"})),
            json!({"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"})
        );
    }

    #[test]
    fn templates_need_one_admission_target() {
        let t = |targets: Value| json!({"metadata": {"name": "t"}, "spec": {"crd": {"spec": {"names": {"kind": "K"}}}, "targets": targets}});
        let rego = json!({"target": "admission.k8s.gatekeeper.sh", "rego": "package k\nviolation[{\"msg\": \"x\"}] { true }\n"});
        assert!(compile_template(&t(json!([rego.clone()])), "f.yaml", false).is_ok());
        let err = |v: Value| {
            compile_template(&v, "f.yaml", false)
                .err()
                .map(|w| w.to_string())
        };
        assert!(err(t(json!([]))).is_some_and(|w| w.contains("f.yaml: template t")));
        assert!(err(t(json!([rego.clone(), rego]))).is_some());
        assert!(err(t(json!([{"target": "other", "rego": "package k"}]))).is_some());
        assert!(
            err(t(json!([{"code": [{"engine": "Wasm", "source": {}}]}])))
                .is_some_and(|w| w.contains("Wasm"))
        );
    }
}
