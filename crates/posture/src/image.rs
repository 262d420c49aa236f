//! Container image references: registry, repository, tag, digest.
//!
//! Hand-written because the rules are a few lines (Docker's reference grammar: the first path
//! component is a registry only if it contains `.` or `:` or is `localhost`) and a crate for it
//! would pull in regex.

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef<'a> {
    /// Registry host (and port); `docker.io` when implicit.
    pub(crate) registry: &'a str,
    /// Repository path, with `library/` added for official Docker Hub images.
    pub(crate) repository: String,
    /// Tag, if any.
    pub(crate) tag: Option<&'a str>,
    /// Digest (`sha256:...`), if any.
    pub(crate) digest: Option<&'a str>,
}

impl ImageRef<'_> {
    /// `registry/repository`, the string trusted-registry prefixes are matched against.
    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

pub(crate) fn parse(image: &str) -> ImageRef<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("docker.io", name),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io"
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_owned()
    };
    ImageRef {
        registry,
        repository,
        tag: tag.filter(|t| !t.is_empty()),
        digest: digest.filter(|d| !d.is_empty()),
    }
}

/// Whether `image` comes from one of `trusted` (`host` or `host/path` prefixes, matched on
/// whole path components; `docker.io` matches implicit Docker Hub images).
pub(crate) fn is_trusted(image: &ImageRef<'_>, trusted: &[String]) -> bool {
    let full = image.full_name();
    trusted.iter().any(|t| {
        let t = t.trim_end_matches('/');
        full == t || (full.starts_with(t) && full.as_bytes().get(t.len()) == Some(&b'/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = parse("nginx");
        assert_eq!(
            (r.registry, r.repository.as_str(), r.tag, r.digest),
            ("docker.io", "library/nginx", None, None)
        );
        let r = parse("localhost:5000/a/b:1.2@sha256:abc");
        assert_eq!(
            (r.registry, r.repository.as_str(), r.tag, r.digest),
            ("localhost:5000", "a/b", Some("1.2"), Some("sha256:abc"))
        );
        let r = parse("quay.io/calico/node:v3.27.0");
        assert_eq!((r.registry, r.tag), ("quay.io", Some("v3.27.0")));
        let r = parse("example/app:latest");
        assert_eq!(
            (r.registry, r.repository.as_str(), r.tag),
            ("docker.io", "example/app", Some("latest"))
        );
    }

    #[test]
    fn trusted_prefixes_match_whole_components() {
        let t = vec![
            "registry.example.com/team".to_owned(),
            "docker.io/library".to_owned(),
        ];
        assert!(is_trusted(&parse("registry.example.com/team/app:1"), &t));
        assert!(!is_trusted(
            &parse("registry.example.com/teamevil/app:1"),
            &t
        ));
        assert!(is_trusted(&parse("nginx:1.25"), &t));
        assert!(!is_trusted(&parse("evil.io/nginx"), &t));
    }
}
