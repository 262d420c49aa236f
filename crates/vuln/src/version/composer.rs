//! Composer (Packagist) versions, ordered as `Composer\Semver\Comparator` does.
//!
//! Composer first normalises a version with `VersionParser::normalize` (`v1.2` →
//! `1.2.0.0`, `1.0.0b2` → `1.0.0.0-beta2`, `1.0.0.pl3-dev` → `1.0.0.0-patch3-dev`, dates
//! `20100102-203040` → `20100102.203040`) and then compares with PHP's `version_compare`:
//! canonicalise (`-`, `_`, `+` become `.`, a `.` is put between digits and letters), then
//! compare part by part, numbers numerically, and words by rank `dev` < `alpha` = `a` <
//! `beta` = `b` < `RC` = `rc` < number < `pl` = `p` (prefix match, so `patch` ranks as `p`),
//! unknown words lowest. Both steps are hand-written ports because there is no Rust
//! implementation of either. Branch names (`dev-main`, `1.x-dev`) do not order against
//! versions in Composer either and are rejected.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

fn expand_stability(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        other => other.into(),
    }
}

/// Reads `[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?$`, the
/// tail of a version; returns the normalised suffix or `None` when the tail does not match.
fn modifier(rest: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let after_sep = lower.strip_prefix(['.', '_', '-']).unwrap_or(&lower);
    let dev_tail = |s: &str, out: String| -> Option<String> {
        match s.strip_prefix(['.', '-']).unwrap_or(s) {
            "dev" => Some(format!("{out}-dev")),
            _ if s.is_empty() => Some(out),
            _ => None,
        }
    };
    for word in [
        "stable", "beta", "b", "rc", "alpha", "a", "patch", "pl", "p",
    ] {
        let Some(mut s) = after_sep.strip_prefix(word) else {
            continue;
        };
        let start = s;
        loop {
            let t = s.strip_prefix(['.', '-']).unwrap_or(s);
            let n = t.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                break;
            }
            s = &t[n..];
        }
        let num = start[..start.len() - s.len()].trim_start_matches(['.', '-']);
        let out = if word == "stable" {
            String::new()
        } else {
            format!("-{}{num}", expand_stability(word))
        };
        if let Some(done) = dev_tail(s, out) {
            return Some(done);
        }
        break;
    }
    dev_tail(after_sep, String::new())
}

fn normalize_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut end = 0;
    while end < b.len() && (b[end].is_ascii_digit() || matches!(b[end], b'.' | b':' | b'-')) {
        if !b[end].is_ascii_digit() && !b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            break;
        }
        end += 1;
    }
    let date: String = s[..end]
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '.' })
        .collect();
    Some(format!("{date}{}", modifier(&s[end..])?))
}

fn normalize_classical(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if lead == 0 || lead > 5 {
        return None;
    }
    let mut nums = vec![&s[..lead]];
    let mut pos = lead;
    while nums.len() < 4 && b.get(pos) == Some(&b'.') {
        let n = b[pos + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n == 0 {
            break;
        }
        nums.push(&s[pos + 1..pos + 1 + n]);
        pos += 1 + n;
    }
    let m = modifier(&s[pos..])?;
    while nums.len() < 4 {
        nums.push("0");
    }
    Some(format!("{}{m}", nums.join(".")))
}

/// `VersionParser::normalize` for versions (not branches).
pub fn normalize(input: &str) -> Result<String, VersionError> {
    let err = |r: &str| VersionError::new(Scheme::Composer, input, r);
    let mut s = input.trim();
    if let Some((v, _alias)) = s.split_once(" as ") {
        s = v.trim();
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("dev-") || lower.ends_with("x-dev") {
        return Err(err("branch names do not order against versions"));
    }
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    let lead = s.bytes().take_while(u8::is_ascii_digit).count();
    normalize_classical(s)
        .or_else(|| if lead >= 4 { normalize_date(s) } else { None })
        .ok_or_else(|| err("invalid version string"))
}

fn php_canonicalize(v: &str) -> String {
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let b = v.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() * 2);
    let Some(&first) = b.first() else {
        return String::new();
    };
    out.push(first);
    let mut lp = first;
    for &c in &b[1..] {
        let lq = out.last().copied().unwrap_or(b'.');
        if matches!(c, b'-' | b'_' | b'+') {
            if lq != b'.' {
                out.push(b'.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if lq != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if lq != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn special_form(s: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| s.starts_with(name))
        .map_or(-6, |(_, order)| *order)
}

/// PHP's `version_compare` (without operator).
pub fn php_version_compare(a: &str, b: &str) -> Ordering {
    let a = php_canonicalize(a);
    let b = php_canonicalize(b);
    compare_canonical(&a, &b)
}

fn compare_canonical(a: &str, b: &str) -> Ordering {
    let cmp_part = |p1: &str, p2: &str| -> Ordering {
        let d1 = p1.starts_with(|c: char| c.is_ascii_digit());
        let d2 = p2.starts_with(|c: char| c.is_ascii_digit());
        match (d1, d2) {
            (true, true) => {
                let n1 = leading_number(p1);
                let n2 = leading_number(p2);
                n1.len().cmp(&n2.len()).then_with(|| n1.cmp(n2))
            }
            (false, false) => special_form(p1).cmp(&special_form(p2)),
            (true, false) => special_form("#N#").cmp(&special_form(p2)),
            (false, true) => special_form(p1).cmp(&special_form("#N#")),
        }
    };
    let mut r1: Option<&str> = Some(a);
    let mut r2: Option<&str> = Some(b);
    let mut compare = Ordering::Equal;
    while let (Some(x), Some(y)) = (r1, r2) {
        if x.is_empty() || y.is_empty() {
            break;
        }
        let (h1, t1) = match x.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (x, None),
        };
        let (h2, t2) = match y.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (y, None),
        };
        compare = cmp_part(h1, h2);
        r1 = t1;
        r2 = t2;
        if compare != Ordering::Equal {
            return compare;
        }
    }
    if let Some(rest) = r1.filter(|_| r2.is_none()) {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            compare = Ordering::Greater;
        } else if !rest.is_empty() {
            compare = compare_canonical(rest, "#N#");
        }
    } else if let Some(rest) = r2.filter(|_| r1.is_none()) {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            compare = Ordering::Less;
        } else if !rest.is_empty() {
            compare = compare_canonical("#N#", rest);
        }
    }
    compare
}

fn leading_number(s: &str) -> &str {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..n].trim_start_matches('0')
}

/// Orders two Composer versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(php_version_compare(&normalize(a)?, &normalize(b)?))
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

    /// `VersionParserTest::successfulNormalizedVersions`.
    #[test]
    fn normalize_versions() {
        for (input, want) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("10.4.13-beta.2", "10.4.13.0-beta2"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010.1.555", "2010.1.555.0"),
            ("2010.10.200", "2010.10.200.0"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("v20100102", "20100102"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0.0-alpha3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0-patch1", "1.0.0.0-patch1"),
        ] {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
        for bad in [
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "dev-main",
            "1.x-dev",
        ] {
            assert!(normalize(bad).is_err(), "{bad} must be rejected");
        }
    }

    /// PHP's `version_compare` cases from php-src `ext/standard/tests/versioning/version_compare.phpt`.
    #[test]
    fn php_version_compare_cases() {
        let lt = [
            ("1", "1.0"),
            ("1.0", "1.0.0"),
            ("1.0-dev", "1.0"),
            ("1.0a1", "1.0"),
            ("1.0dev", "1.0alpha"),
            ("1.0alpha", "1.0beta"),
            ("1.0beta", "1.0RC"),
            ("1.0RC", "1.0"),
            ("1.0", "1.0pl1"),
            ("1.0b1", "1.0b2"),
            ("1.0rc1", "1.0rc2"),
            ("1.0", "1.0.1"),
            ("1.0-foo", "1.0-dev"),
        ];
        for (a, b) in lt {
            assert_eq!(php_version_compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(php_version_compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(php_version_compare("1.0.0", "1.0.0"), Ordering::Equal);
        assert_eq!(php_version_compare("1.0-rc1", "1.0RC1"), Ordering::Equal);
    }

    #[test]
    fn composer_ordering() {
        assert_increasing(
            Scheme::Composer,
            &[
                "1.0.0-dev",
                "1.0.0-alpha1",
                "1.0.0-alpha2",
                "1.0.0-beta1",
                "1.0.0-RC1",
                "1.0.0",
                "1.0.0-p1",
                "1.0.1",
                "1.1",
                "v2.0.0",
            ],
        );
        assert_table(
            Scheme::Composer,
            &[
                ("1.25.0", ">", "1.24.0"),
                ("1.0", "=", "1.0.0"),
                ("v1.0.0", "=", "1.0.0.0"),
                ("5.4.31", "<", "5.4.32"),
                ("2.0.0-beta.2", ">", "2.0.0-beta.1"),
            ],
        );
        assert!(compare("dev-master", "1.0").is_err());
    }
}
