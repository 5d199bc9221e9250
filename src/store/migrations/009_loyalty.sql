-- The loyalty programme (src/loyalty). The ledger is append-only and the
-- truth; loyalty_accounts holds each customer's balance derived from it,
-- updated in the same transaction as the entries, with its row locked so
-- concurrent redemptions of one customer are serialised. The CHECK keeps a
-- balance from ever going below zero, whatever the code does.
CREATE TABLE loyalty_accounts (
  workspace_id     text NOT NULL,
  customer_id      bigint PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  balance          bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
  earned           bigint NOT NULL DEFAULT 0,   -- lifetime points credited (earn, adjust up)
  spent            bigint NOT NULL DEFAULT 0,   -- lifetime points redeemed
  last_activity_at timestamptz,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX loyalty_accounts_ws ON loyalty_accounts (workspace_id);

CREATE TABLE loyalty_ledger (
  workspace_id    text NOT NULL,
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  kind            text NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust', 'clawback')),
  points          bigint NOT NULL,               -- signed: credits positive, debits negative
  balance_after   bigint NOT NULL CHECK (balance_after >= 0),
  reason          text NOT NULL,
  reference       text,                          -- order:<id>, refund:<id>, journey:<id>:<step>, …
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL,
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX loyalty_ledger_customer ON loyalty_ledger (customer_id, id);

CREATE TABLE loyalty_settings (
  workspace_id text PRIMARY KEY REFERENCES workspaces(id),
  settings     jsonb NOT NULL,
  -- how far orders, refunds and bonus events have been credited
  credited_until timestamptz,
  updated_at   timestamptz NOT NULL
);

-- A balance change is a change of the customer for segments ("has 500 points or more").
CREATE TRIGGER loyalty_accounts_inserted AFTER INSERT ON loyalty_accounts REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER loyalty_accounts_updated AFTER UPDATE ON loyalty_accounts REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
