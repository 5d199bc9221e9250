/**
 * Workload 5: live segments on a large shop. The shop is generated inside
 * the database with generate_series (as workload 3 does): N customers, 10 N
 * orders, 20 N behaviour events (Product Viewed / Product Added over three
 * years, a few in the last day), the rollups, and stored scores drawn at
 * random (stage, RFM segment, big-spender flag: the scoring itself is
 * workload 4). Triggers are off while generating (session_replication_role),
 * as a restore would do; then:
 *
 * 1. the nine built-in segments are evaluated over every customer three
 *    times: their first evaluation (the members found get a stay each, not
 *    logged as entering); then, their stays removed, an evaluation in which
 *    everyone enters and is logged (a stay and a Segment Entered event each:
 *    what a bulk import into a shop whose segments were already evaluated
 *    leads to); then what the schedule does every few minutes;
 * 2. a steady stream of `Product Added` events goes through the real tracking
 *    path (processMessages) at a fixed rate while the segment worker runs, and
 *    the time from an event being committed to its customer being a member of
 *    "Abandoned cart" is measured for each event.
 */
import type { Store } from "../src/store/index.ts";
import { ensureWorkspace, type Workspace } from "../src/workspaces/index.ts";
import { processMessages } from "../src/ingest/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { ensureBuiltInSegments, evaluateSegments, listSegments, scheduleSegments } from "../src/segments/index.ts";
import { int, secs } from "./lib/format.ts";

export const SEGMENTS_TARGETS = { fullEvaluationMs: 10_000, p99Ms: 1_000 } as const;

export interface SegmentsResult {
  customers: number;
  orders: number;
  events: number;
  generateMs: number;
  firstEvaluationMs: number;
  /** Members found by the first evaluation. */
  firstMembers: number;
  /** Everyone entering again, logged. */
  loggedEvaluationMs: number;
  steadyEvaluationMs: number;
  perSegment: { name: string; size: number; seconds: number }[];
  latency: { sent: number; measured: number; p50: number; p99: number; max: number; rate: number; seconds: number };
}

const YEARS = 3;

export async function generate(store: Store, ws: Workspace, customers: number, end: Date, seed: number, log: (s: string) => void): Promise<void> {
  const start = new Date(end.getTime() - YEARS * 365 * 86_400_000);
  const span = (end.getTime() - start.getTime()) / 1000;
  const orders = customers * 10;
  const events = customers * 20;
  await store.transaction(async (tx) => {
    // A bulk load, as a restore: the change triggers stay quiet (the first evaluation reads everyone anyway).
    await tx.query("SET LOCAL session_replication_role = replica");
    await tx.query("SELECT setseed($1)", [(seed % 1000) / 1000]);
    let t = performance.now();
    await tx.query(
      `INSERT INTO customers (workspace_id, external_id, email, birthday, created_at, updated_at)
       SELECT $1, 'c' || g, 'c' || g || '@example.com',
              CASE WHEN random() < 0.6 THEN DATE '1960-01-01' + floor(random() * 16000)::int END, $2, $2
         FROM generate_series(1, $3::int) g`,
      [ws.id, start, customers],
    );
    await tx.query(
      `INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at)
       SELECT $1, id, 'email', random() < 0.7, 'bench', $2 FROM customers WHERE workspace_id = $1`,
      [ws.id, start],
    );
    log(`customers ${int(customers)} in ${secs(performance.now() - t)}`);
    t = performance.now();
    await tx.query(
      `WITH c AS (SELECT min(id) AS first_id FROM customers WHERE workspace_id = $1)
       INSERT INTO orders (workspace_id, external_id, customer_id, status, placed_at, currency, subtotal_minor, total_minor, source, created_at)
       SELECT $1, 'o' || g, c.first_id + floor($3::float8 * random() ^ 2)::bigint,
              'paid', $4::timestamptz + make_interval(secs => floor(random() * $5::float8)), $6, t.total, t.total, 'bench', $7
         FROM generate_series(1, $2::int) g CROSS JOIN c
        CROSS JOIN LATERAL (SELECT 1000 + floor(random() * 9000)::bigint + 0 * g AS total) t`,
      [ws.id, orders, customers, start, span, ws.currency, end],
    );
    log(`orders ${int(orders)} in ${secs(performance.now() - t)}`);
    t = performance.now();
    // Events: uniform over customers and three years, 1 in 10 a Product Added;
    // one in 20,000 falls in the last day (about 1,000 fresh carts per million customers).
    await tx.query(
      `WITH c AS (SELECT min(id) AS first_id FROM customers WHERE workspace_id = $1)
       INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
       SELECT $1, 'e' || g, 'track', CASE WHEN g % 10 = 0 THEN 'Product Added' ELSE 'Product Viewed' END,
              c.first_id + floor($3::float8 * random())::bigint, '{}'::jsonb, x.at, x.at
         FROM generate_series(1, $2::int) g CROSS JOIN c
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 20000 = 0 THEN $6::timestamptz - make_interval(secs => floor(random() * 86000))
                                        ELSE $4::timestamptz + make_interval(secs => floor(random() * $5::float8)) END + 0 * interval '1 s' * g AS at) x`,
      [ws.id, events, customers, start, span - 86_400, end],
    );
    log(`events ${int(events)} in ${secs(performance.now() - t)}`);
    t = performance.now();
    await tx.query(
      `INSERT INTO customer_rollups (workspace_id, customer_id, first_order_at, last_order_at, order_count, revenue_minor, revenue_order_count, updated_at)
       SELECT $1, c.id, o.first_at, o.last_at, COALESCE(o.n, 0), COALESCE(o.revenue, 0), COALESCE(o.n, 0), $2
         FROM customers c LEFT JOIN (SELECT customer_id, min(placed_at) AS first_at, max(placed_at) AS last_at, count(*) AS n, sum(total_minor) AS revenue
                                       FROM orders WHERE workspace_id = $1 GROUP BY customer_id) o ON o.customer_id = c.id
        WHERE c.workspace_id = $1`,
      [ws.id, end],
    );
    // Scores as a scoring run would leave them; the values are drawn, not fitted.
    await tx.query(
      `INSERT INTO customer_scores (workspace_id, customer_id, scored_at, stage, orders, net_revenue_minor, rhythm_own, rfm_segment,
                                    buys_less_often, buys_cheaper, returns_more, big_spender_rare, p_alive)
       SELECT $1, r.customer_id, $2,
              CASE WHEN r.order_count = 0 THEN 'prospect' WHEN r.order_count = 1 THEN 'first-time buyer'
                   ELSE (ARRAY['repeat','loyal','at risk','lapsed','won back'])[1 + floor(random() * 5)::int] END,
              r.order_count, r.revenue_minor, r.order_count > 2,
              CASE WHEN r.order_count > 0 THEN (ARRAY['champions','loyal','potential loyalists','new','promising','need attention','about to sleep','at risk','can''t lose them','hibernating','lost'])[1 + floor(random() * 11)::int] END,
              random() < 0.1, random() < 0.1, random() < 0.05, random() < 0.05, random()
         FROM customer_rollups r WHERE r.workspace_id = $1`,
      [ws.id, end],
    );
    log(`rollups and scores in ${secs(performance.now() - t)}`);
  });
  const t = performance.now();
  await store.exec("ANALYZE customers, customer_rollups, customer_scores, customer_consents, orders, events");
  log(`ANALYZE in ${secs(performance.now() - t)}`);
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/**
 * Sends `rate` Product Added events per second (in batches every 100 ms) for
 * `seconds`, with the segment worker polling every `pollMs`, and measures the
 * time from each batch's commit to its customers' membership.
 */
export async function latencyUnderLoad(store: Store, ws: Workspace, cartId: number, customers: number, o: { rate: number; seconds: number; pollMs: number; seed: number }) {
  // The worker logs any pass step slower than 300 ms, with its phases: the tail of the latency.
  const worker = scheduleSegments(store, ws, systemClock, { fullEveryMs: 3_600_000, pollMs: o.pollMs, slowMs: 300, log: (line) => console.log(`    worker: ${line}`) });
  const committedAt = new Map<number, number>(); // customer id → when their event was committed
  const latencies: number[] = [];
  const [first] = await store.query<{ id: number }>("SELECT min(id) AS id FROM customers WHERE workspace_id = $1", [ws.id]);
  const firstId = Number(first?.id ?? 1);
  // Customers not in the cart segment yet, picked by a fixed stride so each appears once.
  const members = new Set((await store.query<{ customer_id: number }>("SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL", [cartId])).map((r) => Number(r.customer_id)));
  let next = (o.seed * 7919) % customers;
  const pick = () => {
    for (;;) {
      next = (next + 104_729) % customers;
      const id = firstId + next;
      if (!members.has(id) && !committedAt.has(id)) return id;
    }
  };
  let checking = false;
  const check = async () => {
    if (checking || committedAt.size === 0) return;
    checking = true;
    try {
      const pending = [...committedAt.keys()];
      const rows = await store.query<{ customer_id: number }>(
        "SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL AND customer_id = ANY($2::bigint[])",
        [cartId, pending],
      );
      const now = performance.now();
      for (const r of rows) {
        const id = Number(r.customer_id);
        const at = committedAt.get(id);
        if (at !== undefined) {
          latencies.push(now - at);
          committedAt.delete(id);
        }
      }
    } finally {
      checking = false;
    }
  };
  const perBatch = Math.max(1, Math.round(o.rate / 10));
  let sent = 0;
  let seq = 0;
  // Message ids unique to this run, so a rerun on the same shop is not taken for retries.
  const run = Date.now().toString(36);
  const started = performance.now();
  const checker = setInterval(() => void check(), 20);
  try {
    while (performance.now() - started < o.seconds * 1000) {
      const tick = performance.now();
      const ids = Array.from({ length: perBatch }, pick);
      const at = new Date().toISOString();
      const messages = ids.map((id) => ({ type: "track", userId: `c${id - firstId + 1}`, event: "Product Added", messageId: `lat-${run}-${seq++}`, timestamp: at, properties: { product_id: "p1" } }));
      const r = await processMessages(store, ws, messages, new Date());
      const committed = performance.now();
      if (r.failed.length > 0) throw new Error(`tracking refused events: ${r.failed[0]?.message ?? ""}`);
      for (const id of ids) committedAt.set(id, committed);
      sent += ids.length;
      const wait = 100 - (performance.now() - tick);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
    const seconds = (performance.now() - started) / 1000;
    // Let the last events through (up to 10 s), then count what never arrived.
    const drainUntil = performance.now() + 10_000;
    while (committedAt.size > 0 && performance.now() < drainUntil) {
      await new Promise((res) => setTimeout(res, 20));
      await check();
    }
    return { sent, measured: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies), rate: sent / seconds, seconds };
  } finally {
    clearInterval(checker);
    worker.stop();
    await worker.idle();
  }
}

export async function segmentsOn(label: string, store: Store, o: { customers: number; seed: number; rate: number; seconds: number }): Promise<SegmentsResult> {
  const log = (s: string) => console.log(`  ${label}: ${s}`);
  const ws = await ensureWorkspace(store, "bench", "EUR");
  const end = new Date();
  const tg = performance.now();
  await generate(store, ws, o.customers, end, o.seed, log);
  const generateMs = performance.now() - tg;
  await ensureBuiltInSegments(store, ws, new Date());

  let t = performance.now();
  const first = await evaluateSegments(store, ws, new Date());
  const firstEvaluationMs = performance.now() - t;
  log(`first evaluation (${int(first.found)} members found, not logged as entering) in ${secs(firstEvaluationMs)} (one scan matching every rule: ${first.matchSeconds.toFixed(2)} s, then writing each segment's stays: ${first.segments.reduce((n, x) => n + x.seconds, 0).toFixed(2)} s)`);
  // The same members entering an already-evaluated segment are logged: the
  // cost a bulk import into a shop with evaluated segments pays (the worker
  // then evaluates everyone at once). Measured on the stays removed.
  await store.query("DELETE FROM segment_memberships WHERE workspace_id = $1", [ws.id]);
  await store.exec("VACUUM ANALYZE segment_memberships");
  t = performance.now();
  const logged = await evaluateSegments(store, ws, new Date());
  const loggedEvaluationMs = performance.now() - t;
  log(`everyone entering again, logged (${int(logged.moved)} stays and Segment Entered events) in ${secs(loggedEvaluationMs)} (scan ${logged.matchSeconds.toFixed(2)} s, writes ${logged.writeSeconds.toFixed(2)} s)`);
  await store.exec("ANALYZE segment_memberships, events");
  t = performance.now();
  const steady = await evaluateSegments(store, ws, new Date());
  const steadyEvaluationMs = performance.now() - t;
  log(`steady evaluation in ${secs(steadyEvaluationMs)} (one scan matching every rule: ${steady.matchSeconds.toFixed(2)} s; then per segment:)`);
  const list = await listSegments(store, ws);
  const perSegment = list.map((s) => ({ name: s.name, size: s.size, seconds: steady.segments.find((x) => x.segmentId === s.id)?.seconds ?? NaN }));
  for (const s of perSegment) log(`  ${s.name.padEnd(30)} ${int(s.size).padStart(9)} members, ${s.seconds.toFixed(2)} s`);

  const cart = list.find((s) => s.builtIn === "abandoned-cart");
  if (!cart) throw new Error("no abandoned-cart segment");
  // The latency is asked for under a steady 1,000 events/s, so the database
  // first settles from the bulk writes above (the generated shop, then
  // 775,000 stays and events), as autovacuum and the checkpointer would do
  // before long: VACUUM sets the hint bits and visibility of the rows just
  // written, and a checkpoint writes out the dirty pages. Unsettled, the event
  // path's reads dirtied pages that its backends then wrote out themselves
  // (p99 1,052 and 1,883 ms; 318 and 361 ms in two settled reruns on the same
  // shop). But the first full run with this step still measured 2,258 ms, so
  // it is not the whole cause (docs/benchmarks.md, 2026-11-24).
  t = performance.now();
  await store.exec("VACUUM ANALYZE");
  try {
    await store.exec("CHECKPOINT");
  } catch (err) {
    log(`no CHECKPOINT (${err instanceof Error ? err.message : String(err)}): it needs a superuser or pg_checkpoint; measuring unsettled`);
  }
  log(`database settled (VACUUM ANALYZE, CHECKPOINT) in ${secs(performance.now() - t)}`);
  log(`event → membership: ${o.rate} Product Added events/s for ${o.seconds} s with the worker polling every 250 ms`);
  const latency = await latencyUnderLoad(store, ws, cart.id, o.customers, { rate: o.rate, seconds: o.seconds, pollMs: 250, seed: o.seed });
  log(`sent ${int(latency.sent)} (${latency.rate.toFixed(0)}/s), measured ${int(latency.measured)}: p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms, max ${latency.max.toFixed(0)} ms`);
  return { customers: o.customers, orders: o.customers * 10, events: o.customers * 20, generateMs, firstEvaluationMs, firstMembers: first.found, loggedEvaluationMs, steadyEvaluationMs, perSegment, latency };
}
