/**
 * Fidelio benchmark: `npm run bench -- [--lines N] [--events N] [--only import|tracking|metrics|models|segments|journeys]`.
 * Generates its own seeded data, runs each workload on embedded PGlite and on
 * PostgreSQL (when a server answers), checks that nothing was lost, and prints
 * a table against the targets. See docs/benchmarks.md.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../src/store/index.ts";
import { readArgs, type BenchArgs, type StoreKind } from "./lib/args.ts";
import { writeOnlineRetailFile } from "./lib/online-retail-file.ts";
import { createBenchDatabase, probePostgres } from "./lib/postgres.ts";
import { processPeakRss } from "./lib/rss.ts";
import { dirSize } from "./lib/dir-size.ts";
import { duration, int, mb, secs, table } from "./lib/format.ts";
import { IMPORT_TARGET_LINES_PER_SEC, FLAT_RSS_SLACK_BYTES, importInto, importWithoutDatabase, printImportResult } from "./import-bench.ts";
import { TRACKING_TARGETS, printTrackingResult, trackInto } from "./tracking-bench.ts";
import { METRICS_TARGETS, median, metricsOn } from "./metrics-bench.ts";
import { MODELS_TARGETS, TRUE_PARAMS, fitOnly, modelsInChild, writeModelsShop } from "./models-bench.ts";
import { SEGMENTS_TARGETS, segmentsOn } from "./segments-bench.ts";
import { JOURNEYS_TARGETS, backtestBench, emailBench, engineBench, persistedBench } from "./journeys-bench.ts";
import { LOYALTY_TARGETS, balanceReads, ledgerWrites } from "./loyalty-bench.ts";
import { execFileSync } from "node:child_process";

interface Row {
  workload: string;
  store: string;
  figure: string;
  target: string;
  pass: boolean | undefined;
}

let args: BenchArgs;
try {
  args = readArgs(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
const rows: Row[] = [];
const notes: string[] = [];
let correctnessFailed = false;
const started = performance.now();

console.log(`Fidelio benchmark — ${new Date().toISOString()}`);
console.log(`node ${process.version}, ${cpus().length} CPU (${cpus()[0]?.model ?? "?"}), ${mb(totalmem())} RAM, ${process.platform}/${process.arch}`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`load average at start: ${load()} (other work on the machine skews the figures)`);
console.log(`lines ${int(args.lines)}, events ${int(args.events)}, metrics shop ${int(args.customers)} customers / ${int(args.orders)} orders, models ${int(args.modelCustomers)} customers, segments ${int(args.segmentCustomers)} customers at ${int(args.rate)} events/s, journeys ${int(args.journeyCustomers)} customers, ${int(args.emails)} emails, backtest ${int(args.backtestCustomers)} customers, only ${args.only ?? "all"}, stores ${args.stores.join("+")}, seed ${args.seed}`);

let postgresUrl: string | undefined;
if (args.stores.includes("postgres")) {
  const probe = await probePostgres();
  if (probe.ok) {
    postgresUrl = probe.url;
    console.log(`PostgreSQL: ${new URL(probe.url).host} (a fresh database per workload, dropped at the end)`);
  } else {
    console.log(`PostgreSQL skipped: server unreachable (${probe.reason})`);
    notes.push("PostgreSQL was skipped: the server was unreachable.");
  }
}
const kinds: StoreKind[] = args.stores.filter((k) => k === "pglite" || postgresUrl !== undefined);

/** Clean-ups still owed (stores to close, databases to drop), run on Ctrl-C too. */
const cleanups = new Set<() => Promise<void>>();
process.once("SIGINT", () => {
  console.log("\ninterrupted: closing stores and dropping the benchmark databases");
  // Dropping a database ends the connections still in use; their errors no longer matter.
  process.on("uncaughtException", () => {});
  void Promise.allSettled([...cleanups].map((c) => c())).finally(() => process.exit(130));
});

/** Opens a fresh store of `kind`; `done` closes it and removes its data. */
async function freshStore(
  kind: StoreKind,
  workload: string,
): Promise<{ store: Store; location: { dataDir?: string; databaseUrl?: string }; where: () => Promise<string>; done: () => Promise<void> }> {
  if (kind === "pglite") {
    const dataDir = await mkdtemp(join(tmpdir(), `fidelio-bench-${workload}-`));
    const store = await openStore({ dataDir });
    const done = async () => {
      cleanups.delete(done);
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    };
    cleanups.add(done);
    return { store, location: { dataDir }, where: async () => `data dir ${mb(await dirSize(dataDir))} on disk`, done };
  }
  if (!postgresUrl) throw new Error("no PostgreSQL server");
  const db = await createBenchDatabase(postgresUrl, workload);
  cleanups.add(db.drop);
  try {
    const store = await openStore({ databaseUrl: db.url });
    return {
      store,
      location: { databaseUrl: db.url },
      where: async () => {
        const r = await store.query<{ n: number }>("SELECT pg_database_size(current_database()) AS n");
        return `database ${db.name}, ${mb(r[0]?.n ?? 0)}`;
      },
      done: async () => {
        cleanups.delete(db.drop);
        await store.close();
        await db.drop();
      },
    };
  } catch (err) {
    cleanups.delete(db.drop);
    await db.drop();
    throw err;
  }
}

const work = await mkdtemp(join(tmpdir(), "fidelio-bench-"));
const removeWork = () => rm(work, { recursive: true, force: true });
cleanups.add(removeWork);
try {
  if (args.only === undefined || args.only === "import") {
    console.log(`\n== CSV import (online-retail), ${int(args.lines)} lines ==`);
    const path = join(work, "online-retail.csv");
    const tg = performance.now();
    const stats = await writeOnlineRetailFile(path, args.lines, args.seed);
    console.log(
      `  generated ${path}: ${mb(stats.bytes)}, ${int(stats.invoices)} invoices (${int(stats.returns)} returns, ${int(stats.guestInvoices)} guest), ${int(stats.customers)} customers, ${int(stats.quotedDescriptions)} quoted descriptions, in ${secs(performance.now() - tg)}`,
    );
    if (args.parseOnly) {
      const p = await importWithoutDatabase(path);
      console.log(`  no database (parse, validate, build the JSON, no store): ${secs(p.ms)} = ${int(p.linesPerSec)} lines/s`);
      rows.push({ workload: "import (diagnostic)", store: "none", figure: `${int(p.linesPerSec)} lines/s`, target: "—", pass: undefined });
    }
    for (const kind of kinds) {
      const s = await freshStore(kind, "import");
      try {
        const r = await importInto(kind, s.store, path, stats);
        printImportResult(r);
        console.log(`  ${kind}: ${await s.where()}`);
        const ok = r.verification.every((v) => v.expected === v.found);
        if (!ok) correctnessFailed = true;
        rows.push({ workload: "import", store: kind, figure: `${int(r.linesPerSec)} lines/s (${secs(r.ms)})`, target: `≥ ${int(IMPORT_TARGET_LINES_PER_SEC)} lines/s`, pass: r.linesPerSec >= IMPORT_TARGET_LINES_PER_SEC });
        rows.push({
          workload: "import memory",
          store: kind,
          figure: `RSS ${r.quarters.map((q) => mb(q.rss).replace(" MB", "")).join("/")} MB at 25/50/75/100 %`,
          target: `100 % − 25 % < ${mb(FLAT_RSS_SLACK_BYTES)}`,
          pass: r.flat,
        });
        rows.push({ workload: "import correctness", store: kind, figure: `${int(r.summary.imported)} imported, ${r.summary.errorCount} errors`, target: "DB = imported", pass: ok });
      } finally {
        await s.done();
      }
    }
    await rm(path, { force: true });
  }

  if (args.only === undefined || args.only === "tracking") {
    const o = { events: args.events, batchSize: args.batchSize, concurrency: args.concurrency, seed: args.seed, maxSeconds: args.maxSeconds };
    console.log(`\n== Tracking API, POST /v1/batch, ${int(args.events)} track events ==`);
    for (const kind of kinds) {
      const s = await freshStore(kind, "tracking");
      try {
        const r = await trackInto(kind, s.store, o);
        printTrackingResult(r, o);
        console.log(`  ${kind}: ${await s.where()}`);
        const ok = r.failedBatches === 0 && r.trackInDb === r.sent && r.ordersInDb === r.ordersSent;
        if (r.stoppedEarly) notes.push(`tracking on ${kind} was stopped at the ${args.maxSeconds} s limit after ${int(r.sent)} of ${int(args.events)} events; its rate is over what was sent.`);
        if (!ok) correctnessFailed = true;
        const target = TRACKING_TARGETS[kind];
        rows.push({ workload: "tracking", store: kind, figure: `${int(r.eventsPerSec)} events/s (${secs(r.ms)}${r.stoppedEarly ? ", stopped early" : ""})`, target: `≥ ${int(target)} events/s`, pass: r.eventsPerSec >= target });
        rows.push({ workload: "tracking correctness", store: kind, figure: `${int(r.trackInDb)} of ${int(r.sent)} stored, ${r.failedBatches} failed batches`, target: "all stored", pass: ok });
      } finally {
        await s.done();
      }
    }
  }

  if (args.only === undefined || args.only === "metrics") {
    console.log(`\n== Retention analytics, ${int(args.customers)} customers / ${int(args.orders)} orders ==`);
    // The Overview is measured on the built dashboard.
    execFileSync(process.execPath, [new URL("../scripts/build-web.mjs", import.meta.url).pathname], { stdio: "inherit" });
    for (const kind of kinds) {
      const s = await freshStore(kind, "metrics");
      try {
        const r = await metricsOn(kind, s.store, { customers: args.customers, orders: args.orders, seed: args.seed, runs: args.runs, sql: args.metricsSql });
        console.log(`  ${kind}: generated in ${secs(r.generateMs)}; ${await s.where()}`);
        rows.push({ workload: "analytics: read every order into memory (once, at server start)", store: kind, figure: `${secs(r.loadMs)}; RSS ${mb(r.loadRss)} after, peak ${mb(r.peakRss)}`, target: "—", pass: undefined });
        const ok = r.check.every((c) => c.expected === c.found);
        for (const c of r.check) console.log(`  ${kind}: check ${c.name}: expected ${int(c.expected)}, found ${int(c.found)} ${c.expected === c.found ? "ok" : "WRONG"}`);
        if (!ok) correctnessFailed = true;
        const target = (name: string) => (/^(SQL: )?(headline|series|retention)/.test(name) ? METRICS_TARGETS.headlineMs : /^(SQL: )?cohort/.test(name) ? METRICS_TARGETS.cohortMs : METRICS_TARGETS.ladderMs);
        for (const t of r.timings) {
          const m = median(t.runs);
          // The SQL versions are the reference, timed for comparison: the API answers from the projection.
          const sql = t.name.startsWith("SQL: ");
          rows.push({ workload: t.name, store: kind, figure: `${duration(m)} median of ${t.runs.length} (first ${duration(t.runs[0] ?? NaN)})`, target: sql ? "(reference)" : `≤ ${secs(target(t.name))}`, pass: sql ? undefined : m <= target(t.name) });
        }
        if (r.overviewMs) {
          const m = median(r.overviewMs);
          rows.push({ workload: "dashboard Overview ready", store: kind, figure: `${duration(m)} median of ${r.overviewMs.length}`, target: `≤ ${secs(METRICS_TARGETS.overviewMs)}`, pass: m <= METRICS_TARGETS.overviewMs });
        } else {
          notes.push(`the dashboard Overview was not measured on ${kind}: ${r.overviewSkipped ?? "?"}`);
        }
        rows.push({ workload: "metrics correctness", store: kind, figure: r.check.map((c) => `${int(c.found)}`).join(" / "), target: "= generated", pass: ok });
      } finally {
        await s.done();
      }
    }
  }

  if (args.only === undefined || args.only === "models") {
    console.log(`\n== Models, ${int(args.modelCustomers)} simulated customers ==`);
    const f = fitOnly(args.modelCustomers, args.seed, (line) => console.log(line));
    const fitMs = f.bgMs + f.ggMs;
    rows.push({ workload: "fit BG/NBD + Gamma-Gamma", store: "none", figure: `${secs(fitMs)} (BG/NBD ${secs(f.bgMs)}, GG ${secs(f.ggMs)}; summaries ${secs(f.summariseMs)})`, target: `≤ ${secs(MODELS_TARGETS.fitMs)}`, pass: fitMs <= MODELS_TARGETS.fitMs });
    // Within 10 %: purchases are simulated in continuous time but recorded by day, and
    // same-day purchases count as one (as the models require), which lowers the
    // apparent purchase rate of the heaviest buyers a little (α comes out ~5 % high).
    const near = (a: number, b: number) => Math.abs(a / b - 1) <= 0.1;
    const recovered = near(f.bg.r, TRUE_PARAMS.r) && near(f.bg.alpha, TRUE_PARAMS.alpha) && near(f.bg.a, TRUE_PARAMS.a) && near(f.bg.b, TRUE_PARAMS.b);
    rows.push({ workload: "fit recovers the simulated BG/NBD", store: "none", figure: `r ${f.bg.r.toFixed(3)} α ${f.bg.alpha.toFixed(2)} a ${f.bg.a.toFixed(3)} b ${f.bg.b.toFixed(2)}`, target: "within 10 %", pass: recovered });
    rows.push({ workload: "fit peak memory (RSS)", store: "none", figure: mb(f.peakRss), target: `≤ ${mb(MODELS_TARGETS.rssBytes)}`, pass: f.peakRss <= MODELS_TARGETS.rssBytes });
    for (const kind of kinds) {
      const s = await freshStore(kind, "models");
      try {
        const writeMs = await writeModelsShop(s.store, f.purchasesList, args.modelCustomers);
        console.log(`  ${kind}: wrote ${int(args.modelCustomers)} customers and ${int(f.purchases)} orders in ${secs(writeMs)} (not timed)`);
        // The embedded store is closed for the child process to open its data folder.
        if (kind === "pglite") await s.store.close();
        const r = await modelsInChild(s.location);
        console.log(`  ${kind}: read the orders once in ${secs(r.readMs)}; fit (calibration fit, holdout validation, refit, save) ${secs(r.fitSaveMs)}; score ${secs(r.scoreOnlyMs)}; write customer_scores ${secs(r.writeScoresMs)}; warnings: ${r.warnings.length === 0 ? "none" : r.warnings.join(" | ")}`);
        const total = r.readMs + r.fitSaveMs + r.scoreMs;
        rows.push({ workload: "models fit + score (end to end, own process)", store: kind, figure: `${secs(total)} (read ${secs(r.readMs)}, fit+validate+save ${secs(r.fitSaveMs)}, score ${secs(r.scoreOnlyMs)}, write ${secs(r.writeScoresMs)})`, target: `≤ ${secs(MODELS_TARGETS.endToEndMs)}`, pass: total <= MODELS_TARGETS.endToEndMs });
        rows.push({ workload: "end-to-end peak memory (RSS)", store: kind, figure: mb(r.peakRss), target: `≤ ${mb(MODELS_TARGETS.rssBytes)}`, pass: r.peakRss <= MODELS_TARGETS.rssBytes });
        const ok = r.scored === args.modelCustomers && r.storedScores === args.modelCustomers;
        if (!ok) correctnessFailed = true;
        rows.push({ workload: "models correctness", store: kind, figure: `${int(r.storedScores)} of ${int(args.modelCustomers)} customers with predictions stored`, target: "all", pass: ok });
      } finally {
        await s.done();
      }
    }
  }

  if (args.only === undefined || args.only === "segments") {
    const n = args.segmentCustomers;
    console.log(`\n== Segments, ${int(n)} customers / ${int(n * 10)} orders / ${int(n * 20)} events ==`);
    for (const kind of kinds) {
      const s = await freshStore(kind, "segments");
      try {
        const r = await segmentsOn(kind, s.store, { customers: n, seed: args.seed, rate: args.rate, seconds: args.latencySeconds });
        console.log(`  ${kind}: generated in ${secs(r.generateMs)}; ${await s.where()}`);
        rows.push({ workload: `9 built-in segments, first evaluation (${int(r.firstMembers)} members found)`, store: kind, figure: secs(r.firstEvaluationMs), target: `≤ ${secs(SEGMENTS_TARGETS.fullEvaluationMs)}`, pass: r.firstEvaluationMs <= SEGMENTS_TARGETS.fullEvaluationMs });
        rows.push({ workload: "9 built-in segments, everyone entering, logged (after a bulk import)", store: kind, figure: secs(r.loggedEvaluationMs), target: "—", pass: undefined });
        rows.push({ workload: "9 built-in segments, scheduled re-evaluation", store: kind, figure: secs(r.steadyEvaluationMs), target: `≤ ${secs(SEGMENTS_TARGETS.fullEvaluationMs)}`, pass: r.steadyEvaluationMs <= SEGMENTS_TARGETS.fullEvaluationMs });
        const l = r.latency;
        rows.push({ workload: "event → membership p99", store: kind, figure: `${l.p99.toFixed(0)} ms (p50 ${l.p50.toFixed(0)} ms, max ${l.max.toFixed(0)} ms, ${l.rate.toFixed(0)} events/s)`, target: `≤ ${SEGMENTS_TARGETS.p99Ms} ms at ${int(args.rate)}/s`, pass: l.p99 <= SEGMENTS_TARGETS.p99Ms && l.rate >= args.rate * 0.9 });
        const ok = l.measured === l.sent;
        if (!ok) correctnessFailed = true;
        rows.push({ workload: "segments correctness", store: kind, figure: `${int(l.measured)} of ${int(l.sent)} carted customers became members`, target: "all", pass: ok });
      } finally {
        await s.done();
      }
    }
  }
  if (args.only === undefined || args.only === "journeys") {
    console.log(`\n== Journeys and email ==`);
    const e = engineBench(args.journeyCustomers * 10);
    rows.push({ workload: "journey engine (advance, in memory)", store: "none", figure: `${int(e.perSec)} advances/s (${int(e.advances)} in ${secs(e.ms)})`, target: `≥ ${int(JOURNEYS_TARGETS.enginePerSec)}/s`, pass: e.perSec >= JOURNEYS_TARGETS.enginePerSec });
    for (const kind of kinds) {
      const target = kind === "pglite" ? JOURNEYS_TARGETS.persistedPglitePerSec : JOURNEYS_TARGETS.persistedPostgresPerSec;
      let s = await freshStore(kind, "journeys");
      try {
        const p = await persistedBench(s.store, args.journeyCustomers);
        rows.push({ workload: "journey steps persisted (runner)", store: kind, figure: `${int(p.perSec)} advances/s (${int(p.advances)} in ${secs(p.ms)}, ${int(p.messages)} queued)`, target: `≥ ${int(target)}/s`, pass: p.perSec >= target });
        const ok = p.advances === args.journeyCustomers * 5 && p.messages === args.journeyCustomers;
        if (!ok) correctnessFailed = true;
        rows.push({ workload: "journeys correctness", store: kind, figure: `${int(p.advances)} advances, ${int(p.messages)} messages for ${int(args.journeyCustomers)} customers`, target: "5 and 1 each", pass: ok });
        const m = await emailBench(s.store, args.emails, 20);
        rows.push({ workload: "emails delivered to local SMTP (20 connections)", store: kind, figure: `${int(m.perSec)} emails/s (${int(m.sent)} in ${secs(m.ms)})`, target: `≥ ${int(JOURNEYS_TARGETS.emailsPerSec)}/s`, pass: m.perSec >= JOURNEYS_TARGETS.emailsPerSec });
        const mailOk = m.sent === args.emails && m.received === args.emails;
        if (!mailOk) correctnessFailed = true;
        rows.push({ workload: "email correctness", store: kind, figure: `${int(m.received)} received of ${int(m.sent)} sent, ${int(args.emails)} queued`, target: "all, once", pass: mailOk });
      } finally {
        await s.done();
      }
      s = await freshStore(kind, "backtest");
      try {
        const b = await backtestBench(s.store, args.backtestCustomers, args.seed, (line) => console.log(`  ${kind}: ${line}`));
        rows.push({ workload: `backtest win-back, 2 years × ${int(args.backtestCustomers)} customers`, store: kind, figure: `${secs(b.ms)} (${int(b.orders)} orders, ${int(b.entered)} entries, ${int(b.sent)} messages)`, target: `≤ ${secs(JOURNEYS_TARGETS.backtestMs)}`, pass: b.ms <= JOURNEYS_TARGETS.backtestMs });
      } finally {
        await s.done();
      }
    }
  }
  if (args.only === undefined || args.only === "loyalty") {
    console.log(`\n== Loyalty ledger ==`);
    for (const kind of kinds) {
      let s = await freshStore(kind, "ledger");
      try {
        for (const mode of ["alone", "transaction"] as const) {
          const w = await ledgerWrites(s.store, args.ledgerWrites, mode);
          // The target is for postings as the API makes them (alone); inside a caller's transaction is shown beside it.
          const target = kind === "postgres" && mode === "alone" ? LOYALTY_TARGETS.writesPerSecPostgres : undefined;
          const what = mode === "alone" ? "one call each, as the API posts" : "each in its own transaction";
          rows.push({ workload: `ledger writes, 50 concurrent customers (${what})`, store: kind, figure: `${int(w.perSec)} entries/s (${int(w.entries)} in ${secs(w.ms)})`, target: target ? `≥ ${int(target)}/s` : "—", pass: target ? w.perSec >= target : undefined });
          if (!w.balanceOk) correctnessFailed = true;
          rows.push({ workload: `ledger correctness (${mode})`, store: kind, figure: w.balanceOk ? "every balance, entry and event as posted" : "a balance, entry or event count differs", target: "equal", pass: w.balanceOk });
        }
      } finally {
        await s.done();
      }
      s = await freshStore(kind, "balances");
      try {
        const r = await balanceReads(s.store, args.loyaltyMembers, args.ledgerEntries, (line) => console.log(`  ${kind}: ${line}`));
        rows.push({ workload: `balance reads, ${int(args.loyaltyMembers)} members / ${int(args.ledgerEntries)} entries`, store: kind, figure: `p99 ${r.p99.toFixed(2)} ms (p50 ${r.p50.toFixed(2)}, max ${r.max.toFixed(1)}, ${int(r.reads)} reads)`, target: `p99 ≤ ${LOYALTY_TARGETS.readP99Ms} ms`, pass: r.p99 <= LOYALTY_TARGETS.readP99Ms });
        if (!r.checked) correctnessFailed = true;
      } finally {
        await s.done();
      }
    }
  }
} finally {
  cleanups.delete(removeWork);
  await removeWork();
}

console.log(`\n== Results ==`);
console.log(table(["workload", "store", "figure", "target", "result"], rows.map((r) => [r.workload, r.store, r.figure, r.target, r.pass === undefined ? "—" : r.pass ? "pass" : "FAIL"])));
console.log(`\npeak RSS of the process: ${mb(processPeakRss())} (includes the PGlite worker thread); total time ${secs(performance.now() - started)}; load average at end: ${load()}`);
for (const n of notes) console.log(n);
if (correctnessFailed) {
  console.log("data was lost or miscounted: see the checks above");
  process.exitCode = 1;
}
