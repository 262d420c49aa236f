//! An in-process HTTP server that plays the Kubernetes API for list requests, so live
//! discovery is tested through the real `kube` client (the same code path a real cluster
//! sees): paginated lists (`limit`/`continue`), metadata-only lists (the
//! `as=PartialObjectMetadataList` Accept header), 404 for kinds it is told not to serve, and
//! quiet watches (`?watch=true` streams that stay open without events until the client hangs
//! up: the objects never change). One request per connection. For watches that replay
//! changes, see the inventory crate's `live_watch` test server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server was asked.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every request target (path and query).
    pub requests: Vec<String>,
    /// Requests that carried a `continue` token.
    pub continued: usize,
    /// Resources (plural) requested as metadata only.
    pub metadata_only: Vec<String>,
    /// Resources (plural) watched.
    pub watches: Vec<String>,
}

/// A running fake API server; stops when dropped.
#[derive(Debug)]
pub struct FakeApi {
    /// Loopback port.
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The URL path segment of a kind (`Ingress` -> `ingresses`, `NetworkPolicy` -> `networkpolicies`).
pub fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else if k.ends_with('s') {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

type Served = HashMap<(String, String), Vec<Value>>;

impl FakeApi {
    /// Serves `objects` (each with apiVersion, kind, metadata); `unserved` plurals answer 404.
    pub async fn start(objects: Vec<Value>, unserved: &[&str]) -> std::io::Result<FakeApi> {
        let mut served: Served = HashMap::new();
        for o in objects {
            let av = o
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            served.entry((av, plural(kind))).or_default().push(o);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let unserved: Vec<String> = unserved.iter().map(|s| (*s).to_owned()).collect();
        let task = tokio::spawn(serve(listener, Arc::new(served), unserved, seen.clone()));
        Ok(FakeApi { port, seen, task })
    }

    /// What was requested so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Writes a kubeconfig for this server (context `lab-ctx`, token auth) into `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {{server: 'http://127.0.0.1:{}'}}\nusers:\n- name: u\n  user: {{token: t0ken}}\ncontexts:\n- name: lab-ctx\n  context: {{cluster: lab, user: u}}\ncurrent-context: lab-ctx\n",
                self.port
            ),
        )?;
        Ok(path)
    }
}

async fn serve(
    listener: TcpListener,
    objects: Arc<Served>,
    unserved: Vec<String>,
    seen: Arc<Mutex<Seen>>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let objects = objects.clone();
        let seen = seen.clone();
        let unserved = unserved.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 || buf.len() > 1 << 20 {
                    return;
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
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
            if params.get("watch") == Some(&"true") && !unserved.contains(&resource) {
                if let Ok(mut s) = seen.lock() {
                    s.requests.push(target.clone());
                    s.watches.push(resource.clone());
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // no event: hold the stream open until the client hangs up
                while sock.read(&mut chunk).await.is_ok_and(|n| n > 0) {}
                return;
            }
            let (status, body) = if unserved.contains(&resource) {
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
                if let Ok(mut s) = seen.lock() {
                    s.requests.push(target.clone());
                    if params.contains_key("continue") {
                        s.continued += 1;
                    }
                    if meta_only {
                        s.metadata_only.push(resource.clone());
                    }
                }
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
