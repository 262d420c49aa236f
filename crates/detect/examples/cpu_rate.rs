//! Events per CPU-second, end to end: a fixed stream of 1,000,000 events of the realistic mix
//! (`benches/common/mix.rs`) as JSON lines, through ingestion, the built-in rules plus Falco's
//! k8s audit rules, and deduplication into alerts, on one thread.
//!
//! Wall-clock rates on a shared machine move with whatever else runs; the CPU time this
//! thread spent (`/proc/thread-self/schedstat`, user and system) moves much less, so it is the
//! figure to compare runs by. The input is rendered ahead of time in blocks of 50,000 events (as a
//! JSON-lines file's bytes), and only the ingestion and detection of each block is timed; the
//! rendering is not. The rate of each block is kept too: their median and best are steadier
//! than the total when other work shares the machine. Also prints the rates of reads, pod
//! writes and other writes alone (N/5 events each).
//!
//! ```text
//! PALISADE_CORPUS=/path/to/corpus taskset -c 1 cargo run -p palisade-detect --release --example cpu_rate [N] [--only=mix|reads|pod|other]
//! ```
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark program: a failure ends it"
)]

#[path = "../benches/common/mix.rs"]
mod mix;

use std::time::{Duration, Instant};

use palisade_detect::RulesFile;
use palisade_detect::alert::{Analyzer, AnalyzerOptions};
use palisade_detect::ingest::{IngestOptions, Ingestor};

/// The palisade binary's allocator (crates/cli), so the figures are the shipped path's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events rendered and timed at a time.
const BLOCK: u64 = 50_000;

/// CPU time this thread has run, in nanoseconds.
fn cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What one run measured.
struct Measured {
    cpu: u64,
    wall: Duration,
    alerts: u64,
    /// Events per CPU-second of each block.
    block_rates: Vec<f64>,
}

/// Runs the events `pick` chooses from the mix's sequence, `n` of them, through a fresh
/// analyzer.
fn run(mix: &mix::Mix, falco: &RulesFile, n: u64, pick: impl Fn(u64) -> bool) -> Measured {
    let (mut an, warnings) = Analyzer::new(AnalyzerOptions {
        rules: vec![falco.clone()],
        ..Default::default()
    })
    .expect("rules load");
    assert!(warnings.is_empty(), "{warnings:#?}");
    let mut ing = Ingestor::new(IngestOptions::default());
    let (mut cpu, mut wall, mut alerts) = (0u64, Duration::ZERO, 0u64);
    let mut block_rates = Vec::new();
    let mut buf = Vec::with_capacity(BLOCK as usize * 1000);
    let (mut i, mut done) = (0u64, 0u64);
    while done < n {
        buf.clear();
        let end = (done + BLOCK).min(n);
        let events = end - done;
        while done < end {
            if pick(i) {
                mix.write_event(i, &mut buf);
                done += 1;
            }
            i += 1;
        }
        let c = cpu_nanos();
        let t = Instant::now();
        ing.read(&mut &buf[..], "generated", &mut an).expect("read");
        alerts += an.take_alerts().len() as u64;
        wall += t.elapsed();
        let spent = cpu_nanos() - c;
        cpu += spent;
        block_rates.push(events as f64 * 1e9 / spent.max(1) as f64);
    }
    let c = cpu_nanos();
    let t = Instant::now();
    alerts += an.finish().len() as u64;
    wall += t.elapsed();
    cpu += cpu_nanos() - c;
    assert_eq!(ing.stats().events, n, "every generated event is read");
    block_rates.sort_by(f64::total_cmp);
    Measured {
        cpu,
        wall,
        alerts,
        block_rates,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.replace('_', "").parse().expect("N is a number"))
        .unwrap_or(1_000_000);
    let Some(runtime) = palisade_testkit::corpus("runtime") else {
        return;
    };
    let root = runtime.parent().expect("corpus root").to_path_buf();
    let mix = mix::Mix::from_corpus(&root);
    let falco = RulesFile::read(root.join(mix::FALCO_K8S_RULES)).expect("Falco k8s rules");
    let report = |what: &str, n: u64, m: Measured| {
        let rates = &m.block_rates;
        println!(
            "{what:<6} {n:>8} events: {:>7.0} ev/s per CPU-second (blocks of {BLOCK}: median {:>7.0}, best {:>7.0}), {:>7.0} ev/s wall; {} alerts",
            n as f64 * 1e9 / m.cpu.max(1) as f64,
            rates.get(rates.len() / 2).copied().unwrap_or(0.0),
            rates.last().copied().unwrap_or(0.0),
            n as f64 / m.wall.as_secs_f64(),
            m.alerts,
        );
    };
    // `--only=mix|reads|pod|other` runs one of them (for profiling).
    let only = std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_string));
    let want = |what: &str| only.as_deref().is_none_or(|o| o == what);
    if want("mix") {
        report("mix", n, run(&mix, &falco, n, |_| true));
    }
    let part = n / 5;
    let classes = [
        ("reads", mix::Class::Read),
        ("pod", mix::Class::PodWrite),
        ("other", mix::Class::OtherWrite),
    ];
    for (what, class) in classes {
        if want(what) {
            let r = run(&mix, &falco, part, |i| mix::Mix::class(i) == class);
            report(what, part, r);
        }
    }
}
