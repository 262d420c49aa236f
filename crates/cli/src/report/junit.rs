//! JUnit XML output: one test case per scanned resource, failing with its findings.
//!
//! CI systems count a resource without findings as a passed test, so the report shows both
//! the coverage and the failures. Written by hand: the format is a few elements, and all that
//! matters is correct escaping, done in [`escape`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use palisade_model::{Finding, ResourceRef};

use super::ScanContext;

pub(crate) fn write(out: &mut impl Write, ctx: &ScanContext<'_>) -> anyhow::Result<()> {
    let mut by_resource: HashMap<&ResourceRef, Vec<&Finding>> = HashMap::new();
    for f in ctx.findings {
        by_resource.entry(&f.resource).or_default().push(f);
    }
    let mut seen = std::collections::HashSet::new();
    let resources: Vec<_> = ctx
        .inventory
        .objects
        .iter()
        .filter(|o| seen.insert(&o.resource))
        .collect();
    let failures = resources
        .iter()
        .filter(|o| by_resource.contains_key(&o.resource))
        .count();
    let mut body = String::new();
    for o in &resources {
        let r = &o.resource;
        let classname = match &r.namespace {
            Some(ns) => format!("{}.{}", ns, r.kind),
            None => r.kind.clone(),
        };
        let _ = write!(
            body,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"",
            escape(&classname),
            escape(&r.to_string()),
            escape(&o.location.file)
        );
        match by_resource.get(&o.resource) {
            None => body.push_str("/>\n"),
            Some(fs) => {
                body.push_str(">\n");
                for f in fs {
                    let _ = writeln!(
                        body,
                        "      <failure type=\"{}\" message=\"{}\">{} {}{}\nevidence: {}\nremediation: {}</failure>",
                        escape(&f.check_id),
                        escape(&f.message),
                        escape(f.severity.as_str()),
                        escape(&f.title),
                        f.container
                            .as_deref()
                            .map(|c| format!(" (container {})", escape(c)))
                            .unwrap_or_default(),
                        escape(&f.evidence),
                        escape(&f.remediation)
                    );
                }
                body.push_str("    </testcase>\n");
            }
        }
    }
    let errors = ctx.errors.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="palisade" tests="{}" failures="{failures}" errors="{errors}">"#,
        resources.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="palisade posture scan" tests="{}" failures="{failures}" errors="{errors}">"#,
        resources.len()
    )?;
    out.write_all(body.as_bytes())?;
    for e in ctx.errors {
        writeln!(
            out,
            "    <testcase classname=\"input\" name=\"{}\"><error message=\"{}\"/></testcase>",
            escape(&e.location.to_string()),
            escape(&e.message)
        )?;
    }
    writeln!(out, "  </testsuite>\n</testsuites>")?;
    Ok(())
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' | '\r' => o.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
