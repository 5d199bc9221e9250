/**
 * The embedded store's stand-in for autovacuum: which tables are due, and
 * what a pass does to them. Runs on PGlite and, with DATABASE_URL, on
 * PostgreSQL (where the server does not schedule it, the rules are the same).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { maintenancePass, vacuumWhereDue } from "./index.ts";

let t: TestStore;
beforeAll(async () => {
  t = await openTestStore();
  for (const name of ["maint_churn", "maint_quiet", "maint_fresh"]) {
    // No autovacuum on PostgreSQL for these, so only the pass under test touches them.
    await t.store.exec(`CREATE TABLE ${name} (workspace_id text NOT NULL, id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)`);
  }
  await write("INSERT INTO maint_quiet SELECT 'w', g, g FROM generate_series(1, 1000) g");
  await t.store.exec("VACUUM (ANALYZE) maint_quiet");
});
afterAll(async () => {
  await t.cleanup();
});

/** Writes, then has this backend report its statistics as it goes idle (they are otherwise reported at most once a second). */
async function write(sql: string): Promise<void> {
  await t.store.transaction(async (tx) => {
    await tx.query(sql);
    await tx.query("SELECT pg_stat_force_next_flush()");
  });
}

const stat = async (table: string) =>
  (await t.store.query<{ dead: number; changed: number }>("SELECT n_dead_tup AS dead, n_mod_since_analyze AS changed FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = $1", [table]))[0];

describe(`maintenance (${process.env.DATABASE_URL ? "postgres" : "pglite"})`, () => {
  it("vacuums a table whose dead rows pass autovacuum's threshold, analyzes one only changed, and leaves a quiet one alone", async () => {
    await write("INSERT INTO maint_churn SELECT 'w', g, g FROM generate_series(1, 5000) g");
    await write("DELETE FROM maint_churn WHERE id <= 3000"); // 3,000 dead > 50 + 20 % of 2,000 live
    await write("UPDATE maint_quiet SET v = v + 1 WHERE id <= 10"); // 10 dead, 10 changed: below both thresholds
    await write("INSERT INTO maint_fresh SELECT 'w', g, g FROM generate_series(1, 1000) g"); // 1,000 changed, none dead
    expect(await stat("maint_churn")).toMatchObject({ dead: 3000 });

    const steps = await vacuumWhereDue(t.store);
    const of = (table: string) => steps.find((s) => s.table.endsWith(`.${table}`));
    expect(of("maint_churn")).toMatchObject({ action: "vacuum", deadRows: 3000 });
    expect(of("maint_fresh")).toMatchObject({ action: "analyze", deadRows: 0, changedRows: 1000 });
    expect(of("maint_quiet")).toBeUndefined();
    expect(await stat("maint_churn")).toMatchObject({ dead: 0, changed: 0 });
    expect(await stat("maint_fresh")).toMatchObject({ changed: 0 });
    // The planner now knows the table's size.
    const [c] = await t.store.query<{ n: number }>("SELECT reltuples::int AS n FROM pg_class WHERE oid = 'maint_churn'::regclass");
    expect(c?.n).toBe(2000);

    // Nothing is due twice.
    const again = await vacuumWhereDue(t.store);
    expect(again.map((s) => s.table).filter((n) => n.includes("maint_"))).toEqual([]);
  });

  it("freezes a table whose oldest transaction id passes the age limit (here 0, for the test)", async () => {
    const age = async () => (await t.store.query<{ n: number }>("SELECT age(relfrozenxid) AS n FROM pg_class WHERE oid = 'maint_fresh'::regclass"))[0]?.n ?? NaN;
    await write("UPDATE maint_fresh SET v = v WHERE id = 1");
    const before = await age();
    expect(before).toBeGreaterThan(0);
    const steps = await vacuumWhereDue(t.store, { freezeMaxAge: 0 });
    expect(steps.find((s) => s.table.endsWith(".maint_fresh"))).toMatchObject({ action: "freeze" });
    expect(await age()).toBeLessThan(before);
  });

  it("a scheduled pass logs what it did", async () => {
    await write("DELETE FROM maint_quiet WHERE id <= 900");
    const lines: string[] = [];
    await maintenancePass(t.store, (l) => lines.push(l));
    // The freeze above vacuumed every table, the 10 rows updated before included.
    expect(lines.find((l) => l.includes("maint_quiet"))).toMatch(/^maintenance: VACUUM ANALYZE \S*maint_quiet \(900 dead rows, 900 changed\) in (\d+ ms|\d+\.\d s)$/);
  });
});
