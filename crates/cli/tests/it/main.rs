//! End-to-end tests of the `palisade` binary: arguments, reports, exit codes.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod audit;
mod image;
mod platform;
mod posture;
mod runtime;
mod vuln;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs palisade with an isolated data directory; optional stdin.
pub(crate) fn palisade(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_DATA_DIR", data.path())
        .env_remove("PALISADE_LOG")
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("palisade runs");
    {
        let mut sin = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            sin.write_all(input).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
