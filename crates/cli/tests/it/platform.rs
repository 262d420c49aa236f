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
            "--db-update-interval",
            "0",
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

/// Starts `up` with `args` and `env`, returns the port it reports, and stops it.
fn reported_port(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> u16 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(["up", "--no-scan", "--plain-http"])
        .args(args)
        .env("PALISADE_DATA_DIR", data)
        .env_remove("PALISADE_LISTEN")
        .env_remove("PALISADE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Running(cmd.spawn().unwrap());
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "palisade up exited early"
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn settings_come_from_flags_then_environment_then_the_file() {
    let data = tempfile::tempdir().unwrap();
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let config = data.path().join("palisade.toml");
    std::fs::write(
        &config,
        format!(
            "log = \"warn\"\n[up]\nlisten = \"127.0.0.1:{file_port}\"\ndb_update_interval = \"0\"\n"
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    assert_eq!(reported_port(data.path(), &["--config", c], &[]), file_port);
    // the environment beats the file
    let env_listen = format!("127.0.0.1:{env_port}");
    assert_eq!(
        reported_port(
            data.path(),
            &[],
            &[("PALISADE_CONFIG", c), ("PALISADE_LISTEN", &env_listen)]
        ),
        env_port
    );
    // a flag beats both
    let flag_listen = format!("127.0.0.1:{flag_port}");
    assert_eq!(
        reported_port(
            data.path(),
            &["--config", c, "--listen", &flag_listen],
            &[("PALISADE_LISTEN", &env_listen)]
        ),
        flag_port
    );
    // a typo in the file is an error naming the key, exit 2
    std::fs::write(&config, "[up]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["up", "--no-scan", "--config", c])
        .env("PALISADE_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lisen") && stderr.contains("palisade.toml"),
        "{stderr}"
    );
}

fn osv(id: &str) -> String {
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

#[test]
fn up_updates_the_database_from_a_mirror_and_rescans_stored_sboms() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // a stored report of a root filesystem with Jinja2 2.10, scanned against advisory A
    let root = work.path().join("root");
    let meta = root.join("usr/lib/python3/dist-packages/Jinja2-2.10.dist-info");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("METADATA"), "Name: Jinja2\nVersion: 2.10\n").unwrap();
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).unwrap();
    std::fs::write(advisories.join("A.json"), osv("PALISADE-TEST-A")).unwrap();
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .env("PALISADE_DATA_DIR", &data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    cli(&["db", "import", advisories.to_str().unwrap()]);
    cli(&[
        "image",
        "scan",
        "--rootfs",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);

    // an air-gapped mirror whose PyPI export holds advisory B
    let mirror = work.path().join("mirror");
    std::fs::create_dir_all(mirror.join("osv/PyPI")).unwrap();
    let file = std::fs::File::create(mirror.join("osv/PyPI/all.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file(
        "PALISADE-TEST-B.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, osv("PALISADE-TEST-B").as_bytes()).unwrap();
    zip.finish().unwrap();

    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "up",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--no-host-scan",
        ])
        .args(["--db-update-interval", "1h", "--mirror"])
        .arg(&mirror)
        .env("KUBECONFIG", work.path().join("no-kubeconfig"))
        .env("PALISADE_DATA_DIR", &data)
        .env_remove("PALISADE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !line.starts_with("rescan:") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "up exited early: {seen}"
        );
        seen.push_str(&line);
    }
    assert!(seen.contains("advisory database updated"), "{seen}");
    assert_eq!(
        line.trim(),
        "rescan: 1 images, 1 with new vulnerabilities, 0 with fixed ones",
        "{seen}"
    );
    drop(child);
    // the stored report now has B as well, and a restart does not update again before due
    let out = cli(&["vuln", "rescan", "--format", "json"]);
    let rescan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rescan["images_with_new"], 0, "{rescan}");
    let out = cli(&["db", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status.to_string().contains("osv-PyPI"), "{status}");
}

#[test]
fn the_platform_runs_on_postgresql_selected_by_url() {
    let Some(pg) = palisade_testkit::postgres::PgServer::start() else {
        return;
    };
    let url = pg.fresh_database("palisade_cli");
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .env("PALISADE_DATA_DIR", &data)
            .env("PALISADE_STORE", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let admin = String::from_utf8(cli(&["token", "create", "--role", "admin"]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    // a stored report, rescanned from PostgreSQL
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).unwrap();
    std::fs::write(advisories.join("A.json"), osv("PALISADE-TEST-A")).unwrap();
    let root = work.path().join("root");
    let meta = root.join("usr/lib/python3/dist-packages/Jinja2-2.10.dist-info");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("METADATA"), "Name: Jinja2\nVersion: 2.10\n").unwrap();
    cli(&["db", "import", advisories.to_str().unwrap()]);
    cli(&[
        "image",
        "scan",
        "--rootfs",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let rescan: serde_json::Value =
        serde_json::from_slice(&cli(&["vuln", "rescan", "--format", "json"]).stdout).unwrap();
    assert_eq!(rescan["images"], 1, "{rescan}");

    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["up", "--no-scan", "--plain-http", "--listen", "127.0.0.1:0"])
        .env("PALISADE_DATA_DIR", &data)
        .env("PALISADE_STORE", &url)
        .env_remove("PALISADE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "up exited early");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    let (status, body) = http(port, "GET", "/api/v1/images", Some(&admin), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rootfs:"), "{body}");
    let event = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": "00000000-0000-0000-0000-000000000001", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/palisade-canary/pods", "verb": "list",
        "user": {"username": "canary-tester"}, "sourceIPs": ["10.0.0.7"],
        "objectRef": {"resource": "pods", "namespace": "palisade-canary", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-12-01T10:00:00.000000Z",
        "stageTimestamp": "2026-12-01T10:00:00.010000Z"
    })
    .to_string();
    let (status, body) = http(port, "POST", "/api/v1/audit/webhook", Some(&admin), &event);
    assert_eq!(status, 200, "{body}");
    let (_, alerts) = http(port, "GET", "/api/v1/alerts", Some(&admin), "");
    let alerts: serde_json::Value = serde_json::from_str(&alerts).unwrap();
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1, "{alerts}");
    drop(child);
    // nothing went to an embedded SQLite store
    assert!(!data.join("palisade.db").exists());
}
