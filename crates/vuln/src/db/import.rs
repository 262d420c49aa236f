//! Format detection, source import, merge and the atomic rewrite.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    Database, DbError, FORMAT_VERSION, Header, MAGIC, Section, SourceStatus, db_path, io_err,
    key_bytes, now, signature_path, wire,
};
use crate::advisory::Advisory;
use crate::matcher::names::normalize_name;
use crate::osv::{self, Import, KevCatalog};
use crate::scan::{EpssScores, parse_epss_csv};

/// Largest decompressed EPSS CSV or zip member accepted.
const MAX_INPUT_BYTES: u64 = 2 << 30;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Format {
    /// A directory of OSV records (JSON or YAML), or one record file.
    Osv,
    /// An osv.dev export archive (`<ecosystem>/all.zip`) of OSV JSON records.
    OsvZip,
    /// A RustSec advisory-db checkout.
    RustSec,
    /// A Node.js security-wg checkout.
    NodejsWg,
    /// Alpine secdb files (one, or a directory of them).
    AlpineSecdb,
    /// The CISA KEV catalog JSON.
    Kev,
    /// The FIRST EPSS CSV, plain or gzip.
    Epss,
    /// The Debian security tracker's JSON export (`tracker/data/json`), plain or gzip.
    DebianTracker,
    /// The Debian security tracker as a `vuln-list-debian` tree (its `tracker` directory:
    /// `CVE/`, `DLA/`, `DSA/`, source package lists, `distributions.json`).
    VulnListDebian,
}

impl Format {
    /// A short name (`osv`, `osv-zip`, `rustsec`, `nodejs-wg`, `alpine-secdb`, `kev`, `epss`,
    /// `debian-tracker`, `vuln-list-debian`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Osv => "osv",
            Format::OsvZip => "osv-zip",
            Format::RustSec => "rustsec",
            Format::NodejsWg => "nodejs-wg",
            Format::AlpineSecdb => "alpine-secdb",
            Format::Kev => "kev",
            Format::Epss => "epss",
            Format::DebianTracker => "debian-tracker",
            Format::VulnListDebian => "vuln-list-debian",
        }
    }
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceImport {
    /// The source name.
    pub name: String,
    /// The detected format.
    pub format: Format,
    /// The input path (after detection: `golang-vulndb` → `golang-vulndb/data/osv`).
    pub input: PathBuf,
    /// Files, advisories (KEV entries, EPSS scores), skips and per-file errors.
    pub report: osv::ImportReport,
    /// Whether the source replaced its previous content (false when the input produced
    /// errors and nothing usable).
    pub applied: bool,
}

/// What [`Database::import`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The database file written.
    pub path: PathBuf,
    /// One entry per input.
    pub sources: Vec<SourceImport>,
    /// Advisory records in the database now.
    pub advisories: u64,
    /// Size of the database file.
    pub size: u64,
    /// Sources that could not be fetched (`name: reason`), from [`super::update()`].
    pub failed: Vec<String>,
}

pub(crate) struct Input {
    pub(crate) path: PathBuf,
    pub(crate) format: Option<Format>,
    pub(crate) name: Option<String>,
    pub(crate) fetched_from: Option<String>,
}

fn input_err(path: &Path, reason: impl Into<String>) -> DbError {
    DbError::Input {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The first bytes of a file (decompressed when gzip).
fn head(path: &Path, n: usize) -> Result<Vec<u8>, DbError> {
    let mut f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut buf[got..]).map_err(io_err(path))?;
        if k == 0 {
            break;
        }
        got += k;
    }
    buf.truncate(got);
    if buf.starts_with(&[0x1f, 0x8b]) {
        let f = fs_err::File::open(path).map_err(io_err(path))?;
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(f)
            .take(n as u64)
            .read_to_end(&mut out);
        return Ok(out);
    }
    Ok(buf)
}

fn ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn first_data_file(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_owned()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries.into_iter().rev() {
            seen += 1;
            if seen > 10_000 {
                return None;
            }
            if p.is_dir() {
                stack.push(p);
            } else if matches!(ext(&p).as_str(), "json" | "yaml" | "yml") {
                return Some(p);
            }
        }
    }
    None
}

fn classify_text(path: &Path, text: &str) -> Format {
    if text.contains("\"catalogVersion\"") {
        Format::Kev
    } else if text.contains("distroversion") {
        Format::AlpineSecdb
    } else if is_debian_tracker(text) {
        Format::DebianTracker
    } else {
        let _ = path;
        Format::Osv
    }
}

/// Whether text starts like the Debian security tracker export: an object of source
/// packages whose issues have per-release `status`/`urgency` entries.
fn is_debian_tracker(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{')
        && text.contains("\"releases\"")
        && text.contains("\"status\"")
        && (text.contains("\"urgency\"") || text.contains("\"fixed_version\""))
        && !text.contains("\"affected\"")
}

/// Detects the format of an input, returning it with the path to import (a golang/vulndb
/// checkout's `data/osv`, a directory's KEV file, a vuln-list-debian tree's `tracker`).
pub fn detect(path: &Path) -> Result<(Format, PathBuf), DbError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    if meta.is_dir() {
        if let Some(tracker) = osv::vulnlist_debian_tracker(path) {
            return Ok((Format::VulnListDebian, tracker));
        }
        if path.join("crates").is_dir() || path.join("rust").is_dir() {
            return Ok((Format::RustSec, path.to_owned()));
        }
        let is_vuln = path.file_name().is_some_and(|n| n == "vuln");
        if path.join("vuln/npm").is_dir()
            || path.join("vuln/core").is_dir()
            || (is_vuln && (path.join("npm").is_dir() || path.join("core").is_dir()))
        {
            return Ok((Format::NodejsWg, path.to_owned()));
        }
        let kev = path.join("known_exploited_vulnerabilities.json");
        if kev.is_file() {
            return Ok((Format::Kev, kev));
        }
        if path.join("data/osv").is_dir() {
            return Ok((Format::Osv, path.join("data/osv")));
        }
        let Some(sample) = first_data_file(path) else {
            return Err(input_err(
                path,
                "no advisory files found (expected OSV JSON/YAML, RustSec, Node.js security-wg, Alpine secdb, a vuln-list-debian tree or KEV)",
            ));
        };
        let text = String::from_utf8_lossy(&head(&sample, 64 << 10)?).into_owned();
        return Ok(match classify_text(&sample, &text) {
            Format::AlpineSecdb => (Format::AlpineSecdb, path.to_owned()),
            _ => (Format::Osv, path.to_owned()),
        });
    }
    let e = ext(path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = head(path, 64 << 10)?;
    if e == "zip" || bytes.starts_with(b"PK\x03\x04") {
        return Ok((Format::OsvZip, path.to_owned()));
    }
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim_start();
    if e == "csv"
        || name.ends_with(".csv.gz")
        || t.starts_with("#model_version")
        || t.starts_with("cve,epss")
    {
        return Ok((Format::Epss, path.to_owned()));
    }
    if is_debian_tracker(&text) {
        return Ok((Format::DebianTracker, path.to_owned()));
    }
    if matches!(e.as_str(), "json" | "yaml" | "yml") {
        return Ok((classify_text(path, &text), path.to_owned()));
    }
    Err(input_err(
        path,
        "unrecognised input (expected an advisory directory, OSV JSON/YAML or all.zip, Alpine secdb, Debian security tracker JSON, KEV JSON or EPSS CSV)",
    ))
}

/// The source name used when none is given: the file or directory name (without
/// extensions), skipping generic names (`osv`, `data`, `vulns`, `vuln`, `all`, `main`,
/// `community`) for their parent's; KEV is always `cisa-kev`, EPSS `epss` and the Debian
/// tracker `debian-tracker`, in either layout (its JSON export or a vuln-list-debian tree):
/// both carry the same data under the same advisory ids, so importing one replaces the
/// other instead of holding every Debian record twice.
pub fn default_source_name(format: Format, path: &Path) -> String {
    match format {
        Format::Kev => return "cisa-kev".into(),
        Format::Epss => return "epss".into(),
        Format::DebianTracker | Format::VulnListDebian => return "debian-tracker".into(),
        _ => {}
    }
    const GENERIC: &[&str] = &[
        "osv",
        "data",
        "vulns",
        "vuln",
        "all",
        "main",
        "community",
        "advisories",
    ];
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut parts: Vec<String> = Vec::new();
    for c in abs.components().rev() {
        let s = c.as_os_str().to_string_lossy();
        let stem = s.split('.').next().unwrap_or(&s).to_owned();
        if stem.is_empty() {
            continue;
        }
        if GENERIC.contains(&stem.as_str()) {
            if parts.is_empty() && matches!(format, Format::AlpineSecdb) {
                parts.push(stem);
            }
            continue;
        }
        parts.push(stem);
        break;
    }
    parts.reverse();
    if parts.is_empty() {
        format.as_str().to_owned()
    } else {
        parts.join("-")
    }
}

enum Loaded {
    Advisories(Import),
    Kev(KevCatalog, osv::ImportReport),
    Epss(EpssScores, osv::ImportReport),
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DbError> {
    let f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut raw = Vec::new();
    let mut r: Box<dyn Read> = if head_is_gzip(path)? {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    (&mut r)
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(io_err(path))?;
    if raw.len() as u64 > MAX_INPUT_BYTES {
        return Err(input_err(path, "more than 2 GiB decompressed"));
    }
    Ok(raw)
}

fn head_is_gzip(path: &Path) -> Result<bool, DbError> {
    let mut f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut b = [0u8; 2];
    let n = f.read(&mut b).map_err(io_err(path))?;
    Ok(n == 2 && b == [0x1f, 0x8b])
}

fn import_osv_zip(path: &Path, source: &str) -> Result<Import, DbError> {
    let f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| input_err(path, format!("not a zip archive: {e}")))?;
    let mut import = Import::new(source);
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index(i) else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        if let Ok(name) = entry.name() {
            names.push((name.into_owned(), i));
        }
    }
    names.sort();
    for (name, i) in names {
        let member = PathBuf::from(format!("{}!{name}", path.display()));
        if !name.ends_with(".json") {
            import.skip(&member, "not a JSON record");
            continue;
        }
        import.report.files += 1;
        let mut text = String::new();
        let res = zip.by_index(i).map_err(|e| e.to_string()).and_then(|e| {
            e.take(MAX_INPUT_BYTES)
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = res {
            import.error(&member, e);
            continue;
        }
        match osv::parse_osv_json(&text, source) {
            Ok(a) => import.push(a),
            Err(e) => import.error(&member, e.to_string()),
        }
    }
    Ok(import)
}

fn load(format: Format, path: &Path, name: &str) -> Result<Loaded, DbError> {
    Ok(match format {
        Format::Osv if path.is_file() => {
            let mut import = Import::new(name);
            import.report.files += 1;
            let text = fs_err::read_to_string(path).map_err(io_err(path))?;
            let parsed = if ext(path) == "json" {
                osv::parse_osv_json(&text, name)
            } else {
                osv::parse_osv_yaml(&text, name)
            };
            match parsed {
                Ok(a) => import.push(a),
                Err(e) => import.error(path, e.to_string()),
            }
            Loaded::Advisories(import)
        }
        Format::Osv => Loaded::Advisories(osv::import_osv_dir(path, name)),
        Format::OsvZip => Loaded::Advisories(import_osv_zip(path, name)?),
        Format::RustSec => Loaded::Advisories(osv::import_rustsec(path, name)),
        Format::NodejsWg => Loaded::Advisories(osv::import_nodejs(path, name)),
        Format::AlpineSecdb if path.is_file() => {
            Loaded::Advisories(osv::import_alpine_secdb_files(&[path.to_owned()], name))
        }
        Format::AlpineSecdb => Loaded::Advisories(osv::import_alpine_secdb(path, name)),
        Format::DebianTracker => {
            let bytes = read_maybe_gz(path)?;
            let text =
                String::from_utf8(bytes).map_err(|e| input_err(path, format!("not UTF-8: {e}")))?;
            Loaded::Advisories(osv::import_debian_tracker(path, &text, name))
        }
        Format::VulnListDebian => {
            if !path.is_dir() {
                return Err(input_err(path, "not a vuln-list-debian directory"));
            }
            Loaded::Advisories(osv::import_vulnlist_debian(path, name))
        }
        Format::Kev => {
            let bytes = read_maybe_gz(path)?;
            let text = String::from_utf8_lossy(&bytes);
            let kev = osv::parse_kev(&text).map_err(|e| input_err(path, e.to_string()))?;
            let report = osv::ImportReport {
                source: name.to_owned(),
                files: 1,
                advisories: kev.len(),
                ..osv::ImportReport::default()
            };
            Loaded::Kev(kev, report)
        }
        Format::Epss => {
            let bytes = read_maybe_gz(path)?;
            let scores = parse_epss_csv(&String::from_utf8_lossy(&bytes));
            if scores.is_empty() {
                return Err(input_err(path, "no EPSS rows (cve,epss,percentile)"));
            }
            let report = osv::ImportReport {
                source: name.to_owned(),
                files: 1,
                advisories: scores.len(),
                ..osv::ImportReport::default()
            };
            Loaded::Epss(scores, report)
        }
    })
}

/// The content of a database being rebuilt.
#[derive(Default)]
struct Content {
    advisories: Vec<Advisory>,
    sources: Vec<SourceStatus>,
    kev: Option<KevCatalog>,
    epss: Vec<(String, f64, f64)>,
}

fn existing(dir: &Path) -> Result<Content, DbError> {
    let db = match Database::open(dir) {
        Ok(db) => db,
        Err(DbError::NotFound { .. }) => return Ok(Content::default()),
        Err(e) => return Err(e),
    };
    let mut epss: Vec<(String, f64, f64)> = db
        .epss()
        .iter()
        .map(|(k, v)| (k.clone(), v.score, v.percentile))
        .collect();
    epss.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Content {
        advisories: db.advisories()?,
        sources: db.sources().to_vec(),
        kev: db.kev().cloned(),
        epss,
    })
}

pub(crate) fn import_inputs(dir: &Path, inputs: Vec<Input>) -> Result<ImportReport, DbError> {
    // Read every input before touching the database, so that a bad path changes nothing.
    let mut loaded = Vec::new();
    for input in inputs {
        let (format, path) = match input.format {
            Some(f) => (f, input.path.clone()),
            None => detect(&input.path)?,
        };
        let name = input
            .name
            .clone()
            .unwrap_or_else(|| default_source_name(format, &input.path));
        let fetched_from = input
            .fetched_from
            .clone()
            .unwrap_or_else(|| path.display().to_string());
        let data = load(format, &path, &name)?;
        loaded.push((name, format, path, fetched_from, data));
    }
    let mut content = existing(dir)?;
    let mut reports = Vec::new();
    let at = now();
    for (name, format, path, fetched_from, data) in loaded {
        let report = match &data {
            Loaded::Advisories(i) => i.report.clone(),
            Loaded::Kev(_, r) | Loaded::Epss(_, r) => r.clone(),
        };
        let usable = report.advisories > 0 || report.errors.is_empty();
        if usable {
            match data {
                Loaded::Advisories(import) => {
                    content.advisories.retain(|a| a.source != name);
                    content.advisories.extend(import.advisories);
                }
                Loaded::Kev(kev, _) => {
                    content.sources.retain(|s| s.format != Format::Kev.as_str());
                    content.kev = Some(kev);
                }
                Loaded::Epss(scores, _) => {
                    content
                        .sources
                        .retain(|s| s.format != Format::Epss.as_str());
                    let mut rows: Vec<(String, f64, f64)> = scores
                        .into_iter()
                        .map(|(k, v)| (k, v.score, v.percentile))
                        .collect();
                    rows.sort_by(|a, b| a.0.cmp(&b.0));
                    content.epss = rows;
                }
            }
            content.sources.retain(|s| s.name != name);
            content.sources.push(SourceStatus {
                name: name.clone(),
                format: format.as_str().to_owned(),
                advisories: report.advisories as u64,
                imported_at: at,
                fetched_from,
                files: report.files as u64,
                errors: report.errors.len() as u64,
            });
        }
        reports.push(SourceImport {
            name,
            format,
            input: path,
            report,
            applied: usable,
        });
    }
    content.sources.sort_by(|a, b| a.name.cmp(&b.name));
    let (path, size, count) = write(dir, content)?;
    Ok(ImportReport {
        path,
        sources: reports,
        advisories: count,
        size,
        failed: Vec::new(),
    })
}

fn corrupt(path: &Path, reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn to_u32(n: usize, what: &str, path: &Path) -> Result<u32, DbError> {
    u32::try_from(n).map_err(|_| corrupt(path, format!("too many {what} ({n}) for format v1")))
}

/// Writes the database atomically; returns its path, size and record count.
fn write(dir: &Path, mut content: Content) -> Result<(PathBuf, u64, u64), DbError> {
    fs_err::create_dir_all(dir).map_err(io_err(dir))?;
    let path = db_path(dir);
    content
        .advisories
        .sort_by(|a, b| (&a.source, &a.id).cmp(&(&b.source, &b.id)));

    // Records and postings.
    let mut records: Vec<u8> = Vec::new();
    let mut offsets: Vec<u64> = Vec::with_capacity(content.advisories.len() + 1);
    let mut keys: BTreeMap<Vec<u8>, Vec<(u32, u32)>> = BTreeMap::new();
    for (i, a) in content.advisories.iter().enumerate() {
        offsets.push(records.len() as u64);
        let bytes = wire::encode(a).map_err(|e| corrupt(&path, e))?;
        records.extend_from_slice(&bytes);
        let ri = to_u32(i, "records", &path)?;
        for (ai, aff) in a.affected.iter().enumerate() {
            let key = key_bytes(
                &aff.package.ecosystem,
                &normalize_name(&aff.package.ecosystem, &aff.package.name),
            );
            let slot = keys.entry(key).or_default();
            let p = (ri, to_u32(ai, "affected entries", &path)?);
            if !slot.contains(&p) {
                slot.push(p);
            }
        }
    }
    offsets.push(records.len() as u64);

    // Index section.
    let mut table = Vec::with_capacity(keys.len() * 16);
    let mut postings = Vec::new();
    let mut key_blob = Vec::new();
    let mut posting_count = 0usize;
    for (k, ps) in &keys {
        table.extend_from_slice(&to_u32(key_blob.len(), "key bytes", &path)?.to_le_bytes());
        table.extend_from_slice(&to_u32(k.len(), "key bytes", &path)?.to_le_bytes());
        table.extend_from_slice(&to_u32(posting_count, "postings", &path)?.to_le_bytes());
        table.extend_from_slice(&to_u32(ps.len(), "postings", &path)?.to_le_bytes());
        key_blob.extend_from_slice(k);
        for (r, a) in ps {
            postings.extend_from_slice(&r.to_le_bytes());
            postings.extend_from_slice(&a.to_le_bytes());
        }
        posting_count += ps.len();
    }
    let mut index = Vec::with_capacity(offsets.len() * 8 + table.len() + postings.len());
    for o in &offsets {
        index.extend_from_slice(&o.to_le_bytes());
    }
    index.extend_from_slice(&table);
    index.extend_from_slice(&postings);
    index.extend_from_slice(&key_blob);

    let kev = match &content.kev {
        Some(k) => postcard::to_stdvec(k).map_err(|e| corrupt(&path, format!("KEV: {e}")))?,
        None => Vec::new(),
    };
    let epss = if content.epss.is_empty() {
        Vec::new()
    } else {
        postcard::to_stdvec(&content.epss).map_err(|e| corrupt(&path, format!("EPSS: {e}")))?
    };

    let mut at = 0u64;
    let mut section = |len: usize| {
        let s = Section {
            offset: at,
            len: len as u64,
        };
        at += len as u64;
        s
    };
    let header = Header {
        built_at: now(),
        record_count: to_u32(content.advisories.len(), "records", &path)?,
        key_count: to_u32(keys.len(), "keys", &path)?,
        posting_count: to_u32(posting_count, "postings", &path)?,
        kev_count: content.kev.as_ref().map_or(0, |k| k.len() as u32),
        kev_catalog_version: content
            .kev
            .as_ref()
            .map(|k| k.catalog_version.clone())
            .unwrap_or_default(),
        epss_count: to_u32(content.epss.len(), "EPSS rows", &path)?,
        index: section(index.len()),
        kev: section(kev.len()),
        epss: section(epss.len()),
        records: section(records.len()),
        sources: content.sources,
    };
    let hbytes = postcard::to_stdvec(&header).map_err(|e| corrupt(&path, e.to_string()))?;

    let tmp = tempfile::Builder::new()
        .prefix(".advisories.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        let werr = io_err(tmp.path());
        let res = (|| -> std::io::Result<()> {
            w.write_all(&MAGIC)?;
            w.write_all(&FORMAT_VERSION.to_le_bytes())?;
            w.write_all(&(hbytes.len() as u32).to_le_bytes())?;
            w.write_all(&hbytes)?;
            w.write_all(&index)?;
            w.write_all(&kev)?;
            w.write_all(&epss)?;
            w.write_all(&records)?;
            w.flush()
        })();
        res.map_err(werr)?;
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    let size = tmp.as_file().metadata().map_err(io_err(tmp.path()))?.len();
    tmp.persist(&path).map_err(|e| DbError::Io {
        path: path.clone(),
        source: e.error,
    })?;
    // The old signature no longer matches: drop it rather than leave a failing one.
    let _ = std::fs::remove_file(signature_path(&path));
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((path, size, u64::from(header.record_count)))
}
