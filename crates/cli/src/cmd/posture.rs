//! `palisade posture ...`: scans, the check catalogue, Pod Security dry-runs.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_inventory::{LoadOptions, LoadReport};
use palisade_model::Severity;
use serde::Serialize;

use crate::Outcome;
use crate::report::{self, Output};
use crate::settings::GlobalArgs;

/// Posture subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PostureCommand {
    /// Scan manifests (files, directories, `-` for stdin) with every built-in check.
    ///
    /// Reads multi-document YAML, JSON and `kubectl get -o json` dumps. Malformed documents are
    /// reported on stderr with file, document and line; the rest is still scanned and the exit
    /// code is 2. Otherwise the exit code is 1 when a finding is at or above `--fail-on`.
    ///
    /// Examples:
    ///   palisade posture scan k8s/
    ///   helm template my-chart | palisade posture scan - --format sarif > palisade.sarif
    ///   palisade posture scan --fail-on high --format json deploy.yaml
    #[command(verbatim_doc_comment)]
    Scan(ScanArgs),
    /// List the built-in check catalogue.
    Checks(ChecksArgs),
    /// Pod Security Admission dry-run: the verdict Kubernetes would give each pod.
    ///
    /// Every object that carries a pod template (Pod, Deployment, CronJob, ...) is evaluated
    /// against the given level at the given policy version, exactly as the built-in admission
    /// controller does. Exit code 1 when any object would be denied.
    ///
    /// Example:
    ///   palisade posture pss --level restricted --version v1.30 --format json pod.yaml
    #[command(verbatim_doc_comment, disable_version_flag = true)]
    Pss(PssArgs),
    /// Run Gatekeeper test suites the way `gator verify` does.
    ///
    /// Each suite (`kind: Suite`, test.gatekeeper.sh/v1alpha1) names a ConstraintTemplate, a
    /// Constraint and cases with expected violations. Directories are searched for suite.yaml.
    /// Exit code 0 only when every case passes, 1 when one fails, 2 on unreadable suites.
    ///
    /// Example:
    ///   palisade posture verify --format json policies/
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
}

/// Arguments of `posture verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Suite files or directories holding suite.yaml files.
    #[arg(value_name = "SUITE", required = true)]
    paths: Vec<PathBuf>,
}

/// Output formats of `posture scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScanFormat {
    /// Aligned columns for people.
    Table,
    /// `{"findings": [...]}`, see docs/schemas/posture-scan.schema.json.
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one test case per scanned resource.
    Junit,
}

/// Arguments of `posture scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Manifest files or directories (searched recursively for *.yaml, *.yml, *.json); `-` reads stdin.
    #[arg(value_name = "PATH", required_unless_present = "cluster")]
    paths: Vec<PathBuf>,

    /// Scan the live cluster of the kubeconfig (current context, or --context), read-only:
    /// every relevant kind is listed with pagination (Secrets and ConfigMaps as metadata only).
    /// The snapshot's findings are saved (under --save NAME, default `cluster:<id>`) and the
    /// report says what is new and fixed since the previous scan of that cluster.
    #[arg(long)]
    cluster: bool,

    /// With --cluster: take a snapshot every INTERVAL (e.g. 30s, 5m, 1h), each saved and
    /// compared with the previous one, until stopped (or --count snapshots were taken).
    #[arg(long, requires = "cluster", value_name = "INTERVAL", value_parser = parse_interval)]
    interval: Option<std::time::Duration>,

    /// With --interval: stop after this many snapshots.
    #[arg(long, requires = "interval", value_name = "N")]
    count: Option<u64>,

    /// Kubeconfig context to use with --cluster (default: the current context).
    #[arg(long, requires = "cluster", value_name = "NAME")]
    context: Option<String>,

    /// Kubeconfig file to use with --cluster (default: $KUBECONFIG or ~/.kube/config; without
    /// any, the in-cluster service account).
    #[arg(long, requires = "cluster", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Table)]
    format: ScanFormat,

    /// Exit with 1 when a finding has this severity or higher
    /// (informational, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    /// Only report findings of this severity or higher.
    #[arg(long, value_name = "SEVERITY")]
    min_severity: Option<Severity>,

    /// Trusted image registry (host or host/path prefix); repeat for several. When given, images
    /// from anywhere else are reported.
    #[arg(long = "trusted-registry", value_name = "REGISTRY")]
    trusted_registries: Vec<String>,

    /// Pod Security Standards version the pss-* checks follow (v1.N or latest).
    #[arg(long, default_value = "latest", value_name = "VERSION")]
    pss_version: palisade_pss::Version,

    /// Gatekeeper ConstraintTemplates and Constraints (files or directories) to evaluate as
    /// well; repeat for several. Violations are reported as `gatekeeper.<kind>.<constraint>`
    /// findings (severity from the constraint's `palisade.io/severity` annotation, default
    /// medium).
    #[arg(long = "policy", value_name = "PATH")]
    policies: Vec<PathBuf>,

    /// Run only the policies given with --policy, not the built-in checks.
    #[arg(long, requires = "policies")]
    no_builtin: bool,

    /// Save this scan's findings in the store under NAME (in --data-dir) and report what is new
    /// and what was fixed since the previous saved scan of NAME.
    #[arg(long, value_name = "NAME")]
    save: Option<String>,

    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `posture checks`.
#[derive(Debug, Args)]
pub(crate) struct ChecksArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
}

/// Formats of listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    /// Aligned columns for people.
    Table,
    /// JSON.
    Json,
}

/// Arguments of `posture pss`.
#[derive(Debug, Args)]
pub(crate) struct PssArgs {
    /// Pod Security level to enforce.
    #[arg(long, value_enum)]
    level: PssLevel,
    /// Policy version: v1.N (v1.0 and later) or latest.
    #[arg(
        long = "version",
        id = "policy_version",
        default_value = "latest",
        value_name = "VERSION"
    )]
    version: palisade_pss::Version,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Manifest files or directories; `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

/// Pod Security levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PssLevel {
    /// Allows everything.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened best practice.
    Restricted,
}

impl From<PssLevel> for palisade_pss::Level {
    fn from(l: PssLevel) -> Self {
        match l {
            PssLevel::Privileged => palisade_pss::Level::Privileged,
            PssLevel::Baseline => palisade_pss::Level::Baseline,
            PssLevel::Restricted => palisade_pss::Level::Restricted,
        }
    }
}

pub(crate) fn run(cmd: PostureCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match cmd {
        PostureCommand::Scan(a) => scan(a, global),
        PostureCommand::Checks(a) => checks(a),
        PostureCommand::Pss(a) => pss(a),
        PostureCommand::Verify(a) => verify(a),
    }
}

/// Reads inputs and prints every load error on stderr; returns the report.
fn load(paths: &[PathBuf]) -> LoadReport {
    let report = LoadReport::load_paths(paths, &LoadOptions::default());
    for w in &report.warnings {
        tracing::info!("{w}");
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    report
}

/// Saves the findings under `name` and compares them with the previous saved scan.
fn save_scan(
    global: &GlobalArgs,
    name: &str,
    objects: &[palisade_inventory::Object],
    findings: &[palisade_model::Finding],
) -> anyhow::Result<palisade_store::ScanComparison> {
    let digests: Vec<palisade_store::ObjectDigest> = objects
        .iter()
        .map(|o| palisade_store::ObjectDigest {
            key: o.key(),
            hash: o.content_digest(),
        })
        .collect();
    let dir = global.data_dir()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let store = palisade_store::SqliteStore::open(&dir).await?;
        let now = palisade_model::time::now_rfc3339();
        Ok(store.record_scan(name, &digests, findings, &now).await?)
    })
}

/// Lists the live cluster and adds its objects to the loaded inventory; returns its id.
fn load_cluster(a: &ScanArgs, loaded: &mut LoadReport) -> anyhow::Result<String> {
    let config = live_config(a);
    let rt = crate::settings::runtime()?;
    let (cluster, inventory, warnings) = rt.block_on(async {
        let cluster = palisade_inventory::live::connect(&config).await?;
        eprintln!("listing cluster {} ({})...", cluster.name, cluster.server);
        let (inventory, warnings) = palisade_inventory::live::snapshot(&cluster).await?;
        anyhow::Ok((cluster, inventory, warnings))
    })?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    loaded.inventory.objects.extend(inventory.objects);
    Ok(cluster.id)
}

/// `5m`, `30s`, `1h`, `90` (seconds).
pub(crate) fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid interval {s:?}: expected e.g. 30s, 5m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "invalid interval {s:?}: expected e.g. 30s, 5m, 1h or 7d"
            ));
        }
    };
    if secs == 0 {
        return Err("the interval must be at least one second".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn scan(a: ScanArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let Some(interval) = a.interval else {
        return scan_once(&a, global, Teardown::Skip);
    };
    if a.cluster {
        return scan_watching(&a, global, interval);
    }
    let mut n = 0u64;
    loop {
        let outcome = scan_once(&a, global, Teardown::Free)?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            return Ok(outcome);
        }
        eprintln!("next snapshot in {}s", interval.as_secs());
        std::thread::sleep(interval);
    }
}

/// What to do with the inventory and findings after a scan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Teardown {
    /// Free them (periodic scans run again in the same process).
    Free,
    /// Leave them to the process exit: freeing millions of small allocations one by one
    /// only delays the exit of a one-shot scan.
    Skip,
}

/// How long the first lists of a watched cluster may take.
const FIRST_LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// `--cluster --interval`: lists every kind once, then keeps the inventory current with
/// watches, and scans a snapshot of it at every interval (files given as well are re-read
/// each time).
fn scan_watching(
    a: &ScanArgs,
    global: &GlobalArgs,
    interval: std::time::Duration,
) -> anyhow::Result<Outcome> {
    let rt = crate::settings::runtime()?;
    let cluster = rt.block_on(palisade_inventory::live::connect(&live_config(a)))?;
    eprintln!("watching cluster {} ({})...", cluster.name, cluster.server);
    // The watches run on the runtime's worker threads while this thread scans.
    let mut live = {
        let _entered = rt.enter();
        palisade_inventory::live::watch(&cluster)
    };
    rt.block_on(async { tokio::time::timeout(FIRST_LIST_TIMEOUT, live.ready()).await })
        .map_err(|_| {
            let pending: Vec<&str> = live
                .status()
                .into_iter()
                .filter(|(_, s)| *s == palisade_inventory::live::KindStatus::Pending)
                .map(|(k, _)| k.plural)
                .collect();
            anyhow::anyhow!(
                "cluster {} did not answer the first lists within {}s (still waiting for: {})",
                cluster.name,
                FIRST_LIST_TIMEOUT.as_secs(),
                pending.join(", ")
            )
        })?;
    for w in live.warnings() {
        eprintln!("warning: {w}");
    }
    let target = format!("cluster:{}", cluster.id);
    let mut n = 0u64;
    loop {
        let mut loaded = load(&a.paths);
        loaded.inventory.objects.extend(live.snapshot().objects);
        let outcome = scan_loaded(a, global, loaded, Some(target.clone()), Teardown::Free)?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            return Ok(outcome);
        }
        for (kind, e) in live.errors() {
            eprintln!("warning: watch of {} failing (retrying): {e}", kind.plural);
        }
        eprintln!("next snapshot in {}s", interval.as_secs());
        std::thread::sleep(interval);
    }
}

fn live_config(a: &ScanArgs) -> palisade_inventory::live::Config {
    palisade_inventory::live::Config {
        context: a.context.clone(),
        kubeconfig: a.kubeconfig.clone(),
        ..Default::default()
    }
}

fn scan_once(a: &ScanArgs, global: &GlobalArgs, teardown: Teardown) -> anyhow::Result<Outcome> {
    let mut loaded = load(&a.paths);
    let cluster_target = if a.cluster {
        Some(format!("cluster:{}", load_cluster(a, &mut loaded)?))
    } else {
        None
    };
    scan_loaded(a, global, loaded, cluster_target, teardown)
}

/// Scans what was loaded, saves and compares it when asked (or for a cluster), and reports.
fn scan_loaded(
    a: &ScanArgs,
    global: &GlobalArgs,
    loaded: LoadReport,
    cluster_target: Option<String>,
    teardown: Teardown,
) -> anyhow::Result<Outcome> {
    let mut config = palisade_posture::ScanConfig::default();
    config.trusted_registries.clone_from(&a.trusted_registries);
    config.pss_version = a.pss_version;
    let policies = if a.policies.is_empty() {
        None
    } else {
        let (set, warnings) = palisade_policy::PolicySet::load(&a.policies)
            .context("cannot load the policies given with --policy")?;
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        if set.is_empty() {
            anyhow::bail!("no usable constraint in the policies given with --policy");
        }
        Some(set)
    };
    let mut findings = if a.no_builtin {
        Vec::new()
    } else {
        palisade_posture::scan(&loaded.inventory, &config)
    };
    if let Some(set) = &policies {
        let (more, warnings) = set.evaluate(&loaded.inventory);
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        findings.extend(more);
    }
    if let Some(min) = a.min_severity {
        findings.retain(|f| f.severity >= min);
    }
    sort_findings(&mut findings);
    let changes = match a.save.as_ref().or(cluster_target.as_ref()) {
        Some(name) => {
            let c = save_scan(global, name, &loaded.inventory.objects, &findings)?;
            match c.previous_scan_id {
                Some(prev) => eprintln!(
                    "saved as scan {} of {name:?}; since scan {prev}: findings {} new, {} fixed, {} unchanged; resources {} added, {} changed, {} removed",
                    c.scan_id,
                    c.new.len(),
                    c.fixed.len(),
                    c.unchanged,
                    c.added.len(),
                    c.changed.len(),
                    c.removed.len()
                ),
                None => eprintln!("saved as scan {} of {name:?} (first scan)", c.scan_id),
            }
            Some(c)
        }
        None => None,
    };
    let mut out = Output::open(a.output.as_deref())?;
    let ctx = report::ScanContext {
        inventory: &loaded.inventory,
        findings: &findings,
        errors: &loaded.errors,
        changes: changes.as_ref(),
    };
    match a.format {
        ScanFormat::Table => report::table::write_findings(&mut out, &ctx)?,
        ScanFormat::Json => report::json::write_findings(&mut out, &ctx)?,
        ScanFormat::Sarif => report::sarif::write(&mut out, &ctx)?,
        ScanFormat::Junit => report::junit::write(&mut out, &ctx)?,
    }
    out.finish()?;
    let error_count = loaded.errors.len();
    let failed = a
        .fail_on
        .is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    if teardown == Teardown::Skip {
        std::mem::forget(loaded);
        std::mem::forget(findings);
    }
    if error_count > 0 {
        eprintln!(
            "{} input error(s); the rest of the input was scanned",
            error_count
        );
        return Ok(Outcome::Errors);
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

/// Orders findings by severity (highest first), resource, check and evidence. Resources are
/// ranked once, so the sort compares integers instead of four strings per comparison.
fn sort_findings(findings: &mut Vec<palisade_model::Finding>) {
    let mut resources: Vec<&palisade_model::ResourceRef> =
        findings.iter().map(|f| &f.resource).collect();
    // findings of one object are adjacent: drop those repeats before sorting
    resources.dedup();
    resources.sort_unstable();
    resources.dedup();
    let rank: std::collections::HashMap<&palisade_model::ResourceRef, u32> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (*r, i as u32))
        .collect();
    let mut keyed: Vec<(u32, usize)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| (rank.get(&f.resource).copied().unwrap_or(u32::MAX), i))
        .collect();
    keyed.sort_by(|&(rx, ix), &(ry, iy)| {
        let (x, y) = (&findings[ix], &findings[iy]);
        y.severity
            .cmp(&x.severity)
            .then(rx.cmp(&ry))
            .then_with(|| x.check_id.cmp(&y.check_id))
            .then_with(|| x.evidence.cmp(&y.evidence))
    });
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    drop(rank);
    drop(resources);
    apply_permutation(findings, order);
}

/// Reorders `items` so that position `k` holds the item that was at `order[k]`.
fn apply_permutation<T>(items: &mut Vec<T>, order: Vec<usize>) {
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
}

fn checks(a: ChecksArgs) -> anyhow::Result<Outcome> {
    let mut out = Output::open(None)?;
    match a.format {
        ListFormat::Json => report::json::write_catalog(&mut out)?,
        ListFormat::Table => report::table::write_catalog(&mut out)?,
    }
    out.finish()?;
    Ok(Outcome::Clean)
}

#[derive(Debug, Serialize)]
struct PssReport {
    level: &'static str,
    version: String,
    results: Vec<PssResult>,
}

#[derive(Debug, Serialize)]
struct PssResult {
    file: String,
    document: usize,
    kind: String,
    namespace: Option<String>,
    name: String,
    allowed: bool,
    violations: Vec<PssViolation>,
}

#[derive(Debug, Serialize)]
struct PssViolation {
    check: &'static str,
    message: String,
}

fn pss(a: PssArgs) -> anyhow::Result<Outcome> {
    let loaded = load(&a.paths);
    let level: palisade_pss::Level = a.level.into();
    let mut results = Vec::new();
    for o in &loaded.inventory.objects {
        let Some(t) = o.pod_template() else { continue };
        let violations: Vec<_> = palisade_pss::evaluate(level, a.version, t.metadata, t.spec)
            .into_iter()
            .map(|v| PssViolation {
                check: v.check,
                message: v.message,
            })
            .collect();
        results.push(PssResult {
            file: o.location.file.clone(),
            document: o.location.document,
            kind: o.resource.kind.clone(),
            namespace: o.resource.namespace.clone(),
            name: o.resource.name.clone(),
            allowed: violations.is_empty(),
            violations,
        });
    }
    let mut out = Output::open(None)?;
    match a.format {
        ListFormat::Json => {
            let r = PssReport {
                level: match a.level {
                    PssLevel::Privileged => "privileged",
                    PssLevel::Baseline => "baseline",
                    PssLevel::Restricted => "restricted",
                },
                version: a.version.to_string(),
                results,
            };
            serde_json::to_writer_pretty(&mut out, &r).context("cannot write the report")?;
            writeln!(out)?;
            out.finish()?;
            pss_outcome(&loaded, r.results.iter().all(|r| r.allowed))
        }
        ListFormat::Table => {
            for r in &results {
                let verdict = if r.allowed { "allowed" } else { "DENIED" };
                writeln!(
                    out,
                    "{verdict:<8} {}/{} ({}: document {})",
                    r.kind, r.name, r.file, r.document
                )?;
                for v in &r.violations {
                    writeln!(out, "         - {}: {}", v.check, v.message)?;
                }
            }
            let denied = results.iter().filter(|r| !r.allowed).count();
            writeln!(
                out,
                "{} object(s) evaluated, {} denied",
                results.len(),
                denied
            )?;
            out.finish()?;
            pss_outcome(&loaded, denied == 0)
        }
    }
}

fn pss_outcome(loaded: &LoadReport, all_allowed: bool) -> anyhow::Result<Outcome> {
    Ok(if !loaded.errors.is_empty() {
        Outcome::Errors
    } else if all_allowed {
        Outcome::Clean
    } else {
        Outcome::Failed
    })
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    cases: Vec<palisade_policy::CaseResult>,
    summary: VerifySummary,
}

#[derive(Debug, Serialize)]
struct VerifySummary {
    passed: usize,
    failed: usize,
}

fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    let cases = palisade_policy::verify(&a.paths)?;
    let passed = cases.iter().filter(|c| c.passed).count();
    let failed = cases.len() - passed;
    let mut out = Output::open(None)?;
    match a.format {
        ListFormat::Json => {
            let r = VerifyReport {
                cases,
                summary: VerifySummary { passed, failed },
            };
            serde_json::to_writer_pretty(&mut out, &r).context("cannot write the report")?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            for c in &cases {
                let verdict = if c.passed { "ok  " } else { "FAIL" };
                writeln!(out, "{verdict} {} / {} ({})", c.test, c.case, c.suite)?;
                if !c.passed {
                    writeln!(out, "     {}", c.detail.replace('\n', "\n     "))?;
                }
            }
            writeln!(out, "{passed} passed, {failed} failed")?;
        }
    }
    out.finish()?;
    Ok(if failed == 0 {
        Outcome::Clean
    } else {
        Outcome::Failed
    })
}
