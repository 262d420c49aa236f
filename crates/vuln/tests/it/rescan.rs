//! Rescans of stored SBOMs against the corpus database: new and fixed ids per image,
//! through aliases, and the shared query answers.

use std::collections::BTreeSet;

use palisade_vuln::catalog::{Artifact, Distro, Package, PackageType, Sbom};
use palisade_vuln::db::Database;
use palisade_vuln::rescan::{Reports, RescanOptions, StoredSbom, rescan_all};
use palisade_vuln::scan::{ScanOptions, scan_sbom_with};

fn sbom(name: &str, packages: &[(PackageType, &str, &str)]) -> Sbom {
    Sbom {
        artifact: Artifact {
            name: name.into(),
            ..Artifact::default()
        },
        distro: Some(Distro {
            id: "alpine".into(),
            version_id: Some("3.11.6".into()),
            ..Distro::default()
        }),
        packages: packages
            .iter()
            .map(|(k, n, v)| Package::new(*k, *n, *v))
            .collect(),
        warnings: Vec::new(),
    }
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn new_and_fixed_per_image() {
    let Some(b) = crate::db::built() else { return };
    let db = Database::open(&b.dir).unwrap();
    let go_old = sbom(
        "go-old",
        &[
            (PackageType::Golang, "stdlib", "1.12.15"),
            (PackageType::Apk, "openssl", "1.1.1c-r0"),
        ],
    );
    let current_go_old = scan_sbom_with(&go_old, &db, ScanOptions::default());
    let all: BTreeSet<String> = current_go_old
        .vulnerabilities
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert!(all.contains("CVE-2020-0601"), "{all:?}");
    // Previously: everything but CVE-2020-0601, one id that has since gone away, and the
    // Go id (an alias) of one of the current CVEs instead of the CVE itself.
    let mut previous: BTreeSet<String> = all
        .iter()
        .filter(|i| *i != "CVE-2020-0601" && *i != "CVE-2020-7919")
        .cloned()
        .collect();
    previous.insert("CVE-1999-0001".into());
    previous.insert("GO-2022-0229".into()); // alias of CVE-2020-7919
    let stored = vec![
        StoredSbom {
            digest: "sha256:aaaa".into(),
            sbom: go_old.clone(),
            previous,
        },
        StoredSbom {
            digest: "sha256:bbbb".into(),
            sbom: sbom("clean", &[(PackageType::Golang, "stdlib", "1.99.0")]),
            previous: ids(&["CVE-2020-0601"]),
        },
        StoredSbom {
            digest: "sha256:cccc".into(),
            sbom: go_old,
            previous: all.clone(),
        },
    ];
    let (images, summary) = rescan_all(&stored, &db, RescanOptions::default());
    assert_eq!(summary.images, 3);
    assert_eq!(summary.packages, 5);
    // Images a and c share their two packages: three distinct queries.
    assert_eq!(summary.distinct_queries, 3);
    assert_eq!((summary.images_with_new, summary.images_with_fixed), (1, 2));

    let a = &images[0];
    assert_eq!(a.digest, "sha256:aaaa");
    assert_eq!(a.new, ["CVE-2020-0601"]);
    assert_eq!(a.fixed, ["CVE-1999-0001"]);
    assert_eq!(a.current.iter().cloned().collect::<BTreeSet<_>>(), all);
    // Changed images carry their full report, unchanged ones none (the default).
    let mut want = current_go_old.clone();
    want.artifact.digest = Some("sha256:aaaa".into());
    assert_eq!(a.report.as_ref(), Some(&want));
    let b = &images[1];
    assert!(b.new.is_empty() && b.current.is_empty());
    assert_eq!(b.fixed, ["CVE-2020-0601"]);
    let c = &images[2];
    assert!(b.report.is_some());
    assert!(c.new.is_empty() && c.fixed.is_empty());
    assert!(c.report.is_none());

    // Ids only, or every report.
    let (none, _) = rescan_all(
        &stored,
        &db,
        RescanOptions {
            reports: Reports::None,
            threads: 1,
            ..RescanOptions::default()
        },
    );
    assert!(none.iter().all(|i| i.report.is_none()));
    assert_eq!(none[0].new, images[0].new);
    let (every, _) = rescan_all(
        &stored,
        &db,
        RescanOptions {
            reports: Reports::All,
            ..RescanOptions::default()
        },
    );
    let mut want = current_go_old;
    want.artifact.digest = Some("sha256:cccc".into());
    assert_eq!(every[2].report.as_ref(), Some(&want));
}
