//! Builds OCI layouts and docker archives in a temporary directory from layer entries.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::Digest as _;

pub(crate) fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// One tar entry.
#[derive(Clone)]
pub(crate) enum E {
    File(&'static str, Vec<u8>, u32),
    Dir(&'static str),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    /// An entry whose name is written into the header verbatim (no checks).
    RawFile(&'static str, Vec<u8>),
    RawHardlink(&'static str, &'static str),
}

pub(crate) fn file(path: &'static str, data: impl Into<Vec<u8>>) -> E {
    E::File(path, data.into(), 0o644)
}

fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// An uncompressed layer tar.
pub(crate) fn tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data, mode) => {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(*mode);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, data.as_slice()).unwrap();
            }
            E::Dir(p) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Symlink(p, target) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Hardlink(p, target) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                h.set_mode(0o644);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::RawFile(name, data) => {
                let h = raw_header(name, tar::EntryType::Regular, data.len() as u64, None);
                b.append(&h, data.as_slice()).unwrap();
            }
            E::RawHardlink(name, target) => {
                let h = raw_header(name, tar::EntryType::Link, 0, Some(target));
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Comp {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn compress(data: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(data, 1).unwrap(),
    }
}

/// A layer: its blob and the digest of its uncompressed tar.
#[derive(Clone)]
pub(crate) struct Layer {
    pub(crate) blob: Vec<u8>,
    pub(crate) diff_id: String,
    pub(crate) media_type: &'static str,
}

pub(crate) fn layer(entries: &[E], c: Comp) -> Layer {
    let t = tar(entries);
    Layer {
        diff_id: sha(&t),
        blob: compress(&t, c),
        media_type: match c {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        },
    }
}

/// Writes a blob into `<dir>/blobs/sha256/` and returns its descriptor.
pub(crate) fn put_blob(dir: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let d = sha(bytes);
    let p = dir
        .join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
    json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
}

/// Writes an image (config + layers + manifest) into a layout's blobs; returns the manifest
/// descriptor.
pub(crate) fn put_image(dir: &Path, arch: &str, layers: &[Layer]) -> Value {
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
        "config": {"Env": ["PATH=/usr/bin"]},
    });
    let config_desc = put_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| put_blob(dir, l.media_type, &l.blob))
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layer_descs,
    });
    put_blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).unwrap(),
    )
}

/// A single-image OCI layout.
pub(crate) fn oci_layout(dir: &Path, layers: &[Layer]) -> String {
    let mut m = put_image(dir, "amd64", layers);
    m["annotations"] = json!({"org.opencontainers.image.ref.name": "test:latest"});
    write_index(dir, vec![m.clone()]);
    m["digest"].as_str().unwrap().to_owned()
}

pub(crate) fn write_index(dir: &Path, manifests: Vec<Value>) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A legacy `docker save` archive.
pub(crate) fn docker_archive(path: &Path, tag: &str, layers: &[Layer]) -> PathBuf {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha(&config_bytes).trim_start_matches("sha256:"));
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut layer_paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("layer{i}/layer.tar");
        add(&p, &l.blob);
        layer_paths.push(p);
    }
    add(&config_name, &config_bytes);
    let manifest = json!([{"Config": config_name, "RepoTags": [tag], "Layers": layer_paths}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
    path.to_path_buf()
}

/// Bytes of a corpus file (`None`, with SKIPPED printed, when the corpus is missing).
pub(crate) fn corpus_file(sub: &str) -> Option<Vec<u8>> {
    palisade_testkit::corpus(&format!("vuln/fixtures/{sub}")).map(|p| std::fs::read(p).unwrap())
}

/// Builds `dir/name`, a one-layer image holding an `os-release` and a dpkg `status`, and scans
/// it against `db` as `image scan` does.
pub(crate) fn scan_dpkg_image(
    dir: &Path,
    name: &str,
    os_release: &str,
    status: &str,
    db: &palisade_vuln::db::Database,
) -> palisade_vuln::scan::VulnReport {
    use palisade_vuln::image::{ImageOptions, OciLayout, open_image};
    let img = dir.join(name);
    oci_layout(
        &img,
        &[layer(
            &[
                file("etc/os-release", os_release),
                file("var/lib/dpkg/status", status),
            ],
            Comp::Gzip,
        )],
    );
    let fs = open_image(
        Box::new(OciLayout::open(&img).unwrap()),
        &ImageOptions::default(),
    )
    .unwrap();
    palisade_vuln::scan::scan_image_with(&fs, db, palisade_vuln::scan::ScanOptions::default())
        .unwrap()
}
