//! Pod Security Standards as findings, through `palisade-pss` (the exact admission verdict).
//!
//! Every workload is evaluated at baseline and at restricted for the configured version.
//! Baseline violations become `pss-baseline-*` findings; restricted adds only the controls of
//! the restricted level (`pss-restricted-*`), so one problem is not reported twice.

use std::collections::HashMap;
use std::sync::OnceLock;

use palisade_inventory::Object;
use palisade_model::Finding;
use palisade_pss::Level;

use crate::{Ctx, finding};

/// Catalogue id of a PSA check: `pss-<level>-<check id in kebab case>`, without the level
/// suffix or prefix PSA puts in some ids (`capabilities_baseline`, `restrictedVolumes`).
pub(crate) fn finding_id(level: Level, check: &str) -> String {
    let mut kebab = String::with_capacity(check.len() + 8);
    for (i, ch) in check.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                kebab.push('-');
            }
            kebab.push(ch.to_ascii_lowercase());
        } else if ch == '_' {
            kebab.push('-');
        } else {
            kebab.push(ch);
        }
    }
    let level_name = level.as_str();
    let trimmed = kebab
        .strip_suffix(&format!("-{level_name}"))
        .or_else(|| kebab.strip_prefix(&format!("{level_name}-")))
        .unwrap_or(&kebab);
    format!("pss-{level_name}-{trimmed}")
}

/// PSA check id -> (level, catalogue id), built once.
fn ids() -> &'static HashMap<&'static str, (Level, &'static str)> {
    static IDS: OnceLock<HashMap<&'static str, (Level, &'static str)>> = OnceLock::new();
    IDS.get_or_init(|| {
        palisade_pss::checks()
            .into_iter()
            .filter_map(|c| {
                let id = finding_id(c.level(), c.id());
                let info = crate::catalog::info(&id)?;
                Some((c.id(), (c.level(), info.id)))
            })
            .collect()
    })
}

pub(crate) fn check(ctx: &Ctx<'_>, obj: &Object, out: &mut Vec<Finding>) {
    let Some(t) = obj.pod_template() else { return };
    if obj.resource.kind == "Pod" && crate::is_controlled(obj) {
        return;
    }
    let version = ctx.config.pss_version;
    let ids = ids();
    for level in [Level::Baseline, Level::Restricted] {
        for v in palisade_pss::evaluate(level, version, t.metadata, t.spec) {
            let Some(&(check_level, id)) = ids.get(v.check) else {
                continue;
            };
            if check_level != level {
                continue; // baseline controls re-evaluated at restricted: already reported
            }
            let evidence = v
                .paths
                .first()
                .map(|p| to_json_path(p, t.spec_path, t.metadata_path))
                .unwrap_or_else(|| t.spec_path.to_owned());
            out.push(finding(
                id,
                obj,
                None,
                format!(
                    "violates PodSecurity \"{}:{version}\": {}",
                    level.as_str(),
                    v.message
                ),
                evidence,
            ));
        }
    }
}

/// `spec.containers[0].x` -> `$.spec.template.spec.containers[0].x` for the template's paths.
fn to_json_path(p: &str, spec_path: &str, metadata_path: &str) -> String {
    if let Some(rest) = p.strip_prefix("spec") {
        format!("{spec_path}{rest}")
    } else if let Some(rest) = p.strip_prefix("metadata") {
        format!("{metadata_path}{rest}")
    } else {
        format!("{spec_path}.{p}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{of, one, scan_yaml};

    #[test]
    fn ids_are_kebab_case_without_level_markers() {
        assert_eq!(
            finding_id(Level::Baseline, "capabilities_baseline"),
            "pss-baseline-capabilities"
        );
        assert_eq!(
            finding_id(Level::Restricted, "restrictedVolumes"),
            "pss-restricted-volumes"
        );
        assert_eq!(
            finding_id(Level::Restricted, "procMount_restricted"),
            "pss-restricted-proc-mount"
        );
        assert_eq!(
            finding_id(Level::Baseline, "hostNamespaces"),
            "pss-baseline-host-namespaces"
        );
    }

    #[test]
    fn violations_become_findings_with_template_paths() {
        let fs = scan_yaml(
            r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: c, namespace: n}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          hostNetwork: true
          containers: [{name: a, image: "x:1", securityContext: {privileged: true}}]
"#,
        );
        let f = one(&fs, "pss-baseline-privileged");
        assert_eq!(
            f.evidence,
            "$.spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"
        );
        assert!(
            f.message
                .starts_with("violates PodSecurity \"baseline:latest\": privileged"),
            "{}",
            f.message
        );
        one(&fs, "pss-baseline-host-namespaces");
        one(&fs, "pss-restricted-run-as-non-root");
        assert!(of(&fs, "pss-restricted-privileged").is_empty());
    }
}
