//! Posture checks over an inventory: the built-in catalogue and the scan engine.
//!
//! `scan(&Inventory, &ScanConfig) -> Vec<Finding>` runs every built-in check:
//!
//! - [`workload`](crate::workload): data-plane hardening of every pod template (privileged,
//!   host namespaces and paths, capabilities, users, seccomp/AppArmor, limits, images, ...).
//! - [`pss`](crate::pss): Pod Security Standards (baseline and restricted, at a chosen policy
//!   version) through `palisade-pss`, one finding per violated control.
//! - [`exposure`](crate::exposure): LoadBalancer/NodePort services and the workloads they
//!   reach, ingress TLS, allowed ports, exposed dashboards.
//! - [`rbac`](crate::rbac): risky permissions resolved from bindings to roles, naming the
//!   subjects and the workloads that run as them.
//!
//! Design: the engine builds its indices (workloads by namespace and service account, roles by
//! name, service accounts) once per scan in [`Ctx`], so every check is linear in the inventory.
//! Checks read the raw JSON of each object defensively: a field of the wrong type counts as
//! absent, never as a panic. The catalogue is one static table ([`catalog`]) so ids, severities
//! and MITRE ids are data that tests validate.

mod catalog;
mod exposure;
mod image;
mod pss;
mod rbac;
mod workload;

use std::borrow::Cow;
use std::collections::HashMap;

use palisade_inventory::{Inventory, Object};
use palisade_model::{Finding, Severity};

/// Settings of a scan.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Registries images may come from (`host[/path]` prefixes). Empty = the check is off.
    pub trusted_registries: Vec<String>,
    /// Pod Security Standards version the PSS checks follow.
    pub pss_version: palisade_pss::Version,
    /// Service ports that may be exposed. Empty = the check is off.
    pub allowed_service_ports: Vec<u16>,
    /// Namespaces whose objects are not checked (e.g. `kube-system` on managed clusters).
    pub excluded_namespaces: Vec<String>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            trusted_registries: Vec::new(),
            pss_version: palisade_pss::Version::Latest,
            allowed_service_ports: Vec::new(),
            excluded_namespaces: Vec::new(),
        }
    }
}

/// Static description of one check of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Category (`workload`, `pod-security`, `rbac`, `exposure`).
    pub category: &'static str,
    /// MITRE ATT&CK technique ids.
    pub mitre: &'static [&'static str],
    /// Why it matters.
    pub rationale: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
}

/// The built-in catalogue.
pub fn catalog() -> &'static [CheckInfo] {
    catalog::CHECKS
}

/// Runs every built-in check over the inventory.
pub fn scan(inventory: &Inventory, config: &ScanConfig) -> Vec<Finding> {
    let ctx = Ctx::new(inventory, config);
    let mut out = Vec::new();
    for obj in &inventory.objects {
        if ctx.excluded(obj) {
            continue;
        }
        workload::check(&ctx, obj, &mut out);
        pss::check(&ctx, obj, &mut out);
        exposure::check(&ctx, obj, &mut out);
        rbac::check(&ctx, obj, &mut out);
    }
    out
}

/// A workload (an object with a pod template) as the indices know it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workload<'a> {
    pub(crate) object: &'a Object,
    pub(crate) template: palisade_inventory::PodTemplate<'a>,
}

impl<'a> Workload<'a> {
    /// `Kind/name` for messages.
    pub(crate) fn display(&self) -> String {
        format!(
            "{}/{}",
            self.object.resource.kind, self.object.resource.name
        )
    }

    /// The service account the pods run as.
    pub(crate) fn service_account(&self) -> &'a str {
        let s = self.template.spec;
        s.get("serviceAccountName")
            .or_else(|| s.get("serviceAccount"))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .unwrap_or("default")
    }
}

/// Per-scan indices shared by all checks.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a ScanConfig,
    /// Workloads by (namespace, pod label key, pod label value): selector lookups touch
    /// only candidates that carry at least one of the selector's labels.
    pub(crate) workloads_by_label: HashMap<(&'a str, &'a str, &'a str), Vec<Workload<'a>>>,
    /// Workloads by (namespace, service account).
    pub(crate) workloads_by_sa: HashMap<(&'a str, &'a str), Vec<Workload<'a>>>,
    /// ServiceAccount objects by (namespace, name).
    pub(crate) service_accounts: HashMap<(&'a str, &'a str), &'a Object>,
    /// ClusterRoles by name.
    pub(crate) cluster_roles: HashMap<&'a str, &'a Object>,
    /// Roles by (namespace, name).
    pub(crate) roles: HashMap<(&'a str, &'a str), &'a Object>,
    /// Services by (namespace, name).
    pub(crate) services: HashMap<(&'a str, &'a str), &'a Object>,
}

pub(crate) fn ns(o: &Object) -> &str {
    o.resource.namespace.as_deref().unwrap_or("")
}

impl<'a> Ctx<'a> {
    fn new(inv: &'a Inventory, config: &'a ScanConfig) -> Ctx<'a> {
        let mut ctx = Ctx {
            config,
            workloads_by_label: HashMap::new(),
            workloads_by_sa: HashMap::new(),
            service_accounts: HashMap::new(),
            cluster_roles: HashMap::new(),
            roles: HashMap::new(),
            services: HashMap::new(),
        };
        for o in &inv.objects {
            let name = o.resource.name.as_str();
            match o.resource.kind.as_str() {
                "ServiceAccount" => {
                    ctx.service_accounts.insert((ns(o), name), o);
                }
                "ClusterRole" => {
                    ctx.cluster_roles.insert(name, o);
                }
                "Role" => {
                    ctx.roles.insert((ns(o), name), o);
                }
                "Service" => {
                    ctx.services.insert((ns(o), name), o);
                }
                _ => {}
            }
            // Pods owned by a controller are reached through their controller already.
            if o.resource.kind == "Pod" && is_controlled(o) {
                continue;
            }
            if let Some(template) = o.pod_template() {
                let w = Workload {
                    object: o,
                    template,
                };
                if let Some(labels) = template.metadata.get("labels").and_then(|l| l.as_object()) {
                    for (k, v) in labels {
                        if let Some(v) = v.as_str() {
                            ctx.workloads_by_label
                                .entry((ns(o), k.as_str(), v))
                                .or_default()
                                .push(w);
                        }
                    }
                }
                ctx.workloads_by_sa
                    .entry((ns(o), w.service_account()))
                    .or_default()
                    .push(w);
            }
        }
        ctx
    }

    fn excluded(&self, o: &Object) -> bool {
        o.resource
            .namespace
            .as_ref()
            .is_some_and(|n| self.config.excluded_namespaces.iter().any(|e| e == n))
    }

    /// Workloads in `namespace` whose pod labels match every entry of `selector`.
    pub(crate) fn selected(
        &self,
        namespace: &str,
        selector: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<Workload<'a>> {
        // Candidates: the workloads carrying the selector's least common label.
        let candidates = selector
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_str()?;
                Some(
                    self.workloads_by_label
                        .get(&(namespace, k.as_str(), v))
                        .map_or(&[][..], Vec::as_slice),
                )
            })
            .min_by_key(|c| c.len());
        if selector.is_empty() || selector.values().any(|v| !v.is_string()) {
            return Vec::new();
        }
        candidates
            .map(|ws| {
                ws.iter()
                    .filter(|w| {
                        let labels = w.template.metadata.get("labels");
                        selector
                            .iter()
                            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn is_controlled(o: &Object) -> bool {
    o.raw
        .pointer("/metadata/ownerReferences")
        .and_then(|v| v.as_array())
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller").and_then(|c| c.as_bool()) == Some(true))
        })
}

/// Builds a finding of catalogue check `id`. Unknown ids are a programming error caught by
/// tests; in release they still produce a finding with neutral metadata rather than panic.
pub(crate) fn finding(
    id: &'static str,
    obj: &Object,
    container: Option<&str>,
    message: String,
    evidence: String,
) -> Finding {
    let info = catalog::info(id);
    Finding {
        check_id: Cow::Borrowed(id),
        title: Cow::Borrowed(info.map_or(id, |c| c.title)),
        severity: info.map_or(Severity::Medium, |c| c.severity),
        resource: obj.resource.clone(),
        container: container.filter(|c| !c.is_empty()).map(str::to_owned),
        message,
        evidence,
        remediation: Cow::Borrowed(info.map_or("", |c| c.remediation)),
        mitre: info
            .map(|c| c.mitre.iter().map(|m| (*m).to_owned()).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use palisade_inventory::{LoadOptions, LoadReport};
    use palisade_model::Finding;

    /// Scans YAML text with the default configuration.
    pub(crate) fn scan_yaml(text: &str) -> Vec<Finding> {
        scan_yaml_with(text, &crate::ScanConfig::default())
    }

    pub(crate) fn scan_yaml_with(text: &str, cfg: &crate::ScanConfig) -> Vec<Finding> {
        let mut r = LoadReport::default();
        r.load_bytes("t.yaml", text.as_bytes(), &LoadOptions::default());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        crate::scan(&r.inventory, cfg)
    }

    /// The findings of one check.
    pub(crate) fn of<'a>(fs: &'a [Finding], id: &str) -> Vec<&'a Finding> {
        fs.iter().filter(|f| f.check_id == id).collect()
    }

    pub(crate) fn one<'a>(fs: &'a [Finding], id: &str) -> &'a Finding {
        let v = of(fs, id);
        assert_eq!(v.len(), 1, "expected one {id}: {fs:#?}");
        v.first().copied().unwrap()
    }
}
