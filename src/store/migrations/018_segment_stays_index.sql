-- segment_memberships: every stay written paid for three indexes. A
-- segment's first evaluation over a million customers writes 776,000 stays;
-- into an empty copy of the table they took 2.6 s on PostgreSQL and 4.95 s
-- on PGlite with the three, 1.3 s and 2.9 s with the unique one alone
-- (docs/benchmarks.md, 2026-11-24). Two of them served lookups that one
-- index over every stay by (segment, customer) serves as well:
-- - by customer (a customer's segments, a merge deleting the merged-away
--   customer's stays): the code now names the workspace's segments, so the
--   lookup is one probe per segment instead of a scan;
-- - by segment and entry time (size over time): that query reads every
--   stay of the segment anyway (a stay entered before a day counts towards
--   its size unless it exited), so an index on the segment is enough.
-- The unique partial index of current stays stays as it is.
DROP INDEX IF EXISTS segment_memberships_customer;
DROP INDEX IF EXISTS segment_memberships_history;
CREATE INDEX segment_memberships_stays ON segment_memberships (segment_id, customer_id);
