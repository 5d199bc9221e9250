/**
 * The Store contract: the same suite runs on PGlite and, when DATABASE_URL is
 * set (CI's second pass), on PostgreSQL. Both must behave identically.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { StoreError } from "./index.ts";
import { migrate } from "./index.ts";

let t: TestStore;
beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t.cleanup();
});

describe(`Store contract (${process.env.DATABASE_URL ? "postgres" : "pglite"})`, () => {
  it("applies migrations once and records them", async () => {
    const again = await migrate(t.store);
    expect(again).toEqual([]);
    const rows = await t.store.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
    expect(rows.map((r) => r.name)).toContain("001_init.sql");
  });

  it("gives every table a workspace_id column", async () => {
    // known_time_zones is reference data PostgreSQL itself supplies, the same for every workspace.
    const rows = await t.store.query<{ table_name: string; has: boolean }>(
      `SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema
              AND c.table_name = t.table_name AND c.column_name IN ('workspace_id')) OR t.table_name = 'workspaces' AS has
         FROM information_schema.tables t WHERE t.table_schema = current_schema() AND t.table_name NOT IN ('schema_migrations', 'known_time_zones')`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.has).map((r) => r.table_name)).toEqual([]);
  });

  it("returns the same value types on both drivers", async () => {
    const [row] = await t.store.query<{ big: unknown; num: unknown; day: unknown; at: unknown; doc: unknown; arr: unknown; flag: unknown }>(
      "SELECT 9007199254740991::int8 AS big, 12.5::numeric AS num, '2024-02-29'::date AS day, '2024-01-01T10:00:00Z'::timestamptz AS at, '{\"a\":[1,2]}'::jsonb AS doc, ARRAY['x','y']::text[] AS arr, true AS flag",
    );
    expect(row).toEqual({ big: 9007199254740991, num: 12.5, day: "2024-02-29", at: new Date("2024-01-01T10:00:00Z"), doc: { a: [1, 2] }, arr: ["x", "y"], flag: true });
  });

  it("binds parameters, never interpolates them", async () => {
    const evil = "x'); DROP TABLE workspaces; --";
    const [row] = await t.store.query<{ v: string }>("SELECT $1::text AS v", [evil]);
    expect(row?.v).toBe(evil);
    expect(await t.store.query("SELECT 1 FROM workspaces LIMIT 1")).toBeDefined();
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    await t.store.transaction(async (tx) => {
      await tx.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-ok', 'ok', 'EUR')");
    });
    await expect(
      t.store.transaction(async (tx) => {
        await tx.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-bad', 'bad', 'EUR')");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const ids = (await t.store.query<{ id: string }>("SELECT id FROM workspaces WHERE id LIKE 'tx-%' ORDER BY id")).map((r) => r.id);
    expect(ids).toEqual(["tx-ok"]);
  });

  it("reports constraint violations with their SQLSTATE", async () => {
    const err = await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-ok', 'dup', 'EUR')").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err instanceof StoreError ? err.sqlState : undefined).toBe("23505");
  });

  it("keeps concurrent transactions isolated and loses no increment", async () => {
    await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('counter', '0', 'EUR')");
    await Promise.all(
      Array.from({ length: 20 }, () =>
        t.store.transaction(async (tx) => {
          const [r] = await tx.query<{ name: string }>("SELECT name FROM workspaces WHERE id = 'counter' FOR UPDATE");
          await tx.query("UPDATE workspaces SET name = $1 WHERE id = 'counter'", [String(Number(r?.name ?? 0) + 1)]);
        }),
      ),
    );
    const [row] = await t.store.query<{ name: string }>("SELECT name FROM workspaces WHERE id = 'counter'");
    expect(row?.name).toBe("20");
  });

  it("gives the event log monotonic ids", async () => {
    await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('log', 'log', 'EUR') ON CONFLICT DO NOTHING");
    for (let i = 0; i < 5; i++) {
      await t.store.query(
        "INSERT INTO events (workspace_id, message_id, type, occurred_at, received_at) VALUES ('log', $1, 'track', now(), now())",
        [`m${i}`],
      );
    }
    const ids = (await t.store.query<{ id: number }>("SELECT id FROM events WHERE workspace_id = 'log' ORDER BY message_id")).map((r) => r.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
  });
});

describe.skipIf(process.env.DATABASE_URL !== undefined)("PGlite in a worker thread", () => {
  it("does not block the event loop during a long query", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    await t.store.query("SELECT pg_sleep(0.6)");
    clearInterval(timer);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    // A blocked loop would tick at most once; a free one about 60 times.
    expect(ticks).toBeGreaterThan(30);
  });
});
