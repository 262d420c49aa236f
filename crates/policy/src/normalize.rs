//! Source-level rewrites of Gatekeeper Rego before it reaches the Rego engine.
//!
//! Gatekeeper templates are Rego v0 and Gatekeeper evaluates them with OPA. The engine used here
//! (`regorus`, v0 mode) rejects a few constructs OPA accepts, and differs from OPA on two
//! evaluation details. Rather than fork the engine, the text is rewritten into Rego that means,
//! under this engine, what the original means under OPA. The rewrites are purely textual and
//! line-based; each one is narrow so that it cannot touch code it was not written for:
//!
//! 1. **Multi-body rules** `head { a } { b }`: OPA reads the second body as another definition
//!    of the same rule (logical OR); the engine rejects it ("else cannot be used with set
//!    rules"). They are split into separate definitions with the same head: `head { a }` and
//!    `head { b }`. Only a top-level line that is exactly `} {` is rewritten, with the head of
//!    the top-level rule it continues.
//!
//! 2. **A body line that starts with `(`** right after a complete expression: OPA ends an
//!    expression at the newline, the engine reads `term\n(expr)` as a call of `term`. The line
//!    is prefixed with `true; `, a no-op expression, so the two expressions stay apart
//!    (`x\n(a - b) >= c` becomes `x\ntrue; (a - b) >= c`). Only applied when the previous
//!    non-blank line does not end in something that continues an expression (an operator,
//!    `,`, `(`, `[`, `{`, `:=`, `=`).
//!
//! 3. **Negated calls with computed arguments** `not f(x.y, g(z))`: OPA's compiler hoists
//!    reference and call arguments out of the negation before evaluating it
//!    (`__t := x.y; not f(__t)`), so when `x.y` is undefined the whole expression is undefined
//!    and the rule body fails. The engine instead evaluates `not <undefined>` to true, which
//!    turns "parameter not set" into a violation (e.g. the `k8spspallowedusers` template with
//!    `rule: RunAsAny` and no `ranges`). A body line that is exactly `not name(args)` gets its
//!    reference and call arguments bound to fresh variables (`__palisade_not_N`) on the lines
//!    before it, the way OPA rewrites it. Plain variables, literals, arrays, objects and
//!    comprehensions stay in place.
//!
//! 4. **`sprintf` with fewer arguments than verbs**: Go's formatter (used by OPA) prints
//!    `%!v(MISSING)` for a verb without an argument; the engine raises an error, which drops
//!    the violation (e.g. `k8shorizontalpodautoscaler`, whose message has six `%v` and five
//!    arguments). When a `sprintf` call has a literal format string and a literal argument
//!    array with fewer elements than verbs, the excess verbs are replaced by the literal text
//!    Go would print (`%%!v(MISSING)` in the format string).
//!
//! Everything else is left as is.

/// Applies every rewrite.
pub(crate) fn rego(src: &str) -> String {
    let src = split_multi_body(src);
    let src = separate_parenthesised_lines(&src);
    let src = hoist_negated_call_arguments(&src);
    complete_sprintf_arguments(&src)
}

fn separate_parenthesised_lines(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut prev = "";
    for line in src.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indented = line.len() > trimmed.len();
        let prev_t = prev.trim_end();
        let continues = prev_t.is_empty()
            || prev_t.ends_with(|c: char| "([{,=+-*/|&<>!:".contains(c))
            || prev_t.ends_with(" in")
            || prev_t.ends_with(" not");
        if indented && trimmed.starts_with('(') && !continues {
            out.push_str(&line[..line.len() - trimmed.len()]);
            out.push_str("true; ");
            out.push_str(trimmed);
        } else {
            out.push_str(line);
        }
        if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            prev = line;
        }
    }
    out
}

/// Splits `head { ... } {` continuations into repeated heads.
fn split_multi_body(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 64);
    let mut current_head: Option<String> = None;
    for line in src.split_inclusive('\n') {
        let trimmed = line.trim();
        // A top-level rule head: starts at column 0, ends with `{`.
        let top_level = !line.starts_with(' ') && !line.starts_with('\t');
        if top_level && trimmed.ends_with('{') && !trimmed.starts_with('}') {
            current_head = Some(trimmed.trim_end_matches('{').trim_end().to_owned());
        }
        if top_level
            && trimmed == "} {"
            && let Some(head) = &current_head
        {
            out.push_str("}\n");
            out.push_str(head);
            out.push_str(" {\n");
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Splits the text between the parentheses of a call at its top-level commas. Returns `None`
/// when brackets or strings do not balance.
fn split_args(inner: &str) -> Option<Vec<&str>> {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => loop {
                match chars.next()? {
                    (_, '\\') => {
                        chars.next()?;
                    }
                    (_, '"') => break,
                    _ => {}
                }
            },
            '`' => while chars.next()?.1 != '`' {},
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                args.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    if !inner[start..].trim().is_empty() || !args.is_empty() {
        args.push(&inner[start..]);
    }
    Some(args)
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(s: &str) -> bool {
    s.starts_with(is_ident_start) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a call argument is a reference (`a.b`, `a[x]`) or a call (`f(x)`), which OPA binds
/// to a fresh variable before a negated call.
fn is_computed(arg: &str) -> bool {
    let arg = arg.trim();
    if !arg.starts_with(is_ident_start) || is_ident(arg) {
        return false;
    }
    // `x.y`, `x[..]`, `f(..)`, `a.b.f(..)`: an identifier path followed by `.`, `[` or `(`,
    // and no top-level operator (an infix expression is left alone).
    let head_end = arg
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(arg.len());
    let rest = &arg[head_end..];
    if !(rest.starts_with('.') || rest.starts_with('[') || rest.starts_with('(')) {
        return false;
    }
    let mut depth = 0usize;
    let mut in_str = false;
    let mut prev = ' ';
    for c in arg.chars() {
        if in_str {
            if c == '"' && prev != '\\' {
                in_str = false;
            }
        } else {
            match c {
                '"' => in_str = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                ' ' | '+' | '-' | '*' | '/' | '|' | '&' | '=' | '<' | '>' | '!' | ':'
                    if depth == 0 =>
                {
                    return false;
                }
                _ => {}
            }
        }
        prev = c;
    }
    true
}

/// Rewrite 3: `not f(a.b)` becomes `__palisade_not_N := a.b` + `not f(__palisade_not_N)`.
fn hoist_negated_call_arguments(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 64);
    let mut counter = 0usize;
    for line in src.split_inclusive('\n') {
        match hoisted(line, &mut counter) {
            Some(rewritten) => out.push_str(&rewritten),
            None => out.push_str(line),
        }
    }
    out
}

fn hoisted(line: &str, counter: &mut usize) -> Option<String> {
    let body = line.trim_end_matches(['\n', '\r']);
    let newline = &line[body.len()..];
    let trimmed = body.trim_start();
    let indent = &body[..body.len() - trimmed.len()];
    if indent.is_empty() {
        return None;
    }
    let call = trimmed.strip_prefix("not ")?.trim();
    let open = call.find('(')?;
    let name = &call[..open];
    if name.is_empty() || !name.split('.').all(is_ident) || !call.ends_with(')') {
        return None;
    }
    let inner = &call[open + 1..call.len() - 1];
    let args = split_args(inner)?;
    // The closing parenthesis must be the call's own (`f(a) == g(b)` is not a call line).
    let mut depth = 0i64;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    if !args.iter().any(|a| is_computed(a)) {
        return None;
    }
    let mut pre = String::new();
    let mut new_args = Vec::with_capacity(args.len());
    for a in args {
        if is_computed(a) {
            let var = format!("__palisade_not_{counter}");
            *counter += 1;
            pre.push_str(&format!("{indent}{var} := {}\n", a.trim()));
            new_args.push(var);
        } else {
            new_args.push(a.trim().to_owned());
        }
    }
    Some(format!(
        "{pre}{indent}not {name}({}){newline}",
        new_args.join(", ")
    ))
}

/// Number of formatting verbs in the body of a Rego string literal (`%%` is not a verb).
/// Returns the byte offsets of each verb's `%` in `body`.
fn verbs(body: &str) -> Vec<(usize, usize)> {
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'%') {
            if bytes.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && b"+-# 0123456789.".contains(&bytes[j]) {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                out.push((i, j + 1));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Rewrite 4: pads `sprintf("..%v..", [a])` format strings for missing arguments.
fn complete_sprintf_arguments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = rest.find("sprintf(") {
        let preceded_by_ident = rest[..pos]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let (head, tail) = rest.split_at(pos + "sprintf(".len());
        out.push_str(head);
        rest = tail;
        if preceded_by_ident {
            continue;
        }
        if let Some((replacement, consumed)) = padded_format(rest) {
            out.push_str(&replacement);
            rest = &rest[consumed..];
        }
    }
    out.push_str(rest);
    out
}

/// For the text after `sprintf(`, returns the rewritten format literal and the number of bytes
/// of the original literal, when the call has fewer array elements than verbs.
fn padded_format(after: &str) -> Option<(String, usize)> {
    let lead = after.len() - after.trim_start().len();
    let s = &after[lead..];
    let body_start = s.strip_prefix('"')?;
    // end of the string literal
    let mut end = None;
    let mut escaped = false;
    for (i, c) in body_start.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                end = Some(i);
                break;
            }
            '\n' => return None,
            _ => escaped = false,
        }
    }
    let end = end?;
    let body = &body_start[..end];
    let after_lit = body_start[end + 1..]
        .trim_start()
        .strip_prefix(',')?
        .trim_start();
    let array = after_lit.strip_prefix('[')?;
    // find the matching `]`
    let mut depth = 1usize;
    let mut close = None;
    let mut in_str = false;
    let mut prev = ' ';
    for (i, c) in array.char_indices() {
        if in_str {
            if c == '"' && prev != '\\' {
                in_str = false;
            }
        } else {
            match c {
                '"' => in_str = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        prev = c;
    }
    let elements = split_args(&array[..close?])?.len();
    let verbs = verbs(body);
    if verbs.len() <= elements {
        return None;
    }
    let mut padded = String::with_capacity(body.len() + 32);
    let mut last = 0;
    for &(start, stop) in verbs.iter().skip(elements) {
        padded.push_str(&body[last..start]);
        let verb = &body[stop - 1..stop];
        padded.push_str(&format!("%%!{verb}(MISSING)"));
        last = stop;
    }
    padded.push_str(&body[last..]);
    Some((format!("{}\"{padded}\"", &after[..lead]), lead + end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parenthesised_lines_after_a_complete_expression_are_separated() {
        let src = "p(h) {\n  input.x\n  (h.a - h.b) >= 1\n}\nq {\n  y := f(\n    (1 + 2)\n  )\n}\n";
        assert_eq!(
            rego(src),
            "p(h) {\n  input.x\n  true; (h.a - h.b) >= 1\n}\nq {\n  y := f(\n    (1 + 2)\n  )\n}\n"
        );
    }

    #[test]
    fn multi_body_rules_are_split() {
        let src = "package p\n\nallow[x] {\n  x := 1\n} {\n  x := 2\n}\n";
        assert_eq!(
            rego(src),
            "package p\n\nallow[x] {\n  x := 1\n}\nallow[x] {\n  x := 2\n}\n"
        );
    }

    #[test]
    fn negated_call_arguments_are_hoisted() {
        let src = "p {\n  not f(rule, v, params.ranges)\n  not g(h(c.name))\n  not k(x)\n  not a.b == c\n}\n";
        assert_eq!(
            rego(src),
            "p {\n  __palisade_not_0 := params.ranges\n  not f(rule, v, __palisade_not_0)\n  \
             __palisade_not_1 := h(c.name)\n  not g(__palisade_not_1)\n  not k(x)\n  not a.b == c\n}\n"
        );
    }

    #[test]
    fn negated_call_with_infix_or_literal_arguments_is_left_alone() {
        let src = "p {\n  not f(a.b + 1, \"x.y\", [a.b])\n  not f(a) == g(b)\n}\n";
        assert_eq!(rego(src), src);
    }

    #[test]
    fn sprintf_missing_arguments_are_printed_like_go() {
        let src = "m := sprintf(\"%v <%v> is %d: %v\", [a, b])\n";
        assert_eq!(
            rego(src),
            "m := sprintf(\"%v <%v> is %%!d(MISSING): %%!v(MISSING)\", [a, b])\n"
        );
        let ok = "m := sprintf(\"100%% %v\", [a])\nn := sprintf(msg, [a])\n";
        assert_eq!(rego(ok), ok);
    }
}
