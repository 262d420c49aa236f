//! Image sources and the squashed filesystem view catalogers read from.
//!
//! ```text
//!  OCI layout dir ──┐                    ┌──────────────────────────────┐
//!  docker save tar ─┼─ ImageSource ────► │ resolve: index → platform →  │
//!  OCI tar ─────────┤  (root + blobs     │ manifest → config → layers   │
//!  registry ────────┘   by descriptor)   │ (every blob digest verified) │
//!                                        └──────────────┬───────────────┘
//!                                                       ▼
//!  --rootfs DIR ───────────────────────────────► Filesystem: path → node
//!                                         (layer, tar data offset, mode, size)
//!                                         whiteouts + opaque dirs applied
//! ```
//!
//! **Sources.** [`ImageSource`] is the seam every image origin plugs into: it names a
//! [`Root`] (an OCI `index.json`, a descriptor to start from, or a legacy `docker save`
//! `manifest.json`) and opens blobs by [`Descriptor`] (or, for legacy docker archives, by
//! path). Resolution, platform selection and verification are common code in this module,
//! so a source cannot forget to verify: manifests, indexes and configs are read whole and
//! their sha256 compared with the descriptor; layers are hashed while streamed and the
//! digest (and, when the config lists it, the uncompressed `diff_id`) compared at the end of
//! the stream. A registry source only needs to answer [`ImageSource::root`] with the
//! manifest descriptor of a reference and stream blobs; [`BlobCache`] is the local
//! digest-addressed layer cache it can keep them in (an OCI layout `blobs/` tree, so a
//! cached image is also readable with [`OciLayout`]).
//!
//! **Squashed view.** Opening an image makes one streaming pass over each layer (gzip, zstd
//! or plain tar, told apart by magic bytes), recording for every tar entry its path, kind,
//! mode, size and the offset of its data in the decompressed stream; whiteouts
//! (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) remove what lower layers put there.
//! Nothing is extracted. [`Filesystem::read_files`] then reads only the files a caller asks
//! for, one pass per layer that holds any of them. Symlinks are resolved inside the view
//! only (absolute targets from the image root, at most [`Limits::max_symlink_hops`] hops, a
//! `..` above the root is an error); hardlinks point at the node of their target.
//!
//! **Safety.** Entry paths that are absolute or contain `..` and hardlinks whose target
//! does so make opening fail with [`ImageError::UnsafeEntry`] naming the layer and path:
//! container runtimes never write such layers, and an extractor that trusted them would
//! write outside its target. [`Filesystem::extract`] writes a file below a target directory
//! only through [`safe_join`]. Decompression bombs are bounded by [`Limits`]: inflated
//! bytes per layer and bytes per file read, with errors naming the layer digest and path.
//!
//! Tar, gzip and zstd decoding come from the `tar`, `flate2` and `zstd` crates; what is
//! written here is the OCI/docker-archive resolution and the layer squashing, which no
//! small crate does without also extracting to disk.

mod cache;
mod docker;
mod layer;
mod oci;
mod resolve;
mod rootfs;
mod view;

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

pub use cache::BlobCache;
pub use docker::{DockerArchive, open_archive};
pub use oci::OciLayout;
pub use resolve::{ImageConfig, LayerRef, Locator, ResolvedImage, resolve};
pub use rootfs::{HOST_SKIP, open_rootfs, open_rootfs_skipping};
pub use view::{Filesystem, Node, NodeKind, safe_join};

/// Media types this module knows.
pub mod media {
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image manifest (schema 2).
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}

/// A `sha256:<hex>` content digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`; other algorithms are rejected since nothing
    /// could verify them.
    pub fn parse(s: &str) -> Result<Digest, ImageError> {
        let bad = |reason: &str| ImageError::BadDigest {
            digest: s.to_owned(),
            reason: reason.to_owned(),
        };
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("only sha256 digests are supported"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(bad("expected 64 lowercase hex digits"));
        }
        Ok(Digest(s.to_owned()))
    }

    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.strip_prefix("sha256:").unwrap_or(&self.0)
    }

    /// The full `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Digest {
    type Error = ImageError;
    fn try_from(s: String) -> Result<Digest, ImageError> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An OCI platform (`linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Variant (`v7`, `v8`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, ImageError> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*v).into()),
            }),
            _ => Err(ImageError::Invalid {
                what: "platform".into(),
                reason: format!("{s:?} is not os/arch[/variant]"),
            }),
        }
    }

    /// Whether a descriptor's platform satisfies this one (a missing variant matches any,
    /// `arm64` defaults to `v8`).
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || self.architecture != other.architecture {
            return false;
        }
        let norm = |p: &Platform| match (&p.variant, p.architecture.as_str()) {
            (None, "arm64") => Some("v8".to_owned()),
            (v, _) => v.clone(),
        };
        match (&self.variant, &other.variant) {
            (None, _) => true,
            _ => norm(self) == norm(other),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    #[serde(default)]
    pub media_type: String,
    /// Digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Platform, in indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// One image of a legacy `docker save` `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerManifestEntry {
    /// Path of the config JSON inside the archive.
    pub config: String,
    /// Tags (`alpine:3.18`).
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, bottom first.
    pub layers: Vec<String>,
}

/// Where resolution starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// The bytes of an OCI layout `index.json` (unverifiable: it has no digest).
    OciIndex(Vec<u8>),
    /// A manifest or index descriptor (what a registry resolves a tag to).
    Descriptor(Descriptor),
    /// A legacy `docker save` `manifest.json`.
    DockerManifest(Vec<DockerManifestEntry>),
}

/// A blob stream.
pub type BlobReader<'a> = Box<dyn Read + Send + 'a>;

/// Where an image's manifests, config and layers come from.
///
/// Implementations only locate bytes; callers verify them (see the module docs).
pub trait ImageSource: Send + Sync {
    /// A name for messages and reports (`oci-layout:/path`, `docker-archive:/x.tar`).
    fn name(&self) -> String;
    /// Where resolution starts.
    fn root(&self) -> Result<Root, ImageError>;
    /// Opens a blob (manifest, index, config or layer) by descriptor.
    fn open_blob(&self, desc: &Descriptor) -> Result<BlobReader<'_>, ImageError>;
    /// Opens a file by path, for legacy docker archives whose `manifest.json` names paths.
    fn open_path(&self, path: &str) -> Result<BlobReader<'_>, ImageError> {
        Err(ImageError::Invalid {
            what: self.name(),
            reason: format!("this source has no files by path (asked for {path})"),
        })
    }
}

/// Resource bounds applied while reading images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most inflated (decompressed) bytes read from one layer.
    pub max_layer_bytes: u64,
    /// Most bytes read into memory for one file.
    pub max_file_bytes: u64,
    /// Most bytes of a manifest, index or config JSON.
    pub max_json_bytes: u64,
    /// Most tar entries in one layer.
    pub max_entries: u64,
    /// Most symlinks followed resolving one path.
    pub max_symlink_hops: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_layer_bytes: 16 << 30,
            max_file_bytes: 512 << 20,
            max_json_bytes: 8 << 20,
            max_entries: 4_000_000,
            max_symlink_hops: 40,
        }
    }
}

/// How to open an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Platform to pick from multi-platform indexes (default `linux/amd64`).
    pub platform: Platform,
    /// In a layout or archive holding several images, the one whose
    /// `org.opencontainers.image.ref.name` / `io.containerd.image.name` annotation or docker
    /// tag equals or ends with this.
    pub reference: Option<String>,
    /// Resource bounds.
    pub limits: Limits,
}

/// Errors reading images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// I/O error on a named file or blob.
    #[error("{what}: {source}")]
    Io {
        /// The file, blob or layer.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A digest string that cannot be used.
    #[error("digest {digest:?}: {reason}")]
    BadDigest {
        /// The text.
        digest: String,
        /// Why.
        reason: String,
    },
    /// Content whose hash does not match its digest.
    #[error("{what}: digest mismatch: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The blob or layer.
        what: String,
        /// Digest named by the descriptor, file name or config.
        expected: String,
        /// Digest of the bytes read.
        actual: String,
    },
    /// A blob the source does not have.
    #[error("{source_name}: blob {digest} not found")]
    BlobNotFound {
        /// The source.
        source_name: String,
        /// The blob.
        digest: String,
    },
    /// Malformed or unsupported image data.
    #[error("{what}: {reason}")]
    Invalid {
        /// The document or file.
        what: String,
        /// Why.
        reason: String,
    },
    /// No image for the requested platform.
    #[error("{source_name}: no image for platform {platform} (available: {available})")]
    NoPlatform {
        /// The source.
        source_name: String,
        /// Wanted.
        platform: String,
        /// Offered, comma-separated.
        available: String,
    },
    /// A layer entry that would write outside the root.
    #[error("layer {layer}: unsafe entry {path:?}: {reason}")]
    UnsafeEntry {
        /// Layer digest.
        layer: String,
        /// Entry path as written in the tar.
        path: String,
        /// Why.
        reason: String,
    },
    /// A size bound was exceeded (decompression bomb or oversized file).
    #[error("layer {layer}: {path}: {what} exceeds the limit of {limit} bytes")]
    LimitExceeded {
        /// Layer digest (or the rootfs directory).
        layer: String,
        /// Path of the file being read, or `(layer stream)`.
        path: String,
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// A symlink resolving above the root.
    #[error("symlink {path:?} -> {target:?} escapes the image root")]
    SymlinkEscape {
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
    /// Too many symlinks followed.
    #[error("{path:?}: more than {hops} symlinks followed")]
    SymlinkLoop {
        /// The path resolved.
        path: String,
        /// The bound.
        hops: u32,
    },
    /// A path that is not in the image.
    #[error("{path:?}: not found in the image")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A path that is not a regular file.
    #[error("{path:?}: not a regular file")]
    NotAFile {
        /// The path.
        path: String,
    },
}

impl ImageError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> ImageError {
        ImageError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> ImageError {
        ImageError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Opens an image from a source: resolves it for the options' platform and builds the
/// squashed view (one verified streaming pass over every layer).
pub fn open_image(
    source: Box<dyn ImageSource>,
    options: &ImageOptions,
) -> Result<Filesystem, ImageError> {
    let resolved = resolve(source.as_ref(), options)?;
    Filesystem::from_image(source, resolved, options.limits)
}

/// Opens an OCI layout directory, a `docker save`/OCI tar archive, or (when `path` is a
/// directory without `index.json`/`oci-layout`) nothing: use [`open_rootfs`] for that.
pub fn open_path(path: &std::path::Path, options: &ImageOptions) -> Result<Filesystem, ImageError> {
    let source: Box<dyn ImageSource> = if path.is_dir() {
        Box::new(OciLayout::open(path)?)
    } else {
        Box::new(open_archive(path, options.limits)?)
    };
    open_image(source, options)
}
