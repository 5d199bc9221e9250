-- segment_memberships gains a row per customer who enters a segment: the
-- first evaluation of the nine built-ins over a million customers writes
-- 775,000. Measured on PostgreSQL (docs/benchmarks.md, "Segments",
-- 2026-11-24): its two foreign keys checked every row one by one, 9.8 s of
-- that evaluation's 40.6 s; 357,000 stays took 7.3 s with them and 2.9 s
-- without. So, as customer_scores (migration 015), the table keeps no
-- foreign key, and the code that removes a parent removes its stays:
-- - deleteSegment (src/segments) deletes the segment's stays with it, holding
--   the segments lock so no evaluation is writing stays for it meanwhile;
-- - mergeCustomers (src/ingest) deletes the merged-away customer's stays and
--   marks the customer changed: an evaluation that read the customer before
--   the merge committed may still write a stay for it, and the worker's next
--   pass then closes that stay (its rule no longer finds the customer).
ALTER TABLE segment_memberships DROP CONSTRAINT IF EXISTS segment_memberships_segment_id_fkey;
ALTER TABLE segment_memberships DROP CONSTRAINT IF EXISTS segment_memberships_customer_id_fkey;
