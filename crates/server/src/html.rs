//! HTML building blocks of the dashboard: one escaper, the page layout, links, badges and a
//! server-rendered SVG bar chart.
//!
//! Pages are plain `format!` templates; every value that comes from data passes through
//! [`esc`] (text and attribute values alike: it escapes `& < > " '`), and every value placed in
//! a URL passes through [`url_part`] first. A template crate would add a proc-macro build for
//! a dozen small pages; the escaper is the only part that must be right, and it is tested.

use std::fmt::Write as _;

use palisade_model::Severity;

use crate::auth::Principal;

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a path segment or a
/// query value).
pub(crate) fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `path?k=v&...` with the non-empty parameters, encoded (not yet HTML-escaped).
pub(crate) fn link(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", url_part(v)))
        })
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A severity badge.
pub(crate) fn severity(s: Severity) -> String {
    format!("<span class=\"badge sev-{0}\">{0}</span>", s.as_str())
}

/// A status badge (`healthy`, `missing`, `active`, ...).
pub(crate) fn status(s: &str) -> String {
    format!("<span class=\"badge st-{0}\">{0}</span>", esc(s))
}

/// The sections of the navigation: path and label.
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/alerts", "Security alerts"),
    ("/recommendations", "Recommendations"),
    ("/inventory", "Inventory"),
    ("/images", "Images"),
    ("/coverage", "Coverage"),
];

/// A complete page: `title` becomes the `<title>` and the `<h1>`; `body` is trusted HTML.
pub(crate) fn page(title: &str, current: &str, who: Option<&Principal>, body: &str) -> String {
    let mut nav = String::new();
    if who.is_some() {
        nav.push_str("<nav aria-label=\"Main\"><ul>");
        for (path, label) in NAV {
            let aria = if *path == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<li><a href=\"{path}\"{aria}>{label}</a></li>");
        }
        nav.push_str("</ul></nav>");
    }
    let account = who.map_or_else(String::new, |p| {
        format!(
            "<form class=\"account\" method=\"post\" action=\"/logout\">\
             <span>{} ({})</span>\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Sign out</button></form>",
            esc(&p.token.label),
            p.token.role,
            esc(&p.csrf)
        )
    });
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · palisade</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><span class=\"brand\">palisade</span>{nav}{account}</header>\
         <main id=\"main\"><h1>{t}</h1>{body}</main></body></html>\n",
        t = esc(title)
    )
}

/// A horizontal bar chart as inline SVG, with a text alternative naming every value.
pub(crate) fn bar_chart(id: &str, title: &str, bars: &[(&str, u64)]) -> String {
    const ROW: u64 = 28;
    const LABEL: u64 = 110;
    const WIDTH: u64 = 240;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * u64::try_from(bars.len()).unwrap_or(0) + 4;
    let summary: Vec<String> = bars.iter().map(|(l, v)| format!("{l}: {v}")).collect();
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\">\
         <title id=\"{id}-t\">{title}</title><desc id=\"{id}-d\">{desc}</desc>",
        id = esc(id),
        w = LABEL + WIDTH + 50,
        title = esc(title),
        desc = esc(&summary.join(", "))
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = ROW * u64::try_from(i).unwrap_or(0) + 2;
        let w = value * WIDTH / max;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" class=\"chart-label\">{l}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{bh}\" class=\"bar sev-{l}\"></rect>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"chart-value\">{value}</text>",
            ty = y + 16,
            bh = ROW - 8,
            vx = LABEL + w + 6,
            l = esc(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `<option>`s of a select, the current value selected, with an empty "any" first.
pub(crate) fn options(values: &[&str], current: Option<&str>) -> String {
    let mut out = String::from("<option value=\"\">any</option>");
    for v in values {
        let sel = if current == Some(*v) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{sel}>{0}</option>", esc(v));
    }
    out
}

/// The embedded stylesheet.
pub(crate) const STYLE_CSS: &str = include_str!("../assets/style.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn links_encode_values_and_drop_empty_ones() {
        assert_eq!(
            link(
                "/inventory",
                &[("label", Some("app=web")), ("kind", None), ("x", Some(""))]
            ),
            "/inventory?label=app%3Dweb"
        );
        assert_eq!(url_part("sha256:ab/../c"), "sha256%3Aab%2F..%2Fc");
    }

    #[test]
    fn chart_names_every_value_in_its_text_alternative() {
        let svg = bar_chart("a", "Alerts <by> severity", &[("high", 3), ("low", 0)]);
        assert!(
            svg.contains("<desc id=\"a-d\">high: 3, low: 0</desc>"),
            "{svg}"
        );
        assert!(svg.contains("Alerts &lt;by&gt; severity"));
        assert!(
            svg.contains("width=\"240\""),
            "the largest bar spans the chart: {svg}"
        );
    }
}
