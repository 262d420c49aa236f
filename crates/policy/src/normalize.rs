//! Source-level rewrites of Gatekeeper Rego before it reaches the Rego engine.
//!
//! Gatekeeper templates are Rego v0. The engine (`regorus`, v0 mode) rejects some constructs
//! that OPA accepts; rather than fork the engine, the text is rewritten into equivalent Rego:
//!
//! 1. **Multi-body rules** `head { a } { b }`: OPA reads the second body as another definition
//!    of the same rule (logical OR). They are split into separate definitions with the same
//!    head: `head { a }` and `head { b }`. Only a top-level line that is exactly `} {` is
//!    rewritten, with the head of the top-level rule it continues.
//!
//! 2. **A body line that starts with `(`** right after a complete expression: OPA ends an
//!    expression at the newline, the engine reads `term\n(expr)` as a call of `term`. The
//!    line is prefixed with `true; `, a no-op expression, so the two expressions stay apart
//!    (`x\n(a - b) >= c` becomes `x\ntrue; (a - b) >= c`). Only applied when the previous
//!    non-blank line does not end in something that continues an expression (an operator,
//!    `,`, `(`, `[`, `{`, `:=`, `=`).
//!
//! Everything else is left as is.

/// Applies every rewrite.
pub(crate) fn rego(src: &str) -> String {
    separate_parenthesised_lines(&split_multi_body(src))
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
}
