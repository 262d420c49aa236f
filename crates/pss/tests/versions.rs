//! Version-dependent behaviour the checked-in fixtures (newest version only) do not cover.
//!
//! Expectations follow upstream's fixture generators (`test/fixtures.go` minimal valid pods per
//! version, `test/fixtures_*.go`) and the revisions registered in `policy/check_*.go`.

use palisade_pss::{Level, Version, evaluate_pod};
use serde_json::{Value, json};

fn ids(level: Level, minor: u32, pod: &Value) -> Vec<&'static str> {
    evaluate_pod(level, Version::V1(minor), pod)
        .into_iter()
        .map(|v| v.check)
        .collect()
}

/// `baseline_1_0` of fixtures.go.
fn baseline_pod() -> Value {
    json!({"spec": {
        "initContainers": [{"name": "initcontainer1", "image": "registry.k8s.io/pause"}],
        "containers": [{"name": "container1", "image": "registry.k8s.io/pause"}]
    }})
}

/// `restricted_1_0` .. `restricted_1_22` of fixtures.go, each a tweak of the previous.
fn restricted_pod(minor: u32) -> Value {
    let mut p = baseline_pod();
    p["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    if minor >= 8 {
        for list in ["containers", "initContainers"] {
            p["spec"][list][0]["securityContext"] = json!({"allowPrivilegeEscalation": false});
        }
    }
    if minor >= 19 {
        p["spec"]["securityContext"]["seccompProfile"] = json!({"type": "RuntimeDefault"});
    }
    if minor >= 22 {
        for list in ["containers", "initContainers"] {
            p["spec"][list][0]["securityContext"]["capabilities"] = json!({"drop": ["ALL"]});
        }
    }
    p
}

#[test]
fn minimal_restricted_pods_are_valid_from_their_version_on() {
    for (since, next) in [(0, Some(8)), (8, Some(19)), (19, Some(22)), (22, None)] {
        let pod = restricted_pod(since);
        let until = next.unwrap_or(Version::LATEST_MINOR + 2);
        for minor in since..until {
            assert_eq!(
                ids(Level::Restricted, minor, &pod),
                Vec::<&str>::new(),
                "restricted_1_{since} at v1.{minor}"
            );
        }
        if let Some(next) = next {
            assert!(
                !ids(Level::Restricted, next, &pod).is_empty(),
                "restricted_1_{since} must fail at v1.{next}"
            );
        }
    }
    assert_eq!(
        ids(Level::Restricted, 8, &restricted_pod(0)),
        ["allowPrivilegeEscalation"]
    );
    assert_eq!(
        ids(Level::Restricted, 19, &restricted_pod(8)),
        ["seccompProfile_restricted"]
    );
    assert_eq!(
        ids(Level::Restricted, 22, &restricted_pod(19)),
        ["capabilities_restricted"]
    );
    for minor in [0, 10, 25, Version::LATEST_MINOR] {
        assert!(ids(Level::Baseline, minor, &baseline_pod()).is_empty());
    }
}

#[test]
fn run_as_user_checked_from_1_23() {
    let mut pod = restricted_pod(22);
    pod["spec"]["securityContext"]["runAsUser"] = json!(0);
    assert!(ids(Level::Restricted, 22, &pod).is_empty());
    assert_eq!(ids(Level::Restricted, 23, &pod), ["runAsUser"]);
    assert_eq!(ids(Level::Restricted, 34, &pod), ["runAsUser"]);
}

#[test]
fn capabilities_restricted_absent_before_1_22() {
    let mut pod = restricted_pod(19);
    pod["spec"]["containers"][0]["securityContext"]["capabilities"] = json!({"add": ["NET_RAW"]});
    // Before 1.22 the baseline check still runs at restricted level.
    assert_eq!(ids(Level::Restricted, 21, &pod), ["capabilities_baseline"]);
    // From 1.22 the restricted check replaces it.
    assert_eq!(
        ids(Level::Restricted, 22, &pod),
        ["capabilities_restricted"]
    );
}

#[test]
fn seccomp_annotations_before_1_19_fields_after() {
    let mut annotated = baseline_pod();
    annotated["metadata"] =
        json!({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}});
    let v = evaluate_pod(Level::Baseline, Version::V1(18), &annotated);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].check, "seccompProfile_baseline");
    assert_eq!(
        v[0].message,
        "seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")"
    );
    assert_eq!(
        v[0].paths,
        ["metadata.annotations[\"seccomp.security.alpha.kubernetes.io/pod\"]"]
    );
    assert!(ids(Level::Baseline, 19, &annotated).is_empty());
    // Restricted below 1.19 has no seccompProfile_restricted: the baseline annotation check runs.
    let mut restricted = restricted_pod(8);
    restricted["metadata"] = annotated["metadata"].clone();
    assert_eq!(
        ids(Level::Restricted, 18, &restricted),
        ["seccompProfile_baseline"]
    );

    let mut field = baseline_pod();
    field["spec"]["securityContext"] = json!({"seccompProfile": {"type": "Unconfined"}});
    assert!(ids(Level::Baseline, 18, &field).is_empty());
    assert_eq!(
        ids(Level::Baseline, 19, &field),
        ["seccompProfile_baseline"]
    );
}

#[test]
fn sysctl_safe_list_by_version() {
    let with = |name: &str| {
        let mut p = baseline_pod();
        p["spec"]["securityContext"] = json!({"sysctls": [{"name": name, "value": "1"}]});
        p
    };
    let cases = [
        ("net.ipv4.ip_unprivileged_port_start", 0),
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ];
    for (name, since) in cases {
        let pod = with(name);
        if since > 0 {
            assert_eq!(
                ids(Level::Baseline, since - 1, &pod),
                ["sysctls"],
                "{name} before v1.{since}"
            );
        }
        assert!(
            ids(Level::Baseline, since, &pod).is_empty(),
            "{name} at v1.{since}"
        );
        assert!(
            ids(Level::Restricted, Version::LATEST_MINOR, &{
                let mut r = restricted_pod(22);
                r["spec"]["securityContext"]["sysctls"] =
                    pod["spec"]["securityContext"]["sysctls"].clone();
                r
            })
            .is_empty()
        );
    }
    assert_eq!(
        ids(
            Level::Baseline,
            Version::LATEST_MINOR,
            &with("kernel.msgmax")
        ),
        ["sysctls"]
    );
}

#[test]
fn host_probes_and_lifecycle_from_1_34() {
    let mut pod = baseline_pod();
    pod["spec"]["containers"][0]["readinessProbe"] =
        json!({"tcpSocket": {"host": "10.0.0.1", "port": 80}});
    assert!(ids(Level::Baseline, 33, &pod).is_empty());
    let v = evaluate_pod(Level::Baseline, Version::V1(34), &pod);
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].message,
        "probe or lifecycle host (container \"container1\" uses probe or lifecycle host \"10.0.0.1\")"
    );
    assert_eq!(
        v[0].paths,
        ["spec.containers[0].readinessProbe.tcpSocket.host"]
    );
}

#[test]
fn windows_relaxations_from_1_25() {
    // base_windows of the restricted v1.25+ fixtures.
    let mut pod = baseline_pod();
    pod["spec"]["os"] = json!({"name": "windows"});
    pod["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    assert_eq!(
        ids(Level::Restricted, 24, &pod),
        [
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "seccompProfile_restricted"
        ]
    );
    for minor in [25, 30, Version::LATEST_MINOR] {
        assert!(ids(Level::Restricted, minor, &pod).is_empty(), "v1.{minor}");
    }
    // runAsNonRoot is not relaxed for Windows.
    pod["spec"]["securityContext"] = json!({});
    assert_eq!(ids(Level::Restricted, 25, &pod), ["runAsNonRoot"]);
    // A Linux pod gets no relaxation.
    let mut linux = pod.clone();
    linux["spec"]["os"] = json!({"name": "linux"});
    linux["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    assert_eq!(
        ids(Level::Restricted, 25, &linux),
        [
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "seccompProfile_restricted"
        ]
    );
}

#[test]
fn user_namespace_relaxations_from_1_35() {
    let mut pod = restricted_pod(22);
    pod["spec"]["hostUsers"] = json!(false);
    pod["spec"]["securityContext"] =
        json!({"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}});
    assert_eq!(
        ids(Level::Restricted, 34, &pod),
        ["runAsNonRoot", "runAsUser"]
    );
    assert!(ids(Level::Restricted, 35, &pod).is_empty());

    let mut unmasked = baseline_pod();
    unmasked["spec"]["hostUsers"] = json!(false);
    unmasked["spec"]["containers"][0]["securityContext"] = json!({"procMount": "Unmasked"});
    assert_eq!(ids(Level::Baseline, 34, &unmasked), ["procMount"]);
    assert!(ids(Level::Baseline, 35, &unmasked).is_empty());
    let mut r = restricted_pod(22);
    r["spec"]["hostUsers"] = json!(false);
    r["spec"]["containers"][0]["securityContext"]["procMount"] = json!("Unmasked");
    assert_eq!(ids(Level::Restricted, 34, &r), ["procMount"]);
    assert_eq!(ids(Level::Restricted, 35, &r), ["procMount_restricted"]);
}

#[test]
fn selinux_container_engine_t_from_1_31() {
    let mut pod = baseline_pod();
    pod["spec"]["securityContext"] = json!({"seLinuxOptions": {"type": "container_engine_t"}});
    assert_eq!(ids(Level::Baseline, 30, &pod), ["seLinuxOptions"]);
    assert!(ids(Level::Baseline, 31, &pod).is_empty());
}

#[test]
fn apparmor_fields_checked_at_every_version() {
    // Upstream patched the field check into the v1.0 revision.
    let mut pod = baseline_pod();
    pod["spec"]["containers"][0]["securityContext"] =
        json!({"appArmorProfile": {"type": "Unconfined"}});
    for minor in [0, 29, Version::LATEST_MINOR] {
        let v = evaluate_pod(Level::Baseline, Version::V1(minor), &pod);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].message,
            "forbidden AppArmor profile (container \"container1\" must not set AppArmor profile type to \"Unconfined\")"
        );
    }
}

#[test]
fn newer_versions_and_latest_evaluate_like_the_newest_known() {
    let mut pod = baseline_pod();
    pod["spec"]["securityContext"] =
        json!({"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}, {"name": "x"}]});
    let newest = evaluate_pod(Level::Restricted, Version::V1(Version::LATEST_MINOR), &pod);
    assert_eq!(
        evaluate_pod(Level::Restricted, Version::Latest, &pod),
        newest
    );
    assert_eq!(
        evaluate_pod(Level::Restricted, Version::V1(99), &pod),
        newest
    );
    assert!(newest.iter().any(|v| v.message == "forbidden sysctls (x)"));
}
