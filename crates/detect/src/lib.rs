//! Runtime threat detection rules: Falco-compatible rule files, compiled once, evaluated per
//! event.
//!
//! - [`RuleSet::load`] (or [`Loader`] for other event sources) reads Falco rule files:
//!   `- rule`, `- macro`, `- list`, `required_engine_version`, `required_plugin_versions`,
//!   exceptions (single-field and tuple forms), `append: true`, `override:` with `append` or
//!   `replace`, `enabled` toggles, priorities, tags, sources and output templates. Problems
//!   with single items come back as [`Warning`]s (the item is skipped), only unreadable files
//!   as a [`LoadError`].
//! - Each rule's condition (Falco's filter language: `and`/`or`/`not`, comparison, string,
//!   list and path operators, `exists`, macros, lists, field arguments, transformers) is
//!   parsed and compiled once into a matcher tree whose fields are resolved to numeric ids of
//!   the source's [`FieldRegistry`]; nothing is looked up by name per event.
//! - [`RuleSet::evaluate`] runs the rules of an [`Event`]'s source, pre-selected by an index on
//!   equality constraints (`ka.target.resource`, `ka.verb`, ...), and yields a [`Match`] with
//!   the rendered output for each rule that fires, in definition order.
//! - [`K8sAuditEvent`] is a Kubernetes audit event with the `ka.*`/`jevt.*` fields of Falco's
//!   k8saudit and json plugins; [`syscall_registry`] names the `syscall` source's fields so
//!   node rules compile ahead of the eBPF sensor.
//!
//! Around the engine, the control-plane runtime protection:
//!
//! - [`ingest`] reads audit events from API server logs and cloud exports (AKS diagnostic
//!   logs, EKS CloudWatch Logs, GKE Cloud Logging), in JSON lines, arrays or lists, plain or
//!   gzip'd, with bounded memory, and follows growing log files across rotation;
//! - [`builtin`] holds the built-in detections (a Falco rules file) and the catalogue of alert
//!   types with severity, MITRE ATT&CK ids, description and remediation;
//! - [`alert`] turns matches into deduplicated [`alert::Alert`]s ([`alert::Analyzer`]);
//! - [`export`] sends alerts as JSON lines, syslog (RFC 5424) or CEF over UDP/TCP, webhooks,
//!   Splunk HEC events and OCSF Detection Findings.
//!
//! ```
//! use palisade_detect::{K8sAuditEvent, RuleSet, RulesFile};
//!
//! let rules = RulesFile::new("rules.yaml", r#"
//! - rule: Exec into pod
//!   desc: exec
//!   condition: ka.verb = create and ka.target.subresource = exec
//!   output: exec by %ka.user.name into %ka.target.namespace/%ka.target.name
//!   priority: NOTICE
//!   source: k8s_audit
//! "#);
//! let (set, warnings) = RuleSet::load(&[rules])?;
//! assert!(warnings.is_empty());
//! let ev = K8sAuditEvent::parse(r#"{"auditID":"1","verb":"create","user":{"username":"bob"},
//!     "objectRef":{"resource":"pods","subresource":"exec","namespace":"ns","name":"p"}}"#)?;
//! let m: Vec<_> = set.evaluate(&ev).collect();
//! assert_eq!(m[0].output, "exec by bob into ns/p");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The condition parser, the rule-file semantics and the `k8saudit` field extraction are
//! written here because no Rust crate implements Falco's rule language; they follow
//! libsinsp's parser, Falco's rule loader and the plugin's Go code, and each module notes
//! where it deliberately differs.

pub mod alert;
pub mod builtin;
pub mod export;
mod field;
pub mod ingest;
mod jsonv;
mod k8saudit;
mod loader;
mod matcher;
mod parser;
mod ruleset;
mod syscall;
mod util;

pub use field::{
    ArgKind, Event, FieldArg, FieldDef, FieldError, FieldRef, FieldRegistry, FieldType, FieldValue,
};
pub use k8saudit::{AuditEventError, K8S_AUDIT_SOURCE, K8sAuditEvent, k8s_audit_registry};
pub use loader::{ItemKind, LoadError, Loader, RulesFile, Warning, WarningKind};
pub use ruleset::{Match, Priority, Rule, RuleSet};
pub use syscall::{SYSCALL_SOURCE, syscall_registry};
