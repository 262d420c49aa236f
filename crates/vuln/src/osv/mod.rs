//! Importers: advisory databases on disk into the [advisory model](crate::advisory).
//!
//! | source | format | importer |
//! |---|---|---|
//! | OSV databases (golang/vulndb `data/osv`, PyPA `vulns`, any OSV export) | OSV JSON or YAML, one record per file | [`import_osv_dir`] |
//! | RustSec advisory-db | Markdown with a `toml` front-matter block | [`import_rustsec`] |
//! | Node.js security WG | its own JSON (`vulnerable_versions`/`patched_versions`) | [`import_nodejs`] |
//! | Alpine secdb | YAML or JSON: packages → `secfixes` fixed version → ids | [`import_alpine_secdb`] |
//! | Debian security tracker | its JSON export: source package → issue → release status | [`import_debian_tracker`] |
//! | Debian security tracker, `vuln-list-debian` tree (trivy-db's input) | one JSON file per CVE/DLA/DSA entry of the tracker's lists, plus the archive's source package versions | [`import_vulnlist_debian`] |
//! | CISA KEV | JSON catalog | [`load_kev`] |
//!
//! Every importer walks its directory in a fixed (sorted) order, never panics, and returns
//! what it read together with an [`ImportReport`]: files read, advisories produced, and one
//! [`FileError`] per file it could not use (file and reason), so one bad record never hides
//! the rest of a database.

mod alpine;
mod debian;
mod kev;
mod nodejs;
mod record;
mod rustsec;
mod vulnlist_debian;

use std::path::{Path, PathBuf};

use crate::advisory::Advisory;

pub use alpine::{import_alpine_secdb, import_alpine_secdb_files, parse_secdb};
pub use debian::{
    DEBIAN_RELEASES, DebianTrackerError, debian_release, import_debian_tracker,
    parse_debian_tracker,
};
pub use kev::{KevCatalog, KevEntry, KevError, load_kev, parse_kev};
pub use nodejs::{import_nodejs, parse_nodejs_core, parse_nodejs_npm};
pub use record::{OsvError, import_osv_dir, parse_osv_json, parse_osv_yaml};
pub use rustsec::{RustSecError, import_rustsec, parse_rustsec};
pub use vulnlist_debian::{VulnListDebianError, import_vulnlist_debian, vulnlist_debian_tracker};

/// A file an importer could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What an import read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The source name given to the advisories (`Advisory::source`).
    pub source: String,
    /// Files read.
    pub files: usize,
    /// Advisories produced.
    pub advisories: usize,
    /// Files deliberately not imported, with the reason (aggregate indexes, non-advisories).
    pub skipped: Vec<FileError>,
    /// Files that failed to import.
    pub errors: Vec<FileError>,
}

/// Advisories and the report of one import.
#[derive(Debug, Clone, Default)]
pub struct Import {
    /// The advisories.
    pub advisories: Vec<Advisory>,
    /// What happened.
    pub report: ImportReport,
}

impl Import {
    pub(crate) fn new(source: &str) -> Import {
        Import {
            advisories: Vec::new(),
            report: ImportReport {
                source: source.to_owned(),
                ..ImportReport::default()
            },
        }
    }

    pub(crate) fn push(&mut self, advisory: Advisory) {
        self.report.advisories += 1;
        self.advisories.push(advisory);
    }

    pub(crate) fn error(&mut self, path: &Path, reason: impl Into<String>) {
        self.report.errors.push(FileError {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }

    pub(crate) fn skip(&mut self, path: &Path, reason: impl Into<String>) {
        self.report.skipped.push(FileError {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }
}

/// Files under `dir` (recursively) whose extension is one of `exts`, sorted. Directories that
/// cannot be read are reported into `import`.
pub(crate) fn walk(dir: &Path, exts: &[&str], import: &mut Import) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match fs_err::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                import.error(&d, e.to_string());
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    import.error(&d, e.to_string());
                    continue;
                }
            };
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Reads a file as UTF-8, reporting failure into `import`.
pub(crate) fn read(path: &Path, import: &mut Import) -> Option<String> {
    import.report.files += 1;
    match fs_err::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) => {
            import.error(path, e.to_string());
            None
        }
    }
}
