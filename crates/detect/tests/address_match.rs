//! Address-typed fields: `ka.sourceip.net` compared against addresses and CIDR networks with
//! IP-network semantics, as Falco's `fd.net`/`fd.snet` fields are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_detect::{K8sAuditEvent, RuleSet, RulesFile, Warning, WarningKind};

fn load(cond: &str) -> (RuleSet, Vec<Warning>) {
    let yaml = format!(
        r#"
- list: cloud_ranges
  items: [10.0.0.0/8, "192.168.0.0/16", 54.208.0.0/13, "2001:db8::/32", "fd00::/8"]
- rule: R
  desc: d
  condition: {cond}
  output: "from %ka.sourceip.net"
  priority: NOTICE
  source: k8s_audit
"#
    );
    RuleSet::load(&[RulesFile::new("net.yaml", yaml)]).unwrap()
}

fn rule(cond: &str) -> RuleSet {
    let (set, warnings) = load(cond);
    assert!(warnings.is_empty(), "{cond}: {warnings:#?}");
    assert_eq!(set.rules().count(), 1, "{cond}");
    set
}

fn event(ips: &[&str]) -> String {
    let ips: Vec<String> = ips.iter().map(|i| format!("\"{i}\"")).collect();
    format!(
        r#"{{"auditID":"1","stage":"ResponseComplete","verb":"get","sourceIPs":[{}]}}"#,
        ips.join(",")
    )
}

fn fires(cond: &str, ips: &[&str]) -> bool {
    let set = rule(cond);
    let json = event(ips);
    let ev = K8sAuditEvent::parse(&json).unwrap();
    set.evaluate(&ev).next().is_some()
}

#[test]
fn ipv4_networks_and_hosts() {
    let c = "ka.sourceip.net[0] = 10.0.0.0/8";
    assert!(fires(c, &["10.1.2.3"]));
    assert!(fires(c, &["10.255.255.255"]));
    assert!(!fires(c, &["11.0.0.1"]));
    assert!(!fires(c, &["9.255.255.255"]));
    // A plain address is a network of one.
    assert!(fires("ka.sourceip.net = 1.2.3.4", &["1.2.3.4"]));
    assert!(!fires("ka.sourceip.net = 1.2.3.4", &["1.2.3.5"]));
    assert!(fires("ka.sourceip.net = 1.2.3.4/32", &["1.2.3.4"]));
    // Host bits in the network are ignored, as libsinsp does.
    assert!(fires(
        "ka.sourceip.net = 192.168.7.1/16",
        &["192.168.200.9"]
    ));
    // /0 holds every address of its family.
    assert!(fires("ka.sourceip.net = 0.0.0.0/0", &["203.0.113.9"]));
    assert!(!fires("ka.sourceip.net = 0.0.0.0/0", &["2001:db8::1"]));
    // `!=` is "not in the network", for addresses only.
    assert!(fires("ka.sourceip.net[0] != 10.0.0.0/8", &["1.2.3.4"]));
    assert!(!fires("ka.sourceip.net[0] != 10.0.0.0/8", &["10.0.0.1"]));
    assert!(!fires("ka.sourceip.net[0] != 10.0.0.0/8", &["not-an-ip"]));
}

#[test]
fn ipv6_networks_and_mapped_addresses() {
    let c = "ka.sourceip.net in (cloud_ranges)";
    assert!(fires(c, &["2001:db8:1::5"]));
    assert!(fires(c, &["fd12:3456::1"]));
    assert!(!fires(c, &["2001:db9::1"]));
    assert!(fires("ka.sourceip.net = ::1", &["::1"]));
    assert!(fires("ka.sourceip.net = fe80::/10", &["fe80::1%eth0"]));
    // An IPv4-mapped IPv6 address is the IPv4 address.
    assert!(fires(c, &["::ffff:10.9.8.7"]));
    // Families do not mix.
    assert!(!fires("ka.sourceip.net = ::/0", &["10.0.0.1"]));
}

#[test]
fn lists_index_and_negation() {
    let c = "ka.sourceip.net[0] in (cloud_ranges)";
    assert!(fires(c, &["54.212.83.236"]));
    assert!(!fires(c, &["1.2.3.4", "54.212.83.236"]));
    assert!(fires(c, &["192.168.1.1", "1.2.3.4"]));
    // Without an index, `in` needs every address in a network, `intersects` one.
    assert!(!fires(
        "ka.sourceip.net in (cloud_ranges)",
        &["10.0.0.1", "1.2.3.4"]
    ));
    assert!(fires(
        "ka.sourceip.net in (cloud_ranges)",
        &["10.0.0.1", "fd00::1"]
    ));
    assert!(fires(
        "ka.sourceip.net intersects (cloud_ranges)",
        &["10.0.0.1", "1.2.3.4"]
    ));
    // `not ... in` over the first address: outside every listed range.
    let outside = "ka.sourceip.net[0] exists and not ka.sourceip.net[0] in (cloud_ranges)";
    assert!(fires(outside, &["1.2.3.4"]));
    assert!(!fires(outside, &["54.212.83.236"]));
    // Addresses that do not parse match no network, and `in ()` holds for nothing.
    assert!(!fires(c, &["not-an-ip"]));
    assert!(!fires("ka.sourceip.net in ()", &["10.0.0.1"]));
    // No sourceIPs: missing, every comparison false.
    let set = rule(c);
    let ev = K8sAuditEvent::parse(r#"{"auditID":"1","verb":"get"}"#).unwrap();
    assert!(set.evaluate(&ev).next().is_none());
}

#[test]
fn string_semantics_of_sourceips_are_kept() {
    // Falco's own rules compare `ka.sourceips` as text: a CIDR is just a string there.
    assert!(!fires("ka.sourceips = 10.0.0.0/8", &["10.1.2.3"]));
    assert!(fires("ka.sourceips startswith 10.", &["10.1.2.3"]));
}

#[test]
fn outputs_render_the_addresses() {
    let set = rule("ka.sourceip.net exists");
    let json = event(&["10.1.2.3", "1.2.3.4"]);
    let ev = K8sAuditEvent::parse(&json).unwrap();
    assert_eq!(
        set.evaluate(&ev).next().unwrap().output,
        "from (10.1.2.3,1.2.3.4)"
    );
}

#[test]
fn malformed_networks_are_load_warnings_naming_rule_and_value() {
    for (cond, value) in [
        ("ka.sourceip.net = 10.0.0.0/33", "10.0.0.0/33"),
        ("ka.sourceip.net = 2001:db8::/129", "2001:db8::/129"),
        ("ka.sourceip.net = 10.0.0/8", "10.0.0/8"),
        ("ka.sourceip.net = 10.0.0.0/", "10.0.0.0/"),
        ("ka.sourceip.net = 10.0.0.0/+8", "10.0.0.0/+8"),
        (
            "ka.sourceip.net in (10.0.0.0/8, example.com)",
            "example.com",
        ),
        ("ka.sourceip.net in (256.1.1.1)", "256.1.1.1"),
    ] {
        let (set, warnings) = load(cond);
        assert_eq!(set.rules().count(), 0, "{cond}");
        assert_eq!(warnings.len(), 1, "{cond}: {warnings:#?}");
        let w = &warnings[0];
        assert_eq!(w.kind, WarningKind::InvalidCondition, "{cond}");
        assert_eq!(w.item.as_deref(), Some("R"), "{cond}");
        let text = w.to_string();
        assert!(text.contains(&format!("'{value}'")), "{cond}: {text}");
    }
    // Operators without address semantics are refused too.
    let (_, warnings) = load("ka.sourceip.net startswith 10.");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].to_string().contains("startswith"));
}
