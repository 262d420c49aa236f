//! PHP Composer: `vendor/composer/installed.json` (Composer 1: an array; Composer 2:
//! `{"packages": [...]}`) and `composer.lock` (`packages` and `packages-dev`).

use serde_json::Value;

use super::{Package, PackageType};
use crate::image::Node;

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    path.ends_with("composer/installed.json") || super::file_name(path) == "composer.lock"
}

fn pkg(v: &Value, dev: bool) -> Option<Package> {
    let name = v.get("name")?.as_str()?;
    let version = v.get("version")?.as_str()?;
    let mut p = Package::new(PackageType::Composer, name, version);
    if let Some(l) = v.get("license").and_then(Value::as_array) {
        let l: Vec<&str> = l.iter().filter_map(Value::as_str).collect();
        if !l.is_empty() {
            p.metadata.license = Some(l.join(" OR "));
        }
    }
    if dev {
        p.metadata.extra.insert("dev".into(), "true".into());
    }
    Some(p)
}

pub(crate) fn parse(_path: &str, data: &[u8]) -> Result<Vec<Package>, String> {
    parse_composer(data)
}

/// Parses `installed.json` or `composer.lock`.
pub fn parse_composer(data: &[u8]) -> Result<Vec<Package>, String> {
    let v: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let list = |x: Option<&Value>| x.and_then(Value::as_array).cloned().unwrap_or_default();
    match &v {
        Value::Array(a) => out.extend(a.iter().filter_map(|p| pkg(p, false))),
        Value::Object(_) => {
            out.extend(list(v.get("packages")).iter().filter_map(|p| pkg(p, false)));
            out.extend(
                list(v.get("packages-dev"))
                    .iter()
                    .filter_map(|p| pkg(p, true)),
            );
        }
        _ => return Err("not a composer document".into()),
    }
    Ok(out)
}
