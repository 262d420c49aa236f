//! Scanning: an image (or an SBOM) against the advisory [`Index`] into a [`VulnReport`].
//!
//! Each package becomes a [`PackageQuery`]: the package type and the distribution pick the
//! ecosystem (`deb` on Debian → `Debian` with release `12`, `apk` on Alpine → `Alpine`,
//! `rpm` on Rocky → `Rocky Linux`, `pypi` → `PyPI`, ...), distribution packages also carry
//! their source package name, which is what distribution advisories name. Findings are
//! enriched with EPSS scores when a score table is given ([`parse_epss_csv`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::advisory::Ecosystem;
use crate::catalog::{self, Distro, Package, PackageType, Sbom};
use crate::image::{Filesystem, ImageError, ImageOptions, ImageSource};
use crate::matcher::{Index, Lookup, PackageQuery};

/// An EPSS score (probability of exploitation in the next 30 days) and its percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    /// Probability, 0 to 1.
    pub score: f64,
    /// Percentile, 0 to 1.
    pub percentile: f64,
}

/// EPSS scores by CVE id.
pub type EpssScores = HashMap<String, Epss>;

/// Parses the FIRST EPSS CSV (`cve,epss,percentile`, `#` comment lines, a header line).
pub fn parse_epss_csv(text: &str) -> EpssScores {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(',');
        let (Some(cve), Some(score), Some(pct)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(score), Ok(percentile)) = (score.trim().parse(), pct.trim().parse()) else {
            continue; // comment or header
        };
        out.insert(cve.trim().to_owned(), Epss { score, percentile });
    }
    out
}

/// Scan options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// EPSS scores to attach to findings.
    pub epss: Option<&'a EpssScores>,
}

/// The scanned artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportArtifact {
    /// Image digest (manifest digest, else config digest), when known.
    pub digest: Option<String>,
    /// Name (tag, path).
    pub name: String,
    /// Distribution as `id version` (`debian 12`).
    pub distro: Option<String>,
}

/// The package a vulnerability is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    /// Name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL.
    pub purl: String,
}

/// A CVSS score and vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// Base score.
    pub score: Option<f64>,
    /// Vector string.
    pub vector: String,
}

/// One vulnerability of one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Identifier shown (lowest CVE of the group, else the advisory id).
    pub id: String,
    /// Other identifiers.
    pub aliases: Vec<String>,
    /// The package.
    pub package: PackageRef,
    /// Fixed versions above the installed one, lowest first.
    pub fixed_versions: Vec<String>,
    /// Severity.
    pub severity: Option<palisade_model::Severity>,
    /// Highest CVSS score of the matched records.
    pub cvss: Option<Cvss>,
    /// Listed in CISA KEV.
    pub kev: bool,
    /// EPSS of the highest-scored CVE of the group.
    pub epss: Option<Epss>,
    /// `upgrade X to >= Y` or `no fix yet`.
    pub remediation: String,
    /// A one-line summary.
    pub summary: Option<String>,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnReport {
    /// What was scanned.
    pub artifact: ReportArtifact,
    /// Every package found.
    pub packages: Vec<Package>,
    /// Vulnerabilities, sorted by package then id.
    pub vulnerabilities: Vec<Vulnerability>,
    /// Packages that could not be matched and advisory entries that could not be
    /// evaluated, and catalog warnings.
    pub problems: Vec<String>,
}

/// The matcher ecosystem of a package type on a distribution; `None` when unknown.
pub fn ecosystem_for(kind: PackageType, distro: Option<&Distro>) -> Option<Ecosystem> {
    let id = distro.map(|d| d.id.as_str()).unwrap_or("");
    Some(match kind {
        PackageType::Deb => match id {
            "ubuntu" => Ecosystem::Ubuntu,
            _ => Ecosystem::Debian,
        },
        PackageType::Apk => match id {
            "wolfi" => Ecosystem::Wolfi,
            "chainguard" => Ecosystem::Chainguard,
            _ => Ecosystem::Alpine,
        },
        PackageType::Rpm => match id {
            "rhel" | "centos" | "redhat" => Ecosystem::RedHat,
            "rocky" => Ecosystem::RockyLinux,
            "almalinux" => Ecosystem::AlmaLinux,
            "sles" | "sled" | "sle-micro" | "suse" => Ecosystem::Suse,
            i if i.starts_with("opensuse") => Ecosystem::OpenSuse,
            "photon" => Ecosystem::PhotonOs,
            "mageia" => Ecosystem::Mageia,
            "" => return None,
            other => Ecosystem::Other(other.to_owned()),
        },
        PackageType::Pypi => Ecosystem::PyPI,
        PackageType::Npm => Ecosystem::Npm,
        PackageType::Golang => Ecosystem::Go,
        PackageType::Cargo => Ecosystem::CratesIo,
        PackageType::Maven => Ecosystem::Maven,
        PackageType::Gem => Ecosystem::RubyGems,
        PackageType::Composer => Ecosystem::Packagist,
        PackageType::Nuget => Ecosystem::NuGet,
    })
}

/// The matcher query for a package.
pub fn query_for(p: &Package, distro: Option<&Distro>) -> Option<PackageQuery> {
    let eco = ecosystem_for(p.kind, distro)?;
    let mut q = PackageQuery::new(eco, p.name.clone(), p.version.clone());
    if p.kind.is_os() {
        if let Some(v) = distro.and_then(distro_release) {
            q = q.with_release(v);
        }
        if let Some(src) = &p.metadata.source_name {
            q = q.with_source(src.clone());
        }
    }
    Some(q)
}

/// The release distribution advisories are keyed by: `VERSION_ID`, else for Debian testing
/// and unstable (which have none) `sid` when the name says so, else the codename's number.
pub fn distro_release(distro: &Distro) -> Option<String> {
    if let Some(v) = &distro.version_id {
        return Some(v.clone());
    }
    if distro.id != "debian" {
        return None;
    }
    if distro
        .pretty_name
        .as_deref()
        .is_some_and(|n| n.ends_with("/sid") || n.contains("unstable"))
    {
        return Some("sid".into());
    }
    distro
        .codename
        .as_deref()
        .and_then(crate::osv::debian_release)
        .map(str::to_owned)
}

/// Matches an SBOM's packages against the index.
pub fn scan_sbom(sbom: &Sbom, index: &Index, options: ScanOptions<'_>) -> VulnReport {
    scan_sbom_with(sbom, index, options)
}

/// Matches an SBOM's packages against any [`Lookup`] (an [`Index`] or a
/// [`crate::db::Database`]).
pub fn scan_sbom_with(sbom: &Sbom, lookup: &dyn Lookup, options: ScanOptions<'_>) -> VulnReport {
    let mut report = VulnReport {
        artifact: ReportArtifact {
            digest: sbom.artifact.digest.clone(),
            name: sbom.artifact.name.clone(),
            distro: sbom.distro.as_ref().map(|d| match &d.version_id {
                Some(v) => format!("{} {v}", d.id),
                None => d.id.clone(),
            }),
        },
        packages: sbom.packages.clone(),
        vulnerabilities: Vec::new(),
        problems: sbom.warnings.clone(),
    };
    for p in &sbom.packages {
        let Some(q) = query_for(p, sbom.distro.as_ref()) else {
            report.problems.push(format!(
                "{} {} ({}): no vulnerability ecosystem (distribution unknown)",
                p.name,
                p.version,
                p.kind.as_str()
            ));
            continue;
        };
        let m = lookup.lookup(&q);
        report.problems.extend(
            m.problems
                .into_iter()
                .map(|e| format!("{} {}: {e}", p.name, p.version)),
        );
        for f in m.findings {
            let epss = options.epss.and_then(|scores| {
                std::iter::once(&f.id)
                    .chain(f.aliases.iter())
                    .filter_map(|id| scores.get(id))
                    .copied()
                    .max_by(|a, b| a.score.total_cmp(&b.score))
            });
            report.vulnerabilities.push(Vulnerability {
                id: f.id,
                aliases: f.aliases,
                package: PackageRef {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    purl: p.purl.clone(),
                },
                fixed_versions: f.fixed_versions,
                severity: f.severity,
                cvss: f.cvss.map(|c| Cvss {
                    score: c.score,
                    vector: c.vector,
                }),
                kev: f.kev.is_some(),
                epss,
                remediation: f.remediation_text,
                summary: f.summary,
            });
        }
    }
    report.vulnerabilities.sort_by(|a, b| {
        (&a.package.name, &a.package.version, &a.id).cmp(&(
            &b.package.name,
            &b.package.version,
            &b.id,
        ))
    });
    report
}

/// Catalogs an opened image (or root filesystem) and matches it.
pub fn scan_image(
    source: &Filesystem,
    index: &Index,
    options: ScanOptions<'_>,
) -> Result<VulnReport, ImageError> {
    let sbom = catalog::catalog(source)?;
    Ok(scan_sbom(&sbom, index, options))
}

/// Catalogs an opened image and matches it against any [`Lookup`] (for instance a
/// [`crate::db::Database`]).
pub fn scan_image_with(
    source: &Filesystem,
    lookup: &dyn Lookup,
    options: ScanOptions<'_>,
) -> Result<VulnReport, ImageError> {
    let sbom = catalog::catalog(source)?;
    Ok(scan_sbom_with(&sbom, lookup, options))
}

/// Opens an image, catalogs it in the same pass ([`catalog::open_and_catalog`]: each layer
/// is inflated once) and matches it against any [`Lookup`]: the cold-scan path.
pub fn scan_image_source(
    source: Box<dyn ImageSource>,
    image_options: &ImageOptions,
    lookup: &dyn Lookup,
    options: ScanOptions<'_>,
) -> Result<VulnReport, ImageError> {
    let (_, sbom) = catalog::open_and_catalog(source, image_options)?;
    Ok(scan_sbom_with(&sbom, lookup, options))
}
