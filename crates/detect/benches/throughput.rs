//! End-to-end detection throughput: JSON-lines audit events in memory, through ingestion, the
//! analyzer with the built-in rules plus Falco's k8s audit rules, and deduplication into
//! alerts, on one thread.
//!
//! The input is the realistic mix of `common/mix.rs` (real corpus audit events replicated
//! with varied users, namespaces and names; 88% reads, 7% pod writes with full bodies, 5%
//! other writes). Divan reports events/s (items) and bytes/s per run of 50,000 events.
//!
//! ```text
//! PALISADE_CORPUS=/path/to/corpus taskset -c 1 cargo bench -p palisade-detect --bench throughput
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/mix.rs"]
mod mix;

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use palisade_detect::RulesFile;
use palisade_detect::alert::{Analyzer, AnalyzerOptions};
use palisade_detect::ingest::{IngestOptions, Ingestor};

/// The palisade binary's allocator (crates/cli), so the figures are the shipped path's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: u64 = 50_000;

struct Input {
    falco: RulesFile,
    mix: Vec<u8>,
    reads: Vec<u8>,
    pod_writes: Vec<u8>,
}

static INPUT: LazyLock<Option<Input>> = LazyLock::new(|| {
    let root = palisade_testkit::corpus("runtime")?.parent()?.to_path_buf();
    let falco = RulesFile::read(root.join(mix::FALCO_K8S_RULES)).expect("Falco k8s rules");
    let m = mix::Mix::from_corpus(&root);
    let only = |class: mix::Class| {
        let mut out = Vec::new();
        let mut i = 0u64;
        let mut n = 0u64;
        while n < EVENTS {
            if mix::Mix::class(i) == class {
                m.write_event(i, &mut out);
                n += 1;
            }
            i += 1;
        }
        out
    };
    Some(Input {
        falco,
        mix: m.lines(EVENTS),
        reads: only(mix::Class::Read),
        pod_writes: only(mix::Class::PodWrite),
    })
});

fn analyzer(input: &Input) -> Analyzer {
    let opts = AnalyzerOptions {
        rules: vec![input.falco.clone()],
        ..Default::default()
    };
    let (an, warnings) = Analyzer::new(opts).expect("rules load");
    assert!(warnings.is_empty(), "{warnings:#?}");
    an
}

fn run(bencher: Bencher<'_, '_>, pick: fn(&Input) -> &[u8]) {
    let Some(input) = INPUT.as_ref() else { return };
    let bytes = pick(input);
    bencher
        .counter(ItemsCount::new(EVENTS))
        .counter(BytesCount::new(bytes.len()))
        .with_inputs(|| analyzer(input))
        .bench_local_values(|mut an| {
            let mut ing = Ingestor::new(IngestOptions::default());
            ing.read(&mut &bytes[..], "bench", &mut an).unwrap();
            assert_eq!(ing.stats().events, EVENTS);
            divan::black_box(an.finish())
        });
}

/// The realistic mix.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn realistic_mix(bencher: Bencher<'_, '_>) {
    run(bencher, |i| &i.mix);
}

/// Reads only (Metadata level).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn reads_only(bencher: Bencher<'_, '_>) {
    run(bencher, |i| &i.reads);
}

/// Pod creates and updates with full bodies only.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn pod_writes_only(bencher: Bencher<'_, '_>) {
    run(bencher, |i| &i.pod_writes);
}

fn main() {
    divan::main();
}
