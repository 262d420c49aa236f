//! SARIF output of a scan: the shape GitHub code scanning accepts (every result has a
//! `ruleId` naming a rule of the driver, a `message.text` and a location with an artifact
//! URI and a start line), levels from severities, help text from remediations.

use palisade_vuln::catalog::{Package, PackageType};
use palisade_vuln::report::{sarif_level, to_sarif};
use palisade_vuln::scan::{Cvss, Epss, PackageRef, ReportArtifact, VulnReport, Vulnerability};

fn vuln(
    id: &str,
    pkg: &str,
    version: &str,
    purl: &str,
    severity: Option<palisade_model::Severity>,
) -> Vulnerability {
    Vulnerability {
        id: id.into(),
        aliases: vec![],
        package: PackageRef {
            name: pkg.into(),
            version: version.into(),
            purl: purl.into(),
        },
        fixed_versions: vec![],
        severity,
        cvss: None,
        kev: false,
        epss: None,
        remediation: "no fix yet".into(),
        summary: None,
    }
}

fn report() -> VulnReport {
    let mut libssl = Package::new(PackageType::Deb, "libssl3", "3.0.11-1~deb12u1");
    libssl.purl = "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?distro=debian-12".into();
    libssl.locations = vec!["var/lib/dpkg/status".into()];
    let mut libcrypto = Package::new(PackageType::Deb, "openssl", "3.0.11-1~deb12u1");
    libcrypto.purl = "pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12".into();
    libcrypto.locations = vec!["var/lib/dpkg/status".into()];
    let mut jinja = Package::new(PackageType::Pypi, "Jinja2", "3.1.2");
    jinja.purl = "pkg:pypi/jinja2@3.1.2".into();
    jinja.locations = vec!["usr/lib/python3/site-packages/Jinja2-3.1.2.dist-info/METADATA".into()];

    let mut ssl = vuln(
        "CVE-2023-5363",
        "libssl3",
        "3.0.11-1~deb12u1",
        &libssl.purl,
        Some(palisade_model::Severity::High),
    );
    ssl.fixed_versions = vec!["3.0.11-1~deb12u2".into()];
    ssl.remediation = "upgrade libssl3 to >= 3.0.11-1~deb12u2".into();
    ssl.cvss = Some(Cvss {
        score: Some(7.5),
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N".into(),
    });
    ssl.kev = true;
    ssl.epss = Some(Epss {
        score: 0.00123,
        percentile: 0.45,
    });
    ssl.summary = Some("Incorrect cipher key and IV length processing".into());
    let mut ssl2 = ssl.clone();
    ssl2.package = PackageRef {
        name: "openssl".into(),
        version: "3.0.11-1~deb12u1".into(),
        purl: libcrypto.purl.clone(),
    };
    ssl2.remediation = "upgrade openssl to >= 3.0.11-1~deb12u2".into();
    let j = vuln(
        "GHSA-h5c8-rqwp-cp95",
        "Jinja2",
        "3.1.2",
        &jinja.purl,
        Some(palisade_model::Severity::Medium),
    );
    let none = vuln(
        "CVE-2024-2511",
        "libssl3",
        "3.0.11-1~deb12u1",
        &libssl.purl,
        Some(palisade_model::Severity::Low),
    );
    VulnReport {
        artifact: ReportArtifact {
            digest: Some("sha256:abc".into()),
            name: "registry.example/app:1".into(),
            distro: Some("debian 12".into()),
        },
        packages: vec![libssl, libcrypto, jinja],
        vulnerabilities: vec![ssl, none, ssl2, j],
        problems: vec![],
    }
}

#[test]
fn sarif_has_what_code_scanning_needs() {
    let s = to_sarif(&report());
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "palisade");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    // One rule per vulnerability id, even when two packages have it.
    assert_eq!(
        rule_ids,
        ["CVE-2023-5363", "CVE-2024-2511", "GHSA-h5c8-rqwp-cp95"]
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "one result per (vulnerability, package)");
    for r in results {
        let rule_id = r["ruleId"].as_str().unwrap();
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], rule_id);
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.is_empty() && !uri.starts_with('/'), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
    }
    let ssl = &results[0];
    assert_eq!(ssl["level"], "error");
    assert_eq!(
        ssl["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );
    assert_eq!(ssl["properties"]["cvss"]["score"], 7.5);
    assert_eq!(ssl["properties"]["kev"], true);
    assert_eq!(ssl["properties"]["epss"]["percentile"], 0.45);
    assert_eq!(ssl["properties"]["fixedVersions"][0], "3.0.11-1~deb12u2");
    assert_eq!(
        ssl["message"]["text"],
        "libssl3 3.0.11-1~deb12u1 is affected by CVE-2023-5363 (high); fixed in 3.0.11-1~deb12u2: upgrade libssl3 to >= 3.0.11-1~deb12u2"
    );
    assert_eq!(results[1]["level"], "note");
    assert_eq!(
        results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "usr/lib/python3/site-packages/Jinja2-3.1.2.dist-info/METADATA"
    );
    assert_eq!(results[3]["level"], "warning");
    // Help text is the remediation, for every package the rule covers.
    assert_eq!(
        rules[0]["help"]["text"],
        "upgrade libssl3 to >= 3.0.11-1~deb12u2\nupgrade openssl to >= 3.0.11-1~deb12u2"
    );
    assert_eq!(rules[0]["properties"]["security-severity"], "7.5");
    assert_eq!(
        rules[0]["shortDescription"]["text"],
        "Incorrect cipher key and IV length processing"
    );
    // Without CVSS the severity still ranks the rule.
    assert_eq!(rules[2]["properties"]["security-severity"], "5.5");
    assert_eq!(rules[1]["help"]["text"], "no fix yet");
    // Round-trips as JSON text.
    let text = serde_json::to_string(&s).unwrap();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
}

#[test]
fn levels_follow_severity() {
    use palisade_model::Severity;
    assert_eq!(sarif_level(Some(Severity::Critical)), "error");
    assert_eq!(sarif_level(Some(Severity::High)), "error");
    assert_eq!(sarif_level(Some(Severity::Medium)), "warning");
    assert_eq!(sarif_level(Some(Severity::Low)), "note");
    assert_eq!(sarif_level(Some(Severity::Informational)), "note");
    assert_eq!(sarif_level(None), "warning");
}

#[test]
fn empty_report_is_a_valid_log() {
    let s = to_sarif(&VulnReport::default());
    assert_eq!(s["runs"][0]["results"].as_array().unwrap().len(), 0);
    assert_eq!(
        s["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
