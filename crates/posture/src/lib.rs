//! Posture checks over an inventory: the built-in catalogue (API skeleton).

use palisade_inventory::Inventory;
use palisade_model::{Finding, Severity};

/// Settings of a scan.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Registries images may come from (`host[/path]` prefixes). Empty = the check is off.
    pub trusted_registries: Vec<String>,
    /// Pod Security Standards version the PSS checks follow.
    pub pss_version: palisade_pss::Version,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            trusted_registries: Vec::new(),
            pss_version: palisade_pss::Version::Latest,
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
    /// Category (e.g. `workload`, `pod-security`, `rbac`, `exposure`).
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
    &[]
}

/// Runs every built-in check over the inventory.
pub fn scan(inventory: &Inventory, config: &ScanConfig) -> Vec<Finding> {
    let _ = (inventory, config);
    Vec::new()
}
