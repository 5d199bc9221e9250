-- Lifecycle journeys (src/journeys) and the message outbox (src/messaging).
--
-- A journey has versions: an edit of its definition is a new version; new
-- entries take the journey's current version while customers already in an
-- older one finish it.
CREATE TABLE journeys (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  ready_made    text,                    -- key of the ready-made journey it was installed from
  status        text NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'archived')),
  version       integer NOT NULL,        -- the version new entries take
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  activated_at  timestamptz
);
CREATE UNIQUE INDEX journeys_name ON journeys (workspace_id, name) WHERE status <> 'archived';

CREATE TABLE journey_versions (
  workspace_id text NOT NULL,
  journey_id   bigint NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
  version      integer NOT NULL,
  definition   jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (journey_id, version)
);

-- One customer's place in one journey, per entry. `key` is the engine's
-- enrolment key (journey:version:customer:entry) and the root of every
-- idempotency key its steps produce.
CREATE TABLE journey_enrolments (
  workspace_id text NOT NULL,
  key          text NOT NULL,
  journey_id   bigint NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
  version      integer NOT NULL,
  customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  state        jsonb NOT NULL,
  status       text NOT NULL CHECK (status IN ('waiting', 'evaluating', 'done')),
  step         text,
  wake_at      timestamptz,
  entered_at   timestamptz NOT NULL,
  exited_at    timestamptz,
  exit_reason  text,
  PRIMARY KEY (workspace_id, key)
);
CREATE INDEX journey_enrolments_wake ON journey_enrolments (workspace_id, wake_at) WHERE status = 'waiting';
CREATE INDEX journey_enrolments_open ON journey_enrolments (customer_id) WHERE status <> 'done';
CREATE INDEX journey_enrolments_journey ON journey_enrolments (journey_id, customer_id, entered_at);

-- What happened at each step (reached, split paths, holdout), for the funnel.
CREATE TABLE journey_step_log (
  workspace_id  text NOT NULL,
  journey_id    bigint NOT NULL,
  version       integer NOT NULL,
  step          text NOT NULL,
  what          text NOT NULL,           -- reached | path:<label> | holdout | exit:<reason>
  enrolment_key text NOT NULL,
  customer_id   bigint NOT NULL,
  at            timestamptz NOT NULL
);
CREATE INDEX journey_step_log_journey ON journey_step_log (journey_id, step, what);

-- How far the journey runner has read the event log, and the bound it may
-- read to once every transaction that was open when it looked has ended
-- (ids are handed out at insert time but committed in any order).
CREATE TABLE journey_cursors (
  workspace_id  text PRIMARY KEY REFERENCES workspaces(id),
  last_event_id bigint NOT NULL,
  updated_at    timestamptz NOT NULL
);

-- The outbox: every message a journey decided to send, written in the same
-- transaction as the step, unique by its idempotency key; the delivery
-- worker sends it (after consent, caps and quiet hours) and records the outcome.
CREATE TABLE messages (
  workspace_id    text NOT NULL,
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key text NOT NULL,
  channel         text NOT NULL,         -- email | webhook
  purpose         text NOT NULL CHECK (purpose IN ('marketing', 'transactional')),
  customer_id     bigint REFERENCES customers(id) ON DELETE SET NULL,
  journey_id      bigint,
  step            text,
  content         jsonb NOT NULL,        -- the template (or webhook) as it was when the step ran
  status          text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'bounced', 'suppressed')),
  due_at          timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  deferred        text,                  -- why due_at moved (quiet hours, frequency cap, retry)
  last_error      text,
  to_address      text,
  subject         text,
  created_at      timestamptz NOT NULL,
  sent_at         timestamptz,
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX messages_due ON messages (workspace_id, due_at) WHERE status IN ('pending', 'sending');
CREATE INDEX messages_customer ON messages (customer_id, sent_at);
CREATE INDEX messages_journey ON messages (journey_id, step);

-- Addresses that must not be mailed again (hard bounce, complaint).
CREATE TABLE email_suppressions (
  workspace_id text NOT NULL,
  email        text NOT NULL,
  reason       text NOT NULL,
  detail       text,
  at           timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, email)
);

-- Per-shop messaging settings: frequency caps, quiet hours, sender.
CREATE TABLE messaging_settings (
  workspace_id text PRIMARY KEY REFERENCES workspaces(id),
  settings     jsonb NOT NULL,
  updated_at   timestamptz NOT NULL
);

-- The key that signs unsubscribe links, open pixels and click redirects.
ALTER TABLE workspaces ADD COLUMN signing_secret text;
