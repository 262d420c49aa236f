//! Java archives (JAR, WAR, EAR, Jenkins JPI/HPI) and the archives nested in them
//! (`WEB-INF/lib/*.jar`, `BOOT-INF/lib/*.jar`, `lib/*.jar` in EARs).
//!
//! Coordinates come from `pom.properties` files (Maven writes them to
//! `META-INF/maven/<group>/<artifact>/`; shading tools elsewhere), one package
//! each, as Maven wrote them). An archive without one for itself falls back to its
//! `META-INF/MANIFEST.MF` (`Implementation-Version`/`Bundle-Version`, group from
//! `Implementation-Vendor-Id`, `Automatic-Module-Name` or `Bundle-SymbolicName`) and its
//! file name (`log4j-core-2.14.1.jar`). Nested archives are read to a depth of
//! [`MAX_DEPTH`], each bounded by [`MAX_NESTED_BYTES`] inflated bytes (zip bombs).

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use super::{Package, PackageType};
use crate::image::Node;

/// Deepest nesting of archives followed.
pub const MAX_DEPTH: usize = 4;
/// Most inflated bytes read from one archive member.
pub const MAX_NESTED_BYTES: u64 = 256 << 20;

const EXTS: &[&str] = &[".jar", ".war", ".ear", ".jpi", ".hpi"];

fn is_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    EXTS.iter().any(|e| lower.ends_with(e))
}

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    is_archive(path)
}

fn properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once('=').or_else(|| l.split_once(':')))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Main attributes of a manifest (continuation lines start with one space).
fn manifest(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            break; // per-entry sections follow
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(k) = &last
                && let Some(v) = out.get_mut(k)
            {
                let v: &mut String = v;
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.insert(k.trim().to_owned(), v.trim().to_owned());
            last = Some(k.trim().to_owned());
        }
    }
    out
}

/// `commons-text-1.10.0.jar` → (`commons-text`, `1.10.0`).
fn split_file_name(file: &str) -> (String, Option<String>) {
    let stem = file.rsplit('/').next().unwrap_or(file);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let parts: Vec<&str> = stem.split('-').collect();
    for i in 1..parts.len() {
        if parts[i].starts_with(|c: char| c.is_ascii_digit()) {
            return (parts[..i].join("-"), Some(parts[i..].join("-")));
        }
    }
    (stem.to_owned(), None)
}

fn read_entry(entry: &mut impl Read, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    entry
        .take(MAX_NESTED_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{what}: {e}"))?;
    if buf.len() as u64 > MAX_NESTED_BYTES {
        return Err(format!(
            "{what}: more than {MAX_NESTED_BYTES} bytes inflated"
        ));
    }
    Ok(buf)
}

/// Parses an archive; nested packages carry their path inside it as location
/// (`WEB-INF/lib/x.jar`), top-level ones none.
pub fn parse_archive(path: &str, data: &[u8]) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    walk(path, data, "", 0, &mut out)?;
    Ok(out)
}

fn walk(
    file_name: &str,
    data: &[u8],
    location: &str,
    depth: usize,
    out: &mut Vec<Package>,
) -> Result<(), String> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(data)).map_err(|e| format!("not a zip archive: {e}"))?;
    let mut poms: Vec<BTreeMap<String, String>> = Vec::new();
    let mut mf = BTreeMap::new();
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut entry) = zip.by_index(i) else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let Ok(name) = entry.name().map(|n| n.into_owned()) else {
            continue;
        };
        if name == "pom.properties" || name.ends_with("/pom.properties") {
            let bytes = read_entry(&mut entry, &name)?;
            poms.push(properties(&String::from_utf8_lossy(&bytes)));
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            let bytes = read_entry(&mut entry, &name)?;
            mf = manifest(&String::from_utf8_lossy(&bytes));
        } else if is_archive(&name) && depth < MAX_DEPTH {
            nested.push((name.clone(), read_entry(&mut entry, &name)?));
        }
    }
    let (file_artifact, file_version) = split_file_name(file_name);
    let here = |p: &mut Package| {
        if !location.is_empty() {
            p.locations.push(location.to_owned());
        }
    };
    let mut own = false;
    for pom in &poms {
        let (Some(g), Some(a), Some(v)) = (
            pom.get("groupId"),
            pom.get("artifactId"),
            pom.get("version"),
        ) else {
            continue;
        };
        if a == &file_artifact {
            own = true;
        }
        let mut p = Package::new(PackageType::Maven, format!("{g}:{a}"), v);
        here(&mut p);
        out.push(p);
    }
    if !own && poms.is_empty() {
        let version = mf
            .get("Implementation-Version")
            .or_else(|| mf.get("Bundle-Version"))
            .or_else(|| mf.get("Specification-Version"))
            .cloned()
            .or(file_version);
        let group = mf.get("Implementation-Vendor-Id").cloned().or_else(|| {
            // `org.apache.commons.text` → group `org.apache.commons` when it ends with
            // the artifact's last word.
            mf.get("Automatic-Module-Name")
                .or_else(|| mf.get("Bundle-SymbolicName"))
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
                .map(|s| match s.rsplit_once('.') {
                    Some((g, last)) if file_artifact.ends_with(last) => g.to_owned(),
                    _ => s,
                })
        });
        if let Some(v) = version.filter(|v| !v.is_empty()) {
            let name = match group {
                Some(g) => format!("{g}:{file_artifact}"),
                None => file_artifact.clone(),
            };
            let mut p = Package::new(PackageType::Maven, name, v);
            p.metadata.extra.insert("from".into(), "manifest".into());
            here(&mut p);
            out.push(p);
        }
    }
    for (name, bytes) in nested {
        let loc = if location.is_empty() {
            name.clone()
        } else {
            format!("{location}:{name}")
        };
        // A nested archive that is not a zip is skipped, not fatal to its parent.
        let _ = walk(&name, &bytes, &loc, depth + 1, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_name("lib/commons-text-1.10.0.jar"),
            ("commons-text".into(), Some("1.10.0".into()))
        );
        assert_eq!(split_file_name("app.war"), ("app".into(), None));
    }
}
