//! `palisade runtime ...`: control-plane threat detection over Kubernetes audit events.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use palisade_detect::alert::{Alert, Analyzer, AnalyzerOptions, DedupOptions, ReportStats};
use palisade_detect::ingest::{
    FollowOptions, IngestOptions, IngestStats, Ingestor, Position, Sink,
};
use palisade_detect::{K8sAuditEvent, RulesFile};
use serde::Serialize;

use crate::Outcome;
use crate::report::Output;

/// Runtime subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RuntimeCommand {
    /// Detect threats in Kubernetes audit events (files, `-` for stdin).
    ///
    /// Reads audit.k8s.io/v1 events as JSON lines, JSON arrays or EventLists, and cloud exports
    /// (AKS diagnostic logs, EKS CloudWatch Logs including gzip'd subscription payloads, GKE
    /// Cloud Logging entries), recognised per input. Each event goes through the built-in
    /// control-plane rules and any Falco rule files given with --rules; matches of one alert
    /// type on one resource by one user within --dedup-window become one alert with a count.
    /// Malformed or oversized lines are reported on stderr with file and line and skipped.
    /// Exit code 0, or 2 when an input could not be read.
    ///
    /// With --follow, one file (or stdin) is tailed as it grows (rotation and truncation are
    /// handled) and alerts are printed as they open, and again when their window closes if
    /// more events were folded in; stop it with Ctrl-C.
    ///
    /// Examples:
    ///   palisade runtime analyze --format json /var/log/kubernetes/audit.log
    ///   palisade runtime analyze --rules k8s_audit_rules.yaml --no-builtin audit-*.json.gz
    ///   palisade runtime analyze --follow /var/log/kubernetes/audit/audit.log
    #[command(verbatim_doc_comment)]
    Analyze(AnalyzeArgs),
    /// Receives Kubernetes audit events over HTTPS: the API server's audit webhook backend
    /// posts EventList batches to /api/v1/audit/webhook with a `sensor` token; alerts are
    /// stored (with their lifecycle, shown by `palisade up`'s dashboard on the same data
    /// directory) and exported to --export destinations at least once.
    ///
    /// The API server's webhook kubeconfig points at https://ADDR/api/v1/audit/webhook with
    /// `token: <palisade token create --role sensor>` and the server's CA certificate.
    ///
    /// Examples:
    ///   palisade runtime serve-audit --listen 0.0.0.0:8443 --export cef=tcp://siem:6514
    ///   palisade runtime serve-audit --listen 127.0.0.1:8080 --plain-http
    #[command(verbatim_doc_comment)]
    ServeAudit(ServeAuditArgs),
    /// Lists the fields rules can read from Kubernetes audit events (the `k8s_audit` source):
    /// name, value type, argument and what it holds.
    ///
    /// They are the `ka.*` and `jevt.*` fields of Falco's k8saudit plugin, with Falco's
    /// semantics, plus palisade's own (`ka.sourceip.net`: source addresses compared against
    /// CIDR networks). A rule that uses a field not listed here is skipped with a warning.
    ///
    /// Examples:
    ///   palisade runtime fields
    ///   palisade runtime fields --format json | jq -r '.[].name'
    #[command(verbatim_doc_comment)]
    Fields(CatalogArgs),
    /// Lists the built-in alert types: id, severity, MITRE ATT&CK tactic and technique,
    /// title (and, in JSON, description and remediation).
    ///
    /// Rules raise a catalogued type by carrying its id as a tag; other rules raise
    /// `CUSTOM:<rule name>` alerts with a severity from their priority.
    ///
    /// Examples:
    ///   palisade runtime alert-types
    ///   palisade runtime alert-types --format json
    #[command(verbatim_doc_comment)]
    AlertTypes(CatalogArgs),
}

/// Arguments of the catalogue listings (`runtime fields`, `runtime alert-types`).
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = CatalogFormat::Table)]
    format: CatalogFormat,
}

/// Formats of the catalogue listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CatalogFormat {
    /// Aligned columns for people.
    Table,
    /// A JSON array.
    Json,
}

/// One field of `runtime fields`.
#[derive(Debug, Serialize)]
struct FieldEntry<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: &'static str,
    list: bool,
    arg: Option<&'static str>,
    arg_required: bool,
    description: &'a str,
}

fn fields(a: &CatalogArgs) -> anyhow::Result<Outcome> {
    use palisade_detect::{ArgKind, FieldType};
    let entries: Vec<FieldEntry<'_>> = palisade_detect::k8s_audit_registry()
        .fields()
        .iter()
        .map(|f| FieldEntry {
            name: &f.name,
            ty: match f.ty {
                FieldType::Str => "string",
                FieldType::Num => "number",
                FieldType::Bool => "bool",
                FieldType::IpAddr => "address",
                _ => "other",
            },
            list: f.list,
            arg: match f.arg {
                ArgKind::None => None,
                ArgKind::Index => Some("index"),
                ArgKind::Key => Some("key"),
                ArgKind::JsonPointer => Some("json-pointer"),
                _ => Some("other"),
            },
            arg_required: f.arg_required,
            description: &f.desc,
        })
        .collect();
    print_catalog(a.format, &entries, |out| {
        let rows: Vec<[String; 3]> = entries
            .iter()
            .map(|e| {
                let name = match (e.arg, e.arg_required) {
                    (None, _) => e.name.to_owned(),
                    (Some(arg), true) => format!("{}[{arg}]", e.name),
                    (Some(arg), false) => format!("{}[{arg}]?", e.name),
                };
                let ty = if e.list {
                    format!("{} list", e.ty)
                } else {
                    e.ty.to_owned()
                };
                [name, ty, e.description.to_owned()]
            })
            .collect();
        // A few JSON-pointer style names are very long: they overflow their column.
        let name_w = rows
            .iter()
            .map(|r| r[0].len())
            .filter(|&n| n <= 40)
            .max()
            .unwrap_or(4)
            .max(4);
        let ty_w = rows.iter().map(|r| r[1].len()).max().unwrap_or(4).max(4);
        writeln!(out, "{:<name_w$}  {:<ty_w$}  DESCRIPTION", "FIELD", "TYPE")?;
        for [name, ty, desc] in &rows {
            if name.len() > name_w {
                writeln!(out, "{name}\n{:<name_w$}  {ty:<ty_w$}  {desc}", "")?;
            } else {
                writeln!(out, "{name:<name_w$}  {ty:<ty_w$}  {desc}")?;
            }
        }
        writeln!(
            out,
            "\n{} fields ([arg] takes an argument, [arg]? an optional one)",
            rows.len()
        )?;
        Ok(())
    })
}

/// Prints a catalogue listing: `entries` as a JSON array, or the table `table` writes.
fn print_catalog<T: Serialize>(
    format: CatalogFormat,
    entries: &[T],
    table: impl FnOnce(&mut Output) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let mut out = Output::open(None)?;
    match format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut out, entries)?;
            writeln!(out)?;
        }
        CatalogFormat::Table => table(&mut out)?,
    }
    out.finish()?;
    Ok(Outcome::Clean)
}

/// One alert type of `runtime alert-types`.
#[derive(Debug, Serialize)]
struct AlertTypeEntry {
    id: &'static str,
    severity: &'static str,
    tactic: &'static str,
    tactic_name: Option<&'static str>,
    technique: &'static str,
    technique_name: Option<&'static str>,
    title: &'static str,
    description: &'static str,
    remediation: &'static str,
}

fn alert_types(a: &CatalogArgs) -> anyhow::Result<Outcome> {
    let entries: Vec<AlertTypeEntry> = palisade_detect::builtin::ALERT_TYPES
        .iter()
        .map(|t| AlertTypeEntry {
            id: t.id,
            severity: t.severity.as_str(),
            tactic: t.tactic,
            tactic_name: palisade_model::mitre::tactic_name(t.tactic),
            technique: t.technique,
            technique_name: palisade_model::mitre::technique(t.technique).map(|m| m.name),
            title: t.title,
            description: t.description,
            remediation: t.remediation,
        })
        .collect();
    print_catalog(a.format, &entries, |out| {
        let id_w = entries.iter().map(|e| e.id.len()).max().unwrap_or(2).max(2);
        writeln!(
            out,
            "{:<id_w$}  {:<13}  {:<7}  {:<9}  TITLE",
            "ID", "SEVERITY", "TACTIC", "TECHNIQUE"
        )?;
        for e in &entries {
            writeln!(
                out,
                "{:<id_w$}  {:<13}  {:<7}  {:<9}  {}",
                e.id, e.severity, e.tactic, e.technique, e.title
            )?;
        }
        writeln!(out, "\n{} alert types", entries.len())?;
        Ok(())
    })
}

/// Arguments of `runtime serve-audit`.
#[derive(Debug, Args)]
pub(crate) struct ServeAuditArgs {
    /// Address to listen on (HTTPS unless --plain-http).
    #[arg(long, value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// TLS certificate chain (PEM). Default: a self-signed certificate under the data
    /// directory.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP. Only allowed on a loopback address.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    plain_http: bool,
    /// Falco rule file (source k8s_audit) to load after the built-in rules; repeat for several.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Send alerts to a SIEM (jsonl=PATH, syslog=..., cef=..., webhook=URL, ocsf=URL,
    /// splunk=URL); repeat for several. See `palisade up --help`.
    #[arg(long = "export", value_name = "KIND=TARGET")]
    exports: Vec<String>,
    /// How long an export batch in flight is reserved; after a crash it is sent again once
    /// the reservation expires.
    #[arg(long, default_value = "60s", value_parser = crate::cmd::posture::parse_interval, value_name = "DURATION")]
    export_lease: std::time::Duration,
}

/// Output formats of `runtime analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AnalyzeFormat {
    /// Aligned columns for people.
    Table,
    /// `{"alerts": [...], "stats": {...}}`; with --follow, one alert per line.
    Json,
}

/// Arguments of `runtime analyze`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = AnalyzeFormat::Table)]
    format: AnalyzeFormat,

    /// Falco rule file (source k8s_audit) to load after the built-in rules; repeat for several.
    /// Rules tagged with a built-in alert type id raise that type.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,

    /// Use only the rules given with --rules.
    #[arg(long, requires = "rules")]
    no_builtin: bool,

    /// Keep reading the (single) input as it grows, printing alerts as they come.
    #[arg(long)]
    follow: bool,

    /// With --follow: start at the current end of the file instead of its beginning.
    #[arg(long, requires = "follow")]
    from_end: bool,

    /// Matches of one alert type, resource and user within this time of the first (event
    /// time) make one alert: e.g. 30s, 10m, 1h.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_duration)]
    dedup_window: std::time::Duration,

    /// Longest input line, in bytes; longer lines are skipped and reported.
    #[arg(long, default_value_t = palisade_detect::ingest::DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    max_line_bytes: usize,

    /// Audit log files or cloud exports (plain or gzip); `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    paths: Vec<PathBuf>,
}

/// `30s`, `10m`, `1h`, `90` (seconds).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("invalid duration {s:?}: expected e.g. 30s, 10m or 1h");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(secs))
}

pub(crate) fn run(
    cmd: RuntimeCommand,
    global: &crate::settings::GlobalArgs,
) -> anyhow::Result<Outcome> {
    match cmd {
        RuntimeCommand::Analyze(a) => analyze(a),
        RuntimeCommand::Fields(a) => fields(&a),
        RuntimeCommand::AlertTypes(a) => alert_types(&a),
        RuntimeCommand::ServeAudit(a) => crate::cmd::platform::up(
            crate::cmd::platform::UpArgs::audit_only(
                a.listen,
                a.tls_cert.zip(a.tls_key),
                a.plain_http,
                a.rules,
                a.exports,
                a.export_lease,
            ),
            global,
        ),
    }
}

/// The analyzer of a long-running receiver: built-in rules (unless `no_builtin`) plus
/// `rules`, alerts emitted as they open.
pub(crate) fn live_analyzer(rules: &[PathBuf], no_builtin: bool) -> anyhow::Result<Analyzer> {
    let mut files = Vec::with_capacity(rules.len());
    for p in rules {
        files.push(
            RulesFile::read(p).with_context(|| format!("cannot load rules {}", p.display()))?,
        );
    }
    let opts = AnalyzerOptions {
        builtin: !no_builtin,
        rules: files,
        dedup: DedupOptions {
            emit_on_open: true,
            // The server stores the opening event beside the alert as its evidence.
            keep_event: true,
            ..DedupOptions::default()
        },
    };
    let (analyzer, warnings) = Analyzer::new(opts).context("cannot load the rules")?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(analyzer)
}

fn load_analyzer(a: &AnalyzeArgs, live: bool) -> anyhow::Result<Analyzer> {
    let mut files = Vec::with_capacity(a.rules.len());
    for p in &a.rules {
        files.push(
            RulesFile::read(p).with_context(|| format!("cannot load rules {}", p.display()))?,
        );
    }
    let opts = AnalyzerOptions {
        builtin: !a.no_builtin,
        rules: files,
        dedup: DedupOptions {
            window: a.dedup_window,
            emit_on_open: live,
            ..DedupOptions::default()
        },
    };
    let (analyzer, warnings) = Analyzer::new(opts).context("cannot load the rules")?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if analyzer.rules().rules().all(|r| !r.enabled) {
        anyhow::bail!("no usable rule: every rule was skipped (see the warnings above)");
    }
    Ok(analyzer)
}

/// What `--format json` prints.
#[derive(Serialize)]
struct Report<'a> {
    alerts: &'a [Alert],
    stats: ReportStats,
}

fn report_problems(stats: &IngestStats) {
    for p in &stats.problems {
        eprintln!("warning: {p}");
    }
    let shown = stats.problems.len() as u64;
    let total = stats.malformed + stats.rejected + stats.unrecognized;
    if total > shown {
        eprintln!(
            "warning: {} more input problem(s) not shown ({} malformed, {} over the size limit, {} not audit events in all)",
            total - shown,
            stats.malformed,
            stats.rejected,
            stats.unrecognized
        );
    }
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<Outcome> {
    if a.follow {
        return follow(&a);
    }
    let mut analyzer = load_analyzer(&a, false)?;
    let mut ingestor = Ingestor::new(IngestOptions {
        max_line_bytes: a.max_line_bytes,
        ..IngestOptions::default()
    });
    let mut unreadable = 0usize;
    for p in &a.paths {
        if let Err(e) = ingestor.read_path(p, &mut analyzer) {
            eprintln!("error: {e}");
            unreadable += 1;
        }
    }
    let alerts = analyzer.finish();
    let ingest = ingestor.take_stats();
    report_problems(&ingest);
    let stats = ReportStats::from_parts(&ingest, analyzer.stats());
    let mut out = Output::open(None)?;
    match a.format {
        AnalyzeFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &Report {
                    alerts: &alerts,
                    stats,
                },
            )?;
            writeln!(out)?;
        }
        AnalyzeFormat::Table => write_table(&mut out, &alerts, &stats)?,
    }
    out.finish()?;
    Ok(if unreadable > 0 {
        Outcome::Errors
    } else {
        Outcome::Clean
    })
}

fn write_row(out: &mut impl Write, a: &Alert) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<13} {:<36} {:>5}  {:<40} {:<30} {}",
        a.severity.as_str().to_uppercase(),
        a.alert_type,
        a.count,
        a.resource,
        a.user,
        a.message
    )
}

fn write_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<13} {:<36} {:>5}  {:<40} {:<30} MESSAGE",
        "SEVERITY", "TYPE", "COUNT", "RESOURCE", "USER"
    )
}

fn write_table(out: &mut impl Write, alerts: &[Alert], stats: &ReportStats) -> anyhow::Result<()> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then(x.first_seen.cmp(&y.first_seen))
    });
    if !sorted.is_empty() {
        write_header(out)?;
    }
    for a in sorted {
        write_row(out, a)?;
    }
    writeln!(
        out,
        "\n{} event(s) read, {} alert(s); {} malformed, {} over the size limit, {} not audit events",
        stats.events,
        alerts.len(),
        stats.malformed,
        stats.rejected,
        stats.unrecognized
    )?;
    Ok(())
}

/// Prints alerts as they come out of the analyzer.
struct Live {
    analyzer: Analyzer,
    format: AnalyzeFormat,
    header: bool,
    failed: Option<std::io::Error>,
}

impl Live {
    fn drain(&mut self) {
        let alerts = self.analyzer.take_alerts();
        if alerts.is_empty() || self.failed.is_some() {
            return;
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let r = (|| -> std::io::Result<()> {
            for a in &alerts {
                match self.format {
                    AnalyzeFormat::Json => {
                        serde_json::to_writer(&mut out, a)?;
                        writeln!(out)?;
                    }
                    AnalyzeFormat::Table => {
                        if !self.header {
                            write_header(&mut out)?;
                            self.header = true;
                        }
                        write_row(&mut out, a)?;
                    }
                }
            }
            out.flush()
        })();
        if let Err(e) = r {
            self.failed = Some(e);
        }
    }
}

impl Sink for Live {
    fn event(&mut self, event: &K8sAuditEvent<'_>, at: &Position<'_>) {
        self.analyzer.event(event, at);
        self.drain();
    }

    fn idle(&mut self) {
        self.analyzer.idle();
        self.drain();
    }
}

fn follow(a: &AnalyzeArgs) -> anyhow::Result<Outcome> {
    let [path] = a.paths.as_slice() else {
        anyhow::bail!("--follow reads one input; got {}", a.paths.len());
    };
    let mut live = Live {
        analyzer: load_analyzer(a, true)?,
        format: a.format,
        header: false,
        failed: None,
    };
    let mut ingestor = Ingestor::new(IngestOptions {
        max_line_bytes: a.max_line_bytes,
        ..IngestOptions::default()
    });
    let result = if path.as_os_str() == "-" {
        ingestor.read_path(path, &mut live)
    } else {
        let opts = FollowOptions {
            from_end: a.from_end,
            ..FollowOptions::default()
        };
        ingestor.follow(path, &opts, &mut live)
    };
    // Input ended (stdin closed): close every open alert; those folded over several events
    // are printed again with their count.
    let rest = live.analyzer.finish();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for alert in &rest {
        match a.format {
            AnalyzeFormat::Json => {
                serde_json::to_writer(&mut out, alert)?;
                writeln!(out)?;
            }
            AnalyzeFormat::Table => write_row(&mut out, alert)?,
        }
    }
    out.flush()?;
    report_problems(ingestor.stats());
    if let Some(e) = live.failed {
        return Err(e).context("cannot write alerts");
    }
    match result {
        Ok(()) => Ok(Outcome::Clean),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Outcome::Errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(
            parse_duration("10m"),
            Ok(std::time::Duration::from_secs(600))
        );
        assert_eq!(
            parse_duration("1h"),
            Ok(std::time::Duration::from_secs(3600))
        );
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("m").is_err());
    }
}
