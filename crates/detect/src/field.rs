//! Fields: what a rule condition or output can read from an event.
//!
//! Every event source (`k8s_audit`, `syscall`, ...) has a [`FieldRegistry`] that lists the
//! fields it supports. A field name written in a rule (`ka.user.name`, `proc.aname[2]`,
//! `jevt.value[/stage]`, `evt.arg.flags`) is resolved against the registry once, when the rule
//! is compiled, into a [`FieldRef`]: a numeric id plus a pre-parsed argument. Evaluating an
//! event then hands the `FieldRef` to [`Event::field`], which dispatches on the id; no field
//! name is looked up or parsed per event.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// The value type of a field, as rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// Text. Comparisons are byte-wise; `<`, `>` compare numerically when both sides are
    /// numbers and lexically otherwise.
    Str,
    /// A signed integer (timestamps in nanoseconds, ids, counts).
    Num,
    /// A boolean.
    Bool,
    /// An IP address (Falco's `IPADDR`/`IPNET` semantics): compared with `=`, `!=`, `in` or
    /// `intersects` against addresses or CIDR networks (`10.0.0.0/8`, `2001:db8::/32`), a
    /// value matches a network when the address lies in it (a plain address is a network of
    /// one). The networks are parsed when the rule is compiled; a value that is not an
    /// address or network is an error then. Event values that are not addresses match
    /// nothing.
    IpAddr,
}

/// What argument a field accepts in brackets (`field[arg]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgKind {
    /// No argument.
    None,
    /// A non-negative index (`ka.req.pod.containers.image[0]`, `proc.aname[2]`).
    Index,
    /// A free-form key (`ka.uri.param[command]`, `evt.arg[flags]`).
    Key,
    /// An RFC 6901 JSON pointer (`jevt.value[/requestObject/spec]`).
    JsonPointer,
}

/// One field of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// The name as written in rules.
    pub name: Cow<'static, str>,
    /// The value type.
    pub ty: FieldType,
    /// Whether the field extracts a list of values.
    pub list: bool,
    /// The argument the field accepts.
    pub arg: ArgKind,
    /// Whether the argument is mandatory.
    pub arg_required: bool,
    /// Whether the argument may also be written after a dot (`evt.arg.flags` for
    /// `evt.arg[flags]`).
    pub dot_arg: bool,
    /// A one-line description.
    pub desc: Cow<'static, str>,
}

impl FieldDef {
    /// A field with no argument.
    pub fn new(name: impl Into<Cow<'static, str>>, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
            list: false,
            arg: ArgKind::None,
            arg_required: false,
            dot_arg: false,
            desc: Cow::Borrowed(""),
        }
    }

    /// Marks the field as extracting a list of values.
    pub fn list(mut self) -> Self {
        self.list = true;
        self
    }

    /// Sets the accepted argument.
    pub fn arg(mut self, kind: ArgKind, required: bool) -> Self {
        self.arg = kind;
        self.arg_required = required;
        self
    }

    /// Allows the argument to be written after a dot.
    pub fn dot_arg(mut self) -> Self {
        self.dot_arg = true;
        self
    }

    /// Sets the description.
    pub fn desc(mut self, desc: impl Into<Cow<'static, str>>) -> Self {
        self.desc = desc.into();
        self
    }
}

/// A field argument, parsed once at compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldArg {
    /// No argument.
    None,
    /// An index.
    Index(usize),
    /// A key.
    Key(Box<str>),
    /// A JSON pointer, split into unescaped reference tokens.
    Pointer(Box<[Box<str>]>),
}

/// A field resolved against a [`FieldRegistry`]: what [`Event::field`] receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    id: u16,
    arg: FieldArg,
}

impl FieldRef {
    /// Builds a reference by hand (event implementations and tests); rules get theirs from
    /// [`FieldRegistry::resolve`].
    pub fn new(id: u16, arg: FieldArg) -> Self {
        Self { id, arg }
    }

    /// The position of the field in its registry.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The argument.
    pub fn arg(&self) -> &FieldArg {
        &self.arg
    }
}

/// Why a field name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The source has no such field.
    #[error("field '{field}' is not supported by source '{source_name}'")]
    Unknown {
        /// The field as written.
        field: String,
        /// The source.
        source_name: String,
    },
    /// The argument is missing, not allowed or malformed.
    #[error("field '{field}': {message}")]
    BadArg {
        /// The field as written.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The fields one event source supports.
#[derive(Debug, Clone)]
pub struct FieldRegistry {
    source: String,
    fields: Vec<FieldDef>,
    by_name: HashMap<String, u16>,
    index_fields: Vec<String>,
}

impl FieldRegistry {
    /// A registry for `source`. Field ids are positions in `fields`.
    ///
    /// Fields past `u16::MAX` are ignored.
    pub fn new(source: impl Into<String>, mut fields: Vec<FieldDef>) -> Self {
        fields.truncate(usize::from(u16::MAX));
        let mut by_name = HashMap::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let id = u16::try_from(i).unwrap_or(u16::MAX);
            by_name.entry(f.name.to_string()).or_insert(id);
        }
        Self {
            source: source.into(),
            fields,
            by_name,
            index_fields: Vec::new(),
        }
    }

    /// Names the fields (most selective first, at most three are used) whose equality
    /// constraints index the rules of this source, so an event is only tested against the
    /// rules that can match its value of these fields. List fields and fields taking an
    /// argument are ignored.
    pub fn with_index_fields<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.index_fields = names
            .into_iter()
            .map(Into::into)
            .filter(|n| {
                self.get(n)
                    .is_some_and(|d| !d.list && d.arg == ArgKind::None)
            })
            .collect();
        self
    }

    /// The source name (`k8s_audit`, `syscall`, ...).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// All fields, in id order.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// The definition behind a reference.
    pub fn def(&self, field: &FieldRef) -> Option<&FieldDef> {
        self.fields.get(usize::from(field.id))
    }

    /// The definition of a field by exact name.
    pub fn get(&self, name: &str) -> Option<&FieldDef> {
        self.by_name
            .get(name)
            .and_then(|&id| self.fields.get(usize::from(id)))
    }

    /// The index fields (see [`FieldRegistry::with_index_fields`]).
    pub fn index_fields(&self) -> &[String] {
        &self.index_fields
    }

    /// Resolves a field as written in a condition: `name` without brackets (a dotted
    /// argument such as `evt.arg.flags` included), `arg` the text inside brackets.
    pub fn resolve(&self, name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
        if let Some(&id) = self.by_name.get(name) {
            return self.with_arg(id, name, arg);
        }
        // `evt.arg.flags` style: the longest dotted-argument field that prefixes the name.
        let mut best: Option<(u16, usize)> = None;
        for (i, f) in self.fields.iter().enumerate() {
            if !f.dot_arg {
                continue;
            }
            let n = f.name.len();
            if name.len() > n + 1
                && name.starts_with(f.name.as_ref())
                && name.as_bytes()[n] == b'.'
                && best.is_none_or(|(_, len)| n > len)
            {
                best = Some((u16::try_from(i).unwrap_or(u16::MAX), n));
            }
        }
        match (best, arg) {
            (Some((id, n)), None) => self.with_arg(id, name, Some(&name[n + 1..])),
            _ => Err(FieldError::Unknown {
                field: display_name(name, arg),
                source_name: self.source.clone(),
            }),
        }
    }

    /// Resolves the field that starts `text` (an output template after `%`): the longest
    /// registered name prefixing it, then a bracketed or dotted argument. Returns the
    /// reference, the field as written and how many bytes of `text` it spans; `None` when no
    /// field name prefixes `text`.
    pub fn resolve_prefix<'t>(
        &self,
        text: &'t str,
    ) -> Option<Result<(FieldRef, &'t str, usize), FieldError>> {
        let mut best: Option<(u16, usize)> = None;
        for (i, f) in self.fields.iter().enumerate() {
            let n = f.name.len();
            if text.starts_with(f.name.as_ref()) && best.is_none_or(|(_, len)| n > len) {
                best = Some((u16::try_from(i).unwrap_or(u16::MAX), n));
            }
        }
        let (id, n) = best?;
        let def = &self.fields[usize::from(id)];
        let rest = &text[n..];
        if def.arg != ArgKind::None && rest.starts_with('[') {
            let Some(close) = rest.find(']') else {
                return Some(Err(FieldError::BadArg {
                    field: text[..n].to_string(),
                    message: "missing ']'".into(),
                }));
            };
            let arg = &rest[1..close];
            let end = n + close + 1;
            return Some(
                self.with_arg(id, &text[..n], Some(arg))
                    .map(|r| (r, &text[..end], end)),
            );
        }
        if def.dot_arg && rest.starts_with('.') {
            let len = rest[1..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len > 0 {
                let end = n + 1 + len;
                return Some(
                    self.with_arg(id, &text[..n], Some(&rest[1..=len]))
                        .map(|r| (r, &text[..end], end)),
                );
            }
        }
        Some(
            self.with_arg(id, &text[..n], None)
                .map(|r| (r, &text[..n], n)),
        )
    }

    fn with_arg(&self, id: u16, name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
        let def = &self.fields[usize::from(id)];
        let bad = |message: String| FieldError::BadArg {
            field: display_name(name, arg),
            message,
        };
        let arg = match (def.arg, arg) {
            (ArgKind::None, Some(_)) => return Err(bad("takes no argument".into())),
            (_, None) if def.arg_required => return Err(bad("requires an argument".into())),
            (_, None) => FieldArg::None,
            (ArgKind::Index, Some(a)) => match a.trim().parse::<usize>() {
                Ok(i) => FieldArg::Index(i),
                Err(_) => return Err(bad(format!("argument '{a}' is not an index"))),
            },
            (ArgKind::Key, Some(a)) => FieldArg::Key(a.into()),
            (ArgKind::JsonPointer, Some(a)) => FieldArg::Pointer(parse_pointer(a)),
        };
        Ok(FieldRef { id, arg })
    }
}

fn display_name(name: &str, arg: Option<&str>) -> String {
    match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_string(),
    }
}

/// Splits an RFC 6901 pointer (`/a/b~1c`) into unescaped tokens; a leading `/` is optional,
/// as in Falco's json plugin.
fn parse_pointer(p: &str) -> Box<[Box<str>]> {
    let p = p.strip_prefix('/').unwrap_or(p);
    p.split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~").into_boxed_str())
        .collect()
}

/// A value extracted from an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue<'a> {
    /// The event has no value for the field: every comparison on it is false (and
    /// `not ...` of it true), as in Falco.
    Missing,
    /// Text.
    Str(Cow<'a, str>),
    /// A number.
    Num(i64),
    /// A boolean.
    Bool(bool),
    /// A list of values (list fields). An empty list counts as missing.
    List(Vec<Cow<'a, str>>),
}

impl FieldValue<'_> {
    /// Whether the value is missing (an empty list included).
    pub fn is_missing(&self) -> bool {
        match self {
            FieldValue::Missing => true,
            FieldValue::List(v) => v.is_empty(),
            _ => false,
        }
    }

    /// An owned copy with no borrow.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Missing => FieldValue::Missing,
            FieldValue::Str(s) => FieldValue::Str(Cow::Owned(s.into_owned())),
            FieldValue::Num(n) => FieldValue::Num(n),
            FieldValue::Bool(b) => FieldValue::Bool(b),
            FieldValue::List(v) => {
                FieldValue::List(v.into_iter().map(|s| Cow::Owned(s.into_owned())).collect())
            }
        }
    }
}

impl fmt::Display for FieldValue<'_> {
    /// Renders as Falco outputs do: `<NA>` when missing, lists as `(a,b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Missing => f.write_str("<NA>"),
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Num(n) => write!(f, "{n}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::List(v) if v.is_empty() => f.write_str("<NA>"),
            FieldValue::List(v) => {
                f.write_str("(")?;
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(s)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// An event rules can be evaluated on.
///
/// Implementations parse their input once (when the event is built) and answer each
/// [`FieldRef`] by dispatching on its id; the ids are those of the registry the
/// implementation publishes for its source.
pub trait Event {
    /// The source name, matching a rule's `source:` (`k8s_audit`, `syscall`).
    fn event_source(&self) -> &str;

    /// The value of one field.
    fn field(&self, field: &FieldRef) -> FieldValue<'_>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reg() -> FieldRegistry {
        FieldRegistry::new(
            "test",
            vec![
                FieldDef::new("proc.name", FieldType::Str),
                FieldDef::new("proc.aname", FieldType::Str).arg(ArgKind::Index, false),
                FieldDef::new("evt.arg", FieldType::Str)
                    .arg(ArgKind::Key, true)
                    .dot_arg(),
                FieldDef::new("jevt.value", FieldType::Str).arg(ArgKind::JsonPointer, true),
            ],
        )
    }

    #[test]
    fn resolves_names_and_args() {
        let r = reg();
        assert_eq!(r.resolve("proc.name", None).unwrap().id(), 0);
        assert_eq!(
            r.resolve("proc.aname", Some("2")).unwrap().arg(),
            &FieldArg::Index(2)
        );
        assert_eq!(
            r.resolve("evt.arg.flags", None).unwrap(),
            FieldRef::new(2, FieldArg::Key("flags".into()))
        );
        assert_eq!(
            r.resolve("jevt.value", Some("/a~1b/c")).unwrap().arg(),
            &FieldArg::Pointer(vec!["a/b".into(), "c".into()].into())
        );
        assert!(matches!(
            r.resolve("proc.nam", None),
            Err(FieldError::Unknown { .. })
        ));
        assert!(matches!(
            r.resolve("proc.aname", Some("x")),
            Err(FieldError::BadArg { .. })
        ));
        assert!(matches!(
            r.resolve("evt.arg", None),
            Err(FieldError::BadArg { .. })
        ));
    }

    #[test]
    fn resolves_output_prefixes() {
        let r = reg();
        let (f, name, n) = r.resolve_prefix("proc.name)").unwrap().unwrap();
        assert_eq!((f.id(), name, n), (0, "proc.name", 9));
        let (_, name, _) = r.resolve_prefix("proc.aname[3] x").unwrap().unwrap();
        assert_eq!(name, "proc.aname[3]");
        let (f, name, _) = r.resolve_prefix("evt.arg.flags x").unwrap().unwrap();
        assert_eq!(
            (name, f.arg()),
            ("evt.arg.flags", &FieldArg::Key("flags".into()))
        );
        assert!(r.resolve_prefix("nope").is_none());
    }

    #[test]
    fn renders_values_like_falco() {
        assert_eq!(FieldValue::Missing.to_string(), "<NA>");
        assert_eq!(
            FieldValue::List(vec!["a".into(), "b".into()]).to_string(),
            "(a,b)"
        );
        assert_eq!(FieldValue::Num(200).to_string(), "200");
    }
}
