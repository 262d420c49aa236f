//! Rust: `Cargo.lock` (`[[package]]` tables) and binaries built with `cargo auditable`,
//! whose `.dep-v0` section holds zlib-compressed JSON `{"packages": [{name, version,
//! source, kind, root}]}`.

use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

use super::{Package, PackageType};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPkg>,
}

#[derive(Deserialize)]
struct LockPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

/// Parses a `Cargo.lock`: every locked package (workspace members carry no `source`).
pub fn parse_cargo_lock(data: &[u8]) -> Result<Vec<Package>, String> {
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let lock: Lock = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| {
            let mut pkg = Package::new(PackageType::Cargo, p.name, p.version);
            if let Some(s) = p.source {
                pkg.metadata.extra.insert("source".into(), s);
            }
            pkg
        })
        .collect())
}

#[derive(Deserialize)]
struct Audit {
    packages: Vec<AuditPkg>,
}

#[derive(Deserialize)]
struct AuditPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// The crates recorded by `cargo auditable` in a binary; `None` without a `.dep-v0`
/// section. Build-only dependencies are marked `extra.kind = "build"`.
pub fn parse_auditable_binary(data: &[u8]) -> Option<Vec<Package>> {
    let file = object::File::parse(data).ok()?;
    let section = file
        .section_by_name(".dep-v0")
        .or_else(|| file.section_by_name("__dep-v0"))?;
    let compressed = section.data().ok()?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(16 << 20)
        .read_to_end(&mut json)
        .ok()?;
    let audit: Audit = serde_json::from_slice(&json).ok()?;
    Some(
        audit
            .packages
            .into_iter()
            .map(|p| {
                let mut pkg = Package::new(PackageType::Cargo, p.name, p.version);
                if let Some(s) = p.source {
                    pkg.metadata.extra.insert("source".into(), s);
                }
                if let Some(k) = p.kind {
                    pkg.metadata.extra.insert("kind".into(), k);
                }
                if p.root {
                    pkg.metadata.extra.insert("root".into(), "true".into());
                }
                pkg
            })
            .collect(),
    )
}
