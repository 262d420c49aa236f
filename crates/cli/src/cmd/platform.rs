//! `palisade up` (the platform: API, dashboard and scheduler in one process on the embedded
//! store) and `palisade token` (API tokens).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_store::{PlatformStore as _, SqliteStore, Store as _};

use crate::Outcome;
use crate::settings::GlobalArgs;

/// Runs the platform.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address to listen on (HTTPS unless --plain-http).
    #[arg(long, default_value = "127.0.0.1:7443", value_name = "ADDR")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM). Default: a self-signed certificate generated at first start
    /// under the data directory.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP. Only allowed on a loopback address.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    plain_http: bool,
    /// Interval between posture snapshots of the current kubeconfig's cluster (e.g. 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = crate::cmd::posture::parse_interval, value_name = "DURATION")]
    interval: Duration,
    /// Do not scan anything: serve what is stored.
    #[arg(long)]
    no_scan: bool,
    /// Root filesystem of this node to inventory at start (node vulnerability assessment).
    #[arg(long, default_value = "/", value_name = "DIR")]
    host_root: PathBuf,
    /// Do not inventory the host's root filesystem.
    #[arg(long)]
    no_host_scan: bool,
    /// Kubernetes context to snapshot (default: the current context, if any).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config; in a pod, the service account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

/// API tokens.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Creates a token and prints it (once: only its hash is stored).
    Create(TokenCreateArgs),
}

/// `token create`.
#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    /// What the token may do: `reader` reads everything, `admin` also dismisses alerts,
    /// changes settings and creates tokens.
    #[arg(long, value_enum, default_value = "reader")]
    role: RoleArg,
    /// A label to recognise the token by.
    #[arg(long, default_value = "cli")]
    label: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Reader,
    Admin,
}

impl From<RoleArg> for palisade_server::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Reader => palisade_server::Role::Reader,
            RoleArg::Admin => palisade_server::Role::Admin,
        }
    }
}

pub(crate) fn token(cmd: TokenCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let TokenCommand::Create(a) = cmd;
    let dir = global.data_dir()?;
    let token = crate::settings::runtime()?.block_on(async {
        let store = SqliteStore::open(&dir).await?;
        anyhow::Ok(palisade_server::create_token(&store, a.role.into(), &a.label).await?)
    })?;
    println!("{token}");
    Ok(Outcome::Clean)
}

pub(crate) fn up(a: UpArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let dir = global.data_dir()?;
    let rt = crate::settings::runtime()?;
    let result = rt.block_on(async move {
        let store = SqliteStore::open(&dir).await?;
        // First start: an admin token, shown once.
        if store.list_tokens().await?.is_empty() {
            let t = palisade_server::create_token(&store, palisade_server::Role::Admin, "first start")
                .await?;
            eprintln!("first start: admin token (shown once, keep it): {t}");
        }
        let mut config = palisade_server::Config::new(&dir);
        config.tls = match (&a.tls_cert, &a.tls_key, a.plain_http) {
            (Some(cert), Some(key), _) => palisade_server::TlsMode::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (_, _, true) => palisade_server::TlsMode::Plain,
            _ => palisade_server::TlsMode::SelfSigned,
        };
        let server = palisade_server::Server::new(config, store.clone())?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let scheme = if a.plain_http { "http" } else { "https" };
        eprintln!(
            "palisade is up: {scheme}://{} (dashboard and /api/v1; data in {})",
            listener.local_addr().unwrap_or(a.listen),
            dir.display()
        );
        if let Some(cert) = server.certificate_path() {
            eprintln!("TLS certificate: {}", cert.display());
        }
        let scheduler = if a.no_scan {
            None
        } else {
            let config = palisade_inventory::live::Config {
                context: a.context.clone(),
                kubeconfig: a.kubeconfig.clone(),
                ..Default::default()
            };
            Some(tokio::spawn(snapshot_loop(store.clone(), config, a.interval)))
        };
        if !a.no_scan && !a.no_host_scan {
            tokio::spawn(host_scan(store.clone(), a.host_root.clone()));
        }
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => None } } => {}
            }
            eprintln!("shutting down (open requests get 30 s to finish)...");
        };
        let served = server.serve(listener, shutdown).await;
        if let Some(s) = scheduler {
            s.abort();
        }
        served?;
        anyhow::Ok(())
    });
    // A host inventory still walking the file system must not hold the exit back.
    rt.shutdown_timeout(Duration::from_secs(2));
    result?;
    Ok(Outcome::Clean)
}

/// Posture snapshots of the configured cluster at an interval, saved with their findings.
/// Without a reachable cluster it says why once and retries at the next interval.
async fn snapshot_loop(
    store: SqliteStore,
    config: palisade_inventory::live::Config,
    every: Duration,
) {
    let mut warned = false;
    loop {
        match snapshot_once(&store, &config).await {
            Ok((name, objects, findings)) => {
                tracing::info!(cluster = %name, objects, findings, "posture snapshot saved");
                warned = false;
            }
            Err(e) if !warned => {
                eprintln!(
                    "no cluster snapshot: {e:#} (retrying every {}s)",
                    every.as_secs()
                );
                warned = true;
            }
            Err(e) => tracing::debug!("no cluster snapshot: {e:#}"),
        }
        tokio::time::sleep(every).await;
    }
}

async fn snapshot_once(
    store: &SqliteStore,
    config: &palisade_inventory::live::Config,
) -> anyhow::Result<(String, usize, usize)> {
    let cluster = palisade_inventory::live::connect(config).await?;
    let (inventory, warnings) = palisade_inventory::live::snapshot(&cluster).await?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let findings = palisade_posture::scan(&inventory, &palisade_posture::ScanConfig::default());
    store
        .upsert_cluster(&cluster.id, &cluster.name, &cluster.server)
        .await?;
    store
        .save_snapshot(&cluster.id, &inventory.objects, &findings)
        .await?;
    Ok((cluster.name, inventory.objects.len(), findings.len()))
}

/// Inventories the packages of the node's root filesystem and stores the report as the
/// image `host:<name>`; vulnerabilities are matched against the advisories imported so far.
async fn host_scan(store: SqliteStore, root: PathBuf) {
    let name = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    eprintln!(
        "inventorying the packages of {} (this node)...",
        root.display()
    );
    let started = std::time::Instant::now();
    let root_for_task = root.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        let fs = palisade_vuln::image::open_rootfs(&root_for_task, Default::default())?;
        let sbom = palisade_vuln::catalog::catalog(&fs)?;
        let index = palisade_vuln::Index::new();
        let report = palisade_vuln::scan::scan_sbom(&sbom, &index, Default::default());
        anyhow::Ok((sbom, report))
    })
    .await;
    let (sbom, report) = match scanned {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("host inventory of {} failed: {e:#}", root.display());
            return;
        }
        Err(e) => {
            eprintln!("host inventory of {} failed: {e}", root.display());
            return;
        }
    };
    let mut counts = std::collections::BTreeMap::new();
    for v in &report.vulnerabilities {
        let severity = v.severity.map_or("unknown", |s| s.as_str());
        *counts.entry(severity.to_owned()).or_insert(0u64) += 1;
    }
    let stored = palisade_store::ImageReport {
        digest: format!("host:{name}"),
        reference: format!("host {name} ({})", root.display()),
        vulnerabilities: counts,
        report: serde_json::to_value(&report).unwrap_or_default(),
        sbom: serde_json::to_value(&sbom).ok(),
    };
    match store.put_image_report(&stored).await {
        Ok(_) => eprintln!(
            "host {name}: {} packages inventoried in {:.1}s",
            report.packages.len(),
            started.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("cannot store the host inventory: {e}"),
    }
}
