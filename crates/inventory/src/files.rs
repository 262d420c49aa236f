//! Reading manifests from files, directories and standard input.
//!
//! Accepted: multi-document YAML, JSON (one value, concatenated values or JSON lines), and
//! `List` objects such as `kubectl get -o json` prints (their items are expanded). Directories
//! are walked recursively for `*.yaml`, `*.yml` and `*.json`, in name order, without following
//! symbolic links to directories.

use std::fmt;
use std::io::Read;
use std::path::Path;

use palisade_model::Location;
use serde_json::Value;

use crate::object::{Inventory, Object, redact, resource_ref};
use crate::yaml::{StrictValue, is_blank, split_documents};

/// Limits applied while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Largest accepted file, in bytes. Bigger files are refused with an error, not read.
    pub max_file_bytes: u64,
    /// Largest accepted YAML document, in bytes.
    pub max_document_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_file_bytes: 512 << 20,
            max_document_bytes: 64 << 20,
        }
    }
}

/// A problem with one input document (or a whole file), located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// File, document index and line.
    pub location: Location,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for LoadError {}

/// What reading produced: the objects, and every error and warning on the way.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Everything that was read successfully.
    pub inventory: Inventory,
    /// Inputs that could not be read or parsed (these make `posture scan` exit with 2).
    pub errors: Vec<LoadError>,
    /// Documents that were skipped because they are not Kubernetes objects.
    pub warnings: Vec<LoadError>,
    /// Files read.
    pub files: usize,
    /// Documents parsed (List items count once, as their List).
    pub documents: usize,
}

impl LoadReport {
    /// Reads every path (file, directory, or `-` for stdin) into one report.
    pub fn load_paths<P: AsRef<Path>>(paths: &[P], opts: &LoadOptions) -> LoadReport {
        let mut report = LoadReport::default();
        for p in paths {
            report.load_path(p.as_ref(), opts);
        }
        report
    }

    /// Reads one path (file, directory, or `-` for stdin).
    pub fn load_path(&mut self, path: &Path, opts: &LoadOptions) {
        if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            let limit = opts.max_file_bytes;
            match std::io::stdin()
                .lock()
                .take(limit + 1)
                .read_to_end(&mut buf)
            {
                Ok(n) if n as u64 > limit => self.file_error(
                    "-",
                    format!("standard input is larger than the limit of {limit} bytes"),
                ),
                Ok(_) => self.load_bytes("-", &buf, opts),
                Err(e) => self.file_error("-", format!("cannot read standard input: {e}")),
            }
            return;
        }
        let meta = match fs_err::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.file_error(&path.display().to_string(), e.to_string()),
        };
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .follow_links(false)
                .sort_by_file_name();
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_manifest_name(e.path()) => {
                        self.load_file(e.path(), opts)
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let name = e.path().map_or_else(
                            || path.display().to_string(),
                            |p| p.display().to_string(),
                        );
                        self.file_error(&name, format!("cannot read directory entry: {e}"));
                    }
                }
            }
        } else {
            self.load_file(path, opts);
        }
    }

    fn load_file(&mut self, path: &Path, opts: &LoadOptions) {
        let name = path.display().to_string();
        match fs_err::metadata(path) {
            Ok(m) if m.len() > opts.max_file_bytes => {
                return self.file_error(
                    &name,
                    format!(
                        "file is {} bytes, larger than the limit of {} bytes",
                        m.len(),
                        opts.max_file_bytes
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => return self.file_error(&name, e.to_string()),
        }
        match fs_err::read(path) {
            Ok(bytes) => self.load_bytes(&name, &bytes, opts),
            Err(e) => self.file_error(&name, e.to_string()),
        }
    }

    fn file_error(&mut self, file: &str, message: String) {
        self.errors.push(LoadError {
            location: Location {
                file: file.to_owned(),
                document: 0,
                line: 0,
            },
            message,
        });
    }

    /// Reads manifests from memory; `name` is used in locations.
    pub fn load_bytes(&mut self, name: &str, bytes: &[u8], opts: &LoadOptions) {
        self.files += 1;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if matches!(first, Some(b'{' | b'[')) {
            self.load_json(name, bytes);
        } else {
            self.load_yaml(name, bytes, opts);
        }
    }

    fn load_json(&mut self, name: &str, bytes: &[u8]) {
        let stream = serde_json::Deserializer::from_slice(bytes).into_iter::<StrictValue>();
        for (document, item) in stream.enumerate() {
            match item {
                Ok(StrictValue(v)) => {
                    self.documents += 1;
                    self.add_value(v, name, document, 0);
                }
                Err(e) => {
                    self.errors.push(LoadError {
                        location: Location {
                            file: name.to_owned(),
                            document,
                            line: e.line(),
                        },
                        message: format!(
                            "invalid JSON at line {} column {}: {}",
                            e.line(),
                            e.column(),
                            strip_position(&e.to_string())
                        ),
                    });
                    // A JSON syntax error leaves no safe point to resume from.
                    return;
                }
            }
        }
    }

    fn load_yaml(&mut self, name: &str, bytes: &[u8], opts: &LoadOptions) {
        let mut document = 0usize;
        for chunk in split_documents(bytes) {
            if is_blank(chunk.text) {
                continue;
            }
            let loc = Location {
                file: name.to_owned(),
                document,
                line: chunk.line,
            };
            document += 1;
            self.documents += 1;
            if chunk.text.len() > opts.max_document_bytes {
                self.errors.push(LoadError {
                    location: loc,
                    message: format!(
                        "document is {} bytes, larger than the limit of {} bytes",
                        chunk.text.len(),
                        opts.max_document_bytes
                    ),
                });
                continue;
            }
            let text = match std::str::from_utf8(chunk.text) {
                Ok(t) => t,
                Err(e) => {
                    let bad_line = chunk.line
                        + chunk.text[..e.valid_up_to()]
                            .iter()
                            .filter(|&&b| b == b'\n')
                            .count();
                    self.errors.push(LoadError {
                        location: loc,
                        message: format!(
                            "invalid UTF-8 at line {bad_line} (byte offset {} in the document)",
                            e.valid_up_to()
                        ),
                    });
                    continue;
                }
            };
            if let Some(v) = crate::fastyaml::parse(text) {
                self.add_value(v, name, loc.document, loc.line);
                continue;
            }
            match serde_yaml_ng::from_str::<StrictValue>(text) {
                Ok(StrictValue(v)) => self.add_value(v, name, loc.document, loc.line),
                Err(e) => {
                    let message = match e.location() {
                        Some(l) => format!(
                            "invalid YAML at line {} column {}: {}",
                            chunk.line + l.line() - 1,
                            l.column(),
                            strip_position(&e.to_string())
                        ),
                        None => format!("invalid YAML: {e}"),
                    };
                    self.errors.push(LoadError {
                        location: loc,
                        message,
                    });
                }
            }
        }
    }

    fn add_value(&mut self, v: Value, file: &str, document: usize, line: usize) {
        let location = Location {
            file: file.to_owned(),
            document,
            line,
        };
        match v {
            Value::Null => {}
            Value::Object(_) => self.add_object(v, location),
            Value::Array(items) => {
                // A bare JSON array of objects: accept each object.
                for item in items {
                    self.add_object(item, location.clone());
                }
            }
            other => self.warnings.push(LoadError {
                location,
                message: format!(
                    "skipped: a {} is not a Kubernetes object",
                    type_name(&other)
                ),
            }),
        }
    }

    fn add_object(&mut self, mut v: Value, location: Location) {
        let is_list = v
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && v.get("items").is_some_and(Value::is_array);
        if is_list {
            let list_kind = v.get("kind").and_then(Value::as_str).unwrap_or("List");
            let item_kind = list_kind.strip_suffix("List").unwrap_or("").to_owned();
            let api_version = v
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if let Some(Value::Array(items)) = v.get_mut("items").map(Value::take) {
                for mut item in items {
                    // Typed lists (PodList, ...) from the API leave kind/apiVersion off the items.
                    if let Some(m) = item.as_object_mut() {
                        if !item_kind.is_empty() && !m.contains_key("kind") {
                            m.insert("kind".into(), Value::String(item_kind.clone()));
                        }
                        if !api_version.is_empty() && !m.contains_key("apiVersion") {
                            m.insert("apiVersion".into(), Value::String(api_version.clone()));
                        }
                    }
                    self.add_object(item, location.clone());
                }
            }
            return;
        }
        if !v.is_object() {
            self.warnings.push(LoadError {
                location,
                message: format!("skipped: a {} is not a Kubernetes object", type_name(&v)),
            });
            return;
        }
        match resource_ref(&v) {
            Some(resource) => {
                redact(&resource.kind, &mut v);
                self.inventory.objects.push(Object {
                    resource,
                    raw: v,
                    location,
                });
            }
            None => self.warnings.push(LoadError {
                location,
                message: "skipped: not a Kubernetes object (no apiVersion and kind)".into(),
            }),
        }
    }
}

fn is_manifest_name(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "mapping",
    }
}

/// Drops the " at line X column Y" positions parsers put in their messages: they are relative
/// to the document, and we print our own file-relative one.
fn strip_position(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &after[digits..];
        let skip = tail
            .strip_prefix(" column ")
            .map(|t| t.bytes().take_while(u8::is_ascii_digit).count() + " column ".len())
            .unwrap_or(0);
        if digits == 0 {
            out.push_str(" at line ");
            rest = after;
        } else {
            rest = &tail[skip..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> LoadReport {
        let mut r = LoadReport::default();
        r.load_bytes("in.yaml", text.as_bytes(), &LoadOptions::default());
        r
    }

    #[test]
    fn bad_document_is_located_and_the_rest_is_read() {
        let r = load(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: Pod\n  bad: [\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: x}\n",
        );
        assert_eq!(r.inventory.objects.len(), 2);
        assert_eq!(r.errors.len(), 1);
        let e = &r.errors[0];
        assert_eq!(e.location.document, 1);
        assert_eq!(e.location.line, 4);
        assert!(
            e.to_string()
                .starts_with("in.yaml: document 1 (line 4): invalid YAML at line 6"),
            "{e}"
        );
        assert_eq!(
            r.inventory.objects[1].resource.namespace.as_deref(),
            Some("x")
        );
        assert_eq!(r.inventory.objects[1].location.line, 7);
    }

    #[test]
    fn duplicated_key_is_an_error_with_line() {
        let r = load("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n");
        assert!(r.inventory.objects.is_empty());
        assert!(
            r.errors[0].message.contains("duplicated key \"name\""),
            "{}",
            r.errors[0]
        );
        assert!(r.errors[0].message.contains("line "), "{}", r.errors[0]);
    }

    #[test]
    fn kubectl_list_is_expanded_and_typed_lists_get_kinds() {
        let r = load(
            r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"p","namespace":"d"},"spec":{}}]}"#,
        );
        assert_eq!(r.inventory.objects.len(), 1);
        let o = &r.inventory.objects[0];
        assert_eq!(
            (o.resource.kind.as_str(), o.resource.api_version.as_str()),
            ("Pod", "v1")
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_line() {
        let mut r = LoadReport::default();
        r.load_bytes(
            "x.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\na: 1\nb: \xff\xfe\n",
            &LoadOptions::default(),
        );
        assert_eq!(r.inventory.objects.len(), 1);
        assert!(
            r.errors[0].message.contains("invalid UTF-8 at line 6"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn parser_positions_are_replaced_by_file_lines() {
        assert_eq!(
            strip_position(
                "did not find expected key at line 26 column 9, while parsing a block mapping at line 3 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_position("x at line y"), "x at line y");
    }

    #[test]
    fn non_objects_are_warnings_not_errors() {
        let r = load("just a string\n---\nfoo: bar\n");
        assert!(r.errors.is_empty());
        assert_eq!(r.warnings.len(), 2);
    }

    #[test]
    fn oversized_document_is_refused() {
        let mut r = LoadReport::default();
        let opts = LoadOptions {
            max_document_bytes: 10,
            ..LoadOptions::default()
        };
        r.load_bytes("big.yaml", b"apiVersion: v1\nkind: Pod\n", &opts);
        assert!(r.errors[0].message.contains("larger than the limit"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep_yaml = format!("a: {}1{}\n", "[".repeat(5_000), "]".repeat(5_000));
        let r = load(&deep_yaml);
        assert_eq!(r.errors.len(), 1);
        let mut r = LoadReport::default();
        let deep_json = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        r.load_bytes("deep.json", deep_json.as_bytes(), &LoadOptions::default());
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0].message.contains("recursion limit"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn binary_garbage_is_an_error() {
        let mut r = LoadReport::default();
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        r.load_bytes("junk.bin.yaml", &junk, &LoadOptions::default());
        assert!(r.inventory.objects.is_empty());
        assert!(!r.errors.is_empty());
        assert!(r.errors.iter().all(|e| e.location.file == "junk.bin.yaml"));
    }

    #[test]
    fn alias_bomb_is_an_error_not_a_hang() {
        let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for i in 0..9 {
            s.push_str(&format!(
                "{}: &{} [",
                (b'b' + i) as char,
                (b'b' + i) as char
            ));
            let prev = (b'a' + i) as char;
            s.push_str(&vec![format!("*{prev}"); 9].join(","));
            s.push_str("]\n");
        }
        let r = load(&s);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    }
}
