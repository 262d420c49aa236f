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

    /// Configuration file (TOML; see `palisade up --help`). Default:
    /// ~/.config/palisade/config.toml when it exists. Flags and PALISADE_* variables win.
    #[arg(long, global = true, env = crate::config::ENV_CONFIG, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The platform store: a PostgreSQL URL (`postgres://user@host/db`, for large
    /// installations and several server replicas). Default: the embedded SQLite store in the
    /// data directory.
    #[arg(
        long,
        global = true,
        env = "PALISADE_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) store: Option<String>,

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

/// Opens the platform store: `--store URL` (PostgreSQL), else SQLite in the data directory.
pub(crate) async fn open_store(global: &GlobalArgs) -> anyhow::Result<palisade_store::AnyStore> {
    match &global.store {
        Some(url) => {
            if !palisade_store::any::is_postgres_url(url) {
                anyhow::bail!(
                    "--store takes a postgres:// URL; the SQLite store lives in --data-dir"
                );
            }
            palisade_store::AnyStore::open(url)
                .await
                .context("cannot open the PostgreSQL store")
        }
        None => {
            let dir = global.data_dir()?;
            Ok(palisade_store::SqliteStore::open(&dir)
                .await
                .with_context(|| format!("cannot open the store in {}", dir.display()))?
                .into())
        }
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

/// The async runtime of commands that talk to clusters, registries or the store.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
