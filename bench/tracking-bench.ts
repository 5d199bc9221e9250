/**
 * Workload 2: the real HTTP server on 127.0.0.1, fed Segment `track` messages
 * through POST /v1/batch by several concurrent clients, then the event log is
 * counted to prove nothing was lost.
 */
import { createApp, serve } from "../src/http/index.ts";
import type { Store } from "../src/store/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { createApiKey, ensureWorkspace } from "../src/workspaces/index.ts";
import { Rng } from "./lib/rng.ts";
import { RssSampler } from "./lib/rss.ts";
import { TimedStore } from "./lib/timed-store.ts";
import { int, mb, secs } from "./lib/format.ts";

export const TRACKING_TARGETS: Record<"pglite" | "postgres", number> = { pglite: 5_000, postgres: 10_000 };

export interface TrackingOptions {
  events: number;
  batchSize: number;
  concurrency: number;
  seed: number;
  /** Stop sending new batches after this long (the rate is then over what was sent). */
  maxSeconds: number;
}

export interface TrackingResult {
  store: string;
  /** Events sent (fewer than asked when the time limit stopped the run). */
  sent: number;
  stoppedEarly: boolean;
  ordersSent: number;
  batches: number;
  ms: number;
  eventsPerSec: number;
  /** Rate over the second half of the batches (after the first customers and products exist). */
  secondHalfPerSec: number;
  latency: { p50: number; p95: number; p99: number; max: number };
  failedBatches: number;
  firstFailures: string[];
  trackInDb: number;
  ordersInDb: number;
  rssPeak: number;
  dbShare: number;
  bodyBytes: number;
  topStatements: { statement: string; ms: number; count: number }[];
  /** Waiting for the connection (PGlite: for the previous transaction) plus BEGIN, and COMMIT, summed. */
  beginMs: number;
  commitMs: number;
  /** Errors the server logged (console.error), with the first one. */
  serverErrors: number;
  firstServerError: string | undefined;
}

const PRODUCTS = Array.from({ length: 500 }, (_, i) => ({
  id: `P${1000 + i}`,
  name: `Product ${1000 + i}`,
  category: ["Home", "Kitchen", "Garden", "Toys", "Stationery"][i % 5] ?? "Home",
  cents: 199 + ((i * 7919) % 9800),
}));

/** Builds the messages of batch `index` (deterministic: the rng is consumed in batch order). */
function buildBatch(rng: Rng, o: TrackingOptions, index: number, count: number, visitors: number): { body: string; orders: number } {
  const batch: Record<string, unknown>[] = [];
  let orders = 0;
  const base = Date.UTC(2026, 10, 23, 10, 0, 0);
  for (let k = 0; k < count; k++) {
    const i = index * o.batchSize + k;
    const v = rng.int(0, visitors - 1);
    // 40 % of visitors are known customers; they are sometimes logged in (userId), often with their anonymous id too.
    const known = v % 5 < 2;
    const withUser = known && rng.chance(0.6);
    const withAnon = !withUser || rng.chance(0.7);
    const product = rng.pick(PRODUCTS);
    const r = rng.next();
    const page = { path: `/products/${product.id}`, url: `https://shop.example/products/${product.id}`, title: product.name };
    const common = {
      type: "track",
      messageId: `bench-${o.seed}-${i}`,
      ...(withUser ? { userId: `user-${v}` } : {}),
      ...(withAnon ? { anonymousId: `anon-${o.seed}-${v}` } : {}),
      timestamp: new Date(base + i * 40).toISOString(),
      context: {
        library: { name: "analytics.js", version: "5.2.0" },
        ip: `203.0.113.${v % 250}`,
        userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        locale: "en-GB",
        page,
      },
    };
    if (r < 0.02) {
      orders++;
      const lines = Array.from({ length: rng.int(1, 3) }, () => {
        const p = rng.pick(PRODUCTS);
        return { product_id: p.id, sku: `SKU-${p.id}`, name: p.name, category: p.category, price: p.cents / 100, quantity: rng.int(1, 3) };
      });
      const cents = lines.reduce((s, l) => s + Math.round(l.price * 100) * l.quantity, 0);
      batch.push({
        ...common,
        event: "Order Completed",
        properties: { order_id: `bench-${o.seed}-order-${i}`, total: cents / 100, revenue: cents / 100, currency: "EUR", products: lines },
      });
    } else {
      batch.push({
        ...common,
        event: r < 0.38 ? "Product Added" : "Product Viewed",
        properties: {
          product_id: product.id,
          sku: `SKU-${product.id}`,
          name: product.name,
          category: product.category,
          price: product.cents / 100,
          currency: "EUR",
          url: page.url,
          ...(r < 0.38 ? { quantity: 1, cart_id: `cart-${v}` } : {}),
        },
      });
    }
  }
  return { body: JSON.stringify({ batch, sentAt: new Date(base).toISOString() }), orders };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== "object" || body === null) return undefined;
  return Object.entries(body).find(([k]) => k === name)?.[1];
}

/** Runs the workload against `store` (fresh and migrated); closes the server but not the store. */
export async function trackInto(label: string, store: Store, o: TrackingOptions): Promise<TrackingResult> {
  const ws = await ensureWorkspace(store, "bench", "EUR");
  const key = await createApiKey(store, ws, "write", "benchmark");
  const timed = new TimedStore(store);
  const app = createApp({ store: timed, clock: systemClock, workspace: ws, maxBodyBytes: 500 * 1024, shopifyWebhookSecret: undefined });
  const server = await serve(app, 0, "127.0.0.1");
  const url = `http://127.0.0.1:${server.port}/v1/batch`;
  const auth = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  const batches = Math.ceil(o.events / o.batchSize);
  const visitors = Math.max(100, Math.min(20_000, Math.round(o.events / 5)));
  const rng = new Rng(o.seed);
  const latencies: number[] = [];
  const failures: string[] = [];
  let failedBatches = 0;
  let ordersSent = 0;
  let bodyBytes = 0;
  let next = 0;
  let done = 0;
  let sent = 0;
  let stoppedEarly = false;
  let half: { at: number; sent: number } | undefined;
  let completed = 0;
  const sampler = new RssSampler();

  const client = async () => {
    while (next < batches) {
      if (performance.now() - t0 > o.maxSeconds * 1000) {
        stoppedEarly = true;
        return;
      }
      const index = next++;
      const count = Math.min(o.batchSize, o.events - index * o.batchSize);
      const { body, orders } = buildBatch(rng, o, index, count, visitors);
      ordersSent += orders;
      sent += count;
      bodyBytes += body.length;
      const t = performance.now();
      let problem: string | undefined;
      try {
        const res = await fetch(url, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body });
        const text = await res.text();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        if (res.status !== 200) problem = `HTTP ${res.status}: ${text.slice(0, 200)}`;
        else if (field(json, "success") !== true || field(json, "accepted") !== count || field(json, "duplicates") !== 0) problem = `200 but ${text.slice(0, 200)}`;
      } catch (err) {
        problem = `request failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      latencies.push(performance.now() - t);
      if (problem) {
        failedBatches++;
        if (failures.length < 5) failures.push(`batch ${index}: ${problem}`);
      }
      done++;
      completed += count;
      if (half === undefined && done >= batches / 2) half = { at: performance.now(), sent: completed };
      if (done % Math.max(1, Math.round(batches / 4)) === 0 && done < batches) {
        console.log(`  ${label}: ${int(done * o.batchSize)} events  ${secs(performance.now() - t0)}  RSS ${mb(process.memoryUsage.rss())}`);
      }
    }
  };

  // The server logs each failed request with its stack; count them instead of flooding the output.
  const logError = console.error;
  let serverErrors = 0;
  let firstServerError: string | undefined;
  console.error = (...parts: unknown[]) => {
    serverErrors++;
    firstServerError ??= parts.map((p) => (p instanceof Error ? `${p.name}: ${p.message}` : String(p))).join(" ");
  };
  sampler.start(250);
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: o.concurrency }, () => client()));
  } finally {
    sampler.stop();
    console.error = logError;
    await server.close();
  }
  const ms = performance.now() - t0;
  const trackInDb =
    (await store.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'track' AND workspace_id = $1", [ws.id]))[0]?.n ?? -1;
  const ordersInDb = (await store.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE workspace_id = $1", [ws.id]))[0]?.n ?? -1;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    store: label,
    sent,
    stoppedEarly,
    ordersSent,
    batches: done,
    ms,
    eventsPerSec: sent / (ms / 1000),
    secondHalfPerSec: half ? (completed - half.sent) / ((t0 + ms - half.at) / 1000) : 0,
    latency: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
    failedBatches,
    firstFailures: failures,
    trackInDb,
    ordersInDb,
    rssPeak: sampler.peak,
    dbShare: timed.queryMs / ms,
    bodyBytes,
    topStatements: timed.top(6),
    beginMs: timed.waitMs,
    commitMs: timed.commitMs - timed.waitMs,
    serverErrors,
    firstServerError,
  };
}

export function printTrackingResult(r: TrackingResult, o: TrackingOptions): void {
  if (r.stoppedEarly) console.log(`  ${r.store}: STOPPED at the ${o.maxSeconds} s limit (--max-seconds): sent ${int(r.sent)} of ${int(o.events)} events`);
  console.log(`  ${r.store}: ${int(r.sent)} events in ${int(r.batches)} batches of ${o.batchSize}, ${o.concurrency} in flight: ${secs(r.ms)} = ${int(r.eventsPerSec)} events/s (second half of the batches alone: ${int(r.secondHalfPerSec)} events/s)`);
  console.log(
    `  ${r.store}: request latency p50 ${r.latency.p50.toFixed(0)} ms, p95 ${r.latency.p95.toFixed(0)} ms, p99 ${r.latency.p99.toFixed(0)} ms, max ${r.latency.max.toFixed(0)} ms; average body ${int(r.bodyBytes / r.batches / 1024)} KB`,
  );
  console.log(`  ${r.store}: batches failed ${int(r.failedBatches)} of ${int(r.batches)}${r.firstFailures.length > 0 ? `; first: ${r.firstFailures.join(" | ")}` : ""}`);
  console.log(`  ${r.store}: check track events in the database = sent: expected ${int(r.sent)}, found ${int(r.trackInDb)} ${r.trackInDb === r.sent ? "ok" : "MISMATCH"}`);
  console.log(`  ${r.store}: check orders from Order Completed = sent: expected ${int(r.ordersSent)}, found ${int(r.ordersInDb)} ${r.ordersInDb === r.ordersSent ? "ok" : "MISMATCH"}`);
  if (r.serverErrors > 0) console.log(`  ${r.store}: the server logged ${int(r.serverErrors)} errors; first: ${r.firstServerError ?? ""}`);
  console.log(`  ${r.store}: RSS peak ${mb(r.rssPeak)}; summed query time ${(r.dbShare * 100).toFixed(0)} % of wall-clock (over 100 % means queries overlapped or waited for the connection)`);
  for (const t of r.topStatements) console.log(`  ${r.store}:   ${secs(t.ms).padStart(7)} in ${int(t.count).padStart(5)} × ${t.statement}`);
  console.log(`  ${r.store}:   ${secs(r.beginMs).padStart(7)} waiting for the connection + BEGIN, ${secs(r.commitMs)} in COMMIT (summed over requests)`);
}
