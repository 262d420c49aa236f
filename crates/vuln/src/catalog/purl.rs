//! Package URL text per <https://github.com/package-url/purl-spec>: percent-encoding of
//! namespace segments, name, version and qualifier values; qualifiers sorted by key and
//! empty values dropped. Building one is a few lines, so no crate is pulled in.

fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `pkg:type/namespace/name@version?k=v&…`.
pub fn build(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        let segs: Vec<String> = ns
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| encode(s, &[]))
            .collect();
        out.push_str(&segs.join("/"));
        out.push('/');
    }
    out.push_str(&encode(name, &[]));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&encode(version, &[]));
    }
    let mut q: Vec<(&str, &str)> = qualifiers
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    q.sort_by(|a, b| a.0.cmp(b.0));
    q.dedup_by(|a, b| a.0 == b.0);
    if !q.is_empty() {
        out.push('?');
        let parts: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_ascii_lowercase(), encode(v, &[])))
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

/// A parsed package URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purl {
    /// Type (`deb`, `npm`).
    pub kind: String,
    /// Namespace segments joined by `/`, decoded.
    pub namespace: Option<String>,
    /// Name, decoded.
    pub name: String,
    /// Version, decoded.
    pub version: Option<String>,
    /// Qualifiers, decoded.
    pub qualifiers: Vec<(String, String)>,
}

impl Purl {
    /// A qualifier's value.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
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

/// Parses a package URL; `None` when it is not one.
pub fn parse(text: &str) -> Option<Purl> {
    let rest = text.trim().strip_prefix("pkg:")?;
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, quals) = rest.split_once('?').unwrap_or((rest, ""));
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) if !p.is_empty() => (p, Some(decode(v))),
        _ => (path, None),
    };
    let mut segs: Vec<String> = path.trim_matches('/').split('/').map(decode).collect();
    if segs.len() < 2 {
        return None;
    }
    let kind = segs.remove(0).to_ascii_lowercase();
    let name = segs.pop()?;
    let namespace = (!segs.is_empty()).then(|| segs.join("/"));
    let qualifiers = quals
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
        .collect();
    Some(Purl {
        kind,
        namespace,
        name,
        version,
        qualifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "curl",
                "7.50.3-1",
                &[("distro", "jessie"), ("arch", "i386")]
            ),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        assert_eq!(
            build("npm", Some("@angular"), "animation", "12.3.1", &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            build(
                "golang",
                Some("github.com/gorilla"),
                "context",
                "v1.1.2",
                &[]
            ),
            "pkg:golang/github.com/gorilla/context@v1.1.2"
        );
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u3",
                &[("epoch", "")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3"
        );
    }
}
