//! Sources of Kubernetes objects, normalized into one [`Inventory`] snapshot.
//!
//! - [`files`]: manifest files and directories (multi-document YAML, JSON, `kubectl get -o json`
//!   List dumps, `-` for stdin). Every document that fails to parse becomes a [`LoadError`] that
//!   names the file, the document index and the line; the rest of the input is still read.
//! - `live` (cargo feature `live`): a live cluster through the Kubernetes API, read-only, every
//!   relevant kind listed with pagination, Secrets and ConfigMaps as metadata only.
//! - [`object`]: the normalized [`Object`] and its views: the pod template of every workload kind
//!   ([`PodTemplate`]) and its containers ([`ContainerRef`]).
//!
//! Secret values are never kept: `data`, `stringData` and the last-applied annotation of every
//! `Secret` are dropped while loading, before anything else sees the object.
//!
//! Objects keep their raw JSON tree rather than typed `k8s-openapi` structs on purpose: real
//! manifests are often slightly off-schema (old API versions, strings where integers belong),
//! and a security scanner must still read them; checks report JSON paths into that tree.

pub mod diff;
mod fastyaml;
pub mod files;
#[cfg(feature = "live")]
pub mod live;
mod object;
mod yaml;

pub use files::{LoadError, LoadOptions, LoadReport};
pub use object::{ContainerKind, ContainerRef, Inventory, Object, PodTemplate};
