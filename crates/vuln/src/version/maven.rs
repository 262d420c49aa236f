//! Maven versions, ordered as `org.apache.maven.artifact.versioning.ComparableVersion`.
//!
//! A version is split at `.` and `-` and at every switch between digits and letters; a `-`
//! (or a digit/letter switch) opens a nested list. Numbers compare numerically; qualifiers
//! order `alpha` < `beta` < `milestone` < `rc` = `cr` < `snapshot` < `""` = `ga` = `final` =
//! `release` < `sp`, with unknown qualifiers after all of those, alphabetically; a single `a`,
//! `b` or `m` directly followed by a digit means alpha, beta, milestone. Trailing zeros and
//! release qualifiers are dropped ("normalised"), so `1`, `1.0`, `1-0` and `1-ga` are equal.
//! Comparison is case-insensitive.
//!
//! This follows Maven 3.8's implementation item for item (`IntItem`/`LongItem`/
//! `BigIntegerItem` collapse into one arbitrary-size number here) and is checked against the
//! ordering lists of Maven's `ComparableVersionTest`. Later Maven releases changed corner
//! cases, such as a qualifier written after a dot (`1.0.0.RC1`), which are not followed
//! here. No Rust crate implements it.

use std::cmp::Ordering;

use super::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros ("" is zero).
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// Index of the release qualifier `""` in [`QUALIFIERS`].
const RELEASE_INDEX: &str = "5";

fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        s
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_owned())
}

fn int_item(s: &str) -> Item {
    Item::Int(s.trim_start_matches('0').to_owned())
}

fn parse_item(is_digit: bool, s: &str) -> Item {
    if is_digit {
        int_item(s)
    } else {
        string_item(s, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(d) => d.is_empty(),
            Item::Str(s) => comparable_qualifier(s) == RELEASE_INDEX,
            Item::List(l) => l.is_empty(),
        }
    }

    /// `compareTo(null)`: against a missing item.
    fn cmp_null(&self) -> Ordering {
        match self {
            Item::Int(d) => {
                if d.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Str(s) => comparable_qualifier(s).as_str().cmp(RELEASE_INDEX),
            Item::List(l) => l
                .iter()
                .map(Item::cmp_null)
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
        }
    }

    fn cmp_item(&self, other: &Item) -> Ordering {
        match (self, other) {
            (Item::Int(a), Item::Int(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), _) => Ordering::Greater,
            (Item::Str(_), Item::Int(_)) => Ordering::Less,
            (Item::Str(a), Item::Str(b)) => comparable_qualifier(a).cmp(&comparable_qualifier(b)),
            (Item::Str(_), Item::List(_)) => Ordering::Less,
            (Item::List(_), Item::Int(_)) => Ordering::Less,
            (Item::List(_), Item::Str(_)) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => {
                let n = a.len().max(b.len());
                for i in 0..n {
                    let r = match (a.get(i), b.get(i)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(r)) => r.cmp_null().reverse(),
                        (Some(l), None) => l.cmp_null(),
                        (Some(l), Some(r)) => l.cmp_item(r),
                    };
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn normalize(list: &mut Vec<Item>) {
    for item in list.iter_mut() {
        if let Item::List(inner) = item {
            normalize(inner);
        }
    }
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Builds the item tree of a version; `path` tracks the list currently appended to.
fn parse(version: &str) -> Vec<Item> {
    let version = version.trim().to_lowercase();
    let chars: Vec<char> = version.chars().collect();
    // The tree is built as a stack of open lists; closing pops into the parent.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0usize;
    let sub = |a: usize, b: usize| -> String { chars[a..b].iter().collect() };
    let push = |stack: &mut Vec<Vec<Item>>, item: Item| {
        if let Some(top) = stack.last_mut() {
            top.push(item);
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        if c == '.' {
            let item = if i == start {
                Item::Int(String::new())
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            push(&mut stack, item);
            start = i + 1;
        } else if c == '-' {
            let item = if i == start {
                Item::Int(String::new())
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            push(&mut stack, item);
            start = i + 1;
            stack.push(Vec::new());
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut stack, string_item(&sub(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut stack, parse_item(true, &sub(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if chars.len() > start {
        push(&mut stack, parse_item(is_digit, &sub(start, chars.len())));
    }
    // Close the open lists, innermost first, each becoming the last item of its parent.
    while stack.len() > 1 {
        if let Some(inner) = stack.pop() {
            push(&mut stack, Item::List(inner));
        }
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    root
}

/// Orders two Maven versions. Every string is a Maven version, so this never fails; the
/// `Result` keeps the signature of the other schemes.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(Item::List(parse(a)).cmp_item(&Item::List(parse(b))))
}

/// The canonical form Maven prints for a version (`ComparableVersion.getCanonical()`).
pub fn canonical(version: &str) -> String {
    fn render(items: &[Item], out: &mut String) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(if matches!(item, Item::List(_)) {
                    '-'
                } else {
                    '.'
                });
            }
            match item {
                Item::Int(d) if d.is_empty() => out.push('0'),
                Item::Int(d) | Item::Str(d) => out.push_str(d),
                Item::List(l) => render(l, out),
            }
        }
    }
    let mut out = String::new();
    render(&parse(version), &mut out);
    out
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
    use crate::version::{Scheme, assert_increasing, assert_table};

    /// `ComparableVersionTest.VERSIONS_QUALIFIER`.
    #[test]
    fn versions_qualifier() {
        assert_increasing(
            Scheme::Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
    }

    /// `ComparableVersionTest.VERSIONS_NUMBER`.
    #[test]
    fn versions_number() {
        assert_increasing(
            Scheme::Maven,
            &[
                "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
                "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
    }

    /// `testVersionsEqual`, `testVersionComparing` and the MNG regression tests.
    #[test]
    fn comparable_version_test() {
        let eq = [
            ("1", "1"),
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.0-0"),
            ("1.0", "1.0-0"),
            ("1a", "1-a"),
            ("1a", "1.0-a"),
            ("1a", "1.0.0-a"),
            ("1.0a", "1-a"),
            ("1.0.0a", "1-a"),
            ("1x", "1-x"),
            ("1x", "1.0-x"),
            ("1x", "1.0.0-x"),
            ("1.0x", "1-x"),
            ("1.0.0x", "1-x"),
            ("1ga", "1"),
            ("1release", "1"),
            ("1final", "1"),
            ("1cr", "1rc"),
            ("1a1", "1-alpha-1"),
            ("1b2", "1-beta-2"),
            ("1m3", "1-milestone-3"),
            ("1X", "1x"),
            ("1A", "1a"),
            ("1B", "1b"),
            ("1M", "1m"),
            ("1Ga", "1"),
            ("1GA", "1"),
            ("1RELEASE", "1"),
            ("1release", "1"),
            ("1RELeaSE", "1"),
            ("1Final", "1"),
            ("1FinaL", "1"),
            ("1FINAL", "1"),
            ("1Cr", "1Rc"),
            ("1cR", "1rC"),
            ("1m3", "1Milestone3"),
            ("1m3", "1MileStone3"),
            ("1m3", "1MILESTONE3"),
        ];
        let mut table: Vec<(&str, &str, &str)> = eq.iter().map(|(a, b)| (*a, "=", *b)).collect();
        let lt = [
            ("1", "2"),
            ("1.5", "2"),
            ("1", "2.5"),
            ("1.0", "1.1"),
            ("1.1", "1.2"),
            ("1.0.0", "1.1"),
            ("1.0.1", "1.1"),
            ("1.1", "1.2.0"),
            ("1.0-alpha-1", "1.0"),
            ("1.0-alpha-1", "1.0-alpha-2"),
            ("1.0-alpha-1", "1.0-beta-1"),
            ("1.0-beta-1", "1.0-SNAPSHOT"),
            ("1.0-SNAPSHOT", "1.0"),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0.0", "1.0-1"),
            ("2.0-1", "2.0.1"),
            ("2.0.1-klm", "2.0.1-lmn"),
            ("2.0.1", "2.0.1-xyz"),
            ("2.0.1", "2.0.1-123"),
            ("2.0.1-xyz", "2.0.1-123"),
            // MNG-5568
            ("6.1.0rc3", "6.1.0"),
            ("6.1.0rc3", "6.1H.5-beta"),
            ("6.1.0", "6.1H.5-beta"),
            // MNG-6572
            ("20190126.230843", "1234567890.12345"),
            ("1234567890.12345", "123456789012345.1H.5-beta"),
            (
                "123456789012345.1H.5-beta",
                "12345678901234567890.1H.5-beta",
            ),
            // MNG-6964
            ("1-0.alpha", "1"),
            ("1-0.beta", "1"),
            ("1-0.alpha", "1-0.beta"),
        ];
        table.extend(lt.iter().map(|(a, b)| (*a, "<", *b)));
        assert_table(Scheme::Maven, &table);
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("1.0.0"), "1");
        assert_eq!(canonical("1-alpha-1"), "1-alpha-1");
        assert_eq!(canonical("1a1"), "1-alpha-1");
        assert_eq!(canonical("2.0.0.RELEASE"), "2");
    }
}
