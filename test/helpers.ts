/**
 * Test plumbing shared by the suites: a real store (PGlite in memory, or a
 * fresh schema on the PostgreSQL server when DATABASE_URL is set — CI runs
 * the whole suite both ways), a workspace with keys, and a real HTTP server
 * on a loopback port.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate, PgliteStore, PostgresStore, type Store } from "../src/store/index.ts";
import { createApiKey, ensureWorkspace, type Workspace } from "../src/workspaces/index.ts";
import { createApp, serve } from "../src/http/index.ts";
import { AppError, SimulatedClock, type Clock } from "../src/shared/index.ts";

export const databaseUrl = process.env.DATABASE_URL;

export interface TestStore {
  store: Store;
  kind: "pglite" | "postgres";
  cleanup(): Promise<void>;
}

/** A fresh, migrated store: on PostgreSQL, its own schema, dropped by cleanup(). */
export async function openTestStore(): Promise<TestStore> {
  if (databaseUrl) {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const store = new PostgresStore(databaseUrl, { searchPath: schema, max: 5 });
    await migrate(store);
    return {
      store,
      kind: "postgres",
      cleanup: async () => {
        await store.close();
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
        await c.end();
      },
    };
  }
  const store = await PgliteStore.open();
  await migrate(store);
  return { store, kind: "pglite", cleanup: () => store.close() };
}

export interface TestServer {
  url: string;
  store: Store;
  workspace: Workspace;
  clock: SimulatedClock;
  adminKey: string;
  writeKey: string;
  shopifySecret: string;
  close(): Promise<void>;
}

export async function startTestServer(options: { maxBodyBytes?: number; shopifySecret?: string | null; clock?: SimulatedClock; webDir?: string; publicUrl?: string } = {}): Promise<TestServer> {
  const t = await openTestStore();
  const workspace = await ensureWorkspace(t.store, "default", "EUR");
  const adminKey = await createApiKey(t.store, workspace, "admin");
  const writeKey = await createApiKey(t.store, workspace, "write");
  const clock = options.clock ?? new SimulatedClock(new Date("2026-06-01T12:00:00Z"));
  const shopifySecret = options.shopifySecret === null ? undefined : (options.shopifySecret ?? "shpss_test_secret");
  const app = createApp({
    store: t.store,
    clock,
    workspace,
    maxBodyBytes: options.maxBodyBytes ?? 500 * 1024,
    shopifyWebhookSecret: shopifySecret,
    ...(options.webDir ? { webDir: options.webDir } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
  });
  const server = await serve(app, 0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${server.port}`,
    store: t.store,
    workspace,
    clock,
    adminKey,
    writeKey,
    shopifySecret: shopifySecret ?? "",
    close: async () => {
      await server.close();
      await t.cleanup();
    },
  };
}

/** POSTs JSON to a server and returns the status and parsed body. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await jsonObject(res) };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await jsonObject(res) };
}

async function jsonObject(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  const parsed: unknown = text === "" ? {} : JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null) return { value: parsed };
  return { ...parsed };
}

export const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` });
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A fresh store with the default workspace in it (EUR). */
export async function openTestWorkspace(): Promise<TestStore & { ws: Workspace }> {
  const t = await openTestStore();
  return { ...t, ws: await ensureWorkspace(t.store, "default", "EUR") };
}

/** The `field` of each issue in an error response body `{ error: { issues } }`. */
export function issueFields(body: Record<string, unknown>): string[] {
  const err = body.error;
  if (typeof err !== "object" || err === null || !("issues" in err) || !Array.isArray(err.issues)) return [];
  return err.issues.map((i: { field: string }) => i.field);
}

/** One number from a COUNT-style query. */
export async function count(store: Store, sql: string, params: unknown[] = []): Promise<number> {
  const rows = await store.query<{ n: number }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

export type { Clock };

/**
 * Environment for a `fidelio` child process: its own data folder (PGlite) or,
 * when DATABASE_URL is set, its own schema on the server (via the URL's
 * `options`, which pg passes to PostgreSQL as `-c search_path=…`).
 */
export async function cliEnvironment(dataDir: string): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "DATABASE_URL" && !k.startsWith("FIDELIO_")) base[k] = v;
  base.FIDELIO_DATA_DIR = dataDir;
  if (!databaseUrl) return { env: base, cleanup: async () => {} };
  const schema = `cli_${randomBytes(6).toString("hex")}`;
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  const url = new URL(databaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return {
    env: { ...base, DATABASE_URL: url.toString() },
    cleanup: async () => {
      const d = new pg.Client({ connectionString: databaseUrl });
      await d.connect();
      await d.query(`DROP SCHEMA ${schema} CASCADE`);
      await d.end();
    },
  };
}

/** The AppError a promise is refused with (a test fails if it succeeds or throws anything else). */
export async function refused(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}
