//! Vulnerability matching core of palisade's image vulnerability assessment: given the
//! packages found in an image, which published vulnerabilities affect them and what fixes
//! them.
//!
//! ```text
//!  OSV JSON/YAML ─┐
//!  RustSec .md ───┤  osv::import_*   ┌──────────────┐   matcher::Index::query
//!  Node.js WG ────┼────────────────► │ advisory::   │ ◄─────────────── PackageQuery
//!  Alpine secdb ──┘                  │ Advisory     │ ──► Finding (ids, fix, severity,
//!  CISA KEV ──────── osv::load_kev ─►└──────────────┘      remediation, KEV)
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
//!   security WG, Alpine secdb and CISA KEV; each reports per-file errors instead of failing.
//! - [`matcher`]: the in-memory index keyed by `(ecosystem, normalised name)` and the
//!   matching rules (OSV range semantics, alias grouping, remediation).
//!
//! The crate does no network I/O; importers and image sources read files the caller points
//! at. A compact on-disk index is a later step: matching works on in-memory values.

pub mod advisory;
pub mod catalog;
pub mod image;
pub mod matcher;
pub mod osv;
pub mod sbom;
pub mod scan;
pub mod version;

pub use advisory::{Advisory, Affected, Ecosystem, Event, Package, Range, RangeKind};
pub use matcher::{Finding, Index, Matches, PackageQuery, Remediation};
pub use version::{Scheme, VersionError};
