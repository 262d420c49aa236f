//! Pod Security Standards evaluation (API skeleton; see the crate description).
//!
//! Kept apart from `palisade-posture` because admission and the `posture pss` dry-run need the
//! exact Kubernetes verdict on a single pod, with no catalogue or inventory around it.

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
}

/// Evaluates a pod (its metadata and spec) against a level at a version. Empty = allowed.
pub fn evaluate(level: Level, version: Version, metadata: &Value, spec: &Value) -> Vec<Violation> {
    let _ = (level, version, metadata, spec);
    Vec::new()
}
