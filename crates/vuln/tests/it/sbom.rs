//! SBOM documents: written CycloneDX 1.6 validates against the official schema, written
//! SPDX 2.3 against the official SPDX 2.3 schema and a stricter subset schema written from the
//! specification (see `tests/schemas/README.md`), both read back to the same packages, and
//! documents produced by syft are read.

use palisade_vuln::catalog::{self, Distro, Package, PackageType, Sbom};
use palisade_vuln::sbom::{self, Format, WriteOptions};

fn schema(name: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn cyclonedx_validator() -> jsonschema::Validator {
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            schema("spdx.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            schema("jsf-0.82.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .offline()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&schema("bom-1.6.SNAPSHOT.schema.json"))
        .unwrap()
}

fn sample() -> Sbom {
    let mut pkgs = Vec::new();
    let mut deb = Package::new(PackageType::Deb, "libc6", "2.36-9+deb12u3");
    deb.metadata.source_name = Some("glibc".into());
    deb.metadata.arch = Some("amd64".into());
    deb.metadata.license = Some("LGPL-2.1-or-later".into());
    deb.locations = vec!["var/lib/dpkg/status".into()];
    deb.layer_digest = Some(format!("sha256:{}", "a".repeat(64)));
    pkgs.push(deb);
    let mut rpm = Package::new(PackageType::Rpm, "openssl", "1:3.0.7-24.el9");
    rpm.metadata.epoch = Some(1);
    rpm.metadata
        .extra
        .insert("sourceRpm".into(), "openssl-3.0.7-24.el9.src.rpm".into());
    rpm.metadata.license = Some("ASL 2.0 and weird (text)".into());
    pkgs.push(rpm);
    let mut npm = Package::new(PackageType::Npm, "@babel/core", "7.23.0");
    npm.locations = vec![
        "app/node_modules/@babel/core/package.json".into(),
        "app/package-lock.json".into(),
    ];
    pkgs.push(npm);
    pkgs.push(Package::new(
        PackageType::Maven,
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
    ));
    pkgs.push(Package::new(
        PackageType::Golang,
        "golang.org/x/net",
        "v0.17.0",
    ));
    pkgs.push(Package::new(PackageType::Golang, "stdlib", "v1.21.3"));
    pkgs.push(Package::new(PackageType::Pypi, "Jinja2", "3.1.2"));
    let mut sbom = Sbom {
        artifact: catalog::Artifact {
            name: "registry.example/app:1".into(),
            digest: Some(format!("sha256:{}", "b".repeat(64))),
            image_id: Some(format!("sha256:{}", "c".repeat(64))),
            layers: vec![format!("sha256:{}", "a".repeat(64))],
        },
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..Distro::default()
        }),
        packages: pkgs,
        warnings: Vec::new(),
    };
    catalog::finish(&mut sbom);
    sbom
}

fn key(s: &Sbom) -> Vec<(PackageType, String, String, String, Vec<String>)> {
    s.packages
        .iter()
        .map(|p| {
            (
                p.kind,
                p.name.clone(),
                p.version.clone(),
                p.purl.clone(),
                p.locations.clone(),
            )
        })
        .collect()
}

#[test]
fn cyclonedx_validates_and_round_trips() {
    let sbom = sample();
    let text = sbom::write(&sbom, Format::CycloneDx, &WriteOptions::default());
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = cyclonedx_validator();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    // The validator does reject a broken document.
    let mut broken = doc.clone();
    broken["components"][1]["type"] = serde_json::json!("not-a-type");
    assert!(!errors(&v, &broken).is_empty());

    let back = sbom::read(text.as_bytes()).unwrap();
    assert_eq!(key(&back), key(&sbom));
    assert_eq!(
        back.distro.as_ref().unwrap().version_id.as_deref(),
        Some("12")
    );
    assert_eq!(back.artifact.digest, sbom.artifact.digest);
    let deb = back.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(deb.metadata.source_name.as_deref(), Some("glibc"));
    assert_eq!(
        deb.layer_digest,
        sbom.packages
            .iter()
            .find(|p| p.name == "libc6")
            .unwrap()
            .layer_digest
    );
    let rpm = back.packages.iter().find(|p| p.name == "openssl").unwrap();
    assert_eq!(rpm.version, "1:3.0.7-24.el9");
    assert_eq!(rpm.metadata.source_name.as_deref(), Some("openssl"));
}

#[test]
fn spdx_validates_and_round_trips() {
    let sbom = sample();
    let text = sbom::write(&sbom, Format::Spdx, &WriteOptions::default());
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let official = jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema("spdx-2.3.schema.json"))
        .unwrap();
    assert_eq!(errors(&official, &doc), Vec::<String>::new());
    // The official schema catches a broken document too (a required property missing).
    let mut incomplete = doc.clone();
    incomplete["creationInfo"]
        .as_object_mut()
        .unwrap()
        .remove("created");
    assert!(!errors(&official, &incomplete).is_empty());
    let v = jsonschema::options()
        .offline()
        .build(&schema("spdx-2.3-subset.schema.json"))
        .unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let mut broken = doc.clone();
    broken["packages"][2]["externalRefs"][0]["referenceCategory"] =
        serde_json::json!("PACKAGE_MANAGER");
    assert!(!errors(&v, &broken).is_empty());
    // Licences that are not SPDX expressions are not claimed as such.
    let rpm = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openssl")
        .unwrap();
    assert_eq!(rpm["licenseDeclared"], "NOASSERTION");

    let back = sbom::read(text.as_bytes()).unwrap();
    assert_eq!(key(&back), key(&sbom));
    assert_eq!(back.distro.as_ref().unwrap().id, "debian");
    assert_eq!(back.artifact.name, sbom.artifact.name);
}

#[test]
fn reads_documents_written_by_syft() {
    let Some(data) = crate::imagekit::corpus_file(
        "syft/syft/format/spdxjson/testdata/spdx/alpine-3.10.syft.spdx.json",
    ) else {
        return;
    };
    let s = sbom::read(&data).unwrap();
    assert_eq!(
        s.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        [
            ("busybox", "1.30.1-r5"),
            ("libssl1.1", "1.1.1k-r0"),
            ("ssl_client", "1.30.1-r5")
        ]
    );
    let d = s.distro.as_ref().unwrap();
    assert_eq!(
        (d.id.as_str(), d.version_id.as_deref()),
        ("alpine", Some("3.10.9"))
    );
    assert_eq!(
        s.packages[1].locations,
        vec!["lib/apk/db/installed".to_owned()]
    );
    assert!(s.packages.iter().all(|p| p.kind == PackageType::Apk));

    let Some(data) = crate::imagekit::corpus_file(
        "syft/syft/format/cyclonedxjson/testdata/snapshot/TestCycloneDxImageEncoder.golden",
    ) else {
        return;
    };
    let s = sbom::read(&data).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let with_purl = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .and_then(|p| p.strip_prefix("pkg:"))
                .and_then(|p| p.split('/').next())
                .is_some_and(|t| PackageType::from_purl_type(t).is_some())
        })
        .count();
    assert_eq!(s.packages.len(), with_purl);
    assert!(!s.packages.is_empty());
    assert!(sbom::read(b"{\"hello\": 1}").is_err());
    assert!(sbom::read(b"not json").is_err());
}
