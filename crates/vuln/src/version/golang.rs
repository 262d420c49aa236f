//! Go module and toolchain versions.
//!
//! Go module versions are SemVer with a mandatory `v` (`v1.2.3`), possibly a pseudo-version
//! (`v0.0.0-20220314234659-1baeb1ce4c0b`, `v1.2.4-0.20191109021931-daa7c04131f5`) and the
//! `+incompatible` marker. Pseudo-versions are SemVer pre-releases built so that plain SemVer
//! precedence orders them by commit time, and `+incompatible` is build metadata, which
//! precedence ignores, so ordering is SemVer precedence after dropping the `v`, exactly as
//! `golang.org/x/mod/semver.Compare` does (which also accepts the `v1` and `v1.2` shorthands).
//!
//! The Go toolchain (the `stdlib` and `toolchain` packages of the Go vulnerability database)
//! is spelled `go1.21.3`, `go1.21rc2`, `go1.19beta1` or `go1.20`. These are mapped the way the
//! database does it: `go1.21rc2` is `1.21.0-rc.2`, `go1.20` is `1.20.0`.

use std::cmp::Ordering;

use super::{Scheme, VersionError, semver};

/// Maps a Go toolchain spelling (`go1.21rc2`) to SemVer (`1.21.0-rc.2`); other text is
/// returned without its `v`.
pub fn canonical(input: &str) -> String {
    let s = input.trim();
    // `go1.21.3`, or a bare toolchain pre-release such as `1.21rc2`.
    let toolchain = s.strip_prefix("go").or_else(|| {
        let cut = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let suffix = &s[cut..];
        ["rc", "beta", "alpha"]
            .iter()
            .any(|t| {
                suffix
                    .strip_prefix(t)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .then_some(s)
    });
    if let Some(rest) = toolchain {
        // Split the numeric part from a beta/rc suffix.
        let cut = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(cut);
        let mut parts: Vec<&str> = num.split('.').filter(|p| !p.is_empty()).collect();
        while parts.len() < 3 {
            parts.push("0");
        }
        let core = parts.join(".");
        for tag in ["rc", "beta", "alpha"] {
            if let Some(n) = suffix.strip_prefix(tag) {
                return if n.is_empty() {
                    format!("{core}-{tag}")
                } else {
                    format!("{core}-{tag}.{n}")
                };
            }
        }
        return format!("{core}{suffix}");
    }
    s.strip_prefix('v').unwrap_or(s).to_owned()
}

/// Orders two Go versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let pa = semver::parse(&canonical(a), Scheme::Go).map_err(|e| VersionError {
        input: a.into(),
        ..e
    })?;
    let pb = semver::parse(&canonical(b), Scheme::Go).map_err(|e| VersionError {
        input: b.into(),
        ..e
    })?;
    Ok(pa.cmp_precedence(&pb))
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

    #[test]
    fn toolchain_spellings() {
        assert_eq!(canonical("go1.21.3"), "1.21.3");
        assert_eq!(canonical("go1.21rc2"), "1.21.0-rc.2");
        assert_eq!(canonical("go1.19beta1"), "1.19.0-beta.1");
        assert_eq!(canonical("go1.20"), "1.20.0");
        assert_eq!(canonical("v1.2.3"), "1.2.3");
        assert_increasing(
            Scheme::Go,
            &[
                "go1.20",
                "go1.20.1",
                "go1.21rc1",
                "1.21rc2",
                "go1.21.0",
                "go1.21.3",
                "1.22.0",
            ],
        );
    }

    /// Orderings from `golang.org/x/mod/semver`'s `semver_test.go` and `module/pseudo_test.go`.
    #[test]
    fn module_versions() {
        assert_increasing(
            Scheme::Go,
            &[
                "v0.0.0-20190101000000-abcdefabcdef",
                "v0.0.0-20220314234659-1baeb1ce4c0b",
                "v0.1.0",
                "v1.0.0-alpha",
                "v1.0.0-alpha.1",
                "v1.0.0-alpha.beta",
                "v1.0.0-beta",
                "v1.0.0-beta.2",
                "v1.0.0-beta.11",
                "v1.0.0-rc.1",
                "v1.0.0",
                "v1.2",
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
                "v2.0.0+incompatible",
                "v2.1.0-pre.0.20200101000000-abcdefabcdef",
                "v2.1.0-pre.1",
                "v2.1.0",
            ],
        );
        assert_table(
            Scheme::Go,
            &[
                ("v1", "=", "v1.0.0"),
                ("v1.2", "=", "v1.2.0"),
                ("v2.0.0+incompatible", "=", "v2.0.0"),
                ("1.6.0", "=", "v1.6.0"),
            ],
        );
        assert!(compare("vbad", "v1.0.0").is_err());
    }
}
