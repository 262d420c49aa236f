//! Each built-in rule on audit events shaped like the API server's: one that fires and a near
//! miss that does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Audit;
use palisade_detect::K8sAuditEvent;
use palisade_detect::alert::{Analyzer, AnalyzerOptions};
use serde_json::{Value, json};

/// The alert types built-in rules raise on one event.
fn types(ev: &Audit) -> Vec<String> {
    let (mut an, warnings) = Analyzer::new(AnalyzerOptions::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let text = ev.text();
    let e = K8sAuditEvent::parse(&text).unwrap();
    an.process(&e, None);
    let mut t: Vec<String> = an.finish().into_iter().map(|a| a.alert_type).collect();
    t.sort();
    t.dedup();
    t
}

fn fires(ev: &Audit, ty: &str) -> bool {
    types(ev).iter().any(|t| t == ty)
}

fn assert_fires(ev: &Audit, ty: &str) {
    let t = types(ev);
    assert!(
        t.iter().any(|x| x == ty),
        "{ty} did not fire on {}; got {t:?}",
        ev.text()
    );
}

fn assert_quiet(ev: &Audit, ty: &str) {
    let t = types(ev);
    assert!(!t.iter().any(|x| x == ty), "{ty} fired on {}", ev.text());
}

fn set(mut a: Audit, path: &[&str], v: Value) -> Audit {
    let mut cur = &mut a.v;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[path[path.len() - 1]] = v;
    a
}

fn pod(spec: Value) -> Value {
    json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": spec})
}

fn pod_create(ns: &str, spec: Value) -> Audit {
    Audit::new("create", "pods", Some(ns), Some("p"))
        .user("mallory@example.com")
        .object(pod(spec))
}

fn service(name: &str, ns: &str, spec: Value) -> Audit {
    Audit::new("create", "services", Some(ns), Some(name))
        .user("mallory@example.com")
        .object(json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": name}, "spec": spec}))
}

#[test]
fn exposed_dashboard() {
    let lb = json!({"type": "LoadBalancer", "selector": {"k8s-app": "kubernetes-dashboard"},
        "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]});
    assert_fires(
        &service("kubernetes-dashboard", "kubernetes-dashboard", lb.clone()),
        "K8S_ExposedDashboard",
    );
    assert_fires(
        &service("dash", "tools", lb.clone()),
        "K8S_ExposedDashboard",
    );
    let mut cluster_ip = lb;
    cluster_ip["type"] = json!("ClusterIP");
    assert_quiet(
        &service("kubernetes-dashboard", "kubernetes-dashboard", cluster_ip),
        "K8S_ExposedDashboard",
    );
}

#[test]
fn exposed_databases_and_services() {
    let pg = json!({"type": "LoadBalancer", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP", "targetPort": 5432}]});
    assert_fires(
        &service("db", "data", pg.clone()),
        "K8S_ExposedPostgresBroadIPRange",
    );
    let mut restricted = pg.clone();
    restricted["loadBalancerSourceRanges"] = json!(["203.0.113.0/24"]);
    assert_quiet(
        &service("db", "data", restricted),
        "K8S_ExposedPostgresBroadIPRange",
    );
    let mut open = pg;
    open["loadBalancerSourceRanges"] = json!(["0.0.0.0/0"]);
    assert_fires(
        &service("db", "data", open),
        "K8S_ExposedPostgresBroadIPRange",
    );

    let redis = json!({"type": "LoadBalancer", "ports": [{"port": 6379}]});
    assert_fires(&service("cache", "data", redis), "K8S_ExposedRedis");
    let redis_internal = json!({"type": "ClusterIP", "ports": [{"port": 6379}]});
    assert_quiet(
        &service("cache", "data", redis_internal),
        "K8S_ExposedRedis",
    );
    // Port 16379 is not Redis' port.
    let other = json!({"type": "LoadBalancer", "ports": [{"port": 16379}]});
    assert_quiet(&service("cache", "data", other), "K8S_ExposedRedis");

    let docker = json!({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 2375}]});
    assert_fires(&service("dind", "ci", docker), "K8S_ExposedService");
    let web = json!({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443}]});
    assert_quiet(&service("web", "shop", web), "K8S_ExposedService");

    let kf = json!({"type": "LoadBalancer", "ports": [{"port": 80}]});
    assert_fires(
        &service("centraldashboard", "kubeflow", kf.clone()),
        "K8S_ExposedKubeflow",
    );
    assert_quiet(&service("web", "shop", kf), "K8S_ExposedKubeflow");
}

#[test]
fn privileged_and_host_access() {
    let priv_spec = json!({"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]});
    assert_fires(
        &pod_create("default", priv_spec.clone()),
        "K8S_PrivilegedContainer",
    );
    let init = json!({"initContainers": [{"name": "i", "image": "busybox", "securityContext": {"privileged": true}}],
        "containers": [{"name": "c", "image": "nginx"}]});
    assert_fires(&pod_create("default", init), "K8S_PrivilegedContainer");
    let plain = json!({"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": false}}]});
    assert_quiet(&pod_create("default", plain), "K8S_PrivilegedContainer");
    // The control plane starting a system DaemonSet's pod in kube-system.
    let ds_pod = pod_create("kube-system", priv_spec.clone())
        .user("system:serviceaccount:kube-system:daemon-set-controller");
    assert_quiet(&ds_pod, "K8S_PrivilegedContainer");
    // Refused requests created nothing.
    assert_quiet(
        &pod_create("default", priv_spec).code(403),
        "K8S_PrivilegedContainer",
    );

    let sock = json!({"containers": [{"name": "c", "image": "docker"}],
        "volumes": [{"name": "s", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]});
    assert_fires(&pod_create("ci", sock), "K8S_SensitiveMount");
    let root = json!({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "r", "hostPath": {"path": "/"}}]});
    assert_fires(&pod_create("ci", root), "K8S_SensitiveMount");
    let data = json!({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "d", "hostPath": {"path": "/mnt/data"}}]});
    assert_quiet(&pod_create("ci", data), "K8S_SensitiveMount");

    let hostpid = json!({"hostPID": true, "containers": [{"name": "c", "image": "x"}]});
    assert_fires(&pod_create("default", hostpid), "K8S_HostNamespaceSharing");
    let nohost = json!({"hostNetwork": false, "containers": [{"name": "c", "image": "x"}]});
    assert_quiet(&pod_create("default", nohost), "K8S_HostNamespaceSharing");

    let caps = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]});
    assert_fires(&pod_create("default", caps), "K8S_DangerousCapabilities");
    let safe = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}}]});
    assert_quiet(&pod_create("default", safe), "K8S_DangerousCapabilities");

    // kubectl debug adding a privileged ephemeral container.
    let debug = Audit::new("patch", "pods", Some("shop"), Some("web-1"))
        .user("mallory@example.com")
        .subresource("ephemeralcontainers")
        .object(pod(json!({"containers": [{"name": "web", "image": "nginx"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox", "securityContext": {"privileged": true}}]})));
    assert_fires(&debug, "K8S_PrivilegedContainer");
}

#[test]
fn host_paths_and_root_containers() {
    // Any host directory alerts, as its own type; sensitive ones only as K8S_SensitiveMount.
    let data = json!({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "d", "hostPath": {"path": "/mnt/data"}}]});
    assert_fires(&pod_create("ci", data.clone()), "K8S_HostPathMount");
    assert_quiet(&pod_create("ci", data).code(422), "K8S_HostPathMount");
    let sock = json!({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}]});
    assert_quiet(&pod_create("ci", sock), "K8S_HostPathMount");
    let cm = json!({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "c", "configMap": {"name": "cfg"}}]});
    assert_quiet(&pod_create("ci", cm), "K8S_HostPathMount");

    // Root set explicitly, on a container or the pod; an unset user is not reported.
    let root =
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 0}}]});
    assert_fires(&pod_create("default", root), "K8S_RootContainer");
    let pod_root =
        json!({"securityContext": {"runAsUser": 0}, "containers": [{"name": "c", "image": "x"}]});
    assert_fires(&pod_create("default", pod_root), "K8S_RootContainer");
    let opt_out = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsNonRoot": false}}]});
    assert_fires(&pod_create("default", opt_out), "K8S_RootContainer");
    let non_root = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsNonRoot": true}}]});
    assert_quiet(&pod_create("default", non_root), "K8S_RootContainer");
    let unset = json!({"containers": [{"name": "c", "image": "x"}]});
    assert_quiet(&pod_create("default", unset), "K8S_RootContainer");
    let user = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 1000}}]});
    assert_quiet(&pod_create("default", user), "K8S_RootContainer");
}

#[test]
fn service_account_token_from_a_public_address_even_when_refused() {
    let ev = set(
        Audit::new("list", "secrets", Some("default"), None)
            .user("system:serviceaccount:default:builder")
            .code(403),
        &["sourceIPs"],
        json!(["198.51.100.7"]),
    );
    assert_fires(&ev, "K8S_ServiceAccountRareOperation");
    let inside = set(ev, &["sourceIPs"], json!(["10.1.2.3"]));
    assert_quiet(&inside, "K8S_ServiceAccountRareOperation");
}

#[test]
fn kube_system_containers_and_miners() {
    let spec = json!({"containers": [{"name": "c", "image": "alpine"}]});
    assert_fires(
        &pod_create("kube-system", spec.clone()),
        "K8S_KubeSystemContainer",
    );
    assert_quiet(
        &pod_create("team-a", spec.clone()),
        "K8S_KubeSystemContainer",
    );
    let by_controller = pod_create("kube-system", spec.clone())
        .user("system:serviceaccount:kube-system:replicaset-controller");
    assert_quiet(&by_controller, "K8S_KubeSystemContainer");
    // An eviction is a create on the pod's subresource, not a new pod.
    let evict = Audit::new("create", "pods", Some("kube-system"), Some("coredns-1"))
        .user("mallory@example.com")
        .subresource("eviction");
    assert_quiet(&evict, "K8S_KubeSystemContainer");
    let deploy = Audit::new("create", "deployments", Some("kube-system"), Some("helper"))
        .user("mallory@example.com");
    assert_fires(&deploy, "K8S_KubeSystemContainer");

    let miner = json!({"containers": [{"name": "c", "image": "docker.io/metal3d/xmrig:latest"}]});
    assert_fires(&pod_create("default", miner), "K8S_MaliciousContainerImage");
    assert_quiet(&pod_create("default", spec), "K8S_MaliciousContainerImage");
    let ds = Audit::new("create", "daemonsets", Some("default"), Some("d"))
        .user("mallory@example.com")
        .object(
            json!({"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [
            {"name": "m", "image": "ghcr.io/x/XMRig-cpu:6"}]}}}}),
        );
    assert_fires(&ds, "K8S_MaliciousContainerImage");
    assert_fires(&ds, "K8S_DaemonSetCreated");
    let ds_by_controller = ds.clone_with_user("system:serviceaccount:kube-system:helm-controller");
    assert_quiet(&ds_by_controller, "K8S_DaemonSetCreated");

    let cj = Audit::new("create", "cronjobs", Some("default"), Some("backup"))
        .user("mallory@example.com");
    assert_fires(&cj, "K8S_CronJobCreated");
    assert_quiet(
        &Audit::new("get", "cronjobs", Some("default"), Some("backup")),
        "K8S_CronJobCreated",
    );
}

trait CloneWithUser {
    fn clone_with_user(&self, user: &str) -> Audit;
}

impl CloneWithUser for Audit {
    fn clone_with_user(&self, user: &str) -> Audit {
        Audit { v: self.v.clone() }.user(user)
    }
}

fn exec(ns: &str, pod: &str, query: &str) -> Audit {
    let uri = format!("/api/v1/namespaces/{ns}/pods/{pod}/exec?{query}");
    let mut a = Audit::new("create", "pods", Some(ns), Some(pod))
        .user("mallory@example.com")
        .subresource("exec")
        .uri(&uri)
        .code(101);
    a.v["stage"] = json!("ResponseStarted");
    a
}

#[test]
fn exec_and_token_theft() {
    let sh = exec(
        "shop",
        "web-1",
        "command=sh&container=web&stdin=true&stdout=true&tty=true",
    );
    assert_fires(&sh, "K8S_ExecIntoPod");
    assert_quiet(&sh, "K8S_ServiceAccountTokenTheft");
    assert_quiet(
        &sh.clone_with_user("mallory@example.com").code(403),
        "K8S_ExecIntoPod",
    );
    let cat = exec(
        "shop",
        "web-1",
        "command=cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken&container=web&stdout=true",
    );
    assert_fires(&cat, "K8S_ServiceAccountTokenTheft");
    assert_fires(&cat, "K8S_ExecIntoPod");
    // The API server's RequestReceived stage is followed by the one that counts.
    assert_quiet(
        &cat.clone_with_user("mallory@example.com")
            .stage("RequestReceived"),
        "K8S_ExecIntoPod",
    );

    let token = Audit::new("create", "serviceaccounts", Some("shop"), Some("web"))
        .user("mallory@example.com")
        .subresource("token");
    assert_fires(&token, "K8S_ServiceAccountTokenCreated");
    // The kubelet requests tokens for every pod it runs.
    assert_quiet(
        &token.clone_with_user("system:node:ip-10-0-1-2.ec2.internal"),
        "K8S_ServiceAccountTokenCreated",
    );
}

#[test]
fn secrets_and_service_accounts() {
    let list_all = Audit::new("list", "secrets", None, None).user("mallory@example.com");
    assert_fires(&list_all, "K8S_AnomalousSecretAccess");
    let operator = Audit::new("watch", "secrets", Some("cert-manager"), None)
        .user("system:serviceaccount:cert-manager:cert-manager");
    let operator = set(
        operator,
        &["userAgent"],
        json!("cert-manager-controller/v1.14.4"),
    );
    assert_quiet(&operator, "K8S_AnomalousSecretAccess");
    let denied = Audit::new("get", "secrets", Some("prod"), Some("db"))
        .user("mallory@example.com")
        .code(403);
    assert_fires(&denied, "K8S_AnomalousSecretAccess");
    let allowed_get =
        Audit::new("get", "secrets", Some("prod"), Some("db")).user("alice@example.com");
    assert_quiet(&allowed_get, "K8S_AnomalousSecretAccess");

    let ssar = Audit::new("create", "selfsubjectaccessreviews", None, None)
        .user("system:serviceaccount:shop:web");
    let ssar = set(
        ssar,
        &["userAgent"],
        json!("kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f"),
    );
    assert_fires(&ssar, "K8S_ServiceAccountRareOperation");
    let ssar_human = ssar.clone_with_user("alice@example.com");
    assert_quiet(&ssar_human, "K8S_ServiceAccountRareOperation");

    let public = set(
        Audit::new("list", "pods", Some("shop"), None).user("system:serviceaccount:shop:web"),
        &["sourceIPs"],
        json!(["198.51.100.7"]),
    );
    // 198.51.100.0/24 is a documentation range, but not private: it counts as public.
    assert_fires(&public, "K8S_ServiceAccountRareOperation");
    let inside = set(
        Audit::new("list", "pods", Some("shop"), None).user("system:serviceaccount:shop:web"),
        &["sourceIPs"],
        json!(["10.244.1.7", "198.51.100.7"]),
    );
    assert_quiet(&inside, "K8S_ServiceAccountRareOperation");
}

#[test]
fn anonymous_access() {
    let anon = |uri: &str, ip: &str, code: i64| {
        let a = Audit::new("get", "pods", Some("default"), None)
            .user("system:anonymous")
            .uri(uri)
            .code(code);
        set(
            set(a, &["sourceIPs"], json!([ip])),
            &["user", "groups"],
            json!(["system:unauthenticated"]),
        )
    };
    assert_fires(
        &anon("/api/v1/namespaces/default/pods", "10.0.0.5", 200),
        "K8S_AnonymousAccess",
    );
    assert_fires(&anon("/healthz", "203.0.113.9", 200), "K8S_AnonymousAccess");
    assert_fires(&anon("/.env", "203.0.113.9", 403), "K8S_AnonymousAccess");
    assert_quiet(&anon("/healthz", "10.0.0.5", 200), "K8S_AnonymousAccess");
    assert_quiet(
        &anon("/version?timeout=32s", "192.168.1.4", 200),
        "K8S_AnonymousAccess",
    );

    let binding = |kind: &str, name: &str| {
        Audit::new("create", "clusterrolebindings", None, Some("open"))
            .user("mallory@example.com")
            .object(json!({"kind": "ClusterRoleBinding", "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
                "subjects": [{"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}]}))
    };
    assert_fires(
        &binding("User", "system:anonymous"),
        "K8S_AnonymousAccessGranted",
    );
    assert_fires(
        &binding("Group", "system:unauthenticated"),
        "K8S_AnonymousAccessGranted",
    );
    assert_quiet(&binding("Group", "devs"), "K8S_AnonymousAccessGranted");
}

fn binding(role: &str, subjects: Value) -> Audit {
    Audit::new("create", "clusterrolebindings", None, Some("b"))
        .user("mallory@example.com")
        .object(json!({"kind": "ClusterRoleBinding",
            "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": subjects}))
}

fn role(kind_resource: &str, rules: Value) -> Audit {
    Audit::new("create", kind_resource, None, Some("r"))
        .user("mallory@example.com")
        .object(json!({"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules}))
}

#[test]
fn rbac() {
    let user = json!([{"kind": "User", "name": "eve", "apiGroup": "rbac.authorization.k8s.io"}]);
    assert_fires(
        &binding("cluster-admin", user.clone()),
        "K8S_ClusterAdminBinding",
    );
    assert_quiet(&binding("view", user.clone()), "K8S_ClusterAdminBinding");
    assert_quiet(
        &binding("cluster-admin", user).clone_with_user("system:kube-controller-manager"),
        "K8S_ClusterAdminBinding",
    );

    let default_sa = json!([{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}]);
    assert_fires(
        &binding("edit", default_sa.clone()),
        "K8S_ServiceAcountPermissionAnomaly",
    );
    assert_quiet(
        &binding("view", default_sa),
        "K8S_ServiceAcountPermissionAnomaly",
    );
    let all_sas = json!([{"kind": "Group", "name": "system:serviceaccounts", "apiGroup": "rbac.authorization.k8s.io"}]);
    assert_fires(
        &binding("cluster-admin", all_sas),
        "K8S_ServiceAcountPermissionAnomaly",
    );

    let wildcard = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    assert_fires(
        &role("clusterroles", wildcard.clone()),
        "K8S_HighPrivilegesRole",
    );
    let exec_role = json!([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]);
    assert_fires(&role("roles", exec_role), "K8S_HighPrivilegesRole");
    let reader = json!([{"apiGroups": ["*"], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]);
    assert_quiet(&role("clusterroles", reader), "K8S_HighPrivilegesRole");
    let update = Audit::new("update", "clusterroles", None, Some("r")).user("mallory@example.com");
    let update = Audit {
        v: {
            let mut v = update.v;
            v["requestObject"] = json!({"rules": wildcard});
            v
        },
    };
    assert_quiet(&update, "K8S_HighPrivilegesRole");

    let sys =
        Audit::new("patch", "clusterroles", None, Some("system:node")).user("mallory@example.com");
    assert_fires(&sys, "K8S_SystemRoleModified");
    let coredns = Audit::new("update", "clusterroles", None, Some("system:coredns"))
        .user("mallory@example.com");
    assert_quiet(&coredns, "K8S_SystemRoleModified");

    let csr = |signer: &str| {
        Audit::new("create", "certificatesigningrequests", None, Some("c"))
            .user("mallory@example.com")
            .object(json!({"kind": "CertificateSigningRequest", "spec": {"signerName": signer, "usages": ["client auth"], "request": "LS0t"}}))
    };
    assert_fires(
        &csr("kubernetes.io/kube-apiserver-client"),
        "K8S_ClientCertificateRequest",
    );
    assert_quiet(
        &csr("kubernetes.io/kubelet-serving"),
        "K8S_ClientCertificateRequest",
    );

    let hook = Audit::new(
        "create",
        "mutatingwebhookconfigurations",
        None,
        Some("inject"),
    )
    .user("mallory@example.com");
    assert_fires(&hook, "K8S_AdmissionController");
    let hook_update = Audit::new(
        "update",
        "mutatingwebhookconfigurations",
        None,
        Some("inject"),
    )
    .user("mallory@example.com");
    assert_quiet(&hook_update, "K8S_AdmissionController");
}

#[test]
fn tampering_tools_and_canary() {
    let dns = Audit::new("update", "configmaps", Some("kube-system"), Some("coredns"))
        .user("mallory@example.com");
    assert_fires(&dns, "K8S_CoreDnsModification");
    let other_cm = Audit::new(
        "update",
        "configmaps",
        Some("kube-system"),
        Some("cluster-info"),
    )
    .user("mallory@example.com");
    assert_quiet(&other_cm, "K8S_CoreDnsModification");

    let del =
        Audit::new("deletecollection", "events", Some("shop"), None).user("mallory@example.com");
    assert_fires(&del, "K8S_DeleteEvents");
    assert_quiet(
        &Audit::new("list", "events", Some("shop"), None),
        "K8S_DeleteEvents",
    );

    let hunter = set(
        Audit::new("get", "pods", Some("default"), None),
        &["userAgent"],
        json!("kube-hunter"),
    );
    assert_fires(&hunter, "K8S_PenTestToolsKubeHunter");
    assert_quiet(
        &Audit::new("get", "pods", Some("default"), None),
        "K8S_PenTestToolsKubeHunter",
    );

    let canary =
        Audit::new("list", "pods", Some("palisade-canary"), None).user("alice@example.com");
    assert_eq!(types(&canary), ["K8S_TestAlert"]);
    assert!(!fires(
        &Audit::new("list", "pods", Some("palisade"), None),
        "K8S_TestAlert"
    ));
}

#[test]
fn proxy_addresses_come_from_an_appended_list() {
    let tor = r#"
- list: palisade_proxy_ips
  items: [185.220.101.4]
  append: true
"#;
    let (mut an, warnings) = Analyzer::new(AnalyzerOptions {
        rules: vec![palisade_detect::RulesFile::new("tor.yaml", tor)],
        ..Default::default()
    })
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let ev = set(
        Audit::new("get", "pods", Some("default"), None),
        &["sourceIPs"],
        json!(["185.220.101.4"]),
    )
    .text();
    an.process(&K8sAuditEvent::parse(&ev).unwrap(), None);
    let ev = Audit::new("get", "pods", Some("default"), None).text();
    an.process(&K8sAuditEvent::parse(&ev).unwrap(), None);
    let alerts = an.finish();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert_type, "K8S_TI_Proxy");
    assert_eq!(alerts[0].mitre.technique.as_deref(), Some("T1078"));
}

#[test]
fn alert_fields_and_dedup_over_events() {
    let (mut an, _) = Analyzer::new(AnalyzerOptions::default()).unwrap();
    for (i, sec) in [0, 30, 59].iter().enumerate() {
        let mut a = exec("shop", "web-1", "command=sh");
        a.v["auditID"] = json!(format!("id-{i}"));
        a.v["stageTimestamp"] = json!(format!("2024-05-01T10:00:{sec:02}Z"));
        an.process(
            &K8sAuditEvent::parse(&a.text())
                .unwrap()
                .with_cluster_name("prod"),
            None,
        );
    }
    let alerts = an.finish();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.alert_type, "K8S_ExecIntoPod");
    assert_eq!(a.count, 3);
    assert_eq!(a.event_ids, ["id-0", "id-1", "id-2"]);
    assert_eq!(a.resource, "shop/pods/web-1/exec");
    assert_eq!(a.user, "mallory@example.com");
    assert_eq!(a.cluster.as_deref(), Some("prod"));
    assert_eq!(a.first_seen_rfc3339(), "2024-05-01T10:00:00.000000000Z");
    assert_eq!(a.last_seen_rfc3339(), "2024-05-01T10:00:59.000000000Z");
    assert_eq!(a.mitre.tactic.as_deref(), Some("TA0002"));
    assert_eq!(a.mitre.technique.as_deref(), Some("T1609"));
    assert!(
        a.message
            .starts_with("exec into pod shop/web-1 by mallory@example.com"),
        "{}",
        a.message
    );
    let j = serde_json::to_value(a).unwrap();
    assert_eq!(j["type"], "K8S_ExecIntoPod");
    assert_eq!(j["severity"], "low");
    assert_eq!(j["priority"], "Notice");
    assert_eq!(j["first_seen"], "2024-05-01T10:00:00.000000000Z");
}

#[test]
fn node_port_services_and_plain_http_ingresses() {
    let node_port = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]});
    assert_fires(&service("web", "shop", node_port), "K8S_NodePortService");
    let cluster_ip = json!({"type": "ClusterIP", "ports": [{"port": 80}]});
    assert_quiet(&service("web", "shop", cluster_ip), "K8S_NodePortService");

    let ingress = |ns: &str, spec: Value| {
        Audit::new("create", "ingresses", Some(ns), Some("web"))
            .user("mallory@example.com")
            .object(
                json!({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
                "metadata": {"name": "web"}, "spec": spec}),
            )
    };
    let rules = json!([{"host": "shop.example.com", "http": {"paths": [{"path": "/"}]}}]);
    assert_fires(
        &ingress("shop", json!({"rules": rules.clone()})),
        "K8S_IngressWithoutTLS",
    );
    assert_quiet(
        &ingress(
            "shop",
            json!({"rules": rules.clone(), "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]}),
        ),
        "K8S_IngressWithoutTLS",
    );
    // The platform's namespaces hold add-ons' ingresses.
    assert_quiet(
        &ingress("kube-system", json!({"rules": rules})),
        "K8S_IngressWithoutTLS",
    );
}

#[test]
fn node_credentials_used_outside_the_cloud() {
    let node = |ip: &str| {
        set(
            Audit::new(
                "create",
                "serviceaccounts",
                Some("kube-system"),
                Some("kube-proxy"),
            )
            .user("system:node:ip-192-168-3-178.us-west-2.compute.internal"),
            &["sourceIPs"],
            json!([ip]),
        )
    };
    // Outside every listed network: a documentation range, an ISP address, IPv6 too.
    for ip in ["198.51.100.7", "1.2.3.4", "2001:db8::7"] {
        assert_fires(&node(ip), "K8S_ServiceAccountRareOperation");
    }
    // The cluster's networks and the cloud providers' ranges (AWS, Azure, Google Cloud).
    for ip in [
        "10.0.27.115",
        "fd00::1",
        "54.212.83.236",
        "2600:1f14::1",
        "20.127.0.100",
        "35.192.4.1",
    ] {
        assert_quiet(&node(ip), "K8S_ServiceAccountRareOperation");
    }
    // Other users are not node credentials; addresses that do not parse are not public.
    let person = node("198.51.100.7").clone_with_user("alice@example.com");
    assert_quiet(&person, "K8S_ServiceAccountRareOperation");
    assert_quiet(&node("not-an-ip"), "K8S_ServiceAccountRareOperation");

    // A user adds the egress network of an on-premises node pool to the list.
    let own = palisade_detect::RulesFile::new(
        "site.yaml",
        "- list: palisade_cloud_ranges\n  items: [198.51.100.0/24]\n  append: true\n",
    );
    let (mut an, warnings) = Analyzer::new(AnalyzerOptions {
        rules: vec![own],
        ..Default::default()
    })
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    for (ip, expected) in [("198.51.100.7", false), ("1.2.3.4", true)] {
        let text = node(ip).text();
        an.process(&K8sAuditEvent::parse(&text).unwrap(), None);
        let fired = an
            .finish()
            .iter()
            .any(|a| a.alert_type == "K8S_ServiceAccountRareOperation");
        assert_eq!(fired, expected, "{ip}");
    }
}
