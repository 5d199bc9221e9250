-- Fidelio schema, version 1. Every table carries workspace_id so a workspace
-- can later be a distribution key (see ARCHITECTURE.md, "Beyond one machine").
-- Money is integer minor units (bigint) beside an ISO 4217 currency; times are timestamptz (UTC).

CREATE TABLE workspaces (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  currency    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  workspace_id text NOT NULL REFERENCES workspaces(id),
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('write', 'admin')),
  key_hash     text NOT NULL UNIQUE,
  prefix       text NOT NULL,
  label        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);

CREATE TABLE customers (
  workspace_id        text NOT NULL REFERENCES workspaces(id),
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id         text NOT NULL,
  email               text,
  phone               text,
  first_name          text,
  last_name           text,
  birthday            date,
  time_zone           text,
  locale              text,
  acquisition_channel text,
  first_touch         jsonb,          -- {source, medium, campaign, term, content, referrer, landingPage, at}
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  UNIQUE (workspace_id, external_id)
);
CREATE INDEX customers_email ON customers (workspace_id, lower(email));

-- Consent per channel; the history of changes is in the event log.
CREATE TABLE customer_consents (
  workspace_id text NOT NULL,
  customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  channel      text NOT NULL,           -- email | sms | push | ads | …
  granted      boolean NOT NULL,
  source       text NOT NULL,           -- where it was given: checkout, api, import, …
  changed_at   timestamptz NOT NULL,
  PRIMARY KEY (customer_id, channel)
);

-- Custom traits, each with where and when it was learned (progressive profiling).
CREATE TABLE customer_traits (
  workspace_id text NOT NULL,
  customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  key          text NOT NULL,
  value        jsonb NOT NULL,
  source       text NOT NULL,
  learned_at   timestamptz NOT NULL,
  PRIMARY KEY (customer_id, key)
);

CREATE TABLE anonymous_ids (
  workspace_id text NOT NULL,
  anonymous_id text NOT NULL,
  customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  linked_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, anonymous_id)
);
CREATE INDEX anonymous_ids_customer ON anonymous_ids (customer_id);

CREATE TABLE products (
  workspace_id text NOT NULL REFERENCES workspaces(id),
  external_id  text NOT NULL,
  title        text NOT NULL,
  category     text,
  price_minor  bigint,
  currency     text,
  url          text,
  image_url    text,
  usage_days   integer,               -- expected days before a re-buy (replenishment)
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, external_id)
);

CREATE TABLE orders (
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id    text NOT NULL,
  customer_id    bigint REFERENCES customers(id) ON DELETE SET NULL,  -- null: guest order
  email          text,
  status         text NOT NULL,          -- placed | paid | fulfilled | cancelled | refunded | partially_refunded
  placed_at      timestamptz NOT NULL,
  currency       text NOT NULL,
  subtotal_minor bigint NOT NULL,
  discount_minor bigint NOT NULL DEFAULT 0,
  shipping_minor bigint NOT NULL DEFAULT 0,
  tax_minor      bigint NOT NULL DEFAULT 0,
  total_minor    bigint NOT NULL,
  discount_codes text[] NOT NULL DEFAULT '{}',
  sales_channel  text,
  source         text NOT NULL,          -- api | tracking | shopify | import:<format> | demo
  created_at     timestamptz NOT NULL,
  UNIQUE (workspace_id, external_id)
);
CREATE INDEX orders_customer ON orders (customer_id, placed_at);
CREATE INDEX orders_placed ON orders (workspace_id, placed_at);

CREATE TABLE order_lines (
  workspace_id     text NOT NULL,
  order_id         bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  line_no          integer NOT NULL,
  product_id       text,               -- products.external_id (not enforced: lines may precede the catalogue)
  sku              text,
  title            text,
  category         text,
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_minor bigint NOT NULL,
  discount_minor   bigint NOT NULL DEFAULT 0,
  total_minor      bigint NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_product ON order_lines (workspace_id, product_id);

CREATE TABLE refunds (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id   text NOT NULL,
  order_id      bigint REFERENCES orders(id) ON DELETE SET NULL,
  customer_id   bigint REFERENCES customers(id) ON DELETE SET NULL,
  refunded_at   timestamptz NOT NULL,
  currency      text NOT NULL,
  amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
  reason        text,
  lines         jsonb NOT NULL DEFAULT '[]',   -- [{productId, quantity, amountMinor}]
  source        text NOT NULL,
  created_at    timestamptz NOT NULL,
  UNIQUE (workspace_id, external_id)
);
CREATE INDEX refunds_customer ON refunds (customer_id);

-- The event log: every behaviour event and every domain fact, with a monotonic
-- id that consumers read from their own cursor. Rows are never deleted and their
-- content never changes; only customer_id follows identity (an anonymous id
-- linked on identify, two customers merged on alias).
CREATE TABLE events (
  workspace_id text NOT NULL,
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id   text NOT NULL,          -- idempotency key (Segment messageId, or derived)
  type         text NOT NULL,          -- track | page | screen | identify | alias | group | order | refund | customer
  name         text,                   -- event name (track), page name, or domain fact name
  customer_id  bigint,                 -- known when the event arrived; anonymous events join through anonymous_ids
  anonymous_id text,
  properties   jsonb NOT NULL DEFAULT '{}',
  context      jsonb NOT NULL DEFAULT '{}',
  occurred_at  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  UNIQUE (workspace_id, message_id)
);
CREATE INDEX events_customer ON events (customer_id, occurred_at) WHERE customer_id IS NOT NULL;
CREATE INDEX events_anonymous ON events (workspace_id, anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX events_name ON events (workspace_id, name, occurred_at);

-- Per-customer rollups, kept current in the same transaction as every write.
CREATE TABLE customer_rollups (
  workspace_id        text NOT NULL,
  customer_id         bigint PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  first_order_at      timestamptz,
  last_order_at       timestamptz,
  order_count         integer NOT NULL DEFAULT 0,
  revenue_minor       bigint NOT NULL DEFAULT 0,   -- in the workspace currency
  revenue_order_count integer NOT NULL DEFAULT 0,  -- orders whose revenue is in revenue_minor
  refund_count        integer NOT NULL DEFAULT 0,
  refunded_minor      bigint NOT NULL DEFAULT 0,
  last_event_at       timestamptz,
  updated_at          timestamptz NOT NULL
);
CREATE INDEX customer_rollups_ws ON customer_rollups (workspace_id);

-- Admin users of the dashboard (used from the dashboard issue on).
CREATE TABLE admin_users (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email         text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
