//! Stored reports end to end: images built with `umoci`, pushed with `skopeo` into a real
//! `docker-registry`, scanned by `registry scan` (only new digests), re-matched by
//! `vuln rescan` after the database changes, and signed reports checked by `verify`.

use std::path::Path;
use std::process::{Command, Output};

use palisade_testkit::tools::{Registry, require};

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_DATA_DIR", data)
        .env_remove("PALISADE_LOG")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn tool(bin: &Path, args: &[&str]) {
    let out = Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OCI layout image `tag` whose root filesystem holds Jinja2 at `version`.
pub(crate) fn build_image(umoci: &Path, layout: &Path, work: &Path, tag: &str, version: &str) {
    let image = format!("{}:{tag}", layout.display());
    if !layout.exists() {
        tool(umoci, &["init", "--layout", layout.to_str().unwrap()]);
    }
    tool(umoci, &["new", "--image", &image]);
    let bundle = work.join(format!("bundle-{tag}"));
    tool(
        umoci,
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
    let meta = bundle.join(format!(
        "rootfs/usr/lib/python3/dist-packages/Jinja2-{version}.dist-info"
    ));
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: Jinja2\nVersion: {version}\n"),
    )
    .unwrap();
    tool(
        umoci,
        &["repack", "--image", &image, bundle.to_str().unwrap()],
    );
}

#[test]
fn registry_scan_stores_new_digests_and_rescan_reports_changes() {
    let Some(pypa) = palisade_testkit::corpus("vuln/osv/pypa-advisory-database") else {
        return;
    };
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
    build_image(&umoci, &layout, work.path(), "old", "2.10");
    build_image(&umoci, &layout, work.path(), "new", "3.1.4");
    for (tag, dest) in [
        ("old", "team/app:1"),
        ("new", "team/app:2"),
        ("old", "base:latest"),
    ] {
        tool(
            &skopeo,
            &[
                "copy",
                "--dest-tls-verify=false",
                &format!("oci:{}:{tag}", layout.display()),
                &format!("docker://{}/{dest}", registry.host()),
            ],
        );
    }

    // Only a KEV-less PyPA database first: the old Jinja2 is vulnerable, the new one is not.
    ok(&run(&data, &["db", "import", pypa.to_str().unwrap()]));
    let host = registry.host();
    let scan = ok(&run(
        &data,
        &[
            "registry",
            "scan",
            &host,
            "--insecure-registry",
            "--jobs",
            "2",
            "--format",
            "json",
        ],
    ));
    assert_eq!(scan["repositories"], 2, "{scan}");
    assert_eq!(scan["tags"], 3, "{scan}");
    // base:latest and team/app:1 are the same digest: whichever comes second may be scanned
    // concurrently, so at least two and at most three scans, and nothing failed.
    assert_eq!(scan["failed"], 0, "{scan}");
    let images = scan["images"].as_array().unwrap();
    let old = images
        .iter()
        .find(|i| i["reference"] == format!("{host}/team/app:1"))
        .unwrap();
    assert!(old["vulnerabilities"].as_u64().unwrap() > 0, "{old}");
    let new = images
        .iter()
        .find(|i| i["reference"] == format!("{host}/team/app:2"))
        .unwrap();
    assert_eq!(new["status"], "scanned");
    assert_ne!(old["digest"], new["digest"]);

    // Again: every digest is known, nothing is pulled or scanned.
    let again = ok(&run(
        &data,
        &[
            "registry",
            "scan",
            &host,
            "--insecure-registry",
            "--format",
            "json",
        ],
    ));
    assert_eq!(again["scanned"], 0, "{again}");
    assert_eq!(again["unchanged"], 3, "{again}");

    // Rescan without database changes: nothing new, nothing fixed.
    let rescan = ok(&run(&data, &["vuln", "rescan", "--format", "json"]));
    assert_eq!(rescan["images"], 2, "{rescan}");
    assert_eq!(rescan["changed"].as_array().unwrap().len(), 0, "{rescan}");

    // A new advisory affecting every Jinja2 before 9: both images have something new, and
    // --fail-on-new turns that into exit 1.
    let extra = work.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(
        extra.join("PALISADE-TEST-0001.json"),
        crate::osv("PALISADE-TEST-0001"),
    )
    .unwrap();
    ok(&run(
        &data,
        &[
            "db",
            "import",
            pypa.to_str().unwrap(),
            extra.to_str().unwrap(),
        ],
    ));
    let out = run(
        &data,
        &["vuln", "rescan", "--format", "json", "--fail-on-new"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rescan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rescan["images_with_new"], 2, "{rescan}");
    for line in rescan["changed"].as_array().unwrap() {
        assert_eq!(
            line["new"],
            serde_json::json!(["PALISADE-TEST-0001"]),
            "{line}"
        );
    }
    // The stored reports were updated: a second rescan has nothing new.
    let rescan = ok(&run(&data, &["vuln", "rescan", "--format", "json"]));
    assert_eq!(rescan["images_with_new"], 0, "{rescan}");
}

#[test]
fn signed_reports_verify_and_tampering_is_caught() {
    let Some(pypa) = palisade_testkit::corpus("vuln/osv/pypa-advisory-database") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let root = crate::jinja_rootfs(work.path());
    ok(&run(&data, &["db", "import", pypa.to_str().unwrap()]));
    let prefix = work.path().join("signer");
    ok(&run(&data, &["key", "generate", prefix.to_str().unwrap()]));
    let key = work.path().join("signer.key");
    let public = work.path().join("signer.pub");
    // never overwrites a key
    let again = run(&data, &["key", "generate", prefix.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));

    let envelope = work.path().join("report.dsse.json");
    let out = run(
        &data,
        &[
            "image",
            "scan",
            "--rootfs",
            root.to_str().unwrap(),
            "--format",
            "json",
            "--sign",
            key.to_str().unwrap(),
            "--attestation",
            envelope.to_str().unwrap(),
        ],
    );
    let report = ok(&out);
    assert!(!report["vulnerabilities"].as_array().unwrap().is_empty());

    let verified = ok(&run(
        &data,
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            envelope.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(
        verified["vulnerabilities"].as_u64().unwrap() as usize,
        report["vulnerabilities"].as_array().unwrap().len()
    );
    assert_eq!(
        verified["predicate_type"].as_str().map(|s| s.is_empty()),
        Some(false)
    );

    // Tamper with the payload: verification fails with exit 1.
    let mut env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&envelope).unwrap()).unwrap();
    let payload = env["payload"].as_str().unwrap().to_owned();
    let mut bytes = payload.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    env["payload"] = serde_json::Value::String(String::from_utf8(bytes).unwrap());
    let tampered = work.path().join("tampered.json");
    std::fs::write(&tampered, env.to_string()).unwrap();
    let out = run(
        &data,
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            tampered.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT verified"));

    // Another key: not verified either.
    let other = work.path().join("other");
    ok(&run(&data, &["key", "generate", other.to_str().unwrap()]));
    let out = run(
        &data,
        &[
            "verify",
            "--key",
            work.path().join("other.pub").to_str().unwrap(),
            envelope.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));

    // The scan was stored for rescans.
    let rescan = ok(&run(&data, &["vuln", "rescan", "--format", "json"]));
    assert_eq!(rescan["images"], 1, "{rescan}");
}

/// A realistic image: Debian bookworm from `debootstrap` (minbase plus Debian's
/// python3-requests 2.28.1 and python3-urllib3 1.26.12), an npm package at a known old version added to it, packed with
/// `umoci`, pushed with `skopeo` into a real `docker-registry`, and scanned by reference.
#[test]
fn debootstrapped_debian_image_from_a_registry() {
    let (Some(pypa), Some(nodejs)) = (
        palisade_testkit::corpus("vuln/osv/pypa-advisory-database"),
        palisade_testkit::corpus("vuln/osv/nodejs-security-wg"),
    ) else {
        return;
    };
    let (Some(debootstrap), Some(registry_bin), Some(umoci), Some(skopeo)) = (
        require("debootstrap", "debootstrap"),
        require("docker-registry", "docker-registry"),
        require("umoci", "umoci"),
        require("skopeo", "skopeo"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let rootfs = work.path().join("rootfs");
    // debootstrap needs root; CI runs as root.
    let out = Command::new(&debootstrap)
        .args([
            "--variant=minbase",
            "--include=python3-requests",
            "bookworm",
        ])
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "debootstrap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let qs = rootfs.join("usr/lib/node_modules/qs");
    std::fs::create_dir_all(&qs).unwrap();
    std::fs::write(
        qs.join("package.json"),
        r#"{"name": "qs", "version": "0.6.6", "license": "BSD-3-Clause"}"#,
    )
    .unwrap();

    let layout = work.path().join("layout");
    let image = format!("{}:bookworm", layout.display());
    tool(&umoci, &["init", "--layout", layout.to_str().unwrap()]);
    tool(&umoci, &["new", "--image", &image]);
    let bundle = work.path().join("bundle");
    tool(
        &umoci,
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
    let out = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.display()))
        .arg(bundle.join("rootfs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tool(
        &umoci,
        &["repack", "--image", &image, bundle.to_str().unwrap()],
    );
    let registry = Registry::start(&registry_bin, work.path()).unwrap();
    let reference = format!("{}/debian/app:bookworm", registry.host());
    tool(
        &skopeo,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{image}"),
            &format!("docker://{reference}"),
        ],
    );

    let data = work.path().join("data");
    ok(&run(
        &data,
        &[
            "db",
            "import",
            pypa.to_str().unwrap(),
            nodejs.to_str().unwrap(),
        ],
    ));
    let report = ok(&run(
        &data,
        &[
            "image",
            "scan",
            &reference,
            "--insecure-registry",
            "--format",
            "json",
        ],
    ));
    assert!(
        report["artifact"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{}",
        report["artifact"]
    );
    assert_eq!(report["artifact"]["distro"], "debian 12");
    let packages = report["packages"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        packages
            .iter()
            .find(|p| p["type"] == kind && p["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} package {name} among {}", packages.len()))
    };
    // the Debian packages themselves, from the dpkg database
    for name in ["dpkg", "libc6", "base-files", "python3-requests"] {
        find("deb", name);
    }
    assert!(
        packages.iter().filter(|p| p["type"] == "deb").count() > 80,
        "a minbase system has ~100 packages"
    );
    // requests and urllib3 as Python sees them, at Debian's versions, with their advisories
    assert_eq!(find("pypi", "requests")["version"], "2.28.1");
    assert_eq!(find("pypi", "urllib3")["version"], "1.26.12");
    let vulns = report["vulnerabilities"].as_array().unwrap();
    let ids_of = |name: &str| -> Vec<String> {
        vulns
            .iter()
            .filter(|v| v["package"]["name"] == name)
            .flat_map(|v| {
                let mut ids = vec![v["id"].as_str().unwrap().to_owned()];
                ids.extend(
                    v["aliases"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned)),
                );
                ids
            })
            .collect()
    };
    let requests = ids_of("requests");
    assert!(
        requests
            .iter()
            .any(|id| id == "PYSEC-2023-74" || id == "CVE-2023-32681"),
        "{requests:?}"
    );
    assert!(!ids_of("urllib3").is_empty(), "urllib3 1.26.12 < 1.26.17");
    // the npm package and its Node.js security WG advisory
    assert_eq!(find("npm", "qs")["version"], "0.6.6");
    assert!(!ids_of("qs").is_empty(), "qs 0.6.6 is vulnerable (< 1.0.0)");
}
