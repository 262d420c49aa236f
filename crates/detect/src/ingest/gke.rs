//! GKE Cloud Logging entries (`protoPayload` of type `google.cloud.audit.AuditLog`) mapped onto
//! the fields of an `audit.k8s.io/v1` event, so the same rules read them:
//!
//! | AuditLog | audit event |
//! |---|---|
//! | `methodName` `io.k8s.core.v1.pods.exec.create` | `verb` `create`, `objectRef` `pods`/`exec` |
//! | `resourceName` `core/v1/namespaces/ns/pods/p/exec` | `objectRef` namespace, resource, name, subresource; `requestURI` |
//! | `authenticationInfo.principalEmail` | `user.username` |
//! | `requestMetadata.callerIp` | `sourceIPs` |
//! | `requestMetadata.callerSuppliedUserAgent` | `userAgent` |
//! | `status.code` (gRPC), `response` `Status`, `authorizationInfo[].granted` | `responseStatus.code` (HTTP) |
//! | `authorizationInfo[].granted` | annotation `authorization.k8s.io/decision` (`allow`/`forbid`) |
//! | `request`, `response` | `requestObject`, `responseObject` |
//! | `timestamp`, `insertId` | `stageTimestamp`, `auditID` |
//! | `resource.labels.cluster_name` | the cluster name |
//!
//! When `methodName` is not a Kubernetes method (a Deployment Manager call creating a
//! DaemonSet), the first `io.k8s.` permission of `authorizationInfo` stands for it. Entries of
//! other services (`compute.googleapis.com`, ...) are not audit events.

use serde_json::{Map, Value, json};

/// An entry mapped to audit-event JSON, and the cluster it came from.
#[derive(Debug)]
pub(super) struct Mapped {
    pub(super) json: String,
    pub(super) cluster: Option<String>,
}

const VERBS: &[&str] = &[
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "get",
    "list",
    "watch",
];

/// The parts of a Kubernetes method or resource name.
#[derive(Debug, Default, PartialEq, Eq)]
struct Target {
    group: Option<String>,
    version: Option<String>,
    namespace: Option<String>,
    resource: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
    /// For non-resource requests (`/healthz`).
    path: Option<String>,
}

fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    tail.is_empty()
        || ["alpha", "beta"].iter().any(|p| {
            tail.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// `io.k8s.core.v1.pods.exec.create` → verb and target.
fn parse_method(method: &str) -> Option<(String, Target)> {
    let rest = method.strip_prefix("io.k8s.")?;
    let segs: Vec<&str> = rest.split('.').collect();
    let (verb, body) = match segs.split_last() {
        Some((last, body)) if VERBS.contains(last) => ((*last).to_string(), body),
        _ => ("get".to_string(), &segs[..]),
    };
    let mut t = Target::default();
    match body.iter().position(|s| is_version(s)) {
        Some(vi) => {
            let group = body[..vi].join(".");
            t.group = Some(if group == "core" {
                String::new()
            } else {
                group
            });
            t.version = Some(body[vi].to_string());
            t.resource = body.get(vi + 1).map(|s| (*s).to_string());
            t.subresource = body.get(vi + 2).map(|s| (*s).to_string());
        }
        None => t.path = Some(format!("/{}", body.join("/"))),
    }
    Some((verb, t))
}

/// The API server's non-resource endpoints that entries name like resources.
const NON_RESOURCE_PATHS: &[&str] = &["healthz", "livez", "readyz", "version"];

/// `core/v1/namespaces/ns/pods/p/exec`, `rbac.authorization.k8s.io/v1/clusterroles/r`.
fn parse_resource_name(name: &str) -> Option<Target> {
    if name.starts_with('/') {
        return Some(Target {
            path: Some(name.to_string()),
            ..Target::default()
        });
    }
    let segs: Vec<&str> = name.split('/').collect();
    if segs.len() < 3 || !is_version(segs[1]) {
        return None;
    }
    let mut t = Target {
        group: Some(if segs[0] == "core" {
            String::new()
        } else {
            segs[0].to_string()
        }),
        version: Some(segs[1].to_string()),
        ..Target::default()
    };
    let mut rest = &segs[2..];
    // Health and version endpoints are paths, not resources, whatever group prefix the
    // entry puts before them (`core/v1/healthz`).
    if let [endpoint] = rest
        && NON_RESOURCE_PATHS.contains(endpoint)
    {
        return Some(Target {
            path: Some(format!("/{endpoint}")),
            ..Target::default()
        });
    }
    if rest.len() >= 3 && rest[0] == "namespaces" {
        t.namespace = Some(rest[1].to_string());
        rest = &rest[2..];
    }
    t.resource = rest.first().map(|s| (*s).to_string());
    t.name = rest.get(1).map(|s| (*s).to_string());
    t.subresource = rest.get(2).map(|s| (*s).to_string());
    if t.resource.as_deref() == Some("namespaces") {
        t.namespace.clone_from(&t.name);
    }
    Some(t)
}

fn request_uri(t: &Target) -> Option<String> {
    if let Some(p) = &t.path {
        return Some(p.clone());
    }
    let version = t.version.as_deref()?;
    let mut uri = match t.group.as_deref() {
        None | Some("") => format!("/api/{version}"),
        Some(g) => format!("/apis/{g}/{version}"),
    };
    if let Some(ns) = &t.namespace
        && t.resource.as_deref() != Some("namespaces")
    {
        uri.push_str("/namespaces/");
        uri.push_str(ns);
    }
    for part in [&t.resource, &t.name, &t.subresource].into_iter().flatten() {
        uri.push('/');
        uri.push_str(part);
    }
    Some(uri)
}

/// gRPC status code → HTTP status code (google.rpc.Code mapping).
fn http_code(grpc: i64) -> i64 {
    match grpc {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Maps one Cloud Logging entry; `Err` says why it is not a Kubernetes audit entry.
pub(super) fn to_audit_event(entry_text: &str) -> Result<Mapped, String> {
    let entry: Value =
        serde_json::from_str(entry_text).map_err(|e| format!("invalid JSON: {e}"))?;
    let pp = entry
        .get("protoPayload")
        .filter(|p| p.is_object())
        .ok_or("protoPayload is not an object")?;
    let authz: Vec<&Value> = pp
        .get("authorizationInfo")
        .or_else(|| entry.get("authorizationInfo"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let method = str_at(pp, &["methodName"]).unwrap_or("");
    let permission = authz
        .iter()
        .filter_map(|a| str_at(a, &["permission"]))
        .find(|p| p.starts_with("io.k8s."));
    let (verb, from_method) = parse_method(method)
        .or_else(|| permission.and_then(parse_method))
        .ok_or_else(|| format!("GCP audit entry for {method:?}, not a Kubernetes API call"))?;
    let resource_name = str_at(pp, &["resourceName"])
        .or_else(|| authz.iter().filter_map(|a| str_at(a, &["resource"])).next());
    let mut target = resource_name
        .and_then(parse_resource_name)
        .unwrap_or_default();
    if target.resource.is_none() && target.path.is_none() {
        target.group = from_method.group.clone();
        target.version = from_method.version.clone();
        target.resource = from_method.resource.clone();
        target.subresource = from_method.subresource.clone();
        target.path = from_method.path.clone();
    }
    if target.subresource.is_none() && target.name.is_some() {
        target.subresource = from_method.subresource.clone();
    }

    let mut ev = Map::new();
    ev.insert("kind".into(), json!("Event"));
    ev.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    ev.insert("level".into(), json!("RequestResponse"));
    ev.insert("stage".into(), json!("ResponseComplete"));
    if let Some(id) = str_at(&entry, &["insertId"]) {
        ev.insert("auditID".into(), json!(id));
    }
    ev.insert("verb".into(), json!(verb));
    if let Some(uri) = request_uri(&target) {
        ev.insert("requestURI".into(), json!(uri));
    }
    let user = str_at(pp, &["authenticationInfo", "principalEmail"])
        .or_else(|| str_at(pp, &["authenticationInfo", "principalSubject"]))
        .or_else(|| str_at(pp, &["authenticationInfo", "authoritySelector"]));
    if let Some(u) = user {
        ev.insert("user".into(), json!({ "username": u }));
    }
    let caller = str_at(pp, &["requestMetadata", "callerIp"])
        .or_else(|| str_at(pp, &["requestMetadata", "callerIP"]));
    if let Some(ip) = caller {
        ev.insert("sourceIPs".into(), json!([ip]));
    }
    if let Some(ua) = str_at(pp, &["requestMetadata", "callerSuppliedUserAgent"]) {
        ev.insert("userAgent".into(), json!(ua));
    }
    let mut oref = Map::new();
    for (k, v) in [
        ("resource", &target.resource),
        ("subresource", &target.subresource),
        ("namespace", &target.namespace),
        ("name", &target.name),
        ("apiVersion", &target.version),
    ] {
        if let Some(v) = v {
            oref.insert(k.into(), json!(v));
        }
    }
    if let Some(g) = target.group.as_deref().filter(|g| !g.is_empty()) {
        oref.insert("apiGroup".into(), json!(g));
    }
    if !oref.is_empty() {
        ev.insert("objectRef".into(), Value::Object(oref));
    }

    let granted = authz
        .iter()
        .filter_map(|a| a.get("granted").and_then(Value::as_bool))
        .collect::<Vec<_>>();
    let denied = granted.contains(&false);
    let response = pp.get("response");
    let grpc = pp
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64)
        .filter(|c| *c != 0);
    let status_code = response
        .filter(|r| {
            r.get("kind").and_then(Value::as_str) == Some("Status")
                || r.get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with(".Status"))
        })
        .and_then(|r| r.get("code"))
        .and_then(Value::as_i64);
    let failure = response
        .and_then(|r| r.get("status"))
        .and_then(Value::as_str)
        == Some("Failure");
    let code = match (grpc, status_code) {
        (Some(g), _) => http_code(g),
        (None, Some(c)) => c,
        _ if denied => 403,
        _ if failure => 500,
        _ if verb == "create" => 201,
        _ => 200,
    };
    let mut status = Map::new();
    status.insert("code".into(), json!(code));
    if let Some(m) = pp
        .get("status")
        .and_then(|s| s.get("message"))
        .and_then(Value::as_str)
    {
        status.insert("message".into(), json!(m));
    }
    ev.insert("responseStatus".into(), Value::Object(status));
    if let Some(r) = pp.get("request").filter(|r| !r.is_null()) {
        ev.insert("requestObject".into(), r.clone());
    }
    if let Some(r) = response.filter(|r| !r.is_null()) {
        ev.insert("responseObject".into(), r.clone());
    }
    if !granted.is_empty() {
        let decision = if denied { "forbid" } else { "allow" };
        ev.insert(
            "annotations".into(),
            json!({ "authorization.k8s.io/decision": decision }),
        );
    }
    let time = str_at(&entry, &["timestamp"]).or_else(|| str_at(pp, &["timestamp"]));
    if let Some(t) = time {
        ev.insert("requestReceivedTimestamp".into(), json!(t));
        ev.insert("stageTimestamp".into(), json!(t));
    }
    let cluster = str_at(&entry, &["resource", "labels", "cluster_name"]).map(str::to_string);
    Ok(Mapped {
        json: Value::Object(ev).to_string(),
        cluster,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn methods_and_resource_names() {
        let (verb, t) = parse_method("io.k8s.core.v1.pods.exec.create").unwrap();
        assert_eq!(verb, "create");
        assert_eq!(t.resource.as_deref(), Some("pods"));
        assert_eq!(t.subresource.as_deref(), Some("exec"));
        assert_eq!(t.group.as_deref(), Some(""));
        let (verb, t) = parse_method("io.k8s.readyz").unwrap();
        assert_eq!(verb, "get");
        assert_eq!(t.path.as_deref(), Some("/readyz"));
        let t = parse_resource_name("core/v1/healthz").unwrap();
        assert_eq!((t.path.as_deref(), t.resource), (Some("/healthz"), None));
        assert!(parse_method("compute.instances.list").is_none());
        assert!(
            is_version("v1beta1")
                && is_version("v2")
                && !is_version("vx")
                && !is_version("v1gamma")
        );

        let t = parse_resource_name("core/v1/namespaces/default/pods/nginx/exec").unwrap();
        assert_eq!(
            request_uri(&t).as_deref(),
            Some("/api/v1/namespaces/default/pods/nginx/exec")
        );
        let t = parse_resource_name("rbac.authorization.k8s.io/v1/clusterroles/admin").unwrap();
        assert_eq!(t.namespace, None);
        assert_eq!(
            request_uri(&t).as_deref(),
            Some("/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
        );
        let t = parse_resource_name("core/v1/namespaces/team-a").unwrap();
        assert_eq!(t.resource.as_deref(), Some("namespaces"));
        assert_eq!(t.namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn maps_a_denied_secret_read() {
        let entry = r#"{"insertId":"abc","timestamp":"2024-02-16T11:48:22.742154Z",
          "resource":{"type":"k8s_cluster","labels":{"cluster_name":"gke-1","project_id":"p"}},
          "protoPayload":{"authenticationInfo":{"principalEmail":"u@example.com"},
            "authorizationInfo":[{"granted":false,"permission":"io.k8s.core.v1.secrets.get",
              "resource":"core/v1/namespaces/prod/secrets/tls"}],
            "methodName":"io.k8s.core.v1.secrets.get",
            "requestMetadata":{"callerIp":"8.8.8.8","callerSuppliedUserAgent":"kubectl/v1.30"},
            "resourceName":"core/v1/namespaces/prod/secrets/tls","serviceName":"k8s.io",
            "status":{"code":7,"message":"PERMISSION_DENIED"}}}"#;
        let m = to_audit_event(entry).unwrap();
        assert_eq!(m.cluster.as_deref(), Some("gke-1"));
        let v: Value = serde_json::from_str(&m.json).unwrap();
        assert_eq!(v["auditID"], "abc");
        assert_eq!(v["verb"], "get");
        assert_eq!(v["user"]["username"], "u@example.com");
        assert_eq!(v["sourceIPs"][0], "8.8.8.8");
        assert_eq!(v["objectRef"]["namespace"], "prod");
        assert_eq!(v["objectRef"]["resource"], "secrets");
        assert_eq!(v["objectRef"]["name"], "tls");
        assert_eq!(v["responseStatus"]["code"], 403);
        assert_eq!(v["annotations"]["authorization.k8s.io/decision"], "forbid");
        assert_eq!(v["requestURI"], "/api/v1/namespaces/prod/secrets/tls");
    }

    #[test]
    fn non_kubernetes_entries_are_refused() {
        let entry = r#"{"protoPayload":{"methodName":"compute.instances.list","serviceName":"compute.googleapis.com"}}"#;
        assert!(to_audit_event(entry).is_err());
    }
}
