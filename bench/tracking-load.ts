/**
 * The tracking benchmark's clients, in a process of their own (forked by
 * tracking-bench.ts): they build the seeded batches and POST them to
 * /v1/batch, `concurrency` at a time, and report each request's latency.
 *
 * Why a separate process: in a shop the clients are browsers and servers
 * elsewhere. Run on the server's own event loop, building 63 KB bodies and
 * driving fetch took ~1.5 s of the 12.5 s that loop was busy in a 100,000-event
 * run (2026-11-24, --cpu-prof), and the server's rate was capped by that loop.
 * Here they still share the machine's two cores, but not the server's thread.
 */
import { Rng } from "./lib/rng.ts";
import { LoadStart, buildBatch, type LoadReport } from "./lib/tracking-batches.ts";

function field(body: unknown, name: string): unknown {
  if (typeof body !== "object" || body === null) return undefined;
  return Object.entries(body).find(([k]) => k === name)?.[1];
}

function report(r: LoadReport): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) reject(new Error("tracking-load.ts runs as a forked child (no IPC channel)"));
    else process.send(r, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

async function run(start: LoadStart): Promise<void> {
  const o = start.options;
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
  let completed = 0;
  let stoppedEarly = false;
  let half: { at: number; sent: number } | undefined;
  let rssPeak = 0;
  const t0 = performance.now();

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
        const res = await fetch(start.url, { method: "POST", headers: { authorization: start.authorization, "content-type": "application/json" }, body });
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
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      if (half === undefined && done >= batches / 2) half = { at: performance.now(), sent: completed };
      if (done % Math.max(1, Math.round(batches / 4)) === 0 && done < batches) {
        await report({ kind: "progress", events: completed, ms: performance.now() - t0, rss: process.memoryUsage.rss() });
      }
    }
  };

  await Promise.all(Array.from({ length: o.concurrency }, () => client()));
  const ms = performance.now() - t0;
  await report({
    kind: "done",
    sent,
    stoppedEarly,
    ordersSent,
    batches: done,
    ms,
    secondHalfPerSec: half ? (completed - half.sent) / ((t0 + ms - half.at) / 1000) : 0,
    latencies,
    failedBatches,
    firstFailures: failures,
    bodyBytes,
    rssPeak,
  });
}

process.once("message", (msg: unknown) => {
  run(LoadStart.parse(msg))
    .then(() => process.disconnect())
    .catch((err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = 1;
      process.disconnect();
    });
});
