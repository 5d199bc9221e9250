/**
 * Workload 1: a UCI Online Retail CSV imported with `importFile` into a fresh
 * store, with RSS sampled every 250 ms and read off at each quarter of the file.
 */
import { importFile, type ImportSummary } from "../src/ingest/index.ts";
import type { Store } from "../src/store/index.ts";
import { ensureWorkspace, type Workspace } from "../src/workspaces/index.ts";
import { RssSampler } from "./lib/rss.ts";
import { NullStore, TimedStore } from "./lib/timed-store.ts";
import { int, mb, secs } from "./lib/format.ts";
import type { OnlineRetailStats } from "./lib/online-retail-file.ts";

export const IMPORT_TARGET_LINES_PER_SEC = 50_000;
/**
 * Memory counts as flat when RSS at 100 % of the file is less than this above
 * RSS at 25 %. Both are read at the same moment of the cycle (just after a
 * batch commits), so garbage-collector sawtooth does not count as growth.
 */
export const FLAT_RSS_SLACK_BYTES = 64 * 1024 * 1024;

export interface Quarter {
  pct: number;
  lines: number;
  ms: number;
  rss: number;
  /** Highest RSS sampled since the previous quarter. */
  peak: number;
}

export interface ImportResult {
  store: string;
  summary: ImportSummary;
  ms: number;
  linesPerSec: number;
  quarters: Quarter[];
  rssBefore: number;
  rssPeak: number;
  /** RSS at 100 % minus RSS at 25 %. */
  rssGrowth: number;
  flat: boolean;
  /** Time spent waiting on queries, as a share of the import's wall-clock time. */
  dbShare: number | undefined;
  transactions: number;
  topStatements: { statement: string; ms: number; count: number }[];
  /** Waiting for the connection plus BEGIN, and COMMIT, summed over transactions. */
  beginMs: number;
  commitMs: number;
  verification: { name: string; expected: number; found: number }[];
}

function countRow(rows: { n: number }[]): number {
  return rows[0]?.n ?? -1;
}

async function runImport(label: string, store: Store, timed: TimedStore | undefined, ws: Workspace, path: string): Promise<Omit<ImportResult, "verification">> {
  const sampler = new RssSampler();
  const rssBefore = process.memoryUsage.rss();
  const quarters: Quarter[] = [];
  const thresholds = [0.25, 0.5, 0.75, 1];
  const t0 = performance.now();
  sampler.start(250);
  sampler.takeWindowPeak();
  timed?.reset();
  let summary: ImportSummary;
  try {
    summary = await importFile(store, ws, path, {
      format: "online-retail",
      now: () => new Date(),
      onProgress: (p) => {
        const fraction = p.totalBytes > 0 ? p.bytesRead / p.totalBytes : 0;
        while (thresholds.length > 0 && fraction >= (thresholds[0] ?? 2)) {
          const pct = (thresholds.shift() ?? 0) * 100;
          const rss = sampler.sample();
          const q = { pct, lines: p.lines, ms: performance.now() - t0, rss, peak: sampler.takeWindowPeak() };
          quarters.push(q);
          console.log(`  ${label}: ${String(pct).padStart(3)} %  line ${int(q.lines).padStart(9)}  ${secs(q.ms).padStart(7)}  RSS ${mb(q.rss)} (peak since last mark ${mb(q.peak)})`);
        }
      },
    });
  } finally {
    sampler.stop();
  }
  const ms = performance.now() - t0;
  const at25 = quarters.find((q) => q.pct === 25);
  const at100 = quarters.find((q) => q.pct === 100);
  const rssGrowth = at25 && at100 ? at100.rss - at25.rss : 0;
  return {
    store: label,
    summary,
    ms,
    linesPerSec: summary.lines / (ms / 1000),
    quarters,
    rssBefore,
    rssPeak: sampler.peak,
    rssGrowth,
    flat: rssGrowth < FLAT_RSS_SLACK_BYTES,
    dbShare: timed ? timed.queryMs / ms : undefined,
    transactions: timed?.transactions ?? 0,
    topStatements: timed?.top(5) ?? [],
    beginMs: timed?.waitMs ?? 0,
    commitMs: (timed?.commitMs ?? 0) - (timed?.waitMs ?? 0),
  };
}

/** Parses and maps the whole file against a store that keeps nothing: the import's cost outside the database. */
export async function importWithoutDatabase(path: string): Promise<{ ms: number; linesPerSec: number; summary: ImportSummary }> {
  const t0 = performance.now();
  const summary = await importFile(new NullStore(), { id: "bench", currency: "GBP" }, path, { format: "online-retail", now: () => new Date() });
  const ms = performance.now() - t0;
  return { ms, linesPerSec: summary.lines / (ms / 1000), summary };
}

/** Imports `path` into `store` (fresh, migrated) and checks the database against the summary and the generator's counts. */
export async function importInto(label: string, store: Store, path: string, expected: OnlineRetailStats): Promise<ImportResult> {
  const ws = await ensureWorkspace(store, "bench", "GBP");
  const timed = new TimedStore(store);
  const r = await runImport(label, timed, timed, ws, path);
  const q = async (sql: string) => countRow(await store.query<{ n: number }>(sql, [ws.id]));
  const orders = await q("SELECT count(*)::int AS n FROM orders WHERE workspace_id = $1");
  const refunds = await q("SELECT count(*)::int AS n FROM refunds WHERE workspace_id = $1");
  const lines = await q("SELECT count(*)::int AS n FROM order_lines WHERE workspace_id = $1");
  const customers = await q("SELECT count(*)::int AS n FROM customers WHERE workspace_id = $1");
  return {
    ...r,
    verification: [
      { name: "orders + refunds in the database = imported", expected: r.summary.imported, found: orders + refunds },
      { name: "orders = invoices generated", expected: expected.orders, found: orders },
      { name: "refunds = return invoices generated", expected: expected.returns, found: refunds },
      { name: "order lines = lines of those invoices", expected: expected.orderLines, found: lines },
      { name: "customers = customers generated", expected: expected.customers, found: customers },
      { name: "errors", expected: 0, found: r.summary.errorCount },
    ],
  };
}

export function printImportResult(r: ImportResult): void {
  const s = r.summary;
  console.log(`  ${r.store}: ${int(s.lines)} lines in ${secs(r.ms)} = ${int(r.linesPerSec)} lines/s`);
  console.log(`  ${r.store}: imported ${int(s.imported)}, skipped ${int(s.skipped)}, errorCount ${int(s.errorCount)}${s.errors[0] ? ` (first: line ${s.errors[0].line} ${s.errors[0].field}: ${s.errors[0].message})` : ""}`);
  for (const w of s.warnings) console.log(`  ${r.store}: warning: ${w}`);
  console.log(
    `  ${r.store}: RSS before ${mb(r.rssBefore)}, peak during import ${mb(r.rssPeak)}, RSS at 100 % minus RSS at 25 %: ${mb(r.rssGrowth)} (${r.flat ? "flat" : "NOT flat"}: limit ${mb(FLAT_RSS_SLACK_BYTES)})`,
  );
  if (r.dbShare !== undefined) {
    console.log(`  ${r.store}: ${int(r.transactions)} transactions; waiting on queries ${(r.dbShare * 100).toFixed(0)} % of the time, the rest is parsing, validation and JSON in this thread`);
    for (const t of r.topStatements) console.log(`  ${r.store}:   ${secs(t.ms).padStart(7)} in ${int(t.count).padStart(5)} × ${t.statement}`);
    console.log(`  ${r.store}:   ${secs(r.beginMs).padStart(7)} waiting for the connection + BEGIN, ${secs(r.commitMs)} in COMMIT`);
  }
  for (const v of r.verification) {
    console.log(`  ${r.store}: check ${v.name}: expected ${int(v.expected)}, found ${int(v.found)} ${v.expected === v.found ? "ok" : "MISMATCH"}`);
  }
}
