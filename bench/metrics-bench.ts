/**
 * Workload 3: retention analytics on a large shop. The shop is generated
 * inside the database with generate_series (not through the import path,
 * which workload 1 measures): N customers, M orders over three years with a
 * skewed number of orders per customer, 3 % guest orders, and the customer
 * rollups computed from the orders, then ANALYZE. Then the orders are read
 * into the in-memory projection (once, as the server does when it starts),
 * and the figures are timed the way the API answers them (report functions
 * with the projection: period resolved, projection caught up, counted), as
 * is the next answer after 1,000 new orders arrive through ingest. The
 * projected headline is checked against SQL's; `--metrics-sql` also times
 * the SQL versions. Last, the dashboard's Overview in Chromium when it is
 * installed, served with the loaded projection.
 */
import { existsSync } from "node:fs";
import type { Store } from "../src/store/index.ts";
import { SimulatedClock } from "../src/shared/index.ts";
import { ensureWorkspace, type Workspace } from "../src/workspaces/index.ts";
import {
  cohortMatrix,
  cohortReport,
  headlineMetrics,
  headlineReport,
  intervalsReport,
  ladderReport,
  OrderProjections,
  repeatLadder,
  resolvePeriod,
  retentionReport,
  seriesReport,
  type HeadlineMetrics,
} from "../src/metrics/index.ts";
import { OrderRecord, writeOrders } from "../src/ingest/index.ts";
import { parseInput } from "../src/shared/index.ts";
import { processPeakRss } from "./lib/rss.ts";
import { createAdmin } from "../src/admins/index.ts";
import { createApp, serve } from "../src/http/index.ts";
import { duration, int, secs } from "./lib/format.ts";

export const METRICS_TARGETS = { headlineMs: 500, cohortMs: 2000, ladderMs: 2000, overviewMs: 1500 } as const;

/** The generated history ends here; the clock of the run stands on this day. */
const END = new Date("2026-11-01T00:00:00Z");
const YEARS = 3;

export interface Timing {
  name: string;
  /** Each run, in ms; the first runs on a cold cache. */
  runs: number[];
}

export interface MetricsResult {
  store: string;
  customers: number;
  orders: number;
  generateMs: number;
  /** Reading every order into the projection. */
  loadMs: number;
  /** Process RSS after the load, and the process's peak so far. */
  loadRss: number;
  peakRss: number;
  timings: Timing[];
  /** Browser: from navigation to the headline figures and the trend table on screen. */
  overviewMs: number[] | undefined;
  overviewSkipped: string | undefined;
  check: { name: string; expected: number; found: number }[];
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};

async function generate(store: Store, ws: Workspace, customers: number, orders: number, seed: number, log: (s: string) => void): Promise<void> {
  const start = new Date(END.getTime() - YEARS * 365 * 86_400_000);
  const span = (END.getTime() - start.getTime()) / 1000;
  // random() after setseed() is deterministic within one session; every
  // statement below runs in one transaction, so on one connection.
  await store.transaction(async (tx) => {
    await tx.query("SELECT setseed($1)", [(seed % 1000) / 1000]);
    let t = performance.now();
    await tx.query(
      `INSERT INTO customers (workspace_id, external_id, acquisition_channel, created_at, updated_at)
       SELECT $1, 'c' || g, (ARRAY['search','social','email','referral','direct','ads'])[1 + g % 6], $2, $2 FROM generate_series(1, $3::int) g`,
      [ws.id, start, customers],
    );
    log(`customers ${int(customers)} in ${secs(performance.now() - t)}`);
    t = performance.now();
    // Customer of an order: skewed (random()^2 puts more orders on low ids),
    // 3 % guests. Each customer's orders spread from their own first day on.
    await tx.query(
      `WITH c AS (SELECT min(id) AS first_id FROM customers WHERE workspace_id = $1)
       INSERT INTO orders (workspace_id, external_id, customer_id, status, placed_at, currency, subtotal_minor, total_minor, source, created_at)
       SELECT $1, 'o' || g,
              CASE WHEN random() < 0.03 THEN NULL ELSE c.first_id + floor($3::float8 * random() ^ 2)::bigint END,
              'paid', $4::timestamptz + make_interval(secs => floor(random() * $5::float8)), $6, t.total, t.total, 'bench', $7
         FROM generate_series(1, $2::int) g CROSS JOIN c
        -- LATERAL and a mention of g: one random total per order, used for both subtotal and total.
        CROSS JOIN LATERAL (SELECT 1000 + floor(random() * 9000)::bigint + 0 * g AS total) t`,
      [ws.id, orders, customers, start, span, ws.currency, END],
    );
    log(`orders ${int(orders)} in ${secs(performance.now() - t)}`);
    t = performance.now();
    await tx.query(
      `INSERT INTO customer_rollups (workspace_id, customer_id, first_order_at, last_order_at, order_count, revenue_minor, revenue_order_count, updated_at)
       SELECT $1, customer_id, min(placed_at), max(placed_at), count(*), sum(total_minor), count(*), $2
         FROM orders WHERE workspace_id = $1 AND customer_id IS NOT NULL GROUP BY customer_id`,
      [ws.id, END],
    );
    log(`rollups in ${secs(performance.now() - t)}`);
  });
  const t = performance.now();
  await store.exec("ANALYZE customers, customer_rollups, orders");
  log(`ANALYZE in ${secs(performance.now() - t)}`);
}

async function timeIt(name: string, runs: number, fn: () => Promise<unknown>): Promise<Timing> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return { name, runs: out };
}

async function overviewInBrowser(store: Store, ws: Workspace, clock: SimulatedClock, runs: number, orderProjections: OrderProjections): Promise<number[]> {
  const { chromium } = await import("playwright-core");
  const password = "benchmark-password-123";
  await createAdmin(store, ws, { email: "bench@fidelio.local", password }, clock.now());
  const server = await serve(createApp({ store, clock, workspace: ws, maxBodyBytes: 500 * 1024, shopifyWebhookSecret: undefined, orderProjections }), 0, "127.0.0.1");
  const url = `http://127.0.0.1:${server.port}/`;
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const signIn = await context.request.post(`${url}api/session`, { data: { email: "bench@fidelio.local", password } });
    if (!signIn.ok()) throw new Error(`sign-in failed: ${signIn.status()}`);
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      const page = await context.newPage();
      const t = performance.now();
      await page.goto(url);
      // Ready: the headline figures and the month-by-month table (the last data to arrive) are on screen.
      await page.waitForSelector('[data-testid="metric-customers"]', { timeout: 900_000 });
      await page.waitForSelector("text=Month by month", { timeout: 900_000 });
      out.push(performance.now() - t);
      await page.close();
    }
    return out;
  } finally {
    await browser.close();
    await server.close();
  }
}

export async function metricsOn(label: string, store: Store, o: { customers: number; orders: number; seed: number; runs: number; sql: boolean }): Promise<MetricsResult> {
  const ws = await ensureWorkspace(store, "bench", "EUR");
  const clock = new SimulatedClock(END);
  const log = (s: string) => console.log(`  ${label}: ${s}`);
  const tg = performance.now();
  await generate(store, ws, o.customers, o.orders, o.seed, log);
  const generateMs = performance.now() - tg;

  const projections = new OrderProjections(store);
  const tl = performance.now();
  const loaded = await projections.current(ws);
  const loadMs = performance.now() - tl;
  const loadRss = process.memoryUsage.rss();
  log(`projection loaded: ${int(loaded.orders.length)} orders in ${secs(loadMs)}, RSS ${Math.round(loadRss / 2 ** 20)} MB`);

  const lastYear = { from: "2025-11-01", to: "2026-10-31" };
  const timings: Timing[] = [];
  let headline: HeadlineMetrics | undefined;
  timings.push(await timeIt("headline metrics, all time", o.runs, async () => (headline = await headlineReport(store, ws, clock, { compare: "none" }, projections))));
  let lastYearHeadline: HeadlineMetrics | undefined;
  timings.push(await timeIt("headline metrics, last 12 months", o.runs, async () => (lastYearHeadline = await headlineReport(store, ws, clock, { ...lastYear, compare: "none" }, projections))));
  timings.push(await timeIt("series by month, last 12 months", o.runs, () => seriesReport(store, ws, clock, { ...lastYear, unit: "month" }, projections)));
  timings.push(await timeIt("retention by month, last 12 months", o.runs, () => retentionReport(store, ws, clock, { ...lastYear, unit: "month" }, projections)));
  timings.push(await timeIt("cohort matrix (36 monthly cohorts)", o.runs, () => cohortReport(store, ws, clock, {}, projections)));
  timings.push(await timeIt("repeat ladder (n = 1…10)", o.runs, () => ladderReport(store, ws, { max: 10 }, projections)));
  timings.push(await timeIt("time between purchases (the Ladder page's other half)", o.runs, () => intervalsReport(store, ws, {}, projections)));
  const [db] = await store.query<{ orders: number; customers: number }>(
    "SELECT (SELECT count(*) FROM orders WHERE workspace_id = $1)::int AS orders, (SELECT count(*) FROM customer_rollups WHERE workspace_id = $1)::int AS customers",
    [ws.id],
  );
  // Live data: 1,000 orders arrive through ingest; the next answer catches up first.
  const fresh = Array.from({ length: 1000 }, (_, i) =>
    parseInput(OrderRecord, {
      externalId: `live-${i}`,
      customer: { externalId: `c${1 + ((i * 7919) % o.customers)}` },
      placedAt: new Date(END.getTime() - 3_600_000 + i * 1000).toISOString(),
      currency: "EUR",
      lines: [{ productId: "live", quantity: 1, unitPriceMinor: 2500 }],
    }),
  );
  await store.transaction((tx) => writeOrders(tx, ws, fresh, "bench", END));
  timings.push(await timeIt("headline, last 12 months, after 1,000 new orders", 1, () => headlineReport(store, ws, clock, { ...lastYear, compare: "none" }, projections)));
  if (o.sql) {
    const all = await resolvePeriod(store, ws, {}, clock);
    const year = await resolvePeriod(store, ws, lastYear, clock);
    timings.push(await timeIt("SQL: headline metrics, all time", o.runs, () => headlineMetrics(store, ws, all)));
    timings.push(await timeIt("SQL: headline metrics, last 12 months", o.runs, () => headlineMetrics(store, ws, year)));
    timings.push(await timeIt("SQL: cohort matrix", o.runs, () => cohortMatrix(store, ws, all)));
    timings.push(await timeIt("SQL: repeat ladder", o.runs, () => repeatLadder(store, ws, 10)));
  }
  for (const tm of timings) log(`${tm.name}: ${tm.runs.map((r) => duration(r)).join(", ")} (median ${duration(median(tm.runs))})`);

  // The projection's answer for the last 12 months against SQL's, after the live orders.
  const year = await resolvePeriod(store, ws, lastYear, clock);
  const sqlYear = await headlineMetrics(store, ws, year);
  const projectedYear = await headlineReport(store, ws, clock, { ...lastYear, compare: "none" }, projections);
  const same = JSON.stringify(sqlYear) === JSON.stringify(projectedYear);
  log(`last 12 months, projection vs SQL: ${same ? "identical" : `DIFFERENT\n    SQL ${JSON.stringify(sqlYear)}\n    projection ${JSON.stringify(projectedYear)}`}`);
  const check = [
    { name: "orders in the headline = orders generated", expected: o.orders, found: headline?.orders ?? -1 },
    { name: "orders in the database", expected: o.orders, found: db?.orders ?? -1 },
    { name: "customers in the headline = customers with an order", expected: db?.customers ?? -1, found: headline?.customers ?? -1 },
    { name: "last-12-months headline: projection = SQL (1 = identical)", expected: 1, found: same ? 1 : 0 },
    { name: "last-12-months orders before and after the live orders differ by 1,000", expected: 1000, found: projectedYear.orders - (lastYearHeadline?.orders ?? 0) },
  ];
  let overviewMs: number[] | undefined;
  let overviewSkipped: string | undefined;
  if (existsSync("/usr/bin/chromium")) {
    overviewMs = await overviewInBrowser(store, ws, clock, o.runs, projections);
    log(`dashboard Overview ready: ${overviewMs.map((r) => duration(r)).join(", ")} (median ${duration(median(overviewMs))})`);
  } else {
    overviewSkipped = "/usr/bin/chromium is missing (apt-get install -y chromium)";
    log(`dashboard Overview not measured: ${overviewSkipped}`);
  }
  return { store: label, customers: o.customers, orders: o.orders, generateMs, loadMs, loadRss, peakRss: processPeakRss(), timings, overviewMs, overviewSkipped, check };
}
