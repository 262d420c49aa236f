//! The built-in checks over real manifests: no panic, and findings we verified by reading the
//! files.
#![expect(clippy::unwrap_used, reason = "tests")]

use palisade_inventory::{LoadOptions, LoadReport};
use palisade_model::Finding;

fn scan(sub: &str) -> Option<(LoadReport, Vec<Finding>)> {
    let dir = palisade_testkit::corpus(sub)?;
    let r = LoadReport::load_paths(&[dir], &LoadOptions::default());
    let f = palisade_posture::scan(&r.inventory, &palisade_posture::ScanConfig::default());
    Some((r, f))
}

fn has(fs: &[Finding], check: &str, kind: &str, name: &str) -> bool {
    fs.iter()
        .any(|f| f.check_id == check && f.resource.kind == kind && f.resource.name == name)
}

#[test]
fn whole_manifest_corpus() {
    let Some((r, fs)) = scan("manifests") else {
        return;
    };
    assert!(r.inventory.objects.len() > 2700);
    // calico.yaml: the calico-node DaemonSet runs privileged with host networking.
    assert!(has(&fs, "privileged-container", "DaemonSet", "calico-node"));
    assert!(has(&fs, "host-network", "DaemonSet", "calico-node"));
    assert!(has(
        &fs,
        "pss-baseline-privileged",
        "DaemonSet",
        "calico-node"
    ));
    // calico-node mounts /var/run/calico, /lib/modules, ... and the node's /proc is not among
    // them, but /var/log/calico/cni is under the sensitive /var/log.
    assert!(fs.iter().any(|f| f.check_id == "sensitive-host-path"
        && f.resource.name == "calico-node"
        && f.message.contains("/var/log/calico/cni")));
    // Every evidence is a JSON path and every finding's check is in the catalogue.
    for f in &fs {
        assert!(f.evidence.starts_with('$'), "{f:?}");
        assert!(
            palisade_posture::catalog()
                .iter()
                .any(|c| c.id == f.check_id),
            "{}",
            f.check_id
        );
    }
    // Findings are deterministic.
    let again = palisade_posture::scan(&r.inventory, &palisade_posture::ScanConfig::default());
    assert_eq!(fs, again);
}

#[test]
fn examples_of_the_repository() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests");
    let r = LoadReport::load_paths(&[dir], &LoadOptions::default());
    assert!(r.errors.is_empty());
    let fs = palisade_posture::scan(&r.inventory, &palisade_posture::ScanConfig::default());
    for (check, kind, name) in [
        ("privileged-container", "DaemonSet", "node-agent"),
        ("sensitive-host-path", "DaemonSet", "node-agent"),
        ("dangerous-capability", "DaemonSet", "node-agent"),
        (
            "rbac-anonymous-binding",
            "ClusterRoleBinding",
            "anonymous-admin",
        ),
        (
            "rbac-wildcard-permission",
            "ClusterRoleBinding",
            "node-agent",
        ),
        ("image-latest-tag", "Deployment", "web"),
        ("service-externally-exposed", "Service", "web"),
        ("ingress-without-tls", "Ingress", "web"),
    ] {
        assert!(has(&fs, check, kind, name), "{check} on {kind}/{name}");
    }
    let api: Vec<_> = fs.iter().filter(|f| f.resource.name == "api").collect();
    assert!(
        api.is_empty(),
        "the hardened api Deployment has findings: {api:#?}"
    );
    let docker = fs
        .iter()
        .find(|f| f.check_id == "sensitive-host-path" && f.message.contains("docker.sock"))
        .unwrap();
    assert_eq!(
        docker.evidence,
        "$.spec.template.spec.volumes[1].hostPath.path"
    );
}
