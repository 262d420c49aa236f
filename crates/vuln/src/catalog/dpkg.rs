//! dpkg databases: `var/lib/dpkg/status` and the per-package files of distroless images in
//! `var/lib/dpkg/status.d/` (same control-paragraph format, one package each, no `Status`).

use super::{Package, PackageType};
use crate::image::Node;

const NOT_CONTROL: &[&str] = &[
    ".md5sums",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".conffiles",
    ".list",
    ".triggers",
    ".shlibs",
    ".symbols",
    ".templates",
    ".config",
];

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    if path == "var/lib/dpkg/status" {
        return true;
    }
    match path.strip_prefix("var/lib/dpkg/status.d/") {
        Some(name) => !name.contains('/') && !NOT_CONTROL.iter().any(|s| name.ends_with(s)),
        None => false,
    }
}

/// Control paragraphs: `Key: value` fields, continuation lines indented.
pub fn paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a dpkg status file (or one `status.d` file): installed packages only.
pub fn parse_status(data: &[u8]) -> Vec<Package> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for para in paragraphs(&text) {
        let get = |k: &str| {
            para.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        if let Some(status) = get("Status")
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let mut p = Package::new(PackageType::Deb, name, version);
        if let Some(src) = get("Source") {
            // `Source: name (version)` when the source version differs.
            let (sname, sver) = match src.split_once('(') {
                Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
                None => (src.trim(), None),
            };
            p.metadata.source_name = Some(sname.to_owned());
            p.metadata.source_version = sver.map(str::to_owned);
        }
        p.metadata.arch = get("Architecture").map(str::to_owned);
        if let Some(m) = get("Maintainer") {
            p.metadata.extra.insert("maintainer".into(), m.to_owned());
        }
        out.push(p);
    }
    out
}
