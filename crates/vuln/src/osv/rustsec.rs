//! RustSec advisories: Markdown files whose first block is a ```` ```toml ```` front matter
//! with `[advisory]`, `[versions]` (`patched`, `unaffected`: Cargo requirements) and
//! `[affected]` (functions, os, arch).
//!
//! `patched` and `unaffected` become [`Constraints`] on the SemVer scheme (a version is
//! affected unless it satisfies one of them); the Markdown title becomes the summary and the
//! body the details. `[affected]` is kept under `ecosystem_specific.affects`, as RustSec's own
//! OSV export does, and `informational`, `categories`, `keywords` under `database_specific`.
//! Advisories under `rust/` concern the toolchain (`std`, `cargo`, `rustdoc`), not crates, and
//! get the ecosystem `Rust`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Import, read, walk};
use crate::advisory::{
    Advisory, Affected, Constraints, Ecosystem, Package, Reference, SeverityScore, VersionReq,
};
use crate::version::{Scheme, semver::parse_cargo_req};

/// A RustSec file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RustSecError {
    /// The file does not start with a ```` ```toml ```` block.
    #[error("no ```toml front matter at the start of the file")]
    NoFrontMatter,
    /// The front matter is not valid TOML of the advisory shape.
    #[error("front matter: {reason}")]
    Toml {
        /// The TOML parser's message.
        reason: String,
    },
    /// A version requirement does not parse.
    #[error("{id}: [versions] {field}: {reason}")]
    Requirement {
        /// Advisory id.
        id: String,
        /// `patched` or `unaffected`.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

#[derive(Deserialize)]
struct RawFile {
    advisory: RawAdvisory,
    #[serde(default)]
    versions: RawVersions,
    affected: Option<toml::Value>,
}

#[derive(Deserialize)]
struct RawAdvisory {
    id: String,
    package: String,
    date: Option<toml::Value>,
    url: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    cvss: Option<String>,
    informational: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    withdrawn: Option<toml::Value>,
    license: Option<String>,
    #[serde(rename = "expect-deleted")]
    expect_deleted: Option<bool>,
}

#[derive(Deserialize, Default)]
struct RawVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn reqs(id: &str, field: &'static str, list: &[String]) -> Result<VersionReq, RustSecError> {
    let mut any_of = Vec::with_capacity(list.len());
    for r in list {
        any_of.push(parse_cargo_req(r).map_err(|e| RustSecError::Requirement {
            id: id.to_owned(),
            field,
            reason: e.to_string(),
        })?);
    }
    Ok(VersionReq { any_of })
}

/// Parses one RustSec advisory file.
pub fn parse_rustsec(text: &str, source: &str) -> Result<Advisory, RustSecError> {
    let body = text.trim_start_matches('\u{feff}');
    let rest = body
        .strip_prefix("```toml")
        .ok_or(RustSecError::NoFrontMatter)?;
    let end = rest.find("\n```").ok_or(RustSecError::NoFrontMatter)?;
    let front = &rest[..end];
    let markdown = rest[end + 4..].trim_start_matches('`');
    let raw: RawFile = toml::from_str(front).map_err(|e| RustSecError::Toml {
        reason: e.to_string().trim().to_owned(),
    })?;
    let a = raw.advisory;
    let mut adv = Advisory::new(a.id.trim(), source);
    adv.aliases = a.aliases;
    adv.related = a.related;
    adv.published = a.date.as_ref().map(toml_text);
    adv.withdrawn = a.withdrawn.as_ref().map(toml_text);
    if let Some(v) = &a.cvss {
        adv.severity.push(SeverityScore::from_vector(v, None));
    }
    if let Some(url) = a.url {
        adv.references.push(Reference {
            kind: "REPORT".into(),
            url,
        });
    }
    adv.references
        .extend(a.references.into_iter().map(|url| Reference {
            kind: "WEB".into(),
            url,
        }));
    // Title: the first Markdown heading; details: everything after it.
    let markdown = markdown.trim();
    let (title, details) = match markdown.strip_prefix("# ") {
        Some(t) => match t.split_once('\n') {
            Some((title, rest)) => (Some(title.trim()), rest.trim()),
            None => (Some(t.trim()), ""),
        },
        None => (None, markdown),
    };
    adv.summary = title.map(str::to_owned);
    adv.details = (!details.is_empty()).then(|| details.to_owned());
    let mut db = Map::new();
    if !a.categories.is_empty() {
        db.insert("categories".into(), json!(a.categories));
    }
    if !a.keywords.is_empty() {
        db.insert("keywords".into(), json!(a.keywords));
    }
    if let Some(i) = &a.informational {
        db.insert("informational".into(), json!(i));
    }
    if let Some(l) = &a.license {
        db.insert("license".into(), json!(l));
    }
    if let Some(d) = a.expect_deleted {
        db.insert("expect-deleted".into(), json!(d));
    }
    adv.database_specific = (!db.is_empty()).then_some(Value::Object(db));

    let patched = reqs(&adv.id, "patched", &raw.versions.patched)?;
    let unaffected = reqs(&adv.id, "unaffected", &raw.versions.unaffected)?;
    let mut affected = Affected::new(Package {
        ecosystem: Ecosystem::CratesIo,
        release: None,
        name: a.package,
        purl: None,
    });
    affected.package.purl = Some(format!("pkg:cargo/{}", affected.package.name));
    affected.constraints = Some(Constraints {
        scheme: Scheme::Semver,
        vulnerable: None,
        patched,
        unaffected,
    });
    if let Some(aff) = raw.affected {
        let v = serde_json::to_value(&aff).unwrap_or(Value::Null);
        affected.ecosystem_specific = Some(json!({ "affects": v }));
    }
    adv.affected.push(affected);
    Ok(adv)
}

/// Imports a RustSec advisory-db checkout (`crates/**` and `rust/**`).
pub fn import_rustsec(dir: &Path, source: &str) -> Import {
    let mut import = Import::new(source);
    for path in walk(dir, &["md"], &mut import) {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let top = rel.components().next().and_then(|c| c.as_os_str().to_str());
        let toolchain = top == Some("rust");
        if !(toolchain || top == Some("crates")) {
            import.skip(&path, "not under crates/ or rust/");
            continue;
        }
        let Some(text) = read(&path, &mut import) else {
            continue;
        };
        match parse_rustsec(&text, source) {
            Ok(mut adv) => {
                if toolchain {
                    for a in &mut adv.affected {
                        a.package.ecosystem = Ecosystem::Other("Rust".into());
                        a.package.purl = None;
                    }
                }
                import.push(adv);
            }
            Err(e) => import.error(&path, e.to_string()),
        }
    }
    import
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

    const MDBOOK: &str = r#"```toml
[advisory]
id = "RUSTSEC-2021-0001"
package = "mdbook"
date = "2021-01-04"
url = "https://example.invalid/announce"
categories = ["code-execution"]
aliases = ["CVE-2020-26297"]
cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"

[versions]
patched = [">= 0.4.5"]
unaffected = ["<= 0.1.3"]
```

# XSS in mdBook's search page

Body text.
"#;

    #[test]
    fn front_matter_and_markdown() {
        let a = parse_rustsec(MDBOOK, "rustsec").unwrap();
        assert_eq!(a.id, "RUSTSEC-2021-0001");
        assert_eq!(a.aliases, vec!["CVE-2020-26297"]);
        assert_eq!(a.summary.as_deref(), Some("XSS in mdBook's search page"));
        assert_eq!(a.details.as_deref(), Some("Body text."));
        assert_eq!(a.published.as_deref(), Some("2021-01-04"));
        assert_eq!(a.severity[0].score, Some(6.1));
        let c = a.affected[0].constraints.as_ref().unwrap();
        assert_eq!(c.patched.to_string(), ">=0.4.5");
        assert_eq!(c.unaffected.to_string(), "<=0.1.3");
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_rustsec("# no front matter", "r").unwrap_err(),
            RustSecError::NoFrontMatter
        );
        let bad = "```toml\n[advisory]\nid = 1\n```\n";
        assert!(matches!(
            parse_rustsec(bad, "r").unwrap_err(),
            RustSecError::Toml { .. }
        ));
        let bad_req = MDBOOK.replace(">= 0.4.5", ">= banana");
        let e = parse_rustsec(&bad_req, "r").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("RUSTSEC-2021-0001: [versions] patched:"),
            "{e}"
        );
    }
}
