//! Discovery of a live cluster through the Kubernetes API (feature `live`).
//!
//! [`connect`] builds a client the way `kubectl` does: the kubeconfig named by
//! [`Config::kubeconfig`] (else `$KUBECONFIG`, else `~/.kube/config`), its current context or
//! [`Config::context`]; with no kubeconfig at all (and no explicit one asked for) the in-cluster
//! service-account configuration. [`snapshot`] lists every kind of [`KINDS`] with pagination
//! (`limit`/`continue`) and returns one [`Inventory`]; [`watch()`] keeps one current with
//! list+watch ([`LiveInventory`]).
//!
//! Design decisions:
//! - Objects are fetched as untyped JSON (`DynamicObject`), like the file loader keeps them, so a
//!   field the typed structs do not know is not lost.
//! - Secrets and ConfigMaps are listed with the metadata-only API (`PartialObjectMetadataList`):
//!   their values are never requested, so they are never even transferred. Secret objects are
//!   still passed through the same redaction as files, as a second line of defence.
//! - `metadata.managedFields` is dropped: it is large, changes at every write and says nothing
//!   about security posture.
//! - A kind the server does not serve (404) or that the credentials may not list (403) becomes a
//!   warning, not a failure: a partial inventory of a locked-down cluster is still useful.

mod watch;

use std::path::PathBuf;

use k8s_openapi::api::{
    admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{
        ConfigMap, Namespace, Node, Pod, ReplicationController, Secret, Service, ServiceAccount,
    },
    networking::v1::{Ingress, NetworkPolicy},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, PartialObjectMeta};
use palisade_model::Location;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::files::LoadError;
use crate::object::{Inventory, Object, redact, resource_ref};

pub use watch::{KindStatus, LiveInventory, watch};

/// How to reach a cluster and how to list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Kubeconfig context to use; the kubeconfig's current context when `None`.
    pub context: Option<String>,
    /// Kubeconfig file; `$KUBECONFIG` or `~/.kube/config` when `None`.
    pub kubeconfig: Option<PathBuf>,
    /// Objects per list page (`limit`); 0 means no limit.
    pub page_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            context: None,
            kubeconfig: None,
            page_size: 500,
        }
    }
}

/// A connected cluster.
#[derive(Clone)]
pub struct Cluster {
    /// Stable identifier: a hash of the API server URL and its CA certificates, so the same
    /// cluster reached through two kubeconfigs (or from inside) is one cluster.
    pub id: String,
    /// Display name: the kubeconfig context, or `in-cluster`.
    pub name: String,
    /// API server URL.
    pub server: String,
    /// The client.
    pub client: kube::Client,
    /// Objects per list page (0: no limit).
    pub page_size: u32,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("server", &self.server)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// The `file` of the locations of this cluster's objects: `cluster:<name>`.
    pub fn location_file(&self) -> String {
        format!("cluster:{}", self.name)
    }
}

/// Why a cluster could not be reached or listed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be read or does not name a usable context.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file, or `default kubeconfig` when none was given.
        path: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No kubeconfig was found and the in-cluster configuration is not available either.
    #[error("no kubeconfig found ({kubeconfig}) and not running in a cluster ({in_cluster})")]
    NoConfig {
        /// Why the kubeconfig could not be read.
        kubeconfig: String,
        /// Why the in-cluster configuration could not be read.
        in_cluster: String,
    },
    /// The client could not be built from the configuration (TLS, proxy, credentials).
    #[error("cannot build a client for {server}: {source}")]
    Client {
        /// API server URL.
        server: String,
        /// What went wrong.
        #[source]
        source: kube::Error,
    },
    /// Listing one kind failed for another reason than 403/404.
    #[error("cluster {cluster}: cannot list {kind}: {source}")]
    List {
        /// Cluster display name.
        cluster: String,
        /// Kind being listed.
        kind: &'static str,
        /// What went wrong.
        #[source]
        source: kube::Error,
    },
}

/// One kind palisade reads from a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource name in URLs.
    pub plural: &'static str,
    /// Whether only metadata is requested (values never leave the server).
    pub metadata_only: bool,
}

impl Kind {
    const fn of(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
    ) -> Kind {
        Kind {
            group,
            version,
            kind,
            plural,
            metadata_only: false,
        }
    }

    const fn metadata(self) -> Kind {
        Kind {
            metadata_only: true,
            ..self
        }
    }

    /// `apiVersion` of the kind, e.g. `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_owned(),
            version: self.version.to_owned(),
            api_version: self.api_version(),
            kind: self.kind.to_owned(),
            plural: self.plural.to_owned(),
        }
    }
}

/// Builds a table entry from the typed k8s-openapi definition, so group, version and plural
/// cannot be misspelt.
macro_rules! kinds {
    ($($t:ty $(=> $m:ident)?),* $(,)?) => {
        &[$(kinds!(@one $t $(, $m)?)),*]
    };
    (@one $t:ty) => {
        Kind::of(
            <$t as k8s_openapi::Resource>::GROUP,
            <$t as k8s_openapi::Resource>::VERSION,
            <$t as k8s_openapi::Resource>::KIND,
            <$t as k8s_openapi::Resource>::URL_PATH_SEGMENT,
        )
    };
    (@one $t:ty, $m:ident) => {
        kinds!(@one $t).$m()
    };
}

/// Every kind a snapshot lists, in snapshot order.
pub const KINDS: &[Kind] = kinds![
    Namespace,
    Node,
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
    Service,
    Ingress,
    NetworkPolicy,
    ServiceAccount,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
    Secret => metadata,
    ConfigMap => metadata,
    ValidatingWebhookConfiguration,
    MutatingWebhookConfiguration,
];

/// Connects to the cluster named by `config`. Nothing is requested from the server yet.
pub async fn connect(config: &Config) -> Result<Cluster, Error> {
    let (kube_config, name) = load_config(config).await?;
    let server = kube_config.cluster_url.to_string();
    let id = cluster_id(&server, kube_config.root_cert.as_deref().unwrap_or(&[]));
    let client = kube::Client::try_from(kube_config).map_err(|source| Error::Client {
        server: server.clone(),
        source,
    })?;
    Ok(Cluster {
        id,
        name,
        server,
        client,
        page_size: config.page_size,
    })
}

async fn load_config(config: &Config) -> Result<(kube::Config, String), Error> {
    let path_name = config.kubeconfig.as_ref().map_or_else(
        || "default kubeconfig".to_owned(),
        |p| p.display().to_string(),
    );
    let kubeconfig = match &config.kubeconfig {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    let kubeconfig = match kubeconfig {
        Ok(k) => k,
        // No kubeconfig at all, and none was asked for: try the in-cluster configuration.
        Err(e) if config.kubeconfig.is_none() && config.context.is_none() => {
            return match kube::Config::incluster() {
                Ok(c) => Ok((c, "in-cluster".to_owned())),
                Err(ic) => Err(Error::NoConfig {
                    kubeconfig: e.to_string(),
                    in_cluster: ic.to_string(),
                }),
            };
        }
        Err(source) => {
            return Err(Error::Kubeconfig {
                path: path_name,
                source,
            });
        }
    };
    let name = config
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let options = KubeConfigOptions {
        context: config.context.clone(),
        cluster: None,
        user: None,
    };
    let kube_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| Error::Kubeconfig {
            path: path_name,
            source,
        })?;
    Ok((kube_config, name))
}

/// Hex SHA-256 (first 128 bits) of the server URL and its CA certificates (DER).
pub(crate) fn cluster_id(server: &str, root_certs: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    h.update(server.trim_end_matches('/').as_bytes());
    for cert in root_certs {
        h.update([0u8]);
        h.update(cert);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lists every kind of [`KINDS`] and returns the inventory, with one warning for each kind the
/// server does not serve (404) or forbids (403).
pub async fn snapshot(cluster: &Cluster) -> Result<(Inventory, Vec<LoadError>), Error> {
    let mut inventory = Inventory::default();
    let mut warnings = Vec::new();
    let file = cluster.location_file();
    for kind in KINDS {
        let values = match list_kind(cluster, kind).await {
            Ok(v) => v,
            Err(e) => match unavailable(&e) {
                Some(reason) => {
                    warnings.push(kind_warning(&file, kind, reason, &e));
                    continue;
                }
                None => {
                    return Err(Error::List {
                        cluster: cluster.name.clone(),
                        kind: kind.kind,
                        source: e,
                    });
                }
            },
        };
        for v in values {
            let document = inventory.objects.len();
            if let Some(o) = to_object(kind, v, &file, document) {
                inventory.objects.push(o);
            }
        }
    }
    Ok((inventory, warnings))
}

/// Lists one kind across all namespaces, page by page.
async fn list_kind(cluster: &Cluster, kind: &Kind) -> Result<Vec<Value>, kube::Error> {
    let ar = kind.api_resource();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default();
        if cluster.page_size > 0 {
            lp = lp.limit(cluster.page_size);
        }
        if let Some(t) = token.take() {
            lp = lp.continue_token(&t);
        }
        let next = if kind.metadata_only {
            let api =
                Api::<PartialObjectMeta<DynamicObject>>::all_with(cluster.client.clone(), &ar);
            let list = api.list(&lp).await?;
            out.extend(
                list.items
                    .iter()
                    .filter_map(|i| serde_json::to_value(i).ok()),
            );
            list.metadata.continue_
        } else {
            let api = Api::<DynamicObject>::all_with(cluster.client.clone(), &ar);
            let list = api.list(&lp).await?;
            out.extend(
                list.items
                    .iter()
                    .filter_map(|i| serde_json::to_value(i).ok()),
            );
            list.metadata.continue_
        };
        match next {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// `Some("not served")` / `Some("forbidden")` when an error means the kind cannot be read with
/// these credentials on this server, rather than a failure.
pub(crate) fn unavailable(e: &kube::Error) -> Option<&'static str> {
    match e {
        kube::Error::Api(s) if s.code == 404 => Some("not served by this API server (404)"),
        kube::Error::Api(s) if s.code == 403 => Some("forbidden (403)"),
        _ => None,
    }
}

pub(crate) fn kind_warning(file: &str, kind: &Kind, reason: &str, e: &kube::Error) -> LoadError {
    let detail = match e {
        kube::Error::Api(s) if !s.message.is_empty() => format!(": {}", s.message),
        _ => String::new(),
    };
    LoadError {
        location: Location {
            file: file.to_owned(),
            document: 0,
            line: 0,
        },
        message: format!(
            "skipped {} ({}): {reason}{detail}",
            kind.kind,
            kind.api_version()
        ),
    }
}

/// Turns one listed item into an [`Object`]: sets `kind`/`apiVersion` (list items lack them, and
/// metadata-only items name `PartialObjectMetadata`), drops `managedFields`, redacts Secrets.
pub(crate) fn to_object(kind: &Kind, mut v: Value, file: &str, document: usize) -> Option<Object> {
    let map = v.as_object_mut()?;
    map.insert("kind".into(), Value::String(kind.kind.to_owned()));
    map.insert("apiVersion".into(), Value::String(kind.api_version()));
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if kind.metadata_only {
        // Only metadata was requested; never keep anything else even if a server sent it.
        map.retain(|k, _| matches!(k.as_str(), "kind" | "apiVersion" | "metadata"));
    }
    redact(kind.kind, &mut v);
    let resource = resource_ref(&v)?;
    Some(Object {
        resource,
        raw: v,
        location: Location {
            file: file.to_owned(),
            document,
            line: 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_table_matches_the_api() {
        let find = |k: &str| KINDS.iter().find(|x| x.kind == k);
        let ing = find("Ingress");
        assert_eq!(
            ing.map(Kind::api_version).as_deref(),
            Some("networking.k8s.io/v1")
        );
        assert_eq!(ing.map(|k| k.plural), Some("ingresses"));
        assert_eq!(find("Pod").map(Kind::api_version).as_deref(), Some("v1"));
        assert!(find("Secret").is_some_and(|k| k.metadata_only));
        assert!(find("ConfigMap").is_some_and(|k| k.metadata_only));
        assert_eq!(KINDS.iter().filter(|k| k.metadata_only).count(), 2);
        assert_eq!(KINDS.len(), 22);
    }

    #[test]
    fn metadata_items_get_their_real_kind_and_nothing_else() {
        let secret = KINDS.iter().find(|k| k.kind == "Secret");
        let v = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "s", "namespace": "n", "managedFields": [{"manager": "x"}]},
            "data": {"p": "c2VjcmV0"}});
        let o = secret.and_then(|k| to_object(k, v, "cluster:c", 3));
        let o = o.map(|o| {
            (
                o.resource.to_string(),
                o.raw.to_string(),
                o.location.document,
            )
        });
        assert_eq!(
            o,
            Some((
                "Secret/n/s".to_owned(),
                r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"}}"#
                    .to_owned(),
                3
            ))
        );
    }

    #[test]
    fn cluster_id_depends_on_server_and_ca() {
        let a = cluster_id("https://k:6443", &[vec![1, 2]]);
        assert_eq!(a, cluster_id("https://k:6443/", &[vec![1, 2]]));
        assert_ne!(a, cluster_id("https://k:6443", &[vec![1, 3]]));
        assert_ne!(a, cluster_id("https://j:6443", &[vec![1, 2]]));
        assert_eq!(a.len(), 32);
    }
}
