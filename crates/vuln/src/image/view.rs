//! The squashed filesystem view: final path → node, and reads of selected files.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::layer::open_layer;
use super::resolve::ResolvedImage;
use super::{ImageError, ImageSource, Limits};

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file (hardlinks included).
    File,
    /// A directory.
    Dir,
    /// A symlink and its target as written.
    Symlink(String),
    /// A device, fifo or other special file.
    Other,
}

/// One path of the squashed filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Kind.
    pub kind: NodeKind,
    /// Permission bits.
    pub mode: u32,
    /// Size in bytes (regular files).
    pub size: u64,
    /// Index of the layer that holds the content (none for a root filesystem).
    pub layer: Option<usize>,
    /// Offset of the data in the layer's decompressed tar stream.
    offset: u64,
}

impl Node {
    /// Whether this is a regular file with an execute bit.
    pub fn is_executable(&self) -> bool {
        self.kind == NodeKind::File && self.mode & 0o111 != 0
    }

    /// Where the content is: layer index and data offset in its decompressed stream (the
    /// identity of the tar entry that wrote it).
    pub(crate) fn content_key(&self) -> Option<(usize, u64)> {
        self.layer.map(|l| (l, self.offset))
    }
}

/// Called for each regular file entry while an image is opened, with the entry's path,
/// its node and a reader over its content (see [`Filesystem::from_image_visiting`]).
pub(crate) type Visitor<'v> = dyn FnMut(&str, &Node, &mut dyn Read) + 'v;

enum Backend {
    Image {
        source: Box<dyn ImageSource>,
        image: Box<ResolvedImage>,
    },
    Dir(PathBuf),
}

/// A read-only squashed view of an image or a root filesystem directory.
pub struct Filesystem {
    backend: Backend,
    tree: BTreeMap<String, Node>,
    limits: Limits,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Filesystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filesystem")
            .field("name", &self.name())
            .field("paths", &self.tree.len())
            .finish()
    }
}

/// Normalizes a tar entry path: `./a//b/` → `a/b`; `None` for the root itself; an error
/// reason for absolute paths and `..` components.
fn normalize_entry(raw: &str) -> Result<Option<String>, &'static str> {
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path contains a `..` component"),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parts.join("/")))
    }
}

fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Joins a relative image path below `target`, refusing absolute paths, `..` components
/// and existing symlinks on the way (which could redirect the write elsewhere).
pub fn safe_join(target: &Path, rel: &str) -> Result<PathBuf, ImageError> {
    let unsafe_path = |reason: &str| ImageError::UnsafeEntry {
        layer: target.display().to_string(),
        path: rel.to_owned(),
        reason: reason.to_owned(),
    };
    let norm = normalize_entry(rel)
        .map_err(unsafe_path)?
        .ok_or_else(|| unsafe_path("empty path"))?;
    let mut out = target.to_path_buf();
    for c in norm.split('/') {
        out.push(c);
        if std::fs::symlink_metadata(&out).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(unsafe_path("an existing symlink is on the path"));
        }
    }
    Ok(out)
}

impl Filesystem {
    pub(crate) fn from_dir(root: PathBuf, tree: BTreeMap<String, Node>, limits: Limits) -> Self {
        Filesystem {
            backend: Backend::Dir(root),
            tree,
            limits,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn dir_node(kind: NodeKind, mode: u32, size: u64) -> Node {
        Node {
            kind,
            mode,
            size,
            layer: None,
            offset: 0,
        }
    }

    /// Builds the view of a resolved image: one verified pass over every layer.
    pub fn from_image(
        source: Box<dyn ImageSource>,
        image: ResolvedImage,
        limits: Limits,
    ) -> Result<Filesystem, ImageError> {
        Filesystem::from_image_visiting(source, image, limits, &mut |_, _, _| {})
    }

    /// Like [`Filesystem::from_image`], handing every regular file entry (not hardlinks) to
    /// `visit` as the pass meets it, so a caller can read what it needs without a second
    /// pass. Entries later layers remove or replace are visited too: callers key what they
    /// keep by [`Node::content_key`] and check it against the final view.
    pub(crate) fn from_image_visiting(
        source: Box<dyn ImageSource>,
        image: ResolvedImage,
        limits: Limits,
        visit: &mut Visitor<'_>,
    ) -> Result<Filesystem, ImageError> {
        let mut tree: BTreeMap<String, Node> = BTreeMap::new();
        let mut warnings = Vec::new();
        for (i, layer) in image.layers.iter().enumerate() {
            let (mut stream, check) = open_layer(source.as_ref(), layer, &limits)?;
            let mut opaque: Vec<String> = Vec::new();
            let mut whiteouts: Vec<String> = Vec::new();
            let mut added: Vec<(String, Node)> = Vec::new();
            let mut added_at: HashMap<String, usize> = HashMap::new();
            let mut count = 0u64;
            let entries = stream
                .entries_with_seek()
                .map_err(|e| check.error(None, e))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| check.error(None, e))?;
                count += 1;
                if count > limits.max_entries {
                    return Err(ImageError::LimitExceeded {
                        layer: check.id().to_owned(),
                        path: "(layer stream)".into(),
                        what: "entry count",
                        limit: limits.max_entries,
                    });
                }
                let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let unsafe_entry = |reason: String| ImageError::UnsafeEntry {
                    layer: check.id().to_owned(),
                    path: raw.clone(),
                    reason,
                };
                let Some(path) = normalize_entry(&raw).map_err(|r| unsafe_entry(r.into()))? else {
                    continue;
                };
                let (dir, base) = split_parent(&path);
                if base == ".wh..wh..opq" {
                    opaque.push(dir.to_owned());
                    continue;
                }
                if let Some(name) = base.strip_prefix(".wh.") {
                    whiteouts.push(join(dir, name));
                    continue;
                }
                let header = entry.header();
                let mode = header.mode().unwrap_or(0o644);
                let kind = header.entry_type();
                let link = || {
                    entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                };
                let node = if kind.is_hard_link() {
                    let target_raw = link();
                    let target = normalize_entry(&target_raw)
                        .map_err(|r| unsafe_entry(format!("hardlink target {target_raw:?}: {r}")))?
                        .ok_or_else(|| unsafe_entry("hardlink to the root".into()))?;
                    let found = added_at
                        .get(&target)
                        .map(|&k| &added[k].1)
                        .or_else(|| tree.get(&target));
                    match found {
                        Some(n) if n.kind == NodeKind::File => Node { mode, ..n.clone() },
                        _ => {
                            warnings.push(format!(
                                "layer {}: hardlink {path} -> {target}: target is not a file in the image",
                                check.id()
                            ));
                            continue;
                        }
                    }
                } else if kind.is_symlink() {
                    Node {
                        kind: NodeKind::Symlink(link()),
                        mode,
                        size: 0,
                        layer: Some(i),
                        offset: 0,
                    }
                } else if kind.is_dir() {
                    Node {
                        kind: NodeKind::Dir,
                        mode,
                        size: 0,
                        layer: Some(i),
                        offset: 0,
                    }
                } else if kind.is_file() || kind == tar::EntryType::Continuous {
                    let node = Node {
                        kind: NodeKind::File,
                        mode,
                        size: entry.size(),
                        layer: Some(i),
                        offset: entry.raw_file_position(),
                    };
                    visit(&path, &node, &mut entry);
                    node
                } else {
                    Node {
                        kind: NodeKind::Other,
                        mode,
                        size: 0,
                        layer: Some(i),
                        offset: 0,
                    }
                };
                match added_at.get(&path) {
                    Some(&k) => added[k].1 = node,
                    None => {
                        added_at.insert(path.clone(), added.len());
                        added.push((path, node));
                    }
                }
            }
            check.finish(stream)?;
            // Whiteouts hide what lower layers put there, never this layer's own entries.
            for d in &opaque {
                remove_below(&mut tree, d, i, false);
            }
            for w in &whiteouts {
                remove_below(&mut tree, w, i, true);
            }
            for (path, node) in added {
                if node.kind != NodeKind::Dir {
                    remove_below(&mut tree, &path, i, false);
                }
                tree.insert(path, node);
            }
        }
        Ok(Filesystem {
            backend: Backend::Image {
                source,
                image: Box::new(image),
            },
            tree,
            limits,
            warnings,
        })
    }

    /// The name of what is viewed (`oci-layout:/x`, `rootfs:/`).
    pub fn name(&self) -> String {
        match &self.backend {
            Backend::Image { source, .. } => source.name(),
            Backend::Dir(d) => format!("rootfs:{}", d.display()),
        }
    }

    /// The resolved image, unless this is a root filesystem directory.
    pub fn image(&self) -> Option<&ResolvedImage> {
        match &self.backend {
            Backend::Image { image, .. } => Some(image),
            Backend::Dir(_) => None,
        }
    }

    /// Problems that did not stop opening (dangling hardlinks).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every path (no leading `/`) and its node, sorted.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.tree.iter().map(|(p, n)| (p.as_str(), n))
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The node at a path, without following a final symlink.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.tree.get(path.trim_start_matches('/'))
    }

    /// The digest (or id) of the layer a node comes from.
    pub fn layer_id(&self, node: &Node) -> Option<String> {
        match (&self.backend, node.layer) {
            (Backend::Image { image, .. }, Some(i)) => image.layers.get(i).map(|l| l.id()),
            _ => None,
        }
    }

    /// Resolves every symlink on a path inside the view (absolute targets from the image
    /// root), returning the final path.
    pub fn resolve(&self, path: &str) -> Result<String, ImageError> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0u32;
        let mut via: Option<(String, String)> = None;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    if cur.pop().is_none() {
                        return Err(match via {
                            Some((path, target)) => ImageError::SymlinkEscape { path, target },
                            None => ImageError::NotFound {
                                path: path.to_owned(),
                            },
                        });
                    }
                    continue;
                }
                _ => {}
            }
            cur.push(c);
            let here = cur.join("/");
            if let Some(Node {
                kind: NodeKind::Symlink(target),
                ..
            }) = self.tree.get(&here)
            {
                hops += 1;
                if hops > self.limits.max_symlink_hops {
                    return Err(ImageError::SymlinkLoop {
                        path: path.to_owned(),
                        hops: self.limits.max_symlink_hops,
                    });
                }
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                pending.extend(target.split('/').rev().map(str::to_owned));
                via = Some((here, target.clone()));
            }
        }
        Ok(cur.join("/"))
    }

    fn file_node(&self, path: &str) -> Result<(String, &Node), ImageError> {
        let resolved = self.resolve(path)?;
        let node = self
            .tree
            .get(&resolved)
            .ok_or_else(|| ImageError::NotFound {
                path: path.to_owned(),
            })?;
        if node.kind != NodeKind::File {
            return Err(ImageError::NotAFile {
                path: path.to_owned(),
            });
        }
        Ok((resolved, node))
    }

    /// Reads one file (following symlinks inside the view).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, ImageError> {
        let mut out = None;
        self.read_files(&[path.to_owned()], |_, r| out = Some(r))?;
        out.unwrap_or_else(|| {
            Err(ImageError::NotFound {
                path: path.to_owned(),
            })
        })
    }

    /// Reads several files, calling `each` once per requested path with its content or the
    /// error for that path. Layers are streamed once each, bottom first, and only layers
    /// holding a requested file are opened. The `Err` return is for failures of a whole
    /// layer (I/O, a corrupt stream).
    pub fn read_files(
        &self,
        paths: &[String],
        mut each: impl FnMut(&str, Result<Vec<u8>, ImageError>),
    ) -> Result<(), ImageError> {
        // layer → data offset → (requested paths, size)
        let mut wanted: BTreeMap<usize, HashMap<u64, (Vec<&str>, u64)>> = BTreeMap::new();
        for p in paths {
            let (resolved, node) = match self.file_node(p) {
                Ok(x) => x,
                Err(e) => {
                    each(p, Err(e));
                    continue;
                }
            };
            if node.size > self.limits.max_file_bytes {
                each(
                    p,
                    Err(ImageError::LimitExceeded {
                        layer: self.layer_id(node).unwrap_or_else(|| self.name()),
                        path: resolved,
                        what: "file size",
                        limit: self.limits.max_file_bytes,
                    }),
                );
                continue;
            }
            match (&self.backend, node.layer) {
                (Backend::Dir(root), _) => each(p, self.read_disk(root, &resolved)),
                (Backend::Image { .. }, Some(l)) => {
                    wanted
                        .entry(l)
                        .or_default()
                        .entry(node.offset)
                        .or_insert_with(|| (Vec::new(), node.size))
                        .0
                        .push(p);
                }
                (Backend::Image { .. }, None) => {
                    each(p, Err(ImageError::NotFound { path: p.clone() }))
                }
            }
        }
        let Backend::Image { source, image } = &self.backend else {
            return Ok(());
        };
        for (l, mut want) in wanted {
            let Some(layer) = image.layers.get(l) else {
                continue;
            };
            let (mut stream, check) = open_layer(source.as_ref(), layer, &self.limits)?;
            let entries = stream
                .entries_with_seek()
                .map_err(|e| check.error(None, e))?;
            for entry in entries {
                if want.is_empty() {
                    break;
                }
                let mut entry = entry.map_err(|e| check.error(None, e))?;
                let Some((requested, size)) = want.remove(&entry.raw_file_position()) else {
                    continue;
                };
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
                let res = (&mut entry)
                    .take(self.limits.max_file_bytes.saturating_add(1))
                    .read_to_end(&mut buf);
                let name = requested.first().copied().unwrap_or_default();
                if let Err(e) = res {
                    let err = check.error(Some(name), e);
                    if matches!(err, ImageError::LimitExceeded { .. }) {
                        return Err(err);
                    }
                    // A corrupt entry fails the files it backs, not the whole read.
                    let reason = err.to_string();
                    for r in requested {
                        each(
                            r,
                            Err(check.error(Some(r), std::io::Error::other(reason.clone()))),
                        );
                    }
                    continue;
                }
                if buf.len() as u64 > self.limits.max_file_bytes {
                    for r in requested {
                        each(
                            r,
                            Err(ImageError::LimitExceeded {
                                layer: check.id().to_owned(),
                                path: r.to_owned(),
                                what: "file size",
                                limit: self.limits.max_file_bytes,
                            }),
                        );
                    }
                    continue;
                }
                let last = requested.len().saturating_sub(1);
                for (k, r) in requested.iter().enumerate() {
                    if k == last {
                        each(r, Ok(std::mem::take(&mut buf)));
                    } else {
                        each(r, Ok(buf.clone()));
                    }
                }
            }
            for (requested, _) in want.into_values() {
                for r in requested {
                    each(
                        r,
                        Err(ImageError::invalid(
                            format!("layer {}", check.id()),
                            format!("{r}: entry vanished between reads"),
                        )),
                    );
                }
            }
        }
        Ok(())
    }

    fn read_disk(&self, root: &Path, rel: &str) -> Result<Vec<u8>, ImageError> {
        let p = root.join(rel);
        let io = |e| ImageError::io(p.display().to_string(), e);
        let f = std::fs::File::open(&p).map_err(io)?;
        let mut buf = Vec::new();
        f.take(self.limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(io)?;
        if buf.len() as u64 > self.limits.max_file_bytes {
            return Err(ImageError::LimitExceeded {
                layer: self.name(),
                path: rel.to_owned(),
                what: "file size",
                limit: self.limits.max_file_bytes,
            });
        }
        Ok(buf)
    }

    /// Writes one file of the view to the same relative path below `target` (creating
    /// directories), refusing anything that would land outside `target`.
    pub fn extract(&self, path: &str, target: &Path) -> Result<PathBuf, ImageError> {
        let (resolved, _) = self.file_node(path)?;
        let content = self.read_file(&resolved)?;
        let dest = safe_join(target, &resolved)?;
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)
                .map_err(|e| ImageError::io(parent.display().to_string(), e))?;
        }
        // Re-check after creating directories: nothing on the path may be a symlink.
        let dest = safe_join(target, &resolved)?;
        fs_err::write(&dest, content).map_err(|e| ImageError::io(dest.display().to_string(), e))?;
        Ok(dest)
    }
}

/// Removes `path` (when `inclusive`) and everything below it that came from layers under
/// `layer`.
fn remove_below(tree: &mut BTreeMap<String, Node>, path: &str, layer: usize, inclusive: bool) {
    let lower = |n: &Node| n.layer.is_none_or(|l| l < layer);
    if inclusive && tree.get(path).is_some_and(lower) {
        tree.remove(path);
    }
    let doomed: Vec<String> = if path.is_empty() {
        tree.iter()
            .filter(|(_, n)| lower(n))
            .map(|(k, _)| k.clone())
            .collect()
    } else {
        let start = format!("{path}/");
        let end = format!("{path}0"); // '0' sorts right after '/'
        tree.range(start..end)
            .filter(|(_, n)| lower(n))
            .map(|(k, _)| k.clone())
            .collect()
    };
    for k in doomed {
        tree.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn entry_paths() {
        assert_eq!(
            normalize_entry("./etc//passwd").unwrap().as_deref(),
            Some("etc/passwd")
        );
        assert_eq!(normalize_entry("./").unwrap(), None);
        assert!(normalize_entry("/etc/passwd").is_err());
        assert!(normalize_entry("a/../../x").is_err());
    }

    #[test]
    fn safe_join_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(safe_join(dir.path(), "../x").is_err());
        assert!(safe_join(dir.path(), "/etc/passwd").is_err());
        std::os::unix::fs::symlink("/tmp", dir.path().join("link")).unwrap();
        assert!(safe_join(dir.path(), "link/x").is_err());
        assert_eq!(
            safe_join(dir.path(), "a/b").unwrap(),
            dir.path().join("a/b")
        );
    }
}
