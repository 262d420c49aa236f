//! The registry source against a real registry (Debian's `docker-registry`, the CNCF
//! distribution server) started on a loopback port, and the bearer-token flow against an
//! in-process token server.
//!
//! Packages the real-registry tests need: `docker-registry` and, for the basic-auth
//! variant, `apache2-utils` (`htpasswd`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use palisade_vuln::catalog;
use palisade_vuln::image::{BlobCache, Digest, ImageOptions, Platform, open_image};
use palisade_vuln::registry::{
    CaCertificate, Credentials, Reference, RegistryClient, RegistryError, RegistryOptions,
    RegistrySource, credentials_from_docker_config, open_registry_image,
};

use crate::http_server::{Resp, Server};
use crate::imagekit::{Comp, Layer, corpus_file, file, layer, put_image, sha};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// The registry binary, or `None` (failing under CI) when it is not installed.
fn registry_binary() -> Option<PathBuf> {
    if let Some(p) = which("docker-registry") {
        return Some(p);
    }
    let msg = "docker-registry not installed: apt-get install docker-registry";
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("SKIPPED: {msg}");
    None
}

/// A registry process; killed (by its pid) and reaped when dropped.
struct RegistryProcess {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RegistryProcess {
    fn start(bin: &Path, htpasswd: Option<&str>) -> RegistryProcess {
        RegistryProcess::start_with(bin, htpasswd, None)
    }

    /// `tls`: the server's certificate chain and key, in PEM.
    fn start_with(
        bin: &Path,
        htpasswd: Option<&str>,
        tls: Option<(&str, &str)>,
    ) -> RegistryProcess {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = tls {
            let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.display(),
                k.display()
            ));
        }
        if let Some(line) = htpasswd {
            let p = dir.path().join("htpasswd");
            std::fs::write(&p, line).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: palisade-test\n    path: {}\n",
                p.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut p = RegistryProcess {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                let log = std::fs::read_to_string(p._dir.path().join("registry.log"));
                panic!("docker-registry exited with {status}: {log:?}");
            }
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn insecure(credentials: Credentials) -> RegistryOptions {
    RegistryOptions {
        credentials,
        insecure: true,
        ..RegistryOptions::default()
    }
}

/// A two-platform image: an Alpine package database on amd64, a marker file on arm64.
struct TestImage {
    dir: tempfile::TempDir,
    amd64: Value,
    arm64: Value,
    arm64_layers: Vec<String>,
}

fn test_image() -> Option<TestImage> {
    let installed =
        corpus_file("syft/syft/pkg/cataloger/alpine/testdata/multiple-2/lib/apk/db/installed")?;
    let os_release = corpus_file("claircore/alpine/testdata/3.18/etc/os-release")?;
    let dir = tempfile::tempdir().unwrap();
    let base = layer(&[file("etc/os-release", os_release)], Comp::Gzip);
    let amd = layer(&[file("lib/apk/db/installed", installed)], Comp::Gzip);
    let arm = layer(&[file("etc/arch", "arm64\n")], Comp::Gzip);
    let blob_digests = |ls: &[&Layer]| ls.iter().map(|l| sha(&l.blob)).collect::<Vec<_>>();
    let arm64_layers = blob_digests(&[&base, &arm]);
    let mut amd64 = put_image(dir.path(), "amd64", &[base.clone(), amd]);
    amd64["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut arm64 = put_image(dir.path(), "arm64", &[base, arm]);
    arm64["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    Some(TestImage {
        dir,
        amd64,
        arm64,
        arm64_layers,
    })
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// Pushes both platform images and an index tagged `tag`; returns the index digest.
fn push(client: &RegistryClient, repo: &str, tag: &str, img: &TestImage) -> Digest {
    for m in [&img.amd64, &img.arm64] {
        let digest = m["digest"].as_str().unwrap();
        let bytes = blob(img.dir.path(), digest);
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
        for l in manifest["layers"].as_array().unwrap() {
            blobs.push(l["digest"].as_str().unwrap().to_owned());
        }
        for b in blobs {
            let pushed = client.push_blob(repo, &blob(img.dir.path(), &b)).unwrap();
            assert_eq!(pushed.as_str(), b);
        }
        let d = client
            .push_manifest(repo, digest, OCI_MANIFEST, &bytes)
            .unwrap();
        assert_eq!(d.as_str(), digest);
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [img.amd64, img.arm64]});
    let bytes = serde_json::to_vec(&index).unwrap();
    client.push_manifest(repo, tag, OCI_INDEX, &bytes).unwrap()
}

#[test]
fn pull_and_catalog_from_a_real_registry() {
    let Some(bin) = registry_binary() else { return };
    let Some(img) = test_image() else { return };
    let reg = RegistryProcess::start(&bin, None);
    let client = RegistryClient::new(&reg.host(), insecure(Credentials::Anonymous)).unwrap();
    client.ping().unwrap();
    let index_digest = push(&client, "team/app", "v1", &img);
    push(&client, "team/app", "v2", &img);
    push(&client, "alpha/one", "latest", &img);
    push(&client, "beta/two", "1.0", &img);

    // Pull the arm64 image through the index, layers into a blob cache.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(cache_dir.path());
    let options = ImageOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..ImageOptions::default()
    };
    let fs = open_registry_image(
        &format!("{}/team/app:v1", reg.host()),
        insecure(Credentials::Anonymous),
        Some(cache.clone()),
        &options,
    )
    .unwrap();
    assert_eq!(fs.read_file("etc/arch").unwrap(), b"arm64\n");
    assert!(fs.node("lib/apk/db/installed").is_none());
    let resolved = fs.image().unwrap();
    assert_eq!(
        resolved.manifest_digest.as_ref().unwrap().as_str(),
        img.arm64["digest"].as_str().unwrap()
    );
    assert_eq!(resolved.config.architecture, "arm64");
    for l in &img.arm64_layers {
        assert!(cache.contains(&Digest::parse(l).unwrap()), "{l} cached");
    }

    // The default platform, by index digest, with no cache: the Alpine packages are there.
    let fs = open_registry_image(
        &format!("{}/team/app@{index_digest}", reg.host()),
        insecure(Credentials::Anonymous),
        None,
        &ImageOptions::default(),
    )
    .unwrap();
    let sbom = catalog::catalog(&fs).unwrap();
    assert_eq!(sbom.distro.as_ref().unwrap().id, "alpine");
    assert!(
        sbom.packages.iter().any(|p| p.name == "musl"),
        "{:?}",
        sbom.packages.iter().map(|p| &p.name).collect::<Vec<_>>()
    );

    // A digest reference the registry's content does not match is refused.
    let wrong = sha(b"something else");
    let err = open_registry_image(
        &format!("{}/team/app@{wrong}", reg.host()),
        insecure(Credentials::Anonymous),
        None,
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("404") || err.to_string().contains("digest"),
        "{err}"
    );

    // An unknown tag is a 404 naming the URL.
    let source = RegistrySource::new(
        Reference::parse(&format!("{}/team/app:nope", reg.host())).unwrap(),
        insecure(Credentials::Anonymous),
        None,
    )
    .unwrap();
    let err = open_image(Box::new(source), &ImageOptions::default()).unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");

    // Catalog walk with one entry per page: the Link header is followed.
    assert_eq!(
        client.catalog_paged(1).unwrap(),
        ["alpha/one", "beta/two", "team/app"]
    );
    assert_eq!(client.catalog().unwrap().len(), 3);
    assert_eq!(client.tags_paged("team/app", 1).unwrap(), ["v1", "v2"]);
    assert_eq!(client.tags("beta/two").unwrap(), ["1.0"]);
}

#[test]
fn basic_auth_registry() {
    let Some(bin) = registry_binary() else { return };
    let Some(img) = test_image() else { return };
    let Some(htpasswd) = which("htpasswd") else {
        let msg =
            "htpasswd not installed (apt-get install apache2-utils): basic-auth registry variant";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    };
    let out = Command::new(htpasswd)
        .args(["-Bbn", "scanner", "s3cret"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let reg = RegistryProcess::start(&bin, Some(&String::from_utf8(out.stdout).unwrap()));
    let creds = Credentials::Basic {
        username: "scanner".into(),
        password: "s3cret".into(),
    };

    let anon = RegistryClient::new(&reg.host(), insecure(Credentials::Anonymous)).unwrap();
    let err = anon.ping().unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let wrong = RegistryClient::new(
        &reg.host(),
        insecure(Credentials::Basic {
            username: "scanner".into(),
            password: "wrong".into(),
        }),
    )
    .unwrap();
    assert!(matches!(
        wrong.ping().unwrap_err(),
        RegistryError::Unauthorized { .. }
    ));

    let client = RegistryClient::new(&reg.host(), insecure(creds)).unwrap();
    client.ping().unwrap();
    push(&client, "private/app", "v1", &img);

    // Credentials from a docker config.json.
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode("scanner:s3cret");
    std::fs::write(
        &cfg,
        json!({"auths": {reg.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let from_config = credentials_from_docker_config(&cfg, &reg.host())
        .unwrap()
        .unwrap();
    let fs = open_registry_image(
        &format!("{}/private/app:v1", reg.host()),
        insecure(from_config),
        None,
        &ImageOptions::default(),
    )
    .unwrap();
    assert!(fs.node("lib/apk/db/installed").is_some());
    let c = RegistryClient::new(&reg.host(), insecure(Credentials::Anonymous)).unwrap();
    assert!(c.catalog().is_err());
    assert_eq!(client.catalog().unwrap(), ["private/app"]);
}

/// A registry that wants bearer tokens from its own token endpoint, serving one image.
#[test]
fn bearer_token_flow() {
    let Some(img) = test_image() else { return };
    let mut blobs: HashMap<String, Vec<u8>> = HashMap::new();
    for e in std::fs::read_dir(img.dir.path().join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        blobs.insert(
            format!("sha256:{}", p.file_name().unwrap().to_string_lossy()),
            std::fs::read(&p).unwrap(),
        );
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [img.amd64, img.arm64]}))
    .unwrap();
    let token_requests = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = token_requests.clone();
    let port = Arc::new(Mutex::new(0u16));
    let port2 = port.clone();
    let server = Server::start(move |req| {
        let realm = format!("http://127.0.0.1:{}/token", port2.lock().unwrap());
        if req.target.starts_with("/token") {
            seen.lock().unwrap().push(req.target.clone());
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("robot:pw")
            );
            if req.header("authorization") != Some(want.as_str()) {
                return Resp::new(401, "bad credentials");
            }
            return Resp::new(200, r#"{"token":"tok-123","expires_in":300}"#);
        }
        if req.header("authorization") != Some("Bearer tok-123") {
            let scope = if req.target.starts_with("/v2/_catalog") {
                "registry:catalog:*".to_owned()
            } else {
                "repository:team/app:pull".to_owned()
            };
            return Resp::new(401, "").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake",scope="{scope}""#),
            );
        }
        let path = req.target.split('?').next().unwrap_or("");
        if path == "/v2/_catalog" {
            return if req.target.contains("last=") {
                Resp::new(200, r#"{"repositories":["team/app"]}"#)
            } else {
                Resp::new(200, r#"{"repositories":["other/x"]}"#)
                    .header("Link", r#"</v2/_catalog?last=other%2Fx&n=1>; rel="next""#)
            };
        }
        if path == "/v2/team/app/manifests/v1" {
            return Resp::new(200, index.clone()).header("Content-Type", OCI_INDEX);
        }
        if let Some(d) = path
            .strip_prefix("/v2/team/app/manifests/")
            .or_else(|| path.strip_prefix("/v2/team/app/blobs/"))
            && let Some(b) = blobs.get(d)
        {
            return Resp::new(200, b.clone()).header("Docker-Content-Digest", d);
        }
        Resp::new(404, "")
    });
    *port.lock().unwrap() = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let host = server.url().trim_start_matches("http://").to_owned();
    let creds = Credentials::Basic {
        username: "robot".into(),
        password: "pw".into(),
    };
    let fs = open_registry_image(
        &format!("{host}/team/app:v1"),
        insecure(creds.clone()),
        None,
        &ImageOptions::default(),
    )
    .unwrap();
    assert!(fs.node("lib/apk/db/installed").is_some());
    // One token for the repository scope, reused for every manifest and blob.
    let tokens = token_requests.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        tokens[0].contains("service=fake")
            && tokens[0].contains("scope=repository%3Ateam%2Fapp%3Apull"),
        "{tokens:?}"
    );

    let client = RegistryClient::new(&host, insecure(creds)).unwrap();
    assert_eq!(client.catalog_paged(1).unwrap(), ["other/x", "team/app"]);

    let bad = RegistryClient::new(
        &host,
        insecure(Credentials::Basic {
            username: "robot".into(),
            password: "nope".into(),
        }),
    )
    .unwrap();
    let err = bad.catalog().unwrap_err();
    assert!(err.to_string().contains("token endpoint"), "{err}");
}

/// A CA made for the test and a server certificate for `127.0.0.1` and `localhost` signed
/// by it: (CA certificate PEM, server certificate PEM, server key PEM).
fn private_ca() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "palisade test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "registry under test");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// A registry serving TLS with a certificate from a private CA, behind htpasswd basic auth.
#[test]
fn tls_registry_with_a_private_ca() {
    let Some(bin) = registry_binary() else { return };
    let Some(img) = test_image() else { return };
    let Some(htpasswd) = which("htpasswd") else {
        let msg = "htpasswd not installed (apt-get install apache2-utils): TLS registry test";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    };
    let out = Command::new(htpasswd)
        .args(["-Bbn", "scanner", "s3cret"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ca_pem, cert_pem, key_pem) = private_ca();
    let reg = RegistryProcess::start_with(
        &bin,
        Some(&String::from_utf8(out.stdout).unwrap()),
        Some((&cert_pem, &key_pem)),
    );
    let creds = Credentials::Basic {
        username: "scanner".into(),
        password: "s3cret".into(),
    };
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.crt");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let with_ca = |credentials: Credentials, ca: CaCertificate| RegistryOptions {
        credentials,
        ca_certificates: vec![ca],
        ..RegistryOptions::default()
    };

    // With the CA (as a file): push, then pull and catalog over HTTPS.
    let client = RegistryClient::new(
        &reg.host(),
        with_ca(creds.clone(), CaCertificate::PemFile(ca_file.clone())),
    )
    .unwrap();
    assert_eq!(client.base_url(), format!("https://{}", reg.host()));
    client.ping().unwrap();
    push(&client, "private/app", "v1", &img);
    let fs = open_registry_image(
        &format!("{}/private/app:v1", reg.host()),
        with_ca(
            creds.clone(),
            CaCertificate::Pem(ca_pem.clone().into_bytes()),
        ),
        None,
        &ImageOptions::default(),
    )
    .unwrap();
    let sbom = catalog::catalog(&fs).unwrap();
    assert!(sbom.packages.iter().any(|p| p.name == "musl"));
    assert_eq!(client.catalog().unwrap(), ["private/app"]);

    // Without the CA: a certificate error naming the URL, for the client and for a pull.
    let plain = RegistryOptions {
        credentials: creds.clone(),
        ..RegistryOptions::default()
    };
    let err = RegistryClient::new(&reg.host(), plain.clone())
        .unwrap()
        .ping()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Certificate { .. }), "{msg}");
    assert!(
        msg.contains("TLS certificate not trusted")
            && msg.contains("UnknownIssuer")
            && msg.contains(&format!("https://{}/v2/", reg.host())),
        "{msg}"
    );
    let err = open_registry_image(
        &format!("{}/private/app:v1", reg.host()),
        plain,
        None,
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("TLS certificate not trusted"),
        "{err}"
    );

    // A CA that did not sign the server's certificate does not help either.
    let (other_ca, _, _) = private_ca();
    let err = RegistryClient::new(
        &reg.host(),
        with_ca(creds.clone(), CaCertificate::Pem(other_ca.into_bytes())),
    )
    .unwrap()
    .ping()
    .unwrap_err();
    assert!(matches!(err, RegistryError::Certificate { .. }), "{err}");

    // The right CA and a wrong password: a 401 naming the user.
    let wrong = RegistryClient::new(
        &reg.host(),
        with_ca(
            Credentials::Basic {
                username: "scanner".into(),
                password: "wrong".into(),
            },
            CaCertificate::PemFile(ca_file.clone()),
        ),
    )
    .unwrap();
    let err = wrong.ping().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains("HTTP 401") && msg.contains("credentials refused for user \"scanner\""),
        "{msg}"
    );
    let err = open_registry_image(
        &format!("{}/private/app:v1", reg.host()),
        with_ca(
            Credentials::Basic {
                username: "scanner".into(),
                password: "wrong".into(),
            },
            CaCertificate::PemFile(ca_file),
        ),
        None,
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
}

/// CA inputs that cannot be used fail when the client is made, naming the input.
#[test]
fn unusable_ca_certificates_are_refused() {
    let missing = std::path::PathBuf::from("/nonexistent/palisade/ca.crt");
    let make = |ca: CaCertificate| {
        RegistryClient::new(
            "registry.example:5000",
            RegistryOptions {
                ca_certificates: vec![ca],
                ..RegistryOptions::default()
            },
        )
        .unwrap_err()
    };
    let err = make(CaCertificate::PemFile(missing));
    assert!(matches!(err, RegistryError::CaCertificate { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/palisade/ca.crt"),
        "{err}"
    );
    let err = make(CaCertificate::Pem(b"not a certificate".to_vec()));
    assert!(
        err.to_string().contains("PEM bytes #1") && err.to_string().contains("no CERTIFICATE"),
        "{err}"
    );
    let (_, _, key_only) = private_ca();
    let err = make(CaCertificate::Pem(key_only.into_bytes()));
    assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
}
