use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{ResourceRef, Severity};

/// One posture result: a check that failed on one resource (and possibly one container).
///
/// The serialized form is the public JSON contract of `palisade posture scan --format json`
/// (documented by `docs/schemas/posture-scan.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable kebab-case check id.
    pub check_id: Cow<'static, str>,
    /// Human title of the check.
    pub title: Cow<'static, str>,
    /// Severity of the check.
    pub severity: Severity,
    /// The resource the finding is about.
    pub resource: ResourceRef,
    /// Container name when the finding is about one container.
    pub container: Option<String>,
    /// What is wrong, in one sentence, naming the offending value.
    pub message: String,
    /// JSON path of the offending field inside the resource, e.g.
    /// `$.spec.template.spec.containers[0].securityContext.privileged`.
    pub evidence: String,
    /// How to fix it.
    pub remediation: Cow<'static, str>,
    /// MITRE ATT&CK technique ids (e.g. `T1611`).
    pub mitre: Vec<String>,
}
