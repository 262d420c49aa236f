//! Cold scan against merely inflating the image's layers.
//!
//! ```text
//! cargo run --release -p palisade-vuln --example coldscan -- [--db DIR] [--tsv] [--two-pass] IMAGE
//! cargo run --release -p palisade-vuln --example coldscan -- --build-db DIR INPUT...
//! ```
//!
//! `IMAGE` is an OCI layout directory or a `docker save`/OCI tar archive. The raw layer blobs
//! are read once first (so both timings see a warm page cache), then:
//!
//! - inflate: every layer blob decompressed (gzip, zstd or plain, by magic bytes) into a
//!   sink, streaming, nothing else;
//! - scan: open the image (resolution, verified squashed view) cataloging in the same pass
//!   (`catalog::open_and_catalog`), then match every package against the database given by
//!   `--db` (opened inside the timing; an empty index without it), no blob or result cache:
//!   the steps of `scan::scan_image_source`, timed per phase. `--two-pass` opens first and
//!   catalogs afterwards (`open_image` + `catalog::catalog`), for comparison.
//!
//! Prints both times, their ratio, the peak RSS (`VmHWM`) and package/finding counts; with
//! `--tsv` one line `inflate_s scan_s ratio peak_rss_mib packages vulnerabilities
//! inflate_cpu_s scan_cpu_s scan_main_thread_cpu_s` (CPU = user + system of all threads;
//! the main thread's share is the critical path when a second core is free).
//! `--build-db DIR INPUT...` imports advisory inputs into a database and exits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool fails by panicking"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use palisade_vuln::catalog;
use palisade_vuln::db::Database;
use palisade_vuln::image::{
    ImageOptions, ImageSource, LayerRef, Locator, OciLayout, open_archive, open_image, resolve,
};
use palisade_vuln::scan::{self, ScanOptions};

fn source(path: &Path, options: &ImageOptions) -> Box<dyn ImageSource> {
    if path.is_dir() {
        Box::new(OciLayout::open(path).unwrap())
    } else {
        Box::new(open_archive(path, options.limits).unwrap())
    }
}

fn open_raw<'a>(src: &'a dyn ImageSource, layer: &LayerRef) -> Box<dyn Read + Send + 'a> {
    match &layer.locator {
        Locator::Blob(d) => src.open_blob(d).unwrap(),
        Locator::Path(p) => src.open_path(p).unwrap(),
    }
}

/// Decompresses every layer into a sink; returns the inflated byte count.
fn inflate(src: &dyn ImageSource, layers: &[LayerRef]) -> u64 {
    let mut total = 0;
    for layer in layers {
        let mut r = BufReader::with_capacity(64 * 1024, open_raw(src, layer));
        let head = r.fill_buf().unwrap();
        let mut decoded: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(r))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(zstd::stream::read::Decoder::with_buffer(r).unwrap())
        } else {
            Box::new(r)
        };
        total += std::io::copy(&mut decoded, &mut std::io::sink()).unwrap();
    }
    total
}

/// CPU time (user + system, all threads) of this process so far, from `/proc/self/stat`
/// (clock ticks of 1/100 s, the Linux `USER_HZ`).
fn cpu_s() -> f64 {
    cpu_of("/proc/self/stat")
}

/// CPU time of the calling thread only (the scan's critical path: layer hashing runs on
/// helper threads).
fn thread_cpu_s() -> f64 {
    cpu_of("/proc/thread-self/stat")
}

fn cpu_of(file: &str) -> f64 {
    let stat = std::fs::read_to_string(file).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut db_dir: Option<PathBuf> = None;
    let mut tsv = false;
    let mut two_pass = false;
    let mut image: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db_dir = Some(args.next().expect("--db DIR").into()),
            "--tsv" => tsv = true,
            "--two-pass" => two_pass = true,
            "--build-db" => {
                let dir = PathBuf::from(args.next().expect("--build-db DIR INPUT..."));
                let inputs: Vec<PathBuf> = args.map(PathBuf::from).collect();
                let r = Database::import(&dir, &inputs).unwrap();
                eprintln!(
                    "database {}: {} advisories, {} bytes",
                    r.path.display(),
                    r.advisories,
                    r.size
                );
                return;
            }
            _ => image = Some(a.into()),
        }
    }
    let image = image.expect("usage: coldscan [--db DIR] [--tsv] IMAGE");
    let options = ImageOptions::default();

    // Warm the page cache with the raw blobs, untimed.
    let src = source(&image, &options);
    let resolved = resolve(src.as_ref(), &options).unwrap();
    let mut stored = 0u64;
    for layer in &resolved.layers {
        stored += std::io::copy(&mut open_raw(src.as_ref(), layer), &mut std::io::sink()).unwrap();
    }

    let (t, c) = (Instant::now(), cpu_s());
    let inflated = inflate(src.as_ref(), &resolved.layers);
    let inflate_s = t.elapsed().as_secs_f64();
    let inflate_cpu = cpu_s() - c;
    drop(src);

    let (t, c, tc) = (Instant::now(), cpu_s(), thread_cpu_s());
    let (fs, sbom) = if two_pass {
        let fs = open_image(source(&image, &options), &options).unwrap();
        let sbom = catalog::catalog(&fs).unwrap();
        (fs, sbom)
    } else {
        catalog::open_and_catalog(source(&image, &options), &options).unwrap()
    };
    let catalog_s = t.elapsed().as_secs_f64();
    let report = match &db_dir {
        Some(dir) => {
            let db = Database::open(dir).unwrap();
            scan::scan_sbom_with(&sbom, &db, ScanOptions::default())
        }
        None => {
            let index = palisade_vuln::Index::new();
            scan::scan_sbom(&sbom, &index, ScanOptions::default())
        }
    };
    let scan_s = t.elapsed().as_secs_f64();
    let scan_cpu = cpu_s() - c;
    let scan_main_cpu = thread_cpu_s() - tc;
    let match_s = scan_s - catalog_s;
    let rss = peak_rss_mib();
    let ratio = scan_s / inflate_s;
    if tsv {
        println!(
            "{inflate_s:.3}\t{scan_s:.3}\t{ratio:.2}\t{rss:.0}\t{}\t{}\t{inflate_cpu:.2}\t{scan_cpu:.2}\t{scan_main_cpu:.2}",
            report.packages.len(),
            report.vulnerabilities.len()
        );
    } else {
        println!("image      {}", image.display());
        println!(
            "layers     {} ({:.1} MiB stored, {:.1} MiB inflated)",
            resolved.layers.len(),
            stored as f64 / 1048576.0,
            inflated as f64 / 1048576.0
        );
        println!("inflate    {inflate_s:.3} s (CPU {inflate_cpu:.2} s)");
        println!(
            "scan       {scan_s:.3} s (CPU {scan_cpu:.2} s, main thread {scan_main_cpu:.2} s; {} packages, {} vulnerabilities, {} files in view)",
            report.packages.len(),
            report.vulnerabilities.len(),
            fs.len()
        );
        println!("  phases   open+catalog {catalog_s:.3} s, match {match_s:.3} s");
        println!("scan/infl  {ratio:.2}");
        println!("peak RSS   {rss:.0} MiB");
    }
}
