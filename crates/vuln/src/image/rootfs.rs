//! A root filesystem directory (`--rootfs`): an unpacked image or a host's `/`.
//!
//! The directory is walked once without following symlinks; the view records symlinks as
//! nodes, so resolution stays inside the directory exactly as for images. Pseudo
//! filesystems (`proc`, `sys`, `dev`) directly under the root are skipped; a node scan skips
//! volatile and container storage directories as well ([`HOST_SKIP`]).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::view::{Filesystem, NodeKind};
use super::{ImageError, Limits};

/// What a host scan leaves out besides the pseudo filesystems: volatile directories and
/// container runtimes' storage (container images are scanned as images, not as files of the
/// node), relative to the root.
pub const HOST_SKIP: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "var/tmp",
    "var/log",
    "var/cache",
    "var/lib/containerd",
    "var/lib/docker",
    "var/lib/containers",
    "var/lib/kubelet/pods",
];

/// Opens a root filesystem directory.
pub fn open_rootfs(dir: &Path, limits: Limits) -> Result<Filesystem, ImageError> {
    open_rootfs_skipping(dir, limits, &["proc", "sys", "dev"])
}

/// Opens a root filesystem directory leaving out the directories `skip` names (paths
/// relative to `dir`, e.g. [`HOST_SKIP`] for a node's `/`).
pub fn open_rootfs_skipping(
    dir: &Path,
    limits: Limits,
    skip: &[&str],
) -> Result<Filesystem, ImageError> {
    let what = dir.display().to_string();
    if !dir.is_dir() {
        return Err(ImageError::invalid(what, "not a directory"));
    }
    let mut tree = BTreeMap::new();
    let mut stack: Vec<(std::path::PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&abs) {
            Ok(rd) => rd,
            // Unreadable directories (permissions) are skipped, as a scanner running
            // unprivileged on a host would.
            Err(_) => continue,
        };
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if skip.contains(&child_rel.as_str()) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            let ft = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            let kind = if ft.is_symlink() {
                let target = std::fs::read_link(entry.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                NodeKind::Symlink(target)
            } else if ft.is_dir() {
                stack.push((entry.path(), child_rel.clone()));
                NodeKind::Dir
            } else if ft.is_file() {
                NodeKind::File
            } else {
                NodeKind::Other
            };
            let size = if kind == NodeKind::File {
                meta.len()
            } else {
                0
            };
            tree.insert(child_rel, Filesystem::dir_node(kind, mode, size));
            if tree.len() as u64 > limits.max_entries {
                return Err(ImageError::LimitExceeded {
                    layer: what,
                    path: "(directory walk)".into(),
                    what: "entry count",
                    limit: limits.max_entries,
                });
            }
        }
    }
    Ok(Filesystem::from_dir(dir.to_path_buf(), tree, limits))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
    use super::*;

    #[test]
    fn a_node_scan_leaves_out_volatile_and_container_storage() {
        let root = tempfile::tempdir().unwrap();
        for dir in [
            "var/lib/dpkg",
            "var/lib/docker/overlay2/abc/diff/usr",
            "var/lib/kubelet/pods/uid/volumes",
            "tmp/build",
            "srv/tmp",
            "usr/lib",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        std::fs::write(root.path().join("var/lib/dpkg/status"), "").unwrap();
        let host = open_rootfs_skipping(root.path(), Limits::default(), HOST_SKIP).unwrap();
        assert!(host.node("var/lib/dpkg/status").is_some());
        assert!(
            host.node("srv/tmp").is_some(),
            "only top-level tmp is volatile"
        );
        assert!(host.node("var/lib/docker").is_none());
        assert!(host.node("var/lib/docker/overlay2/abc/diff/usr").is_none());
        assert!(host.node("var/lib/kubelet/pods").is_none());
        assert!(host.node("var/lib/kubelet").is_some());
        assert!(host.node("tmp").is_none());
        // An image's root filesystem keeps them all.
        let image = open_rootfs(root.path(), Limits::default()).unwrap();
        assert!(image.node("tmp/build").is_some());
        assert!(image.node("var/lib/docker/overlay2/abc/diff/usr").is_some());
    }
}
