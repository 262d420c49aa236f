#![expect(clippy::unwrap_used, reason = "tests")]
//! `PolicySet::load` and `PolicySet::evaluate` over files: referential Rego through
//! `data.inventory`, CEL-only templates, match criteria and warnings.

use std::path::{Path, PathBuf};

use palisade_inventory::{Inventory, LoadOptions, LoadReport};
use palisade_model::Severity;
use palisade_policy::PolicySet;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn inventory(dir: &Path, text: &str) -> Inventory {
    let p = write(dir, "inventory.yaml", text);
    let r = LoadReport::load_paths(&[p], &LoadOptions::default());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r.inventory
}

/// A referential template in the style of the library's uniqueingresshost: another Ingress,
/// found through `data.inventory.namespace[ns][apiVersion]["Ingress"][name]`, with the same host.
const UNIQUE_HOST: &str = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8suniquehost
  annotations:
    metadata.gatekeeper.sh/title: "Unique Ingress Host"
spec:
  crd:
    spec:
      names:
        kind: K8sUniqueHost
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8suniquehost

        violation[{"msg": msg}] {
          input.review.kind.kind == "Ingress"
          host := input.review.object.spec.rules[_].host
          other := data.inventory.namespace[ns][apiversion]["Ingress"][name]
          not same(other)
          other.spec.rules[_].host == host
          msg := sprintf("ingress host %v conflicts with %v/%v (%v)", [host, ns, name, apiversion])
        }

        same(other) {
          other.metadata.namespace == input.review.object.metadata.namespace
          other.metadata.name == input.review.object.metadata.name
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sUniqueHost
metadata:
  name: unique-hosts
  annotations:
    palisade.io/severity: high
spec:
  match:
    kinds:
      - apiGroups: ["networking.k8s.io"]
        kinds: ["Ingress"]
    excludedNamespaces: ["kube-*"]
"#;

const INGRESSES: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a, namespace: team-a}
spec: {rules: [{host: shop.example.com}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: b, namespace: team-b}
spec: {rules: [{host: shop.example.com}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: c, namespace: team-b}
spec: {rules: [{host: other.example.com}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: d, namespace: kube-system}
spec: {rules: [{host: other.example.com}]}
"#;

#[test]
fn referential_policy_sees_the_whole_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.yaml", UNIQUE_HOST);
    let (set, warnings) = PolicySet::load(&[policy]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.len(), (1, 1));
    let inv = inventory(dir.path(), INGRESSES);
    let (findings, warnings) = set.evaluate(&inv);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut got: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.resource.name.clone(), f.message.clone()))
        .collect();
    got.sort();
    // a and b collide; c collides with d, but d is in an excluded namespace (still in the
    // inventory, so c is reported, d is not evaluated).
    assert_eq!(
        got,
        vec![
            (
                "a".into(),
                "ingress host shop.example.com conflicts with team-b/b (networking.k8s.io/v1)"
                    .into()
            ),
            (
                "b".into(),
                "ingress host shop.example.com conflicts with team-a/a (networking.k8s.io/v1)"
                    .into()
            ),
            (
                "c".into(),
                "ingress host other.example.com conflicts with kube-system/d (networking.k8s.io/v1)"
                    .into()
            ),
        ]
    );
    let f = &findings[0];
    assert_eq!(f.check_id, "gatekeeper.k8suniquehost.unique-hosts");
    assert_eq!(f.title, "Unique Ingress Host");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence, "$");
    assert!(f.mitre.is_empty());
}

const CEL_ONLY: &str = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8smaxreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sMaxReplicas
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source:
            variables:
              - name: replicas
                expression: 'has(variables.anyObject.spec.replicas) ? variables.anyObject.spec.replicas : 1'
            validations:
              - expression: 'variables.replicas <= variables.params.max'
                messageExpression: '"replicas " + string(variables.replicas) + " above " + string(variables.params.max)'
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sMaxReplicas
metadata:
  name: max-3
  annotations:
    palisade.io/remediation: Scale down.
spec:
  match:
    kinds: [{apiGroups: ["apps"], kinds: ["Deployment"]}]
    namespaceSelector:
      matchLabels: {env: prod}
  parameters:
    max: 3
"#;

const DEPLOYMENTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: prod}
spec: {replicas: 5}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: small, namespace: prod}
spec: {replicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big-dev, namespace: dev}
spec: {replicas: 9}
"#;

#[test]
fn cel_only_templates_and_namespace_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.yaml", CEL_ONLY);
    let (set, warnings) = PolicySet::load(&[policy]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (findings, warnings) = set.evaluate(&inventory(dir.path(), DEPLOYMENTS));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].resource.name, "big");
    assert_eq!(findings[0].message, "replicas 5 above 3");
    assert_eq!(findings[0].title, "K8sMaxReplicas");
    assert_eq!(findings[0].severity, Severity::Medium);
    assert_eq!(findings[0].remediation, "Scale down.");
}

#[test]
fn unusable_templates_and_orphan_constraints_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let broken = UNIQUE_HOST.replace(
        "violation[{\"msg\": msg}] {",
        "violation[{\"msg\": msg}] {{",
    );
    let policy = write(dir.path(), "broken.yaml", &broken);
    let other = write(
        dir.path(),
        "orphan.yaml",
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNope\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n",
    );
    let (set, warnings) = PolicySet::load(&[policy, other]).unwrap();
    assert!(set.is_empty());
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 3, "{text:?}");
    assert!(
        text[0].contains("broken.yaml") && text[0].contains("template k8suniquehost"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|w| w.contains("K8sUniqueHost/unique-hosts"))
    );
    assert!(
        text.iter()
            .any(|w| w.contains("orphan.yaml") && w.contains("K8sNope/x"))
    );
}

#[test]
fn evaluation_errors_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.yaml", CEL_ONLY);
    let (set, _) = PolicySet::load(&[policy]).unwrap();
    // The prod Namespace is missing: namespaceSelector cannot be decided.
    let inv = inventory(
        dir.path(),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big, namespace: prod}\nspec: {replicas: 5}\n",
    );
    let (findings, warnings) = set.evaluate(&inv);
    assert!(findings.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.contains("Namespace"), "{warnings:?}");
}
