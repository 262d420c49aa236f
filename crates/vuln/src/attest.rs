//! Signed scan reports: a [`VulnReport`] as the predicate of an in-toto Statement v1 about
//! the image digest, in a DSSE envelope signed with Ed25519.
//!
//! ```text
//! {"payloadType": "application/vnd.in-toto+json",
//!  "payload": base64(Statement),
//!  "signatures": [{"keyid": sha256(public key), "sig": base64(Ed25519(PAE(type, payload)))}]}
//!
//! Statement = {"_type": "https://in-toto.io/Statement/v1",
//!              "subject": [{"name": <image name>, "digest": {"sha256": <hex>}}],
//!              "predicateType": PREDICATE_TYPE, "predicate": <VulnReport JSON>}
//! ```
//!
//! The signature covers DSSE's pre-authentication encoding
//! `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, so neither the payload type
//! nor the payload can be swapped. [`verify`] accepts an envelope when one of its
//! signatures verifies under the given key, the payload type is in-toto's, and the
//! statement parses; it returns the statement. Both specifications are a few lines of
//! JSON and one byte-string format, which is why they are written here rather than taken
//! from a crate (the Rust in-toto and sigstore crates pull in their own crypto stacks).
//! Keys are those of [`crate::keys`]; [`generate_keypair`] backs a `key generate` command.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

pub use crate::keys::{KeyError, KeyPair, PublicKey, SigningKey, generate_keypair};
use crate::scan::VulnReport;

/// DSSE payload type of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of a palisade vulnerability report.
pub const PREDICATE_TYPE: &str = "https://palisade.dev/attestation/vuln-report/v1";

/// Errors signing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The envelope or statement is malformed.
    #[error("attestation: {0}")]
    Malformed(String),
    /// No signature verifies under the key.
    #[error("attestation: no signature verifies with key {key_id}")]
    BadSignature {
        /// The key tried.
        key_id: String,
    },
    /// A key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// Its media type.
    pub payload_type: String,
    /// Signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key identifier ([`PublicKey::key_id`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
    /// Base64 signature.
    pub sig: String,
}

/// An in-toto resource descriptor (subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Name (image reference or path).
    #[serde(default)]
    pub name: String,
    /// Digests by algorithm (`sha256` → hex).
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub kind: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// [`PREDICATE_TYPE`] for reports made here.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: serde_json::Value,
}

impl Statement {
    /// The predicate as a vulnerability report, when it is one.
    pub fn report(&self) -> Result<VulnReport, AttestError> {
        if self.predicate_type != PREDICATE_TYPE {
            return Err(AttestError::Malformed(format!(
                "predicate type {} is not {PREDICATE_TYPE}",
                self.predicate_type
            )));
        }
        serde_json::from_value(self.predicate.clone())
            .map_err(|e| AttestError::Malformed(format!("predicate: {e}")))
    }
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The statement for a report: its subject is the report's image digest
/// (`sha256:<hex>`, else `digest` must be given) under the artifact's name.
pub fn statement(report: &VulnReport, digest: Option<&str>) -> Result<Statement, AttestError> {
    let d = digest
        .or(report.artifact.digest.as_deref())
        .ok_or_else(|| AttestError::Malformed("the report has no image digest".into()))?;
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AttestError::Malformed(format!(
            "subject digest {d:?} is not sha256:<64 hex>"
        )));
    }
    let predicate =
        serde_json::to_value(report).map_err(|e| AttestError::Malformed(e.to_string()))?;
    Ok(Statement {
        kind: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: report.artifact.name.clone(),
            digest: [("sha256".to_owned(), hex.to_ascii_lowercase())]
                .into_iter()
                .collect(),
        }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate,
    })
}

/// Signs a statement into an envelope.
pub fn sign_statement(statement: &Statement, key: &SigningKey) -> Result<Envelope, AttestError> {
    let payload =
        serde_json::to_vec(statement).map_err(|e| AttestError::Malformed(e.to_string()))?;
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    Ok(Envelope {
        payload: B64.encode(&payload),
        payload_type: PAYLOAD_TYPE.into(),
        signatures: vec![EnvelopeSignature {
            keyid: key.public_key().key_id(),
            sig: B64.encode(sig),
        }],
    })
}

/// Signs a report (see [`statement`]).
pub fn sign_report(
    report: &VulnReport,
    digest: Option<&str>,
    key: &SigningKey,
) -> Result<Envelope, AttestError> {
    sign_statement(&statement(report, digest)?, key)
}

/// Verifies an envelope with a public key and returns its statement.
pub fn verify(envelope: &Envelope, public_key: &PublicKey) -> Result<Statement, AttestError> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(AttestError::Malformed(format!(
            "payload type {} is not {PAYLOAD_TYPE}",
            envelope.payload_type
        )));
    }
    let payload = B64
        .decode(envelope.payload.trim())
        .map_err(|e| AttestError::Malformed(format!("payload is not base64: {e}")))?;
    let message = pae(&envelope.payload_type, &payload);
    let ok = envelope.signatures.iter().any(|s| {
        B64.decode(s.sig.trim())
            .is_ok_and(|sig| public_key.verify(&message, &sig))
    });
    if !ok {
        return Err(AttestError::BadSignature {
            key_id: public_key.key_id(),
        });
    }
    let st: Statement = serde_json::from_slice(&payload)
        .map_err(|e| AttestError::Malformed(format!("statement: {e}")))?;
    if st.kind != STATEMENT_TYPE {
        return Err(AttestError::Malformed(format!(
            "statement type {} is not {STATEMENT_TYPE}",
            st.kind
        )));
    }
    Ok(st)
}

/// Parses envelope JSON and verifies it.
pub fn verify_json(envelope: &[u8], public_key: &PublicKey) -> Result<Statement, AttestError> {
    let env: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| AttestError::Malformed(format!("envelope: {e}")))?;
    verify(&env, public_key)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;
    use crate::scan::{PackageRef, ReportArtifact, Vulnerability};

    fn report() -> VulnReport {
        VulnReport {
            artifact: ReportArtifact {
                digest: Some(format!("sha256:{}", "ab".repeat(32))),
                name: "registry.local/app:1".into(),
                distro: Some("alpine 3.18".into()),
            },
            vulnerabilities: vec![Vulnerability {
                id: "CVE-2023-5678".into(),
                aliases: vec![],
                package: PackageRef {
                    name: "openssl".into(),
                    version: "3.1.3-r0".into(),
                    purl: "pkg:apk/alpine/openssl@3.1.3-r0".into(),
                },
                fixed_versions: vec!["3.1.4-r1".into()],
                severity: None,
                cvss: None,
                kev: false,
                epss: None,
                remediation: "upgrade openssl to >= 3.1.4-r1".into(),
                summary: None,
            }],
            ..VulnReport::default()
        }
    }

    #[test]
    fn round_trip() {
        let kp = generate_keypair().unwrap();
        let key = kp.signing_key().unwrap();
        let env = sign_report(&report(), None, &key).unwrap();
        let json = serde_json::to_vec(&env).unwrap();
        let st = verify_json(&json, &kp.public).unwrap();
        assert_eq!(st.subject[0].digest["sha256"], "ab".repeat(32));
        assert_eq!(st.subject[0].name, "registry.local/app:1");
        assert_eq!(st.report().unwrap(), report());
        // The payload is the statement JSON with the in-toto fields.
        let payload: serde_json::Value =
            serde_json::from_slice(&B64.decode(&env.payload).unwrap()).unwrap();
        assert_eq!(payload["_type"], STATEMENT_TYPE);
        assert_eq!(payload["predicateType"], PREDICATE_TYPE);
    }

    #[test]
    fn tampered_payload_refused() {
        let kp = generate_keypair().unwrap();
        let key = kp.signing_key().unwrap();
        let mut env = sign_report(&report(), None, &key).unwrap();
        let mut st: serde_json::Value =
            serde_json::from_slice(&B64.decode(&env.payload).unwrap()).unwrap();
        st["predicate"]["vulnerabilities"] = serde_json::json!([]);
        env.payload = B64.encode(serde_json::to_vec(&st).unwrap());
        assert!(matches!(
            verify(&env, &kp.public),
            Err(AttestError::BadSignature { .. })
        ));
        // Changing the payload type is also caught.
        let mut env2 = sign_report(&report(), None, &key).unwrap();
        env2.payload_type = "application/json".into();
        assert!(verify(&env2, &kp.public).is_err());
    }

    #[test]
    fn wrong_key_refused() {
        let signer = generate_keypair().unwrap();
        let other = generate_keypair().unwrap();
        let env = sign_report(&report(), None, &signer.signing_key().unwrap()).unwrap();
        let err = verify(&env, &other.public).unwrap_err();
        assert!(err.to_string().contains(&other.public.key_id()), "{err}");
    }

    #[test]
    fn needs_a_digest() {
        let mut r = report();
        r.artifact.digest = None;
        assert!(statement(&r, None).is_err());
        assert!(statement(&r, Some(&format!("sha256:{}", "0".repeat(64)))).is_ok());
    }

    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
