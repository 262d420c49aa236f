use super::{json, palisade, repo};

fn schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo().join("docs/schemas/posture-scan.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(report: &serde_json::Value) {
    let v = schema();
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match its schema: {errors:#?}"
    );
}

#[test]
fn json_report_of_the_examples_matches_the_schema() {
    let out = palisade(
        &["posture", "scan", "--format", "json", "examples/manifests"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_valid(&report);
    assert_eq!(report["summary"]["resources"], 10);
    assert_eq!(report["errors"], serde_json::json!([]));
}

#[test]
fn malformed_input_is_located_the_rest_is_scanned_and_exit_is_2() {
    let input = b"apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n---\nkind: [\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n";
    let out = palisade(&["posture", "scan", "--format", "json", "-"], Some(input));
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_valid(&report);
    assert_eq!(
        report["summary"]["resources"], 2,
        "the good documents are still scanned"
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["file"], "-");
    assert_eq!(errors[0]["document"], 1);
    assert_eq!(errors[0]["line"], 5);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("duplicated key \"name\"")
    );
    assert_eq!(errors[1]["document"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-: document 1 (line 5): invalid YAML at line 9"),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let out = palisade(&["posture", "scan", "no/such/file.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/file.yaml"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2_with_help() {
    let out = palisade(&["posture", "scan", "--fail-on", "urgent", "x.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown severity"));
    let out = palisade(
        &[
            "posture",
            "pss",
            "--level",
            "baseline",
            "--version",
            "1.30",
            "x.yaml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected v1.N"));
}

#[test]
fn sarif_report_is_sarif_2_1_0() {
    let out = palisade(
        &["posture", "scan", "--format", "sarif", "examples/manifests"],
        None,
    );
    let doc = json(&out);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "palisade");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("examples/manifests/")
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn junit_report_is_well_formed_with_a_case_per_resource() {
    let out = palisade(
        &["posture", "scan", "--format", "junit", "examples/manifests"],
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 10);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("10"));
    let failing = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.children().any(|c| c.has_tag_name("failure")))
        .count();
    assert_eq!(
        suite.attribute("failures"),
        Some(failing.to_string().as_str())
    );
}

#[test]
fn report_can_be_written_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("r.json");
    let out = palisade(
        &[
            "posture",
            "scan",
            "--format",
            "json",
            "-o",
            dest.to_str().unwrap(),
            "examples/manifests",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
    assert_valid(&r);
}

#[test]
fn no_panic_on_any_corpus_manifest() {
    let Some(dir) = palisade_testkit::corpus("manifests") else {
        return;
    };
    let out = palisade(
        &["posture", "scan", "--format", "json", dir.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The corpus holds a few deliberately broken files (unrendered templates): exit 2, and
    // every error names its file.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let report = json(&out);
    assert_valid(&report);
    assert!(report["summary"]["resources"].as_u64().unwrap() > 2700);
    for e in report["errors"].as_array().unwrap() {
        assert!(
            e["file"].as_str().unwrap().ends_with(".yaml")
                || e["file"].as_str().unwrap().ends_with(".yml")
                || e["file"].as_str().unwrap().ends_with(".json")
        );
    }
}

#[test]
fn pss_dry_run_gives_the_kubernetes_verdict_per_fixture() {
    let Some(root) = palisade_testkit::corpus("posture/psa/test/testdata") else {
        return;
    };
    for level in ["baseline", "restricted"] {
        for (dir, allowed) in [("pass", true), ("fail", false)] {
            let path = root.join(level).join("v1.37").join(dir);
            let out = palisade(
                &[
                    "posture",
                    "pss",
                    "--level",
                    level,
                    "--version",
                    "v1.37",
                    "--format",
                    "json",
                    path.to_str().unwrap(),
                ],
                None,
            );
            assert_eq!(
                out.status.code(),
                Some(if allowed { 0 } else { 1 }),
                "{level}/{dir}"
            );
            let report = json(&out);
            let results = report["results"].as_array().unwrap();
            let files = std::fs::read_dir(&path).unwrap().count();
            assert_eq!(
                results.len(),
                files,
                "one result per object in {level}/{dir}"
            );
            for r in results {
                assert_eq!(r["allowed"], allowed, "{level}/{dir}: {r}");
                assert!(r["file"].as_str().unwrap().ends_with(".yaml"));
                if !allowed {
                    let v = &r["violations"][0];
                    assert!(v["check"].is_string() && v["message"].is_string(), "{r}");
                }
            }
        }
    }
}

#[test]
fn fail_on_sets_exit_1_only_at_or_above_the_threshold() {
    let out = palisade(
        &[
            "posture",
            "scan",
            "--fail-on",
            "critical",
            "--format",
            "json",
            "examples/manifests",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_valid(&report);
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["severity"] == "critical"));
    // The hardened api Deployment alone has nothing to report.
    let api = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"template":{"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"api","image":"r.example.com/api@sha256:00","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}},"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}}}"#;
    let out = palisade(
        &[
            "posture",
            "scan",
            "--fail-on",
            "low",
            "--format",
            "json",
            "-",
        ],
        Some(api),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json(&out)["findings"], serde_json::json!([]));
}

#[test]
fn findings_carry_the_documented_fields() {
    let out = palisade(
        &["posture", "scan", "--format", "json", "examples/manifests"],
        None,
    );
    let report = json(&out);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "privileged-container")
        .unwrap();
    assert_eq!(f["resource"]["kind"], "DaemonSet");
    assert_eq!(f["resource"]["api_version"], "apps/v1");
    assert_eq!(f["resource"]["namespace"], "kube-system");
    assert_eq!(f["container"], "agent");
    assert_eq!(
        f["evidence"],
        "$.spec.template.spec.containers[0].securityContext.privileged"
    );
    assert_eq!(f["mitre"], serde_json::json!(["T1611"]));
    assert_eq!(f["severity"], "high");
}

#[test]
fn checks_lists_the_catalogue() {
    let out = palisade(&["posture", "checks", "--format", "json"], None);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    let checks = doc["checks"].as_array().unwrap();
    assert!(checks.len() >= 50);
    for c in checks {
        for field in [
            "id",
            "title",
            "severity",
            "category",
            "mitre",
            "rationale",
            "remediation",
        ] {
            assert!(!c[field].is_null(), "{field} missing in {c}");
        }
    }
}

#[test]
fn gatekeeper_policies_run_in_scans_and_suites_verify() {
    let Some(p) = palisade_testkit::corpus(
        "posture/gatekeeper/library/pod-security-policy/privileged-containers",
    ) else {
        return;
    };
    let template = p.join("template.yaml");
    let constraint = p.join("samples/psp-privileged-container/constraint.yaml");
    let pod = b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers: [{name: c, image: 'x:1', securityContext: {privileged: true}}]\n";
    let out = palisade(
        &[
            "posture",
            "scan",
            "--no-builtin",
            "--format",
            "json",
            "--fail-on",
            "medium",
            "--policy",
            template.to_str().unwrap(),
            "--policy",
            constraint.to_str().unwrap(),
            "-",
        ],
        Some(pod),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_valid(&report);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the policy runs: {findings:#?}");
    assert_eq!(
        findings[0]["check_id"],
        "gatekeeper.k8spspprivilegedcontainer.psp-privileged-container"
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("Privileged container is not allowed: c")
    );

    let out = palisade(
        &["posture", "verify", "--format", "json", p.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["summary"]["failed"], 0);
    assert_eq!(doc["cases"].as_array().unwrap().len(), 5);
    for c in doc["cases"].as_array().unwrap() {
        for field in ["suite", "test", "case", "passed", "detail"] {
            assert!(!c[field].is_null(), "{field} missing");
        }
    }

    // A suite whose expectation is wrong fails with exit 1 and says why.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("suite.yaml"),
        format!(
            "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\nmetadata: {{name: s}}\ntests:\n- name: t\n  template: {}\n  constraint: {}\n  cases:\n  - name: wrong\n    object: {}\n    assertions:\n    - violations: no\n",
            template.display(),
            constraint.display(),
            p.join("samples/psp-privileged-container/example_disallowed.yaml").display()
        ),
    )
    .unwrap();
    let out = palisade(
        &[
            "posture",
            "verify",
            "--format",
            "json",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["cases"][0]["passed"], false);
    assert!(
        doc["cases"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("violations but want none")
    );
}

#[test]
fn saved_scans_report_new_and_fixed_findings() {
    let data = tempfile::tempdir().unwrap();
    let run = |input: &[u8]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "--data-dir",
                data.path().to_str().unwrap(),
                "posture",
                "scan",
                "--save",
                "shop",
                "--format",
                "json",
                "-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
        child.wait_with_output().unwrap()
    };
    let privileged = b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers: [{name: c, image: 'x:1', securityContext: {privileged: true}}]\n";
    let fixed = b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers: [{name: c, image: 'x:1'}]\n";
    let first = json(&run(privileged));
    assert_valid(&first);
    assert_eq!(
        first["changes"]["previous_scan_id"],
        serde_json::Value::Null
    );
    let out = run(fixed);
    let second = json(&out);
    assert_valid(&second);
    assert_eq!(
        second["changes"]["previous_scan_id"],
        first["changes"]["scan_id"]
    );
    let fixed_ids: Vec<&str> = second["changes"]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check_id"].as_str().unwrap())
        .collect();
    assert!(fixed_ids.contains(&"privileged-container"), "{fixed_ids:?}");
    assert_eq!(second["changes"]["new"], serde_json::json!([]));
    assert_eq!(
        second["changes"]["changed"],
        serde_json::json!(["v1/Pod/n/p"])
    );
    assert_eq!(second["changes"]["added"], serde_json::json!([]));
    assert_eq!(second["changes"]["removed"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("new, "));
    assert!(data.path().join("palisade.db").exists());
}

#[test]
fn unreachable_cluster_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: gone\n  context: {{cluster: c, user: u}}\ncurrent-context: gone\n"),
    )
    .unwrap();
    let out = palisade(
        &[
            "posture",
            "scan",
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("gone"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_snapshots_at_an_interval_report_changes() {
    use palisade_testkit::fake_api::FakeApi;
    let objects = vec![
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx", "securityContext": {"privileged": true}}]}}}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}, "data": {"k": "dmFsdWU="}}),
    ];
    let server = FakeApi::start(objects, &[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path()).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        palisade(
            &[
                "posture",
                "scan",
                "--cluster",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
                "--interval",
                "1s",
                "--count",
                "2",
                "--format",
                "json",
            ],
            None,
        )
    })
    .await
    .unwrap();
    let seen = server.seen();
    drop(server);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // listed once, then watched: the second snapshot comes from the watches, not a relist
    for kind in ["deployments", "secrets", "namespaces"] {
        assert!(
            seen.watches.iter().any(|w| w == kind),
            "{kind} not watched: {seen:?}"
        );
        let lists = seen
            .requests
            .iter()
            .filter(|r| r.contains(&format!("/{kind}")) && !r.contains("watch=true"))
            .count();
        assert_eq!(lists, 1, "{kind} listed {lists} times: {seen:?}");
    }
    let reports: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(reports.len(), 2, "two snapshots");
    for r in &reports {
        assert_valid(r);
        assert_eq!(r["summary"]["resources"], 3);
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["check_id"] == "privileged-container")
        );
    }
    assert_eq!(
        reports[1]["changes"]["previous_scan_id"],
        reports[0]["changes"]["scan_id"]
    );
    assert_eq!(reports[1]["changes"]["new"], serde_json::json!([]));
    assert_eq!(reports[1]["changes"]["fixed"], serde_json::json!([]));
    for k in ["added", "changed", "removed"] {
        assert_eq!(reports[1]["changes"][k], serde_json::json!([]), "{k}");
    }
    assert!(stderr.contains("watching cluster lab-ctx"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("dmFsdWU="),
        "secret value leaked"
    );
}
