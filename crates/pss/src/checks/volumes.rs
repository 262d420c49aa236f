//! Volume types: `restrictedVolumes` (`check_restrictedVolumes.go`). Overrides the baseline
//! `hostPathVolumes` check, whose ground it covers.
//!
//! PSA sees the pod after API-server defaulting, which gives a volume with no source at all an
//! `emptyDir` (`SetDefaults_Volume`), and decoding drops keys the API does not know. So a
//! volume naming none of the 30 volume sources of `core/v1` is an `emptyDir` here too, and is
//! allowed; PSA's own "unknown" type (a source the API knows but PSA does not list) cannot
//! arise while both lists cover every source.

use crate::checks::host::volumes;
use crate::pod::{Finding, Outcome, Pod, SortedSet, field, join_quote, pluralize, str_or_empty};

/// Inline volume sources the restricted profile allows (`image` was patched into the v1.0
/// revision upstream, so it is allowed at every pinned version).
const ALLOWED: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The named restricted sources, in the order PSA's type switch tests them.
const RESTRICTED: [&str; 21] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// Only the allowed inline volume types may be used.
pub(crate) fn restricted_volumes_1_0(pod: &Pod<'_>) -> Outcome {
    let mut names = Vec::new();
    let mut types = SortedSet::new();
    let mut paths = Vec::new();
    for (i, v) in volumes(pod) {
        if ALLOWED.iter().any(|k| field(v, k).is_some()) {
            continue;
        }
        // No source at all: defaulted to emptyDir.
        let Some(kind) = RESTRICTED.iter().find(|k| field(v, k).is_some()) else {
            continue;
        };
        names.push(str_or_empty(v, "name"));
        types.insert((*kind).to_owned());
        paths.push(format!("spec.volumes[{i}].{kind}"));
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!(
        "{} {} {} {} {}",
        pluralize("volume", "volumes", names.len()),
        join_quote(&names),
        pluralize("uses", "use", names.len()),
        pluralize(
            "restricted volume type",
            "restricted volume types",
            types.len()
        ),
        join_quote(&types)
    );
    Some(Finding::new("restricted volume types", detail, paths))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_types_and_defaulted_empty_dir() {
        let meta = json!({});
        let spec = json!({"volumes": [
            {"name": "ok", "emptyDir": {}},
            {"name": "img", "image": {"reference": "x"}},
            {"name": "h", "hostPath": {"path": "/"}},
            {"name": "n", "nfs": {"server": "s", "path": "/"}},
            {"name": "u"},
            {"name": "null-secret", "secret": null},
            {"name": "typo", "emptyDirr": {}}
        ]});
        let f = restricted_volumes_1_0(&Pod {
            metadata: &meta,
            spec: &spec,
        });
        let f = f.unwrap_or_else(|| Finding::new("", "", vec![]));
        assert_eq!(f.reason, "restricted volume types");
        assert_eq!(
            f.detail,
            "volumes \"h\", \"n\" use restricted volume types \"hostPath\", \"nfs\""
        );
        assert_eq!(f.paths, ["spec.volumes[2].hostPath", "spec.volumes[3].nfs"]);
    }
}
