//! Go binaries: the build information the Go linker embeds (`go version -m`).
//!
//! The data starts with the 14-byte magic `\xff Go buildinf:`, a pointer size and a flags
//! byte, in the `.go.buildinfo` section (ELF), `__go_buildinfo` (Mach-O) or the data
//! section (PE). Since Go 1.18 (flag bit 2) the Go version and the module info follow
//! inline at offset 32 as varint-length-prefixed strings; before, two pointers at offset
//! 16 point at Go string headers (address, length) that are translated to file offsets
//! through the object's sections. The module info is text between two 16-byte sentinels:
//! `path`, `mod` (main module), `dep` and `=>` (replacement of the previous dep) and
//! `build` lines. The format is small and `debug/buildinfo` is Go-only, so it is read here;
//! `object` parses the executable containers.

use object::{Object, ObjectSection};

use super::{Package, PackageType};

const MAGIC: &[u8] = b"\xff Go buildinf:";

fn find_magic(data: &[u8]) -> Option<usize> {
    let mut off = 0;
    while off + 32 <= data.len() {
        if data[off..].starts_with(MAGIC) {
            return Some(off);
        }
        off += 16;
    }
    None
}

fn uvarint(d: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &b) in d.iter().enumerate().take(10) {
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn varint_string(d: &[u8]) -> Option<(&[u8], usize)> {
    let (n, used) = uvarint(d)?;
    let n = usize::try_from(n).ok()?;
    Some((d.get(used..used.checked_add(n)?)?, used + n))
}

struct Mapper<'a> {
    file: object::File<'a>,
    data: &'a [u8],
}

impl Mapper<'_> {
    fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        for s in self.file.sections() {
            let start = s.address();
            if addr >= start && addr.checked_add(len)? <= start + s.size() {
                let (foff, fsize) = s.file_range()?;
                let rel = addr - start;
                if rel + len > fsize {
                    return None;
                }
                let from = usize::try_from(foff + rel).ok()?;
                return self.data.get(from..from + usize::try_from(len).ok()?);
            }
        }
        None
    }

    fn ptr(&self, addr: u64, size: usize, be: bool) -> Option<u64> {
        let b = self.read(addr, size as u64)?;
        Some(match (size, be) {
            (4, false) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
            (8, false) => u64::from_le_bytes(b.try_into().ok()?),
            (8, true) => u64::from_be_bytes(b.try_into().ok()?),
            _ => return None,
        })
    }

    fn string(&self, addr: u64, size: usize, be: bool) -> Option<String> {
        let data = self.ptr(addr, size, be)?;
        let len = self.ptr(addr + size as u64, size, be)?;
        if len > 1 << 20 {
            return None;
        }
        Some(String::from_utf8_lossy(self.read(data, len)?).into_owned())
    }
}

/// The Go version and module info text of a binary.
pub fn build_info(data: &[u8]) -> Option<(String, String)> {
    let file = object::File::parse(data).ok()?;
    let section = file
        .section_by_name(".go.buildinfo")
        .or_else(|| file.section_by_name("__go_buildinfo"));
    let (base, blob) = match section
        .as_ref()
        .and_then(|s| Some((s.address(), s.data().ok()?)))
    {
        Some((a, d)) if d.starts_with(MAGIC) => (Some(a), d),
        _ => {
            let off = find_magic(data)?;
            (None, &data[off..])
        }
    };
    let _ = base;
    let ptr_size = usize::from(*blob.get(14)?);
    let flags = *blob.get(15)?;
    let (version, modinfo) = if flags & 2 != 0 {
        let rest = blob.get(32..)?;
        let (v, used) = varint_string(rest)?;
        let (m, _) = varint_string(rest.get(used..)?)?;
        (
            String::from_utf8_lossy(v).into_owned(),
            String::from_utf8_lossy(m).into_owned(),
        )
    } else {
        let be = flags & 1 != 0;
        let mapper = Mapper { file, data };
        let rd = |off: usize| -> Option<u64> {
            let b = blob.get(off..off + ptr_size)?;
            Some(match (ptr_size, be) {
                (4, false) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
                (4, true) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
                (8, false) => u64::from_le_bytes(b.try_into().ok()?),
                (8, true) => u64::from_be_bytes(b.try_into().ok()?),
                _ => return None,
            })
        };
        let vaddr = rd(16)?;
        let maddr = rd(16 + ptr_size)?;
        (
            mapper.string(vaddr, ptr_size, be)?,
            mapper.string(maddr, ptr_size, be).unwrap_or_default(),
        )
    };
    let modinfo = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo
            .get(16..modinfo.len() - 16)
            .map(str::to_owned)
            .unwrap_or_default()
    } else {
        modinfo
    };
    Some((version, modinfo))
}

/// A version set with `-ldflags "-X <pkg>.version=..."` for the main module.
fn ldflags_version(module: &str, ldflags: &str) -> Option<String> {
    for tok in ldflags.split_whitespace() {
        let tok = tok.trim_start_matches("-X=").trim_matches(['\'', '"']);
        let Some((key, value)) = tok.split_once('=') else {
            continue;
        };
        let key = key.trim_start_matches(['\'', '"']);
        let (pkg, var) = key.rsplit_once('.').unwrap_or(("", key));
        let versionish = matches!(var, "version" | "Version" | "ver" | "Ver");
        if versionish && (pkg == "main" || pkg.starts_with(module)) && !value.is_empty() {
            return Some(value.trim_matches(['\'', '"']).to_owned());
        }
    }
    None
}

/// Packages of a Go binary: `stdlib` at the Go version, the main module and every
/// dependency (replacements applied). `None` when the file has no Go build info.
pub fn parse_binary(data: &[u8]) -> Option<Vec<Package>> {
    if !(data.starts_with(b"\x7fELF")
        || data.starts_with(b"MZ")
        || data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || data.starts_with(&[0xce, 0xfa, 0xed, 0xfe]))
    {
        return None;
    }
    let (go_version, modinfo) = build_info(data)?;
    let go = go_version.split_whitespace().next().unwrap_or_default();
    let mut out = Vec::new();
    let mut std = Package::new(
        PackageType::Golang,
        "stdlib",
        format!("v{}", go.trim_start_matches("go")),
    );
    std.metadata
        .extra
        .insert("goVersion".into(), go_version.clone());
    out.push(std);
    let mut main: Option<(String, String)> = None;
    let mut ldflags = String::new();
    let mut deps: Vec<(String, String)> = Vec::new();
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", path, version, ..] => main = Some(((*path).into(), (*version).into())),
            ["mod", path] => main = Some(((*path).into(), String::new())),
            ["dep", path, version, ..] => deps.push(((*path).into(), (*version).into())),
            ["=>", path, version, ..] if !version.is_empty() => {
                if let Some(last) = deps.last_mut() {
                    *last = ((*path).into(), (*version).into());
                }
            }
            ["build", setting] => {
                if let Some(v) = setting.strip_prefix("-ldflags=") {
                    ldflags = v.to_owned();
                }
            }
            _ => {}
        }
    }
    if let Some((path, mut version)) = main {
        if version.is_empty() || version == "(devel)" {
            version = ldflags_version(&path, &ldflags).unwrap_or_default();
        }
        let mut p = Package::new(PackageType::Golang, path, version);
        p.metadata.extra.insert("mainModule".into(), "true".into());
        p.metadata
            .extra
            .insert("goVersion".into(), go_version.clone());
        out.push(p);
    }
    for (path, version) in deps {
        let mut p = Package::new(PackageType::Golang, path, version);
        p.metadata
            .extra
            .insert("goVersion".into(), go_version.clone());
        out.push(p);
    }
    Some(out)
}
