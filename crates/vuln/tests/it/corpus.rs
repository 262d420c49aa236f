//! Every importer over its corpus source: how many records it imports, and that nothing
//! fails except what the data itself gets wrong.

use palisade_vuln::matcher::is_affected;
use palisade_vuln::osv::{self, Import};
use palisade_vuln::{Ecosystem, RangeKind, Scheme};

pub(crate) fn dir(sub: &str) -> Option<std::path::PathBuf> {
    palisade_testkit::corpus(&format!("vuln/osv/{sub}"))
}

fn errors(import: &Import) -> Vec<String> {
    import
        .report
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn golang_vulndb() {
    let Some(d) = dir("golang-vulndb/data/osv") else {
        return;
    };
    let i = osv::import_osv_dir(&d, "golang-vulndb");
    assert_eq!(errors(&i), Vec::<String>::new());
    assert_eq!((i.report.files, i.report.advisories), (4291, 4291));
    // Every record is Go, with SEMVER ranges.
    assert!(i.advisories.iter().all(|a| {
        a.affected.iter().all(|e| {
            e.package.ecosystem == Ecosystem::Go
                && e.ranges.iter().all(|r| r.kind == RangeKind::Semver)
        })
    }));
    let stdlib = i
        .advisories
        .iter()
        .filter(|a| a.affected.iter().any(|e| e.package.name == "stdlib"))
        .count();
    assert_eq!(stdlib, 167);
}

#[test]
fn pypa_advisory_database() {
    let Some(d) = dir("pypa-advisory-database/vulns") else {
        return;
    };
    let i = osv::import_osv_dir(&d, "pypa");
    assert_eq!(errors(&i), Vec::<String>::new());
    assert_eq!((i.report.files, i.report.advisories), (2661, 2661));
}

#[test]
fn rustsec_advisory_db() {
    let Some(d) = dir("rustsec-advisory-db") else {
        return;
    };
    let i = osv::import_rustsec(&d, "rustsec");
    assert_eq!(errors(&i), Vec::<String>::new());
    assert_eq!((i.report.files, i.report.advisories), (1225, 1225));
    // The repository README is the one Markdown file that is not an advisory.
    assert_eq!(i.report.skipped.len(), 1);
    let toolchain = i
        .advisories
        .iter()
        .filter(|a| a.affected[0].package.ecosystem == Ecosystem::Other("Rust".into()))
        .count();
    assert_eq!(toolchain, 20);
    let withdrawn = i.advisories.iter().filter(|a| a.is_withdrawn()).count();
    assert_eq!(withdrawn, 13);
}

#[test]
fn nodejs_security_wg() {
    let Some(d) = dir("nodejs-security-wg") else {
        return;
    };
    let i = osv::import_nodejs(&d, "nodejs-security-wg");
    assert_eq!(errors(&i), Vec::<String>::new());
    // 467 npm module records and 171 Node.js core records; skipped: the three index.json
    // aggregates and the six vuln/deps not-affected statements.
    assert_eq!((i.report.files, i.report.advisories), (638, 638));
    assert_eq!(i.report.skipped.len(), 9);
    let core = i
        .advisories
        .iter()
        .filter(|a| a.id.starts_with("NSWG-COR-"))
        .count();
    assert_eq!(core, 171);
}

#[test]
fn alpine_secdb() {
    let Some(d) = dir("alpine-secdb-deprecated-mirror") else {
        return;
    };
    let i = osv::import_alpine_secdb(&d, "alpine-secdb");
    assert_eq!(i.report.files, 18);
    assert_eq!(i.report.advisories, 2479);
    // The data holds four fixed versions that are not apk versions (apk itself rejects
    // them): python2 `2.7.16-33`, xen `4.10-1-r1`, icu `57-1-r2`, py-django `1.11-20-r0`.
    // Those entries are dropped and reported; everything else in those files is imported.
    let errs = errors(&i);
    assert_eq!(errs.len(), 6, "{errs:#?}");
    for e in &errs {
        assert!(
            [
                "\"2.7.16-33\"",
                "\"4.10-1-r1\"",
                "\"57-1-r2\"",
                "\"1.11-20-r0\""
            ]
            .iter()
            .any(|v| e.contains(v)),
            "{e}"
        );
    }
}

#[test]
fn cisa_kev() {
    let Some(p) = dir("cisa-kev/known_exploited_vulnerabilities.json") else {
        return;
    };
    let kev = osv::load_kev(&p).unwrap();
    assert_eq!(kev.catalog_version, "2025.08.25");
    assert_eq!(kev.len(), 1404);
    assert_eq!(
        kev.get("CVE-2025-48384").map(|e| e.date_added.as_str()),
        Some("2025-08-25")
    );
}

/// Conformance of the version schemes against the data: PyPA records carry both an
/// ECOSYSTEM range and the explicit list of affected versions generated from it, so every
/// listed version must fall inside the ranges by PEP 440 ordering alone.
#[test]
fn pypa_ranges_agree_with_version_lists() {
    let Some(d) = dir("pypa-advisory-database/vulns") else {
        return;
    };
    let i = osv::import_osv_dir(&d, "pypa");
    let (mut checked, mut disagree) = (0usize, Vec::new());
    for a in &i.advisories {
        for e in &a.affected {
            if e.ranges.is_empty() {
                continue;
            }
            let mut ranges_only = e.clone();
            ranges_only.versions.clear();
            for v in &e.versions {
                if palisade_vuln::version::validate(Scheme::Pep440, v).is_err() {
                    continue;
                }
                checked += 1;
                if !is_affected(&ranges_only, v) {
                    disagree.push(format!("{} {} {v}", a.id, e.package.name));
                }
            }
        }
    }
    eprintln!(
        "pypa: {checked} listed versions checked, {} outside the ranges",
        disagree.len()
    );
    assert!(checked > 140_000, "{checked}");
    // The only disagreements are in the data, not the ordering:
    // - PYSEC-2023-61 lists Django pre-releases (3.2a1, 4.2rc1, ...) below `introduced: 3.2`
    //   / `4.2`; PEP 440 puts them before the release.
    // - PYSEC-2023-177's ECOSYSTEM range is `introduced: 0` with the fix only in a GIT
    //   range; the list stops at the fixed commit's release.
    // - PYSEC-2021-114 has overlapping intervals [0, 2.11.6) and [2.11, 2.11.7); evaluated
    //   as the OSV schema says (events sorted by version), 2.11.6 is fixed.
    assert_eq!(
        disagree,
        [
            "PYSEC-2023-61 django 3.2a1",
            "PYSEC-2023-61 django 3.2b1",
            "PYSEC-2023-61 django 3.2rc1",
            "PYSEC-2023-61 django 4.2a1",
            "PYSEC-2023-61 django 4.2b1",
            "PYSEC-2023-61 django 4.2rc1",
            "PYSEC-2023-177 gevent 23.9.0",
            "PYSEC-2023-177 gevent 23.9.0.post1",
            "PYSEC-2021-114 wagtail 2.11.6",
        ]
    );
}

/// Every event of the Go vulnerability database is a version the Go scheme orders, each
/// `introduced` version is inside its range and each `fixed` version outside it.
#[test]
fn golang_events_are_consistent() {
    let Some(d) = dir("golang-vulndb/data/osv") else {
        return;
    };
    let i = osv::import_osv_dir(&d, "golang-vulndb");
    let mut checked = 0usize;
    let mut bad = Vec::new();
    for a in &i.advisories {
        for e in &a.affected {
            for r in &e.ranges {
                let mut single = e.clone();
                single.ranges = vec![r.clone()];
                single.versions.clear();
                for ev in &r.events {
                    let (v, want) = match ev {
                        palisade_vuln::Event::Introduced(v) if v != "0" => (v, true),
                        palisade_vuln::Event::Fixed(v) => (v, false),
                        _ => continue,
                    };
                    checked += 1;
                    if palisade_vuln::version::validate(Scheme::Go, v).is_err()
                        || is_affected(&single, v) != want
                    {
                        bad.push(format!("{} {} {ev:?}", a.id, e.package.name));
                    }
                }
            }
        }
    }
    eprintln!("golang-vulndb: {checked} events checked");
    assert_eq!(checked, 7742);
    assert_eq!(bad, Vec::<String>::new());
}
