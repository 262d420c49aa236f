//! The local vulnerability database: every imported advisory source, CISA KEV and EPSS in
//! one versioned file under a directory (the CLI uses `<data-dir>/vulndb`), opened in
//! milliseconds and queried like the in-memory [`Index`].
//!
//! **Building it.** [`Database::import`] takes paths in any format the [`crate::osv`]
//! importers read and tells them apart by content ([`detect`]): an OSV directory or record
//! file (JSON or YAML) or an osv.dev `all.zip`, a RustSec advisory-db checkout, a Node.js
//! security-wg checkout, Alpine secdb files, the Debian security tracker's JSON export
//! (`tracker/data/json`, plain or gzip, any file name) or its `vuln-list-debian` tree (the
//! tree or its `tracker` directory), the CISA KEV JSON, an EPSS CSV (plain or gzip). Each input is a *source* with a name (by default from its path, see
//! [`default_source_name`]); importing a source again replaces its advisories and keeps the
//! others, so the database is always the union of the latest import of every source. An
//! input that produced errors and no advisories leaves that source as it was. [`update()`]
//! downloads the upstream feeds (or a mirror laid out the same way) and imports them.
//! Every rewrite goes to a temporary file in the same directory that is renamed over the
//! database, so a reader sees the old or the new file, never a partial one.
//!
//! **File format** (`advisories.pvdb`, all integers little-endian):
//!
//! ```text
//! 0   magic "PALVDB\r\n"            8 bytes (the CR LF catches text-mode mangling)
//! 8   format version                u32  (FORMAT_VERSION; newer files are refused)
//! 12  header length H               u32
//! 16  header                        postcard: built-at, sources {name, format, advisories,
//!                                   imported-at, fetched-from, files, errors}, counts, and
//!                                   the sections below as (offset, length) from 16 + H
//! ..  index section
//!       record offsets              u64 × (records + 1), into the records section
//!       key table                   {key off u32, key len u32, first posting u32,
//!                                    postings u32} × keys, sorted by key bytes
//!       postings                    {record u32, affected entry u32} × postings
//!       key bytes                   "<OSV ecosystem>\0<normalised package name>"
//! ..  kev section                   postcard KevCatalog (empty: none imported)
//! ..  epss section                  postcard [(cve, score, percentile)] sorted by cve
//! ..  records section               one postcard advisory per record
//! ```
//!
//! Opening reads the 16-byte preamble, the header and the index section, nothing else: a
//! query binary-searches the key table and reads and decodes only the records its
//! postings name (positional reads, decoded records kept for the life of the
//! [`Database`]); KEV and EPSS are decoded on first use. Memory-mapping would save the
//! index read but needs `unsafe`, which this workspace forbids. `postcard` (a compact serde
//! format) encodes the header and records; the key table is fixed-width so that it can be
//! searched without decoding.
//!
//! **Signing.** [`sign`] writes a detached Ed25519 signature (`advisories.pvdb.sig`, JSON)
//! over the database's sha256; [`Database::open_verified`] refuses a database without a
//! signature that verifies under the given public key. Keys are the files of
//! [`crate::keys`].

mod import;
pub mod update;
mod wire;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::advisory::{Advisory, Ecosystem};
use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::matcher::{self, Index, Lookup, Matches, Options, PackageQuery, Store};
use crate::osv::KevCatalog;
use crate::scan::{Epss, EpssScores};

pub use import::{Format, ImportReport, SourceImport, default_source_name, detect};
pub use update::{Mirror, Source, update};

/// File name of the database inside its directory.
pub const FILE_NAME: &str = "advisories.pvdb";
/// File name of the detached signature.
pub const SIGNATURE_FILE: &str = "advisories.pvdb.sig";
/// The first 8 bytes of a database file.
pub const MAGIC: [u8; 8] = *b"PALVDB\r\n";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const PREAMBLE: u64 = 16;
const KEY_ENTRY: usize = 16;
const POSTING: usize = 8;
/// Largest header accepted (it lists sources, not advisories).
const MAX_HEADER: u32 = 16 << 20;
/// Domain separation of the signed message.
const SIGNATURE_CONTEXT: &[u8] = b"palisade vulndb signature v1\0";

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// No database file in the directory.
    #[error("no vulnerability database at {path} (import or update one first)")]
    NotFound {
        /// The expected file.
        path: PathBuf,
    },
    /// A file that could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A database file that is not one, or is damaged.
    #[error("{path}: not a valid vulnerability database: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A database written by a newer (or unknown) format version.
    #[error(
        "{path}: database format version {found} is not supported (this build reads version {supported}); update palisade or rebuild the database"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// A signature that is missing or does not verify.
    #[error("{path}: signature check failed: {reason}")]
    Signature {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An input that cannot be imported.
    #[error("{path}: {reason}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A download failed.
    #[error("downloading {source_name}: {reason}")]
    Download {
        /// The source.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// A key that cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One source of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Its name (`golang-vulndb`, `osv-PyPI`, `cisa-kev`, `epss`).
    pub name: String,
    /// The input format ([`Format::as_str`]).
    pub format: String,
    /// Advisories (KEV entries, EPSS scores) it contributed.
    pub advisories: u64,
    /// When it was imported (Unix seconds).
    pub imported_at: u64,
    /// The path or URL it was read from.
    pub fetched_from: String,
    /// Files read.
    pub files: u64,
    /// Files that failed to import.
    pub errors: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Section {
    offset: u64,
    len: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Header {
    built_at: u64,
    sources: Vec<SourceStatus>,
    record_count: u32,
    key_count: u32,
    posting_count: u32,
    kev_count: u32,
    kev_catalog_version: String,
    epss_count: u32,
    index: Section,
    kev: Section,
    epss: Section,
    records: Section,
}

/// What [`Database::status`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The database file.
    pub path: PathBuf,
    /// Its format version.
    pub format_version: u32,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written (Unix seconds).
    pub built_at: u64,
    /// Advisory records.
    pub advisories: u64,
    /// Distinct `(ecosystem, package)` keys.
    pub packages: u64,
    /// CISA KEV entries.
    pub kev_entries: u64,
    /// KEV `catalogVersion`, when imported.
    pub kev_catalog_version: Option<String>,
    /// EPSS scores.
    pub epss_scores: u64,
    /// The sources, by name.
    pub sources: Vec<SourceStatus>,
}

/// The database file of a directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The signature file of a database file (`<file>.sig`).
pub fn signature_path(db_file: &Path) -> PathBuf {
    let mut s = db_file.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

pub(crate) use palisade_model::time::unix_now as now;

/// Formats Unix seconds as RFC 3339 UTC (`2025-08-25T12:00:00Z`).
pub fn format_time(secs: u64) -> String {
    palisade_model::time::rfc3339(secs)
}

/// Positional reads of the database file.
#[derive(Debug)]
struct Reader {
    #[cfg(unix)]
    file: std::fs::File,
    #[cfg(not(unix))]
    file: std::sync::Mutex<std::fs::File>,
}

impl Reader {
    fn new(file: std::fs::File) -> Reader {
        #[cfg(unix)]
        {
            Reader { file }
        }
        #[cfg(not(unix))]
        {
            Reader {
                file: std::sync::Mutex::new(file),
            }
        }
    }

    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        let mut buf = vec![0u8; len];
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt as _;
            self.file.read_exact_at(&mut buf, offset)?;
        }
        #[cfg(not(unix))]
        {
            use std::io::{Read as _, Seek as _};
            let mut f = self
                .file
                .lock()
                .map_err(|_| std::io::Error::other("database file lock poisoned"))?;
            f.seek(std::io::SeekFrom::Start(offset))?;
            f.read_exact(&mut buf)?;
        }
        Ok(buf)
    }
}

/// An opened database.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    size: u64,
    reader: Reader,
    header: Header,
    data_start: u64,
    index: Vec<u8>,
    table_start: usize,
    postings_start: usize,
    keys_start: usize,
    cache: Vec<OnceLock<Result<Box<Advisory>, String>>>,
    kev: OnceLock<Option<KevCatalog>>,
    epss: OnceLock<EpssScores>,
    options: Options,
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    let b = buf.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// The key bytes of a package.
pub(crate) fn key_bytes(ecosystem: &Ecosystem, normalized: &str) -> Vec<u8> {
    let e = ecosystem.as_str().as_bytes();
    let mut k = Vec::with_capacity(e.len() + 1 + normalized.len());
    k.extend_from_slice(e);
    k.push(0);
    k.extend_from_slice(normalized.as_bytes());
    k
}

impl Database {
    /// Opens the database in `dir` (see the module docs for what is read).
    pub fn open(dir: &Path) -> Result<Database, DbError> {
        let path = db_path(dir);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::NotFound { path });
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        Database::from_file(path, file)
    }

    /// Opens the database in `dir` after checking its detached signature against
    /// `public_key`; a database without a valid signature is refused.
    pub fn open_verified(dir: &Path, public_key: &PublicKey) -> Result<Database, DbError> {
        let path = db_path(dir);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::NotFound { path });
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        // Hash through the handle that is then used for reading, so that a database
        // replaced in between is not the one trusted.
        let digest = sha256_reader(&mut file).map_err(io_err(&path))?;
        verify_signature(&path, &digest, public_key)?;
        Database::from_file(path, file)
    }

    fn from_file(path: PathBuf, file: std::fs::File) -> Result<Database, DbError> {
        let corrupt = |reason: String| DbError::Corrupt {
            path: path.clone(),
            reason,
        };
        let size = file.metadata().map_err(io_err(&path))?.len();
        let reader = Reader::new(file);
        if size < PREAMBLE {
            return Err(corrupt(format!("file is {size} bytes, too short")));
        }
        let pre = reader.read_at(0, PREAMBLE).map_err(io_err(&path))?;
        if pre[..8] != MAGIC {
            return Err(corrupt("wrong magic bytes".into()));
        }
        let version = u32_at(&pre, 8).unwrap_or(0);
        if version != FORMAT_VERSION {
            return Err(DbError::Version {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let header_len = u32_at(&pre, 12).unwrap_or(0);
        if header_len > MAX_HEADER || PREAMBLE + u64::from(header_len) > size {
            return Err(corrupt(format!("header length {header_len} out of bounds")));
        }
        let hbytes = reader
            .read_at(PREAMBLE, u64::from(header_len))
            .map_err(io_err(&path))?;
        let header: Header =
            postcard::from_bytes(&hbytes).map_err(|e| corrupt(format!("header: {e}")))?;
        let data_start = PREAMBLE + u64::from(header_len);
        for (name, s) in [
            ("index", header.index),
            ("kev", header.kev),
            ("epss", header.epss),
            ("records", header.records),
        ] {
            let end = data_start
                .checked_add(s.offset)
                .and_then(|x| x.checked_add(s.len));
            if end.is_none_or(|e| e > size) {
                return Err(corrupt(format!("{name} section out of bounds")));
            }
        }
        let index = reader
            .read_at(data_start + header.index.offset, header.index.len)
            .map_err(io_err(&path))?;
        let rc = header.record_count as usize;
        let table_start = (rc + 1) * 8;
        let postings_start = table_start + header.key_count as usize * KEY_ENTRY;
        let keys_start = postings_start + header.posting_count as usize * POSTING;
        if index.len() < keys_start {
            return Err(corrupt(format!(
                "index section is {} bytes, its counts need {keys_start}",
                index.len()
            )));
        }
        let cache = (0..rc).map(|_| OnceLock::new()).collect();
        Ok(Database {
            path,
            size,
            reader,
            header,
            data_start,
            index,
            table_start,
            postings_start,
            keys_start,
            cache,
            kev: OnceLock::new(),
            epss: OnceLock::new(),
            options: Options::default(),
        })
    }

    /// Imports inputs into the database in `dir` (created if needed), detecting each
    /// input's format; see the module docs for the merge rules.
    pub fn import(dir: &Path, paths: &[impl AsRef<Path>]) -> Result<ImportReport, DbError> {
        let inputs: Vec<import::Input> = paths
            .iter()
            .map(|p| import::Input {
                path: p.as_ref().to_owned(),
                format: None,
                name: None,
                fetched_from: None,
            })
            .collect();
        import::import_inputs(dir, inputs)
    }

    /// Like [`Database::import`] with explicit source names: `(name, path)`.
    pub fn import_named(
        dir: &Path,
        inputs: &[(impl AsRef<str>, impl AsRef<Path>)],
    ) -> Result<ImportReport, DbError> {
        let inputs = inputs
            .iter()
            .map(|(n, p)| import::Input {
                path: p.as_ref().to_owned(),
                format: None,
                name: Some(n.as_ref().to_owned()),
                fetched_from: None,
            })
            .collect();
        import::import_inputs(dir, inputs)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the database holds.
    pub fn status(&self) -> Status {
        let h = &self.header;
        Status {
            path: self.path.clone(),
            format_version: FORMAT_VERSION,
            size: self.size,
            built_at: h.built_at,
            advisories: u64::from(h.record_count),
            packages: u64::from(h.key_count),
            kev_entries: u64::from(h.kev_count),
            kev_catalog_version: Some(h.kev_catalog_version.clone()).filter(|s| !s.is_empty()),
            epss_scores: u64::from(h.epss_count),
            sources: h.sources.clone(),
        }
    }

    /// The sources.
    pub fn sources(&self) -> &[SourceStatus] {
        &self.header.sources
    }

    /// Number of advisory records.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether the database holds no advisories.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Sets the matching options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// Finds the vulnerabilities affecting a package version (as [`Index::query`]).
    pub fn query(&self, q: &PackageQuery) -> Matches {
        matcher::query_store(self, self.options, q)
    }

    /// An advisory record by number (decoded once, then kept).
    pub fn advisory(&self, idx: usize) -> Result<&Advisory, DbError> {
        Store::advisory(self, idx).map_err(|reason| DbError::Corrupt {
            path: self.path.clone(),
            reason,
        })
    }

    /// Every advisory, decoded (for export or for building an [`Index`]).
    pub fn advisories(&self) -> Result<Vec<Advisory>, DbError> {
        (0..self.len()).map(|i| self.advisory(i).cloned()).collect()
    }

    /// An in-memory index of the whole database, with its KEV catalog.
    pub fn to_index(&self) -> Result<Index, DbError> {
        let mut index = Index::new();
        index.set_options(self.options);
        index.extend(self.advisories()?);
        if let Some(k) = self.kev() {
            index.set_kev(k.clone());
        }
        Ok(index)
    }

    /// The CISA KEV catalog, when one was imported.
    pub fn kev(&self) -> Option<&KevCatalog> {
        self.kev
            .get_or_init(|| {
                let s = self.header.kev;
                if s.len == 0 {
                    return None;
                }
                let bytes = self
                    .reader
                    .read_at(self.data_start + s.offset, s.len)
                    .ok()?;
                postcard::from_bytes(&bytes).ok()
            })
            .as_ref()
    }

    /// EPSS scores by CVE id (empty when none were imported).
    pub fn epss(&self) -> &EpssScores {
        self.epss.get_or_init(|| {
            let s = self.header.epss;
            if s.len == 0 {
                return HashMap::new();
            }
            let Ok(bytes) = self.reader.read_at(self.data_start + s.offset, s.len) else {
                return HashMap::new();
            };
            let rows: Vec<(String, f64, f64)> = postcard::from_bytes(&bytes).unwrap_or_default();
            rows.into_iter()
                .map(|(cve, score, percentile)| (cve, Epss { score, percentile }))
                .collect()
        })
    }

    /// The EPSS score of a CVE.
    pub fn epss_score(&self, cve: &str) -> Option<Epss> {
        self.epss().get(cve).copied()
    }

    fn key_entry(&self, i: usize) -> Option<(&[u8], u32, u32)> {
        let base = self.table_start + i * KEY_ENTRY;
        let (ko, kl) = (u32_at(&self.index, base)?, u32_at(&self.index, base + 4)?);
        let (po, pc) = (
            u32_at(&self.index, base + 8)?,
            u32_at(&self.index, base + 12)?,
        );
        let start = self.keys_start.checked_add(ko as usize)?;
        let key = self.index.get(start..start.checked_add(kl as usize)?)?;
        Some((key, po, pc))
    }

    fn find_key(&self, key: &[u8]) -> Option<(u32, u32)> {
        let (mut lo, mut hi) = (0usize, self.header.key_count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (k, po, pc) = self.key_entry(mid)?;
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((po, pc)),
            }
        }
        None
    }

    fn load(&self, idx: usize) -> Result<Advisory, String> {
        let (Some(start), Some(end)) = (
            u64_at(&self.index, idx * 8),
            u64_at(&self.index, (idx + 1) * 8),
        ) else {
            return Err(format!("record #{idx}: offset table truncated"));
        };
        if start > end || end > self.header.records.len {
            return Err(format!(
                "record #{idx}: offsets {start}..{end} out of bounds"
            ));
        }
        let bytes = self
            .reader
            .read_at(
                self.data_start + self.header.records.offset + start,
                end - start,
            )
            .map_err(|e| format!("record #{idx}: {e}"))?;
        wire::decode(&bytes).map_err(|e| format!("record #{idx}: {e}"))
    }
}

impl Store for Database {
    fn entries(&self, ecosystem: &Ecosystem, name: &str, out: &mut Vec<(usize, usize)>) {
        let Some((po, pc)) = self.find_key(&key_bytes(ecosystem, name)) else {
            return;
        };
        for p in 0..pc as usize {
            let off = self.postings_start + (po as usize + p) * POSTING;
            if let (Some(r), Some(a)) = (u32_at(&self.index, off), u32_at(&self.index, off + 4)) {
                out.push((r as usize, a as usize));
            }
        }
    }

    fn advisory(&self, idx: usize) -> Result<&Advisory, String> {
        let cell = self
            .cache
            .get(idx)
            .ok_or_else(|| format!("record #{idx} out of range"))?;
        cell.get_or_init(|| self.load(idx).map(Box::new))
            .as_deref()
            .map_err(Clone::clone)
    }

    fn kev(&self) -> Option<&KevCatalog> {
        Database::kev(self)
    }
}

impl Lookup for Database {
    fn lookup(&self, q: &PackageQuery) -> Matches {
        self.query(q)
    }
}

/// The status of the database in `dir`.
pub fn status(dir: &Path) -> Result<Status, DbError> {
    Ok(Database::open(dir)?.status())
}

fn sha256_reader(r: &mut impl std::io::Read) -> std::io::Result<[u8; 32]> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The detached signature file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    /// Always `palisade-vulndb-signature/v1`.
    pub format: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// [`PublicKey::key_id`] of the signer.
    pub key_id: String,
    /// Hex sha256 of the database file.
    pub sha256: String,
    /// Base64 Ed25519 signature of `"palisade vulndb signature v1\0"` followed by the 32
    /// digest bytes.
    pub signature: String,
}

const SIGNATURE_FORMAT: &str = "palisade-vulndb-signature/v1";

fn signed_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = SIGNATURE_CONTEXT.to_vec();
    m.extend_from_slice(digest);
    m
}

/// Signs a database file, writing `<db_file>.sig`; returns the signature file's path.
pub fn sign(db_file: &Path, key: &SigningKey) -> Result<PathBuf, DbError> {
    use base64::Engine as _;
    let mut f = fs_err::File::open(db_file).map_err(io_err(db_file))?;
    let digest = sha256_reader(&mut f).map_err(io_err(db_file))?;
    let sig = key.sign(&signed_message(&digest));
    let file = SignatureFile {
        format: SIGNATURE_FORMAT.into(),
        algorithm: "ed25519".into(),
        key_id: key.public_key().key_id(),
        sha256: hex::encode(digest),
        signature: base64::engine::general_purpose::STANDARD.encode(sig),
    };
    let out = signature_path(db_file);
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| DbError::Signature {
        path: db_file.to_owned(),
        reason: e.to_string(),
    })?;
    text.push('\n');
    fs_err::write(&out, text).map_err(io_err(&out))?;
    Ok(out)
}

fn verify_signature(path: &Path, digest: &[u8; 32], key: &PublicKey) -> Result<(), DbError> {
    use base64::Engine as _;
    let fail = |reason: String| DbError::Signature {
        path: path.to_owned(),
        reason,
    };
    let sig_path = signature_path(path);
    let text = match std::fs::read_to_string(&sig_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!("no signature file {}", sig_path.display())));
        }
        Err(e) => return Err(io_err(&sig_path)(e)),
    };
    let file: SignatureFile =
        serde_json::from_str(&text).map_err(|e| fail(format!("{}: {e}", sig_path.display())))?;
    if file.format != SIGNATURE_FORMAT || file.algorithm != "ed25519" {
        return Err(fail(format!(
            "unsupported signature {} / {}",
            file.format, file.algorithm
        )));
    }
    if file.sha256 != hex::encode(digest) {
        return Err(fail(
            "the database does not match the signed digest (modified after signing)".into(),
        ));
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(file.signature.trim())
        .map_err(|e| fail(format!("signature is not base64: {e}")))?;
    if !key.verify(&signed_message(digest), &sig) {
        return Err(fail(format!(
            "signature by key {} does not verify with key {}",
            file.key_id,
            key.key_id()
        )));
    }
    Ok(())
}

/// Checks the detached signature of the database in `dir` without opening it.
pub fn verify(dir: &Path, public_key: &PublicKey) -> Result<(), DbError> {
    let path = db_path(dir);
    let mut f = fs_err::File::open(&path).map_err(io_err(&path))?;
    let digest = sha256_reader(&mut f).map_err(io_err(&path))?;
    verify_signature(&path, &digest, public_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_time() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_756_123_456), "2025-08-25T12:04:16Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }
}
