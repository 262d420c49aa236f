//! At-least-once delivery of alerts to SIEM and XDR systems, from the store's export queue.
//!
//! Recording an alert queues one item per configured sink in the same transaction
//! (`PlatformStore::record_alert_with_exports`). One worker thread per sink leases a batch
//! of items (a lease hides them from other workers for the lease time, [`DEFAULT_LEASE`] unless set), sends them with the
//! sink's exporter from `palisade-detect`, and acknowledges them only after the exporter
//! returned. A process killed mid-export leaves its lease to expire, and the items are sent
//! again by the next worker: receivers may see an alert twice (its `uid` tells them), never
//! zero times. A failing destination is retried with exponential backoff (1 s to 60 s).
//!
//! Sinks are written `KIND=TARGET` ([`SinkSpec::parse`]); the spec text, which never holds
//! a secret, names the sink in the queue, so a restart with the same flags resumes it.
//! Exporters are blocking (`std::net` with rustls), hence threads rather than tasks.

use std::time::Duration;

use palisade_detect::Priority;
use palisade_detect::alert::{Alert as DetectAlert, Mitre as DetectMitre};
use palisade_detect::export::{
    ExportError, Exporter, JsonLines, RetryPolicy, SplunkHecExporter, SyslogExporter, SyslogFormat,
    SyslogOptions, SyslogTransport, WebhookExporter, WebhookFormat,
};
use palisade_model::Severity;
use palisade_store::PlatformStore;
use serde_json::Value;

/// How long a leased batch stays hidden from other workers, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Items sent per batch.
const BATCH: u32 = 100;
/// Environment variable holding the Splunk HEC token (never on the command line).
pub const SPLUNK_TOKEN_ENV: &str = "PALISADE_SPLUNK_TOKEN";

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSpec {
    /// The spec as given (`webhook=https://siem.example/hook`): the sink's queue name.
    pub name: String,
    kind: SinkKind,
    target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinkKind {
    JsonFile,
    Syslog(SyslogFormat, SyslogTransport),
    Webhook(WebhookFormat),
    Splunk,
}

impl SinkSpec {
    /// Parses `KIND=TARGET`:
    /// - `jsonl=PATH`: JSON lines appended to a file;
    /// - `syslog=udp://HOST:PORT` (or `tcp://`, `tls://`): RFC 5424; `cef=...`: CEF;
    /// - `webhook=https://...`: the alert's JSON per POST; `ocsf=https://...`: an OCSF
    ///   Detection Finding per POST;
    /// - `splunk=https://HOST:8088`: Splunk HEC, token from `PALISADE_SPLUNK_TOKEN`.
    pub fn parse(spec: &str) -> Result<SinkSpec, String> {
        let (kind, target) = spec.split_once('=').ok_or_else(|| {
            format!(
                "export {spec:?}: expected KIND=TARGET (e.g. webhook=https://siem.example/hook)"
            )
        })?;
        let syslog = |format| -> Result<SinkKind, String> {
            let transport = match target.split_once("://").map(|(s, _)| s) {
                Some("udp") => SyslogTransport::Udp,
                Some("tcp") => SyslogTransport::Tcp,
                Some("tls") => SyslogTransport::Tls,
                _ => {
                    return Err(format!(
                        "export {spec:?}: a syslog target is udp://, tcp:// or tls://HOST:PORT"
                    ));
                }
            };
            Ok(SinkKind::Syslog(format, transport))
        };
        let http = |k| -> Result<SinkKind, String> {
            if target.starts_with("https://") || target.starts_with("http://") {
                Ok(k)
            } else {
                Err(format!("export {spec:?}: expected an http(s):// URL"))
            }
        };
        let kind = match kind {
            "jsonl" => SinkKind::JsonFile,
            "syslog" => syslog(SyslogFormat::Rfc5424)?,
            "cef" => syslog(SyslogFormat::Cef)?,
            "webhook" => http(SinkKind::Webhook(WebhookFormat::Alert))?,
            "ocsf" => http(SinkKind::Webhook(WebhookFormat::Ocsf))?,
            "splunk" => http(SinkKind::Splunk)?,
            other => {
                return Err(format!(
                    "export {spec:?}: unknown kind {other:?} (jsonl, syslog, cef, webhook, ocsf, splunk)"
                ));
            }
        };
        if target.is_empty() {
            return Err(format!("export {spec:?}: empty target"));
        }
        Ok(SinkSpec {
            name: spec.to_owned(),
            kind,
            target: target.to_owned(),
        })
    }

    /// Builds the exporter (connecting where the transport needs it).
    fn exporter(&self) -> Result<Box<dyn Exporter>, ExportError> {
        let policy = RetryPolicy::default();
        Ok(match self.kind {
            SinkKind::JsonFile => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.target)
                    .map_err(|source| ExportError::Io {
                        target: self.target.clone(),
                        source,
                    })?;
                Box::new(FileLines {
                    file,
                    name: self.target.clone(),
                })
            }
            SinkKind::Syslog(format, transport) => {
                let address = self
                    .target
                    .split_once("://")
                    .map_or(self.target.as_str(), |(_, a)| a);
                Box::new(SyslogExporter::new(
                    address,
                    SyslogOptions {
                        format,
                        transport,
                        ..SyslogOptions::default()
                    },
                )?)
            }
            SinkKind::Webhook(format) => Box::new(WebhookExporter::new(
                &self.target,
                Vec::new(),
                format,
                policy,
            )?),
            SinkKind::Splunk => {
                let token = std::env::var(SPLUNK_TOKEN_ENV).map_err(|_| ExportError::Config {
                    target: self.target.clone(),
                    message: format!("set the HEC token in {SPLUNK_TOKEN_ENV}"),
                })?;
                Box::new(SplunkHecExporter::new(&self.target, &token, policy)?)
            }
        })
    }
}

/// JSON lines appended to a file, synced after each batch so an acknowledged item is on
/// disk.
struct FileLines {
    file: std::fs::File,
    name: String,
}

impl Exporter for FileLines {
    fn export(&mut self, alerts: &[DetectAlert]) -> Result<(), ExportError> {
        let mut buf = Vec::new();
        JsonLines::new(&mut buf, self.name.clone()).export(alerts)?;
        std::io::Write::write_all(&mut self.file, &buf).map_err(|source| ExportError::Io {
            target: self.name.clone(),
            source,
        })
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        self.file.sync_data().map_err(|source| ExportError::Io {
            target: self.name.clone(),
            source,
        })
    }
}

/// A stored alert (the queued JSON) in the exporters' form.
pub fn detect_alert(stored: &Value) -> DetectAlert {
    let text = |k: &str| {
        stored
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let severity: Severity = stored
        .get("severity")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Medium);
    let time = |k: &str| {
        stored
            .get(k)
            .and_then(Value::as_str)
            .and_then(palisade_model::time::parse_rfc3339)
            .map_or(0, |s| s.saturating_mul(1_000_000_000))
    };
    let resource = stored.get("resource").map_or_else(String::new, |r| {
        [r.get("namespace"), r.get("kind"), r.get("name")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    });
    let mitre = stored.get("mitre");
    let id = stored.get("id").and_then(Value::as_i64).unwrap_or(0);
    let alert_type = text("type");
    // What the catalogue says about built-in alert types (custom rules have no entry).
    let about = palisade_detect::builtin::alert_type(&alert_type);
    DetectAlert {
        title: about.map_or_else(|| alert_type.clone(), |t| t.title.to_owned()),
        alert_type,
        rule: text("rule"),
        severity,
        priority: match severity {
            Severity::Critical => Priority::Critical,
            Severity::High => Priority::Error,
            Severity::Medium => Priority::Warning,
            Severity::Low => Priority::Notice,
            _ => Priority::Informational,
        },
        mitre: DetectMitre {
            tactic: mitre
                .and_then(|m| m.get("tactic"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            technique: mitre
                .and_then(|m| m.get("technique"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        count: stored.get("count").and_then(Value::as_u64).unwrap_or(1),
        new_events: 0,
        event_ids: vec![format!("palisade-alert-{id}")],
        first_seen: time("first_seen"),
        last_seen: time("last_seen"),
        resource,
        target: palisade_detect::alert::Target::default(),
        user: text("user"),
        cluster: stored
            .get("cluster")
            .and_then(Value::as_str)
            .map(str::to_owned),
        message: text("message"),
        event: None,
        description: about.map(|t| t.description.to_owned()).unwrap_or_default(),
        remediation: about.map(|t| t.remediation.to_owned()).unwrap_or_default(),
    }
}

/// Runs one worker thread per sink until `stop` is set; returns their handles.
pub fn spawn_workers<S: PlatformStore + Clone + 'static>(
    store: S,
    sinks: Vec<SinkSpec>,
    handle: tokio::runtime::Handle,
    lease: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    sinks
        .into_iter()
        .filter_map(|sink| {
            let store = store.clone();
            let handle = handle.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("export {}", sink.name))
                .spawn(move || worker(&store, &sink, &handle, lease, &stop))
                .map_err(|e| tracing::error!(error = %e, "Cannot start an export worker"))
                .ok()
        })
        .collect()
}

fn worker<S: PlatformStore>(
    store: &S,
    sink: &SinkSpec,
    handle: &tokio::runtime::Handle,
    lease: Duration,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let mut exporter: Option<Box<dyn Exporter>> = None;
    let mut backoff = Duration::from_secs(1);
    let pause = |d: Duration| {
        // sleeps in short steps so that a stop request is seen quickly
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let items = match handle.block_on(store.lease_exports(&sink.name, BATCH, lease)) {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(sink = %sink.name, error = %e, "Cannot read the export queue");
                pause(backoff);
                continue;
            }
        };
        if items.is_empty() {
            pause(Duration::from_millis(500));
            continue;
        }
        let alerts: Vec<DetectAlert> = items.iter().map(|i| detect_alert(&i.payload)).collect();
        let sent = match exporter.as_mut() {
            Some(e) => e.export(&alerts).and_then(|()| e.flush()),
            None => sink.exporter().and_then(|mut e| {
                let r = e.export(&alerts).and_then(|()| e.flush());
                exporter = Some(e);
                r
            }),
        };
        match sent {
            Ok(()) => {
                let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
                if let Err(e) = handle.block_on(store.ack_exports(&ids)) {
                    tracing::error!(sink = %sink.name, error = %e, "Cannot acknowledge exported alerts (they will be sent again)");
                }
                tracing::debug!(sink = %sink.name, alerts = ids.len(), "Alerts exported");
                backoff = Duration::from_secs(1);
            }
            Err(e) => {
                tracing::warn!(sink = %sink.name, error = %e, retry_in = ?backoff, "Export failed; will retry");
                exporter = None;
                pause(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_refuse_what_cannot_work() {
        let s = SinkSpec::parse("webhook=https://siem.example/hook")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(s.name, "webhook=https://siem.example/hook");
        assert!(SinkSpec::parse("cef=tcp://127.0.0.1:6514").is_ok());
        assert!(SinkSpec::parse("jsonl=/var/log/palisade/alerts.jsonl").is_ok());
        for bad in [
            "webhook",
            "syslog=127.0.0.1:514",
            "ocsf=ftp://x",
            "pager=x",
            "jsonl=",
        ] {
            assert!(SinkSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_alerts_convert_for_the_exporters() {
        let stored = serde_json::json!({
            "id": 7, "type": "K8S_ExposedDashboard", "rule": "r", "severity": "high",
            "mitre": {"tactic": "TA0001", "technique": "T1133"}, "count": 3,
            "first_seen": "2026-01-02T03:04:05Z", "last_seen": "2026-01-02T03:05:05Z",
            "resource": {"apiVersion": "", "kind": "services", "namespace": "kube-system", "name": "dash"},
            "user": "alice", "message": "m", "status": "active"
        });
        let a = detect_alert(&stored);
        assert_eq!(a.alert_type, "K8S_ExposedDashboard");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.count, 3);
        assert_eq!(a.first_seen, 1_767_323_045_000_000_000);
        assert_eq!(a.resource, "kube-system/services/dash");
        assert_eq!(a.mitre.technique.as_deref(), Some("T1133"));
        assert_eq!(a.event_ids, vec!["palisade-alert-7".to_owned()]);
    }
}
