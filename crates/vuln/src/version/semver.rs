//! SemVer 2.0 precedence (crates.io, npm, OSV `SEMVER` ranges) and the range languages of npm
//! and Cargo.
//!
//! Ordering uses the `semver` crate's [`Version::cmp_precedence`](::semver::Version::cmp_precedence),
//! which ignores build metadata as SemVer requires. Before parsing, spellings that registries
//! and advisories use but strict SemVer rejects are normalised: a leading `v` or `=` and
//! surrounding blanks are dropped, and a missing minor or patch number is taken as `0`
//! (`1.2` is `1.2.0`).
//!
//! Range expressions (npm's `>=1.2.3 <2 || ^3.1`, Cargo's `>= 1.2, < 2`) are parsed here into
//! the advisory model's [`VersionReq`]: caret, tilde, X-ranges, partial versions and hyphen
//! ranges are desugared into plain `<`, `<=`, `>`, `>=`, `=` comparators exactly as node-semver
//! and Cargo define them. The `semver` crate's `VersionReq` is not used for this because a
//! vulnerability range must be evaluated by plain precedence: both npm and Cargo hide
//! pre-releases from ranges that do not name one, which would make a vulnerable
//! `2.0.0-rc.1` silently fall outside `<2.0.1`.

use std::cmp::Ordering;

use ::semver::Version;

use super::{Scheme, VersionError};
use crate::advisory::{Comparator, Op, VersionReq};

/// Parses a version leniently into a SemVer version (see the module docs).
pub fn parse(input: &str, scheme: Scheme) -> Result<Version, VersionError> {
    let s = input.trim();
    let s = s.strip_prefix('=').unwrap_or(s).trim_start();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    if s.is_empty() {
        return Err(VersionError::new(scheme, input, "version string is empty"));
    }
    let split = s.find(['-', '+']).unwrap_or(s.len());
    let (core, tail) = s.split_at(split);
    let parts = core.split('.').count();
    let padded;
    let text =
        if parts < 3 && !core.is_empty() && core.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            padded = format!("{core}{}{tail}", ".0".repeat(3 - parts));
            padded.as_str()
        } else {
            s
        };
    Version::parse(text).map_err(|e| VersionError::new(scheme, input, e.to_string()))
}

/// Orders two SemVer versions by precedence.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a, Scheme::Semver)?.cmp_precedence(&parse(b, Scheme::Semver)?))
}

/// Orders two npm versions (SemVer precedence, npm's loose spelling).
pub fn compare_npm(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a, Scheme::Npm)?.cmp_precedence(&parse(b, Scheme::Npm)?))
}

/// A version with parts possibly missing or wildcards (`1`, `1.x`, `1.2.*`).
#[derive(Debug, Clone, Copy)]
struct Partial<'a> {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: &'a str,
}

fn parse_partial<'a>(
    text: &'a str,
    whole: &str,
    scheme: Scheme,
) -> Result<Partial<'a>, VersionError> {
    let err = |reason: String| VersionError::new(scheme, whole, reason);
    let s = text.trim();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = s.split_once('-').unwrap_or((s, ""));
    let mut nums = [None; 3];
    let mut wild = false;
    let pieces: Vec<&str> = core.split('.').collect();
    if pieces.len() > 3 || core.is_empty() {
        return Err(err(format!("{text:?} is not a version")));
    }
    for (slot, piece) in nums.iter_mut().zip(&pieces) {
        if matches!(*piece, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild {
            return Err(err(format!("{text:?}: a number after a wildcard")));
        }
        *slot = Some(
            piece
                .parse::<u64>()
                .map_err(|_| err(format!("{text:?}: {piece:?} is not a number")))?,
        );
    }
    let p = Partial {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
    };
    if !pre.is_empty() && p.patch.is_none() {
        return Err(err(format!("{text:?}: a pre-release needs a full version")));
    }
    Ok(p)
}

fn v(major: u64, minor: u64, patch: u64, pre: &str) -> String {
    if pre.is_empty() {
        format!("{major}.{minor}.{patch}")
    } else {
        format!("{major}.{minor}.{patch}-{pre}")
    }
}

fn c(op: Op, version: String) -> Comparator {
    Comparator { op, version }
}

/// The smallest SemVer version: `< NOTHING` matches no version.
const NOTHING: &str = "0.0.0-0";

/// Desugars one `op partial` into plain comparators (node-semver's `replaceCaret`,
/// `replaceTilde`, `replaceXRange`).
fn desugar(op: &str, p: Partial<'_>, bare_is_caret: bool) -> Vec<Comparator> {
    let op = if op.is_empty() && bare_is_caret {
        "^"
    } else {
        op
    };
    let (Some(ma), mi, pa) = (p.major, p.minor, p.patch) else {
        // `*`: every version, or none for `<` and `>`.
        return match op {
            "<" | ">" => vec![c(Op::Lt, NOTHING.into())],
            _ => Vec::new(),
        };
    };
    let next_major = || v(ma + 1, 0, 0, "0");
    match (op, mi, pa) {
        ("^", _, _) => {
            let lower = v(ma, mi.unwrap_or(0), pa.unwrap_or(0), p.pre);
            let upper = match (ma, mi, pa) {
                (0, Some(0), Some(pa)) => v(0, 0, pa + 1, "0"),
                (0, Some(mi), _) => v(0, mi + 1, 0, "0"),
                _ => next_major(),
            };
            vec![c(Op::Ge, lower), c(Op::Lt, upper)]
        }
        ("~" | "~>", Some(mi), _) => vec![
            c(Op::Ge, v(ma, mi, pa.unwrap_or(0), p.pre)),
            c(Op::Lt, v(ma, mi + 1, 0, "0")),
        ],
        ("~" | "~>", None, _) => vec![c(Op::Ge, v(ma, 0, 0, "")), c(Op::Lt, next_major())],
        ("" | "=", Some(mi), Some(pa)) => vec![c(Op::Eq, v(ma, mi, pa, p.pre))],
        ("" | "=", Some(mi), None) => {
            vec![
                c(Op::Ge, v(ma, mi, 0, "")),
                c(Op::Lt, v(ma, mi + 1, 0, "0")),
            ]
        }
        ("" | "=", None, _) => vec![c(Op::Ge, v(ma, 0, 0, "")), c(Op::Lt, next_major())],
        (">", Some(mi), Some(pa)) => vec![c(Op::Gt, v(ma, mi, pa, p.pre))],
        (">", Some(mi), None) => vec![c(Op::Ge, v(ma, mi + 1, 0, ""))],
        (">", None, _) => vec![c(Op::Ge, v(ma + 1, 0, 0, ""))],
        (">=", mi, pa) => vec![c(Op::Ge, v(ma, mi.unwrap_or(0), pa.unwrap_or(0), p.pre))],
        ("<", Some(mi), Some(pa)) => vec![c(Op::Lt, v(ma, mi, pa, p.pre))],
        ("<", Some(mi), None) => vec![c(Op::Lt, v(ma, mi, 0, "0"))],
        ("<", None, _) => vec![c(Op::Lt, v(ma, 0, 0, "0"))],
        ("<=", Some(mi), Some(pa)) => vec![c(Op::Le, v(ma, mi, pa, p.pre))],
        ("<=", Some(mi), None) => vec![c(Op::Lt, v(ma, mi + 1, 0, "0"))],
        ("<=", None, _) => vec![c(Op::Lt, next_major())],
        _ => Vec::new(),
    }
}

fn split_op(s: &str) -> (&str, &str) {
    for op in ["<=", ">=", "~>", "<", ">", "=", "~", "^"] {
        if let Some(rest) = s.strip_prefix(op) {
            return (op, rest.trim_start());
        }
    }
    ("", s)
}

/// Parses an npm range expression (node-semver syntax, loose spelling) into a [`VersionReq`].
pub fn parse_npm_range(input: &str) -> Result<VersionReq, VersionError> {
    let scheme = Scheme::Npm;
    let mut sets = Vec::new();
    for alt in input.split("||") {
        let alt = alt.trim();
        let mut set = Vec::new();
        if let Some((lo, hi)) = alt.split_once(" - ") {
            let lo = parse_partial(lo, input, scheme)?;
            let hi = parse_partial(hi, input, scheme)?;
            set.extend(desugar(">=", lo, false));
            set.extend(desugar("<=", hi, false));
        } else {
            // Join operators written apart from their version (`>= 1.0.3`).
            let mut pending_op: Option<&str> = None;
            for tok in alt.split_whitespace() {
                let (op, rest) = split_op(tok);
                let (op, rest) = match pending_op.take() {
                    Some(p) if op.is_empty() => (p, rest),
                    Some(_) => {
                        return Err(VersionError::new(scheme, input, "two operators in a row"));
                    }
                    None => (op, rest),
                };
                if rest.is_empty() {
                    pending_op = Some(op);
                    continue;
                }
                set.extend(desugar(op, parse_partial(rest, input, scheme)?, false));
            }
            if pending_op.is_some() {
                return Err(VersionError::new(
                    scheme,
                    input,
                    "operator without a version",
                ));
            }
        }
        sets.push(set);
    }
    Ok(VersionReq { any_of: sets })
}

/// Parses one Cargo version requirement (`>= 1.2.3, < 2`, `^0.4`, `=1.0.0`) into the
/// comparators that must all hold.
pub fn parse_cargo_req(input: &str) -> Result<Vec<Comparator>, VersionError> {
    let mut set = Vec::new();
    for part in input.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(VersionError::new(Scheme::Semver, input, "empty comparator"));
        }
        let (op, rest) = split_op(part);
        if op == "~>" {
            return Err(VersionError::new(
                Scheme::Semver,
                input,
                "`~>` is not Cargo syntax",
            ));
        }
        set.extend(desugar(
            op,
            parse_partial(rest, input, Scheme::Semver)?,
            true,
        ));
    }
    Ok(set)
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
    use crate::version::{assert_increasing, assert_table};

    /// The precedence example of SemVer 2.0 §11.
    #[test]
    fn semver_spec_precedence() {
        assert_increasing(
            Scheme::Semver,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
            ],
        );
        assert_table(
            Scheme::Semver,
            &[
                ("1.0.0+build.1", "=", "1.0.0+build.2"),
                ("1.0.0-alpha+001", "=", "1.0.0-alpha"),
                ("1.2", "=", "1.2.0"),
                ("v1.2.3", "=", "1.2.3"),
                ("1.0.0-0", "<", "1.0.0-alpha"),
                ("1.0.0-1", "<", "1.0.0-01a"),
            ],
        );
        assert!(compare("1.2.3.4", "1").is_err());
        assert!(compare("01.2.3", "1").is_err());
    }

    fn render(req: &VersionReq) -> String {
        req.any_of
            .iter()
            .map(|set| {
                set.iter()
                    .map(|c| format!("{}{}", c.op.as_str(), c.version))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" || ")
    }

    /// Desugaring tables from node-semver's `test/fixtures/range-parse.js`.
    #[test]
    fn npm_range_desugaring() {
        let cases = [
            ("1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"),
            ("1 - 2", ">=1.0.0 <3.0.0-0"),
            ("1.0 - 2.0", ">=1.0.0 <2.1.0-0"),
            ("1.0.0", "=1.0.0"),
            (">=*", ""),
            ("*", ""),
            (">=1.0.0", ">=1.0.0"),
            (">1.0.0", ">1.0.0"),
            ("<=2.0.0", "<=2.0.0"),
            ("<2.0.0", "<2.0.0"),
            (">= 1.0.0", ">=1.0.0"),
            (">=  1.0.0", ">=1.0.0"),
            ("<=   2.0.0", "<=2.0.0"),
            ("0.1.20 || 1.2.4", "=0.1.20 || =1.2.4"),
            (">=0.2.3 || <0.0.1", ">=0.2.3 || <0.0.1"),
            ("2.x.x", ">=2.0.0 <3.0.0-0"),
            ("1.2.x", ">=1.2.0 <1.3.0-0"),
            ("1.2.x || 2.x", ">=1.2.0 <1.3.0-0 || >=2.0.0 <3.0.0-0"),
            ("x", ""),
            ("2", ">=2.0.0 <3.0.0-0"),
            ("2.3", ">=2.3.0 <2.4.0-0"),
            ("~2.4", ">=2.4.0 <2.5.0-0"),
            ("~>3.2.1", ">=3.2.1 <3.3.0-0"),
            ("~1", ">=1.0.0 <2.0.0-0"),
            ("~> 1", ">=1.0.0 <2.0.0-0"),
            ("~1.0", ">=1.0.0 <1.1.0-0"),
            ("^0", ">=0.0.0 <1.0.0-0"),
            ("^0.1", ">=0.1.0 <0.2.0-0"),
            ("^1.0", ">=1.0.0 <2.0.0-0"),
            ("^1.2", ">=1.2.0 <2.0.0-0"),
            ("^0.0.1", ">=0.0.1 <0.0.2-0"),
            ("^0.0.1-beta", ">=0.0.1-beta <0.0.2-0"),
            ("^0.1.2", ">=0.1.2 <0.2.0-0"),
            ("^1.2.3", ">=1.2.3 <2.0.0-0"),
            ("^1.2.3-beta.4", ">=1.2.3-beta.4 <2.0.0-0"),
            ("<1", "<1.0.0-0"),
            ("< 1", "<1.0.0-0"),
            (">=1", ">=1.0.0"),
            (">= 1", ">=1.0.0"),
            ("<1.2", "<1.2.0-0"),
            ("< 1.2", "<1.2.0-0"),
            (">1", ">=2.0.0"),
            (">1.2", ">=1.3.0"),
            ("<=1.2", "<1.3.0-0"),
            ("~v0.5.4-pre", ">=0.5.4-pre <0.6.0-0"),
            ("~0.8.0-pre", ">=0.8.0-pre <0.9.0-0"),
            ("=0.7.x", ">=0.7.0 <0.8.0-0"),
            ("<=0.7.x", "<0.8.0-0"),
            (">=0.7.x", ">=0.7.0"),
            ("<=v2.0.0-alpha7", "<=2.0.0-alpha7"),
            ("<0.0.0", "<0.0.0"),
            ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),
            ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),
        ];
        for (input, want) in cases {
            let got = parse_npm_range(input).unwrap();
            assert_eq!(render(&got), want, "{input}");
        }
        assert!(parse_npm_range(">=").is_err());
        assert!(parse_npm_range("1.2.3.4").is_err());
        assert!(parse_npm_range("latest").is_err());
    }

    #[test]
    fn cargo_requirements() {
        let r = |s: &str| {
            render(&VersionReq {
                any_of: vec![parse_cargo_req(s).unwrap()],
            })
        };
        assert_eq!(r(">= 0.10.55"), ">=0.10.55");
        assert_eq!(r(">= 1.0.2, < 2.0.0"), ">=1.0.2 <2.0.0");
        assert_eq!(r("^0.4"), ">=0.4.0 <0.5.0-0");
        assert_eq!(r("0.4.5"), ">=0.4.5 <0.5.0-0");
        assert_eq!(r("=1.0.0"), "=1.0.0");
        assert_eq!(r("< 0.3"), "<0.3.0-0");
        assert_eq!(r("~1.2.3"), ">=1.2.3 <1.3.0-0");
        assert_eq!(r("*"), "");
        assert!(parse_cargo_req(">= 1.0,").is_err());
    }
}
