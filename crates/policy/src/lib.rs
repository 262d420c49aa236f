//! Gatekeeper policies (skeleton).
