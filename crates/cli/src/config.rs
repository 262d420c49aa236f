//! The configuration file of `palisade up` (TOML), merged under the environment and the
//! command line.
//!
//! Precedence, highest first: command-line flags, `PALISADE_*` environment variables, the
//! file, built-in defaults. clap already ranks flags over the environment; a value from the
//! file is applied only where clap reports the built-in default (or nothing), so the file
//! never overrides what the user typed or exported.
//!
//! The file is `--config FILE` (or `PALISADE_CONFIG`), else `config.toml` in the user's
//! configuration directory (`~/.config/palisade/config.toml`) when it exists. Unknown keys
//! are errors (a typo must not be silently ignored). Example:
//!
//! ```toml
//! data_dir = "/var/lib/palisade"
//! store = "postgres://palisade@db.internal/palisade"   # default: SQLite in data_dir
//! log = "info"
//!
//! [up]
//! listen = "0.0.0.0:7443"
//! tls_cert = "/etc/palisade/tls.crt"
//! tls_key = "/etc/palisade/tls.key"
//! interval = "15m"
//! db_update_interval = "24h"
//! retention = "90d"                 # snapshots and resolved alerts; "0" keeps everything
//! mirror = "/srv/mirror/advisories"
//! exports = ["cef=tcp://siem.example:6514"]
//! rules = ["/etc/palisade/rules/custom.yaml"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

/// Environment variable naming the configuration file.
pub(crate) const ENV_CONFIG: &str = "PALISADE_CONFIG";

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) store: Option<String>,
    pub(crate) log: Option<String>,
    #[serde(default)]
    pub(crate) up: UpFile,
}

/// `[up]`: the keys are the long flags of `palisade up`, with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpFile {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) plain_http: Option<bool>,
    pub(crate) interval: Option<String>,
    pub(crate) no_scan: Option<bool>,
    pub(crate) host_root: Option<PathBuf>,
    pub(crate) no_host_scan: Option<bool>,
    pub(crate) context: Option<String>,
    pub(crate) kubeconfig: Option<PathBuf>,
    pub(crate) db_update_interval: Option<String>,
    pub(crate) retention: Option<String>,
    pub(crate) mirror: Option<String>,
    pub(crate) exports: Option<Vec<String>>,
    pub(crate) rules: Option<Vec<PathBuf>>,
}

/// The file to read: the given one (which must exist), else the default one if present.
pub(crate) fn locate(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_owned());
    }
    directories::ProjectDirs::from("", "", "palisade")
        .map(|d| d.config_dir().join("config.toml"))
        .filter(|p| p.is_file())
}

/// Reads and parses the file.
pub(crate) fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

/// Whether `id` was left to its default (neither typed nor taken from the environment).
pub(crate) fn defaulted(m: &ArgMatches, id: &str) -> bool {
    matches!(m.value_source(id), None | Some(ValueSource::DefaultValue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = toml::from_str::<FileConfig>("[up]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("lisen"), "{e}");
        let ok: FileConfig = toml::from_str("log = \"info\"\n[up]\ninterval = \"5m\"\n")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(ok.up.interval.as_deref(), Some("5m"));
    }
}
