//! The matcher against real advisories: a known vulnerable version matches, the fixed
//! version does not, with the fix and remediation the records state.

use std::sync::OnceLock;

use palisade_vuln::matcher::{Index, PackageQuery, Remediation, query_from_purl};
use palisade_vuln::osv;
use palisade_vuln::{Ecosystem, Finding};

use crate::corpus::dir;

/// One index over every source of the corpus (built once per test binary).
fn index() -> Option<&'static Index> {
    static INDEX: OnceLock<Option<Index>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut index = Index::new();
            index.extend(
                osv::import_osv_dir(&dir("golang-vulndb/data/osv")?, "golang-vulndb").advisories,
            );
            index.extend(
                osv::import_osv_dir(&dir("pypa-advisory-database/vulns")?, "pypa").advisories,
            );
            index.extend(osv::import_rustsec(&dir("rustsec-advisory-db")?, "rustsec").advisories);
            index.extend(osv::import_nodejs(&dir("nodejs-security-wg")?, "nodejs").advisories);
            index.extend(
                osv::import_alpine_secdb(&dir("alpine-secdb-deprecated-mirror")?, "alpine")
                    .advisories,
            );
            let kev = dir("cisa-kev/known_exploited_vulnerabilities.json")?;
            index.set_kev(osv::load_kev(&kev).ok()?);
            Some(index)
        })
        .as_ref()
}

fn query(index: &Index, q: PackageQuery) -> Vec<Finding> {
    let m = index.query(&q);
    assert_eq!(m.problems, Vec::<String>::new(), "{q:?}");
    m.findings
}

fn find<'a>(findings: &'a [Finding], id: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.id == id || f.aliases.iter().any(|a| a == id))
}

#[test]
fn pypi_jinja2() {
    let Some(index) = index() else { return };
    // PYSEC-2019-217 (CVE-2019-10906, fixed 2.10.1) and PYSEC-2021-66 (CVE-2020-28493,
    // fixed 2.11.3); the name as a wheel spells it.
    let f = query(index, PackageQuery::new(Ecosystem::PyPI, "Jinja2", "2.10"));
    let a = find(&f, "PYSEC-2019-217").expect("PYSEC-2019-217");
    assert_eq!(a.id, "CVE-2019-10906");
    assert_eq!(a.aliases, vec!["GHSA-462w-v97r-4m45", "PYSEC-2019-217"]);
    assert_eq!(a.remediation_text, "upgrade Jinja2 to >= 2.10.1");
    let b = find(&f, "CVE-2020-28493").expect("CVE-2020-28493");
    assert_eq!(b.fixed_versions, vec!["2.11.3"]);

    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "jinja2", "2.11.3"),
    );
    assert!(
        find(&f, "CVE-2019-10906").is_none() && find(&f, "CVE-2020-28493").is_none(),
        "{f:#?}"
    );
    // A pre-release of the fix is still vulnerable (PEP 440: 2.10.1rc1 < 2.10.1).
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "jinja2", "2.10.1rc1"),
    );
    assert!(find(&f, "CVE-2019-10906").is_some());
}

#[test]
fn pypi_two_records_one_cve() {
    let Some(index) = index() else { return };
    // PYSEC-2021-871 and PYSEC-2021-872 both describe CVE-2021-42343 in dask `distributed`.
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "distributed", "2021.9.1"),
    );
    let cve: Vec<&Finding> = f.iter().filter(|x| x.id == "CVE-2021-42343").collect();
    assert_eq!(cve.len(), 1, "{f:#?}");
    assert_eq!(cve[0].advisories, vec!["PYSEC-2021-871", "PYSEC-2021-872"]);
    assert!(cve[0].aliases.contains(&"GHSA-j8fq-86c5-5v2r".to_owned()));
    assert_eq!(
        cve[0].remediation_text,
        "upgrade distributed to >= 2021.10.0"
    );
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "distributed", "2021.10.0"),
    );
    assert!(find(&f, "CVE-2021-42343").is_none());
}

#[test]
fn pypi_unsorted_adjacent_ranges_and_kev() {
    let Some(index) = index() else { return };
    // PYSEC-2022-236 lists [0,3.1.1) [3.2.0,3.2.2) [3.1.1,3.1.3) out of order.
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "pyspark", "3.1.2"),
    );
    let a = find(&f, "CVE-2022-33891").expect("CVE-2022-33891");
    assert_eq!(a.fixed_versions, vec!["3.1.3"]);
    let kev = a.kev.as_ref().expect("CVE-2022-33891 is KEV-listed");
    assert_eq!(kev.date_added, "2023-03-07");
    let b = find(&f, "CVE-2023-32007").expect("CVE-2023-32007");
    // [3.1.1, 3.2.0) is followed by [3.2.0, 3.2.2): the first unaffected release is 3.2.2.
    assert_eq!(b.fixed_versions, vec!["3.2.2"]);
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "pyspark", "3.1.3"),
    );
    assert!(find(&f, "CVE-2022-33891").is_none());
    assert!(find(&f, "CVE-2023-32007").is_some());

    // salt: CVE-2020-11651 fixed in 2019.2.4 and 3000.2.
    let f = query(index, PackageQuery::new(Ecosystem::PyPI, "salt", "3000.1"));
    let s = find(&f, "CVE-2020-11651").expect("CVE-2020-11651");
    assert_eq!(s.remediation_text, "upgrade salt to >= 3000.2");
    assert_eq!(
        s.kev.as_ref().map(|k| k.date_added.as_str()),
        Some("2021-11-03")
    );
    let f = query(index, PackageQuery::new(Ecosystem::PyPI, "salt", "3000.2"));
    assert!(find(&f, "CVE-2020-11651").is_none());
}

#[test]
fn severity_from_cvss_vector() {
    let Some(index) = index() else { return };
    // PYSEC-2020-342 carries only the vector CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H.
    let f = query(
        index,
        PackageQuery::new(Ecosystem::PyPI, "apache-skywalking", "1.0.1"),
    );
    let a = find(&f, "PYSEC-2020-342").expect("PYSEC-2020-342");
    assert_eq!(a.id, "CVE-2020-13921");
    assert_eq!(a.cvss.as_ref().and_then(|c| c.score), Some(9.8));
    assert_eq!(a.severity, Some(palisade_model::Severity::Critical));
    assert_eq!(a.remediation_text, "no fix yet");
}

#[test]
fn rustsec_crates() {
    let Some(index) = index() else { return };
    let f = query(
        index,
        PackageQuery::new(Ecosystem::CratesIo, "openssl", "0.10.54"),
    );
    let a = find(&f, "RUSTSEC-2023-0044").expect("RUSTSEC-2023-0044");
    assert_eq!(a.id, "CVE-2023-53159");
    assert_eq!(a.remediation_text, "upgrade openssl to >= 0.10.55");
    let f = query(
        index,
        PackageQuery::new(Ecosystem::CratesIo, "openssl", "0.10.55"),
    );
    assert!(find(&f, "RUSTSEC-2023-0044").is_none());

    // mdbook: patched >= 0.4.5, unaffected <= 0.1.3.
    let hit = |v: &str| {
        let f = query(index, PackageQuery::new(Ecosystem::CratesIo, "mdbook", v));
        find(&f, "RUSTSEC-2021-0001").map(|x| x.remediation.clone())
    };
    assert_eq!(hit("0.1.3"), None);
    assert_eq!(
        hit("0.4.4"),
        Some(Remediation::Upgrade {
            version: "0.4.5".into(),
            exclusive: false
        })
    );
    assert_eq!(hit("0.4.5"), None);
}

#[test]
fn rustsec_informational_only_on_request() {
    let Some(index) = index() else { return };
    // RUSTSEC-2022-0057: `badge` is unmaintained (informational, no patched version).
    let f = query(
        index,
        PackageQuery::new(Ecosystem::CratesIo, "badge", "0.3.0"),
    );
    assert!(find(&f, "RUSTSEC-2022-0057").is_none());
}

#[test]
fn npm_from_nodejs_security_wg() {
    let Some(index) = index() else { return };
    // NSWG-ECO-516: lodash >=4.17.15 <4.17.19, patched >=4.17.19.
    let hit = |v: &str| {
        let f = query(index, PackageQuery::new(Ecosystem::Npm, "lodash", v));
        find(&f, "NSWG-ECO-516").map(|x| x.remediation_text.clone())
    };
    assert_eq!(hit("4.17.14"), None);
    assert_eq!(
        hit("4.17.15").as_deref(),
        Some("upgrade lodash to >= 4.17.19")
    );
    assert_eq!(
        hit("4.17.18").as_deref(),
        Some("upgrade lodash to >= 4.17.19")
    );
    assert_eq!(hit("4.17.19"), None);
    // merge-options (NSWG-ECO-410): no patched version.
    let f = query(
        index,
        PackageQuery::new(Ecosystem::Npm, "merge-options", "1.0.0"),
    );
    assert_eq!(
        find(&f, "NSWG-ECO-410").map(|x| x.remediation.clone()),
        Some(Remediation::NoFix)
    );
}

#[test]
fn nodejs_core() {
    let Some(index) = index() else { return };
    // NSWG-COR-1: CVE-2017-1000381, vulnerable 8.x, patched ^8.1.4.
    let node = |v: &str| {
        query(
            index,
            PackageQuery::new(Ecosystem::Other("Node.js".into()), "node", v),
        )
    };
    assert!(find(&node("8.1.3"), "CVE-2017-1000381").is_some());
    assert!(find(&node("8.1.4"), "CVE-2017-1000381").is_none());
}

#[test]
fn go_modules_and_stdlib() {
    let Some(index) = index() else { return };
    // GO-2023-2102 (CVE-2023-39325): golang.org/x/net fixed in 0.17.0; stdlib fixed in
    // 1.20.10 and 1.21.3.
    let net = |v: &str| {
        query(
            index,
            PackageQuery::new(Ecosystem::Go, "golang.org/x/net", v),
        )
    };
    let f = net("v0.16.0");
    let a = find(&f, "GO-2023-2102").expect("GO-2023-2102");
    assert_eq!(a.id, "CVE-2023-39325");
    assert_eq!(a.remediation_text, "upgrade golang.org/x/net to >= 0.17.0");
    assert!(find(&net("v0.17.0"), "GO-2023-2102").is_none());
    // A pseudo-version before the fix.
    assert!(find(&net("v0.0.0-20230905200255-921286631fa9"), "GO-2023-2102").is_some());

    let go = |v: &str| query(index, PackageQuery::new(Ecosystem::Go, "stdlib", v));
    let f = go("go1.21.2");
    assert_eq!(
        find(&f, "GO-2023-2102").map(|x| x.remediation_text.as_str()),
        Some("upgrade stdlib to >= 1.21.3")
    );
    assert!(find(&go("go1.21.3"), "GO-2023-2102").is_none());
    assert!(find(&go("go1.20.10"), "GO-2023-2102").is_none());
    assert!(find(&go("go1.21rc2"), "GO-2023-2102").is_some());

    let f = query(
        index,
        PackageQuery::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0"),
    );
    assert!(find(&f, "GO-2020-0001").is_some());
    let f = query(
        index,
        PackageQuery::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.6.0"),
    );
    assert!(find(&f, "GO-2020-0001").is_none());
}

#[test]
fn alpine_packages() {
    let Some(index) = index() else { return };
    // v3.10 main: apache2 2.4.41-r0 fixes CVE-2019-9517 and five more.
    let q = |v: &str, release: &str| {
        query(
            index,
            PackageQuery::new(Ecosystem::Alpine, "apache2", v).with_release(release),
        )
    };
    let f = q("2.4.39-r0", "3.10.3");
    let a = find(&f, "CVE-2019-9517").expect("CVE-2019-9517");
    assert_eq!(a.advisories, vec!["ALPINE-CVE-2019-9517"]);
    assert_eq!(a.remediation_text, "upgrade apache2 to >= 2.4.41-r0");
    assert!(find(&f, "CVE-2019-0211").is_none(), "fixed in 2.4.39-r0");
    assert!(find(&q("2.4.41-r0", "3.10.3"), "CVE-2019-9517").is_none());
    // Binary package `apache2-ssl` from the `apache2` origin, through the package URL.
    let mut p = query_from_purl(
        "pkg:apk/alpine/apache2-ssl@2.4.39-r0?arch=x86_64&distro=alpine-3.10.3&upstream=apache2",
    )
    .unwrap();
    assert_eq!(p.release.as_deref(), Some("3.10.3"));
    assert!(find(&index.query(&p).findings, "CVE-2019-9517").is_some());
    p.version = "2.4.41-r0".into();
    assert!(find(&index.query(&p).findings, "CVE-2019-9517").is_none());
}

#[test]
fn invalid_installed_version_is_reported_not_matched() {
    let Some(index) = index() else { return };
    let m = index.query(&PackageQuery::new(
        Ecosystem::PyPI,
        "jinja2",
        "not a version",
    ));
    assert!(m.findings.is_empty());
    assert!(
        m.problems
            .iter()
            .any(|p| p.contains("invalid pep440 version")),
        "{:?}",
        m.problems
    );
}

/// Real GitHub advisories (OSV format) kept as trivy-db test data: Maven, Packagist, NuGet,
/// npm and Go records, matched with their ecosystems' schemes.
#[test]
fn ghsa_records_other_ecosystems() {
    let Some(d) = palisade_testkit::corpus(
        "vuln/fixtures/trivy-db/pkg/vulnsrc/ghsa/testdata/happy/ghsa/advisories/github-reviewed",
    ) else {
        return;
    };
    let import = osv::import_osv_dir(&d, "ghsa");
    assert_eq!(import.report.errors, Vec::new());
    assert_eq!(import.report.advisories, 10);
    let mut index = Index::new();
    index.extend(import.advisories);
    let hit = |eco: Ecosystem, name: &str, v: &str, id: &str| -> Option<String> {
        let m = index.query(&PackageQuery::new(eco, name, v));
        assert_eq!(m.problems, Vec::<String>::new());
        find(&m.findings, id).map(|f| f.remediation_text.clone())
    };
    // Maven: GHSA-xx65-cc7g-9pfp, spring-boot [1.5.0, 1.5.10).
    let sb = "org.springframework.boot:spring-boot";
    assert_eq!(
        hit(Ecosystem::Maven, sb, "1.5.9.RELEASE", "CVE-2018-1196").as_deref(),
        Some("upgrade org.springframework.boot:spring-boot to >= 1.5.10")
    );
    assert_eq!(
        hit(Ecosystem::Maven, sb, "1.5.10.RELEASE", "CVE-2018-1196"),
        None
    );
    assert_eq!(hit(Ecosystem::Maven, sb, "1.5.0.M1", "CVE-2018-1196"), None);
    assert!(hit(Ecosystem::Maven, sb, "1.5.0", "CVE-2018-1196").is_some());
    // Packagist: GHSA-wjx8-cgrm-hh8p, contao/core-bundle [4.0.0, 4.4.46) and [4.5.0, 4.8.6).
    let contao = "contao/core-bundle";
    assert_eq!(
        hit(Ecosystem::Packagist, contao, "4.4.45", "CVE-2019-19745").as_deref(),
        Some("upgrade contao/core-bundle to >= 4.4.46")
    );
    assert_eq!(
        hit(Ecosystem::Packagist, contao, "v4.5.0", "CVE-2019-19745").as_deref(),
        Some("upgrade contao/core-bundle to >= 4.8.6")
    );
    assert_eq!(
        hit(Ecosystem::Packagist, contao, "4.4.46", "CVE-2019-19745"),
        None
    );
    assert_eq!(
        hit(Ecosystem::Packagist, contao, "4.8.6", "CVE-2019-19745"),
        None
    );
    // NuGet: GHSA-266m-wp2v-x7mq, names are case-insensitive.
    let rt = "microsoft.netcore.app.runtime.linux-arm";
    assert!(hit(Ecosystem::NuGet, rt, "9.0.5", "CVE-2025-30399").is_some());
    assert_eq!(hit(Ecosystem::NuGet, rt, "9.0.6", "CVE-2025-30399"), None);
    // npm: GHSA-75v8-2h7p-7m2m leaves >= 2.1.0 open in a second entry, so 3.5.3 is not a fix.
    assert_eq!(
        hit(Ecosystem::Npm, "formidable", "3.5.2", "CVE-2025-46653").as_deref(),
        Some("no fix yet")
    );
    assert_eq!(
        hit(Ecosystem::Npm, "formidable", "2.0.9", "CVE-2025-46653"),
        None
    );
    // Go with ECOSYSTEM ranges: GHSA-v778-237x-gjrc.
    assert_eq!(
        hit(
            Ecosystem::Go,
            "golang.org/x/crypto",
            "v0.30.0",
            "CVE-2024-45337"
        )
        .as_deref(),
        Some("upgrade golang.org/x/crypto to >= 0.31.0")
    );
    assert_eq!(
        hit(
            Ecosystem::Go,
            "golang.org/x/crypto",
            "v0.31.0",
            "CVE-2024-45337"
        ),
        None
    );
    // SwiftURL has no version scheme here: reported, not guessed.
    let m = index.query(&PackageQuery::new(
        Ecosystem::from_name("SwiftURL"),
        "github.com/apple/swift-nio",
        "2.41.0",
    ));
    assert!(m.findings.is_empty());
    assert!(
        m.problems
            .iter()
            .any(|p| p.contains("no version scheme for ecosystem SwiftURL")),
        "{:?}",
        m.problems
    );
}
