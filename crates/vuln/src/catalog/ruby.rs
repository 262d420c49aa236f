//! Installed gems: `specifications/<name>-<version>.gemspec`, the Ruby files RubyGems
//! writes on install. They are not evaluated: the `name`, `version` and `licenses`
//! assignments it always writes (`s.name = "rake".freeze`) are read as text.

use super::{Package, PackageType};

fn quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(['"', '\'']) {
        let q = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(q) else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

/// Parses a gemspec written by RubyGems.
pub fn parse_gemspec(data: &[u8]) -> Option<Package> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for line in text.lines() {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let Some((_, attr)) = lhs.trim().rsplit_once('.') else {
            continue;
        };
        match attr.trim() {
            "name" if name.is_none() => name = quoted(rhs).into_iter().next(),
            "version" if version.is_none() => version = quoted(rhs).into_iter().next(),
            "licenses" | "license" => licenses.extend(quoted(rhs)),
            _ => {}
        }
    }
    let mut p = Package::new(PackageType::Gem, name?, version?);
    if !licenses.is_empty() {
        p.metadata.license = Some(licenses.join(" OR "));
    }
    Some(p)
}
