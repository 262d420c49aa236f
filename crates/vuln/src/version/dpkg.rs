//! Debian package versions, ordered as `dpkg --compare-versions` does.
//!
//! A version is `[epoch:]upstream[-revision]`. The epoch is compared as a number, then the
//! upstream part and the revision with dpkg's `verrevcmp`: alternating runs of non-digits and
//! digits, where in the non-digit runs `~` sorts before everything (even the end of the
//! string), letters sort before all other characters, and digit runs compare numerically.
//! This is a direct port of `lib/dpkg/version.c`; the crates that exist either bundle a whole
//! package manager or approximate the algorithm, so it is written here and checked against
//! dpkg's own test cases.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

/// A parsed Debian version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgVersion<'a> {
    /// The epoch (0 when absent).
    pub epoch: u64,
    /// The upstream version.
    pub upstream: &'a str,
    /// The Debian revision (empty when absent).
    pub revision: &'a str,
}

/// Parses `[epoch:]upstream[-revision]` with dpkg's rules.
pub fn parse(input: &str) -> Result<DpkgVersion<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(Scheme::Dpkg, input, reason);
    let s = input.trim();
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(err("version string has embedded spaces"));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("epoch in version is not a number"));
            }
            let epoch = e
                .parse::<u64>()
                .map_err(|_| err("epoch in version is too big"))?;
            if rest.is_empty() {
                return Err(err("nothing after colon in version number"));
            }
            (epoch, rest)
        }
        None => (0, s),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => {
            if r.is_empty() {
                return Err(err("revision number is empty"));
            }
            (u, r)
        }
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(err("version number is empty"));
    }
    let allowed_up = |c: char| c.is_ascii_alphanumeric() || ".-+~:".contains(c);
    if !upstream.chars().all(allowed_up) {
        return Err(err("invalid character in version number"));
    }
    let allowed_rev = |c: char| c.is_ascii_alphanumeric() || ".+~".contains(c);
    if !revision.chars().all(allowed_rev) {
        return Err(err("invalid character in revision number"));
    }
    Ok(DpkgVersion {
        epoch,
        upstream,
        revision,
    })
}

/// Orders two Debian versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let a = parse(a)?;
    let b = parse(b)?;
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision)))
}

/// Weight of one character in a non-digit run; `None` is the end of the string.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one part (upstream or revision).
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let at = |k: usize| a.get(k).copied();
    let bt = |k: usize| b.get(k).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while at(i).is_some() || bt(j).is_some() {
        while (at(i).is_some() && !is_digit(at(i))) || (bt(j).is_some() && !is_digit(bt(j))) {
            let ac = order(at(i));
            let bc = order(bt(j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(i) == Some(b'0') {
            i += 1;
        }
        while bt(j) == Some(b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(at(i)) && is_digit(bt(j)) {
            if first_diff == Ordering::Equal {
                first_diff = at(i).cmp(&bt(j));
            }
            i += 1;
            j += 1;
        }
        if is_digit(at(i)) {
            return Ordering::Greater;
        }
        if is_digit(bt(j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
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

    /// Cases from dpkg's `lib/dpkg/t/t-version.c` (`test_version_compare`) and the ordering
    /// examples of Debian Policy §5.6.12.
    #[test]
    fn dpkg_test_vectors() {
        assert_table(
            Scheme::Dpkg,
            &[
                ("0:0-0", "=", "0:0-0"),
                ("0:0-00", "=", "0:0-0"),
                ("0:0-0", "=", "0:0-00"),
                ("0:0-0", "=", "0"),
                ("0:0", "=", "0"),
                ("0:0.0-0", "=", "0:0.0-0"),
                ("0:1", "<", "1:0"),
                ("1:0", ">", "0:1"),
                ("0:1", "<", "0:2"),
                ("0:1.1", "<", "0:1.2"),
                ("0:1.1-1", "<", "0:1.1-2"),
                ("0:1.10", ">", "0:1.9"),
                ("0:1-1", "<", "0:1-2"),
                ("0:1", "<", "0:1-1"),
                ("1.0", "=", "1.0-0"),
                ("0:1a", ">", "0:1"),
                ("0:1~", "<", "0:1"),
                ("0:1~~", "<", "0:1~"),
                ("0:1~~a", "<", "0:1~"),
                ("0:1~~", "<", "0:1~~a"),
                ("0:1a", "<", "0:1b"),
                ("0:1-a", "<", "0:1-b"),
                ("0:1.0", "<", "0:1.0a"),
                ("0:1.0a", "<", "0:1.0+"),
                ("0:1.0+", "<", "0:1.0.1~"),
                ("0:1.0-1", "<", "0:1.0-1a"),
                ("0:1.0-1", "<", "0:1.0-1+deb9u1"),
                ("0:1.2.3", "=", "0:1.2.3"),
                ("0:1.2.3", "=", "0:1.02.3"),
                ("0:1.2.3", "<", "0:1.2.3.0"),
                ("1:0.4", ">", "10.3"),
                ("1:1.0", ">", "1.0-99"),
                ("2:0", ">", "1:999"),
                ("1.0~rc1", "<", "1.0"),
                ("1.0~rc1-1", "<", "1.0-1"),
                ("1.0~beta1~svn1245", "<", "1.0~beta1"),
                ("1.0~beta1", "<", "1.0"),
                ("1.2.3-1ubuntu1", ">", "1.2.3-1"),
                ("1.2.3-1ubuntu0.1", "<", "1.2.3-1ubuntu1"),
                ("2.30-21ubuntu1~18.04.7", "<", "2.30-21ubuntu1~18.04.8"),
                ("2.36-9+deb12u4", ">", "2.36-9+deb12u3"),
                ("2.36-9+deb12u10", ">", "2.36-9+deb12u9"),
                ("1:2.36-9", ">", "2.37-1"),
                ("7.88.1-10+deb12u5", "<", "7.88.1-10+deb12u6"),
                ("3.0.11-1~deb12u2", "<", "3.0.11-1"),
                ("1.1.1n-0+deb11u5", "<", "1.1.1w-0+deb11u1"),
                ("a", "<", "b"),
                ("1.0-a-1", ">", "1.0-1"),
            ],
        );
    }

    #[test]
    fn policy_tilde_ordering() {
        // Debian Policy: "~~" < "~~a" < "~" < "" < "a", here as suffixes of 1.0.
        assert_increasing(Scheme::Dpkg, &["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let e = compare("a:1", "1").unwrap_err();
        assert_eq!(e.reason, "epoch in version is not a number");
        assert!(compare("", "1").is_err());
        assert!(compare("1:", "1").is_err());
        assert!(compare("1.0-", "1").is_err());
        assert!(compare("1 0", "1").is_err());
        assert!(compare("1.0_1", "1").is_err());
    }

    #[test]
    fn parts() {
        let v = parse("2:1.2-3-4").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (2, "1.2-3", "4"));
    }
}
