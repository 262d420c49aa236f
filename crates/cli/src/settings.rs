//! Global settings shared by every command: data directory and logging.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

/// Environment variable overriding the data directory.
pub(crate) const ENV_DATA_DIR: &str = "PALISADE_DATA_DIR";
/// Environment variable setting the log filter (`error`, `warn`, `info`, `debug`, `trace`, or a
/// `tracing` filter directive).
pub(crate) const ENV_LOG: &str = "PALISADE_LOG";

/// Options accepted by every command.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Directory for everything palisade stores (database, caches).
    /// Default: the user's data directory (e.g. ~/.local/share/palisade).
    #[arg(long, global = true, env = ENV_DATA_DIR, hide_env_values = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// Log filter for messages on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, env = ENV_LOG, hide_env_values = true, default_value = "warn", value_name = "FILTER")]
    pub(crate) log: String,
}

impl GlobalArgs {
    /// The data directory, created with owner-only permissions if missing.
    pub(crate) fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => directories::ProjectDirs::from("", "", "palisade")
                .map(|p| p.data_dir().to_path_buf())
                .context("cannot find the user's data directory: pass --data-dir")?,
        };
        create_private_dir(&dir)?;
        Ok(dir)
    }
}

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Logs go to stderr so that stdout stays machine-readable.
pub(crate) fn init_logging(args: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// The current UTC time as RFC 3339 (`2026-01-02T03:04:05Z`).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Formats seconds since the Unix epoch (civil-from-days, proleptic Gregorian calendar).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_392_245), "2026-11-23T00:04:05Z");
    }
}
