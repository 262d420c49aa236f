//! `live::watch` through the real `kube` client against an in-process HTTP server that plays
//! the Kubernetes API with real objects from the corpus: paginated lists, metadata-only lists
//! and watches for Secrets/ConfigMaps, one kind not served (404), one forbidden (403), and
//! `?watch=true` streams of ADDED/MODIFIED/DELETED events replayed from the requested
//! resourceVersion. Every wait is bounded, so a missing call fails instead of hanging.
#![cfg(feature = "live")]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_inventory::diff::diff;
use palisade_inventory::live::{self, KindStatus, LiveInventory};
use palisade_inventory::{Inventory, LoadOptions, LoadReport};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET_VALUE: &str = "c3VwZXItc2VjcmV0";
const WAIT: Duration = Duration::from_secs(30);

/// The fake API server's data: objects per resource path, an event log, request records.
#[derive(Default)]
struct Db {
    rv: u64,
    /// `(apiVersion, plural)` -> `(namespace, name)` -> object (with kind/apiVersion).
    objects: BTreeMap<(String, String), BTreeMap<(String, String), Value>>,
    /// `(rv, apiVersion, plural, type, object)`.
    events: Vec<(u64, String, String, &'static str, Value)>,
    requests: Vec<String>,
    continued: usize,
    /// Full (not metadata-only) requests for secrets or configmaps.
    full_value_requests: Vec<String>,
    watches: Vec<String>,
}

struct Server {
    port: u16,
    db: Arc<Mutex<Db>>,
    tick: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn plural(kind: &str) -> String {
    live::KINDS
        .iter()
        .find(|k| k.kind == kind)
        .map(|k| k.plural.to_owned())
        .unwrap_or_default()
}

fn key_of(o: &Value) -> (String, String) {
    let m = &o["metadata"];
    (
        m["namespace"].as_str().unwrap_or("").to_owned(),
        m["name"].as_str().unwrap_or("").to_owned(),
    )
}

impl Server {
    async fn start(objects: Vec<Value>, forbidden: &'static [&'static str]) -> Server {
        let mut db = Db::default();
        for mut o in objects {
            db.rv += 1;
            o["metadata"]["resourceVersion"] = json!(db.rv.to_string());
            let av = o["apiVersion"].as_str().unwrap().to_owned();
            let p = plural(o["kind"].as_str().unwrap());
            db.objects.entry((av, p)).or_default().insert(key_of(&o), o);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let db = Arc::new(Mutex::new(db));
        let (tick, _) = tokio::sync::watch::channel(0u64);
        let task = {
            let db = db.clone();
            let tick = tick.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    tokio::spawn(handle(sock, db.clone(), tick.subscribe(), forbidden));
                }
            })
        };
        Server {
            port,
            db,
            tick,
            task,
        }
    }

    /// Changes an object and logs the event, as the API server would.
    fn event(&self, kind: &'static str, mut o: Value) {
        let mut db = self.db.lock().unwrap();
        db.rv += 1;
        let rv = db.rv;
        o["metadata"]["resourceVersion"] = json!(rv.to_string());
        let av = o["apiVersion"].as_str().unwrap().to_owned();
        let p = plural(o["kind"].as_str().unwrap());
        let objects = db.objects.entry((av.clone(), p.clone())).or_default();
        let kind = match kind {
            "DELETED" => {
                objects.remove(&key_of(&o));
                "DELETED"
            }
            _ if objects.insert(key_of(&o), o.clone()).is_some() => "MODIFIED",
            _ => "ADDED",
        };
        db.events.push((rv, av, p, kind, o));
        drop(db);
        self.tick.send_replace(rv);
    }

    fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {{server: 'http://127.0.0.1:{}'}}\nusers:\n- name: u\n  user: {{token: t0ken}}\ncontexts:\n- name: watch-ctx\n  context: {{cluster: lab, user: u}}\ncurrent-context: watch-ctx\n",
                self.port
            ),
        )
        .unwrap();
        path
    }
}

fn as_metadata(o: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]})
}

async fn handle(
    mut sock: TcpStream,
    db: Arc<Mutex<Db>>,
    mut tick: tokio::sync::watch::Receiver<u64>,
    forbidden: &'static [&'static str],
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 || buf.len() > 1 << 20 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let meta_only = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("accept:") && l.contains("as=PartialObjectMetadata")
    });
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (av, p) = match parts.as_slice() {
        ["api", v, r] => ((*v).to_owned(), (*r).to_owned()),
        ["apis", g, v, r] => (format!("{g}/{v}"), (*r).to_owned()),
        _ => (String::new(), String::new()),
    };
    {
        let mut d = db.lock().unwrap();
        d.requests.push(target.clone());
        if params.contains_key("continue") {
            d.continued += 1;
        }
        if (p == "secrets" || p == "configmaps") && !meta_only {
            d.full_value_requests.push(target.clone());
        }
    }
    let status = |code: u16, reason: &str| {
        let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "reason": reason, "code": code, "message": format!("{p} is {reason}")})
        .to_string();
        format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    if p == "networkpolicies" {
        let _ = sock.write_all(status(404, "NotFound").as_bytes()).await;
        return;
    }
    if forbidden.contains(&p.as_str()) {
        let _ = sock.write_all(status(403, "Forbidden").as_bytes()).await;
        return;
    }
    let render = |o: &Value| if meta_only { as_metadata(o) } else { o.clone() };

    if params.get("watch") == Some(&"true") {
        let mut last: u64 = params
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        db.lock().unwrap().watches.push(target.clone());
        let header = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if sock.write_all(header.as_bytes()).await.is_err() {
            return;
        }
        loop {
            let pending: Vec<(u64, String)> = {
                let d = db.lock().unwrap();
                d.events
                    .iter()
                    .filter(|(rv, eav, ep, _, _)| *rv > last && *eav == av && *ep == p)
                    .map(|(rv, _, _, t, o)| {
                        (
                            *rv,
                            json!({"type": t, "object": render(o)}).to_string() + "\n",
                        )
                    })
                    .collect()
            };
            for (rv, line) in pending {
                let frame = format!("{:x}\r\n{line}\r\n", line.len());
                if sock.write_all(frame.as_bytes()).await.is_err() {
                    return;
                }
                last = rv;
            }
            if tick.changed().await.is_err() {
                return;
            }
        }
    }

    let (items, rv) = {
        let d = db.lock().unwrap();
        let items: Vec<Value> = d
            .objects
            .get(&(av.clone(), p.clone()))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        (items, d.rv)
    };
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let offset: usize = params
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| {
            // list items carry no kind/apiVersion, as the API server sends them
            let mut o = render(o);
            if !meta_only && let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    let next = offset + page.len();
    let cont = if next < items.len() {
        next.to_string()
    } else {
        String::new()
    };
    let (lk, lav) = if meta_only {
        (
            "PartialObjectMetadataList".to_owned(),
            "meta.k8s.io/v1".to_owned(),
        )
    } else {
        ("List".to_owned(), av.clone())
    };
    let body = json!({"apiVersion": lav, "kind": lk,
        "metadata": {"continue": cont, "resourceVersion": rv.to_string()}, "items": page})
    .to_string();
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// Waits (bounded) until `cond` holds on the live inventory's snapshot.
async fn wait_for(live: &mut LiveInventory, what: &str, cond: impl Fn(&Inventory) -> bool) {
    let ok = tokio::time::timeout(WAIT, async {
        while !cond(&live.snapshot()) {
            live.changed().await;
        }
    })
    .await;
    assert!(ok.is_ok(), "timed out waiting for {what}");
}

fn find<'a>(inv: &'a Inventory, kind: &str, name: &str) -> Option<&'a palisade_inventory::Object> {
    inv.objects
        .iter()
        .find(|o| o.resource.kind == kind && o.resource.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_lists_pages_and_applies_added_modified_deleted_events() {
    let Some(dir) = palisade_testkit::corpus("manifests/microservices-demo") else {
        return;
    };
    let report = LoadReport::load_paths(&[dir], &LoadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // only the kinds and versions palisade reads, with the namespace the server would default
    let mut served: Vec<Value> = report
        .inventory
        .objects
        .iter()
        .filter(|o| {
            live::KINDS
                .iter()
                .any(|k| k.kind == o.resource.kind && k.api_version() == o.resource.api_version)
        })
        .map(|o| {
            let mut raw = o.raw.clone();
            if raw["metadata"]["namespace"].is_null() && o.resource.kind != "Namespace" {
                raw["metadata"]["namespace"] = json!("default");
            }
            raw
        })
        .collect();
    served.push(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"}, "data": {"password": SECRET_VALUE}}));
    served.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"}, "data": {"token": SECRET_VALUE}}));
    served.push(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "hidden"}, "rules": []}),
    );
    let expected: std::collections::BTreeSet<(String, String)> = served
        .iter()
        .filter(|o| o["kind"] != "ClusterRole")
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_owned(),
                o["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(expected.len() > 15, "{}", expected.len());
    let server = Server::start(served, &["clusterroles"]).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = live::Config {
        context: None,
        kubeconfig: Some(server.kubeconfig(tmp.path())),
        page_size: 3,
    };
    let cluster = tokio::time::timeout(WAIT, live::connect(&config))
        .await
        .expect("connect in time")
        .expect("connect");
    assert_eq!(cluster.name, "watch-ctx");
    let mut watched = live::watch(&cluster);
    tokio::time::timeout(WAIT, watched.ready())
        .await
        .expect("every kind listed in time");

    // every served object arrived; the 404 and 403 kinds are reported, not fatal
    let before = watched.snapshot();
    let got: std::collections::BTreeSet<(String, String)> = before
        .objects
        .iter()
        .map(|o| (o.resource.kind.clone(), o.resource.name.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        before
            .objects
            .iter()
            .all(|o| o.location.file == "cluster:watch-ctx")
    );
    let status: HashMap<&str, KindStatus> = watched
        .status()
        .into_iter()
        .map(|(k, s)| (k.kind, s))
        .collect();
    assert!(matches!(&status["NetworkPolicy"], KindStatus::Unavailable(m) if m.contains("404")));
    assert!(matches!(&status["ClusterRole"], KindStatus::Unavailable(m) if m.contains("403")));
    assert_eq!(status["Deployment"], KindStatus::Synced);
    assert_eq!(watched.warnings().len(), 2, "{:?}", watched.warnings());

    // a Deployment scaled, a Pod created, a Service deleted, a Secret rotated
    let mut deployment = find(&before, "Deployment", "frontend").unwrap().raw.clone();
    deployment["spec"]["replicas"] = json!(7);
    deployment["metadata"]["namespace"] = json!("default");
    server.event("MODIFIED", deployment);
    server.event(
        "ADDED",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "intruder", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}}),
    );
    let service = find(&before, "Service", "frontend-external")
        .unwrap()
        .raw
        .clone();
    server.event("DELETED", service);
    server.event(
        "MODIFIED",
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default", "labels": {"rotated": "yes"}},
            "data": {"password": SECRET_VALUE}}),
    );
    wait_for(&mut watched, "the four events", |inv| {
        find(inv, "Pod", "intruder").is_some()
            && find(inv, "Service", "frontend-external").is_none()
            && find(inv, "Deployment", "frontend")
                .is_some_and(|d| d.raw["spec"]["replicas"] == json!(7))
            && find(inv, "Secret", "creds")
                .is_some_and(|s| s.raw["metadata"]["labels"]["rotated"] == json!("yes"))
    })
    .await;
    let after = watched.snapshot();
    let d = diff(&before, &after);
    let names = |v: &[palisade_inventory::Object]| -> Vec<String> {
        v.iter().map(|o| o.resource.to_string()).collect()
    };
    assert_eq!(names(&d.added), vec!["Pod/default/intruder"]);
    assert_eq!(names(&d.removed), vec!["Service/default/frontend-external"]);
    let changed: Vec<(String, Vec<String>)> = d
        .changed
        .iter()
        .map(|c| (c.new.resource.to_string(), c.paths.clone()))
        .collect();
    assert_eq!(
        changed,
        vec![
            // ordered by (group, kind, namespace, name): the core group first
            (
                "Secret/default/creds".to_owned(),
                vec!["$.metadata.labels".to_owned()]
            ),
            (
                "Deployment/default/frontend".to_owned(),
                vec!["$.spec.replicas".to_owned()]
            ),
        ]
    );

    // secret and configmap values never travelled, not even in watch events
    let text =
        serde_json::to_string(&after.objects.iter().map(|o| &o.raw).collect::<Vec<_>>()).unwrap();
    assert!(
        !text.contains(SECRET_VALUE),
        "a value reached the inventory"
    );
    let db = server.db.lock().unwrap();
    assert!(
        db.full_value_requests.is_empty(),
        "{:?}",
        db.full_value_requests
    );
    assert!(db.continued > 0, "the client paged: {:?}", db.requests);
    assert!(
        db.watches.iter().any(|w| w.starts_with("/api/v1/secrets?")),
        "{:?}",
        db.watches
    );
    assert!(db.watches.iter().all(|w| !w.contains("networkpolicies")));
}
