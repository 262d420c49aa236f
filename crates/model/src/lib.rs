//! Shared vocabulary of palisade: the types that cross crate boundaries.
//!
//! This crate does no I/O and has no runtime dependencies, so every other crate can depend on it
//! cheaply (the same seam as `kube-core` under `kube-client`). Domain internals (for example the
//! Pod Security Standards evaluation or Rego policies) stay in their own crates; only what more
//! than one crate needs lives here:
//!
//! - [`Severity`]: the five-step severity scale shared by findings and alerts.
//! - [`ResourceRef`]: how a Kubernetes object is named in reports.
//! - [`Finding`]: one posture result, as printed by `palisade posture scan --format json`.
//! - [`mitre`]: validated MITRE ATT&CK technique and tactic identifiers.
//! - [`Location`]: where in an input file something was found.

mod finding;
pub mod mitre;
mod resource;
mod severity;
pub mod time;

pub use finding::Finding;
pub use resource::{Location, ResourceRef};
pub use severity::{ParseSeverityError, Severity};
