-- Cluster inventory history: the clusters palisade has seen, the snapshots taken of each, the
-- objects of every snapshot and the findings computed on it.
CREATE TABLE clusters (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    server     TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);

CREATE TABLE snapshots (
    id        INTEGER PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    taken_at  TEXT NOT NULL,
    objects   INTEGER NOT NULL,
    findings  INTEGER NOT NULL,
    summary   TEXT NOT NULL
);
CREATE INDEX snapshots_by_cluster ON snapshots(cluster_id, id);

-- Object contents, addressed by the SHA-256 of their JSON text: an object that does not change
-- between snapshots is stored once, so history costs one row per object per snapshot.
CREATE TABLE object_contents (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE snapshot_objects (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    api_version TEXT NOT NULL,
    kind        TEXT NOT NULL,
    namespace   TEXT,
    name        TEXT NOT NULL,
    file        TEXT NOT NULL,
    document    INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    hash        TEXT NOT NULL REFERENCES object_contents(hash),
    PRIMARY KEY (snapshot_id, position)
);
CREATE INDEX snapshot_objects_by_resource ON snapshot_objects(snapshot_id, kind, namespace, name);
CREATE INDEX snapshot_objects_by_hash ON snapshot_objects(hash);

CREATE TABLE snapshot_findings (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    check_id    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    namespace   TEXT,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, position)
);
CREATE INDEX snapshot_findings_by_check ON snapshot_findings(check_id, severity);
CREATE INDEX snapshot_findings_by_severity ON snapshot_findings(severity);
CREATE INDEX snapshot_findings_by_resource ON snapshot_findings(namespace, kind);
