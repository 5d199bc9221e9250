-- The rest of the loyalty programme (src/loyalty): VIP tiers, referrals,
-- spin-to-win, paid membership, and what the referral guards compare.

-- Tiers: each member's tier, since when, and the qualifying value (spend in
-- minor units, or points earned) over the rolling window when last assigned.
ALTER TABLE loyalty_accounts ADD COLUMN tier text;
ALTER TABLE loyalty_accounts ADD COLUMN tier_since timestamptz;
ALTER TABLE loyalty_accounts ADD COLUMN tier_value bigint NOT NULL DEFAULT 0;
-- The day of the last full tier pass and of the last expiry pass (each runs once a day).
ALTER TABLE loyalty_settings ADD COLUMN tiers_assigned_on date;
ALTER TABLE loyalty_settings ADD COLUMN tiers_checked_at timestamptz;  -- customers with orders or points since then are re-tiered on the next pass
ALTER TABLE loyalty_settings ADD COLUMN expired_on date;

-- Rewards only some members may redeem.
ALTER TABLE loyalty_rewards ADD COLUMN min_tier text;
ALTER TABLE loyalty_rewards ADD COLUMN members_only boolean NOT NULL DEFAULT false;

-- What the self-referral guard compares besides email and phone: a
-- normalised shipping address and the payment method's fingerprint (both
-- as the shop sends them; neither is shown anywhere).
ALTER TABLE orders ADD COLUMN address_key text;
ALTER TABLE orders ADD COLUMN payment_fingerprint text;

-- Referrals: one code per customer; one referral per referee.
CREATE TABLE loyalty_referral_codes (
  workspace_id text NOT NULL,
  customer_id  bigint PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  code         text NOT NULL,
  created_at   timestamptz NOT NULL,
  UNIQUE (workspace_id, code)
);

CREATE TABLE loyalty_referrals (
  workspace_id  text NOT NULL,
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  referrer_id   bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  referee_id    bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  -- pending: waiting for the referee's first order; qualified: ordered, waiting
  -- for the return window; rewarded: the referrer has the points; refused: a guard said no
  status        text NOT NULL CHECK (status IN ('pending', 'qualified', 'rewarded', 'refused')),
  refused_why   text,
  welcome_code  text,
  order_id      bigint REFERENCES orders(id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  UNIQUE (workspace_id, referee_id)
);
CREATE INDEX loyalty_referrals_referrer ON loyalty_referrals (referrer_id, created_at);
CREATE INDEX loyalty_referrals_open ON loyalty_referrals (workspace_id) WHERE status IN ('pending', 'qualified');

-- Spin-to-win: every spin, with the random draw, for the audit.
CREATE TABLE loyalty_spins (
  workspace_id    text NOT NULL,
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  period          text NOT NULL,           -- the period this spin used up: one spin per customer per period
  prize_id        text NOT NULL,
  label           text NOT NULL,
  kind            text NOT NULL,           -- what the prize gave, as the wheel stood then: none, points, fixed, percent, freeShipping
  value           bigint,
  draw            integer NOT NULL,        -- the server's random draw, 0 ≤ draw < 1,000,000
  won             boolean NOT NULL,        -- false for "no prize", and for a prize drawn when out of stock
  code            text,                    -- the unique code of a prize won
  points          bigint,                  -- points won
  idempotency_key text NOT NULL,            -- the customer's own: keys of different customers never meet
  created_at      timestamptz NOT NULL,
  UNIQUE (workspace_id, customer_id, period),
  UNIQUE (workspace_id, customer_id, idempotency_key),
  UNIQUE (workspace_id, code)
);
CREATE INDEX loyalty_spins_prize ON loyalty_spins (workspace_id, prize_id);

-- Paid membership: plans, each customer's membership, and each payment (keyed: a replayed payment does nothing).
CREATE TABLE loyalty_plans (
  workspace_id text NOT NULL REFERENCES workspaces(id),
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL,
  price_minor  bigint NOT NULL CHECK (price_minor >= 0),
  currency     text NOT NULL,
  period_unit  text NOT NULL CHECK (period_unit IN ('day', 'month', 'year')),
  period_count integer NOT NULL CHECK (period_count > 0),
  perks        jsonb NOT NULL,
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL
);

CREATE TABLE loyalty_memberships (
  workspace_id         text NOT NULL,
  customer_id          bigint PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  plan_id              bigint NOT NULL REFERENCES loyalty_plans(id),
  -- active (paid up; cancelling keeps it active to the period's end), lapsed (not renewed), ended (cancelled, period over)
  status               text NOT NULL CHECK (status IN ('active', 'lapsed', 'ended')),
  started_at           timestamptz NOT NULL,
  period_end           timestamptz NOT NULL,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  updated_at           timestamptz NOT NULL
);
CREATE INDEX loyalty_memberships_due ON loyalty_memberships (workspace_id, period_end) WHERE status = 'active';

CREATE TABLE loyalty_membership_payments (
  workspace_id    text NOT NULL,
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  plan_id         bigint NOT NULL REFERENCES loyalty_plans(id),
  kind            text NOT NULL CHECK (kind IN ('start', 'renewal')),
  amount_minor    bigint NOT NULL,
  currency        text NOT NULL,
  period_start    timestamptz NOT NULL,
  period_end      timestamptz NOT NULL,
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL,
  UNIQUE (workspace_id, idempotency_key)
);

-- A membership change is a change of the customer for segments ("paid members").
CREATE TRIGGER loyalty_memberships_inserted AFTER INSERT ON loyalty_memberships REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER loyalty_memberships_updated AFTER UPDATE ON loyalty_memberships REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
ALTER TABLE loyalty_settings ADD COLUMN storefront_secret text;  -- signs customer tokens for the storefront widget (HS256)

-- Ledger by time: tiers on points over a rolling window, the Loyalty page's months.
CREATE INDEX loyalty_ledger_created ON loyalty_ledger (workspace_id, created_at);

-- A redemption's key is the customer's own (the storefront widget makes
-- them): one customer's key can neither answer nor block another's.
ALTER TABLE loyalty_redemptions DROP CONSTRAINT loyalty_redemptions_workspace_id_idempotency_key_key;
ALTER TABLE loyalty_redemptions ADD CONSTRAINT loyalty_redemptions_customer_key UNIQUE (workspace_id, customer_id, idempotency_key);
