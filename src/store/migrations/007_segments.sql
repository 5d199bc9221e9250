-- Live segments (src/segments). A segment is a rule (a JSON tree, compiled
-- to SQL with bound parameters); its members are kept in
-- segment_memberships, one row per stay: entered_at, and exited_at once the
-- customer leaves. Current members have exited_at NULL; the rest is history.
CREATE TABLE segments (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  rule          jsonb NOT NULL,
  built_in      text,                    -- key of the built-in this is a copy of
  depends_on    bigint[] NOT NULL DEFAULT '{}',
  time_relative boolean NOT NULL,        -- its truth moves with time alone
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  evaluated_at  timestamptz,             -- last evaluation over every customer
  UNIQUE (workspace_id, name)
);

CREATE TABLE segment_memberships (
  workspace_id text NOT NULL,
  segment_id   bigint NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  entered_at   timestamptz NOT NULL,
  exited_at    timestamptz
);
CREATE UNIQUE INDEX segment_members_current ON segment_memberships (segment_id, customer_id) WHERE exited_at IS NULL;
CREATE INDEX segment_memberships_customer ON segment_memberships (customer_id);
CREATE INDEX segment_memberships_history ON segment_memberships (segment_id, entered_at);

-- Customers whose data changed since their segments were last evaluated.
-- Filled by the triggers below in the transaction that changes the data, so
-- no change is lost; emptied by the segment worker as it re-evaluates them.
-- Append-only marks with their own id, not one row per customer: writers
-- never wait on each other's marks (a unique key would make two concurrent
-- transactions touching the same customers in different orders deadlock).
CREATE TABLE customer_changes (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id text NOT NULL,
  customer_id  bigint NOT NULL
);
CREATE INDEX customer_changes_ws ON customer_changes (workspace_id, id);

-- One statement-level trigger function per shape of table: each appends the
-- distinct customers a statement touched.
CREATE FUNCTION note_customer_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_changes (workspace_id, customer_id)
  SELECT DISTINCT n.workspace_id, n.customer_id FROM changed n WHERE n.customer_id IS NOT NULL;
  RETURN NULL;
END $$;

-- Events: every event but the segment log's own (Segment Entered / Exited),
-- which would otherwise wake the worker for nothing.
CREATE FUNCTION note_event_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_changes (workspace_id, customer_id)
  SELECT DISTINCT n.workspace_id, n.customer_id FROM changed n WHERE n.customer_id IS NOT NULL AND n.type <> 'segment';
  RETURN NULL;
END $$;

CREATE FUNCTION note_customer_row_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_changes (workspace_id, customer_id)
  SELECT DISTINCT n.workspace_id, n.id FROM changed n;
  RETURN NULL;
END $$;

CREATE TRIGGER customers_inserted AFTER INSERT ON customers REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_row_changes();
CREATE TRIGGER customers_updated AFTER UPDATE ON customers REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_row_changes();
CREATE TRIGGER rollups_inserted AFTER INSERT ON customer_rollups REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER rollups_updated AFTER UPDATE ON customer_rollups REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER traits_inserted AFTER INSERT ON customer_traits REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER traits_updated AFTER UPDATE ON customer_traits REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER consents_inserted AFTER INSERT ON customer_consents REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER consents_updated AFTER UPDATE ON customer_consents REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_customer_changes();
CREATE TRIGGER events_inserted AFTER INSERT ON events REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_event_changes();
CREATE TRIGGER events_updated AFTER UPDATE ON events REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION note_event_changes();

-- The time zones PostgreSQL knows, so a birthday rule can read a customer's
-- local date without failing on a zone name it does not know.
CREATE TABLE known_time_zones (name text PRIMARY KEY);
INSERT INTO known_time_zones SELECT DISTINCT name FROM pg_timezone_names ON CONFLICT DO NOTHING;

-- A text that may be a date or time: the instant, or NULL when it is not one
-- (trait values are free JSON).
CREATE FUNCTION fidelio_try_timestamptz(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF t IS NULL OR t !~ '^\d{4}-\d{2}-\d{2}' THEN RETURN NULL; END IF;
  RETURN t::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- When the built-in segments were first copied into the workspace: they are
-- copied once, so a shop that edits or deletes one keeps its choice.
ALTER TABLE workspaces ADD COLUMN built_in_segments_at timestamptz;
