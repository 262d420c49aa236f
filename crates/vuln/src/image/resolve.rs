//! From a source's root to one image: index → platform → manifest → config → layers.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::{
    Descriptor, Digest, DockerManifestEntry, ImageError, ImageOptions, ImageSource, Limits, Root,
    media,
};

/// One layer of a resolved image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Digest of the blob as stored (compressed), when the source names one.
    pub digest: Option<Digest>,
    /// Digest of the uncompressed tar, from the config's `rootfs.diff_ids`.
    pub diff_id: Option<Digest>,
    /// Media type, when known.
    pub media_type: String,
    /// Size of the blob, when known.
    pub size: u64,
    /// Where the blob is.
    pub locator: Locator,
}

impl LayerRef {
    /// The name used in reports and errors: the blob digest, else the diff id, else the
    /// path inside the archive.
    pub fn id(&self) -> String {
        match (&self.digest, &self.diff_id, &self.locator) {
            (Some(d), _, _) => d.to_string(),
            (None, Some(d), _) => d.to_string(),
            (None, None, Locator::Path(p)) => p.clone(),
            (None, None, Locator::Blob(d)) => d.digest.to_string(),
        }
    }
}

/// How to open a layer blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// By descriptor ([`ImageSource::open_blob`]).
    Blob(Descriptor),
    /// By path inside a legacy docker archive ([`ImageSource::open_path`]).
    Path(String),
}

/// The parts of an image config this crate uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Layer diff ids.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Container defaults (env, labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Uncompressed layer digests, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// `config` of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Environment.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// An image resolved to one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The source's name.
    pub source_name: String,
    /// Digest of the image manifest, when the source has one (not legacy docker archives).
    pub manifest_digest: Option<Digest>,
    /// Digest of the config (the docker "image id").
    pub config_digest: Digest,
    /// The config.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// Names the image is known by (docker tags, OCI ref names).
    pub names: Vec<String>,
}

impl ResolvedImage {
    /// The digest a report is keyed by: the manifest digest, else the config digest.
    pub fn digest(&self) -> &Digest {
        self.manifest_digest.as_ref().unwrap_or(&self.config_digest)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexDoc {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

pub(crate) fn read_limited(
    mut r: impl Read,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    (&mut r)
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::io(what, e))?;
    if buf.len() as u64 > limit {
        return Err(ImageError::LimitExceeded {
            layer: what.to_owned(),
            path: "(document)".into(),
            what: "document size",
            limit,
        });
    }
    Ok(buf)
}

/// Reads a blob whole and checks its digest.
pub(crate) fn fetch_verified(
    source: &dyn ImageSource,
    desc: &Descriptor,
    limits: &Limits,
) -> Result<Vec<u8>, ImageError> {
    let what = format!("{}: blob {}", source.name(), desc.digest);
    let bytes = read_limited(source.open_blob(desc)?, limits.max_json_bytes, &what)?;
    let actual = Digest::of(&bytes);
    if actual != desc.digest {
        return Err(ImageError::DigestMismatch {
            what,
            expected: desc.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(bytes)
}

fn parse_doc(bytes: &[u8], what: &str) -> Result<IndexDoc, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::invalid(what, e.to_string()))
}

fn ref_names(d: &Descriptor) -> Vec<String> {
    [
        "org.opencontainers.image.ref.name",
        "io.containerd.image.name",
    ]
    .iter()
    .filter_map(|k| d.annotations.get(*k).cloned())
    .collect()
}

fn name_matches(name: &str, wanted: &str) -> bool {
    name == wanted || name.ends_with(&format!("/{wanted}")) || name.ends_with(&format!(":{wanted}"))
}

/// Resolves a source to one image for the options' platform and reference.
pub fn resolve(
    source: &dyn ImageSource,
    options: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    match source.root()? {
        Root::OciIndex(bytes) => {
            let what = format!("{}: index.json", source.name());
            let doc = parse_doc(&bytes, &what)?;
            let mut manifests = doc
                .manifests
                .ok_or_else(|| ImageError::invalid(&what, "no manifests"))?;
            if let Some(r) = &options.reference {
                manifests.retain(|d| ref_names(d).iter().any(|n| name_matches(n, r)));
                if manifests.is_empty() {
                    return Err(ImageError::invalid(
                        what,
                        format!("no image named {r:?} in the layout"),
                    ));
                }
            }
            select(source, manifests, options, Vec::new(), 0)
        }
        Root::Descriptor(d) => select(source, vec![d], options, Vec::new(), 0),
        Root::DockerManifest(entries) => resolve_docker(source, entries, options),
    }
}

fn is_index(media_type: &str) -> bool {
    media_type == media::OCI_INDEX || media_type == media::DOCKER_LIST
}

fn select(
    source: &dyn ImageSource,
    candidates: Vec<Descriptor>,
    options: &ImageOptions,
    mut names: Vec<String>,
    depth: u32,
) -> Result<ResolvedImage, ImageError> {
    if depth > 4 {
        return Err(ImageError::invalid(
            source.name(),
            "indexes nested too deeply",
        ));
    }
    let wanted = &options.platform;
    let with_platform: Vec<&Descriptor> =
        candidates.iter().filter(|d| d.platform.is_some()).collect();
    let chosen: Vec<&Descriptor> = if with_platform.is_empty() {
        candidates.iter().collect()
    } else {
        with_platform
            .iter()
            .copied()
            .filter(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
            .collect()
    };
    let mut distinct: Vec<&Descriptor> = Vec::new();
    for d in chosen {
        if !distinct.iter().any(|x| x.digest == d.digest) {
            distinct.push(d);
        }
    }
    let desc = match distinct.as_slice() {
        [] => {
            let available: Vec<String> = candidates
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                .collect();
            return Err(ImageError::NoPlatform {
                source_name: source.name(),
                platform: wanted.to_string(),
                available: available.join(", "),
            });
        }
        [one] => (*one).clone(),
        many => {
            // Several images without platforms: a layout holding several tags.
            let listed: Vec<String> = many
                .iter()
                .map(|d| {
                    let n = ref_names(d);
                    if n.is_empty() {
                        d.digest.to_string()
                    } else {
                        n.join("|")
                    }
                })
                .collect();
            return Err(ImageError::invalid(
                source.name(),
                format!(
                    "{} images match; choose one by reference: {}",
                    many.len(),
                    listed.join(", ")
                ),
            ));
        }
    };
    names.extend(ref_names(&desc));
    let bytes = fetch_verified(source, &desc, &options.limits)?;
    let what = format!("{}: manifest {}", source.name(), desc.digest);
    let doc = parse_doc(&bytes, &what)?;
    let media_type = doc
        .media_type
        .clone()
        .unwrap_or_else(|| desc.media_type.clone());
    if is_index(&media_type) || (doc.manifests.is_some() && doc.config.is_none()) {
        let inner = doc.manifests.unwrap_or_default();
        return select(source, inner, options, names, depth + 1);
    }
    let config_desc = doc
        .config
        .ok_or_else(|| ImageError::invalid(&what, "manifest has no config"))?;
    let layers = doc.layers.unwrap_or_default();
    let config_bytes = fetch_verified(source, &config_desc, &options.limits)?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        ImageError::invalid(
            format!("{}: config {}", source.name(), config_desc.digest),
            e.to_string(),
        )
    })?;
    let diff_ids = parse_diff_ids(&config, &source.name())?;
    // diff ids pair with layers one to one; a config that disagrees is not trusted for them.
    let paired = diff_ids.len() == layers.len();
    let layers = layers
        .into_iter()
        .enumerate()
        .map(|(i, d)| LayerRef {
            digest: Some(d.digest.clone()),
            diff_id: diff_ids.get(i).cloned().filter(|_| paired),
            media_type: d.media_type.clone(),
            size: d.size,
            locator: Locator::Blob(d),
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(ResolvedImage {
        source_name: source.name(),
        manifest_digest: Some(desc.digest),
        config_digest: config_desc.digest,
        config,
        layers,
        names,
    })
}

fn parse_diff_ids(config: &ImageConfig, source: &str) -> Result<Vec<Digest>, ImageError> {
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|s| {
            Digest::parse(s)
                .map_err(|e| ImageError::invalid(format!("{source}: config"), e.to_string()))
        })
        .collect()
}

/// The digest named by a docker archive path (`<hex>.json`, `blobs/sha256/<hex>`).
fn digest_from_path(path: &str) -> Option<Digest> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

fn resolve_docker(
    source: &dyn ImageSource,
    entries: Vec<DockerManifestEntry>,
    options: &ImageOptions,
) -> Result<ResolvedImage, ImageError> {
    let what = format!("{}: manifest.json", source.name());
    let mut chosen: Vec<DockerManifestEntry> = match &options.reference {
        Some(r) => entries
            .into_iter()
            .filter(|e| e.repo_tags.iter().flatten().any(|t| name_matches(t, r)))
            .collect(),
        None => entries,
    };
    let entry = match chosen.len() {
        0 => return Err(ImageError::invalid(what, "no matching image")),
        1 => chosen.remove(0),
        n => {
            return Err(ImageError::invalid(
                what,
                format!("{n} images in the archive; choose one by reference"),
            ));
        }
    };
    let config_bytes = read_limited(
        source.open_path(&entry.config)?,
        options.limits.max_json_bytes,
        &entry.config,
    )?;
    let config_digest = Digest::of(&config_bytes);
    if let Some(expected) = digest_from_path(&entry.config)
        && expected != config_digest
    {
        return Err(ImageError::DigestMismatch {
            what: format!("{}: {}", source.name(), entry.config),
            expected: expected.to_string(),
            actual: config_digest.to_string(),
        });
    }
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        ImageError::invalid(
            format!("{}: {}", source.name(), entry.config),
            e.to_string(),
        )
    })?;
    if !config.os.is_empty() && config.os != options.platform.os
        || !config.architecture.is_empty() && config.architecture != options.platform.architecture
    {
        return Err(ImageError::NoPlatform {
            source_name: source.name(),
            platform: options.platform.to_string(),
            available: format!("{}/{}", config.os, config.architecture),
        });
    }
    let diff_ids = parse_diff_ids(&config, &source.name())?;
    if diff_ids.len() != entry.layers.len() {
        return Err(ImageError::invalid(
            what,
            format!(
                "{} layers but the config lists {} diff ids",
                entry.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let layers = entry
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(p, diff)| LayerRef {
            // `blobs/sha256/<hex>` paths (docker 25+) name the blob digest.
            digest: digest_from_path(p).filter(|_| p.contains("blobs/")),
            diff_id: Some(diff),
            media_type: String::new(),
            size: 0,
            locator: Locator::Path(p.clone()),
        })
        .collect();
    Ok(ResolvedImage {
        source_name: source.name(),
        manifest_digest: None,
        config_digest,
        config,
        layers,
        names: entry.repo_tags.unwrap_or_default(),
    })
}
