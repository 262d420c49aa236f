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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_inventory::{LoadOptions, LoadReport, live};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else if k.ends_with('s') {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    continued: usize,
    metadata_only: Vec<String>,
}

/// Objects by (apiVersion, plural).
type Served = HashMap<(String, String), Vec<Value>>;

async fn serve(listener: TcpListener, objects: Arc<Served>, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let objects = objects.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let accept = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("accept:"))
                .unwrap_or("")
                .to_owned();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let params: HashMap<&str, &str> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
            let (api_version, resource) = match parts.as_slice() {
                ["api", v, r] => ((*v).to_owned(), (*r).to_owned()),
                ["apis", g, v, r] => (format!("{g}/{v}"), (*r).to_owned()),
                _ => (String::new(), String::new()),
            };
            let (status, body) = if resource == "networkpolicies" {
                (
                    404,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "the server could not find the requested resource"}),
                )
            } else {
                let items = objects
                    .get(&(api_version.clone(), resource.clone()))
                    .cloned()
                    .unwrap_or_default();
                let limit: usize = params
                    .get("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(usize::MAX);
                let offset: usize = params
                    .get("continue")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let page: Vec<Value> = items.iter().skip(offset).take(limit).cloned().collect();
                let next = offset + page.len();
                let meta_only = accept.contains("as=PartialObjectMetadataList");
                let mut s = seen.lock().unwrap();
                s.requests.push(target.clone());
                if params.contains_key("continue") {
                    s.continued += 1;
                }
                if meta_only {
                    s.metadata_only.push(resource.clone());
                }
                drop(s);
                let (list_kind, list_version, page) = if meta_only {
                    let page = page
                        .iter()
                        .map(|o| json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]}))
                        .collect::<Vec<_>>();
                    (
                        "PartialObjectMetadataList".to_owned(),
                        "meta.k8s.io/v1".to_owned(),
                        page,
                    )
                } else {
                    ("List".to_owned(), api_version.clone(), page)
                };
                let cont = if next < items.len() {
                    next.to_string()
                } else {
                    String::new()
                };
                (
                    200,
                    json!({"apiVersion": list_version, "kind": list_kind, "metadata": {"continue": cont, "resourceVersion": "1"}, "items": page}),
                )
            };
            let body = body.to_string();
            let reason = if status == 200 { "OK" } else { "Not Found" };
            let resp = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

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
    let mut served: Served = HashMap::new();
    let mut expected = 0usize;
    for o in &report.inventory.objects {
        let mut raw = o.raw.clone();
        if o.resource.kind == "Secret" {
            raw["data"] = json!({"password": "c3VwZXItc2VjcmV0"});
        }
        served
            .entry((o.resource.api_version.clone(), plural(&o.resource.kind)))
            .or_default()
            .push(raw);
        if live::KINDS
            .iter()
            .any(|k| k.kind == o.resource.kind && k.api_version() == o.resource.api_version)
        {
            expected += 1;
        }
    }
    assert!(expected > 10, "{expected}");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = tokio::spawn(serve(listener, Arc::new(served), seen.clone()));

    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\nusers:\n- name: u\n  user: {{token: t0ken}}\ncontexts:\n- name: lab-ctx\n  context: {{cluster: lab, user: u}}\ncurrent-context: lab-ctx\n"
        ),
    )
    .unwrap();
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
    server.abort();
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
    let seen = seen.lock().unwrap();
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
