//! Reading Kubernetes audit events from files, streams and cloud exports.
//!
//! One [`Ingestor`] reads any number of inputs and hands each audit event to a [`Sink`]; what
//! went wrong is counted in [`IngestStats`] (with the first problems kept with input and line).
//! Nothing in the input makes it panic or buffer without bound.
//!
//! **Framing**, decided per input from its first bytes:
//!
//! - gzip (`1f 8b`, also several concatenated members) is decompressed on the fly, then framed
//!   as below;
//! - JSON lines (the API server's log backend, `kubectl ... | jq -c`, cloud exports): one value
//!   per line, each line at most [`IngestOptions::max_line_bytes`] (1 MiB by default). A longer
//!   line is skipped as it streams past (counted as `rejected`), a line that is not JSON (a
//!   truncated last line included) is counted as `malformed` with its line number. A line may
//!   carry a timestamp before the JSON (CloudWatch exports to S3: `2024-05-01T10:00:00.000Z {...}`);
//! - anything else that starts with `[` or a `{` not closed on its first line: JSON documents
//!   (a pretty-printed event, an `EventList`, a JSON array, concatenated objects as Firehose
//!   writes them). Arrays are split into their elements as they stream past, so a large array
//!   needs memory for one element at a time; each element or top-level object may take
//!   [`IngestOptions::max_document_bytes`] (64 MiB).
//!
//! **Shapes**, recognised per value (and recursively inside envelopes):
//!
//! - an `audit.k8s.io/v1` (or `v1beta1`) `Event`; an `auditID` is not required when the value is
//!   plainly an audit event ([`K8sAuditEvent::parse_relaxed`]);
//! - an `EventList` (`items`), a JSON array, Azure's `{"records": [...]}`;
//! - AKS diagnostic logs: records with `category` `kube-audit` or `kube-audit-admin` and the
//!   event (JSON text or object) in `properties.log`; Log Analytics `AzureDiagnostics` rows
//!   (`Category`, `log_s`). The cluster name comes from `resourceId`. Other categories
//!   (`kube-apiserver`, `guard`, ...) are counted as `unrecognized`;
//! - EKS CloudWatch Logs: a subscription payload (`{"messageType", "logGroup", "logEvents":
//!   [{"message"}]}`, usually gzip'd), `aws logs filter-log-events` / `get-log-events` output
//!   (`{"events": [{"message"}]}`), or a single log event (`{"message"}`). The cluster name
//!   comes from the log group `/aws/eks/<cluster>/cluster`;
//! - GKE Cloud Logging entries with a `protoPayload` (an `AuditLog`), mapped onto the audit
//!   event's fields (see the `gke` module).
//!
//! [`Ingestor::follow`] tails a growing JSON-lines file by polling, and reopens it when it is
//! rotated (another file appears under the path) or truncated.
//!
//! The framing and the envelope dispatch are written here because no crate reads these export
//! formats; the per-value work is serde_json's.

mod gke;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek as _, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::k8saudit::{AuditEventError, K8sAuditEvent};

/// Default longest line, in bytes: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default largest JSON document (or array element), in bytes: 64 MiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 64 << 20;
/// How deeply envelopes may nest (a record in a list in a payload ...).
const MAX_NESTING: u8 = 6;
/// The read buffer size.
const READ_CHUNK: usize = 256 << 10;

/// Limits of an [`Ingestor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    /// Longest line of a JSON-lines input; longer lines are skipped and counted as rejected.
    pub max_line_bytes: usize,
    /// Largest top-level JSON document or array element of a document input.
    pub max_document_bytes: usize,
    /// How many problems are kept with their place (the counts are always exact).
    pub max_problems: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            max_problems: 100,
        }
    }
}

/// Where an event was read: the input's name and the line its value starts on (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    /// The input's name (a path, or `-` for stdin).
    pub input: &'a str,
    /// The line (1-based).
    pub line: u64,
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.input, self.line)
    }
}

/// What kind of problem an input had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// Not JSON, not UTF-8, or truncated.
    Malformed,
    /// Longer than the limit: skipped without being buffered.
    Oversized,
    /// Valid JSON that is no audit event and no known envelope of one.
    Unrecognized,
}

/// One problem with an input, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The input's name.
    pub input: String,
    /// The line (1-based) the offending value starts on.
    pub line: u64,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Details.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.message)
    }
}

/// Counts of what an [`Ingestor`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Audit events handed to the sink.
    pub events: u64,
    /// Values that were not JSON, not UTF-8 or truncated.
    pub malformed: u64,
    /// Lines or documents over the size limit, skipped.
    pub rejected: u64,
    /// Valid JSON that is no audit event (other log categories, unrelated records).
    pub unrecognized: u64,
    /// The first problems (up to [`IngestOptions::max_problems`]), in order.
    pub problems: Vec<Problem>,
}

/// An input that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// An I/O error opening or reading the input.
    #[error("cannot read {input}: {source}")]
    Io {
        /// The input's name.
        input: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Receives the events an [`Ingestor`] reads.
pub trait Sink {
    /// One audit event and where it was read.
    fn event(&mut self, event: &K8sAuditEvent<'_>, at: &Position<'_>);

    /// Called by [`Ingestor::follow`] whenever it waits for more input.
    fn idle(&mut self) {}
}

impl<F> Sink for F
where
    F: FnMut(&K8sAuditEvent<'_>, &Position<'_>),
{
    fn event(&mut self, event: &K8sAuditEvent<'_>, at: &Position<'_>) {
        self(event, at);
    }
}

/// How [`Ingestor::follow`] tails a file.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to wait at the end of the file before looking again.
    pub poll_interval: Duration,
    /// Start at the current end of the file instead of its beginning.
    pub from_end: bool,
    /// Set to stop following (checked whenever the end of the file is reached).
    pub stop: Arc<AtomicBool>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            from_end: false,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Reads audit events from inputs into a [`Sink`].
#[derive(Debug, Default)]
pub struct Ingestor {
    opts: IngestOptions,
    stats: IngestStats,
}

impl Ingestor {
    /// An ingestor with these limits.
    pub fn new(opts: IngestOptions) -> Self {
        Self {
            opts,
            stats: IngestStats::default(),
        }
    }

    /// What was read so far, over all inputs.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }

    /// Takes the statistics, leaving zeroes.
    pub fn take_stats(&mut self) -> IngestStats {
        std::mem::take(&mut self.stats)
    }

    /// Reads a file, or stdin for `-`.
    pub fn read_path(&mut self, path: &Path, sink: &mut dyn Sink) -> Result<(), IngestError> {
        let name = path.display().to_string();
        if name == "-" {
            let stdin = io::stdin();
            let mut r = BufReader::with_capacity(READ_CHUNK, stdin.lock());
            return self.read(&mut r, &name, sink);
        }
        let f = File::open(path).map_err(|source| IngestError::Io {
            input: name.clone(),
            source,
        })?;
        let mut r = BufReader::with_capacity(READ_CHUNK, f);
        self.read(&mut r, &name, sink)
    }

    /// Reads one input named `name` (for messages).
    pub fn read(
        &mut self,
        input: &mut dyn BufRead,
        name: &str,
        sink: &mut dyn Sink,
    ) -> Result<(), IngestError> {
        let io_err = |source| IngestError::Io {
            input: name.to_string(),
            source,
        };
        let head = input.fill_buf().map_err(io_err)?;
        if head.starts_with(&[0x1f, 0x8b]) {
            let dec = flate2::bufread::MultiGzDecoder::new(input);
            let mut r = BufReader::with_capacity(READ_CHUNK, dec);
            return self.read_framed(&mut r, name, sink);
        }
        self.read_framed(input, name, sink)
    }

    fn read_framed(
        &mut self,
        input: &mut dyn BufRead,
        name: &str,
        sink: &mut dyn Sink,
    ) -> Result<(), IngestError> {
        let io_err = |source| IngestError::Io {
            input: name.to_string(),
            source,
        };
        // Skip leading blank space (and a byte order mark) to see the first value.
        let mut skipped_lines = 0u64;
        let first = loop {
            let buf = input.fill_buf().map_err(io_err)?;
            if buf.is_empty() {
                return Ok(());
            }
            if buf.starts_with(b"\xef\xbb\xbf") {
                input.consume(3);
                continue;
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    skipped_lines += memchr::memchr_iter(b'\n', &buf[..i]).count() as u64;
                    let first = buf[i];
                    let doc =
                        first == b'[' || (first == b'{' && !first_line_is_complete(&buf[i..]));
                    break doc;
                }
                None => {
                    skipped_lines += memchr::memchr_iter(b'\n', buf).count() as u64;
                    let n = buf.len();
                    input.consume(n);
                }
            }
        };
        if first {
            let mut sp = Splitter::new(self.opts.max_document_bytes, skipped_lines);
            loop {
                let buf = input.fill_buf().map_err(io_err)?;
                if buf.is_empty() {
                    break;
                }
                sp.feed(buf, &mut |line, item| self.item(item, name, line, sink));
                let n = buf.len();
                input.consume(n);
            }
            sp.finish(&mut |line, item| self.item(item, name, line, sink));
        } else {
            let mut asm = LineAssembler::new(self.opts.max_line_bytes);
            asm.line = skipped_lines;
            loop {
                let buf = input.fill_buf().map_err(io_err)?;
                if buf.is_empty() {
                    break;
                }
                asm.feed(buf, &mut |line, item| self.item(item, name, line, sink));
                let n = buf.len();
                input.consume(n);
            }
            asm.finish(&mut |line, item| self.item(item, name, line, sink));
        }
        Ok(())
    }

    /// Tails a growing JSON-lines file until `opts.stop` is set: reads what is there, then
    /// polls for more. When another file appears under the path (log rotation), the old one is
    /// read to its end and the new one from its start; when the file shrinks (truncation), it
    /// is read again from its start. A missing file (between rotation and re-creation) is
    /// waited for.
    pub fn follow(
        &mut self,
        path: &Path,
        opts: &FollowOptions,
        sink: &mut dyn Sink,
    ) -> Result<(), IngestError> {
        let name = path.display().to_string();
        let io_err = |source| IngestError::Io {
            input: name.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut id = file_id(&file.metadata().map_err(io_err)?);
        let mut pos: u64 = 0;
        if opts.from_end {
            pos = file.seek(SeekFrom::End(0)).map_err(io_err)?;
        }
        let mut asm = LineAssembler::new(self.opts.max_line_bytes);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = file.read(&mut buf).map_err(io_err)?;
            if n > 0 {
                pos += n as u64;
                asm.feed(&buf[..n], &mut |line, item| {
                    self.item(item, &name, line, sink);
                });
                continue;
            }
            if opts.stop.load(Ordering::Relaxed) {
                asm.finish(&mut |line, item| self.item(item, &name, line, sink));
                return Ok(());
            }
            if let Ok(meta) = std::fs::metadata(path) {
                if file_id(&meta) != id {
                    // Rotated: finish the old file, then start on the new one.
                    loop {
                        let n = file.read(&mut buf).map_err(io_err)?;
                        if n == 0 {
                            break;
                        }
                        asm.feed(&buf[..n], &mut |line, item| {
                            self.item(item, &name, line, sink);
                        });
                    }
                    asm.finish(&mut |line, item| self.item(item, &name, line, sink));
                    match File::open(path) {
                        Ok(f) => {
                            id = file_id(&f.metadata().map_err(io_err)?);
                            file = f;
                            pos = 0;
                            asm = LineAssembler::new(self.opts.max_line_bytes);
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(e)),
                    }
                } else if meta.len() < pos {
                    // Truncated in place: what was written before is gone.
                    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
                    pos = 0;
                    asm = LineAssembler::new(self.opts.max_line_bytes);
                    continue;
                }
            }
            sink.idle();
            std::thread::sleep(opts.poll_interval);
        }
    }

    fn problem(&mut self, kind: ProblemKind, input: &str, line: u64, message: String) {
        match kind {
            ProblemKind::Malformed => self.stats.malformed += 1,
            ProblemKind::Oversized => self.stats.rejected += 1,
            ProblemKind::Unrecognized => self.stats.unrecognized += 1,
        }
        if self.stats.problems.len() < self.opts.max_problems {
            self.stats.problems.push(Problem {
                input: input.to_string(),
                line,
                kind,
                message,
            });
        }
    }

    fn item(&mut self, item: Item<'_>, input: &str, line: u64, sink: &mut dyn Sink) {
        match item {
            Item::Value(bytes) => self.value_bytes(bytes, input, line, sink),
            Item::Oversized(limit) => self.problem(
                ProblemKind::Oversized,
                input,
                line,
                format!("longer than {limit} bytes: skipped"),
            ),
            Item::Truncated => self.problem(
                ProblemKind::Malformed,
                input,
                line,
                "truncated JSON at the end of the input".into(),
            ),
            Item::Garbage => self.problem(
                ProblemKind::Malformed,
                input,
                line,
                "text between JSON values: skipped".into(),
            ),
        }
    }

    fn value_bytes(&mut self, bytes: &[u8], input: &str, line: u64, sink: &mut dyn Sink) {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                return self.problem(
                    ProblemKind::Malformed,
                    input,
                    line,
                    format!("not UTF-8: {e}"),
                );
            }
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let text = strip_time_prefix(text);
        let at = Position { input, line };
        self.value(text, &at, None, 0, sink);
    }

    /// One JSON value: an event, or an envelope of events.
    fn value(
        &mut self,
        text: &str,
        at: &Position<'_>,
        cluster: Option<&str>,
        depth: u8,
        sink: &mut dyn Sink,
    ) {
        if depth > MAX_NESTING {
            return self.problem(
                ProblemKind::Unrecognized,
                at.input,
                at.line,
                "envelopes nested too deeply".into(),
            );
        }
        let text = text.trim();
        if !text.starts_with(['{', '[']) {
            let (kind, message) = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => (
                    ProblemKind::Unrecognized,
                    "a JSON value that is not an object".to_string(),
                ),
                Err(e) => (ProblemKind::Malformed, json_msg(&e)),
            };
            return self.problem(kind, at.input, at.line, message);
        }
        if text.starts_with('[') {
            return match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(items) => {
                    for v in items {
                        self.value(v.get(), at, cluster, depth + 1, sink);
                    }
                }
                Err(e) => self.problem(ProblemKind::Malformed, at.input, at.line, json_msg(&e)),
            };
        }
        let err = match K8sAuditEvent::parse_relaxed(text) {
            Ok(ev) => {
                let ev = match cluster {
                    Some(c) => ev.with_cluster_name(c),
                    None => ev,
                };
                self.stats.events += 1;
                sink.event(&ev, at);
                return;
            }
            Err(e) => e,
        };
        if let AuditEventError::Json(e) = &err
            && e.to_string().starts_with("trailing characters")
        {
            // Concatenated values on one line (gzip'd payloads written back to back).
            let mut values = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
            for v in values.by_ref() {
                match v {
                    Ok(v) => self.value(v.get(), at, cluster, depth + 1, sink),
                    Err(e) => {
                        return self.problem(
                            ProblemKind::Malformed,
                            at.input,
                            at.line,
                            json_msg(&e),
                        );
                    }
                }
            }
            return;
        }
        match serde_json::from_str::<Envelope<'_>>(text) {
            Ok(env) => {
                if !self.envelope(&env, text, at, cluster, depth, sink) {
                    let message = match err {
                        AuditEventError::Json(e) => json_msg(&e),
                        _ => "not an audit event or a known export of audit events".into(),
                    };
                    self.problem(ProblemKind::Unrecognized, at.input, at.line, message);
                }
            }
            Err(e) => {
                let message = match err {
                    AuditEventError::Json(first) => json_msg(&first),
                    _ => json_msg(&e),
                };
                self.problem(ProblemKind::Malformed, at.input, at.line, message);
            }
        }
    }

    /// Handles a known envelope; false when `env` is none.
    fn envelope(
        &mut self,
        env: &Envelope<'_>,
        text: &str,
        at: &Position<'_>,
        cluster: Option<&str>,
        depth: u8,
        sink: &mut dyn Sink,
    ) -> bool {
        let depth = depth + 1;
        if let Some(records) = env.records.or(env.items) {
            self.value(records.get(), at, cluster, depth, sink);
            return true;
        }
        if let Some(events) = env.log_events.or(env.events) {
            let group = env.log_group.and_then(raw_string);
            let eks = group.as_deref().and_then(eks_cluster_from_log_group);
            let cluster = eks.or(cluster);
            match serde_json::from_str::<Vec<LogEvent<'_>>>(events.get()) {
                Ok(list) => {
                    for e in list {
                        match e.message.and_then(raw_message) {
                            Some(m) => self.value(&m, at, cluster, depth, sink),
                            None => self.problem(
                                ProblemKind::Unrecognized,
                                at.input,
                                at.line,
                                "CloudWatch log event without a message".into(),
                            ),
                        }
                    }
                }
                Err(e) => self.problem(ProblemKind::Malformed, at.input, at.line, json_msg(&e)),
            }
            return true;
        }
        if env.proto_payload.is_some() {
            match gke::to_audit_event(text) {
                Ok(mapped) => {
                    let cluster = mapped.cluster.as_deref().or(cluster);
                    match K8sAuditEvent::parse_relaxed(&mapped.json) {
                        Ok(ev) => {
                            let ev = match cluster {
                                Some(c) => ev.with_cluster_name(c),
                                None => ev,
                            };
                            self.stats.events += 1;
                            sink.event(&ev, at);
                        }
                        Err(e) => self.problem(
                            ProblemKind::Malformed,
                            at.input,
                            at.line,
                            format!("GKE audit entry: {e}"),
                        ),
                    }
                }
                Err(why) => self.problem(ProblemKind::Unrecognized, at.input, at.line, why),
            }
            return true;
        }
        let category = env
            .category
            .or(env.category_upper)
            .and_then(raw_string)
            .unwrap_or_default();
        let resource_id = env
            .resource_id
            .or(env.resource_id_upper)
            .and_then(raw_string);
        let aks = resource_id
            .as_deref()
            .and_then(aks_cluster_from_resource_id);
        let cluster = aks.or(cluster);
        let audit_category = category.is_empty() || category.starts_with("kube-audit");
        if let Some(props) = env.properties
            && let Ok(p) = serde_json::from_str::<AksProperties<'_>>(props.get())
            && let Some(log) = p.log
        {
            if !audit_category {
                self.problem(
                    ProblemKind::Unrecognized,
                    at.input,
                    at.line,
                    format!("AKS diagnostic log of category {category:?}, not kube-audit"),
                );
                return true;
            }
            match raw_message(log) {
                Some(m) => self.value(&m, at, cluster, depth, sink),
                None => self.problem(
                    ProblemKind::Malformed,
                    at.input,
                    at.line,
                    "AKS properties.log is neither JSON text nor an object".into(),
                ),
            }
            return true;
        }
        if let Some(log) = env.log_s.and_then(raw_string) {
            if audit_category {
                self.value(&log, at, cluster, depth, sink);
            } else {
                self.problem(
                    ProblemKind::Unrecognized,
                    at.input,
                    at.line,
                    format!("AzureDiagnostics row of category {category:?}, not kube-audit"),
                );
            }
            return true;
        }
        if let Some(m) = env.message.and_then(raw_message) {
            self.value(&m, at, cluster, depth, sink);
            return true;
        }
        false
    }
}

/// The envelope fields looked at; every field is raw so that no shape fails the parse.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(borrow, default)]
    records: Option<&'a RawValue>,
    #[serde(borrow, default)]
    category: Option<&'a RawValue>,
    #[serde(rename = "Category", borrow, default)]
    category_upper: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    log_s: Option<&'a RawValue>,
    #[serde(rename = "resourceId", borrow, default)]
    resource_id: Option<&'a RawValue>,
    #[serde(rename = "ResourceId", borrow, default)]
    resource_id_upper: Option<&'a RawValue>,
    #[serde(rename = "logEvents", borrow, default)]
    log_events: Option<&'a RawValue>,
    #[serde(rename = "logGroup", borrow, default)]
    log_group: Option<&'a RawValue>,
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(rename = "protoPayload", borrow, default)]
    proto_payload: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
struct AksProperties<'a> {
    #[serde(borrow, default)]
    log: Option<&'a RawValue>,
}

/// A JSON string's text, borrowed when it has no escapes.
fn raw_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Ok(s) = serde_json::from_str::<&str>(raw.get()) {
        return Some(Cow::Borrowed(s));
    }
    serde_json::from_str::<String>(raw.get())
        .ok()
        .map(Cow::Owned)
}

/// A message that is either JSON text in a string or an embedded object.
fn raw_message(raw: &RawValue) -> Option<Cow<'_, str>> {
    let t = raw.get().trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return Some(Cow::Borrowed(raw.get()));
    }
    raw_string(raw)
}

fn json_msg(e: &serde_json::Error) -> String {
    format!("invalid JSON: {e}")
}

/// `/aws/eks/<cluster>/cluster` → `<cluster>`.
fn eks_cluster_from_log_group(group: &str) -> Option<&str> {
    let rest = group.strip_prefix("/aws/eks/")?;
    let (name, tail) = rest.split_once('/')?;
    (tail == "cluster" && !name.is_empty()).then_some(name)
}

/// `.../managedClusters/<name>` (any case) → `<name>`.
fn aks_cluster_from_resource_id(id: &str) -> Option<&str> {
    let mut segs = id.split('/');
    while let Some(s) = segs.next() {
        if s.eq_ignore_ascii_case("managedclusters") {
            return segs.next().filter(|n| !n.is_empty());
        }
    }
    None
}

/// Drops a timestamp written before the JSON (`2024-05-01T10:00:00.000Z {...}`).
fn strip_time_prefix(text: &str) -> &str {
    let b = text.as_bytes();
    if b.first().is_some_and(u8::is_ascii_digit)
        && let Some(i) = text.find(['{', '['])
    {
        let prefix = &text[..i];
        if prefix.len() <= 64 && prefix.ends_with(|c: char| c.is_ascii_whitespace()) {
            return &text[i..];
        }
    }
    text
}

/// Whether the JSON value starting at `buf[0]` closes on its first line, alone (so the input
/// is JSON lines rather than a pretty-printed document or concatenated objects). A first line longer than `buf` counts as
/// complete: it is a (long) JSON line.
fn first_line_is_complete(buf: &[u8]) -> bool {
    let end = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    let has_newline = end < buf.len();
    let mut sc = Scanner::default();
    for (i, &b) in buf[..end].iter().enumerate() {
        if sc.step(b) == Step::Closed {
            // Another value on the same line means concatenated documents.
            return buf[i + 1..end].iter().all(u8::is_ascii_whitespace);
        }
    }
    !has_newline
}

/// What the framers hand on: a value's bytes or a problem, with the line it starts on.
#[derive(Debug)]
enum Item<'b> {
    Value(&'b [u8]),
    Oversized(usize),
    Truncated,
    Garbage,
}

/// Splits a byte stream into lines of at most `max` bytes; longer lines are dropped while
/// they stream past.
struct LineAssembler {
    carry: Vec<u8>,
    skipping: bool,
    line: u64,
    max: usize,
}

impl LineAssembler {
    fn new(max: usize) -> Self {
        Self {
            carry: Vec::new(),
            skipping: false,
            line: 0,
            max,
        }
    }

    fn feed(&mut self, chunk: &[u8], on: &mut dyn FnMut(u64, Item<'_>)) {
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + off;
            self.line += 1;
            let part = &chunk[start..end];
            if self.skipping {
                self.skipping = false;
                on(self.line, Item::Oversized(self.max));
            } else if self.carry.is_empty() {
                if part.len() > self.max {
                    on(self.line, Item::Oversized(self.max));
                } else {
                    on(self.line, Item::Value(part));
                }
            } else if self.carry.len() + part.len() > self.max {
                self.carry.clear();
                on(self.line, Item::Oversized(self.max));
            } else {
                self.carry.extend_from_slice(part);
                on(self.line, Item::Value(&self.carry));
                self.carry.clear();
            }
            start = end + 1;
        }
        let rest = &chunk[start..];
        if !self.skipping && !rest.is_empty() {
            if self.carry.len() + rest.len() > self.max {
                self.carry.clear();
                self.carry.shrink_to(self.max.min(READ_CHUNK));
                self.skipping = true;
            } else {
                self.carry.extend_from_slice(rest);
            }
        }
    }

    /// The last line, which had no newline.
    fn finish(&mut self, on: &mut dyn FnMut(u64, Item<'_>)) {
        if self.skipping {
            self.skipping = false;
            self.line += 1;
            on(self.line, Item::Oversized(self.max));
        } else if !self.carry.is_empty() {
            self.line += 1;
            on(self.line, Item::Value(&self.carry));
            self.carry.clear();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Inside a value (or between values).
    Open,
    /// This byte closed the top-level value.
    Closed,
}

/// Tracks JSON nesting byte by byte: strings, escapes, brackets.
#[derive(Debug, Default)]
struct Scanner {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Scanner {
    fn step(&mut self, b: u8) -> Step {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Step::Open;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::Closed;
                }
            }
            _ => {}
        }
        Step::Open
    }
}

/// Splits a stream of JSON documents into top-level objects, and top-level arrays into their
/// elements, each of at most `max` bytes.
struct Splitter {
    max: usize,
    line: u64,
    /// Inside a top-level array, between or in elements.
    in_array: bool,
    /// In a value (an object, or an array element).
    in_value: bool,
    value_line: u64,
    scanner: Scanner,
    buf: Vec<u8>,
    skipping: bool,
    /// In text that is no JSON value, reported once.
    in_garbage: bool,
}

impl Splitter {
    fn new(max: usize, line: u64) -> Self {
        Self {
            max,
            line,
            in_array: false,
            in_value: false,
            value_line: 0,
            scanner: Scanner::default(),
            buf: Vec::new(),
            skipping: false,
            in_garbage: false,
        }
    }

    fn push(&mut self, b: u8) {
        if self.skipping {
            return;
        }
        if self.buf.len() >= self.max {
            self.buf.clear();
            self.buf.shrink_to(READ_CHUNK);
            self.skipping = true;
        } else {
            self.buf.push(b);
        }
    }

    fn feed(&mut self, chunk: &[u8], on: &mut dyn FnMut(u64, Item<'_>)) {
        for &b in chunk {
            if self.in_value {
                self.push(b);
                let scalar_end = self.scanner.depth == 0
                    && !self.scanner.in_string
                    && (b == b',' || b == b']' || b.is_ascii_whitespace());
                if scalar_end {
                    // A scalar array element ended: not an event, drop it.
                    self.in_value = false;
                    self.buf.clear();
                    self.skipping = false;
                    if b == b']' {
                        self.in_array = false;
                    }
                } else if self.scanner.step(b) == Step::Closed {
                    self.in_value = false;
                    if self.skipping {
                        self.skipping = false;
                        on(self.value_line, Item::Oversized(self.max));
                    } else {
                        on(self.value_line, Item::Value(&self.buf));
                    }
                    self.buf.clear();
                }
            } else {
                match b {
                    b if b.is_ascii_whitespace() || b == b',' => {}
                    b'[' if !self.in_array => {
                        self.in_array = true;
                        self.in_garbage = false;
                    }
                    b']' if self.in_array => self.in_array = false,
                    b'{' | b'[' => self.start(b),
                    b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' if self.in_array => {
                        // A scalar element: scanned to its end, then dropped.
                        self.start(b);
                    }
                    _ => {
                        if !self.in_garbage {
                            self.in_garbage = true;
                            on(self.line + 1, Item::Garbage);
                        }
                    }
                }
            }
            if b == b'\n' {
                self.line += 1;
            }
        }
    }

    fn start(&mut self, b: u8) {
        self.in_garbage = false;
        self.in_value = true;
        self.value_line = self.line + 1;
        self.scanner = Scanner::default();
        self.buf.clear();
        self.skipping = false;
        self.push(b);
        if self.scanner.step(b) == Step::Closed {
            self.in_value = false;
        }
    }

    fn finish(&mut self, on: &mut dyn FnMut(u64, Item<'_>)) {
        if self.in_value {
            self.in_value = false;
            if self.skipping {
                on(self.value_line, Item::Oversized(self.max));
            } else if self.scanner.depth == 0 && !self.scanner.in_string {
                // A scalar at the very end: nothing to report.
            } else {
                on(self.value_line, Item::Truncated);
            }
            self.buf.clear();
        }
    }
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn collect(
        input: &[u8],
        opts: IngestOptions,
    ) -> (Vec<(String, u64, Option<String>)>, IngestStats) {
        let mut out = Vec::new();
        let mut ing = Ingestor::new(opts);
        let mut sink = |ev: &K8sAuditEvent<'_>, at: &Position<'_>| {
            out.push((
                ev.audit_id().unwrap_or("-").to_string(),
                at.line,
                ev.cluster_name().map(str::to_string),
            ));
        };
        ing.read(&mut &input[..], "test", &mut sink).unwrap();
        (out, ing.take_stats())
    }

    fn ev(id: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","verb":"get","stage":"ResponseComplete"}}"#
        )
    }

    #[test]
    fn json_lines_with_bad_and_long_lines() {
        let long = format!(
            r#"{{"auditID":"x","verb":"get","pad":"{}"}}"#,
            "a".repeat(200)
        );
        let input = format!(
            "{}\n\n{{\"auditID\": \"2\", \"verb\n{}\r\n{long}\n[1,2]\n{}",
            ev("1"),
            ev("3"),
            ev("4")
        );
        let opts = IngestOptions {
            max_line_bytes: 150,
            ..Default::default()
        };
        let (events, stats) = collect(input.as_bytes(), opts);
        let ids: Vec<_> = events.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(ids, [("1", 1), ("3", 4), ("4", 7)]);
        assert_eq!(stats.malformed, 1);
        assert_eq!(stats.rejected, 1);
        // The two numbers of `[1,2]`.
        assert_eq!(stats.unrecognized, 2);
        assert_eq!(stats.problems[0].line, 3);
        assert_eq!(stats.problems[0].kind, ProblemKind::Malformed);
        assert_eq!(stats.problems[1].line, 5);
        assert_eq!(stats.problems[1].kind, ProblemKind::Oversized);
    }

    #[test]
    fn byte_order_marks_are_skipped() {
        for doc in [
            format!("\u{feff}{}\n", ev("1")),
            format!("\u{feff}[\n{}\n]", ev("1")),
        ] {
            let (events, stats) = collect(doc.as_bytes(), IngestOptions::default());
            assert_eq!(events.len(), 1, "{doc}");
            assert_eq!(stats.malformed, 0);
        }
    }

    #[test]
    fn truncated_last_line_is_malformed() {
        let input = format!("{}\n{}", ev("1"), &ev("2")[..30]);
        let (events, stats) = collect(input.as_bytes(), IngestOptions::default());
        assert_eq!(events.len(), 1);
        assert_eq!(stats.malformed, 1);
        assert_eq!(stats.problems[0].line, 2);
    }

    #[test]
    fn long_line_across_chunks_is_skipped_not_buffered() {
        let mut input = ev("1").into_bytes();
        input.push(b'\n');
        input.extend(std::iter::repeat_n(b'x', 3 * READ_CHUNK));
        input.push(b'\n');
        input.extend(ev("2").bytes());
        let mut r = BufReader::with_capacity(4096, &input[..]);
        let mut ids = Vec::new();
        let mut ing = Ingestor::new(IngestOptions {
            max_line_bytes: 10_000,
            ..Default::default()
        });
        let mut sink = |ev: &K8sAuditEvent<'_>, at: &Position<'_>| {
            ids.push((ev.audit_id().unwrap().to_string(), at.line));
        };
        ing.read(&mut r, "big", &mut sink).unwrap();
        assert_eq!(ids, [("1".to_string(), 1), ("2".to_string(), 3)]);
        assert_eq!(ing.stats().rejected, 1);
        assert_eq!(ing.stats().problems[0].line, 2);
    }

    #[test]
    fn arrays_lists_and_pretty_documents() {
        let input = format!(
            "[\n  {},\n  {}\n]\n{{\n \"kind\": \"EventList\", \"apiVersion\": \"audit.k8s.io/v1\",\n \"items\": [{}]\n}}\n",
            ev("1"),
            ev("2"),
            ev("3")
        );
        let (events, stats) = collect(input.as_bytes(), IngestOptions::default());
        let ids: Vec<_> = events.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(ids, [("1", 2), ("2", 3), ("3", 5)]);
        assert_eq!(
            stats,
            IngestStats {
                events: 3,
                ..Default::default()
            }
        );
    }

    #[test]
    fn truncated_document_is_reported() {
        let input = format!("[{},\n{}", ev("1"), &ev("2")[..20]);
        let (events, stats) = collect(input.as_bytes(), IngestOptions::default());
        assert_eq!(events.len(), 1);
        assert_eq!(stats.malformed, 1);
        assert_eq!(stats.problems[0].line, 2);
    }

    #[test]
    fn aks_records_and_categories() {
        let inner = serde_json::to_string(&ev("a1")).unwrap();
        let input = format!(
            r#"{{"records":[{{"category":"kube-audit","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS","properties":{{"log":{inner},"stream":"stdout"}}}},{{"category":"kube-apiserver","properties":{{"log":"I0101 started"}}}}]}}"#
        );
        let (events, stats) = collect(input.as_bytes(), IngestOptions::default());
        assert_eq!(events, [("a1".into(), 1, Some("PROD-AKS".into()))]);
        assert_eq!(stats.unrecognized, 1);
    }

    #[test]
    fn cloudwatch_subscription_payload_gzip() {
        use std::io::Write as _;
        let payload = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/eks/prod-eks/cluster", "logStream": "kube-apiserver-audit-1",
            "subscriptionFilters": ["f"],
            "logEvents": [
                {"id": "1", "timestamp": 1, "message": ev("c1")},
                {"id": "2", "timestamp": 2, "message": ev("c2")}
            ]
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(payload.to_string().as_bytes()).unwrap();
        // Firehose concatenates several gzip'd payloads into one object.
        let one = gz.finish().unwrap();
        let mut two = one.clone();
        two.extend_from_slice(&one);
        let (events, stats) = collect(&two, IngestOptions::default());
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e.2.as_deref() == Some("prod-eks")));
        assert_eq!(events[1].0, "c2");
        assert_eq!(stats.malformed, 0);
    }

    #[test]
    fn cloudwatch_export_lines_with_timestamps() {
        let input = format!("2024-05-01T10:00:00.000Z {}\n", ev("t1"));
        let (events, _) = collect(input.as_bytes(), IngestOptions::default());
        assert_eq!(events[0].0, "t1");
        let input = format!(
            r#"{{"events":[{{"logStreamName":"kube-apiserver-audit-x","timestamp":1,"message":{}}}],"searchedLogStreams":[]}}"#,
            serde_json::to_string(&ev("t2")).unwrap()
        );
        let (events, _) = collect(input.as_bytes(), IngestOptions::default());
        assert_eq!(events[0].0, "t2");
    }

    #[test]
    fn unrelated_json_is_unrecognized_not_malformed() {
        let (events, stats) = collect(
            b"{\"hello\":\"world\"}\n\"text\"\n",
            IngestOptions::default(),
        );
        assert!(events.is_empty());
        assert_eq!(stats.unrecognized, 2);
        assert_eq!(stats.malformed, 0);
    }

    #[test]
    fn cluster_names_from_envelopes() {
        assert_eq!(
            eks_cluster_from_log_group("/aws/eks/prod/cluster"),
            Some("prod")
        );
        assert_eq!(eks_cluster_from_log_group("/aws/lambda/x"), None);
        assert_eq!(
            aks_cluster_from_resource_id(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1"
            ),
            Some("c1")
        );
    }
}
