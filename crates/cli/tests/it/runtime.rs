//! `palisade runtime analyze`: audit events in, deduplicated alerts out.

use super::{json, palisade};

fn event(id: &str, verb: &str, user: &str, uri: &str, object_ref: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"{id}","stage":"ResponseComplete","requestURI":"{uri}","verb":"{verb}","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.5"],"userAgent":"kubectl/v1.30","objectRef":{object_ref},"responseStatus":{{"code":200}},"requestReceivedTimestamp":"2026-12-02T10:00:00.000000Z","stageTimestamp":"2026-12-02T10:00:00.010000Z"}}"#
    )
}

#[test]
fn audit_events_raise_deduplicated_alerts_and_bad_lines_are_counted() {
    let canary = r#"{"resource":"pods","namespace":"palisade-canary","apiVersion":"v1"}"#;
    let exec = r#"{"resource":"pods","subresource":"exec","namespace":"shop","name":"web-1","apiVersion":"v1"}"#;
    let input = [
        event(
            "a1",
            "list",
            "alice",
            "/api/v1/namespaces/palisade-canary/pods",
            canary,
        ),
        event(
            "a2",
            "create",
            "bob",
            "/api/v1/namespaces/shop/pods/web-1/exec?command=sh",
            exec,
        ),
        event(
            "a3",
            "create",
            "bob",
            "/api/v1/namespaces/shop/pods/web-1/exec?command=sh",
            exec,
        ),
        "{\"truncated\": ".to_owned(),
        event(
            "a4",
            "get",
            "carol",
            "/api/v1/namespaces/shop/pods/web-1",
            r#"{"resource":"pods","namespace":"shop","name":"web-1","apiVersion":"v1"}"#,
        ),
    ]
    .join("\n");
    let out = palisade(
        &["runtime", "analyze", "--format", "json", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let alerts = doc["alerts"].as_array().unwrap();
    let of = |t: &str| alerts.iter().filter(|a| a["type"] == t).collect::<Vec<_>>();
    assert_eq!(of("K8S_TestAlert").len(), 1, "{doc}");
    let exec = of("K8S_ExecIntoPod");
    assert_eq!(
        exec.len(),
        1,
        "two execs by one user into one pod are one alert: {doc}"
    );
    assert_eq!(exec[0]["count"], 2);
    assert_eq!(exec[0]["user"], "bob");
    assert!(
        exec[0]["mitre"]["technique"]
            .as_str()
            .unwrap()
            .starts_with('T')
    );
    assert!(
        alerts.iter().all(|a| a["user"] != "carol"),
        "a plain get raises nothing: {doc}"
    );
    assert_eq!(doc["stats"]["events"], 4);
    assert_eq!(doc["stats"]["malformed"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":4:"), "the bad line is named: {stderr}");
}

#[test]
fn unreadable_input_exits_2() {
    let out = palisade(
        &[
            "runtime",
            "analyze",
            "--format",
            "json",
            "/nonexistent/audit.log",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_rule_fields_and_alert_types_are_listed() {
    let out = palisade(&["runtime", "fields", "--format", "json"], None);
    assert!(out.status.success());
    let fields = json(&out);
    let field = |name: &str| {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed"))
    };
    assert_eq!(field("ka.user.name")["type"], "string");
    assert_eq!(field("ka.user.groups")["list"], true);
    assert_eq!(field("ka.sourceip.net")["type"], "address");
    assert_eq!(field("ka.uri.param")["arg"], "key");
    assert_eq!(field("jevt.value")["arg"], "json-pointer");
    let table = palisade(&["runtime", "fields"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("FIELD"), "{text}");
    assert!(text.contains("ka.uri.param[key]"), "{text}");

    let out = palisade(&["runtime", "alert-types", "--format", "json"], None);
    assert!(out.status.success());
    let types = json(&out);
    let canary = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "K8S_TestAlert")
        .expect("the pipeline test alert is listed");
    assert!(canary["tactic_name"].is_string(), "{canary}");
    for t in types.as_array().unwrap() {
        assert!(
            t["technique"].as_str().unwrap().starts_with('T'),
            "{t}: a MITRE technique id"
        );
        assert!(!t["remediation"].as_str().unwrap().is_empty(), "{t}");
    }
}
