//! Compiled conditions: parsed [`Expr`]s turned into matcher trees over resolved fields.
//!
//! Compilation expands macros (recursively, with cycle detection) and list names, resolves
//! every field once against the source's [`FieldRegistry`], and pre-builds what each operator
//! needs (hash sets for `in`, lower-cased needles for `icontains`, compiled regexes, decoded
//! byte strings). Evaluation walks the tree with short-circuiting `and`/`or` and asks the
//! event for each field; it allocates only where a transformer or a list field forces it.
//!
//! Semantics follow libsinsp: a missing field makes every comparison false (`exists` too);
//! on a list field `in` means every value is in the set, `intersects` means one is, and (an
//! extension: Falco rejects it) any other operator holds when it holds for one value.
//!
//! Address fields ([`FieldType::IpAddr`]) compare as Falco's `IPADDR`/`IPNET` fields do: the
//! right side's addresses and CIDR networks are parsed once (a bad one fails the rule's
//! compilation, naming the value), and `=`/`in`/`intersects` hold when the event's address
//! lies in one of the networks. Event values that do not parse as addresses match nothing.
//! Networks come from the `ipnet` crate.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;

use crate::field::{Event, FieldError, FieldRef, FieldRegistry, FieldType, FieldValue};
use crate::parser::{Expr, FieldName, Op, Operand, Rhs, TransformArg, Value};
use crate::util;

/// How deeply macros may expand into macros (a guard against hostile rule files).
const MAX_MACRO_DEPTH: usize = 64;

/// How many nodes one condition may expand to.
const MAX_NODES: usize = 200_000;

/// What macros and lists a condition can use.
pub(crate) struct Env<'a> {
    pub(crate) registry: &'a FieldRegistry,
    /// Lists, fully expanded.
    pub(crate) lists: &'a HashMap<String, Vec<String>>,
    /// Macros, parsed (or the reason they did not parse).
    pub(crate) macros: &'a HashMap<String, Result<Expr, String>>,
}

/// Why a condition did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CompileError {
    /// A field the source does not support.
    UnsupportedField { field: String, message: String },
    /// A macro that is not defined.
    UndefinedMacro(String),
    /// Anything else.
    Invalid(String),
}

impl From<FieldError> for CompileError {
    fn from(e: FieldError) -> Self {
        match e {
            FieldError::Unknown { ref field, .. } => CompileError::UnsupportedField {
                field: field.clone(),
                message: e.to_string(),
            },
            other => CompileError::Invalid(other.to_string()),
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Check(Box<Check>),
}

/// One field comparison.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    lhs: Operand2,
    op: Op,
    rhs: CRhs,
}

/// A field with its transformers (applied innermost first).
#[derive(Debug, Clone)]
pub(crate) struct Operand2 {
    pub(crate) field: FieldRef,
    ty: FieldType,
    transforms: Vec<Transform>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Lower,
    Upper,
    B64,
    Basename,
    Len,
}

#[derive(Debug, Clone)]
enum CRhs {
    None,
    Str(Box<str>),
    /// A number, with the text it was written as.
    Num(i64, Box<str>),
    /// Lower-cased needle for `icontains`.
    Lower(Box<str>),
    Bytes(Box<[u8]>),
    Regex(Box<regex::Regex>),
    Set(StrSet),
    Paths(Box<[Box<str>]>),
    Field(Box<Operand2>),
    /// Networks an address field is compared against.
    Nets(Box<[IpNet]>),
}

/// A set of strings: a short vector scanned linearly, or a hash set.
#[derive(Debug, Clone)]
pub(crate) enum StrSet {
    Small(Box<[Box<str>]>),
    Hashed(HashSet<Box<str>, foldhash::fast::RandomState>),
}

impl StrSet {
    fn new(items: Vec<String>) -> Self {
        let mut seen = Vec::with_capacity(items.len());
        for i in items {
            let b = i.into_boxed_str();
            if !seen.contains(&b) {
                seen.push(b);
            }
        }
        if seen.len() <= 8 {
            StrSet::Small(seen.into_boxed_slice())
        } else {
            StrSet::Hashed(seen.into_iter().collect())
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            StrSet::Small(v) => v.is_empty(),
            StrSet::Hashed(h) => h.is_empty(),
        }
    }

    fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Small(v) => v.iter().any(|x| &**x == s),
            StrSet::Hashed(h) => h.contains(s),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            StrSet::Small(v) => Box::new(v.iter().map(|s| &**s)),
            StrSet::Hashed(h) => Box::new(h.iter().map(|s| &**s)),
        }
    }
}

/// Compiles a condition.
pub(crate) fn compile(env: &Env<'_>, expr: &Expr) -> Result<Node, CompileError> {
    let mut stack = Vec::new();
    let mut budget = MAX_NODES;
    compile_expr(env, expr, &mut stack, &mut budget)
}

fn compile_expr(
    env: &Env<'_>,
    expr: &Expr,
    stack: &mut Vec<String>,
    budget: &mut usize,
) -> Result<Node, CompileError> {
    if *budget == 0 {
        return Err(CompileError::Invalid(format!(
            "condition expands to more than {MAX_NODES} nodes"
        )));
    }
    *budget -= 1;
    Ok(match expr {
        Expr::And(v) => {
            let mut out = Vec::with_capacity(v.len());
            for e in v {
                match compile_expr(env, e, stack, budget)? {
                    Node::And(inner) => out.extend(inner.into_vec()),
                    n => out.push(n),
                }
            }
            Node::And(out.into_boxed_slice())
        }
        Expr::Or(v) => {
            let mut out = Vec::with_capacity(v.len());
            for e in v {
                match compile_expr(env, e, stack, budget)? {
                    Node::Or(inner) => out.extend(inner.into_vec()),
                    n => out.push(n),
                }
            }
            Node::Or(out.into_boxed_slice())
        }
        Expr::Not(e) => match compile_expr(env, e, stack, budget)? {
            Node::Not(inner) => *inner,
            n => Node::Not(Box::new(n)),
        },
        Expr::Ident(name) => {
            if stack.iter().any(|s| s == name) {
                return Err(CompileError::Invalid(format!(
                    "macro '{name}' refers to itself ({} -> {name})",
                    stack.join(" -> ")
                )));
            }
            if stack.len() >= MAX_MACRO_DEPTH {
                return Err(CompileError::Invalid(format!(
                    "macros nested deeper than {MAX_MACRO_DEPTH} levels at '{name}'"
                )));
            }
            let Some(m) = env.macros.get(name) else {
                return Err(CompileError::UndefinedMacro(name.clone()));
            };
            let m = m.as_ref().map_err(|e| {
                CompileError::Invalid(format!("macro '{name}' does not parse: {e}"))
            })?;
            stack.push(name.clone());
            let n = compile_expr(env, m, stack, budget);
            stack.pop();
            n?
        }
        Expr::Check { lhs, op, rhs } => Node::Check(Box::new(compile_check(env, lhs, *op, rhs)?)),
    })
}

fn compile_operand(env: &Env<'_>, o: &Operand) -> Result<Operand2, CompileError> {
    match o {
        Operand::Field(FieldName { name, arg }) => {
            let field = env.registry.resolve(name, arg.as_deref())?;
            let def = env.registry.def(&field);
            let ty = def.map_or(FieldType::Str, |d| d.ty);
            Ok(Operand2 {
                field,
                ty,
                transforms: Vec::new(),
            })
        }
        Operand::Transform(name, args) => {
            let t = match name.as_str() {
                "tolower" => Transform::Lower,
                "toupper" => Transform::Upper,
                "b64" => Transform::B64,
                "basename" => Transform::Basename,
                "len" => Transform::Len,
                other => {
                    return Err(CompileError::Invalid(format!(
                        "transformer '{other}' is not supported"
                    )));
                }
            };
            let [TransformArg::Operand(inner)] = args.as_slice() else {
                return Err(CompileError::Invalid(format!(
                    "transformer '{name}' takes exactly one field"
                )));
            };
            let mut o = compile_operand(env, inner)?;
            o.transforms.push(t);
            o.ty = if t == Transform::Len {
                FieldType::Num
            } else {
                FieldType::Str
            };
            Ok(o)
        }
    }
}

fn is_list_field(env: &Env<'_>, o: &Operand2) -> bool {
    !o.transforms.contains(&Transform::Len) && env.registry.def(&o.field).is_some_and(|d| d.list)
}

fn parse_num(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    // Falco parses with strtod-like rules for some types; truncate floats.
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f as i64)
}

fn expand_values(env: &Env<'_>, values: &[Value]) -> Vec<String> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match env.lists.get(&v.text) {
            Some(items) if !v.quoted => out.extend(items.iter().cloned()),
            _ => out.push(v.text.clone()),
        }
    }
    out
}

fn compile_check(env: &Env<'_>, lhs: &Operand, op: Op, rhs: &Rhs) -> Result<Check, CompileError> {
    let lhs = compile_operand(env, lhs)?;
    let lhs_list = is_list_field(env, &lhs);
    if lhs.ty == FieldType::IpAddr {
        let rhs = net_rhs(env, op, rhs)?;
        return Ok(Check { lhs, op, rhs });
    }
    let rhs = match (op, rhs) {
        (Op::Exists, _) => CRhs::None,
        (_, Rhs::Operand(o)) => {
            if op == Op::Regex {
                return Err(CompileError::Invalid(
                    "'regex' needs a literal pattern".into(),
                ));
            }
            CRhs::Field(Box::new(compile_operand(env, o)?))
        }
        (Op::In | Op::Intersects | Op::PMatch, Rhs::List(values)) => {
            list_rhs(op, expand_values(env, values))
        }
        (Op::In | Op::Intersects | Op::PMatch, Rhs::Ident(name)) => {
            let items = env
                .lists
                .get(name)
                .cloned()
                .unwrap_or_else(|| vec![name.clone()]);
            list_rhs(op, items)
        }
        (Op::In | Op::Intersects | Op::PMatch, Rhs::Value(v)) => {
            list_rhs(op, expand_values(env, std::slice::from_ref(v)))
        }
        (_, Rhs::Value(v)) => scalar_rhs(&lhs, lhs_list, op, &v.text)?,
        (_, Rhs::List(_) | Rhs::Ident(_) | Rhs::None) => {
            return Err(CompileError::Invalid(format!(
                "operator '{op}' needs a single value"
            )));
        }
    };
    Ok(Check { lhs, op, rhs })
}

/// The right side of a comparison on an address field: addresses and CIDR networks.
fn net_rhs(env: &Env<'_>, op: Op, rhs: &Rhs) -> Result<CRhs, CompileError> {
    let items = match (op, rhs) {
        (Op::Exists, _) => return Ok(CRhs::None),
        (Op::Eq | Op::Ne, Rhs::Value(v)) => vec![v.text.clone()],
        (Op::In | Op::Intersects, Rhs::List(values)) => expand_values(env, values),
        (Op::In | Op::Intersects, Rhs::Value(v)) => expand_values(env, std::slice::from_ref(v)),
        (Op::In | Op::Intersects, Rhs::Ident(name)) => env
            .lists
            .get(name)
            .cloned()
            .unwrap_or_else(|| vec![name.clone()]),
        (Op::Eq | Op::Ne | Op::In | Op::Intersects, _) => {
            return Err(CompileError::Invalid(format!(
                "operator '{op}' on an address field needs addresses or CIDR networks"
            )));
        }
        _ => {
            return Err(CompileError::Invalid(format!(
                "operator '{op}' does not apply to an address field (use =, !=, in, intersects or exists)"
            )));
        }
    };
    let nets = items
        .iter()
        .map(|t| {
            parse_net(t).ok_or_else(|| {
                CompileError::Invalid(format!("'{t}' is not an IP address or CIDR network"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CRhs::Nets(nets.into_boxed_slice()))
}

/// An address (`10.1.2.3`, `::1`: a network of one) or a CIDR network (`10.0.0.0/8`,
/// `2001:db8::/32`; host bits are ignored, as libsinsp does).
fn parse_net(text: &str) -> Option<IpNet> {
    let t = text.trim();
    let net = match t.split_once('/') {
        Some((addr, len)) => {
            if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            IpNet::new(addr.parse().ok()?, len.parse().ok()?).ok()?
        }
        None => IpNet::from(t.parse::<IpAddr>().ok()?),
    };
    Some(net.trunc())
}

/// An event's address: IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as IPv4, and an
/// IPv6 zone (`fe80::1%eth0`) is ignored.
fn parse_addr(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let t = match memchr::memchr(b'%', t.as_bytes()) {
        Some(i) => t.get(..i)?,
        None => t,
    };
    match t.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

fn in_nets(nets: &[IpNet], s: &str) -> Option<bool> {
    let a = parse_addr(s)?;
    Some(nets.iter().any(|n| n.contains(&a)))
}

fn list_rhs(op: Op, items: Vec<String>) -> CRhs {
    if op == Op::PMatch {
        CRhs::Paths(items.into_iter().map(String::into_boxed_str).collect())
    } else {
        CRhs::Set(StrSet::new(items))
    }
}

fn scalar_rhs(lhs: &Operand2, lhs_list: bool, op: Op, text: &str) -> Result<CRhs, CompileError> {
    Ok(match op {
        _ if op.is_num_op() => match parse_num(text) {
            Some(n) => CRhs::Num(n, text.into()),
            None => {
                return Err(CompileError::Invalid(format!(
                    "operator '{op}' needs a number, got '{text}'"
                )));
            }
        },
        Op::Eq | Op::Ne if lhs.ty == FieldType::Num && !lhs_list => match parse_num(text) {
            Some(n) => CRhs::Num(n, text.into()),
            None => {
                return Err(CompileError::Invalid(format!(
                    "'{text}' is not a number, as the field needs"
                )));
            }
        },
        Op::IContains => CRhs::Lower(text.to_ascii_lowercase().into()),
        Op::BContains | Op::BStartsWith => match util::decode_hex(text) {
            Some(b) => CRhs::Bytes(b.into()),
            None => {
                return Err(CompileError::Invalid(format!(
                    "operator '{op}' needs hex bytes, got '{text}'"
                )));
            }
        },
        Op::Regex => match regex::Regex::new(&format!("^(?:{text})$")) {
            Ok(r) => CRhs::Regex(Box::new(r)),
            Err(e) => return Err(CompileError::Invalid(format!("invalid regex: {e}"))),
        },
        _ => CRhs::Str(text.into()),
    })
}

impl Node {
    /// Evaluates the condition on an event.
    pub(crate) fn eval(&self, ev: &dyn Event) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(ev)),
            Node::Or(v) => v.iter().any(|n| n.eval(ev)),
            Node::Not(n) => !n.eval(ev),
            Node::Check(c) => c.eval(ev),
        }
    }

    /// The values `field` must have for the condition to hold (`field = v`, `field in (...)`
    /// conjuncts); `None` when the condition does not constrain it.
    pub(crate) fn constraint(&self, field: &FieldRef) -> Option<BTreeSet<String>> {
        match self {
            Node::And(v) => {
                let mut acc: Option<BTreeSet<String>> = None;
                for n in v.iter() {
                    if let Some(s) = n.constraint(field) {
                        acc = Some(match acc {
                            None => s,
                            Some(a) => a.intersection(&s).cloned().collect(),
                        });
                    }
                }
                acc
            }
            Node::Or(v) => {
                let mut acc = BTreeSet::new();
                for n in v.iter() {
                    acc.extend(n.constraint(field)?);
                }
                Some(acc)
            }
            Node::Not(_) => None,
            Node::Check(c) => {
                if c.lhs.field != *field || !c.lhs.transforms.is_empty() {
                    return None;
                }
                match (&c.op, &c.rhs) {
                    (Op::Eq, CRhs::Str(s)) => Some(BTreeSet::from([s.to_string()])),
                    (Op::In, CRhs::Set(set)) => Some(set.iter().map(str::to_string).collect()),
                    _ => None,
                }
            }
        }
    }
}

impl Operand2 {
    /// Extracts the field and applies transformers.
    pub(crate) fn extract<'e>(&self, ev: &'e dyn Event) -> FieldValue<'e> {
        let mut v = ev.field(&self.field);
        for t in &self.transforms {
            v = apply(*t, v);
        }
        v
    }
}

fn apply(t: Transform, v: FieldValue<'_>) -> FieldValue<'_> {
    fn one(t: Transform, s: Cow<'_, str>) -> Cow<'_, str> {
        match t {
            Transform::Lower => Cow::Owned(s.to_lowercase()),
            Transform::Upper => Cow::Owned(s.to_uppercase()),
            Transform::B64 => {
                match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                    Ok(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
                    Err(_) => s,
                }
            }
            Transform::Basename => match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.rsplit('/').next().unwrap_or(b)),
                Cow::Owned(o) => Cow::Owned(o.rsplit('/').next().unwrap_or(&o).to_string()),
            },
            Transform::Len => s,
        }
    }
    match (t, v) {
        (_, FieldValue::Missing) => FieldValue::Missing,
        (Transform::Len, FieldValue::List(l)) => {
            FieldValue::Num(i64::try_from(l.len()).unwrap_or(i64::MAX))
        }
        (Transform::Len, FieldValue::Str(s)) => {
            FieldValue::Num(i64::try_from(s.len()).unwrap_or(i64::MAX))
        }
        (Transform::Len, other) => {
            FieldValue::Num(i64::try_from(other.to_string().len()).unwrap_or(i64::MAX))
        }
        (_, FieldValue::Str(s)) => FieldValue::Str(one(t, s)),
        (_, FieldValue::List(l)) => FieldValue::List(l.into_iter().map(|s| one(t, s)).collect()),
        (_, other) => FieldValue::Str(one(t, Cow::Owned(other.to_string()))),
    }
}

/// Formats an integer without allocating.
fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let neg = n < 0;
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg && i > 0 {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

fn icontains(hay: &str, lower_needle: &str) -> bool {
    let n = lower_needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    hay.as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

impl Check {
    fn eval(&self, ev: &dyn Event) -> bool {
        // `in ()` and `intersects ()` hold for no value (an empty list counts as missing):
        // skip extracting the field. Lists a user fills (`palisade_proxy_ips`) start empty.
        if matches!(self.op, Op::In | Op::Intersects)
            && match &self.rhs {
                CRhs::Set(set) => set.is_empty(),
                CRhs::Nets(nets) => nets.is_empty(),
                _ => false,
            }
        {
            return false;
        }
        let v = self.lhs.extract(ev);
        match v {
            FieldValue::Missing => false,
            FieldValue::List(items) => {
                if items.is_empty() {
                    return false;
                }
                match self.op {
                    Op::Exists => true,
                    Op::In => match &self.rhs {
                        CRhs::Set(set) => items.iter().all(|s| set.contains(s)),
                        CRhs::Nets(nets) => items.iter().all(|s| in_nets(nets, s) == Some(true)),
                        _ => {
                            let rhs = self.rhs_values(ev);
                            !rhs.is_empty() && items.iter().all(|s| rhs.iter().any(|r| r == s))
                        }
                    },
                    _ => items.iter().any(|s| self.cmp_str(s, ev)),
                }
            }
            FieldValue::Str(s) => self.op == Op::Exists || self.cmp_str(&s, ev),
            FieldValue::Num(n) => self.op == Op::Exists || self.cmp_num(n, ev),
            FieldValue::Bool(b) => {
                self.op == Op::Exists || self.cmp_str(if b { "true" } else { "false" }, ev)
            }
        }
    }

    fn cmp_num(&self, n: i64, ev: &dyn Event) -> bool {
        if let CRhs::Num(m, _) = &self.rhs {
            return match self.op {
                Op::Eq => n == *m,
                Op::Ne => n != *m,
                Op::Lt => n < *m,
                Op::Le => n <= *m,
                Op::Gt => n > *m,
                Op::Ge => n >= *m,
                _ => false,
            };
        }
        let mut buf = [0u8; 20];
        self.cmp_str(fmt_i64(n, &mut buf), ev)
    }

    fn cmp_str(&self, s: &str, ev: &dyn Event) -> bool {
        match &self.rhs {
            CRhs::None => self.op == Op::Exists,
            CRhs::Str(r) => str_op(self.op, s, r),
            CRhs::Num(m, text) => match s.trim().parse::<i64>() {
                Ok(n) => match self.op {
                    Op::Eq => n == *m,
                    Op::Ne => n != *m,
                    Op::Lt => n < *m,
                    Op::Le => n <= *m,
                    Op::Gt => n > *m,
                    Op::Ge => n >= *m,
                    _ => false,
                },
                Err(_) => str_op(self.op, s, text),
            },
            CRhs::Lower(r) => icontains(s, r),
            CRhs::Bytes(b) => match self.op {
                Op::BStartsWith => s.as_bytes().starts_with(b),
                _ => b.is_empty() || s.as_bytes().windows(b.len()).any(|w| w == &**b),
            },
            CRhs::Regex(r) => r.is_match(s),
            CRhs::Set(set) => set.contains(s),
            CRhs::Paths(p) => util::path_prefix_match(p, s),
            CRhs::Nets(nets) => match (self.op, in_nets(nets, s)) {
                (_, None) => false,
                (Op::Ne, Some(hit)) => !hit,
                (_, Some(hit)) => hit,
            },
            CRhs::Field(_) => {
                let rhs = self.rhs_values(ev);
                match self.op {
                    Op::In | Op::Intersects => rhs.iter().any(|r| r == s),
                    Op::PMatch => {
                        let p: Vec<Box<str>> =
                            rhs.into_iter().map(String::into_boxed_str).collect();
                        util::path_prefix_match(&p, s)
                    }
                    _ => rhs.first().is_some_and(|r| str_op(self.op, s, r)),
                }
            }
        }
    }

    /// The right side's values when it is a field (`val(...)`) or a list.
    fn rhs_values(&self, ev: &dyn Event) -> Vec<String> {
        match &self.rhs {
            CRhs::Field(o) => match o.extract(ev) {
                FieldValue::Missing => Vec::new(),
                FieldValue::List(l) => l.into_iter().map(Cow::into_owned).collect(),
                other => vec![other.to_string()],
            },
            CRhs::Set(s) => s.iter().map(str::to_string).collect(),
            _ => Vec::new(),
        }
    }
}

fn str_op(op: Op, s: &str, r: &str) -> bool {
    match op {
        Op::Eq | Op::In | Op::Intersects => s == r,
        Op::Ne => s != r,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (s.trim().parse::<f64>(), r.trim().parse::<f64>()) {
                (Ok(a), Ok(b)) => a.partial_cmp(&b),
                _ => Some(s.cmp(r)),
            };
            let Some(ord) = ord else { return false };
            match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        Op::Contains => s.contains(r),
        Op::IContains => icontains(s, &r.to_ascii_lowercase()),
        Op::BContains => s.contains(r),
        Op::StartsWith | Op::BStartsWith => s.starts_with(r),
        Op::EndsWith => s.ends_with(r),
        Op::Glob => util::glob_match(r, s, false),
        Op::IGlob => util::glob_match(r, s, true),
        Op::PMatch => util::path_prefix_match(&[r.into()], s),
        Op::Regex => false,
        Op::Exists => true,
    }
}

/// An output template: literal text and `%field` references.
#[derive(Debug, Clone)]
pub(crate) struct OutputTemplate {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Lit(String),
    Field(String, Operand2),
}

impl OutputTemplate {
    /// Parses a template against a registry.
    pub(crate) fn compile(registry: &FieldRegistry, text: &str) -> Result<Self, CompileError> {
        let mut segments = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if !after.starts_with(|c: char| c.is_ascii_alphabetic()) {
                lit.push('%');
                rest = after;
                continue;
            }
            match registry.resolve_prefix(after) {
                Some(Ok((field, name, len))) => {
                    if !lit.is_empty() {
                        segments.push(Segment::Lit(std::mem::take(&mut lit)));
                    }
                    let ty = registry.def(&field).map_or(FieldType::Str, |d| d.ty);
                    segments.push(Segment::Field(
                        name.to_string(),
                        Operand2 {
                            field,
                            ty,
                            transforms: Vec::new(),
                        },
                    ));
                    rest = &after[len..];
                }
                Some(Err(e)) => return Err(e.into()),
                None => {
                    let token: String = after
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                        .collect();
                    let token = token.trim_end_matches('.').to_string();
                    return Err(CompileError::UnsupportedField {
                        message: format!(
                            "field '{token}' is not supported by source '{}'",
                            registry.source()
                        ),
                        field: token,
                    });
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segments.push(Segment::Lit(lit));
        }
        Ok(Self { segments })
    }

    /// Renders the template; also returns each field's rendered value.
    pub(crate) fn render<'t>(&'t self, ev: &dyn Event) -> (String, Vec<(&'t str, String)>) {
        let mut out = String::new();
        let mut fields = Vec::new();
        for s in &self.segments {
            match s {
                Segment::Lit(l) => out.push_str(l),
                Segment::Field(name, op) => {
                    let v = op.extract(ev).to_string();
                    out.push_str(&v);
                    if !fields.iter().any(|(n, _)| n == name) {
                        fields.push((name.as_str(), v));
                    }
                }
            }
        }
        (out, fields)
    }

    /// Renders the template only (the text of [`OutputTemplate::render`]), writing each value
    /// straight into the text.
    pub(crate) fn render_text(&self, ev: &dyn Event) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(128);
        for s in &self.segments {
            match s {
                Segment::Lit(l) => out.push_str(l),
                Segment::Field(_, op) => {
                    let _ = write!(out, "{}", op.extract(ev));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_integers() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_i64(0, &mut b), "0");
        assert_eq!(fmt_i64(-42, &mut b), "-42");
        assert_eq!(fmt_i64(i64::MIN, &mut b), "-9223372036854775808");
        assert_eq!(fmt_i64(200, &mut b), "200");
    }

    #[test]
    fn case_insensitive_contains() {
        assert!(icontains("Hello World", "world"));
        assert!(!icontains("Hello", "world"));
    }
}
