//! Conformance with Kubernetes Pod Security Admission's own fixtures.
//!
//! Walks `posture/psa/test/testdata/<level>/v1.<minor>/{pass,fail}/*.yaml` in the corpus (the
//! fixtures upstream generates from `test/fixtures_*.go` and checks in). Each pod is evaluated
//! at that level and version: a `pass/` pod must be allowed; a `fail/` pod must be denied, and
//! by the check its file stem names (stem minus the trailing case index, compared
//! lower-cased), or by a restricted check that overrides that baseline check at that version
//! (upstream names, e.g., restricted `hostpathvolumes*` fixtures after the baseline check
//! although `restrictedVolumes` is what reports them). As upstream's `run.go` does, the denial
//! text must also contain the fixture generator's `expectErrorSubstring`.

#![expect(clippy::panic, reason = "test harness reports failures by panicking")]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use palisade_pss::{Level, Version, Violation, checks, evaluate_pod, forbidden_detail};

/// `expectErrorSubstring` of each check's fixture generator (`test/fixtures_*.go`); upstream
/// defaults it to the check ID when a generator sets none.
fn expect_error_substring(check_id: &str) -> &str {
    match check_id {
        "appArmorProfile" => "forbidden AppArmor profile",
        "capabilities_baseline" => "capabilities",
        "capabilities_restricted" => "unrestricted capabilities",
        "hostNamespaces" => "host namespaces",
        "hostPathVolumes" => "hostPath",
        "hostPorts" => "hostPort",
        "hostProbesAndHostLifecycle" => "probe or lifecycle host",
        "procMount" | "procMount_restricted" => "procMount",
        "restrictedVolumes" => "restricted volume types",
        "seccompProfile_baseline" | "seccompProfile_restricted" => "seccompProfile",
        "sysctls" => "forbidden sysctl",
        "windowsHostProcess" => "hostProcess",
        other => other,
    }
}

#[derive(Default)]
struct Tally {
    matched: usize,
    mismatched: usize,
}

/// Checks one fixture; `Err` explains a mismatch.
fn check_fixture(
    level: Level,
    version: Version,
    expect_pass: bool,
    path: &Path,
) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let pod: serde_json::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    let violations = evaluate_pod(level, version, &pod);
    if expect_pass {
        return if violations.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "expected allowed, got: {}",
                forbidden_detail(&violations)
            ))
        };
    }
    if violations.is_empty() {
        return Err("expected denied, got allowed".to_owned());
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_lowercase();
    let catalogue = checks();
    let Some(expected) = catalogue.iter().find(|c| c.id().to_lowercase() == stem) else {
        return Err(format!("fixture stem {stem:?} names no known check"));
    };
    let reported_by = |v: &Violation| {
        v.check == expected.id()
            || catalogue
                .iter()
                .any(|c| c.id() == v.check && c.overrides_at(version).contains(&expected.id()))
    };
    if !violations.iter().any(reported_by) {
        return Err(format!(
            "expected a {} violation, got: {}",
            expected.id(),
            forbidden_detail(&violations)
        ));
    }
    let substring = expect_error_substring(expected.id());
    if !forbidden_detail(&violations).contains(substring) {
        return Err(format!(
            "denial text lacks {substring:?}: {}",
            forbidden_detail(&violations)
        ));
    }
    if violations.iter().any(|v| v.paths.is_empty()) {
        return Err(format!("a violation has no evidence path: {violations:?}"));
    }
    Ok(())
}

#[test]
fn psa_fixtures() {
    let Some(root) = palisade_testkit::corpus("posture/psa/test/testdata") else {
        return;
    };
    let mut table: BTreeMap<(Level, u32), Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for level in [Level::Baseline, Level::Restricted] {
        let Ok(versions) = fs::read_dir(root.join(level.as_str())) else {
            continue;
        };
        for entry in versions.flatten() {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let Ok(Version::V1(minor)) = dir_name.parse::<Version>() else {
                continue;
            };
            for (sub, expect_pass) in [("pass", true), ("fail", false)] {
                let Ok(files) = fs::read_dir(entry.path().join(sub)) else {
                    continue;
                };
                let mut files: Vec<_> = files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                    .collect();
                files.sort();
                for file in files {
                    let tally = table.entry((level, minor)).or_default();
                    match check_fixture(level, Version::V1(minor), expect_pass, &file) {
                        Ok(()) => tally.matched += 1,
                        Err(why) => {
                            tally.mismatched += 1;
                            failures.push(format!("{}: {why}", file.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(
        !table.is_empty(),
        "no fixtures found under {}",
        root.display()
    );

    println!(
        "{:<12} {:>8} {:>9} {:>11}",
        "level", "version", "matched", "mismatched"
    );
    let mut totals: BTreeMap<Level, (usize, usize)> = BTreeMap::new();
    for ((level, minor), t) in &table {
        println!(
            "{:<12} {:>8} {:>9} {:>11}",
            level.as_str(),
            format!("v1.{minor}"),
            t.matched,
            t.mismatched
        );
        let total = totals.entry(*level).or_default();
        total.0 += t.matched;
        total.1 += t.matched + t.mismatched;
    }
    for (level, (matched, total)) in &totals {
        println!("{level}: {matched}/{total} fixtures matched");
    }
    if !failures.is_empty() {
        panic!(
            "{} fixture(s) mismatched:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
