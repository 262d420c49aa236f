-- Evidence of alerts: the raw events (the detector's JSON, at most 64 KiB each) of an alert's
-- latest occurrences, at most 10 per alert; older ones are deleted as new ones arrive.
CREATE TABLE alert_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    seen_at   TEXT NOT NULL,
    event     TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events(alert_id, id);
