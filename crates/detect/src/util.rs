//! Small matching and time helpers the operators and fields need.
//!
//! Globs follow `fnmatch(3)` without flags, as libsinsp's `glob` operator does (`*` also
//! matches `/`), which `globset` (path-oriented, compiled to regexes) does not reproduce; the
//! matcher is a few lines of backtracking. Timestamps are RFC 3339 as Kubernetes writes them;
//! a civil-date conversion avoids a date-time dependency for two functions.

/// `fnmatch`-style glob: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, `\` escapes.
pub(crate) fn glob_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if case_insensitive {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti], case_insensitive) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if eq('[', t[ti]) {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if eq(p[pi + 1], t[ti]) {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, t[ti]) {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`. Returns whether it matched
/// and the index after the class, or `None` when the class is not closed.
fn class_match(p: &[char], start: usize, c: char, ci: bool) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let norm = |x: char| if ci { x.to_ascii_lowercase() } else { x };
    let c = norm(c);
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = norm(p[i]);
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = norm(p[i + 2]);
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// `pmatch`: whether `path` is one of `prefixes` or below one of them (component-wise, so
/// `/etc` matches `/etc/passwd` but not `/etcd`).
pub(crate) fn path_prefix_match(prefixes: &[Box<str>], path: &str) -> bool {
    prefixes.iter().any(|pre| {
        let pre = if pre.len() > 1 {
            pre.trim_end_matches('/')
        } else {
            pre
        };
        if pre == "/" {
            return path.starts_with('/');
        }
        path == pre || (path.starts_with(pre) && path.as_bytes().get(pre.len()) == Some(&b'/'))
    })
}

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00.123456Z`, offsets allowed) into
/// nanoseconds since the Unix epoch.
pub(crate) fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    // Fixed-width fields of ASCII digits only (no signs), read without `str::parse`.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        let mut n = 0i64;
        for &c in d {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let frac = &s[i..i + digits];
        let mut n = 0i64;
        for c in frac.bytes().take(9) {
            n = n * 10 + i64::from(c - b'0');
        }
        for _ in frac.len()..9 {
            n *= 10;
        }
        nanos = n;
        i += digits;
    }
    // A time without an offset (as some exports write it) is taken as UTC.
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(b'+' | b'-') => {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = palisade_model::time::days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// `2024-05-01T10:00:00.123456789Z` (UTC, nanoseconds), Falco's `*.time.iso8601`.
pub(crate) fn format_iso8601(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, m, d) = palisade_model::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `10:00:00.123456789` (UTC), Falco's `evt.time`.
pub(crate) fn format_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let s = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{frac:09}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Decodes hex text (`bcontains cafebabe`) into bytes.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("/home/*/.ssh/*", "/home/bob/.ssh/id_rsa", false));
        assert!(glob_match("/proc/*/environ", "/proc/1/environ", false));
        assert!(glob_match("*", "a/b/c", false));
        assert!(!glob_match("/proc/*/environ", "/proc/1/environx", false));
        assert!(glob_match("a?c", "abc", false));
        assert!(glob_match("[a-c]x", "bx", false));
        assert!(!glob_match("[!a-c]x", "bx", false));
        assert!(glob_match("ABC*", "abcdef", true));
        assert!(!glob_match("ABC*", "abcdef", false));
    }

    #[test]
    fn path_prefixes() {
        let p: Vec<Box<str>> = vec!["/etc".into(), "/var/run/".into()];
        assert!(path_prefix_match(&p, "/etc"));
        assert!(path_prefix_match(&p, "/etc/passwd"));
        assert!(path_prefix_match(&p, "/var/run/docker.sock"));
        assert!(!path_prefix_match(&p, "/etcd/x"));
        assert!(!path_prefix_match(&p, "/usr"));
    }

    #[test]
    fn timestamps() {
        let n = parse_rfc3339_nanos("2019-01-01T12:34:56.123456Z").unwrap();
        assert_eq!(format_iso8601(n), "2019-01-01T12:34:56.123456000Z");
        assert_eq!(format_time(n), "12:34:56.123456000");
        assert_eq!(
            parse_rfc3339_nanos("2019-01-01T14:34:56+02:00"),
            parse_rfc3339_nanos("2019-01-01T12:34:56Z")
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01Z"),
            Some(1_000_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("garbage"), None);
        assert_eq!(parse_rfc3339_nanos("2019-+1-01T12:34:56Z"), None);
        assert_eq!(parse_rfc3339_nanos("2019-01-01T12:34:5éZ"), None);
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:00.123456789123Z"),
            Some(123_456_789)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T01:00:00.000000001+01:00"),
            Some(1)
        );
        // Exports without an offset, with a blank for the `T`: UTC.
        assert_eq!(parse_rfc3339_nanos("2019-01-01 12:34:56.123456"), Some(n));
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01 00:00:01"),
            Some(1_000_000_000)
        );
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("cafebabe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(decode_hex("abc"), None);
    }
}
