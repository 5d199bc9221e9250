/**
 * @module workspaces — the shop (workspace) and its API keys. Write keys may
 * only send tracking events; admin keys read and write everything. Keys are
 * stored as SHA-256 hashes and shown once, when created.
 */
import type { Queryable } from "../store/index.ts";
import { AppError, randomToken, sha256Hex, type Clock } from "../shared/index.ts";

export interface Workspace {
  id: string;
  currency: string;
}

export type KeyKind = "write" | "admin";

const PREFIX: Record<KeyKind, string> = { write: "fw_", admin: "fa_" };

/** Creates the workspace if it does not exist; returns it as stored. */
export async function ensureWorkspace(db: Queryable, id: string, currency: string): Promise<Workspace> {
  await db.query("INSERT INTO workspaces (id, name, currency) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING", [id, currency]);
  const rows = await db.query<{ id: string; currency: string }>("SELECT id, currency FROM workspaces WHERE id = $1", [id]);
  const ws = rows[0];
  if (!ws) throw new AppError("internal", `workspace ${id} could not be created`);
  return ws;
}

/** Creates a key and returns it in clear; only its hash is kept. */
export async function createApiKey(db: Queryable, ws: Workspace, kind: KeyKind, label?: string, key?: string): Promise<string> {
  const token = key ?? randomToken(PREFIX[kind]);
  await db.query(
    `INSERT INTO api_keys (workspace_id, kind, key_hash, prefix, label) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key_hash) DO NOTHING`,
    [ws.id, kind, sha256Hex(token), token.slice(0, 7), label ?? null],
  );
  return token;
}

export async function countApiKeys(db: Queryable, ws: Workspace): Promise<number> {
  const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL", [ws.id]);
  return rows[0]?.n ?? 0;
}

export interface KeyOwner {
  workspace: Workspace;
  kind: KeyKind;
}

/** The workspace and kind of a key, or an `unauthorized` error. */
export async function authenticateKey(db: Queryable, key: string | undefined): Promise<KeyOwner> {
  if (!key) throw new AppError("unauthorized", "an API key is required");
  const rows = await db.query<{ kind: string; id: string; currency: string }>(
    `SELECT k.kind, w.id, w.currency FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [sha256Hex(key)],
  );
  const row = rows[0];
  if (!row || (row.kind !== "write" && row.kind !== "admin")) throw new AppError("unauthorized", "the API key is not valid");
  return { workspace: { id: row.id, currency: row.currency }, kind: row.kind };
}

export type KeyAuthenticator = (key: string | undefined) => Promise<KeyOwner>;

/**
 * `authenticateKey` with a memory of keys that passed, for `ttlMs`. On PGlite
 * every query waits for the single connection, so without it a tracking
 * request queued behind other requests' write transactions just to be
 * authenticated (docs/benchmarks.md). A revoked key is refused within `ttlMs`;
 * keys that fail are not remembered, so a new key works at once.
 */
export function keyAuthenticator(db: Queryable, clock: Clock, ttlMs = 30_000): KeyAuthenticator {
  const passed = new Map<string, { owner: KeyOwner; until: number }>();
  return async (key) => {
    if (!key) return authenticateKey(db, key);
    const hash = sha256Hex(key);
    const now = clock.now().getTime();
    const hit = passed.get(hash);
    if (hit && hit.until > now) return hit.owner;
    const owner = await authenticateKey(db, key);
    // Bounded: a flood of distinct valid keys cannot grow memory without limit.
    if (passed.size >= 1000) passed.clear();
    passed.set(hash, { owner, until: now + ttlMs });
    return owner;
  };
}
