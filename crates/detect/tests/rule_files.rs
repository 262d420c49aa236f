//! Every Falco rules file of the corpus loads: syscall rules compile against the `syscall`
//! field names, plugin rules for sources we do not have are skipped with warnings, and
//! nothing panics or fails except a malformed file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use palisade_detect::{RuleSet, RulesFile, WarningKind};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_falco_rules_file_loads() {
    let Some(root) = palisade_testkit::corpus("runtime/falco") else {
        return;
    };
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    let mut loaded_files = 0;
    let mut rule_files = 0;
    for path in &files {
        let file = RulesFile::read(path).unwrap();
        match RuleSet::load(&[file]) {
            Ok((set, warnings)) => {
                loaded_files += 1;
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                let is_rules = name.contains("/rules/") || name.contains("archive/");
                if is_rules {
                    rule_files += 1;
                }
                eprintln!(
                    "{name}: {} rules ({} enabled), {} warnings",
                    set.len(),
                    set.rules().filter(|r| r.enabled).count(),
                    warnings.len()
                );
                for w in &warnings {
                    // Every warning names its file and item.
                    assert!(
                        w.file
                            .ends_with(path.file_name().unwrap().to_str().unwrap())
                    );
                    assert!(
                        w.item.is_some()
                            || matches!(
                                w.kind,
                                WarningKind::UnknownItem | WarningKind::InvalidItem
                            ),
                        "{w}"
                    );
                    assert!(
                        !matches!(
                            w.kind,
                            WarningKind::UnsupportedField { .. }
                                | WarningKind::InvalidCondition
                                | WarningKind::InvalidOutput
                                | WarningKind::UndefinedMacro { .. }
                        ),
                        "{w}"
                    );
                }
                // Falco's syscall rules compile completely against the syscall field names.
                if name.starts_with("falcosecurity-rules/") {
                    assert!(warnings.is_empty(), "{name}: {warnings:#?}");
                    assert!(set.rules().all(|r| r.source == "syscall"));
                }
            }
            // Not a rules file (event-generator objects, test descriptions, the audit
            // policy): rejected as a whole, with the file named.
            Err(e) => {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                assert!(
                    name.starts_with("event-generator/")
                        || name.ends_with("configs/audit-policy.yaml"),
                    "{name}: {e}"
                );
                let msg = e.to_string();
                assert!(
                    msg.contains(path.file_name().unwrap().to_str().unwrap()),
                    "{msg}"
                );
                eprintln!("{}: not loaded: {msg}", path.display());
            }
        }
    }
    eprintln!(
        "{loaded_files} of {} YAML files loaded, {rule_files} rule files",
        files.len()
    );
    assert!(rule_files >= 11, "{rule_files}");
}

#[test]
fn syscall_rule_files_load_together() {
    let Some(root) = palisade_testkit::corpus("runtime/falco/falcosecurity-rules") else {
        return;
    };
    let paths = [
        root.join("rules/falco_rules.yaml"),
        root.join("rules/falco-incubating_rules.yaml"),
        root.join("rules/falco-sandbox_rules.yaml"),
        root.join("archive/falco-deprecated_rules.yaml"),
    ];
    let (set, warnings) = RuleSet::load_paths(&paths).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    let enabled = set.rules().filter(|r| r.enabled).count();
    eprintln!("syscall rules: {} loaded, {enabled} enabled", set.len());
    assert_eq!(set.len(), 25 + 31 + 37 + 4);
    // Every enabled syscall rule pins evt.type, so it is indexed by it.
    let (always, indexed) = set.index_stats("syscall");
    assert_eq!((always, indexed), (0, enabled));
}

#[test]
fn plugin_rules_for_other_sources_are_skipped_with_warnings() {
    let Some(path) = palisade_testkit::corpus(
        "runtime/falco/falcosecurity-plugins/plugins/cloudtrail/rules/aws_cloudtrail_rules.yaml",
    ) else {
        return;
    };
    let (set, warnings) = RuleSet::load_paths(&[&path]).unwrap();
    assert!(set.is_empty());
    assert!(!warnings.is_empty());
    for w in &warnings {
        assert_eq!(
            w.kind,
            WarningKind::UnknownSource {
                source: "aws_cloudtrail".into()
            },
            "{w}"
        );
        assert!(w.line.is_some());
    }
}
