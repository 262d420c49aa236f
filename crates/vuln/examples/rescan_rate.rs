//! Measures rescans: synthetic stored SBOMs against a database built from the corpus.
//!
//! ```text
//! cargo run --release -p palisade-vuln --example rescan_rate [-- <images> <packages per image>]
//! ```
//!
//! Defaults: 10,000 images of 200 packages. Packages are real (ecosystem, name) pairs
//! taken from the corpus advisories, so that every lookup reads records; each image draws
//! 80% of its packages from a shared pool of "base image" packages and 20% from the whole
//! set, the way fleets share base layers. `PALISADE_VULNERABLE=<percent>` (default 10)
//! is the share of packages at a version named by an advisory event (mostly affected);
//! the others are at a version above every event. At 100 an image averages thousands of
//! findings: a worst case.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool fails by panicking"
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use palisade_vuln::catalog::{Artifact, Distro, Package, PackageType, Sbom};
use palisade_vuln::db::Database;
use palisade_vuln::rescan::{Reports, RescanOptions, StoredSbom, rescan};
use palisade_vuln::scan::query_for;
use palisade_vuln::{Ecosystem, Event};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn kind(e: &Ecosystem) -> Option<PackageType> {
    Some(match e {
        Ecosystem::Go => PackageType::Golang,
        Ecosystem::PyPI => PackageType::Pypi,
        Ecosystem::Npm => PackageType::Npm,
        Ecosystem::CratesIo => PackageType::Cargo,
        Ecosystem::Alpine => PackageType::Apk,
        _ => return None,
    })
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let images = args.first().copied().unwrap_or(10_000);
    let vulnerable: usize = std::env::var("PALISADE_VULNERABLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let per_image = args.get(1).copied().unwrap_or(200);

    let root = std::env::var_os("PALISADE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus"
            ))
        });
    let inputs: Vec<PathBuf> = [
        "vuln/osv/golang-vulndb",
        "vuln/osv/pypa-advisory-database",
        "vuln/osv/rustsec-advisory-db",
        "vuln/osv/nodejs-security-wg",
        "vuln/osv/alpine-secdb-deprecated-mirror",
        "vuln/osv/cisa-kev",
    ]
    .iter()
    .map(|s| root.join(s))
    .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vulndb");
    Database::import(&dir, &inputs).unwrap();
    let db = Database::open(&dir).unwrap();

    // Package triples from the advisories.
    let mut triples: BTreeSet<(PackageType, String, String)> = BTreeSet::new();
    for a in db.advisories().unwrap() {
        for e in &a.affected {
            let Some(k) = kind(&e.package.ecosystem) else {
                continue;
            };
            for r in &e.ranges {
                for ev in &r.events {
                    if let Event::Fixed(v) | Event::Introduced(v) = ev
                        && v != "0"
                    {
                        triples.insert((k, e.package.name.clone(), v.clone()));
                    }
                }
            }
        }
    }
    let triples: Vec<_> = triples.into_iter().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pool: Vec<usize> = (0..2_000).map(|_| rng.below(triples.len())).collect();
    let t = Instant::now();
    let stored: Vec<StoredSbom> = (0..images)
        .map(|i| {
            let packages = (0..per_image)
                .map(|_| {
                    let idx = if rng.below(10) < 8 {
                        pool[rng.below(pool.len())]
                    } else {
                        rng.below(triples.len())
                    };
                    let (k, n, v) = &triples[idx];
                    let v = if rng.below(100) < vulnerable {
                        v.clone()
                    } else {
                        "999.0.0".to_owned()
                    };
                    let mut p = Package::new(*k, n.clone(), v);
                    if *k == PackageType::Apk {
                        p.metadata.source_name = Some(n.clone());
                    }
                    p
                })
                .collect();
            StoredSbom {
                digest: format!("sha256:{i:064x}"),
                sbom: Sbom {
                    artifact: Artifact {
                        name: format!("registry.local/app{i}:latest"),
                        ..Artifact::default()
                    },
                    distro: Some(Distro {
                        id: "alpine".into(),
                        version_id: Some("3.11.6".into()),
                        ..Distro::default()
                    }),
                    packages,
                    warnings: Vec::new(),
                },
                previous: BTreeSet::new(),
            }
        })
        .collect();
    println!(
        "{} package versions from {} advisories; {images} SBOMs of {per_image} packages ({vulnerable}% at advisory versions) generated in {:.2?}",
        triples.len(),
        db.len(),
        t.elapsed()
    );

    // Distinct lookups alone.
    let t = Instant::now();
    let mut distinct: BTreeSet<(PackageType, String, String)> = BTreeSet::new();
    for st in &stored {
        for p in &st.sbom.packages {
            distinct.insert((p.kind, p.name.clone(), p.version.clone()));
        }
    }
    let mut found = 0usize;
    for (k, n, v) in &distinct {
        let mut p = Package::new(*k, n.clone(), v.clone());
        if *k == PackageType::Apk {
            p.metadata.source_name = Some(n.clone());
        }
        if let Some(q) = query_for(&p, stored[0].sbom.distro.as_ref()) {
            found += db.query(&q).findings.len();
        }
    }
    println!(
        "{} distinct package versions looked up once each (single thread): {found} findings in {:.2?}",
        distinct.len(),
        t.elapsed()
    );

    // First rescan: nothing stored before, every image is "new" (ids only).
    let run = |stored: &Vec<StoredSbom>, reports: Reports, label: &str| {
        let t = Instant::now();
        let mut currents = Vec::new();
        let mut findings = 0usize;
        let summary = rescan(
            stored,
            &db,
            RescanOptions {
                reports,
                ..RescanOptions::default()
            },
            &mut |r| {
                findings += r.report.as_ref().map_or(0, |x| x.vulnerabilities.len());
                currents.push((r.digest, r.current));
            },
        );
        let elapsed = t.elapsed();
        println!(
            "{label}: {} images, {} packages, {} distinct queries, {} with new, {} with fixed, {findings} report findings in {:.2?} ({:.0} images/s)",
            summary.images,
            summary.packages,
            summary.distinct_queries,
            summary.images_with_new,
            summary.images_with_fixed,
            elapsed,
            summary.images as f64 / elapsed.as_secs_f64(),
        );
        currents
    };
    let currents = run(
        &stored,
        Reports::None,
        "rescan, ids only, nothing stored before",
    );
    // The daily case: the previous ids are stored; a handful of images changed.
    let mut previous: std::collections::HashMap<String, Vec<String>> =
        currents.into_iter().collect();
    let mut stored = stored;
    for (i, st) in stored.iter_mut().enumerate() {
        let mut ids: BTreeSet<String> = previous
            .remove(&st.digest)
            .unwrap_or_default()
            .into_iter()
            .collect();
        if i % 100 == 0 {
            ids.insert("CVE-2000-0001".into()); // since fixed
        }
        st.previous = ids;
    }
    run(
        &stored,
        Reports::Changed,
        "rescan, previous ids stored, reports for changed images",
    );
    let some: Vec<StoredSbom> = stored.iter().take(1000).cloned().collect();
    run(
        &some,
        Reports::All,
        "rescan of 1000 images with full reports",
    );
}
