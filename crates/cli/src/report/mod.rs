//! Report writers for findings: table, JSON, SARIF 2.1.0 and JUnit XML.

pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod sarif;
pub(crate) mod table;

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use palisade_inventory::{Inventory, LoadError};
use palisade_model::{Finding, Location, ResourceRef};

/// What a scan report is made from.
pub(crate) struct ScanContext<'a> {
    pub(crate) inventory: &'a Inventory,
    pub(crate) findings: &'a [Finding],
    pub(crate) errors: &'a [LoadError],
    /// Comparison with the previous saved scan (`--save`).
    pub(crate) changes: Option<&'a palisade_store::ScanComparison>,
}

impl ScanContext<'_> {
    /// Where each resource was read from (first occurrence wins).
    pub(crate) fn locations(&self) -> HashMap<&ResourceRef, &Location> {
        let mut m = HashMap::with_capacity(self.inventory.objects.len());
        for o in &self.inventory.objects {
            m.entry(&o.resource).or_insert(&o.location);
        }
        m
    }
}

/// stdout or a file, buffered; a file is written to a temporary name and renamed on success so
/// a failed run never leaves a truncated report behind.
pub(crate) struct Output {
    inner: BufWriter<Box<dyn Write>>,
    rename: Option<(PathBuf, PathBuf)>,
}

impl Output {
    pub(crate) fn open(path: Option<&Path>) -> anyhow::Result<Output> {
        match path {
            None => Ok(Output {
                inner: BufWriter::new(Box::new(io::stdout().lock())),
                rename: None,
            }),
            Some(p) => {
                let mut tmp = p.as_os_str().to_owned();
                tmp.push(".partial");
                let tmp = PathBuf::from(tmp);
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                Ok(Output {
                    inner: BufWriter::new(Box::new(f)),
                    rename: Some((tmp, p.to_path_buf())),
                })
            }
        }
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.inner.flush().context("cannot write the report")?;
        if let Some((tmp, dest)) = self.rename.take() {
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("cannot write {}", dest.display()))?;
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
