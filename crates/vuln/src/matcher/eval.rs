//! Whether one version is inside an affected entry, and which version fixes it.

use std::cmp::Ordering;

use crate::advisory::{
    Affected, Comparator, Constraints, Ecosystem, Event, Op, Range, RangeKind, VersionReq,
};
use crate::version::{self, Scheme, VersionError};

/// A version that leaves the affected set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fix {
    pub(crate) version: String,
    /// The fix is "greater than `version`" rather than "`version` or later".
    pub(crate) exclusive: bool,
}

/// The verdict on one affected entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) affected: bool,
    /// Ranges or requirements that could not be evaluated, with why.
    pub(crate) problems: Vec<String>,
}

/// The scheme of a range of `kind` for packages of `ecosystem`.
fn range_scheme(kind: &RangeKind, ecosystem: &Ecosystem) -> Result<Scheme, String> {
    match kind {
        RangeKind::Semver => Ok(match ecosystem.scheme() {
            Some(s @ (Scheme::Go | Scheme::Npm)) => s,
            _ => Scheme::Semver,
        }),
        RangeKind::Ecosystem => ecosystem
            .scheme()
            .ok_or_else(|| format!("no version scheme for ecosystem {ecosystem}")),
        RangeKind::Git => Err("GIT ranges name commits, not versions".into()),
        RangeKind::Other(k) => Err(format!("unknown range type {k}")),
    }
}

fn cmp(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    version::compare(scheme, a, b)
}

/// OSV range evaluation (schema "Evaluation"): events sorted by version, `introduced: "0"`
/// first; walking them in order, `introduced <= v` enters the range, `fixed <= v` leaves it,
/// `last_affected < v` leaves it; a `limit <= v` excludes the version outright. Events need
/// not be given in order.
pub(crate) fn eval_range(scheme: Scheme, range: &Range, v: &str) -> Result<Verdict, VersionError> {
    // At equal versions an interval's end sorts before the next interval's start, so that
    // `fixed: X` followed by `introduced: X` (adjacent intervals, as PyPA writes them) keeps X
    // affected.
    let rank = |e: &Event| match e {
        Event::Fixed(_) | Event::LastAffected(_) => 0,
        Event::Introduced(_) => 1,
        Event::Limit(_) => 2,
    };
    let mut events: Vec<&Event> = range.events.iter().collect();
    // Validate first so sorting never sees an incomparable pair.
    for e in &events {
        if !(matches!(e, Event::Introduced(x) if x == "0")) {
            version::validate(scheme, e.version())?;
        }
    }
    events.sort_by(|a, b| {
        let zero = |e: &Event| matches!(e, Event::Introduced(x) if x == "0");
        match (zero(a), zero(b)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => cmp(scheme, a.version(), b.version())
                .unwrap_or(Ordering::Equal)
                .then(rank(a).cmp(&rank(b))),
        }
    });
    let mut affected = false;
    let mut limited = false;
    for e in &events {
        match e {
            Event::Introduced(x) => {
                if x == "0" || cmp(scheme, v, x)? != Ordering::Less {
                    affected = true;
                }
            }
            Event::Fixed(x) => {
                if cmp(scheme, v, x)? != Ordering::Less {
                    affected = false;
                }
            }
            Event::LastAffected(x) => {
                if cmp(scheme, v, x)? == Ordering::Greater {
                    affected = false;
                }
            }
            Event::Limit(x) => {
                if cmp(scheme, v, x)? != Ordering::Less {
                    limited = true;
                }
            }
        }
    }
    Ok(Verdict {
        affected: affected && !limited,
        problems: Vec::new(),
    })
}

fn comparator_holds(scheme: Scheme, c: &Comparator, v: &str) -> Result<bool, VersionError> {
    Ok(c.op.accepts(cmp(scheme, v, &c.version)?))
}

fn req_matches(scheme: Scheme, req: &VersionReq, v: &str) -> Result<bool, VersionError> {
    for set in &req.any_of {
        let mut all = true;
        for c in set {
            if !comparator_holds(scheme, c, v)? {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Requirement evaluation: affected when `vulnerable` (or anything) holds and neither
/// `patched` nor `unaffected` does.
pub(crate) fn eval_constraints(c: &Constraints, v: &str) -> Result<Verdict, VersionError> {
    let s = c.scheme;
    version::validate(s, v)?;
    let vulnerable = match &c.vulnerable {
        Some(r) => req_matches(s, r, v)?,
        None => true,
    };
    let affected =
        vulnerable && !req_matches(s, &c.patched, v)? && !req_matches(s, &c.unaffected, v)?;
    Ok(Verdict {
        affected,
        problems: Vec::new(),
    })
}

/// Evaluates a whole affected entry: any range, the explicit version list, or the
/// requirements.
pub(crate) fn eval_affected(a: &Affected, v: &str) -> Verdict {
    let mut out = Verdict::default();
    let eco = &a.package.ecosystem;
    for (i, r) in a.ranges.iter().enumerate() {
        let scheme = match range_scheme(&r.kind, eco) {
            Ok(s) => s,
            Err(e) => {
                if r.kind != RangeKind::Git {
                    out.problems.push(format!("ranges[{i}]: {e}"));
                }
                continue;
            }
        };
        match eval_range(scheme, r, v) {
            Ok(verdict) if verdict.affected => out.affected = true,
            Ok(_) => {}
            Err(e) => out.problems.push(format!("ranges[{i}]: {e}")),
        }
    }
    if !a.versions.is_empty() {
        let scheme = eco.scheme();
        let listed = a.versions.iter().any(|x| {
            x == v
                || scheme
                    .is_some_and(|s| version::compare(s, x, v).is_ok_and(|o| o == Ordering::Equal))
        });
        if listed {
            out.affected = true;
        }
    }
    if let Some(c) = &a.constraints {
        match eval_constraints(c, v) {
            Ok(verdict) if verdict.affected => out.affected = true,
            Ok(_) => {}
            Err(e) => out.problems.push(format!("constraints: {e}")),
        }
    }
    out
}

/// Every version an entry names as a fix above `v`: `fixed` events of its evaluable ranges
/// and the lower bounds of its patched requirements. The caller picks the lowest one that
/// no entry of the advisory still calls affected.
fn fix_candidates(a: &Affected, v: &str) -> Vec<(Scheme, Fix)> {
    let mut out = Vec::new();
    for r in &a.ranges {
        let Ok(scheme) = range_scheme(&r.kind, &a.package.ecosystem) else {
            continue;
        };
        for e in &r.events {
            if let Event::Fixed(x) = e
                && cmp(scheme, x, v).is_ok_and(|o| o == Ordering::Greater)
            {
                out.push((
                    scheme,
                    Fix {
                        version: x.clone(),
                        exclusive: false,
                    },
                ));
            }
        }
    }
    if let Some(c) = &a.constraints {
        for set in &c.patched.any_of {
            for comp in set {
                let exclusive = match comp.op {
                    Op::Ge | Op::Eq => false,
                    Op::Gt => true,
                    Op::Lt | Op::Le => continue,
                };
                if cmp(c.scheme, &comp.version, v).is_ok_and(|o| o == Ordering::Greater) {
                    out.push((
                        c.scheme,
                        Fix {
                            version: comp.version.clone(),
                            exclusive,
                        },
                    ));
                }
            }
        }
    }
    out
}

/// The nearest fix of an advisory for version `v`: the lowest version one of its `entries`
/// (those naming the package) states as fixed that no entry still calls affected. A
/// `fixed` event may close one interval while a later interval, or another entry, reopens
/// it; such a version is no fix.
pub(crate) fn nearest_fix(entries: &[&Affected], v: &str) -> Option<Fix> {
    let mut candidates: Vec<(Scheme, Fix)> =
        entries.iter().flat_map(|a| fix_candidates(a, v)).collect();
    candidates.sort_by(|(s, a), (_, b)| {
        version::compare(*s, &a.version, &b.version).unwrap_or(Ordering::Equal)
    });
    candidates.dedup_by(|a, b| a.1 == b.1);
    candidates.into_iter().map(|(_, f)| f).find(|f| {
        f.exclusive
            || entries
                .iter()
                .all(|a| !eval_affected(a, &f.version).affected)
    })
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
    use crate::advisory::Package;

    fn range(events: &[(&str, &str)]) -> Range {
        Range {
            kind: RangeKind::Ecosystem,
            repo: None,
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "introduced" => Event::Introduced((*v).into()),
                    "fixed" => Event::Fixed((*v).into()),
                    "last_affected" => Event::LastAffected((*v).into()),
                    _ => Event::Limit((*v).into()),
                })
                .collect(),
            database_specific: None,
        }
    }

    fn affected(scheme: Scheme, r: &Range, v: &str) -> bool {
        eval_range(scheme, r, v).unwrap().affected
    }

    /// The worked examples of the OSV schema's "Evaluation" section, plus unsorted events.
    #[test]
    fn osv_semantics() {
        let s = Scheme::Semver;
        let r = range(&[("introduced", "0"), ("fixed", "1.0.0")]);
        assert!(affected(s, &r, "0.0.1"));
        assert!(affected(s, &r, "1.0.0-rc.1"));
        assert!(!affected(s, &r, "1.0.0"));
        let r = range(&[("introduced", "1.0.0"), ("last_affected", "1.2.0")]);
        assert!(!affected(s, &r, "0.9.0"));
        assert!(affected(s, &r, "1.0.0"));
        assert!(affected(s, &r, "1.2.0"));
        assert!(!affected(s, &r, "1.2.1"));
        // Several intervals, given out of order.
        let r = range(&[
            ("fixed", "2.5.0"),
            ("introduced", "2.0.0"),
            ("introduced", "1.0.0"),
            ("fixed", "1.5.0"),
        ]);
        assert!(affected(s, &r, "1.2.0"));
        assert!(!affected(s, &r, "1.7.0"));
        assert!(affected(s, &r, "2.2.0"));
        assert!(!affected(s, &r, "2.5.0"));
        let entry = |r: &Range| {
            let mut a = Affected::new(Package {
                ecosystem: Ecosystem::CratesIo,
                release: None,
                name: "x".into(),
                purl: None,
            });
            a.ranges.push(r.clone());
            a
        };
        let e = entry(&r);
        assert_eq!(
            nearest_fix(&[&e], "2.2.0").map(|f| f.version),
            Some("2.5.0".into())
        );
        assert_eq!(
            nearest_fix(&[&e], "1.2.0").map(|f| f.version),
            Some("1.5.0".into())
        );
        // Introduced without an end: affected from there on, no fix.
        let r = range(&[("introduced", "3.0.0")]);
        assert!(affected(s, &r, "9.0.0"));
        assert_eq!(nearest_fix(&[&entry(&r)], "9.0.0"), None);
        // Limit caps the range.
        let r = range(&[("introduced", "0"), ("limit", "2.0.0")]);
        assert!(affected(s, &r, "1.0.0"));
        assert!(!affected(s, &r, "2.0.0"));
        // Adjacent intervals written out of order (PYSEC-2022-236, pyspark).
        let r = range(&[
            ("introduced", "0"),
            ("fixed", "3.1.1"),
            ("introduced", "3.2.0"),
            ("fixed", "3.2.2"),
            ("introduced", "3.1.1"),
            ("fixed", "3.1.3"),
        ]);
        for (v, want) in [
            ("3.1.0", true),
            ("3.1.1", true),
            ("3.1.2", true),
            ("3.1.3", false),
            ("3.2.1", true),
            ("3.2.2", false),
        ] {
            assert_eq!(affected(Scheme::Pep440, &r, v), want, "{v}");
        }
    }

    #[test]
    fn scheme_matters() {
        // PEP 440: 1.0rc1 is before 1.0; dpkg: ~ before the release.
        let r = range(&[("introduced", "0"), ("fixed", "1.0")]);
        assert!(affected(Scheme::Pep440, &r, "1.0rc1"));
        assert!(!affected(Scheme::Pep440, &r, "1.0.post1"));
        let r = range(&[("introduced", "0"), ("fixed", "2.36-9+deb12u4")]);
        assert!(affected(Scheme::Dpkg, &r, "2.36-9+deb12u3"));
        assert!(!affected(Scheme::Dpkg, &r, "1:2.0-1"));
        assert!(
            eval_range(
                Scheme::Semver,
                &range(&[("fixed", "not-a-version")]),
                "1.0.0"
            )
            .is_err()
        );
    }
}
