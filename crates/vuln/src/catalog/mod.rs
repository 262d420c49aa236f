//! Catalogers: which packages a filesystem holds, as an [`Sbom`].
//!
//! Each cataloger names the files it reads by path (and, for binaries, by the execute bit)
//! and parses their bytes; nothing else is read from the image. [`catalog`] walks the
//! squashed view once to pick files, reads them all in one pass per layer
//! ([`Filesystem::read_files`]) and hands each to its cataloger. [`open_and_catalog`] does
//! the same while the image is being opened, parsing each wanted file as the verified layer
//! stream passes it, so a cold scan inflates every layer once instead of twice. Purls are computed last,
//! once the distribution is known from os-release (the `distro` qualifier and the deb/apk/rpm
//! namespace come from it).
//!
//! | cataloger | files | purl type |
//! |---|---|---|
//! | [`osrelease`] | `etc/os-release`, `usr/lib/os-release` | (distro) |
//! | [`dpkg`] | `var/lib/dpkg/status`, `var/lib/dpkg/status.d/*` | `deb` |
//! | [`apk`] | `lib/apk/db/installed` | `apk` |
//! | [`rpm`] | `rpmdb.sqlite`, `Packages` (Berkeley DB), `Packages.db` (ndb) under `var/lib/rpm`, `usr/lib/sysimage/rpm`, `usr/share/rpm` | `rpm` |
//! | [`python`] | `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` files | `pypi` |
//! | [`npm`] | `node_modules/**/package.json`, `package-lock.json` | `npm` |
//! | [`golang`] | executables with Go build info | `golang` |
//! | [`rust`] | `Cargo.lock`; executables with a cargo-auditable `.dep-v0` section | `cargo` |
//! | [`java`] | `*.jar`, `*.war`, `*.ear`, `*.jpi`, `*.hpi` (nested archives too) | `maven` |
//! | [`ruby`] | `specifications/*.gemspec` | `gem` |
//! | [`php`] | `vendor/composer/installed.json`, `composer.lock` | `composer` |
//! | [`dotnet`] | `*.deps.json` | `nuget` |
//!
//! Parsers are written here: each format is a few dozen lines of text or JSON (dpkg
//! control paragraphs, apk's single-letter records, PKG-INFO headers, Go build info strings)
//! or a binary layout no maintained crate reads (rpm headers inside Berkeley DB hash pages
//! and ndb slots). SQLite (`rusqlite`), ZIP (`zip`) and ELF/Mach-O/PE sections (`object`)
//! come from crates.

pub mod apk;
pub mod dotnet;
pub mod dpkg;
pub mod golang;
pub mod java;
pub mod npm;
pub mod osrelease;
pub mod php;
pub mod purl;
pub mod python;
pub mod rpm;
pub mod ruby;
pub mod rust;

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::image::{Filesystem, ImageError, ImageOptions, ImageSource, Node, NodeKind};

pub use osrelease::Distro;

/// The kind of a package, named by its purl type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// Debian package.
    Deb,
    /// Alpine package.
    Apk,
    /// RPM package.
    Rpm,
    /// Python distribution.
    Pypi,
    /// npm package.
    Npm,
    /// Go module (including the `stdlib` pseudo-module).
    Golang,
    /// Rust crate.
    Cargo,
    /// Java archive (Maven coordinates).
    Maven,
    /// Ruby gem.
    Gem,
    /// PHP Composer package.
    Composer,
    /// .NET NuGet package.
    Nuget,
}

impl PackageType {
    /// The purl type.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Pypi => "pypi",
            PackageType::Npm => "npm",
            PackageType::Golang => "golang",
            PackageType::Cargo => "cargo",
            PackageType::Maven => "maven",
            PackageType::Gem => "gem",
            PackageType::Composer => "composer",
            PackageType::Nuget => "nuget",
        }
    }

    /// From a purl type.
    pub fn from_purl_type(s: &str) -> Option<PackageType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "deb" => PackageType::Deb,
            "apk" => PackageType::Apk,
            "rpm" => PackageType::Rpm,
            "pypi" => PackageType::Pypi,
            "npm" => PackageType::Npm,
            "golang" => PackageType::Golang,
            "cargo" => PackageType::Cargo,
            "maven" => PackageType::Maven,
            "gem" => PackageType::Gem,
            "composer" => PackageType::Composer,
            "nuget" => PackageType::Nuget,
            _ => return None,
        })
    }

    /// Whether packages of this type come from a distribution's package manager.
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }
}

/// Facts about a package beyond name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Source package (dpkg `Source`, apk origin, source RPM name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, when it differs from the binary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// RPM epoch (also part of [`Package::version`] when non-zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Declared licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Anything else (`vendor`, `goVersion`, `mainModule`, `modularityLabel`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// One package found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Name as the ecosystem spells it (`group:artifact` for Maven, `@scope/name` for npm,
    /// module path for Go).
    pub name: String,
    /// Version (for RPM `[epoch:]version-release`, as compared).
    pub version: String,
    /// Package URL.
    pub purl: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Files it was found in (no leading `/`).
    pub locations: Vec<String>,
    /// Layer the (first) location came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    /// More facts.
    #[serde(default)]
    pub metadata: Metadata,
}

impl Package {
    /// A package with a name, version and kind; the purl is filled in by [`finish`].
    pub fn new(kind: PackageType, name: impl Into<String>, version: impl Into<String>) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            purl: String::new(),
            kind,
            locations: Vec::new(),
            layer_digest: None,
            metadata: Metadata::default(),
        }
    }

    /// The purl of this package for a distribution (see the module docs of [`purl`]).
    pub fn compute_purl(&self, distro: Option<&Distro>) -> String {
        let distro_q = distro
            .filter(|_| self.kind.is_os())
            .map(|d| match &d.version_id {
                Some(v) => format!("{}-{v}", d.id),
                None => d.id.clone(),
            })
            .unwrap_or_default();
        let arch = self.metadata.arch.clone().unwrap_or_default();
        match self.kind {
            PackageType::Deb | PackageType::Apk => {
                let ns = distro.map(|d| d.id.as_str()).unwrap_or(match self.kind {
                    PackageType::Deb => "debian",
                    _ => "alpine",
                });
                let upstream = self
                    .metadata
                    .source_name
                    .as_deref()
                    .filter(|s| *s != self.name)
                    .unwrap_or("");
                purl::build(
                    self.kind.as_str(),
                    Some(ns),
                    &self.name,
                    &self.version,
                    &[
                        ("arch", &arch),
                        ("distro", &distro_q),
                        ("upstream", upstream),
                    ],
                )
            }
            PackageType::Rpm => {
                let ns = distro.map(|d| d.id.as_str()).unwrap_or("redhat");
                let epoch = self
                    .metadata
                    .epoch
                    .filter(|e| *e > 0)
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                let version = self
                    .version
                    .split_once(':')
                    .filter(|(e, _)| e.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(self.version.as_str(), |(_, v)| v);
                let upstream = self
                    .metadata
                    .extra
                    .get("sourceRpm")
                    .cloned()
                    .unwrap_or_default();
                purl::build(
                    "rpm",
                    Some(ns),
                    &self.name,
                    version,
                    &[
                        ("arch", &arch),
                        ("distro", &distro_q),
                        ("epoch", &epoch),
                        ("upstream", &upstream),
                    ],
                )
            }
            PackageType::Npm | PackageType::Golang | PackageType::Composer => {
                let (ns, name) = match self.name.rsplit_once('/') {
                    Some((ns, n)) => (Some(ns), n),
                    None => (None, self.name.as_str()),
                };
                purl::build(self.kind.as_str(), ns, name, &self.version, &[])
            }
            PackageType::Maven => {
                let (ns, name) = match self.name.split_once(':') {
                    Some((g, a)) => (Some(g), a),
                    None => (None, self.name.as_str()),
                };
                purl::build("maven", ns, name, &self.version, &[])
            }
            PackageType::Pypi => {
                let name = self.name.to_ascii_lowercase().replace('_', "-");
                purl::build("pypi", None, &name, &self.version, &[])
            }
            PackageType::Cargo | PackageType::Gem | PackageType::Nuget => {
                purl::build(self.kind.as_str(), None, &self.name, &self.version, &[])
            }
        }
    }
}

/// What was scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// A name: the image reference or tag, the directory, the SBOM file.
    pub name: String,
    /// The image (manifest) digest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The config digest (docker image id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Layer digests, bottom first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

/// The packages of an artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// What was scanned.
    pub artifact: Artifact,
    /// The distribution, from os-release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Packages, sorted by type, name, version.
    pub packages: Vec<Package>,
    /// Files that could not be read or parsed (`path: reason`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A cataloger of one file format.
trait Cataloger: Sync {
    fn wants(&self, path: &str, node: &Node) -> bool;
    fn parse(&self, path: &str, data: &[u8]) -> Result<Vec<Package>, String>;
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent_name(path: &str) -> &str {
    let mut it = path.rsplit('/');
    it.next();
    it.next().unwrap_or("")
}

struct FnCataloger<W, P>(W, P);

impl<W, P> Cataloger for FnCataloger<W, P>
where
    W: Fn(&str, &Node) -> bool + Sync,
    P: Fn(&str, &[u8]) -> Result<Vec<Package>, String> + Sync,
{
    fn wants(&self, path: &str, node: &Node) -> bool {
        (self.0)(path, node)
    }
    fn parse(&self, path: &str, data: &[u8]) -> Result<Vec<Package>, String> {
        (self.1)(path, data)
    }
}

fn catalogers() -> Vec<(&'static str, Box<dyn Cataloger>)> {
    vec![
        (
            "dpkg",
            Box::new(FnCataloger(dpkg::wants, |_: &str, d: &[u8]| {
                Ok(dpkg::parse_status(d))
            })),
        ),
        (
            "apk",
            Box::new(FnCataloger(
                |p: &str, _: &Node| p == "lib/apk/db/installed",
                |_: &str, d: &[u8]| Ok(apk::parse_installed(d)),
            )),
        ),
        (
            "rpm",
            Box::new(FnCataloger(rpm::wants, |p: &str, d: &[u8]| {
                rpm::parse_database(p, d).map_err(|e| e.to_string())
            })),
        ),
        (
            "python",
            Box::new(FnCataloger(python::wants, |_: &str, d: &[u8]| {
                Ok(python::parse_metadata(d).into_iter().collect())
            })),
        ),
        ("npm", Box::new(FnCataloger(npm::wants, npm::parse))),
        (
            "binary",
            Box::new(FnCataloger(
                |_: &str, n: &Node| n.is_executable() && n.size >= 1024,
                |_: &str, d: &[u8]| {
                    let mut out = golang::parse_binary(d).unwrap_or_default();
                    out.extend(rust::parse_auditable_binary(d).unwrap_or_default());
                    Ok(out)
                },
            )),
        ),
        (
            "cargo-lock",
            Box::new(FnCataloger(
                |p: &str, _: &Node| file_name(p) == "Cargo.lock",
                |_: &str, d: &[u8]| rust::parse_cargo_lock(d),
            )),
        ),
        (
            "java",
            Box::new(FnCataloger(java::wants, |p: &str, d: &[u8]| {
                java::parse_archive(p, d)
            })),
        ),
        (
            "ruby",
            Box::new(FnCataloger(
                |p: &str, _: &Node| p.ends_with(".gemspec") && parent_name(p) == "specifications",
                |_: &str, d: &[u8]| Ok(ruby::parse_gemspec(d).into_iter().collect()),
            )),
        ),
        ("php", Box::new(FnCataloger(php::wants, php::parse))),
        (
            "dotnet",
            Box::new(FnCataloger(
                |p: &str, _: &Node| p.ends_with(".deps.json"),
                |_: &str, d: &[u8]| dotnet::parse_deps_json(d),
            )),
        ),
    ]
}

/// Catalogs a filesystem view.
pub fn catalog(fs: &Filesystem) -> Result<Sbom, ImageError> {
    catalog_with(fs, &catalogers(), &Captured::new())
}

/// Opens an image and catalogs it in the same pass: every file a cataloger wants is parsed
/// as the verified layer stream reaches it, so a cold scan decompresses each layer once.
/// Only the parse results are kept (keyed by the tar entry), never the files; results for
/// entries that later layers remove or replace are dropped, and files the pass could not
/// take (over [`crate::image::Limits::max_file_bytes`], unreadable) are read afterwards as
/// [`catalog`] reads them, so the SBOM is the same as `catalog(&open_image(..)?)`. A hardlink
/// (which has no content of its own in the stream) reuses the results of the file it links
/// to when every cataloger that wants it ignores the path, instead of reading the layer again.
pub fn open_and_catalog(
    source: Box<dyn ImageSource>,
    options: &ImageOptions,
) -> Result<(Filesystem, Sbom), ImageError> {
    let resolved = crate::image::resolve(source.as_ref(), options)?;
    let cats = catalogers();
    let max = options.limits.max_file_bytes;
    let mut captured = Captured::new();
    // One buffer for every file read in the pass: only parse results are kept.
    let mut scratch: Vec<u8> = Vec::new();
    let fs = Filesystem::from_image_visiting(
        source,
        resolved,
        options.limits,
        &mut |path: &str, node: &Node, content: &mut dyn Read| {
            let is_os_release = OS_RELEASE.contains(&path);
            let who: Vec<usize> = cats
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| c.wants(path, node))
                .map(|(i, _)| i)
                .collect();
            let Some(key) = node.content_key() else {
                return;
            };
            if (who.is_empty() && !is_os_release) || node.size > max {
                return;
            }
            scratch.clear();
            scratch.reserve(usize::try_from(node.size).unwrap_or(0).min(1 << 24));
            match content
                .take(max.saturating_add(1))
                .read_to_end(&mut scratch)
            {
                Ok(_) if scratch.len() as u64 <= max => {}
                // Left to the second read, which reports the problem.
                _ => return,
            }
            let results = who
                .iter()
                .map(|&i| (i, cats[i].1.parse(path, &scratch)))
                .collect();
            captured.files.insert(
                key,
                CapturedFile {
                    path: path.to_owned(),
                    results,
                    os_release: is_os_release.then(|| scratch.clone()),
                },
            );
        },
    )?;
    let sbom = catalog_with(&fs, &cats, &captured)?;
    Ok((fs, sbom))
}

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// What [`open_and_catalog`] took from the layer streams.
struct CapturedFile {
    /// The entry's path.
    path: String,
    /// Cataloger index → its parse result.
    results: Vec<(usize, Result<Vec<Package>, String>)>,
    /// The content, for os-release files.
    os_release: Option<Vec<u8>>,
}

struct Captured {
    files: std::collections::HashMap<(usize, u64), CapturedFile>,
}

impl Captured {
    fn new() -> Captured {
        Captured {
            files: std::collections::HashMap::new(),
        }
    }

    /// The capture of the entry behind `path` in the final view, if the pass took it.
    fn get(&self, path: &str, node: &Node) -> Option<&CapturedFile> {
        self.files
            .get(&node.content_key()?)
            .filter(|c| c.path == path)
    }

    /// For a hardlink to a captured file: the results of `who`, when every one of those
    /// catalogers parsed the content in the pass and ignores the file's path.
    fn linked(&self, node: &Node, who: &[usize], cats: &Cats) -> Option<Results> {
        let c = self.files.get(&node.content_key()?)?;
        who.iter()
            .map(|&i| {
                let path_free = cats
                    .get(i)
                    .is_some_and(|(name, _)| PATH_FREE.contains(name));
                let (_, r) = c.results.iter().find(|(j, _)| *j == i)?;
                path_free.then(|| (i, r.clone()))
            })
            .collect()
    }
}

/// Cataloger index → its parse result.
type Results = Vec<(usize, Result<Vec<Package>, String>)>;

/// Catalogers whose parse ignores the file's path (a hardlink's content parses the same
/// under any name).
const PATH_FREE: [&str; 7] = [
    "dpkg",
    "apk",
    "python",
    "binary",
    "cargo-lock",
    "ruby",
    "dotnet",
];

type Cats = Vec<(&'static str, Box<dyn Cataloger>)>;

fn catalog_with(fs: &Filesystem, cats: &Cats, captured: &Captured) -> Result<Sbom, ImageError> {
    let mut sbom = Sbom::default();
    if let Some(img) = fs.image() {
        sbom.artifact = Artifact {
            name: img.names.first().cloned().unwrap_or_else(|| fs.name()),
            digest: Some(img.digest().to_string()),
            image_id: Some(img.config_digest.to_string()),
            layers: img.layers.iter().map(|l| l.id()).collect(),
        };
    } else {
        sbom.artifact.name = fs.name();
    }
    for p in OS_RELEASE {
        let pre = fs.resolve(p).ok().and_then(|r| {
            let node = fs.node(&r)?;
            captured.get(&r, node)?.os_release.clone()
        });
        match pre.map_or_else(|| fs.read_file(p), Ok) {
            Ok(bytes) => {
                sbom.distro = osrelease::parse(&String::from_utf8_lossy(&bytes));
                if sbom.distro.is_some() {
                    break;
                }
            }
            Err(ImageError::NotFound { .. } | ImageError::NotAFile { .. }) => {}
            Err(e) => sbom.warnings.push(format!("{p}: {e}")),
        }
    }

    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut record = |path: &str,
                      layer: &Option<String>,
                      results: Vec<(usize, Result<Vec<Package>, String>)>| {
        for (i, result) in results {
            let name = cats.get(i).map_or("", |(n, _)| *n);
            match result {
                Ok(found) => {
                    for mut p in found {
                        if p.locations.is_empty() {
                            p.locations.push(path.to_owned());
                        } else {
                            // Nested locations (`app.war:WEB-INF/lib/x.jar`) are relative to
                            // the file.
                            for l in &mut p.locations {
                                *l = format!("{path}:{l}");
                            }
                        }
                        p.layer_digest.clone_from(layer);
                        packages.push(p);
                    }
                }
                Err(e) => warnings.push(format!("{path}: {name}: {e}")),
            }
        }
    };

    // Results are recorded in the order a layer-by-layer read meets the files (layer, data
    // offset, then path), whichever pass produced them, so both passes give the same SBOM.
    let mut done: Vec<((usize, u64), usize, String, Results)> = Vec::new();
    let mut wanted: Vec<String> = Vec::new();
    // path → (catalogers, content key, order in the view)
    type Wanted = (Vec<usize>, (usize, u64), usize);
    let mut users: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut layers: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (order, (path, node)) in fs.entries().enumerate() {
        if node.kind != NodeKind::File {
            continue;
        }
        let key = node.content_key().unwrap_or((0, 0));
        if let Some(c) = captured.get(path, node) {
            if !c.results.is_empty() {
                layers.insert(path.to_owned(), fs.layer_id(node));
                done.push((key, order, path.to_owned(), c.results.clone()));
            }
            continue;
        }
        let who: Vec<usize> = cats
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| c.wants(path, node))
            .map(|(i, _)| i)
            .collect();
        if who.is_empty() {
            continue;
        }
        if let Some(results) = captured.linked(node, &who, cats) {
            layers.insert(path.to_owned(), fs.layer_id(node));
            done.push((key, order, path.to_owned(), results));
        } else {
            wanted.push(path.to_owned());
            layers.insert(path.to_owned(), fs.layer_id(node));
            users.insert(path.to_owned(), (who, key, order));
        }
    }
    let mut read_warnings = Vec::new();
    fs.read_files(&wanted, |path, data| {
        let Some((who, key, order)) = users.get(path) else {
            return;
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                read_warnings.push(format!("{path}: {e}"));
                return;
            }
        };
        let results = who
            .iter()
            .filter_map(|&i| cats.get(i).map(|(_, c)| (i, c.parse(path, &data))))
            .collect();
        done.push((*key, *order, path.to_owned(), results));
    })?;
    done.sort_by_key(|(key, order, _, _)| (*key, *order));
    for (_, _, path, results) in done {
        let layer = layers.get(&path).cloned().flatten();
        record(&path, &layer, results);
    }
    sbom.packages = packages;
    sbom.warnings.extend(warnings);
    sbom.warnings.extend(read_warnings);
    finish(&mut sbom);
    Ok(sbom)
}

/// Fills in purls from the distribution, merges duplicates (same type, name, version and
/// purl: their locations are joined) and sorts.
pub fn finish(sbom: &mut Sbom) {
    for p in &mut sbom.packages {
        if p.purl.is_empty() {
            p.purl = p.compute_purl(sbom.distro.as_ref());
        }
    }
    sbom.packages.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.purl).cmp(&(b.kind, &b.name, &b.version, &b.purl))
    });
    let mut merged: Vec<Package> = Vec::with_capacity(sbom.packages.len());
    for p in std::mem::take(&mut sbom.packages) {
        match merged.last_mut() {
            Some(last)
                if last.kind == p.kind
                    && last.name == p.name
                    && last.version == p.version
                    && last.purl == p.purl =>
            {
                for l in p.locations {
                    if !last.locations.contains(&l) {
                        last.locations.push(l);
                    }
                }
            }
            _ => merged.push(p),
        }
    }
    sbom.packages = merged;
}
