//! Streams N generated audit events (default 10,000,000) through the end-to-end path
//! (JSON-lines ingestion, the built-in rules plus Falco's k8s audit rules, deduplication) from
//! a generator, never holding the input in memory, and prints events/s with the process's
//! resident memory (VmRSS) and its peak (VmHWM) every 1,000,000 events, so a run shows whether
//! memory stays flat. Alerts are taken every 4,096 events, as a live exporter takes them; what
//! stays in memory is the deduplication state (at most `DedupOptions::max_open` open alerts).
//!
//! ```text
//! PALISADE_CORPUS=/path/to/corpus taskset -c 1 cargo run -p palisade-detect --release --example flatmem [N]
//! ```
//!
//! The events are the realistic mix of `benches/common/mix.rs` (1 ms apart, so 10M events
//! span 2.8 hours of a busy cluster and many deduplication windows).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark program: a failure ends it"
)]

#[path = "../benches/common/mix.rs"]
mod mix;

use std::io::{self, BufRead, Read};

use std::time::Instant;

use std::collections::BTreeMap;

use palisade_detect::alert::{Alert, Analyzer, AnalyzerOptions};
use palisade_detect::ingest::{IngestOptions, Ingestor, Position, Sink};
use palisade_detect::{K8sAuditEvent, RulesFile};

/// The palisade binary's allocator (crates/cli), so the figures are the shipped path's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A reader that renders events as they are read.
struct Generator<'m> {
    mix: &'m mix::Mix,
    next: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Generator<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Generator<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            // About 256 KiB per refill, like the ingestor's own read buffer.
            while self.next < self.end && self.buf.len() < 256 << 10 {
                self.mix.write_event(self.next, &mut self.buf);
                self.next += 1;
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .map(|l| l[key.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// Hands events to the analyzer and takes the alerts it emits every few thousand events, as
/// a live exporter does, counting them by type.
struct Consumer<'a> {
    analyzer: &'a mut Analyzer,
    since_drain: u32,
    alerts: u64,
    by_type: BTreeMap<String, u64>,
}

impl Consumer<'_> {
    fn count(&mut self, a: Alert) {
        self.alerts += 1;
        *self.by_type.entry(a.alert_type).or_default() += a.count;
    }

    fn drain(&mut self) {
        for a in self.analyzer.take_alerts() {
            self.count(a);
        }
        self.since_drain = 0;
    }
}

impl Sink for Consumer<'_> {
    fn event(&mut self, event: &K8sAuditEvent<'_>, at: &Position<'_>) {
        self.analyzer.process(event, Some(at));
        self.since_drain += 1;
        if self.since_drain >= 4096 {
            self.drain();
        }
    }
}

/// CPU time this thread has run, in nanoseconds (`/proc/thread-self/schedstat`): on a shared
/// machine the fair measure of events per second per core.
fn cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("N is a number"))
        .unwrap_or(10_000_000);
    let Some(runtime) = palisade_testkit::corpus("runtime") else {
        return;
    };
    let root = runtime.parent().expect("corpus root").to_path_buf();
    let mix = mix::Mix::from_corpus(&root);
    let falco = RulesFile::read(root.join(mix::FALCO_K8S_RULES)).expect("Falco k8s rules");
    let (mut an, warnings) = Analyzer::new(AnalyzerOptions {
        rules: vec![falco],
        ..Default::default()
    })
    .expect("rules load");
    assert!(warnings.is_empty(), "{warnings:#?}");
    let (always, indexed) = an.rules().index_stats(palisade_detect::K8S_AUDIT_SOURCE);
    println!(
        "rules: {} ({always} tested on every event, {indexed} picked by the index)",
        an.rules().len()
    );
    println!(
        "templates (reads, pod writes, other writes): {:?}; start VmRSS {}",
        mix.template_counts(),
        status("VmRSS:")
    );
    // What generation alone costs, to tell it from detection.
    let probe = n.min(1_000_000);
    let c = cpu_nanos();
    let mut bytes = 0usize;
    let mut generated = Generator {
        mix: &mix,
        next: 0,
        end: probe,
        buf: Vec::new(),
        pos: 0,
    };
    loop {
        let n = generated.fill_buf().expect("generate").len();
        if n == 0 {
            break;
        }
        bytes += n;
        generated.consume(n);
    }
    let gen_cpu_per_event = (cpu_nanos() - c) as f64 / probe as f64;
    println!(
        "generation alone: {:.0} ev/s CPU; {:.0} bytes per event on average",
        1e9 / gen_cpu_per_event,
        bytes as f64 / probe as f64
    );

    let mut ing = Ingestor::new(IngestOptions::default());
    let step = 1_000_000u64;
    let cpu_start = cpu_nanos();
    let start = Instant::now();
    let mut out = Consumer {
        analyzer: &mut an,
        since_drain: 0,
        alerts: 0,
        by_type: BTreeMap::new(),
    };
    let mut done = 0u64;
    while done < n {
        let end = (done + step).min(n);
        let t = Instant::now();
        let c = cpu_nanos();
        let mut generator = Generator {
            mix: &mix,
            next: done,
            end,
            buf: Vec::new(),
            pos: 0,
        };
        ing.read(&mut generator, "generated", &mut out)
            .expect("read");
        out.drain();
        let alerts = out.alerts;
        let secs = t.elapsed().as_secs_f64();
        let cpu = (cpu_nanos() - c) as f64 - gen_cpu_per_event * (end - done) as f64;
        println!(
            "{end:>11} events  wall {:>8.0} ev/s (with generation)  CPU {:>8.0} ev/s (without)  alerts {alerts:>8}  open {:>6}  VmRSS {:>10}  VmHWM {:>10}",
            (end - done) as f64 / secs,
            (end - done) as f64 * 1e9 / cpu,
            out.analyzer.open_alerts(),
            status("VmRSS:"),
            status("VmHWM:"),
        );
        done = end;
    }
    for a in out.analyzer.finish() {
        out.count(a);
    }
    let Consumer {
        alerts, by_type, ..
    } = out;
    let secs = start.elapsed().as_secs_f64();
    let cpu = (cpu_nanos() - cpu_start) as f64 - gen_cpu_per_event * n as f64;
    println!(
        "{n} events in {secs:.1} s wall: {:.0} ev/s with generation; detection alone {:.0} ev/s per CPU-second; {alerts} alerts, {} matches; VmHWM {}",
        n as f64 / secs,
        n as f64 * 1e9 / cpu,
        an.stats().matches,
        status("VmHWM:")
    );
    println!("detections by alert type: {by_type:?}");
}
