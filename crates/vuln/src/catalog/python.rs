//! Installed Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`,
//! `EGG-INFO/PKG-INFO` and single-file `*.egg-info` — RFC 822 style headers (core
//! metadata spec), of which `Name`, `Version` and `License` are read.

use super::{Package, PackageType};
use crate::image::Node;

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with("dist-info/metadata")
        || lower.ends_with("egg-info/pkg-info")
        || lower.ends_with(".egg-info")
}

/// Parses a METADATA / PKG-INFO document.
pub fn parse_metadata(data: &[u8]) -> Option<Package> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version, mut license) = (None, None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the body (description) follows the headers
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_owned()),
            "version" => version = Some(v.to_owned()),
            "license" if !v.is_empty() && v != "UNKNOWN" => license = Some(v.to_owned()),
            "license-expression" if !v.is_empty() => license = Some(v.to_owned()),
            _ => {}
        }
    }
    let (name, version) = (name?, version?);
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let mut p = Package::new(PackageType::Pypi, name, version);
    p.metadata.license = license;
    Some(p)
}
