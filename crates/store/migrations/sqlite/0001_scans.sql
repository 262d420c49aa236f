-- Scan history: every saved posture scan of a target (a set of files or a cluster) with its
-- findings, so a later scan can report what is new and what was fixed.
CREATE TABLE targets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);

CREATE TABLE scans (
    id        INTEGER PRIMARY KEY,
    target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    taken_at  TEXT NOT NULL,
    resources INTEGER NOT NULL,
    findings  INTEGER NOT NULL
);
CREATE INDEX scans_by_target ON scans(target_id, id);

CREATE TABLE findings (
    scan_id     INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    namespace   TEXT,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX findings_by_scan ON findings(scan_id, fingerprint);
CREATE INDEX findings_by_check ON findings(check_id, severity);
