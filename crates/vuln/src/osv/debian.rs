//! The Debian security tracker's JSON export (`tracker/data/json`): one object keyed by
//! source package, then by issue id (`CVE-…`, `TEMP-…`), each issue with a description, a
//! scope and per release (by codename) a status, the versions in the archive, the fixed
//! version and the urgency:
//!
//! ```json
//! {"openssl": {"CVE-2021-3450": {"description": "…", "scope": "remote",
//!   "releases": {"bullseye": {"status": "resolved", "fixed_version": "1.1.1k-1",
//!                             "repositories": {"bullseye": "1.1.1n-0+deb11u4"},
//!                             "urgency": "not yet assigned"}}}}}
//! ```
//!
//! Each issue becomes one advisory (`DEBIAN-<id>`, aliased to a CVE id) with one affected
//! entry per release that is or was affected, in the ecosystem `Debian` with the release's
//! version number (`bookworm` → `12`, as os-release's `VERSION_ID` names it and as the
//! matcher compares it; `sid`/`unstable` stay `sid`):
//!
//! - `resolved` with `fixed_version` `0`: the release never had the vulnerable code; no
//!   entry.
//! - `resolved` with a fixed version: the dpkg range `introduced 0, fixed <version>`.
//! - `open` or `undetermined`: `introduced 0` without a fix ("no fix yet").
//!
//! The tracker carries no CVSS; the advisory's vendor severity is the highest urgency among
//! the affected releases (`low`/`medium`/`high`, `unimportant` → informational, `not yet
//! assigned` and `end-of-life` → none), and each entry keeps its own status and urgency in
//! `database_specific`. Written here because the tracker's export is a bespoke shape that no
//! crate models.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Import;
use crate::advisory::{Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind};
use crate::version::dpkg;

/// Debian release codenames and their version numbers, oldest first.
pub const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// The release name advisories use for a Debian codename: its version number (`bookworm`
/// → `12`), `sid` for `sid` and `unstable`; `None` for a name not known here.
pub fn debian_release(codename: &str) -> Option<&'static str> {
    let c = codename.trim().to_ascii_lowercase();
    if c == "sid" || c == "unstable" {
        return Some("sid");
    }
    DEBIAN_RELEASES
        .iter()
        .find(|(name, _)| *name == c)
        .map(|(_, number)| *number)
}

/// One issue of one source package.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Issue {
    description: Option<String>,
    scope: Option<String>,
    debianbug: Option<serde_json::Value>,
    releases: BTreeMap<String, ReleaseStatus>,
}

/// The state of an issue in one release.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ReleaseStatus {
    status: Option<String>,
    repositories: BTreeMap<String, String>,
    fixed_version: Option<String>,
    urgency: Option<String>,
    nodsa: Option<String>,
    nodsa_reason: Option<String>,
}

type Tracker = BTreeMap<String, BTreeMap<String, Issue>>;

/// An error in a tracker export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Debian security tracker JSON: {0}")]
pub struct DebianTrackerError(String);

/// The rank of an urgency word (higher is more urgent) with its severity word; `None` for
/// words that carry no severity.
pub(super) fn urgency(word: &str) -> Option<(u8, &'static str)> {
    // `low*`, `medium**`: the tracker marks urgencies taken from elsewhere with stars.
    match word
        .trim()
        .trim_end_matches('*')
        .to_ascii_lowercase()
        .as_str()
    {
        "unimportant" => Some((1, "unimportant")),
        "low" => Some((2, "low")),
        "medium" => Some((3, "medium")),
        "high" => Some((4, "high")),
        _ => None,
    }
}

/// Parses a tracker export into advisories (sorted by id); entries it cannot use (a fixed
/// version that is not a dpkg version, an unknown status) are listed in the second value as
/// `package issue release: reason`.
pub fn parse_debian_tracker(
    text: &str,
    source: &str,
) -> Result<(Vec<Advisory>, Vec<String>), DebianTrackerError> {
    let tracker: Tracker =
        serde_json::from_str(text).map_err(|e| DebianTrackerError(e.to_string()))?;
    let mut by_id: BTreeMap<String, (Advisory, Option<u8>)> = BTreeMap::new();
    let mut problems = Vec::new();
    for (package, issues) in tracker {
        for (issue_id, issue) in issues {
            let (adv, rank) = by_id.entry(issue_id.clone()).or_insert_with(|| {
                let mut a = Advisory::new(format!("DEBIAN-{issue_id}"), source);
                if issue_id.starts_with("CVE-") {
                    a.aliases.push(issue_id.clone());
                }
                a.details = issue.description.clone().filter(|d| !d.is_empty());
                a.summary = a.details.as_ref().map(|d| one_line(d));
                a.references.push(crate::advisory::Reference {
                    kind: "ADVISORY".into(),
                    url: format!("https://security-tracker.debian.org/tracker/{issue_id}"),
                });
                let mut specific = serde_json::Map::new();
                if let Some(scope) = &issue.scope {
                    specific.insert("scope".into(), scope.clone().into());
                }
                if let Some(bug) = &issue.debianbug {
                    specific.insert("debianbug".into(), bug.clone());
                }
                if !specific.is_empty() {
                    a.database_specific = Some(serde_json::Value::Object(specific));
                }
                (a, None)
            });
            for (codename, st) in &issue.releases {
                let place = || format!("{package} {issue_id} {codename}");
                let status = st.status.as_deref().unwrap_or("");
                let fixed = st
                    .fixed_version
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                let mut events = vec![Event::Introduced("0".into())];
                match (status, fixed) {
                    ("resolved", Some("0")) => continue,
                    ("resolved" | "open" | "undetermined", Some(v)) => {
                        if let Err(e) = dpkg::parse(v) {
                            problems.push(format!("{}: fixed version {v:?}: {e}", place()));
                            continue;
                        }
                        events.push(Event::Fixed(v.to_owned()));
                    }
                    ("open" | "undetermined", None) => {}
                    ("resolved", None) => {
                        problems.push(format!("{}: resolved without a fixed version", place()));
                        continue;
                    }
                    (other, _) => {
                        problems.push(format!("{}: unknown status {other:?}", place()));
                        continue;
                    }
                }
                let release = debian_release(codename)
                    .map(str::to_owned)
                    .unwrap_or_else(|| codename.to_ascii_lowercase());
                let mut affected = Affected::new(Package {
                    ecosystem: Ecosystem::Debian,
                    release: Some(release),
                    name: package.clone(),
                    purl: Some(format!("pkg:deb/debian/{package}")),
                });
                affected.ranges.push(Range {
                    kind: RangeKind::Ecosystem,
                    repo: None,
                    events,
                    database_specific: None,
                });
                let mut specific = serde_json::Map::new();
                specific.insert("codename".into(), codename.clone().into());
                specific.insert("status".into(), status.into());
                if let Some(u) = &st.urgency {
                    specific.insert("urgency".into(), u.clone().into());
                }
                if !st.repositories.is_empty() {
                    let repos: serde_json::Map<String, serde_json::Value> = st
                        .repositories
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone().into()))
                        .collect();
                    specific.insert("repositories".into(), repos.into());
                }
                if let Some(n) = &st.nodsa {
                    specific.insert("nodsa".into(), n.clone().into());
                }
                if let Some(n) = &st.nodsa_reason {
                    specific.insert("nodsa_reason".into(), n.clone().into());
                }
                affected.database_specific = Some(specific.into());
                if let Some((r, word)) = st.urgency.as_deref().and_then(urgency)
                    && rank.is_none_or(|best| r > best)
                {
                    *rank = Some(r);
                    adv.vendor_severity = Some(word.to_owned());
                }
                adv.affected.push(affected);
            }
        }
    }
    let advisories = by_id
        .into_values()
        .map(|(a, _)| a)
        .filter(|a| !a.affected.is_empty())
        .collect();
    Ok((advisories, problems))
}

pub(super) fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.trim_start_matches('(')
        .trim_end_matches(')')
        .trim_end_matches(" ...")
        .to_owned()
}

/// Imports a tracker export file (plain or gzip-compressed is handled by the caller; this
/// reads the text). Issues that leave no affected release are not imported.
pub fn import_debian_tracker(path: &Path, text: &str, source: &str) -> Import {
    let mut import = Import::new(source);
    import.report.files += 1;
    match parse_debian_tracker(text, source) {
        Ok((advisories, problems)) => {
            for a in advisories {
                import.push(a);
            }
            if !problems.is_empty() {
                import.error(
                    path,
                    format!(
                        "{} entries skipped: {}",
                        problems.len(),
                        problems
                            .iter()
                            .take(20)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
            }
        }
        Err(e) => import.error(path, e.to_string()),
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
    fn codenames() {
        assert_eq!(debian_release("bookworm"), Some("12"));
        assert_eq!(debian_release("Bullseye"), Some("11"));
        assert_eq!(debian_release("unstable"), Some("sid"));
        assert_eq!(debian_release("sid"), Some("sid"));
        assert_eq!(debian_release("nonesuch"), None);
    }

    #[test]
    fn urgencies() {
        assert_eq!(urgency("medium**"), Some((3, "medium")));
        assert_eq!(urgency("not yet assigned"), None);
        assert_eq!(urgency("end-of-life"), None);
        assert_eq!(urgency("unimportant"), Some((1, "unimportant")));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse_debian_tracker("[1,2]", "t").is_err());
        assert!(parse_debian_tracker("{\"p\": 3}", "t").is_err());
        let (a, problems) = parse_debian_tracker(
            r#"{"p": {"CVE-1": {"releases": {"sid": {"status": "resolved", "fixed_version": "!!"}, "bookworm": {"status": "weird"}}}}}"#,
            "t",
        )
        .unwrap();
        assert!(a.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
