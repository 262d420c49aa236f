//! Alerts: rule matches turned into deduplicated, MITRE-mapped alerts.
//!
//! An [`Analyzer`] holds the compiled rules (the built-ins of [`crate::builtin`] first, then
//! any user rule files, which may tune the built-ins' `palisade_*` lists and macros) and a
//! [`Deduper`]. Each match becomes an [`Alert`] candidate keyed by alert type, cluster,
//! resource and user; candidates with the same key whose events fall in one window (10 minutes
//! from the first, by event time) fold into one alert with a `count` and the first event ids.
//! Several stages of one request (same `auditID`) count once. A rule's output is rendered only
//! for the event that opens an alert (it is the alert's message); events folded into an open
//! alert cost a hash lookup and a comparison of borrowed key parts.
//!
//! Memory stays flat whatever the input: at most [`DedupOptions::max_open`] alerts are open;
//! when the limit is hit the oldest open alert is closed early (it is emitted, never lost), and
//! alerts whose window has passed the newest event time are closed as events arrive. Event
//! ids are kept up to [`DedupOptions::max_event_ids`] per alert.
//!
//! A rule's alert type is the first of its tags that names a catalogued type (built-in rules
//! all do); other rules raise `CUSTOM:<rule name>` with the severity of their priority. MITRE
//! ids come from the rule's tags (`T1234` technique tags, validated against
//! `palisade_model::mitre`, and `mitre_<tactic>` tags), else from the catalogue.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use palisade_model::Severity;
use serde::{Serialize, Serializer};

use crate::builtin;
use crate::ingest::{IngestError, IngestOptions, IngestStats, Ingestor, Position, Sink};
use crate::k8saudit::K8sAuditEvent;
use crate::loader::{LoadError, Loader, RulesFile, Warning};
use crate::ruleset::{Priority, RuleSet};
use crate::util;

/// MITRE ATT&CK ids of an alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mitre {
    /// Tactic id (`TA0004`).
    pub tactic: Option<String>,
    /// Technique id (`T1611`).
    pub technique: Option<String>,
}

/// One alert: a detection, deduplicated over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Alert type id (`K8S_PrivilegedContainer`, or `CUSTOM:<rule>`).
    #[serde(rename = "type")]
    pub alert_type: String,
    /// Title of the alert type.
    pub title: String,
    /// The rule that fired.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// The rule's priority.
    #[serde(serialize_with = "ser_priority")]
    pub priority: Priority,
    /// MITRE ATT&CK tactic and technique.
    pub mitre: Mitre,
    /// How many events (distinct requests) the alert stands for.
    pub count: u64,
    /// Of `count`, the events not reported by an earlier emission of this alert (live use:
    /// see [`DedupOptions::emit_on_open`] and [`Analyzer::report_open`]); all of them when
    /// the alert leaves the analyzer once.
    #[serde(skip)]
    pub new_events: u64,
    /// The first events' ids (`auditID`, or `input:line` without one).
    pub event_ids: Vec<String>,
    /// Time of the first event, nanoseconds since the epoch (RFC 3339 in JSON).
    #[serde(serialize_with = "ser_time")]
    pub first_seen: i64,
    /// Time of the last event, nanoseconds since the epoch (RFC 3339 in JSON).
    #[serde(serialize_with = "ser_time")]
    pub last_seen: i64,
    /// The target: `namespace/resource/name[/subresource]`, or the request path.
    pub resource: String,
    /// The same target in its parts, as the event's `objectRef` names them.
    #[serde(skip)]
    pub target: Target,
    /// The requesting user.
    pub user: String,
    /// The cluster, when the input names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The rule's output for the first event.
    pub message: String,
    /// The first event's raw JSON (at most [`MAX_EVENT_BYTES`], cut at a character boundary
    /// when longer), kept only with [`DedupOptions::keep_event`]: the evidence a reviewer
    /// reads beside the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// What the alert type means.
    pub description: String,
    /// What to do about it.
    pub remediation: String,
}

fn ser_priority<S: Serializer>(p: &Priority, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

fn ser_time<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&util::format_iso8601(*t))
}

impl Alert {
    /// The first event's time as RFC 3339.
    pub fn first_seen_rfc3339(&self) -> String {
        util::format_iso8601(self.first_seen)
    }

    /// The last event's time as RFC 3339.
    pub fn last_seen_rfc3339(&self) -> String {
        util::format_iso8601(self.last_seen)
    }
}

/// What an alert is about, in parts: the event's `objectRef` (the parts it has), or the
/// request path when it has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Namespace (none for cluster-scoped resources).
    pub namespace: Option<String>,
    /// API resource, plural (`pods`, `clusterrolebindings`).
    pub resource: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`exec`, `log`).
    pub subresource: Option<String>,
    /// The request path (without query), when the event names no resource.
    pub path: Option<String>,
}

/// How alerts are deduplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupOptions {
    /// Events of one key within this time of the first fold into one alert.
    pub window: Duration,
    /// Most alerts kept open at once.
    pub max_open: usize,
    /// Most event ids kept per alert.
    pub max_event_ids: usize,
    /// Emit each alert as soon as it opens (count 1) as well as when it closes (only if more
    /// events were folded in), for live use; otherwise alerts are emitted when they close.
    pub emit_on_open: bool,
    /// Keep the raw JSON of the event that opens each alert ([`Alert::event`]). With
    /// `emit_on_open` it leaves with the opening alert and is not held while the alert is
    /// open; without, each open alert holds up to [`MAX_EVENT_BYTES`].
    pub keep_event: bool,
}

/// Most bytes of an event kept as an alert's evidence.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// `raw` cut to at most [`MAX_EVENT_BYTES`] at a character boundary.
fn evidence_of(raw: &str) -> String {
    let mut end = raw.len().min(MAX_EVENT_BYTES);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw[..end].to_string()
}

impl Default for DedupOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(600),
            max_open: 50_000,
            max_event_ids: 20,
            emit_on_open: false,
            keep_event: false,
        }
    }
}

/// What identifies an alert for deduplication, borrowed from the event.
#[derive(Debug, Clone, Copy)]
pub struct AlertKey<'a> {
    /// Alert type id.
    pub alert_type: &'a str,
    /// Cluster name.
    pub cluster: Option<&'a str>,
    /// Resource parts (`namespace`, `resource`, `name`, `subresource`, or the path).
    pub resource: [Option<&'a str>; 4],
    /// User name.
    pub user: &'a str,
}

impl AlertKey<'_> {
    fn hash64(&self, state: &impl BuildHasher) -> u64 {
        let mut h = state.build_hasher();
        self.alert_type.hash(&mut h);
        self.cluster.hash(&mut h);
        self.resource.hash(&mut h);
        self.user.hash(&mut h);
        h.finish()
    }

    fn resource_string(&self) -> String {
        let mut out = String::new();
        for p in self.resource.iter().flatten().filter(|p| !p.is_empty()) {
            if !out.is_empty() && !p.starts_with('/') {
                out.push('/');
            }
            out.push_str(p);
        }
        out
    }

    fn matches(&self, a: &Alert) -> bool {
        a.alert_type == self.alert_type
            && a.cluster.as_deref() == self.cluster
            && a.user == self.user
            && self.resource_is(&a.resource)
    }

    /// Whether [`AlertKey::resource_string`] would be `s`, without building it.
    fn resource_is(&self, mut s: &str) -> bool {
        let mut first = true;
        for p in self.resource.iter().flatten().filter(|p| !p.is_empty()) {
            if !first && !p.starts_with('/') {
                match s.strip_prefix('/') {
                    Some(rest) => s = rest,
                    None => return false,
                }
            }
            match s.strip_prefix(*p) {
                Some(rest) => s = rest,
                None => return false,
            }
            first = false;
        }
        s.is_empty()
    }
}

/// The open-alert table's hasher: its keys are already [`AlertKey`] hashes, so it passes them
/// through instead of hashing them again.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed (`write_u64`); anything else is folded in byte-wise.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug)]
struct Open {
    alert: Alert,
    generation: u64,
    last_id: String,
    /// `count` as of the alert's last emission (0 when it has not left yet).
    reported: u64,
}

/// Folds alert candidates into deduplicated alerts with bounded memory.
#[derive(Debug)]
pub struct Deduper {
    opts: DedupOptions,
    /// Boxed: the table churns (one alert closes as another opens once `max_open` is
    /// reached) and rehashes now and then; moving pointers is cheaper than moving alerts.
    open: HashMap<u64, Box<Open>, BuildHasherDefault<KeyHashHasher>>,
    /// Hashes alert keys; seeded per deduper, so crafted names cannot collide on purpose.
    key_hasher: foldhash::fast::RandomState,
    /// Open alerts in opening order: (key, generation, first_seen).
    order: VecDeque<(u64, u64, i64)>,
    generation: u64,
    watermark: i64,
    out: Vec<Alert>,
}

impl Deduper {
    /// A deduper with these options.
    pub fn new(opts: DedupOptions) -> Self {
        Self {
            opts,
            open: HashMap::default(),
            key_hasher: foldhash::fast::RandomState::default(),
            order: VecDeque::new(),
            generation: 0,
            watermark: i64::MIN,
            out: Vec::new(),
        }
    }

    fn window_nanos(&self) -> i64 {
        i64::try_from(self.opts.window.as_nanos()).unwrap_or(i64::MAX)
    }

    /// How many alerts are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// One detection at event time `time` (nanoseconds) of event `event_id`; `make` builds
    /// the alert (count 1) when a new one opens.
    pub fn observe(
        &mut self,
        key: &AlertKey<'_>,
        time: i64,
        event_id: &str,
        make: impl FnOnce() -> Alert,
    ) {
        self.advance(time);
        let h = key.hash64(&self.key_hasher);
        let window = self.window_nanos();
        if let Some(o) = self.open.get_mut(&h) {
            let within = time.saturating_sub(o.alert.first_seen) <= window;
            if within && key.matches(&o.alert) {
                if o.last_id == event_id || o.alert.event_ids.iter().any(|id| id == event_id) {
                    // Another stage of a request already counted.
                    o.alert.last_seen = o.alert.last_seen.max(time);
                    return;
                }
                o.alert.count += 1;
                o.alert.first_seen = o.alert.first_seen.min(time);
                o.alert.last_seen = o.alert.last_seen.max(time);
                if o.alert.event_ids.len() < self.opts.max_event_ids {
                    o.alert.event_ids.push(event_id.to_string());
                }
                event_id.clone_into(&mut o.last_id);
                return;
            }
            // The window is over (or another key hashed alike): close and start anew.
            if let Some(o) = self.open.remove(&h) {
                self.close(*o);
            }
        }
        while self.open.len() >= self.opts.max_open.max(1) {
            if !self.evict_oldest() {
                break;
            }
        }
        let mut alert = make();
        alert.count = 1;
        alert.new_events = 1;
        alert.first_seen = time;
        alert.last_seen = time;
        alert.event_ids = vec![event_id.to_string()];
        alert.event_ids.truncate(self.opts.max_event_ids);
        if self.opts.emit_on_open {
            // The evidence leaves with the opening alert; the open one does not hold it.
            let event = alert.event.take();
            let mut opened = alert.clone();
            opened.event = event;
            self.out.push(opened);
        }
        self.generation += 1;
        self.order.push_back((h, self.generation, time));
        self.open.insert(
            h,
            Box::new(Open {
                alert,
                generation: self.generation,
                last_id: event_id.to_string(),
                reported: u64::from(self.opts.emit_on_open),
            }),
        );
    }

    /// Moves the clock to `time` (if later) and closes the alerts whose window has passed.
    pub fn advance(&mut self, time: i64) {
        if time <= self.watermark {
            return;
        }
        self.watermark = time;
        let window = self.window_nanos();
        while let Some(&(h, generation, first)) = self.order.front() {
            if self.watermark.saturating_sub(first) <= window {
                break;
            }
            self.order.pop_front();
            if let Entry::Occupied(e) = self.open.entry(h)
                && e.get().generation == generation
            {
                let o = e.remove();
                self.close(*o);
            }
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((h, generation, _)) = self.order.pop_front() {
            if let Entry::Occupied(e) = self.open.entry(h)
                && e.get().generation == generation
            {
                let o = e.remove();
                self.close(*o);
                return true;
            }
        }
        false
    }

    fn close(&mut self, o: Open) {
        let mut alert = o.alert;
        if alert.count > o.reported {
            alert.new_events = alert.count - o.reported;
            self.out.push(alert);
        }
    }

    /// Emits every open alert that folded in events since it last left (a copy with those
    /// as `new_events`, `count` the total so far), so a live consumer's counts stay current
    /// while the window is open.
    pub fn report_open(&mut self) {
        for o in self.open.values_mut() {
            if o.alert.count > o.reported {
                let mut update = o.alert.clone();
                update.new_events = o.alert.count - o.reported;
                update.event = None;
                o.reported = o.alert.count;
                self.out.push(update);
            }
        }
    }

    /// Alerts emitted so far (closed ones, and opened ones with `emit_on_open`).
    pub fn take(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.out)
    }

    /// Closes every open alert and returns everything not yet taken, oldest first.
    pub fn finish(&mut self) -> Vec<Alert> {
        while self.evict_oldest() {}
        self.open.clear();
        self.order.clear();
        let mut out = self.take();
        out.sort_by(|a, b| {
            (a.first_seen, &a.alert_type, &a.resource).cmp(&(
                b.first_seen,
                &b.alert_type,
                &b.resource,
            ))
        });
        out
    }
}

/// What an [`Analyzer`] is made of.
#[derive(Debug, Clone)]
pub struct AnalyzerOptions {
    /// Load the built-in rules (before the user's).
    pub builtin: bool,
    /// Falco rule files to load (after the built-ins).
    pub rules: Vec<RulesFile>,
    /// Deduplication.
    pub dedup: DedupOptions,
}

impl Default for AnalyzerOptions {
    fn default() -> Self {
        Self {
            builtin: true,
            rules: Vec::new(),
            dedup: DedupOptions::default(),
        }
    }
}

/// Counts of an [`Analyzer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AnalyzerStats {
    /// Events evaluated.
    pub events: u64,
    /// Rule matches (before deduplication).
    pub matches: u64,
}

/// What an alert type means, per rule.
#[derive(Debug)]
struct RuleMeta {
    alert_type: String,
    title: String,
    severity: Severity,
    mitre: Mitre,
    description: String,
    remediation: String,
}

/// The tactic ids of Falco's `mitre_*` tags.
const TACTIC_TAGS: &[(&str, &str)] = &[
    ("mitre_initial_access", "TA0001"),
    ("mitre_execution", "TA0002"),
    ("mitre_persistence", "TA0003"),
    ("mitre_privilege_escalation", "TA0004"),
    ("mitre_defense_evasion", "TA0005"),
    ("mitre_credential_access", "TA0006"),
    ("mitre_discovery", "TA0007"),
    ("mitre_lateral_movement", "TA0008"),
    ("mitre_collection", "TA0009"),
    ("mitre_exfiltration", "TA0010"),
    ("mitre_command_and_control", "TA0011"),
    ("mitre_impact", "TA0040"),
    ("mitre_resource_development", "TA0042"),
    ("mitre_reconnaissance", "TA0043"),
];

/// The tactic (from a `mitre_<tactic>` tag) and technique (a `T1234[.001]` tag palisade's
/// MITRE table knows) of a rule's tags; the tactic defaults to the technique's first.
pub fn mitre_from_tags(tags: &[String]) -> (Option<&'static str>, Option<&'static str>) {
    let technique = tags
        .iter()
        .find_map(|t| palisade_model::mitre::technique(t.trim()))
        .map(|t| t.id);
    let tactic = tags
        .iter()
        .find_map(|t| {
            TACTIC_TAGS
                .iter()
                .find(|(name, _)| t.trim().eq_ignore_ascii_case(name))
                .map(|(_, id)| *id)
        })
        .or_else(|| {
            technique
                .and_then(palisade_model::mitre::technique)
                .and_then(|t| t.tactics.first().copied())
        });
    (tactic, technique)
}

/// The severity of a Falco priority, for rules outside the catalogue.
pub fn severity_of_priority(p: Priority) -> Severity {
    match p {
        Priority::Emergency | Priority::Alert | Priority::Critical => Severity::Critical,
        Priority::Error => Severity::High,
        Priority::Warning => Severity::Medium,
        Priority::Notice => Severity::Low,
        Priority::Informational | Priority::Debug => Severity::Informational,
    }
}

fn rule_meta(rule: &crate::ruleset::Rule) -> RuleMeta {
    let (tactic, technique) = mitre_from_tags(&rule.tags);
    let catalogued = rule.tags.iter().find_map(|t| builtin::alert_type(t.trim()));
    match catalogued {
        Some(t) => {
            let (tactic, technique) = match technique {
                Some(tech) => (tactic, Some(tech)),
                None => (Some(t.tactic), Some(t.technique)),
            };
            RuleMeta {
                alert_type: t.id.to_string(),
                title: t.title.to_string(),
                severity: t.severity,
                mitre: Mitre {
                    tactic: tactic.map(str::to_string),
                    technique: technique.map(str::to_string),
                },
                description: t.description.to_string(),
                remediation: t.remediation.to_string(),
            }
        }
        None => RuleMeta {
            alert_type: format!("CUSTOM:{}", rule.name),
            title: rule.name.clone(),
            severity: severity_of_priority(rule.priority),
            mitre: Mitre {
                tactic: tactic.map(str::to_string),
                technique: technique.map(str::to_string),
            },
            description: rule.desc.trim().to_string(),
            remediation: String::new(),
        },
    }
}

/// Evaluates audit events against the rules and deduplicates the matches into alerts.
///
/// ```
/// use palisade_detect::{K8sAuditEvent, alert::{Analyzer, AnalyzerOptions}};
///
/// let (mut an, warnings) = Analyzer::new(AnalyzerOptions::default())?;
/// assert!(warnings.is_empty());
/// let ev = K8sAuditEvent::parse(r#"{"auditID":"1","verb":"list","stage":"ResponseComplete",
///   "user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"palisade-canary"},
///   "stageTimestamp":"2024-05-01T10:00:00Z"}"#)?;
/// an.process(&ev, None);
/// let alerts = an.finish();
/// assert_eq!(alerts[0].alert_type, "K8S_TestAlert");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Analyzer {
    rules: RuleSet,
    /// By rule index.
    meta: Vec<Arc<RuleMeta>>,
    /// By alert type: the title, description and remediation are filled in as alerts leave
    /// the analyzer, so open alerts do not each hold a copy.
    meta_by_type: HashMap<String, Arc<RuleMeta>>,
    dedup: Deduper,
    stats: AnalyzerStats,
}

impl Analyzer {
    /// Loads the rules. Problems with single rules are warnings (the rule is skipped); only
    /// unreadable rule files are errors.
    pub fn new(opts: AnalyzerOptions) -> Result<(Self, Vec<Warning>), LoadError> {
        let mut files = Vec::with_capacity(opts.rules.len() + 1);
        if opts.builtin {
            files.push(builtin::builtin_rules_file());
        }
        files.extend(opts.rules);
        let (rules, warnings) = Loader::default().load(&files)?;
        Ok((Self::with_rules(rules, opts.dedup), warnings))
    }

    /// An analyzer over an already loaded rule set.
    pub fn with_rules(rules: RuleSet, dedup: DedupOptions) -> Self {
        let meta: Vec<Arc<RuleMeta>> = rules.rules().map(|r| Arc::new(rule_meta(r))).collect();
        let mut meta_by_type = HashMap::new();
        for m in &meta {
            meta_by_type
                .entry(m.alert_type.clone())
                .or_insert_with(|| Arc::clone(m));
        }
        Self {
            rules,
            meta,
            meta_by_type,
            dedup: Deduper::new(dedup),
            stats: AnalyzerStats::default(),
        }
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The counts so far.
    pub fn stats(&self) -> AnalyzerStats {
        self.stats
    }

    /// How many alerts are open (not yet emitted).
    pub fn open_alerts(&self) -> usize {
        self.dedup.open_count()
    }

    /// Evaluates one event; `at` names it when it has no `auditID`.
    pub fn process(&mut self, ev: &K8sAuditEvent<'_>, at: Option<&Position<'_>>) {
        self.stats.events += 1;
        let time = ev.timestamp();
        let keep_event = self.dedup.opts.keep_event;
        let mut matched = false;
        for (index, rule) in self.rules.matching(ev) {
            matched = true;
            self.stats.matches += 1;
            let Some(meta) = self.meta.get(index) else {
                continue;
            };
            let resource = match (ev.resource(), ev.request_uri()) {
                (Some(r), _) => [ev.namespace(), Some(r), ev.name(), ev.subresource()],
                (None, Some(uri)) => [Some(uri.split('?').next().unwrap_or(uri)), None, None, None],
                (None, None) => [None; 4],
            };
            let user = ev.user_name().unwrap_or("");
            let key = AlertKey {
                alert_type: &meta.alert_type,
                cluster: ev.cluster_name(),
                resource,
                user,
            };
            let id_buf;
            let event_id = match (ev.audit_id(), at) {
                (Some(id), _) => id,
                (None, Some(p)) => {
                    id_buf = p.to_string();
                    &id_buf
                }
                (None, None) => "",
            };
            self.dedup.observe(&key, time, event_id, || Alert {
                alert_type: meta.alert_type.clone(),
                title: String::new(),
                rule: rule.rule.name.clone(),
                severity: meta.severity,
                priority: rule.rule.priority,
                mitre: meta.mitre.clone(),
                count: 1,
                new_events: 1,
                event_ids: Vec::new(),
                first_seen: time,
                last_seen: time,
                resource: key.resource_string(),
                target: match (ev.resource(), &resource) {
                    (Some(_), [namespace, resource, name, subresource]) => Target {
                        namespace: namespace.map(str::to_owned),
                        resource: resource.map(str::to_owned),
                        name: name.map(str::to_owned),
                        subresource: subresource.map(str::to_owned),
                        path: None,
                    },
                    (None, [path, ..]) => Target {
                        path: path.map(str::to_owned),
                        ..Target::default()
                    },
                },
                user: user.to_string(),
                cluster: ev.cluster_name().map(str::to_string),
                // Rendered only for the event that opens the alert.
                message: rule.output.render_text(ev),
                event: keep_event.then(|| evidence_of(ev.raw())),
                description: String::new(),
                remediation: String::new(),
            });
        }
        if !matched {
            self.dedup.advance(time);
        }
    }

    /// Emits the open alerts that folded in events since they last left (see
    /// [`Deduper::report_open`]); take them with [`Analyzer::take_alerts`].
    pub fn report_open(&mut self) {
        self.dedup.report_open();
    }

    /// Moves the clock to `now` (nanoseconds since the epoch), closing alerts whose window
    /// has passed, for live input that goes quiet.
    pub fn tick(&mut self, now: i64) {
        self.dedup.advance(now);
    }

    /// The alerts emitted so far (see [`DedupOptions::emit_on_open`]).
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        let mut out = self.dedup.take();
        self.complete(&mut out);
        out
    }

    /// Closes every open alert; returns every alert not yet taken, oldest first.
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut out = self.dedup.finish();
        self.complete(&mut out);
        out
    }

    /// Fills in what alerts of a type share.
    fn complete(&self, alerts: &mut [Alert]) {
        for a in alerts {
            if let Some(m) = self.meta_by_type.get(&a.alert_type) {
                m.title.clone_into(&mut a.title);
                m.description.clone_into(&mut a.description);
                m.remediation.clone_into(&mut a.remediation);
            }
        }
    }
}

/// What [`analyze_paths`] found.
#[derive(Debug)]
pub struct Report {
    /// The alerts, oldest first.
    pub alerts: Vec<Alert>,
    /// Counts of events, input problems and matches.
    pub stats: ReportStats,
    /// The first input problems, with input and line.
    pub problems: Vec<crate::ingest::Problem>,
    /// Inputs that could not be read (the others were).
    pub errors: Vec<IngestError>,
    /// Warnings about rules that were skipped.
    pub warnings: Vec<Warning>,
}

/// Counts of a [`Report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReportStats {
    /// Audit events read.
    pub events: u64,
    /// Values that were not JSON, not UTF-8 or truncated.
    pub malformed: u64,
    /// Lines or documents over the size limit.
    pub rejected: u64,
    /// Valid JSON that is no audit event.
    pub unrecognized: u64,
    /// Rule matches, before deduplication.
    pub matches: u64,
}

impl ReportStats {
    /// The counts of an ingestor and an analyzer together.
    pub fn from_parts(ingest: &IngestStats, analyzer: AnalyzerStats) -> Self {
        Self {
            events: ingest.events,
            malformed: ingest.malformed,
            rejected: ingest.rejected,
            unrecognized: ingest.unrecognized,
            matches: analyzer.matches,
        }
    }
}

/// Reads every input (files, `-` for stdin) through one analyzer: the batch mode of
/// `palisade runtime analyze`. Unreadable inputs are reported in [`Report::errors`]; only
/// unreadable rule files fail the whole run.
pub fn analyze_paths<P: AsRef<std::path::Path>>(
    opts: AnalyzerOptions,
    ingest: IngestOptions,
    paths: &[P],
) -> Result<Report, LoadError> {
    let (mut analyzer, warnings) = Analyzer::new(opts)?;
    let mut ingestor = Ingestor::new(ingest);
    let mut errors = Vec::new();
    for p in paths {
        if let Err(e) = ingestor.read_path(p.as_ref(), &mut analyzer) {
            errors.push(e);
        }
    }
    let alerts = analyzer.finish();
    let istats = ingestor.take_stats();
    Ok(Report {
        alerts,
        stats: ReportStats::from_parts(&istats, analyzer.stats()),
        problems: istats.problems,
        errors,
        warnings,
    })
}

impl Sink for Analyzer {
    fn event(&mut self, event: &K8sAuditEvent<'_>, at: &Position<'_>) {
        self.process(event, Some(at));
    }

    fn idle(&mut self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        self.tick(now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key<'a>(name: &'a str, user: &'a str) -> AlertKey<'a> {
        AlertKey {
            alert_type: "K8S_X",
            cluster: None,
            resource: [Some("ns"), Some("pods"), Some(name), None],
            user,
        }
    }

    fn make(k: &AlertKey<'_>) -> Alert {
        Alert {
            alert_type: k.alert_type.into(),
            title: String::new(),
            rule: "r".into(),
            severity: Severity::Low,
            priority: Priority::Notice,
            mitre: Mitre::default(),
            count: 1,
            new_events: 1,
            event_ids: Vec::new(),
            first_seen: 0,
            last_seen: 0,
            resource: k.resource_string(),
            target: Target::default(),
            user: k.user.into(),
            cluster: None,
            message: String::new(),
            event: None,
            description: String::new(),
            remediation: String::new(),
        }
    }

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn folds_within_the_window_and_splits_after() {
        let mut d = Deduper::new(DedupOptions::default());
        let k = key("p", "alice");
        for (i, t) in [0, MIN, 2 * MIN, 11 * MIN].into_iter().enumerate() {
            d.observe(&k, t, &format!("e{i}"), || make(&k));
        }
        // The second stage of request e3 counts once.
        d.observe(&k, 11 * MIN + 1, "e3", || make(&k));
        d.observe(&key("p", "bob"), MIN, "b1", || make(&key("p", "bob")));
        let out = d.finish();
        let summary: Vec<_> = out
            .iter()
            .map(|a| {
                (
                    a.user.as_str(),
                    a.count,
                    a.event_ids.len(),
                    a.first_seen,
                    a.last_seen,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("alice", 3, 3, 0, 2 * MIN),
                ("bob", 1, 1, MIN, MIN),
                ("alice", 1, 1, 11 * MIN, 11 * MIN + 1)
            ]
        );
        assert_eq!(out[0].resource, "ns/pods/p");
    }

    #[test]
    fn memory_is_bounded_and_nothing_is_lost() {
        let opts = DedupOptions {
            max_open: 100,
            max_event_ids: 3,
            ..Default::default()
        };
        let mut d = Deduper::new(opts);
        let mut emitted = 0u64;
        // 200k events over 20k distinct keys, all within one window.
        for i in 0..200_000u64 {
            let name = format!("p{}", i % 20_000);
            let k = key(&name, "u");
            d.observe(&k, 0, &format!("e{i}"), || make(&k));
            assert!(d.open_count() <= 100);
            emitted += d.take().iter().map(|a| a.count).sum::<u64>();
        }
        emitted += d.finish().iter().map(|a| a.count).sum::<u64>();
        assert_eq!(emitted, 200_000);
    }

    #[test]
    fn the_opening_event_is_kept_as_evidence_when_asked() {
        let ev = |id: &str, t: &str| {
            format!(
                r#"{{"auditID":"{id}","verb":"list","stage":"ResponseComplete","user":{{"username":"alice"}},"objectRef":{{"resource":"pods","namespace":"palisade-canary"}},"stageTimestamp":"{t}","userAgent":"curl/8.0"}}"#
            )
        };
        let run = |keep_event: bool| {
            let (mut an, _) = Analyzer::new(AnalyzerOptions {
                dedup: DedupOptions {
                    emit_on_open: true,
                    keep_event,
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
            let mut out = Vec::new();
            for (id, t) in [("a", "2024-05-01T10:00:00Z"), ("b", "2024-05-01T10:01:00Z")] {
                let text = ev(id, t);
                an.process(&crate::K8sAuditEvent::parse(&text).unwrap(), None);
                out.extend(an.take_alerts());
            }
            out.extend(an.finish());
            out
        };
        let kept = run(true);
        assert_eq!(kept.len(), 2, "opened, then closed with count 2");
        let event = kept[0].event.as_deref().unwrap();
        let v: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(v["auditID"], "a");
        assert_eq!(v["userAgent"], "curl/8.0");
        assert_eq!(kept[1].count, 2);
        assert!(kept[1].event.is_none(), "not held while open");
        assert!(run(false).iter().all(|a| a.event.is_none()));
        let long = format!("{}é", "x".repeat(MAX_EVENT_BYTES - 1));
        let cut = evidence_of(&long);
        assert!(cut.len() <= MAX_EVENT_BYTES && long.starts_with(&cut));
    }

    #[test]
    fn live_updates_report_each_event_once() {
        let mut d = Deduper::new(DedupOptions {
            emit_on_open: true,
            ..Default::default()
        });
        let k = key("p", "u");
        let mut reported = 0;
        d.observe(&k, 0, "a", || make(&k));
        let opened = d.take();
        assert_eq!((opened[0].count, opened[0].new_events), (1, 1));
        reported += opened[0].new_events;
        d.report_open();
        assert!(d.take().is_empty(), "nothing new to report");
        for (i, id) in ["b", "c", "d"].iter().enumerate() {
            d.observe(&k, (i as i64 + 1) * MIN, id, || make(&k));
        }
        d.report_open();
        let update = d.take();
        assert_eq!((update[0].count, update[0].new_events), (4, 3));
        reported += update[0].new_events;
        d.observe(&k, 5 * MIN, "e", || make(&k));
        d.advance(30 * MIN);
        let closed = d.take();
        assert_eq!((closed[0].count, closed[0].new_events), (5, 1));
        reported += closed[0].new_events;
        assert_eq!(reported, 5, "every event reported exactly once");
        // Closing an alert whose events were all reported emits nothing more.
        d.observe(&k, 40 * MIN, "f", || make(&k));
        d.take();
        d.advance(60 * MIN);
        assert!(d.take().is_empty());
    }

    #[test]
    fn windows_close_as_time_passes_and_on_open_emits_early() {
        let mut d = Deduper::new(DedupOptions {
            emit_on_open: true,
            ..Default::default()
        });
        let k = key("p", "u");
        d.observe(&k, 0, "a", || make(&k));
        assert_eq!(d.take().len(), 1, "emitted when opened");
        d.observe(&k, MIN, "b", || make(&k));
        assert!(d.take().is_empty());
        d.advance(20 * MIN);
        let closed = d.take();
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].count, 2);
        assert_eq!(d.open_count(), 0);
    }

    #[test]
    fn mitre_tags() {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mitre_from_tags(&tags(&["k8s", "mitre_persistence", "T1098.006"])),
            (Some("TA0003"), Some("T1098.006"))
        );
        assert_eq!(
            mitre_from_tags(&tags(&["T1611"])),
            (Some("TA0004"), Some("T1611"))
        );
        // Unknown technique ids are not invented.
        assert_eq!(mitre_from_tags(&tags(&["T9999", "k8s"])), (None, None));
        assert_eq!(severity_of_priority(Priority::Warning), Severity::Medium);
    }
}
