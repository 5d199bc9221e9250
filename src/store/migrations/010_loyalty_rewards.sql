-- Rewards a member can spend points on, and each redemption with its unique code.
CREATE TABLE loyalty_rewards (
  workspace_id       text NOT NULL REFERENCES workspaces(id),
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name               text NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('fixed', 'percent', 'freeShipping', 'freeProduct')),
  value              bigint,                 -- minor units (fixed) or percent (percent)
  product_id         text,                   -- freeProduct
  cost               bigint NOT NULL CHECK (cost > 0),
  per_customer_limit integer,                -- null: no limit
  active             boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL
);

CREATE TABLE loyalty_redemptions (
  workspace_id    text NOT NULL,
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  reward_id       bigint NOT NULL REFERENCES loyalty_rewards(id),
  customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  code            text NOT NULL,
  points          bigint NOT NULL,
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL,
  UNIQUE (workspace_id, code),
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX loyalty_redemptions_customer ON loyalty_redemptions (customer_id, reward_id);
