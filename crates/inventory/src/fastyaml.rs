//! A fast path for the YAML that Kubernetes manifests are made of.
//!
//! libyaml (through `serde_yaml_ng`) is exact but spends most of a scan's time building events
//! and strings for documents that use a small part of YAML: block mappings and sequences,
//! plain and quoted one-line scalars, literal and folded block scalars, one-line flow
//! collections and comments. [`parse`] reads that subset directly into a
//! `serde_json::Value`, and **declines** (returns `None`) on anything else: anchors, aliases,
//! tags, complex keys, multi-line plain or quoted scalars, directives, duplicated keys,
//! explicit indentation indicators, tabs in indentation, control characters, deep nesting.
//! The caller then parses the document with `serde_yaml_ng`, which gives the exact value or
//! the exact error. So the fast path never changes a result, it only skips work: the value it
//! returns is the one `serde_yaml_ng` would give through [`crate::yaml::StrictValue`], including
//! the resolution of plain scalars (null, booleans, integers with `0x`/`0o`/`0b`, floats,
//! leading-zero digit strings), which is mirrored here rule by rule. A differential test over
//! every document of the manifest corpus and a table of edge cases holds it to that.
//!
//! No YAML crate offers "parse this subset or tell me you can't", which is what keeps the
//! fallback exact, hence this module.

use serde_json::{Map, Number, Value};

/// Why the fast path gave up; never shown to users (the fallback parser speaks for itself).
struct Decline;

type R<T> = Result<T, Decline>;

/// Deepest nesting accepted (libyaml's limit through serde_yaml_ng is 128).
const MAX_DEPTH: usize = 100;

/// Longest flow collection (in lines) the fast path reassembles.
const MAX_FLOW_LINES: usize = 10_000;

#[derive(Clone, Copy)]
struct Line<'a> {
    /// Leading spaces.
    indent: usize,
    /// The rest of the line (without the line break and a trailing `\r`).
    text: &'a str,
}

impl Line<'_> {
    fn is_blank(&self) -> bool {
        self.text.trim_ascii().is_empty()
    }
    fn is_comment(&self) -> bool {
        self.text.starts_with('#')
    }
    fn is_seq_item(&self) -> bool {
        let b = self.text.as_bytes();
        b.first() == Some(&b'-') && matches!(b.get(1), None | Some(b' '))
    }
}

/// Parses one YAML document in the supported subset; `None` when the document needs the full
/// parser (or is invalid).
pub(crate) fn parse(text: &str) -> Option<Value> {
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') || b == 0x7f)
        || text.starts_with('\u{feff}')
        || !text.is_ascii() && !text.chars().all(printable)
    {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 24 + 1);
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let text = raw.trim_start_matches(' ');
        let indent = raw.len() - text.len();
        if text.starts_with('\t') && !text.trim_ascii().is_empty() {
            return None; // tab in indentation
        }
        lines.push(Line { indent, text });
    }
    let final_break = text.ends_with('\n');
    if final_break {
        lines.pop(); // the empty "line" after the last line break
    }
    let mut p = Parser {
        lines,
        pos: 0,
        depth: 0,
        final_break,
    };
    let r = p.document().ok();
    #[cfg(test)]
    if r.is_none() {
        DECLINED_AT.set(p.pos);
    }
    r
}

#[cfg(test)]
thread_local! {
    static DECLINED_AT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// YAML's printable set (libyaml refuses the rest, and a byte-order mark inside a document).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
    /// Whether the document's last line ends with a line break.
    final_break: bool,
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> R<Value> {
        self.skip();
        let line = self.cur().ok_or(Decline)?;
        if line.indent == 0 && line.text.starts_with('%') {
            return Err(Decline);
        }
        if line.indent == 0 && line.text.starts_with("---") {
            let rest = line.text[3..].trim_ascii();
            if !(rest.is_empty()
                || line.text[3..].starts_with([' ', '\t']) && rest.starts_with('#'))
            {
                return Err(Decline);
            }
            self.pos += 1;
            self.skip();
        }
        if self.cur().is_none() {
            return Err(Decline);
        }
        let v = self.block(None)?;
        self.skip();
        if self.cur().is_some() {
            return Err(Decline);
        }
        Ok(v)
    }

    fn cur(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// Moves past blank and comment lines.
    fn skip(&mut self) {
        while let Some(l) = self.cur() {
            if l.is_blank() || l.is_comment() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Decline);
        }
        Ok(())
    }

    /// A block node on the current (significant) line, indented more than `parent`.
    fn block(&mut self, parent: Option<usize>) -> R<Value> {
        self.enter()?;
        let line = self.cur().ok_or(Decline)?;
        if parent.is_some_and(|p| line.indent <= p) {
            return Err(Decline);
        }
        let v = if line.is_seq_item() {
            self.sequence(line.indent)?
        } else if find_key(line.text)?.is_some() {
            self.mapping(line.indent)?
        } else {
            // a lone scalar or flow node
            match parent {
                Some(p) => self.inline_then_continuation(p, line.text)?,
                None => {
                    let v = inline_value(line.text)?;
                    self.pos += 1;
                    self.ensure_not_deeper(parent)?;
                    v
                }
            }
        };
        self.depth -= 1;
        Ok(v)
    }

    /// After a one-line value: the next significant line must not be indented more than the
    /// owner (that would be a multi-line scalar or an error).
    fn ensure_not_deeper(&mut self, owner: Option<usize>) -> R<()> {
        self.skip();
        match (self.cur(), owner) {
            (Some(l), Some(n)) if l.indent > n => Err(Decline),
            (Some(_), None) => Err(Decline),
            _ => Ok(()),
        }
    }

    fn mapping(&mut self, indent: usize) -> R<Value> {
        let mut map = Map::new();
        loop {
            self.skip();
            let Some(line) = self.cur() else { break };
            if line.indent < indent {
                break;
            }
            if line.indent > indent || line.is_seq_item() {
                return Err(Decline);
            }
            let (key, rest) = find_key(line.text)?.ok_or(Decline)?;
            let value = self.value_after(indent, rest, true)?;
            if map.contains_key(&key) {
                return Err(Decline);
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn sequence(&mut self, indent: usize) -> R<Value> {
        let mut items = Vec::new();
        loop {
            self.skip();
            let Some(line) = self.cur() else { break };
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(Decline);
            }
            if !line.is_seq_item() {
                break;
            }
            let after = &line.text[1..];
            let rest = after.trim_start_matches(' ');
            if rest.starts_with('\t') {
                return Err(Decline);
            }
            let column = indent + 1 + (after.len() - rest.len());
            let item = if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                self.skip();
                match self.cur() {
                    Some(l) if l.indent > indent => self.block(Some(indent))?,
                    _ => Value::Null,
                }
            } else if (Line {
                indent: column,
                text: rest,
            })
            .is_seq_item()
                || find_key(rest)?.is_some()
            {
                // `- key: value` / `- - x`: the node starts at the item's column
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                };
                self.block(Some(indent))?
            } else {
                self.value_after(indent, rest, false)?
            };
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// The value after `key:` or `- ` on the current line (`rest`, trimmed at the start), owned
    /// by a node at `owner` indentation. `compact_seq`: a sequence at the owner's own
    /// indentation may follow (`key:\n- a`).
    fn value_after(&mut self, owner: usize, rest: &'a str, compact_seq: bool) -> R<Value> {
        if rest.is_empty() || rest.starts_with('#') {
            self.pos += 1;
            self.skip();
            return match self.cur() {
                Some(l) if l.indent > owner => self.block(Some(owner)),
                Some(l) if compact_seq && l.indent == owner && l.is_seq_item() => {
                    self.enter()?;
                    let v = self.sequence(owner)?;
                    self.depth -= 1;
                    Ok(v)
                }
                _ => Ok(Value::Null),
            };
        }
        if rest.starts_with(['|', '>']) {
            return self.block_scalar(owner, rest);
        }
        self.inline_then_continuation(owner, rest)
    }

    /// A one-line value, or a plain scalar continued on more-indented lines (folded into one
    /// string the way YAML folds plain scalars).
    fn inline_then_continuation(&mut self, owner: usize, rest: &'a str) -> R<Value> {
        let v = match inline_value(rest) {
            Ok(v) => v,
            Err(Decline) if rest.starts_with(['"', '\'']) => {
                return self.multiline_quoted(owner, rest);
            }
            Err(Decline) if rest.starts_with(['[', '{']) => {
                return self.multiline_flow(owner, rest);
            }
            Err(Decline) => return Err(Decline),
        };
        self.pos += 1;
        let next_deeper = {
            let mut i = self.pos;
            while self.lines.get(i).is_some_and(|l| l.is_blank()) {
                i += 1;
            }
            self.lines.get(i).is_some_and(|l| l.indent > owner)
        };
        if !next_deeper {
            self.ensure_not_deeper(Some(owner))?;
            return Ok(v);
        }
        // only a plain scalar without a comment can continue
        let first = rest.trim_end_matches([' ', '\t']);
        if rest.starts_with(['"', '\'', '[', '{']) || first.contains(" #") || first.contains("\t#")
        {
            return Err(Decline);
        }
        let mut text = first.to_owned();
        let mut empties = 0usize;
        while let Some(l) = self.cur() {
            if l.is_blank() {
                empties += 1;
                self.pos += 1;
                continue;
            }
            if l.indent <= owner {
                break;
            }
            let t = l.text.trim_end_matches([' ', '\t']);
            if t.starts_with([
                '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
                '%', '@', '`', '\t',
            ]) || t.contains(": ")
                || t.contains(":\t")
                || t.ends_with(':')
                || t.contains(" #")
                || t.contains("\t#")
            {
                return Err(Decline);
            }
            if empties == 0 {
                text.push(' ');
            } else {
                text.extend(std::iter::repeat_n('\n', empties));
            }
            text.push_str(t);
            empties = 0;
            self.pos += 1;
        }
        self.ensure_not_deeper(Some(owner))?;
        Ok(resolve_plain(&text))
    }

    /// A quoted scalar whose closing quote is on a later line. Lines fold as YAML folds flow
    /// scalars: one line break becomes a space, `k` empty lines become `k` line breaks, and
    /// the white space around breaks is dropped. Escaped line breaks are left to the full
    /// parser.
    fn multiline_quoted(&mut self, owner: usize, rest: &'a str) -> R<Value> {
        let q = rest.as_bytes()[0];
        let mut out = String::new();
        let mut seg = &rest[1..];
        loop {
            let (piece, end) = scan_quoted(seg, q)?;
            match end {
                Some(e) => {
                    out.push_str(&piece);
                    trailing_comment_only(&seg[e..])?;
                    self.pos += 1;
                    break;
                }
                None => {
                    let raw = seg.trim_end_matches([' ', '\t']);
                    if q == b'"' && raw.ends_with('\\') {
                        return Err(Decline);
                    }
                    // unescaped text of the trimmed line (escapes cannot end in white space)
                    let (piece, _) = scan_quoted(raw, q)?;
                    out.push_str(&piece);
                }
            }
            self.pos += 1;
            let mut empties = 0usize;
            while self.cur().is_some_and(|l| l.is_blank()) {
                empties += 1;
                self.pos += 1;
            }
            let line = self.cur().ok_or(Decline)?;
            if line.indent <= owner {
                return Err(Decline);
            }
            if empties == 0 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', empties));
            }
            seg = line.text;
        }
        self.ensure_not_deeper(Some(owner))?;
        Ok(Value::String(out))
    }

    /// A flow collection over several lines: the lines (trimmed) are joined with single
    /// spaces, which is how line breaks fold inside flow nodes; comments and empty lines in
    /// between are left to the full parser.
    fn multiline_flow(&mut self, owner: usize, rest: &'a str) -> R<Value> {
        let mut joined = rest.trim_end_matches([' ', '\t']).to_owned();
        let check = |t: &str| {
            if t.contains('#') || t.ends_with('\\') {
                Err(Decline)
            } else {
                Ok(())
            }
        };
        check(&joined)?;
        loop {
            self.pos += 1;
            let line = self.cur().ok_or(Decline)?;
            if line.is_blank() || line.indent <= owner {
                return Err(Decline);
            }
            let t = line.text.trim_end_matches([' ', '\t']);
            check(t)?;
            joined.push(' ');
            joined.push_str(t);
            let mut i = 0;
            match flow(&joined, &mut i, 0) {
                Ok(v) if joined[i..].trim_ascii().is_empty() => {
                    self.pos += 1;
                    self.ensure_not_deeper(Some(owner))?;
                    return Ok(v);
                }
                Ok(_) => return Err(Decline),
                Err(Decline) if self.pos - 1 > MAX_FLOW_LINES => return Err(Decline),
                Err(Decline) => {}
            }
        }
    }

    /// A literal (`|`) or folded (`>`) block scalar; the header is `rest`.
    fn block_scalar(&mut self, owner: usize, header: &str) -> R<Value> {
        let folded = header.starts_with('>');
        let mut chomp = Chomp::Clip;
        let mut tail = &header[1..];
        if let Some(t) = tail.strip_prefix('-') {
            chomp = Chomp::Strip;
            tail = t;
        } else if let Some(t) = tail.strip_prefix('+') {
            chomp = Chomp::Keep;
            tail = t;
        }
        let t = tail.trim_start_matches([' ', '\t']);
        if !(t.is_empty() || t.starts_with('#') && t.len() < tail.len()) {
            return Err(Decline); // indentation indicator or junk
        }
        self.pos += 1;
        // content: blank lines and lines indented more than the owner
        let start = self.pos;
        let mut content_indent = None;
        while let Some(l) = self.cur() {
            if l.is_blank() {
                if l.text.contains('\t') {
                    return Err(Decline);
                }
                self.pos += 1;
                continue;
            }
            if l.indent <= owner {
                break;
            }
            match content_indent {
                None => content_indent = Some(l.indent),
                Some(ci) if l.indent < ci => return Err(Decline),
                Some(_) => {}
            }
            self.pos += 1;
        }
        let end = self.pos;
        let Some(ci) = content_indent else {
            return match chomp {
                Chomp::Keep => Err(Decline),
                _ => Ok(Value::String(String::new())),
            };
        };
        let lines = &self.lines[start..end];
        // whitespace-only lines longer than the indentation are content in YAML: leave them
        // to the full parser
        if lines
            .iter()
            .any(|l| l.is_blank() && l.indent + l.text.len() > ci)
        {
            return Err(Decline);
        }
        let last = lines.iter().rposition(|l| !l.is_blank()).ok_or(Decline)?;
        let trailing = lines.len() - 1 - last;
        // the last line of the document may lack its line break
        let unterminated = end == self.lines.len() && !self.final_break;
        if unterminated && trailing > 0 {
            return Err(Decline);
        }
        let mut out = String::new();
        if folded {
            let mut empties = 0usize;
            let mut first = true;
            for l in &lines[..=last] {
                if l.is_blank() {
                    if first {
                        return Err(Decline); // leading empty lines
                    }
                    empties += 1;
                    continue;
                }
                if l.indent > ci || l.text.starts_with('\t') {
                    return Err(Decline); // more-indented lines keep their breaks
                }
                if !first {
                    if empties == 0 {
                        out.push(' ');
                    } else {
                        out.extend(std::iter::repeat_n('\n', empties));
                    }
                }
                out.push_str(l.text);
                empties = 0;
                first = false;
            }
        } else {
            for (i, l) in lines[..=last].iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                if !l.is_blank() {
                    out.extend(std::iter::repeat_n(' ', l.indent - ci));
                    out.push_str(l.text);
                }
            }
        }
        match chomp {
            Chomp::Strip => {}
            _ if unterminated => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => out.extend(std::iter::repeat_n('\n', 1 + trailing)),
        }
        Ok(Value::String(out))
    }
}

#[derive(Clone, Copy)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// If `text` starts with a mapping key (`key:` followed by a space or the end), the key and
/// the rest of the line after the colon (trimmed at the start).
fn find_key(text: &str) -> R<Option<(String, &str)>> {
    let b = text.as_bytes();
    let Some(&c0) = b.first() else {
        return Ok(None);
    };
    let (key, after) = match c0 {
        b'"' | b'\'' => {
            let (s, used) = quoted(text)?;
            let after = text[used..].trim_start_matches(' ');
            if !after.starts_with(':') {
                return Ok(None);
            }
            (s, &after[1..])
        }
        b'[' | b'{' => return Ok(None),
        b'?' | b':' | b'-' | b',' | b']' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>'
        | b'%' | b'@' | b'`' => {
            // indicators: `- x` and `-x: y` and `? key` are not for the fast path as keys
            if text.contains(": ") || text.ends_with(':') {
                return Err(Decline);
            }
            return Ok(None);
        }
        _ => {
            let mut i = 0;
            loop {
                match b.get(i) {
                    None => return Ok(None),
                    Some(b':') => match b.get(i + 1) {
                        None | Some(b' ') => break,
                        Some(b'\t') => return Err(Decline),
                        _ => {}
                    },
                    Some(b'#') if i > 0 && matches!(b[i - 1], b' ' | b'\t') => return Ok(None),
                    _ => {}
                }
                i += 1;
            }
            let key = text[..i].trim_end_matches([' ', '\t']);
            if key.len() > 1000 {
                return Err(Decline); // libyaml limits implicit keys to 1024 characters
            }
            match resolve_plain(key) {
                Value::String(s) if !s.is_empty() => (s, &text[i + 1..]),
                _ => return Err(Decline), // non-string keys are stringified by the full path
            }
        }
    };
    match after.as_bytes().first() {
        None | Some(b' ') => Ok(Some((key, after.trim_start_matches(' ')))),
        _ => Err(Decline),
    }
    .and_then(|r| match r {
        Some((_, rest)) if rest.starts_with('\t') => Err(Decline),
        r => Ok(r),
    })
}

/// A value written on one line: quoted, flow or plain, with an optional trailing comment.
fn inline_value(text: &str) -> R<Value> {
    let b = text.as_bytes();
    match b.first() {
        Some(b'"' | b'\'') => {
            let (s, used) = quoted(text)?;
            trailing_comment_only(&text[used..])?;
            Ok(Value::String(s))
        }
        Some(b'[' | b'{') => {
            let mut i = 0;
            let v = flow(text, &mut i, 0)?;
            trailing_comment_only(&text[i..])?;
            Ok(v)
        }
        Some(b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'|' | b'>' | b',' | b']' | b'}' | b'#') => {
            Err(Decline)
        }
        Some(b'-' | b'?' | b':') if matches!(b.get(1), None | Some(b' ' | b'\t')) => Err(Decline),
        _ => {
            let mut end = text.len();
            for (i, c) in b.iter().enumerate() {
                if *c == b'#' && i > 0 && matches!(b[i - 1], b' ' | b'\t') {
                    end = i;
                    break;
                }
            }
            let s = text[..end].trim_end_matches([' ', '\t']);
            if s.contains(": ") || s.contains(":\t") || s.ends_with(':') {
                return Err(Decline);
            }
            Ok(resolve_plain(s))
        }
    }
}

fn trailing_comment_only(rest: &str) -> R<()> {
    let t = rest.trim_start_matches([' ', '\t']);
    if t.is_empty() || t.starts_with('#') && t.len() < rest.len() {
        Ok(())
    } else {
        Err(Decline)
    }
}

/// A single- or double-quoted scalar that ends on this line; returns it and the bytes used.
fn quoted(text: &str) -> R<(String, usize)> {
    match scan_quoted(&text[1..], text.as_bytes()[0])? {
        (s, Some(used)) => Ok((s, used + 1)),
        (_, None) => Err(Decline), // continues on the next line
    }
}

/// Scans the inside of a `q`-quoted scalar from the start of `seg`: the unescaped text and,
/// when the closing quote is on this segment, the index just after it.
fn scan_quoted(seg: &str, q: u8) -> R<(String, Option<usize>)> {
    let b = seg.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut run = 0; // start of the pending unescaped run
    while i < b.len() {
        let c = b[i];
        if q == b'\'' {
            if c == b'\'' {
                out.push_str(&seg[run..i]);
                if b.get(i + 1) == Some(&b'\'') {
                    out.push('\'');
                    i += 2;
                    run = i;
                    continue;
                }
                return Ok((out, Some(i + 1)));
            }
        } else if c == b'"' {
            out.push_str(&seg[run..i]);
            return Ok((out, Some(i + 1)));
        } else if c == b'\\' {
            out.push_str(&seg[run..i]);
            let (ch, used) = escape(&seg[i + 1..])?;
            out.push(ch);
            i += 1 + used;
            run = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&seg[run..]);
    Ok((out, None))
}

/// One escape of a double-quoted scalar (after the backslash): the character and the bytes
/// used.
fn escape(s: &str) -> R<(char, usize)> {
    let c = *s.as_bytes().first().ok_or(Decline)?;
    let simple = match c {
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b't' | b'\t' => '\t',
        b'n' => '\n',
        b'v' => '\u{b}',
        b'f' => '\u{c}',
        b'r' => '\r',
        b'e' => '\u{1b}',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(1..1 + n).ok_or(Decline)?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return Err(Decline);
            }
            let code = u32::from_str_radix(hex, 16).map_err(|_| Decline)?;
            return Ok((char::from_u32(code).ok_or(Decline)?, 1 + n));
        }
        _ => return Err(Decline),
    };
    Ok((simple, 1))
}

/// A flow node (`[...]`, `{...}`, quoted or plain scalar) on one line, from byte `*i`.
fn flow(text: &str, i: &mut usize, depth: usize) -> R<Value> {
    if depth > MAX_DEPTH {
        return Err(Decline);
    }
    let b = text.as_bytes();
    skip_ws(b, i);
    match b.get(*i) {
        Some(b'[') => {
            *i += 1;
            let mut items = Vec::new();
            loop {
                skip_ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return Ok(Value::Array(items));
                }
                items.push(flow(text, i, depth + 1)?);
                skip_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(Value::Array(items));
                    }
                    _ => return Err(Decline),
                }
            }
        }
        Some(b'{') => {
            *i += 1;
            let mut map = Map::new();
            loop {
                skip_ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return Ok(Value::Object(map));
                }
                let key = match flow(text, i, depth + 1)? {
                    Value::String(s) if !s.is_empty() => s,
                    _ => return Err(Decline),
                };
                skip_ws(b, i);
                if b.get(*i) != Some(&b':') || !matches!(b.get(*i + 1), Some(b' ')) {
                    return Err(Decline);
                }
                *i += 1;
                skip_ws(b, i);
                let value = match b.get(*i) {
                    Some(b',' | b'}') => Value::Null,
                    _ => flow(text, i, depth + 1)?,
                };
                if map.contains_key(&key) {
                    return Err(Decline);
                }
                map.insert(key, value);
                skip_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(Value::Object(map));
                    }
                    _ => return Err(Decline),
                }
            }
        }
        Some(b'"' | b'\'') => {
            let (s, used) = quoted(&text[*i..])?;
            *i += used;
            Ok(Value::String(s))
        }
        Some(c) if !b"&*!%@`|>,[]{}#?:-".contains(c) => {
            let start = *i;
            while let Some(&c) = b.get(*i) {
                match c {
                    b',' | b'[' | b']' | b'{' | b'}' => break,
                    b':' => match b.get(*i + 1) {
                        // `key: value` inside a flow mapping ends the key
                        Some(b' ') => break,
                        // `host:80` is one plain scalar
                        Some(c) if !b" \t,[]{}?".contains(c) => *i += 1,
                        _ => return Err(Decline),
                    },
                    b'#' if matches!(b[*i - 1], b' ' | b'\t') => return Err(Decline),
                    _ => *i += 1,
                }
            }
            let s = text[start..*i].trim_end_matches([' ', '\t']);
            Ok(resolve_plain(s))
        }
        _ => Err(Decline),
    }
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while matches!(b.get(*i), Some(b' ' | b'\t')) {
        *i += 1;
    }
}

/// The value of an untagged plain scalar, as serde_yaml_ng resolves it and
/// [`crate::yaml::StrictValue`] stores it.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        // cannot be a number: the common case, decided without parsing
        if !s.eq_ignore_ascii_case("inf")
            && !s.eq_ignore_ascii_case("infinity")
            && !s.eq_ignore_ascii_case("nan")
        {
            return Value::String(s.to_owned());
        }
    }
    if let Some(u) = unsigned_int::<u64>(s, u64::from_str_radix) {
        return Value::Number(u.into());
    }
    if let Some(n) = negative_int::<i64>(s, i64::from_str_radix) {
        return Value::Number(n.into());
    }
    if unsigned_int::<u128>(s, u128::from_str_radix).is_some()
        || negative_int::<i128>(s, i128::from_str_radix).is_some()
    {
        return Value::String(s.to_owned()); // StrictValue keeps 128-bit integers as text
    }
    if !digits_but_not_number(s)
        && let Some(f) = float(s)
    {
        return Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string()));
    }
    Value::String(s.to_owned())
}

fn unsigned_int<T>(
    s: &str,
    radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    let unpositive = s.strip_prefix('+').unwrap_or(s);
    for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(v) = radix(rest, r) {
                return Some(v);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(s) {
        return None;
    }
    radix(unpositive, 10).ok()
}

fn negative_int<T>(
    s: &str,
    radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    for (prefix, r) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix)
            && let Ok(v) = radix(&format!("-{rest}"), r)
        {
            return Some(v);
        }
    }
    if digits_but_not_number(s) {
        return None;
    }
    radix(s, 10).ok()
}

fn float(s: &str) -> Option<f64> {
    let unpositive = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return None,
        Some(u) => u,
        None => s,
    };
    if matches!(unpositive, ".inf" | ".Inf" | ".INF") {
        return Some(f64::INFINITY);
    }
    if matches!(s, "-.inf" | "-.Inf" | "-.INF") {
        return Some(f64::NEG_INFINITY);
    }
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use super::*;
    use crate::yaml::StrictValue;

    fn full(text: &str) -> Option<Value> {
        serde_yaml_ng::from_str::<StrictValue>(text)
            .ok()
            .map(|StrictValue(v)| v)
    }

    /// Every case either declines or agrees with the full parser; `fast` lists the cases
    /// that must take the fast path.
    #[test]
    fn agrees_with_the_full_parser_or_declines() {
        let fast = [
            "a: 1\nb: two\n",
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {app: web, tier: \"1\"}\n",
            "spec:\n  containers:\n  - name: a\n    image: nginx:1.25\n    ports:\n    - containerPort: 80\n      protocol: TCP\n  - name: b\n    args: [\"--x\", '--y', z]\n",
            "items:\n  - - a\n    - b\n  - c\n",
            "a:\n- 1\n- 2\nb: 3\n",
            "s: |\n  line 1\n    indented\n\n  line 3\n\nnext: x\n",
            "s: |-\n  a\n  b\n\n\n",
            "s: |+\n  a\n\n\nt: 1\n",
            "s: >\n  folded\n  text\n\n  para\n",
            "s: >-\n  one\n  two\n",
            "q: 'it''s'\nd: \"tab\\there \\u00e9 \\\"q\\\"\"\n",
            "n: ~\nm: null\ne:\nt: True\nf: FALSE\n",
            "i: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nbin: 0b101\nz: 0\nlead: 0123\nneglead: -012\n",
            "f: 1.5\ng: -0.25\nh: 1e3\nj: .5\nk: 1.\ninf: .inf\nninf: -.Inf\nnan: .NaN\nword: inf\n",
            "big: 123456789012345678901234567890\nnegbig: -123456789012345678901234567890\n",
            "cpu: 500m\nmem: 128Mi\nver: 1.2.3\nrange: 3000-4000\nurl: http://x:80/a#b\n",
            "a: b # comment\n# full line\nc: 'd' # c\ne: [1, 2] # c\n",
            "empty_list: []\nempty_map: {}\nnested: {a: [1, {b: c}], d: }\n",
            "key with spaces: v\n\"quoted key\": 1\n'single': 2\n",
            "a:\n  b:\n    c:\n      d: deep\n",
            "- a\n- b: 1\n  c: 2\n-\n- - x\n",
            "plain\n",
            "a: -1x\nb: +1\nc: +.5\nd: 1_000\ne: 0x\nf: -0x1A\ng: 1e400\n",
            "s: |\n  a\n# comment at column 0\nt: 1\n",
            "a:   spaced value   \nb:\n\n  c: 1\n",
            "win: 1\r\nlines: 2\r\n",
            "text: caf\u{e9} \u{2603}\n",
            "s: |\n  no final break",
            "s: |+\n  kept\n",
            "s: >\n  a\n  b",
            "a: 1",
            "d: a plain\n  scalar over\n\n  three lines\nnext: 1\n",
            "- item that\n  continues\n- 12\n  34\n",
            "k:\n  - x\n    y\n",
            "d:\n  on its own line\n  and the next\ne: 1\n",
            "q: 'single over\n  two lines'\nr: \"double over\n\n  three \\t lines\" # c\n",
            "c: [\"/proxy\",\n    \"-x=1\"]\nt: [frontend:80, a:b]\n",
            "m: {a: 1,\n  b: [2,\n  3]}\n",
            "e: \"x}}\n  \\ P90\"\n",
        ];
        for case in fast {
            let want = full(case).unwrap_or_else(|| panic!("full parser refused {case:?}"));
            let got = parse(case).unwrap_or_else(|| panic!("declined {case:?}"));
            assert_eq!(got, want, "{case:?}");
        }
        let declined = [
            "a: &x 1\nb: *x\n",
            "a: !tag 1\n",
            "? complex\n: v\n",
            "a: 1\na: 2\n",
            "a: multi # c\n  line plain\n",
            "a: multi\n  - line\n",
            "a: \"multi \\\n  line\"\n",
            "a: [x, # c\n  y]\n",
            "%YAML 1.2\n---\na: 1\n",
            "a:\n\tb: 1\n",
            "s: |2\n    x\n",
            "1: x\n",
            "true: y\n",
            "a: b: c\n",
            "{\"a\": 1,\n \"b\": 2}\n",
            "s: >\n  a\n    more\n  b\n",
            "--- x\n",
            "a: 1\n  b: 2\n",
        ];
        for case in declined {
            assert_eq!(parse(case), None, "{case:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = String::new();
        for i in 0..200 {
            deep.push_str(&" ".repeat(i));
            deep.push_str("a:\n");
        }
        assert_eq!(parse(&deep), None);
        let flow = format!("a: {}{}\n", "[".repeat(300), "]".repeat(300));
        assert_eq!(parse(&flow), None);
    }

    /// The fast path over every document of the manifest corpus: where it answers, it answers
    /// exactly what the full parser does (and never accepts what the full parser refuses), and
    /// it answers for nearly all real documents.
    #[test]
    fn corpus_documents_agree_with_the_full_parser() {
        let Some(root) = palisade_testkit::corpus("manifests") else {
            return;
        };
        let (mut total, mut fast, mut mismatches) = (0usize, 0usize, Vec::new());
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy();
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) || !entry.file_type().is_file()
            {
                continue;
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            for (i, chunk) in crate::yaml::split_documents(&bytes).iter().enumerate() {
                let Ok(text) = std::str::from_utf8(chunk.text) else {
                    continue;
                };
                if crate::yaml::is_blank(chunk.text) {
                    continue;
                }
                total += 1;
                let Some(got) = parse(text) else {
                    if std::env::var_os("FASTYAML_SHOW").is_some() && full(text).is_some() {
                        let at = DECLINED_AT.get();
                        let line = text.split('\n').nth(at).unwrap_or("");
                        println!("DECLINED {}#{i} line {at}: {line}", entry.path().display());
                    }
                    continue;
                };
                fast += 1;
                if full(text).as_ref() != Some(&got) {
                    mismatches.push(format!("{}#{i}", entry.path().display()));
                }
            }
        }
        println!("fast path: {fast} of {total} corpus documents");
        assert!(
            mismatches.is_empty(),
            "{} mismatches: {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(20)]
        );
        assert!(total > 2000, "{total} documents");
        assert!(
            fast * 100 >= total * 90,
            "fast path for only {fast} of {total} documents"
        );
    }
}
