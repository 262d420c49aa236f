//! The record encoding: the advisory model through `postcard`.
//!
//! `postcard` is not self-describing, so the free-form JSON values of the model
//! (`database_specific`, `ecosystem_specific`) cannot go through it as `serde_json::Value`;
//! these mirror structs carry them as JSON text instead. Everything else is the model's own
//! serde derive, so a field added to the model changes the record layout: that is a format
//! version bump ([`super::FORMAT_VERSION`]).

use serde::{Deserialize, Serialize};

use crate::advisory::{
    Advisory, Affected, Constraints, Event, Package, Range, RangeKind, Reference, SeverityScore,
};

#[derive(Serialize, Deserialize)]
pub(super) struct WireAdvisory {
    id: String,
    source: String,
    aliases: Vec<String>,
    related: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    severity: Vec<SeverityScore>,
    vendor_severity: Option<String>,
    affected: Vec<WireAffected>,
    withdrawn: Option<String>,
    published: Option<String>,
    modified: Option<String>,
    references: Vec<Reference>,
    database_specific: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireAffected {
    package: Package,
    ranges: Vec<WireRange>,
    versions: Vec<String>,
    constraints: Option<Constraints>,
    severity: Vec<SeverityScore>,
    ecosystem_specific: Option<String>,
    database_specific: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireRange {
    kind: RangeKind,
    repo: Option<String>,
    events: Vec<Event>,
    database_specific: Option<String>,
}

fn to_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

fn from_text(v: Option<String>) -> Result<Option<serde_json::Value>, String> {
    v.map(|t| serde_json::from_str(&t).map_err(|e| format!("embedded JSON: {e}")))
        .transpose()
}

pub(super) fn encode(a: &Advisory) -> Result<Vec<u8>, String> {
    let w = WireAdvisory {
        id: a.id.clone(),
        source: a.source.clone(),
        aliases: a.aliases.clone(),
        related: a.related.clone(),
        summary: a.summary.clone(),
        details: a.details.clone(),
        severity: a.severity.clone(),
        vendor_severity: a.vendor_severity.clone(),
        affected: a
            .affected
            .iter()
            .map(|x| WireAffected {
                package: x.package.clone(),
                ranges: x
                    .ranges
                    .iter()
                    .map(|r| WireRange {
                        kind: r.kind.clone(),
                        repo: r.repo.clone(),
                        events: r.events.clone(),
                        database_specific: to_text(&r.database_specific),
                    })
                    .collect(),
                versions: x.versions.clone(),
                constraints: x.constraints.clone(),
                severity: x.severity.clone(),
                ecosystem_specific: to_text(&x.ecosystem_specific),
                database_specific: to_text(&x.database_specific),
            })
            .collect(),
        withdrawn: a.withdrawn.clone(),
        published: a.published.clone(),
        modified: a.modified.clone(),
        references: a.references.clone(),
        database_specific: to_text(&a.database_specific),
    };
    postcard::to_stdvec(&w).map_err(|e| format!("{}: encoding: {e}", a.id))
}

pub(super) fn decode(bytes: &[u8]) -> Result<Advisory, String> {
    let w: WireAdvisory = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
    let mut affected = Vec::with_capacity(w.affected.len());
    for x in w.affected {
        let mut ranges = Vec::with_capacity(x.ranges.len());
        for r in x.ranges {
            ranges.push(Range {
                kind: r.kind,
                repo: r.repo,
                events: r.events,
                database_specific: from_text(r.database_specific)?,
            });
        }
        affected.push(Affected {
            package: x.package,
            ranges,
            versions: x.versions,
            constraints: x.constraints,
            severity: x.severity,
            ecosystem_specific: from_text(x.ecosystem_specific)?,
            database_specific: from_text(x.database_specific)?,
        });
    }
    Ok(Advisory {
        id: w.id,
        source: w.source,
        aliases: w.aliases,
        related: w.related,
        summary: w.summary,
        details: w.details,
        severity: w.severity,
        vendor_severity: w.vendor_severity,
        affected,
        withdrawn: w.withdrawn,
        published: w.published,
        modified: w.modified,
        references: w.references,
        database_specific: from_text(w.database_specific)?,
    })
}
