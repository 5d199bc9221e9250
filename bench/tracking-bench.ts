/**
 * Workload 2: the real HTTP server on 127.0.0.1, fed Segment `track` messages
 * through POST /v1/batch by several concurrent clients (in a process of their
 * own: tracking-load.ts), then the event log is counted to prove nothing was lost.
 */
import { createApp, serve } from "../src/http/index.ts";
import type { Store } from "../src/store/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { createApiKey, ensureWorkspace } from "../src/workspaces/index.ts";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LoadReport, type LoadStart, type TrackingOptions } from "./lib/tracking-batches.ts";
import { RssSampler } from "./lib/rss.ts";
import { TimedStore } from "./lib/timed-store.ts";
import { int, mb, secs } from "./lib/format.ts";

export type { TrackingOptions };

export const TRACKING_TARGETS: Record<"pglite" | "postgres", number> = { pglite: 5_000, postgres: 10_000 };

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
  /** Peak RSS of the server's process (with the PGlite worker), and of the clients' process. */
  rssPeak: number;
  clientRssPeak: number;
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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs the workload against `store` (fresh and migrated); closes the server but not the store. */
export async function trackInto(label: string, store: Store, o: TrackingOptions): Promise<TrackingResult> {
  const ws = await ensureWorkspace(store, "bench", "EUR");
  const key = await createApiKey(store, ws, "write", "benchmark");
  const timed = new TimedStore(store);
  const app = createApp({ store: timed, clock: systemClock, workspace: ws, maxBodyBytes: 500 * 1024, shopifyWebhookSecret: undefined });
  const server = await serve(app, 0, "127.0.0.1");
  const sampler = new RssSampler();

  // The server logs each failed request with its stack; count them instead of flooding the output.
  const logError = console.error;
  let serverErrors = 0;
  let firstServerError: string | undefined;
  console.error = (...parts: unknown[]) => {
    serverErrors++;
    firstServerError ??= parts.map((p) => (p instanceof Error ? `${p.name}: ${p.message}` : String(p))).join(" ");
  };
  sampler.start(250);
  let load: Extract<LoadReport, { kind: "done" }>;
  try {
    load = await runLoad(label, {
      url: `http://127.0.0.1:${server.port}/v1/batch`,
      authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
      options: o,
    });
  } finally {
    sampler.stop();
    console.error = logError;
    await server.close();
  }
  const trackInDb =
    (await store.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'track' AND workspace_id = $1", [ws.id]))[0]?.n ?? -1;
  const ordersInDb = (await store.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE workspace_id = $1", [ws.id]))[0]?.n ?? -1;
  const sorted = [...load.latencies].sort((a, b) => a - b);
  return {
    store: label,
    sent: load.sent,
    stoppedEarly: load.stoppedEarly,
    ordersSent: load.ordersSent,
    batches: load.batches,
    ms: load.ms,
    eventsPerSec: load.sent / (load.ms / 1000),
    secondHalfPerSec: load.secondHalfPerSec,
    latency: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
    failedBatches: load.failedBatches,
    firstFailures: load.firstFailures,
    trackInDb,
    ordersInDb,
    rssPeak: sampler.peak,
    clientRssPeak: load.rssPeak,
    dbShare: timed.queryMs / load.ms,
    bodyBytes: load.bodyBytes,
    topStatements: timed.top(6),
    beginMs: timed.waitMs,
    commitMs: timed.commitMs - timed.waitMs,
    serverErrors,
    firstServerError,
  };
}

/** Forks the clients (tracking-load.ts), prints their progress, and returns their report. */
function runLoad(label: string, start: LoadStart): Promise<Extract<LoadReport, { kind: "done" }>> {
  const child = fork(fileURLToPath(new URL("../bin/run-ts.mjs", import.meta.url)), [fileURLToPath(new URL("./tracking-load.ts", import.meta.url))], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let result: Extract<LoadReport, { kind: "done" }> | undefined;
    child.on("message", (msg: unknown) => {
      const r = LoadReport.safeParse(msg);
      if (!r.success) return reject(new Error(`tracking-load.ts sent an unexpected message: ${JSON.stringify(msg).slice(0, 200)}`));
      if (r.data.kind === "progress") console.log(`  ${label}: ${int(r.data.events)} events  ${secs(r.data.ms)}  RSS ${mb(process.memoryUsage.rss())} (clients ${mb(r.data.rss)})`);
      else result = r.data;
    });
    child.once("error", reject);
    child.once("exit", (code) => (result ? resolve(result) : reject(new Error(`tracking-load.ts exited with code ${code} before reporting`))));
    child.send(start);
  });
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
  console.log(`  ${r.store}: RSS peak ${mb(r.rssPeak)} (the clients' process: ${mb(r.clientRssPeak)}); summed query time ${(r.dbShare * 100).toFixed(0)} % of wall-clock (over 100 % means queries overlapped or waited for the connection)`);
  for (const t of r.topStatements) console.log(`  ${r.store}:   ${secs(t.ms).padStart(7)} in ${int(t.count).padStart(5)} × ${t.statement}`);
  console.log(`  ${r.store}:   ${secs(r.beginMs).padStart(7)} waiting for the connection + BEGIN, ${secs(r.commitMs)} in COMMIT (summed over requests)`);
}
