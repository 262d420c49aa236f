//! The rule language through the public API: a small test source, rule files written inline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use palisade_detect::{
    ArgKind, Event, FieldArg, FieldDef, FieldRef, FieldRegistry, FieldType, FieldValue, LoadError,
    Loader, Priority, RuleSet, RulesFile, Warning, WarningKind,
};

fn registry() -> FieldRegistry {
    FieldRegistry::new(
        "test",
        vec![
            FieldDef::new("t.name", FieldType::Str),
            FieldDef::new("t.path", FieldType::Str),
            FieldDef::new("t.num", FieldType::Num),
            FieldDef::new("t.tags", FieldType::Str).list(),
            FieldDef::new("t.anc", FieldType::Str).arg(ArgKind::Index, false),
            FieldDef::new("t.opt", FieldType::Str),
            FieldDef::new("t.other", FieldType::Str),
        ],
    )
    .with_index_fields(["t.name"])
}

#[derive(Default, Clone)]
struct Ev {
    name: Option<&'static str>,
    path: Option<&'static str>,
    num: Option<i64>,
    tags: Vec<&'static str>,
    anc: Vec<&'static str>,
    opt: Option<&'static str>,
    other: Option<&'static str>,
}

impl Event for Ev {
    fn event_source(&self) -> &str {
        "test"
    }

    fn field(&self, f: &FieldRef) -> FieldValue<'_> {
        let s = |v: Option<&'static str>| {
            v.map_or(FieldValue::Missing, |s| FieldValue::Str(Cow::Borrowed(s)))
        };
        match f.id() {
            0 => s(self.name),
            1 => s(self.path),
            2 => self.num.map_or(FieldValue::Missing, FieldValue::Num),
            3 if self.tags.is_empty() => FieldValue::Missing,
            3 => FieldValue::List(self.tags.iter().map(|t| Cow::Borrowed(*t)).collect()),
            4 => match f.arg() {
                FieldArg::Index(i) => s(self.anc.get(*i).copied()),
                _ => s(self.anc.first().copied()),
            },
            5 => s(self.opt),
            6 => s(self.other),
            _ => FieldValue::Missing,
        }
    }
}

fn load(yaml: &str) -> (RuleSet, Vec<Warning>) {
    load_many(&[yaml])
}

fn load_many(yamls: &[&str]) -> (RuleSet, Vec<Warning>) {
    let files: Vec<_> = yamls
        .iter()
        .enumerate()
        .map(|(i, y)| RulesFile::new(format!("f{i}.yaml"), *y))
        .collect();
    Loader::empty()
        .with_registry(registry())
        .load(&files)
        .unwrap()
}

fn ok(yaml: &str) -> RuleSet {
    let (set, w) = load(yaml);
    assert!(w.is_empty(), "{w:#?}");
    set
}

fn fires(set: &RuleSet, ev: &Ev) -> Vec<String> {
    set.evaluate(ev).map(|m| m.rule.to_string()).collect()
}

/// One rule named `r` with the given condition.
fn rule(cond: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n  source: test\n"
    )
}

fn matches(cond: &str, ev: &Ev) -> bool {
    let set = ok(&rule(cond));
    assert_eq!(set.len(), 1);
    !fires(&set, ev).is_empty()
}

fn named(name: &'static str) -> Ev {
    Ev {
        name: Some(name),
        ..Ev::default()
    }
}

#[test]
fn precedence_and_not() {
    let ev = |name, num| Ev {
        name: Some(name),
        num: Some(num),
        ..Ev::default()
    };
    // `and` binds tighter than `or`.
    let c = "t.name = a or t.name = b and t.num = 1";
    assert!(matches(c, &ev("a", 2)));
    assert!(!matches(c, &ev("b", 2)));
    assert!(matches(c, &ev("b", 1)));
    // `not` binds tighter than `and`; parentheses regroup.
    assert!(matches("not t.name = a and t.num = 1", &ev("b", 1)));
    assert!(!matches("not (t.name = b and t.num = 1)", &ev("b", 1)));
    assert!(matches("not not t.name = b", &ev("b", 1)));
    assert!(matches("(t.name=a or t.name=b) and(t.num=1)", &ev("b", 1)));
}

#[test]
fn missing_fields_and_exists() {
    let ev = named("a");
    assert!(matches("not t.opt exists", &ev));
    assert!(!matches("t.opt exists", &ev));
    // Every comparison on a missing field is false, `!=` included.
    assert!(!matches("t.opt != x", &ev));
    assert!(matches("not t.opt = x", &ev));
    let with = Ev {
        opt: Some("x"),
        ..ev
    };
    assert!(matches("t.opt exists and t.opt = x", &with));
}

#[test]
fn list_operators() {
    let ev = |tags: Vec<&'static str>| Ev {
        name: Some("n"),
        tags,
        ..Ev::default()
    };
    // `in` on a list field: every value must be in the set.
    assert!(matches("t.tags in (a, b)", &ev(vec!["a"])));
    assert!(matches("t.tags in (a, b)", &ev(vec!["b", "a"])));
    assert!(!matches("t.tags in (a, b)", &ev(vec!["a", "c"])));
    // `intersects`: one value is enough.
    assert!(matches("t.tags intersects (c, d)", &ev(vec!["a", "c"])));
    assert!(!matches("t.tags intersects (d)", &ev(vec!["a", "c"])));
    // An empty list extracts nothing.
    assert!(!matches("t.tags intersects (a)", &ev(vec![])));
    assert!(!matches("t.tags exists", &ev(vec![])));
    // On a single value, `in` is membership; quoted values with spaces work.
    assert!(matches("t.name in (x, 'n', \"y z\")", &named("n")));
    assert!(matches("t.name in (x, 'n m')", &named("n m")));
    assert!(!matches("t.name in ()", &named("n")));
}

#[test]
fn path_glob_and_string_operators() {
    let p = |path: &'static str| Ev {
        path: Some(path),
        ..Ev::default()
    };
    assert!(matches("t.path pmatch (/etc, /var/run)", &p("/etc/shadow")));
    assert!(matches(
        "t.path pmatch (/etc, /var/run)",
        &p("/var/run/docker.sock")
    ));
    assert!(!matches("t.path pmatch (/etc, /var/run)", &p("/etcd/data")));
    assert!(matches(
        "t.path glob '/home/*/.ssh/*'",
        &p("/home/bob/.ssh/id_rsa")
    ));
    assert!(!matches(
        "t.path glob '/home/*/.ssh/*'",
        &p("/root/.ssh/id_rsa")
    ));
    assert!(matches("t.path iglob '/HOME/*'", &p("/home/x")));
    assert!(matches(
        "t.path contains /.ssh/",
        &p("/home/bob/.ssh/id_rsa")
    ));
    assert!(matches(
        "t.path icontains /.SSH/",
        &p("/home/bob/.ssh/id_rsa")
    ));
    assert!(matches(
        "t.path startswith /home and t.path endswith id_rsa",
        &p("/home/bob/.ssh/id_rsa")
    ));
    assert!(matches(
        "t.path regex '/home/[a-z]+/\\.ssh/.*'",
        &p("/home/bob/.ssh/id_rsa")
    ));
    assert!(!matches("t.path regex 'home'", &p("/home/bob")));
    assert!(matches("t.path bcontains 2f686f6d65", &p("/home/bob")));
}

#[test]
fn numbers_and_transformers() {
    let ev = Ev {
        name: Some("NGINX"),
        path: Some("/usr/sbin/nginx"),
        num: Some(16),
        tags: vec!["a", "b", "c"],
        other: Some("nginx"),
        ..Ev::default()
    };
    assert!(matches("t.num >= 10 and t.num < 17", &ev));
    assert!(matches("t.num = 0x10", &ev));
    assert!(!matches("t.num != 16", &ev));
    assert!(matches("tolower(t.name) = nginx", &ev));
    assert!(matches("toupper(t.other) = NGINX", &ev));
    assert!(matches("basename(t.path) = nginx", &ev));
    assert!(matches("len(t.tags) = 3", &ev));
    assert!(matches("len(t.name) > 4", &ev));
    assert!(matches("tolower(t.name) = val(t.other)", &ev));
    assert!(!matches("t.name = val(t.other)", &ev));
    assert!(matches("t.other in val(t.other)", &ev));
}

#[test]
fn macros_and_lists_nest() {
    let set = ok(r#"
- list: base_shells
  items: [sh, bash]
- list: shells
  items: [base_shells, zsh, "fish shell"]
- macro: is_shell
  condition: t.name in (shells)
- macro: shell_in_tmp
  condition: is_shell and t.path startswith /tmp
- rule: Shell in tmp
  desc: d
  condition: shell_in_tmp and not t.opt exists
  output: "%t.name in %t.path"
  priority: warning
  source: test
"#);
    let ev = |name, path| Ev {
        name: Some(name),
        path: Some(path),
        ..Ev::default()
    };
    assert_eq!(fires(&set, &ev("bash", "/tmp/x")), ["Shell in tmp"]);
    assert_eq!(fires(&set, &ev("zsh", "/tmp/x")), ["Shell in tmp"]);
    assert_eq!(fires(&set, &ev("fish shell", "/tmp/x")), ["Shell in tmp"]);
    assert!(fires(&set, &ev("base_shells", "/tmp/x")).is_empty());
    assert!(fires(&set, &ev("bash", "/home")).is_empty());
    let m = set.evaluate(&ev("sh", "/tmp/y")).next().unwrap();
    assert_eq!(
        (m.priority, m.output.as_str()),
        (Priority::Warning, "sh in /tmp/y")
    );

    // A list only expands lists defined before it; later names stay literal.
    let set = ok(r#"
- list: early
  items: [late, x]
- list: late
  items: [y]
- rule: r
  desc: d
  condition: t.name in (early)
  output: o
  priority: INFO
  source: test
"#);
    assert_eq!(fires(&set, &named("late")), ["r"]);
    assert!(fires(&set, &named("y")).is_empty());

    // A macro that refers to itself is reported, not followed forever.
    let (set, w) = load(&format!(
        "- macro: loop\n  condition: t.name = a or loop\n{}",
        rule("loop")
    ));
    assert!(set.is_empty());
    assert!(matches!(w[0].kind, WarningKind::InvalidCondition), "{w:?}");

    // Macros that double at every level stop at a size limit instead of exhausting memory.
    let mut text = String::from("- macro: m0\n  condition: t.name = a\n");
    for i in 1..=40 {
        text.push_str(&format!(
            "- macro: m{i}\n  condition: m{} and m{}\n",
            i - 1,
            i - 1
        ));
    }
    text.push_str(&rule("m40"));
    let (set, w) = load(&text);
    assert!(set.is_empty());
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("nodes"), "{}", w[0].message);
}

#[test]
fn exceptions() {
    let set = ok(r#"
- list: trusted_paths
  items: [/opt/app, /srv]
- rule: Write below root
  desc: d
  condition: t.path startswith /
  output: "%t.name wrote %t.path"
  priority: ERROR
  source: test
  exceptions:
    - name: proc_writer
      fields: [t.name, t.path]
      comps: [=, startswith]
      values:
        - [apt, /var/lib/dpkg]
        - [dnf, /var/cache]
    - name: trusted_dirs
      fields: t.path
      comps: pmatch
      values: [trusted_paths]
    - name: names
      fields: t.name
      values: [backup, "rsync"]
    - name: tuple_with_lists
      fields: [t.name, t.path]
      comps: [in, pmatch]
      values:
        - [[cp, mv], [/mnt]]
    - name: no_values_yet
      fields: [t.name]
"#);
    let ev = |name, path| Ev {
        name: Some(name),
        path: Some(path),
        ..Ev::default()
    };
    assert_eq!(fires(&set, &ev("vim", "/etc/passwd")), ["Write below root"]);
    assert!(fires(&set, &ev("apt", "/var/lib/dpkg/status")).is_empty());
    assert_eq!(
        fires(&set, &ev("apt", "/var/cache/x")),
        ["Write below root"]
    );
    assert!(fires(&set, &ev("vim", "/opt/app/conf")).is_empty());
    assert!(fires(&set, &ev("backup", "/etc/passwd")).is_empty());
    assert!(fires(&set, &ev("rsync", "/etc/passwd")).is_empty());
    assert!(fires(&set, &ev("mv", "/mnt/disk/f")).is_empty());
    assert_eq!(fires(&set, &ev("mv", "/etc/f")), ["Write below root"]);

    // Appending values to an existing exception, both ways.
    let set = load_many(&[
        &rule("t.name exists").replace(
            "output: o",
            "output: o\n  exceptions:\n    - name: e\n      fields: [t.name]\n      values: [[a]]",
        ),
        "- rule: r\n  exceptions:\n    - name: e\n      values: [[b]]\n  override:\n    exceptions: append\n",
        "- rule: r\n  append: true\n  exceptions:\n    - name: e\n      values: [[c]]\n",
    ]);
    assert!(set.1.is_empty(), "{:?}", set.1);
    for (n, fire) in [("a", false), ("b", false), ("c", false), ("d", true)] {
        assert_eq!(!fires(&set.0, &named(n)).is_empty(), fire, "{n}");
    }

    // Malformed exceptions disable the rule with a warning.
    let (set, w) = load(&rule("t.name exists").replace(
        "output: o",
        "output: o\n  exceptions:\n    - name: e\n      fields: [t.name, t.path]\n      values: [[a]]",
    ));
    assert!(set.is_empty());
    assert_eq!(w[0].kind, WarningKind::InvalidCondition);
    assert!(w[0].message.contains("exception 'e'"), "{}", w[0].message);
}

#[test]
fn append_and_override() {
    let base = r#"
- list: names
  items: [a]
- macro: m
  condition: t.name in (names)
- rule: r
  desc: first
  condition: m
  output: name=%t.name
  priority: NOTICE
  source: test
  tags: [one]
"#;
    // Legacy append: condition text is appended.
    let (set, w) = load_many(&[
        base,
        "- rule: r\n  append: true\n  condition: and t.num = 1\n",
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert!(
        fires(
            &set,
            &Ev {
                name: Some("a"),
                num: Some(1),
                ..Ev::default()
            }
        ) == ["r"]
    );
    assert!(fires(&set, &named("a")).is_empty());

    // Override: append to lists and macros, replace and append rule properties.
    let (set, w) = load_many(&[
        base,
        "- list: names\n  items: [b]\n  override:\n    items: append\n",
        "- macro: m\n  condition: or t.name = c\n  override:\n    condition: append\n",
        r#"
- rule: r
  output: (extra)
  priority: critical
  tags: [two]
  override:
    output: append
    priority: replace
    tags: append
"#,
    ]);
    assert!(w.is_empty(), "{w:?}");
    let m: Vec<_> = set.evaluate(&named("b")).collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].output, "name=b (extra)");
    assert_eq!(m[0].priority, Priority::Critical);
    assert_eq!(m[0].tags, ["one", "two"]);
    assert_eq!(fires(&set, &named("c")), ["r"]);

    // Replace: lists and conditions.
    let (set, w) = load_many(&[
        base,
        "- list: names\n  items: [z]\n  override:\n    items: replace\n",
        "- rule: r\n  condition: m or t.name = y\n  override:\n    condition: replace\n",
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert!(fires(&set, &named("a")).is_empty());
    assert_eq!(fires(&set, &named("z")), ["r"]);
    assert_eq!(fires(&set, &named("y")), ["r"]);

    // Enabling and disabling.
    let (mut set, w) = load_many(&[base, "- rule: r\n  enabled: false\n"]);
    assert!(w.is_empty(), "{w:?}");
    assert!(!set.rule("r").unwrap().enabled);
    assert!(fires(&set, &named("a")).is_empty());
    assert!(set.set_enabled("r", true));
    assert_eq!(fires(&set, &named("a")), ["r"]);
    let (set, _) = load_many(&[
        base,
        "- rule: r\n  enabled: false\n  override:\n    enabled: replace\n",
    ]);
    assert!(!set.rule("r").unwrap().enabled);

    // A redefinition replaces the rule in place.
    let (set, w) = load_many(&[base, &rule("t.name = q")]);
    assert!(w.is_empty());
    assert_eq!(set.len(), 1);
    assert_eq!(fires(&set, &named("q")), ["r"]);

    // Problems with updates are warnings.
    let (set, w) = load_many(&[
        base,
        "- rule: nope\n  append: true\n  condition: and t.num = 1\n",
        "- rule: r\n  condition: x\n  override:\n    priority: replace\n",
        "- rule: r\n  priority: INFO\n  override:\n    priority: append\n",
        "- list: missing\n  items: [x]\n  append: true\n",
    ]);
    assert_eq!(set.len(), 1);
    let kinds: Vec<_> = w.iter().map(|w| w.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            WarningKind::MissingTarget,
            WarningKind::InvalidItem,
            WarningKind::InvalidItem,
            WarningKind::MissingTarget
        ],
        "{w:#?}"
    );
    assert_eq!(w[0].item.as_deref(), Some("nope"));
}

#[test]
fn unsupported_fields_are_warnings_naming_rule_and_field() {
    let (set, w) = load(&format!(
        "{}{}{}",
        rule("t.name = a").replace("- rule: r", "- rule: good"),
        rule("t.nosuch = a").replace("- rule: r", "- rule: bad cond"),
        rule("t.name = a")
            .replace("- rule: r", "- rule: bad output")
            .replace("output: o", "output: \"%t.name %proc.name\""),
    ));
    assert_eq!(set.len(), 1);
    assert_eq!(set.rules().next().unwrap().name, "good");
    assert_eq!(w.len(), 2, "{w:#?}");
    assert_eq!(w[0].item.as_deref(), Some("bad cond"));
    assert_eq!(
        w[0].kind,
        WarningKind::UnsupportedField {
            field: "t.nosuch".into()
        }
    );
    assert_eq!(w[0].line, Some(7));
    assert!(w[0].to_string().contains("rule 'bad cond'"), "{}", w[0]);
    assert!(w[0].to_string().contains("t.nosuch"), "{}", w[0]);
    assert_eq!(
        w[1].kind,
        WarningKind::UnsupportedField {
            field: "proc.name".into()
        }
    );

    // Other per-rule problems.
    let (set, w) = load(&format!(
        "{}{}{}{}",
        rule("undefined_macro").replace("- rule: r", "- rule: a"),
        rule("t.name = (").replace("- rule: r", "- rule: b"),
        rule("t.name = a")
            .replace("- rule: r", "- rule: c")
            .replace("source: test", "source: nowhere"),
        rule("t.name = a")
            .replace("- rule: r", "- rule: d")
            .replace("priority: INFO", "priority: LOUD"),
    ));
    assert!(set.is_empty());
    let kinds: Vec<_> = w.iter().map(|w| w.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            WarningKind::InvalidItem,
            WarningKind::UndefinedMacro {
                name: "undefined_macro".into()
            },
            WarningKind::InvalidCondition,
            WarningKind::UnknownSource {
                source: "nowhere".into()
            },
        ],
        "{w:#?}"
    );
}

#[test]
fn outputs_render_missing_lists_and_args() {
    let set = ok(&rule("t.name exists").replace(
        "output: o",
        "output: \"n=%t.name opt=%t.opt tags=%t.tags anc2=%t.anc[2] 100%% num=%t.num.\"",
    ));
    let ev = Ev {
        name: Some("x"),
        tags: vec!["a", "b"],
        anc: vec!["p0", "p1", "p2"],
        num: Some(7),
        ..Ev::default()
    };
    let m = set.evaluate(&ev).next().unwrap();
    assert_eq!(m.output, "n=x opt=<NA> tags=(a,b) anc2=p2 100%% num=7.");
    assert_eq!(
        m.output_fields,
        [
            ("t.name", "x".to_string()),
            ("t.opt", "<NA>".to_string()),
            ("t.tags", "(a,b)".to_string()),
            ("t.anc[2]", "p2".to_string()),
            ("t.num", "7".to_string()),
        ]
    );
}

#[test]
fn index_preserves_definition_order_and_semantics() {
    let set = ok(&[
        rule("t.name in (a, b) and t.num = 1").replace("- rule: r", "- rule: one"),
        rule("t.num = 1").replace("- rule: r", "- rule: two"),
        rule("(t.name = a or t.name = c) and t.num = 1").replace("- rule: r", "- rule: three"),
        rule("t.name = a and t.name = b").replace("- rule: r", "- rule: never"),
        rule("t.name = a or t.num = 1").replace("- rule: r", "- rule: four"),
    ]
    .concat());
    let ev = |name, num| Ev {
        name: Some(name),
        num: Some(num),
        ..Ev::default()
    };
    assert_eq!(fires(&set, &ev("a", 1)), ["one", "two", "three", "four"]);
    assert_eq!(fires(&set, &ev("b", 1)), ["one", "two", "four"]);
    assert_eq!(fires(&set, &ev("c", 1)), ["two", "three", "four"]);
    assert_eq!(fires(&set, &ev("a", 2)), ["four"]);
    assert_eq!(
        fires(
            &set,
            &Ev {
                num: Some(1),
                ..Ev::default()
            }
        ),
        ["two", "four"]
    );
    // "two" and "four" do not constrain t.name; "never" can never match.
    assert_eq!(set.index_stats("test"), (2, 2));
}

#[test]
fn rule_file_errors() {
    let bad = Loader::default().load(&[RulesFile::new("bad.yaml", "- rule: x\n  condition: [\n")]);
    match bad {
        Err(LoadError::Yaml { file, line, .. }) => {
            assert_eq!(file, "bad.yaml");
            assert!(line.is_some());
        }
        other => panic!("{other:?}"),
    }
    let not_list = Loader::default().load(&[RulesFile::new("m.yaml", "rule: x\n")]);
    assert!(
        matches!(not_list, Err(LoadError::NotAList { .. })),
        "{not_list:?}"
    );
    assert!(RulesFile::from_bytes("b.yaml", &[0xff, 0xfe]).is_err());
    // Empty files, comments only, and several documents are fine.
    let (set, w) = Loader::default()
        .load(&[
            RulesFile::new("empty.yaml", ""),
            RulesFile::new("comments.yaml", "# nothing\n"),
            RulesFile::new(
                "docs.yaml",
                "- list: a\n  items: [x]\n---\n- list: b\n  items: [y]\n",
            ),
        ])
        .unwrap();
    assert!(set.is_empty() && w.is_empty(), "{w:?}");
    // Unknown items and non-mapping items are warnings.
    let (_, w) = Loader::default()
        .load(&[RulesFile::new(
            "odd.yaml",
            "- foo: bar\n- 42\n- required_engine_version: 0.31.0\n",
        )])
        .unwrap();
    let kinds: Vec<_> = w.iter().map(|w| w.kind.clone()).collect();
    assert_eq!(kinds, [WarningKind::UnknownItem, WarningKind::InvalidItem]);
}

#[test]
fn priorities_are_case_insensitive_in_files() {
    for (text, p) in [
        ("EMERGENCY", Priority::Emergency),
        ("alert", Priority::Alert),
        ("Critical", Priority::Critical),
        ("error", Priority::Error),
        ("Warning", Priority::Warning),
        ("notice", Priority::Notice),
        ("INFORMATIONAL", Priority::Informational),
        ("info", Priority::Informational),
        ("DEBUG", Priority::Debug),
    ] {
        let set = ok(&rule("t.name = a").replace("priority: INFO", &format!("priority: {text}")));
        assert_eq!(set.rule("r").unwrap().priority, p, "{text}");
    }
}
