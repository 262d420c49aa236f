//! The normalized advisory model every importer produces and the matcher consumes.
//!
//! It follows the OSV schema (<https://ossf.github.io/osv-schema/>) closely, since OSV is the
//! richest of the formats and most sources publish it: an [`Advisory`] has ids and aliases,
//! texts, severities, and [`Affected`] entries, each naming a [`Package`] with OSV
//! [`Range`]s (events `introduced`/`fixed`/`last_affected`/`limit`) and an explicit version
//! list. Two things go beyond OSV:
//!
//! - [`Constraints`]: sources that publish version *requirements* instead of events (RustSec's
//!   `patched`/`unaffected` Cargo requirements, the Node.js security WG's npm ranges) keep
//!   them as comparator sets rather than being approximated by events. A version is affected
//!   when it satisfies `vulnerable` (or there is none) and neither `patched` nor `unaffected`.
//! - the ecosystem is split into [`Ecosystem`] and an optional release (`Alpine:v3.11` →
//!   `Alpine`, `v3.11`), which is how the matcher selects distribution advisories.
//!
//! `database_specific` and `ecosystem_specific` are kept as JSON values, untouched.

pub mod cvss;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::Scheme;

/// One advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Identifier in its database (`GHSA-…`, `PYSEC-2021-1`, `RUSTSEC-2021-0001`, `GO-2020-0001`).
    pub id: String,
    /// Which import source produced it (`golang-vulndb`, `rustsec`, ...).
    pub source: String,
    /// Other identifiers of the same vulnerability (`CVE-…`, `GHSA-…`).
    pub aliases: Vec<String>,
    /// Identifiers of related but different vulnerabilities.
    pub related: Vec<String>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Longer description (often Markdown).
    pub details: Option<String>,
    /// Scored severities.
    pub severity: Vec<SeverityScore>,
    /// The source's own severity word (`HIGH`, `moderate`), when it gives one.
    pub vendor_severity: Option<String>,
    /// Affected packages.
    pub affected: Vec<Affected>,
    /// When the advisory was withdrawn (RFC 3339), if it was.
    pub withdrawn: Option<String>,
    /// When it was published (RFC 3339 or a date).
    pub published: Option<String>,
    /// When it was last modified (RFC 3339 or a date).
    pub modified: Option<String>,
    /// Links.
    pub references: Vec<Reference>,
    /// Source-specific data, kept as given.
    pub database_specific: Option<serde_json::Value>,
}

impl Advisory {
    /// An advisory with only an id and source.
    pub fn new(id: impl Into<String>, source: impl Into<String>) -> Advisory {
        Advisory {
            id: id.into(),
            source: source.into(),
            aliases: Vec::new(),
            related: Vec::new(),
            summary: None,
            details: None,
            severity: Vec::new(),
            vendor_severity: None,
            affected: Vec::new(),
            withdrawn: None,
            published: None,
            modified: None,
            references: Vec::new(),
            database_specific: None,
        }
    }

    /// The id followed by the aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Whether the advisory was withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The highest CVSS score with its vector, preferring v3.1/v3.0 computed scores and
    /// falling back to scores the source gave.
    pub fn best_cvss(&self) -> Option<&SeverityScore> {
        self.severity
            .iter()
            .filter(|s| s.score.is_some())
            .max_by(|a, b| {
                let (x, y) = (a.score.unwrap_or(0.0), b.score.unwrap_or(0.0));
                x.total_cmp(&y)
            })
    }

    /// Overall severity: from the best CVSS score, else the vendor's word.
    pub fn severity(&self) -> Option<palisade_model::Severity> {
        if let Some(score) = self.best_cvss().and_then(|s| s.score) {
            return Some(cvss::rating(score));
        }
        self.vendor_severity.as_deref().and_then(vendor_severity)
    }
}

/// Maps a vendor severity word to a severity (`moderate` → medium, `important` → high).
pub fn vendor_severity(word: &str) -> Option<palisade_model::Severity> {
    use palisade_model::Severity;
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" | "important" => Some(Severity::High),
        "medium" | "moderate" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        "negligible" | "none" | "info" | "informational" | "unimportant" => {
            Some(Severity::Informational)
        }
        _ => None,
    }
}

/// Kind of a severity entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SeverityKind {
    /// `CVSS_V2`.
    CvssV2,
    /// `CVSS_V3` (3.0 or 3.1).
    CvssV3,
    /// `CVSS_V4`.
    CvssV4,
    /// `Ubuntu` priority words.
    Ubuntu,
    /// Anything else, as named by the source.
    Other(String),
}

impl SeverityKind {
    /// From the OSV `severity[].type` string.
    pub fn from_osv(s: &str) -> SeverityKind {
        match s {
            "CVSS_V2" => SeverityKind::CvssV2,
            "CVSS_V3" => SeverityKind::CvssV3,
            "CVSS_V4" => SeverityKind::CvssV4,
            "Ubuntu" => SeverityKind::Ubuntu,
            other => SeverityKind::Other(other.to_owned()),
        }
    }
}

/// One severity: a CVSS vector with its base score, or a qualitative value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// What `vector` is.
    pub kind: SeverityKind,
    /// The vector (`CVSS:3.1/AV:N/...`) or word, as the source gave it.
    pub vector: String,
    /// Base score: computed from a v3 vector, else as the source stated it.
    pub score: Option<f64>,
}

impl SeverityScore {
    /// Builds an entry, computing the v3 or v4 score from the vector; `stated` is a score the
    /// source printed, used only when none can be computed.
    pub fn new(kind: SeverityKind, vector: &str, stated: Option<f64>) -> SeverityScore {
        let computed = match kind {
            SeverityKind::CvssV2 | SeverityKind::CvssV3 | SeverityKind::CvssV4 => {
                cvss::Cvss::parse(vector).ok().and_then(|c| c.base_score())
            }
            _ => None,
        };
        SeverityScore {
            kind,
            vector: vector.to_owned(),
            score: computed.or(stated),
        }
    }

    /// Builds an entry from a bare CVSS vector, guessing the kind from its prefix.
    pub fn from_vector(vector: &str, stated: Option<f64>) -> SeverityScore {
        let kind = if vector.starts_with("CVSS:3") {
            SeverityKind::CvssV3
        } else if vector.starts_with("CVSS:4") {
            SeverityKind::CvssV4
        } else {
            SeverityKind::CvssV2
        };
        SeverityScore::new(kind, vector, stated)
    }
}

/// A link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// OSV reference type (`ADVISORY`, `FIX`, `WEB`, ...).
    pub kind: String,
    /// The URL.
    pub url: String,
}

/// A package ecosystem (the part of an OSV ecosystem string before `:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Ecosystem {
    /// Go modules and the Go toolchain.
    Go,
    /// npm.
    Npm,
    /// PyPI.
    PyPI,
    /// crates.io.
    CratesIo,
    /// Maven.
    Maven,
    /// RubyGems.
    RubyGems,
    /// Packagist (Composer).
    Packagist,
    /// NuGet.
    NuGet,
    /// Alpine Linux.
    Alpine,
    /// Wolfi.
    Wolfi,
    /// Chainguard.
    Chainguard,
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
    /// Red Hat.
    RedHat,
    /// Rocky Linux.
    RockyLinux,
    /// AlmaLinux.
    AlmaLinux,
    /// SUSE.
    Suse,
    /// openSUSE.
    OpenSuse,
    /// Photon OS.
    PhotonOs,
    /// Mageia.
    Mageia,
    /// Any other ecosystem, by its OSV name.
    Other(String),
}

impl Ecosystem {
    /// Splits an OSV ecosystem string (`Alpine:v3.11`) into ecosystem and release.
    pub fn parse_osv(s: &str) -> (Ecosystem, Option<String>) {
        let (base, release) = match s.split_once(':') {
            Some((b, r)) if !r.is_empty() => (b, Some(r.to_owned())),
            Some((b, _)) => (b, None),
            None => (s, None),
        };
        (Ecosystem::from_name(base), release)
    }

    /// From an OSV ecosystem name without release (case-insensitive).
    pub fn from_name(name: &str) -> Ecosystem {
        match name.trim().to_ascii_lowercase().as_str() {
            "go" | "golang" => Ecosystem::Go,
            "npm" => Ecosystem::Npm,
            "pypi" => Ecosystem::PyPI,
            "crates.io" | "cargo" => Ecosystem::CratesIo,
            "maven" => Ecosystem::Maven,
            "rubygems" | "gem" => Ecosystem::RubyGems,
            "packagist" | "composer" => Ecosystem::Packagist,
            "nuget" => Ecosystem::NuGet,
            "alpine" => Ecosystem::Alpine,
            "wolfi" => Ecosystem::Wolfi,
            "chainguard" => Ecosystem::Chainguard,
            "debian" => Ecosystem::Debian,
            "ubuntu" => Ecosystem::Ubuntu,
            "red hat" | "redhat" | "rhel" => Ecosystem::RedHat,
            "rocky linux" | "rocky" => Ecosystem::RockyLinux,
            "almalinux" | "alma" => Ecosystem::AlmaLinux,
            "suse" | "sles" => Ecosystem::Suse,
            "opensuse" => Ecosystem::OpenSuse,
            "photon os" | "photon" => Ecosystem::PhotonOs,
            "mageia" => Ecosystem::Mageia,
            _ => Ecosystem::Other(name.trim().to_owned()),
        }
    }

    /// The OSV name.
    pub fn as_str(&self) -> &str {
        match self {
            Ecosystem::Go => "Go",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Wolfi => "Wolfi",
            Ecosystem::Chainguard => "Chainguard",
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::RockyLinux => "Rocky Linux",
            Ecosystem::AlmaLinux => "AlmaLinux",
            Ecosystem::Suse => "SUSE",
            Ecosystem::OpenSuse => "openSUSE",
            Ecosystem::PhotonOs => "Photon OS",
            Ecosystem::Mageia => "Mageia",
            Ecosystem::Other(s) => s,
        }
    }

    /// The version scheme of `ECOSYSTEM` ranges, if palisade knows it.
    pub fn scheme(&self) -> Option<Scheme> {
        Some(match self {
            Ecosystem::Go => Scheme::Go,
            Ecosystem::Npm => Scheme::Npm,
            Ecosystem::PyPI => Scheme::Pep440,
            Ecosystem::CratesIo => Scheme::Semver,
            Ecosystem::Maven => Scheme::Maven,
            Ecosystem::RubyGems => Scheme::RubyGems,
            Ecosystem::Packagist => Scheme::Composer,
            Ecosystem::NuGet => Scheme::NuGet,
            Ecosystem::Alpine | Ecosystem::Wolfi | Ecosystem::Chainguard => Scheme::Apk,
            Ecosystem::Debian | Ecosystem::Ubuntu => Scheme::Dpkg,
            Ecosystem::RedHat
            | Ecosystem::RockyLinux
            | Ecosystem::AlmaLinux
            | Ecosystem::Suse
            | Ecosystem::OpenSuse
            | Ecosystem::PhotonOs
            | Ecosystem::Mageia => Scheme::Rpm,
            Ecosystem::Other(_) => return None,
        })
    }

    /// Whether this is a Linux distribution (packages are per release, names are source
    /// package names).
    pub fn is_distro(&self) -> bool {
        matches!(
            self.scheme(),
            Some(Scheme::Apk | Scheme::Dpkg | Scheme::Rpm)
        )
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An affected package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// The release of a distribution ecosystem (`v3.11`, `12`), when the advisory is per release.
    pub release: Option<String>,
    /// The package name as the source spells it.
    pub name: String,
    /// Its package URL, when given.
    pub purl: Option<String>,
}

/// One affected package with the versions affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package.
    pub package: Package,
    /// OSV ranges; a version is affected if any range includes it.
    pub ranges: Vec<Range>,
    /// Versions explicitly listed as affected.
    pub versions: Vec<String>,
    /// Version requirements, for sources that publish them instead of ranges.
    pub constraints: Option<Constraints>,
    /// Severity specific to this package (OSV 1.5+).
    pub severity: Vec<SeverityScore>,
    /// Ecosystem-specific data (Go symbols, ...), kept as given.
    pub ecosystem_specific: Option<serde_json::Value>,
    /// Database-specific data, kept as given.
    pub database_specific: Option<serde_json::Value>,
}

impl Affected {
    /// An entry for `package` with nothing affected yet.
    pub fn new(package: Package) -> Affected {
        Affected {
            package,
            ranges: Vec::new(),
            versions: Vec::new(),
            constraints: None,
            severity: Vec::new(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }
}

/// The kind of an OSV range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RangeKind {
    /// `ECOSYSTEM`: versions ordered by the package ecosystem's scheme.
    Ecosystem,
    /// `SEMVER`: SemVer 2.0 precedence.
    Semver,
    /// `GIT`: commit hashes; not evaluable without the repository.
    Git,
    /// Anything else, as named.
    Other(String),
}

impl RangeKind {
    /// From the OSV `ranges[].type` string.
    pub fn from_osv(s: &str) -> RangeKind {
        match s {
            "ECOSYSTEM" => RangeKind::Ecosystem,
            "SEMVER" => RangeKind::Semver,
            "GIT" => RangeKind::Git,
            other => RangeKind::Other(other.to_owned()),
        }
    }
}

/// An OSV range: a list of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// How versions are ordered.
    pub kind: RangeKind,
    /// The repository, for `GIT` ranges.
    pub repo: Option<String>,
    /// The events, in source order (evaluation sorts them).
    pub events: Vec<Event>,
    /// Database-specific data, kept as given.
    pub database_specific: Option<serde_json::Value>,
}

/// An OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// Versions from here on are affected (`"0"` means from the start).
    Introduced(String),
    /// Versions from here on are not affected (exclusive upper bound).
    Fixed(String),
    /// The last affected version (inclusive upper bound).
    LastAffected(String),
    /// Versions from here on are outside this range whatever the other events say.
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A comparison operator of a version requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `ordering` (of a version against the comparator's version) satisfies the operator.
    pub fn accepts(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Op::Eq => ordering == Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

/// One comparison against a version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Comparator {
    /// The operator.
    pub op: Op,
    /// The version compared against.
    pub version: String,
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op.as_str(), self.version)
    }
}

/// A version requirement: satisfied when every comparator of any one set holds. An empty
/// set matches every version; a requirement without sets matches none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionReq {
    /// Alternatives (OR) of comparator sets (AND).
    pub any_of: Vec<Vec<Comparator>>,
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, set) in self.any_of.iter().enumerate() {
            if i > 0 {
                f.write_str(" || ")?;
            }
            if set.is_empty() {
                f.write_str("*")?;
            }
            for (j, c) in set.iter().enumerate() {
                if j > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Affected versions stated as requirements (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraints {
    /// The scheme the requirements are written in (SemVer for RustSec, npm for the Node.js
    /// security WG), independent of the package's ecosystem.
    pub scheme: Scheme,
    /// Versions stated vulnerable; `None` means every version not excluded below.
    pub vulnerable: Option<VersionReq>,
    /// Versions that carry the fix.
    pub patched: VersionReq,
    /// Versions never affected.
    pub unaffected: VersionReq,
}
