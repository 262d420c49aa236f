//! JSON reports: `{"findings": [...], "summary": {...}, "errors": [...]}`.
//!
//! The shape is documented by `docs/schemas/posture-scan.schema.json`; the CLI tests validate
//! real output against that schema.

use std::io::Write;

use anyhow::Context as _;
use palisade_model::{Finding, Severity};
use serde::Serialize;

use super::ScanContext;

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a [Finding],
    summary: Summary,
    errors: Vec<ErrorEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a palisade_store::ScanComparison>,
}

#[derive(Serialize)]
struct Summary {
    resources: usize,
    findings: usize,
    by_severity: std::collections::BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    file: &'a str,
    document: usize,
    line: usize,
    message: &'a str,
}

pub(crate) fn write_findings(out: &mut impl Write, ctx: &ScanContext<'_>) -> anyhow::Result<()> {
    let mut by_severity: std::collections::BTreeMap<&'static str, usize> =
        Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for f in ctx.findings {
        *by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
    let r = Report {
        findings: ctx.findings,
        summary: Summary {
            resources: ctx.inventory.objects.len(),
            findings: ctx.findings.len(),
            by_severity,
        },
        errors: ctx
            .errors
            .iter()
            .map(|e| ErrorEntry {
                file: &e.location.file,
                document: e.location.document,
                line: e.location.line,
                message: &e.message,
            })
            .collect(),
        changes: ctx.changes,
    };
    serde_json::to_writer_pretty(&mut *out, &r).context("cannot write the report")?;
    writeln!(out)?;
    Ok(())
}

#[derive(Serialize)]
struct CheckEntry<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    category: &'a str,
    mitre: &'a [&'a str],
    rationale: &'a str,
    remediation: &'a str,
}

pub(crate) fn write_catalog(out: &mut impl Write) -> anyhow::Result<()> {
    let checks: Vec<_> = palisade_posture::catalog()
        .iter()
        .map(|c| CheckEntry {
            id: c.id,
            title: c.title,
            severity: c.severity,
            category: c.category,
            mitre: c.mitre,
            rationale: c.rationale,
            remediation: c.remediation,
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "checks": checks }))
        .context("cannot write the catalogue")?;
    writeln!(out)?;
    Ok(())
}
