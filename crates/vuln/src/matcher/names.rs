//! Package name and release normalisation per ecosystem, so that the names catalogers report
//! meet the names advisories use.

use crate::advisory::Ecosystem;

/// The name under which a package is indexed and looked up.
///
/// - PyPI: PEP 503 (`Foo_Bar.baz` → `foo-bar-baz`).
/// - npm, NuGet, Packagist: lowercase (the registries treat names case-insensitively; npm
///   has accepted only lowercase names for years).
/// - crates.io: lowercase with `_` as `-` (crates.io refuses names that differ only so).
/// - Go: the module path as is (paths are case-sensitive); the toolchain, however a
///   cataloger calls it (`go`, `golang`, `std`), is `stdlib` as in the Go vulnerability
///   database.
/// - Maven: `group:artifact`; a package-URL style `group/artifact` is accepted.
/// - everything else: trimmed, as is.
pub fn normalize_name(ecosystem: &Ecosystem, name: &str) -> String {
    let name = name.trim();
    match ecosystem {
        Ecosystem::PyPI => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        Ecosystem::Npm | Ecosystem::NuGet | Ecosystem::Packagist => name.to_lowercase(),
        Ecosystem::CratesIo => name.to_lowercase().replace('_', "-"),
        Ecosystem::Go => match name {
            "go" | "golang" | "std" | "stdlib" => "stdlib".to_owned(),
            other => other.trim_end_matches('/').to_owned(),
        },
        Ecosystem::Maven if !name.contains(':') => name.replacen('/', ":", 1),
        _ => name.to_owned(),
    }
}

/// The part of a distribution release that advisories are keyed by: Alpine `v3.11.6` →
/// `3.11`; Debian `12.5` → `12`; Ubuntu `Pro:22.04:LTS` → `22.04`; RPM distributions `8.6`
/// → `8`.
pub fn normalize_release(ecosystem: &Ecosystem, release: &str) -> String {
    let r = release.trim().to_ascii_lowercase();
    match ecosystem {
        Ecosystem::Alpine => {
            let r = r.strip_prefix('v').unwrap_or(&r);
            r.split('.').take(2).collect::<Vec<_>>().join(".")
        }
        Ecosystem::Ubuntu => r
            .split(':')
            .find(|p| p.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(&r)
            .to_owned(),
        Ecosystem::Debian
        | Ecosystem::RedHat
        | Ecosystem::RockyLinux
        | Ecosystem::AlmaLinux
        | Ecosystem::Suse
        | Ecosystem::PhotonOs
        | Ecosystem::Mageia => r.split(['.', ':']).next().unwrap_or(&r).to_owned(),
        _ => r,
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

    #[test]
    fn pep503() {
        for (raw, want) in [
            ("Friendly-Bard", "friendly-bard"),
            ("Friendly.Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly__bard", "friendly-bard"),
            ("friendly_.-bard", "friendly-bard"),
            ("zope.interface", "zope-interface"),
            ("Django", "django"),
        ] {
            assert_eq!(normalize_name(&Ecosystem::PyPI, raw), want);
        }
    }

    #[test]
    fn other_ecosystems() {
        assert_eq!(normalize_name(&Ecosystem::Npm, "JSONStream"), "jsonstream");
        assert_eq!(
            normalize_name(&Ecosystem::CratesIo, "Tokio_Util"),
            "tokio-util"
        );
        assert_eq!(normalize_name(&Ecosystem::Go, "golang"), "stdlib");
        assert_eq!(
            normalize_name(&Ecosystem::Go, "github.com/BurntSushi/toml"),
            "github.com/BurntSushi/toml"
        );
        assert_eq!(
            normalize_name(&Ecosystem::Maven, "org.apache.logging.log4j/log4j-core"),
            "org.apache.logging.log4j:log4j-core"
        );
    }

    #[test]
    fn releases() {
        assert_eq!(normalize_release(&Ecosystem::Alpine, "v3.11"), "3.11");
        assert_eq!(normalize_release(&Ecosystem::Alpine, "3.11.6"), "3.11");
        assert_eq!(normalize_release(&Ecosystem::Debian, "12.5"), "12");
        assert_eq!(
            normalize_release(&Ecosystem::Ubuntu, "Pro:18.04:LTS"),
            "18.04"
        );
        assert_eq!(normalize_release(&Ecosystem::Ubuntu, "22.04"), "22.04");
    }
}
