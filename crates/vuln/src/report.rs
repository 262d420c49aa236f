//! Report renderings of a [`VulnReport`]: SARIF 2.1.0 for code-scanning consumers.
//!
//! SARIF (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html>) has one run
//! whose tool driver lists one rule per vulnerability id and one result per (vulnerability,
//! package):
//!
//! - rule: `id` = the vulnerability id, short description = the summary, `help.text` = the
//!   remediation(s), `properties.security-severity` = the CVSS score (what GitHub code
//!   scanning ranks by) and tags;
//! - result: `ruleId`/`ruleIndex`, `level` from the severity (critical/high → `error`,
//!   medium → `warning`, low/informational → `note`; unknown → `warning`), `message.text`
//!   naming package, installed version and fix, one location = the file the package was
//!   found in inside the image (`var/lib/dpkg/status`, `app/package-lock.json`; the artifact
//!   name when no file is known), and `properties` with the package, fixed versions, CVSS,
//!   KEV and EPSS.
//!
//! Built as a `serde_json::Value` directly: the few fields used do not warrant a SARIF
//! model crate.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::catalog::Package;
use crate::scan::{VulnReport, Vulnerability};

/// The SARIF `level` of a severity.
pub fn sarif_level(severity: Option<palisade_model::Severity>) -> &'static str {
    use palisade_model::Severity;
    match severity {
        Some(Severity::Critical | Severity::High) => "error",
        Some(Severity::Medium) | None => "warning",
        Some(Severity::Low | Severity::Informational) => "note",
    }
}

fn severity_word(severity: Option<palisade_model::Severity>) -> &'static str {
    use palisade_model::Severity;
    match severity {
        Some(Severity::Critical) => "critical",
        Some(Severity::High) => "high",
        Some(Severity::Medium) => "medium",
        Some(Severity::Low) => "low",
        Some(Severity::Informational) => "informational",
        None => "unknown",
    }
}

fn severity_rank(severity: Option<palisade_model::Severity>) -> Option<&'static str> {
    use palisade_model::Severity;
    Some(match severity? {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    })
}

/// The file a package was found in (no leading `/`), looked up by purl, else by name and
/// version.
fn package_location<'a>(packages: &'a [Package], v: &Vulnerability) -> Option<&'a str> {
    packages
        .iter()
        .find(|p| !v.package.purl.is_empty() && p.purl == v.package.purl)
        .or_else(|| {
            packages
                .iter()
                .find(|p| p.name == v.package.name && p.version == v.package.version)
        })
        .and_then(|p| p.locations.first())
        .map(|l| l.trim_start_matches('/'))
}

/// The SARIF 2.1.0 log of a scan report (see the module docs).
pub fn to_sarif(report: &VulnReport) -> Value {
    // Rules in order of first appearance; each collects its remediations.
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules: Vec<(&Vulnerability, Vec<&str>)> = Vec::new();
    for v in &report.vulnerabilities {
        match rule_index.get(v.id.as_str()) {
            Some(&i) => {
                let (first, remedies) = &mut rules[i];
                if !remedies.contains(&v.remediation.as_str()) {
                    remedies.push(&v.remediation);
                }
                // The rule carries the worst severity and score among its packages.
                if v.severity > first.severity {
                    *first = v;
                }
            }
            None => {
                rule_index.insert(&v.id, rules.len());
                rules.push((v, vec![v.remediation.as_str()]));
            }
        }
    }
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|(v, remedies)| {
            let summary = v
                .summary
                .clone()
                .unwrap_or_else(|| format!("{} in {}", v.id, v.package.name));
            let help = remedies.join("\n");
            let mut props = serde_json::Map::new();
            props.insert(
                "tags".into(),
                json!(["security", "vulnerability", severity_word(v.severity)]),
            );
            // GitHub code scanning ranks by this number: the CVSS score, else the middle of
            // the severity's CVSS band.
            let rank = match v.cvss.as_ref().and_then(|c| c.score) {
                Some(score) => Some(format!("{score:.1}")),
                None => severity_rank(v.severity).map(str::to_owned),
            };
            if let Some(rank) = rank {
                props.insert("security-severity".into(), json!(rank));
            }
            let mut rule = json!({
                "id": v.id,
                "name": v.id,
                "shortDescription": { "text": summary },
                "fullDescription": { "text": summary },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": sarif_level(v.severity) },
                "properties": props,
            });
            if let Some(url) = help_uri(&v.id) {
                rule["helpUri"] = json!(url);
            }
            rule
        })
        .collect();

    let results: Vec<Value> = report
        .vulnerabilities
        .iter()
        .map(|v| {
            let uri = package_location(&report.packages, v)
                .filter(|l| !l.is_empty())
                .unwrap_or(if report.artifact.name.is_empty() {
                    "image"
                } else {
                    report.artifact.name.as_str()
                });
            let fix = if v.fixed_versions.is_empty() {
                "no fix yet".to_owned()
            } else {
                format!("fixed in {}", v.fixed_versions.join(", "))
            };
            let text = format!(
                "{} {} is affected by {} ({}); {}: {}",
                v.package.name,
                v.package.version,
                v.id,
                severity_word(v.severity),
                fix,
                v.remediation
            );
            let mut props = serde_json::Map::new();
            props.insert("package".into(), json!(v.package.name));
            props.insert("installedVersion".into(), json!(v.package.version));
            props.insert("purl".into(), json!(v.package.purl));
            props.insert("fixedVersions".into(), json!(v.fixed_versions));
            props.insert("aliases".into(), json!(v.aliases));
            props.insert("severity".into(), json!(severity_word(v.severity)));
            if let Some(c) = &v.cvss {
                props.insert("cvss".into(), json!({ "score": c.score, "vector": c.vector }));
            }
            props.insert("kev".into(), json!(v.kev));
            if let Some(e) = &v.epss {
                props.insert(
                    "epss".into(),
                    json!({ "score": e.score, "percentile": e.percentile }),
                );
            }
            json!({
                "ruleId": v.id,
                "ruleIndex": rule_index.get(v.id.as_str()).copied().unwrap_or(0),
                "level": sarif_level(v.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri },
                        "region": { "startLine": 1 }
                    },
                    "logicalLocations": [{
                        "name": format!("{}@{}", v.package.name, v.package.version),
                        "fullyQualifiedName": v.package.purl,
                        "kind": "package"
                    }]
                }],
                "partialFingerprints": {
                    "palisadeVulnPackage/v1": format!("{}|{}|{}", v.id, v.package.purl, v.package.version)
                },
                "properties": props,
            })
        })
        .collect();

    let mut run_props = serde_json::Map::new();
    run_props.insert("artifact".into(), json!(report.artifact.name));
    if let Some(d) = &report.artifact.digest {
        run_props.insert("digest".into(), json!(d));
    }
    if let Some(d) = &report.artifact.distro {
        run_props.insert("distro".into(), json!(d));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "palisade",
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules_json,
                }
            },
            "results": results,
            "properties": run_props,
        }]
    })
}

/// A page describing an id, for the id schemes with a stable public page.
fn help_uri(id: &str) -> Option<String> {
    if id.starts_with("CVE-") {
        Some(format!("https://www.cve.org/CVERecord?id={id}"))
    } else if id.starts_with("GHSA-") {
        Some(format!("https://github.com/advisories/{id}"))
    } else if id.starts_with("DEBIAN-") || id.starts_with("ALPINE-") {
        None
    } else {
        Some(format!("https://osv.dev/vulnerability/{id}"))
    }
}
