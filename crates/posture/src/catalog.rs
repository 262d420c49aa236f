//! The built-in check catalogue: one static table, so ids, severities and MITRE mappings are
//! data that tests can validate (unique kebab-case ids, known technique ids).

use palisade_model::Severity::{self, Critical, High, Low, Medium};

use crate::CheckInfo;

const fn c(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    category: &'static str,
    mitre: &'static [&'static str],
    rationale: &'static str,
    remediation: &'static str,
) -> CheckInfo {
    CheckInfo {
        id,
        title,
        severity,
        category,
        mitre,
        rationale,
        remediation,
    }
}

const W: &str = "workload";
const PSS: &str = "pod-security";
const EXP: &str = "exposure";
const RBAC: &str = "rbac";

pub(crate) static CHECKS: &[CheckInfo] = &[
    // --- workload hardening -------------------------------------------------------------
    c(
        "privileged-container",
        "Privileged containers should be avoided",
        High,
        W,
        &["T1611"],
        "A privileged container has every capability and all host devices: escaping to the node is trivial.",
        "Remove securityContext.privileged or set it to false; grant only the specific capabilities needed.",
    ),
    c(
        "privilege-escalation-allowed",
        "Container privilege escalation should be avoided",
        Medium,
        W,
        &["T1548"],
        "Unless allowPrivilegeEscalation is false, setuid binaries and file capabilities can raise a process's privileges.",
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ),
    c(
        "host-pid",
        "Containers sharing the host PID namespace should be avoided",
        High,
        W,
        &["T1611"],
        "With hostPID a container sees and can signal or ptrace every process of the node.",
        "Remove spec.hostPID or set it to false.",
    ),
    c(
        "host-ipc",
        "Containers sharing the host IPC namespace should be avoided",
        High,
        W,
        &["T1611"],
        "With hostIPC a container can read shared memory of every process of the node.",
        "Remove spec.hostIPC or set it to false.",
    ),
    c(
        "host-network",
        "Usage of host networking should be restricted",
        High,
        W,
        &["T1040"],
        "With hostNetwork a container can sniff node traffic and reach services bound to the node's loopback.",
        "Remove spec.hostNetwork or set it to false; expose the workload through a Service instead.",
    ),
    c(
        "host-port",
        "Usage of host ports should be restricted",
        Medium,
        W,
        &[],
        "A hostPort binds directly on the node's interfaces, bypassing network policy and service exposure controls.",
        "Remove ports[].hostPort; expose the workload through a Service.",
    ),
    c(
        "sensitive-host-path",
        "Pod HostPath mounts of sensitive host paths should be avoided",
        High,
        W,
        &["T1611"],
        "Mounting paths such as /, /etc, /proc, the container runtime socket or the kubelet directory gives control of the node.",
        "Remove the hostPath volume; use a ConfigMap, Secret, emptyDir or persistent volume instead.",
    ),
    c(
        "host-path-volume",
        "Pod HostPath volume mounts should be restricted to a known list",
        Medium,
        W,
        &["T1611"],
        "hostPath volumes share the node's file system with the container and are a common escape route.",
        "Replace the hostPath volume by another volume type, or restrict it to a reviewed read-only path.",
    ),
    c(
        "dangerous-capability",
        "Least-privileged Linux capabilities should be enforced",
        High,
        W,
        &["T1611"],
        "Capabilities such as SYS_ADMIN, SYS_MODULE, SYS_PTRACE or NET_ADMIN let a container act on the node's kernel and other processes.",
        "Remove the capability from securityContext.capabilities.add.",
    ),
    c(
        "capabilities-not-dropped",
        "Containers should drop all capabilities",
        Low,
        W,
        &[],
        "Containers start with the runtime's default capability set; dropping ALL and adding back only what is needed limits what an attacker inherits.",
        "Set securityContext.capabilities.drop: [ALL] and add back only required capabilities.",
    ),
    c(
        "run-as-root",
        "Running containers as root user should be avoided",
        Medium,
        W,
        &["T1611"],
        "A process running as root in the container is root on the node once it escapes, and can modify the image's files.",
        "Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod or container level).",
    ),
    c(
        "writable-root-filesystem",
        "Immutable (read-only) root filesystem should be enforced",
        Low,
        W,
        &["T1105"],
        "A writable root file system lets an attacker drop and run tools inside the container.",
        "Set securityContext.readOnlyRootFilesystem: true; mount emptyDir volumes where the application writes.",
    ),
    c(
        "missing-cpu-limit",
        "Container CPU limits should be enforced",
        Low,
        W,
        &["T1496"],
        "Without a CPU limit a compromised or faulty container can starve the node (e.g. crypto mining).",
        "Set resources.limits.cpu on every container.",
    ),
    c(
        "missing-memory-limit",
        "Container memory limits should be enforced",
        Low,
        W,
        &["T1499"],
        "Without a memory limit one container can exhaust the node's memory.",
        "Set resources.limits.memory on every container.",
    ),
    c(
        "apparmor-unconfined",
        "Overriding or disabling the container AppArmor profile should be restricted",
        Medium,
        W,
        &["T1562.001"],
        "An unconfined AppArmor profile removes a kernel-enforced layer that blocks many escape techniques.",
        "Remove the unconfined AppArmor setting; use RuntimeDefault or a localhost profile.",
    ),
    c(
        "seccomp-unconfined",
        "Seccomp should not be disabled",
        Medium,
        W,
        &["T1068"],
        "An Unconfined seccomp profile exposes every system call of the kernel to the container.",
        "Set securityContext.seccompProfile.type to RuntimeDefault or Localhost.",
    ),
    c(
        "seccomp-profile-missing",
        "Seccomp profile should be set",
        Low,
        W,
        &["T1068"],
        "Without a seccomp profile, most runtimes run containers unconfined and every system call is reachable.",
        "Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    ),
    c(
        "service-account-token-automount",
        "Automounting API credentials should be disabled where not needed",
        Low,
        W,
        &["T1528"],
        "Every pod gets a token for its service account unless told otherwise; a compromised container can use it against the API server.",
        "Set automountServiceAccountToken: false on the pod or its ServiceAccount, and mount a projected token only where needed.",
    ),
    c(
        "default-namespace",
        "The default namespace should not be used",
        Low,
        W,
        &[],
        "Workloads in the default namespace share it with everything deployed without thought, which defeats per-namespace policies.",
        "Deploy the workload into a dedicated namespace.",
    ),
    c(
        "untrusted-registry",
        "Container images should be deployed from trusted registries only",
        High,
        W,
        &["T1195.002"],
        "Images from registries outside the allow-list have not gone through your supply-chain controls.",
        "Mirror the image into a trusted registry and reference it from there.",
    ),
    c(
        "image-latest-tag",
        "Container images should not use the latest tag",
        Medium,
        W,
        &[],
        "`latest` (or no tag) is mutable: what runs can change without any change to the manifest.",
        "Reference the image by a version tag and, better, by digest.",
    ),
    c(
        "image-no-digest",
        "Container images should be referenced by digest",
        Low,
        W,
        &[],
        "Tags can be moved; only a digest pins exactly the image that was scanned and approved.",
        "Reference the image as name@sha256:<digest>.",
    ),
    // --- Pod Security Standards --------------------------------------------------------------
    c(
        "pss-baseline-app-armor-profile",
        "Pod Security baseline: AppArmor profile",
        Medium,
        PSS,
        &["T1562.001"],
        "The baseline Pod Security Standard forbids overriding the AppArmor profile to unconfined.",
        "Remove the unconfined AppArmor annotation or appArmorProfile field.",
    ),
    c(
        "pss-baseline-capabilities",
        "Pod Security baseline: capabilities",
        High,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard allows adding only the runtime's default capabilities.",
        "Remove capabilities beyond the default set from securityContext.capabilities.add.",
    ),
    c(
        "pss-baseline-host-namespaces",
        "Pod Security baseline: host namespaces",
        High,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard forbids sharing the host's network, PID or IPC namespaces.",
        "Remove hostNetwork, hostPID and hostIPC.",
    ),
    c(
        "pss-baseline-host-path-volumes",
        "Pod Security baseline: hostPath volumes",
        High,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard forbids hostPath volumes.",
        "Replace hostPath volumes by other volume types.",
    ),
    c(
        "pss-baseline-host-ports",
        "Pod Security baseline: host ports",
        Medium,
        PSS,
        &[],
        "The baseline Pod Security Standard forbids host ports.",
        "Remove hostPort from container ports.",
    ),
    c(
        "pss-baseline-host-probes-and-host-lifecycle",
        "Pod Security baseline: probe and lifecycle hosts",
        Medium,
        PSS,
        &[],
        "The baseline Pod Security Standard forbids probes and lifecycle handlers that target another host.",
        "Remove the host field of probes and lifecycle handlers.",
    ),
    c(
        "pss-baseline-privileged",
        "Pod Security baseline: privileged containers",
        High,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard forbids privileged containers.",
        "Remove securityContext.privileged: true.",
    ),
    c(
        "pss-baseline-proc-mount",
        "Pod Security baseline: /proc mount type",
        Medium,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard requires the default /proc mount type.",
        "Remove securityContext.procMount or set it to Default.",
    ),
    c(
        "pss-baseline-se-linux-options",
        "Pod Security baseline: SELinux options",
        Medium,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard forbids custom SELinux users and roles and restricts types.",
        "Remove seLinuxOptions.user and role, and use an allowed type.",
    ),
    c(
        "pss-baseline-seccomp-profile",
        "Pod Security baseline: seccomp profile",
        Medium,
        PSS,
        &["T1068"],
        "The baseline Pod Security Standard forbids an Unconfined seccomp profile.",
        "Set the seccomp profile to RuntimeDefault or Localhost.",
    ),
    c(
        "pss-baseline-sysctls",
        "Pod Security baseline: sysctls",
        Medium,
        PSS,
        &[],
        "The baseline Pod Security Standard allows only namespaced, safe sysctls.",
        "Remove sysctls outside the safe set from spec.securityContext.sysctls.",
    ),
    c(
        "pss-baseline-windows-host-process",
        "Pod Security baseline: Windows HostProcess",
        High,
        PSS,
        &["T1611"],
        "The baseline Pod Security Standard forbids Windows HostProcess containers.",
        "Remove windowsOptions.hostProcess: true.",
    ),
    c(
        "pss-restricted-allow-privilege-escalation",
        "Pod Security restricted: privilege escalation",
        Medium,
        PSS,
        &["T1548"],
        "The restricted Pod Security Standard requires allowPrivilegeEscalation: false.",
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ),
    c(
        "pss-restricted-capabilities",
        "Pod Security restricted: capabilities",
        Medium,
        PSS,
        &["T1611"],
        "The restricted Pod Security Standard requires dropping ALL capabilities and adds at most NET_BIND_SERVICE.",
        "Set capabilities.drop: [ALL]; add only NET_BIND_SERVICE if needed.",
    ),
    c(
        "pss-restricted-proc-mount",
        "Pod Security restricted: /proc mount type",
        Medium,
        PSS,
        &["T1611"],
        "The restricted Pod Security Standard requires the default /proc mount type.",
        "Remove securityContext.procMount or set it to Default.",
    ),
    c(
        "pss-restricted-volumes",
        "Pod Security restricted: volume types",
        Medium,
        PSS,
        &["T1611"],
        "The restricted Pod Security Standard allows only ephemeral and projected volume types.",
        "Use configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or persistentVolumeClaim volumes only.",
    ),
    c(
        "pss-restricted-run-as-non-root",
        "Pod Security restricted: running as non-root",
        Medium,
        PSS,
        &["T1611"],
        "The restricted Pod Security Standard requires runAsNonRoot: true.",
        "Set securityContext.runAsNonRoot: true at pod or container level.",
    ),
    c(
        "pss-restricted-run-as-user",
        "Pod Security restricted: non-zero user id",
        Medium,
        PSS,
        &["T1611"],
        "The restricted Pod Security Standard forbids runAsUser: 0.",
        "Set runAsUser to a non-zero id.",
    ),
    c(
        "pss-restricted-seccomp-profile",
        "Pod Security restricted: seccomp profile",
        Medium,
        PSS,
        &["T1068"],
        "The restricted Pod Security Standard requires a RuntimeDefault or Localhost seccomp profile.",
        "Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    ),
    // --- exposure ---------------------------------------------------------------------------
    c(
        "service-externally-exposed",
        "Services exposed outside the cluster should be reviewed",
        Medium,
        EXP,
        &["T1190"],
        "LoadBalancer and NodePort services make workloads reachable from outside the cluster; each is an entry point.",
        "Use a ClusterIP service behind an authenticated ingress, or restrict loadBalancerSourceRanges.",
    ),
    c(
        "service-port-not-allowed",
        "Services should listen on allowed ports only",
        Medium,
        EXP,
        &["T1190"],
        "Ports outside the allowed list widen the attack surface.",
        "Remove the port or add it to the allowed list after review.",
    ),
    c(
        "ingress-without-tls",
        "Kubernetes clusters should be accessible over HTTPS only",
        Medium,
        EXP,
        &["T1557"],
        "An ingress without TLS for its hosts serves traffic, including credentials, in clear text.",
        "Add spec.tls entries covering every host of the ingress.",
    ),
    c(
        "exposed-dashboard",
        "Exposed management dashboards should be avoided",
        High,
        EXP,
        &["T1133"],
        "Dashboards (Kubernetes dashboard, Kubeflow, Argo, Grafana, Jupyter, ...) reachable from outside are a direct path to cluster control.",
        "Do not expose the dashboard; reach it through kubectl port-forward or an authenticated proxy.",
    ),
    // --- RBAC ---------------------------------------------------------------------------------
    c(
        "rbac-cluster-admin-binding",
        "Subjects should not be bound to cluster-admin",
        High,
        RBAC,
        &["T1078"],
        "cluster-admin grants every permission on every resource; any compromise of a bound subject is a cluster compromise.",
        "Bind a role with only the permissions needed, scoped to a namespace where possible.",
    ),
    c(
        "rbac-wildcard-permission",
        "Roles should not grant wildcard permissions",
        High,
        RBAC,
        &["T1078"],
        "A `*` in verbs, resources or apiGroups also grants permissions on resources added later.",
        "List the exact verbs, resources and API groups needed.",
    ),
    c(
        "rbac-secrets-access",
        "Access to secrets should be restricted",
        Medium,
        RBAC,
        &["T1552.007"],
        "get, list or watch on secrets reveals credentials, including service account tokens of other workloads.",
        "Remove secrets from the role, or restrict it with resourceNames.",
    ),
    c(
        "rbac-pod-exec",
        "Exec and attach into pods should be restricted",
        Medium,
        RBAC,
        &["T1609"],
        "pods/exec and pods/attach run commands inside any container the subject can reach.",
        "Remove pods/exec and pods/attach from the role.",
    ),
    c(
        "rbac-create-workloads",
        "Creating pods and workloads should be restricted",
        Medium,
        RBAC,
        &["T1610"],
        "Whoever can create pods can run a privileged container or mount any service account's token.",
        "Remove create on pods and workload resources, or enforce admission policies for the subject.",
    ),
    c(
        "rbac-escalation-verbs",
        "Escalate, bind and impersonate should be restricted",
        High,
        RBAC,
        &["T1098"],
        "escalate and bind let a subject grant itself more permissions; impersonate lets it act as any user.",
        "Remove the escalate, bind and impersonate verbs.",
    ),
    c(
        "rbac-nodes-proxy",
        "Access to nodes/proxy should be restricted",
        High,
        RBAC,
        &["T1609"],
        "nodes/proxy reaches the kubelet API, which can run commands in every pod of the node.",
        "Remove nodes/proxy from the role.",
    ),
    c(
        "rbac-token-creation",
        "Creating service account tokens should be restricted",
        Medium,
        RBAC,
        &["T1528"],
        "create on serviceaccounts/token mints credentials for any service account in scope.",
        "Remove create on serviceaccounts/token.",
    ),
    c(
        "rbac-default-service-account-binding",
        "Roles should not be bound to default service accounts",
        Medium,
        RBAC,
        &["T1078.001"],
        "Every pod that names no service account runs as `default`: permissions bound to it spread to all of them.",
        "Create a dedicated service account for the workload and bind the role to it.",
    ),
    c(
        "rbac-anonymous-binding",
        "Roles should not be bound to anonymous or unauthenticated users",
        Critical,
        RBAC,
        &["T1078.001"],
        "Bindings to system:anonymous or system:unauthenticated give the permissions to anyone who can reach the API server.",
        "Delete the binding.",
    ),
    c(
        "rbac-authenticated-group-binding",
        "Powerful roles should not be bound to all authenticated users",
        High,
        RBAC,
        &["T1078"],
        "system:authenticated includes every user and service account of the cluster (and, on some managed clusters, any cloud account).",
        "Bind the role to specific users, groups or service accounts.",
    ),
];

/// Looks a catalogue entry up by id.
pub(crate) fn info(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_mitre_ids_are_known() {
        let mut seen = std::collections::HashSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate check id {}", c.id);
            assert!(
                c.id.split('-').all(|p| !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{} is not kebab-case",
                c.id
            );
            for m in c.mitre {
                assert!(
                    palisade_model::mitre::technique(m).is_some(),
                    "{} names unknown MITRE technique {m}",
                    c.id
                );
            }
            assert!(!c.title.is_empty() && !c.rationale.is_empty() && !c.remediation.is_empty());
        }
    }

    #[test]
    fn every_pss_check_has_a_catalogue_entry() {
        for check in palisade_pss::checks() {
            let id = crate::pss::finding_id(check.level(), check.id());
            assert!(
                info(&id).is_some(),
                "no catalogue entry {id} for PSA check {}",
                check.id()
            );
        }
    }
}
