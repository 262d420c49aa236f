//! CEL implementation of a template (`engine: K8sNativeValidation`), evaluated with
//! `cel-interpreter`.
//!
//! Gatekeeper's bindings are reproduced: `object`, `oldObject`, `request` (the review),
//! `params` (the constraint) and `namespaceObject`; `variables.params` is the constraint's
//! `spec.parameters`, `variables.anyObject` the object, or the old object on a DELETE; the
//! template's own `variables` are evaluated in order and each sees the ones before it. A
//! validation whose expression is `false` is a violation; its message is the value of
//! `messageExpression` if that yields a string, else `message`, else
//! `failed expression: <expression>` (as Kubernetes does). Besides the interpreter's standard
//! functions, the Kubernetes string/list extensions the Gatekeeper library uses are provided:
//! `dyn`, `join`, `replace`, `split`, `lowerAscii`, `upperAscii`, `trim`, `indexOf`.
//!
//! Two behaviours of Kubernetes' CEL (cel-go) that the interpreter does not share are
//! reproduced:
//! - `has(a.b.c)` is false, not an error, when an intermediate field (`a.b`) is absent; the
//!   library's templates rely on it (`has(variables.anyObject.spec.securityContext.x)`). Before
//!   parsing, a `has()` of a plain field path of three or more segments is rewritten into the
//!   conjunction of the presence tests of its prefixes:
//!   `(has(a.b) && has(a.b.c))`. Nothing else in the expression is touched.
//! - a `messageExpression` that fails to evaluate falls back to `message` (or the default
//!   message), as a validating admission policy does.
//!
//! Expressions are parsed once, when the template is compiled.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel_interpreter::extractors::{Arguments, This};
use cel_interpreter::{Context, ExecutionError, Program, Value as CelValue};
use serde_json::Value;

use crate::Violation;

/// A compiled CEL expression with its source text.
#[derive(Clone)]
struct Expr {
    source: String,
    program: Arc<Program>,
}

#[derive(Clone)]
struct Validation {
    expression: Expr,
    message: Option<String>,
    message_expression: Option<Expr>,
}

/// The CEL code of a template.
#[derive(Clone)]
pub(crate) struct CelTemplate {
    variables: Vec<(String, Expr)>,
    validations: Vec<Validation>,
}

/// Rewrites `has(a.b.c)` into `(has(a.b) && has(a.b.c))` (see the module documentation).
fn nested_presence_tests(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = rest.find("has(") {
        let preceded = rest[..pos]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let after = &rest[pos + 4..];
        let path = after.find(')').map(|end| &after[..end]);
        let segments: Vec<&str> = path.map(|p| p.split('.').collect()).unwrap_or_default();
        let plain = segments.len() >= 3
            && segments.iter().all(|s| {
                s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        out.push_str(&rest[..pos]);
        if preceded || !plain {
            out.push_str("has(");
            rest = after;
            continue;
        }
        let tests: Vec<String> = (2..=segments.len())
            .map(|n| format!("has({})", segments[..n].join(".")))
            .collect();
        out.push('(');
        out.push_str(&tests.join(" && "));
        out.push(')');
        rest = &after[path.map_or(0, str::len) + 1..];
    }
    out.push_str(rest);
    out
}

fn compile(source: &str) -> Result<Expr, String> {
    let rewritten = nested_presence_tests(source);
    // The parser reports errors as values; guard against a panic on unforeseen input anyway.
    match catch_unwind(|| Program::compile(&rewritten)) {
        Ok(Ok(p)) => Ok(Expr {
            source: source.to_owned(),
            program: Arc::new(p),
        }),
        Ok(Err(e)) => Err(format!("CEL expression {source:?}: {e}")),
        Err(_) => Err(format!("CEL expression {source:?} could not be parsed")),
    }
}

impl CelTemplate {
    /// Compiles the `source` of a `K8sNativeValidation` code entry.
    pub(crate) fn compile(source: &Value) -> Result<CelTemplate, String> {
        let mut variables = Vec::new();
        for v in source
            .get("variables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .ok_or("CEL variable without a name")?;
            if name == "params" || name == "anyObject" {
                return Err(format!("CEL variable {name:?} shadows a built-in variable"));
            }
            let expr = v
                .get("expression")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("CEL variable {name:?} has no expression"))?;
            variables.push((name.to_owned(), compile(expr)?));
        }
        let mut validations = Vec::new();
        for v in source
            .get("validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let expr = v
                .get("expression")
                .and_then(Value::as_str)
                .ok_or("CEL validation without an expression")?;
            validations.push(Validation {
                expression: compile(expr)?,
                message: v.get("message").and_then(Value::as_str).map(str::to_owned),
                message_expression: v
                    .get("messageExpression")
                    .and_then(Value::as_str)
                    .map(compile)
                    .transpose()?,
            });
        }
        if validations.is_empty() {
            return Err("CEL source has no validations".into());
        }
        Ok(CelTemplate {
            variables,
            validations,
        })
    }

    /// Evaluates the validations on a review.
    pub(crate) fn run(
        &self,
        review: &Value,
        constraint: &Value,
        namespace: Option<&Value>,
    ) -> Result<Vec<Violation>, String> {
        match catch_unwind(AssertUnwindSafe(|| {
            self.run_inner(review, constraint, namespace)
        })) {
            Ok(r) => r,
            Err(_) => Err("CEL evaluation aborted".into()),
        }
    }

    fn run_inner(
        &self,
        review: &Value,
        constraint: &Value,
        namespace: Option<&Value>,
    ) -> Result<Vec<Violation>, String> {
        let object = review.get("object").cloned().unwrap_or(Value::Null);
        let old_object = review.get("oldObject").cloned().unwrap_or(Value::Null);
        let any_object = if object.is_null()
            && review.get("operation").and_then(Value::as_str) == Some("DELETE")
        {
            old_object.clone()
        } else {
            object.clone()
        };
        let params = constraint
            .pointer("/spec/parameters")
            .cloned()
            .unwrap_or(Value::Null);
        let mut ctx = context();
        let to_cel = |v: &Value| cel_interpreter::to_value(v).map_err(|e| e.to_string());
        ctx.add_variable_from_value("object", to_cel(&object)?);
        ctx.add_variable_from_value("oldObject", to_cel(&old_object)?);
        ctx.add_variable_from_value("request", to_cel(review)?);
        ctx.add_variable_from_value("params", to_cel(constraint)?);
        ctx.add_variable_from_value(
            "namespaceObject",
            to_cel(namespace.unwrap_or(&Value::Null))?,
        );
        let mut vars: HashMap<String, CelValue> = HashMap::new();
        vars.insert("params".into(), to_cel(&params)?);
        vars.insert("anyObject".into(), to_cel(&any_object)?);
        ctx.add_variable_from_value("variables", vars.clone());
        for (name, expr) in &self.variables {
            let value = execute(expr, &ctx)?;
            vars.insert(name.clone(), value);
            ctx.add_variable_from_value("variables", vars.clone());
        }
        let mut out = Vec::new();
        for v in &self.validations {
            match execute(&v.expression, &ctx)? {
                CelValue::Bool(true) => continue,
                CelValue::Bool(false) => {}
                other => {
                    return Err(format!(
                        "CEL validation {:?} returned {other:?}, not a bool",
                        v.expression.source
                    ));
                }
            }
            let from_expression = match v.message_expression.as_ref().map(|e| execute(e, &ctx)) {
                Some(Ok(CelValue::String(s))) if !s.trim().is_empty() => Some(s.as_ref().clone()),
                _ => None,
            };
            let msg = from_expression
                .or_else(|| v.message.clone())
                .unwrap_or_else(|| format!("failed expression: {}", v.expression.source.trim()));
            out.push(Violation { msg });
        }
        Ok(out)
    }
}

fn execute(expr: &Expr, ctx: &Context) -> Result<CelValue, String> {
    expr.program
        .execute(ctx)
        .map_err(|e| format!("CEL expression {:?}: {e}", expr.source.trim()))
}

type CelResult<T> = Result<T, ExecutionError>;

fn string_arg(args: &[CelValue], i: usize, function: &str) -> CelResult<Arc<String>> {
    match args.get(i) {
        Some(CelValue::String(s)) => Ok(s.clone()),
        Some(other) => Err(ExecutionError::function_error(
            function,
            format!("argument {i} is {other:?}, not a string"),
        )),
        None => Err(ExecutionError::function_error(
            function,
            format!("missing argument {i}"),
        )),
    }
}

fn dyn_(This(this): This<CelValue>) -> CelResult<CelValue> {
    Ok(this)
}

fn join(This(this): This<Arc<Vec<CelValue>>>, Arguments(args): Arguments) -> CelResult<CelValue> {
    let sep = match args.first() {
        Some(_) => string_arg(&args, 0, "join")?.as_ref().clone(),
        None => String::new(),
    };
    let mut parts = Vec::with_capacity(this.len());
    for v in this.iter() {
        match v {
            CelValue::String(s) => parts.push(s.as_ref().clone()),
            other => {
                return Err(ExecutionError::function_error(
                    "join",
                    format!("list element {other:?} is not a string"),
                ));
            }
        }
    }
    Ok(CelValue::String(Arc::new(parts.join(&sep))))
}

fn replace(This(this): This<Arc<String>>, Arguments(args): Arguments) -> CelResult<CelValue> {
    let from = string_arg(&args, 0, "replace")?;
    let to = string_arg(&args, 1, "replace")?;
    let out = match args.get(2) {
        Some(CelValue::Int(n)) if *n >= 0 => {
            this.replacen(from.as_str(), to.as_str(), usize::try_from(*n).unwrap_or(0))
        }
        _ => this.replace(from.as_str(), to.as_str()),
    };
    Ok(CelValue::String(Arc::new(out)))
}

fn split(This(this): This<Arc<String>>, Arguments(args): Arguments) -> CelResult<CelValue> {
    let sep = string_arg(&args, 0, "split")?;
    let parts: Vec<CelValue> = this
        .split(sep.as_str())
        .map(|p| CelValue::String(Arc::new(p.to_owned())))
        .collect();
    Ok(CelValue::List(Arc::new(parts)))
}

fn lower_ascii(This(this): This<Arc<String>>) -> CelResult<CelValue> {
    Ok(CelValue::String(Arc::new(this.to_ascii_lowercase())))
}

fn upper_ascii(This(this): This<Arc<String>>) -> CelResult<CelValue> {
    Ok(CelValue::String(Arc::new(this.to_ascii_uppercase())))
}

fn trim(This(this): This<Arc<String>>) -> CelResult<CelValue> {
    Ok(CelValue::String(Arc::new(this.trim().to_owned())))
}

fn index_of(This(this): This<Arc<String>>, Arguments(args): Arguments) -> CelResult<CelValue> {
    let needle = string_arg(&args, 0, "indexOf")?;
    let index = this
        .find(needle.as_str())
        .map(|byte| this[..byte].chars().count());
    Ok(CelValue::Int(
        index.and_then(|i| i64::try_from(i).ok()).unwrap_or(-1),
    ))
}

fn context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.add_function("dyn", dyn_);
    ctx.add_function("join", join);
    ctx.add_function("replace", replace);
    ctx.add_function("split", split);
    ctx.add_function("lowerAscii", lower_ascii);
    ctx.add_function("upperAscii", upper_ascii);
    ctx.add_function("trim", trim);
    ctx.add_function("indexOf", index_of);
    ctx
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn template(src: Value) -> CelTemplate {
        CelTemplate::compile(&src).unwrap()
    }

    #[test]
    fn variables_messages_and_extensions() {
        let t = template(json!({
            "variables": [
                {"name": "containers", "expression": "has(variables.anyObject.spec.containers) ? variables.anyObject.spec.containers : []"},
                {"name": "bad", "expression": "variables.containers.filter(c, !(c.image in variables.params.allowed)).map(c, c.name)"}
            ],
            "validations": [
                {"expression": "size(variables.bad) == 0", "messageExpression": "\"bad: \" + variables.bad.join(\", \")"},
                {"expression": "object.metadata.name.startsWith(\"ok\")", "message": "name"},
                {"expression": "dyn(object.metadata.name).replace(\"-\", \"\").size() < 3"}
            ]
        }));
        let review = json!({"object": {"metadata": {"name": "x-y-z"}, "spec": {"containers": [
            {"name": "a", "image": "good"}, {"name": "b", "image": "evil"}, {"name": "c", "image": "evil"}]}}});
        let constraint = json!({"spec": {"parameters": {"allowed": ["good"]}}});
        let msgs: Vec<String> = t
            .run(&review, &constraint, None)
            .unwrap()
            .into_iter()
            .map(|v| v.msg)
            .collect();
        assert_eq!(
            msgs,
            vec![
                "bad: b, c".to_owned(),
                "name".to_owned(),
                "failed expression: dyn(object.metadata.name).replace(\"-\", \"\").size() < 3"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn nested_presence_tests_do_not_fail_on_absent_parents() {
        assert_eq!(
            nested_presence_tests("!has(a.b.c) || hasx(a.b.c) || has(a.b) || has(a.b[0].c)"),
            "!(has(a.b) && has(a.b.c)) || hasx(a.b.c) || has(a.b) || has(a.b[0].c)"
        );
        let t = template(json!({"validations": [
            {"expression": "!has(object.spec.securityContext.privileged)", "messageExpression": "object.missing + \"x\"", "message": "fallback"}
        ]}));
        assert!(
            t.run(&json!({"object": {"spec": {}}}), &json!({}), None)
                .unwrap()
                .is_empty()
        );
        let v = t
            .run(
                &json!({"object": {"spec": {"securityContext": {"privileged": true}}}}),
                &json!({}),
                None,
            )
            .unwrap();
        assert_eq!(v[0].msg, "fallback");
    }

    #[test]
    fn any_object_is_the_old_object_on_delete() {
        let t = template(json!({"validations": [
            {"expression": "variables.anyObject.metadata.name != \"gone\"", "message": "deleted"}
        ]}));
        let review = json!({"operation": "DELETE", "object": null, "oldObject": {"metadata": {"name": "gone"}}});
        assert_eq!(t.run(&review, &json!({}), None).unwrap().len(), 1);
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        assert!(CelTemplate::compile(&json!({"validations": [{"expression": "1 +"}]})).is_err());
        let t = template(json!({"validations": [{"expression": "object.missing.field == 1"}]}));
        assert!(t.run(&json!({"object": {}}), &json!({}), None).is_err());
    }
}
