//! The Node.js security working group's advisory files (`vuln/npm/*.json` for npm modules,
//! `vuln/core/*.json` for Node.js itself).
//!
//! npm records name a module and give `vulnerable_versions` and `patched_versions` as npm
//! range expressions; core records give `vulnerable` and `patched` ranges of Node.js
//! versions. Both become [`Constraints`] on the npm scheme: affected when the version
//! satisfies the vulnerable range and not the patched one (some records list patched
//! back-ports inside the vulnerable range). Ids follow the WG's convention: `NSWG-ECO-<n>`
//! for npm modules and `NSWG-COR-<n>` for core. Core advisories get the ecosystem `Node.js`
//! and package `node`.
//!
//! `index.json` files aggregate the per-id files and are skipped, as is `vuln/deps/`, which
//! records CVEs of bundled dependencies that do *not* affect Node.js.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Import, read, walk};
use crate::advisory::{
    Advisory, Affected, Constraints, Ecosystem, Package, Reference, SeverityScore, VersionReq,
};
use crate::version::{Scheme, semver::parse_npm_range};

#[derive(Deserialize)]
struct RawNpm {
    id: Value,
    title: Option<String>,
    overview: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    publish_date: Option<String>,
    module_name: String,
    cves: Option<Vec<String>>,
    vulnerable_versions: Option<String>,
    patched_versions: Option<String>,
    recommendation: Option<String>,
    references: Option<Vec<String>>,
    cvss_vector: Option<String>,
    cvss_score: Option<f64>,
}

fn range(text: Option<&str>, what: &str) -> Result<Option<VersionReq>, String> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => parse_npm_range(t)
            .map(Some)
            .map_err(|e| format!("{what}: {e}")),
    }
}

/// Parses one `vuln/npm/<n>.json` record.
pub fn parse_nodejs_npm(text: &str, source: &str) -> Result<Advisory, String> {
    let raw: RawNpm = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let n = match &raw.id {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(format!("id {other} is not a number")),
    };
    let mut adv = Advisory::new(format!("NSWG-ECO-{n}"), source);
    adv.aliases = raw.cves.unwrap_or_default();
    adv.summary = raw.title;
    adv.details = raw.overview;
    adv.published = raw.publish_date.or(raw.created_at);
    adv.modified = raw.updated_at;
    if let Some(v) = raw.cvss_vector.as_deref().filter(|v| !v.trim().is_empty()) {
        adv.severity
            .push(SeverityScore::from_vector(v, raw.cvss_score));
    }
    adv.references = raw
        .references
        .unwrap_or_default()
        .into_iter()
        .map(|url| Reference {
            kind: "WEB".into(),
            url,
        })
        .collect();
    if let Some(r) = raw.recommendation {
        adv.database_specific = Some(json!({ "recommendation": r }));
    }
    let vulnerable = range(raw.vulnerable_versions.as_deref(), "vulnerable_versions")?;
    let patched = range(raw.patched_versions.as_deref(), "patched_versions")?;
    let name = raw.module_name.trim().to_owned();
    let mut affected = Affected::new(Package {
        ecosystem: Ecosystem::Npm,
        release: None,
        purl: Some(format!("pkg:npm/{}", name.replace('@', "%40"))),
        name,
    });
    affected.constraints = Some(Constraints {
        scheme: Scheme::Npm,
        vulnerable: Some(vulnerable.unwrap_or(VersionReq {
            any_of: vec![Vec::new()],
        })),
        patched: patched.unwrap_or_default(),
        unaffected: VersionReq::default(),
    });
    adv.affected.push(affected);
    Ok(adv)
}

#[derive(Deserialize)]
struct RawCore {
    cve: Option<Vec<String>>,
    vulnerable: Option<String>,
    patched: Option<String>,
    description: Option<String>,
    overview: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    severity: Option<String>,
    publish_date: Option<String>,
    cvss: Option<String>,
    cvss_score: Option<f64>,
    #[serde(rename = "affectedEnvironments")]
    affected_environments: Option<Value>,
}

/// Parses one `vuln/core/<n>.json` record; `n` is the file's number.
pub fn parse_nodejs_core(text: &str, n: &str, source: &str) -> Result<Advisory, String> {
    let raw: RawCore = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut adv = Advisory::new(format!("NSWG-COR-{n}"), source);
    adv.aliases = raw.cve.unwrap_or_default();
    adv.summary = raw.description;
    adv.details = raw.overview;
    adv.published = raw.publish_date;
    adv.vendor_severity = raw.severity;
    if let Some(v) = raw.cvss.as_deref().filter(|v| v.starts_with("CVSS:")) {
        adv.severity
            .push(SeverityScore::from_vector(v, raw.cvss_score));
    }
    if let Some(url) = raw.reference {
        adv.references.push(Reference {
            kind: "ADVISORY".into(),
            url,
        });
    }
    let vulnerable = range(raw.vulnerable.as_deref(), "vulnerable")?
        .ok_or_else(|| "vulnerable: missing".to_owned())?;
    let patched = range(raw.patched.as_deref(), "patched")?;
    let mut affected = Affected::new(Package {
        ecosystem: Ecosystem::Other("Node.js".into()),
        release: None,
        name: "node".into(),
        purl: None,
    });
    affected.constraints = Some(Constraints {
        scheme: Scheme::Npm,
        vulnerable: Some(vulnerable),
        patched: patched.unwrap_or_default(),
        unaffected: VersionReq::default(),
    });
    if let Some(env) = raw.affected_environments {
        affected.ecosystem_specific = Some(json!({ "affectedEnvironments": env }));
    }
    adv.affected.push(affected);
    Ok(adv)
}

/// Imports a checkout of the security WG repository (the directory holding `vuln/`, or
/// `vuln/` itself).
pub fn import_nodejs(dir: &Path, source: &str) -> Import {
    let mut import = Import::new(source);
    for path in walk(dir, &["json"], &mut import) {
        let parent = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if stem == "index" {
            import.skip(&path, "aggregate index of the per-id files");
            continue;
        }
        if parent == "deps" {
            import.skip(&path, "not-affected statement for a bundled dependency");
            continue;
        }
        if parent != "npm" && parent != "core" {
            import.skip(&path, "not under vuln/npm or vuln/core");
            continue;
        }
        let Some(text) = read(&path, &mut import) else {
            continue;
        };
        let parsed = if parent == "npm" {
            parse_nodejs_npm(&text, source)
        } else {
            parse_nodejs_core(&text, &stem, source)
        };
        match parsed {
            Ok(a) => import.push(a),
            Err(e) => import.error(&path, e),
        }
    }
    import
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn npm_record() {
        let text = r#"{"id": 410, "title": "merge-options prototype pollution", "module_name": "merge-options",
            "cves": [], "vulnerable_versions": "<=1.0.0", "patched_versions": null,
            "references": ["https://example.invalid/r"], "cvss_vector": "CVSS:3.0/AV:N/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L", "cvss_score": 2}"#;
        let a = parse_nodejs_npm(text, "nodejs").unwrap();
        assert_eq!(a.id, "NSWG-ECO-410");
        let c = a.affected[0].constraints.as_ref().unwrap();
        assert_eq!(c.vulnerable.as_ref().unwrap().to_string(), "<=1.0.0");
        assert!(c.patched.any_of.is_empty());
        assert_eq!(a.severity[0].score, Some(2.0));
    }

    #[test]
    fn bad_range_is_an_error() {
        let text = r#"{"id": 1, "module_name": "x", "vulnerable_versions": ">=banana"}"#;
        let e = parse_nodejs_npm(text, "nodejs").unwrap_err();
        assert!(
            e.starts_with("vulnerable_versions: invalid npm version"),
            "{e}"
        );
    }
}
