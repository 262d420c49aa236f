//! SBOM documents: an [`Sbom`] written as CycloneDX 1.6 JSON or SPDX 2.3 JSON, and either
//! format (from this crate or another tool: syft, trivy) read back for scanning.
//!
//! What a package needs for matching travels in standard fields: the purl (CycloneDX
//! `purl`, SPDX `externalRefs` of type `purl`) carries type, namespace, name, version,
//! `arch`, `distro`, `epoch` and `upstream`; the distribution is a CycloneDX
//! `operating-system` component or an SPDX package with purpose `OPERATING_SYSTEM`.
//! Locations and layers are CycloneDX properties (`palisade:location`,
//! `palisade:layer_digest`; syft's `syft:location:N:path` and trivy's
//! `aquasecurity:trivy:FilePath` are read too) and the SPDX `sourceInfo` text.
//!
//! The documents are built with `serde_json` values: both formats are plain JSON and the
//! crates that model them pull in far more than the few fields written here.

pub mod cyclonedx;
pub mod spdx;

use crate::catalog::purl::Purl;
use crate::catalog::{Distro, Package, PackageType, Sbom};

/// SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CycloneDX 1.6 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
}

/// Errors reading SBOM documents.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// Not JSON.
    #[error("SBOM is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Neither CycloneDX nor SPDX.
    #[error("not a CycloneDX or SPDX JSON document")]
    UnknownFormat,
    /// A document of the right format with a wrong shape.
    #[error("{format}: {reason}")]
    Invalid {
        /// `CycloneDX` or `SPDX`.
        format: &'static str,
        /// Why.
        reason: String,
    },
}

/// What the writer says about itself and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Tool name.
    pub tool: String,
    /// Tool version.
    pub tool_version: String,
    /// Creation time (RFC 3339, UTC); now when `None`.
    pub timestamp: Option<String>,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            tool: "palisade".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            timestamp: None,
        }
    }
}

pub(crate) use palisade_model::time::now_rfc3339;

/// A UUID (version 4 layout) derived from content, so a document's serial number is
/// stable for the same SBOM.
pub(crate) fn uuid_from(seed: &[u8]) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(seed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// Writes an SBOM in a format, as pretty JSON.
pub fn write(sbom: &Sbom, format: Format, options: &WriteOptions) -> String {
    let doc = match format {
        Format::CycloneDx => cyclonedx::to_json(sbom, options),
        Format::Spdx => spdx::to_json(sbom, options),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Reads a CycloneDX or SPDX JSON document (detected from its content).
pub fn read(data: &[u8]) -> Result<Sbom, SbomError> {
    let v: serde_json::Value = serde_json::from_slice(data)?;
    if v.get("bomFormat").and_then(|f| f.as_str()) == Some("CycloneDX") {
        cyclonedx::from_json(&v)
    } else if v.get("spdxVersion").is_some() {
        spdx::from_json(&v)
    } else {
        Err(SbomError::UnknownFormat)
    }
}

/// A package from its purl (name spelled per ecosystem, RPM epoch folded into the version);
/// `None` for purl types no cataloger produces. `doc_name`, the name the document gives,
/// is kept when it is the purl name spelled differently (`Jinja2` for `pypi/jinja2`).
pub fn package_from_purl(
    purl_text: &str,
    fallback_version: Option<&str>,
    doc_name: Option<&str>,
) -> Option<Package> {
    let p: Purl = crate::catalog::purl::parse(purl_text)?;
    let kind = PackageType::from_purl_type(&p.kind)?;
    let name = match (kind, &p.namespace) {
        (PackageType::Maven, Some(ns)) => format!("{ns}:{}", p.name),
        (PackageType::Npm | PackageType::Golang | PackageType::Composer, Some(ns)) => {
            format!("{ns}/{}", p.name)
        }
        _ => p.name.clone(),
    };
    let mut version = p.version.clone().or(fallback_version.map(str::to_owned))?;
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let name = match doc_name {
        Some(d) if d != name && norm(d) == norm(&name) => d.to_owned(),
        _ => name,
    };
    let mut pkg = Package::new(kind, name, version.clone());
    pkg.metadata.arch = p.qualifier("arch").map(str::to_owned);
    if kind == PackageType::Rpm {
        if let Some(e) = p.qualifier("epoch").and_then(|e| e.parse::<u32>().ok()) {
            pkg.metadata.epoch = Some(e);
            if e > 0 && !version.contains(':') {
                version = format!("{e}:{version}");
                pkg.version = version;
            }
        }
        if let Some(u) = p.qualifier("upstream") {
            pkg.metadata.source_name = crate::catalog::rpm::source_name(u);
            pkg.metadata.extra.insert("sourceRpm".into(), u.to_owned());
        }
    } else if kind.is_os() {
        pkg.metadata.source_name = p
            .qualifier("upstream")
            .map(|u| u.split('@').next().unwrap_or(u).to_owned());
    }
    pkg.purl = purl_text.to_owned();
    Some(pkg)
}

/// The distribution named by a purl's `distro` qualifier and namespace (`debian-12`).
pub(crate) fn distro_from_purl(purl_text: &str) -> Option<Distro> {
    let p = crate::catalog::purl::parse(purl_text)?;
    let q = p.qualifier("distro")?;
    let id = p.namespace.clone().unwrap_or_default();
    let version = q
        .strip_prefix(&format!("{id}-"))
        .map(str::to_owned)
        .or_else(|| q.rsplit_once('-').map(|(_, v)| v.to_owned()));
    let id = if id.is_empty() {
        q.rsplit_once('-').map_or(q, |(i, _)| i).to_owned()
    } else {
        id
    };
    Some(Distro {
        id,
        version_id: version,
        ..Distro::default()
    })
}
