//! The Debian security tracker importer: release naming against the corpus (the tracker's
//! own `distributions.json` as mirrored in trivy-db's test data, claircore's Debian
//! os-release files), exact advisories from a tracker export, and an image scanned against
//! a database built by `db import` auto-detection.

use std::path::Path;

use palisade_vuln::advisory::{Ecosystem, Event};
use palisade_vuln::catalog::osrelease;
use palisade_vuln::db::{Database, Format};
use palisade_vuln::osv::{DEBIAN_RELEASES, debian_release, parse_debian_tracker};
use palisade_vuln::scan::{VulnReport, distro_release};

use crate::imagekit::scan_dpkg_image;

/// A tracker export in the shape `tracker/data/json` serves. CVE-2021-3450 follows the
/// tracker's record for it (fixed in 1.1.1k-1, buster never affected).
const TRACKER: &str = r#"{
  "openssl": {
    "CVE-2021-3450": {
      "description": "The X509_V_FLAG_X509_STRICT flag enables additional security checks of ...",
      "scope": "remote",
      "releases": {
        "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                     "fixed_version": "1.1.1k-1", "urgency": "not yet assigned"},
        "bullseye": {"status": "resolved", "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                     "fixed_version": "1.1.1k-1", "urgency": "not yet assigned"},
        "buster": {"status": "resolved", "repositories": {"buster": "1.1.1n-0+deb10u3"},
                   "fixed_version": "0", "urgency": "not yet assigned"},
        "sid": {"status": "resolved", "repositories": {"sid": "3.1.4-2"},
                "fixed_version": "1.1.1k-1", "urgency": "not yet assigned"}
      }
    },
    "CVE-2023-5363": {
      "description": "Issue summary: A bug has been identified in the processing of key and ...",
      "scope": "remote",
      "debianbug": 1054392,
      "releases": {
        "bookworm": {"status": "resolved",
                     "repositories": {"bookworm": "3.0.11-1~deb12u2", "bookworm-security": "3.0.11-1~deb12u2"},
                     "fixed_version": "3.0.11-1~deb12u2", "urgency": "not yet assigned"},
        "bullseye": {"status": "resolved", "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                     "fixed_version": "0", "urgency": "not yet assigned"},
        "sid": {"status": "resolved", "repositories": {"sid": "3.1.4-2"},
                "fixed_version": "3.0.12-1", "urgency": "not yet assigned"}
      }
    },
    "CVE-2024-2511": {
      "description": "Issue summary: Some non-default TLS server configurations can cause ...",
      "scope": "remote",
      "releases": {
        "bookworm": {"status": "open", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                     "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""},
        "bullseye": {"status": "open", "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                     "urgency": "unimportant"},
        "sid": {"status": "resolved", "repositories": {"sid": "3.1.4-2"},
                "fixed_version": "3.2.1-3", "urgency": "low"}
      }
    }
  },
  "zlib": {
    "CVE-2023-45853": {
      "description": "MiniZip in zlib through 1.3 has an integer overflow ...",
      "scope": "remote",
      "releases": {
        "bookworm": {"status": "undetermined", "repositories": {"bookworm": "1:1.2.13.dfsg-1"},
                     "urgency": "medium**"},
        "trixie": {"status": "resolved", "repositories": {"trixie": "1:1.3.dfsg+really1.3.1-1"},
                   "fixed_version": "1:1.3.dfsg-3", "urgency": "medium**"}
      }
    },
    "TEMP-0000000-B8F7A5": {
      "description": "",
      "releases": {
        "bookworm": {"status": "resolved", "repositories": {"bookworm": "1:1.2.13.dfsg-1"},
                     "fixed_version": "0", "urgency": "unimportant"}
      }
    }
  }
}"#;

fn corpus(sub: &str) -> Option<std::path::PathBuf> {
    palisade_testkit::corpus(&format!("vuln/fixtures/{sub}"))
}

/// The tracker's `distributions.json` (codename → major version) agrees with our table.
#[test]
fn release_numbers_match_the_trackers_distributions() {
    let Some(dir) = corpus("trivy-db/pkg/vulnsrc/debian/testdata/happy/vuln-list-debian/tracker")
    else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("distributions.json")).unwrap();
    let dists: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(dists.len(), 8);
    for (codename, d) in &dists {
        let major = d["major-version"].as_str().unwrap();
        let want = if major.is_empty() { "sid" } else { major };
        assert_eq!(debian_release(codename), Some(want), "{codename}");
    }
    assert!(
        DEBIAN_RELEASES
            .iter()
            .any(|(c, n)| *c == "trixie" && *n == "13")
    );
}

/// os-release detection names Debian releases as the importer does, for real os-release
/// files of Debian 7 to 12 and distroless.
#[test]
fn os_release_detection_agrees_with_tracker_release_names() {
    let Some(dir) = corpus("claircore/debian/testdata") else {
        return;
    };
    let mut checked = 0;
    for sub in ["dist", "distroless_dist"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            let want = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path().join("etc/os-release")).unwrap();
            let d = osrelease::parse(&text).unwrap();
            assert_eq!(d.id, "debian");
            assert_eq!(distro_release(&d).as_deref(), Some(want.as_str()));
            // The codename, from VERSION_CODENAME or the `(codename)` of PRETTY_NAME,
            // maps to the same number.
            let codename = d.codename.clone().or_else(|| {
                let p = d.pretty_name.as_deref()?;
                let (_, rest) = p.split_once('(')?;
                Some(rest.trim_end_matches(')').to_owned())
            });
            if let Some(c) = codename {
                assert_eq!(debian_release(&c), Some(want.as_str()), "{c}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
    // Testing and unstable carry no VERSION_ID.
    let sid = osrelease::parse(
        "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n",
    )
    .unwrap();
    assert_eq!(distro_release(&sid).as_deref(), Some("sid"));
    let testing = osrelease::parse(
        "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n",
    )
    .unwrap();
    assert_eq!(distro_release(&testing).as_deref(), Some("13"));
}

fn events(fixed: Option<&str>) -> Vec<Event> {
    let mut e = vec![Event::Introduced("0".into())];
    if let Some(f) = fixed {
        e.push(Event::Fixed(f.into()));
    }
    e
}

#[test]
fn tracker_export_becomes_exact_advisories() {
    let (advisories, problems) = parse_debian_tracker(TRACKER, "debian-tracker").unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // TEMP-0000000-B8F7A5 affects no release and is left out.
    let ids: Vec<&str> = advisories.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "DEBIAN-CVE-2021-3450",
            "DEBIAN-CVE-2023-45853",
            "DEBIAN-CVE-2023-5363",
            "DEBIAN-CVE-2024-2511"
        ]
    );
    type Entry = (String, String, Vec<Event>);
    let summary: Vec<(&str, Vec<Entry>, Option<&str>)> = advisories
        .iter()
        .map(|a| {
            assert_eq!(
                a.aliases,
                vec![a.id.trim_start_matches("DEBIAN-").to_owned()]
            );
            assert_eq!(a.source, "debian-tracker");
            let entries = a
                .affected
                .iter()
                .map(|af| {
                    assert_eq!(af.package.ecosystem, Ecosystem::Debian);
                    assert_eq!(af.ranges.len(), 1);
                    (
                        af.package.name.clone(),
                        af.package.release.clone().unwrap(),
                        af.ranges[0].events.clone(),
                    )
                })
                .collect();
            (a.id.as_str(), entries, a.vendor_severity.as_deref())
        })
        .collect();
    let e = |n: &str, r: &str, f: Option<&str>| (n.to_owned(), r.to_owned(), events(f));
    assert_eq!(
        summary,
        vec![
            (
                "DEBIAN-CVE-2021-3450",
                vec![
                    e("openssl", "12", Some("1.1.1k-1")),
                    e("openssl", "11", Some("1.1.1k-1")),
                    e("openssl", "sid", Some("1.1.1k-1")),
                ],
                None,
            ),
            (
                "DEBIAN-CVE-2023-45853",
                vec![e("zlib", "12", None), e("zlib", "13", Some("1:1.3.dfsg-3"))],
                Some("medium"),
            ),
            (
                "DEBIAN-CVE-2023-5363",
                vec![
                    e("openssl", "12", Some("3.0.11-1~deb12u2")),
                    e("openssl", "sid", Some("3.0.12-1")),
                ],
                None,
            ),
            (
                "DEBIAN-CVE-2024-2511",
                vec![
                    e("openssl", "12", None),
                    e("openssl", "11", None),
                    e("openssl", "sid", Some("3.2.1-3")),
                ],
                Some("low"),
            ),
        ]
    );
    let a = &advisories[3];
    assert_eq!(
        a.severity(),
        Some(palisade_model::Severity::Low),
        "urgency gives the severity"
    );
    let specific = a.affected[0].database_specific.as_ref().unwrap();
    assert_eq!(specific["codename"], "bookworm");
    assert_eq!(specific["status"], "open");
    assert_eq!(specific["nodsa"], "Minor issue");
    assert_eq!(
        advisories[2].database_specific.as_ref().unwrap()["debianbug"],
        1054392
    );
    assert_eq!(
        advisories[0].summary.as_deref(),
        Some("The X509_V_FLAG_X509_STRICT flag enables additional security checks of")
    );
}

fn scan_debian(dir: &Path, db: &Database, os_release: &str, libssl: &str) -> VulnReport {
    let status = format!(
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: {libssl}\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n"
    );
    let name = libssl.replace([':', '~', '+'], "_");
    scan_dpkg_image(dir, &name, os_release, &status, db)
}

/// `db import` detects the export (served without an extension), and a dpkg status with an
/// affected version matches while the fixed version does not.
#[test]
fn imported_tracker_matches_installed_packages() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("json");
    std::fs::write(&export, TRACKER).unwrap();
    let (format, _) = palisade_vuln::db::detect(&export).unwrap();
    assert_eq!(format, Format::DebianTracker);
    let dbdir = dir.path().join("db");
    let report = Database::import(&dbdir, &[&export]).unwrap();
    assert_eq!(report.sources.len(), 1);
    assert_eq!(report.sources[0].name, "debian-tracker");
    assert_eq!(report.sources[0].format, Format::DebianTracker);
    assert_eq!(report.advisories, 4);
    let db = Database::open(&dbdir).unwrap();

    let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
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
    let affected = scan_debian(dir.path(), &db, bookworm, "3.0.11-1~deb12u1");
    assert_eq!(
        found(&affected),
        vec![
            (
                "libssl3".into(),
                "CVE-2023-5363".into(),
                vec!["3.0.11-1~deb12u2".into()],
                "upgrade libssl3 to >= 3.0.11-1~deb12u2".into()
            ),
            (
                "libssl3".into(),
                "CVE-2024-2511".into(),
                vec![],
                "no fix yet".into()
            ),
            (
                "zlib1g".into(),
                "CVE-2023-45853".into(),
                vec![],
                "no fix yet".into()
            ),
        ]
    );
    assert_eq!(
        affected.vulnerabilities[1].severity,
        Some(palisade_model::Severity::Low)
    );
    let fixed = scan_debian(dir.path(), &db, bookworm, "3.0.11-1~deb12u2");
    let ids: Vec<&str> = fixed
        .vulnerabilities
        .iter()
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(ids, ["CVE-2024-2511", "CVE-2023-45853"]);

    // Unstable has no VERSION_ID: its entries are the `sid` ones.
    let sid = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\nVERSION_CODENAME=trixie\n";
    let r = scan_debian(dir.path(), &db, sid, "3.0.11-1");
    let got: Vec<(&str, &[String])> = r
        .vulnerabilities
        .iter()
        .filter(|v| v.package.name == "libssl3")
        .map(|v| (v.id.as_str(), v.fixed_versions.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("CVE-2023-5363", &["3.0.12-1".to_owned()][..]),
            ("CVE-2024-2511", &["3.2.1-3".to_owned()][..])
        ]
    );
}

#[test]
fn db_update_fetches_the_tracker_export_from_a_mirror() {
    use palisade_vuln::db::{Mirror, Source, update};
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    std::fs::create_dir_all(mirror.join("debian")).unwrap();
    std::fs::write(mirror.join("debian/tracker.json"), TRACKER).unwrap();
    let dbdir = dir.path().join("db");
    let source = Source::parse("debian-tracker").unwrap();
    let report = update(&dbdir, &[source], Some(&Mirror::Dir(mirror))).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.sources[0].name, "debian-tracker");
    assert_eq!(report.sources[0].format, Format::DebianTracker);
    assert_eq!(report.advisories, 4);
    assert!(Database::open(&dbdir).is_ok());
}
