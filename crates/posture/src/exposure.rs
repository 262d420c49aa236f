//! Exposure: services reachable from outside the cluster and the workloads behind them,
//! ingress TLS, allowed ports, exposed dashboards.

use std::collections::BTreeSet;

use palisade_inventory::Object;
use palisade_model::Finding;
use serde_json::Value;

use crate::{Ctx, Workload, finding, ns};

/// Image name fragments of management dashboards.
const DASHBOARDS: &[(&str, &str)] = &[
    ("kubernetesui/dashboard", "Kubernetes dashboard"),
    ("kubernetes-dashboard", "Kubernetes dashboard"),
    ("kubeflow/central-dashboard", "Kubeflow dashboard"),
    ("centraldashboard", "Kubeflow dashboard"),
    ("argoproj/argocli", "Argo Workflows server"),
    ("grafana/grafana", "Grafana"),
    ("kibana", "Kibana"),
    ("jupyter", "Jupyter"),
    ("weaveworks/scope", "Weave Scope"),
    ("prom/prometheus", "Prometheus"),
    ("prometheus/prometheus", "Prometheus"),
    ("rancher/rancher", "Rancher"),
    ("portainer", "Portainer"),
    ("kiali", "Kiali"),
];

/// The dashboard a workload runs, if any.
fn dashboard(w: &Workload<'_>) -> Option<&'static str> {
    for c in w.template.containers() {
        let img = c.value.get("image").and_then(Value::as_str).unwrap_or("");
        let img = img.to_ascii_lowercase();
        if let Some((_, name)) = DASHBOARDS.iter().find(|(frag, _)| img.contains(frag)) {
            return Some(name);
        }
        // Argo CD uses one image for every component: only its server is the UI.
        if img.contains("argoproj/argocd") && w.object.resource.name.contains("server") {
            return Some("Argo CD");
        }
    }
    None
}

fn names(ws: &[Workload<'_>]) -> String {
    let set: BTreeSet<String> = ws.iter().map(Workload::display).collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

pub(crate) fn check(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    match obj.resource.kind.as_str() {
        "Service" => service(ctx, obj, out),
        "Ingress" => ingress(ctx, obj, out),
        _ => {}
    }
}

fn selected<'a>(ctx: &Ctx<'a>, svc: &Object) -> Vec<Workload<'a>> {
    match svc.raw.pointer("/spec/selector").and_then(Value::as_object) {
        Some(sel) => ctx.selected(ns(svc), sel),
        None => Vec::new(),
    }
}

fn service(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    let ty = obj
        .raw
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let allowed = &ctx.config.allowed_service_ports;
    if !allowed.is_empty()
        && let Some(ports) = obj.raw.pointer("/spec/ports").and_then(Value::as_array)
    {
        for (i, p) in ports.iter().enumerate() {
            let Some(port) = p.get("port").and_then(Value::as_u64) else {
                continue;
            };
            if !allowed.iter().any(|a| u64::from(*a) == port) {
                out.push(finding(
                    "service-port-not-allowed",
                    obj,
                    None,
                    format!("service listens on port {port}, which is not in the allowed list"),
                    format!("$.spec.ports[{i}].port"),
                ));
            }
        }
    }
    if ty != "LoadBalancer" && ty != "NodePort" {
        return;
    }
    let ws = selected(ctx, obj);
    let reach = if ws.is_empty() {
        "no workload in the scanned inventory".to_owned()
    } else {
        names(&ws)
    };
    out.push(finding(
        "service-externally-exposed",
        obj,
        None,
        format!("service of type {ty} exposes {reach} outside the cluster"),
        "$.spec.type".to_owned(),
    ));
    for w in &ws {
        if let Some(d) = dashboard(w) {
            out.push(finding(
                "exposed-dashboard",
                obj,
                None,
                format!("{d} ({}) is exposed through a {ty} service", w.display()),
                "$.spec.type".to_owned(),
            ));
        }
    }
}

fn ingress(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    let spec = obj.raw.get("spec").unwrap_or(&Value::Null);
    let rules = spec
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let tls_hosts: BTreeSet<&str> = spec
        .get("tls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t.get("hosts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .collect();
    let has_tls = spec
        .get("tls")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let uncovered: Vec<&str> = rules
        .iter()
        .filter_map(|r| r.get("host").and_then(Value::as_str))
        .filter(|h| !covers(&tls_hosts, h))
        .collect();
    if !has_tls {
        out.push(finding(
            "ingress-without-tls",
            obj,
            None,
            "ingress serves plain HTTP: it has no TLS configuration".to_owned(),
            "$.spec.tls".to_owned(),
        ));
    } else if !uncovered.is_empty() {
        out.push(finding(
            "ingress-without-tls",
            obj,
            None,
            format!("ingress hosts without TLS: {}", uncovered.join(", ")),
            "$.spec.tls".to_owned(),
        ));
    }
    // dashboards behind the ingress
    let mut backends: BTreeSet<&str> = BTreeSet::new();
    for s in [
        spec.pointer("/defaultBackend/service/name"),
        spec.pointer("/backend/serviceName"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    {
        backends.insert(s);
    }
    for r in rules {
        for p in r
            .pointer("/http/paths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for s in [
                p.pointer("/backend/service/name"),
                p.pointer("/backend/serviceName"),
            ]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            {
                backends.insert(s);
            }
        }
    }
    for b in backends {
        let Some(svc) = ctx.services.get(&(ns(obj), b)) else {
            continue;
        };
        for w in selected(ctx, svc) {
            if let Some(d) = dashboard(&w) {
                out.push(finding(
                    "exposed-dashboard",
                    obj,
                    None,
                    format!(
                        "{d} ({}) is exposed through this ingress (service {b})",
                        w.display()
                    ),
                    "$.spec.rules".to_owned(),
                ));
            }
        }
    }
}

/// Whether a TLS host list covers `host` (exact, or a `*.domain` wildcard one level deep).
fn covers(tls: &BTreeSet<&str>, host: &str) -> bool {
    tls.contains(host)
        || host
            .split_once('.')
            .is_some_and(|(_, rest)| tls.contains(format!("*.{rest}").as_str()))
}

#[cfg(test)]
mod tests {
    use crate::testutil::{of, one, scan_yaml, scan_yaml_with};

    const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: dash, namespace: ops}
spec:
  template:
    metadata: {labels: {app: dash, tier: ui}}
    spec:
      containers: [{name: d, image: "kubernetesui/dashboard:v2.7.0"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: ops}
spec:
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: o, image: "x:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: dash, namespace: ops}
spec:
  type: LoadBalancer
  selector: {app: dash}
  ports: [{port: 443}, {port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ops}
spec:
  tls: [{hosts: ["a.example.com"]}]
  rules:
    - host: a.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: dash, port: {number: 443}}}}]}
    - host: b.example.com
"#;

    #[test]
    fn exposure_names_the_workloads_reached() {
        let fs = scan_yaml(APP);
        let f = one(&fs, "service-externally-exposed");
        assert!(
            f.message.contains("Deployment/dash") && !f.message.contains("other"),
            "{}",
            f.message
        );
        let d = of(&fs, "exposed-dashboard");
        assert_eq!(
            d.len(),
            2,
            "through the LoadBalancer and through the ingress: {d:#?}"
        );
        assert!(d[0].message.contains("Kubernetes dashboard"));
        let t = one(&fs, "ingress-without-tls");
        assert_eq!(t.message, "ingress hosts without TLS: b.example.com");
        assert!(
            of(&fs, "service-port-not-allowed").is_empty(),
            "off by default"
        );
    }

    #[test]
    fn allowed_ports_are_configurable() {
        let cfg = crate::ScanConfig {
            allowed_service_ports: vec![443],
            ..Default::default()
        };
        let fs = scan_yaml_with(APP, &cfg);
        let f = one(&fs, "service-port-not-allowed");
        assert_eq!(f.evidence, "$.spec.ports[1].port");
    }

    #[test]
    fn cluster_ip_services_and_tls_ingresses_are_fine() {
        let fs = scan_yaml(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\nspec: {selector: {a: b}, ports: [{port: 80}]}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: n}\nspec:\n  tls: [{hosts: ['*.example.com']}]\n  rules: [{host: x.example.com}]\n",
        );
        assert!(fs.is_empty(), "{fs:#?}");
    }
}
