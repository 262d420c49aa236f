//! Rescans: every stored SBOM against the current database, without pulling images again,
//! reporting per image which vulnerabilities are new and which are fixed since the last
//! scan.
//!
//! The caller (the CLI over its store) implements [`SbomStore`]: it yields, per image
//! digest, the cached SBOM and the vulnerability ids of the previous scan. Matching is
//! lookups only: packages are turned into queries once per distinct
//! `(ecosystem, name, version, release, source name)` and the answers are shared across
//! images (fleets repeat the same base-image packages thousands of times), and the work is
//! spread over the available cores. The comparison needs only the ids of the answers; full
//! [`VulnReport`]s (cloning every finding into every image) are built only for the images
//! that [`RescanOptions::reports`] asks for, by default those that changed. Ids are
//! compared through aliases: a finding whose id changed (a GHSA that gained a CVE alias)
//! is neither new nor fixed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use crate::catalog::Sbom;
use crate::matcher::{Lookup, Matches, PackageQuery};
use crate::scan::{self, EpssScores, ScanOptions, VulnReport};

/// One stored image.
#[derive(Debug, Clone)]
pub struct StoredSbom {
    /// The image digest the SBOM is cached under.
    pub digest: String,
    /// The SBOM.
    pub sbom: Sbom,
    /// Vulnerability ids reported by the previous scan.
    pub previous: BTreeSet<String>,
}

/// An error from the SBOM store, as text with the digest concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored SBOM {digest}: {reason}")]
pub struct StoreError {
    /// The image digest (empty when not about one image).
    pub digest: String,
    /// Why.
    pub reason: String,
}

/// Where stored SBOMs come from.
pub trait SbomStore: Sync {
    /// Every stored image. An item that cannot be read is an error the rescan reports and
    /// skips.
    fn sboms(&self) -> Box<dyn Iterator<Item = Result<StoredSbom, StoreError>> + Send + '_>;
}

/// A simple in-memory store.
impl SbomStore for [StoredSbom] {
    fn sboms(&self) -> Box<dyn Iterator<Item = Result<StoredSbom, StoreError>> + Send + '_> {
        Box::new(self.iter().cloned().map(Ok))
    }
}

impl SbomStore for Vec<StoredSbom> {
    fn sboms(&self) -> Box<dyn Iterator<Item = Result<StoredSbom, StoreError>> + Send + '_> {
        self.as_slice().sboms()
    }
}

/// What changed for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRescan {
    /// The image digest.
    pub digest: String,
    /// Vulnerability ids not reported before (by id or alias), sorted.
    pub new: Vec<String>,
    /// Previous ids no current finding carries (as id or alias), sorted.
    pub fixed: Vec<String>,
    /// Ids of every current finding, sorted and deduplicated.
    pub current: Vec<String>,
    /// The full report, when [`RescanOptions::reports`] asks for it.
    pub report: Option<VulnReport>,
}

/// Totals of a rescan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RescanSummary {
    /// Images rescanned.
    pub images: usize,
    /// Packages matched (over all images).
    pub packages: usize,
    /// Distinct package queries evaluated.
    pub distinct_queries: usize,
    /// Images with new vulnerabilities.
    pub images_with_new: usize,
    /// Images with fixed vulnerabilities.
    pub images_with_fixed: usize,
    /// Stored SBOMs that could not be read.
    pub errors: Vec<StoreError>,
}

/// Which images get a full [`VulnReport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reports {
    /// None: ids only (the fastest).
    None,
    /// Images with new or fixed ids (what a store needs to record a change).
    #[default]
    Changed,
    /// Every image.
    All,
}

/// Rescan options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RescanOptions<'a> {
    /// EPSS scores for the reports.
    pub epss: Option<&'a EpssScores>,
    /// Worker threads (0: the available parallelism).
    pub threads: usize,
    /// Which images get a full report.
    pub reports: Reports,
}

/// One query's answer: the matches, and their ids interned (see [`Interner`]).
struct Answer {
    matches: Matches,
    /// Per finding: its id, then its aliases.
    ids: Vec<Vec<u32>>,
}

/// Vulnerability ids as numbers, so that per-image set arithmetic compares integers.
#[derive(Default)]
struct Interner {
    by_name: HashMap<String, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.by_name.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(Arc::from(s));
        self.by_name.insert(s.to_owned(), i);
        i
    }
}

/// A [`Lookup`] that remembers answers by query.
struct Memo<'a> {
    inner: &'a dyn Lookup,
    cache: RwLock<HashMap<PackageQuery, Arc<Answer>>>,
    ids: RwLock<Interner>,
}

impl Memo<'_> {
    fn get(&self, q: &PackageQuery) -> Arc<Answer> {
        if let Ok(c) = self.cache.read()
            && let Some(m) = c.get(q)
        {
            return m.clone();
        }
        let matches = self.inner.lookup(q);
        let ids = match self.ids.write() {
            Ok(mut interner) => matches
                .findings
                .iter()
                .map(|f| {
                    std::iter::once(&f.id)
                        .chain(f.aliases.iter())
                        .map(|s| interner.intern(s))
                        .collect()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let answer = Arc::new(Answer { matches, ids });
        if let Ok(mut c) = self.cache.write() {
            return c.entry(q.clone()).or_insert(answer).clone();
        }
        answer
    }
}

impl Lookup for Memo<'_> {
    fn lookup(&self, q: &PackageQuery) -> Matches {
        self.get(q).matches.clone()
    }
}

/// New and fixed ids between a previous id set and a report (see the module docs).
pub fn diff_ids(previous: &BTreeSet<String>, report: &VulnReport) -> (Vec<String>, Vec<String>) {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut new = BTreeSet::new();
    for v in &report.vulnerabilities {
        seen.insert(&v.id);
        seen.extend(v.aliases.iter().map(String::as_str));
        if !previous.contains(&v.id) && !v.aliases.iter().any(|a| previous.contains(a)) {
            new.insert(v.id.clone());
        }
    }
    let fixed = previous
        .iter()
        .filter(|p| !seen.contains(p.as_str()))
        .cloned()
        .collect();
    (new.into_iter().collect(), fixed)
}

fn rescan_one(item: StoredSbom, memo: &Memo<'_>, options: &RescanOptions<'_>) -> ImageRescan {
    let distro = item.sbom.distro.as_ref();
    let answers: Vec<Arc<Answer>> = item
        .sbom
        .packages
        .iter()
        .filter_map(|p| scan::query_for(p, distro))
        .map(|q| memo.get(&q))
        .collect();
    // Ids of the findings (first of each group) and everything they are known as.
    let mut current: Vec<u32> = Vec::new();
    let mut seen: Vec<u32> = Vec::new();
    for a in &answers {
        for group in &a.ids {
            if let Some(&id) = group.first() {
                current.push(id);
            }
            seen.extend_from_slice(group);
        }
    }
    current.sort_unstable();
    current.dedup();
    seen.sort_unstable();
    seen.dedup();
    let (new, fixed, current) = match memo.ids.read() {
        Ok(interner) => {
            let mut prev: Vec<u32> = Vec::with_capacity(item.previous.len());
            let mut fixed = Vec::new();
            for p in &item.previous {
                match interner.by_name.get(p.as_str()) {
                    Some(&i) if seen.binary_search(&i).is_ok() => prev.push(i),
                    _ => fixed.push(p.clone()),
                }
            }
            prev.sort_unstable();
            let mut new: Vec<&str> = Vec::new();
            for a in &answers {
                for group in &a.ids {
                    let Some(&id) = group.first() else { continue };
                    if group.iter().any(|i| prev.binary_search(i).is_ok()) {
                        continue;
                    }
                    new.push(&interner.names[id as usize]);
                }
            }
            new.sort_unstable();
            new.dedup();
            let current: Vec<String> = current
                .iter()
                .map(|&i| interner.names[i as usize].to_string())
                .collect();
            (
                new.into_iter().map(str::to_owned).collect::<Vec<String>>(),
                fixed,
                current,
            )
        }
        Err(_) => (Vec::new(), Vec::new(), Vec::new()),
    };
    let mut current = current;
    current.sort_unstable();
    let changed = !new.is_empty() || !fixed.is_empty();
    let report = match options.reports {
        Reports::All => true,
        Reports::Changed => changed,
        Reports::None => false,
    }
    .then(|| {
        let mut r = scan::scan_sbom_with(&item.sbom, memo, ScanOptions { epss: options.epss });
        if r.artifact.digest.is_none() {
            r.artifact.digest = Some(item.digest.clone());
        }
        r
    });
    ImageRescan {
        digest: item.digest,
        new,
        fixed,
        current,
        report,
    }
}

/// Rescans every stored SBOM against `lookup` (an [`crate::Index`] or
/// [`crate::db::Database`]), calling `on_image` for each image as it completes (in no
/// particular order).
pub fn rescan(
    store: &dyn SbomStore,
    lookup: &dyn Lookup,
    options: RescanOptions<'_>,
    on_image: &mut (dyn FnMut(ImageRescan) + Send),
) -> RescanSummary {
    let memo = Memo {
        inner: lookup,
        cache: RwLock::new(HashMap::new()),
        ids: RwLock::new(Interner::default()),
    };
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let summary = Mutex::new(RescanSummary::default());
    let source = Mutex::new(store.sboms());
    let sink = Mutex::new(on_image);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let next = match source.lock() {
                        Ok(mut it) => it.next(),
                        Err(_) => None,
                    };
                    let Some(item) = next else { break };
                    let item = match item {
                        Ok(i) => i,
                        Err(e) => {
                            if let Ok(mut s) = summary.lock() {
                                s.errors.push(e);
                            }
                            continue;
                        }
                    };
                    let packages = item.sbom.packages.len();
                    let r = rescan_one(item, &memo, &options);
                    if let Ok(mut s) = summary.lock() {
                        s.images += 1;
                        s.packages += packages;
                        s.images_with_new += usize::from(!r.new.is_empty());
                        s.images_with_fixed += usize::from(!r.fixed.is_empty());
                    }
                    if let Ok(mut f) = sink.lock() {
                        (*f)(r);
                    }
                }
            });
        }
    });
    let mut summary = summary.into_inner().unwrap_or_default();
    summary.distinct_queries = memo.cache.read().map_or(0, |c| c.len());
    summary
}

/// [`rescan`] collecting every image, sorted by digest.
pub fn rescan_all(
    store: &dyn SbomStore,
    lookup: &dyn Lookup,
    options: RescanOptions<'_>,
) -> (Vec<ImageRescan>, RescanSummary) {
    let mut out = Vec::new();
    let summary = rescan(store, lookup, options, &mut |r| out.push(r));
    out.sort_by(|a, b| a.digest.cmp(&b.digest));
    (out, summary)
}
