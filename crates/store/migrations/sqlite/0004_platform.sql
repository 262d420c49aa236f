-- The platform server's state: security alerts with their lifecycle, API tokens (hashed),
-- image vulnerability reports by digest, and settings.

-- One row per deduplicated alert: a repeat of the same (type, rule, cluster, resource, user)
-- while the alert is not resolved raises `count` and `last_seen` instead of adding a row.
CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY,
    fingerprint       TEXT NOT NULL,
    alert_type        TEXT NOT NULL,
    rule              TEXT NOT NULL,
    severity          TEXT NOT NULL,
    tactic            TEXT,
    technique         TEXT,
    count             INTEGER NOT NULL,
    first_seen        TEXT NOT NULL,
    last_seen         TEXT NOT NULL,
    cluster_id        TEXT,
    resource          TEXT,
    user_name         TEXT,
    message           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'dismissed', 'resolved')),
    status_changed_at TEXT,
    status_by         TEXT,
    status_comment    TEXT
);
CREATE UNIQUE INDEX alerts_open_by_fingerprint ON alerts(fingerprint) WHERE status != 'resolved';
CREATE INDEX alerts_by_status ON alerts(status, severity);
CREATE INDEX alerts_by_last_seen ON alerts(last_seen);

-- API tokens: only the SHA-256 of the token is kept; the plaintext is shown once at creation.
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'reader')),
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used  TEXT
);

-- Vulnerability reports and SBOMs of images, by digest (JSON documents).
CREATE TABLE images (
    digest     TEXT PRIMARY KEY,
    reference  TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    summary    TEXT NOT NULL,
    report     TEXT NOT NULL,
    sbom       TEXT
);

-- Settings documents by key (JSON).
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
