//! Ed25519 keys for signing database bundles ([`crate::db::sign`]) and scan attestations
//! ([`crate::attest`]).
//!
//! Key files:
//! - **private key**: PKCS#8 (v1 as OpenSSL writes it, or v2 with the public key as `ring`
//!   writes it), either DER or PEM (`-----BEGIN PRIVATE KEY-----`). [`KeyPair::pkcs8_pem`]
//!   writes the PEM form, which `openssl pkey -in key.pem -pubout` also reads.
//! - **public key**: the raw 32-byte key in standard base64 (one line, what
//!   [`KeyPair::public_base64`] writes), or a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) as
//!   OpenSSL writes it.
//!
//! Signing and verification are `ring`'s Ed25519; what is written here is only the decoding
//! of those two file forms (PEM armour is a base64 body between two marker lines, and an
//! Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix before the key).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32-byte key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key that could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    #[error("reading key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The bytes are not a key of the expected form.
    #[error("{what}: {reason}")]
    Format {
        /// The file or value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The system random generator failed.
    #[error("generating a key: the system random generator failed")]
    Random,
}

fn format_err(what: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Format {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// The body of a PEM block with the given label, if `text` is PEM.
fn pem_body(text: &str, label: &str, what: &str) -> Result<Option<Vec<u8>>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = text.find(&begin) else {
        if text.contains("-----BEGIN ") {
            return Err(format_err(what, format!("expected a PEM {label} block")));
        }
        return Ok(None);
    };
    let rest = &text[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| format_err(what, format!("PEM block has no {end} line")))?;
    let b64: String = rest[..stop].split_whitespace().collect();
    B64.decode(b64.as_bytes())
        .map(Some)
        .map_err(|e| format_err(what, format!("PEM body is not base64: {e}")))
}

fn read_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    fs_err::read(path).map_err(|e| KeyError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// An Ed25519 private key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key().to_base64())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// From PKCS#8 bytes, DER or PEM.
    pub fn from_pkcs8(bytes: &[u8], what: &str) -> Result<SigningKey, KeyError> {
        let der = match std::str::from_utf8(bytes) {
            Ok(text) => pem_body(text, "PRIVATE KEY", what)?.unwrap_or_else(|| bytes.to_vec()),
            Err(_) => bytes.to_vec(),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der))
            .map_err(|e| format_err(what, format!("not an Ed25519 PKCS#8 private key: {e}")))?;
        Ok(SigningKey { pair })
    }

    /// Reads a PKCS#8 key file (DER or PEM).
    pub fn from_file(path: &Path) -> Result<SigningKey, KeyError> {
        let bytes = read_file(path)?;
        SigningKey::from_pkcs8(&bytes, &path.display().to_string())
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(key)
    }

    /// Signs a message (64-byte Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// An Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// From the raw 32 bytes, their base64, a DER SubjectPublicKeyInfo or a PEM `PUBLIC KEY`.
    pub fn parse(bytes: &[u8], what: &str) -> Result<PublicKey, KeyError> {
        let raw: Vec<u8> = match std::str::from_utf8(bytes) {
            Ok(text) => match pem_body(text, "PUBLIC KEY", what)? {
                Some(der) => der,
                None => {
                    let t = text.trim();
                    if bytes.len() == 32 && B64.decode(t.as_bytes()).is_err() {
                        bytes.to_vec()
                    } else {
                        B64.decode(t.as_bytes()).map_err(|e| {
                            format_err(what, format!("not a base64 Ed25519 public key: {e}"))
                        })?
                    }
                }
            },
            Err(_) => bytes.to_vec(),
        };
        let key = match raw.len() {
            32 => raw.as_slice(),
            44 if raw.starts_with(&SPKI_PREFIX) => &raw[12..],
            n => {
                return Err(format_err(
                    what,
                    format!("expected a 32-byte Ed25519 public key, found {n} bytes"),
                ));
            }
        };
        let mut out = [0u8; 32];
        out.copy_from_slice(key);
        Ok(PublicKey(out))
    }

    /// Reads a public key file (base64 of the raw key, or PEM).
    pub fn from_file(path: &Path) -> Result<PublicKey, KeyError> {
        let bytes = read_file(path)?;
        PublicKey::parse(&bytes, &path.display().to_string())
    }

    /// Standard base64 of the raw key.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as OpenSSL writes it.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem("PUBLIC KEY", &der)
    }

    /// A short identifier: hex sha256 of the raw key.
    pub fn key_id(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.0))
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, sig)
            .is_ok()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A new key pair: its PKCS#8 document and public key.
#[derive(Clone)]
pub struct KeyPair {
    /// PKCS#8 v2 DER.
    pub pkcs8: Vec<u8>,
    /// The public key.
    pub public: PublicKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public.to_base64())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// The private key as PEM `PRIVATE KEY`.
    pub fn pkcs8_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8)
    }

    /// The public key file text: base64 of the raw key and a newline.
    pub fn public_base64(&self) -> String {
        format!("{}\n", self.public.to_base64())
    }

    /// The signing key.
    pub fn signing_key(&self) -> Result<SigningKey, KeyError> {
        SigningKey::from_pkcs8(&self.pkcs8, "generated key")
    }
}

/// Generates an Ed25519 key pair from the system random generator.
pub fn generate_keypair() -> Result<KeyPair, KeyError> {
    let rng = SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Random)?;
    let pkcs8 = doc.as_ref().to_vec();
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|e| format_err("generated key", e.to_string()))?;
    let mut public = [0u8; 32];
    public.copy_from_slice(pair.public_key().as_ref());
    Ok(KeyPair {
        pkcs8,
        public: PublicKey(public),
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail by panicking"
    )]

    use super::*;

    #[test]
    fn file_forms_round_trip() {
        let kp = generate_keypair().unwrap();
        let from_pem = SigningKey::from_pkcs8(kp.pkcs8_pem().as_bytes(), "pem").unwrap();
        let from_der = SigningKey::from_pkcs8(&kp.pkcs8, "der").unwrap();
        assert_eq!(from_pem.public_key(), kp.public);
        assert_eq!(from_der.public_key(), kp.public);
        let p1 = PublicKey::parse(kp.public_base64().as_bytes(), "b64").unwrap();
        let p2 = PublicKey::parse(kp.public.to_pem().as_bytes(), "pem").unwrap();
        assert_eq!(p1, kp.public);
        assert_eq!(p2, kp.public);
        let sig = from_pem.sign(b"message");
        assert!(p1.verify(b"message", &sig));
        assert!(!p1.verify(b"messagf", &sig));
        assert!(PublicKey::parse(b"AAAA", "short").is_err());
        assert!(SigningKey::from_pkcs8(b"not a key", "junk").is_err());
    }

    #[test]
    fn openssl_pkcs8_v1() {
        // `openssl genpkey -algorithm ed25519` output (PKCS#8 v1, no public key inside).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHwa9wUOsBTZ2eZVKMhJR4Ml6dCNVHHsmdx1jxUtXx9R\n-----END PRIVATE KEY-----\n";
        let k = SigningKey::from_pkcs8(pem.as_bytes(), "openssl").unwrap();
        let sig = k.sign(b"x");
        assert!(k.public_key().verify(b"x", &sig));
    }
}
