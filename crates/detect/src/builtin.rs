//! The built-in control-plane detections: a rules file in Falco's language
//! (`rules/k8s_control_plane.yaml`, embedded) and the catalogue of alert types its rules raise.
//!
//! Each built-in rule's first tag is its alert type id; [`ALERT_TYPES`] gives each type its
//! title, severity, MITRE ATT&CK tactic and technique (validated against
//! `palisade_model::mitre` by the tests), description and remediation. Ids of the reference
//! product's alert types (`K8S_...`) are kept so SIEM content keeps working
//! ([`AlertType::reference`]); the others are palisade's own, for detections the reference
//! lists without an id or not at all. Rules of other files join a built-in type by carrying
//! its id as a tag.
//!
//! The reference's anomaly types that were deprecated for machine-learned baselines are
//! replaced by explicit rules where a rule can say what is suspicious:
//! `K8S_AnomalousSecretAccess` (secrets listed by people or across namespaces, refused secret
//! reads), `K8S_ServiceAccountRareOperation` (a service account probing its permissions from
//! kubectl, or used from a public address; node credentials used from a public address
//! outside the `palisade_cloud_ranges` networks), `K8S_ServiceAcountPermissionAnomaly` (powerful
//! roles bound to default service accounts; the id keeps the reference's spelling).
//! Types that audit events cannot show have no rule: `K8S_AbnormalMiActivity` (the cloud's
//! activity log), `K8S_ExposedPostgresTrustAuth` (the database's configuration),
//! `K8S_AnomalousPodDeployment` (a learned baseline). `K8S_TI_Proxy` fires only once the
//! `palisade_proxy_ips` list holds a feed's addresses (a user's rules file appends them).
//! Two low-severity types of our own complete the pod checks: `K8S_HostPathMount` (a host
//! path outside the sensitive ones of `K8S_SensitiveMount`) and `K8S_RootContainer` (a
//! container explicitly set to run as root), and two exposure types of our own:
//! `K8S_NodePortService` (a NodePort service) and `K8S_IngressWithoutTLS` (an ingress
//! serving plain HTTP).

use palisade_model::Severity;

use crate::loader::RulesFile;

/// The name the built-in rules file goes by in warnings.
pub const BUILTIN_RULES_NAME: &str = "builtin:k8s_control_plane.yaml";

/// The built-in rules, in Falco's rule language.
pub const BUILTIN_RULES: &str = include_str!("../rules/k8s_control_plane.yaml");

/// The reserved namespace of the test alert: `kubectl get pods -n palisade-canary` raises
/// `K8S_TestAlert` (the namespace need not exist).
pub const CANARY_NAMESPACE: &str = "palisade-canary";

/// The built-in rules as a [`RulesFile`], to load before any user rules.
pub fn builtin_rules_file() -> RulesFile {
    RulesFile::new(BUILTIN_RULES_NAME, BUILTIN_RULES)
}

/// An alert type of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertType {
    /// Stable id (`K8S_PrivilegedContainer`).
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK tactic id (`TA0004`).
    pub tactic: &'static str,
    /// MITRE ATT&CK technique id (`T1611`).
    pub technique: &'static str,
    /// What happened and why it matters.
    pub description: &'static str,
    /// What to do about it.
    pub remediation: &'static str,
    /// Whether the id is the reference product's (else palisade's own).
    pub reference: bool,
}

/// Looks an alert type up by id.
pub fn alert_type(id: &str) -> Option<&'static AlertType> {
    ALERT_TYPES.iter().find(|t| t.id == id)
}

/// Every built-in alert type.
pub const ALERT_TYPES: &[AlertType] = &[
    AlertType {
        id: "K8S_ExposedDashboard",
        title: "Exposed Kubernetes dashboard detected",
        severity: Severity::High,
        tactic: "TA0001",
        technique: "T1133",
        description: "The Kubernetes Dashboard is exposed to the network through a Service of type LoadBalancer. Attackers scan for reachable dashboards and use them to run workloads with the dashboard's permissions.",
        remediation: "Change the Service to ClusterIP and reach the dashboard through kubectl proxy or an authenticated ingress; check who created the Service and what the dashboard's service account may do.",
        reference: true,
    },
    AlertType {
        id: "K8S_ExposedKubeflow",
        title: "Exposed Kubeflow dashboard detected",
        severity: Severity::Medium,
        tactic: "TA0001",
        technique: "T1133",
        description: "A Kubeflow service is exposed through a LoadBalancer. Kubeflow dashboards and notebooks run code, and are a known entry point for crypto-mining campaigns.",
        remediation: "Expose Kubeflow only behind an authenticating gateway or a private load balancer with source ranges; review the namespace for unexpected workloads.",
        reference: true,
    },
    AlertType {
        id: "K8S_ExposedPostgresBroadIPRange",
        title: "Exposed Postgres service with risky configuration detected",
        severity: Severity::Medium,
        tactic: "TA0001",
        technique: "T1190",
        description: "A PostgreSQL service is exposed through a LoadBalancer without loadBalancerSourceRanges, or with 0.0.0.0/0, so the database is reachable from any address.",
        remediation: "Restrict loadBalancerSourceRanges to the clients that need the database, or use an internal load balancer; make sure authentication is not `trust`.",
        reference: true,
    },
    AlertType {
        id: "K8S_ExposedRedis",
        title: "Exposed Redis service detected",
        severity: Severity::Low,
        tactic: "TA0001",
        technique: "T1190",
        description: "A Redis service is exposed through a Service of type LoadBalancer. Reachable Redis instances are routinely abused to write files and run code.",
        remediation: "Use a ClusterIP or internal load balancer, set loadBalancerSourceRanges, and require authentication (requirepass/ACLs).",
        reference: true,
    },
    AlertType {
        id: "K8S_ExposedService",
        title: "Exposed Kubernetes service detected",
        severity: Severity::Medium,
        tactic: "TA0001",
        technique: "T1133",
        description: "A LoadBalancer service exposes an application that can run processes on nodes or create containers (a container runtime API, the kubelet, etcd, Weave Scope, notebooks, workflow engines).",
        remediation: "Remove the external exposure of the service, or put it behind authentication and source ranges; check the application's logs for use from outside.",
        reference: true,
    },
    AlertType {
        id: "K8S_PrivilegedContainer",
        title: "Privileged container detected",
        severity: Severity::Informational,
        tactic: "TA0004",
        technique: "T1611",
        description: "A container runs with securityContext.privileged: it has every capability and the node's devices, and can take over the node.",
        remediation: "Drop privileged mode and add only the capabilities the workload needs; enforce the Pod Security baseline level on the namespace.",
        reference: true,
    },
    AlertType {
        id: "K8S_SensitiveMount",
        title: "Container with a sensitive volume mount detected",
        severity: Severity::Informational,
        tactic: "TA0004",
        technique: "T1611",
        description: "A container mounts a sensitive directory or socket of the node (/, /etc, /proc, the container runtime socket, kubelet or Kubernetes configuration), which gives control of the node.",
        remediation: "Replace hostPath volumes with ConfigMaps, Secrets, emptyDir or CSI volumes; if the mount is needed, make it read-only and restrict the namespace.",
        reference: true,
    },
    AlertType {
        id: "K8S_HostPathMount",
        title: "Container with a host path mount detected",
        severity: Severity::Informational,
        tactic: "TA0004",
        technique: "T1611",
        description: "A container mounts a directory or file of the node other than the sensitive paths of K8S_SensitiveMount: it can read what the node keeps there (logs, other pods' data) and plant files for later.",
        remediation: "Replace the hostPath volume with a PersistentVolume, emptyDir or CSI volume; if it is needed, mount it read-only and restrict the namespace with the Pod Security baseline level.",
        reference: false,
    },
    AlertType {
        id: "K8S_RootContainer",
        title: "Container set to run as root",
        severity: Severity::Low,
        tactic: "TA0004",
        technique: "T1611",
        description: "A pod is created with a container whose securityContext (its own or the pod's) sets runAsUser 0 or turns runAsNonRoot off: a process that breaks out of the container is root on the node.",
        remediation: "Run the container as a non-root user (runAsNonRoot: true with a non-zero runAsUser) and enforce the Pod Security restricted level on the namespace.",
        reference: false,
    },
    AlertType {
        id: "K8S_HostNamespaceSharing",
        title: "Pod sharing host namespaces detected",
        severity: Severity::Informational,
        tactic: "TA0004",
        technique: "T1611",
        description: "A pod shares the node's network, PID or IPC namespace: it can see the node's traffic or processes and attack them.",
        remediation: "Remove hostNetwork, hostPID and hostIPC unless the workload is a node agent; enforce the Pod Security baseline level on the namespace.",
        reference: false,
    },
    AlertType {
        id: "K8S_DangerousCapabilities",
        title: "Container with dangerous capabilities detected",
        severity: Severity::Low,
        tactic: "TA0004",
        technique: "T1611",
        description: "A container adds Linux capabilities (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, BPF, ...) that allow escaping the container or controlling the node.",
        remediation: "Drop ALL capabilities and add back only those the workload needs; enforce the Pod Security baseline or restricted level.",
        reference: false,
    },
    AlertType {
        id: "K8S_KubeSystemContainer",
        title: "New container in the kube-system namespace detected",
        severity: Severity::Informational,
        tactic: "TA0005",
        technique: "T1610",
        description: "A pod or workload is created in kube-system (or another system namespace) by an identity other than the control plane. Attackers hide among system workloads there.",
        remediation: "Check who created the workload and whether it belongs to an installed add-on; remove it if not, and restrict write access to system namespaces.",
        reference: true,
    },
    AlertType {
        id: "K8S_MaliciousContainerImage",
        title: "Digital currency mining container detected",
        severity: Severity::High,
        tactic: "TA0040",
        technique: "T1496",
        description: "A container is created from an image associated with crypto-currency mining tools.",
        remediation: "Delete the workload, find how it was created (the identity and its credentials), rotate those credentials, and restrict allowed registries.",
        reference: true,
    },
    AlertType {
        id: "K8S_CronJobCreated",
        title: "CronJob created or modified",
        severity: Severity::Informational,
        tactic: "TA0003",
        technique: "T1053.007",
        description: "A CronJob is created or changed by an identity other than the control plane. Scheduled jobs are a way to keep running code in a cluster.",
        remediation: "Check that the CronJob belongs to a known deployment and that its image and command are expected.",
        reference: false,
    },
    AlertType {
        id: "K8S_DaemonSetCreated",
        title: "DaemonSet created",
        severity: Severity::Informational,
        tactic: "TA0002",
        technique: "T1610",
        description: "A DaemonSet is created by an identity other than the control plane: its pod runs on every node, which attackers use for miners, credential harvesting and persistence.",
        remediation: "Check that the DaemonSet belongs to a known add-on or deployment and that its image, privileges and mounts are expected.",
        reference: false,
    },
    AlertType {
        id: "K8S_ExecIntoPod",
        title: "Exec into pod detected",
        severity: Severity::Low,
        tactic: "TA0002",
        technique: "T1609",
        description: "Someone runs a command in, or attaches to, a running container through the API server.",
        remediation: "Confirm the person and the reason; limit pods/exec and pods/attach to break-glass roles.",
        reference: false,
    },
    AlertType {
        id: "K8S_ServiceAccountTokenTheft",
        title: "Service account token read through exec",
        severity: Severity::High,
        tactic: "TA0006",
        technique: "T1528",
        description: "A command run in a pod through exec reads the pod's service account or workload identity token, which lets the caller act as that identity from anywhere.",
        remediation: "Treat the token as stolen: restart the pod (new token), review what the service account may do and what it did, and restrict pods/exec.",
        reference: false,
    },
    AlertType {
        id: "K8S_ServiceAccountTokenCreated",
        title: "Service account token requested",
        severity: Severity::Informational,
        tactic: "TA0006",
        technique: "T1528",
        description: "A token is requested for a service account (TokenRequest) by someone other than the node or the control plane, which gives credentials that work outside the cluster.",
        remediation: "Check who requested the token and for how long it is valid; restrict serviceaccounts/token create permissions.",
        reference: false,
    },
    AlertType {
        id: "K8S_AnomalousSecretAccess",
        title: "Suspicious secret access detected",
        severity: Severity::Medium,
        tactic: "TA0006",
        technique: "T1552.007",
        description: "Secrets are listed by a person or a command-line client rather than a controller, listed across every namespace, or requests for secrets are refused: signs of credential hunting.",
        remediation: "Check the identity and its recent activity; limit list/watch on secrets to the controllers that need it.",
        reference: true,
    },
    AlertType {
        id: "K8S_ServiceAccountRareOperation",
        title: "Suspicious Kubernetes service account operation detected",
        severity: Severity::Medium,
        tactic: "TA0006",
        technique: "T1528",
        description: "A service account does what workloads do not: it probes its own permissions from kubectl or a script (an attacker inside a pod), or its token is used from a public address (a token taken out of the cluster); or a node's credentials are used from a public address outside the cloud providers' ranges (palisade_cloud_ranges).",
        remediation: "Find the pod that runs as the service account, look for an intruder in it, and rotate the token by restarting the pod; reduce the account's permissions. For node credentials, drain and replace the node and revoke its client certificate.",
        reference: true,
    },
    AlertType {
        id: "K8S_PenTestToolsKubeHunter",
        title: "Kubernetes penetration testing tool detected",
        severity: Severity::Low,
        tactic: "TA0007",
        technique: "T1613",
        description: "A Kubernetes penetration-testing tool (kube-hunter, peirates, kubesploit, kdigger) calls the API server.",
        remediation: "Confirm the test was authorised; otherwise treat the calling identity as compromised.",
        reference: true,
    },
    AlertType {
        id: "K8S_AnonymousAccess",
        title: "Anonymous API access detected",
        severity: Severity::Medium,
        tactic: "TA0001",
        technique: "T1078.001",
        description: "An anonymous request reaches the API server from a public address, or is granted access beyond the health and version endpoints.",
        remediation: "Disable anonymous authentication (--anonymous-auth=false, or limit it to health endpoints), restrict the API endpoint's network access, and remove bindings to system:anonymous.",
        reference: false,
    },
    AlertType {
        id: "K8S_AnonymousAccessGranted",
        title: "Anonymous access granted",
        severity: Severity::High,
        tactic: "TA0003",
        technique: "T1078.001",
        description: "A role binding grants permissions to system:anonymous or system:unauthenticated, so anyone who reaches the API server gets them.",
        remediation: "Delete the binding, and check what was done anonymously since it was created.",
        reference: false,
    },
    AlertType {
        id: "K8S_ClusterAdminBinding",
        title: "Role binding to the cluster-admin role detected",
        severity: Severity::Informational,
        tactic: "TA0003",
        technique: "T1098.006",
        description: "A (cluster) role binding to cluster-admin is created or changed, giving its subjects full control of the cluster.",
        remediation: "Check that the binding is expected; bind narrower roles instead.",
        reference: true,
    },
    AlertType {
        id: "K8S_ServiceAcountPermissionAnomaly",
        title: "Excessive role permissions assigned to service accounts",
        severity: Severity::Low,
        tactic: "TA0004",
        technique: "T1098.006",
        description: "A powerful role (cluster-admin, admin, edit) is bound to a namespace's default service account, or to every service account or authenticated user: every pod or user then has it.",
        remediation: "Bind roles to dedicated service accounts with the least privilege needed; remove the binding.",
        reference: true,
    },
    AlertType {
        id: "K8S_HighPrivilegesRole",
        title: "New high privileges role detected",
        severity: Severity::Informational,
        tactic: "TA0003",
        technique: "T1098.006",
        description: "A role or cluster role is created with wildcard verbs or resources, privilege-escalation verbs (escalate, bind, impersonate), or access to pods/exec, nodes/proxy or token creation.",
        remediation: "Review the role's rules and who it is bound to; replace wildcards with the resources and verbs needed.",
        reference: true,
    },
    AlertType {
        id: "K8S_SystemRoleModified",
        title: "System role modified",
        severity: Severity::Medium,
        tactic: "TA0004",
        technique: "T1098.006",
        description: "A built-in system:* role or cluster role is changed or deleted outside an upgrade, which can plant a privilege-escalation backdoor or break the control plane.",
        remediation: "Compare the role with its default (kubectl auth reconcile), restore it, and check the identity that changed it.",
        reference: false,
    },
    AlertType {
        id: "K8S_ClientCertificateRequest",
        title: "Client certificate requested",
        severity: Severity::Low,
        tactic: "TA0003",
        technique: "T1098",
        description: "A certificate signing request for an API client certificate is created: an approved one gives long-lived credentials that survive token revocation.",
        remediation: "Deny or delete the request unless expected; restrict who may create and approve CSRs.",
        reference: false,
    },
    AlertType {
        id: "K8S_AdmissionController",
        title: "Creation of admission webhook configuration detected",
        severity: Severity::Informational,
        tactic: "TA0006",
        technique: "T1557",
        description: "A mutating or validating admission webhook is created: it sees (and a mutating one can change) the objects sent to the API server, secrets included.",
        remediation: "Check that the webhook belongs to an installed add-on and that its service or URL is expected.",
        reference: true,
    },
    AlertType {
        id: "K8S_CoreDnsModification",
        title: "CoreDNS modification detected",
        severity: Severity::Low,
        tactic: "TA0006",
        technique: "T1557",
        description: "The CoreDNS configuration is changed, which can redirect the cluster's name lookups to an attacker.",
        remediation: "Review the change to the ConfigMap and revert unexpected entries (rewrite, forward, hosts).",
        reference: true,
    },
    AlertType {
        id: "K8S_DeleteEvents",
        title: "Kubernetes events deleted",
        severity: Severity::Low,
        tactic: "TA0005",
        technique: "T1070",
        description: "Kubernetes Event objects are deleted, which removes the record of what happened in the cluster.",
        remediation: "Check the identity that deleted them and what it did before; limit delete on events.",
        reference: true,
    },
    AlertType {
        id: "K8S_TI_Proxy",
        title: "API requests from proxy IP address detected",
        severity: Severity::Low,
        tactic: "TA0001",
        technique: "T1078",
        description: "The API server is called from an address of an anonymising proxy service (the addresses in the palisade_proxy_ips list).",
        remediation: "Check the calling identity and rotate its credentials; restrict the API endpoint's network access.",
        reference: true,
    },
    AlertType {
        id: "K8S_NodePortService",
        title: "Service exposed on node ports",
        severity: Severity::Low,
        tactic: "TA0003",
        technique: "T1133",
        description: "A Service of type NodePort is created or changed by an identity other than the control plane: it opens a port on every node, which bypasses ingress controllers and load balancer rules and can put pods straight on the node's network.",
        remediation: "Check that the service belongs to a known deployment; prefer ClusterIP behind an ingress or a LoadBalancer with source ranges, and restrict NodePort services with an admission policy.",
        reference: false,
    },
    AlertType {
        id: "K8S_IngressWithoutTLS",
        title: "Ingress created without TLS",
        severity: Severity::Low,
        tactic: "TA0006",
        technique: "T1040",
        description: "An Ingress without a tls section is created outside the system namespaces: the services behind it are served over plain HTTP, so passwords, tokens and personal data cross the network in clear text.",
        remediation: "Add a tls section with a certificate (cert-manager can issue one) and redirect HTTP to HTTPS; require TLS on ingresses with an admission policy.",
        reference: false,
    },
    AlertType {
        id: "K8S_TestAlert",
        title: "palisade test alert for Kubernetes (not a threat)",
        severity: Severity::High,
        tactic: "TA0007",
        technique: "T1613",
        description: "Pods were listed in the reserved palisade-canary namespace. This alert proves that audit events reach palisade and alerts reach their destinations.",
        remediation: "None: this is a test.",
        reference: false,
    },
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::collections::HashSet;

    use super::*;
    use crate::ruleset::{Priority, RuleSet};

    #[test]
    fn catalogue_is_valid_mitre_and_unique() {
        let mut seen = HashSet::new();
        for t in ALERT_TYPES {
            assert!(seen.insert(t.id), "{} listed twice", t.id);
            assert!(t.id.starts_with("K8S_"), "{}", t.id);
            let tech = palisade_model::mitre::technique(t.technique)
                .unwrap_or_else(|| panic!("{}: unknown technique {}", t.id, t.technique));
            assert!(
                tech.tactics.contains(&t.tactic),
                "{}: tactic {} is not one of {}'s",
                t.id,
                t.tactic,
                t.technique
            );
            assert!(!t.description.is_empty() && !t.remediation.is_empty());
        }
    }

    #[test]
    fn every_builtin_rule_maps_to_one_alert_type_and_back() {
        let (set, warnings) = RuleSet::load(&[builtin_rules_file()]).unwrap();
        assert!(warnings.is_empty(), "{warnings:#?}");
        let mut used = HashSet::new();
        let mut techniques = HashSet::new();
        for r in set.rules() {
            assert!(r.enabled, "{} disabled", r.name);
            let id = r.tags.first().unwrap();
            let t = alert_type(id).unwrap_or_else(|| panic!("{}: no alert type {id}", r.name));
            used.insert(t.id);
            // Each rule names a valid technique and one of its tactics.
            let (tactic, technique) = crate::alert::mitre_from_tags(&r.tags);
            let (tactic, technique) = (tactic.unwrap(), technique.unwrap());
            let tech = palisade_model::mitre::technique(technique).unwrap();
            assert!(tech.tactics.contains(&tactic), "{}", r.name);
            techniques.insert((t.id, technique));
            let want = match t.severity {
                Severity::Critical => Priority::Critical,
                Severity::High => Priority::Error,
                Severity::Medium => Priority::Warning,
                Severity::Low => Priority::Notice,
                Severity::Informational => Priority::Informational,
            };
            assert_eq!(r.priority, want, "{}", r.name);
        }
        for t in ALERT_TYPES {
            assert!(used.contains(t.id), "{} has no rule", t.id);
            assert!(
                techniques.contains(&(t.id, t.technique)),
                "{}: no rule has the catalogue's technique {}",
                t.id,
                t.technique
            );
        }
    }
}
