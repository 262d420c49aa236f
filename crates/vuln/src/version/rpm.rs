//! RPM package versions, ordered as `rpmvercmp` and `rpmVersionCompare` do.
//!
//! An EVR is `[epoch:]version[-release]`. Epochs compare as numbers (absent is 0), then version
//! and release each with `rpmvercmp`: runs of digits or ASCII letters separated by any other
//! characters; digits beat letters, numbers compare numerically, letters by byte order; `~`
//! sorts before everything (pre-releases) and `^` after the base version but before any further
//! segment (post-release snapshots). A direct port of `rpmio/rpmvercmp.c`, checked against
//! rpm's `tests/rpmvercmp.at`; no crate ports it faithfully.
//!
//! A missing release compares as the empty string, as `rpmvercmp` does, so `1.0` sorts before
//! `1.0-1`; advisories for RPM distributions carry full EVRs, so this strict total order is the
//! one the matcher needs.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

/// A parsed EVR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evr<'a> {
    /// The epoch (0 when absent).
    pub epoch: u64,
    /// The version.
    pub version: &'a str,
    /// The release (empty when absent).
    pub release: &'a str,
}

/// Parses `[epoch:]version[-release]`.
pub fn parse(input: &str) -> Result<Evr<'_>, VersionError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(VersionError::new(
            Scheme::Rpm,
            input,
            "version string is empty",
        ));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            let epoch = e
                .parse::<u64>()
                .map_err(|_| VersionError::new(Scheme::Rpm, input, "epoch is too big"))?;
            (epoch, rest)
        }
        Some(_) => {
            return Err(VersionError::new(
                Scheme::Rpm,
                input,
                "epoch is not a number",
            ));
        }
        None => (0, s),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    if version.is_empty() {
        return Err(VersionError::new(Scheme::Rpm, input, "version is empty"));
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// Orders two EVRs.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let a = parse(a)?;
    let b = parse(b)?;
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| rpmvercmp(a.release, b.release)))
}

/// rpm's `rpmvercmp` over one version or release string.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let ca = a.get(i).copied();
        let cb = b.get(j).copied();
        if ca.is_none() && cb.is_none() {
            break;
        }
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let isnum = a[i].is_ascii_digit();
        let seg = |s: &[u8], start: usize| -> usize {
            let mut k = start;
            while k < s.len()
                && (if isnum {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                })
            {
                k += 1;
            }
            k
        };
        let ei = seg(a, i);
        let ej = seg(b, j);
        if ej == j {
            // Segments of different types: numeric is newer than alpha.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let mut sa = &a[i..ei];
        let mut sb = &b[j..ej];
        if isnum {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            other => return other,
        }
        i = ei;
        j = ej;
    }
    let rest_a = i < a.len();
    let rest_b = j < b.len();
    match (rest_a, rest_b) {
        (false, false) => Ordering::Equal,
        (false, true) => Ordering::Less,
        _ => Ordering::Greater,
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
    use crate::version::assert_table;

    /// rpm's `tests/rpmvercmp.at`, every `RPMVERCMP(a, b, result)` line with ASCII input.
    const RPMVERCMP_AT: &[(&str, &str, i8)] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "1.0", 1),
        ("2.0.1", "2.0.1", 0),
        ("2.0", "2.0.1", -1),
        ("2.0.1", "2.0", 1),
        ("2.0.1a", "2.0.1a", 0),
        ("2.0.1a", "2.0.1", 1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p1", 0),
        ("5.5p1", "5.5p2", -1),
        ("5.5p2", "5.5p1", 1),
        ("5.5p10", "5.5p10", 0),
        ("5.5p1", "5.5p10", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("10.1xyz", "10xyz", 1),
        ("xyz10", "xyz10", 0),
        ("xyz10", "xyz10.1", -1),
        ("xyz10.1", "xyz10", 1),
        ("xyz.4", "xyz.4", 0),
        ("xyz.4", "8", -1),
        ("8", "xyz.4", 1),
        ("xyz.4", "2", -1),
        ("2", "xyz.4", 1),
        ("5.5p2", "5.6p1", -1),
        ("5.6p1", "5.5p2", 1),
        ("5.6p1", "6.5p1", -1),
        ("6.5p1", "5.6p1", 1),
        ("6.0.rc1", "6.0", 1),
        ("6.0", "6.0.rc1", -1),
        ("10b2", "10a1", 1),
        ("10a2", "10b2", -1),
        ("1.0aa", "1.0aa", 0),
        ("1.0a", "1.0aa", -1),
        ("1.0aa", "1.0a", 1),
        ("10.0001", "10.0001", 0),
        ("10.0001", "10.1", 0),
        ("10.1", "10.0001", 0),
        ("10.0001", "10.0039", -1),
        ("10.0039", "10.0001", 1),
        ("4.999.9", "5.0", -1),
        ("5.0", "4.999.9", 1),
        ("20101121", "20101121", 0),
        ("20101121", "20101122", -1),
        ("20101122", "20101121", 1),
        ("2_0", "2_0", 0),
        ("2.0", "2_0", 0),
        ("2_0", "2.0", 0),
        ("a", "a", 0),
        ("a+", "a+", 0),
        ("a+", "a_", 0),
        ("a_", "a+", 0),
        ("+a", "+a", 0),
        ("+a", "_a", 0),
        ("_a", "+a", 0),
        ("+_", "+_", 0),
        ("_+", "+_", 0),
        ("_+", "_", 0),
        ("+", "_", 0),
        ("_", "+", 0),
        ("1.0~rc1", "1.0~rc1", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc2", "1.0~rc1", 1),
        ("1.0~rc1~git123", "1.0~rc1~git123", 0),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~rc1", "1.0~rc1~git123", 1),
        ("1.0^", "1.0^", 0),
        ("1.0^", "1.0", 1),
        ("1.0", "1.0^", -1),
        ("1.0^git1", "1.0^git1", 0),
        ("1.0^git1", "1.0", 1),
        ("1.0", "1.0^git1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git2", "1.0^git1", 1),
        ("1.0^git1", "1.01", -1),
        ("1.01", "1.0^git1", 1),
        ("1.0^20160101", "1.0^20160101", 0),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0.1", "1.0^20160101", 1),
        ("1.0^20160101^git1", "1.0^20160101^git1", 0),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0^20160101^git1", "1.0^20160102", -1),
        ("1.0~rc1^git1", "1.0~rc1^git1", 0),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc1^git1", -1),
        ("1.0^git1~pre", "1.0^git1~pre", 0),
        ("1.0^git1", "1.0^git1~pre", 1),
        ("1.0^git1~pre", "1.0^git1", -1),
        ("1b.fc17", "1b.fc17", 0),
        ("1b.fc17", "1.fc17", -1),
        ("1.fc17", "1b.fc17", 1),
        ("1g.fc17", "1g.fc17", 0),
        ("1g.fc17", "1.fc17", 1),
        ("1.fc17", "1g.fc17", -1),
    ];

    #[test]
    fn rpmvercmp_at() {
        let mut failures = Vec::new();
        for (a, b, want) in RPMVERCMP_AT {
            let got = rpmvercmp(a, b) as i8;
            if got != *want {
                failures.push(format!("rpmvercmp({a}, {b}) = {got}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn evr() {
        assert_table(
            Scheme::Rpm,
            &[
                ("1:1.0-1", ">", "2.0-1"),
                ("0:1.0-1", "=", "1.0-1"),
                ("1.0-1.el8", "<", "1.0-2.el8"),
                ("1.0-1.el8_4.1", ">", "1.0-1.el8"),
                ("3.0.7-24.el9", "<", "3.0.7-25.el9"),
                ("2.28-225.el9_4.2", ">", "2.28-225.el9"),
                ("1.0", "<", "1.0-1"),
                ("7.76.1-29.el9_4", "<", "7.76.1-29.el9_4.1"),
            ],
        );
        assert!(compare("x:1", "1").is_err());
    }
}
