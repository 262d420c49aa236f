//! Pod Security Standards evaluation, decided exactly as Kubernetes Pod Security Admission
//! (`k8s.io/pod-security-admission`, `policy/check_*.go`) decides it, for every policy version
//! from `v1.0` to `latest`.
//!
//! Kept apart from `palisade-posture` because admission and the `posture pss` dry-run need the
//! exact Kubernetes verdict on a single pod, with no catalogue or inventory around it.
//!
//! # Design
//!
//! - **Same registry model as upstream.** Each check has an ID (PSA's, e.g. `hostNamespaces`,
//!   `capabilities_baseline`), a level and versioned revisions. A check applies from its first
//!   revision; at version X the newest revision with minimum version <= X runs. Baseline checks
//!   also run at restricted level, except those a restricted revision overrides at that version
//!   (`restrictedVolumes` overrides `hostPathVolumes`, `capabilities_restricted` overrides
//!   `capabilities_baseline`, `seccompProfile_restricted` overrides `seccompProfile_baseline`,
//!   `procMount_restricted` overrides `procMount`). [`checks`] lists the catalogue.
//! - **Versions.** `latest`, and any `v1.N` newer than the newest revision this build knows
//!   ([`Version::LATEST_MINOR`]), evaluate like that newest version, as upstream clamps them.
//! - **Messages are Kubernetes'.** [`Violation::message`] is `reason (detail)` with PSA's exact
//!   `ForbiddenReason` / `ForbiddenDetail` text, so output can be compared with `kubectl`.
//! - **JSON in, never a panic.** The pod is a `serde_json::Value` that may be off-schema; a
//!   missing, `null` or wrongly typed field reads as Go's nil/zero value.
//! - **Evidence.** Each violation carries pod-relative JSON paths of the offending fields
//!   (`spec.containers[0].securityContext.privileged`,
//!   `metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]`); for a
//!   required field that is missing, the path is where it must be set.
//! - Upstream's alpha `UserNamespacesPodSecurityStandards` gate (off by default, since removed)
//!   is not modelled: user-namespace relaxations apply from policy v1.35, as upstream now has it.

mod checks;
mod pod;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened best practice.
    Restricted,
}

impl Level {
    /// The level's name as Kubernetes spells it (`privileged`, `baseline`, `restricted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(ParseError::Level(s.to_owned())),
        }
    }
}

/// A policy version: `v1.N` or `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `v1.<minor>`.
    V1(u32),
    /// The newest rules this build knows.
    Latest,
}

impl Version {
    /// The newest policy minor this build has rules for (the highest minimum version of any
    /// check revision). `latest` and newer `v1.N` evaluate like `v1.LATEST_MINOR`.
    pub const LATEST_MINOR: u32 = 37;

    /// The policy minor actually evaluated: `latest` and minors above
    /// [`Version::LATEST_MINOR`] resolve to it.
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::V1(m) => m.min(Self::LATEST_MINOR),
            Version::Latest => Self::LATEST_MINOR,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1(m) => write!(f, "v1.{m}"),
            Version::Latest => f.write_str("latest"),
        }
    }
}

impl FromStr for Version {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        s.strip_prefix("v1.")
            .and_then(|m| m.parse().ok())
            .map(Version::V1)
            .ok_or_else(|| ParseError::Version(s.to_owned()))
    }
}

/// A level or version that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not `privileged`, `baseline` or `restricted`.
    #[error("unknown Pod Security level {0:?}: expected privileged, baseline or restricted")]
    Level(String),
    /// Not `v1.N` or `latest`.
    #[error("unknown Pod Security version {0:?}: expected v1.N (e.g. v1.30) or latest")]
    Version(String),
}

/// One failed control, as Kubernetes reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Check id as Pod Security Admission names it, e.g. `privileged`, `hostNamespaces`.
    pub check: &'static str,
    /// Kubernetes' message: forbidden reason and detail, e.g.
    /// `privileged (container "c" must not set securityContext.privileged=true)`.
    pub message: String,
    /// Pod-relative JSON paths of the offending fields, each starting with `metadata` or `spec`,
    /// e.g. `spec.containers[0].securityContext.privileged`.
    pub paths: Vec<String>,
    /// PSA's `ForbiddenReason` alone, e.g. `privileged` or `host namespaces`.
    pub reason: String,
    /// PSA's `ForbiddenDetail` alone (may be empty).
    pub detail: String,
}

/// Evaluates a pod (its metadata and spec) against a level at a version. Empty = allowed.
///
/// Violations come in Pod Security Admission's order: baseline checks by ID, then restricted
/// checks by ID.
pub fn evaluate(level: Level, version: Version, metadata: &Value, spec: &Value) -> Vec<Violation> {
    let pod = pod::Pod { metadata, spec };
    checks::active(level, version.effective_minor())
        .into_iter()
        .filter_map(|(def, revision)| {
            (revision.run)(&pod).map(|f| Violation {
                check: def.id,
                message: if f.detail.is_empty() {
                    f.reason.clone()
                } else {
                    format!("{} ({})", f.reason, f.detail)
                },
                paths: f.paths,
                reason: f.reason,
                detail: f.detail,
            })
        })
        .collect()
}

/// Evaluates a whole Pod object (`{"metadata": .., "spec": ..}`); a missing part reads as empty.
pub fn evaluate_pod(level: Level, version: Version, pod: &Value) -> Vec<Violation> {
    let empty = Value::Object(serde_json::Map::new());
    let metadata = pod
        .get("metadata")
        .filter(|v| v.is_object())
        .unwrap_or(&empty);
    let spec = pod.get("spec").filter(|v| v.is_object()).unwrap_or(&empty);
    evaluate(level, version, metadata, spec)
}

/// Pod Security Admission's one-line denial text for a set of violations: the messages joined
/// with `, ` (e.g. `host ports (..), privileged (..)`), as in
/// `violates PodSecurity "baseline:latest": ...`.
pub fn forbidden_detail(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One check of the catalogue (see [`checks`]).
#[derive(Debug, Clone, Copy)]
pub struct Check {
    def: &'static checks::Def,
}

impl Check {
    /// PSA's check ID, e.g. `hostNamespaces`.
    pub fn id(&self) -> &'static str {
        self.def.id
    }

    /// The level the check belongs to (baseline checks also run at restricted level).
    pub fn level(&self) -> Level {
        self.def.level
    }

    /// A short human title.
    pub fn title(&self) -> &'static str {
        self.def.title
    }

    /// The policy versions at which the check's behaviour changed, oldest first; the first is
    /// the version from which it applies.
    pub fn revisions(&self) -> Vec<Version> {
        self.def
            .revisions
            .iter()
            .map(|r| Version::V1(r.since))
            .collect()
    }

    /// Whether the check exists at `version` (its first revision is not newer).
    pub fn applies_at(&self, version: Version) -> bool {
        self.def.revision_at(version.effective_minor()).is_some()
    }

    /// Baseline check IDs this (restricted) check replaces at `version`.
    pub fn overrides_at(&self, version: Version) -> &'static [&'static str] {
        self.def
            .revision_at(version.effective_minor())
            .map(|r| r.overrides)
            .unwrap_or(&[])
    }
}

/// The check catalogue: every check this build knows, baseline first, each level by ID.
pub fn checks() -> Vec<Check> {
    checks::CHECKS.iter().map(|def| Check { def }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn latest_minor_is_the_newest_revision() {
        let newest = checks()
            .iter()
            .flat_map(|c| c.revisions())
            .map(Version::effective_minor)
            .max();
        assert_eq!(newest, Some(Version::LATEST_MINOR));
        assert_eq!(Version::V1(99).effective_minor(), Version::LATEST_MINOR);
        assert_eq!(Version::Latest.effective_minor(), Version::LATEST_MINOR);
    }

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!("v1.25".parse::<Version>(), Ok(Version::V1(25)));
        assert_eq!("latest".parse::<Version>(), Ok(Version::Latest));
        assert!("1.25".parse::<Version>().is_err());
        assert_eq!(Version::V1(0).to_string(), "v1.0");
        assert_eq!("restricted".parse::<Level>(), Ok(Level::Restricted));
        assert_eq!(Level::Baseline.to_string(), "baseline");
        assert!("Baseline".parse::<Level>().is_err());
    }

    #[test]
    fn message_is_reason_and_detail() {
        let spec = json!({"hostNetwork": true, "containers": [
            {"name": "c", "securityContext": {"privileged": true}}
        ]});
        let v = evaluate(Level::Baseline, Version::Latest, &json!({}), &spec);
        let got: Vec<(&str, &str)> = v.iter().map(|v| (v.check, v.message.as_str())).collect();
        assert_eq!(
            got,
            [
                ("hostNamespaces", "host namespaces (hostNetwork=true)"),
                (
                    "privileged",
                    "privileged (container \"c\" must not set securityContext.privileged=true)"
                ),
            ]
        );
        assert_eq!(
            forbidden_detail(&v),
            "host namespaces (hostNetwork=true), privileged (container \"c\" must not set securityContext.privileged=true)"
        );
        assert!(evaluate(Level::Privileged, Version::Latest, &json!({}), &spec).is_empty());
    }

    #[test]
    fn off_schema_input_never_panics() {
        for spec in [
            json!(null),
            json!("pod"),
            json!([1, 2]),
            json!({"containers": "x", "securityContext": 5, "volumes": [null, 1, {"name": 3}]}),
            json!({"containers": [{"securityContext": {"capabilities": {"add": [1, null], "drop": "ALL"}}}]}),
        ] {
            for level in [Level::Baseline, Level::Restricted] {
                let _ = evaluate(level, Version::Latest, &json!(7), &spec);
                let _ = evaluate(level, Version::V1(0), &spec, &spec);
            }
        }
        let _ = evaluate_pod(Level::Restricted, Version::Latest, &json!({"spec": 1}));
    }

    #[test]
    fn catalogue_reports_overrides_by_version() {
        let all = checks();
        let by_id = |id: &str| all.iter().find(|c| c.id() == id).copied();
        let caps = by_id("capabilities_restricted");
        assert_eq!(caps.map(|c| c.level()), Some(Level::Restricted));
        assert_eq!(caps.map(|c| c.applies_at(Version::V1(21))), Some(false));
        assert_eq!(
            caps.map(|c| c.overrides_at(Version::V1(22))),
            Some(&["capabilities_baseline"][..])
        );
        assert_eq!(
            by_id("sysctls").map(|c| c.revisions()),
            Some(vec![
                Version::V1(0),
                Version::V1(27),
                Version::V1(29),
                Version::V1(32),
                Version::V1(37)
            ])
        );
    }
}
