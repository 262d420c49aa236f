//! apk's installed database `lib/apk/db/installed`: blank-line separated records of
//! single-letter fields (`P:` name, `V:` version, `A:` arch, `o:` origin, `L:` licence).

use super::{Package, PackageType};

/// Parses `lib/apk/db/installed`.
pub fn parse_installed(data: &[u8]) -> Vec<Package> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut cur: Option<Package> = None;
    let mut name = None;
    let mut version = None;
    let flush = |name: &mut Option<String>,
                 version: &mut Option<String>,
                 cur: &mut Option<Package>,
                 out: &mut Vec<Package>| {
        if let (Some(n), Some(v)) = (name.take(), version.take()) {
            let mut p = cur
                .take()
                .unwrap_or_else(|| Package::new(PackageType::Apk, "", ""));
            p.name = n;
            p.version = v;
            out.push(p);
        }
        *cur = None;
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut name, &mut version, &mut cur, &mut out);
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let p = cur.get_or_insert_with(|| Package::new(PackageType::Apk, "", ""));
        match k {
            "P" => name = Some(v.to_owned()),
            "V" => version = Some(v.to_owned()),
            "A" => p.metadata.arch = Some(v.to_owned()),
            "o" => p.metadata.source_name = Some(v.to_owned()),
            "L" => p.metadata.license = Some(v.to_owned()),
            "c" => {
                p.metadata.extra.insert("commit".into(), v.to_owned());
            }
            _ => {}
        }
    }
    flush(&mut name, &mut version, &mut cur, &mut out);
    out
}
