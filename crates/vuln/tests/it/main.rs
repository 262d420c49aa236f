//! Integration tests of palisade-vuln against the real advisory databases and package
//! database fixtures of the corpus.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod catalogers;
mod corpus;
mod db;
mod debian;
mod http_server;
mod image;
mod imagekit;
mod matching;
mod registry;
mod report;
mod rescan;
mod sbom;
mod scan;
mod vulnlist_debian;
