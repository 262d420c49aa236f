-- The objects each scan saw (key and content hash), so the next scan can say which resources
-- were added, changed or removed.
CREATE TABLE scan_objects (
    scan_id BIGINT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    key     TEXT COLLATE "C" NOT NULL,
    hash    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX scan_objects_by_scan ON scan_objects(scan_id, key);
