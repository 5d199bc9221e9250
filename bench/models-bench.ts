/**
 * Workload 4: the models on a large shop. N customers are simulated from the
 * BG/NBD and Gamma-Gamma stories themselves (Fader, Hardie & Lee 2005 §3;
 * Fader & Hardie 2013) with known parameters, joining over 26 weeks and
 * observed for 78, so the fit can also be checked against the truth.
 *   1. fit: BG/NBD and Gamma-Gamma on the customers' summaries (no database);
 *   2. end to end in the store: the orders are written (not timed), then
 *      `fidelio models fit` — read the orders, fit on the calibration period,
 *      validate on the holdout, refit on everything, save — and the scoring
 *      run that writes every customer's predictions, RFM, stage and signals.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Store } from "../src/store/index.ts";
import { ensureWorkspace } from "../src/workspaces/index.ts";
import { fitBgNbd, fitGammaGamma, groupSummaryColumns, purchaseDaysOf, spendColumns, summaryColumns, type Purchase } from "../src/models/index.ts";
import { FitQuery, fitAndSave, readOrderLog, refreshScores } from "../src/predictions/index.ts";
import { RssSampler } from "./lib/rss.ts";
import { rng } from "../src/demo/index.ts";
import { int, secs } from "./lib/format.ts";

const execFileAsync = promisify(execFile);

export const MODELS_TARGETS = { fitMs: 5000, endToEndMs: 10_000, rssBytes: 1024 ** 3 } as const;
export const TRUE_PARAMS = { r: 0.25, alpha: 4, a: 0.8, b: 2.5, p: 6, q: 4, gamma: 15 } as const;

const END_DAY = Math.floor(Date.UTC(2026, 10, 1) / 86_400_000);
const WEEKS = 78;

/** Gamma(shape, scale 1) by Marsaglia & Tsang (2000), with the shape < 1 boost. */
function gamma(rand: () => number, shape: number): number {
  if (shape < 1) return gamma(rand, shape + 1) * rand() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Purchases (day numbers, amounts in currency units) of `customers` simulated customers. */
export function simulateShop(customers: number, seed: number): Purchase[] {
  const rand = rng(seed);
  const { r, alpha, a, b, p, q, gamma: g } = TRUE_PARAMS;
  const out: Purchase[] = [];
  const start = END_DAY - WEEKS * 7;
  for (let i = 0; i < customers; i++) {
    const id = String(i + 1);
    const lambda = gamma(rand, r) / alpha; // per week
    const ga = gamma(rand, a);
    const drop = ga / (ga + gamma(rand, b));
    const nu = gamma(rand, q) / g; // Gamma-Gamma: ν ~ Gamma(q, γ)
    const first = start + Math.floor(rand() * 26 * 7);
    const spend = () => Math.max(0.01, Math.round((gamma(rand, p) / nu) * 100) / 100);
    out.push({ customerId: id, day: first, amount: spend() });
    let t = 0; // weeks since the first purchase
    for (;;) {
      t += -Math.log(1 - rand()) / lambda;
      const day = first + Math.floor(t * 7);
      if (day > END_DAY - 1) break;
      out.push({ customerId: id, day, amount: spend() });
      if (rand() < drop) break;
    }
  }
  return out;
}

export interface ModelsFitResult {
  customers: number;
  purchases: number;
  simulateMs: number;
  summariseMs: number;
  bgMs: number;
  ggMs: number;
  bg: { r: number; alpha: number; a: number; b: number };
  gg: { p: number; q: number; gamma: number } | null;
  peakRss: number;
}

/** Step 1: the fits alone, on summaries built in memory. */
export function fitOnly(customers: number, seed: number, log: (s: string) => void): ModelsFitResult & { purchasesList: Purchase[] } {
  const rss = new RssSampler();
  rss.start();
  let t = performance.now();
  const purchases = simulateShop(customers, seed);
  const simulateMs = performance.now() - t;
  log(`  simulated ${int(customers)} customers, ${int(purchases.length)} purchases in ${secs(simulateMs)}`);
  // As the shop's fit reads them (src/predictions): summaries as columns, grouped by history shape.
  t = performance.now();
  const summaries = summaryColumns(purchaseDaysOf(purchases), { unit: "week", calibrationEnd: END_DAY - 1 });
  const summariseMs = performance.now() - t;
  t = performance.now();
  const bg = fitBgNbd(groupSummaryColumns(summaries), { maxEvaluations: 4000, restarts: 2 });
  const bgMs = performance.now() - t;
  log(`  BG/NBD in ${secs(bgMs)}: r ${bg.params.r.toFixed(3)} α ${bg.params.alpha.toFixed(3)} a ${bg.params.a.toFixed(3)} b ${bg.params.b.toFixed(3)} (true ${TRUE_PARAMS.r}, ${TRUE_PARAMS.alpha}, ${TRUE_PARAMS.a}, ${TRUE_PARAMS.b})`);
  t = performance.now();
  const spenders = spendColumns(summaries);
  const gg = spenders.length >= 2 ? fitGammaGamma(spenders, { maxEvaluations: 4000, restarts: 2 }) : null;
  const ggMs = performance.now() - t;
  log(`  Gamma-Gamma in ${secs(ggMs)}: ${gg ? `p ${gg.params.p.toFixed(3)} q ${gg.params.q.toFixed(3)} γ ${gg.params.gamma.toFixed(3)}` : "—"} (true ${TRUE_PARAMS.p}, ${TRUE_PARAMS.q}, ${TRUE_PARAMS.gamma})`);
  rss.stop();
  return { customers, purchases: purchases.length, simulateMs, summariseMs, bgMs, ggMs, bg: bg.params, gg: gg?.params ?? null, peakRss: rss.peak, purchasesList: purchases };
}

export interface ModelsStoreResult {
  writeMs: number;
  readMs: number;
  fitSaveMs: number;
  scoreMs: number;
  scoreOnlyMs: number;
  writeScoresMs: number;
  scored: number;
  storedScores: number;
  peakRss: number;
  warnings: string[];
}

const WRITE_BATCH = 20_000;
const NOW = new Date((END_DAY + 1) * 86_400_000);

/** Step 2a: the shop's customers and orders written to the store (not timed). */
export async function writeModelsShop(store: Store, purchases: readonly Purchase[], customers: number): Promise<number> {
  const ws = await ensureWorkspace(store, "bench-models", "EUR");
  const t = performance.now();
  await store.query(
    `INSERT INTO customers (workspace_id, external_id, created_at, updated_at) SELECT $1, 'c' || g, $2, $2 FROM generate_series(1, $3::int) g`,
    [ws.id, NOW, customers],
  );
  for (let i = 0; i < purchases.length; i += WRITE_BATCH) {
    const chunk = purchases.slice(i, i + WRITE_BATCH).map((p, k) => ({ e: `o${i + k}`, c: `c${p.customerId}`, d: p.day, m: Math.round(p.amount * 100) }));
    await store.query(
      `INSERT INTO orders (workspace_id, external_id, customer_id, status, placed_at, currency, subtotal_minor, total_minor, source, created_at)
       SELECT $1, r.e, c.id, 'fulfilled', to_timestamp(r.d * 86400.0 + 43200), 'EUR', r.m, r.m, 'bench', $2
         FROM jsonb_to_recordset($3::jsonb) AS r(e text, c text, d integer, m bigint) JOIN customers c ON c.workspace_id = $1 AND c.external_id = r.c`,
      [ws.id, NOW, JSON.stringify(chunk)],
    );
  }
  // A shop's orders have been read before it fits (the daily scoring run,
  // the analytics; autovacuum on PostgreSQL), so their rows' hint bits are
  // set. Rows just written have none yet, and the first read sets them all
  // (on PostgreSQL 4.2 s instead of 2.2 s, 2026-11-24): VACUUM sets them
  // here, outside the timing, as on a shop in use.
  await store.query("VACUUM ANALYZE");
  return performance.now() - t;
}

/**
 * Step 2b, timed: what `fidelio models fit` does (fitSaveAndScore), step by
 * step for the breakdown — read the orders once, fit on the calibration
 * period, validate on the holdout, refit, save, score everyone, rewrite
 * customer_scores. Run in a process of its own (models-e2e.ts), so the peak
 * memory is the pipeline's and not the benchmark's.
 */
export async function runModelsPipeline(store: Store): Promise<Omit<ModelsStoreResult, "writeMs">> {
  const ws = await ensureWorkspace(store, "bench-models", "EUR");
  const rss = new RssSampler();
  rss.start();
  let t = performance.now();
  const log = await readOrderLog(store, ws, NOW);
  const readMs = performance.now() - t;
  t = performance.now();
  const fit = await fitAndSave(store, ws, FitQuery.parse({}), NOW, log);
  const fitSaveMs = performance.now() - t;
  t = performance.now();
  const run = await refreshScores(store, ws, NOW, log);
  const scoreMs = performance.now() - t;
  rss.stop();
  const [stored] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_scores WHERE workspace_id = $1 AND p_alive IS NOT NULL", [ws.id]);
  return {
    readMs,
    fitSaveMs,
    scoreMs,
    scoreOnlyMs: run.phases.scoreSeconds * 1000,
    writeScoresMs: run.phases.writeSeconds * 1000,
    scored: run.customers,
    storedScores: Number(stored?.n ?? 0),
    peakRss: rss.peak,
    warnings: fit.warnings,
  };
}

/** Runs runModelsPipeline in a child process on the store at `location`, and returns what it measured. */
export async function modelsInChild(location: { dataDir?: string; databaseUrl?: string }): Promise<Omit<ModelsStoreResult, "writeMs">> {
  const { stdout } = await execFileAsync(process.execPath, [fileURLToPath(new URL("../bin/run-ts.mjs", import.meta.url)), fileURLToPath(new URL("./models-e2e.ts", import.meta.url)), JSON.stringify(location)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const last = stdout.trim().split("\n").pop() ?? "";
  return parseChildResult(JSON.parse(last));
}

function parseChildResult(v: unknown): Omit<ModelsStoreResult, "writeMs"> {
  const num = (o: Record<string, unknown>, k: string) => {
    const x = o[k];
    if (typeof x !== "number") throw new Error(`models-e2e: ${k} is not a number`);
    return x;
  };
  if (typeof v !== "object" || v === null) throw new Error("models-e2e: no result");
  const o: Record<string, unknown> = { ...v };
  const warnings = Array.isArray(o.warnings) ? o.warnings.map(String) : [];
  return {
    readMs: num(o, "readMs"),
    fitSaveMs: num(o, "fitSaveMs"),
    scoreMs: num(o, "scoreMs"),
    scoreOnlyMs: num(o, "scoreOnlyMs"),
    writeScoresMs: num(o, "writeScoresMs"),
    scored: num(o, "scored"),
    storedScores: num(o, "storedScores"),
    peakRss: num(o, "peakRss"),
    warnings,
  };
}
