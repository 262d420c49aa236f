//! Stored vulnerability reports: `palisade vuln rescan` (every stored SBOM against the current
//! database, nothing pulled), `palisade registry scan` (new digests of a registry, in
//! parallel), `palisade key generate` and `palisade verify` (signed scan attestations).
//!
//! Reports and SBOMs are kept in the platform store by image digest (what `image scan`,
//! `registry scan` and `up` write and the dashboard shows), so a rescan needs only the store
//! and the advisory database.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_store::{AnyStore, ImageReport, PlatformStore as _};
use palisade_vuln::catalog::Sbom;
use palisade_vuln::db::Database;
use palisade_vuln::image::ImageOptions;
use palisade_vuln::registry;
use palisade_vuln::rescan::{Reports, RescanOptions, StoredSbom};
use palisade_vuln::scan::VulnReport;
use serde::Serialize;

use crate::Outcome;
use crate::settings::GlobalArgs;

/// `palisade vuln ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum VulnCommand {
    /// Re-matches every stored SBOM against the current advisory database, without pulling
    /// anything, and reports per image what is new and what is fixed since its last scan.
    /// The stored reports are updated.
    ///
    /// Run it after `palisade db update`. Exit code 0, or 1 with --fail-on-new when an image
    /// has a new vulnerability.
    Rescan(RescanArgs),
}

/// `vuln rescan`.
#[derive(Debug, Args)]
pub(crate) struct RescanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ListFormat,
    /// Exit 1 when any image has a vulnerability it did not have before.
    #[arg(long)]
    fail_on_new: bool,
    /// Worker threads (default: the available cores).
    #[arg(long, default_value_t = 0, value_name = "N")]
    jobs: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

/// `palisade registry ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Scans the images of a registry: walks its catalog (or one repository) and tags, and
    /// scans each digest not scanned before (a tag moved to a new digest is scanned again),
    /// in parallel. Reports and SBOMs are stored for `vuln rescan` and the dashboard.
    ///
    /// Examples:
    ///   palisade registry scan registry.example.com
    ///   palisade registry scan 127.0.0.1:5000/team/app --insecure-registry --jobs 8
    Scan(RegistryScanArgs),
}

/// `registry scan`.
#[derive(Debug, Args)]
pub(crate) struct RegistryScanArgs {
    /// Registry host (`HOST[:PORT]`), optionally with one repository (`HOST/REPO`).
    #[arg(value_name = "HOST[/REPO]")]
    target: String,
    /// Speak plain HTTP (loopback registries only).
    #[arg(long)]
    insecure_registry: bool,
    /// Also trust this CA certificate (PEM) for the registry's TLS; repeat for several.
    #[arg(long = "registry-ca", value_name = "FILE")]
    registry_ca: Vec<PathBuf>,
    /// Images scanned at the same time.
    #[arg(long, default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Platform to pick from multi-platform images.
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    platform: String,
    /// Scan every digest again, even those already stored.
    #[arg(long)]
    rescan_all: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value = "table")]
    format: ListFormat,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
}

/// `palisade key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generates an Ed25519 key pair for signing scan reports (`image scan --sign`) and
    /// database bundles: `PREFIX.key` (PKCS#8 PEM, mode 0600) and `PREFIX.pub` (base64).
    Generate(KeyGenerateArgs),
}

/// `key generate`.
#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Path prefix of the two files.
    #[arg(value_name = "PREFIX")]
    prefix: PathBuf,
}

/// `palisade verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The DSSE envelope written by `image scan --sign`.
    #[arg(value_name = "ENVELOPE")]
    envelope: PathBuf,
    /// Public key (base64 as `key generate` writes it, or PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ListFormat,
}

/// Opens the platform store (see `settings::open_store`).
pub(crate) async fn open_store(global: &GlobalArgs) -> anyhow::Result<AnyStore> {
    crate::settings::open_store(global).await
}

/// The key a report is stored under: the image digest, else a name for the scanned thing.
pub(crate) fn storage_key(report: &VulnReport, fallback: &str) -> String {
    report
        .artifact
        .digest
        .clone()
        .unwrap_or_else(|| fallback.to_owned())
}

/// The stored form of a report and its SBOM.
pub(crate) fn image_report(
    key: String,
    reference: String,
    sbom: &Sbom,
    report: &VulnReport,
) -> anyhow::Result<ImageReport> {
    let mut counts = BTreeMap::new();
    for v in &report.vulnerabilities {
        let severity = v.severity.map_or("unknown", |s| s.as_str());
        *counts.entry(severity.to_owned()).or_insert(0u64) += 1;
    }
    Ok(ImageReport {
        digest: key,
        reference,
        vulnerabilities: counts,
        report: serde_json::to_value(report).context("cannot encode the report")?,
        sbom: Some(serde_json::to_value(sbom).context("cannot encode the SBOM")?),
    })
}

/// Opens the advisory database under the data directory.
pub(crate) fn open_db(global: &GlobalArgs) -> anyhow::Result<Database> {
    let dir = global.data_dir()?.join("vulndb");
    Database::open(&dir).context("import advisories with `palisade db import PATH...`")
}

#[derive(Debug, Serialize)]
pub(crate) struct RescanLine {
    digest: String,
    reference: String,
    new: Vec<String>,
    fixed: Vec<String>,
    vulnerabilities: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct RescanOutput {
    pub(crate) images: usize,
    pub(crate) images_with_new: usize,
    pub(crate) images_with_fixed: usize,
    changed: Vec<RescanLine>,
    errors: Vec<String>,
}

/// Re-matches every stored SBOM against `db` and stores the reports that changed.
pub(crate) async fn rescan_stored(
    store: &AnyStore,
    db: std::sync::Arc<Database>,
    jobs: usize,
) -> anyhow::Result<RescanOutput> {
    // Every stored image with its SBOM and the ids of its last report.
    let mut stored = Vec::new();
    let mut references = BTreeMap::new();
    let mut errors = Vec::new();
    for image in store.list_images().await? {
        if !image.has_sbom {
            continue;
        }
        let sbom = store.image_sbom(&image.digest).await?.flatten();
        let previous = store.image_report(&image.digest).await?;
        let Some(sbom) = sbom else { continue };
        match decode_stored(&image.digest, sbom, previous.map(|(_, r)| r)) {
            Ok(s) => {
                references.insert(image.digest.clone(), image.reference.clone());
                stored.push(s);
            }
            Err(e) => errors.push(e),
        }
    }
    let sboms: BTreeMap<String, Sbom> = stored
        .iter()
        .map(|s| (s.digest.clone(), s.sbom.clone()))
        .collect();
    let (images, summary) = tokio::task::spawn_blocking(move || {
        let options = RescanOptions {
            epss: Some(db.epss()),
            threads: jobs,
            reports: Reports::Changed,
        };
        palisade_vuln::rescan::rescan_all(&stored, &*db, options)
    })
    .await
    .context("the rescan stopped")?;
    errors.extend(summary.errors.iter().map(|e| e.to_string()));
    let mut changed = Vec::new();
    for image in images {
        if image.new.is_empty() && image.fixed.is_empty() {
            continue;
        }
        let reference = references.get(&image.digest).cloned().unwrap_or_default();
        if let (Some(report), Some(sbom)) = (&image.report, sboms.get(&image.digest)) {
            let record = image_report(image.digest.clone(), reference.clone(), sbom, report)?;
            store.put_image_report(&record).await?;
        }
        changed.push(RescanLine {
            digest: image.digest,
            reference,
            new: image.new,
            fixed: image.fixed,
            vulnerabilities: image.current.len(),
        });
    }
    Ok(RescanOutput {
        images: summary.images,
        images_with_new: summary.images_with_new,
        images_with_fixed: summary.images_with_fixed,
        changed,
        errors,
    })
}

pub(crate) fn vuln(cmd: VulnCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let VulnCommand::Rescan(a) = cmd;
    let db = std::sync::Arc::new(open_db(global)?);
    let rt = crate::settings::runtime()?;
    let out = rt.block_on(async {
        let store = open_store(global).await?;
        rescan_stored(&store, db, a.jobs).await
    })?;
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Table => {
            println!(
                "{} images rescanned: {} with new vulnerabilities, {} with fixed ones",
                out.images, out.images_with_new, out.images_with_fixed
            );
            for line in &out.changed {
                println!("{} ({})", line.reference, line.digest);
                if !line.new.is_empty() {
                    println!("  new:   {}", line.new.join(", "));
                }
                if !line.fixed.is_empty() {
                    println!("  fixed: {}", line.fixed.join(", "));
                }
            }
        }
    }
    for e in &out.errors {
        eprintln!("warning: {e}");
    }
    Ok(if a.fail_on_new && out.images_with_new > 0 {
        Outcome::Failed
    } else if out.errors.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Errors
    })
}

fn decode_stored(
    digest: &str,
    sbom: serde_json::Value,
    report: Option<serde_json::Value>,
) -> Result<StoredSbom, String> {
    let sbom: Sbom = serde_json::from_value(sbom)
        .map_err(|e| format!("stored SBOM of {digest} cannot be read: {e}"))?;
    let mut previous = BTreeSet::new();
    if let Some(vulns) = report
        .as_ref()
        .and_then(|r| r.get("vulnerabilities"))
        .and_then(|v| v.as_array())
    {
        for v in vulns {
            if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                previous.insert(id.to_owned());
            }
        }
    }
    Ok(StoredSbom {
        digest: digest.to_owned(),
        sbom,
        previous,
    })
}

/// One image of a registry scan.
#[derive(Debug, Serialize)]
pub(crate) struct RegistryImage {
    pub(crate) reference: String,
    pub(crate) digest: Option<String>,
    /// `scanned`, `unchanged` (digest stored before) or `failed`.
    pub(crate) status: &'static str,
    pub(crate) vulnerabilities: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize)]
struct RegistryOutput {
    registry: String,
    repositories: usize,
    tags: usize,
    scanned: usize,
    unchanged: usize,
    failed: usize,
    images: Vec<RegistryImage>,
}

pub(crate) fn registry_cmd(cmd: RegistryCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let RegistryCommand::Scan(a) = cmd;
    let (host, repo) = match a.target.split_once('/') {
        Some((h, r)) if !r.is_empty() => (h.to_owned(), Some(r.trim_end_matches('/').to_owned())),
        _ => (a.target.trim_end_matches('/').to_owned(), None),
    };
    let mut opts = registry::RegistryOptions {
        insecure: a.insecure_registry,
        ca_certificates: a
            .registry_ca
            .iter()
            .map(|p| registry::CaCertificate::PemFile(p.clone()))
            .collect(),
        ..Default::default()
    };
    if let Some(cfg) = registry::docker_config_path().filter(|p| p.exists())
        && let Some(c) = registry::credentials_from_docker_config(&cfg, &host)?
    {
        opts.credentials = c;
    }
    let client = registry::RegistryClient::new(&host, opts.clone())?;
    let repos = match &repo {
        Some(r) => vec![r.clone()],
        None => client
            .catalog()
            .with_context(|| format!("cannot list the catalog of {host}"))?,
    };
    let mut references = Vec::new();
    for r in &repos {
        let tags = client
            .tags(r)
            .with_context(|| format!("cannot list the tags of {host}/{r}"))?;
        references.extend(tags.into_iter().map(|t| format!("{host}/{r}:{t}")));
    }
    let db = open_db(global)?;
    let rt = crate::settings::runtime()?;
    let store = rt.block_on(open_store(global))?;
    let known: BTreeSet<String> = if a.rescan_all {
        BTreeSet::new()
    } else {
        rt.block_on(store.list_images())?
            .into_iter()
            .map(|i| i.digest)
            .collect()
    };
    let image_options = ImageOptions {
        platform: palisade_vuln::image::Platform::parse(&a.platform)?,
        ..Default::default()
    };
    let cache = palisade_vuln::image::BlobCache::new(global.data_dir()?.join("cache/blobs"));
    let progress = if a.no_progress {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(references.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} images {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(RegistryImage, Option<ImageReport>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..a.jobs.clamp(1, 64) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(reference) = references.get(i) else {
                        break;
                    };
                    progress.set_message(reference.clone());
                    let outcome = scan_one(reference, &opts, &cache, &image_options, &db, &known);
                    progress.inc(1);
                    if let Ok(mut r) = results.lock() {
                        r.push(outcome);
                    }
                }
            });
        }
    });
    progress.finish_and_clear();
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.0.reference.cmp(&b.0.reference));
    let mut images = Vec::new();
    rt.block_on(async {
        for (line, record) in results {
            if let Some(record) = record {
                store.put_image_report(&record).await?;
            }
            images.push(line);
        }
        anyhow::Ok(())
    })?;
    let count = |s: &str| images.iter().filter(|i| i.status == s).count();
    let out = RegistryOutput {
        registry: host,
        repositories: repos.len(),
        tags: references.len(),
        scanned: count("scanned"),
        unchanged: count("unchanged"),
        failed: count("failed"),
        images,
    };
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Table => {
            for i in &out.images {
                match &i.error {
                    Some(e) => println!("{:<9} {}  {e}", i.status, i.reference),
                    None => println!(
                        "{:<9} {}  {} vulnerabilities",
                        i.status, i.reference, i.vulnerabilities
                    ),
                }
            }
            println!(
                "{}: {} repositories, {} tags: {} scanned, {} unchanged, {} failed",
                out.registry, out.repositories, out.tags, out.scanned, out.unchanged, out.failed
            );
        }
    }
    Ok(if out.failed > 0 {
        Outcome::Errors
    } else {
        Outcome::Clean
    })
}

/// Resolves one tag to its image digest and scans it unless that digest is stored already.
pub(crate) fn scan_one(
    reference: &str,
    opts: &registry::RegistryOptions,
    cache: &palisade_vuln::image::BlobCache,
    image_options: &ImageOptions,
    db: &Database,
    known: &BTreeSet<String>,
) -> (RegistryImage, Option<ImageReport>) {
    let failed = |digest: Option<String>, e: String| {
        (
            RegistryImage {
                reference: reference.to_owned(),
                digest,
                status: "failed",
                vulnerabilities: 0,
                error: Some(e),
            },
            None,
        )
    };
    let source = match registry::Reference::parse(reference)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            registry::RegistrySource::new(r, opts.clone(), Some(cache.clone()))
                .map_err(|e| e.to_string())
        }) {
        Ok(s) => s,
        Err(e) => return failed(None, e),
    };
    let digest = match palisade_vuln::image::resolve(&source, image_options) {
        Ok(r) => r.digest().to_string(),
        Err(e) => return failed(None, e.to_string()),
    };
    if known.contains(&digest) {
        return (
            RegistryImage {
                reference: reference.to_owned(),
                digest: Some(digest),
                status: "unchanged",
                vulnerabilities: 0,
                error: None,
            },
            None,
        );
    }
    let sbom = match palisade_vuln::catalog::open_and_catalog(Box::new(source), image_options) {
        Ok((_, s)) => s,
        Err(e) => return failed(Some(digest), e.to_string()),
    };
    let report = palisade_vuln::scan::scan_sbom_with(
        &sbom,
        db,
        palisade_vuln::scan::ScanOptions {
            epss: Some(db.epss()),
        },
    );
    let record = match image_report(digest.clone(), reference.to_owned(), &sbom, &report) {
        Ok(r) => r,
        Err(e) => return failed(Some(digest), format!("{e:#}")),
    };
    (
        RegistryImage {
            reference: reference.to_owned(),
            digest: Some(digest),
            status: "scanned",
            vulnerabilities: report.vulnerabilities.len(),
            error: None,
        },
        Some(record),
    )
}

pub(crate) fn key(cmd: KeyCommand) -> anyhow::Result<Outcome> {
    let KeyCommand::Generate(a) = cmd;
    let pair = palisade_vuln::keys::generate_keypair()?;
    let private = with_suffix(&a.prefix, "key");
    let public = with_suffix(&a.prefix, "pub");
    write_new(&private, pair.pkcs8_pem().as_bytes(), 0o600)?;
    write_new(&public, pair.public_base64().as_bytes(), 0o644)?;
    println!("private key: {}", private.display());
    println!("public key:  {}", public.display());
    Ok(Outcome::Clean)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes a new file (never replacing one: a key is not overwritten by accident).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[derive(Debug, Serialize)]
struct Verified {
    verified: bool,
    key_id: String,
    subject: Vec<palisade_vuln::attest::Subject>,
    predicate_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerabilities: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    let public = palisade_vuln::keys::PublicKey::from_file(&a.key)?;
    let bytes = std::fs::read(&a.envelope)
        .with_context(|| format!("cannot read {}", a.envelope.display()))?;
    let result = palisade_vuln::attest::verify_json(&bytes, &public);
    let out = match &result {
        Ok(statement) => Verified {
            verified: true,
            key_id: public.key_id(),
            subject: statement.subject.clone(),
            predicate_type: statement.predicate_type.clone(),
            vulnerabilities: statement.report().ok().map(|r| r.vulnerabilities.len()),
            error: None,
        },
        Err(e) => Verified {
            verified: false,
            key_id: public.key_id(),
            subject: Vec::new(),
            predicate_type: String::new(),
            vulnerabilities: None,
            error: Some(format!("{}: {e}", a.envelope.display())),
        },
    };
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Table => match &out.error {
            None => {
                println!(
                    "verified: {} signed by key {}",
                    a.envelope.display(),
                    out.key_id
                );
                for s in &out.subject {
                    println!("  subject: {}", serde_json::to_string(s)?);
                }
                if let Some(n) = out.vulnerabilities {
                    println!("  report: {n} vulnerabilities");
                }
            }
            Some(e) => println!("NOT verified: {e}"),
        },
    }
    Ok(if result.is_ok() {
        Outcome::Clean
    } else {
        Outcome::Failed
    })
}
