-- Export outbox, the sensor role, and indexes for the server's lists.

-- Tokens may now have the role 'sensor' (posts events, reads nothing).
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check CHECK (role IN ('admin', 'reader', 'sensor'));

-- Outbox for at-least-once delivery of alerts to external sinks (SIEMs): one row per alert
-- occurrence and sink, written in the alert's transaction, leased by a sender and deleted when
-- the sink acknowledged it. Identity values are never reused.
CREATE TABLE export_queue (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink         TEXT COLLATE "C" NOT NULL,
    payload      TEXT NOT NULL,
    enqueued_at  TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    -- Unix time in milliseconds (database clock) until which a sender holds the item; 0 = free.
    leased_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX export_queue_by_sink ON export_queue(sink, id);

-- Findings keep their check title in a column so recommendations aggregate without parsing JSON.
ALTER TABLE snapshot_findings ADD COLUMN title TEXT NOT NULL DEFAULT '';
UPDATE snapshot_findings SET title = coalesce(body::jsonb ->> 'title', '');

-- Findings counted by check, per snapshot: written with the snapshot (snapshots never change),
-- so the recommendations list reads a few dozen rows instead of aggregating every finding.
CREATE TABLE snapshot_checks (
    snapshot_id   BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    check_id      TEXT COLLATE "C" NOT NULL,
    title         TEXT NOT NULL,
    -- Highest severity of the check's findings: 0 informational .. 4 critical.
    severity_rank BIGINT NOT NULL,
    findings      BIGINT NOT NULL,
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
