-- Dashboard sign-in: one row per session. The cookie holds the token; only
-- its SHA-256 is stored. csrf_token is sent back by the dashboard in the
-- X-CSRF-Token header of every state-changing request.
CREATE TABLE admin_sessions (
  workspace_id text NOT NULL REFERENCES workspaces(id),
  token_hash  text PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
