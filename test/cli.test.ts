/**
 * The `fidelio` command as a user runs it: child processes, real files, real
 * store (a data folder, or a schema on PostgreSQL when DATABASE_URL is set).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnvironment, databaseUrl } from "./helpers.ts";

const bin = new URL("../bin/fidelio.mjs", import.meta.url).pathname;
const fixture = (name: string) => new URL(`./fixtures/import/${name}`, import.meta.url).pathname;

let env: Record<string, string>;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ env, cleanup } = await cliEnvironment(mkdtempSync(join(tmpdir(), "fidelio-cli-"))));
});
afterAll(async () => {
  await cleanup();
});

function fidelio(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err && "code" in err && typeof err.code === "number" ? err.code : err ? 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("fidelio import", () => {
  it("prints {imported, skipped, errors} with --json and is idempotent", async () => {
    const first = await fidelio(["import", fixture("orders.csv"), "--format", "orders-csv", "--json"]);
    expect(first.code).toBe(0);
    const summary: unknown = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ imported: 4, skipped: 0, errorCount: 4, errors: [{ line: 6, field: "placed_at" }, { line: 7 }, { line: 8 }, { line: 9 }] });
    const again = await fidelio(["import", fixture("orders.csv"), "--format", "orders-csv", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, skipped: 4 });
  });

  it("prints a readable summary and progress without --json", async () => {
    const own = await cliEnvironment(mkdtempSync(join(tmpdir(), "fidelio-products-")));
    const r = await fidelio(["import", fixture("products.csv"), "--format", "products-csv"], own.env).finally(own.cleanup);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/products\.csv: 6 lines in [\d.]+ s — 2 imported, 0 already there, 3 malformed lines skipped/);
    expect(r.stdout).toContain("line 4: title: is required");
    expect(r.stderr).toMatch(/^import 100%: /m);
  });

  it("fails with one clear line and a non-zero exit on bad usage", async () => {
    const badFormat = await fidelio(["import", fixture("orders.csv"), "--format", "excel"]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr.trim()).toBe('fidelio: --format: unknown format "excel" (one of orders-csv, customers-csv, products-csv, shopify-orders, online-retail, cdnow)');
    const missing = await fidelio(["import", "/nonexistent/file.csv", "--format", "orders-csv"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr.trim()).toBe("fidelio: /nonexistent/file.csv: no such file");
    const badKind = await fidelio(["keys", "create", "--kind", "root"]);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toContain("--kind: must be write or admin");
    const badEnv = await fidelio(["status"], { FIDELIO_CURRENCY: "EURO" });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr.trim()).toBe("fidelio: configuration: FIDELIO_CURRENCY: unknown ISO 4217 currency");
  });
});

describe("fidelio keys", () => {
  it("creates write and admin keys", async () => {
    const w = await fidelio(["keys", "create", "--kind", "write", "--json"]);
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ kind: "write", key: expect.stringMatching(/^fw_/) });
    const a = await fidelio(["keys", "create", "--kind", "admin"]);
    expect(a.stdout).toMatch(/^admin key: fa_/);
  });
});

describe("fidelio admins", () => {
  it("creates a dashboard admin, printing a generated password once, and refuses a taken email", async () => {
    const made = await fidelio(["admins", "create", "--email", "Ops@Shop.example", "--json"]);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ email: "ops@shop.example", password: expect.stringMatching(/^[\w-]{20}$/) });
    const again = await fidelio(["admins", "create", "--email", "ops@shop.example", "--password", "another long password"]);
    expect(again.code).toBe(6);
    expect(again.stderr.trim()).toBe("fidelio: email: an admin ops@shop.example already exists");
    const piped = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [bin, "admins", "create", "--email", "piped@shop.example", "--password-stdin", "--json"], { env }, (err, stdout) =>
        resolve({ code: err && "code" in err && typeof err.code === "number" ? err.code : err ? 1 : 0, stdout }),
      );
      child.stdin?.end("a password from standard input\n");
    });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toEqual({ email: "piped@shop.example" }); // nothing generated, nothing printed
    const short = await fidelio(["admins", "create", "--email", "new@shop.example", "--password", "short"]);
    expect(short.code).toBe(2);
    expect(short.stderr.trim()).toBe("fidelio: password: must be at least 12 characters");
  });
});

describe("fidelio metrics", () => {
  // The store holds the four orders of orders.csv imported above: 1001 and 1008
  // by c-1 (36.40 + 30.00 euros), 1002 by c-2 (12.50), 1003 in dollars.
  it("prints the headline figures as JSON and as a table", async () => {
    const json = await fidelio(["metrics", "--from", "2025-01-01", "--to", "2025-12-31", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ from: "2025-01-01", to: "2025-12-31", orders: 4, revenue: 7890, otherCurrencyOrders: 1, repeatCustomers: 1 });
    const table = await fidelio(["metrics", "--from", "2025-01-01", "--to", "2025-12-31", "--compare"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^revenue\s+€78\.90\s+€0\.00$/m);
    expect(table.stdout).toContain("2024-01-02 … 2024-12-31");
    expect(table.stdout).toContain("1 orders in other currencies");
  });

  it("writes the HTML report", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "fidelio-report-")), "report.html");
    const r = await fidelio(["report", "--out", out, "--cac", "2500"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^report written to .*report\.html \(\d+ KB\)$/m);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("Retention report");
    expect(html).toContain("€78.90"); // the revenue of orders.csv, as above
  });

  it("refuses to fit models the data cannot identify, and to predict without a model", async () => {
    // Two customers with one order each: nothing tells the model how customers drop out.
    const r = await fidelio(["models", "fit", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^fidelio: no customer bought on two different days before \d{4}-\d\d-\d\d \(the calibration period\)/m);
    const p = await fidelio(["predict", "--customer", "c-1"]);
    expect(p.code).toBe(5);
    expect(p.stderr.trim()).toBe("fidelio: no model has been fitted yet: run `fidelio models fit` first");
    const bad = await fidelio(["models", "fit", "--unit", "month"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unit:");
  });

  it("names a bad date and exits with 2", async () => {
    const bad = await fidelio(["metrics", "--from", "2025-02-30"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("fidelio: from: is not a calendar date");
  });
});

describe("fidelio segments", () => {
  // Same store: c-1 has two orders, c-2 one (orders.csv above).
  it("creates a segment from a file, lists it with the built-ins, shows its members and exports them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fidelio-segments-"));
    const file = join(dir, "repeat.json");
    writeFileSync(file, JSON.stringify({ name: "Two orders or more", rule: { field: "orderCount", op: "gte", value: 2 } }));
    const made = await fidelio(["segments", "create", "--file", file]);
    expect(made.code).toBe(0);
    const id = /created segment (\d+) "Two orders or more": 1 members/.exec(made.stdout)?.[1];
    expect(id).toBeDefined();
    // Its first evaluation finds its member; nobody is said to have entered it.
    expect(made.stdout).toContain("0 segment entries and exits; 1 members found by segments evaluated for the first time (not logged as entering)");
    const list = await fidelio(["segments", "list"]);
    expect(list.stdout).toMatch(/One-time buyers\s+\d+\s+built-in/);
    expect(list.stdout).toMatch(/Two orders or more\s+1\s/);
    const members = await fidelio(["segments", "members", String(id), "--json"]);
    expect(JSON.parse(members.stdout)).toMatchObject({ total: 1, items: [{ externalId: "c-1", orders: 2 }] });
    const out = join(dir, "repeat.csv");
    const exported = await fidelio(["segments", "export", String(id), "--columns", "externalId,orders,revenue", "--out", out]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain("1 rows written");
    expect(readFileSync(out, "utf8")).toBe("externalId,orders,revenue_EUR\r\nc-1,2,66.40\r\n");
  });

  it("names the offending node of a bad rule, and exits with 2", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "fidelio-segments-")), "bad.json");
    writeFileSync(file, JSON.stringify({ name: "Bad", rule: { all: [{ field: "orderCount", op: "contains", value: 1 }] } }));
    const r = await fidelio(["segments", "create", "--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^fidelio: rule\.all\.0\.op: "contains" is not an operator for number field orderCount/);
    const missing = await fidelio(["segments", "show", "424242"]);
    expect(missing.code).toBe(5);
    const notJson = join(mkdtempSync(join(tmpdir(), "fidelio-segments-")), "x.json");
    writeFileSync(notJson, "{nope");
    const bad = await fidelio(["segments", "preview", "--file", notJson]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not JSON");
  });
});

describe("fidelio journeys", () => {
  it("installs the win-back, backtests it on the demo's history with JSON or a table, and activates it", async () => {
    const own = await cliEnvironment(mkdtempSync(join(tmpdir(), "fidelio-journeys-")));
    try {
      const run = (args: string[]) => fidelio(args, own.env);
      expect((await run(["demo", "--customers", "300", "--end", "2026-06-01"])).code).toBe(0);
      const installed = await run(["journeys", "install", "win-back"]);
      expect(installed.code).toBe(0);
      const id = Number(/installed journey (\d+)/.exec(installed.stdout)?.[1]);
      const json = await run(["journeys", "backtest", String(id), "--from", "2025-06-01", "--to", "2026-03-31", "--json"]);
      expect(json.code).toBe(0);
      const report: unknown = JSON.parse(json.stdout);
      expect(report).toMatchObject({ journey: { id, name: "Win-back (five steps)", version: 1 }, from: "2025-06-01T00:00:00.000Z" });
      const entered = typeof report === "object" && report !== null && "entered" in report ? Number(report.entered) : NaN;
      expect(entered).toBeGreaterThan(0);
      const table = await run(["journeys", "backtest", String(id), "--from", "2025-06-01", "--to", "2026-03-31"]);
      expect(table.stdout).toContain(`entered ${entered.toLocaleString("en")} times`);
      expect(table.stdout).toMatch(/within 30 days\s+\d+ of\s+\d+ ordered/);
      expect(table.stderr).toMatch(/backtest/); // the progress bar
      expect((await run(["journeys", "activate", String(id)])).code).toBe(0);
      expect((await run(["journeys", "list"])).stdout).toMatch(new RegExp(`${id}\\s+Win-back \\(five steps\\)\\s+active`));
      const pass = await run(["journeys", "run"]);
      expect(pass.code).toBe(0);
      expect(pass.stdout).toContain("no SMTP server configured");
    } finally {
      await own.cleanup();
    }
  });

  it("names what is wrong and exits with the error's code", async () => {
    const badDay = await fidelio(["journeys", "backtest", "1", "--from", "2026-02-30", "--to", "2026-03-01"]);
    expect(badDay.code).not.toBe(0);
    expect(badDay.stderr).toContain("--from must be a real date");
    const missing = await fidelio(["journeys", "show", "424242"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr.trim()).toBe("fidelio: journey: no journey 424242");
    const file = join(mkdtempSync(join(tmpdir(), "fidelio-journeys-")), "bad.json");
    writeFileSync(file, JSON.stringify({ name: "Bad", definition: { trigger: { type: "event", event: "X" }, start: "a", steps: [{ id: "a", type: "wait", duration: { days: 1 }, next: "nowhere" }] } }));
    const bad = await fidelio(["journeys", "create", "--file", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('fidelio: definition.steps.0.next: "nowhere" is not a step of this journey');
    const unknown = await fidelio(["journeys", "install", "nope"]);
    expect(unknown.code).toBe(5);
  });
});

describe("fidelio loyalty", () => {
  // Its own data folder with a small demo shop, shared by the two tests below (each CLI run opens the store).
  let own: Awaited<ReturnType<typeof cliEnvironment>>;
  const run = (args: string[]) => fidelio(args, own.env);
  const customer = "demo-00001";
  beforeAll(async () => {
    own = await cliEnvironment(mkdtempSync(join(tmpdir(), "fidelio-loyalty-")));
    expect((await run(["demo", "--customers", "50", "--end", "2026-06-01"])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await own.cleanup();
  });

  it("enables the programme, posts entries once per key, refuses an overdraft with exit 3, and shows the balance", async () => {
    const on = await run(["loyalty", "settings", "--enable"]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ enabled: true, pointsPerUnit: 1 });
    const post = (key: string, kind: string, points: string) => run(["loyalty", "post", customer, "--kind", kind, "--points", points, "--reason", "test", "--key", key]);
    expect((await post("k1", "earn", "300")).stdout).toContain("posted: earn 300; balance 300");
    expect((await post("k1", "earn", "300")).stdout).toContain("already posted (same key)");
    const over = await post("k2", "redeem", "301");
    expect(over.code).toBe(3);
    expect(over.stderr).toContain("points: the balance is 300, not enough to take 301");
    const bad = await post("k3", "earn", "abc");
    expect(bad.code).not.toBe(0);
    const balance = await run(["loyalty", "balance", customer, "--json"]);
    expect(JSON.parse(balance.stdout)).toMatchObject({ balance: 300, earned: 300, spent: 0 });
    expect((await run(["loyalty", "credit"])).code).toBe(0);
  });

  it("runs the whole pass (tiers), adds and lists plans, audits the wheel, shows a referral code, issues a customer token, and refuses odds that don't sum to 100 %", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "fidelio-loyalty-")), "settings.json");
    writeFileSync(file, JSON.stringify({ enabled: true, tiers: { basis: "points", levels: [{ name: "Gold", threshold: 200 }] }, referrals: { enabled: true }, wheel: { enabled: true, prizes: [{ id: "none", label: "Try again", weight: 100, kind: "none" }] } }));
    expect((await run(["loyalty", "settings", "--file", file])).code).toBe(0);
    expect((await run(["loyalty", "post", customer, "--kind", "earn", "--points", "250", "--reason", "test", "--key", "tier-1"])).code).toBe(0);
    expect((await run(["loyalty", "run"])).stdout).toMatch(/tiers 1 up/);
    expect((await run(["loyalty", "balance", customer])).stdout).toContain("tier: Gold — You are in Gold, the top tier");
    const plan = join(mkdtempSync(join(tmpdir(), "fidelio-loyalty-")), "plan.json");
    writeFileSync(plan, JSON.stringify({ name: "Club", priceMinor: 999, period: { unit: "month" } }));
    expect((await run(["loyalty", "plans", "--file", plan])).stdout).toMatch(/added plan \d+ "Club": €9.99 per 1 month/);
    expect((await run(["loyalty", "plans"])).stdout).toContain("Club");
    expect((await run(["loyalty", "wheel"])).stdout).toContain("0 spins");
    expect((await run(["loyalty", "referrals", customer])).stdout).toMatch(/code [A-Z]+-[A-Z2-9]{6}/);
    const token = await run(["loyalty", "token", customer, "--ttl", "600"]);
    expect(token.stdout.trim().split(".")).toHaveLength(3);
    expect((await run(["loyalty", "token", "nobody"])).code).toBe(5);
    writeFileSync(file, JSON.stringify({ enabled: true, wheel: { enabled: true, prizes: [{ id: "a", label: "A", weight: 60, kind: "none" }] } }));
    const odds = await run(["loyalty", "settings", "--file", file]);
    expect(odds.code).not.toBe(0);
    expect(odds.stderr).toContain("wheel.prizes: the odds sum to 60 %, not 100 %");
  }, 120_000);
});

describe("fidelio start", () => {
  it("loads the demo into an empty store, serves, and prints the URL, keys and dashboard sign-in", async () => {
    const own = await cliEnvironment(mkdtempSync(join(tmpdir(), "fidelio-start-")));
    const child = spawn(process.execPath, [bin, "start", "--port", "0"], { env: own.env });
    try {
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed; output so far:\n${out}`)), 90_000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /Fidelio is running at (http:\/\/\S+)/.exec(out);
          if (m?.[1] && /write key: (\S+)/.test(out) && /password: (\S+)/.test(out)) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(out).toContain("Demo loaded: 3000 customers");
      // The demo is fitted and scored before the URL is printed, so the Customers and Models pages have data.
      expect(out).toMatch(/Predictions: 3000 customers scored with model version 1\./);
      // …and the loyalty programme has a year behind it, for the Loyalty page and the storefront API.
      expect(out).toMatch(/Loyalty: [1-9][\d,]* members, [1-9][\d,]* points outstanding, [1-9]\d* rewards redeemed, [1-9]\d* paid members\./);
      const admin = /admin key: (\S+)/.exec(out)?.[1] ?? "";
      const health = await fetch(`${url}health`);
      expect(health.status).toBe(200);
      const c = await fetch(`${url}api/customers/demo-00001`, { headers: { authorization: `Bearer ${admin}` } });
      expect(c.status).toBe(200);
      const scored = await fetch(`${url}api/customers?stage=loyal&limit=1`, { headers: { authorization: `Bearer ${admin}` } });
      expect(await scored.json()).toMatchObject({ total: expect.any(Number), items: [{ score: { stage: "loyal", modelVersion: 1 } }] });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      // The printed sign-in opens a dashboard session.
      const email = /email: +(\S+)/.exec(out)?.[1] ?? "";
      const password = /password: (\S+)/.exec(out)?.[1] ?? "";
      expect(email).toBe("admin@fidelio.local");
      const session = await fetch(`${url}api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
      expect(session.status).toBe(200);
      const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const metrics = await fetch(`${url}api/metrics`, { headers: { cookie } });
      expect(await metrics.json()).toMatchObject({ customers: expect.any(Number), orders: expect.any(Number) });
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await own.cleanup();
    }
  });
});

describe.skipIf(databaseUrl !== undefined)("fidelio backup and restore (embedded store)", () => {
  it("restores a backup into a new data folder with the same data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fidelio-bk-"));
    const src = { FIDELIO_DATA_DIR: join(dir, "a") };
    expect((await fidelio(["demo", "--customers", "50", "--end", "2026-01-01"], src)).code).toBe(0);
    const before = (await fidelio(["status", "--json"], src)).stdout;
    const backup = await fidelio(["backup", join(dir, "b.tar.gz")], src);
    expect(backup.code).toBe(0);
    const dst = { FIDELIO_DATA_DIR: join(dir, "b") };
    expect((await fidelio(["restore", join(dir, "b.tar.gz")], dst)).code).toBe(0);
    expect((await fidelio(["status", "--json"], dst)).stdout).toBe(before);
    expect(JSON.parse(before)).toMatchObject({ customers: 50 });
    const again = await fidelio(["restore", join(dir, "b.tar.gz")], dst);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain("already holds a database");
  });
});

describe("a crash during an import", () => {
  it("loses nothing acknowledged, and a re-run completes the import", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fidelio-crash-"));
    const file = join(dir, "retail.csv");
    const invoices = 12_000;
    const rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"];
    for (let i = 0; i < invoices; i++) {
      for (let l = 0; l < 5; l++) rows.push(`${600000 + i},S${l},Item ${l},${1 + l},1/${1 + (i % 28)}/2011 10:${String(i % 60).padStart(2, "0")},1.25,${10000 + (i % 3000)},France`);
    }
    writeFileSync(file, rows.join("\n") + "\n");
    const own = await cliEnvironment(join(dir, "data"));
    try {
      const child = spawn(process.execPath, [bin, "import", file, "--format", "online-retail", "--batch-size", "500"], { env: own.env });
      let err = "";
      // Progress lines are printed after each committed batch: what they report is acknowledged.
      const acknowledged = await new Promise<number>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          const counts = [...err.matchAll(/([\d,]+) imported/g)].map((m) => Number((m[1] ?? "0").replace(/,/g, "")));
          const last = counts[counts.length - 1] ?? 0;
          if (last >= 1500) {
            child.kill("SIGKILL");
            resolve(last);
          }
        });
        child.once("exit", (code) => reject(new Error(`import ended (${code}) before it could be killed: ${err}`)));
      });
      await new Promise((r) => child.once("exit", r));
      const status = JSON.parse((await fidelio(["status", "--json"], own.env)).stdout);
      expect(status.orders).toBeGreaterThanOrEqual(acknowledged);
      expect(status.orders).toBeLessThan(invoices);
      const rerun = await fidelio(["import", file, "--format", "online-retail", "--json"], own.env);
      expect(rerun.code).toBe(0);
      const summary = JSON.parse(rerun.stdout);
      expect(summary.imported + summary.skipped).toBe(invoices);
      expect(summary.skipped).toBe(status.orders);
      expect(JSON.parse((await fidelio(["status", "--json"], own.env)).stdout).orders).toBe(invoices);
    } finally {
      await own.cleanup();
    }
  });
});
