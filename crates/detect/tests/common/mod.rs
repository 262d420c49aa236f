//! Helpers shared by the integration tests: corpus paths and audit events shaped like the
//! API server writes them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use palisade_detect::{K8sAuditEvent, RuleSet, RulesFile};
use serde_json::{Value, json};

/// The k8saudit plugin's rules file, if the corpus is present.
pub(crate) fn k8s_rules_path() -> Option<PathBuf> {
    palisade_testkit::corpus(
        "runtime/falco/falcosecurity-plugins/plugins/k8saudit/rules/k8s_audit_rules.yaml",
    )
}

/// The k8saudit rule set (plus extra rule text), or `None` without the corpus.
pub(crate) fn k8s_rules_with(extra: &[&str]) -> Option<RuleSet> {
    let mut files = vec![RulesFile::read(k8s_rules_path()?).unwrap()];
    for (i, e) in extra.iter().enumerate() {
        files.push(RulesFile::new(format!("extra-{i}.yaml"), *e));
    }
    let (set, warnings) = RuleSet::load(&files).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    Some(set)
}

/// An `audit.k8s.io/v1` Event as the API server logs it at level RequestResponse.
pub(crate) struct Audit {
    pub(crate) v: Value,
}

impl Audit {
    pub(crate) fn new(
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let mut uri = String::from(
            if resource == "pods"
                || resource == "services"
                || resource == "configmaps"
                || resource == "serviceaccounts"
                || resource == "secrets"
                || resource == "namespaces"
                || resource == "nodes"
            {
                "/api/v1"
            } else if resource == "deployments" {
                "/apis/apps/v1"
            } else {
                "/apis/rbac.authorization.k8s.io/v1"
            },
        );
        if let Some(ns) = namespace {
            uri.push_str(&format!("/namespaces/{ns}"));
        }
        uri.push_str(&format!("/{resource}"));
        if verb != "create"
            && let Some(n) = name
        {
            uri.push_str(&format!("/{n}"));
        }
        let mut object_ref = json!({"resource": resource, "apiVersion": "v1"});
        if let Some(ns) = namespace {
            object_ref["namespace"] = json!(ns);
        }
        if let Some(n) = name {
            object_ref["name"] = json!(n);
        }
        let code = if verb == "create" { 201 } else { 200 };
        Self {
            v: json!({
                "kind": "Event",
                "apiVersion": "audit.k8s.io/v1",
                "level": "RequestResponse",
                "auditID": "5f3c2f5e-6a3c-4f6c-9d1e-1d2b9f0c0a11",
                "stage": "ResponseComplete",
                "requestURI": uri,
                "verb": verb,
                "user": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
                "sourceIPs": ["192.0.2.10"],
                "userAgent": "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
                "objectRef": object_ref,
                "responseStatus": {"metadata": {}, "code": code},
                "requestReceivedTimestamp": "2024-05-01T10:00:00.000000Z",
                "stageTimestamp": "2024-05-01T10:00:00.012345Z",
                "annotations": {
                    "authorization.k8s.io/decision": "allow",
                    "authorization.k8s.io/reason": ""
                }
            }),
        }
    }

    pub(crate) fn user(mut self, name: &str) -> Self {
        self.v["user"]["username"] = json!(name);
        self
    }

    pub(crate) fn stage(mut self, stage: &str) -> Self {
        self.v["stage"] = json!(stage);
        self
    }

    pub(crate) fn code(mut self, code: i64) -> Self {
        self.v["responseStatus"]["code"] = json!(code);
        self
    }

    pub(crate) fn subresource(mut self, sub: &str) -> Self {
        self.v["objectRef"]["subresource"] = json!(sub);
        let uri = format!("{}/{sub}", self.v["requestURI"].as_str().unwrap());
        self.v["requestURI"] = json!(uri);
        self
    }

    pub(crate) fn uri(mut self, uri: &str) -> Self {
        self.v["requestURI"] = json!(uri);
        self
    }

    /// Sets the request object and, for a create, the response object the server echoes.
    pub(crate) fn object(mut self, obj: Value) -> Self {
        if self.v["verb"] == "create" {
            let mut resp = obj.clone();
            if resp["metadata"].is_null() {
                resp["metadata"] = json!({});
            }
            if resp["metadata"]["name"].is_null() {
                resp["metadata"]["name"] = self.v["objectRef"]["name"].clone();
            }
            self.v["responseObject"] = resp;
        }
        self.v["requestObject"] = obj;
        self
    }

    pub(crate) fn text(&self) -> String {
        self.v.to_string()
    }
}

/// The rules that fire on an event, by name.
pub(crate) fn fired(set: &RuleSet, event_json: &str) -> Vec<String> {
    let ev = K8sAuditEvent::parse(event_json).unwrap();
    set.evaluate(&ev).map(|m| m.rule.to_string()).collect()
}

/// A pod object built from a pod template (as a ReplicaSet controller creates it).
pub(crate) fn pod_from_template(name: &str, template: &Value) -> Value {
    json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": template["metadata"]["labels"].clone()},
        "spec": template["spec"].clone(),
    })
}
