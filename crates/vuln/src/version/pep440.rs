//! PEP 440 versions (PyPI), ordered by the `pep440_rs` crate.
//!
//! `pep440_rs` implements the whole of PEP 440: epochs, pre-, post- and dev-releases,
//! local versions, and the normalisation rules (`1.0-alpha1` is `1.0a1`, `1.0.post` is
//! `1.0.post0`, `v1.0` is `1.0`). Python's `packaging` is the reference it follows.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::Version;

use super::{Scheme, VersionError};

/// Parses a PEP 440 version, normalising the spellings PEP 440 allows.
pub fn parse(input: &str) -> Result<Version, VersionError> {
    Version::from_str(input.trim())
        .map_err(|e| VersionError::new(Scheme::Pep440, input, e.to_string()))
}

/// Orders two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

/// The normalised form of a version (`1.0-Alpha1` → `1.0a1`).
pub fn normalize(input: &str) -> Result<String, VersionError> {
    Ok(parse(input)?.to_string())
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

    /// The ordering example of PEP 440 ("Summary of permitted suffixes and relative ordering").
    #[test]
    fn pep440_spec_ordering() {
        assert_increasing(
            Scheme::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
            ],
        );
    }

    /// Normalisation rules of PEP 440 ("Normalization" section) and epochs.
    #[test]
    fn pep440_normalization() {
        for (raw, norm) in [
            ("1.0ALPHA1", "1.0a1"),
            ("1.1.0-a.1", "1.1.0a1"),
            ("1.0alpha1", "1.0a1"),
            ("1.0beta2", "1.0b2"),
            ("1.0c1", "1.0rc1"),
            ("1.0pre1", "1.0rc1"),
            ("1.0preview1", "1.0rc1"),
            ("1.0a", "1.0a0"),
            ("1.0-post1", "1.0.post1"),
            ("1.0post", "1.0.post0"),
            ("1.0-1", "1.0.post1"),
            ("1.0rev1", "1.0.post1"),
            ("1.0r1", "1.0.post1"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            ("v1.0", "1.0"),
            ("01.02", "1.2"),
            (" 1.0 ", "1.0"),
        ] {
            assert_eq!(normalize(raw).unwrap(), norm, "{raw}");
        }
        assert_table(
            Scheme::Pep440,
            &[
                ("1!1.0", ">", "2.0"),
                ("0!1.0", "=", "1.0"),
                ("1.0", "=", "1.0.0"),
                ("1.0a1", "=", "1.0.0a1"),
                ("1.0.0+local", ">", "1.0"),
                ("2.0.0rc1", "<", "2.0.0"),
                ("1.0.post1", ">", "1.0+local"),
                ("1.0.dev0", "<", "1.0a0"),
            ],
        );
        assert!(compare("not a version", "1.0").is_err());
    }
}
