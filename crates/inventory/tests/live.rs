//! Live discovery through the real `kube` client against an in-process HTTP server that plays
//! the Kubernetes API with real objects from the corpus: paginated lists, metadata-only lists
//! for Secrets/ConfigMaps, a kind the server does not serve.
#![cfg(feature = "live")]
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use palisade_inventory::{LoadOptions, LoadReport, live};
use palisade_testkit::fake_api::FakeApi;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_lists_every_kind_with_pagination_and_never_reads_secret_values() {
    let Some(dir) = palisade_testkit::corpus("manifests/kube-state-metrics") else {
        return;
    };
    let mut report = LoadReport::load_paths(&[dir], &LoadOptions::default());
    assert!(report.errors.is_empty());
    // a Secret with a value the client must never see
    report.load_bytes(
        "secret.yaml",
        b"apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: kube-system}\n",
        &LoadOptions::default(),
    );
    let mut served = Vec::new();
    let mut expected = 0usize;
    for o in &report.inventory.objects {
        let mut raw = o.raw.clone();
        if o.resource.kind == "Secret" {
            raw["data"] = json!({"password": "c3VwZXItc2VjcmV0"});
        }
        served.push(raw);
        if live::KINDS
            .iter()
            .any(|k| k.kind == o.resource.kind && k.api_version() == o.resource.api_version)
        {
            expected += 1;
        }
    }
    assert!(expected > 10, "{expected}");
    let server = FakeApi::start(served, &["networkpolicies"]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(tmp.path()).unwrap();
    let config = live::Config {
        context: None,
        kubeconfig: Some(kubeconfig),
        page_size: 2,
    };
    let result = tokio::time::timeout(Duration::from_secs(30), async {
        let cluster = live::connect(&config).await.expect("connect");
        assert_eq!(cluster.name, "lab-ctx");
        live::snapshot(&cluster).await.expect("snapshot")
    })
    .await
    .expect("the snapshot finished in time");
    let seen = server.seen();
    drop(server);
    let (inventory, warnings) = result;

    assert_eq!(
        inventory.objects.len(),
        expected,
        "every served object arrives"
    );
    assert!(
        inventory
            .objects
            .iter()
            .all(|o| o.location.file.starts_with("cluster:"))
    );
    let secret = inventory
        .objects
        .iter()
        .find(|o| o.resource.kind == "Secret")
        .expect("secret listed");
    assert_eq!(secret.resource.name, "creds");
    assert_eq!(secret.resource.api_version, "v1");
    let text = serde_json::to_string(&inventory.objects.iter().map(|o| &o.raw).collect::<Vec<_>>())
        .unwrap();
    assert!(
        !text.contains("c3VwZXItc2VjcmV0"),
        "secret value reached the inventory"
    );
    assert!(
        seen.metadata_only.contains(&"secrets".to_owned()),
        "{:?}",
        seen.metadata_only
    );
    assert!(seen.metadata_only.contains(&"configmaps".to_owned()));
    assert!(!seen.metadata_only.contains(&"deployments".to_owned()));
    assert!(seen.continued > 0, "the client paged: {:?}", seen.requests);
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("NetworkPolicy") && w.message.contains("404")),
        "{warnings:?}"
    );
}

#[test]
fn shipped_cluster_role_grants_exactly_read_access_to_every_listed_kind() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/clusterrole.yaml");
    let r = LoadReport::load_paths(&[path], &LoadOptions::default());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let role = r
        .inventory
        .objects
        .iter()
        .find(|o| o.resource.kind == "ClusterRole")
        .unwrap();
    let rules = role.raw["rules"].as_array().unwrap();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    for rule in rules {
        for verb in strs(&rule["verbs"]) {
            assert!(
                ["get", "list", "watch"].contains(&verb.as_str()),
                "write verb {verb}"
            );
        }
    }
    for kind in live::KINDS {
        let rule = rules
            .iter()
            .find(|r| {
                strs(&r["apiGroups"]).contains(&kind.group.to_owned())
                    && strs(&r["resources"]).contains(&kind.plural.to_owned())
            })
            .unwrap_or_else(|| panic!("no rule for {}", kind.plural));
        let verbs = strs(&rule["verbs"]);
        assert!(verbs.contains(&"list".to_owned()) && verbs.contains(&"watch".to_owned()));
        assert_eq!(
            verbs.contains(&"get".to_owned()),
            !kind.metadata_only,
            "{}",
            kind.plural
        );
    }
}
