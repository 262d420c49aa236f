//! The check registry: every Pod Security Admission check, with its versioned revisions, as
//! registered by `policy/check_*.go` and resolved by `policy/registry.go`.
//!
//! Resolution, as upstream: a check applies from its first revision's minimum version; at
//! version X the newest revision with a minimum version <= X runs. Restricted evaluation runs
//! every active baseline check except those a restricted revision active at X overrides
//! (`OverrideCheckIDs`), then the restricted checks. Order: baseline IDs sorted, then
//! restricted IDs sorted, as upstream orders its results.

mod apparmor;
mod capabilities;
mod host;
mod privileged;
mod seccomp;
mod selinux;
mod sysctls;
mod users;
mod volumes;

use crate::Level;
use crate::pod::{Outcome, Pod};

/// A check function (`CheckPodFn`).
pub(crate) type CheckFn = fn(&Pod<'_>) -> Outcome;

/// One `VersionedCheck`.
#[derive(Debug)]
pub(crate) struct Revision {
    /// `MinimumVersion` minor (major is always 1).
    pub(crate) since: u32,
    pub(crate) run: CheckFn,
    /// `OverrideCheckIDs`: baseline checks this restricted revision replaces.
    pub(crate) overrides: &'static [&'static str],
}

/// One `Check`.
#[derive(Debug)]
pub(crate) struct Def {
    pub(crate) id: &'static str,
    pub(crate) level: Level,
    pub(crate) title: &'static str,
    /// Strictly increasing `since`.
    pub(crate) revisions: &'static [Revision],
}

const fn rev(since: u32, run: CheckFn) -> Revision {
    Revision {
        since,
        run,
        overrides: &[],
    }
}

const fn rev_over(since: u32, run: CheckFn, overrides: &'static [&'static str]) -> Revision {
    Revision {
        since,
        run,
        overrides,
    }
}

/// Every default check, baseline first, each level sorted by ID (byte order, as Go sorts).
pub(crate) static CHECKS: &[Def] = &[
    Def {
        id: "appArmorProfile",
        level: Level::Baseline,
        title: "AppArmor profile must not be overridden or disabled",
        revisions: &[rev(0, apparmor::app_armor_profile_1_0)],
    },
    Def {
        id: "capabilities_baseline",
        level: Level::Baseline,
        title: "Capabilities beyond the default set must not be added",
        revisions: &[rev(0, capabilities::capabilities_baseline_1_0)],
    },
    Def {
        id: "hostNamespaces",
        level: Level::Baseline,
        title: "Host namespaces (network, PID, IPC) must not be shared",
        revisions: &[rev(0, host::host_namespaces_1_0)],
    },
    Def {
        id: "hostPathVolumes",
        level: Level::Baseline,
        title: "HostPath volumes must not be used",
        revisions: &[rev(0, host::host_path_volumes_1_0)],
    },
    Def {
        id: "hostPorts",
        level: Level::Baseline,
        title: "Host ports must not be used",
        revisions: &[rev(0, host::host_ports_1_0)],
    },
    Def {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        title: "Probes and lifecycle handlers must not set a host",
        revisions: &[rev(34, host::host_probes_and_host_lifecycle_1_34)],
    },
    Def {
        id: "privileged",
        level: Level::Baseline,
        title: "Privileged containers are forbidden",
        revisions: &[rev(0, privileged::privileged_1_0)],
    },
    Def {
        id: "procMount",
        level: Level::Baseline,
        title: "The default /proc mask must be kept (relaxed for user-namespace pods from v1.35)",
        revisions: &[
            rev(0, privileged::proc_mount_1_0),
            rev(35, privileged::proc_mount_1_35_baseline),
        ],
    },
    Def {
        id: "seLinuxOptions",
        level: Level::Baseline,
        title: "SELinux type must be a container type; user and role must not be set",
        revisions: &[
            rev(0, selinux::se_linux_options_1_0),
            rev(31, selinux::se_linux_options_1_31),
        ],
    },
    Def {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        title: "Seccomp profile, if set, must be RuntimeDefault or Localhost",
        revisions: &[
            rev(0, seccomp::seccomp_profile_baseline_1_0),
            rev(19, seccomp::seccomp_profile_baseline_1_19),
        ],
    },
    Def {
        id: "sysctls",
        level: Level::Baseline,
        title: "Only safe sysctls may be set",
        revisions: &[
            rev(0, sysctls::sysctls_1_0),
            rev(27, sysctls::sysctls_1_27),
            rev(29, sysctls::sysctls_1_29),
            rev(32, sysctls::sysctls_1_32),
            rev(37, sysctls::sysctls_1_37),
        ],
    },
    Def {
        id: "windowsHostProcess",
        level: Level::Baseline,
        title: "Windows HostProcess containers are forbidden",
        revisions: &[rev(0, privileged::windows_host_process_1_0)],
    },
    Def {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        title: "Privilege escalation must be disallowed",
        revisions: &[
            rev(8, privileged::allow_privilege_escalation_1_8),
            rev(25, privileged::allow_privilege_escalation_1_25),
        ],
    },
    Def {
        id: "capabilities_restricted",
        level: Level::Restricted,
        title: "Containers must drop ALL capabilities and may only add NET_BIND_SERVICE",
        revisions: &[
            rev_over(
                22,
                capabilities::capabilities_restricted_1_22,
                &["capabilities_baseline"],
            ),
            rev_over(
                25,
                capabilities::capabilities_restricted_1_25,
                &["capabilities_baseline"],
            ),
        ],
    },
    Def {
        id: "procMount_restricted",
        level: Level::Restricted,
        title: "The default /proc mask must be kept, even in a user namespace",
        revisions: &[rev_over(35, privileged::proc_mount_1_0, &["procMount"])],
    },
    Def {
        id: "restrictedVolumes",
        level: Level::Restricted,
        title: "Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes",
        revisions: &[rev_over(
            0,
            volumes::restricted_volumes_1_0,
            &["hostPathVolumes"],
        )],
    },
    Def {
        id: "runAsNonRoot",
        level: Level::Restricted,
        title: "Containers must run as non-root",
        revisions: &[
            rev(0, users::run_as_non_root_1_0),
            rev(35, users::run_as_non_root_1_35),
        ],
    },
    Def {
        id: "runAsUser",
        level: Level::Restricted,
        title: "Containers must not run as UID 0",
        revisions: &[
            rev(23, users::run_as_user_1_23),
            rev(35, users::run_as_user_1_35),
        ],
    },
    Def {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        title: "Seccomp profile must be set to RuntimeDefault or Localhost",
        revisions: &[
            rev_over(
                19,
                seccomp::seccomp_profile_restricted_1_19,
                &["seccompProfile_baseline"],
            ),
            rev_over(
                25,
                seccomp::seccomp_profile_restricted_1_25,
                &["seccompProfile_baseline"],
            ),
        ],
    },
];

impl Def {
    /// The revision in force at `minor`, if the check applies at all.
    pub(crate) fn revision_at(&self, minor: u32) -> Option<&'static Revision> {
        let revisions: &'static [Revision] = self.revisions;
        revisions.iter().rev().find(|r| r.since <= minor)
    }
}

/// The checks run for `level` at policy `v1.<minor>`, in upstream's result order.
pub(crate) fn active(level: Level, minor: u32) -> Vec<(&'static Def, &'static Revision)> {
    if level == Level::Privileged {
        return Vec::new();
    }
    let restricted: Vec<_> = if level == Level::Restricted {
        CHECKS
            .iter()
            .filter(|d| d.level == Level::Restricted)
            .filter_map(|d| d.revision_at(minor).map(|r| (d, r)))
            .collect()
    } else {
        Vec::new()
    };
    let overridden = |id: &str| restricted.iter().any(|(_, r)| r.overrides.contains(&id));
    let mut out: Vec<_> = CHECKS
        .iter()
        .filter(|d| d.level == Level::Baseline && !overridden(d.id))
        .filter_map(|d| d.revision_at(minor).map(|r| (d, r)))
        .collect();
    out.extend(restricted.iter().copied());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_well_formed() {
        let mut ids = std::collections::BTreeSet::new();
        for d in CHECKS {
            assert!(ids.insert(d.id), "duplicate check {}", d.id);
            assert!(!d.revisions.is_empty(), "{} has no revision", d.id);
            assert!(
                d.revisions.windows(2).all(|w| w[0].since < w[1].since),
                "{} revisions not strictly increasing",
                d.id
            );
            for r in d.revisions {
                if !r.overrides.is_empty() {
                    assert_eq!(d.level, Level::Restricted, "{} overrides", d.id);
                    for o in r.overrides {
                        assert!(
                            CHECKS
                                .iter()
                                .any(|b| b.id == *o && b.level == Level::Baseline),
                            "{} overrides unknown baseline check {o}",
                            d.id
                        );
                    }
                }
            }
        }
        // Baseline first, each level sorted by ID as Go's sort.Slice on strings does.
        let order: Vec<(Level, &str)> = CHECKS.iter().map(|d| (d.level, d.id)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }

    fn ids(level: Level, minor: u32) -> Vec<&'static str> {
        active(level, minor)
            .into_iter()
            .map(|(d, _)| d.id)
            .collect()
    }

    #[test]
    fn restricted_overrides_follow_versions() {
        let r18 = ids(Level::Restricted, 18);
        assert!(r18.contains(&"seccompProfile_baseline"));
        assert!(!r18.contains(&"seccompProfile_restricted"));
        assert!(!r18.contains(&"hostPathVolumes"));
        assert!(r18.contains(&"restrictedVolumes"));
        let r21 = ids(Level::Restricted, 21);
        assert!(r21.contains(&"capabilities_baseline"));
        assert!(!r21.contains(&"capabilities_restricted"));
        assert!(!r21.contains(&"seccompProfile_baseline"));
        let r22 = ids(Level::Restricted, 22);
        assert!(!r22.contains(&"capabilities_baseline"));
        assert!(r22.contains(&"capabilities_restricted"));
        assert!(ids(Level::Restricted, 34).contains(&"procMount"));
        let r35 = ids(Level::Restricted, 35);
        assert!(!r35.contains(&"procMount"));
        assert!(r35.contains(&"procMount_restricted"));
        assert!(ids(Level::Baseline, 35).contains(&"procMount"));
    }

    #[test]
    fn checks_appear_at_their_minimum_version() {
        assert!(!ids(Level::Restricted, 7).contains(&"allowPrivilegeEscalation"));
        assert!(ids(Level::Restricted, 8).contains(&"allowPrivilegeEscalation"));
        assert!(!ids(Level::Restricted, 22).contains(&"runAsUser"));
        assert!(ids(Level::Restricted, 23).contains(&"runAsUser"));
        assert!(!ids(Level::Baseline, 33).contains(&"hostProbesAndHostLifecycle"));
        assert!(ids(Level::Baseline, 34).contains(&"hostProbesAndHostLifecycle"));
        assert!(ids(Level::Privileged, 37).is_empty());
        assert!(ids(Level::Baseline, 37).iter().all(|id| {
            CHECKS
                .iter()
                .any(|d| d.id == *id && d.level == Level::Baseline)
        }));
    }
}
