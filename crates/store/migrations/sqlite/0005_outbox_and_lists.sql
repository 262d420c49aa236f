-- Export outbox, the sensor role, and indexes for the server's lists.

-- Tokens may now have the role 'sensor' (posts events, reads nothing). SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt.
CREATE TABLE tokens_new (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'reader', 'sensor')),
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used  TEXT
);
INSERT INTO tokens_new (id, hash, role, label, created_at, last_used)
    SELECT id, hash, role, label, created_at, last_used FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

-- Outbox for at-least-once delivery of alerts to external sinks (SIEMs): one row per alert
-- occurrence and sink, written in the alert's transaction, leased by a sender and deleted when
-- the sink acknowledged it. AUTOINCREMENT: an id is never reused, so a late acknowledgement
-- can only remove the item it was meant for.
CREATE TABLE export_queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sink         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    enqueued_at  TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- Unix time in milliseconds (database clock) until which a sender holds the item; 0 = free.
    leased_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX export_queue_by_sink ON export_queue(sink, id);

-- Findings keep their check title in a column so recommendations aggregate without parsing JSON.
ALTER TABLE snapshot_findings ADD COLUMN title TEXT NOT NULL DEFAULT '';
UPDATE snapshot_findings SET title = coalesce(json_extract(body, '$.title'), '');

-- Findings counted by check, per snapshot: written with the snapshot (snapshots never change),
-- so the recommendations list reads a few dozen rows instead of aggregating every finding.
CREATE TABLE snapshot_checks (
    snapshot_id   INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    check_id      TEXT NOT NULL,
    title         TEXT NOT NULL,
    -- Highest severity of the check's findings: 0 informational .. 4 critical.
    severity_rank INTEGER NOT NULL,
    findings      INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, check_id)
);
INSERT INTO snapshot_checks (snapshot_id, check_id, title, severity_rank, findings)
    SELECT snapshot_id, check_id, min(title),
           max(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                             WHEN 'low' THEN 1 ELSE 0 END),
           count(*)
    FROM snapshot_findings GROUP BY snapshot_id, check_id;

-- Every finding query is scoped to one snapshot: the global indexes served nothing.
DROP INDEX snapshot_findings_by_check;
DROP INDEX snapshot_findings_by_severity;
DROP INDEX snapshot_findings_by_resource;
CREATE INDEX snapshot_findings_by_check ON snapshot_findings(snapshot_id, check_id, position);
CREATE INDEX snapshot_findings_by_namespace ON snapshot_findings(snapshot_id, namespace, position);

-- Alert lists are ordered by (last_seen, id), optionally within one status.
DROP INDEX alerts_by_last_seen;
CREATE INDEX alerts_by_last_seen ON alerts(last_seen, id);
CREATE INDEX alerts_by_status_last_seen ON alerts(status, last_seen, id);
