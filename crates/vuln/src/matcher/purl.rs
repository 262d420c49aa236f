//! Package URLs (<https://github.com/package-url/purl-spec>) into [`PackageQuery`]s: the
//! purl type and namespace choose the ecosystem (`pkg:deb/debian/...` → Debian), the
//! `distro` qualifier gives the release (`debian-12`, `alpine-3.18.4`), and `upstream`
//! (or the dpkg/apk `source`) the source package. Only what the matcher needs is parsed, so
//! no purl crate is pulled in.

use super::PackageQuery;
use crate::advisory::Ecosystem;

/// A package URL the matcher cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package URL {purl:?}: {reason}")]
pub struct PurlError {
    /// The text given.
    pub purl: String,
    /// What is wrong.
    pub reason: String,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds a query from a package URL with a version.
pub fn query_from_purl(purl: &str) -> Result<PackageQuery, PurlError> {
    let err = |r: &str| PurlError {
        purl: purl.to_owned(),
        reason: r.to_owned(),
    };
    let rest = purl
        .trim()
        .strip_prefix("pkg:")
        .ok_or_else(|| err("does not start with pkg:"))?;
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let (path, version) = path.rsplit_once('@').ok_or_else(|| err("has no version"))?;
    let version = decode(version);
    let mut segs: Vec<String> = path.trim_matches('/').split('/').map(decode).collect();
    if segs.len() < 2 {
        return Err(err("has no name"));
    }
    let kind = segs.remove(0).to_ascii_lowercase();
    let name = segs.pop().unwrap_or_default();
    let namespace = segs.join("/");
    let quals: Vec<(String, String)> = qualifiers
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
        .collect();
    let qual = |k: &str| quals.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    let ns = namespace.to_ascii_lowercase();
    let joined = |sep: &str| {
        if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}{sep}{name}")
        }
    };
    let (ecosystem, full_name) = match kind.as_str() {
        "npm" => (Ecosystem::Npm, joined("/")),
        "pypi" => (Ecosystem::PyPI, name.clone()),
        "cargo" => (Ecosystem::CratesIo, name.clone()),
        "golang" => (Ecosystem::Go, joined("/")),
        "maven" => (Ecosystem::Maven, joined(":")),
        "gem" => (Ecosystem::RubyGems, name.clone()),
        "composer" => (Ecosystem::Packagist, joined("/")),
        "nuget" => (Ecosystem::NuGet, name.clone()),
        "apk" | "deb" | "rpm" => {
            let eco = match ns.as_str() {
                "alpine" => Ecosystem::Alpine,
                "wolfi" => Ecosystem::Wolfi,
                "chainguard" => Ecosystem::Chainguard,
                "debian" => Ecosystem::Debian,
                "ubuntu" => Ecosystem::Ubuntu,
                "redhat" | "rhel" => Ecosystem::RedHat,
                "rocky" | "rockylinux" => Ecosystem::RockyLinux,
                "almalinux" => Ecosystem::AlmaLinux,
                "sles" | "suse" => Ecosystem::Suse,
                "opensuse" => Ecosystem::OpenSuse,
                "photon" => Ecosystem::PhotonOs,
                "mageia" => Ecosystem::Mageia,
                _ => return Err(err("unknown distribution namespace")),
            };
            (eco, name.clone())
        }
        _ => return Err(err("unsupported package type")),
    };
    let mut q = PackageQuery::new(ecosystem, full_name, version);
    if let Some(d) = qual("distro") {
        // `debian-12`, `alpine-3.18.4`, or a bare release.
        let release = d.rsplit_once('-').map_or(d.as_str(), |(_, r)| r).to_owned();
        q.release = Some(release);
    }
    if let Some(e) = qual("epoch").filter(|e| e != "0")
        && kind == "rpm"
    {
        q.version = format!("{e}:{}", q.version);
    }
    q.source_name = qual("upstream").map(|u| u.split('@').next().unwrap_or(&u).to_owned());
    Ok(q)
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
    fn purls() {
        let q = query_from_purl(
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=glibc",
        )
        .unwrap();
        assert_eq!(q.ecosystem, Ecosystem::Debian);
        assert_eq!(q.version, "2.36-9+deb12u3");
        assert_eq!(q.release.as_deref(), Some("12"));
        assert_eq!(q.source_name.as_deref(), Some("glibc"));
        let q = query_from_purl("pkg:npm/%40babel/traverse@7.23.0").unwrap();
        assert_eq!(
            (q.ecosystem, q.name.as_str()),
            (Ecosystem::Npm, "@babel/traverse")
        );
        let q = query_from_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1").unwrap();
        assert_eq!(q.name, "org.apache.logging.log4j:log4j-core");
        let q = query_from_purl("pkg:golang/golang.org/x/net@v0.17.0").unwrap();
        assert_eq!(q.name, "golang.org/x/net");
        let q =
            query_from_purl("pkg:rpm/redhat/openssl@3.0.7-24.el9?epoch=1&distro=rhel-9.3").unwrap();
        assert_eq!(q.version, "1:3.0.7-24.el9");
        assert!(query_from_purl("pkg:npm/left-pad").is_err());
        assert!(query_from_purl("pkg:deb/mystery/x@1").is_err());
    }
}
