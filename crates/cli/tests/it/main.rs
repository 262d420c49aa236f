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
pub(crate) mod vuln;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// One plain-HTTP request; returns (status, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Kills the server if the test fails before stopping it.
pub(crate) struct Running(pub(crate) std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An OSV advisory affecting every Jinja2 before 9.
pub(crate) fn osv(id: &str) -> String {
    serde_json::json!({
        "schema_version": "1.6.0", "id": id, "modified": "2026-11-30T00:00:00Z",
        "summary": "test advisory",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "jinja2"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9"}]}]
        }]
    })
    .to_string()
}

/// A root filesystem holding Jinja2 2.10 (as pip installs it) under `dir/root`.
pub(crate) fn jinja_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let meta = root.join("usr/lib/python3/dist-packages/Jinja2-2.10.dist-info");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("METADATA"), "Name: Jinja2\nVersion: 2.10\n").unwrap();
    root
}

/// Runs palisade on `data` with extra environment; fails the test unless it succeeds.
pub(crate) fn run_ok(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args)
        .env("PALISADE_DATA_DIR", data)
        .env_remove("PALISADE_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A new token of `role` for the store `data` (and `env`) names.
pub(crate) fn token(data: &Path, env: &[(&str, &str)], role: &str) -> String {
    let out = run_ok(data, env, &["token", "create", "--role", role]);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Starts `palisade ARGS` as a long-running server on the data directory `data` (logs off,
/// stdout discarded, `env` added): the guard that kills it and its stderr, to read lines from.
pub(crate) fn spawn_server<A: AsRef<std::ffi::OsStr>>(
    data: &Path,
    args: impl IntoIterator<Item = A>,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Running, std::io::BufReader<std::process::ChildStderr>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args)
        .env("PALISADE_DATA_DIR", data)
        .env_remove("PALISADE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Running(cmd.spawn().unwrap());
    let stderr = std::io::BufReader::new(child.0.stderr.take().unwrap());
    (child, stderr)
}

/// Reads a server's stderr up to the line announcing its plain-HTTP port.
pub(crate) fn announced_port(stderr: &mut impl std::io::BufRead) -> u16 {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited early"
        );
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            return rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    }
}
