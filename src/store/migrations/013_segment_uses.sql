-- Who uses a segment besides other segments (those are segments.depends_on):
-- journeys (trigger, audience, branches, schedule) and the loyalty
-- programme's campaigns. Each user replaces its rows when it is saved, and
-- deleting a segment in use is refused, naming the users, instead of
-- leaving a journey that silently never fires.
CREATE TABLE segment_uses (
  workspace_id text NOT NULL,
  segment_id   bigint NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  user_key     text NOT NULL,      -- journey:<id>, loyalty:campaigns
  user_label   text NOT NULL,      -- what a person reads: journey "Win-back", loyalty campaign "Double points"
  PRIMARY KEY (segment_id, user_key)
);
CREATE INDEX segment_uses_user ON segment_uses (workspace_id, user_key);

-- Journeys and campaigns saved before this table: their uses, from their current definitions.
INSERT INTO segment_uses (workspace_id, segment_id, user_key, user_label)
SELECT DISTINCT j.workspace_id, s.id, 'journey:' || j.id, 'journey "' || j.name || '"'
  FROM journeys j
  JOIN journey_versions v ON v.journey_id = j.id AND v.version = j.version
  JOIN segments s ON s.workspace_id = j.workspace_id
   AND (v.definition->'trigger'->>'segmentId' = s.id::text
        OR v.definition::text LIKE '%"segment": ' || s.id || '}%' OR v.definition::text LIKE '%"segment": ' || s.id || ',%')
 WHERE j.status <> 'archived'
ON CONFLICT DO NOTHING;
