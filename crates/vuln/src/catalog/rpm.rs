//! RPM databases in their three backends, told apart by content:
//!
//! - SQLite (`rpmdb.sqlite`, RPM ≥ 4.16): table `Packages(hnum, blob)`, read with `rusqlite`
//!   from a temporary copy opened read-only.
//! - Berkeley DB hash (`Packages`, RHEL ≤ 8): the metadata page gives the page size and
//!   last page; hash pages (types 13 and 2) hold key/value index pairs and each value that
//!   is an off-page item (`HOFFPAGE`, type 3) names the first of a chain of overflow pages
//!   (type 7) holding one header blob. Layout from libdb's `db_page.h`.
//! - ndb (`Packages.db`, SUSE): a 32-byte header (`RpmP`), slot pages of 16-byte slots
//!   (`Slot`, package index, block offset, block count), each pointing at a blob (`BlbS`
//!   header, then the header blob) at `block offset × 16`. Layout from rpm's
//!   `lib/backend/ndb/rpmpkg.c`.
//!
//! A header blob is `il`, `dl` (big-endian), `il` index entries (tag, type, offset, count)
//! and `dl` bytes of data; only the string and int32 tags a package needs are read, with
//! every offset bounds-checked. No crate reads Berkeley DB or ndb files, and both layouts
//! are small, so they are parsed here.

use super::{Package, PackageType};
use crate::image::Node;

const DIRS: &[&str] = &["var/lib/rpm/", "usr/lib/sysimage/rpm/", "usr/share/rpm/"];

pub(crate) fn wants(path: &str, _: &Node) -> bool {
    DIRS.iter().any(|d| {
        path.strip_prefix(d)
            .is_some_and(|f| matches!(f, "Packages" | "Packages.db" | "rpmdb.sqlite"))
    })
}

/// An RPM database that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("rpm database: {0}")]
pub struct RpmError(String);

fn err(s: impl Into<String>) -> RpmError {
    RpmError(s.into())
}

fn u32_at(d: &[u8], off: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn u16_at(d: &[u8], off: usize, be: bool) -> Option<u16> {
    let b: [u8; 2] = d.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

/// The header blobs of a database, whatever its backend.
pub fn header_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    if data.starts_with(b"SQLite format 3\0") {
        sqlite_blobs(data)
    } else if data.starts_with(b"RpmP") {
        ndb_blobs(data)
    } else {
        bdb_blobs(data)
    }
}

fn sqlite_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| err(e.to_string()))?;
    std::fs::write(tmp.path(), data).map_err(|e| err(e.to_string()))?;
    let conn = rusqlite::Connection::open_with_flags(
        tmp.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(format!("sqlite: {e}")))?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| err(format!("sqlite: {e}")))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| err(format!("sqlite: {e}")))?;
    rows.map(|r| r.map_err(|e| err(format!("sqlite: {e}"))))
        .collect()
}

fn ndb_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    let version = u32_at(data, 4, false).ok_or_else(|| err("ndb: short header"))?;
    let npages = u32_at(data, 12, false).ok_or_else(|| err("ndb: short header"))? as usize;
    if version != 0 || npages == 0 || npages > 2048 {
        return Err(err(format!(
            "ndb: unsupported header (version {version}, {npages} slot pages)"
        )));
    }
    let nslots = npages * 4096 / 16;
    let mut out = Vec::new();
    // The first two slots are the header itself.
    for s in 2..nslots {
        let off = s * 16;
        let magic = data
            .get(off..off + 4)
            .ok_or_else(|| err("ndb: truncated slot pages"))?;
        if magic != b"Slot" {
            return Err(err(format!("ndb: bad slot magic at {off}")));
        }
        let pkg = u32_at(data, off + 4, false).unwrap_or(0);
        if pkg == 0 {
            continue;
        }
        let blk = u32_at(data, off + 8, false).unwrap_or(0) as usize * 16;
        if data.get(blk..blk + 4) != Some(b"BlbS") {
            return Err(err(format!("ndb: package {pkg}: bad blob magic")));
        }
        if u32_at(data, blk + 4, false) != Some(pkg) {
            return Err(err(format!(
                "ndb: package {pkg}: blob belongs to another package"
            )));
        }
        let len = u32_at(data, blk + 12, false).unwrap_or(0) as usize;
        let blob = data
            .get(blk + 16..blk + 16 + len)
            .ok_or_else(|| err(format!("ndb: package {pkg}: blob past end of file")))?;
        out.push(blob.to_vec());
    }
    Ok(out)
}

const BDB_HASH_MAGIC: u32 = 0x0006_1561;

fn bdb_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    let be = match u32_at(data, 12, false) {
        Some(BDB_HASH_MAGIC) => false,
        _ if u32_at(data, 12, true) == Some(BDB_HASH_MAGIC) => true,
        _ => return Err(err("not a SQLite, ndb or Berkeley DB hash database")),
    };
    let page_size = u32_at(data, 20, be).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(err(format!("bdb: bad page size {page_size}")));
    }
    if data.get(24) != Some(&0) {
        return Err(err("bdb: encrypted database"));
    }
    let last = u32_at(data, 32, be).unwrap_or(0) as usize;
    let pages = data.len() / page_size;
    let page = |n: usize| data.get(n * page_size..(n + 1) * page_size);
    let mut out = Vec::new();
    for n in 0..=last.min(pages.saturating_sub(1)) {
        let Some(p) = page(n) else { break };
        let kind = p[25];
        if kind != 13 && kind != 2 {
            continue;
        }
        let entries = u16_at(p, 20, be).unwrap_or(0) as usize;
        // Index pairs (key, value): the values are the odd entries.
        for e in (1..entries).step_by(2) {
            let Some(item) = u16_at(p, 26 + e * 2, be).map(usize::from) else {
                break;
            };
            if p.get(item) != Some(&3) {
                continue;
            }
            let Some(mut next) = u32_at(p, item + 4, be).map(|x| x as usize) else {
                continue;
            };
            let total = u32_at(p, item + 8, be).unwrap_or(0) as usize;
            let mut blob = Vec::with_capacity(total.min(data.len()));
            let mut hops = 0;
            while next != 0 && blob.len() < total {
                hops += 1;
                if hops > pages {
                    return Err(err("bdb: overflow page loop"));
                }
                let op =
                    page(next).ok_or_else(|| err(format!("bdb: overflow page {next} past end")))?;
                if op[25] != 7 {
                    return Err(err(format!("bdb: page {next} is not an overflow page")));
                }
                let nn = u32_at(op, 16, be).unwrap_or(0) as usize;
                let used = if nn == 0 {
                    usize::from(u16_at(op, 22, be).unwrap_or(0)).min(page_size - 26)
                } else {
                    page_size - 26
                };
                blob.extend_from_slice(&op[26..26 + used]);
                next = nn;
            }
            blob.truncate(total);
            out.push(blob);
        }
    }
    Ok(out)
}

/// The tags read from a header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// `NAME`.
    pub name: String,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `EPOCH`.
    pub epoch: Option<u32>,
    /// `ARCH`.
    pub arch: Option<String>,
    /// `SOURCERPM`.
    pub source_rpm: Option<String>,
    /// `LICENSE`.
    pub license: Option<String>,
    /// `VENDOR`.
    pub vendor: Option<String>,
    /// `MODULARITYLABEL`.
    pub modularity_label: Option<String>,
}

/// Parses the tags of a header blob.
pub fn parse_header(blob: &[u8]) -> Result<Header, RpmError> {
    let il = u32_at(blob, 0, true).ok_or_else(|| err("header: truncated"))? as usize;
    let dl = u32_at(blob, 4, true).ok_or_else(|| err("header: truncated"))? as usize;
    if il == 0 || il > 0x10000 || dl > 256 << 20 {
        return Err(err(format!("header: implausible sizes il={il} dl={dl}")));
    }
    let data_start = 8 + il * 16;
    let store = blob
        .get(data_start..data_start + dl)
        .ok_or_else(|| err("header: data store past end of blob"))?;
    let mut h = Header::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off)) = (
            u32_at(blob, e, true),
            u32_at(blob, e + 4, true),
            u32_at(blob, e + 8, true),
        ) else {
            break;
        };
        let off = off as usize;
        let string = || -> Option<String> {
            let s = store.get(off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            let v = String::from_utf8_lossy(&s[..end]).into_owned();
            (v != "(none)").then_some(v)
        };
        // Types: 4 int32, 6 string, 8 string array, 9 i18n string.
        let is_str = matches!(ty, 6 | 8 | 9);
        match tag {
            1000 if is_str => h.name = string().unwrap_or_default(),
            1001 if is_str => h.version = string().unwrap_or_default(),
            1002 if is_str => h.release = string().unwrap_or_default(),
            1003 if ty == 4 => h.epoch = u32_at(store, off, true),
            1011 if is_str => h.vendor = string(),
            1014 if is_str => h.license = string(),
            1022 if is_str => h.arch = string(),
            1044 if is_str => h.source_rpm = string(),
            5096 if is_str => h.modularity_label = string(),
            _ => {}
        }
    }
    if h.name.is_empty() {
        return Err(err("header: no NAME tag"));
    }
    Ok(h)
}

/// Source package name from a source RPM file name (`glibc-2.28-1.el8.src.rpm` → `glibc`).
pub fn source_name(srpm: &str) -> Option<String> {
    let s = srpm.strip_suffix(".rpm")?;
    let s = s.rsplit_once('.').map_or(s, |(a, _)| a); // arch (`src`, `nosrc`)
    let (s, _release) = s.rsplit_once('-')?;
    let (name, _version) = s.rsplit_once('-')?;
    Some(name.to_owned())
}

/// Parses a database file into packages (`gpg-pubkey` pseudo-packages are skipped).
pub fn parse_database(_path: &str, data: &[u8]) -> Result<Vec<Package>, RpmError> {
    let mut out = Vec::new();
    for blob in header_blobs(data)? {
        let h = parse_header(&blob)?;
        if h.name == "gpg-pubkey" {
            continue;
        }
        let evr = match h.epoch {
            Some(e) if e > 0 => format!("{e}:{}-{}", h.version, h.release),
            _ => format!("{}-{}", h.version, h.release),
        };
        let mut p = Package::new(PackageType::Rpm, h.name, evr);
        p.metadata.epoch = h.epoch;
        p.metadata.arch = h.arch;
        p.metadata.license = h.license;
        if let Some(srpm) = h.source_rpm {
            p.metadata.source_name = source_name(&srpm);
            p.metadata.extra.insert("sourceRpm".into(), srpm);
        }
        if let Some(v) = h.vendor {
            p.metadata.extra.insert("vendor".into(), v);
        }
        if let Some(m) = h.modularity_label {
            p.metadata.extra.insert("modularityLabel".into(), m);
        }
        out.push(p);
    }
    Ok(out)
}
