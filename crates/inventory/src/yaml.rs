//! Strict decoding of YAML and JSON documents into `serde_json::Value`.
//!
//! `serde_json::Value`'s own `Deserialize` silently keeps the last of two equal keys and
//! refuses non-string keys. Kubernetes' decoder rejects duplicated fields, and a scanner that
//! silently picks one of two `privileged:` values would be a blind spot, so this module decodes
//! through [`StrictValue`], which fails on duplicated keys and stringifies scalar keys
//! (`1: x` becomes `"1": "x"`). It works for every serde format (YAML and JSON alike).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A `serde_json::Value` decoded with duplicate-key detection.
pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(StrictValue)
    }
}

struct ValueVisitor;

fn float(v: f64) -> Value {
    Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(v.to_string()))
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML or JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(k)) = map.next_key()? {
            let StrictValue(v) = map.next_value()?;
            if out.contains_key(&k) {
                return Err(de::Error::custom(format_args!("duplicated key {k:?}")));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // YAML tags (`!foo value`) arrive as enums: keep the value, drop the tag.
        let (tag, variant): (String, _) = data.variant()?;
        let StrictValue(v) = de::VariantAccess::newtype_variant(variant)?;
        let _ = tag;
        Ok(v)
    }
}

/// A mapping key: strings as they are, other scalars as their text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<String, E> {
                Ok(v.to_owned())
            }
            fn visit_string<E>(self, v: String) -> Result<String, E> {
                Ok(v)
            }
            fn visit_bool<E>(self, v: bool) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_f64<E>(self, v: f64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_unit<E>(self) -> Result<String, E> {
                Ok("null".to_owned())
            }
            fn visit_none<E>(self) -> Result<String, E> {
                Ok("null".to_owned())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
                Err(de::Error::custom("a sequence cannot be a mapping key"))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
                Err(de::Error::custom("a mapping cannot be a mapping key"))
            }
        }
        d.deserialize_any(KeyVisitor).map(Key)
    }
}

/// One YAML document cut out of a stream: its bytes and the 1-based line where it starts.
pub(crate) struct Chunk<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) line: usize,
}

/// Splits a YAML stream at `---` and `...` marker lines (column 0), without parsing.
///
/// Splitting before parsing means a syntax error in one document cannot hide the documents
/// after it. A `---` at column 0 can only be a document marker: block scalars at the top level
/// are always indented.
pub(crate) fn split_documents(input: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut pos = 0usize;
    let mut line = 1usize;
    while pos < input.len() {
        let end = memchr_nl(input, pos);
        let l = &input[pos..end];
        let is_start =
            l.starts_with(b"---") && l.get(3).is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r'));
        let is_end =
            l.starts_with(b"...") && l.get(3).is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r'));
        if is_start || is_end {
            if pos > start {
                out.push(Chunk {
                    text: &input[start..pos],
                    line: start_line,
                });
            }
            if is_start {
                // the marker line belongs to the new document (it may carry content: `--- x`)
                start = pos;
                start_line = line;
            } else {
                start = (end + 1).min(input.len());
                start_line = line + 1;
            }
        }
        pos = end + 1;
        line += 1;
    }
    if start < input.len() {
        out.push(Chunk {
            text: &input[start..],
            line: start_line,
        });
    }
    out
}

fn memchr_nl(input: &[u8], from: usize) -> usize {
    input[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(input.len(), |p| from + p)
}

/// Whether a chunk holds nothing but blank lines, comments and a bare `---`.
pub(crate) fn is_blank(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n').all(|l| {
        let t = l.trim_ascii();
        t.is_empty() || t.starts_with(b"#") || t == b"---"
    })
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn splits_at_markers_and_keeps_lines() {
        let s = b"a: 1\n---\nb: 2\n--- \nc: |\n  ---x\n...\nd: 4\n";
        let chunks: Vec<_> = split_documents(s)
            .iter()
            .map(|c| (std::str::from_utf8(c.text).unwrap().to_owned(), c.line))
            .collect();
        assert_eq!(
            chunks,
            vec![
                ("a: 1\n".to_owned(), 1),
                ("---\nb: 2\n".to_owned(), 2),
                ("--- \nc: |\n  ---x\n".to_owned(), 4),
                ("d: 4\n".to_owned(), 8),
            ]
        );
    }

    #[test]
    fn duplicated_keys_are_rejected_in_yaml_and_json() {
        let e = serde_yaml_ng::from_str::<StrictValue>("a: 1\nb:\n  c: 1\n  c: 2\n")
            .err()
            .unwrap();
        assert!(e.to_string().contains("duplicated key \"c\""), "{e}");
        let e = serde_json::from_str::<StrictValue>(r#"{"a":1,"a":2}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("duplicated key"), "{e}");
    }

    #[test]
    fn scalar_keys_become_strings() {
        let StrictValue(v) = serde_yaml_ng::from_str("1: x\ntrue: y\n").unwrap();
        assert_eq!(v, serde_json::json!({"1": "x", "true": "y"}));
    }
}
