//! `palisade up` and `palisade token`: the platform process, through its real listener.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};

use crate::{Running, free_port, http, jinja_rootfs, osv, run_ok, spawn_server, token};

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
    crate::announced_port(&mut stderr)
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

#[test]
fn up_updates_the_database_from_a_mirror_and_rescans_stored_sboms() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // a stored report of a root filesystem with Jinja2 2.10, scanned against advisory A
    let root = jinja_rootfs(work.path());
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).unwrap();
    std::fs::write(advisories.join("A.json"), osv("PALISADE-TEST-A")).unwrap();
    let cli = |args: &[&str]| run_ok(&data, &[], args);
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

    let no_kubeconfig = work.path().join("no-kubeconfig");
    let (child, mut stderr) = spawn_server(
        &data,
        [
            "up",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--no-host-scan",
            "--db-update-interval",
            "1h",
            "--mirror",
            mirror.to_str().unwrap(),
        ],
        &[("KUBECONFIG", no_kubeconfig.as_os_str())],
    );
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
    let env = [("PALISADE_STORE", url.as_str())];
    let cli = |args: &[&str]| run_ok(&data, &env, args);
    let admin = token(&data, &env, "admin");
    // a stored report, rescanned from PostgreSQL
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).unwrap();
    std::fs::write(advisories.join("A.json"), osv("PALISADE-TEST-A")).unwrap();
    let root = jinja_rootfs(work.path());
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

    let (child, mut stderr) = spawn_server(
        &data,
        ["up", "--no-scan", "--plain-http", "--listen", "127.0.0.1:0"],
        &[("PALISADE_STORE", url.as_ref())],
    );
    let port = crate::announced_port(&mut stderr);
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
    // The event that raised the alert is kept as its evidence.
    let id = alerts["items"][0]["id"].as_i64().unwrap();
    let (status, events) = http(
        port,
        "GET",
        &format!("/api/v1/alerts/{id}/events"),
        Some(&admin),
        "",
    );
    assert_eq!(status, 200, "{events}");
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    assert_eq!(
        events["items"][0]["event"]["auditID"], "00000000-0000-0000-0000-000000000001",
        "{events}"
    );
    assert_eq!(events["items"][0]["event"]["sourceIPs"][0], "10.0.0.7");
    drop(child);
    // nothing went to an embedded SQLite store
    assert!(!data.join("palisade.db").exists());
}

/// The cluster's workloads name an image in a (real, loopback) registry: `up` snapshots the
/// cluster through the kube client, sees the image and quick-scans it into the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_quick_scans_images_its_cluster_runs() {
    use palisade_testkit::tools::{Registry, require};
    let (Some(registry_bin), Some(umoci), Some(skopeo)) = (
        require("docker-registry", "docker-registry"),
        require("umoci", "umoci"),
        require("skopeo", "skopeo"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let registry = Registry::start(&registry_bin, work.path()).unwrap();
    let layout = work.path().join("layout");
    crate::vuln::build_image(&umoci, &layout, work.path(), "app", "2.10");
    let image = format!("{}/shop/web:1.0", registry.host());
    crate::vuln::tool(
        &skopeo,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:app", layout.display()),
            &format!("docker://{image}"),
        ],
    );
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).unwrap();
    std::fs::write(advisories.join("A.json"), osv("PALISADE-TEST-A")).unwrap();
    run_ok(&data, &[], &["db", "import", advisories.to_str().unwrap()]);
    let admin = token(&data, &[], "admin");

    let objects = vec![
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}}}),
    ];
    let api = palisade_testkit::fake_api::FakeApi::start(objects, &[])
        .await
        .unwrap();
    let kubeconfig = api.kubeconfig(work.path()).unwrap();
    let registry_host = registry.host();
    let (child, mut stderr) = spawn_server(
        &data,
        [
            "up",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--no-host-scan",
            "--db-update-interval",
            "0",
            "--insecure-registry",
            &registry_host,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
        &[],
    );
    let port = crate::announced_port(&mut stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let images = loop {
        let (status, body) = tokio::task::spawn_blocking({
            let admin = admin.clone();
            move || http(port, "GET", "/api/v1/images", Some(&admin), "")
        })
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        if body.contains(&image) || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let images: serde_json::Value = serde_json::from_str(&images).unwrap();
    let record = images["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == image.as_str())
        .unwrap_or_else(|| panic!("{image} was not scanned: {images}"));
    assert!(
        record["digest"].as_str().unwrap().starts_with("sha256:"),
        "{record}"
    );
    assert!(
        !record["vulnerabilities"].as_object().unwrap().is_empty(),
        "{record}"
    );
    drop(child);
}

/// `--retention`: an alert resolved long ago is deleted by the retention task; an active
/// one stays.
#[test]
fn up_deletes_resolved_alerts_older_than_the_retention() {
    let data = tempfile::tempdir().unwrap();
    let admin = crate::token(data.path(), &[], "admin");
    let sensor = crate::token(data.path(), &[], "sensor");
    let (child, mut stderr) = spawn_server(
        data.path(),
        [
            "up",
            "--no-scan",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--retention",
            "2s",
        ],
        &[],
    );
    let port = crate::announced_port(&mut stderr);
    // Two canary requests by two users a day ago: two alerts.
    let items: Vec<serde_json::Value> = ["resolved-user", "active-user"]
        .iter()
        .enumerate()
        .map(|(i, user)| {
            serde_json::json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("00000000-0000-0000-0000-00000000000{i}"),
                "stage": "ResponseComplete",
                "requestURI": "/api/v1/namespaces/palisade-canary/pods", "verb": "list",
                "user": {"username": user}, "sourceIPs": ["10.0.0.7"],
                "objectRef": {"resource": "pods", "namespace": "palisade-canary", "apiVersion": "v1"},
                "responseStatus": {"code": 200},
                "stageTimestamp": "2026-01-01T10:00:00.000000Z"
            })
        })
        .collect();
    let batch =
        serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
            .to_string();
    let (status, body) = http(port, "POST", "/api/v1/audit/webhook", Some(&sensor), &batch);
    assert_eq!(status, 200, "{body}");
    let (_, alerts) = http(port, "GET", "/api/v1/alerts", Some(&admin), "");
    let alerts: serde_json::Value = serde_json::from_str(&alerts).unwrap();
    let id_of = |user: &str| {
        alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["user"] == user)
            .and_then(|a| a["id"].as_i64())
            .unwrap_or_else(|| panic!("no alert for {user}: {alerts}"))
    };
    let (resolved, active) = (id_of("resolved-user"), id_of("active-user"));
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/alerts/{resolved}/resolve"),
        Some(&admin),
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    let mut gone = false;
    for _ in 0..60 {
        if http(
            port,
            "GET",
            &format!("/api/v1/alerts/{resolved}"),
            Some(&admin),
            "",
        )
        .0 == 404
        {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(gone, "the resolved alert is deleted by the retention task");
    let (status, _) = http(
        port,
        "GET",
        &format!("/api/v1/alerts/{active}"),
        Some(&admin),
        "",
    );
    assert_eq!(status, 200, "an active alert is kept however old");
    drop(child);
}
