//! `palisade db import`, `image scan` and `sbom` over a root filesystem with a known old
//! Python package and the real PyPA advisory database from the corpus.

use std::process::Command;

fn run(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_DATA_DIR", data)
        .output()
        .unwrap()
}

#[test]
fn rootfs_packages_are_matched_against_imported_advisories() {
    let Some(pypa) = palisade_testkit::corpus("vuln/osv/pypa-advisory-database") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let meta = root
        .path()
        .join("usr/lib/python3/dist-packages/Jinja2-2.10.dist-info");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("METADATA"),
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n",
    )
    .unwrap();
    let rootfs = root.path().to_str().unwrap();

    // no database yet: a clear error, exit 2
    let out = run(data.path(), &["image", "scan", "--rootfs", rootfs]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("db import"));

    let out = run(data.path(), &["db", "import", pypa.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(data.path(), &["db", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["advisories"].as_u64().unwrap() > 2000, "{status}");

    let out = run(
        data.path(),
        &["image", "scan", "--rootfs", rootfs, "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vulns = report["vulnerabilities"].as_array().unwrap();
    let ids: Vec<&str> = vulns.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"CVE-2019-10906"), "{ids:?}");
    let v = vulns.iter().find(|v| v["id"] == "CVE-2019-10906").unwrap();
    assert_eq!(v["package"]["name"], "Jinja2");
    assert!(v["remediation"].as_str().unwrap().contains("2.10.1"), "{v}");

    // SARIF for code-scanning dashboards: one result per vulnerable package
    let out = run(
        data.path(),
        &["image", "scan", "--rootfs", rootfs, "--format", "sarif"],
    );
    assert!(out.status.success());
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "CVE-2019-10906"
            && r["message"]["text"].as_str().is_some_and(|t| !t.is_empty())),
        "{sarif}"
    );

    let out = run(
        data.path(),
        &["sbom", "--rootfs", rootfs, "--format", "cyclonedx"],
    );
    let bom: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert!(
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purl"] == "pkg:pypi/jinja2@2.10"),
        "{bom}"
    );
}

#[test]
fn db_update_reads_an_air_gapped_mirror_directory() {
    let Some(kev) =
        palisade_testkit::corpus("vuln/osv/cisa-kev/known_exploited_vulnerabilities.json")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mirror = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(mirror.path().join("kev")).unwrap();
    std::fs::copy(
        &kev,
        mirror
            .path()
            .join("kev/known_exploited_vulnerabilities.json"),
    )
    .unwrap();
    let m = mirror.path().to_str().unwrap();
    let out = run(
        data.path(),
        &["db", "update", "--mirror", m, "--source", "kev"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(data.path(), &["db", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["kev_entries"].as_u64().unwrap() > 1000, "{status}");
    // a mirror without the file: named, exit 2
    let empty = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "db",
            "update",
            "--mirror",
            empty.path().to_str().unwrap(),
            "--source",
            "kev",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known_exploited_vulnerabilities.json"));
}

#[test]
fn an_unreadable_registry_ca_is_named() {
    let data = tempfile::tempdir().unwrap();
    // a database, so that the scan gets as far as the registry
    let advisories = tempfile::tempdir().unwrap();
    std::fs::write(
        advisories.path().join("A.json"),
        crate::osv("PALISADE-TEST-A"),
    )
    .unwrap();
    crate::run_ok(
        data.path(),
        &[],
        &["db", "import", advisories.path().to_str().unwrap()],
    );
    let ca = data.path().join("missing-ca.pem");
    let out = run(
        data.path(),
        &[
            "image",
            "scan",
            "registry.invalid/team/app:1",
            "--registry-ca",
            ca.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing-ca.pem"), "{stderr}");
}
