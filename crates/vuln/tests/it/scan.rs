//! Scan glue: an image built here, scanned against advisories, gives the report a user reads.

use palisade_vuln::advisory::{
    Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind, SeverityKind, SeverityScore,
};
use palisade_vuln::catalog::{self, PackageType};
use palisade_vuln::image::{ImageOptions, OciLayout, open_image};
use palisade_vuln::matcher::Index;
use palisade_vuln::scan::{self, ScanOptions};

use crate::imagekit::{Comp, file, layer, oci_layout};

fn advisory(
    id: &str,
    alias: &str,
    eco: Ecosystem,
    release: Option<&str>,
    name: &str,
    fixed: &str,
) -> Advisory {
    let mut a = Advisory::new(id, "test");
    a.aliases = vec![alias.to_owned()];
    a.severity.push(SeverityScore::new(
        SeverityKind::CvssV3,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        None,
    ));
    let mut aff = Affected::new(Package {
        ecosystem: eco,
        release: release.map(str::to_owned),
        name: name.into(),
        purl: None,
    });
    aff.ranges.push(Range {
        kind: RangeKind::Ecosystem,
        repo: None,
        events: vec![Event::Introduced("0".into()), Event::Fixed(fixed.into())],
        database_specific: None,
    });
    a.affected.push(aff);
    a
}

#[test]
fn scan_image_reports_distro_and_language_findings() {
    let status = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n";
    let os_release = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
    let metadata = "Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.2\n";
    let dir = tempfile::tempdir().unwrap();
    oci_layout(
        dir.path(),
        &[
            layer(
                &[
                    file("etc/os-release", os_release),
                    file("var/lib/dpkg/status", status),
                ],
                Comp::Gzip,
            ),
            layer(
                &[file(
                    "usr/lib/python3/site-packages/Jinja2-3.1.2.dist-info/METADATA",
                    metadata,
                )],
                Comp::Zstd,
            ),
        ],
    );
    let fs = open_image(
        Box::new(OciLayout::open(dir.path()).unwrap()),
        &ImageOptions::default(),
    )
    .unwrap();
    let mut index = Index::new();
    // Debian advisories name the source package and the release.
    index.insert(advisory(
        "DSA-5532-1",
        "CVE-2023-5363",
        Ecosystem::Debian,
        Some("12"),
        "openssl",
        "3.0.11-1~deb12u2",
    ));
    index.insert(advisory(
        "DSA-0000-1",
        "CVE-2000-0001",
        Ecosystem::Debian,
        Some("11"),
        "openssl",
        "9.9",
    ));
    index.insert(advisory(
        "GHSA-h5c8-rqwp-cp95",
        "CVE-2024-22195",
        Ecosystem::PyPI,
        None,
        "jinja2",
        "3.1.3",
    ));
    let epss = scan::parse_epss_csv(
        "#model_version:v2023.03.01\ncve,epss,percentile\nCVE-2023-5363,0.00123,0.45\n",
    );
    let report = scan::scan_image(&fs, &index, ScanOptions { epss: Some(&epss) }).unwrap();
    assert_eq!(report.artifact.distro.as_deref(), Some("debian 12"));
    assert_eq!(
        report.artifact.digest,
        fs.image().map(|i| i.digest().to_string())
    );
    assert_eq!(report.packages.len(), 3);
    let ids: Vec<(&str, &str)> = report
        .vulnerabilities
        .iter()
        .map(|v| (v.package.name.as_str(), v.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("Jinja2", "CVE-2024-22195"), ("libssl3", "CVE-2023-5363")]
    );
    let ssl = &report.vulnerabilities[1];
    assert_eq!(ssl.aliases, vec!["DSA-5532-1".to_owned()]);
    assert_eq!(ssl.fixed_versions, vec!["3.0.11-1~deb12u2".to_owned()]);
    assert_eq!(ssl.remediation, "upgrade libssl3 to >= 3.0.11-1~deb12u2");
    assert_eq!(
        ssl.package.purl,
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"
    );
    assert_eq!(ssl.cvss.as_ref().unwrap().score, Some(9.8));
    assert_eq!(ssl.epss.unwrap().percentile, 0.45);
    assert!(!ssl.kev);
    assert_eq!(
        report.vulnerabilities[0].remediation,
        "upgrade Jinja2 to >= 3.1.3"
    );

    // The SBOM written and read back scans the same.
    let sbom = catalog::catalog(&fs).unwrap();
    let text = palisade_vuln::sbom::write(
        &sbom,
        palisade_vuln::sbom::Format::CycloneDx,
        &Default::default(),
    );
    let again = scan::scan_sbom(
        &palisade_vuln::sbom::read(text.as_bytes()).unwrap(),
        &index,
        ScanOptions::default(),
    );
    assert_eq!(
        again
            .vulnerabilities
            .iter()
            .map(|v| &v.id)
            .collect::<Vec<_>>(),
        report
            .vulnerabilities
            .iter()
            .map(|v| &v.id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn ecosystems_by_type_and_distro() {
    use palisade_vuln::catalog::Distro;
    let d = |id: &str| Distro {
        id: id.into(),
        ..Distro::default()
    };
    assert_eq!(
        scan::ecosystem_for(PackageType::Deb, Some(&d("ubuntu"))),
        Some(Ecosystem::Ubuntu)
    );
    assert_eq!(
        scan::ecosystem_for(PackageType::Apk, Some(&d("wolfi"))),
        Some(Ecosystem::Wolfi)
    );
    assert_eq!(
        scan::ecosystem_for(PackageType::Rpm, Some(&d("rocky"))),
        Some(Ecosystem::RockyLinux)
    );
    assert_eq!(scan::ecosystem_for(PackageType::Rpm, None), None);
    assert_eq!(
        scan::ecosystem_for(PackageType::Golang, None),
        Some(Ecosystem::Go)
    );
}

/// The single-pass cold scan (catalog while opening) finds exactly what opening and then
/// cataloging finds, across layers that replace, remove and hardlink wanted files, and the
/// os-release symlink Debian ships.
#[test]
fn single_pass_catalog_equals_two_pass() {
    use crate::imagekit::E;
    let status_v1 = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n";
    let status_v2 = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n";
    let meta = |v: &str| format!("Metadata-Version: 2.1\nName: Jinja2\nVersion: {v}\n");
    let dir = tempfile::tempdir().unwrap();
    oci_layout(
        dir.path(),
        &[
            layer(
                &[
                    file(
                        "usr/lib/os-release",
                        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
                    ),
                    E::Symlink("etc/os-release", "../usr/lib/os-release"),
                    file("var/lib/dpkg/status", status_v1),
                    file(
                        "usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA",
                        meta("3.1.2"),
                    ),
                    file("opt/old/Jinja2-2.0.dist-info/METADATA", meta("2.0")),
                ],
                Comp::Gzip,
            ),
            layer(
                &[
                    // Replaced, removed, and a hardlink to a wanted file.
                    file("var/lib/dpkg/status", status_v2),
                    file("opt/.wh.old", ""),
                    E::Hardlink(
                        "srv/copy/Jinja2-3.1.2.dist-info/METADATA",
                        "usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA",
                    ),
                ],
                Comp::Zstd,
            ),
        ],
    );
    let options = ImageOptions::default();
    let two_pass = {
        let fs = open_image(Box::new(OciLayout::open(dir.path()).unwrap()), &options).unwrap();
        catalog::catalog(&fs).unwrap()
    };
    let (_, one_pass) =
        catalog::open_and_catalog(Box::new(OciLayout::open(dir.path()).unwrap()), &options)
            .unwrap();
    assert_eq!(one_pass, two_pass);
    let found: Vec<(&str, &str, &[String])> = one_pass
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.locations.as_slice()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "bash",
                "5.2.15-2+b2",
                &["var/lib/dpkg/status".to_owned()][..]
            ),
            (
                "libssl3",
                "3.0.11-1~deb12u2",
                &["var/lib/dpkg/status".to_owned()][..]
            ),
            (
                "Jinja2",
                "3.1.2",
                &[
                    "srv/copy/Jinja2-3.1.2.dist-info/METADATA".to_owned(),
                    "usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA".to_owned()
                ][..]
            ),
        ]
    );
    assert_eq!(
        one_pass.distro.as_ref().unwrap().version_id.as_deref(),
        Some("12")
    );

    // The report through the single-pass entry point matches too.
    let mut index = Index::new();
    index.insert(advisory(
        "DSA-5532-1",
        "CVE-2023-5363",
        Ecosystem::Debian,
        Some("12"),
        "openssl",
        "3.0.11-1~deb12u3",
    ));
    let report = scan::scan_image_source(
        Box::new(OciLayout::open(dir.path()).unwrap()),
        &options,
        &index,
        ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(report.vulnerabilities.len(), 1);
    assert_eq!(
        report.vulnerabilities[0].package.version,
        "3.0.11-1~deb12u2"
    );
}
