/**
 * A throw-away PostgreSQL database per workload: created on the server named by
 * DATABASE_URL (or the local default) through its `postgres` database, dropped
 * at the end.
 */
import pg from "pg";

export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function describe(url: string): string {
  const u = new URL(url);
  u.password = u.password ? "***" : "";
  return `${u.host}`;
}

/** The server's URL, or the reason it cannot be used. */
export async function probePostgres(): Promise<{ ok: true; url: string } | { ok: false; reason: string }> {
  const url = process.env.DATABASE_URL ?? DEFAULT_POSTGRES_URL;
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return { ok: true, url };
  } catch (err) {
    return { ok: false, reason: `${describe(url)}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await client.end().catch(() => {});
  }
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createBenchDatabase(serverUrl: string, workload: string): Promise<BenchDatabase> {
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 17);
  const name = `fidelio_bench_${stamp}_${workload.replace(/[^a-z0-9_]/g, "_")}`;
  // The name is built here from digits and a fixed workload label, never from input.
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
