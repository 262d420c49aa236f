//! Alpine package versions, ordered as apk-tools does (`apk version -t`).
//!
//! A version is a sequence of tokens: dot-separated numbers, one optional lowercase letter,
//! suffixes `_alpha`, `_beta`, `_pre`, `_rc` (pre-releases, below the bare version) and
//! `_cvs`, `_svn`, `_git`, `_hg`, `_p` (post-releases), each with an optional number, and a
//! final `-rN` package revision. This ports the tokenizer and `apk_version_compare` of
//! apk-tools 2.x (`src/version.c`) token for token, including its treatment of numbers with
//! leading zeros after a dot; no Rust crate implements it.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid = -1,
    DigitOrZero = 0,
    Digit = 1,
    Letter = 2,
    Suffix = 3,
    SuffixNo = 4,
    RevisionNo = 5,
    End = 6,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn next_token(&mut self, t: &mut Token) {
        let rest = self.rest();
        let mut n = Token::Invalid;
        match rest.first() {
            None | Some(0) => n = Token::End,
            Some(&c)
                if matches!(*t, Token::Digit | Token::DigitOrZero) && c.is_ascii_lowercase() =>
            {
                n = Token::Letter;
            }
            Some(&c) if *t == Token::Letter && c.is_ascii_digit() => n = Token::Digit,
            Some(&c) if *t == Token::Suffix && c.is_ascii_digit() => n = Token::SuffixNo,
            Some(&c) => {
                match c {
                    b'.' => n = Token::DigitOrZero,
                    b'_' => n = Token::Suffix,
                    b'-' if rest.get(1) == Some(&b'r') => {
                        n = Token::RevisionNo;
                        self.pos += 1;
                    }
                    _ => {}
                }
                self.pos += 1;
            }
        }
        if n < *t {
            let allowed = (n == Token::DigitOrZero && *t == Token::Digit)
                || (n == Token::Suffix && *t == Token::SuffixNo)
                || (n == Token::Digit && *t == Token::Letter);
            if !allowed {
                n = Token::Invalid;
            }
        }
        *t = n;
    }

    /// Reads the value of a token of type `t` and advances `t` to the next token's type.
    fn get_token(&mut self, t: &mut Token) -> i64 {
        let rest = self.rest();
        if rest.is_empty() {
            *t = Token::End;
            return 0;
        }
        let mut i = 0usize;
        let mut v: i64 = 0;
        let mut nt = Token::Invalid;
        let digits = |i: &mut usize, v: &mut i64| {
            while *i < rest.len() && rest[*i].is_ascii_digit() {
                *v = v
                    .saturating_mul(10)
                    .saturating_add(i64::from(rest[*i] - b'0'));
                *i += 1;
            }
        };
        match *t {
            Token::DigitOrZero if rest[0] == b'0' => {
                // Leading zeros after a dot: all but the last zero are consumed here and
                // count negatively (the more zeros, the lower); the rest is read as a number.
                while i + 1 < rest.len() && rest[i + 1] == b'0' {
                    i += 1;
                }
                nt = Token::Digit;
                v = -(i as i64);
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                digits(&mut i, &mut v);
            }
            Token::Letter => {
                v = i64::from(rest[0]);
                i = 1;
            }
            Token::Suffix => {
                let pre = PRE_SUFFIXES
                    .iter()
                    .position(|s| rest.starts_with(s.as_bytes()));
                if let Some(p) = pre {
                    i = PRE_SUFFIXES[p].len();
                    v = p as i64 - PRE_SUFFIXES.len() as i64;
                } else if let Some(p) = POST_SUFFIXES
                    .iter()
                    .position(|s| rest.starts_with(s.as_bytes()))
                {
                    i = POST_SUFFIXES[p].len();
                    v = p as i64;
                } else {
                    *t = Token::Invalid;
                    return -1;
                }
            }
            Token::Invalid | Token::End => {
                *t = Token::Invalid;
                return -1;
            }
        }
        self.pos += i;
        if self.rest().is_empty() {
            *t = Token::End;
        } else if nt != Token::Invalid {
            *t = nt;
        } else {
            self.next_token(t);
        }
        v
    }
}

/// Checks that `v` is a well-formed apk version (`apk_version_validate`).
pub fn validate(v: &str) -> Result<(), VersionError> {
    let mut c = Cursor {
        s: v.as_bytes(),
        pos: 0,
    };
    let mut t = Token::Digit;
    if v.is_empty() {
        return Err(VersionError::new(Scheme::Apk, v, "version string is empty"));
    }
    while t != Token::End && t != Token::Invalid {
        c.get_token(&mut t);
    }
    if t == Token::End {
        Ok(())
    } else {
        Err(VersionError::new(
            Scheme::Apk,
            v,
            format!("unexpected character at byte {}", c.pos),
        ))
    }
}

/// Orders two apk versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    validate(a)?;
    validate(b)?;
    Ok(compare_unchecked(a, b))
}

fn compare_unchecked(a: &str, b: &str) -> Ordering {
    let mut ca = Cursor {
        s: a.as_bytes(),
        pos: 0,
    };
    let mut cb = Cursor {
        s: b.as_bytes(),
        pos: 0,
    };
    let (mut at, mut bt) = (Token::Digit, Token::Digit);
    let (mut av, mut bv) = (0i64, 0i64);
    while at == bt && at != Token::End && at != Token::Invalid && av == bv {
        av = ca.get_token(&mut at);
        bv = cb.get_token(&mut bt);
    }
    if av < bv {
        return Ordering::Less;
    }
    if av > bv {
        return Ordering::Greater;
    }
    if at == bt {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is greater unless what follows is a pre-release suffix.
    let mut tt = at;
    if at == Token::Suffix && ca.get_token(&mut tt) < 0 {
        return Ordering::Less;
    }
    let mut tt = bt;
    if bt == Token::Suffix && cb.get_token(&mut tt) < 0 {
        return Ordering::Greater;
    }
    if at > bt {
        return Ordering::Less;
    }
    if bt > at {
        return Ordering::Greater;
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail by panicking"
    )]

    use super::*;
    use crate::version::{assert_increasing, assert_table};

    /// Lines of apk-tools' `test/version.data` (`a op b`).
    #[test]
    fn apk_tools_version_data() {
        assert_table(
            Scheme::Apk,
            &[
                ("2.34", ">", "0.1.0_alpha"),
                ("0.1.0_alpha", "=", "0.1.0_alpha"),
                ("0.1.0_alpha", "<", "0.1.3_alpha"),
                ("0.1.3_alpha", ">", "0.1.0_alpha"),
                ("0.1.0_alpha2", ">", "0.1.0_alpha"),
                ("0.1.0_alpha", "<", "2.2.39-r1"),
                ("2.2.39-r1", ">", "1.0.4-r3"),
                ("1.0.4-r3", "<", "1.0.4-r4"),
                ("1.0.4-r4", "<", "1.6"),
                ("1.6", ">", "1.0.2"),
                ("1.0.2", ">", "0.7-r1"),
                ("0.7-r1", "<", "1.0.0"),
                ("1.0.0", "<", "1.0.1"),
                ("1.0.1", "<", "1.1"),
                ("1.1", ">", "1.1_alpha1"),
                ("1.1_alpha1", "<", "1.2.1"),
                ("1.2.1", ">", "1.2"),
                ("1.2", "<", "1.3_alpha"),
                ("1.3_alpha", "<", "1.3_alpha2"),
                ("1.3_alpha2", "<", "1.3_alpha3"),
                ("1.3_alpha8", ">", "0.6.0"),
                ("0.6.0", "<", "0.6.1"),
                ("0.6.1", "<", "0.7.0"),
                ("0.7.0", "<", "0.8_beta1"),
                ("0.8_beta1", "<", "0.8_beta2"),
                ("0.8_beta4", "<", "4.8-r1"),
                ("4.8-r1", ">", "3.10.18-r1"),
                ("3.10.18-r1", ">", "2.3.0b-r1"),
                ("2.3.0b-r1", "<", "2.3.0b-r2"),
                ("2.3.0b-r2", "<", "2.3.0b-r3"),
                ("2.3.0b-r3", "<", "2.3.0b-r4"),
                ("2.3.0b-r4", ">", "0.12.1"),
                ("0.12.1", "<", "0.12.2"),
                ("0.12.2", "<", "0.12.3"),
                ("0.12.3", ">", "0.12"),
                ("0.12", "<", "0.13_beta1"),
                ("0.13_beta1", "<", "0.13_beta2"),
                ("0.13_beta2", "<", "0.13_beta3"),
                ("0.13_beta3", "<", "0.13_beta4"),
                ("0.13_beta4", "<", "0.13_beta5"),
                ("0.13_beta5", ">", "0.9.12"),
                ("0.9.12", "<", "0.9.13"),
                ("0.9.13", ">", "0.9.12"),
                ("1.0", "<", "1.0-r1"),
                ("1.0-r1", "<", "1.0-r2"),
                ("1.0_p1", ">", "1.0"),
                ("1.0_p1", ">", "1.0-r9"),
                ("1.0_rc1", "<", "1.0"),
                ("1.0_pre1", "<", "1.0_rc1"),
                ("1.0_beta1", "<", "1.0_pre1"),
                ("1.0_alpha1", "<", "1.0_beta1"),
                ("1.0_git20200101", ">", "1.0"),
                ("1.0_cvs1", "<", "1.0_svn1"),
                ("1.0_svn1", "<", "1.0_git1"),
                ("1.0_git1", "<", "1.0_hg1"),
                ("1.0_hg1", "<", "1.0_p1"),
                ("1.0a", ">", "1.0"),
                ("1.0a", "<", "1.0b"),
                ("1.0a", "<", "1.0.1"),
                ("1.01", "<", "1.1"),
                ("1.001", "<", "1.01"),
                ("1.0", "=", "1.0"),
                ("1.2.3-r0", "<", "1.2.3-r10"),
                ("1.1.1g-r0", ">", "1.1.1d-r3"),
                ("2.4.41-r0", ">", "2.4.39-r0"),
                ("7.66.0-r0", "<", "7.67.0-r0"),
            ],
        );
    }

    #[test]
    fn suffix_order() {
        assert_increasing(
            Scheme::Apk,
            &[
                "1.0_alpha",
                "1.0_alpha1",
                "1.0_beta",
                "1.0_pre1",
                "1.0_rc1",
                "1.0",
                "1.0-r1",
                "1.0_cvs1",
                "1.0_p1",
                "1.0_p1-r1",
                "1.0a",
                "1.0.1",
            ],
        );
    }

    #[test]
    fn invalid_versions() {
        assert!(validate("1.0").is_ok());
        assert!(validate("1.0_foo").is_err());
        assert!(validate("1.0-x").is_err());
        assert!(validate("1.0_rc1.2").is_err());
        assert!(validate("").is_err());
        assert!(compare("1.0A", "1.0").is_err());
    }
}
