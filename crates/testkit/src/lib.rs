//! Test support for palisade's own tests and benchmarks (never shipped).
//!
//! The third-party corpus lives outside the repository (its code and text are not ours). It is
//! found through `$PALISADE_CORPUS`, or `../shared/corpus` next to the repository root.
//! A test that needs it calls [`corpus`]: when the data is missing the test fails if `CI` is set,
//! and otherwise prints a loud SKIPPED line and returns `None`.

pub mod fake_api;
pub mod postgres;
pub mod tools;

use std::path::PathBuf;

/// Environment variable naming the corpus directory.
pub const CORPUS_ENV: &str = "PALISADE_CORPUS";

/// The corpus root, whether or not it exists.
pub fn corpus_root() -> PathBuf {
    match std::env::var_os(CORPUS_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus"
        )),
    }
}

/// A path inside the corpus, if it exists. When it does not: panics under CI (the `CI`
/// environment variable is set), else prints why the caller skips and returns `None`.
#[expect(clippy::panic, reason = "a missing corpus must fail CI loudly")]
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let p = corpus_root().join(sub);
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "corpus data {} not found (set {CORPUS_ENV} to the corpus directory)",
        p.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}
