//! A live inventory kept current with list+watch.
//!
//! One `kube::runtime::watcher` per kind feeds one shared state (the single-writer-per-kind
//! shape of kube's reflector, merged across kinds). A re-list (`Init` .. `InitDone`) replaces the
//! kind's objects atomically, so readers never see a half-listed kind. Readers take a
//! [`LiveInventory::snapshot`] (an owned [`Inventory`]) and can wait for the next change.
//! Secrets and ConfigMaps are watched metadata-only, like [`snapshot`](super::snapshot) lists
//! them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{Cluster, KINDS, Kind, kind_warning, to_object, unavailable};
use crate::files::LoadError;
use crate::object::Inventory;

/// Where the watch of one kind stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindStatus {
    /// The first list has not completed yet.
    Pending,
    /// Listed; watch events are being applied.
    Synced,
    /// Not served (404) or forbidden (403): the kind is not watched. Holds the warning text.
    Unavailable(String),
}

/// Objects of one kind, keyed by (namespace, name).
type Objects = BTreeMap<(String, String), Value>;

#[derive(Debug)]
struct KindState {
    status: KindStatus,
    objects: Objects,
    /// Objects received since the last `Init`, swapped in at `InitDone`.
    buffer: Option<Objects>,
    /// The last error of the watch (it is retried with backoff), for diagnostics.
    last_error: Option<String>,
}

#[derive(Debug)]
struct State {
    kinds: Vec<KindState>,
    warnings: Vec<LoadError>,
}

/// An inventory kept current by watching the cluster. Dropping it stops the watches.
#[derive(Debug)]
pub struct LiveInventory {
    cluster_name: String,
    file: String,
    state: Arc<Mutex<State>>,
    revision: tokio::sync::watch::Receiver<u64>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts watching every kind of [`KINDS`](super::KINDS). Must be called inside a tokio runtime;
/// returns at once, the first lists arrive in the background (see [`LiveInventory::ready`]).
/// Lists are paged with the cluster's page size.
pub fn watch(cluster: &Cluster) -> LiveInventory {
    let state = Arc::new(Mutex::new(State {
        kinds: KINDS
            .iter()
            .map(|_| KindState {
                status: KindStatus::Pending,
                objects: Objects::new(),
                buffer: None,
                last_error: None,
            })
            .collect(),
        warnings: Vec::new(),
    }));
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let tx = Arc::new(tx);
    let file = cluster.location_file();
    let config = watcher::Config {
        page_size: (cluster.page_size > 0).then_some(cluster.page_size),
        ..watcher::Config::default()
    };
    let tasks = KINDS
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            let w = KindWatcher {
                index,
                kind,
                file: file.clone(),
                state: Arc::clone(&state),
                tx: Arc::clone(&tx),
            };
            let client = cluster.client.clone();
            let ar = kind.api_resource();
            let config = config.clone();
            if kind.metadata_only {
                let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &ar);
                tokio::spawn(w.run(watcher::watcher(api, config)))
            } else {
                let api = Api::<DynamicObject>::all_with(client, &ar);
                tokio::spawn(w.run(watcher::watcher(api, config)))
            }
        })
        .collect();
    LiveInventory {
        cluster_name: cluster.name.clone(),
        file,
        state,
        revision: rx,
        tasks,
    }
}

struct KindWatcher {
    index: usize,
    kind: &'static Kind,
    file: String,
    state: Arc<Mutex<State>>,
    tx: Arc<tokio::sync::watch::Sender<u64>>,
}

impl KindWatcher {
    async fn run<K, S>(self, stream: S)
    where
        K: Serialize + DeserializeOwned + Send,
        S: futures::Stream<Item = Result<Event<K>, watcher::Error>> + Send,
    {
        let mut stream = std::pin::pin!(stream.default_backoff());
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => self.apply(event),
                Err(e) => {
                    if let watcher::Error::InitialListFailed(inner)
                    | watcher::Error::WatchStartFailed(inner) = &e
                        && let Some(reason) = unavailable(inner)
                    {
                        let warning = kind_warning(&self.file, self.kind, reason, inner);
                        let mut st = lock(&self.state);
                        if let Some(k) = st.kinds.get_mut(self.index) {
                            k.status = KindStatus::Unavailable(warning.message.clone());
                        }
                        st.warnings.push(warning);
                        drop(st);
                        self.bump();
                        return;
                    }
                    tracing::warn!(kind = self.kind.kind, error = %e, "watch failed; retrying");
                    let mut st = lock(&self.state);
                    if let Some(k) = st.kinds.get_mut(self.index) {
                        k.last_error = Some(e.to_string());
                    }
                }
            }
        }
    }

    fn apply<K: Serialize>(&self, event: Event<K>) {
        let mut st = lock(&self.state);
        let Some(k) = st.kinds.get_mut(self.index) else {
            return;
        };
        let changed = match event {
            Event::Init => {
                k.buffer = Some(Objects::new());
                false
            }
            Event::InitApply(o) => {
                if let Some((key, v)) = self.entry(&o) {
                    k.buffer.get_or_insert_with(Objects::new).insert(key, v);
                }
                false
            }
            Event::InitDone => {
                k.objects = k.buffer.take().unwrap_or_default();
                k.status = KindStatus::Synced;
                k.last_error = None;
                true
            }
            Event::Apply(o) => match self.entry(&o) {
                Some((key, v)) => k.objects.insert(key, v.clone()).as_ref() != Some(&v),
                None => false,
            },
            Event::Delete(o) => match self.entry(&o) {
                Some((key, _)) => k.objects.remove(&key).is_some(),
                None => false,
            },
        };
        drop(st);
        if changed {
            self.bump();
        }
    }

    /// The key and normalized value of a watched object.
    fn entry<K: Serialize>(&self, o: &K) -> Option<((String, String), Value)> {
        let v = serde_json::to_value(o).ok()?;
        let obj = to_object(self.kind, v, &self.file, 0)?;
        let key = (
            obj.resource.namespace.clone().unwrap_or_default(),
            obj.resource.name.clone(),
        );
        Some((key, obj.raw))
    }

    fn bump(&self) {
        self.tx.send_modify(|r| *r += 1);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update under the lock is a single insert, remove or swap, so a poisoned lock still
    // holds consistent maps.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveInventory {
    /// Display name of the watched cluster.
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// The current objects: kinds in [`KINDS`](super::KINDS) order, then by namespace and name.
    pub fn snapshot(&self) -> Inventory {
        let st = lock(&self.state);
        let mut inventory = Inventory::default();
        for (k, kind) in st.kinds.iter().zip(KINDS) {
            for v in k.objects.values() {
                let document = inventory.objects.len();
                if let Some(o) = to_object(kind, v.clone(), &self.file, document) {
                    inventory.objects.push(o);
                }
            }
        }
        inventory
    }

    /// One warning per kind that is not served or forbidden.
    pub fn warnings(&self) -> Vec<LoadError> {
        lock(&self.state).warnings.clone()
    }

    /// Status of every kind, in [`KINDS`](super::KINDS) order.
    pub fn status(&self) -> Vec<(&'static Kind, KindStatus)> {
        let st = lock(&self.state);
        KINDS
            .iter()
            .zip(st.kinds.iter().map(|k| k.status.clone()))
            .collect()
    }

    /// The last watch error of each kind that has one (such watches are retried with backoff).
    pub fn errors(&self) -> Vec<(&'static Kind, String)> {
        let st = lock(&self.state);
        KINDS
            .iter()
            .zip(&st.kinds)
            .filter_map(|(kind, k)| k.last_error.clone().map(|e| (kind, e)))
            .collect()
    }

    /// Whether every kind has been listed once (or found unavailable).
    pub fn is_ready(&self) -> bool {
        lock(&self.state)
            .kinds
            .iter()
            .all(|k| k.status != KindStatus::Pending)
    }

    /// Waits until [`is_ready`](Self::is_ready). Wrap it in a timeout: a server that never
    /// answers keeps it waiting.
    pub async fn ready(&mut self) {
        while !self.is_ready() {
            if self.revision.changed().await.is_err() {
                return;
            }
        }
    }

    /// A counter increased at every change of the inventory.
    pub fn revision(&self) -> u64 {
        *self.revision.borrow()
    }

    /// Waits for the next change and returns the new revision. Never returns once every watch
    /// has stopped (all kinds unavailable).
    pub async fn changed(&mut self) -> u64 {
        if self.revision.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.revision.borrow_and_update()
    }
}

impl Drop for LiveInventory {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
