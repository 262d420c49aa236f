//! `palisade up` and `palisade token`: the platform process, through its real listener.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One plain-HTTP request; returns (status, body).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
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
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn up_serves_the_api_with_tokens_and_stops_on_sigterm() {
    let Some(corpus) = palisade_testkit::corpus(
        "vuln/fixtures/syft/syft/pkg/cataloger/debian/testdata/image-dpkg/var/lib/dpkg/status",
    ) else {
        return;
    };
    // a node root filesystem holding a real dpkg database
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(host.path().join("var/lib/dpkg")).unwrap();
    std::fs::copy(&corpus, host.path().join("var/lib/dpkg/status")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "up",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--host-root",
        ])
        .arg(host.path())
        .env("KUBECONFIG", data.path().join("no-kubeconfig"))
        .env("PALISADE_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let (mut admin, mut port) = (String::new(), 0u16);
    let mut line = String::new();
    while port == 0 {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "palisade up exited early"
        );
        if let Some(t) = line.split("keep it): ").nth(1) {
            admin = t.trim().to_owned();
        }
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    }
    assert!(
        admin.starts_with("pal_"),
        "first start prints an admin token"
    );
    // the node's packages are inventoried in the background
    while !line.contains("packages inventoried") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "palisade up exited early"
        );
    }
    assert!(!line.contains(": 0 packages"), "{line}");
    let (status, body) = http(port, "GET", "/api/v1/images", Some(&admin), "");
    assert_eq!(status, 200);
    assert!(
        body.contains("\"host:") && body.contains("\"has_sbom\":true"),
        "{body}"
    );

    assert_eq!(http(port, "GET", "/healthz", None, "").0, 200);
    assert_eq!(http(port, "GET", "/api/v1/clusters", None, "").0, 401);
    assert_eq!(
        http(port, "GET", "/api/v1/clusters", Some("pal_wrong"), "").0,
        401
    );
    let (status, body) = http(port, "GET", "/api/v1/coverage", Some(&admin), "");
    assert_eq!(status, 200);
    assert!(body.contains("how_to_fix"), "{body}");

    // a reader token made by the CLI reads but cannot write
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["token", "create", "--role", "reader"])
        .env("PALISADE_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        http(port, "GET", "/api/v1/clusters", Some(&reader), "").0,
        200
    );
    assert_eq!(
        http(port, "PUT", "/api/v1/settings", Some(&reader), "{}").0,
        403
    );

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(
        !rest.contains(&reader) && !rest.contains("pal_wrong"),
        "tokens leak into logs"
    );
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let out = super::palisade(
        &["up", "--plain-http", "--listen", "0.0.0.0:0", "--no-scan"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}
