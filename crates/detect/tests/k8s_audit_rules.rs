//! The k8saudit plugin's rules file, loaded unmodified, evaluated over audit events shaped
//! like the API server's (and over real ones from the corpus).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Audit, fired, k8s_rules_path, k8s_rules_with, pod_from_template};
use palisade_detect::{K8sAuditEvent, Priority, RuleSet, RulesFile};
use serde_json::{Value, json};

#[test]
fn k8s_audit_rules_load_without_errors_or_warnings() {
    let Some(path) = k8s_rules_path() else { return };
    let (set, warnings) = RuleSet::load_paths(&[&path]).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let enabled = set.rules().filter(|r| r.enabled).count();
    eprintln!(
        "k8s_audit_rules.yaml: {} rules loaded, {enabled} enabled",
        set.len()
    );
    assert_eq!(set.len(), 48);
    assert_eq!(enabled, 48);
    assert!(set.rules().all(|r| r.source == "k8s_audit"));
    let r = set.rule("Create Privileged Pod").unwrap();
    assert_eq!(r.priority, Priority::Warning);
    assert_eq!(r.tags, ["k8s"]);
    assert_eq!(
        set.rule("K8s Secret Get Successfully").unwrap().priority,
        Priority::Error
    );
    assert_eq!(
        set.rule("All K8s Audit Events").unwrap().priority,
        Priority::Debug
    );
    // Most rules pin ka.target.resource or ka.verb, so few run on every event.
    let (always, indexed) = set.index_stats("k8s_audit");
    eprintln!("index: {always} rules on every event, {indexed} indexed");
    assert!(always <= 5 && indexed >= 43, "{always} {indexed}");
}

#[test]
fn gke_additions_load_on_top_of_the_base_rules() {
    let Some(base) = k8s_rules_path() else { return };
    let Some(gke) = palisade_testkit::corpus(
        "runtime/falco/falcosecurity-plugins/plugins/k8saudit-gke/rules/k8s_audit_rules_gke.yaml",
    ) else {
        return;
    };
    let (set, warnings) = RuleSet::load_paths(&[&base, &gke]).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    // The GKE file adds an exception for Google's robot accounts to "Disallowed K8s User".
    let ev = |user: &str| {
        Audit::new("get", "pods", Some("default"), Some("p"))
            .user(user)
            .text()
    };
    assert_eq!(fired(&set, &ev("mallory")), ["Disallowed K8s User"]);
    assert!(
        fired(
            &set,
            &ev("service-123@container-engine-robot.iam.gserviceaccount.com")
        )
        .is_empty()
    );
    // ... and appends GKE images to the privileged allow-list.
    let pod = json!({"kind": "Pod", "spec": {"containers": [
        {"name": "netd", "image": "gke.gcr.io/netd:v0.1", "securityContext": {"privileged": true}}]}});
    let e = Audit::new("create", "pods", Some("kube-system"), Some("netd"))
        .user("system:serviceaccount:kube-system:daemon-set-controller")
        .object(pod);
    assert!(!fired(&set, &e.text()).contains(&"Create Privileged Pod".to_string()));
}

fn privileged_pod(image: &str, privileged: bool) -> Value {
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "priv", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": image, "securityContext": {"privileged": privileged}}]}
    })
}

#[test]
fn create_privileged_pod() {
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let ev = |obj: Value| {
        Audit::new("create", "pods", Some("default"), Some("priv"))
            .object(obj)
            .text()
    };
    let e = ev(privileged_pod("busybox:1.36", true));
    let m: Vec<_> = {
        let ev = K8sAuditEvent::parse(&e).unwrap();
        set.evaluate(&ev)
            .map(|m| (m.rule.to_string(), m.priority, m.output))
            .collect()
    };
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].0, "Create Privileged Pod");
    assert_eq!(m[0].1, Priority::Warning);
    assert_eq!(
        m[0].2,
        "Pod started with privileged container (user=kubernetes-admin pod=priv resource=pods ns=default \
         images=(busybox:1.36) init_images=<NA> ephemeral_images=<NA>)"
    );
    // Near misses: not privileged, an allow-listed image, not a create, a pod subresource.
    assert!(fired(&set, &ev(privileged_pod("busybox:1.36", false))).is_empty());
    assert!(
        fired(
            &set,
            &ev(privileged_pod("docker.io/falcosecurity/falco:0.38.0", true))
        )
        .is_empty()
    );
    let update = Audit::new("update", "pods", Some("default"), Some("priv"))
        .object(privileged_pod("busybox", true));
    assert!(!fired(&set, &update.text()).contains(&"Create Privileged Pod".to_string()));
    // A privileged init container counts too.
    let init = json!({"kind": "Pod", "spec": {
        "initContainers": [{"name": "i", "image": "alpine", "securityContext": {"privileged": true}}],
        "containers": [{"name": "c", "image": "nginx"}]}});
    assert_eq!(fired(&set, &ev(init)), ["Create Privileged Pod"]);
    // Only once the response is complete.
    let started = Audit::new("create", "pods", Some("default"), Some("priv"))
        .stage("RequestReceived")
        .object(privileged_pod("busybox", true));
    assert!(fired(&set, &started.text()).is_empty());
}

#[test]
fn attach_exec_pod() {
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let exec = Audit::new("create", "pods", Some("prod"), Some("web-7d9f"))
        .stage("ResponseStarted")
        .code(101)
        .uri("/api/v1/namespaces/prod/pods/web-7d9f/exec?command=%2Fbin%2Fsh&command=-c&container=web&stdin=true&tty=true");
    let mut exec = exec;
    exec.v["objectRef"]["subresource"] = json!("exec");
    let text = exec.text();
    let ev = K8sAuditEvent::parse(&text).unwrap();
    let m: Vec<_> = set.evaluate(&ev).collect();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].rule, "Attach/Exec Pod");
    assert_eq!(m[0].priority, Priority::Notice);
    assert_eq!(
        m[0].output,
        "Attach/Exec to pod (user=kubernetes-admin pod=web-7d9f resource=pods ns=prod action=exec command=/bin/sh)"
    );
    assert!(
        m[0].output_fields
            .contains(&("ka.uri.param[command]", "/bin/sh".to_string()))
    );

    // `attach` by get also fires; `log` does not; the completed stage of the same call does not.
    let attach = Audit::new("get", "pods", Some("prod"), Some("web"))
        .stage("ResponseStarted")
        .subresource("attach");
    assert_eq!(fired(&set, &attach.text()), ["Attach/Exec Pod"]);
    let logs = Audit::new("get", "pods", Some("prod"), Some("web"))
        .stage("ResponseStarted")
        .subresource("log");
    assert!(fired(&set, &logs.text()).is_empty());
    let done = Audit::new("create", "pods", Some("prod"), Some("web")).subresource("exec");
    assert!(fired(&set, &done.text()).is_empty());
}

#[test]
fn create_disallowed_pod_needs_an_allow_list() {
    // As shipped, the allow-list macro allows every image: the rule never fires.
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let pod = |image: &str| {
        Audit::new("create", "pods", Some("default"), Some("p"))
            .object(json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": image}]}}))
            .text()
    };
    assert!(fired(&set, &pod("busybox")).is_empty());
    // A user rules file narrows it, as the rules file's comment suggests.
    let user = r#"
- list: allowed_repos
  items: [nginx, registry.example.com/app]
- macro: allowed_k8s_containers
  condition: (ka.req.pod.containers.image.repository in (allowed_repos))
"#;
    let Some(set) = k8s_rules_with(&[user]) else {
        return;
    };
    assert_eq!(fired(&set, &pod("busybox:1.36")), ["Create Disallowed Pod"]);
    assert!(fired(&set, &pod("nginx:1.25")).is_empty());
    assert!(fired(&set, &pod("registry.example.com/app@sha256:0123")).is_empty());
    // `in` needs every container's repository in the list.
    let two = Audit::new("create", "pods", Some("default"), Some("p"))
        .object(json!({"kind": "Pod", "spec": {"containers": [
            {"name": "a", "image": "nginx"}, {"name": "b", "image": "evil/miner"}]}}));
    assert_eq!(fired(&set, &two.text()), ["Create Disallowed Pod"]);
}

#[test]
fn serviceaccount_created() {
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let sa = json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "builder"}});
    let e = Audit::new("create", "serviceaccounts", Some("ci"), Some("builder")).object(sa.clone());
    let text = e.text();
    let ev = K8sAuditEvent::parse(&text).unwrap();
    let m: Vec<_> = set.evaluate(&ev).collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule, "K8s Serviceaccount Created");
    assert_eq!(m[0].priority, Priority::Informational);
    assert!(
        m[0].output.contains("serviceaccount=builder ns=ci"),
        "{}",
        m[0].output
    );
    assert!(
        m[0].output.contains("resp=201 decision=allow"),
        "{}",
        m[0].output
    );
    // Failed creation (already exists) and deletion are not "created".
    let conflict = Audit::new("create", "serviceaccounts", Some("ci"), Some("builder"))
        .code(409)
        .object(sa);
    assert!(fired(&set, &conflict.text()).is_empty());
    let del = Audit::new("delete", "serviceaccounts", Some("ci"), Some("builder"));
    assert_eq!(fired(&set, &del.text()), ["K8s Serviceaccount Deleted"]);
    // In kube-system, the stricter rule fires as well, unless it is a known controller account.
    let ks = Audit::new(
        "create",
        "serviceaccounts",
        Some("kube-system"),
        Some("backdoor"),
    )
    .object(json!({"kind": "ServiceAccount", "metadata": {"name": "backdoor"}}));
    assert_eq!(
        fired(&set, &ks.text()),
        [
            "Service Account Created in Kube Namespace",
            "K8s Serviceaccount Created"
        ]
    );
    let known = Audit::new(
        "create",
        "serviceaccounts",
        Some("kube-system"),
        Some("coredns"),
    )
    .object(json!({"kind": "ServiceAccount", "metadata": {"name": "coredns"}}));
    assert_eq!(fired(&set, &known.text()), ["K8s Serviceaccount Created"]);
}

fn role(resources: &[&str], verbs: &[&str]) -> Value {
    json!({"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1",
           "metadata": {"name": "r"},
           "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]})
}

#[test]
fn clusterrole_with_wildcard_created() {
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let ev = |obj: Value| {
        Audit::new("create", "clusterroles", None, Some("r"))
            .object(obj)
            .text()
    };
    let wild = fired(&set, &ev(role(&["*"], &["get"])));
    assert_eq!(
        wild,
        [
            "ClusterRole With Wildcard Created",
            "K8s ClusterRole Created"
        ]
    );
    let wild_verbs = fired(&set, &ev(role(&["pods"], &["*"])));
    assert_eq!(
        wild_verbs,
        [
            "ClusterRole With Wildcard Created",
            "K8s ClusterRole Created"
        ]
    );
    // Near miss: explicit read-only rules.
    assert_eq!(
        fired(&set, &ev(role(&["pods", "services"], &["get", "list"]))),
        ["K8s ClusterRole Created"]
    );
    // Write verbs and pods/exec have their own rules.
    assert_eq!(
        fired(&set, &ev(role(&["pods/exec"], &["create"]))),
        [
            "ClusterRole With Write Privileges Created",
            "ClusterRole With Pod Exec Created",
            "K8s ClusterRole Created"
        ]
    );
    // The output lists the rules as JSON.
    let text = ev(role(&["*"], &["get"]));
    let e = K8sAuditEvent::parse(&text).unwrap();
    let m = set.evaluate(&e).next().unwrap();
    assert_eq!(
        m.output,
        r#"Created Role/ClusterRole with wildcard (user=kubernetes-admin role=r resource=clusterroles rules=({"apiGroups":[""],"resources":["*"],"verbs":["get"]}))"#
    );
}

#[test]
fn cluster_admin_binding_and_anonymous_access() {
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let binding = json!({"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]});
    let e = Audit::new("create", "clusterrolebindings", None, Some("b")).object(binding);
    assert_eq!(
        fired(&set, &e.text()),
        [
            "Attach to cluster-admin Role",
            "K8s ClusterRoleBinding Created"
        ]
    );
    let anon = Audit::new("get", "secrets", Some("default"), Some("s")).user("system:anonymous");
    let got = fired(&set, &anon.text());
    assert!(
        got.contains(&"Anonymous Request Allowed".to_string()),
        "{got:?}"
    );
    // Health checks by anonymous users are expected.
    let mut health = Audit::new("get", "pods", None, None)
        .user("system:anonymous")
        .uri("/healthz?verbose=1");
    health.v.as_object_mut().unwrap().remove("objectRef");
    assert!(fired(&set, &health.text()).is_empty());
}

/// Objects from falcosecurity/event-generator, each labelled with the rule it triggers, wrapped
/// into the audit events their creation produces (a Deployment also yields the pod its
/// ReplicaSet controller creates).
#[test]
fn event_generator_objects_trigger_their_rules() {
    let Some(dir) = palisade_testkit::corpus("runtime/falco/event-generator/events/k8saudit/yaml")
    else {
        return;
    };
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let names: Vec<String> = set.rules().map(|r| r.name.clone()).collect();
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '/', ' '], "");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let obj: Value = serde::Deserialize::deserialize(doc).unwrap();
            let Some(label) = obj["metadata"]["labels"]["falco.org/rule"].as_str() else {
                continue;
            };
            let Some(rule) = names.iter().find(|n| norm(n) == norm(label)) else {
                continue;
            };
            let name = obj["metadata"]["name"].as_str().unwrap();
            let kind = obj["kind"].as_str().unwrap();
            let resource = match kind {
                "Deployment" => "deployments",
                "ConfigMap" => "configmaps",
                "Service" => "services",
                "ServiceAccount" => "serviceaccounts",
                "Role" => "roles",
                "ClusterRole" => "clusterroles",
                "RoleBinding" => "rolebindings",
                other => panic!("{other}"),
            };
            let mut events = vec![
                Audit::new("create", resource, Some("default"), Some(name))
                    .user("kubernetes-admin")
                    .object(obj.clone())
                    .text(),
            ];
            if kind == "Deployment" {
                let pod_name = format!("{name}-5d8c7b9f4-x2x7k");
                events.push(
                    Audit::new("create", "pods", Some("default"), Some(&pod_name))
                        .user("system:serviceaccount:kube-system:replicaset-controller")
                        .object(pod_from_template(&pod_name, &obj["spec"]["template"]))
                        .text(),
                );
            }
            let all: Vec<String> = events.iter().flat_map(|e| fired(&set, e)).collect();
            if rule == "Create Disallowed Pod" {
                // Needs a user allow-list (see create_disallowed_pod_needs_an_allow_list).
                assert!(!all.contains(rule), "{path:?}: {all:?}");
            } else {
                assert!(all.contains(rule), "{path:?}: expected {rule}, got {all:?}");
            }
            checked += 1;
        }
    }
    eprintln!("event-generator objects checked: {checked}");
    assert!(checked >= 12, "{checked}");
}

/// Real audit log lines (audit2rbac's demo log: list/get calls by an admin impersonating
/// users) parse, and no rule fires on them: every request is by a `system:` user.
#[test]
fn real_audit_log_parses_and_stays_quiet() {
    let Some(log) = palisade_testkit::corpus("runtime/audit/audit2rbac/testdata/demo.log") else {
        return;
    };
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    let text = std::fs::read_to_string(log).unwrap();
    let mut n = 0;
    let registry = palisade_detect::k8s_audit_registry();
    let imp = registry.resolve("ka.impuser.name", None).unwrap();
    let mut impersonated = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let ev = K8sAuditEvent::parse(line).unwrap();
        use palisade_detect::Event as _;
        if !ev.field(&imp).is_missing() {
            impersonated += 1;
        }
        let m: Vec<_> = set.evaluate(&ev).map(|m| m.rule).collect();
        assert!(m.is_empty(), "{line}: {m:?}");
        n += 1;
    }
    assert_eq!(n, 37);
    assert_eq!(impersonated, 37);
}

/// Labelled audit events from panther-analysis' Kubernetes detections, where a Falco rule
/// asks the same question.
#[test]
fn panther_labelled_events_agree_where_the_rules_overlap() {
    let Some(dir) =
        palisade_testkit::corpus("runtime/audit/panther-analysis/rules/kubernetes_rules")
    else {
        return;
    };
    let Some(set) = k8s_rules_with(&[]) else {
        return;
    };
    // (file, test, Falco rule, panther's label, what the Falco rule must do)
    let cases = [
        (
            "k8s_privileged_pod_created.yml",
            "EKS Privileged Pod Created",
            "Create Privileged Pod",
            true,
            true,
        ),
        (
            "k8s_privileged_pod_created.yml",
            "AKS Privileged Pod Created",
            "Create Privileged Pod",
            true,
            true,
        ),
        // Panther also flags containers that may run as root; Falco's rule is about the
        // privileged flag only, so this one is a near miss.
        (
            "k8s_privileged_pod_created.yml",
            "Run-As-Root Pod Created",
            "Create Privileged Pod",
            true,
            false,
        ),
        (
            "k8s_anonymous_api_access.yml",
            "EKS Anonymous API Access",
            "Anonymous Request Allowed",
            true,
            true,
        ),
        (
            "k8s_anonymous_api_access.yml",
            "AKS Anonymous API Access",
            "Anonymous Request Allowed",
            true,
            true,
        ),
        (
            "k8s_anonymous_api_access.yml",
            "Non-Anonymous API Access",
            "Anonymous Request Allowed",
            false,
            false,
        ),
    ];
    for (file, name, rule, labelled, expected) in cases {
        let doc: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let test = doc["Tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["Name"] == name)
            .unwrap_or_else(|| panic!("{file}: {name}"));
        // AKS diagnostic logs carry the event as a JSON string.
        let log = &test["Log"];
        let event = match log["properties"]["log"].as_str() {
            Some(s) => s.to_string(),
            None => log.to_string(),
        };
        assert_eq!(test["ExpectedResult"].as_bool(), Some(labelled), "{name}");
        let got = fired(&set, &event);
        assert_eq!(got.iter().any(|r| r == rule), expected, "{name}: {got:?}");
    }
}

#[test]
fn rules_files_given_as_bytes() {
    let Some(path) = k8s_rules_path() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let f = RulesFile::from_bytes("k8s_audit_rules.yaml", &bytes).unwrap();
    let (set, w) = RuleSet::load(&[f]).unwrap();
    assert!(w.is_empty());
    assert_eq!(set.len(), 48);
}
