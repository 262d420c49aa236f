use std::fmt;

use serde::{Deserialize, Serialize};

/// How a Kubernetes object is named in reports: group/version, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// `apiVersion` of the object, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind` of the object, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, absent for cluster-scoped objects (and for namespaced objects given without one).
    pub namespace: Option<String>,
    /// `metadata.name` (or `metadata.generateName` when there is no name).
    pub name: String,
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Where something was read from: a file (or `-` for stdin), the 0-based document index inside
/// it, and the 1-based line where that document starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Path as given by the user, `-` for standard input, or a `cluster:` URI for live objects.
    pub file: String,
    /// 0-based index of the YAML document (or JSON List item) in the file.
    pub document: usize,
    /// 1-based line where the document starts (0 when unknown, e.g. live objects).
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}: document {} (line {})",
                self.file, self.document, self.line
            )
        } else {
            write!(f, "{}: document {}", self.file, self.document)
        }
    }
}
