//! CISA's Known Exploited Vulnerabilities catalog (`known_exploited_vulnerabilities.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The KEV catalog, by CVE id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevCatalog {
    /// `catalogVersion` (e.g. `2025.08.25`).
    pub catalog_version: String,
    /// `dateReleased`.
    pub date_released: String,
    /// Entries by CVE id.
    pub entries: BTreeMap<String, KevEntry>,
}

impl KevCatalog {
    /// The entry for a CVE id.
    pub fn get(&self, cve: &str) -> Option<&KevEntry> {
        self.entries.get(cve)
    }

    /// Whether the CVE is listed.
    pub fn contains(&self, cve: &str) -> bool {
        self.entries.contains_key(cve)
    }

    /// Number of listed CVEs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KevEntry {
    /// The CVE id.
    #[serde(rename = "cveID")]
    pub cve_id: String,
    /// Vendor or project.
    #[serde(default)]
    pub vendor_project: String,
    /// Product.
    #[serde(default)]
    pub product: String,
    /// Name of the vulnerability.
    #[serde(default)]
    pub vulnerability_name: String,
    /// Date added to the catalog (`YYYY-MM-DD`).
    pub date_added: String,
    /// Short description.
    #[serde(default)]
    pub short_description: String,
    /// Action required of US federal agencies.
    #[serde(default)]
    pub required_action: String,
    /// Due date of that action.
    #[serde(default)]
    pub due_date: String,
    /// `Known` or `Unknown`.
    #[serde(default)]
    pub known_ransomware_campaign_use: String,
    /// Notes.
    #[serde(default)]
    pub notes: String,
    /// CWE ids.
    #[serde(default)]
    pub cwes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    #[serde(default)]
    catalog_version: String,
    #[serde(default)]
    date_released: String,
    vulnerabilities: Vec<KevEntry>,
}

/// A KEV catalog that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KevError {
    /// The file could not be read.
    #[error("reading the KEV catalog")]
    Io(#[from] std::io::Error),
    /// The text is not a KEV catalog.
    #[error("{path}: not a KEV catalog: {reason}")]
    Format {
        /// The file (empty when parsing text).
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
}

/// Parses the catalog JSON.
pub fn parse_kev(text: &str) -> Result<KevCatalog, KevError> {
    let raw: RawCatalog = serde_json::from_str(text).map_err(|e| KevError::Format {
        path: PathBuf::new(),
        reason: e.to_string(),
    })?;
    Ok(KevCatalog {
        catalog_version: raw.catalog_version,
        date_released: raw.date_released,
        entries: raw
            .vulnerabilities
            .into_iter()
            .map(|e| (e.cve_id.trim().to_owned(), e))
            .collect(),
    })
}

/// Loads `known_exploited_vulnerabilities.json`.
pub fn load_kev(path: &Path) -> Result<KevCatalog, KevError> {
    let text = fs_err::read_to_string(path)?;
    parse_kev(&text).map_err(|e| match e {
        KevError::Format { reason, .. } => KevError::Format {
            path: path.to_owned(),
            reason,
        },
        other => other,
    })
}
