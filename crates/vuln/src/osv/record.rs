//! OSV records (JSON or YAML) into [`Advisory`].

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{Import, read, walk};
use crate::advisory::{
    Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind, Reference, SeverityKind,
    SeverityScore,
};

/// An OSV record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OsvError {
    /// The text is not JSON / YAML of the OSV shape.
    #[error("not an OSV record: {reason}")]
    Syntax {
        /// The parser's message (with line and column).
        reason: String,
    },
    /// A range event names no or several of introduced/fixed/last_affected/limit.
    #[error(
        "{id}: affected[{affected}].ranges[{range}].events[{event}] must name exactly one event"
    )]
    BadEvent {
        /// Record id.
        id: String,
        /// Index of the affected entry.
        affected: usize,
        /// Index of the range.
        range: usize,
        /// Index of the event.
        event: usize,
    },
    /// The record has an empty id.
    #[error("record has an empty id")]
    EmptyId,
}

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    related: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    severity: Option<Vec<RawSeverity>>,
    affected: Option<Vec<RawAffected>>,
    references: Option<Vec<RawReference>>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    ranges: Option<Vec<RawRange>>,
    versions: Option<Vec<String>>,
    severity: Option<Vec<RawSeverity>>,
    ecosystem_specific: Option<Value>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    repo: Option<String>,
    events: Vec<RawEvent>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: String,
}

fn severities(raw: Option<Vec<RawSeverity>>) -> Vec<SeverityScore> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|s| SeverityScore::new(SeverityKind::from_osv(&s.kind), &s.score, None))
        .collect()
}

fn convert(raw: RawRecord, source: &str) -> Result<Advisory, OsvError> {
    if raw.id.trim().is_empty() {
        return Err(OsvError::EmptyId);
    }
    let mut adv = Advisory::new(raw.id.trim(), source);
    adv.aliases = raw.aliases.unwrap_or_default();
    adv.related = raw.related.unwrap_or_default();
    adv.summary = raw.summary;
    adv.details = raw.details;
    adv.severity = severities(raw.severity);
    adv.vendor_severity = raw
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    adv.withdrawn = raw.withdrawn;
    adv.published = raw.published;
    adv.modified = raw.modified;
    adv.references = raw
        .references
        .unwrap_or_default()
        .into_iter()
        .map(|r| Reference {
            kind: r.kind.unwrap_or_else(|| "WEB".into()),
            url: r.url,
        })
        .collect();
    adv.database_specific = raw.database_specific;
    for (ai, a) in raw.affected.unwrap_or_default().into_iter().enumerate() {
        // Entries without a package only describe GIT ranges of a repository: nothing to
        // match a package against.
        let Some(p) = a.package else { continue };
        let (ecosystem, release) = Ecosystem::parse_osv(&p.ecosystem);
        let mut entry = Affected::new(Package {
            ecosystem,
            release,
            name: p.name,
            purl: p.purl,
        });
        entry.versions = a.versions.unwrap_or_default();
        entry.severity = severities(a.severity);
        entry.ecosystem_specific = a.ecosystem_specific;
        entry.database_specific = a.database_specific;
        for (ri, r) in a.ranges.unwrap_or_default().into_iter().enumerate() {
            let mut events = Vec::with_capacity(r.events.len());
            for (ei, e) in r.events.into_iter().enumerate() {
                let ev = match (e.introduced, e.fixed, e.last_affected, e.limit) {
                    (Some(v), None, None, None) => Event::Introduced(v),
                    (None, Some(v), None, None) => Event::Fixed(v),
                    (None, None, Some(v), None) => Event::LastAffected(v),
                    (None, None, None, Some(v)) => Event::Limit(v),
                    _ => {
                        return Err(OsvError::BadEvent {
                            id: adv.id.clone(),
                            affected: ai,
                            range: ri,
                            event: ei,
                        });
                    }
                };
                events.push(ev);
            }
            entry.ranges.push(Range {
                kind: RangeKind::from_osv(&r.kind),
                repo: r.repo,
                events,
                database_specific: r.database_specific,
            });
        }
        adv.affected.push(entry);
    }
    Ok(adv)
}

/// Parses one OSV record in JSON.
pub fn parse_osv_json(text: &str, source: &str) -> Result<Advisory, OsvError> {
    let raw: RawRecord = serde_json::from_str(text).map_err(|e| OsvError::Syntax {
        reason: e.to_string(),
    })?;
    convert(raw, source)
}

/// Parses one OSV record in YAML (as the PyPA advisory database stores them). Unquoted
/// version numbers are read as the text written (`1.10` stays `1.10`).
pub fn parse_osv_yaml(text: &str, source: &str) -> Result<Advisory, OsvError> {
    let raw: RawRecord = serde_yaml_ng::from_str(text).map_err(|e| OsvError::Syntax {
        reason: e.to_string(),
    })?;
    convert(raw, source)
}

/// Imports every `*.json`, `*.yaml` and `*.yml` OSV record under `dir`, naming the source
/// `source`.
pub fn import_osv_dir(dir: &Path, source: &str) -> Import {
    let mut import = Import::new(source);
    for path in walk(dir, &["json", "yaml", "yml"], &mut import) {
        let Some(text) = read(&path, &mut import) else {
            continue;
        };
        let is_json = path.extension().is_some_and(|e| e == "json");
        let parsed = if is_json {
            parse_osv_json(&text, source)
        } else {
            parse_osv_yaml(&text, source)
        };
        match parsed {
            Ok(a) => import.push(a),
            Err(e) => import.error(&path, e.to_string()),
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
    fn yaml_keeps_version_text() {
        let text = "id: PYSEC-X\naffected:\n- package:\n    ecosystem: PyPI\n    name: foo\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n  versions:\n  - 1.0\n  - 1.10\n";
        let a = parse_osv_yaml(text, "t").unwrap();
        assert_eq!(a.affected[0].versions, vec!["1.0", "1.10"]);
        assert_eq!(
            a.affected[0].ranges[0].events,
            vec![Event::Introduced("0".into()), Event::Fixed("1.10".into())]
        );
    }

    #[test]
    fn errors_name_the_place() {
        let text = r#"{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}"#;
        let e = parse_osv_json(text, "t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "X-1: affected[0].ranges[0].events[0] must name exactly one event"
        );
        let e = parse_osv_json("{", "t").unwrap_err();
        assert!(e.to_string().starts_with("not an OSV record: EOF"), "{e}");
    }

    #[test]
    fn ecosystem_release_and_scores() {
        let text = r#"{"id":"ALPINE-CVE-1","aliases":["CVE-1"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "database_specific":{"severity":"HIGH"},
            "affected":[{"package":{"ecosystem":"Alpine:v3.18","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.4-r0"}]}]}]}"#;
        let a = parse_osv_json(text, "t").unwrap();
        assert_eq!(a.affected[0].package.ecosystem, Ecosystem::Alpine);
        assert_eq!(a.affected[0].package.release.as_deref(), Some("v3.18"));
        assert_eq!(a.severity[0].score, Some(9.8));
        assert_eq!(a.vendor_severity.as_deref(), Some("HIGH"));
        assert_eq!(a.severity(), Some(palisade_model::Severity::Critical));
    }
}
