//! Version ordering, one submodule per versioning scheme.
//!
//! Every scheme exposes `compare(a, b) -> Result<Ordering, VersionError>`; [`compare`] picks the
//! scheme by [`Scheme`]. Versions are compared from their text each time: advisory ranges hold a
//! handful of bounds, so parsing on demand costs little and keeps the model plain strings, which
//! is what the advisory sources carry.
//!
//! | scheme | module | implementation |
//! |---|---|---|
//! | Debian `dpkg` | [`dpkg`] | hand-written port of dpkg's `verrevcmp` (no crate is a faithful port) |
//! | RPM | [`rpm`] | hand-written port of `rpmvercmp` with `~` and `^` |
//! | Alpine `apk` | [`apk`] | hand-written port of apk-tools' tokenizer and comparison |
//! | SemVer (Cargo, npm) | [`semver`] | the `semver` crate's precedence, after lenient normalisation |
//! | Go modules and toolchain | [`golang`] | SemVer precedence after Go's own spellings are mapped |
//! | PEP 440 (PyPI) | [`pep440`] | the `pep440_rs` crate |
//! | Maven | [`maven`] | hand-written `ComparableVersion` (no Rust crate reproduces it) |
//! | RubyGems | [`rubygems`] | hand-written `Gem::Version#<=>` |
//! | Composer (Packagist) | [`composer`] | hand-written `VersionParser::normalize` + PHP `version_compare` |
//! | NuGet | [`nuget`] | hand-written `NuGetVersion` comparison |

pub mod apk;
pub mod composer;
pub mod dpkg;
pub mod golang;
pub mod maven;
pub mod nuget;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

use std::cmp::Ordering;
use std::fmt;

/// A version string that a scheme cannot order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {input:?}: {reason}")]
pub struct VersionError {
    /// The scheme that rejected the text.
    pub scheme: Scheme,
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: Scheme, input: &str, reason: impl Into<String>) -> Self {
        VersionError {
            scheme,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A version ordering scheme.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum Scheme {
    /// Debian and Ubuntu packages.
    Dpkg,
    /// RPM based distributions.
    Rpm,
    /// Alpine, Wolfi and Chainguard packages.
    Apk,
    /// SemVer 2.0 precedence (crates.io, and OSV `SEMVER` ranges).
    Semver,
    /// npm's loose SemVer spelling (leading `v` or `=`), SemVer precedence.
    Npm,
    /// Go modules and the Go toolchain (`v` prefix, pseudo-versions, `go1.21rc2`).
    Go,
    /// PEP 440 (PyPI).
    Pep440,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
    /// Composer (Packagist).
    Composer,
    /// NuGet.
    NuGet,
}

impl Scheme {
    /// Short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Semver => "semver",
            Scheme::Npm => "npm",
            Scheme::Go => "go",
            Scheme::Pep440 => "pep440",
            Scheme::Maven => "maven",
            Scheme::RubyGems => "rubygems",
            Scheme::Composer => "composer",
            Scheme::NuGet => "nuget",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest version text accepted: real versions are far shorter, and the limit bounds the
/// work (and the nesting of Maven's item lists) that hostile input can cause.
pub const MAX_VERSION_LEN: usize = 256;

/// Orders two versions under `scheme`.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    for v in [a, b] {
        if v.len() > MAX_VERSION_LEN {
            return Err(VersionError::new(
                scheme,
                v.get(..32).unwrap_or_default(),
                format!("longer than {MAX_VERSION_LEN} bytes"),
            ));
        }
    }
    match scheme {
        Scheme::Dpkg => dpkg::compare(a, b),
        Scheme::Rpm => rpm::compare(a, b),
        Scheme::Apk => apk::compare(a, b),
        Scheme::Semver => semver::compare(a, b),
        Scheme::Npm => semver::compare_npm(a, b),
        Scheme::Go => golang::compare(a, b),
        Scheme::Pep440 => pep440::compare(a, b),
        Scheme::Maven => maven::compare(a, b),
        Scheme::RubyGems => rubygems::compare(a, b),
        Scheme::Composer => composer::compare(a, b),
        Scheme::NuGet => nuget::compare(a, b),
    }
}

/// Checks that `v` is a version `scheme` can order.
pub fn validate(scheme: Scheme, v: &str) -> Result<(), VersionError> {
    compare(scheme, v, v).map(|_| ())
}

/// Asserts a list is strictly increasing and every pair compares both ways; shared by the
/// per-scheme test tables.
#[cfg(test)]
pub(crate) fn assert_increasing(scheme: Scheme, list: &[&str]) {
    for (i, a) in list.iter().enumerate() {
        for b in &list[i + 1..] {
            assert_eq!(
                compare(scheme, a, b),
                Ok(Ordering::Less),
                "{scheme}: {a} < {b}"
            );
            assert_eq!(
                compare(scheme, b, a),
                Ok(Ordering::Greater),
                "{scheme}: {b} > {a}"
            );
        }
        assert_eq!(
            compare(scheme, a, a),
            Ok(Ordering::Equal),
            "{scheme}: {a} = {a}"
        );
    }
}

/// Checks a table of `(a, op, b)` with op one of `<`, `=`, `>`.
#[cfg(test)]
#[allow(clippy::panic, reason = "tests fail by panicking")]
pub(crate) fn assert_table(scheme: Scheme, table: &[(&str, &str, &str)]) {
    let mut failures = Vec::new();
    for (a, op, b) in table {
        let want = match *op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            other => panic!("bad op {other}"),
        };
        let got = compare(scheme, a, b);
        if got != Ok(want) {
            failures.push(format!("{a} {op} {b}: got {got:?}"));
        }
        let rev = compare(scheme, b, a);
        if rev != Ok(want.reverse()) {
            failures.push(format!("(reversed) {b} vs {a}: got {rev:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{scheme}: {} of {} cases failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Scheme; 11] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Semver,
        Scheme::Npm,
        Scheme::Go,
        Scheme::Pep440,
        Scheme::Maven,
        Scheme::RubyGems,
        Scheme::Composer,
        Scheme::NuGet,
    ];

    /// Hostile or odd input gives an ordering or an error, never a panic, and the ordering
    /// is antisymmetric.
    #[test]
    fn odd_input_never_panics() {
        let long = "1.".repeat(200);
        let deep = "1-a".repeat(80);
        let odd = [
            "",
            " ",
            "0",
            "~",
            "^",
            "-",
            ".",
            "..",
            "_",
            "+",
            ":",
            "1:",
            ":1",
            "-1",
            "1-",
            "v",
            "go",
            "gox",
            "é",
            "1.é",
            "1\u{0}",
            "00000000000000000000000000001",
            "99999999999999999999999999999.1",
            "1.0-r",
            "1_p",
            "1_",
            "1.0~~",
            "1!2!3",
            "1..0",
            "a-b-c",
            "1.2.3-",
            "1.2.3+",
            "=",
            "==1",
            "dev-main",
            "1.x-dev",
            long.as_str(),
            deep.as_str(),
        ];
        for scheme in ALL {
            for a in odd {
                for b in ["1.0", "0", a] {
                    let x = compare(scheme, a, b);
                    let y = compare(scheme, b, a);
                    if let (Ok(x), Ok(y)) = (&x, &y) {
                        assert_eq!(*x, y.reverse(), "{scheme}: {a:?} vs {b:?}");
                    }
                }
            }
        }
        assert!(compare(Scheme::Maven, &"1-".repeat(200), "1").is_err());
    }
}
