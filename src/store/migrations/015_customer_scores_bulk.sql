-- customer_scores is rewritten whole by every scoring run (a million rows on
-- a large shop, with COPY). Measured on PostgreSQL, 1,000,000 rows
-- (docs/benchmarks.md, "Models"): 3.4 s into a bare table, 4.8 s with the
-- primary key, 10.9 s with the two secondary indexes too, and 28 s with the
-- two foreign keys as well — each key checks every row against its parent.
-- So the table keeps only its primary key:
-- - the customer's row is removed with the customer by the code that removes
--   customers (ingest mergeCustomers), and every scoring run rewrites the
--   workspace's rows from its current customers;
-- - stage and RFM segment have 7 and 11 values: their readers (the overview's
--   counts, the customer list's filters, segment rules) read most of the
--   workspace's rows anyway, where an index does not help.
ALTER TABLE customer_scores DROP CONSTRAINT IF EXISTS customer_scores_customer_id_fkey;
ALTER TABLE customer_scores DROP CONSTRAINT IF EXISTS customer_scores_workspace_id_fkey;
DROP INDEX IF EXISTS customer_scores_stage;
DROP INDEX IF EXISTS customer_scores_rfm;
