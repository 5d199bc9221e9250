-- Every customer's scores, rewritten by each scoring run (src/predictions):
-- the model's predictions, RFM, lifecycle stage, churn signals and the
-- big-spender flag. Customers with no order are scored as prospects.
CREATE TABLE customer_scores (
  workspace_id           text NOT NULL REFERENCES workspaces(id),
  customer_id            bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  scored_at              timestamptz NOT NULL,
  model_version          integer,              -- null: scored without a fitted model
  stage                  text NOT NULL,        -- prospect | first-time buyer | repeat | loyal | at risk | lapsed | won back
  orders                 integer NOT NULL,
  net_revenue_minor      bigint NOT NULL,
  days_since_last_order  integer,
  rhythm_days            double precision,
  rhythm_own             boolean NOT NULL,
  p_alive                double precision,
  expected_purchases_90  double precision,
  expected_purchases_365 double precision,
  next_order_on          date,
  expected_aov_minor     bigint,
  clv_minor              bigint,
  rfm_r                  smallint,
  rfm_f                  smallint,
  rfm_m                  smallint,
  rfm_segment            text,
  buys_less_often        boolean NOT NULL,
  buys_cheaper           boolean NOT NULL,
  returns_more           boolean NOT NULL,
  big_spender_rare       boolean NOT NULL,
  PRIMARY KEY (workspace_id, customer_id)
);
CREATE INDEX customer_scores_stage ON customer_scores (workspace_id, stage);
CREATE INDEX customer_scores_rfm ON customer_scores (workspace_id, rfm_segment);

-- One row per scoring run: when, with which model and settings, how many.
CREATE TABLE scoring_runs (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scored_at     timestamptz NOT NULL,
  model_version integer,
  customers     integer NOT NULL,
  seconds       double precision NOT NULL,
  settings      jsonb NOT NULL,
  note          text                           -- why there was no model, when there was none
);
CREATE INDEX scoring_runs_ws ON scoring_runs (workspace_id, scored_at);

-- The thresholds of lifecycle stages and churn signals a shop has changed
-- (predictions/score.ts LifecycleSettings; missing keys take the defaults).
ALTER TABLE workspaces ADD COLUMN lifecycle_settings jsonb NOT NULL DEFAULT '{}';
