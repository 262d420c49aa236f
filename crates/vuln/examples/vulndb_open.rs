//! Measures the local vulnerability database: import time, file size, open time and first
//! query latency.
//!
//! ```text
//! cargo run --release -p palisade-vuln --example vulndb_open [-- <input>...]
//! ```
//!
//! Without inputs it imports the advisory sources of the corpus (`$PALISADE_CORPUS` or
//! `../shared/corpus`). `PALISADE_SYNTH=<n>` adds an osv.dev-style `all.zip` of `n`
//! synthetic Go advisories, to see how opening scales with size.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool fails by panicking"
)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use palisade_vuln::db::Database;
use palisade_vuln::{Ecosystem, PackageQuery};

fn corpus_inputs() -> Vec<PathBuf> {
    let root = std::env::var_os("PALISADE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus"
            ))
        });
    [
        "vuln/osv/golang-vulndb",
        "vuln/osv/pypa-advisory-database",
        "vuln/osv/rustsec-advisory-db",
        "vuln/osv/nodejs-security-wg",
        "vuln/osv/alpine-secdb-deprecated-mirror",
        "vuln/osv/cisa-kev",
        "vuln/fixtures/claircore/enricher/epss/testdata/data.csv",
    ]
    .iter()
    .map(|s| root.join(s))
    .filter(|p| p.exists())
    .collect()
}

fn synthetic_zip(dir: &std::path::Path, n: usize) -> PathBuf {
    let p = dir.join("synthetic-all.zip");
    let mut zw = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    for i in 0..n {
        let rec = serde_json::json!({
            "id": format!("SYN-{i:07}"),
            "aliases": [format!("CVE-2099-{i}")],
            "summary": "synthetic advisory for scale measurements",
            "details": "A long description. ".repeat(20),
            "affected": [{
                "package": {"ecosystem": "Go", "name": format!("example.com/mod{}/pkg", i % (n / 3 + 1))},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": format!("1.{}.0", i % 50)}]}],
            }],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        });
        zw.start_file(
            format!("SYN-{i:07}.json"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all(&serde_json::to_vec(&rec).unwrap()).unwrap();
    }
    zw.finish().unwrap();
    p
}

fn main() {
    let mut inputs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if inputs.is_empty() {
        inputs = corpus_inputs();
    }
    let tmp = tempfile::tempdir().unwrap();
    if let Some(n) = std::env::var("PALISADE_SYNTH")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        let t = Instant::now();
        inputs.push(synthetic_zip(tmp.path(), n));
        println!(
            "synthetic all.zip of {n} advisories written in {:.2?}",
            t.elapsed()
        );
    }
    let dir = tmp.path().join("vulndb");
    let t = Instant::now();
    let report = Database::import(&dir, &inputs).unwrap();
    println!(
        "import: {} sources, {} advisories, {} bytes, in {:.2?}",
        report.sources.len(),
        report.advisories,
        report.size,
        t.elapsed()
    );

    let mut opens = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let db = Database::open(&dir).unwrap();
        opens.push(t.elapsed());
        std::hint::black_box(db.len());
    }
    opens.sort();
    println!(
        "open: median {:.3?} (min {:.3?}, max {:.3?}) over {} opens",
        opens[opens.len() / 2],
        opens[0],
        opens[opens.len() - 1],
        opens.len()
    );

    let db = Database::open(&dir).unwrap();
    let t = Instant::now();
    let kev = db.kev().map_or(0, |k| k.len());
    println!(
        "KEV ({kev} entries) decoded on first use in {:.3?}",
        t.elapsed()
    );
    let q = PackageQuery::new(Ecosystem::Go, "stdlib", "1.12.15");
    let t = Instant::now();
    let m = db.query(&q);
    let first = t.elapsed();
    let t = Instant::now();
    let m2 = db.query(&q);
    let second = t.elapsed();
    assert_eq!(m, m2);
    println!(
        "query Go stdlib 1.12.15: {} findings; first {:.3?} (reads and decodes records), repeated {:.3?}",
        m.findings.len(),
        first,
        second
    );
}
