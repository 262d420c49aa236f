//! `palisade up` (the platform: API, dashboard and scheduler in one process on the embedded
//! store) and `palisade token` (API tokens).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_store::{AnyStore, PlatformStore as _, Store as _};

use crate::Outcome;
use crate::settings::GlobalArgs;

/// Runs the platform.
///
/// One process: the REST API and dashboard, the Kubernetes audit webhook
/// (`POST /api/v1/audit/webhook`, sensor or admin token), posture snapshots of the current
/// kubeconfig's cluster, the daily advisory database update followed by a rescan of every
/// stored SBOM, a quick scan of images newly seen in the cluster, an inventory of this
/// node's packages, and alert export to SIEMs, on the embedded store under the data
/// directory. A restart resumes from the store (snapshots, reports, alerts, queued exports).
///
/// Settings come from flags, then PALISADE_* variables, then the configuration file
/// (--config, default ~/.config/palisade/config.toml), whose [up] table takes the flag names
/// with `_` (e.g. `listen = "0.0.0.0:7443"`, `exports = ["cef=tcp://siem:6514"]`).
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address to listen on (HTTPS unless --plain-http).
    #[arg(
        long,
        env = "PALISADE_LISTEN",
        default_value = "127.0.0.1:7443",
        value_name = "ADDR"
    )]
    listen: SocketAddr,
    /// TLS certificate chain (PEM). Default: a self-signed certificate generated at first start
    /// under the data directory.
    #[arg(
        long,
        env = "PALISADE_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        env = "PALISADE_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP. Only allowed on a loopback address.
    #[arg(long, env = "PALISADE_PLAIN_HTTP", conflicts_with_all = ["tls_cert", "tls_key"])]
    plain_http: bool,
    /// Interval between posture snapshots of the current kubeconfig's cluster (e.g. 10m, 1h).
    #[arg(long, env = "PALISADE_INTERVAL", default_value = "10m", value_parser = crate::cmd::posture::parse_interval, value_name = "DURATION")]
    interval: Duration,
    /// Interval between advisory database updates (each followed by a rescan of every stored
    /// SBOM); 0 turns updates off.
    #[arg(long, env = "PALISADE_DB_UPDATE_INTERVAL", default_value = "24h", value_parser = parse_optional_interval, value_name = "DURATION")]
    db_update_interval: Duration,
    /// Retention: posture snapshots older than this (except each cluster's latest) and
    /// alerts resolved longer ago are deleted once a day; 0 keeps everything.
    #[arg(long, env = "PALISADE_RETENTION", default_value = "90d", value_parser = parse_optional_interval, value_name = "DURATION")]
    retention: Duration,
    /// Update the advisory database from this mirror (directory or http(s) URL) instead of
    /// the upstream sources (air-gapped sites).
    #[arg(long, env = "PALISADE_MIRROR", value_name = "DIR|URL")]
    mirror: Option<String>,
    /// Send alerts to a SIEM, at least once, through the store's queue: jsonl=PATH,
    /// syslog=udp|tcp|tls://HOST:PORT, cef=..., webhook=URL, ocsf=URL, splunk=URL (token in
    /// PALISADE_SPLUNK_TOKEN). Repeat for several.
    #[arg(
        long = "export",
        env = "PALISADE_EXPORT",
        value_delimiter = ',',
        value_name = "KIND=TARGET"
    )]
    exports: Vec<String>,
    /// How long an export batch in flight is reserved for this process; after a crash the
    /// batch is sent again (by this or another process) once its reservation expires.
    #[arg(long, default_value = "60s", value_parser = crate::cmd::posture::parse_interval, value_name = "DURATION")]
    export_lease: Duration,
    /// Registries (`HOST:PORT`) the image scans reach over plain HTTP; loopback addresses only.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    insecure_registries: Vec<String>,
    /// Falco rule files (source k8s_audit) for the audit webhook, after the built-in rules.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Do not scan anything: serve what is stored (the audit webhook still works).
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

/// `0` (off) or an interval.
fn parse_optional_interval(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crate::cmd::posture::parse_interval(s)
}

impl UpArgs {
    /// `runtime serve-audit`: the server with its audit webhook and exports, no scanning.
    pub(crate) fn audit_only(
        listen: SocketAddr,
        tls: Option<(PathBuf, PathBuf)>,
        plain_http: bool,
        rules: Vec<PathBuf>,
        exports: Vec<String>,
        export_lease: Duration,
    ) -> UpArgs {
        let (tls_cert, tls_key) = tls.unzip();
        UpArgs {
            listen,
            tls_cert,
            tls_key,
            plain_http,
            interval: Duration::from_secs(600),
            db_update_interval: Duration::ZERO,
            retention: Duration::from_secs(90 * 86_400),
            mirror: None,
            exports,
            export_lease,
            insecure_registries: Vec::new(),
            rules,
            no_scan: true,
            host_root: PathBuf::from("/"),
            no_host_scan: true,
            context: None,
            kubeconfig: None,
        }
    }

    /// Fills what flags and environment left at its default from the configuration file.
    pub(crate) fn apply_file(
        &mut self,
        file: &crate::config::UpFile,
        m: &clap::ArgMatches,
    ) -> anyhow::Result<()> {
        let d = |id: &str| crate::config::defaulted(m, id);
        if d("listen")
            && let Some(v) = file.listen
        {
            self.listen = v;
        }
        if d("tls_cert") && d("tls_key") && file.tls_cert.is_some() != file.tls_key.is_some() {
            anyhow::bail!("the configuration file sets only one of tls_cert and tls_key");
        }
        if d("tls_cert") && file.tls_cert.is_some() {
            self.tls_cert = file.tls_cert.clone();
        }
        if d("tls_key") && file.tls_key.is_some() {
            self.tls_key = file.tls_key.clone();
        }
        if d("plain_http")
            && let Some(v) = file.plain_http
        {
            self.plain_http = v;
        }
        if self.plain_http && self.tls_cert.is_some() {
            anyhow::bail!("plain_http conflicts with tls_cert/tls_key");
        }
        if d("interval")
            && let Some(v) = &file.interval
        {
            self.interval = crate::cmd::posture::parse_interval(v)
                .map_err(|e| anyhow::anyhow!("[up] interval: {e}"))?;
        }
        if d("db_update_interval")
            && let Some(v) = &file.db_update_interval
        {
            self.db_update_interval = parse_optional_interval(v)
                .map_err(|e| anyhow::anyhow!("[up] db_update_interval: {e}"))?;
        }
        if d("retention")
            && let Some(v) = &file.retention
        {
            self.retention =
                parse_optional_interval(v).map_err(|e| anyhow::anyhow!("[up] retention: {e}"))?;
        }
        if d("mirror") && file.mirror.is_some() {
            self.mirror = file.mirror.clone();
        }
        if d("exports")
            && let Some(v) = &file.exports
        {
            self.exports = v.clone();
        }
        if d("rules")
            && let Some(v) = &file.rules
        {
            self.rules = v.clone();
        }
        if d("no_scan")
            && let Some(v) = file.no_scan
        {
            self.no_scan = v;
        }
        if d("host_root")
            && let Some(v) = &file.host_root
        {
            self.host_root = v.clone();
        }
        if d("no_host_scan")
            && let Some(v) = file.no_host_scan
        {
            self.no_host_scan = v;
        }
        if d("context") && file.context.is_some() {
            self.context = file.context.clone();
        }
        if d("kubeconfig") && file.kubeconfig.is_some() {
            self.kubeconfig = file.kubeconfig.clone();
        }
        Ok(())
    }
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
    /// changes settings and creates tokens, `sensor` only posts events (the audit webhook).
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
    Sensor,
}

impl From<RoleArg> for palisade_server::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Reader => palisade_server::Role::Reader,
            RoleArg::Admin => palisade_server::Role::Admin,
            RoleArg::Sensor => palisade_server::Role::Sensor,
        }
    }
}

pub(crate) fn token(cmd: TokenCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let TokenCommand::Create(a) = cmd;
    let token = crate::settings::runtime()?.block_on(async {
        let store = crate::settings::open_store(global).await?;
        anyhow::Ok(palisade_server::create_token(&store, a.role.into(), &a.label).await?)
    })?;
    println!("{token}");
    Ok(Outcome::Clean)
}

pub(crate) fn up(a: UpArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let dir = global.data_dir()?;
    let sinks = a
        .exports
        .iter()
        .map(|s| palisade_server::exports::SinkSpec::parse(s).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let analyzer = crate::cmd::runtime::live_analyzer(&a.rules, false)?;
    let rt = crate::settings::runtime()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    let result = rt.block_on(async {
        let store = crate::settings::open_store(global).await?;
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
        let receiver = palisade_server::AuditReceiver::new(
            analyzer,
            palisade_detect::ingest::IngestOptions::default(),
            None,
            sinks.iter().map(|s| s.name.clone()).collect(),
        );
        let server = palisade_server::Server::new(config, store.clone())?.with_audit(receiver);
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let scheme = if a.plain_http { "http" } else { "https" };
        let address = listener.local_addr().unwrap_or(a.listen);
        eprintln!(
            "palisade is up: {scheme}://{address} (dashboard and /api/v1; data in {})",
            dir.display()
        );
        eprintln!(
            "audit webhook: {scheme}://{address}{} (create a token with `palisade token create --role sensor`)",
            palisade_server::AUDIT_WEBHOOK_PATH
        );
        if let Some(cert) = server.certificate_path() {
            eprintln!("TLS certificate: {}", cert.display());
        }
        workers = palisade_server::exports::spawn_workers(
            store.clone(),
            sinks.clone(),
            tokio::runtime::Handle::current(),
            a.export_lease,
            stop.clone(),
        );
        let mut tasks = Vec::new();
        if !a.retention.is_zero() {
            tasks.push(tokio::spawn(retention_loop(store.clone(), a.retention)));
        }
        if !a.no_scan {
            let config = palisade_inventory::live::Config {
                context: a.context.clone(),
                kubeconfig: a.kubeconfig.clone(),
                ..Default::default()
            };
            let images = ImageQueue::new(dir.clone(), a.insecure_registries.clone());
            tasks.push(tokio::spawn(snapshot_loop(
                store.clone(),
                config,
                a.interval,
                images,
            )));
            if !a.db_update_interval.is_zero() {
                let every = a.db_update_interval;
                tasks.push(tokio::spawn(db_update_loop(
                    store.clone(),
                    dir.clone(),
                    a.mirror.clone(),
                    every,
                )));
            }
            if !a.no_host_scan {
                tasks.push(tokio::spawn(host_scan(
                    store.clone(),
                    a.host_root.clone(),
                    dir.clone(),
                )));
            }
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
        for t in tasks {
            t.abort();
        }
        served?;
        anyhow::Ok(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    // A host inventory still walking the file system must not hold the exit back.
    rt.shutdown_timeout(Duration::from_secs(2));
    result?;
    Ok(Outcome::Clean)
}

/// Images seen in cluster snapshots, scanned once per digest in the background (two at a
/// time) through the registry source; what cannot be pulled is reported once.
#[derive(Clone)]
struct ImageQueue {
    data_dir: PathBuf,
    insecure: std::sync::Arc<Vec<String>>,
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ImageQueue {
    fn new(data_dir: PathBuf, insecure: Vec<String>) -> ImageQueue {
        ImageQueue {
            data_dir,
            insecure: std::sync::Arc::new(insecure),
            seen: Default::default(),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(2)),
        }
    }

    /// Queues the references not queued before.
    fn offer(&self, store: &AnyStore, references: Vec<String>) {
        for reference in references {
            let fresh = self
                .seen
                .lock()
                .map(|mut s| s.insert(reference.clone()))
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            let queue = self.clone();
            let store = store.clone();
            tokio::spawn(async move {
                let Ok(_permit) = queue.permits.acquire().await else {
                    return;
                };
                queue.scan(&store, reference).await;
            });
        }
    }

    async fn scan(&self, store: &AnyStore, reference: String) {
        let known: std::collections::BTreeSet<String> = match store.list_images().await {
            Ok(list) => list.into_iter().map(|i| i.digest).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot list stored images");
                return;
            }
        };
        let dir = self.data_dir.clone();
        let job = reference.clone();
        let insecure = self.insecure.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let db = palisade_vuln::db::Database::open(&dir.join("vulndb"))
                .map_err(|e| format!("no advisory database ({e})"))?;
            let cache = palisade_vuln::image::BlobCache::new(dir.join("cache/blobs"));
            let opts = registry_options(&job, &insecure);
            Ok::<_, String>(crate::cmd::vuln::scan_one(
                &job,
                &opts,
                &cache,
                &palisade_vuln::image::ImageOptions::default(),
                &db,
                &known,
            ))
        })
        .await;
        match outcome {
            Ok(Ok((line, Some(record)))) => match store.put_image_report(&record).await {
                Ok(_) => {
                    tracing::info!(image = %reference, vulnerabilities = line.vulnerabilities, "Image scanned")
                }
                Err(e) => {
                    tracing::warn!(image = %reference, error = %e, "Cannot store an image report")
                }
            },
            Ok(Ok((line, None))) => match line.error {
                Some(e) => tracing::warn!(image = %reference, error = %e, "Image not scanned"),
                None => tracing::debug!(image = %reference, "Image digest scanned before"),
            },
            Ok(Err(e)) => tracing::warn!(image = %reference, error = %e, "Image not scanned"),
            Err(e) => tracing::warn!(image = %reference, error = %e, "Image scan stopped"),
        }
    }
}

/// Registry options for a reference: docker config.json credentials when present, plain
/// HTTP for the registries given with --insecure-registry (the client refuses it off
/// loopback).
fn registry_options(
    reference: &str,
    insecure: &[String],
) -> palisade_vuln::registry::RegistryOptions {
    use palisade_vuln::registry;
    let mut opts = registry::RegistryOptions::default();
    if let Ok(r) = registry::Reference::parse(reference) {
        opts.insecure = insecure.contains(&r.registry);
        if let Some(cfg) = registry::docker_config_path().filter(|p| p.exists())
            && let Ok(Some(c)) = registry::credentials_from_docker_config(&cfg, &r.registry)
        {
            opts.credentials = c;
        }
    }
    opts
}

/// Container images referenced by the workloads of an inventory.
fn workload_images(objects: &[palisade_inventory::Object]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for o in objects {
        let v = &o.raw;
        let spec = v
            .pointer("/spec/template/spec")
            .or_else(|| v.pointer("/spec/jobTemplate/spec/template/spec"))
            .or_else(|| v.get("spec"));
        let Some(spec) = spec else { continue };
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in spec
                .get(list)
                .and_then(|c| c.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(image) = c.get("image").and_then(|i| i.as_str())
                    && !image.is_empty()
                {
                    out.insert(image.to_owned());
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Setting holding the time of the last advisory database update (`{"at": unix seconds}`).
const LAST_DB_UPDATE: &str = "scheduler.db_update";

/// Updates the advisory database at an interval (from upstream or the mirror), then
/// rescans every stored SBOM. The first update runs at start when the database is missing
/// or older than the interval.
async fn db_update_loop(store: AnyStore, dir: PathBuf, mirror: Option<String>, every: Duration) {
    let db_dir = dir.join("vulndb");
    let mut warned = false;
    loop {
        // The time of the last successful update is kept in the store, so a restart does not
        // update again before it is due.
        let last = store
            .get_setting(LAST_DB_UPDATE)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.get("at").and_then(serde_json::Value::as_u64));
        let due = last
            .is_none_or(|t| palisade_model::time::unix_now().saturating_sub(t) >= every.as_secs());
        if due {
            let target = db_dir.clone();
            let m = mirror.clone();
            let updated = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
                let mirror = m.as_deref().map(palisade_vuln::db::Mirror::parse);
                palisade_vuln::db::update(
                    &target,
                    &palisade_vuln::db::Source::defaults(),
                    mirror.as_ref(),
                )
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match updated {
                Ok(r) => {
                    for f in &r.failed {
                        tracing::warn!("Advisory source not updated: {f}");
                    }
                    eprintln!("advisory database updated: {} advisories", r.advisories);
                    warned = false;
                    let at = serde_json::json!({"at": palisade_model::time::unix_now()});
                    if let Err(e) = store.put_setting(LAST_DB_UPDATE, &at).await {
                        tracing::warn!(error = %e, "Cannot record the database update time");
                    }
                    match palisade_vuln::db::Database::open(&db_dir) {
                        Ok(db) => match crate::cmd::vuln::rescan_stored(
                            &store,
                            std::sync::Arc::new(db),
                            0,
                        )
                        .await
                        {
                            Ok(out) => eprintln!(
                                "rescan: {} images, {} with new vulnerabilities, {} with fixed ones",
                                out.images, out.images_with_new, out.images_with_fixed
                            ),
                            Err(e) => eprintln!("rescan failed: {e:#}"),
                        },
                        Err(e) => eprintln!("cannot open the updated database: {e}"),
                    }
                }
                Err(e) if !warned => {
                    eprintln!(
                        "advisory database not updated: {e} (retrying in 1 h; give --mirror for air-gapped sites)"
                    );
                    warned = true;
                }
                Err(e) => tracing::debug!("advisory database not updated: {e}"),
            }
        }
        // Check hourly whether the database is due (and retry a failed update).
        tokio::time::sleep(every.min(Duration::from_secs(3600))).await;
    }
}

/// Posture snapshots of the configured cluster at an interval, saved with their findings.
/// Without a reachable cluster it says why once and retries at the next interval.
async fn snapshot_loop(
    store: AnyStore,
    config: palisade_inventory::live::Config,
    every: Duration,
    images: ImageQueue,
) {
    let mut warned = false;
    loop {
        match snapshot_once(&store, &config).await {
            Ok((name, objects, findings, seen)) => {
                tracing::info!(cluster = %name, objects, findings, "posture snapshot saved");
                images.offer(&store, seen);
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
    store: &AnyStore,
    config: &palisade_inventory::live::Config,
) -> anyhow::Result<(String, usize, usize, Vec<String>)> {
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
    let images = workload_images(&inventory.objects);
    Ok((
        cluster.name,
        inventory.objects.len(),
        findings.len(),
        images,
    ))
}

/// Inventories the packages of the node's root filesystem and stores the report as the
/// image `host:<name>`; vulnerabilities are matched against the advisories imported so far.
/// Deletes what is older than `keep` (see `Store::prune`) a few seconds after start, then
/// once a day (or every `keep`, when that is shorter).
async fn retention_loop(store: AnyStore, keep: Duration) {
    let mut next = Duration::from_secs(5).min(keep);
    loop {
        tokio::time::sleep(next).await;
        next = keep.min(Duration::from_secs(86_400));
        let cutoff = palisade_model::time::unix_now().saturating_sub(keep.as_secs());
        let before = palisade_model::time::rfc3339(cutoff);
        match store.prune(&before).await {
            Ok(p) if p == palisade_store::Pruned::default() => {
                tracing::debug!(%before, "Retention: nothing to delete");
            }
            Ok(p) => eprintln!(
                "retention: deleted {} snapshots, {} object versions and {} resolved alerts older than {before}",
                p.snapshots, p.contents, p.alerts
            ),
            Err(e) => eprintln!("retention failed: {e}"),
        }
    }
}

async fn host_scan(store: AnyStore, root: PathBuf, data_dir: PathBuf) {
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
        let fs = palisade_vuln::image::open_rootfs_skipping(
            &root_for_task,
            Default::default(),
            palisade_vuln::image::HOST_SKIP,
        )?;
        let sbom = palisade_vuln::catalog::catalog(&fs)?;
        let report = match palisade_vuln::db::Database::open(&data_dir.join("vulndb")) {
            Ok(db) => palisade_vuln::scan::scan_sbom_with(
                &sbom,
                &db,
                palisade_vuln::scan::ScanOptions {
                    epss: Some(db.epss()),
                },
            ),
            // No advisories yet: the inventory alone; the rescan after the first database
            // update matches it.
            Err(_) => palisade_vuln::scan::scan_sbom(
                &sbom,
                &palisade_vuln::Index::new(),
                Default::default(),
            ),
        };
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
