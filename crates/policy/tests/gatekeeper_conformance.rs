#![expect(clippy::panic, reason = "test")]
//! Conformance over the Gatekeeper policy library's own suites (as `gator verify` runs them).
//!
//! The Rego run is the acceptance figure; a second run uses the CEL implementation of the
//! templates that carry one (as `gator verify --enable-k8s-native-validation` would) and has
//! its own ratchet.

use std::collections::BTreeMap;

use palisade_policy::{CaseResult, VerifyOptions, verify_with};

/// Rego: cases that must pass (ratchet: raise it when more cases pass, never lower it).
const MIN_PASSED_REGO: usize = 189;
/// CEL preferred where a template has it: cases that must pass.
const MIN_PASSED_CEL: usize = 189;

fn run(prefer_cel: bool) -> Option<Vec<CaseResult>> {
    let lib = palisade_testkit::corpus("posture/gatekeeper/library")?;
    match verify_with(&[lib], &VerifyOptions { prefer_cel }) {
        Ok(r) => Some(r),
        Err(e) => panic!("verify failed: {e}"),
    }
}

fn report(label: &str, results: &[CaseResult]) -> usize {
    let mut per_suite: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in results {
        let e = per_suite.entry(r.suite.as_str()).or_default();
        if r.passed { e.0 += 1 } else { e.1 += 1 }
    }
    for (s, (p, f)) in &per_suite {
        println!("[{label}] {p:>3} passed {f:>3} failed  {s}");
    }
    for r in results.iter().filter(|r| !r.passed) {
        println!(
            "[{label}] FAIL {} / {} / {}: {}",
            r.suite, r.test, r.case, r.detail
        );
    }
    let passed = results.iter().filter(|r| r.passed).count();
    println!(
        "[{label}] gatekeeper conformance: {passed}/{} cases passed",
        results.len()
    );
    passed
}

#[test]
fn gatekeeper_library_suites_rego() {
    let Some(results) = run(false) else { return };
    let passed = report("rego", &results);
    assert!(!results.is_empty(), "no suite cases found");
    assert!(
        passed * 100 >= results.len() * 95,
        "pass rate below 95%: {passed}/{}",
        results.len()
    );
    assert!(passed >= MIN_PASSED_REGO, "{passed} < {MIN_PASSED_REGO}");
}

#[test]
fn gatekeeper_library_suites_cel() {
    let Some(results) = run(true) else { return };
    let passed = report("cel", &results);
    assert!(passed >= MIN_PASSED_CEL, "{passed} < {MIN_PASSED_CEL}");
}
