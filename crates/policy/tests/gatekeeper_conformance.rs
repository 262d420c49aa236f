#![expect(clippy::panic, reason = "test")]
//! Conformance over the Gatekeeper policy library's own suites (as `gator verify` runs them).

/// The pass rate must not fall below this (ratchet: raise it when more cases pass).
const MIN_PASSED: usize = 187;

#[test]
fn gatekeeper_library_suites() {
    let Some(lib) = palisade_testkit::corpus("posture/gatekeeper/library") else {
        return;
    };
    let results = match palisade_policy::verify(&[lib]) {
        Ok(r) => r,
        Err(e) => panic!("verify failed: {e}"),
    };
    let mut per_suite: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for r in &results {
        let e = per_suite.entry(r.suite.as_str()).or_default();
        if r.passed { e.0 += 1 } else { e.1 += 1 }
    }
    for (s, (p, f)) in &per_suite {
        println!("{p:>3} passed {f:>3} failed  {s}");
    }
    for r in results.iter().filter(|r| !r.passed) {
        println!("FAIL {} / {} / {}: {}", r.suite, r.test, r.case, r.detail);
    }
    let passed = results.iter().filter(|r| r.passed).count();
    println!(
        "gatekeeper conformance: {passed}/{} cases passed",
        results.len()
    );
    assert!(passed >= MIN_PASSED, "{passed} < {MIN_PASSED}");
}
