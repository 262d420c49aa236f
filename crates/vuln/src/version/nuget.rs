//! NuGet package versions, ordered as `NuGet.Versioning.VersionComparer.Default`.
//!
//! NuGet versions are SemVer 2.0 extended with an optional fourth number (legacy
//! `Major.Minor.Build.Revision`): `1.0` is `1.0.0.0`. The numbers compare numerically (leading
//! zeros allowed), a release is greater than any pre-release, pre-release labels compare
//! identifier by identifier (numbers numerically, below text; text case-insensitively), and
//! build metadata is ignored. Hand-written because no maintained Rust crate implements NuGet's
//! rules (SemVer crates reject the fourth number and leading zeros).

use std::cmp::Ordering;

use super::{Scheme, VersionError};

/// A parsed NuGet version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NuGetVersion {
    /// Major, minor, patch (build) and revision.
    pub numbers: [u64; 4],
    /// Pre-release identifiers (empty for a release).
    pub release: Vec<String>,
}

/// Parses a NuGet version.
pub fn parse(input: &str) -> Result<NuGetVersion, VersionError> {
    let err = |r: &str| VersionError::new(Scheme::NuGet, input, r);
    let s = input.trim();
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = s.split_once('-').unwrap_or((s, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(err("expected one to four numbers"));
    }
    let mut numbers = [0u64; 4];
    for (slot, p) in numbers.iter_mut().zip(&parts) {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("version numbers must be digits"));
        }
        *slot = p.parse().map_err(|_| err("version number too big"))?;
    }
    let release: Vec<String> = if pre.is_empty() {
        Vec::new()
    } else {
        pre.split('.').map(str::to_owned).collect()
    };
    if release
        .iter()
        .any(|r| r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(err("invalid pre-release label"));
    }
    Ok(NuGetVersion { numbers, release })
}

fn cmp_label(a: &str, b: &str) -> Ordering {
    let an = a.bytes().all(|c| c.is_ascii_digit());
    let bn = b.bytes().all(|c| c.is_ascii_digit());
    match (an, bn) {
        (true, true) => {
            let a = a.trim_start_matches('0');
            let b = b.trim_start_matches('0');
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
    }
}

/// Orders two NuGet versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let a = parse(a)?;
    let b = parse(b)?;
    let o = a.numbers.cmp(&b.numbers);
    if o != Ordering::Equal {
        return Ok(o);
    }
    Ok(match (a.release.is_empty(), b.release.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in a.release.iter().zip(&b.release) {
                let o = cmp_label(x, y);
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            a.release.len().cmp(&b.release.len())
        }
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
    use crate::version::{assert_increasing, assert_table};

    /// Cases in the spirit of NuGet.Client's `VersionComparerTests` and `NuGetVersionTest`.
    #[test]
    fn nuget_ordering() {
        assert_table(
            Scheme::NuGet,
            &[
                ("1.0", "=", "1.0.0"),
                ("1.0.0", "=", "1.0.0.0"),
                ("1.0.01", "=", "1.0.1"),
                ("1.0.0-BETA", "=", "1.0.0-beta"),
                ("1.0.0+build", "=", "1.0.0"),
                ("1.0.0-beta+a", "=", "1.0.0-beta+b"),
                ("1.0.0.1", ">", "1.0.0"),
                ("1.0.0-alpha", "<", "1.0.0"),
                ("1.0.0-alpha.2", "<", "1.0.0-alpha.10"),
                ("1.0.0-alpha2", ">", "1.0.0-alpha10"),
                ("1.0.0-1", "<", "1.0.0-a"),
                ("2.0.0-rc.1", "<", "2.0.0"),
                ("4.3.0", "<", "4.3.1"),
                ("13.0.1", ">", "12.0.3"),
            ],
        );
        assert_increasing(
            Scheme::NuGet,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.0.1",
                "1.0.1",
            ],
        );
        assert!(compare("1.0.0.0.0", "1").is_err());
        assert!(compare("a.b", "1").is_err());
    }
}
