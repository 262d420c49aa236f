//! CVSS vectors: parsing and validation of v2, v3.0, v3.1 and v4.0 vectors, the v3.x base
//! score and the v4.0 score.
//!
//! The v3.1 base score follows the formulas of the CVSS v3.1 specification §7.1 with its
//! `Roundup` (integer arithmetic, Appendix A); v3.0 vectors use the v3.0 `Roundup` (plain
//! ceiling to one decimal). Written here because the formulas are a page long.
//!
//! The v4.0 score (specification §8: the vector's macro vector EQ1–EQ6, its score from the
//! lookup table, then the interpolation by severity distance to the next lower macro
//! vectors) comes from the `cvss` crate (RustSec), which implements exactly that procedure,
//! is tested against the Red Hat reference implementation's full vector sets, has no
//! dependencies and is maintained with the RustSec advisory tooling; re-deriving the 270-entry
//! lookup table and the max-severity vectors here would only add a second copy to keep
//! right. A v4.0 vector carrying threat or environmental metrics is scored with them
//! (CVSS-BT, CVSS-BE, CVSS-BTE), as the specification names them. v2 vectors are validated
//! and kept, not scored.

use std::fmt;

/// A CVSS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CvssVersion {
    /// CVSS v2.
    V2,
    /// CVSS v3.0.
    V3_0,
    /// CVSS v3.1.
    V3_1,
    /// CVSS v4.0.
    V4_0,
}

impl fmt::Display for CvssVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CvssVersion::V2 => "2.0",
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        })
    }
}

/// A vector that is not a valid CVSS vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS vector {vector:?}: {reason}")]
pub struct CvssError {
    /// The vector text.
    pub vector: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A validated CVSS vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Cvss {
    /// The CVSS version.
    pub version: CvssVersion,
    /// The vector as given.
    pub vector: String,
    metrics: Vec<(String, String)>,
}

const V3_BASE: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
];
const V3_OTHER: &[(&str, &[&str])] = &[
    ("E", &["X", "H", "F", "P", "U"]),
    ("RL", &["X", "U", "W", "T", "O"]),
    ("RC", &["X", "C", "R", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "H", "L", "N"]),
    ("MI", &["X", "H", "L", "N"]),
    ("MA", &["X", "H", "L", "N"]),
];
const V4_BASE: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
];
const V2_BASE: &[(&str, &[&str])] = &[
    ("AV", &["L", "A", "N"]),
    ("AC", &["H", "M", "L"]),
    ("Au", &["M", "S", "N"]),
    ("C", &["N", "P", "C"]),
    ("I", &["N", "P", "C"]),
    ("A", &["N", "P", "C"]),
];

impl Cvss {
    /// Parses and validates a vector (`CVSS:3.1/AV:N/...`, `CVSS:4.0/...`, or a bare v2
    /// vector `AV:N/AC:L/Au:N/C:P/I:P/A:P`).
    pub fn parse(vector: &str) -> Result<Cvss, CvssError> {
        let err = |reason: String| CvssError {
            vector: vector.to_owned(),
            reason,
        };
        let v = vector.trim();
        let (version, body) = if let Some(b) = v.strip_prefix("CVSS:3.1/") {
            (CvssVersion::V3_1, b)
        } else if let Some(b) = v.strip_prefix("CVSS:3.0/") {
            (CvssVersion::V3_0, b)
        } else if let Some(b) = v.strip_prefix("CVSS:4.0/") {
            (CvssVersion::V4_0, b)
        } else if let Some(b) = v.strip_prefix("CVSS:2.0/") {
            (CvssVersion::V2, b)
        } else if v.starts_with("AV:") {
            (CvssVersion::V2, v.strip_prefix('(').unwrap_or(v))
        } else {
            return Err(err("unknown CVSS version prefix".into()));
        };
        let base: &[(&str, &[&str])] = match version {
            CvssVersion::V3_0 | CvssVersion::V3_1 => V3_BASE,
            CvssVersion::V4_0 => V4_BASE,
            CvssVersion::V2 => V2_BASE,
        };
        let mut metrics: Vec<(String, String)> = Vec::new();
        for part in body.trim_end_matches(')').split('/') {
            let (k, val) = part
                .split_once(':')
                .ok_or_else(|| err(format!("metric {part:?} has no value")))?;
            if metrics.iter().any(|(m, _)| m == k) {
                return Err(err(format!("metric {k} given twice")));
            }
            let allowed = base
                .iter()
                .find(|(m, _)| *m == k)
                .map(|(_, vals)| *vals)
                .or_else(|| {
                    matches!(version, CvssVersion::V3_0 | CvssVersion::V3_1)
                        .then(|| {
                            V3_OTHER
                                .iter()
                                .find(|(m, _)| *m == k)
                                .map(|(_, vals)| *vals)
                        })
                        .flatten()
                });
            match allowed {
                Some(vals) if vals.contains(&val) => {}
                Some(_) => return Err(err(format!("metric {k} has invalid value {val:?}"))),
                // v4 and v2 carry many optional metrics; keep them unchecked.
                None if matches!(version, CvssVersion::V4_0 | CvssVersion::V2) => {}
                None => return Err(err(format!("unknown metric {k}"))),
            }
            metrics.push((k.to_owned(), val.to_owned()));
        }
        for (m, _) in base {
            if !metrics.iter().any(|(k, _)| k == m) {
                return Err(err(format!("base metric {m} is missing")));
            }
        }
        Ok(Cvss {
            version,
            vector: v.to_owned(),
            metrics,
        })
    }

    /// The value of a metric (`"AV"` → `"N"`).
    pub fn metric(&self, name: &str) -> Option<&str> {
        self.metrics
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The score of the vector: the base score of v3.0 and v3.1 vectors, the CVSS v4.0
    /// score of v4.0 vectors (with whatever threat and environmental metrics they carry);
    /// `None` for v2 and for v4.0 vectors the v4.0 rules reject (an unknown optional metric).
    pub fn base_score(&self) -> Option<f64> {
        match self.version {
            CvssVersion::V3_0 | CvssVersion::V3_1 => Some(self.v3_base_score()),
            CvssVersion::V4_0 => self.v4_score(),
            CvssVersion::V2 => None,
        }
    }

    fn v4_score(&self) -> Option<f64> {
        let v: cvss::v4::Vector = self.vector.parse().ok()?;
        let score = v.score().value();
        (0.0..=10.0).contains(&score).then_some(score)
    }

    fn v3_base_score(&self) -> f64 {
        let m = |k: &str| self.metric(k).unwrap_or("");
        let changed = m("S") == "C";
        let av = match m("AV") {
            "N" => 0.85,
            "A" => 0.62,
            "L" => 0.55,
            _ => 0.2,
        };
        let ac = if m("AC") == "L" { 0.77 } else { 0.44 };
        let pr = match (m("PR"), changed) {
            ("N", _) => 0.85,
            ("L", false) => 0.62,
            ("L", true) => 0.68,
            (_, false) => 0.27,
            (_, true) => 0.5,
        };
        let ui = if m("UI") == "N" { 0.85 } else { 0.62 };
        let cia = |k: &str| match m(k) {
            "H" => 0.56,
            "L" => 0.22,
            _ => 0.0,
        };
        let iss = 1.0 - (1.0 - cia("C")) * (1.0 - cia("I")) * (1.0 - cia("A"));
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
        } else {
            6.42 * iss
        };
        let exploitability = 8.22 * av * ac * pr * ui;
        if impact <= 0.0 {
            return 0.0;
        }
        let raw = if changed {
            (1.08 * (impact + exploitability)).min(10.0)
        } else {
            (impact + exploitability).min(10.0)
        };
        if self.version == CvssVersion::V3_1 {
            roundup_31(raw)
        } else {
            (raw * 10.0).ceil() / 10.0
        }
    }
}

/// CVSS v3.1 Appendix A `Roundup`.
fn roundup_31(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// The qualitative rating of a CVSS v3/v4 score (None 0.0, Low, Medium, High, Critical).
pub fn rating(score: f64) -> palisade_model::Severity {
    use palisade_model::Severity;
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Informational
    }
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

    /// Scores published by the CVSS v3.1 calculator (and NVD) for these vectors.
    #[test]
    fn v31_base_scores() {
        for (vector, want) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 9.1),
            ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 6.5),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L/E:P/RL:O/RC:C",
                7.3,
            ),
            ("CVSS:3.0/AV:N/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L", 2.0),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ] {
            let c = Cvss::parse(vector).unwrap();
            assert_eq!(c.base_score(), Some(want), "{vector}");
        }
    }

    /// CVSS v4.0 scores as the FIRST calculator and NVD publish them: the calculator's
    /// extremes (everything high: 10.0; no impact: 0.0), NVD's record for CVE-2024-5732
    /// (6.9, in the corpus as vuln-list-nvd data) and vectors whose scores appear on many
    /// published advisories (GitHub, NVD).
    #[test]
    fn v40_scores() {
        for (vector, want) in [
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                10.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N",
                6.9,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
                8.7,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                8.7,
            ),
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.5,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
                5.1,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
                8.2,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N",
                6.9,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                5.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.7,
            ),
            // The NVD record spells out every optional metric as `X` (not defined).
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/AR:X/MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/AU:X/R:X/V:X/RE:X/U:X",
                6.9,
            ),
        ] {
            let c = Cvss::parse(vector).unwrap();
            assert_eq!(c.base_score(), Some(want), "{vector}");
        }
    }

    #[test]
    fn roundup_avoids_float_artifacts() {
        // The example of the v3.1 specification: 4.000000001 rounds up to 4.1, 4.0 stays.
        assert_eq!(roundup_31(4.000_01), 4.1);
        assert_eq!(roundup_31(4.0), 4.0);
        assert_eq!(roundup_31(4.02), 4.1);
    }

    #[test]
    fn invalid_vectors() {
        for bad in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:Q",
            "CVSS:9.9/AV:N",
            "",
        ] {
            assert!(Cvss::parse(bad).is_err(), "{bad}");
        }
        let v4 =
            Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!(v4.version, CvssVersion::V4_0);
        assert_eq!(v4.base_score(), Some(9.3));
        // Parses (optional v4 metrics are not checked here) but v4.0 scoring rejects it.
        let odd =
            Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q")
                .unwrap();
        assert_eq!(odd.base_score(), None);
        let v2 = Cvss::parse("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap();
        assert_eq!(v2.version, CvssVersion::V2);
    }

    #[test]
    fn ratings() {
        use palisade_model::Severity;
        assert_eq!(rating(9.8), Severity::Critical);
        assert_eq!(rating(7.0), Severity::High);
        assert_eq!(rating(6.9), Severity::Medium);
        assert_eq!(rating(0.1), Severity::Low);
        assert_eq!(rating(0.0), Severity::Informational);
    }
}
