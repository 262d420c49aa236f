//! Sysctls: `sysctls` (`check_sysctls.go`). The safe list grows with the policy version.

use crate::pod::{Finding, Outcome, Pod, str_or_empty};

/// `sysctlsAllowedV1Dot0`.
const ALLOWED_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
/// Added by `sysctlsAllowedV1Dot27`.
const ADDED_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
/// Added by `sysctlsAllowedV1Dot29`.
const ADDED_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
/// Added by `sysctlsAllowedV1Dot32`.
const ADDED_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
/// Added by `sysctlsAllowedV1Dot37`.
const ADDED_1_37: &[&str] = &[
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// The safe sysctls at a revision (the union of every addition up to it).
fn allowed(revision: u32) -> impl Iterator<Item = &'static str> {
    [
        (0, ALLOWED_1_0),
        (27, ADDED_1_27),
        (29, ADDED_1_29),
        (32, ADDED_1_32),
        (37, ADDED_1_37),
    ]
    .into_iter()
    .filter(move |(since, _)| *since <= revision)
    .flat_map(|(_, names)| names.iter().copied())
}

fn sysctls(pod: &Pod<'_>, revision: u32) -> Outcome {
    let list = pod
        .sc_field("sysctls")
        .and_then(serde_json::Value::as_array)?;
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for (i, s) in list.iter().enumerate() {
        if !s.is_object() {
            continue;
        }
        let name = str_or_empty(s, "name");
        if !allowed(revision).any(|a| a == name) {
            names.push(name);
            paths.push(format!("spec.securityContext.sysctls[{i}].name"));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Finding::new("forbidden sysctls", names.join(", "), paths))
}

/// Sysctls must be in the safe set of policy v1.0.
pub(crate) fn sysctls_1_0(pod: &Pod<'_>) -> Outcome {
    sysctls(pod, 0)
}

/// v1.27: adds `net.ipv4.ip_local_reserved_ports`.
pub(crate) fn sysctls_1_27(pod: &Pod<'_>) -> Outcome {
    sysctls(pod, 27)
}

/// v1.29: adds the TCP keepalive sysctls and `net.ipv4.tcp_fin_timeout`.
pub(crate) fn sysctls_1_29(pod: &Pod<'_>) -> Outcome {
    sysctls(pod, 29)
}

/// v1.32: adds `net.ipv4.tcp_rmem` and `net.ipv4.tcp_wmem`.
pub(crate) fn sysctls_1_32(pod: &Pod<'_>) -> Outcome {
    sysctls(pod, 32)
}

/// v1.37: adds `net.ipv4.tcp_slow_start_after_idle` and `net.ipv4.tcp_notsent_lowat`.
pub(crate) fn sysctls_1_37(pod: &Pod<'_>) -> Outcome {
    sysctls(pod, 37)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn verdict(f: fn(&Pod<'_>) -> Outcome, name: &str) -> bool {
        let meta = json!({});
        let spec = json!({"securityContext": {"sysctls": [{"name": name, "value": "1"}]}});
        f(&Pod {
            metadata: &meta,
            spec: &spec,
        })
        .is_none()
    }

    /// The pass fixtures of test/fixtures_sysctls.go per revision.
    #[test]
    fn safe_list_grows_by_revision() {
        let revisions: [(crate::checks::CheckFn, u32); 5] = [
            (sysctls_1_0, 0),
            (sysctls_1_27, 27),
            (sysctls_1_29, 29),
            (sysctls_1_32, 32),
            (sysctls_1_37, 37),
        ];
        for (f, rev) in revisions {
            assert!(verdict(f, "net.ipv4.ip_unprivileged_port_start"));
            assert_eq!(verdict(f, "net.ipv4.ip_local_reserved_ports"), rev >= 27);
            assert_eq!(verdict(f, "net.ipv4.tcp_keepalive_probes"), rev >= 29);
            assert_eq!(verdict(f, "net.ipv4.tcp_wmem"), rev >= 32);
            assert_eq!(verdict(f, "net.ipv4.tcp_notsent_lowat"), rev >= 37);
            assert!(!verdict(f, "othersysctl"));
        }
    }

    #[test]
    fn detail_lists_names_in_order() {
        let meta = json!({});
        let spec = json!({"securityContext": {"sysctls": [
            {"name": "b"}, {"name": "kernel.shm_rmid_forced"}, {"name": "a"}
        ]}});
        let f = sysctls_1_0(&Pod {
            metadata: &meta,
            spec: &spec,
        });
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.reason, "forbidden sysctls");
        assert_eq!(f.detail, "b, a");
        assert_eq!(
            f.paths,
            [
                "spec.securityContext.sysctls[0].name",
                "spec.securityContext.sysctls[2].name"
            ]
        );
    }
}
