//! npm: installed packages (`node_modules/<name>/package.json`,
//! `node_modules/@scope/<name>/package.json`) and lockfiles (`package-lock.json` v1's
//! nested `dependencies`, v2/v3's flat `packages` keyed by `node_modules/...` path).

use serde_json::Value;

use super::{Package, PackageType};
use crate::image::Node;

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [.., "node_modules", _, "package.json"] => true,
        [.., "node_modules", scope, _, "package.json"] => scope.starts_with('@'),
        [.., "package-lock.json"] => !parts.contains(&"node_modules"),
        _ => false,
    }
}

pub(crate) fn parse(path: &str, data: &[u8]) -> Result<Vec<Package>, String> {
    if path.ends_with("package-lock.json") {
        parse_package_lock(data)
    } else {
        parse_package_json(data).map(|p| p.into_iter().collect())
    }
}

fn license(v: &Value) -> Option<String> {
    match v.get("license")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Parses an installed package's `package.json` (`None` without name and version).
pub fn parse_package_json(data: &[u8]) -> Result<Option<Package>, String> {
    let v: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let (Some(name), Some(version)) = (
        v.get("name").and_then(Value::as_str),
        v.get("version").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let mut p = Package::new(PackageType::Npm, name, version);
    p.metadata.license = license(&v);
    Ok(Some(p))
}

/// Parses a `package-lock.json` (v1, v2, v3): every locked package except the root and
/// links; development-only ones carry `extra.dev = "true"`.
pub fn parse_package_lock(data: &[u8]) -> Result<Vec<Package>, String> {
    let v: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, meta) in pkgs {
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            };
            if meta.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = meta
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            let Some(version) = meta.get("version").and_then(Value::as_str) else {
                continue;
            };
            out.push(lock_pkg(name, version, meta));
        }
    } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![deps];
        while let Some(map) = stack.pop() {
            for (name, meta) in map {
                if let Some(version) = meta.get("version").and_then(Value::as_str)
                    && !version.starts_with("file:")
                {
                    out.push(lock_pkg(name, version, meta));
                }
                if let Some(inner) = meta.get("dependencies").and_then(Value::as_object) {
                    stack.push(inner);
                }
            }
        }
    }
    Ok(out)
}

fn lock_pkg(name: &str, version: &str, meta: &Value) -> Package {
    let mut p = Package::new(PackageType::Npm, name, version);
    p.metadata.license = license(meta);
    if meta.get("dev").and_then(Value::as_bool) == Some(true) {
        p.metadata.extra.insert("dev".into(), "true".into());
    }
    p
}
