//! The vuln-list-debian importer against trivy-db's own Debian test trees in the corpus: the
//! database built from the happy tree says, for every (release, source package,
//! vulnerability), what trivy-db's database says; installed packages match accordingly,
//! end to end through an image scan; the broken trees are reported, never fatal.
//!
//! Where the expectations come from: the corpus's `testdata/fixtures/debian.yaml` is not
//! what trivy-db derives from the happy tree. It is a seed database for trivy-db's `Get`
//! test (package `alpine` on Debian 10, which the happy tree does not contain), so it cannot
//! be compared with an import. trivy-db's expected content for the happy tree lives in its
//! `debian_test.go` (not in the corpus); [`TRIVY_DB`] transcribes it: the rows its happy-path
//! test checks (marked `test`) and the remaining rows its `commit` step writes for this tree
//! (marked `derived`), in trivy-db's own terms (bucket `debian N`, package, vulnerability id,
//! fixed version or status), with its "must not exist" checks in [`TRIVY_DB_ABSENT`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use palisade_vuln::advisory::{Ecosystem, Event};
use palisade_vuln::db::{self, Database, Format};
use palisade_vuln::matcher::{PackageQuery, Remediation};
use palisade_vuln::osv;
use palisade_vuln::scan::VulnReport;

use crate::imagekit::scan_dpkg_image;

fn testdata() -> Option<PathBuf> {
    palisade_testkit::corpus("vuln/fixtures/trivy-db/pkg/vulnsrc/debian/testdata")
}

/// What trivy-db stores for one (release, package, vulnerability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    /// `FixedVersion`.
    Fixed(&'static str),
    /// No `FixedVersion`; `Status` as trivy-db names it.
    Unfixed(&'static str),
}

/// trivy-db's database content for the happy tree: (`debian N`, package, id, value, origin).
const TRIVY_DB: &[(&str, &str, &str, Want, &str)] = &[
    // DLA-2691-1 fixes stretch's no-dsa line.
    (
        "9",
        "libgcrypt20",
        "CVE-2021-33560",
        Want::Fixed("1.7.6-2+deb9u4"),
        "test",
    ),
    (
        "10",
        "libgcrypt20",
        "CVE-2021-33560",
        Want::Fixed("1.8.4-5+deb10u1"),
        "test",
    ),
    // No bullseye line: bullseye's archive (updates-source) ships the unstable fix 1.8.7-6.
    (
        "11",
        "libgcrypt20",
        "CVE-2021-33560",
        Want::Fixed("1.8.7-6"),
        "test",
    ),
    (
        "10",
        "dacs",
        "CVE-2021-29629",
        Want::Unfixed("will_not_fix"),
        "test",
    ),
    // A DSA that names no CVE stands for itself.
    (
        "8",
        "akonadi",
        "DSA-3714-1",
        Want::Fixed("1.13.0-2+deb8u2"),
        "test",
    ),
    // bullseye's no-dsa is stale: its archive ships 20.4.1-2 ≥ the unstable fix 19.4-2.
    (
        "11",
        "cloud-init",
        "CVE-2020-8631",
        Want::Fixed("19.4-2"),
        "test",
    ),
    // stretch's no-dsa stands: stretch's archive has no cloud-init to compare.
    (
        "9",
        "cloud-init",
        "CVE-2020-8631",
        Want::Unfixed("affected"),
        "derived",
    ),
    (
        "11",
        "openssl",
        "CVE-2021-3450",
        Want::Fixed("1.1.1k-1"),
        "derived",
    ),
    (
        "12",
        "gnutls28",
        "CVE-2023-5981",
        Want::Fixed("3.7.9-2+deb12u1"),
        "derived",
    ),
    // bullseye's line says 3.7.1-5+deb11u5, but the archive ships 3.7.1-5+deb11u4: unfixed.
    (
        "11",
        "gnutls28",
        "CVE-2023-5981",
        Want::Unfixed("affected"),
        "derived",
    ),
];

/// What trivy-db must not store: (id, release or any).
const TRIVY_DB_ABSENT: &[(&str, Option<&str>)] = &[
    // not-affected on the unstable line.
    ("CVE-2016-4606", None),
    // not-affected in stretch.
    ("CVE-2021-29629", Some("9")),
    // not-affected in buster and stretch.
    ("CVE-2021-3450", Some("9")),
    ("CVE-2021-3450", Some("10")),
];

/// Our unstable entries (trivy-db keeps none: sid has no major version), straight from the
/// unstable lines.
const SID: &[(&str, &str, Want)] = &[
    ("cloud-init", "CVE-2020-8631", Want::Fixed("19.4-2")),
    ("dacs", "CVE-2021-29629", Want::Unfixed("affected")),
    ("libgcrypt20", "CVE-2021-33560", Want::Fixed("1.8.7-6")),
    ("openssl", "CVE-2021-3450", Want::Fixed("1.1.1k-1")),
    ("gnutls28", "CVE-2023-5981", Want::Fixed("3.8.2-1")),
];

/// (release, package, id) → what our database says.
fn content(db: &Database) -> BTreeMap<(String, String, String), Want> {
    let mut out = BTreeMap::new();
    for a in db.advisories().unwrap() {
        let id = a.id.strip_prefix("DEBIAN-").unwrap().to_owned();
        for af in &a.affected {
            assert_eq!(af.package.ecosystem, Ecosystem::Debian);
            assert_eq!(af.ranges.len(), 1);
            let events = &af.ranges[0].events;
            assert_eq!(events[0], Event::Introduced("0".into()));
            let specific = af.database_specific.as_ref().unwrap();
            let status = specific["status"].as_str().unwrap();
            let want = match events.get(1) {
                Some(Event::Fixed(v)) => {
                    assert_eq!(status, "fixed");
                    Want::Fixed(Box::leak(v.clone().into_boxed_str()))
                }
                None => Want::Unfixed(Box::leak(status.to_owned().into_boxed_str())),
                Some(other) => panic!("{id}: unexpected event {other:?}"),
            };
            let key = (
                af.package.release.clone().unwrap(),
                af.package.name.clone(),
                id.clone(),
            );
            assert!(out.insert(key, want).is_none(), "duplicate entry");
        }
    }
    out
}

/// A database of the happy tree, imported as a user names it (the `vuln-list-debian` dir).
fn import_happy(testdata: &Path) -> (tempfile::TempDir, Database, db::ImportReport) {
    let tree = testdata.join("happy/vuln-list-debian");
    let tmp = tempfile::tempdir().unwrap();
    let dbdir = tmp.path().join("vulndb");
    let report = Database::import(&dbdir, &[&tree]).unwrap();
    let db = Database::open(&dbdir).unwrap();
    (tmp, db, report)
}

#[test]
fn happy_tree_matches_trivy_db() {
    let Some(dir) = testdata() else { return };
    let tree = dir.join("happy/vuln-list-debian");
    // Detected from the tree or its tracker directory; imported from the tracker directory.
    for p in [tree.clone(), tree.join("tracker")] {
        let (format, input) = db::detect(&p).unwrap();
        assert_eq!(format, Format::VulnListDebian, "{}", p.display());
        assert_eq!(input, tree.join("tracker"));
    }
    let (_tmp, db, report) = import_happy(&dir);
    assert_eq!(report.sources.len(), 1);
    let s = &report.sources[0];
    assert_eq!(s.name, "debian-tracker");
    assert_eq!(s.format, Format::VulnListDebian);
    assert!(s.applied);
    assert!(s.report.errors.is_empty(), "{:?}", s.report.errors);
    // distributions.json, 6 CVE, 1 DLA, 1 DSA and 11 source package files.
    assert_eq!(s.report.files, 1 + 6 + 1 + 1 + 11);

    let got = content(&db);
    let (mut matches, mut mismatches) = (0, Vec::new());
    for (release, pkg, id, want, origin) in TRIVY_DB {
        let key = ((*release).to_owned(), (*pkg).to_owned(), (*id).to_owned());
        match got.get(&key) {
            Some(g) if g == want => matches += 1,
            g => mismatches.push(format!(
                "debian {release} {pkg} {id} ({origin}): trivy-db {want:?}, ours {g:?}"
            )),
        }
    }
    for (id, release) in TRIVY_DB_ABSENT {
        for (k, v) in &got {
            if k.2 == *id && k.0 != "sid" && release.is_none_or(|r| r == k.0) {
                mismatches.push(format!("{k:?}: trivy-db has nothing, ours {v:?}"));
            }
        }
    }
    let extra: Vec<_> = got
        .iter()
        .filter(|(k, _)| {
            !TRIVY_DB
                .iter()
                .any(|(r, p, i, _, _)| (*r, *p, *i) == (k.0.as_str(), k.1.as_str(), k.2.as_str()))
        })
        .collect();
    println!(
        "vuln-list-debian vs trivy-db: {} rows, {matches} match, {} mismatch; {} sid rows beyond trivy-db",
        TRIVY_DB.len(),
        mismatches.len(),
        extra.len()
    );
    for m in &mismatches {
        println!("  MISMATCH {m}");
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert_eq!(matches, TRIVY_DB.len());
    // The only rows beyond trivy-db's are the unstable ones.
    let sid: Vec<((String, String, String), Want)> = SID
        .iter()
        .map(|(p, i, w)| (("sid".to_owned(), (*p).to_owned(), (*i).to_owned()), *w))
        .collect();
    let mut extra: Vec<((String, String, String), Want)> =
        extra.into_iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut sid_sorted = sid.clone();
    extra.sort();
    sid_sorted.sort();
    assert_eq!(extra, sid_sorted);
}

#[test]
fn advisories_carry_ids_severity_and_tracker_state() {
    let Some(dir) = testdata() else { return };
    let (_tmp, db, _) = import_happy(&dir);
    let all = db.advisories().unwrap();
    let by_id = |id: &str| all.iter().find(|a| a.id == id).unwrap();
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "DEBIAN-CVE-2020-8631",
            "DEBIAN-CVE-2021-29629",
            "DEBIAN-CVE-2021-33560",
            "DEBIAN-CVE-2021-3450",
            "DEBIAN-CVE-2023-5981",
            "DEBIAN-DSA-3714-1",
        ]
    );
    // DLA-2691-1 names only CVE-2021-33560 (both files say so): an alias.
    let a = by_id("DEBIAN-CVE-2021-33560");
    assert_eq!(a.aliases, ["CVE-2021-33560", "DLA-2691-1"]);
    assert_eq!(
        a.summary.as_deref(),
        Some("Libgcrypt before 1.8.8 and 1.9.x before 1.9.3 mishandles ElGamal encry")
    );
    let stretch = a
        .affected
        .iter()
        .find(|af| af.package.release.as_deref() == Some("9"))
        .unwrap();
    let s = stretch.database_specific.as_ref().unwrap();
    assert_eq!(s["codename"], "stretch");
    assert_eq!(s["advisories"], serde_json::json!(["DLA-2691-1"]));
    // The CVE's own xref is the only link to DLA-2113-1 in the tree.
    assert_eq!(
        by_id("DEBIAN-CVE-2020-8631").aliases,
        ["CVE-2020-8631", "DLA-2113-1"]
    );
    // Urgency from the unstable line: `unimportant` is informational, as in the JSON export.
    let dacs = by_id("DEBIAN-CVE-2021-29629");
    assert_eq!(dacs.vendor_severity.as_deref(), Some("unimportant"));
    assert_eq!(
        dacs.severity(),
        Some(palisade_model::Severity::Informational)
    );
    let buster = &dacs.affected[0];
    assert_eq!(buster.package.release.as_deref(), Some("10"));
    let s = buster.database_specific.as_ref().unwrap();
    assert_eq!(s["state"], "ignored");
    assert_eq!(s["urgency"], "unimportant");
    // A fix the release's archive does not ship yet is kept aside.
    let gnutls = by_id("DEBIAN-CVE-2023-5981");
    let bullseye = gnutls
        .affected
        .iter()
        .find(|af| af.package.release.as_deref() == Some("11"))
        .unwrap();
    let s = bullseye.database_specific.as_ref().unwrap();
    assert_eq!(s["pending_fix"], "3.7.1-5+deb11u5");
    assert_eq!(s["state"], "unfixed");
    // A DSA without CVEs: its own id, the date of its header line.
    let dsa = by_id("DEBIAN-DSA-3714-1");
    assert_eq!(dsa.aliases, ["DSA-3714-1"]);
    assert_eq!(dsa.published.as_deref(), Some("2016-11-15"));
    assert_eq!(dsa.summary.as_deref(), Some("akonadi - update"));
}

/// For every fixed row, a version just below the fix matches the vulnerability on that
/// release (and only there), the fixed version does not; unfixed rows match with no fix.
#[test]
fn matcher_follows_the_imported_fixes() {
    let Some(dir) = testdata() else { return };
    let (_tmp, db, _) = import_happy(&dir);
    let query = |release: &str, pkg: &str, version: &str| {
        let q = PackageQuery::new(Ecosystem::Debian, pkg, version)
            .with_release(release)
            .with_source(pkg);
        let m = db.query(&q);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        m.findings
    };
    // A finding is named by its CVE; a DSA without one by its record (`DEBIAN-DSA-…`), with
    // the DSA id among the aliases.
    let shown = |id: &str| {
        if id.starts_with("CVE-") {
            id.to_owned()
        } else {
            format!("DEBIAN-{id}")
        }
    };
    let mut checked = 0;
    for (release, pkg, id, want, _) in TRIVY_DB {
        match want {
            Want::Fixed(v) => {
                let below = format!("{v}~");
                let f = query(release, pkg, &below);
                assert_eq!(f.len(), 1, "{release} {pkg} {below}: {f:?}");
                assert_eq!(f[0].id, shown(id));
                assert!(f[0].id == *id || f[0].aliases.contains(&(*id).to_owned()));
                assert_eq!(
                    f[0].remediation,
                    Remediation::Upgrade {
                        version: (*v).to_owned(),
                        exclusive: false
                    }
                );
                assert!(query(release, pkg, v).is_empty(), "{release} {pkg} {v}");
            }
            Want::Unfixed(_) => {
                let f = query(release, pkg, "99:99");
                assert_eq!(f.len(), 1, "{release} {pkg}: {f:?}");
                assert_eq!(f[0].id, shown(id));
                assert_eq!(f[0].remediation, Remediation::NoFix);
            }
        }
        checked += 1;
    }
    assert_eq!(checked, TRIVY_DB.len());
    // Releases where trivy-db has nothing: no match, even for an old version.
    assert!(query("10", "openssl", "1.1.0l-1~deb9u1").is_empty());
    assert!(query("9", "dacs", "1.4.38a-2").is_empty());
    assert!(query("11", "curl", "7.74.0-1.3").is_empty());
}

fn scan(dir: &Path, db: &Database, name: &str, packages: &[(&str, &str, &str)]) -> VulnReport {
    let status: String = packages
        .iter()
        .map(|(bin, src, v)| {
            format!(
                "Package: {bin}\nStatus: install ok installed\nArchitecture: amd64\nSource: {src}\nVersion: {v}\n\n"
            )
        })
        .collect();
    scan_dpkg_image(
        dir,
        name,
        "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\n",
        &status,
        db,
    )
}

/// A bullseye image scanned against the imported tree: libgcrypt below the fix is found
/// with the DLA as an alias, at the fix it is not; gnutls at the archive's version has no
/// fix yet; openssl at the fixed version is clean.
#[test]
fn bullseye_image_scan() {
    let Some(dir) = testdata() else { return };
    let (tmp, db, _) = import_happy(&dir);
    let found = |r: &VulnReport| -> Vec<(String, String, Vec<String>, String)> {
        r.vulnerabilities
            .iter()
            .map(|v| {
                (
                    v.package.name.clone(),
                    v.id.clone(),
                    v.fixed_versions.clone(),
                    v.remediation.clone(),
                )
            })
            .collect()
    };
    let before = scan(
        tmp.path(),
        &db,
        "before",
        &[
            ("libgcrypt20", "libgcrypt20", "1.8.7-5"),
            ("libgnutls30", "gnutls28", "3.7.1-5+deb11u4"),
            ("openssl", "openssl", "1.1.1k-1"),
            ("cloud-init", "cloud-init", "20.4.1-2"),
        ],
    );
    assert_eq!(
        found(&before),
        vec![
            (
                "libgcrypt20".into(),
                "CVE-2021-33560".into(),
                vec!["1.8.7-6".into()],
                "upgrade libgcrypt20 to >= 1.8.7-6".into()
            ),
            (
                "libgnutls30".into(),
                "CVE-2023-5981".into(),
                vec![],
                "no fix yet".into()
            ),
        ]
    );
    assert!(
        before.vulnerabilities[0]
            .aliases
            .contains(&"DLA-2691-1".to_owned())
    );
    let after = scan(
        tmp.path(),
        &db,
        "after",
        &[
            ("libgcrypt20", "libgcrypt20", "1.8.7-6"),
            ("openssl", "openssl", "1.1.1k-1"),
        ],
    );
    assert!(after.vulnerabilities.is_empty(), "{:?}", found(&after));
}

/// trivy-db's broken trees: each is detected, its bad files are reported with the file and
/// where in it, nothing is imported from them, and the database keeps what it had.
#[test]
fn broken_trees_are_reported_not_fatal() {
    let Some(dir) = testdata() else { return };
    let (tmp, _, _) = import_happy(&dir);
    let dbdir = tmp.path().join("vulndb");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "broken-cve",
            &[(
                "CVE/CVE-2021-33560.json",
                "not a valid tracker entry: expected value at line 1 column 1",
            )],
        ),
        (
            "broken-distributions",
            &[(
                "distributions.json",
                "not a valid distributions.json (codename → major-version): expected value at line 1 column 1; using the built-in Debian release table",
            )],
        ),
        (
            "broken-packages",
            &[
                (
                    "source/bullseye/main/Sources.json",
                    "not a valid source package record: expected value at line 1 column 1",
                ),
                (
                    "updates-source/bullseye/main/Sources.json",
                    "not a valid source package record: expected value at line 1 column 1",
                ),
            ],
        ),
    ];
    for (name, want) in cases {
        let tree = dir.join(name).join("vuln-list-debian");
        let tracker = tree.join("tracker");
        assert_eq!(
            db::detect(&tree).unwrap(),
            (Format::VulnListDebian, tracker.clone())
        );
        let import = osv::import_vulnlist_debian(&tree, "debian-tracker");
        assert!(import.advisories.is_empty(), "{name}");
        let errors: Vec<(PathBuf, String)> = import
            .report
            .errors
            .iter()
            .map(|e| (e.path.clone(), e.reason.clone()))
            .collect();
        let want: Vec<(PathBuf, String)> = want
            .iter()
            .map(|(p, r)| (tracker.join(p), (*r).to_owned()))
            .collect();
        assert_eq!(errors, want, "{name}");

        let report = Database::import(&dbdir, &[&tree]).unwrap();
        assert!(!report.sources[0].applied, "{name}");
        assert_eq!(report.advisories, 6, "{name}: the happy import stays");
    }
}

/// One bad entry file and one bad line in a good tree: both reported with the file (and the
/// line), everything else imported.
#[test]
fn bad_entries_do_not_hide_the_rest() {
    let Some(dir) = testdata() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("vuln-list-debian");
    copy_dir(&dir.join("happy/vuln-list-debian"), &tree);
    let cve = tree.join("tracker/CVE");
    std::fs::write(cve.join("CVE-2099-0001.json"), "{\"Header\": {\"ID\": ").unwrap();
    std::fs::write(
        cve.join("CVE-2099-0002.json"),
        r#"{"Header": {"ID": "CVE-2099-0002"}, "Annotations": [
            {"Original": "- openssl 1.1.1k-1", "Line": 10, "Type": "package", "Package": "openssl", "Kind": "fixed", "Version": "1.1.1k-1"},
            {"Original": "[bullseye] - openssl 1:", "Line": 11, "Type": "package", "Release": "bullseye", "Package": "openssl", "Kind": "fixed", "Version": "1:"}]}"#,
    )
    .unwrap();
    let import = osv::import_vulnlist_debian(&tree, "t");
    let errors: Vec<String> = import
        .report
        .errors
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with(&format!(
        "{}: not a valid tracker entry: EOF while parsing a value at line 1 column",
        cve.join("CVE-2099-0001.json").display()
    )));
    assert!(
        errors[1].starts_with(&format!(
            "{}: annotation 2 (list line 11: \"[bullseye] - openssl 1:\"): \"1:\" is not a Debian version",
            cve.join("CVE-2099-0002.json").display()
        )),
        "{}",
        errors[1]
    );
    // The six good advisories plus the good line of the second file.
    let ids: Vec<&str> = import.advisories.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    let a = import
        .advisories
        .iter()
        .find(|a| a.id == "DEBIAN-CVE-2099-0002")
        .unwrap();
    // The bad bullseye line is skipped; bullseye follows the unstable line.
    let releases: Vec<(&str, &[Event])> = a
        .affected
        .iter()
        .map(|af| {
            (
                af.package.release.as_deref().unwrap(),
                af.ranges[0].events.as_slice(),
            )
        })
        .collect();
    let fixed = [
        Event::Introduced("0".into()),
        Event::Fixed("1.1.1k-1".into()),
    ];
    assert_eq!(releases, [("11", &fixed[..]), ("sid", &fixed[..])]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
