//! The Debian security tracker as the `vuln-list-debian` tree lays it out: the tracker's
//! `data/CVE/list`, `data/DLA/list` and `data/DSA/list` split into one JSON file per entry,
//! plus the archive's source package lists, as mirrored for trivy-db.
//!
//! ```text
//! vuln-list-debian/tracker/
//!   distributions.json                      codename → {"major-version": "11", ...}
//!   CVE/CVE-2021-33560.json                 {"Header": {"ID", "Description"},
//!   DLA/DLA-2691-1.json                      "Annotations": [{"Type": "package",
//!   DSA/DSA-3714-1.json                        "Release", "Package", "Kind", "Version",
//!                                              "Severity"}, {"Type": "xref", "Bugs"}]}
//!   source/<codename>/main/<x>/<pkg>.json   {"Package": ["openssl"], "Version": ["1.1.1k-1"]}
//!   updates-source/<codename>/...           the same for the security archive
//! ```
//!
//! A package line without `Release` is the unstable line (`- openssl 1.1.1k-1`: fixed in
//! unstable at that version, or `<unfixed>`, `<not-affected>`, ...); a line with one
//! (`[bullseye] - openssl <no-dsa>`) states that release. Releases are what
//! `distributions.json` lists with a major version (sid has none and is kept separately);
//! when that file is unusable the built-in table of [`super::DEBIAN_RELEASES`] stands in.
//!
//! The semantics are trivy-db's (`pkg/vulnsrc/debian`), so that a database built here says
//! what trivy's says for the same tree:
//!
//! - `not-affected` and `undetermined` (on any line, also in DLA/DSA) mean not affected: on
//!   the unstable line for every release, on a release line for that release.
//! - A release line with a version is fixed at that version, unless the release's archive
//!   (newest of `source` and `updates-source`) still ships an older version: then the fix
//!   is not released yet and the entry is affected without a fix (`pending_fix` keeps it).
//! - A release line without a version (`no-dsa`, `ignored`, `postponed`, `end-of-life`,
//!   `unfixed`, `removed`) is affected without a fix, unless the release's archive already
//!   ships the unstable fixed version or a newer one: then it is fixed at the unstable
//!   version (the tracker's `no-dsa` is sometimes stale).
//! - A release with no line of its own takes the unstable line when its archive ships the
//!   package: fixed at the unstable version when the archive version is at least that,
//!   otherwise affected without a fix. Releases that do not ship the package get nothing.
//! - DLA/DSA package lines add fixed versions for the CVEs named by the advisory's xref
//!   (or for the advisory itself when it names none): a newer version replaces an older
//!   one or a missing one, and the advisory id is recorded on the entry.
//!
//! Beyond trivy-db, unstable gets entries of its own (release `sid`, as the scanner names
//! images without `VERSION_ID`) straight from the unstable line; `<itp>` lines (packages
//! not in Debian yet) give none.
//!
//! Output is the same shape as [`super::import_debian_tracker`]'s: one advisory per CVE
//! (`DEBIAN-CVE-…`, aliased to the CVE) or per DLA/DSA that names no CVE
//! (`DEBIAN-DSA-3714-1`, aliased to `DSA-3714-1`), with one `Debian` affected entry per
//! release and source package holding the dpkg range `introduced 0` [`fixed V`], and each
//! entry's tracker state in `database_specific`. A DLA/DSA that the data links to exactly
//! one CVE (through either side's xref) is an alias of that CVE; one that covers several
//! CVEs is only `related`, since the matcher merges advisories sharing an alias and several
//! CVEs fixed together are still several vulnerabilities. The vendor severity is the
//! highest urgency of the unstable lines (`unimportant`, `low`, `medium`, `high`).
//!
//! Files that cannot be read or parsed, and lines with a version that is not a dpkg
//! version, are reported with the file and the annotation (its line in the tracker's list)
//! and skipped; the rest of the tree is imported. Written here because the layout is a
//! bespoke one that no crate reads.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::debian::{DEBIAN_RELEASES, one_line, urgency};
use super::{Import, read, walk};
use crate::advisory::{Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind, Reference};
use crate::version::dpkg;

/// Kinds meaning "not affected"; trivy-db skips the same two.
const NOT_AFFECTED: &[&str] = &["not-affected", "undetermined"];

/// Prefixes of Debian advisory ids (security, LTS, and the old testing advisories).
const ADVISORY_PREFIXES: &[&str] = &["DSA-", "DLA-", "DTSA-"];

/// What is wrong with one file of a vuln-list-debian tree, or with one line of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VulnListDebianError {
    /// The file is not the JSON this place of the tree holds.
    #[error("not a valid {what}: {reason}")]
    Json {
        /// What the file should be (`tracker entry`, `source package record`, ...).
        what: &'static str,
        /// The parser's message, with line and column.
        reason: String,
    },
    /// A tracker entry without `Header.ID`.
    #[error("tracker entry without Header.ID")]
    NoId,
    /// A package line without a package name.
    #[error("{place}: package line without a package name")]
    NoPackage {
        /// The annotation.
        place: String,
    },
    /// A version that is not a Debian version.
    #[error("{place}: {version:?} is not a Debian version: {reason}")]
    Version {
        /// The annotation or field.
        place: String,
        /// The version as given.
        version: String,
        /// Why it does not parse.
        reason: String,
    },
}

fn json_err(what: &'static str) -> impl Fn(serde_json::Error) -> VulnListDebianError {
    move |e| VulnListDebianError::Json {
        what,
        reason: e.to_string(),
    }
}

/// One tracker entry (`CVE/…json`, `DLA/…json`, `DSA/…json`).
#[derive(Debug, Deserialize)]
struct Bug {
    #[serde(rename = "Header")]
    header: Header,
    #[serde(rename = "Annotations", default)]
    annotations: Option<Vec<Annotation>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Header {
    #[serde(rename = "ID")]
    id: Option<String>,
    description: Option<String>,
    original: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Annotation {
    original: Option<String>,
    line: Option<u64>,
    #[serde(rename = "Type")]
    ty: Option<String>,
    release: Option<String>,
    package: Option<String>,
    kind: Option<String>,
    version: Option<String>,
    severity: Option<String>,
    bugs: Option<Vec<String>>,
    bug_no: Option<serde_json::Value>,
}

impl Annotation {
    /// Where the annotation is, for messages: its index and its line in the tracker list.
    fn place(&self, index: usize) -> String {
        let mut s = format!("annotation {}", index + 1);
        if let Some(line) = self.line {
            s.push_str(&format!(" (list line {line}"));
            if let Some(o) = &self.original {
                let o: String = o.chars().take(80).collect();
                s.push_str(&format!(": {o:?}"));
            }
            s.push(')');
        } else if let Some(o) = &self.original {
            let o: String = o.chars().take(80).collect();
            s.push_str(&format!(" ({o:?})"));
        }
        s
    }

    fn text(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}

/// One record of a source package list.
#[derive(Debug, Deserialize)]
struct SourceRecord {
    #[serde(rename = "Package", default)]
    package: Option<Vec<String>>,
    #[serde(rename = "Version", default)]
    version: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Distribution {
    #[serde(rename = "major-version", default)]
    major_version: Option<String>,
}

/// (vulnerability id, source package, codename).
type Key = (String, String, String);

/// What one release says about one package and vulnerability.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// The fixed version; `None`: affected, no fix.
    fixed: Option<String>,
    /// The kind of a release line that gave no version (`no-dsa`, `ignored`, ...). Only such
    /// entries may be corrected from the unstable line.
    state: Option<String>,
    /// A fixed version the release's archive does not ship yet.
    pending_fix: Option<String>,
    /// DLA/DSA ids that fixed it.
    advisories: Vec<String>,
    /// Derived from the unstable line and the release's archive version.
    from_unstable: bool,
}

/// The unstable line of one package and vulnerability.
#[derive(Debug, Clone)]
struct UnstableLine {
    version: Option<String>,
    kind: String,
}

#[derive(Debug, Default)]
struct Details {
    description: Option<String>,
    published: Option<String>,
    bug: Option<serde_json::Value>,
}

#[derive(Debug, Default)]
struct Tree {
    /// Codename → version number, without sid.
    releases: BTreeMap<String, String>,
    /// (codename, source package) → newest version in the archive.
    archive: HashMap<(String, String), String>,
    /// (vulnerability id, package) → the unstable line.
    unstable: BTreeMap<(String, String), UnstableLine>,
    /// (vulnerability id, package) → urgency word.
    urgencies: BTreeMap<(String, String), String>,
    entries: BTreeMap<Key, Entry>,
    /// Not-affected lines; codename `""` is the unstable line (every release).
    not_affected: HashSet<Key>,
    details: BTreeMap<String, Details>,
    /// DLA/DSA id → the vulnerability ids the data links it to.
    links: BTreeMap<String, BTreeSet<String>>,
}

/// The `tracker` directory of a vuln-list-debian tree, given the tree (`vuln-list-debian`)
/// or the `tracker` directory itself; `None` when `path` is neither. A directory counts when
/// it holds `distributions.json` and is named `tracker` or has one of the tree's
/// subdirectories (`CVE`, `DLA`, `DSA`, `source`, `updates-source`).
pub fn vulnlist_debian_tracker(path: &Path) -> Option<PathBuf> {
    [path.join("tracker"), path.to_owned()]
        .into_iter()
        .find(|dir| {
            dir.join("distributions.json").is_file()
                && (dir.file_name().is_some_and(|n| n == "tracker")
                    || ["CVE", "DLA", "DSA", "source", "updates-source"]
                        .iter()
                        .any(|sub| dir.join(sub).is_dir()))
        })
}

/// Imports a vuln-list-debian tree (the `vuln-list-debian` directory or its `tracker`
/// directory). Unusable files and lines are reported in the import and skipped.
pub fn import_vulnlist_debian(path: &Path, source: &str) -> Import {
    let mut import = Import::new(source);
    let root = vulnlist_debian_tracker(path).unwrap_or_else(|| path.to_owned());
    let mut tree = Tree::default();
    tree.load_distributions(&root, &mut import);
    for sub in ["source", "updates-source"] {
        tree.load_sources(&root.join(sub), &mut import);
    }
    for sub in ["CVE", "DLA", "DSA"] {
        let dir = root.join(sub);
        if !dir.is_dir() {
            continue;
        }
        for file in walk(&dir, &["json"], &mut import) {
            let Some(text) = read(&file, &mut import) else {
                continue;
            };
            let res = serde_json::from_str::<Bug>(&text)
                .map_err(json_err("tracker entry"))
                .and_then(|bug| {
                    if sub == "CVE" {
                        tree.add_cve(bug)
                    } else {
                        tree.add_advisory(bug)
                    }
                });
            match res {
                Ok(problems) => {
                    for p in problems {
                        import.error(&file, p.to_string());
                    }
                }
                Err(e) => import.error(&file, e.to_string()),
            }
        }
    }
    tree.derive();
    let stale = tree.drop_unknown_releases();
    if !stale.is_empty() {
        import.skip(
            &root,
            format!(
                "lines for releases not in distributions.json not imported: {}",
                stale
                    .iter()
                    .map(|(c, n)| format!("{c} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    for a in tree.advisories(source) {
        import.push(a);
    }
    import
}

fn cmp(a: &str, b: &str) -> Ordering {
    // Versions are checked when read; an unparsable one sorts by text rather than panicking.
    dpkg::compare(a, b).unwrap_or_else(|_| a.cmp(b))
}

fn check_version(place: impl FnOnce() -> String, v: &str) -> Result<(), VulnListDebianError> {
    dpkg::parse(v)
        .map(|_| ())
        .map_err(|e| VulnListDebianError::Version {
            place: place(),
            version: v.to_owned(),
            reason: e.to_string(),
        })
}

impl Tree {
    fn load_distributions(&mut self, root: &Path, import: &mut Import) {
        let path = root.join("distributions.json");
        let parsed = if path.is_file() {
            read(&path, import).and_then(|text| {
                match serde_json::from_str::<BTreeMap<String, Distribution>>(&text) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        let e = json_err("distributions.json (codename → major-version)")(e);
                        import.error(
                            &path,
                            format!("{e}; using the built-in Debian release table"),
                        );
                        None
                    }
                }
            })
        } else {
            import.error(
                &path,
                "missing; using the built-in Debian release table".to_owned(),
            );
            None
        };
        match parsed {
            Some(d) => {
                for (codename, dist) in d {
                    if let Some(v) = dist.major_version.filter(|v| !v.trim().is_empty()) {
                        self.releases
                            .insert(codename.to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
            }
            None => {
                for (c, n) in DEBIAN_RELEASES {
                    self.releases.insert((*c).to_owned(), (*n).to_owned());
                }
            }
        }
    }

    /// Reads `source/<codename>/**.json` (one record or an array of them per file), keeping
    /// the newest version of each package per release.
    fn load_sources(&mut self, dir: &Path, import: &mut Import) {
        if !dir.is_dir() {
            return;
        }
        let mut codenames: Vec<(String, PathBuf)> = match fs_err::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect(),
            Err(e) => {
                import.error(dir, e.to_string());
                return;
            }
        };
        codenames.sort();
        for (codename, cdir) in codenames {
            if !self.releases.contains_key(&codename) {
                import.skip(&cdir, "release not in distributions.json");
                continue;
            }
            for file in walk(&cdir, &["json"], import) {
                let Some(text) = read(&file, import) else {
                    continue;
                };
                let records = if text.trim_start().starts_with('[') {
                    serde_json::from_str::<Vec<SourceRecord>>(&text)
                } else {
                    serde_json::from_str::<SourceRecord>(&text).map(|r| vec![r])
                };
                let records = match records {
                    Ok(r) => r,
                    Err(e) => {
                        import.error(&file, json_err("source package record")(e).to_string());
                        continue;
                    }
                };
                for (i, r) in records.into_iter().enumerate() {
                    let name = r.package.and_then(|p| p.into_iter().next());
                    let version = r.version.and_then(|v| v.into_iter().next());
                    let (Some(name), Some(version)) = (name, version) else {
                        continue;
                    };
                    let (name, version) = (name.trim().to_owned(), version.trim().to_owned());
                    if let Err(e) = check_version(|| format!("record {} Version", i + 1), &version)
                    {
                        import.error(&file, e.to_string());
                        continue;
                    }
                    let slot = self.archive.entry((codename.clone(), name)).or_default();
                    if slot.is_empty() || cmp(slot, &version) == Ordering::Less {
                        *slot = version;
                    }
                }
            }
        }
    }

    fn header_id(bug: &Bug) -> Result<String, VulnListDebianError> {
        Annotation::text(&bug.header.id)
            .map(str::to_owned)
            .ok_or(VulnListDebianError::NoId)
    }

    fn add_details(&mut self, id: &str, header: &Header, bug: Option<serde_json::Value>) {
        let d = self.details.entry(id.to_owned()).or_default();
        if d.description.is_none() {
            d.description = Annotation::text(&header.description).map(str::to_owned);
        }
        if d.published.is_none() {
            d.published = header.original.as_deref().and_then(header_date);
        }
        if d.bug.is_none() {
            d.bug = bug;
        }
    }

    /// A `CVE/` entry: the unstable and release lines.
    fn add_cve(&mut self, bug: Bug) -> Result<Vec<VulnListDebianError>, VulnListDebianError> {
        let id = Self::header_id(&bug)?;
        let mut problems = Vec::new();
        let annotations = bug.annotations.unwrap_or_default();
        let first_bug = annotations.iter().find_map(|a| a.bug_no.clone());
        self.add_details(&id, &bug.header, first_bug);
        for (i, ann) in annotations.iter().enumerate() {
            match ann.ty.as_deref() {
                Some("xref") => {
                    for b in ann.bugs.iter().flatten() {
                        if ADVISORY_PREFIXES.iter().any(|p| b.starts_with(p)) {
                            self.links
                                .entry(b.trim().to_owned())
                                .or_default()
                                .insert(id.clone());
                        }
                    }
                    continue;
                }
                Some("package") => {}
                _ => continue,
            }
            let Some(pkg) = Annotation::text(&ann.package).map(str::to_owned) else {
                problems.push(VulnListDebianError::NoPackage {
                    place: ann.place(i),
                });
                continue;
            };
            let release = Annotation::text(&ann.release).map(str::to_ascii_lowercase);
            let kind = Annotation::text(&ann.kind).unwrap_or("").to_owned();
            let key = (id.clone(), pkg.clone(), release.clone().unwrap_or_default());
            if NOT_AFFECTED.contains(&kind.as_str()) {
                self.not_affected.insert(key);
                continue;
            }
            let version = Annotation::text(&ann.version).map(str::to_owned);
            if let Some(v) = &version
                && let Err(e) = check_version(|| ann.place(i), v)
            {
                problems.push(e);
                continue;
            }
            let pk = (id.clone(), pkg.clone());
            if let Some(sev) = Annotation::text(&ann.severity) {
                // The unstable line's urgency wins; a release line's only fills a gap.
                if release.is_none() || !self.urgencies.contains_key(&pk) {
                    self.urgencies.insert(pk.clone(), sev.to_owned());
                }
            }
            let Some(release) = release else {
                self.unstable.insert(pk, UnstableLine { version, kind });
                continue;
            };
            let mut entry = Entry::default();
            match version {
                Some(v) => {
                    let shipped = self.archive.get(&(release.clone(), pkg.clone()));
                    if shipped.is_some_and(|s| cmp(s, &v) == Ordering::Less) {
                        // Fixed in the tracker, but the archive does not ship the fix yet.
                        entry.state = Some(if kind == "fixed" {
                            "unfixed".to_owned()
                        } else {
                            kind
                        });
                        entry.pending_fix = Some(v);
                    } else {
                        entry.fixed = Some(v);
                    }
                }
                None => entry.state = Some(kind),
            }
            self.entries.insert(key, entry);
        }
        Ok(problems)
    }

    /// A `DLA/` or `DSA/` entry: fixed versions per release for the CVEs it names.
    fn add_advisory(&mut self, bug: Bug) -> Result<Vec<VulnListDebianError>, VulnListDebianError> {
        let adv_id = Self::header_id(&bug)?;
        let mut problems = Vec::new();
        let mut vuln_ids: Vec<String> = Vec::new();
        let annotations = bug.annotations.unwrap_or_default();
        for (i, ann) in annotations.iter().enumerate() {
            match ann.ty.as_deref() {
                Some("xref") => {
                    vuln_ids = ann
                        .bugs
                        .iter()
                        .flatten()
                        .map(|b| b.trim().to_owned())
                        .filter(|b| !b.is_empty())
                        .collect();
                    let linked = self.links.entry(adv_id.clone()).or_default();
                    linked.extend(vuln_ids.iter().cloned());
                    continue;
                }
                Some("package") => {}
                _ => continue,
            }
            let Some(pkg) = Annotation::text(&ann.package).map(str::to_owned) else {
                problems.push(VulnListDebianError::NoPackage {
                    place: ann.place(i),
                });
                continue;
            };
            // Advisories are per release; a line without one names none (trivy-db drops it).
            let Some(release) = Annotation::text(&ann.release).map(str::to_ascii_lowercase) else {
                continue;
            };
            let kind = Annotation::text(&ann.kind).unwrap_or("");
            let version = Annotation::text(&ann.version).map(str::to_owned);
            if let Some(v) = &version
                && let Err(e) = check_version(|| ann.place(i), v)
            {
                problems.push(e);
                continue;
            }
            let ids = if vuln_ids.is_empty() {
                // An advisory that names no CVE (DSA-3714-1) stands for itself.
                self.add_details(&adv_id, &bug.header, None);
                vec![adv_id.clone()]
            } else {
                vuln_ids.clone()
            };
            for vid in ids {
                let key = (vid, pkg.clone(), release.clone());
                if NOT_AFFECTED.contains(&kind) {
                    self.not_affected.insert(key);
                    continue;
                }
                let entry = self.entries.entry(key).or_default();
                let newer = match (&version, &entry.fixed) {
                    (Some(v), Some(old)) => cmp(v, old) == Ordering::Greater,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if newer {
                    entry.fixed = version.clone();
                    entry.state = None;
                    entry.pending_fix = None;
                }
                if !entry.advisories.contains(&adv_id) {
                    entry.advisories.push(adv_id.clone());
                }
            }
        }
        Ok(problems)
    }

    /// Fills the releases without a line of their own (or with a stale one) from the
    /// unstable line and each release's archive version, then adds the unstable entries.
    fn derive(&mut self) {
        let unstable = std::mem::take(&mut self.unstable);
        for ((id, pkg), line) in &unstable {
            if self
                .not_affected
                .contains(&(id.clone(), pkg.clone(), String::new()))
            {
                continue;
            }
            for codename in self.releases.keys() {
                let key = (id.clone(), pkg.clone(), codename.clone());
                if self.not_affected.contains(&key) {
                    continue;
                }
                let existing = self.entries.get(&key);
                if existing.is_some_and(|e| e.state.is_none()) {
                    continue;
                }
                let Some(shipped) = self.archive.get(&(codename.clone(), pkg.clone())) else {
                    continue;
                };
                let fixed = line
                    .version
                    .as_ref()
                    .filter(|v| cmp(shipped, v) != Ordering::Less);
                match (fixed, existing) {
                    (Some(v), existing) => {
                        let advisories = existing.map(|e| e.advisories.clone()).unwrap_or_default();
                        self.entries.insert(
                            key,
                            Entry {
                                fixed: Some(v.clone()),
                                advisories,
                                from_unstable: true,
                                ..Entry::default()
                            },
                        );
                    }
                    (None, None) => {
                        self.entries.insert(
                            key,
                            Entry {
                                from_unstable: true,
                                ..Entry::default()
                            },
                        );
                    }
                    // The release's own line (no-dsa, ignored, ...) stands.
                    (None, Some(_)) => {}
                }
            }
            if line.kind != "itp" {
                let key = (id.clone(), pkg.clone(), "sid".to_owned());
                let entry = Entry {
                    fixed: line.version.clone(),
                    state: line.version.is_none().then(|| line.kind.clone()),
                    ..Entry::default()
                };
                self.entries.entry(key).or_insert(entry);
            }
        }
        self.unstable = unstable;
    }

    /// Drops entries of codenames that are neither a release nor sid; returns how many
    /// per codename.
    fn drop_unknown_releases(&mut self) -> BTreeMap<String, usize> {
        let mut stale: BTreeMap<String, usize> = BTreeMap::new();
        let releases = &self.releases;
        self.entries.retain(|(_, _, codename), _| {
            let keep = codename == "sid" || releases.contains_key(codename);
            if !keep {
                *stale.entry(codename.clone()).or_default() += 1;
            }
            keep
        });
        stale
    }

    fn advisories(&self, source: &str) -> Vec<Advisory> {
        let mut by_id: BTreeMap<&str, Vec<(&str, &str, &Entry)>> = BTreeMap::new();
        for ((id, pkg, codename), e) in &self.entries {
            by_id
                .entry(id)
                .or_default()
                .push((pkg.as_str(), codename.as_str(), e));
        }
        // Vulnerability id → the DLA/DSA ids linked to it, and whether one-to-one.
        let mut linked: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
        for (adv, ids) in &self.links {
            for id in ids {
                linked
                    .entry(id.as_str())
                    .or_default()
                    .push((adv.as_str(), ids.len() == 1));
            }
        }
        let mut out = Vec::with_capacity(by_id.len());
        for (id, mut entries) in by_id {
            let mut a = Advisory::new(format!("DEBIAN-{id}"), source);
            let is_cve = id.starts_with("CVE-");
            if is_cve || ADVISORY_PREFIXES.iter().any(|p| id.starts_with(p)) {
                a.aliases.push(id.to_owned());
            }
            a.references.push(tracker_ref(id));
            for (adv, one_to_one) in linked.get(id).into_iter().flatten() {
                if *one_to_one {
                    a.aliases.push((*adv).to_owned());
                } else {
                    a.related.push((*adv).to_owned());
                }
                a.references.push(tracker_ref(adv));
            }
            if let Some(d) = self.details.get(id) {
                a.details = d.description.clone();
                a.summary = d.description.as_deref().map(one_line);
                a.published = d.published.clone();
                if let Some(bug) = &d.bug {
                    a.database_specific = Some(serde_json::json!({ "debianbug": bug }));
                }
            }
            let mut best: Option<u8> = None;
            entries.sort_by(|x, y| {
                (x.0, release_rank(&self.releases, x.1))
                    .cmp(&(y.0, release_rank(&self.releases, y.1)))
            });
            for (pkg, codename, e) in entries {
                let urgency_word = self.urgencies.get(&(id.to_owned(), pkg.to_owned()));
                if let Some((rank, word)) = urgency_word.and_then(|u| urgency(u))
                    && best.is_none_or(|b| rank > b)
                {
                    best = Some(rank);
                    a.vendor_severity = Some(word.to_owned());
                }
                let release = if codename == "sid" {
                    "sid".to_owned()
                } else {
                    self.releases
                        .get(codename)
                        .cloned()
                        .unwrap_or_else(|| codename.to_owned())
                };
                let mut affected = Affected::new(Package {
                    ecosystem: Ecosystem::Debian,
                    release: Some(release),
                    name: pkg.to_owned(),
                    purl: Some(format!("pkg:deb/debian/{pkg}")),
                });
                let mut events = vec![Event::Introduced("0".into())];
                if let Some(v) = &e.fixed {
                    events.push(Event::Fixed(v.clone()));
                }
                affected.ranges.push(Range {
                    kind: RangeKind::Ecosystem,
                    repo: None,
                    events,
                    database_specific: None,
                });
                affected.database_specific = Some(entry_specific(
                    codename,
                    e,
                    urgency_word.map(String::as_str),
                ));
                a.affected.push(affected);
            }
            out.push(a);
        }
        out
    }
}

/// Sort key of a release: by version number, sid last.
fn release_rank(releases: &BTreeMap<String, String>, codename: &str) -> (u32, u32) {
    if codename == "sid" {
        return (u32::MAX, 0);
    }
    let number = releases.get(codename).map_or(codename, String::as_str);
    let mut parts = number.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), minor) => (major, minor.unwrap_or(0)),
        (None, _) => (u32::MAX - 1, 0),
    }
}

fn tracker_ref(id: &str) -> Reference {
    Reference {
        kind: "ADVISORY".into(),
        url: format!("https://security-tracker.debian.org/tracker/{id}"),
    }
}

/// The entry's tracker state: codename, status (`fixed`, `affected`, `will_not_fix`,
/// `fix_deferred`, `end_of_life`, as trivy-db names them), the kind of the release line,
/// urgency, the DLA/DSA ids, a fix not yet in the archive, and whether it was derived from
/// the unstable line.
fn entry_specific(codename: &str, e: &Entry, urgency: Option<&str>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("codename".into(), codename.into());
    let status = match (&e.fixed, e.state.as_deref()) {
        (Some(_), _) => "fixed",
        (None, Some("ignored")) => "will_not_fix",
        (None, Some("postponed")) => "fix_deferred",
        (None, Some("end-of-life")) => "end_of_life",
        (None, _) => "affected",
    };
    m.insert("status".into(), status.into());
    if let Some(s) = &e.state {
        m.insert("state".into(), s.clone().into());
    }
    if let Some(u) = urgency {
        m.insert("urgency".into(), u.into());
    }
    if !e.advisories.is_empty() {
        m.insert("advisories".into(), e.advisories.clone().into());
    }
    if let Some(p) = &e.pending_fix {
        m.insert("pending_fix".into(), p.clone().into());
    }
    if e.from_unstable {
        m.insert("from_unstable".into(), true.into());
    }
    m.into()
}

/// The date of a DLA/DSA header line (`[25 Jun 2021] DLA-2691-1 …` → `2021-06-25`).
fn header_date(original: &str) -> Option<String> {
    let inner = original.trim().strip_prefix('[')?.split_once(']')?.0;
    let mut it = inner.split_whitespace();
    let day: u32 = it.next()?.parse().ok()?;
    let month = match it.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: u32 = it.next()?.parse().ok()?;
    (it.next().is_none() && (1..=31).contains(&day) && year >= 1990)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn header_dates() {
        assert_eq!(
            header_date("[25 Jun 2021] DLA-2691-1 libgcrypt20 - security update").as_deref(),
            Some("2021-06-25")
        );
        assert_eq!(header_date("CVE-2021-1 (x)"), None);
        assert_eq!(header_date("[99 Jun 2021] DSA-1"), None);
        assert_eq!(header_date("[1 Foo 2021] DSA-1"), None);
    }

    #[test]
    fn release_order() {
        let mut r = BTreeMap::new();
        r.insert("bullseye".to_owned(), "11".to_owned());
        r.insert("stretch".to_owned(), "9".to_owned());
        let mut names = vec!["sid", "bullseye", "stretch"];
        names.sort_by_key(|c| release_rank(&r, c));
        assert_eq!(names, ["stretch", "bullseye", "sid"]);
    }

    #[test]
    fn bad_lines_are_problems_not_panics() {
        let mut t = Tree::default();
        t.releases.insert("bullseye".into(), "11".into());
        let bug: Bug = serde_json::from_str(
            r#"{"Header": {"ID": "CVE-1"}, "Annotations": [
                {"Type": "package", "Package": "p", "Kind": "fixed", "Version": "!!", "Line": 7,
                 "Original": "- p !!"},
                {"Type": "package", "Kind": "fixed", "Version": "1"},
                {"Type": "package", "Release": "bullseye", "Package": "p", "Kind": "no-dsa"}]}"#,
        )
        .unwrap();
        let problems = t.add_cve(bug).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].to_string().starts_with(
                "annotation 1 (list line 7: \"- p !!\"): \"!!\" is not a Debian version: "
            ),
            "{}",
            problems[0]
        );
        assert!(problems[1].to_string().starts_with("annotation 2"));
        let no_id: Bug = serde_json::from_str(r#"{"Header": {}}"#).unwrap();
        assert_eq!(t.add_cve(no_id), Err(VulnListDebianError::NoId));
    }
}
