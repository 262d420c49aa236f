//! The compiled rule set: rules indexed by source and by equality constraints, evaluated
//! per event.
//!
//! Each enabled rule goes into one bucket of its source: if its condition pins one of the
//! source's index fields (`ka.target.resource = pods`, `ka.verb in (create, update)` as a
//! top-level conjunct, after macro expansion), into that field's bucket for each allowed
//! value; otherwise into the source's "always" bucket. An event reads its index fields once
//! and is tested only against the rules of the matching buckets, merged back into definition
//! order, so the first match is the one Falco would report first. What a rule requires of the
//! other index fields (a rule filed under `pods` that also needs `ka.verb = create`) is kept
//! as a filter checked against the values already read, so a `get pods` event skips the
//! pod-creation rules without evaluating their conditions.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::field::{Event, FieldRef, FieldValue};
use crate::matcher::{Node, OutputTemplate};

/// Index fields used per source, at most.
const MAX_INDEX_FIELDS: usize = 3;

/// A rule's priority, most severe first (Falco's syslog-like levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// `EMERGENCY`
    Emergency,
    /// `ALERT`
    Alert,
    /// `CRITICAL`
    Critical,
    /// `ERROR`
    Error,
    /// `WARNING`
    Warning,
    /// `NOTICE`
    Notice,
    /// `INFORMATIONAL` (also written `INFO`)
    Informational,
    /// `DEBUG`
    Debug,
}

impl Priority {
    /// Parses a priority, case-insensitively (`WARNING`, `warning`, `Info`).
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The name as Falco prints it (`Warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loaded rule, as the rule set describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule name.
    pub name: String,
    /// The description.
    pub desc: String,
    /// The priority.
    pub priority: Priority,
    /// The event source.
    pub source: String,
    /// The tags, in the order written.
    pub tags: Vec<String>,
    /// Whether the rule is evaluated.
    pub enabled: bool,
    /// The file that defined it.
    pub file: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) rule: Rule,
    pub(crate) node: Node,
    pub(crate) output: OutputTemplate,
}

/// A rule that fired on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'r> {
    /// The rule name.
    pub rule: &'r str,
    /// The rule's priority.
    pub priority: Priority,
    /// The rule's source.
    pub source: &'r str,
    /// The rule's tags.
    pub tags: &'r [String],
    /// The output template with every `%field` replaced by the event's value (`<NA>` when
    /// missing).
    pub output: String,
    /// Each field of the output template and its rendered value, in template order.
    pub output_fields: Vec<(&'r str, String)>,
}

#[derive(Debug, Clone, Default)]
struct SourceIndex {
    source: String,
    fields: Vec<FieldRef>,
    buckets: Vec<HashMap<Box<str>, Vec<u32>, foldhash::fast::RandomState>>,
    always: Vec<u32>,
    /// By rule id: the values the rule's condition requires of the index fields other than
    /// the one it is filed under (`ka.verb in (create, update)` of a rule filed under
    /// `ka.target.resource = pods`), checked before the condition is evaluated.
    filters: Vec<Box<[IndexFilter]>>,
}

/// An index field (by position) and the values a rule allows it.
type IndexFilter = (usize, Box<[Box<str>]>);

/// Compiled rules, ready to evaluate events.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    index: Vec<SourceIndex>,
    index_fields: HashMap<String, Vec<FieldRef>>,
}

impl RuleSet {
    pub(crate) fn new(
        rules: Vec<CompiledRule>,
        index_fields: HashMap<String, Vec<FieldRef>>,
    ) -> Self {
        let mut set = Self {
            rules,
            index: Vec::new(),
            index_fields,
        };
        set.rebuild_index();
        set
    }

    fn rebuild_index(&mut self) {
        let mut index: Vec<SourceIndex> = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !r.rule.enabled {
                continue;
            }
            let Ok(id) = u32::try_from(i) else { break };
            let pos = match index.iter().position(|s| s.source == r.rule.source) {
                Some(p) => p,
                None => {
                    let fields: Vec<FieldRef> = self
                        .index_fields
                        .get(&r.rule.source)
                        .map(|v| v.iter().take(MAX_INDEX_FIELDS).cloned().collect())
                        .unwrap_or_default();
                    index.push(SourceIndex {
                        source: r.rule.source.clone(),
                        buckets: vec![HashMap::default(); fields.len()],
                        fields,
                        always: Vec::new(),
                        filters: vec![Box::default(); self.rules.len()],
                    });
                    index.len() - 1
                }
            };
            let src = &mut index[pos];
            let mut placed = false;
            let mut filters = Vec::new();
            for (fi, (f, bucket)) in src.fields.iter().zip(src.buckets.iter_mut()).enumerate() {
                let Some(values) = r.node.constraint(f) else {
                    continue;
                };
                if placed {
                    let values: Box<[Box<str>]> =
                        values.into_iter().map(String::into_boxed_str).collect();
                    filters.push((fi, values));
                } else {
                    // An empty set means the rule can never match: it is left out.
                    for v in values {
                        bucket.entry(v.into_boxed_str()).or_default().push(id);
                    }
                    placed = true;
                }
            }
            if !placed {
                src.always.push(id);
            }
            if let Some(slot) = src.filters.get_mut(i) {
                *slot = filters.into_boxed_slice();
            }
        }
        self.index = index;
    }

    /// All loaded rules (enabled or not), in definition order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// A rule by name.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules().find(|r| r.name == name)
    }

    /// The number of loaded rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Enables or disables a rule by name; returns whether the rule exists.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        let mut found = false;
        for r in &mut self.rules {
            if r.rule.name == name {
                r.rule.enabled = enabled;
                found = true;
            }
        }
        if found {
            self.rebuild_index();
        }
        found
    }

    /// How many rules of a source are tested against every event of it (those no index
    /// field constrains), and how many are indexed.
    pub fn index_stats(&self, source: &str) -> (usize, usize) {
        self.index
            .iter()
            .find(|s| s.source == source)
            .map_or((0, 0), |s| {
                let mut indexed: Vec<u32> = s
                    .buckets
                    .iter()
                    .flat_map(|b| b.values().flatten().copied())
                    .collect();
                indexed.sort_unstable();
                indexed.dedup();
                (s.always.len(), indexed.len())
            })
    }

    /// The rules that fire on `event`, in definition order.
    pub fn evaluate<'s, 'e>(
        &'s self,
        event: &'e dyn Event,
    ) -> impl Iterator<Item = Match<'s>> + use<'s, 'e> {
        self.matching(event).map(move |(_, r)| {
            let (output, output_fields) = r.output.render(event);
            Match {
                rule: &r.rule.name,
                priority: r.rule.priority,
                source: &r.rule.source,
                tags: &r.rule.tags,
                output,
                output_fields,
            }
        })
    }

    /// The index and compiled rule of each rule that fires on `event`, in definition order,
    /// without rendering outputs (the analyzer renders one only when an alert opens).
    pub(crate) fn matching<'s, 'e>(
        &'s self,
        event: &'e dyn Event,
    ) -> impl Iterator<Item = (usize, &'s CompiledRule)> + use<'s, 'e> {
        let mut slices: [&'s [u32]; MAX_INDEX_FIELDS + 1] = [&[]; MAX_INDEX_FIELDS + 1];
        let mut keys: [Option<Cow<'e, str>>; MAX_INDEX_FIELDS] = [const { None }; MAX_INDEX_FIELDS];
        let mut filters = None;
        let source = event.event_source();
        if let Some(src) = self.index.iter().find(|s| s.source == source) {
            slices[0] = &src.always;
            filters = Some(&src.filters);
            for (i, (f, bucket)) in src.fields.iter().zip(&src.buckets).enumerate() {
                let key: Option<Cow<'e, str>> = match event.field(f) {
                    FieldValue::Str(s) => Some(s),
                    FieldValue::Num(n) => Some(Cow::Owned(n.to_string())),
                    FieldValue::Bool(true) => Some(Cow::Borrowed("true")),
                    FieldValue::Bool(false) => Some(Cow::Borrowed("false")),
                    _ => None,
                };
                if let Some(list) = key.as_deref().and_then(|k| bucket.get(k)) {
                    slices[i + 1] = list;
                }
                keys[i] = key;
            }
        }
        Candidates { slices }.filter_map(move |i| {
            let r = self.rules.get(i as usize)?;
            // A rule that requires index field values the event lacks cannot match.
            if let Some(fs) = filters.and_then(|f: &Vec<_>| f.get(i as usize)) {
                let ok = fs.iter().all(|(fi, values)| {
                    keys[*fi]
                        .as_deref()
                        .is_some_and(|k| values.iter().any(|v| &**v == k))
                });
                if !ok {
                    return None;
                }
            }
            r.node.eval(event).then_some((i as usize, r))
        })
    }
}

/// Merges sorted, disjoint slices of rule ids.
struct Candidates<'s> {
    slices: [&'s [u32]; MAX_INDEX_FIELDS + 1],
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let mut best: Option<(usize, u32)> = None;
        for (i, s) in self.slices.iter().enumerate() {
            if let Some(&h) = s.first()
                && best.is_none_or(|(_, b)| h < b)
            {
                best = Some((i, h));
            }
        }
        let (i, v) = best?;
        self.slices[i] = &self.slices[i][1..];
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_case_insensitively() {
        assert_eq!(Priority::parse("WARNING"), Some(Priority::Warning));
        assert_eq!(Priority::parse("Info"), Some(Priority::Informational));
        assert_eq!(
            Priority::parse("informational"),
            Some(Priority::Informational)
        );
        assert_eq!(Priority::parse("emergency"), Some(Priority::Emergency));
        assert_eq!(Priority::parse("loud"), None);
        assert!(Priority::Critical < Priority::Debug);
    }

    #[test]
    fn candidates_merge_in_order() {
        let a = [1u32, 5, 9];
        let b = [2u32, 3];
        let c = [7u32];
        let m: Vec<u32> = Candidates {
            slices: [&a, &b, &[], &c],
        }
        .collect();
        assert_eq!(m, [1, 2, 3, 5, 7, 9]);
    }
}
