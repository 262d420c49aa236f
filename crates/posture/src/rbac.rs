//! RBAC risk: what each binding grants, to whom, and which workloads run as those subjects.
//!
//! Findings are reported on bindings (RoleBinding, ClusterRoleBinding): a role nobody is bound
//! to grants nothing. Roles are resolved from the inventory (with ClusterRole aggregation);
//! the built-in `cluster-admin`, `admin` and `edit` roles are known by name when the inventory
//! does not hold them (manifests rarely do). Bindings named `system:*` are Kubernetes' own
//! bootstrap bindings and are not reported.

use std::collections::BTreeSet;

use palisade_inventory::Object;
use palisade_model::Finding;
use serde_json::Value;

use crate::{Ctx, finding, ns};

const WORKLOAD_RESOURCES: &[&str] = &[
    "pods",
    "deployments",
    "daemonsets",
    "statefulsets",
    "replicasets",
    "replicationcontrollers",
    "jobs",
    "cronjobs",
];

/// What a set of rules allows, by risk category.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Grants {
    wildcard: bool,
    secrets: bool,
    exec: bool,
    create_workloads: bool,
    escalation: bool,
    nodes_proxy: bool,
    token: bool,
}

impl Grants {
    fn any(&self) -> bool {
        self.wildcard
            || self.secrets
            || self.exec
            || self.create_workloads
            || self.escalation
            || self.nodes_proxy
            || self.token
    }

    fn all() -> Grants {
        Grants {
            wildcard: true,
            secrets: true,
            exec: true,
            create_workloads: true,
            escalation: true,
            nodes_proxy: true,
            token: true,
        }
    }
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn grants_of_rules(rules: &[&Value]) -> Grants {
    let mut g = Grants::default();
    for rule in rules {
        let verbs = strs(rule, "verbs");
        let resources = strs(rule, "resources");
        let groups = strs(rule, "apiGroups");
        let any_verb = verbs.iter().any(|v| v == "*");
        let verb = |v: &str| any_verb || verbs.iter().any(|x| x == v);
        let res = |r: &str| resources.iter().any(|x| x == r);
        if any_verb
            || resources.iter().any(|r| r == "*")
            || (groups.iter().any(|x| x == "*") && !resources.is_empty())
        {
            g.wildcard = true;
        }
        if res("secrets") && (verb("get") || verb("list") || verb("watch")) {
            g.secrets = true;
        }
        if (res("pods/exec") || res("pods/attach")) && (verb("create") || verb("get")) {
            g.exec = true;
        }
        if WORKLOAD_RESOURCES.iter().any(|r| res(r)) && verb("create") {
            g.create_workloads = true;
        }
        if verbs
            .iter()
            .any(|v| v == "escalate" || v == "bind" || v == "impersonate")
        {
            g.escalation = true;
        }
        if res("nodes/proxy") {
            g.nodes_proxy = true;
        }
        if res("serviceaccounts/token") && verb("create") {
            g.token = true;
        }
    }
    g
}

fn labels_match(labels: Option<&Value>, selector: &Value) -> bool {
    let Some(m) = selector.get("matchLabels").and_then(Value::as_object) else {
        return false;
    };
    !m.is_empty()
        && m.iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Rules of a role object, with one level of ClusterRole aggregation.
fn rules_of<'a>(ctx: &Ctx<'a>, role: &'a Object) -> Vec<&'a Value> {
    let mut rules: Vec<&Value> = role
        .raw
        .get("rules")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if let Some(selectors) = role
        .raw
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
    {
        for cr in ctx.cluster_roles.values() {
            if std::ptr::eq(*cr, role) {
                continue;
            }
            let labels = cr.raw.pointer("/metadata/labels");
            if selectors.iter().any(|s| labels_match(labels, s))
                && let Some(more) = cr.raw.get("rules").and_then(Value::as_array)
            {
                rules.extend(more.iter());
            }
        }
    }
    rules
}

/// Grants of a built-in role missing from the inventory.
fn builtin(name: &str) -> Option<Grants> {
    match name {
        "cluster-admin" => Some(Grants::all()),
        "admin" | "edit" => Some(Grants {
            secrets: true,
            exec: true,
            create_workloads: true,
            token: true,
            ..Grants::default()
        }),
        _ => None,
    }
}

pub(crate) fn check(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    let kind = obj.resource.kind.as_str();
    if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
        return;
    }
    if obj.resource.name.starts_with("system:") {
        return;
    }
    let role_kind = obj
        .raw
        .pointer("/roleRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let role_name = obj
        .raw
        .pointer("/roleRef/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let role_obj = match role_kind {
        "ClusterRole" => ctx.cluster_roles.get(role_name).copied(),
        "Role" => ctx.roles.get(&(ns(obj), role_name)).copied(),
        _ => None,
    };
    let grants = match role_obj {
        Some(r) => grants_of_rules(&rules_of(ctx, r)),
        None if role_kind == "ClusterRole" => builtin(role_name).unwrap_or_default(),
        None => Grants::default(),
    };
    let is_cluster_admin = role_kind == "ClusterRole" && role_name == "cluster-admin";

    // subjects and the workloads that run as them
    let mut subjects = Vec::new();
    let mut workloads = BTreeSet::new();
    let mut anonymous = false;
    let mut authenticated = false;
    let mut default_sa = Vec::new();
    for s in obj
        .raw
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let skind = s.get("kind").and_then(Value::as_str).unwrap_or("");
        let sname = s.get("name").and_then(Value::as_str).unwrap_or("");
        match skind {
            "ServiceAccount" => {
                let sns = s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(ns(obj));
                subjects.push(format!("ServiceAccount {sns}/{sname}"));
                if sname == "default" {
                    default_sa.push(format!("{sns}/default"));
                }
                if let Some(ws) = ctx.workloads_by_sa.get(&(sns, sname)) {
                    workloads.extend(ws.iter().map(|w| {
                        format!(
                            "{} {}/{}",
                            w.object.resource.kind, sns, w.object.resource.name
                        )
                    }));
                }
            }
            _ => {
                subjects.push(format!("{skind} {sname}"));
                anonymous |= sname == "system:anonymous" || sname == "system:unauthenticated";
                authenticated |= sname == "system:authenticated";
            }
        }
    }
    if subjects.is_empty() {
        return;
    }
    let who = subjects.join(", ");
    let running = if workloads.is_empty() {
        String::new()
    } else {
        format!(
            "; workloads running as them: {}",
            workloads.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let role = format!("{role_kind} {role_name}");
    let evidence = "$.roleRef.name".to_owned();
    let subjects_path = "$.subjects".to_owned();

    if anonymous {
        out.push(finding(
            "rbac-anonymous-binding",
            obj,
            None,
            format!("{role} is granted to anonymous or unauthenticated users ({who})"),
            subjects_path.clone(),
        ));
    }
    if authenticated && grants.any() {
        out.push(finding(
            "rbac-authenticated-group-binding",
            obj,
            None,
            format!("{role} is granted to every authenticated user (system:authenticated)"),
            subjects_path.clone(),
        ));
    }
    if !default_sa.is_empty() {
        out.push(finding(
            "rbac-default-service-account-binding",
            obj,
            None,
            format!(
                "{role} is bound to the default service account ({}): every pod without its own service account gets it{running}",
                default_sa.join(", ")
            ),
            subjects_path,
        ));
    }
    if is_cluster_admin {
        out.push(finding(
            "rbac-cluster-admin-binding",
            obj,
            None,
            format!("cluster-admin is granted to {who}{running}"),
            evidence,
        ));
        return;
    }
    let scope = if kind == "RoleBinding" {
        format!(" in namespace {}", ns(obj))
    } else {
        " cluster-wide".to_owned()
    };
    for (on, id, what) in [
        (
            grants.wildcard,
            "rbac-wildcard-permission",
            "wildcard permissions",
        ),
        (
            grants.secrets,
            "rbac-secrets-access",
            "read access to secrets",
        ),
        (grants.exec, "rbac-pod-exec", "exec/attach into pods"),
        (
            grants.create_workloads,
            "rbac-create-workloads",
            "creation of pods and workloads",
        ),
        (
            grants.escalation,
            "rbac-escalation-verbs",
            "escalate, bind or impersonate",
        ),
        (
            grants.nodes_proxy,
            "rbac-nodes-proxy",
            "access to nodes/proxy",
        ),
        (
            grants.token,
            "rbac-token-creation",
            "creation of service account tokens",
        ),
    ] {
        if on {
            out.push(finding(
                id,
                obj,
                None,
                format!("{role} grants {what}{scope} to {who}{running}"),
                evidence.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{of, one, scan_yaml};

    const RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: ops}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: ops}
spec:
  template:
    spec:
      serviceAccountName: agent
      containers: [{name: a, image: "x:1"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {agg: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-part, labels: {agg: "true"}}
rules:
  - {apiGroups: [""], resources: [secrets], verbs: [list]}
  - {apiGroups: [""], resources: [pods/exec], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: agent-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: agent, namespace: ops}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: default-admin, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: anon}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: "system:anonymous"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:basic-user"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:masters"}]
"#;

    #[test]
    fn aggregated_roles_subjects_and_workloads_are_resolved() {
        let fs = scan_yaml(RBAC);
        let f = one(&fs, "rbac-secrets-access");
        assert_eq!(f.resource.name, "agent-reader");
        assert!(
            f.message.contains("ServiceAccount ops/agent")
                && f.message.contains("Deployment ops/agent"),
            "{}",
            f.message
        );
        one(&fs, "rbac-pod-exec");
        let ca = one(&fs, "rbac-cluster-admin-binding");
        assert_eq!(
            ca.resource.name, "default-admin",
            "system: bindings are skipped"
        );
        one(&fs, "rbac-default-service-account-binding");
        let a = one(&fs, "rbac-anonymous-binding");
        assert_eq!(a.severity, palisade_model::Severity::Critical);
        assert!(of(&fs, "rbac-wildcard-permission").is_empty());
    }

    #[test]
    fn wildcard_roles_and_escalation_verbs() {
        let fs = scan_yaml(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: n}
rules:
  - {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
  - {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind, escalate]}
  - {apiGroups: [""], resources: [nodes/proxy], verbs: [get]}
  - {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: n}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects: [{kind: User, name: alice}]
"#,
        );
        for id in [
            "rbac-wildcard-permission",
            "rbac-escalation-verbs",
            "rbac-nodes-proxy",
            "rbac-token-creation",
        ] {
            let f = one(&fs, id);
            assert!(
                f.message.contains("User alice") && f.message.contains("in namespace n"),
                "{}",
                f.message
            );
        }
    }
}
