//! The matcher: which advisories affect a package version.
//!
//! Advisories are indexed in memory by `(ecosystem, normalised name)`
//! ([`names::normalize_name`]). A query names an ecosystem, a package, a version and,
//! for distribution packages, the release and the source package name. For every indexed
//! affected entry of that package (and, for distributions, of that release), the version is
//! tested against the entry's OSV ranges, explicit versions and requirements with the scheme
//! of the ecosystem (see [`crate::version`]). Withdrawn advisories are skipped, and so are
//! RustSec informational notices (unmaintained crates and the like) unless asked for.
//!
//! Matched advisories are then grouped: two advisories that share any identifier (id or
//! alias) describe the same vulnerability, so a PYSEC record and the GHSA record aliasing
//! the same CVE give one [`Finding`] per package. An advisory's fix is the lowest version it
//! names as fixed, above the installed one, that none of its entries still calls affected
//! (a later interval may reopen a fixed branch); a finding's fix is the highest of those
//! across its group, so that upgrading to it resolves every record of the vulnerability.

mod eval;
pub mod names;
mod purl;

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use crate::advisory::{Advisory, Affected, Ecosystem, SeverityScore};
use crate::osv::{KevCatalog, KevEntry};
use crate::version;

pub use purl::{PurlError, query_from_purl};

/// A package version to look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageQuery {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Its name (binary package name for distributions).
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The distribution release (`3.18`, `12`), for distribution packages.
    pub release: Option<String>,
    /// The source package name for distribution packages (dpkg `Source`, apk origin, source
    /// RPM name), which is what distribution advisories name.
    pub source_name: Option<String>,
}

impl PackageQuery {
    /// A query for a language package.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: impl Into<String>) -> Self {
        PackageQuery {
            ecosystem,
            name: name.into(),
            version: version.into(),
            release: None,
            source_name: None,
        }
    }

    /// Sets the distribution release.
    pub fn with_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Sets the source package name.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source_name = Some(source.into());
        self
    }
}

/// What to do about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remediation {
    /// Upgrade to this version (or, when `exclusive`, to one above it).
    Upgrade {
        /// The fixed version.
        version: String,
        /// The data only says "greater than `version`".
        exclusive: bool,
    },
    /// No fixed version is known.
    NoFix,
}

impl Remediation {
    /// The text shown to a user: `upgrade openssl to >= 3.1.4-r0` or `no fix yet`.
    pub fn text(&self, package: &str) -> String {
        match self {
            Remediation::Upgrade { version, exclusive } => {
                let op = if *exclusive { ">" } else { ">=" };
                format!("upgrade {package} to {op} {version}")
            }
            Remediation::NoFix => "no fix yet".to_owned(),
        }
    }
}

/// One vulnerability affecting one package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The identifier to show: the lowest CVE id of the group, else the lowest advisory id.
    pub id: String,
    /// Every other identifier of the group (ids and aliases), sorted.
    pub aliases: Vec<String>,
    /// Ids of the advisory records that matched, sorted.
    pub advisories: Vec<String>,
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The package name as queried.
    pub package: String,
    /// The installed version.
    pub version: String,
    /// Fixed versions above the installed one named by the matched records, lowest first.
    pub fixed_versions: Vec<String>,
    /// What to do.
    pub remediation: Remediation,
    /// Remediation as text (see [`Remediation::text`]).
    pub remediation_text: String,
    /// Overall severity (highest of the records).
    pub severity: Option<palisade_model::Severity>,
    /// The highest-scored CVSS entry of the records.
    pub cvss: Option<SeverityScore>,
    /// A one-line summary from one of the records.
    pub summary: Option<String>,
    /// CISA KEV entry of any CVE of the group, when a catalog is loaded.
    pub kev: Option<KevEntry>,
}

/// Findings of one query and what could not be evaluated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matches {
    /// One finding per vulnerability, sorted by id.
    pub findings: Vec<Finding>,
    /// `advisory id: reason` for affected entries of this package that could not be
    /// evaluated (a version the scheme rejects, a range type without a scheme).
    pub problems: Vec<String>,
}

/// Matching options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Also report informational advisories (RustSec `unmaintained`, `unsound`, `notice`).
    pub include_informational: bool,
}

/// The in-memory advisory index.
#[derive(Debug, Default)]
pub struct Index {
    advisories: Vec<Advisory>,
    by_package: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
    kev: Option<KevCatalog>,
    options: Options,
}

/// Whether `version` is inside one affected entry (its ranges, explicit versions or
/// requirements), evaluated with the entry's ecosystem scheme. Entries that cannot be
/// evaluated (unknown scheme, invalid versions) count as not affected; [`Index::query`]
/// reports those.
pub fn is_affected(affected: &Affected, version: &str) -> bool {
    eval::eval_affected(affected, version).affected
}

fn is_informational(a: &Advisory) -> bool {
    a.database_specific
        .as_ref()
        .and_then(|d| d.get("informational"))
        .is_some_and(|v| v.is_string())
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index::default()
    }

    /// Sets the matching options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// Attaches a KEV catalog: findings then carry the KEV entry of their CVEs.
    pub fn set_kev(&mut self, kev: KevCatalog) {
        self.kev = Some(kev);
    }

    /// Adds one advisory.
    pub fn insert(&mut self, advisory: Advisory) {
        let idx = self.advisories.len();
        for (ai, a) in advisory.affected.iter().enumerate() {
            let key = (
                a.package.ecosystem.clone(),
                names::normalize_name(&a.package.ecosystem, &a.package.name),
            );
            let slot = self.by_package.entry(key).or_default();
            if !slot.contains(&(idx, ai)) {
                slot.push((idx, ai));
            }
        }
        self.advisories.push(advisory);
    }

    /// Adds many advisories.
    pub fn extend(&mut self, advisories: impl IntoIterator<Item = Advisory>) {
        for a in advisories {
            self.insert(a);
        }
    }

    /// Number of advisories.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// All advisories, in insertion order.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// Finds the vulnerabilities affecting a package version.
    pub fn query(&self, q: &PackageQuery) -> Matches {
        query_store(self, self.options, q)
    }
}

impl Store for Index {
    fn entries(&self, ecosystem: &Ecosystem, name: &str, out: &mut Vec<(usize, usize)>) {
        if let Some(e) = self.by_package.get(&(ecosystem.clone(), name.to_owned())) {
            out.extend_from_slice(e);
        }
    }

    fn advisory(&self, idx: usize) -> Result<&Advisory, String> {
        self.advisories
            .get(idx)
            .ok_or_else(|| format!("advisory #{idx} out of range"))
    }

    fn kev(&self) -> Option<&KevCatalog> {
        self.kev.as_ref()
    }
}

/// Anything that answers package queries: the in-memory [`Index`] or the on-disk
/// [`crate::db::Database`].
pub trait Lookup: Sync {
    /// Finds the vulnerabilities affecting a package version.
    fn lookup(&self, q: &PackageQuery) -> Matches;
}

impl Lookup for Index {
    fn lookup(&self, q: &PackageQuery) -> Matches {
        self.query(q)
    }
}

/// Where the matcher reads advisories from: entries by package key, advisories by number.
pub(crate) trait Store {
    /// Appends the `(advisory, affected entry)` pairs indexed under the key.
    fn entries(&self, ecosystem: &Ecosystem, name: &str, out: &mut Vec<(usize, usize)>);
    /// An advisory by number (an error names a record that cannot be read).
    fn advisory(&self, idx: usize) -> Result<&Advisory, String>;
    /// The KEV catalog, if loaded.
    fn kev(&self) -> Option<&KevCatalog>;
}

/// The matching rules over any store (see the module docs).
pub(crate) fn query_store<S: Store + ?Sized>(
    store: &S,
    options: Options,
    q: &PackageQuery,
) -> Matches {
    let mut out = Matches::default();
    let mut names = vec![names::normalize_name(&q.ecosystem, &q.name)];
    if let Some(src) = &q.source_name {
        let s = names::normalize_name(&q.ecosystem, src);
        if !names.contains(&s) {
            names.push(s);
        }
    }
    // The entries of each advisory that name this package (and release).
    let mut relevant: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut entries = Vec::new();
    for name in &names {
        entries.clear();
        store.entries(&q.ecosystem, name, &mut entries);
        for &(idx, ai) in &entries {
            let adv = match store.advisory(idx) {
                Ok(a) => a,
                Err(e) => {
                    out.problems.push(e);
                    continue;
                }
            };
            if adv.is_withdrawn() || (is_informational(adv) && !options.include_informational) {
                continue;
            }
            let Some(affected) = adv.affected.get(ai) else {
                out.problems.push(format!(
                    "{}: affected[{ai}] missing from the record",
                    adv.id
                ));
                continue;
            };
            if let (Some(ar), Some(qr)) = (&affected.package.release, &q.release)
                && names::normalize_release(&q.ecosystem, ar)
                    != names::normalize_release(&q.ecosystem, qr)
            {
                continue;
            }
            match relevant.iter_mut().find(|(i, _)| *i == idx) {
                Some((_, list)) if !list.contains(&ai) => list.push(ai),
                Some(_) => {}
                None => relevant.push((idx, vec![ai])),
            }
        }
    }
    // Advisory → nearest fix (None: affected, no fix known).
    let mut hits: Vec<(&Advisory, Option<eval::Fix>)> = Vec::new();
    for (idx, entries) in relevant {
        let Ok(adv) = store.advisory(idx) else {
            continue;
        };
        let entries: Vec<&Affected> = entries
            .iter()
            .filter_map(|&ai| adv.affected.get(ai))
            .collect();
        let mut affected = false;
        for a in &entries {
            let verdict = eval::eval_affected(a, &q.version);
            for p in verdict.problems {
                out.problems.push(format!("{}: {p}", adv.id));
            }
            affected |= verdict.affected;
        }
        if affected {
            hits.push((adv, eval::nearest_fix(&entries, &q.version)));
        }
    }
    out.findings = group(store.kev(), q, hits);
    out.problems.sort();
    out.problems.dedup();
    out
}

fn cmp_versions(eco: &Ecosystem, a: &str, b: &str) -> Ordering {
    eco.scheme()
        .and_then(|s| version::compare(s, a, b).ok())
        .or_else(|| version::compare(version::Scheme::Semver, a, b).ok())
        .unwrap_or_else(|| a.cmp(b))
}

/// Groups matched advisories sharing an identifier into findings.
fn group(
    kev: Option<&KevCatalog>,
    q: &PackageQuery,
    hits: Vec<(&Advisory, Option<eval::Fix>)>,
) -> Vec<Finding> {
    // Union-find over hits, joined through shared identifiers.
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (h, (adv, _)) in hits.iter().enumerate() {
        for id in adv.ids() {
            match owner.get(id) {
                Some(&o) => {
                    let (a, b) = (find(&mut parent, o), find(&mut parent, h));
                    if a != b {
                        parent[b] = a;
                    }
                }
                None => {
                    owner.insert(id, h);
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for h in 0..hits.len() {
        let root = find(&mut parent, h);
        groups.entry(root).or_default().push(h);
    }
    let mut findings: Vec<Finding> = groups
        .into_values()
        .map(|members| finding(kev, q, &hits, &members))
        .collect();
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

fn finding(
    kev: Option<&KevCatalog>,
    q: &PackageQuery,
    hits: &[(&Advisory, Option<eval::Fix>)],
    members: &[usize],
) -> Finding {
    let mut advs: Vec<&Advisory> = members.iter().map(|&m| hits[m].0).collect();
    advs.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: BTreeSet<&str> = advs.iter().flat_map(|a| a.ids()).collect();
    let id = ids
        .iter()
        .find(|i| i.starts_with("CVE-"))
        .copied()
        .unwrap_or(advs.first().map_or("", |a| a.id.as_str()))
        .to_owned();
    let aliases = ids
        .iter()
        .filter(|i| **i != id)
        .map(|i| (*i).to_owned())
        .collect();

    let fixes: Vec<&eval::Fix> = members.iter().filter_map(|&m| hits[m].1.as_ref()).collect();
    let mut fixed_versions: Vec<String> = fixes.iter().map(|f| f.version.clone()).collect();
    fixed_versions.sort_by(|a, b| cmp_versions(&q.ecosystem, a, b));
    fixed_versions.dedup();
    // The highest per-record fix resolves every record of the group.
    let remediation = fixes
        .iter()
        .max_by(|a, b| cmp_versions(&q.ecosystem, &a.version, &b.version))
        .map_or(Remediation::NoFix, |f| Remediation::Upgrade {
            version: f.version.clone(),
            exclusive: f.exclusive,
        });
    let remediation_text = remediation.text(&q.name);

    let severity = advs.iter().filter_map(|a| a.severity()).max();
    let cvss = advs
        .iter()
        .filter_map(|a| a.best_cvss())
        .max_by(|a, b| a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0)))
        .cloned();
    let summary = advs.iter().find_map(|a| a.summary.clone());
    let kev = kev.and_then(|k| ids.iter().find_map(|i| k.get(i))).cloned();
    Finding {
        id,
        aliases,
        advisories: advs.iter().map(|a| a.id.clone()).collect(),
        ecosystem: q.ecosystem.clone(),
        package: q.name.clone(),
        version: q.version.clone(),
        fixed_versions,
        remediation,
        remediation_text,
        severity,
        cvss,
        summary,
        kev,
    }
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
    use crate::advisory::{Event, Package, Range, RangeKind};

    fn adv(id: &str, aliases: &[&str], eco: Ecosystem, name: &str, events: Vec<Event>) -> Advisory {
        let mut a = Advisory::new(id, "test");
        a.aliases = aliases.iter().map(|s| (*s).to_owned()).collect();
        let mut aff = Affected::new(Package {
            ecosystem: eco,
            release: None,
            name: name.into(),
            purl: None,
        });
        aff.ranges.push(Range {
            kind: RangeKind::Ecosystem,
            repo: None,
            events,
            database_specific: None,
        });
        a.affected.push(aff);
        a
    }

    #[test]
    fn aliases_merge_and_fix_is_highest() {
        let mut index = Index::new();
        index.insert(adv(
            "PYSEC-1",
            &["CVE-2020-1"],
            Ecosystem::PyPI,
            "Foo_Bar",
            vec![Event::Introduced("0".into()), Event::Fixed("1.2".into())],
        ));
        index.insert(adv(
            "GHSA-aaaa",
            &["CVE-2020-1"],
            Ecosystem::PyPI,
            "foo-bar",
            vec![Event::Introduced("0".into()), Event::Fixed("1.3".into())],
        ));
        index.insert(adv(
            "GHSA-bbbb",
            &[],
            Ecosystem::PyPI,
            "foo.bar",
            vec![
                Event::Introduced("1.0".into()),
                Event::LastAffected("1.1".into()),
            ],
        ));
        let mut withdrawn = adv(
            "GHSA-cccc",
            &[],
            Ecosystem::PyPI,
            "foo-bar",
            vec![Event::Introduced("0".into())],
        );
        withdrawn.withdrawn = Some("2024-01-01T00:00:00Z".into());
        index.insert(withdrawn);

        let m = index.query(&PackageQuery::new(Ecosystem::PyPI, "FOO.bar", "1.1"));
        assert_eq!(m.findings.len(), 2, "{m:#?}");
        let cve = &m.findings[0];
        assert_eq!(cve.id, "CVE-2020-1");
        assert_eq!(cve.aliases, vec!["GHSA-aaaa", "PYSEC-1"]);
        assert_eq!(cve.fixed_versions, vec!["1.2", "1.3"]);
        assert_eq!(cve.remediation_text, "upgrade FOO.bar to >= 1.3");
        let other = &m.findings[1];
        assert_eq!(other.id, "GHSA-bbbb");
        assert_eq!(other.remediation, Remediation::NoFix);
        assert_eq!(other.remediation_text, "no fix yet");

        let m = index.query(&PackageQuery::new(Ecosystem::PyPI, "foo-bar", "1.3"));
        assert!(m.findings.is_empty(), "{m:#?}");
    }

    #[test]
    fn distro_release_and_source_name() {
        let mut index = Index::new();
        let mut a = adv(
            "ALPINE-CVE-1",
            &["CVE-1"],
            Ecosystem::Alpine,
            "openssl",
            vec![
                Event::Introduced("0".into()),
                Event::Fixed("3.1.4-r0".into()),
            ],
        );
        a.affected[0].package.release = Some("v3.18".into());
        index.insert(a);
        let q = PackageQuery::new(Ecosystem::Alpine, "libcrypto3", "3.1.3-r0")
            .with_source("openssl")
            .with_release("3.18.4");
        assert_eq!(index.query(&q).findings.len(), 1);
        let q = q.with_release("3.19.0");
        assert!(index.query(&q).findings.is_empty());
    }
}
