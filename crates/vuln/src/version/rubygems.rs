//! RubyGems versions, ordered as `Gem::Version#<=>`.
//!
//! A version is split into numeric and alphabetic segments (`1.8.2.a10` → `1 8 2 "a" 10`); a
//! `-` is read as `.pre.`. Trailing zero segments of the numeric part and of the
//! pre-release part are dropped (`canonical_segments`), then segments are compared pairwise,
//! a missing segment counting as `0`; a string segment is lower than any number (so any
//! version with letters is a pre-release). Hand-written: there is no Rust implementation of
//! `Gem::Version`, and the algorithm is short.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(String),
    Str(String),
}

impl Seg {
    fn is_zero(&self) -> bool {
        matches!(self, Seg::Num(d) if d.is_empty())
    }
}

/// `Gem::Version::ANCHORED_VERSION_PATTERN`, checked by hand.
fn valid(s: &str) -> bool {
    let (main, pre) = match s.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (s, None),
    };
    let mut parts = main.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

fn segments(input: &str) -> Result<Vec<Seg>, VersionError> {
    let s = input.trim();
    let s = if s.is_empty() { "0" } else { s };
    if !valid(s) {
        return Err(VersionError::new(
            Scheme::RubyGems,
            input,
            "malformed version number string",
        ));
    }
    let s = s.replace('-', ".pre.");
    let mut segs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            segs.push(Seg::Num(s[start..i].trim_start_matches('0').to_owned()));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            segs.push(Seg::Str(s[start..i].to_owned()));
        } else {
            i += 1;
        }
    }
    Ok(segs)
}

/// `canonical_segments`: drop trailing zeros of the release part and of the pre-release part.
fn canonical(segs: Vec<Seg>) -> Vec<Seg> {
    let split = segs
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(segs.len());
    let (mut num, mut pre) = (segs[..split].to_vec(), segs[split..].to_vec());
    while num.last().is_some_and(Seg::is_zero) {
        num.pop();
    }
    while pre.last().is_some_and(Seg::is_zero) {
        pre.pop();
    }
    num.extend(pre);
    num
}

/// Orders two RubyGems versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let l = canonical(segments(a)?);
    let r = canonical(segments(b)?);
    let zero = Seg::Num(String::new());
    for i in 0..l.len().max(r.len()) {
        let x = l.get(i).unwrap_or(&zero);
        let y = r.get(i).unwrap_or(&zero);
        let o = match (x, y) {
            (Seg::Num(p), Seg::Num(q)) => p.len().cmp(&q.len()).then_with(|| p.cmp(q)),
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            (Seg::Str(p), Seg::Str(q)) => p.cmp(q),
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
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

    /// `test_spaceship` and friends from RubyGems' `test/rubygems/test_gem_version.rb`.
    #[test]
    fn gem_version_spaceship() {
        assert_table(
            Scheme::RubyGems,
            &[
                ("1.0", "=", "1.0.0"),
                ("1.0", ">", "1.0.a"),
                ("1.8.2", ">", "0.0.0"),
                ("1.8.2", ">", "1.8.2.a"),
                ("1.8.2.b", ">", "1.8.2.a"),
                ("1.8.2.a", "<", "1.8.2"),
                ("1.8.2.a10", ">", "1.8.2.a9"),
                ("", "=", "0"),
                ("0.beta.1", "=", "0.0.beta.1"),
                ("0.0.beta", "<", "0.0.beta.1"),
                ("0.0.beta", "<", "0.beta.1"),
                ("5.a", "<", "5.0.0.rc2"),
                ("5.x", ">", "5.0.0.rc2"),
                ("1.0.0-rc1", "=", "1.0.0.pre.rc1"),
                ("1.2.3-1", "<", "1.2.3"),
                ("1.9.3", "=", "1.9.3"),
                ("1.9.3", "<", "1.9.10"),
                ("2.0.0.rc1", "<", "2.0.0"),
                ("1.0.a.0", "=", "1.0.a"),
            ],
        );
        assert_increasing(
            Scheme::RubyGems,
            &[
                "1.0.0.a",
                "1.0.0.b",
                "1.0.0.pre",
                "1.0.0.rc1",
                "1.0.0",
                "1.0.1",
                "1.1",
            ],
        );
        for bad in [
            "junk",
            "1.0\n2.0",
            "1..2",
            "1.2\\ 3.4",
            "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
        ] {
            assert!(compare(bad, "1").is_err(), "{bad:?} must be rejected");
        }
    }
}
