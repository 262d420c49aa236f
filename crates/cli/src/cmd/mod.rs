//! One module per top-level command.

pub(crate) mod image;
pub(crate) mod platform;
pub(crate) mod posture;
pub(crate) mod runtime;
pub(crate) mod vuln;
