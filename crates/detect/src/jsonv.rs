//! A JSON tree that borrows its strings from the input, for the parts of an audit event that
//! rules look into (`requestObject`, `responseObject`, annotations).
//!
//! `serde_json::Value` (with the workspace's `preserve_order`) allocates every key and string
//! and hashes every key into an index map; the objects of an audit event are small and read a
//! few times, so a vector of borrowed pairs is several times cheaper to build and as fast to
//! search. [`parse_pruned`] also skips an object's `metadata` and `status`, which no field
//! reads (`ka.*` fields read `spec`, `rules`, `subjects`, `roleRef` and `data`) and which
//! are often the larger part of an object (`metadata.managedFields`, a pod's status). [`member`] reads one member at a
//! path without building a tree for the rest; [`member_of_valid`] does so for text already
//! validated by a byte scan, since serde offers no way to skip a value without re-validating it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// A JSON value borrowing from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JVal<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<JVal<'a>>),
    /// Members in input order; with duplicate keys the last one counts, as in serde_json.
    Object(Vec<(Cow<'a, str>, JVal<'a>)>),
}

impl<'a> JVal<'a> {
    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&JVal<'a>> {
        match self {
            JVal::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            JVal::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            JVal::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, JVal::Null)
    }

    /// The object's keys, each once, in input order of their last occurrence.
    pub(crate) fn keys(&self) -> Vec<&str> {
        match self {
            JVal::Object(m) => m
                .iter()
                .enumerate()
                .filter(|(i, (k, _))| !m[i + 1..].iter().any(|(k2, _)| k2 == k))
                .map(|(_, (k, _))| k.as_ref())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Compact JSON with object keys sorted (and each key once).
    pub(crate) fn write_sorted(&self, out: &mut String) {
        match self {
            JVal::Null => out.push_str("null"),
            JVal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JVal::Number(n) => out.push_str(&n.to_string()),
            JVal::String(s) => write_str(s, out),
            JVal::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_sorted(out);
                }
                out.push(']');
            }
            JVal::Object(m) => {
                let mut keys = self.keys();
                keys.sort_unstable();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    if let Some((_, v)) = m.iter().rev().find(|(k2, _)| k2 == k) {
                        v.write_sorted(out);
                    }
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses JSON text into a [`JVal`].
pub(crate) fn parse(text: &str) -> Option<JVal<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = JVal::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// Parses a Kubernetes object, leaving out `metadata` and `status`.
pub(crate) fn parse_pruned(text: &str) -> Option<JVal<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = TopSeed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// A Kubernetes object deserialised in place inside a larger document, without
/// `metadata` and `status`; JSON `null` is none. Parsing it in the same pass as the
/// surrounding event saves the separate pass that skipping it as raw text would cost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pruned<'a>(pub(crate) Option<JVal<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Pruned<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: JVal<'a> = TopSeed.deserialize(d)?;
        Ok(Pruned((!v.is_null()).then_some(v)))
    }
}

/// The member at `path` (object keys) of a JSON document, parsed without building a tree for
/// anything else; none when the text is not JSON, the member is missing or `null`. With
/// duplicate keys the last one counts, as in [`parse`].
pub(crate) fn member<'a>(text: &'a str, path: &[&str]) -> Option<JVal<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = PathSeed { path }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    v.filter(|v| !v.is_null())
}

/// [`member`] of text already validated as JSON (a `RawValue`'s, which the event's parse
/// checked): objects are walked by a byte scan that steps over other members by their
/// brackets and quotes, without the deserialiser re-validating them (a pod's response object
/// is several kilobytes, its name a few bytes near the start). Keys with escapes go to
/// [`member`], which unescapes them. Malformed text gives none, never a wrong member.
pub(crate) fn member_of_valid<'a>(text: &'a str, path: &[&str]) -> Option<JVal<'a>> {
    let b = text.as_bytes();
    let (mut start, mut end) = (skip_ws(b, 0), b.len());
    for key in path {
        if b.get(start) != Some(&b'{') {
            return None;
        }
        let mut i = skip_ws(b, start + 1);
        let mut found = None;
        if b.get(i) != Some(&b'}') {
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let key_end = string_end(b, i)?;
                let k = b.get(i + 1..key_end - 1)?;
                if memchr::memchr(b'\\', k).is_some() {
                    return member(text, path);
                }
                i = skip_ws(b, key_end);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = skip_ws(b, i + 1);
                let value_end = value_end(b, i)?;
                // With duplicate keys the last one counts, as in `member`.
                if k == key.as_bytes() {
                    found = Some((i, value_end));
                }
                i = skip_ws(b, value_end);
                match b.get(i) {
                    Some(b',') => i = skip_ws(b, i + 1),
                    Some(b'}') => break,
                    _ => return None,
                }
            }
        }
        (start, end) = found?;
    }
    parse(text.get(start..end)?).filter(|v| !v.is_null())
}

/// The first byte at or after `i` that is not JSON whitespace.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (past the closing quote) of the string whose opening quote is at `i`.
pub(crate) fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b.get(k) == Some(&b'\\') {
            j = k + 2;
        } else {
            return Some(k + 1);
        }
    }
}

/// The end of the valid JSON value starting at `i` (for other text: some end, or none; the
/// caller validates what it keeps).
pub(crate) fn value_end(b: &[u8], i: usize) -> Option<usize> {
    value_end_within(b, i, usize::MAX)
}

/// [`value_end`], or none when arrays and objects nest deeper than `max_depth`.
pub(crate) fn value_end_within(b: &[u8], i: usize, max_depth: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > max_depth {
                            return None;
                        }
                    }
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while !matches!(
                b.get(j),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Walks `path` down objects, skipping every other member unparsed.
struct PathSeed<'p> {
    path: &'p [&'p str],
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_> {
    type Value = Option<JVal<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.path.split_first() {
            None => JVal::deserialize(d).map(Some),
            Some((first, rest)) => d.deserialize_any(PathVisitor { key: first, rest }),
        }
    }
}

struct PathVisitor<'p> {
    key: &'p str,
    rest: &'p [&'p str],
}

impl<'de> Visitor<'de> for PathVisitor<'_> {
    type Value = Option<JVal<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(Key(k)) = map.next_key()? {
            if k == self.key {
                found = map.next_value_seed(PathSeed { path: self.rest })?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl<'de> Deserialize<'de> for JVal<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

/// The top object, without its `metadata` and `status` members.
struct TopSeed;

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = JVal<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<JVal<'de>, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = JVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JVal<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(k)) = map.next_key()? {
            if k == "status" || k == "metadata" {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            }
            let v = map.next_value::<JVal<'de>>()?;
            out.push((k, v));
        }
        Ok(JVal::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<JVal<'de>, A::Error> {
        ValVisitor.visit_seq(seq)
    }

    fn visit_bool<E>(self, v: bool) -> Result<JVal<'de>, E> {
        Ok(JVal::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<JVal<'de>, E> {
        Ok(Number::from_f64(v).map_or(JVal::Null, JVal::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }

    fn visit_none<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }
}

/// A key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = JVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JVal<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(k)) = map.next_key()? {
            let v = map.next_value::<JVal<'de>>()?;
            out.push((k, v));
        }
        Ok(JVal::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JVal<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(v) = seq.next_element::<JVal<'de>>()? {
            out.push(v);
        }
        Ok(JVal::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<JVal<'de>, E> {
        Ok(JVal::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<JVal<'de>, E> {
        Ok(Number::from_f64(v).map_or(JVal::Null, JVal::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }

    fn visit_none<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Renders like serde_json's Value would, with keys sorted.
    fn via_serde(text: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let sorted: std::collections::BTreeMap<String, serde_json::Value> = match v {
            serde_json::Value::Object(m) => m.into_iter().collect(),
            _ => unreachable!(),
        };
        serde_json::to_string(&sorted).unwrap()
    }

    #[test]
    fn same_text_as_serde_json() {
        let text = r#"{"b":[1,-2,3.5,1e3,true,null,"x\"y\\z\n\u0001é"],"a":{"z":1,"y":{"k":"v"}},"a":{"q":2},"c":18446744073709551615}"#;
        let v = parse(text).unwrap();
        let mut out = String::new();
        v.write_sorted(&mut out);
        assert_eq!(out, via_serde(text));
        assert_eq!(
            out,
            r#"{"a":{"q":2},"b":[1,-2,3.5,1000.0,true,null,"x\"y\\z\n\u0001é"],"c":18446744073709551615}"#
        );
        assert_eq!(
            v.get("a").unwrap().get("q").unwrap(),
            &JVal::Number(2.into())
        );
        assert!(matches!(v.get("b").unwrap(), JVal::Array(a) if a.len() == 7));
        assert!(parse("{").is_none());
        assert!(parse("{} x").is_none());
    }

    #[test]
    fn pruning_drops_metadata_and_status_only() {
        let text = r#"{"kind":"Pod","metadata":{"name":"p","managedFields":[{"manager":"kubectl"}],"labels":{"a":"b"}},"spec":{"managedFields":1,"status":2,"metadata":3},"status":{"phase":"Running"}}"#;
        let v = parse_pruned(text).unwrap();
        assert!(v.get("metadata").is_none());
        assert_eq!(v.get("kind").unwrap().as_str(), Some("Pod"));
        assert!(v.get("spec").unwrap().get("managedFields").is_some());
        assert!(v.get("spec").unwrap().get("metadata").is_some());
        assert!(v.get("spec").unwrap().get("status").is_some());
        assert!(v.get("status").is_none());
        assert!(parse_pruned(r#"{"status":{"a":[1,{"b":2}]},"x":1} y"#).is_none());
    }

    #[test]
    fn members_at_a_path() {
        let text = r#"{"spec":{"a":[1,{"name":"no"}]},"metadata":{"labels":{"name":"no"},"name":"p\u0041"},"metadata":{"name":"last","x":null}}"#;
        assert_eq!(
            member(text, &["metadata", "name"]),
            Some(JVal::String("last".into()))
        );
        assert_eq!(member(text, &["metadata", "x"]), None);
        assert_eq!(member(text, &["metadata", "nope"]), None);
        assert_eq!(member(text, &["spec", "a", "name"]), None);
        assert_eq!(
            member(r#"{"metadata":{"name":"p\u0041"}}"#, &["metadata", "name"]),
            Some(JVal::String("pA".into()))
        );
        assert_eq!(
            member(
                r#"{"metadata":{"name":{"b":1,"a":[true]}}}"#,
                &["metadata", "name"]
            ),
            parse(r#"{"b":1,"a":[true]}"#)
        );
        assert_eq!(
            member(r#"{"metadata":{"name":"p"}"#, &["metadata", "name"]),
            None
        );
        assert_eq!(member("[1]", &["metadata"]), None);
    }

    #[test]
    fn members_of_valid_text_agree_with_the_deserialiser() {
        let texts = [
            r#"{"spec":{"a":[1,{"name":"no"}]},"metadata":{"labels":{"name":"no"},"name":"p\u0041"},"metadata":{"name":"last","x":null}}"#,
            r#"{"metadata":{"name":"p\u0041"}}"#,
            r#" { "metadata" : { "name" : { "b" : 1, "a" : [true, "]}\"{["] } } } "#,
            r#"{"kind":"Pod","metadata":{"uid":"u","name":"web-1","labels":{"a":"b"}},"spec":{}}"#,
            r#"{"m\u0065tadata":{"name":"escaped key"},"metadata":{"name":"plain"}}"#,
            r#"{"metadata":{"name":null}}"#,
            r#"{"metadata":{"name":-1.5e3}}"#,
            r#"{"metadata":[{"name":"x"}]}"#,
            r#"{"metadata":{}}"#,
            r#"{}"#,
            "[1]",
            r#""text""#,
        ];
        for text in texts {
            for path in [
                &["metadata", "name"][..],
                &["metadata"],
                &["spec", "a"],
                &["kind"],
            ] {
                assert_eq!(
                    member_of_valid(text, path),
                    member(text, path),
                    "{text} {path:?}"
                );
            }
        }
        assert_eq!(
            member_of_valid(texts[0], &["metadata", "name"]),
            Some(JVal::String("last".into()))
        );
        assert_eq!(
            member_of_valid(texts[4], &["metadata", "name"]),
            Some(JVal::String("plain".into()))
        );
        // Cut-off text (not what a `RawValue` holds) gives none rather than a guess.
        assert_eq!(
            member_of_valid(r#"{"metadata":{"name":"p""#, &["metadata", "name"]),
            None
        );
        assert_eq!(
            member_of_valid(r#"{"metadata":{"name":"#, &["metadata", "name"]),
            None
        );
    }
}
