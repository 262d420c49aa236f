//! .NET `*.deps.json`: the `libraries` map (`Name/Version` → `{type}`); entries of type
//! `package` are NuGet packages (projects and references are not).

use serde_json::Value;

use super::{Package, PackageType};

/// Parses a `.deps.json`.
pub fn parse_deps_json(data: &[u8]) -> Result<Vec<Package>, String> {
    let v: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let Some(libs) = v.get("libraries").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, meta) in libs {
        if meta.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        let Some((name, version)) = key.split_once('/') else {
            continue;
        };
        out.push(Package::new(PackageType::Nuget, name, version));
    }
    Ok(out)
}
