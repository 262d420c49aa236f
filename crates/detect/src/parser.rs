//! The condition language: a parser from text to [`Expr`].
//!
//! The grammar is Falco's (libsinsp `filter/parser`), written by hand because no crate parses
//! it: `or` binds loosest, then `and`, then `not`; a check is a field (or a transformer over a
//! field) followed by an operator and a value, a parenthesised expression, or a bare
//! identifier naming a macro. Token shapes follow libsinsp's regular expressions:
//!
//! - field: `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`, optionally `[arg]`
//! - identifier: `[a-zA-Z]+[a-zA-Z0-9_]*`
//! - bare string: `[^()"'\s=,]+`; quoted strings use `'` or `"` with backslash escapes
//! - operators: `exists`; `<= < >= >` (number values); `== = != glob iglob contains
//!   icontains bcontains startswith bstartswith endswith regex` (string values; the word
//!   operators need a blank after them); `intersects in pmatch` (a `(...)` list, a list
//!   name, or a field).
//!
//! Keywords and operators are lower case, as in Falco.

use std::fmt;

/// Maximum nesting of parentheses/`not` accepted, as a guard against hostile input.
const MAX_DEPTH: usize = 1000;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
    Exists,
}

impl Op {
    /// Parses an operator name (as used in exception `comps`).
    pub(crate) fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// Whether the operator takes a list on its right.
    pub(crate) fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }

    pub(crate) fn is_num_op(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        })
    }
}

/// A field reference as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldName {
    pub(crate) name: String,
    pub(crate) arg: Option<String>,
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(a) => write!(f, "{}[{a}]", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The left side of a check, or a field on the right (`val(...)`, transformers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand {
    Field(FieldName),
    /// `tolower(x)`, `len(x)`, ...: the transformer name and its arguments.
    Transform(String, Vec<TransformArg>),
}

/// An argument of a transformer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransformArg {
    Operand(Operand),
    Value(String),
    List(Vec<TransformArg>),
}

/// One value in a list or on the right of a string operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    pub(crate) text: String,
    /// Whether it was written in quotes: only bare values can name a list.
    pub(crate) quoted: bool,
}

impl Value {
    pub(crate) fn bare(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            quoted: false,
        }
    }
}

/// The right side of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rhs {
    None,
    Value(Value),
    List(Vec<Value>),
    /// A bare identifier after a list operator: a list name, or a single value.
    Ident(String),
    Operand(Operand),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A macro name.
    Ident(String),
    Check {
        lhs: Operand,
        op: Op,
        rhs: Rhs,
    },
}

/// A syntax error with its position in the condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {col}")]
pub(crate) struct ParseError {
    pub(crate) message: String,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

/// Parses a condition.
pub(crate) fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: input,
        pos: 0,
        depth: 0,
    };
    p.blank();
    if p.pos == p.s.len() {
        return Err(p.err("condition is empty"));
    }
    let e = p.or()?;
    p.blank();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected token, expecting 'or', 'and'"));
    }
    Ok(e)
}

/// Parses a bare field reference (`ka.user.name`, `proc.aname[2]`), as exception `fields`
/// are written.
pub(crate) fn parse_field(input: &str) -> Result<FieldName, ParseError> {
    let mut p = Parser {
        s: input.trim(),
        pos: 0,
        depth: 0,
    };
    let Some(name) = p.field_name() else {
        return Err(p.err("expected a field name"));
    };
    let f = p.field_rest(name)?;
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the field name"));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x08' | b'\r' | b'\n')
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn err(&self, message: &str) -> ParseError {
        let before = &self.s[..self.pos];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        ParseError {
            message: message.to_string(),
            line,
            col,
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.err("condition nested too deeply"));
        }
        Ok(())
    }

    fn blank(&mut self) -> bool {
        let n = self.rest().bytes().take_while(|&b| is_blank(b)).count();
        self.pos += n;
        n > 0
    }

    fn eat(&mut self, tok: &str) -> bool {
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut children = vec![self.and()?];
        self.blank();
        while self.eat("or") {
            let child = if self.blank() {
                self.and()?
            } else if self.eat("(") {
                self.embedded()?
            } else {
                return Err(self.err("expected blank or '(' after 'or'"));
            };
            children.push(child);
            self.blank();
        }
        self.depth -= 1;
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Expr::Or(children)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let mut children = vec![self.not()?];
        self.blank();
        while self.eat("and") {
            let child = if self.blank() {
                self.not()?
            } else if self.eat("(") {
                self.embedded()?
            } else {
                return Err(self.err("expected blank or '(' after 'and'"));
            };
            children.push(child);
            self.blank();
        }
        self.depth -= 1;
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Expr::And(children)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let mut negate = false;
        loop {
            let r = self.rest();
            if r.starts_with("not") && r.len() > 3 && is_space(r.as_bytes()[3]) {
                self.pos += 3;
                self.blank();
                negate = !negate;
            } else {
                break;
            }
        }
        let child = if self.eat("not(") {
            negate = !negate;
            self.embedded()?
        } else {
            self.check()?
        };
        self.depth -= 1;
        Ok(if negate {
            Expr::Not(Box::new(child))
        } else {
            child
        })
    }

    /// After a consumed `(`.
    fn embedded(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let e = self.or()?;
        self.blank();
        if !self.eat(")") {
            return Err(self.err("expected a ')' token"));
        }
        self.depth -= 1;
        Ok(e)
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.blank();
        if self.eat("(") {
            return self.embedded();
        }
        if let Some(name) = self.field_name() {
            let lhs = Operand::Field(self.field_rest(name)?);
            return self.condition(lhs);
        }
        if let Some(t) = self.transformer_name() {
            let lhs = self.transformer_rest(t)?;
            return self.condition(lhs);
        }
        if let Some(id) = self.identifier() {
            return Ok(Expr::Ident(id.to_string()));
        }
        Err(self.err("expected a '(' token, a field check, or an identifier"))
    }

    fn identifier(&mut self) -> Option<&'a str> {
        let r = self.rest().as_bytes();
        let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters == 0 {
            return None;
        }
        let more = r[letters..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let s = &self.rest()[..letters + more];
        self.pos += letters + more;
        Some(s)
    }

    fn field_name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let r = self.rest().as_bytes();
        let seg = |i: usize| -> usize {
            let l = r[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            if l == 0 {
                return 0;
            }
            l + r[i + l..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count()
        };
        let mut i = seg(0);
        if i == 0 {
            return None;
        }
        let mut segments = 1;
        while i < r.len() && r[i] == b'.' {
            let n = seg(i + 1);
            if n == 0 {
                break;
            }
            i += 1 + n;
            segments += 1;
        }
        if segments < 2 {
            return None;
        }
        self.pos += i;
        Some(&self.s[start..start + i])
    }

    fn field_rest(&mut self, name: &str) -> Result<FieldName, ParseError> {
        let mut arg = None;
        if self.eat("[") {
            let a = if let Some(q) = self.quoted()? {
                q
            } else {
                let n = self
                    .rest()
                    .bytes()
                    .take_while(|&b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_space(b))
                    .count();
                if n == 0 {
                    return Err(self
                        .err("expected a valid field argument: a quoted string or a bare string"));
                }
                let a = self.rest()[..n].to_string();
                self.pos += n;
                a
            };
            if !self.eat("]") {
                return Err(self.err("expected a ']' token"));
            }
            arg = Some(a);
        }
        Ok(FieldName {
            name: name.to_string(),
            arg,
        })
    }

    fn transformer_name(&mut self) -> Option<String> {
        for t in ["tolower(", "toupper(", "b64(", "basename(", "len(", "join("] {
            if self.eat(t) {
                return Some(t[..t.len() - 1].to_string());
            }
        }
        None
    }

    /// After `name(`: arguments up to the closing `)`.
    fn transformer_rest(&mut self, name: String) -> Result<Operand, ParseError> {
        self.enter()?;
        self.blank();
        let mut args = Vec::new();
        loop {
            args.push(self.transform_arg()?);
            self.blank();
            if !self.eat(",") {
                break;
            }
            self.blank();
        }
        if !self.eat(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        self.depth -= 1;
        Ok(Operand::Transform(name, args))
    }

    fn transform_arg(&mut self) -> Result<TransformArg, ParseError> {
        self.blank();
        if let Some(n) = self.number() {
            return Ok(TransformArg::Value(n));
        }
        if let Some(q) = self.quoted()? {
            return Ok(TransformArg::Value(q));
        }
        if self.eat("(") {
            let mut items = Vec::new();
            self.blank();
            if !self.eat(")") {
                loop {
                    items.push(self.transform_arg()?);
                    self.blank();
                    if !self.eat(",") {
                        break;
                    }
                }
                if !self.eat(")") {
                    return Err(self.err("expected ')'"));
                }
            }
            return Ok(TransformArg::List(items));
        }
        if let Some(t) = self.transformer_name() {
            return Ok(TransformArg::Operand(self.transformer_rest(t)?));
        }
        if let Some(name) = self.field_name() {
            return Ok(TransformArg::Operand(Operand::Field(
                self.field_rest(name)?,
            )));
        }
        Err(self.err(
            "expected field transformer argument: field, transformer, quoted string, number, or list",
        ))
    }

    fn number(&mut self) -> Option<String> {
        let r = self.rest().as_bytes();
        // hex
        if r.len() > 2 && r[0] == b'0' && (r[1] == b'x' || r[1] == b'X') {
            let n = r[2..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if n > 0 {
                let s = self.rest()[..2 + n].to_string();
                self.pos += 2 + n;
                return Some(s);
            }
        }
        let mut i = 0;
        if i < r.len() && (r[i] == b'+' || r[i] == b'-') {
            i += 1;
        }
        let digits = r[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += digits;
        if i < r.len() && r[i] == b'.' {
            i += 1;
            i += r[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        }
        if i + 2 < r.len()
            && (r[i] == b'e' || r[i] == b'E')
            && (r[i + 1] == b'+' || r[i + 1] == b'-')
            && r[i + 2].is_ascii_digit()
        {
            i += 2;
            i += r[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        }
        let s = self.rest()[..i].to_string();
        self.pos += i;
        Some(s)
    }

    /// A quoted string, unescaped; `None` if the cursor is not on a quote.
    fn quoted(&mut self) -> Result<Option<String>, ParseError> {
        let r = self.rest();
        let Some(delim) = r.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            return Ok(None);
        };
        let mut out = String::new();
        let mut chars = r[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == delim {
                self.pos += 1 + i + 1;
                return Ok(Some(out));
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, e)) => {
                        let c = match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            'b' => '\x08',
                            'f' => '\x0c',
                            '\\' | '"' | '\'' | '/' => e,
                            other => {
                                out.push('\\');
                                other
                            }
                        };
                        out.push(c);
                    }
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        Err(self.err("unterminated quoted string"))
    }

    fn bare(&mut self) -> Option<String> {
        let n = self
            .rest()
            .bytes()
            .take_while(|&b| !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(b))
            .count();
        if n == 0 {
            return None;
        }
        let s = self.rest()[..n].to_string();
        self.pos += n;
        Some(s)
    }

    /// Operators needing a blank after them.
    fn word_op(&mut self, word: &str) -> bool {
        let r = self.rest();
        if r.starts_with(word) && r.len() > word.len() && is_blank(r.as_bytes()[word.len()]) {
            self.pos += word.len();
            self.blank();
            true
        } else {
            false
        }
    }

    fn condition(&mut self, lhs: Operand) -> Result<Expr, ParseError> {
        self.blank();
        if self.eat("exists") {
            return Ok(Expr::Check {
                lhs,
                op: Op::Exists,
                rhs: Rhs::None,
            });
        }
        for (tok, op) in [("<=", Op::Le), ("<", Op::Lt), (">=", Op::Ge), (">", Op::Gt)] {
            if self.eat(tok) {
                self.blank();
                if let Some(o) = self.rhs_operand()? {
                    return Ok(Expr::Check {
                        lhs,
                        op,
                        rhs: Rhs::Operand(o),
                    });
                }
                let Some(n) = self.number() else {
                    return Err(self.err("expected a number value"));
                };
                return Ok(Expr::Check {
                    lhs,
                    op,
                    rhs: Rhs::Value(Value::bare(n)),
                });
            }
        }
        let mut op = None;
        for (tok, o) in [("==", Op::Eq), ("=", Op::Eq), ("!=", Op::Ne)] {
            if self.eat(tok) {
                op = Some(o);
                break;
            }
        }
        if op.is_none() {
            for (tok, o) in [
                ("glob", Op::Glob),
                ("iglob", Op::IGlob),
                ("contains", Op::Contains),
                ("icontains", Op::IContains),
                ("bcontains", Op::BContains),
                ("startswith", Op::StartsWith),
                ("bstartswith", Op::BStartsWith),
                ("endswith", Op::EndsWith),
                ("regex", Op::Regex),
            ] {
                if self.word_op(tok) {
                    op = Some(o);
                    break;
                }
            }
        }
        if let Some(op) = op {
            self.blank();
            if let Some(o) = self.rhs_operand()? {
                return Ok(Expr::Check {
                    lhs,
                    op,
                    rhs: Rhs::Operand(o),
                });
            }
            let v = if let Some(q) = self.quoted()? {
                Value {
                    text: q,
                    quoted: true,
                }
            } else if let Some(b) = self.bare() {
                Value::bare(b)
            } else {
                return Err(self.err("expected a string value"));
            };
            return Ok(Expr::Check {
                lhs,
                op,
                rhs: Rhs::Value(v),
            });
        }
        for (tok, op) in [
            ("intersects", Op::Intersects),
            ("in", Op::In),
            ("pmatch", Op::PMatch),
        ] {
            if self.eat(tok) {
                self.blank();
                return self.list_rhs(lhs, op);
            }
        }
        Err(self.err(
            "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', \
             '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', \
             'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'",
        ))
    }

    fn list_rhs(&mut self, lhs: Operand, op: Op) -> Result<Expr, ParseError> {
        if self.eat("(") {
            let mut values = Vec::new();
            self.blank();
            if !self.rest().starts_with(')') {
                loop {
                    self.blank();
                    let v = if let Some(q) = self.quoted()? {
                        Value {
                            text: q,
                            quoted: true,
                        }
                    } else if let Some(b) = self.bare() {
                        Value::bare(b)
                    } else {
                        return Err(self.err("expected a string value"));
                    };
                    values.push(v);
                    self.blank();
                    if !self.eat(",") {
                        break;
                    }
                }
            }
            if !self.eat(")") {
                return Err(self.err("expected a ')' token"));
            }
            return Ok(Expr::Check {
                lhs,
                op,
                rhs: Rhs::List(values),
            });
        }
        if let Some(o) = self.rhs_operand()? {
            return Ok(Expr::Check {
                lhs,
                op,
                rhs: Rhs::Operand(o),
            });
        }
        if let Some(id) = self.identifier() {
            return Ok(Expr::Check {
                lhs,
                op,
                rhs: Rhs::Ident(id.to_string()),
            });
        }
        Err(self.err("expected a list, an identifier, or a field with a valid transformer"))
    }

    /// `val(field)` or a transformer on the right side.
    fn rhs_operand(&mut self) -> Result<Option<Operand>, ParseError> {
        if self.eat("val(") {
            self.blank();
            let Some(name) = self.field_name() else {
                return Err(self.err("expected a field within 'val' transformer"));
            };
            let f = self.field_rest(name)?;
            self.blank();
            if !self.eat(")") {
                return Err(self.err("expected a ')' token closing the transformer"));
            }
            return Ok(Some(Operand::Field(f)));
        }
        if let Some(t) = self.transformer_name() {
            return Ok(Some(self.transformer_rest(t)?));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn field(name: &str) -> Operand {
        Operand::Field(FieldName {
            name: name.into(),
            arg: None,
        })
    }

    fn eq(name: &str, v: &str) -> Expr {
        Expr::Check {
            lhs: field(name),
            op: Op::Eq,
            rhs: Rhs::Value(Value::bare(v)),
        }
    }

    #[test]
    fn precedence_or_and_not() {
        let e = parse("a.b=1 or c.d=2 and not e.f=3").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                eq("a.b", "1"),
                Expr::And(vec![eq("c.d", "2"), Expr::Not(Box::new(eq("e.f", "3")))]),
            ])
        );
        let e = parse("not not x.y exists").unwrap();
        assert_eq!(
            e,
            Expr::Check {
                lhs: field("x.y"),
                op: Op::Exists,
                rhs: Rhs::None
            }
        );
        let e = parse("not(a.b=1)and(c.d=2)").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![Expr::Not(Box::new(eq("a.b", "1"))), eq("c.d", "2")])
        );
    }

    #[test]
    fn values_lists_and_args() {
        let e = parse("ka.target.subresource in (exec, 'att ach', \"x\\\"y\")").unwrap();
        let Expr::Check {
            rhs: Rhs::List(v), ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            v.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(),
            ["exec", "att ach", "x\"y"]
        );
        assert!(!v[0].quoted && v[1].quoted);
        let e = parse("jevt.value[/requestObject/spec/tls] exists").unwrap();
        let Expr::Check {
            lhs: Operand::Field(f),
            ..
        } = e
        else {
            panic!()
        };
        assert_eq!(f.arg.as_deref(), Some("/requestObject/spec/tls"));
        assert_eq!(parse("evt.dir = <").unwrap(), eq("evt.dir", "<"));
        assert_eq!(
            parse("x.y in ()").unwrap(),
            Expr::Check {
                lhs: field("x.y"),
                op: Op::In,
                rhs: Rhs::List(vec![])
            }
        );
        assert_eq!(parse("kevt").unwrap(), Expr::Ident("kevt".into()));
        assert!(matches!(
            parse("tolower(proc.name) = val(proc.pname)").unwrap(),
            Expr::Check {
                lhs: Operand::Transform(..),
                rhs: Rhs::Operand(Operand::Field(_)),
                ..
            }
        ));
    }

    #[test]
    fn errors_carry_position() {
        let e = parse("a.b = 1 and\n  c.d ~ 2").unwrap_err();
        assert_eq!((e.line, e.col), (2, 7));
        assert!(parse("").is_err());
        assert!(parse("(a.b=1").is_err());
        assert!(parse("a.b < x").is_err());
        assert!(parse("a.b containsfoo").is_err());
    }
}
