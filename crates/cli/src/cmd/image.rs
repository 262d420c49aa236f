//! `palisade image scan`, `palisade sbom` and `palisade db`: vulnerability assessment of images
//! and root filesystems against the local advisory database under the data directory.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_model::Severity;
use palisade_vuln::db::Database;
use palisade_vuln::image::{ImageOptions, Platform};

use crate::Outcome;
use crate::report::Output;
use crate::settings::GlobalArgs;

/// Images.
#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// Scans an image (OCI layout directory, `docker save` / OCI tar), a root filesystem or an
    /// SBOM for known vulnerabilities, matched against the local advisory database
    /// (`palisade db import` fills it).
    ///
    /// Examples:
    ///   palisade image scan ./image.tar
    ///   palisade image scan --rootfs /
    ///   palisade image scan --sbom bom.cdx.json --format json --fail-on high
    Scan(ScanArgs),
}

/// What to scan.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// OCI image layout directory, `docker save` / OCI archive (tar, tar.gz), or, when no such
    /// path exists, a registry reference (`registry.example.com/team/app:1.2`, `alpine:3.20`);
    /// registry credentials come from the docker config.json.
    #[arg(required_unless_present_any = ["rootfs", "sbom"], conflicts_with_all = ["rootfs", "sbom"], value_name = "IMAGE")]
    image: Option<PathBuf>,
    /// Speak plain HTTP to the registry (loopback registries only).
    #[arg(long)]
    insecure_registry: bool,
    /// Also trust this CA certificate (PEM) for the registry's TLS; repeat for several.
    #[arg(long = "registry-ca", value_name = "FILE")]
    registry_ca: Vec<PathBuf>,
    /// A root filesystem directory (an unpacked image or a node's `/`; for `/` itself,
    /// /proc, /sys, /dev, /run, /tmp, /var/tmp, /var/log, /var/cache and container runtime
    /// storage are left out).
    #[arg(long, conflicts_with = "sbom", value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// A CycloneDX or SPDX JSON SBOM.
    #[arg(long, value_name = "FILE")]
    sbom: Option<PathBuf>,
    /// Platform to pick from multi-platform images.
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    platform: String,
}

/// `image scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    target: Target,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ScanFormat,
    /// Exit 1 when a vulnerability has at least this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Sign the report with this Ed25519 private key (`palisade key generate`) and write the
    /// DSSE envelope (an in-toto statement about the image digest) to --attestation.
    #[arg(long, requires = "attestation", value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Where --sign writes the envelope (`palisade verify --key PUB FILE` checks it).
    #[arg(long, requires = "sign", value_name = "FILE")]
    attestation: Option<PathBuf>,
    /// Do not keep the report and SBOM in the store (by default they are kept by image
    /// digest for `vuln rescan` and the dashboard).
    #[arg(long)]
    no_store: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScanFormat {
    Table,
    Json,
    /// SARIF 2.1.0 (code-scanning dashboards).
    Sarif,
    Cyclonedx,
    Spdx,
}

/// `sbom`.
#[derive(Debug, Args)]
pub(crate) struct SbomArgs {
    #[command(flatten)]
    target: Target,
    /// SBOM format.
    #[arg(long, value_enum, default_value = "cyclonedx")]
    format: SbomFormat,
    /// Write the SBOM to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SbomFormat {
    Cyclonedx,
    Spdx,
}

/// The advisory database.
#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Imports advisory data: OSV JSON/YAML (files or directories), a RustSec advisory-db
    /// checkout, the Node.js security-wg repository, Alpine secdb files, the Debian security
    /// tracker (its JSON export, or a vuln-list-debian tree), the CISA KEV JSON catalogue,
    /// EPSS CSV. The format of each path is recognised; a source imported again replaces its
    /// earlier version.
    Import(DbImportArgs),
    /// Downloads advisory data from its upstream sources, or from a mirror laid out the same
    /// way (`--mirror DIR|URL`, for air-gapped sites), and imports it.
    Update(DbUpdateArgs),
    /// Shows the database: sources, counts and ages.
    Status(DbStatusArgs),
}

/// `db update`.
#[derive(Debug, Args)]
pub(crate) struct DbUpdateArgs {
    /// A directory or http(s) URL mirroring the upstream feeds.
    #[arg(long, value_name = "DIR|URL")]
    mirror: Option<String>,
    /// Sources to fetch (`osv:<Ecosystem>`, `alpine:<branch>`, `debian-tracker`, `kev`,
    /// `epss`); default: every osv.dev ecosystem palisade catalogs, `kev` and `epss`.
    #[arg(long = "source", value_name = "SOURCE")]
    sources: Vec<String>,
}

/// `db import`.
#[derive(Debug, Args)]
pub(crate) struct DbImportArgs {
    /// Files or directories to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// `db status`.
#[derive(Debug, Args)]
pub(crate) struct DbStatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: StatusFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusFormat {
    Table,
    Json,
}

fn db_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    Ok(global.data_dir()?.join("vulndb"))
}

fn catalog(t: &Target, global: &GlobalArgs) -> anyhow::Result<palisade_vuln::catalog::Sbom> {
    if let Some(path) = &t.sbom {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return palisade_vuln::sbom::read(&bytes).with_context(|| format!("{}", path.display()));
    }
    let (image, rootfs) = match (&t.image, &t.rootfs) {
        (_, Some(dir)) => (None, Some(dir)),
        (Some(image), None) => (Some(image), None),
        (None, None) => anyhow::bail!("nothing to scan: give an image, --rootfs or --sbom"),
    };
    if let Some(dir) = rootfs {
        // A host's own `/`: leave out volatile and container storage, as a node scan does.
        let host = std::fs::canonicalize(dir).is_ok_and(|d| d == std::path::Path::new("/"));
        let fs = if host {
            palisade_vuln::image::open_rootfs_skipping(
                dir,
                Default::default(),
                palisade_vuln::image::HOST_SKIP,
            )?
        } else {
            palisade_vuln::image::open_rootfs(dir, Default::default())?
        };
        return Ok(palisade_vuln::catalog::catalog(&fs)?);
    }
    let image = image.context("nothing to scan")?;
    let options = ImageOptions {
        platform: Platform::parse(&t.platform)?,
        ..Default::default()
    };
    // Images are opened and catalogued in one pass: each layer is inflated once.
    let source: Box<dyn palisade_vuln::image::ImageSource> = if image.is_dir() {
        Box::new(palisade_vuln::image::OciLayout::open(image)?)
    } else if image.exists() {
        Box::new(palisade_vuln::image::open_archive(image, options.limits)?)
    } else {
        let reference = image.to_string_lossy().into_owned();
        Box::new(pull(
            &reference,
            t.insecure_registry,
            &t.registry_ca,
            global,
        )?)
    };
    Ok(palisade_vuln::catalog::open_and_catalog(source, &options)?.1)
}

/// An image in its registry; layers are cached by digest under the data directory.
fn pull(
    reference: &str,
    insecure: bool,
    ca: &[PathBuf],
    global: &GlobalArgs,
) -> anyhow::Result<palisade_vuln::registry::RegistrySource> {
    use palisade_vuln::registry;
    let parsed = registry::Reference::parse(reference)?;
    let mut opts = registry::RegistryOptions {
        insecure,
        ca_certificates: ca
            .iter()
            .map(|p| registry::CaCertificate::PemFile(p.clone()))
            .collect(),
        ..Default::default()
    };
    if let Some(cfg) = registry::docker_config_path().filter(|p| p.exists())
        && let Some(c) = registry::credentials_from_docker_config(&cfg, &parsed.registry)?
    {
        opts.credentials = c;
    }
    let cache = palisade_vuln::image::BlobCache::new(global.data_dir()?.join("cache/blobs"));
    eprintln!("pulling {reference}...");
    Ok(registry::RegistrySource::new(parsed, opts, Some(cache))?)
}

fn write_sbom(
    sbom: &palisade_vuln::catalog::Sbom,
    format: palisade_vuln::sbom::Format,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let options = palisade_vuln::sbom::WriteOptions {
        tool: "palisade".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    writeln!(
        out,
        "{}",
        palisade_vuln::sbom::write(sbom, format, &options)
    )?;
    Ok(())
}

pub(crate) fn sbom(a: SbomArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let sbom = catalog(&a.target, global)?;
    let mut out = Output::open(a.output.as_deref())?;
    let format = match a.format {
        SbomFormat::Cyclonedx => palisade_vuln::sbom::Format::CycloneDx,
        SbomFormat::Spdx => palisade_vuln::sbom::Format::Spdx,
    };
    write_sbom(&sbom, format, &mut out)?;
    out.finish()?;
    Ok(Outcome::Clean)
}

pub(crate) fn image(cmd: ImageCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let ImageCommand::Scan(a) = cmd;
    let dir = db_dir(global)?;
    let db = Database::open(&dir).context("import advisories with `palisade db import PATH...`")?;
    let sign_key = match &a.sign {
        Some(path) => Some(palisade_vuln::keys::SigningKey::from_file(path)?),
        None => None,
    };
    let sbom = catalog(&a.target, global)?;
    let report = palisade_vuln::scan::scan_sbom_with(
        &sbom,
        &db,
        palisade_vuln::scan::ScanOptions {
            epss: Some(db.epss()),
        },
    );
    if let (Some(key), Some(path)) = (&sign_key, &a.attestation) {
        let digest = report.artifact.digest.clone().unwrap_or_else(|| {
            format!(
                "sha256:{}",
                palisade_vuln::image::Digest::of(&serde_json::to_vec(&sbom).unwrap_or_default())
                    .hex()
            )
        });
        let envelope = palisade_vuln::attest::sign_report(&report, Some(&digest), key)?;
        let mut f = Output::open(Some(path))?;
        serde_json::to_writer(&mut f, &envelope)?;
        writeln!(f)?;
        f.finish()?;
        eprintln!("signed attestation: {}", path.display());
    }
    if !a.no_store {
        let (fallback, reference) = stored_names(&a.target, &report);
        let key = crate::cmd::vuln::storage_key(&report, &fallback);
        let record = crate::cmd::vuln::image_report(key, reference, &sbom, &report)?;
        crate::settings::runtime()?.block_on(async {
            let store = crate::cmd::vuln::open_store(global).await?;
            palisade_store::PlatformStore::put_image_report(&store, &record).await?;
            anyhow::Ok(())
        })?;
    }
    let mut out = Output::open(a.output.as_deref())?;
    match a.format {
        ScanFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        ScanFormat::Sarif => {
            serde_json::to_writer_pretty(&mut out, &palisade_vuln::report::to_sarif(&report))?;
            writeln!(out)?;
        }
        ScanFormat::Cyclonedx => {
            write_sbom(&sbom, palisade_vuln::sbom::Format::CycloneDx, &mut out)?
        }
        ScanFormat::Spdx => write_sbom(&sbom, palisade_vuln::sbom::Format::Spdx, &mut out)?,
        ScanFormat::Table => {
            writeln!(
                out,
                "{}: {} packages, {} vulnerabilities",
                report.artifact.name,
                report.packages.len(),
                report.vulnerabilities.len()
            )?;
            for v in &report.vulnerabilities {
                writeln!(
                    out,
                    "{:<8} {:<22} {}@{}  {}",
                    v.severity.map_or("unknown", |s| s.as_str()),
                    v.id,
                    v.package.name,
                    v.package.version,
                    v.remediation
                )?;
            }
        }
    }
    out.finish()?;
    let failed = a.fail_on.is_some_and(|t| {
        report
            .vulnerabilities
            .iter()
            .any(|v| v.severity.is_some_and(|s| s >= t))
    });
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

/// The key a report without an image digest is stored under, and the reference shown.
fn stored_names(t: &Target, report: &palisade_vuln::scan::VulnReport) -> (String, String) {
    let absolute = |p: &std::path::Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_owned())
            .display()
            .to_string()
    };
    match (&t.image, &t.rootfs, &t.sbom) {
        (_, Some(dir), _) => {
            let d = absolute(dir);
            (format!("rootfs:{d}"), format!("root filesystem {d}"))
        }
        (_, _, Some(file)) => {
            let f = absolute(file);
            (format!("sbom:{f}"), report.artifact.name.clone())
        }
        (Some(image), _, _) => {
            let name = if image.exists() {
                absolute(image)
            } else {
                image.display().to_string()
            };
            (format!("image:{name}"), name)
        }
        (None, None, None) => (String::from("unknown"), report.artifact.name.clone()),
    }
}

pub(crate) fn db(cmd: DbCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let dir = db_dir(global)?;
    match cmd {
        DbCommand::Import(a) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let r = Database::import(&dir, &a.paths)?;
            for s in &r.sources {
                eprintln!("{}: {} ({:?})", s.name, s.input.display(), s.format);
            }
            println!(
                "{}: {} advisories, {} bytes",
                r.path.display(),
                r.advisories,
                r.size
            );
            Ok(Outcome::Clean)
        }
        DbCommand::Update(a) => {
            let sources = if a.sources.is_empty() {
                palisade_vuln::db::Source::defaults()
            } else {
                a.sources
                    .iter()
                    .map(|s| palisade_vuln::db::Source::parse(s))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let mirror = a.mirror.as_deref().map(palisade_vuln::db::Mirror::parse);
            let r = palisade_vuln::db::update(&dir, &sources, mirror.as_ref())?;
            for f in &r.failed {
                eprintln!("warning: not updated: {f}");
            }
            println!(
                "{}: {} advisories, {} bytes",
                r.path.display(),
                r.advisories,
                r.size
            );
            Ok(if r.failed.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Errors
            })
        }
        DbCommand::Status(a) => {
            let s = palisade_vuln::db::status(&dir)
                .context("import advisories with `palisade db import PATH...`")?;
            match a.format {
                StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&s)?),
                StatusFormat::Table => {
                    println!(
                        "{} (format {}, {} bytes): {} advisories for {} packages, {} KEV entries, {} EPSS scores",
                        s.path.display(),
                        s.format_version,
                        s.size,
                        s.advisories,
                        s.packages,
                        s.kev_entries,
                        s.epss_scores
                    );
                    for src in &s.sources {
                        println!("  {}", serde_json::to_string(src)?);
                    }
                }
            }
            Ok(Outcome::Clean)
        }
    }
}
