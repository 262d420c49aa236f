//! SARIF 2.1.0 output (the format code-scanning dashboards ingest).
//!
//! One rule per check that produced a finding, one result per finding, located at the file and
//! line where the resource's document starts, with the resource as a logical location.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;
use palisade_model::{Finding, Severity};
use serde_json::{Value, json};

use super::ScanContext;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

/// The numeric scale code-scanning services use to rank security results.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

fn rule(f: &Finding) -> Value {
    let info = palisade_posture::catalog()
        .iter()
        .find(|c| c.id == f.check_id);
    let (description, help) = match info {
        Some(c) => (c.rationale, c.remediation),
        None => (&*f.title, &*f.remediation),
    };
    let mut tags: Vec<String> = vec!["security".into(), "kubernetes".into()];
    if let Some(c) = info {
        tags.push(c.category.to_owned());
    }
    tags.extend(f.mitre.iter().map(|m| format!("mitre:{m}")));
    json!({
        "id": f.check_id,
        "name": f.check_id,
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": description},
        "help": {"text": help},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {
            "security-severity": security_severity(f.severity),
            "tags": tags,
        }
    })
}

pub(crate) fn write(out: &mut impl Write, ctx: &ScanContext<'_>) -> anyhow::Result<()> {
    let locations = ctx.locations();
    let mut rules: BTreeMap<&str, (usize, Value)> = BTreeMap::new();
    for f in ctx.findings {
        let n = rules.len();
        rules.entry(&f.check_id).or_insert_with(|| (n, rule(f)));
    }
    let results: Vec<Value> = ctx
        .findings
        .iter()
        .map(|f| {
            let rule_index = rules.get(&*f.check_id).map_or(0, |(i, _)| *i);
            let mut physical = serde_json::Map::new();
            if let Some(loc) = locations.get(&f.resource) {
                physical.insert("artifactLocation".into(), json!({"uri": uri(&loc.file)}));
                if loc.line > 0 {
                    physical.insert("region".into(), json!({"startLine": loc.line}));
                }
            }
            let mut location = json!({
                "logicalLocations": [{
                    "fullyQualifiedName": f.resource.to_string(),
                    "kind": "resource",
                }]
            });
            if !physical.is_empty() {
                location["physicalLocation"] = Value::Object(physical);
            }
            json!({
                "ruleId": f.check_id,
                "ruleIndex": rule_index,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [location],
                "properties": {
                    "severity": f.severity,
                    "container": f.container,
                    "evidence": f.evidence,
                    "remediation": f.remediation,
                    "resource": f.resource,
                }
            })
        })
        .collect();
    let mut ordered: Vec<(usize, Value)> = rules.into_values().collect();
    ordered.sort_by_key(|(i, _)| *i);
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": ordered.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": ctx.errors.is_empty(),
                "toolExecutionNotifications": ctx.errors.iter().map(|e| json!({
                    "level": "error",
                    "message": {"text": e.to_string()},
                })).collect::<Vec<_>>(),
            }],
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &doc).context("cannot write the report")?;
    writeln!(out)?;
    Ok(())
}

/// File paths as relative URIs (SARIF wants URIs; `-` stays as is).
fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for ch in path.chars() {
        match ch {
            ' ' => s.push_str("%20"),
            '%' => s.push_str("%25"),
            '#' => s.push_str("%23"),
            '?' => s.push_str("%3F"),
            c => s.push(c),
        }
    }
    s
}
