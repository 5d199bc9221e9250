-- Refunds by when they were recorded: the loyalty worker reads the ones since
-- its last pass every minute (clawbacks, re-tiering), which without this
-- index scans every refund of the shop each time.
CREATE INDEX refunds_created ON refunds (workspace_id, created_at);
