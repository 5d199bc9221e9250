/**
 * `fidelio <command>`: start, serve, import, keys, admins, demo, metrics, report, models, predict, segments, backup, restore, status.
 * Errors print one line and exit with the code the error table gives.
 */
import { Command, InvalidArgumentError } from "commander";
import { readFile, writeFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { readConfig, ConfigError, type ConfigOverrides } from "../config.ts";
import { ensureFirstAdmin, ensureFirstKeys, openFidelio, startServer, type Fidelio } from "../main.ts";
import { createAdmin, generatePassword } from "../admins/index.ts";
import { AppError, exitCodeOf, parseInput, toAppError } from "../shared/index.ts";
import { importFile, MAX_REPORTED_ERRORS } from "../ingest/index.ts";
import { createApiKey } from "../workspaces/index.ts";
import { loadDemo, loadDemoLoyalty } from "../demo/index.ts";
import { storeCounts } from "../customers/index.ts";
import { openStore, PgliteStore } from "../store/index.ts";
import { StoreError } from "../store/index.ts";
import { oneStep, progress } from "./progress.ts";
import { dataDirOption, int, overrides, readJsonFile, withFidelio } from "./common.ts";
import { addJourneyCommands } from "./journeys.ts";
import { addLoyaltyCommands } from "./loyalty.ts";
import { HeadlineQuery, OrderProjections, headlineReport } from "../metrics/index.ts";
import { headlineTable } from "./metrics-table.ts";
import { renderReport } from "../report/index.ts";
import { AdviceQuery } from "../metrics/index.ts";
import {
  FitQuery,
  PredictQuery,
  fitSaveAndScore,
  predictCustomer,
  readLifecycleSettings,
  refreshPredictions,
  refreshScores,
  updateLifecycleSettings,
  type CustomerPrediction,
  type ModelReport,
  type ScoringRun,
} from "../predictions/index.ts";
import {
  createSegment,
  deleteSegment,
  evaluateSegments,
  evaluationMoves,
  exportSegment,
  getSegment,
  listMembers,
  listSegments,
  previewSegment,
  updateSegment,
  type EvaluationResult,
  type Segment,
} from "../segments/index.ts";
import { createWriteStream } from "node:fs";


function printKeys(keys: { admin: string; write: string } | undefined): void {
  if (!keys) return;
  console.log("\nAPI keys created (shown once; keep them):");
  console.log(`  admin key: ${keys.admin}   (Authorization: Bearer …, for /api)`);
  console.log(`  write key: ${keys.write}   (Segment write key, for /v1)`);
}

async function runServer(o: { dataDir?: string; port?: number; host?: string }, withDemo: boolean): Promise<void> {
  const config = readConfig(overrides(o));
  const f = await openFidelio(config);
  try {
    const keys = await ensureFirstKeys(f);
    const admin = await ensureFirstAdmin(f);
    if (withDemo && config.demo === "auto") {
      const counts = await storeCounts(f.store, f.workspace);
      if (counts.customers === 0 && counts.orders === 0) {
        console.log("The store is empty: loading the demo shop (3,000 customers over two years)…");
        const bar = progress("demo");
        const s = await loadDemo(f.store, f.workspace, { end: f.clock.now(), onProgress: (d, t) => bar.update(d, t, `${d}/${t} customers`) });
        bar.stop();
        console.log(`Demo loaded: ${s.customers} customers, ${s.orders} orders, ${s.refunds} refunds, ${s.events} events.`);
        const r = await oneStep("models", "fitting BG/NBD and Gamma-Gamma, scoring every customer", () => refreshPredictions(f.store, f.workspace, f.clock.now()));
        console.log(`Predictions: ${r.scoring.customers} customers scored${r.fittedVersion !== null ? ` with model version ${r.fittedVersion}` : ""}${r.fitError ? ` (no model: ${r.fitError})` : ""}.`);
        const l = await oneStep("loyalty", "running the demo's loyalty programme over its last year", () => loadDemoLoyalty(f.store, f.workspace, f.clock.now()));
        console.log(`Loyalty: ${l.members} members, ${l.points.toLocaleString("en")} points outstanding, ${l.redemptions} rewards redeemed, ${l.paidMembers} paid members.`);
        const e = await evaluateSegments(f.store, f.workspace, f.clock.now());
        console.log(`Segments: ${e.segments.length} evaluated in ${e.seconds.toFixed(1)} s.`);
      }
    }
    const server = await startServer(f);
    const where = config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `embedded database in ${config.dataDir}`;
    console.log(`\nFidelio is running at ${server.url}  (${where})`);
    console.log(`API description: ${server.url}api/openapi.json`);
    console.log(
      config.email.smtpUrl
        ? `Email: through ${new URL(config.email.smtpUrl).host} as ${config.email.from}${config.email.dkim ? `, DKIM-signed for ${config.email.dkim.domain}` : ""}.`
        : "Email: no SMTP server (FIDELIO_SMTP_URL): journeys run and their messages wait in the outbox.",
    );
    printKeys(keys);
    if (admin) {
      console.log("\nDashboard sign-in created (shown once; keep it):");
      console.log(`  email:    ${admin.email}`);
      console.log(`  password: ${admin.password}`);
      console.log("  More admins: npx fidelio admins create --email you@example.com");
    }
    const stop = async () => {
      await server.close();
      await f.store.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
  } catch (err) {
    await f.store.close();
    throw err;
  }
}

async function firstLineOfStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  const line = text.split(/\r?\n/)[0] ?? "";
  if (line === "") throw new AppError("invalid_input", "--password-stdin: standard input is empty", [{ field: "password", message: "empty" }]);
  return line;
}

const program = new Command();
program.name("fidelio").description("Self-hosted retention marketing for online shops").showHelpAfterError();

program
  .command("start")
  .description("start the server; loads the demo shop when the store is empty")
  .option(...dataDirOption)
  .option("--port <n>", "port (default 3700)", int("--port"))
  .option("--host <host>", "interface to listen on (default 127.0.0.1)")
  .action((o) => runServer(o, true));

program
  .command("serve")
  .description("start the server")
  .option(...dataDirOption)
  .option("--port <n>", "port (default 3700)", int("--port"))
  .option("--host <host>", "interface to listen on (default 127.0.0.1)")
  .action((o) => runServer(o, false));

program
  .command("import")
  .description("import a CSV or log file (.gz read directly)")
  .argument("<file>")
  .requiredOption("--format <format>", "orders-csv | customers-csv | products-csv | shopify-orders | online-retail | cdnow")
  .option("--currency <code>", "currency of amounts when the file does not say (default: the workspace's)")
  .option("--batch-size <n>", "records per transaction", int("--batch-size"))
  .option("--json", "print {imported, skipped, errors} as JSON")
  .option(...dataDirOption)
  .action(async (file: string, o: { format: string; currency?: string; batchSize?: number; json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const bar = progress("import");
      const started = Date.now();
      const summary = await importFile(f.store, f.workspace, file, {
        format: o.format,
        currency: o.currency?.toUpperCase(),
        batchSize: o.batchSize,
        now: () => f.clock.now(),
        onProgress: (p) =>
          bar.update(p.bytesRead, p.totalBytes, `${p.lines.toLocaleString("en")} lines, ${p.imported.toLocaleString("en")} imported, ${p.skipped.toLocaleString("en")} skipped, ${p.errorCount} errors`),
      });
      bar.stop();
      if (o.json) {
        console.log(JSON.stringify({ imported: summary.imported, skipped: summary.skipped, errors: summary.errors, errorCount: summary.errorCount, lines: summary.lines, warnings: summary.warnings }));
        return;
      }
      const secs = (Date.now() - started) / 1000;
      console.log(`${file}: ${summary.lines.toLocaleString("en")} lines in ${secs.toFixed(1)} s — ${summary.imported.toLocaleString("en")} imported, ${summary.skipped.toLocaleString("en")} already there, ${summary.errorCount} malformed lines skipped`);
      for (const e of summary.errors.slice(0, 20)) console.log(`  line ${e.line}: ${e.field}: ${e.message}`);
      if (summary.errorCount > 20) console.log(`  … and ${summary.errorCount - 20} more (--json lists up to ${MAX_REPORTED_ERRORS})`);
      for (const w of summary.warnings) console.log(`warning: ${w}`);
    });
  });

const keys = program.command("keys").description("API keys");
keys
  .command("create")
  .description("create an API key (shown once)")
  .requiredOption("--kind <kind>", "write (tracking only) or admin")
  .option("--label <text>", "what the key is for")
  .option("--json", "print {kind, key} as JSON")
  .option(...dataDirOption)
  .action(async (o: { kind: string; label?: string; json?: boolean; dataDir?: string }) => {
    if (o.kind !== "write" && o.kind !== "admin") throw new AppError("invalid_input", `--kind: must be write or admin, not "${o.kind}"`);
    const kind = o.kind;
    await withFidelio(o, async (f) => {
      const key = await createApiKey(f.store, f.workspace, kind, o.label);
      console.log(o.json ? JSON.stringify({ kind, key }) : `${kind} key: ${key}`);
    });
  });

program
  .command("demo")
  .description("load the synthetic demo shop (seeded, deterministic)")
  .option("--customers <n>", "number of customers (default 3000)", int("--customers"))
  .option("--seed <n>", "random seed (default 42)", int("--seed"))
  .option("--end <date>", "last day of the two-year history, YYYY-MM-DD (default today)")
  .option("--json", "print the summary as JSON")
  .option(...dataDirOption)
  .action(async (o: { customers?: number; seed?: number; end?: string; json?: boolean; dataDir?: string }) => {
    const end = o.end === undefined ? undefined : new Date(`${o.end}T00:00:00Z`);
    if (end && Number.isNaN(end.getTime())) throw new AppError("invalid_input", `--end: "${o.end}" is not a date YYYY-MM-DD`);
    await withFidelio(o, async (f) => {
      const bar = progress("demo");
      const s = await loadDemo(f.store, f.workspace, {
        customers: o.customers,
        seed: o.seed,
        end: end ?? f.clock.now(),
        onProgress: (d, t) => bar.update(d, t, `${d}/${t} customers`),
      });
      bar.stop();
      console.log(o.json ? JSON.stringify(s) : `demo: ${s.customers} customers, ${s.products} products, ${s.orders} orders, ${s.refunds} refunds, ${s.events} events`);
    });
  });

const admins = program.command("admins").description("people who sign in to the dashboard");
admins
  .command("create")
  .description("create a dashboard admin; prints the password once when none is given")
  .requiredOption("--email <email>", "their email, used to sign in")
  .option("--password <password>", "at least 12 characters (default: a generated one, printed); visible to other users in `ps`, prefer --password-stdin")
  .option("--password-stdin", "read the password from the first line of standard input")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { email: string; password?: string; passwordStdin?: boolean; json?: boolean; dataDir?: string }) => {
    const given = o.passwordStdin ? await firstLineOfStdin() : o.password;
    await withFidelio(o, async (f) => {
      const password = given ?? generatePassword();
      const a = await createAdmin(f.store, f.workspace, { email: o.email, password }, f.clock.now());
      const shown = given ? undefined : password;
      if (o.json) console.log(JSON.stringify({ email: a.email, ...(shown ? { password: shown } : {}) }));
      else console.log(`admin ${a.email} created${shown ? `; password (shown once): ${shown}` : ""}`);
    });
  });

program
  .command("metrics")
  .description("headline retention figures of a period (customers, orders, revenue, repeat rate, frequency, AOV, customer value)")
  .option("--from <date>", "first day, YYYY-MM-DD (default: the first order)")
  .option("--to <date>", "last day, YYYY-MM-DD (default: today)")
  .option("--compare", "also show the period of the same length just before")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { from?: string; to?: string; compare?: boolean; json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const q = parseInput(HeadlineQuery, { from: o.from, to: o.to, compare: o.compare ? "previous" : "none" });
      const m = await headlineReport(f.store, f.workspace, f.clock, q, new OrderProjections(f.store));
      console.log(o.json ? JSON.stringify(m, null, 2) : headlineTable(m));
    });
  });

const models = program.command("models").description("predictive models fitted on the shop's orders");
models
  .command("fit")
  .description("fit BG/NBD, Pareto/NBD and Gamma-Gamma on a calibration period and check them on the holdout")
  .option("--unit <unit>", "time unit of the models: day or week", "week")
  .option("--calibration-end <date>", "last day of the calibration period, YYYY-MM-DD (default: three quarters through the history)")
  .option("--pareto", "also fit Pareto/NBD (slower)")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { unit: string; calibrationEnd?: string; pareto?: boolean; json?: boolean; dataDir?: string }) => {
    const q = parseInput(FitQuery, { unit: o.unit, calibrationEnd: o.calibrationEnd, pareto: o.pareto === true });
    await withFidelio(o, async (f) => {
      const r = await oneStep("fit", `fitting BG/NBD${q.pareto ? ", Pareto/NBD" : ""} and Gamma-Gamma`, () => fitSaveAndScore(f.store, f.workspace, q, f.clock.now()));
      const saved = r.saved;
      console.log(
        o.json
          ? JSON.stringify(r, null, 2)
          : `${modelTable(r)}\n\nsaved as model version ${saved.version} (refitted on every order up to ${saved.dataEnd}); predict with: fidelio predict --customer ID\n${scoringLine(r.scoring)}`,
      );
    });
  });

models
  .command("score")
  .description("rescore every customer now with the latest model: predictions, RFM, lifecycle stage, churn signals (the server does it daily)")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const r = await oneStep("score", "scoring every customer", () => refreshScores(f.store, f.workspace, f.clock.now()));
      console.log(o.json ? JSON.stringify(r, null, 2) : scoringLine(r));
    });
  });

models
  .command("settings")
  .description("show or change the thresholds of lifecycle stages and churn signals, e.g. --set lapsedAfterRhythms=4")
  .option("--set <name=value...>", "change a setting (repeatable)")
  .option(...dataDirOption)
  .action(async (o: { set?: string[]; dataDir?: string }) => {
    const patch: Record<string, number> = {};
    for (const pair of o.set ?? []) {
      const m = /^([A-Za-z]+)=(-?\d*\.?\d+)$/.exec(pair);
      if (!m?.[1] || m[2] === undefined) throw new AppError("invalid_input", `--set: "${pair}" is not name=number`, [{ field: "--set", message: "expected name=number" }]);
      patch[m[1]] = Number(m[2]);
    }
    await withFidelio(o, async (f) => {
      const settings = o.set ? await updateLifecycleSettings(f.store, f.workspace, patch) : await readLifecycleSettings(f.store, f.workspace);
      console.log(Object.entries(settings).map(([k, v]) => `${k.padEnd(22)} ${v}`).join("\n"));
      if (o.set) console.log("\nsaved; they apply from the next scoring run (fidelio models score)");
    });
  });

function scoringLine(r: ScoringRun): string {
  const stages = Object.entries(r.byStage).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n.toLocaleString("en")}`).join(", ");
  return `scored ${r.customers.toLocaleString("en")} customers in ${r.seconds.toFixed(1)} s${r.modelVersion !== null ? ` with model version ${r.modelVersion}` : ""}: ${stages}${r.note ? `\nnote: ${r.note}` : ""}`;
}

const segments = program.command("segments").description("live segments: rules over customers, kept current, exported as CSV or ad audiences");
const segmentIdArg = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("the segment id must be a positive whole number");
  return Number(v);
};


function segmentLine(s: Segment): string {
  return `${String(s.id).padStart(4)}  ${s.name.padEnd(34)} ${s.size.toLocaleString("en").padStart(9)}  ${s.builtIn ? "built-in" : "        "}  ${s.evaluatedAt ? `evaluated ${s.evaluatedAt.slice(0, 16).replace("T", " ")}` : "not evaluated yet"}`;
}

function evaluationLine(e: EvaluationResult): string {
  return `${e.segments.length} segment(s) evaluated in ${e.seconds.toFixed(2)} s; ${evaluationMoves(e)}`;
}

segments
  .command("list")
  .description("every segment with its size")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const list = await listSegments(f.store, f.workspace);
      console.log(o.json ? JSON.stringify(list, null, 2) : ["  id  name                                   members", ...list.map(segmentLine)].join("\n"));
    });
  });

segments
  .command("show")
  .description("a segment: its rule, size and state")
  .argument("<id>", "segment id", segmentIdArg)
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (id: number, o: { json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const s = await getSegment(f.store, f.workspace, id);
      console.log(o.json ? JSON.stringify(s, null, 2) : `${segmentLine(s)}\n${s.description ? `${s.description}\n` : ""}rule: ${JSON.stringify(s.rule, null, 2)}`);
    });
  });

segments
  .command("create")
  .description("create a segment from a JSON file {name, description?, rule} and evaluate it")
  .requiredOption("--file <file>", "the segment as JSON")
  .option("--name <name>", "name (when the file holds only the rule, or to override)")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { file: string; name?: string; json?: boolean; dataDir?: string }) => {
    const body = await readJsonFile(o.file);
    const input = typeof body === "object" && body !== null && "rule" in body ? { ...body, ...(o.name ? { name: o.name } : {}) } : { name: o.name, rule: body };
    await withFidelio(o, async (f) => {
      const s = await createSegment(f.store, f.workspace, input, f.clock.now());
      if (o.json) return console.log(JSON.stringify(s, null, 2));
      console.log(`created segment ${s.id} "${s.name}": ${s.size.toLocaleString("en")} members (${evaluationLine(s.evaluation)})`);
      for (const w of s.warnings) console.log(`warning: ${w}`);
    });
  });

segments
  .command("update")
  .description("change a segment from a JSON file holding any of {name, description, rule}")
  .argument("<id>", "segment id", segmentIdArg)
  .requiredOption("--file <file>", "the changes as JSON")
  .option(...dataDirOption)
  .action(async (id: number, o: { file: string; dataDir?: string }) => {
    const patch = await readJsonFile(o.file);
    await withFidelio(o, async (f) => {
      const s = await updateSegment(f.store, f.workspace, id, patch, f.clock.now());
      console.log(`updated segment ${s.id} "${s.name}": ${s.size.toLocaleString("en")} members`);
      for (const w of s.warnings) console.log(`warning: ${w}`);
    });
  });

segments
  .command("delete")
  .description("delete a segment and its membership history")
  .argument("<id>", "segment id", segmentIdArg)
  .option(...dataDirOption)
  .action(async (id: number, o: { dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      await deleteSegment(f.store, f.workspace, id);
      console.log(`deleted segment ${id}`);
    });
  });

segments
  .command("preview")
  .description("count and sample the customers a rule (JSON file) matches now, without saving it")
  .requiredOption("--file <file>", "the rule, or a segment holding one, as JSON")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { file: string; json?: boolean; dataDir?: string }) => {
    const body = await readJsonFile(o.file);
    const rule = typeof body === "object" && body !== null && "rule" in body ? body.rule : body;
    await withFidelio(o, async (f) => {
      const p = await previewSegment(f.store, f.workspace, { rule }, f.clock.now());
      if (o.json) return console.log(JSON.stringify(p, null, 2));
      console.log(`${p.count.toLocaleString("en")} customers match (${p.seconds.toFixed(2)} s)${p.sample.length > 0 ? "; for example:" : ""}`);
      for (const m of p.sample) console.log(`  ${m.externalId.padEnd(24)} ${(m.email ?? "").padEnd(32)} ${m.orders} orders`);
      for (const w of p.warnings) console.log(`warning: ${w}`);
    });
  });

segments
  .command("evaluate")
  .description("re-evaluate every segment over every customer now (the server does it on its schedule)")
  .option(...dataDirOption)
  .action(async (o: { dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const r = await oneStep("segments", "evaluating every segment", () => evaluateSegments(f.store, f.workspace, f.clock.now()));
      console.log(evaluationLine(r));
    });
  });

segments
  .command("members")
  .description("the current members of a segment")
  .argument("<id>", "segment id", segmentIdArg)
  .option("--limit <n>", "how many", int("--limit"), 50)
  .option("--after <customerId>", "the last customer id of the previous page", int("--after"))
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (id: number, o: { limit: number; after?: number; json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const page = await listMembers(f.store, f.workspace, id, { limit: o.limit, after: o.after });
      if (o.json) return console.log(JSON.stringify(page, null, 2));
      console.log(`${page.total.toLocaleString("en")} members${page.next !== null ? ` (next page: --after ${page.next})` : ""}`);
      for (const m of page.items) console.log(`  ${m.externalId.padEnd(24)} ${(m.email ?? "").padEnd(32)} ${String(m.orders).padStart(4)} orders  ${m.stage ?? ""}`);
    });
  });

segments
  .command("export")
  .description("write a segment's members as CSV, or as an ad-platform audience (hashed, consent for ads only)")
  .argument("<id>", "segment id", segmentIdArg)
  .option("--format <format>", "csv or audience", "csv")
  .option("--columns <list>", "CSV columns, comma-separated (default externalId,email,firstName,lastName,orders,revenue,stage,enteredAt)")
  .option("--platform <platform>", "audience format: google, meta or tiktok", "google")
  .option("--country <code>", "country of phone numbers written without a country code, e.g. FR")
  .option("--out <file>", "where to write it (default: standard output)")
  .option(...dataDirOption)
  .action(async (id: number, o: { format: string; columns?: string; platform: string; country?: string; out?: string; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const query = { format: o.format, columns: o.columns, platform: o.platform, country: o.country };
      const seg = await getSegment(f.store, f.workspace, id);
      const out = o.out ? createWriteStream(o.out) : process.stdout;
      const bar = o.out ? progress("export") : undefined;
      let written = 0;
      const summary = await exportSegment(f.store, f.workspace, id, query, (chunk) => {
        written += Math.max(0, chunk.split("\n").length - 1);
        bar?.update(Math.min(written, seg.size + 1), seg.size + 1, `${Math.max(0, written - 1)} rows`);
        return new Promise<void>((resolve, reject) => {
          if (out.write(chunk)) resolve();
          else out.once("drain", resolve).once("error", reject);
        });
      });
      bar?.stop();
      if (o.out && out !== process.stdout) await new Promise<void>((resolve) => out.end(resolve));
      const notes = o.format === "audience" ? `; left out: ${summary.withoutAdsConsent} without consent for ads, ${summary.unreachable} with no usable email or phone; ${summary.invalidPhones} invalid phones` : "";
      console.error(`${summary.rows.toLocaleString("en")} rows written${o.out ? ` to ${o.out}` : ""}${notes}`);
    });
  });

program
  .command("predict")
  .description("a customer's predictions from the latest fitted model: P(alive), expected purchases and next order, expected order value, CLV")
  .requiredOption("--customer <id>", "the customer's external id")
  .option("--horizon <days>", "days ahead", "365")
  .option("--discount <rate>", "monthly discount rate for CLV", "0.01")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { customer: string; horizon: string; discount: string; json?: boolean; dataDir?: string }) => {
    const q = parseInput(PredictQuery, { customer: o.customer, horizon: o.horizon, monthlyDiscountRate: o.discount });
    await withFidelio(o, async (f) => {
      const p: CustomerPrediction = await predictCustomer(f.store, f.workspace, q, f.clock.now());
      console.log(o.json ? JSON.stringify(p, null, 2) : [`customer ${p.externalId} (model version ${p.model.version})`, ...p.meaning.map((m) => `  ${m}`)].join("\n"));
    });
  });

function modelTable(r: ModelReport): string {
  const est = (v: number, se: number) => `${v.toFixed(4)} ± ${Number.isFinite(se) ? se.toFixed(4) : "?"}`;
  const v = r.bgNbd.validation;
  const lines = [
    `calibration ${r.calibration.from} … ${r.calibration.to}, holdout ${r.holdout.from} … ${r.holdout.to}, unit ${r.unit}`,
    `${r.customers.toLocaleString("en")} customers, ${r.repeatCustomers.toLocaleString("en")} bought again in calibration`,
    "",
    `BG/NBD      r ${est(r.bgNbd.params.r, r.bgNbd.standardErrors.r)}  α ${est(r.bgNbd.params.alpha, r.bgNbd.standardErrors.alpha)}  a ${est(r.bgNbd.params.a, r.bgNbd.standardErrors.a)}  b ${est(r.bgNbd.params.b, r.bgNbd.standardErrors.b)}  LL ${r.bgNbd.logLikelihood.toFixed(2)}`,
    r.paretoNbd
      ? `Pareto/NBD  r ${est(r.paretoNbd.params.r, r.paretoNbd.standardErrors.r)}  α ${est(r.paretoNbd.params.alpha, r.paretoNbd.standardErrors.alpha)}  s ${est(r.paretoNbd.params.s, r.paretoNbd.standardErrors.s)}  β ${est(r.paretoNbd.params.beta, r.paretoNbd.standardErrors.beta)}  LL ${r.paretoNbd.logLikelihood.toFixed(2)}`
      : "Pareto/NBD  not fitted (add --pareto)",
    r.gammaGamma
      ? `Gamma-Gamma p ${est(r.gammaGamma.params.p, r.gammaGamma.standardErrors.p)}  q ${est(r.gammaGamma.params.q, r.gammaGamma.standardErrors.q)}  γ ${est(r.gammaGamma.params.gamma, r.gammaGamma.standardErrors.gamma)}  LL ${r.gammaGamma.logLikelihood.toFixed(2)}`
      : "Gamma-Gamma not fitted",
    "",
    `holdout, repeat transactions: actual ${v.actual.toLocaleString("en")}, BG/NBD ${v.predicted.toFixed(0)}${r.paretoNbd ? `, Pareto/NBD ${r.paretoNbd.validation.predicted.toFixed(0)}` : ""}; mean absolute error per customer ${v.meanAbsoluteError.toFixed(3)} (BG/NBD)`,
    "by repeat transactions in calibration (mean per customer in the holdout):",
    "  x      customers   actual   BG/NBD",
    ...v.byCalibrationFrequency.map((g) => `  ${g.x.padEnd(5)}  ${String(g.customers).padStart(9)}   ${g.actual.toFixed(2).padStart(6)}   ${g.predicted.toFixed(2).padStart(6)}`),
  ];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}

program
  .command("report")
  .description("write a self-contained HTML retention report with charts (opens offline; Chart.js is inside)")
  .option("--out <file>", "where to write it", "fidelio-report.html")
  .option("--from <date>", "first day, YYYY-MM-DD (default: the first order)")
  .option("--to <date>", "last day, YYYY-MM-DD (default: today)")
  .option("--cac <amount>", "cost of winning a customer, in minor units (cents), for the budget advice")
  .option(...dataDirOption)
  .action(async (o: { out: string; from?: string; to?: string; cac?: string; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const period = parseInput(HeadlineQuery, { from: o.from, to: o.to });
      const { cac } = parseInput(AdviceQuery, { cac: o.cac });
      const html = await renderReport(f.store, f.workspace, f.clock, { from: period.from, to: period.to, cac, projections: new OrderProjections(f.store) });
      await writeFile(o.out, html).catch((err: unknown) => {
        throw new AppError("invalid_input", `--out: cannot write ${o.out} (${err instanceof Error ? err.message : String(err)})`, [{ field: "out", message: "cannot write" }]);
      });
      console.log(`report written to ${o.out} (${Math.round(Buffer.byteLength(html) / 1024)} KB)`);
    });
  });

program
  .command("status")
  .description("what the store holds")
  .option("--json", "as JSON")
  .option(...dataDirOption)
  .action(async (o: { json?: boolean; dataDir?: string }) => {
    await withFidelio(o, async (f) => {
      const n = await storeCounts(f.store, f.workspace);
      console.log(o.json ? JSON.stringify(n) : `${f.config.databaseUrl ? "PostgreSQL" : f.config.dataDir}: ${n.customers} customers, ${n.orders} orders, ${n.events} events, ${n.products} products`);
    });
  });

program
  .command("backup")
  .description("write the embedded database to a file (.tar.gz); for PostgreSQL use pg_dump")
  .argument("<file>")
  .option(...dataDirOption)
  .action(async (file: string, o: { dataDir?: string }) => {
    const config = readConfig(overrides(o));
    if (config.databaseUrl) throw new AppError("invalid_input", "backup: DATABASE_URL is set; back up a PostgreSQL server with pg_dump");
    const store = await openStore({ dataDir: config.dataDir });
    try {
      if (!(store instanceof PgliteStore)) throw new AppError("internal", "expected the embedded store");
      const data = await store.dump();
      await writeFile(file, data);
      console.log(`backup written to ${file} (${(data.length / 1024 / 1024).toFixed(1)} MB)`);
    } finally {
      await store.close();
    }
  });

program
  .command("restore")
  .description("restore a backup into an empty data folder")
  .argument("<file>")
  .option(...dataDirOption)
  .action(async (file: string, o: { dataDir?: string }) => {
    const config = readConfig(overrides(o));
    if (config.databaseUrl) throw new AppError("invalid_input", "restore: DATABASE_URL is set; restore a PostgreSQL server with pg_restore/psql");
    const existing = await readdir(join(config.dataDir, "pgdata")).catch(() => []);
    if (existing.length > 0) throw new AppError("conflict", `restore: ${config.dataDir} already holds a database; restore into an empty --data-dir`);
    const data = await readFile(file).catch(() => {
      throw new AppError("not_found", `restore: cannot read ${file}`);
    });
    const store = await openStore({ dataDir: config.dataDir, restoreFrom: new Uint8Array(data) });
    await store.close();
    console.log(`restored ${file} into ${config.dataDir}`);
  });

addJourneyCommands(program);
addLoyaltyCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err instanceof ConfigError ? new AppError("invalid_input", err.message) : err instanceof StoreError ? new AppError("internal", `database: ${err.message}`) : toAppError(err);
  console.error(`fidelio: ${e.message}`);
  process.exit(exitCodeOf[e.code]);
}
