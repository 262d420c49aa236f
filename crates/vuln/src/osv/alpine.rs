//! Alpine secdb: per release and repository, `packages[].pkg.{name, secfixes}` where
//! `secfixes` maps the first fixed version (`2.4.41-r0`) to the ids it fixes
//! (`CVE-2019-9517`, sometimes `CVE-2016-9932 XSA-200`: one vulnerability under two ids).
//!
//! Both the YAML files of the (deprecated) git mirror and the JSON served today have this
//! shape. Each id becomes one advisory (`ALPINE-<id>`, aliased to the id and any second id
//! on the line) whose affected entries are `(Alpine, release, package)` with the OSV range
//! `introduced 0, fixed <version>`. A fixed version `0` means the package was never affected
//! in that release, so it yields no range.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value;

use super::{Import, read, walk};
use crate::advisory::{Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind};
use crate::version::apk;

/// One secdb file: release (e.g. `v3.11`) and `(package, fixed version, ids)` triples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecdbFile {
    /// `distroversion`.
    pub release: String,
    /// `reponame`.
    pub repo: Option<String>,
    /// `(package, fixed version, ids on one line)`.
    pub fixes: Vec<(String, String, Vec<String>)>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a secdb file (YAML, which includes the JSON form).
pub fn parse_secdb(text: &str) -> Result<SecdbFile, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let release = doc
        .get("distroversion")
        .and_then(scalar)
        .ok_or("missing distroversion")?;
    let repo = doc.get("reponame").and_then(scalar);
    let mut fixes = Vec::new();
    let packages = match doc.get("packages") {
        // `packages:` with nothing under it: a release without fixes in this repository.
        Some(Value::Null) => &[][..],
        Some(Value::Sequence(s)) => s.as_slice(),
        Some(_) => return Err("packages is not a list".into()),
        None => return Err("missing packages list".into()),
    };
    for (i, p) in packages.iter().enumerate() {
        let pkg = p.get("pkg").ok_or(format!("packages[{i}] has no pkg"))?;
        let name = pkg
            .get("name")
            .and_then(scalar)
            .ok_or(format!("packages[{i}].pkg has no name"))?;
        let Some(secfixes) = pkg.get("secfixes").and_then(Value::as_mapping) else {
            continue;
        };
        for (ver, ids) in secfixes {
            let ver = scalar(ver).ok_or(format!("{name}: a secfixes key is not a version"))?;
            let ids = match ids {
                Value::Sequence(s) => s.iter().filter_map(scalar).collect(),
                Value::Null => Vec::new(),
                other => vec![scalar(other).ok_or(format!("{name} {ver}: ids are not a list"))?],
            };
            fixes.push((name.clone(), ver, ids));
        }
    }
    Ok(SecdbFile {
        release,
        repo,
        fixes,
    })
}

/// Imports every `*.yaml` / `*.json` secdb file under `dir`.
pub fn import_alpine_secdb(dir: &Path, source: &str) -> Import {
    let mut import = Import::new(source);
    let files = walk(dir, &["yaml", "yml", "json"], &mut import);
    import_files(import, &files)
}

/// Imports the given secdb files (`v3.20/main.json`, ...), as [`import_alpine_secdb`] does
/// for a directory.
pub fn import_alpine_secdb_files(files: &[std::path::PathBuf], source: &str) -> Import {
    import_files(Import::new(source), files)
}

fn import_files(mut import: Import, files: &[std::path::PathBuf]) -> Import {
    // id → advisory, built up across files so one CVE is one advisory.
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    for path in files {
        let path = path.as_path();
        let Some(text) = read(path, &mut import) else {
            continue;
        };
        let file = match parse_secdb(&text) {
            Ok(f) => f,
            Err(e) => {
                import.error(path, e);
                continue;
            }
        };
        let mut bad = Vec::new();
        for (pkg, fixed, ids) in file.fixes {
            if fixed != "0"
                && let Err(e) = apk::validate(&fixed)
            {
                bad.push(format!("{pkg}: {e}"));
                continue;
            }
            for line in ids {
                let mut words = line.split_whitespace();
                let Some(primary) = words.next() else {
                    continue;
                };
                let others: Vec<String> = words.map(str::to_owned).collect();
                let adv = by_id.entry(primary.to_owned()).or_insert_with(|| {
                    let mut a = Advisory::new(format!("ALPINE-{primary}"), &import.report.source);
                    a.aliases.push(primary.to_owned());
                    a
                });
                for o in others {
                    if !adv.aliases.contains(&o) {
                        adv.aliases.push(o);
                    }
                }
                if fixed == "0" {
                    continue;
                }
                let mut affected = Affected::new(Package {
                    ecosystem: Ecosystem::Alpine,
                    release: Some(file.release.clone()),
                    name: pkg.clone(),
                    purl: Some(format!("pkg:apk/alpine/{pkg}")),
                });
                affected.ranges.push(Range {
                    kind: RangeKind::Ecosystem,
                    repo: None,
                    events: vec![Event::Introduced("0".into()), Event::Fixed(fixed.clone())],
                    database_specific: None,
                });
                if !adv.affected.contains(&affected) {
                    adv.affected.push(affected);
                }
            }
        }
        if !bad.is_empty() {
            import.error(path, format!("invalid fixed versions: {}", bad.join("; ")));
        }
    }
    for (_, adv) in by_id {
        import.push(adv);
    }
    import
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn secdb_yaml() {
        let text = "distroversion: v3.11\nreponame: main\npackages:\n  - pkg:\n      name: xen\n      secfixes:\n        4.7.1-r4:\n          - CVE-2016-9932 XSA-200\n        0:\n          - CVE-2000-1\n";
        let f = parse_secdb(text).unwrap();
        assert_eq!(f.release, "v3.11");
        assert_eq!(
            f.fixes[0],
            (
                "xen".into(),
                "4.7.1-r4".into(),
                vec!["CVE-2016-9932 XSA-200".into()]
            )
        );
        assert_eq!(f.fixes[1].1, "0");
        assert!(parse_secdb("packages: []").is_err());
    }
}
