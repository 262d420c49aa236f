//! A root filesystem directory (`--rootfs`): an unpacked image or a host's `/`.
//!
//! The directory is walked once without following symlinks; the view records symlinks as
//! nodes, so resolution stays inside the directory exactly as for images. Pseudo
//! filesystems (`proc`, `sys`, `dev`) directly under the root are skipped.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::view::{Filesystem, NodeKind};
use super::{ImageError, Limits};

/// Opens a root filesystem directory.
pub fn open_rootfs(dir: &Path, limits: Limits) -> Result<Filesystem, ImageError> {
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
            if rel.is_empty() && matches!(name.as_str(), "proc" | "sys" | "dev") {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
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
