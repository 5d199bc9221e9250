/**
 * Workload 7: the points ledger.
 *
 * 1. Writes: 50 customers, each with its own stream of earn entries, posted
 *    concurrently (one entry per transaction, as the storefront's requests
 *    and order credits arrive): ledger writes per second. Each posting locks
 *    its customer's account row, inserts the entry and its event, and updates
 *    the balance; afterwards every balance, and the number of entries and of
 *    events, is checked.
 * 2. Reads: a programme of N members with M ledger entries (generated in the
 *    database, balances derived from the entries), then 10,000 balance reads
 *    of random members one after another: p50 / p99.
 */
import type { Store } from "../src/store/index.ts";
import { ensureWorkspace } from "../src/workspaces/index.ts";
import { balancesOf, postPoints } from "../src/loyalty/index.ts";
import { int, secs } from "./lib/format.ts";

export const LOYALTY_TARGETS = { writesPerSecPostgres: 2_000, readP99Ms: 10 } as const;

/**
 * `alone`: each posting is one call on the store, as the API posts a manual
 * entry or a storefront redemption's points (the call is one atomic
 * statement, so it needs no BEGIN/COMMIT of its own). `transaction`: each
 * posting inside its own transaction, as when it commits with other writes
 * (an order credit, a journey step).
 */
export async function ledgerWrites(store: Store, total: number, mode: "alone" | "transaction", customers = 50): Promise<{ entries: number; ms: number; perSec: number; balanceOk: boolean }> {
  const ws = await ensureWorkspace(store, `bench-ledger-${mode}`, "EUR");
  const now = new Date("2026-01-01T00:00:00Z");
  await store.query(`INSERT INTO customers (workspace_id, external_id, created_at, updated_at) SELECT $1, 'c' || g, $2, $2 FROM generate_series(1, $3::int) g`, [ws.id, now, customers]);
  const ids = (await store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 ORDER BY id", [ws.id])).map((r) => Number(r.id));
  const per = Math.ceil(total / customers);
  const start = performance.now();
  await Promise.all(
    ids.map(async (id) => {
      for (let i = 0; i < per; i += 1) {
        const entry = { customerId: id, kind: "earn", points: 10, reason: "bench", key: `b:${id}:${i}` } as const;
        if (mode === "alone") await postPoints(store, ws, [entry], now);
        else await store.transaction((tx) => postPoints(tx, ws, [entry], now));
      }
    }),
  );
  const ms = performance.now() - start;
  const balances = await balancesOf(store, ws, ids);
  // Every posting wrote its entry and its event once, besides the balance: the
  // writes are one statement inside loyalty_post_points (migration 012), so
  // each part is counted rather than assumed.
  const [written] = await store.query<{ entries: number; events: number }>(
    `SELECT (SELECT count(*) FROM loyalty_ledger WHERE workspace_id = $1)::int AS entries,
            (SELECT count(*) FROM events WHERE workspace_id = $1 AND type = 'loyalty')::int AS events`,
    [ws.id],
  );
  const balanceOk = ids.every((id) => balances.get(id)?.balance === per * 10) && written?.entries === per * ids.length && written.events === per * ids.length;
  return { entries: per * ids.length, ms, perSec: (per * ids.length) / (ms / 1000), balanceOk };
}

export async function balanceReads(store: Store, members: number, entries: number, log: (s: string) => void): Promise<{ p50: number; p99: number; max: number; reads: number; checked: boolean }> {
  const ws = await ensureWorkspace(store, "bench-balances", "EUR");
  const now = new Date("2026-01-01T00:00:00Z");
  const t0 = performance.now();
  await store.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = replica");
    await tx.query(`INSERT INTO customers (workspace_id, external_id, created_at, updated_at) SELECT $1, 'm' || g, $2, $2 FROM generate_series(1, $3::int) g`, [ws.id, now, members]);
    await tx.query(
      `WITH c AS (SELECT min(id) AS first_id FROM customers WHERE workspace_id = $1)
       INSERT INTO loyalty_ledger (workspace_id, customer_id, kind, points, balance_after, reason, idempotency_key, created_at)
       SELECT $1, c.first_id + (g % $3), 'earn', 10, 0, 'bench', 'e' || g, $4 FROM generate_series(0, $2::int - 1) g CROSS JOIN c`,
      [ws.id, entries, members, now],
    );
    await tx.query(
      `INSERT INTO loyalty_accounts (workspace_id, customer_id, balance, earned, updated_at)
       SELECT $1, customer_id, sum(points), sum(points), $2 FROM loyalty_ledger WHERE workspace_id = $1 GROUP BY customer_id`,
      [ws.id, now],
    );
  });
  await store.exec("ANALYZE customers, loyalty_ledger, loyalty_accounts");
  log(`${int(members)} members, ${int(entries)} ledger entries generated in ${secs(performance.now() - t0)}`);
  const [first] = await store.query<{ id: number }>("SELECT min(id) AS id FROM customers WHERE workspace_id = $1", [ws.id]);
  const base = Number(first?.id ?? 1);
  const times: number[] = [];
  let checked = true;
  let x = 12345;
  for (let i = 0; i < 10_000; i += 1) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const id = base + (x % members);
    const t = performance.now();
    const b = await balancesOf(store, ws, [id]);
    times.push(performance.now() - t);
    if ((b.get(id)?.balance ?? -1) !== Math.floor(entries / members) * 10 + (id - base < entries % members ? 10 : 0)) checked = false;
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: times[times.length - 1] ?? NaN, reads: times.length, checked };
}
