//! Vulnerability matching core of palisade's image vulnerability assessment: given the
//! packages found in an image, which published vulnerabilities affect them and what fixes
//! them.
//!
//! ```text
//!  OSV JSON/YAML ─┐
//!  RustSec .md ───┤  osv::import_*   ┌──────────────┐   matcher::Index::query
//!  Node.js WG ────┼────────────────► │ advisory::   │ ◄─────────────── PackageQuery
//!  Alpine secdb ──┤                  │ Advisory     │ ──► Finding (ids, fix, severity,
//!  Debian tracker ┘                  │              │      remediation, KEV)
//!  CISA KEV ──────── osv::load_kev ─►└──────────────┘
//!                                          │
//!                              version::compare (per ecosystem scheme)
//! ```
//!
//! Images become package lists first:
//!
//! ```text
//!  OCI layout / docker save / OCI tar / --rootfs
//!        │ image::open_path, open_image, open_rootfs  (verified, squashed view)
//!        ▼
//!  image::Filesystem ── catalog::catalog ──► catalog::Sbom ◄── sbom::read (CycloneDX, SPDX)
//!                                                │  └──────────► sbom::write
//!                                                ▼
//!                         scan::scan_sbom / scan_image ──► scan::VulnReport
//! ```
//!
//! Modules:
//! - [`image`]: image sources (OCI layouts, docker/OCI archives, root filesystems, the
//!   [`image::ImageSource`] seam for registries), digest verification and the squashed
//!   read-only filesystem view with its safety bounds.
//! - [`catalog`]: catalogers of OS and language package databases into an SBOM with purls.
//! - [`sbom`]: CycloneDX 1.6 and SPDX 2.3 JSON, written and read.
//! - [`scan`]: SBOM packages → matcher queries → a vulnerability report.
//! - [`version`]: ordering of versions, one submodule per scheme (dpkg, rpm, apk, SemVer,
//!   Go, PEP 440, Maven, RubyGems, Composer, NuGet).
//! - [`advisory`]: the normalized advisory model (OSV-shaped) and CVSS scoring.
//! - [`osv`]: importers for OSV records and the native formats of RustSec, the Node.js
//!   security WG, Alpine secdb, the Debian security tracker (its JSON export or the
//!   `vuln-list-debian` tree trivy-db reads) and CISA KEV; each reports per-file errors
//!   instead of failing.
//! - [`matcher`]: the in-memory index keyed by `(ecosystem, normalised name)` and the
//!   matching rules (OSV range semantics, alias grouping, remediation); [`matcher::Lookup`]
//!   is what scans ask, answered by the index or the database.
//! - [`db`]: the local vulnerability database: one versioned file (`<dir>/advisories.pvdb`)
//!   built by importing any of the formats above plus EPSS, opened in milliseconds and
//!   queried like the index; updated from upstream feeds or a mirror; signed bundles.
//! - [`registry`]: OCI Distribution registries as an image source (reference parsing,
//!   anonymous/basic/bearer auth, docker `config.json`), plus catalog and tag listing.
//! - [`report`]: renderings of a scan report (SARIF 2.1.0).
//! - [`rescan`]: stored SBOMs against the current database: new and fixed ids per image.
//! - [`attest`]: DSSE-signed in-toto statements carrying a report; [`keys`]: the Ed25519
//!   key files shared with database signing.
//!
//! Network I/O happens only in [`db::update()`] and [`registry`], through a small blocking
//! HTTP(S) client (hyper and rustls on a private runtime); everything else reads the files
//! it is pointed at.

pub mod advisory;
pub mod attest;
pub mod catalog;
pub mod db;
mod http;
pub mod image;
pub mod keys;
pub mod matcher;
pub mod osv;
pub mod registry;
pub mod report;
pub mod rescan;
pub mod sbom;
pub mod scan;
pub mod version;

pub use advisory::{Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind};
pub use matcher::{Finding, Index, Lookup, Matches, PackageQuery, Remediation};
pub use version::{Scheme, VersionError};
