-- Refund rates look refunds up by order (metrics/refunds-catalogue.ts).
CREATE INDEX refunds_order ON refunds (workspace_id, order_id) WHERE order_id IS NOT NULL;
