//! Updating the database from the upstream feeds or from a mirror.
//!
//! | source | spelled | upstream | mirror path |
//! |---|---|---|---|
//! | an osv.dev ecosystem export | `osv:<Ecosystem>` (`osv:Go`, `osv:PyPI`, `osv:Alpine`) | `{OSV_BASE_URL}/<Ecosystem>/all.zip` | `osv/<Ecosystem>/all.zip` |
//! | Alpine secdb | `alpine:<branch>[/<repo>]` (`alpine:v3.20/main`) | `{ALPINE_SECDB_BASE_URL}/<branch>/<repo>.json` | `alpine/<branch>/<repo>.json` |
//! | Debian security tracker (JSON export) | `debian-tracker` | [`DEBIAN_TRACKER_URL`] | `debian/tracker.json` |
//! | CISA KEV | `kev` | [`KEV_URL`] | `kev/known_exploited_vulnerabilities.json` |
//! | FIRST EPSS | `epss` | [`EPSS_URL`] | `epss/epss_scores-current.csv.gz` |
//!
//! A mirror (for air-gapped installations) is a directory or an HTTP(S) base URL holding
//! the files at their mirror paths; populating one is copying the upstream files there.
//! Downloads stream to a temporary directory beside the database and are imported with the
//! source's name ([`Source::name`]), so an update replaces each source's previous content.
//! A source that cannot be fetched is reported in [`ImportReport::failed`] and keeps its
//! previous content; the update fails only when no source could be fetched.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::import::{self, Format, ImportReport, Input};
use super::{DbError, io_err};
use crate::http::{Client, Request};

/// Base URL of the osv.dev per-ecosystem exports.
pub const OSV_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// Base URL of the Alpine secdb.
pub const ALPINE_SECDB_BASE_URL: &str = "https://secdb.alpinelinux.org";
/// The Debian security tracker's JSON export (source package -> issue -> release status).
pub const DEBIAN_TRACKER_URL: &str = "https://security-tracker.debian.org/tracker/data/json";
/// The CISA Known Exploited Vulnerabilities catalog.
pub const KEV_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
/// The current FIRST EPSS scores.
pub const EPSS_URL: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";

/// Largest feed file downloaded.
const MAX_DOWNLOAD: u64 = 8 << 30;

/// A feed to download.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// One osv.dev ecosystem export.
    Osv {
        /// The OSV ecosystem name as osv.dev spells it (`Go`, `crates.io`, `Alpine`).
        ecosystem: String,
    },
    /// One Alpine secdb file.
    AlpineSecdb {
        /// Branch (`v3.20`, `edge`).
        branch: String,
        /// Repository (`main`, `community`).
        repo: String,
    },
    /// The Debian security tracker's JSON export (not among the defaults: osv.dev's Debian
    /// export carries the same advisories; this one adds the tracker's per-release states
    /// such as `no-dsa`).
    DebianTracker,
    /// CISA KEV.
    Kev,
    /// FIRST EPSS.
    Epss,
}

impl Source {
    /// Parses `osv:<Ecosystem>`, `alpine:<branch>[/<repo>]`, `debian-tracker`, `kev` or
    /// `epss`.
    pub fn parse(s: &str) -> Result<Source, DbError> {
        let bad = |reason: &str| DbError::Input {
            path: PathBuf::from(s),
            reason: reason.to_owned(),
        };
        let s = s.trim();
        match s.split_once(':') {
            Some(("osv", eco)) if !eco.is_empty() && !eco.contains(['/', '\\']) => {
                Ok(Source::Osv {
                    ecosystem: eco.to_owned(),
                })
            }
            Some(("alpine", rest)) if !rest.is_empty() => {
                let (branch, repo) = rest.split_once('/').unwrap_or((rest, "main"));
                let ok = |x: &str| {
                    !x.is_empty()
                        && x.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                };
                if ok(branch) && ok(repo) {
                    Ok(Source::AlpineSecdb {
                        branch: branch.to_owned(),
                        repo: repo.to_owned(),
                    })
                } else {
                    Err(bad(
                        "expected alpine:<branch>[/<repo>], e.g. alpine:v3.20/main",
                    ))
                }
            }
            None if s == "debian-tracker" => Ok(Source::DebianTracker),
            None if s == "kev" => Ok(Source::Kev),
            None if s == "epss" => Ok(Source::Epss),
            _ => Err(bad(
                "unknown source (expected osv:<Ecosystem>, alpine:<branch>[/<repo>], debian-tracker, kev or epss)",
            )),
        }
    }

    /// The language ecosystems of osv.dev plus the distributions palisade catalogs, KEV
    /// and EPSS.
    pub fn defaults() -> Vec<Source> {
        let mut v: Vec<Source> = [
            "Go",
            "PyPI",
            "npm",
            "crates.io",
            "Maven",
            "RubyGems",
            "Packagist",
            "NuGet",
            "Alpine",
            "Debian",
            "Ubuntu",
            "Red Hat",
            "Rocky Linux",
            "AlmaLinux",
            "Wolfi",
            "Chainguard",
        ]
        .iter()
        .map(|e| Source::Osv {
            ecosystem: (*e).to_owned(),
        })
        .collect();
        v.push(Source::Kev);
        v.push(Source::Epss);
        v
    }

    /// The database source name (`osv-Go`, `alpine-v3.20-main`, `cisa-kev`, `epss`).
    pub fn name(&self) -> String {
        match self {
            Source::Osv { ecosystem } => format!("osv-{}", ecosystem.replace(' ', "-")),
            Source::AlpineSecdb { branch, repo } => format!("alpine-{branch}-{repo}"),
            Source::DebianTracker => "debian-tracker".into(),
            Source::Kev => "cisa-kev".into(),
            Source::Epss => "epss".into(),
        }
    }

    /// The path of the file under a mirror (see the module docs).
    pub fn mirror_path(&self) -> String {
        match self {
            Source::Osv { ecosystem } => format!("osv/{ecosystem}/all.zip"),
            Source::AlpineSecdb { branch, repo } => format!("alpine/{branch}/{repo}.json"),
            Source::DebianTracker => "debian/tracker.json".into(),
            Source::Kev => "kev/known_exploited_vulnerabilities.json".into(),
            Source::Epss => "epss/epss_scores-current.csv.gz".into(),
        }
    }

    /// The upstream URL.
    pub fn upstream_url(&self) -> String {
        match self {
            Source::Osv { ecosystem } => {
                format!("{OSV_BASE_URL}/{}/all.zip", encode_segment(ecosystem))
            }
            Source::AlpineSecdb { branch, repo } => {
                format!("{ALPINE_SECDB_BASE_URL}/{branch}/{repo}.json")
            }
            Source::DebianTracker => DEBIAN_TRACKER_URL.into(),
            Source::Kev => KEV_URL.into(),
            Source::Epss => EPSS_URL.into(),
        }
    }

    fn format(&self) -> Format {
        match self {
            Source::Osv { .. } => Format::OsvZip,
            Source::AlpineSecdb { .. } => Format::AlpineSecdb,
            Source::DebianTracker => Format::DebianTracker,
            Source::Kev => Format::Kev,
            Source::Epss => Format::Epss,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Osv { ecosystem } => write!(f, "osv:{ecosystem}"),
            Source::AlpineSecdb { branch, repo } => write!(f, "alpine:{branch}/{repo}"),
            Source::DebianTracker => f.write_str("debian-tracker"),
            Source::Kev => f.write_str("kev"),
            Source::Epss => f.write_str("epss"),
        }
    }
}

/// Percent-encodes a URL path segment (`Red Hat` → `Red%20Hat`).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where feeds come from instead of upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A local directory laid out by [`Source::mirror_path`].
    Dir(PathBuf),
    /// An HTTP(S) base URL laid out the same way.
    Url(String),
}

impl Mirror {
    /// `http://` and `https://` values are URLs, anything else a directory.
    pub fn parse(s: &str) -> Mirror {
        if s.starts_with("http://") || s.starts_with("https://") {
            Mirror::Url(s.trim_end_matches('/').to_owned())
        } else {
            Mirror::Dir(PathBuf::from(s))
        }
    }
}

fn mirror_url(base: &str, source: &Source) -> String {
    let path: Vec<String> = source
        .mirror_path()
        .split('/')
        .map(encode_segment)
        .collect();
    format!("{}/{}", base.trim_end_matches('/'), path.join("/"))
}

fn download(client: &Client, url: &str, to: &Path) -> Result<(), String> {
    let resp = client.send(Request::get(url)).map_err(|e| e.to_string())?;
    if !resp.status.is_success() {
        let status = resp.status;
        return Err(format!("{url}: HTTP {status}"));
    }
    let mut reader = resp.reader();
    let mut f = fs_err::File::create(to).map_err(|e| e.to_string())?;
    let n = std::io::copy(
        &mut std::io::Read::take(&mut reader, MAX_DOWNLOAD + 1),
        &mut f,
    )
    .map_err(|e| format!("{url}: {e}"))?;
    if n > MAX_DOWNLOAD {
        return Err(format!("{url}: larger than {MAX_DOWNLOAD} bytes"));
    }
    f.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// Downloads the sources (from upstream, or from `mirror`) and imports them into the
/// database in `dir`.
pub fn update(
    dir: &Path,
    sources: &[Source],
    mirror: Option<&Mirror>,
) -> Result<ImportReport, DbError> {
    fs_err::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".download.")
        .tempdir_in(dir)
        .map_err(io_err(dir))?;
    let needs_http = !matches!(mirror, Some(Mirror::Dir(_)));
    let client = if needs_http {
        Some(
            Client::new(Duration::from_secs(120)).map_err(|e| DbError::Download {
                source_name: "(client)".into(),
                reason: e.to_string(),
            })?,
        )
    } else {
        None
    };
    let mut inputs = Vec::new();
    let mut failed = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let (path, from) = match (mirror, &client) {
            (Some(Mirror::Dir(d)), _) => {
                let p = d.join(source.mirror_path());
                if !p.is_file() {
                    failed.push(format!(
                        "{}: {} not found in the mirror",
                        source.name(),
                        p.display()
                    ));
                    continue;
                }
                let from = p.display().to_string();
                (p, from)
            }
            (m, Some(client)) => {
                let url = match m {
                    Some(Mirror::Url(base)) => mirror_url(base, source),
                    _ => source.upstream_url(),
                };
                let file = source
                    .mirror_path()
                    .rsplit('/')
                    .next()
                    .unwrap_or("feed")
                    .to_owned();
                let to = tmp.path().join(format!("{i}-{file}"));
                if let Err(e) = download(client, &url, &to) {
                    failed.push(format!("{}: {e}", source.name()));
                    continue;
                }
                (to, url)
            }
            (_, None) => continue,
        };
        inputs.push(Input {
            path,
            format: Some(source.format()),
            name: Some(source.name()),
            fetched_from: Some(from),
        });
    }
    if inputs.is_empty() && !sources.is_empty() {
        // Every source failed, usually for one reason (no network): name the first failure
        // and count the rest instead of repeating the same error once per source.
        let source_name = match sources {
            [one] => one.to_string(),
            many => format!("all {} sources", many.len()),
        };
        let reason = match failed.as_slice() {
            [] => "nothing to download".to_owned(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (and {} more failures)", rest.len()),
        };
        return Err(DbError::Download {
            source_name,
            reason,
        });
    }
    let mut report = import::import_inputs(dir, inputs)?;
    report.failed = failed;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn sources_parse_and_locate() {
        let s = Source::parse("osv:Red Hat").unwrap();
        assert_eq!(s.name(), "osv-Red-Hat");
        assert_eq!(
            s.upstream_url(),
            format!("{OSV_BASE_URL}/Red%20Hat/all.zip")
        );
        assert_eq!(
            mirror_url("http://m/", &s),
            "http://m/osv/Red%20Hat/all.zip"
        );
        let a = Source::parse("alpine:v3.20").unwrap();
        assert_eq!(a.mirror_path(), "alpine/v3.20/main.json");
        assert_eq!(a.to_string(), "alpine:v3.20/main");
        assert_eq!(Source::parse("kev").unwrap(), Source::Kev);
        let d = Source::parse("debian-tracker").unwrap();
        assert_eq!(d.mirror_path(), "debian/tracker.json");
        assert_eq!(d.upstream_url(), DEBIAN_TRACKER_URL);
        assert_eq!(d.name(), "debian-tracker");
        assert!(Source::parse("osv:../x").is_err());
        assert!(Source::parse("nvd").is_err());
        assert_eq!(Mirror::parse("/srv/m"), Mirror::Dir("/srv/m".into()));
        assert_eq!(
            Mirror::parse("https://m.example/feeds/"),
            Mirror::Url("https://m.example/feeds".into())
        );
    }

    #[test]
    fn when_every_source_fails_the_first_failure_is_named_once() {
        let db = tempfile::tempdir().unwrap();
        let mirror = tempfile::tempdir().unwrap();
        let sources = [
            Source::parse("osv:Go").unwrap(),
            Source::parse("osv:PyPI").unwrap(),
            Source::parse("kev").unwrap(),
        ];
        let e = update(
            db.path(),
            &sources,
            Some(&Mirror::Dir(mirror.path().to_owned())),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("downloading all 3 sources: osv-Go: "), "{e}");
        assert!(e.contains("not found in the mirror"), "{e}");
        assert!(e.ends_with("(and 2 more failures)"), "{e}");
        assert!(!e.contains("osv-PyPI"), "{e}");
    }
}
