/**
 * What PostgreSQL's autovacuum does, for the embedded store, which has none:
 * PGlite runs one backend and no background workers, so nothing ever
 * removes dead rows or refreshes the planner's statistics. Without it the
 * tables that churn grow without end (the segment worker's change marks,
 * written and deleted on every event; the customers' scores, rewritten by
 * every daily scoring run) and plans go stale as data arrives.
 *
 * A table is due by autovacuum's own default rules ("The Autovacuum
 * Daemon", PostgreSQL 15 documentation, §25.1.6): a VACUUM when its dead
 * rows exceed 50 + 20 % of its live rows, an ANALYZE when the rows changed
 * since its last one exceed 50 + 10 %, and a VACUUM (FREEZE) when its
 * oldest unfrozen transaction id is over 200 million transactions old
 * (autovacuum_freeze_max_age), so transaction ids never wrap around.
 * Inserts alone do not make a table due for VACUUM (autovacuum's third
 * rule), only for ANALYZE: on PGlite a VACUUM holds the only connection, and
 * the events table would then be read for seconds while tracking waits.
 */
import { repeatEvery, type Repeating } from "../shared/index.ts";
import type { Store } from "./store.ts";

export interface MaintenanceStep {
  table: string;
  action: "vacuum" | "analyze" | "freeze";
  deadRows: number;
  changedRows: number;
  ms: number;
}

const VACUUM_BASE = 50;
const VACUUM_SCALE = 0.2;
const ANALYZE_BASE = 50;
const ANALYZE_SCALE = 0.1;
const FREEZE_MAX_AGE = 200_000_000;

/**
 * Vacuums (with ANALYZE) or analyzes the tables of the current schema that
 * are due, one at a time, and says what it did. The counts come from
 * PostgreSQL's cumulative statistics, which a backend reports when it goes
 * idle, so the writes of the last second may not be counted yet.
 */
export async function vacuumWhereDue(store: Store, options: { freezeMaxAge?: number } = {}): Promise<MaintenanceStep[]> {
  const tables = await store.query<{ name: string; live: number; dead: number; changed: number; old: boolean }>(
    `SELECT format('%I.%I', s.schemaname, s.relname) AS name, s.n_live_tup AS live, s.n_dead_tup AS dead, s.n_mod_since_analyze AS changed,
            age(c.relfrozenxid) > $5 AS old
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = current_schema()
        AND (s.n_dead_tup > $1::float8 + $2::float8 * s.n_live_tup OR s.n_mod_since_analyze > $3::float8 + $4::float8 * s.n_live_tup
             OR age(c.relfrozenxid) > $5)
      ORDER BY s.n_dead_tup DESC, s.relname`,
    [VACUUM_BASE, VACUUM_SCALE, ANALYZE_BASE, ANALYZE_SCALE, options.freezeMaxAge ?? FREEZE_MAX_AGE],
  );
  const steps: MaintenanceStep[] = [];
  for (const t of tables) {
    const live = Number(t.live);
    const dead = Number(t.dead);
    const action = t.old ? "freeze" : dead > VACUUM_BASE + VACUUM_SCALE * live ? "vacuum" : "analyze";
    const started = performance.now();
    // The name comes from the catalogue, quoted by format('%I'): no user input.
    await store.exec(action === "freeze" ? `VACUUM (FREEZE, ANALYZE) ${t.name}` : action === "vacuum" ? `VACUUM (ANALYZE) ${t.name}` : `ANALYZE ${t.name}`);
    steps.push({ table: t.name, action, deadRows: dead, changedRows: Number(t.changed), ms: performance.now() - started });
  }
  return steps;
}

/** One pass: what `vacuumWhereDue` did, a line per table, through `log`. */
export async function maintenancePass(store: Store, log: (line: string) => void): Promise<void> {
  for (const s of await vacuumWhereDue(store)) {
    const what = { freeze: "VACUUM FREEZE ANALYZE", vacuum: "VACUUM ANALYZE", analyze: "ANALYZE" }[s.action];
    const took = s.ms < 1000 ? `${Math.round(s.ms)} ms` : `${(s.ms / 1000).toFixed(1)} s`;
    log(`maintenance: ${what} ${s.table} (${s.deadRows.toLocaleString("en")} dead rows, ${s.changedRows.toLocaleString("en")} changed) in ${took}`);
  }
}

/**
 * Runs `maintenancePass` every `everyMs`, the first after one interval (the
 * server does, on the embedded store only: a PostgreSQL server has its
 * autovacuum). The shared `repeatEvery`: one pass at a time, a timer that
 * does not keep the process alive, a failed pass logged and retried next time.
 */
export function scheduleMaintenance(store: Store, options: { everyMs: number; log: (line: string) => void }): Repeating {
  return repeatEvery(
    options.everyMs,
    () => maintenancePass(store, options.log),
    (err) => options.log(`maintenance failed: ${err instanceof Error ? err.message : String(err)}`),
    { startNow: false },
  );
}
