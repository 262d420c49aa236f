//! Alerts as OCSF 1.3 Detection Findings (category 2 Findings, class_uid 2004, activity 1
//! Create): the finding carries the alert type, rule, MITRE ATT&CK tactic and technique,
//! first and last event times and count, the Kubernetes resource and the acting user.

use palisade_model::Severity;
use serde_json::{Value, json};

use super::{alert_uid, millis};
use crate::alert::Alert;

/// The OCSF schema version written.
pub const OCSF_VERSION: &str = "1.3.0";

fn severity_id(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// An alert as an OCSF Detection Finding.
pub fn detection_finding(a: &Alert) -> Value {
    let (sev_id, sev) = severity_id(a.severity);
    let uid = alert_uid(a);
    let mut attack = serde_json::Map::new();
    if let Some(t) = &a.mitre.tactic {
        let name = palisade_model::mitre::tactic_name(t).unwrap_or("");
        attack.insert("tactic".into(), json!({"uid": t, "name": name}));
    }
    if let Some(t) = &a.mitre.technique {
        let name = palisade_model::mitre::technique(t).map_or("", |x| x.name);
        let (base, sub) = match t.split_once('.') {
            Some((b, _)) => (b, true),
            None => (t.as_str(), false),
        };
        if sub {
            let base_name = palisade_model::mitre::technique(base).map_or("", |x| x.name);
            attack.insert("technique".into(), json!({"uid": base, "name": base_name}));
            attack.insert("sub_technique".into(), json!({"uid": t, "name": name}));
        } else {
            attack.insert("technique".into(), json!({"uid": t, "name": name}));
        }
    }
    let mut parts = a.resource.split('/');
    let resource = match (parts.next(), parts.next(), parts.next()) {
        (Some(ns), Some(kind), Some(name)) if !ns.is_empty() => {
            json!({"name": name, "type": kind, "namespace": ns, "uid": a.resource})
        }
        _ => json!({"name": a.resource, "type": "kubernetes", "uid": a.resource}),
    };
    let mut finding = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": sev_id,
        "severity": sev,
        "status_id": 1,
        "status": "New",
        "time": millis(a.last_seen),
        "count": a.count,
        "message": a.message,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "event_code": a.alert_type,
            "log_name": "k8s_audit",
            "product": {
                "name": "palisade",
                "vendor_name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": uid,
            "title": a.title,
            "desc": a.description,
            "types": [a.alert_type],
            "first_seen_time": millis(a.first_seen),
            "last_seen_time": millis(a.last_seen),
            "analytic": {"name": a.rule, "type_id": 1, "type": "Rule", "uid": a.alert_type},
            "attacks": if attack.is_empty() { json!([]) } else { json!([attack]) },
            "related_events": a.event_ids.iter().map(|id| json!({"uid": id})).collect::<Vec<_>>(),
        },
        "resources": [resource],
        "actor": {"user": {"name": a.user}},
        "unmapped": {"palisade_priority": a.priority.as_str()},
    });
    if !a.remediation.is_empty() {
        finding["remediation"] = json!({"desc": a.remediation});
    }
    if let Some(c) = &a.cluster {
        finding["unmapped"]["cluster"] = json!(c);
    }
    finding
}
