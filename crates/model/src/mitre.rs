//! MITRE ATT&CK identifiers, validated.
//!
//! Check and rule catalogues name techniques by id; ids are validated here (shape and membership
//! in the table of techniques palisade uses) so that a typo fails a unit test instead of
//! producing a dangling reference in a report.

/// A MITRE ATT&CK technique palisade refers to: id, name and the tactics it belongs to
/// (Enterprise and Containers matrices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    /// `T####` or `T####.###`.
    pub id: &'static str,
    /// Official name.
    pub name: &'static str,
    /// Tactic ids (`TA####`).
    pub tactics: &'static [&'static str],
}

/// The tactics of the Enterprise matrix: id and name.
pub const TACTICS: &[(&str, &str)] = &[
    ("TA0001", "Initial Access"),
    ("TA0002", "Execution"),
    ("TA0003", "Persistence"),
    ("TA0004", "Privilege Escalation"),
    ("TA0005", "Defense Evasion"),
    ("TA0006", "Credential Access"),
    ("TA0007", "Discovery"),
    ("TA0008", "Lateral Movement"),
    ("TA0009", "Collection"),
    ("TA0010", "Exfiltration"),
    ("TA0011", "Command and Control"),
    ("TA0040", "Impact"),
    ("TA0042", "Resource Development"),
    ("TA0043", "Reconnaissance"),
];

/// Techniques referenced by palisade's catalogues.
pub const TECHNIQUES: &[Technique] = &[
    Technique {
        id: "T1190",
        name: "Exploit Public-Facing Application",
        tactics: &["TA0001"],
    },
    Technique {
        id: "T1133",
        name: "External Remote Services",
        tactics: &["TA0001", "TA0003"],
    },
    Technique {
        id: "T1078",
        name: "Valid Accounts",
        tactics: &["TA0001", "TA0003", "TA0004", "TA0005"],
    },
    Technique {
        id: "T1078.001",
        name: "Valid Accounts: Default Accounts",
        tactics: &["TA0001", "TA0003", "TA0004", "TA0005"],
    },
    Technique {
        id: "T1609",
        name: "Container Administration Command",
        tactics: &["TA0002"],
    },
    Technique {
        id: "T1610",
        name: "Deploy Container",
        tactics: &["TA0002", "TA0005"],
    },
    Technique {
        id: "T1611",
        name: "Escape to Host",
        tactics: &["TA0004"],
    },
    Technique {
        id: "T1612",
        name: "Build Image on Host",
        tactics: &["TA0005"],
    },
    Technique {
        id: "T1613",
        name: "Container and Resource Discovery",
        tactics: &["TA0007"],
    },
    Technique {
        id: "T1552",
        name: "Unsecured Credentials",
        tactics: &["TA0006"],
    },
    Technique {
        id: "T1552.001",
        name: "Unsecured Credentials: Credentials In Files",
        tactics: &["TA0006"],
    },
    Technique {
        id: "T1552.007",
        name: "Unsecured Credentials: Container API",
        tactics: &["TA0006"],
    },
    Technique {
        id: "T1528",
        name: "Steal Application Access Token",
        tactics: &["TA0006"],
    },
    Technique {
        id: "T1098",
        name: "Account Manipulation",
        tactics: &["TA0003", "TA0004"],
    },
    Technique {
        id: "T1098.006",
        name: "Account Manipulation: Additional Container Cluster Roles",
        tactics: &["TA0003", "TA0004"],
    },
    Technique {
        id: "T1068",
        name: "Exploitation for Privilege Escalation",
        tactics: &["TA0004"],
    },
    Technique {
        id: "T1548",
        name: "Abuse Elevation Control Mechanism",
        tactics: &["TA0004", "TA0005"],
    },
    Technique {
        id: "T1053.007",
        name: "Scheduled Task/Job: Container Orchestration Job",
        tactics: &["TA0002", "TA0003", "TA0004"],
    },
    Technique {
        id: "T1525",
        name: "Implant Internal Image",
        tactics: &["TA0003"],
    },
    Technique {
        id: "T1195.002",
        name: "Supply Chain Compromise: Compromise Software Supply Chain",
        tactics: &["TA0001"],
    },
    Technique {
        id: "T1496",
        name: "Resource Hijacking",
        tactics: &["TA0040"],
    },
    Technique {
        id: "T1499",
        name: "Endpoint Denial of Service",
        tactics: &["TA0040"],
    },
    Technique {
        id: "T1557",
        name: "Adversary-in-the-Middle",
        tactics: &["TA0006", "TA0009"],
    },
    Technique {
        id: "T1040",
        name: "Network Sniffing",
        tactics: &["TA0006", "TA0007"],
    },
    Technique {
        id: "T1046",
        name: "Network Service Discovery",
        tactics: &["TA0007"],
    },
    Technique {
        id: "T1070",
        name: "Indicator Removal",
        tactics: &["TA0005"],
    },
    Technique {
        id: "T1562.001",
        name: "Impair Defenses: Disable or Modify Tools",
        tactics: &["TA0005"],
    },
    Technique {
        id: "T1021",
        name: "Remote Services",
        tactics: &["TA0008"],
    },
    Technique {
        id: "T1105",
        name: "Ingress Tool Transfer",
        tactics: &["TA0011"],
    },
    Technique {
        id: "T1059",
        name: "Command and Scripting Interpreter",
        tactics: &["TA0002"],
    },
];

/// Looks a technique up by id.
pub fn technique(id: &str) -> Option<&'static Technique> {
    TECHNIQUES.iter().find(|t| t.id == id)
}

/// Whether `id` has the shape of a technique id (`T1234` or `T1234.001`).
pub fn is_technique_shape(id: &str) -> bool {
    let b = id.as_bytes();
    let base = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => base,
        9 => base && b[5] == b'.' && b[6..9].iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Looks a tactic name up by id.
pub fn tactic_name(id: &str) -> Option<&'static str> {
    TACTICS.iter().find(|(t, _)| *t == id).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_table_is_well_formed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for t in TECHNIQUES {
            assert!(is_technique_shape(t.id), "{} is not a technique id", t.id);
            assert!(seen.insert(t.id), "{} listed twice", t.id);
            assert!(!t.tactics.is_empty());
            for ta in t.tactics {
                assert!(
                    tactic_name(ta).is_some(),
                    "{} names unknown tactic {ta}",
                    t.id
                );
            }
        }
        assert!(!is_technique_shape("T12"));
        assert!(!is_technique_shape("T1611.1"));
        assert!(technique("T1611").is_some());
    }
}
