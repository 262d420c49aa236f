//! The local vulnerability database over the corpus: import with format detection, the
//! on-disk lookup against the in-memory index, merges, signatures, format versioning and
//! updates from a mirror served over HTTP.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use palisade_vuln::db::{self, Database, DbError, Format, Mirror, Source};
use palisade_vuln::keys::generate_keypair;
use palisade_vuln::matcher::{Index, PackageQuery};
use palisade_vuln::osv;
use palisade_vuln::{Advisory, Event};

use crate::http_server::Server;

fn corpus(sub: &str) -> Option<PathBuf> {
    palisade_testkit::corpus(&format!("vuln/{sub}"))
}

fn epss_csv() -> Option<PathBuf> {
    corpus("fixtures/claircore/enricher/epss/testdata/data.csv")
}

/// The corpus sources every test shares: inputs as a user would name them.
fn inputs() -> Option<Vec<PathBuf>> {
    Some(vec![
        corpus("osv/golang-vulndb")?,
        corpus("osv/pypa-advisory-database")?,
        corpus("osv/rustsec-advisory-db")?,
        corpus("osv/nodejs-security-wg")?,
        corpus("osv/alpine-secdb-deprecated-mirror")?,
        corpus("osv/cisa-kev")?,
        epss_csv()?,
    ])
}

pub(crate) struct Built {
    _dir: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    report: db::ImportReport,
}

/// One database of the whole corpus, built once.
pub(crate) fn built() -> Option<&'static Built> {
    static BUILT: OnceLock<Option<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let inputs = inputs()?;
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("vulndb");
            let report = Database::import(&dir, &inputs).unwrap();
            Some(Built {
                dir,
                report,
                _dir: tmp,
            })
        })
        .as_ref()
}

/// A private copy of the shared database, for tests that change it.
fn copy() -> Option<(tempfile::TempDir, PathBuf)> {
    let b = built()?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vulndb");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(db::db_path(&b.dir), db::db_path(&dir)).unwrap();
    Some((tmp, dir))
}

#[test]
fn import_detects_every_corpus_format() {
    let Some(b) = built() else { return };
    let got: Vec<(String, Format, usize, bool)> = b
        .report
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.format, s.report.advisories, s.applied))
        .collect();
    assert_eq!(
        got,
        vec![
            ("golang-vulndb".into(), Format::Osv, 4291, true),
            ("pypa-advisory-database".into(), Format::Osv, 2661, true),
            ("rustsec-advisory-db".into(), Format::RustSec, 1225, true),
            ("nodejs-security-wg".into(), Format::NodejsWg, 638, true),
            (
                "alpine-secdb-deprecated-mirror".into(),
                Format::AlpineSecdb,
                2479,
                true
            ),
            ("cisa-kev".into(), Format::Kev, 1404, true),
            ("epss".into(), Format::Epss, 29, true),
        ]
    );
    // golang/vulndb's checkout is imported from data/osv, not its YAML reports.
    assert!(b.report.sources[0].input.ends_with("data/osv"));
    assert_eq!(
        b.report.advisories,
        4291 + 2661 + 1225 + 638 + 2479,
        "advisory records in the database"
    );

    let db = Database::open(&b.dir).unwrap();
    let st = db.status();
    assert_eq!(st.format_version, db::FORMAT_VERSION);
    assert_eq!(st.advisories, b.report.advisories);
    assert_eq!(
        st.size,
        std::fs::metadata(db::db_path(&b.dir)).unwrap().len()
    );
    assert_eq!(st.kev_entries, 1404);
    assert_eq!(st.kev_catalog_version.as_deref(), Some("2025.08.25"));
    assert_eq!(st.epss_scores, 29);
    let names: Vec<&str> = st.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "alpine-secdb-deprecated-mirror",
            "cisa-kev",
            "epss",
            "golang-vulndb",
            "nodejs-security-wg",
            "pypa-advisory-database",
            "rustsec-advisory-db"
        ]
    );
    let alpine = &st.sources[0];
    assert_eq!((alpine.files, alpine.errors), (18, 6));
    assert!(
        alpine
            .fetched_from
            .ends_with("alpine-secdb-deprecated-mirror")
    );
    assert!(alpine.imported_at > 1_700_000_000);

    assert_eq!(
        db.epss_score("CVE-1999-0005").map(|e| e.score),
        Some(0.91963)
    );
    assert!(db.kev().unwrap().contains("CVE-2021-44228"));
}

/// Versions worth asking about for an advisory: every event and listed version.
fn probe_versions(a: &Advisory) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for e in &a.affected {
        for r in &e.ranges {
            for ev in &r.events {
                let s = match ev {
                    Event::Introduced(s) if s == "0" => continue,
                    other => other.version().to_owned(),
                };
                v.push(s);
            }
        }
        v.extend(e.versions.iter().take(3).cloned());
        if let Some(c) = &e.constraints {
            for set in c.patched.any_of.iter().chain(c.unaffected.any_of.iter()) {
                v.extend(set.iter().map(|x| x.version.clone()));
            }
        }
    }
    v.push("0.0.1".into());
    v.sort();
    v.dedup();
    v
}

#[test]
fn lookups_equal_the_in_memory_index() {
    let Some(b) = built() else { return };
    let Some(kev_path) = corpus("osv/cisa-kev/known_exploited_vulnerabilities.json") else {
        return;
    };
    // The same data through the importers directly.
    let mut index = Index::new();
    for i in [
        osv::import_osv_dir(
            &corpus("osv/golang-vulndb/data/osv").unwrap(),
            "golang-vulndb",
        ),
        osv::import_osv_dir(&corpus("osv/pypa-advisory-database").unwrap(), "pypa"),
        osv::import_rustsec(&corpus("osv/rustsec-advisory-db").unwrap(), "rustsec"),
        osv::import_nodejs(&corpus("osv/nodejs-security-wg").unwrap(), "nodejs"),
        osv::import_alpine_secdb(
            &corpus("osv/alpine-secdb-deprecated-mirror").unwrap(),
            "alpine",
        ),
    ] {
        index.extend(i.advisories);
    }
    index.set_kev(osv::load_kev(&kev_path).unwrap());
    let db = Database::open(&b.dir).unwrap();

    let mut queries = 0;
    let mut with_findings = 0;
    for (n, a) in index.advisories().iter().enumerate() {
        if n % 8 != 0 {
            continue;
        }
        let Some(e) = a.affected.first() else {
            continue;
        };
        for v in probe_versions(a) {
            let mut q = PackageQuery::new(e.package.ecosystem.clone(), &e.package.name, &v);
            if let Some(r) = &e.package.release {
                q = q.with_release(r.trim_start_matches('v'));
            }
            let want = index.query(&q);
            let got = db.query(&q);
            // Advisory ids differ only in the source names, which are not compared.
            assert_eq!(got, want, "{q:?}");
            queries += 1;
            with_findings += usize::from(!got.findings.is_empty());
        }
    }
    assert!(queries > 2000, "{queries}");
    assert!(with_findings > 1000, "{with_findings}");
    // Unknown packages and ecosystems find nothing.
    let q = PackageQuery::new(
        palisade_vuln::Ecosystem::Npm,
        "no-such-package-xyz",
        "1.0.0",
    );
    assert!(db.query(&q).findings.is_empty());

    // KEV rides along on findings: GO-2022-0535 (crypto/x509 on Windows, CVE-2020-0601,
    // "CurveBall") is KEV-listed and affects stdlib before 1.12.16.
    let q = PackageQuery::new(palisade_vuln::Ecosystem::Go, "stdlib", "1.12.15");
    let m = db.query(&q);
    let curveball = m
        .findings
        .iter()
        .find(|f| f.id == "CVE-2020-0601")
        .expect("stdlib 1.12.15 has CVE-2020-0601");
    assert_eq!(
        curveball.kev.as_ref().map(|k| k.date_added.as_str()),
        Some("2021-11-03")
    );
}

#[test]
fn reimport_replaces_one_source_and_bad_input_changes_nothing() {
    let Some((_t, dir)) = copy() else { return };
    let before = Database::open(&dir).unwrap().status();
    // Import a subset of the Node.js data under the same source name.
    let sub = tempfile::tempdir().unwrap();
    let npm = sub.path().join("vuln/npm");
    std::fs::create_dir_all(&npm).unwrap();
    let src = corpus("osv/nodejs-security-wg/vuln/npm").unwrap();
    for f in ["410.json", "379.json"] {
        std::fs::copy(src.join(f), npm.join(f)).unwrap();
    }
    let r = Database::import_named(&dir, &[("nodejs-security-wg", sub.path())]).unwrap();
    assert_eq!(r.sources[0].report.advisories, 2);
    assert_eq!(r.advisories, before.advisories - 638 + 2);
    let db = Database::open(&dir).unwrap();
    let node = db
        .sources()
        .iter()
        .find(|s| s.name == "nodejs-security-wg")
        .unwrap();
    assert_eq!(node.advisories, 2);
    let m = db.query(&PackageQuery::new(
        palisade_vuln::Ecosystem::Npm,
        "merge-options",
        "1.0.0",
    ));
    assert_eq!(m.findings.len(), 1);

    // An input whose every file fails leaves the source as it was.
    let junk = tempfile::tempdir().unwrap();
    std::fs::write(junk.path().join("GO-1.json"), "{ not json").unwrap();
    let r = Database::import_named(&dir, &[("golang-vulndb", junk.path())]).unwrap();
    assert!(!r.sources[0].applied);
    assert_eq!(r.sources[0].report.errors.len(), 1);
    assert_eq!(r.advisories, before.advisories - 638 + 2);

    // A path that is not there is an error naming it, and the database is untouched.
    let err = Database::import(&dir, &[Path::new("/nonexistent/advisories")]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/advisories"), "{err}");
}

#[test]
fn signatures_are_checked() {
    let Some((_t, dir)) = copy() else { return };
    let kp = generate_keypair().unwrap();
    let key = kp.signing_key().unwrap();
    let file = db::db_path(&dir);

    let err = Database::open_verified(&dir, &kp.public).unwrap_err();
    assert!(err.to_string().contains("no signature file"), "{err}");

    let sig = db::sign(&file, &key).unwrap();
    assert_eq!(sig, db::signature_path(&file));
    let db = Database::open_verified(&dir, &kp.public).unwrap();
    assert!(!db.is_empty());
    drop(db);

    let other = generate_keypair().unwrap();
    let err = Database::open_verified(&dir, &other.public).unwrap_err();
    assert!(matches!(err, DbError::Signature { .. }), "{err}");

    // One flipped byte in a record.
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let err = Database::open_verified(&dir, &kp.public).unwrap_err();
    assert!(err.to_string().contains("modified after signing"), "{err}");
    // Unverified opening still works: the check is the signature's job.
    assert!(Database::open(&dir).is_ok());

    // Rewriting the database drops the stale signature.
    let epss = epss_csv().unwrap();
    Database::import(&dir, &[epss]).unwrap();
    assert!(!db::signature_path(&file).exists());
}

#[test]
fn format_version_and_damage_are_reported() {
    let Some((_t, dir)) = copy() else { return };
    let file = db::db_path(&dir);
    let good = std::fs::read(&file).unwrap();

    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&file, &newer).unwrap();
    let err = Database::open(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Version {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    // Import refuses to overwrite what it cannot read.
    assert!(Database::import(&dir, &[epss_csv().unwrap()]).is_err());

    let mut magic = good.clone();
    magic[0] = b'X';
    std::fs::write(&file, &magic).unwrap();
    assert!(matches!(
        Database::open(&dir).unwrap_err(),
        DbError::Corrupt { .. }
    ));

    // Truncations at every tenth of the file: an error or a database, never a panic;
    // queries on a database cut inside its records report problems instead of failing.
    for i in 1..10 {
        std::fs::write(&file, &good[..good.len() * i / 10]).unwrap();
        if let Ok(db) = Database::open(&dir) {
            let m = db.query(&PackageQuery::new(
                palisade_vuln::Ecosystem::Go,
                "stdlib",
                "1.0.0",
            ));
            assert!(!m.problems.is_empty() || !m.findings.is_empty());
        }
    }

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Database::open(empty.path()).unwrap_err(),
        DbError::NotFound { .. }
    ));
}

/// A mirror tree built from corpus files: a Go `all.zip`, an Alpine secdb JSON, the KEV
/// JSON and a gzip EPSS CSV.
fn mirror_tree(root: &Path) -> Option<usize> {
    let go = corpus("osv/golang-vulndb/data/osv")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&go)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(120);
    std::fs::create_dir_all(root.join("osv/Go")).unwrap();
    let mut zw = zip::ZipWriter::new(std::fs::File::create(root.join("osv/Go/all.zip")).unwrap());
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        zw.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zw.write_all(&std::fs::read(f).unwrap()).unwrap();
    }
    zw.finish().unwrap();

    let yaml = std::fs::read_to_string(corpus(
        "osv/alpine-secdb-deprecated-mirror/v3.11/main.yaml",
    )?)
    .unwrap();
    let v: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    std::fs::create_dir_all(root.join("alpine/v3.11")).unwrap();
    std::fs::write(
        root.join("alpine/v3.11/main.json"),
        serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();

    std::fs::create_dir_all(root.join("kev")).unwrap();
    std::fs::copy(
        corpus("osv/cisa-kev/known_exploited_vulnerabilities.json")?,
        root.join("kev/known_exploited_vulnerabilities.json"),
    )
    .unwrap();

    std::fs::create_dir_all(root.join("epss")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(root.join("epss/epss_scores-current.csv.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&std::fs::read(epss_csv()?).unwrap()).unwrap();
    gz.finish().unwrap();
    Some(files.len())
}

fn sources() -> Vec<Source> {
    ["osv:Go", "alpine:v3.11/main", "kev", "epss"]
        .iter()
        .map(|s| Source::parse(s).unwrap())
        .collect()
}

#[test]
fn update_from_a_mirror_over_http() {
    let mirror = tempfile::tempdir().unwrap();
    let Some(go_files) = mirror_tree(mirror.path()) else {
        return;
    };
    let server = Server::serve_dir(mirror.path());
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("vulndb");
    let mut wanted = sources();
    wanted.push(Source::parse("osv:PyPI").unwrap()); // not in the mirror: 404
    let report = db::update(&dir, &wanted, Some(&Mirror::Url(server.url()))).unwrap();
    let by_name: BTreeMap<&str, usize> = report
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.report.advisories))
        .collect();
    assert_eq!(by_name["osv-Go"], go_files);
    assert_eq!(by_name["cisa-kev"], 1404);
    assert_eq!(by_name["epss"], 29);
    assert!(by_name["alpine-v3.11-main"] > 500, "{by_name:?}");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(
        report.failed[0].starts_with("osv-PyPI: "),
        "{:?}",
        report.failed
    );
    assert!(report.failed[0].contains("404"), "{:?}", report.failed);

    let db = Database::open(&dir).unwrap();
    let go = db.sources().iter().find(|s| s.name == "osv-Go").unwrap();
    assert_eq!(go.fetched_from, format!("{}/osv/Go/all.zip", server.url()));
    assert_eq!(go.format, "osv-zip");
    let m = db.query(
        &PackageQuery::new(palisade_vuln::Ecosystem::Alpine, "openssl", "1.1.1c-r0")
            .with_release("3.11.2"),
    );
    assert!(!m.findings.is_empty(), "{m:?}");
    // Every request the update made was a GET of a mirror path.
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.starts_with("GET /")),
        "{requests:?}"
    );
    assert_eq!(requests.len(), 5, "{requests:?}");

    // The same mirror as a directory (air-gapped), into a fresh database.
    let dir2 = out.path().join("vulndb2");
    let report = db::update(&dir2, &sources(), Some(&Mirror::Dir(mirror.path().into()))).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        Database::open(&dir2).unwrap().status().advisories,
        Database::open(&dir).unwrap().status().advisories
    );

    // Nothing reachable at all is an error.
    let err = db::update(
        &out.path().join("vulndb3"),
        &[Source::parse("osv:npm").unwrap()],
        Some(&Mirror::Url(server.url())),
    )
    .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
