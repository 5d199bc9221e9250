-- segment_memberships: each stay written pays for one index instead of
-- two. Migration 018 left the unique index of current stays (segment,
-- customer) WHERE exited_at IS NULL and an index of every stay by (segment,
-- customer): a stay opened was written into both. Now the second one holds
-- only the closed stays, so the two never overlap:
-- - opening a stay writes the index of current stays only (a first
--   evaluation of the nine built-ins over a million customers opens
--   776,000);
-- - closing one writes its new version into the index of closed stays;
-- - a segment's current members are still read from an index of current
--   stays alone, however long its history grows.
-- A lookup of every stay, open or closed (size over time, a merge, deleting
-- a segment), reads both: the code asks for each with its own condition.
-- Measured on PGlite, the first evaluation's 839,000 stays of a synthetic
-- million-customer shop: 5.1 s with both indexes written, 3.8-3.9 s with one
-- (docs/benchmarks.md, 2026-11-25).
CREATE INDEX segment_memberships_closed ON segment_memberships (segment_id, customer_id) WHERE exited_at IS NOT NULL;
DROP INDEX IF EXISTS segment_memberships_stays;
