-- The inventory list pages in SQL: each object row carries what its filters and the list need,
-- so a page reads only the rows it shows instead of every object body of the snapshot.
--   labels:   "\n" then "key=value\n" per label, so a selector term is one substring test;
--   images:   "\n" then "image\n" per container image of the pod template;
--   findings: number of findings on the object in its snapshot.
-- Rows saved before this migration stay NULL until the store fills them in when it opens
-- (it reads them through the partial index below, which is empty once that is done).
ALTER TABLE snapshot_objects ADD COLUMN labels TEXT;
ALTER TABLE snapshot_objects ADD COLUMN images TEXT;
ALTER TABLE snapshot_objects ADD COLUMN findings INTEGER;
CREATE INDEX snapshot_objects_unfilled ON snapshot_objects(snapshot_id) WHERE labels IS NULL;
-- Inventory pages filtered by namespace walk this index in keyset order.
CREATE INDEX snapshot_objects_by_namespace ON snapshot_objects(snapshot_id, namespace, position);

-- Finding pages and counts of one check filtered by resource read the resource columns from
-- this index instead of each row (whose JSON body makes the table ten times larger).
DROP INDEX snapshot_findings_by_check;
CREATE INDEX snapshot_findings_by_check
    ON snapshot_findings(snapshot_id, check_id, position, kind, namespace, name);
