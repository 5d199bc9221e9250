-- The analytics projection (src/metrics/order-projection.ts) keeps every purchase of
-- a workspace in memory and catches up by reading only the orders written
-- since its last look: each order row carries the id of the transaction that
-- last wrote it. A reader remembers pg_snapshot_xmin() of its previous look
-- and reads changed_xid >= that: a transaction still open then has an id at
-- least as large, so nothing committed later is missed, whatever the order
-- in which concurrent writers commit (a sequence number would be handed out
-- in one order and committed in another).
-- New rows take the id from the default, updated rows from the trigger.
-- Orders are never deleted (merges move them to the surviving customer).
ALTER TABLE orders ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX orders_changed ON orders (workspace_id, changed_xid);

CREATE FUNCTION orders_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END $$;
CREATE TRIGGER orders_changed BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_note_change();

-- The headline reads the period's refunds by when they were issued.
CREATE INDEX refunds_refunded ON refunds (workspace_id, refunded_at);
