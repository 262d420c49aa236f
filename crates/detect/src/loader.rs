//! Reading Falco rule files into a [`RuleSet`].
//!
//! Loading has Falco's two phases. Collection reads every file in order and applies each
//! item: `- list`, `- macro` and `- rule` definitions (a redefinition replaces the earlier one
//! in place), `append: true` and `override: {key: append|replace}` updates, `enabled`-only
//! toggles, `required_engine_version` and `required_plugin_versions`. Compilation then expands
//! lists (an item naming an earlier-defined list is replaced by its items), parses macros,
//! and compiles each rule's condition with its exceptions into a matcher tree against the
//! field registry of the rule's source, plus its output template.
//!
//! Only a file that is not YAML, or not a list of items, is an error. A problem with one item
//! (an unsupported field, an unknown source, an undefined macro, a bad condition, an update
//! of a rule that does not exist) is a [`Warning`]: the item is skipped (a rule is not loaded)
//! and loading goes on.
//!
//! Deliberately more lenient than Falco: a macro may use a macro defined after it, a rule
//! may omit `desc`, an update of a missing item is a warning rather than an error, and a rule
//! for an unknown source is kept aside (and warned about once) so later updates of it stay
//! quiet. Deprecation notices (`append: true`) and unused macro/list notices are not emitted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize as _;
use serde_yaml_ng::Value as Y;

use crate::field::{FieldRef, FieldRegistry};
use crate::k8saudit::k8s_audit_registry;
use crate::matcher::{self, CompileError, Env, OutputTemplate};
use crate::parser::{self, Expr, Op, Operand, Rhs, Value};
use crate::ruleset::{CompiledRule, Priority, Rule, RuleSet};
use crate::syscall::syscall_registry;

/// A rules file's name (for messages) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    /// How the file is named in warnings and errors (usually its path).
    pub name: String,
    /// The YAML text.
    pub content: String,
}

impl RulesFile {
    /// A rules file from text.
    pub fn new(name: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            content: content.into(),
        }
    }

    /// A rules file from bytes, which must be UTF-8.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Result<Self, LoadError> {
        let name = name.into();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Self::new(name, s)),
            Err(e) => Err(LoadError::Utf8 {
                file: name,
                message: e.to_string(),
            }),
        }
    }

    /// Reads a rules file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path.display().to_string(), &bytes)
    }
}

/// A rules file that cannot be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{file}: not UTF-8: {message}")]
    Utf8 {
        /// The file.
        file: String,
        /// Where the bad bytes are.
        message: String,
    },
    /// The file is not valid YAML.
    #[error("{file}{}: invalid YAML: {message}", position(*line, *column))]
    Yaml {
        /// The file.
        file: String,
        /// The line (1-based), when known.
        line: Option<usize>,
        /// The column (1-based), when known.
        column: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The YAML is not a list of rule items.
    #[error("{file}: rules content is not a YAML list of items (found {found})")]
    NotAList {
        /// The file.
        file: String,
        /// What the document is instead.
        found: &'static str,
    },
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// What kind of item a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemKind {
    /// A `- rule` item.
    Rule,
    /// A `- macro` item.
    Macro,
    /// A `- list` item.
    List,
    /// Any other item.
    Other,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::Other => "item",
        })
    }
}

/// What a warning is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The rule uses a field its source does not support; it is not loaded.
    UnsupportedField {
        /// The field as written.
        field: String,
    },
    /// The rule's source has no field registry; it is not loaded.
    UnknownSource {
        /// The source.
        source: String,
    },
    /// The rule uses a macro that is not defined; it is not loaded.
    UndefinedMacro {
        /// The macro name.
        name: String,
    },
    /// The condition (or an exception, or a macro it uses) is invalid; the rule is not loaded.
    InvalidCondition,
    /// The output template is invalid; the rule is not loaded.
    InvalidOutput,
    /// The item is malformed and was skipped.
    InvalidItem,
    /// An append/override/enable names a rule, macro or list that does not exist.
    MissingTarget,
    /// An item of unknown type was ignored.
    UnknownItem,
}

/// A non-fatal loading problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: String,
    /// The line of the item (1-based), when known.
    pub line: Option<usize>,
    /// The kind of item.
    pub item_kind: ItemKind,
    /// The item's name, when it has one.
    pub item: Option<String>,
    /// What is wrong.
    pub kind: WarningKind,
    /// A readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}: ", self.file, position(self.line, None))?;
        if let Some(name) = &self.item {
            write!(f, "{} '{name}': ", self.item_kind)?;
        }
        f.write_str(&self.message)
    }
}

/// Where an item came from.
#[derive(Debug, Clone)]
struct Origin {
    file: Arc<str>,
    line: Option<usize>,
}

#[derive(Debug, Clone)]
struct ListInfo {
    name: String,
    items: Vec<String>,
    index: usize,
    visibility: usize,
}

#[derive(Debug, Clone)]
struct MacroInfo {
    name: String,
    cond: String,
}

/// An exception entry: a scalar or a list of entries.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Item(String),
    List(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct ExceptionInfo {
    name: String,
    fields: Option<Entry>,
    comps: Option<Entry>,
    values: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct RuleInfo {
    name: String,
    cond: String,
    output: String,
    desc: String,
    priority: Priority,
    source: String,
    tags: Vec<String>,
    enabled: bool,
    exceptions: Vec<ExceptionInfo>,
    origin: Origin,
}

/// Loads rule files against a set of field registries.
#[derive(Debug, Clone)]
pub struct Loader {
    registries: Vec<FieldRegistry>,
}

impl Default for Loader {
    /// The built-in sources: `k8s_audit` and `syscall`.
    fn default() -> Self {
        Self {
            registries: vec![k8s_audit_registry().clone(), syscall_registry().clone()],
        }
    }
}

impl Loader {
    /// A loader with no source at all; add them with [`Loader::with_registry`].
    pub fn empty() -> Self {
        Self {
            registries: Vec::new(),
        }
    }

    /// Adds (or replaces) the registry of a source.
    pub fn with_registry(mut self, registry: FieldRegistry) -> Self {
        self.registries.retain(|r| r.source() != registry.source());
        self.registries.push(registry);
        self
    }

    /// Loads files in order (later files extend and override earlier ones).
    pub fn load(&self, files: &[RulesFile]) -> Result<(RuleSet, Vec<Warning>), LoadError> {
        let mut c = Collector::default();
        for f in files {
            c.read_file(f)?;
        }
        Ok(c.compile(&self.registries))
    }
}

impl RuleSet {
    /// Loads rule files with the built-in sources (see [`Loader`]).
    pub fn load(files: &[RulesFile]) -> Result<(RuleSet, Vec<Warning>), LoadError> {
        Loader::default().load(files)
    }

    /// Reads and loads rule files by path.
    pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<(RuleSet, Vec<Warning>), LoadError> {
        let files = paths
            .iter()
            .map(RulesFile::read)
            .collect::<Result<Vec<_>, _>>()?;
        Self::load(&files)
    }
}

#[derive(Default)]
struct Collector {
    lists: Vec<ListInfo>,
    list_idx: HashMap<String, usize>,
    macros: Vec<MacroInfo>,
    macro_idx: HashMap<String, usize>,
    rules: Vec<RuleInfo>,
    rule_idx: HashMap<String, usize>,
    seq: usize,
    warnings: Vec<Warning>,
}

fn kind_name(v: &Y) -> &'static str {
    match v {
        Y::Null => "null",
        Y::Bool(_) => "a boolean",
        Y::Number(_) => "a number",
        Y::String(_) => "a string",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a mapping",
        Y::Tagged(_) => "a tagged value",
    }
}

fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        Y::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

fn as_bool(v: &Y) -> Option<bool> {
    match v {
        Y::Bool(b) => Some(*b),
        Y::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Top-level item lines: `-` at column 0 (not `---`).
fn item_lines(content: &str) -> Vec<usize> {
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            l.starts_with('-') && !l.starts_with("---") && (l.len() == 1 || l[1..].starts_with(' '))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// A problem with one item, turned into a warning by the caller.
struct ItemError(WarningKind, String);

fn invalid(msg: impl Into<String>) -> ItemError {
    ItemError(WarningKind::InvalidItem, msg.into())
}

type ItemResult = Result<(), ItemError>;

fn decode_entry(v: &Y) -> Result<Entry, ItemError> {
    match v {
        Y::Sequence(s) => Ok(Entry::List(
            s.iter().map(decode_entry).collect::<Result<_, _>>()?,
        )),
        other => scalar(other)
            .map(Entry::Item)
            .ok_or_else(|| invalid(format!("exception entry is {}", kind_name(other)))),
    }
}

fn decode_exceptions(v: Option<&Y>) -> Result<Vec<ExceptionInfo>, ItemError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Y::Sequence(items) = v else {
        if matches!(v, Y::Null) {
            return Ok(Vec::new());
        }
        return Err(invalid("rule exceptions must be a sequence"));
    };
    let mut out: Vec<ExceptionInfo> = Vec::new();
    for ex in items {
        let Y::Mapping(_) = ex else {
            return Err(invalid("rule exception must be a mapping"));
        };
        let name = ex
            .get("name")
            .and_then(scalar)
            .ok_or_else(|| invalid("rule exception has no 'name'"))?;
        if out.iter().any(|e| e.name == name) {
            return Err(invalid(format!(
                "exception names in the same rule must be unique ('{name}')"
            )));
        }
        let fields = ex.get("fields").map(decode_entry).transpose()?;
        let comps = ex.get("comps").map(decode_entry).transpose()?;
        let values = match ex.get("values") {
            None | Some(Y::Null) => Vec::new(),
            Some(Y::Sequence(vals)) => vals.iter().map(decode_entry).collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("rule exception values must be a sequence")),
        };
        out.push(ExceptionInfo {
            name,
            fields,
            comps,
            values,
        });
    }
    Ok(out)
}

fn decode_tags(v: Option<&Y>) -> Result<Vec<String>, ItemError> {
    match v {
        None | Some(Y::Null) => Ok(Vec::new()),
        Some(Y::Sequence(s)) => s
            .iter()
            .map(|t| scalar(t).ok_or_else(|| invalid("tags must be scalars")))
            .collect(),
        Some(_) => Err(invalid("tags must be a sequence")),
    }
}

fn push_tags(tags: &mut Vec<String>, new: Vec<String>) {
    for t in new {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
}

const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

/// The `override:` mapping: keys to append and keys to replace.
fn decode_override(
    item: &Y,
    appendable: &[&str],
    replaceable: &[&str],
) -> Result<(Vec<String>, Vec<String>), ItemError> {
    let (mut append, mut replace) = (Vec::new(), Vec::new());
    let Some(ov) = item.get("override") else {
        return Ok((append, replace));
    };
    let Y::Mapping(m) = ov else {
        return Err(invalid("'override' must be a mapping"));
    };
    for (k, v) in m {
        let key = scalar(k).unwrap_or_default();
        match scalar(v).as_deref() {
            Some("append") if appendable.contains(&key.as_str()) => append.push(key),
            Some("append") => {
                return Err(invalid(format!(
                    "key '{key}' cannot be appended to, use 'replace' instead"
                )));
            }
            Some("replace") if replaceable.contains(&key.as_str()) => replace.push(key),
            Some("replace") => return Err(invalid(format!("key '{key}' cannot be replaced"))),
            other => {
                return Err(invalid(format!(
                    "invalid override operation for key '{key}': '{}'",
                    other.unwrap_or_default()
                )));
            }
        }
    }
    Ok((append, replace))
}

fn merge_exceptions(prev: &mut Vec<ExceptionInfo>, new: Vec<ExceptionInfo>) -> ItemResult {
    for ex in new {
        match prev.iter_mut().find(|p| p.name == ex.name) {
            Some(p) => {
                if ex.fields.is_some() || ex.comps.is_some() {
                    return Err(invalid(format!(
                        "exception '{}': can not append fields or comps to an existing exception, only values",
                        ex.name
                    )));
                }
                p.values.extend(ex.values);
            }
            None => {
                if ex.fields.is_none() {
                    return Err(invalid(format!(
                        "new exception '{}' must have a 'fields' property",
                        ex.name
                    )));
                }
                prev.push(ex);
            }
        }
    }
    Ok(())
}

impl Collector {
    fn warn(
        &mut self,
        origin: &Origin,
        item_kind: ItemKind,
        item: Option<&str>,
        kind: WarningKind,
        message: String,
    ) {
        self.warnings.push(Warning {
            file: origin.file.to_string(),
            line: origin.line,
            item_kind,
            item: item.map(str::to_string),
            kind,
            message,
        });
    }

    fn read_file(&mut self, f: &RulesFile) -> Result<(), LoadError> {
        let file: Arc<str> = Arc::from(f.name.as_str());
        let mut docs = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(&f.content) {
            let v = Y::deserialize(doc).map_err(|e| {
                let loc = e.location();
                LoadError::Yaml {
                    file: f.name.clone(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    message: e.to_string(),
                }
            })?;
            docs.push(v);
        }
        let lines = item_lines(&f.content);
        let single_doc = docs.len() == 1;
        for doc in docs {
            let items = match doc {
                Y::Null => continue,
                Y::Sequence(items) => items,
                other => {
                    return Err(LoadError::NotAList {
                        file: f.name.clone(),
                        found: kind_name(&other),
                    });
                }
            };
            let use_lines = single_doc && lines.len() == items.len();
            for (i, item) in items.iter().enumerate() {
                if matches!(item, Y::Null) {
                    continue;
                }
                let origin = Origin {
                    file: file.clone(),
                    line: if use_lines {
                        lines.get(i).copied()
                    } else {
                        None
                    },
                };
                self.read_item(&origin, item);
            }
        }
        Ok(())
    }

    fn read_item(&mut self, origin: &Origin, item: &Y) {
        let Y::Mapping(_) = item else {
            self.warn(
                origin,
                ItemKind::Other,
                None,
                WarningKind::InvalidItem,
                format!(
                    "unexpected element type ({}); each element should be a mapping",
                    kind_name(item)
                ),
            );
            return;
        };
        let (kind, name, res) = if item.get("required_engine_version").is_some() {
            let ok = item
                .get("required_engine_version")
                .and_then(scalar)
                .is_some();
            let res = if ok {
                Ok(())
            } else {
                Err(invalid(
                    "required_engine_version must be a number or a version",
                ))
            };
            (ItemKind::Other, None, res)
        } else if let Some(v) = item.get("required_plugin_versions") {
            let res = match v {
                Y::Sequence(s) if s.iter().all(|p| p.get("name").and_then(scalar).is_some()) => {
                    Ok(())
                }
                _ => Err(invalid(
                    "required_plugin_versions must be a sequence of {name, version} mappings",
                )),
            };
            (ItemKind::Other, None, res)
        } else if let Some(n) = item.get("list") {
            let name = scalar(n);
            let res = match &name {
                Some(name) => self.read_list(name, item),
                None => Err(invalid("list name must be a string")),
            };
            (ItemKind::List, name, res)
        } else if let Some(n) = item.get("macro") {
            let name = scalar(n);
            let res = match &name {
                Some(name) => self.read_macro(name, item),
                None => Err(invalid("macro name must be a string")),
            };
            (ItemKind::Macro, name, res)
        } else if let Some(n) = item.get("rule") {
            let name = scalar(n);
            let res = match &name {
                Some(name) => self.read_rule(name, item, origin),
                None => Err(invalid("rule name must be a string")),
            };
            (ItemKind::Rule, name, res)
        } else {
            (
                ItemKind::Other,
                None,
                Err(ItemError(
                    WarningKind::UnknownItem,
                    "unknown top level item".into(),
                )),
            )
        };
        if let Err(ItemError(wk, msg)) = res {
            self.warn(origin, kind, name.as_deref(), wk, msg);
        }
    }

    fn read_list(&mut self, name: &str, item: &Y) -> ItemResult {
        if name.is_empty()
            || name.bytes().any(|b| {
                matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || b.is_ascii_whitespace()
            })
        {
            return Err(invalid(format!("invalid list name '{name}'")));
        }
        let items = match item.get("items") {
            Some(Y::Sequence(s)) => s
                .iter()
                .map(|v| scalar(v).ok_or_else(|| invalid("list items must be scalars")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Y::Null) => Vec::new(),
            Some(_) => return Err(invalid("list items must be a sequence")),
            None => return Err(invalid("list has no 'items'")),
        };
        let append_flag = item.get("append").and_then(as_bool).unwrap_or(false);
        let (oa, or) = decode_override(item, &["items"], &["items"])?;
        if append_flag && !(oa.is_empty() && or.is_empty()) {
            return Err(invalid("'append' and 'override' cannot be used together"));
        }
        self.seq += 1;
        let seq = self.seq;
        if append_flag || !oa.is_empty() {
            let Some(&i) = self.list_idx.get(name) else {
                return Err(ItemError(
                    WarningKind::MissingTarget,
                    format!("list '{name}' is appended to but no list by that name exists"),
                ));
            };
            self.lists[i].items.extend(items);
            self.lists[i].visibility = seq;
            return Ok(());
        }
        match self.list_idx.get(name) {
            Some(&i) => {
                self.lists[i].items = items;
                self.lists[i].visibility = seq;
            }
            None => {
                self.list_idx.insert(name.to_string(), self.lists.len());
                self.lists.push(ListInfo {
                    name: name.to_string(),
                    items,
                    index: seq,
                    visibility: seq,
                });
            }
        }
        Ok(())
    }

    fn read_macro(&mut self, name: &str, item: &Y) -> ItemResult {
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(invalid(format!("invalid macro name '{name}'")));
        }
        let cond = item
            .get("condition")
            .and_then(scalar)
            .ok_or_else(|| invalid("macro has no 'condition'"))?;
        let append_flag = item.get("append").and_then(as_bool).unwrap_or(false);
        let (oa, or) = decode_override(item, &["condition"], &["condition"])?;
        if append_flag && !(oa.is_empty() && or.is_empty()) {
            return Err(invalid("'append' and 'override' cannot be used together"));
        }
        self.seq += 1;
        if append_flag || !oa.is_empty() {
            let Some(&i) = self.macro_idx.get(name) else {
                return Err(ItemError(
                    WarningKind::MissingTarget,
                    format!("macro '{name}' is appended to but no macro by that name exists"),
                ));
            };
            let m = &mut self.macros[i];
            m.cond.push(' ');
            m.cond.push_str(&cond);
            return Ok(());
        }
        match self.macro_idx.get(name) {
            Some(&i) => self.macros[i].cond = cond,
            None => {
                self.macro_idx.insert(name.to_string(), self.macros.len());
                self.macros.push(MacroInfo {
                    name: name.to_string(),
                    cond,
                });
            }
        }
        Ok(())
    }

    fn existing_rule(&mut self, name: &str, what: &str) -> Result<&mut RuleInfo, ItemError> {
        match self.rule_idx.get(name) {
            Some(&i) => Ok(&mut self.rules[i]),
            None => Err(ItemError(
                WarningKind::MissingTarget,
                format!("rule '{name}' has {what} but no rule by that name exists"),
            )),
        }
    }

    fn read_rule(&mut self, name: &str, item: &Y, origin: &Origin) -> ItemResult {
        let append_flag = item.get("append").and_then(as_bool).unwrap_or(false);
        let (oa, or) = decode_override(item, RULE_APPENDABLE, RULE_REPLACEABLE)?;
        if append_flag && !(oa.is_empty() && or.is_empty()) {
            return Err(invalid("'append' and 'override' cannot be used together"));
        }
        self.seq += 1;
        let text = |key: &str| -> Result<String, ItemError> {
            item.get(key)
                .and_then(scalar)
                .ok_or_else(|| invalid(format!("'{key}' must be a non-empty scalar")))
        };
        if !oa.is_empty() || !or.is_empty() {
            // Every overridable key present must be listed under `override`, and vice versa.
            let mut expected: HashSet<&str> = RULE_APPENDABLE
                .iter()
                .chain(RULE_REPLACEABLE)
                .copied()
                .filter(|k| item.get(*k).is_some())
                .collect();
            for (keys, kind) in [(&oa, "append"), (&or, "replace")] {
                for k in keys {
                    if !expected.remove(k.as_str()) {
                        return Err(invalid(format!(
                            "an {kind} override for '{k}' was specified but '{k}' is not defined"
                        )));
                    }
                }
            }
            if let Some(k) = expected.iter().next() {
                return Err(invalid(format!(
                    "unexpected key '{k}': no corresponding entry under 'override' is defined"
                )));
            }
            let has = |keys: &Vec<String>, k: &str| keys.iter().any(|x| x == k);
            // Decode everything before touching the rule, so a bad item changes nothing.
            let cond = if has(&oa, "condition") || has(&or, "condition") {
                Some(text("condition")?)
            } else {
                None
            };
            let output = if has(&oa, "output") || has(&or, "output") {
                Some(text("output")?.trim().to_string())
            } else {
                None
            };
            let desc = if has(&oa, "desc") || has(&or, "desc") {
                Some(text("desc")?)
            } else {
                None
            };
            let tags = decode_tags(item.get("tags"))?;
            let exceptions = decode_exceptions(item.get("exceptions"))?;
            let priority = if has(&or, "priority") {
                let p = text("priority")?;
                Some(
                    Priority::parse(&p)
                        .ok_or_else(|| invalid(format!("invalid priority '{p}'")))?,
                )
            } else {
                None
            };
            let enabled = if has(&or, "enabled") {
                Some(
                    item.get("enabled")
                        .and_then(as_bool)
                        .ok_or_else(|| invalid("'enabled' must be a boolean"))?,
                )
            } else {
                None
            };
            let r = self.existing_rule(name, "an 'override' key")?;
            let append_text = |dst: &mut String, s: String| {
                dst.push(' ');
                dst.push_str(&s);
            };
            if let Some(c) = cond {
                if has(&oa, "condition") {
                    append_text(&mut r.cond, c);
                } else {
                    r.cond = c;
                }
            }
            if let Some(o) = output {
                if has(&oa, "output") {
                    append_text(&mut r.output, o);
                } else {
                    r.output = o;
                }
            }
            if let Some(d) = desc {
                if has(&oa, "desc") {
                    append_text(&mut r.desc, d);
                } else {
                    r.desc = d;
                }
            }
            if has(&oa, "tags") {
                push_tags(&mut r.tags, tags);
            } else if has(&or, "tags") {
                r.tags = tags;
            }
            if has(&oa, "exceptions") {
                let mut merged = r.exceptions.clone();
                merge_exceptions(&mut merged, exceptions)?;
                r.exceptions = merged;
            } else if has(&or, "exceptions") {
                r.exceptions = exceptions;
            }
            if let Some(p) = priority {
                r.priority = p;
            }
            if let Some(e) = enabled {
                r.enabled = e;
            }
            return Ok(());
        }
        if append_flag {
            let cond = match item.get("condition") {
                Some(_) => Some(text("condition")?),
                None => None,
            };
            let exceptions = decode_exceptions(item.get("exceptions"))?;
            let r = self.existing_rule(name, "'append: true'")?;
            if let Some(c) = cond {
                r.cond.push(' ');
                r.cond.push_str(&c);
            }
            let mut merged = r.exceptions.clone();
            merge_exceptions(&mut merged, exceptions)?;
            r.exceptions = merged;
            return Ok(());
        }
        let defines = ["condition", "output", "desc", "priority"]
            .iter()
            .any(|k| item.get(*k).is_some());
        if !defines {
            let enabled = item.get("enabled").and_then(as_bool).ok_or_else(|| {
                invalid("rule has no condition, output, desc or priority, and no boolean 'enabled'")
            })?;
            self.existing_rule(name, "an 'enabled' key")?.enabled = enabled;
            return Ok(());
        }
        let cond = text("condition")?;
        let output = text("output")?.trim().to_string();
        let p = text("priority")?;
        let priority =
            Priority::parse(&p).ok_or_else(|| invalid(format!("invalid priority '{p}'")))?;
        let desc = item.get("desc").and_then(scalar).unwrap_or_default();
        let source = item
            .get("source")
            .and_then(scalar)
            .unwrap_or_else(|| "syscall".to_string());
        let enabled = match item.get("enabled") {
            Some(v) => as_bool(v).ok_or_else(|| invalid("'enabled' must be a boolean"))?,
            None => true,
        };
        let tags = decode_tags(item.get("tags"))?;
        let exceptions = decode_exceptions(item.get("exceptions"))?;
        for ex in &exceptions {
            if ex.fields.is_none() {
                return Err(invalid(format!(
                    "exception '{}' must have a 'fields' property",
                    ex.name
                )));
            }
        }
        let info = RuleInfo {
            name: name.to_string(),
            cond,
            output,
            desc,
            priority,
            source,
            tags,
            enabled,
            exceptions,
            origin: origin.clone(),
        };
        match self.rule_idx.get(name) {
            Some(&i) => self.rules[i] = info,
            None => {
                self.rule_idx.insert(name.to_string(), self.rules.len());
                self.rules.push(info);
            }
        }
        Ok(())
    }

    /// Expands list references (to lists defined before the referring list was last
    /// defined or extended) and strips quotes Falco would parse away.
    fn expand_lists(&self) -> HashMap<String, Vec<String>> {
        fn expand(
            c: &Collector,
            i: usize,
            out: &mut HashMap<String, Vec<String>>,
            visiting: &mut Vec<usize>,
        ) -> Vec<String> {
            let l = &c.lists[i];
            if let Some(v) = out.get(&l.name) {
                return v.clone();
            }
            visiting.push(i);
            let mut items = Vec::with_capacity(l.items.len());
            for it in &l.items {
                match c.list_idx.get(it) {
                    Some(&j) if !visiting.contains(&j) && c.lists[j].index < l.visibility => {
                        items.extend(expand(c, j, out, visiting));
                    }
                    _ => items.push(unquote(it)),
                }
            }
            visiting.pop();
            out.insert(l.name.clone(), items.clone());
            items
        }
        let mut out = HashMap::new();
        for i in 0..self.lists.len() {
            expand(self, i, &mut out, &mut Vec::new());
        }
        out
    }

    fn compile(mut self, registries: &[FieldRegistry]) -> (RuleSet, Vec<Warning>) {
        let lists = self.expand_lists();
        let macros: HashMap<String, Result<Expr, String>> = self
            .macros
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    parser::parse(&m.cond).map_err(|e| e.to_string()),
                )
            })
            .collect();
        let mut compiled = Vec::new();
        let rules = std::mem::take(&mut self.rules);
        for r in rules {
            let Some(registry) = registries.iter().find(|g| g.source() == r.source) else {
                self.warn(
                    &r.origin,
                    ItemKind::Rule,
                    Some(&r.name),
                    WarningKind::UnknownSource {
                        source: r.source.clone(),
                    },
                    format!("unknown source '{}', rule skipped", r.source),
                );
                continue;
            };
            let env = Env {
                registry,
                lists: &lists,
                macros: &macros,
            };
            match compile_rule(&env, &r) {
                Ok(c) => compiled.push(c),
                Err((kind, msg)) => {
                    self.warn(&r.origin, ItemKind::Rule, Some(&r.name), kind, msg);
                }
            }
        }
        let index_fields: HashMap<String, Vec<FieldRef>> = registries
            .iter()
            .map(|g| {
                let refs = g
                    .index_fields()
                    .iter()
                    .filter_map(|n| g.resolve(n, None).ok())
                    .collect();
                (g.source().to_string(), refs)
            })
            .collect();
        (RuleSet::new(compiled, index_fields), self.warnings)
    }
}

/// Strips one level of matching quotes around a list item, unescaping as the condition
/// parser would.
fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')))
        && let Ok(Expr::Check {
            rhs: Rhs::Value(v), ..
        }) = parser::parse(&format!("x.y = {t}"))
    {
        return v.text;
    }
    s.to_string()
}

fn compile_error(e: CompileError, what: &str) -> (WarningKind, String) {
    match e {
        CompileError::UnsupportedField { field, message } => (
            WarningKind::UnsupportedField {
                field: field.clone(),
            },
            format!("{message} (in the {what}); rule not loaded"),
        ),
        CompileError::UndefinedMacro(name) => (
            WarningKind::UndefinedMacro { name: name.clone() },
            format!("undefined macro '{name}' used in the {what}; rule not loaded"),
        ),
        CompileError::Invalid(msg) => {
            let kind = if what == "output" {
                WarningKind::InvalidOutput
            } else {
                WarningKind::InvalidCondition
            };
            (kind, format!("invalid {what}: {msg}; rule not loaded"))
        }
    }
}

fn compile_rule(env: &Env<'_>, r: &RuleInfo) -> Result<CompiledRule, (WarningKind, String)> {
    let cond = parser::parse(&r.cond).map_err(|e| {
        (
            WarningKind::InvalidCondition,
            format!("invalid condition: {e}; rule not loaded"),
        )
    })?;
    let mut parts = vec![cond];
    for ex in &r.exceptions {
        match exception_expr(ex) {
            Ok(Some(e)) => parts.push(Expr::Not(Box::new(e))),
            Ok(None) => {}
            Err(msg) => {
                return Err((
                    WarningKind::InvalidCondition,
                    format!("exception '{}': {msg}; rule not loaded", ex.name),
                ));
            }
        }
    }
    let expr = if parts.len() == 1 {
        parts.remove(0)
    } else {
        Expr::And(parts)
    };
    let node = matcher::compile(env, &expr).map_err(|e| compile_error(e, "condition"))?;
    let output =
        OutputTemplate::compile(env.registry, &r.output).map_err(|e| compile_error(e, "output"))?;
    Ok(CompiledRule {
        rule: Rule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            source: r.source.clone(),
            tags: r.tags.clone(),
            enabled: r.enabled,
            file: r.origin.file.to_string(),
        },
        node,
        output,
    })
}

fn entry_item(e: &Entry) -> Result<&str, String> {
    match e {
        Entry::Item(s) => Ok(s),
        Entry::List(_) => Err("expected a string, found a list".into()),
    }
}

fn field_operand(s: &str) -> Result<Operand, String> {
    parser::parse_field(s)
        .map(Operand::Field)
        .map_err(|e| format!("field '{s}': {e}"))
}

fn comp_op(s: &str) -> Result<Op, String> {
    Op::parse(s.trim()).ok_or_else(|| format!("'{s}' is not a supported comparison operator"))
}

/// Builds the condition an exception excludes (`None` when it has no values), as Falco's
/// `build_rule_exception_infos` does textually.
fn exception_expr(ex: &ExceptionInfo) -> Result<Option<Expr>, String> {
    let Some(fields) = &ex.fields else {
        return Err("no 'fields' property".into());
    };
    match fields {
        Entry::Item(field) => {
            let comp = match &ex.comps {
                None => "in",
                Some(Entry::Item(c)) => c.as_str(),
                Some(Entry::List(_)) => return Err("fields and comps must both be strings".into()),
            };
            let op = comp_op(comp)?;
            if ex.values.is_empty() {
                return Ok(None);
            }
            let mut values = Vec::with_capacity(ex.values.len());
            for v in &ex.values {
                let s = entry_item(v)
                    .map_err(|_| "expected the values array to contain a list of strings")?;
                values.push(Value::bare(s));
            }
            if !op.is_list_op() {
                return Err(format!(
                    "comparison operator '{op}' cannot take the list of values of a single-field exception"
                ));
            }
            Ok(Some(Expr::Check {
                lhs: field_operand(field)?,
                op,
                rhs: Rhs::List(values),
            }))
        }
        Entry::List(fields) => {
            let fields: Vec<&str> = fields.iter().map(entry_item).collect::<Result<_, _>>()?;
            let comps: Vec<Op> = match &ex.comps {
                None => vec![Op::Eq; fields.len()],
                Some(Entry::List(c)) => c
                    .iter()
                    .map(|c| entry_item(c).and_then(comp_op))
                    .collect::<Result<_, _>>()?,
                Some(Entry::Item(_)) => return Err("fields and comps must both be lists".into()),
            };
            if comps.len() != fields.len() {
                return Err("fields and comps lists must have equal length".into());
            }
            let mut alternatives = Vec::new();
            for row in &ex.values {
                let Entry::List(row) = row else {
                    return Err("each value must be a list as long as 'fields'".into());
                };
                if row.len() != fields.len() {
                    return Err("fields and values lists must have equal length".into());
                }
                let mut checks = Vec::with_capacity(fields.len());
                for ((f, op), v) in fields.iter().zip(&comps).zip(row) {
                    let rhs = match v {
                        Entry::List(items) => Rhs::List(
                            items
                                .iter()
                                .map(|i| entry_item(i).map(Value::bare))
                                .collect::<Result<_, _>>()?,
                        ),
                        Entry::Item(s) if op.is_list_op() => Rhs::List(vec![Value::bare(s)]),
                        Entry::Item(s) => Rhs::Value(Value {
                            text: s.clone(),
                            quoted: true,
                        }),
                    };
                    if matches!(rhs, Rhs::List(_)) && !op.is_list_op() {
                        return Err(format!("comparison operator '{op}' cannot take a list"));
                    }
                    checks.push(Expr::Check {
                        lhs: field_operand(f)?,
                        op: *op,
                        rhs,
                    });
                }
                alternatives.push(if checks.len() == 1 {
                    checks.remove(0)
                } else {
                    Expr::And(checks)
                });
            }
            Ok(match alternatives.len() {
                0 => None,
                1 => alternatives.pop(),
                _ => Some(Expr::Or(alternatives)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_lines_skip_document_markers() {
        assert_eq!(item_lines("---\n- a: 1\n  b: 2\n-   c: 3\n"), vec![2, 4]);
    }

    #[test]
    fn unquotes_list_items() {
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("'x'"), "x");
    }
}
