//! `docker save` archives (legacy `manifest.json` layout or, since docker 25, an OCI layout
//! inside the tar) and OCI archives (`oci-archive:` tars of a layout).
//!
//! The outer tar is indexed once (member path → data offset and size) and members are read
//! by seeking into the file, so nothing is unpacked. A gzip-compressed archive is first
//! inflated into a temporary file, bounded by [`Limits::max_layer_bytes`].

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{BlobReader, Descriptor, DockerManifestEntry, ImageError, ImageSource, Limits, Root};

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A `docker save` or OCI tar archive.
#[derive(Debug)]
pub struct DockerArchive {
    path: PathBuf,
    /// The file read: the archive itself or its inflated copy.
    data: PathBuf,
    _inflated: Option<tempfile::TempPath>,
    members: HashMap<String, Member>,
}

fn normalize(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Opens a `docker save` / OCI archive (plain or gzip-compressed tar).
pub fn open_archive(path: &Path, limits: Limits) -> Result<DockerArchive, ImageError> {
    let what = path.display().to_string();
    let io = |e| ImageError::io(&what, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    let (data, inflated) = if n == 2 && magic == [0x1f, 0x8b] {
        let mut tmp = tempfile::NamedTempFile::new().map_err(io)?;
        let mut dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f))
            .take(limits.max_layer_bytes.saturating_add(1));
        let copied = std::io::copy(&mut dec, tmp.as_file_mut()).map_err(io)?;
        if copied > limits.max_layer_bytes {
            return Err(ImageError::LimitExceeded {
                layer: what.clone(),
                path: "(archive)".into(),
                what: "inflated archive size",
                limit: limits.max_layer_bytes,
            });
        }
        let tmp = tmp.into_temp_path();
        (tmp.to_path_buf(), Some(tmp))
    } else {
        (path.to_path_buf(), None)
    };
    let file = std::fs::File::open(&data).map_err(io)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut members = HashMap::new();
    let entries = archive
        .entries()
        .map_err(|e| ImageError::invalid(&what, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| ImageError::invalid(&what, format!("bad tar entry: {e}")))?;
        let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        let member = if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let target = if kind.is_symlink() {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{dir}/{target}")
            } else {
                target
            };
            Member::Link(target)
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else {
            continue;
        };
        members.insert(name, member);
        if members.len() as u64 > limits.max_entries {
            return Err(ImageError::LimitExceeded {
                layer: what,
                path: "(archive)".into(),
                what: "member count",
                limit: limits.max_entries,
            });
        }
    }
    if !members.contains_key("index.json") && !members.contains_key("manifest.json") {
        return Err(ImageError::invalid(
            what,
            "neither a docker save archive (manifest.json) nor an OCI archive (index.json)",
        ));
    }
    Ok(DockerArchive {
        path: path.to_path_buf(),
        data,
        _inflated: inflated,
        members,
    })
}

impl DockerArchive {
    fn locate(&self, name: &str) -> Result<(u64, u64), ImageError> {
        let mut name = normalize(name);
        for _ in 0..8 {
            match self.members.get(&name) {
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Link(target)) => {
                    // Resolve `..` lexically, staying inside the archive.
                    let mut parts: Vec<&str> = Vec::new();
                    for c in target.split('/') {
                        match c {
                            "" | "." => {}
                            ".." => {
                                if parts.pop().is_none() {
                                    return Err(ImageError::invalid(
                                        self.name(),
                                        format!("member {name} links outside the archive"),
                                    ));
                                }
                            }
                            c => parts.push(c),
                        }
                    }
                    name = parts.join("/");
                }
                None => break,
            }
        }
        Err(ImageError::invalid(
            self.name(),
            format!("no member {name} in the archive"),
        ))
    }

    fn open_member(&self, name: &str) -> Result<BlobReader<'_>, ImageError> {
        let (offset, size) = self.locate(name)?;
        let io = |e| ImageError::io(self.path.display().to_string(), e);
        let mut f = std::fs::File::open(&self.data).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Box::new(std::io::BufReader::new(f).take(size)))
    }
}

impl ImageSource for DockerArchive {
    fn name(&self) -> String {
        format!("archive:{}", self.path.display())
    }

    fn root(&self) -> Result<Root, ImageError> {
        if self.members.contains_key("index.json") {
            let bytes = super::resolve::read_limited(
                self.open_member("index.json")?,
                8 << 20,
                "index.json",
            )?;
            return Ok(Root::OciIndex(bytes));
        }
        let bytes = super::resolve::read_limited(
            self.open_member("manifest.json")?,
            8 << 20,
            "manifest.json",
        )?;
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::invalid(format!("{}: manifest.json", self.name()), e.to_string())
        })?;
        Ok(Root::DockerManifest(entries))
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<BlobReader<'_>, ImageError> {
        let name = format!("blobs/sha256/{}", desc.digest.hex());
        if !self.members.contains_key(&name) {
            return Err(ImageError::BlobNotFound {
                source_name: self.name(),
                digest: desc.digest.to_string(),
            });
        }
        self.open_member(&name)
    }

    fn open_path(&self, path: &str) -> Result<BlobReader<'_>, ImageError> {
        self.open_member(path)
    }
}
