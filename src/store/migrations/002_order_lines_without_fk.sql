-- order_lines.order_id is no longer an enforced foreign key. Lines are only
-- ever written by the statement that inserts their order (ingest/write.ts,
-- writeOrders), and orders are never deleted, so the check could not fail;
-- it cost 30-40 % of a bulk import's order statement (docs/benchmarks.md).
ALTER TABLE order_lines DROP CONSTRAINT order_lines_order_id_fkey;
