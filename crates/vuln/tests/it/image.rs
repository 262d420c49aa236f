//! Image sources end to end: OCI layouts and docker archives built here from real package
//! databases of the corpus, squashing, platform selection, digest verification, and hostile
//! layers.

use palisade_vuln::catalog::{self, PackageType};
use palisade_vuln::image::{
    self, ImageError, ImageOptions, Limits, NodeKind, OciLayout, Platform, open_archive,
    open_image, open_rootfs,
};
use serde_json::json;

use crate::imagekit::{
    Comp, E, corpus_file, docker_archive, file, layer, oci_layout, put_image, write_index,
};

fn open_layout(
    dir: &std::path::Path,
    options: &ImageOptions,
) -> Result<image::Filesystem, ImageError> {
    open_image(Box::new(OciLayout::open(dir)?), options)
}

/// A three-layer Debian image: gzip base with dpkg status and os-release, a zstd layer that
/// installs a Python package and deletes a file, a plain layer with whiteouts.
#[test]
fn oci_layout_squashes_layers_and_catalogs() {
    let (Some(status), Some(os_release), Some(metadata)) = (
        corpus_file("claircore/dpkg/testdata/postgresql.status"),
        corpus_file("claircore/debian/testdata/dist/12/etc/os-release"),
        corpus_file(
            "trivy/pkg/fanal/analyzer/language/python/packaging/testdata/happy-dist/distlib-0.3.1.dist-info/METADATA",
        ),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = layer(
        &[
            E::Dir("etc"),
            file("usr/lib/os-release", os_release),
            E::Symlink("etc/os-release", "../usr/lib/os-release"),
            file("var/lib/dpkg/status", status),
            file("opt/old/one.txt", "1"),
            file("opt/keep/two.txt", "2"),
            file("tmp/gone.txt", "x"),
        ],
        Comp::Gzip,
    );
    let python = layer(
        &[
            file(
                "usr/lib/python3/dist-packages/distlib-0.3.1.dist-info/METADATA",
                metadata,
            ),
            file("tmp/.wh.gone.txt", ""),
            file("opt/old/.wh..wh..opq", ""),
            file("opt/old/new.txt", "3"),
        ],
        Comp::Zstd,
    );
    let top = layer(&[file("opt/.wh.keep", "")], Comp::None);
    let layer_digests: Vec<String> = [&base, &python, &top]
        .iter()
        .map(|l| crate::imagekit::sha(&l.blob))
        .collect();
    let manifest = oci_layout(dir.path(), &[base, python, top]);

    let fs = open_layout(dir.path(), &ImageOptions::default()).unwrap();
    let img = fs.image().unwrap();
    assert_eq!(img.manifest_digest.as_ref().unwrap().as_str(), manifest);
    assert_eq!(img.names, vec!["test:latest".to_owned()]);
    // Whiteouts and opaque dirs.
    assert!(fs.node("tmp/gone.txt").is_none());
    assert!(fs.node("opt/old/one.txt").is_none());
    assert!(fs.node("opt/old/new.txt").is_some());
    assert!(
        fs.node("opt/keep/two.txt").is_none(),
        "whiteout of a directory hides its content"
    );
    assert!(fs.node("opt/keep").is_none());
    assert!(matches!(
        fs.node("etc/os-release").unwrap().kind,
        NodeKind::Symlink(_)
    ));
    assert_eq!(fs.read_file("opt/old/new.txt").unwrap(), b"3");

    let sbom = catalog::catalog(&fs).unwrap();
    assert_eq!(sbom.warnings, Vec::<String>::new());
    let distro = sbom.distro.as_ref().unwrap();
    assert_eq!(
        (distro.id.as_str(), distro.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert_eq!(sbom.artifact.digest.as_deref(), Some(manifest.as_str()));
    assert_eq!(sbom.artifact.layers, layer_digests);
    let debs: Vec<_> = sbom
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Deb)
        .collect();
    assert_eq!(debs.len(), 3, "{debs:#?}");
    for p in &debs {
        assert_eq!(p.locations, vec!["var/lib/dpkg/status".to_owned()]);
        assert_eq!(p.layer_digest.as_deref(), Some(layer_digests[0].as_str()));
        assert!(
            p.purl.starts_with(&format!("pkg:deb/debian/{}@", p.name)),
            "{}",
            p.purl
        );
        assert!(p.purl.contains("distro=debian-12"), "{}", p.purl);
    }
    let py = sbom
        .packages
        .iter()
        .find(|p| p.kind == PackageType::Pypi)
        .unwrap();
    assert_eq!(
        (py.name.as_str(), py.version.as_str()),
        ("distlib", "0.3.1")
    );
    assert_eq!(py.purl, "pkg:pypi/distlib@0.3.1");
    assert_eq!(py.layer_digest.as_deref(), Some(layer_digests[1].as_str()));
}

#[test]
fn hardlinks_share_content_and_same_layer_entries_survive_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = layer(
        &[file("a/data.txt", "payload"), file("b/x", "x")],
        Comp::Gzip,
    );
    let l2 = layer(
        &[
            file("b/.wh..wh..opq", ""),
            file("b/y", "y"),
            E::Hardlink("c/link.txt", "a/data.txt"),
        ],
        Comp::Gzip,
    );
    oci_layout(dir.path(), &[l1, l2]);
    let fs = open_layout(dir.path(), &ImageOptions::default()).unwrap();
    assert_eq!(fs.read_file("c/link.txt").unwrap(), b"payload");
    assert!(fs.node("b/x").is_none());
    assert_eq!(fs.read_file("b/y").unwrap(), b"y");
    let mut got = Vec::new();
    fs.read_files(
        &["a/data.txt".into(), "c/link.txt".into(), "nope".into()],
        |p, r| {
            got.push((p.to_owned(), r.map_err(|e| e.to_string())));
        },
    )
    .unwrap();
    got.sort();
    assert_eq!(got[0], ("a/data.txt".into(), Ok(b"payload".to_vec())));
    assert_eq!(got[1], ("c/link.txt".into(), Ok(b"payload".to_vec())));
    assert!(
        got[2].1.as_ref().unwrap_err().contains("not found"),
        "{got:?}"
    );
}

#[test]
fn multi_arch_index_selects_platform() {
    let dir = tempfile::tempdir().unwrap();
    let amd = put_image(
        dir.path(),
        "amd64",
        &[layer(&[file("arch", "amd64")], Comp::Gzip)],
    );
    let arm = put_image(
        dir.path(),
        "arm64",
        &[layer(&[file("arch", "arm64")], Comp::Gzip)],
    );
    // A nested index, as `docker buildx` layouts have, plus an attestation manifest.
    let mut amd_p = amd.clone();
    amd_p["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut arm_p = arm.clone();
    arm_p["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    let mut att = amd.clone();
    att["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    let inner = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd_p, arm_p, att]});
    let inner_desc = crate::imagekit::put_blob(
        dir.path(),
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&inner).unwrap(),
    );
    write_index(dir.path(), vec![inner_desc]);

    let fs = open_layout(dir.path(), &ImageOptions::default()).unwrap();
    assert_eq!(fs.read_file("arch").unwrap(), b"amd64");
    let arm_opts = ImageOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..ImageOptions::default()
    };
    let fs = open_layout(dir.path(), &arm_opts).unwrap();
    assert_eq!(fs.read_file("arch").unwrap(), b"arm64");
    assert_eq!(
        fs.image()
            .unwrap()
            .manifest_digest
            .as_ref()
            .unwrap()
            .as_str(),
        arm["digest"].as_str().unwrap()
    );
    let s390 = ImageOptions {
        platform: Platform::parse("linux/s390x").unwrap(),
        ..ImageOptions::default()
    };
    let err = open_layout(dir.path(), &s390).unwrap_err();
    assert!(matches!(err, ImageError::NoPlatform { .. }), "{err}");
    assert!(err.to_string().contains("linux/arm64/v8"), "{err}");
}

#[test]
fn every_blob_digest_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(&[file("etc/hostname", "box")], Comp::Gzip);
    let layer_digest = crate::imagekit::sha(&l.blob);
    oci_layout(dir.path(), &[l]);
    let blob = dir
        .path()
        .join("blobs/sha256")
        .join(layer_digest.trim_start_matches("sha256:"));
    // Same compressed size, different bytes: flip the gzip mtime field.
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[4] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let err = open_layout(dir.path(), &ImageOptions::default()).unwrap_err();
    match &err {
        ImageError::DigestMismatch { what, expected, .. } => {
            assert!(what.contains(&layer_digest), "{err}");
            assert_eq!(expected, &layer_digest);
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }

    // A tampered config.
    let dir = tempfile::tempdir().unwrap();
    let m = oci_layout(dir.path(), &[layer(&[file("x", "x")], Comp::None)]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("blobs/sha256")
                .join(m.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let cfg = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    std::fs::write(
        dir.path().join("blobs/sha256").join(&cfg),
        b"{\"os\":\"linux\"}",
    )
    .unwrap();
    let err = open_layout(dir.path(), &ImageOptions::default()).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");

    // A diff_id that does not match the uncompressed layer.
    let dir = tempfile::tempdir().unwrap();
    let mut l = layer(&[file("x", "x")], Comp::Gzip);
    l.diff_id = crate::imagekit::sha(b"something else");
    oci_layout(dir.path(), &[l]);
    let err = open_layout(dir.path(), &ImageOptions::default()).unwrap_err();
    assert!(err.to_string().contains("diff_id"), "{err}");
}

#[test]
fn docker_archive_with_alpine_database() {
    let (Some(installed), Some(os_release)) = (
        corpus_file("syft/syft/pkg/cataloger/alpine/testdata/multiple-2/lib/apk/db/installed"),
        corpus_file("claircore/alpine/testdata/3.18/etc/os-release"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let l1 = layer(&[file("etc/os-release", os_release)], Comp::None);
    let l2 = layer(
        &[file("lib/apk/db/installed", installed.clone())],
        Comp::None,
    );
    let path = docker_archive(&dir.path().join("img.tar"), "alpine:test", &[l1, l2]);
    let fs = open_image(
        Box::new(open_archive(&path, Limits::default()).unwrap()),
        &ImageOptions::default(),
    )
    .unwrap();
    let img = fs.image().unwrap();
    assert!(img.manifest_digest.is_none());
    assert_eq!(img.names, vec!["alpine:test".to_owned()]);
    let sbom = catalog::catalog(&fs).unwrap();
    assert_eq!(sbom.distro.as_ref().unwrap().id, "alpine");
    let expected = installed
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"P:"))
        .count();
    assert!(expected > 0);
    assert_eq!(sbom.packages.len(), expected);
    for p in &sbom.packages {
        assert_eq!(p.kind, PackageType::Apk);
        assert!(p.purl.starts_with("pkg:apk/alpine/"), "{}", p.purl);
        assert!(p.purl.contains("distro=alpine-3.18"), "{}", p.purl);
    }

    // The same archive gzip-compressed opens too.
    let gz = dir.path().join("img.tar.gz");
    std::fs::write(
        &gz,
        crate::imagekit::compress(&std::fs::read(&path).unwrap(), Comp::Gzip),
    )
    .unwrap();
    let fs2 = image::open_path(&gz, &ImageOptions::default()).unwrap();
    assert_eq!(catalog::catalog(&fs2).unwrap().packages, sbom.packages);
}

#[test]
fn docker_archive_diff_ids_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = layer(&[file("a", "a")], Comp::None);
    l.diff_id = crate::imagekit::sha(b"not this");
    let path = docker_archive(&dir.path().join("img.tar"), "x:y", &[l]);
    let err = image::open_path(&path, &ImageOptions::default()).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
}

type Opened = (
    Result<image::Filesystem, ImageError>,
    String,
    tempfile::TempDir,
);

fn open_single(entries: &[E], comp: Comp, limits: Limits) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let l = layer(entries, comp);
    let digest = crate::imagekit::sha(&l.blob);
    oci_layout(dir.path(), &[l]);
    let options = ImageOptions {
        limits,
        ..ImageOptions::default()
    };
    (open_layout(dir.path(), &options), digest, dir)
}

#[test]
fn hostile_layers_are_refused_with_clear_errors() {
    let cases: Vec<(E, &str)> = vec![
        (
            E::RawFile("../../etc/passwd", b"root::0:0".to_vec()),
            "`..`",
        ),
        (
            E::RawFile("/etc/passwd", b"root::0:0".to_vec()),
            "absolute path",
        ),
        (
            E::RawHardlink("etc/shadow-link", "../../../etc/shadow"),
            "hardlink target",
        ),
        (
            E::RawHardlink("etc/shadow-link", "/etc/shadow"),
            "hardlink target",
        ),
    ];
    for (entry, reason) in cases {
        let (res, digest, _dir) =
            open_single(&[file("ok", "ok"), entry], Comp::Gzip, Limits::default());
        let err = res.unwrap_err();
        match &err {
            ImageError::UnsafeEntry {
                layer, reason: r, ..
            } => {
                assert_eq!(layer, &digest);
                assert!(r.contains(reason), "{err}");
            }
            other => panic!("expected an unsafe entry error, got {other}"),
        }
        assert!(
            err.to_string().contains(&digest),
            "the message names the layer: {err}"
        );
    }
}

#[test]
fn symlinks_resolve_inside_the_view_only() {
    let (res, _, _dir) = open_single(
        &[
            file("etc/passwd", "image passwd"),
            E::Symlink("usr/evil", "../../../../etc/passwd"),
            E::Symlink("usr/abs", "/etc/passwd"),
            E::Symlink("loop/a", "b"),
            E::Symlink("loop/b", "a"),
        ],
        Comp::Gzip,
        Limits::default(),
    );
    let fs = res.unwrap();
    // An absolute target resolves from the image root, never the host's.
    assert_eq!(fs.read_file("usr/abs").unwrap(), b"image passwd");
    let err = fs.read_file("usr/evil").unwrap_err();
    assert!(matches!(err, ImageError::SymlinkEscape { .. }), "{err}");
    assert!(err.to_string().contains("usr/evil"), "{err}");
    let err = fs.read_file("loop/a").unwrap_err();
    assert!(matches!(err, ImageError::SymlinkLoop { .. }), "{err}");

    // Extraction writes below the target only.
    let out = tempfile::tempdir().unwrap();
    let written = fs.extract("usr/abs", out.path()).unwrap();
    assert_eq!(written, out.path().join("etc/passwd"));
    assert!(fs.extract("usr/evil", out.path()).is_err());
    std::os::unix::fs::symlink("/tmp", out.path().join("usr")).unwrap();
    let (res, _, _dir) = open_single(&[file("usr/x", "x")], Comp::None, Limits::default());
    let err = res.unwrap().extract("usr/x", out.path()).unwrap_err();
    assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
}

#[test]
fn decompression_bombs_are_bounded() {
    let zeros = vec![0u8; 32 << 20];
    let limits = Limits {
        max_layer_bytes: 4 << 20,
        ..Limits::default()
    };
    for comp in [Comp::Gzip, Comp::Zstd] {
        let (res, digest, _dir) =
            open_single(&[E::File("bomb", zeros.clone(), 0o644)], comp, limits);
        let err = res.unwrap_err();
        match &err {
            ImageError::LimitExceeded { layer, limit, .. } => {
                assert_eq!(layer, &digest, "{comp:?}");
                assert_eq!(*limit, 4 << 20);
            }
            other => panic!("{comp:?}: expected a limit error, got {other}"),
        }
        assert!(err.to_string().contains(&digest), "{err}");
    }
    // Per file: the layer opens, reading the big file fails naming it.
    let limits = Limits {
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    let (res, digest, _dir) = open_single(
        &[
            E::File("var/big", vec![7u8; 2 << 20], 0o644),
            file("var/small", "s"),
        ],
        Comp::Gzip,
        limits,
    );
    let fs = res.unwrap();
    let err = fs.read_file("var/big").unwrap_err();
    assert!(matches!(err, ImageError::LimitExceeded { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&digest) && msg.contains("var/big"), "{msg}");
    assert_eq!(fs.read_file("var/small").unwrap(), b"s");
}

#[test]
fn rootfs_directory() {
    let Some(root) = palisade_testkit::corpus(
        "vuln/fixtures/syft/syft/pkg/cataloger/debian/testdata/image-dpkg",
    ) else {
        return;
    };
    let fs = open_rootfs(&root, Limits::default()).unwrap();
    assert!(fs.image().is_none());
    let sbom = catalog::catalog(&fs).unwrap();
    assert_eq!(sbom.distro.as_ref().unwrap().id, "debian");
    assert_eq!(sbom.packages.len(), 1);
    let p = &sbom.packages[0];
    assert_eq!(
        (p.name.as_str(), p.version.as_str()),
        ("libpam-runtime", "1.1.8-3.6")
    );
    assert_eq!(
        p.purl,
        "pkg:deb/debian/libpam-runtime@1.1.8-3.6?arch=all&distro=debian-12&upstream=pam"
    );
    assert_eq!(p.layer_digest, None);
}

#[test]
fn blob_cache_is_a_readable_layout() {
    let src = tempfile::tempdir().unwrap();
    let manifest = oci_layout(src.path(), &[layer(&[file("hello", "world")], Comp::Gzip)]);
    // Copy every blob through the cache, as a registry source would, then read it as a layout.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = image::BlobCache::new(cache_dir.path());
    for entry in std::fs::read_dir(src.path().join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let d = image::Digest::parse(&format!("sha256:{}", entry.file_name().to_string_lossy()))
            .unwrap();
        cache
            .put(&d, std::fs::File::open(entry.path()).unwrap(), 1 << 30)
            .unwrap();
    }
    std::fs::copy(
        src.path().join("index.json"),
        cache_dir.path().join("index.json"),
    )
    .unwrap();
    let fs = open_layout(cache_dir.path(), &ImageOptions::default()).unwrap();
    assert_eq!(fs.image().unwrap().digest().as_str(), manifest);
    assert_eq!(fs.read_file("hello").unwrap(), b"world");
}

/// Layers of several 256 KiB read chunks, with files that straddle chunk boundaries and
/// are read or skipped: every file reads back byte for byte and both digests verify, for
/// each compression; a flipped byte in the inflated content is still a diff_id mismatch.
#[test]
fn multi_chunk_layers_read_back_and_verify() {
    let pattern = |len: usize, seed: u8| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
            .collect()
    };
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("a/first", pattern(300_000, 1)),
        ("a/skipped-1", pattern(700_000, 2)),
        ("a/small", b"small\n".to_vec()),
        ("a/second", pattern(262_144, 3)),
        ("a/skipped-2", pattern(1_000_003, 4)),
        ("a/last", pattern(123_457, 5)),
    ];
    for comp in [Comp::Gzip, Comp::Zstd, Comp::None] {
        let entries: Vec<E> = files.iter().map(|(p, d)| file(p, d.clone())).collect();
        let dir = tempfile::tempdir().unwrap();
        oci_layout(dir.path(), &[layer(&entries, comp)]);
        let fs = open_layout(dir.path(), &ImageOptions::default()).unwrap();
        for (p, d) in &files {
            if !p.contains("skipped") {
                assert!(fs.read_file(p).unwrap() == *d, "{p}");
            }
        }
        let wanted: Vec<String> = ["a/last", "a/first", "a/second"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut got = Vec::new();
        fs.read_files(&wanted, |p, r| got.push((p.to_owned(), r.unwrap().len())))
            .unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                ("a/first".to_owned(), 300_000),
                ("a/last".to_owned(), 123_457),
                ("a/second".to_owned(), 262_144)
            ]
        );
    }

    // The same layer with one inflated byte changed but the original diff_id: refused.
    let entries: Vec<E> = files.iter().map(|(p, d)| file(p, d.clone())).collect();
    let good = layer(&entries, Comp::Gzip);
    let mut changed = files.clone();
    changed[4].1[999_999] ^= 0xff;
    let entries: Vec<E> = changed.iter().map(|(p, d)| file(p, d.clone())).collect();
    let mut bad = layer(&entries, Comp::Gzip);
    bad.diff_id = good.diff_id.clone();
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &[bad]);
    let err = open_layout(dir.path(), &ImageOptions::default()).unwrap_err();
    assert!(
        matches!(err, ImageError::DigestMismatch { ref what, .. } if what.contains("diff_id")),
        "{err}"
    );
}
