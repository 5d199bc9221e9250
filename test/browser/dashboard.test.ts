/**
 * The dashboard in a real browser (Debian's chromium, driven by
 * playwright-core) against the real server on the demo shop: sign in, open
 * every page, compare what it shows with the API, download a CSV, and keep
 * screenshots under test-results/. Skipped, with a message, when
 * /usr/bin/chromium is missing (`.ci/run` installs it).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { bearer, get, startTestServer, type TestServer } from "../helpers.ts";
import { createAdmin } from "../../src/admins/index.ts";
import { loadDemo } from "../../src/demo/index.ts";
import { renderReport } from "../../src/report/index.ts";
import { ensureBuiltInSegments, evaluateSegments } from "../../src/segments/index.ts";
import { post } from "../helpers.ts";
import { z } from "zod";
import { writeFileSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`Browser tests skipped: ${CHROMIUM} is missing. Install it with \`sudo apt-get install -y chromium\` (Debian) to run them.`);
}

const root = fileURLToPath(new URL("../../", import.meta.url));
const shots = `${root}test-results/`;
const email = "admin@shop.example";
const password = "browser-test-password";

describe.skipIf(!hasChromium)("the dashboard in a browser", () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const api = async (path: string) => (await get(`${s.url}${path}`, bearer(s.adminKey))).body;

  beforeAll(async () => {
    // `npm test` builds the dashboard first; build it here too when run alone.
    execFileSync(process.execPath, [`${root}scripts/build-web.mjs`], { stdio: "inherit" });
    mkdirSync(shots, { recursive: true });
    s = await startTestServer();
    await loadDemo(s.store, s.workspace, { end: s.clock.now() });
    await createAdmin(s.store, s.workspace, { email, password }, s.clock.now());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it("refuses a wrong password in plain words, then signs in", async () => {
    await page.goto(s.url);
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', "wrong password");
    await page.click('button[type="submit"]');
    await expect(page.getByRole("alert").textContent()).resolves.toContain("Wrong email or password.");
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-testid="metric-customers"]');
    await page.screenshot({ path: `${shots}dashboard-overview.png`, fullPage: true });
  });

  /** The period the Overview shows (it opens on the last 12 months), as `from=…&to=…`. */
  const shownPeriod = async () => {
    const m = /^(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})/.exec((await page.textContent('[data-testid="period"]')) ?? "");
    return `from=${m?.[1] ?? ""}&to=${m?.[2] ?? ""}`;
  };

  it("shows on the Overview the headline figures the API gives, with the period before", async () => {
    const period = await shownPeriod();
    expect(period).toMatch(/^from=2025-\d\d-\d\d&to=2026-06-01$/); // the server's today
    const m = await api(`/api/metrics?${period}&compare=previous`);
    for (const key of ["customers", "orders", "revenue", "repeatCustomerRate", "purchaseFrequency", "averageOrderValue", "customerValue", "returningRevenueShare"]) {
      const shown = await page.getAttribute(`[data-testid="metric-${key}"]`, "data-value");
      expect(Number(shown), key).toBeCloseTo(Number(m[key]), 9);
    }
    expect(await page.textContent('[data-testid="metric-customers"] .value')).toBe(Number(m.customers).toLocaleString("en"));
    expect(await page.textContent('[data-testid="period"]')).toContain(`${String(m.from)} to ${String(m.to)}`);
    // Compared with the 12 months before: the demo shop grew, so revenue is up.
    expect(await page.textContent('[data-testid="metric-revenue"] .delta')).toMatch(/^▲ \d/);
  });

  it("downloads the month-by-month table as CSV", async () => {
    const series = await api(`/api/metrics/series?unit=month&${await shownPeriod()}`);
    const points = Array.isArray(series.points) ? series.points : [];
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    expect(download.suggestedFilename()).toBe("fidelio-months.csv");
    const path = await download.path();
    const lines = readFileSync(path, "utf8").trim().split("\r\n");
    expect(lines[0]).toBe("Month,Customers,Orders,Revenue (minor units),Repeat customer rate,AOV (minor units),Retention rate,Churn rate");
    expect(lines).toHaveLength(points.length + 1);
    const last: unknown = points.at(-1);
    const lastRevenue = typeof last === "object" && last !== null && "revenue" in last ? String(last.revenue) : "";
    expect(lines.at(-1)?.split(",")[3]).toBe(lastRevenue);
  });

  it("opens every page, each matching the API", async () => {
    const period = await shownPeriod(); // the picker's period applies to Cohorts, Refunds and Catalogue too
    const open = async (path: string, ready: string) => {
      await page.click(`nav a[href="${path}"]`);
      await page.waitForSelector(ready);
      await page.screenshot({ path: `${shots}dashboard${path.replace("/", "-")}.png`, fullPage: true });
    };

    await open("/cohorts", '[data-testid="cohort-table"]');
    const cohorts = await api(`/api/metrics/cohorts?${period}`);
    const rows = Array.isArray(cohorts.cohorts) ? cohorts.cohorts : [];
    expect(await page.locator("[data-cohort]").count()).toBe(rows.length);
    const first: unknown = rows[0];
    if (typeof first === "object" && first !== null && "cohort" in first && "size" in first) {
      expect(await page.getAttribute(`[data-cohort="${String(first.cohort)}"]`, "data-size")).toBe(String(first.size));
    }

    await open("/ladder", '[data-testid="ladder-lead"]');
    const ladder = await api("/api/metrics/ladder?max=10");
    const step1: unknown = Array.isArray(ladder.steps) ? ladder.steps[0] : undefined;
    const share1 = typeof step1 === "object" && step1 !== null && "share" in step1 ? Number(step1.share) : NaN;
    expect(await page.textContent('[data-testid="ladder-lead"]')).toContain(`${(share1 * 100).toFixed(0)} % of one-time buyers`);

    await open("/channels", "table");
    const channels = await api("/api/metrics/channels");
    const n = Array.isArray(channels.channels) ? channels.channels.length : -1;
    expect(await page.locator("table tbody tr").count()).toBe(n);

    await open("/refunds", '[data-testid="metric-orderRefundRate"]');
    const refunds = await api(`/api/metrics/refunds?${period}`);
    expect(Number(await page.getAttribute('[data-testid="metric-orderRefundRate"]', "data-value"))).toBeCloseTo(Number(refunds.orderRefundRate), 9);

    await open("/catalogue", '[data-testid="metric-replenishableShare"]');
    const catalogue = await api(`/api/metrics/catalogue?limit=100&${period}`);
    expect(Number(await page.getAttribute('[data-testid="metric-replenishableShare"]', "data-value"))).toBeCloseTo(Number(catalogue.replenishableShare), 9);

    await open("/advice", '[data-testid="retention-share"]');
    const advice = await api("/api/metrics/advice");
    expect(await page.textContent('[data-testid="retention-share"]')).toBe(`${Math.round(Number(advice.retentionShare) * 100)} %`);
    await page.fill("input[inputmode=decimal]", "500");
    await page.click('button:has-text("Update the advice")');
    const withCac = await api("/api/metrics/advice?cac=50000");
    await page.waitForFunction(`document.querySelector('[data-testid="retention-share"]')?.textContent === ${JSON.stringify(`${Math.round(Number(withCac.retentionShare) * 100)} %`)}`);
    // A refresh stays on the page (the server answers index.html) and keeps the CAC entered.
    await page.reload();
    await page.waitForSelector('[data-testid="retention-share"]');
    expect(await page.inputValue("input[inputmode=decimal]")).toBe("500");
  });

  it("fits the models from the Models page, then finds customers by stage and opens one", async () => {
    await page.click('nav a[href="/models"]');
    await page.waitForSelector('[data-testid="no-model"]');
    await page.click('[data-testid="fit-now"]');
    await page.waitForSelector('[data-testid="model-lead"]', { timeout: 60_000 });
    const models = await api("/api/models");
    const fit = models.fit;
    const version = typeof fit === "object" && fit !== null && "version" in fit ? Number(fit.version) : NaN;
    expect(await page.textContent('[data-testid="model-lead"]')).toContain(`Model v${version}`);
    expect(Number(await page.evaluate("[...document.querySelectorAll('canvas')].filter((c) => c.width > 0).length"))).toBe(5);
    await page.screenshot({ path: `${shots}dashboard-models.png`, fullPage: true });

    await page.click('nav a[href="/customers"]');
    await page.waitForSelector('[data-testid="chip-lapsed"]');
    await page.click('[data-testid="chip-lapsed"]');
    const lapsed = await api("/api/customers?stage=lapsed&limit=1");
    await page.waitForFunction(`document.querySelector('[data-testid="customers-total"]')?.getAttribute("data-value") === ${JSON.stringify(String(lapsed.total))}`);
    const stages = await page.locator('[data-testid="customers-table"] tbody .badge[class*="stage-"]').allTextContents();
    expect(stages.length).toBeGreaterThan(0);
    expect(new Set(stages)).toEqual(new Set(["Lapsed"]));
    await page.screenshot({ path: `${shots}dashboard-customers.png`, fullPage: true });

    await page.locator('[data-testid="customers-table"] tbody tr td a').first().click();
    await page.waitForSelector('[data-testid="customer-meaning"]');
    const id = decodeURIComponent(new URL(page.url()).pathname.slice("/customers/".length));
    const p = await api(`/api/customers/${encodeURIComponent(id)}/predictions`);
    const scores = p.scores;
    const alive = typeof scores === "object" && scores !== null && "probabilityAlive" in scores ? Number(scores.probabilityAlive) : NaN;
    expect(Number(await page.getAttribute('[data-testid="customer-alive"]', "data-value"))).toBeCloseTo(alive, 9);
    expect(await page.textContent('[data-testid="customer-meaning"]')).toContain("Lapsed:");
    expect(await page.locator('[data-testid="timeline"] li.order').count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${shots}dashboard-customer.png`, fullPage: true });
    // The customer page survives a reload (the server answers index.html for it).
    await page.reload();
    await page.waitForSelector('[data-testid="customer-meaning"]');
  });

  it("builds a segment without typing JSON, with a live count that matches the API, and shows its members", async () => {
    await ensureBuiltInSegments(s.store, s.workspace, s.clock.now());
    await evaluateSegments(s.store, s.workspace, s.clock.now());
    await page.click('nav a[href="/segments"]');
    await page.waitForSelector('[data-testid="segments-table"]');
    const list = z.array(z.object({ id: z.number(), size: z.number() })).parse(Object.values(await api("/api/segments")));
    expect(list).toHaveLength(9);
    for (const seg of list) expect(Number(await page.getAttribute(`[data-testid="segment-${seg.id}"] td.num`, "data-value"))).toBe(seg.size);
    await page.screenshot({ path: `${shots}dashboard-segments.png`, fullPage: true });

    await page.click('[data-testid="new-segment"]');
    await page.waitForSelector('[data-testid="rule-builder"]');
    await page.fill('input[aria-label="Segment name"]', "Loyal with three orders");
    await page.fill('[data-testid="rule-row"] input[aria-label="Value"]', "3");
    await page.click("text=+ condition");
    const second = page.locator('[data-testid="rule-row"]').nth(1);
    await second.locator('select[aria-label="Field"]').selectOption("stage");
    await second.locator('select[aria-label="Value"]').selectOption("loyal");
    const rule = { all: [{ field: "orderCount", op: "gte", value: 3 }, { field: "stage", op: "eq", value: "loyal" }] };
    const expected = z.number().parse((await post(`${s.url}/api/segments/preview`, { rule }, bearer(s.adminKey))).body.count);
    expect(expected).toBeGreaterThan(0);
    await page.waitForSelector(`[data-testid="live-count"][data-value="${expected}"]`);
    await page.screenshot({ path: `${shots}dashboard-segment-builder.png`, fullPage: true });

    await page.click('[data-testid="save-segment"]');
    await page.waitForSelector('[data-testid="members-table"] tbody tr');
    expect(Number(await page.getAttribute('[data-testid="segment-size"]', "data-value"))).toBe(expected);
    expect(await page.locator('[data-testid="members-table"] tbody tr').count()).toBe(Math.min(50, expected));
    const id = new URL(page.url()).pathname.slice("/segments/".length);
    expect(z.object({ rule: z.unknown() }).parse(await api(`/api/segments/${id}`)).rule).toEqual(rule);
    const hrefs = await page.locator('[data-testid="exports"] a').evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    expect(hrefs).toContain(`/api/segments/${id}/export?format=audience&platform=google`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="exports"] a:has-text("Export CSV")')]);
    const file = await download.path();
    expect(readFileSync(file, "utf8").trim().split("\r\n")).toHaveLength(expected + 1);
    await page.screenshot({ path: `${shots}dashboard-segment.png`, fullPage: true });
  });

  it("installs the win-back, edits a step visually with a live email preview, backtests it, and activates it", async () => {
    await page.click('nav a[href="/journeys"]');
    await page.waitForSelector('[data-testid="ready-win-back"]');
    await page.screenshot({ path: `${shots}dashboard-journeys.png`, fullPage: true });
    await page.click('[data-testid="ready-win-back"] button');
    await page.waitForSelector('[data-testid="flow"]');
    expect(await page.textContent('[data-testid="journey-status"]')).toBe("draft");
    // Five sends, four waits, the day's grace and the unsubscribe, in order.
    expect(await page.locator('[data-testid="flow"] .step-card').count()).toBe(1 + 11);
    // Open the second email and change its subject: the preview renders it for a real customer.
    await page.click('[data-testid="step-incentive"] .step-body');
    await page.waitForSelector('[data-testid="step-editor"]');
    await page.fill('input[aria-label="Subject"]', "20% off for {{ customer.first_name }}");
    const journeyId = Number(new URL(page.url()).pathname.slice("/journeys/".length));
    const top = z.object({ items: z.array(z.object({ externalId: z.string() })) }).parse(await api("/api/customers?limit=1&sort=revenue"));
    const profile = z.object({ firstName: z.string().nullable() }).passthrough().parse(await api(`/api/customers/${encodeURIComponent(top.items[0]?.externalId ?? "")}`));
    await page.waitForFunction(`document.querySelector('[data-testid="preview-subject"]')?.textContent === ${JSON.stringify(`20% off for ${profile.firstName ?? ""}`)}`);
    // The rendered email itself, in its sandboxed frame.
    await page.frameLocator('iframe[title="Email preview"]').locator("text=COMEBACK15").waitFor();
    await page.screenshot({ path: `${shots}dashboard-journey-editor.png`, fullPage: true });
    // A broken template says so in plain words, and names the part.
    await page.fill('input[aria-label="Subject"]', "{% if %}");
    await page.waitForSelector('[data-testid="preview-error"]');
    expect(await page.textContent('[data-testid="preview-error"]')).toContain("subject");
    await page.fill('input[aria-label="Subject"]', "20% off for {{ customer.first_name }}");
    // Add a wait after the first email with the visual editor, then save: a draft keeps version 1.
    await page.locator('[data-testid="step-hello"] select.add-step').selectOption("waitUntil");
    await page.waitForSelector('input[aria-label="Time of day"]');
    // Wait for the server's answer to the save itself (the button is also disabled while it is pending).
    const [saveResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "PATCH" && r.url().endsWith(`/api/journeys/${new URL(page.url()).pathname.slice("/journeys/".length)}`)),
      page.click('[data-testid="save-journey"]'),
    ]);
    expect(saveResponse.status()).toBe(200);
    const saved = z.object({ version: z.number(), definition: z.object({ steps: z.array(z.object({ id: z.string(), type: z.string(), next: z.string().optional(), email: z.object({ subject: z.string() }).optional() })) }) }).parse(await api(`/api/journeys/${journeyId}`));
    const hello = saved.definition.steps.find((x) => x.id === "hello");
    const added = saved.definition.steps.find((x) => x.id === hello?.next);
    expect(added?.type).toBe("waitUntil");
    expect(added?.next).toBe("wait-1");
    expect(saved.definition.steps.find((x) => x.id === "incentive")?.email?.subject).toBe("20% off for {{ customer.first_name }}");
    // Backtest over last year: the page shows what the API computes.
    await page.fill('input[aria-label="Backtest from"]', "2025-06-01");
    await page.fill('input[aria-label="Backtest to"]', "2026-03-31");
    await page.click('[data-testid="run-backtest"]');
    await page.waitForSelector('[data-testid="backtest-result"]');
    const report = z.object({ entered: z.number() }).passthrough().parse((await post(`${s.url}/api/journeys/${journeyId}/backtest`, { from: "2025-06-01", to: "2026-03-31" }, bearer(s.adminKey))).body);
    expect(report.entered).toBeGreaterThan(0);
    expect(await page.textContent('[data-testid="bt-entered"]')).toBe(report.entered.toLocaleString("en"));
    await page.screenshot({ path: `${shots}dashboard-journey-backtest.png`, fullPage: true });
    await page.click('[data-testid="activate"]');
    await page.waitForFunction(`document.querySelector('[data-testid="journey-status"]')?.textContent === "active"`);
    expect(z.object({ status: z.string() }).passthrough().parse(await api(`/api/journeys/${journeyId}`)).status).toBe("active");
  });

  it("shows the loyalty programme's figures, saves a settings change and names a bad value", async () => {
    // Two members: the demo shop's best customers get points (one spends some).
    const top = z.object({ items: z.array(z.object({ externalId: z.string() })) }).parse(await api("/api/customers?limit=2&sort=revenue"));
    const [first, second] = top.items.map((c) => encodeURIComponent(c.externalId));
    for (const [who, entry] of [
      [first, { kind: "earn", points: 1200, reason: "welcome", key: "browser-1" }],
      [second, { kind: "earn", points: 300, reason: "welcome", key: "browser-2" }],
      [first, { kind: "redeem", points: 200, reason: "reward", key: "browser-3" }],
    ] as const) {
      expect((await post(`${s.url}/api/loyalty/customers/${who ?? ""}/entries`, entry, bearer(s.adminKey))).status).toBe(201);
    }
    await page.click('nav a[href="/loyalty"]');
    await page.waitForSelector('[data-testid="loyalty-members"]');
    const o = await api("/api/loyalty/overview");
    for (const [id, key] of [["members", "members"], ["outstanding", "pointsOutstanding"], ["liability", "liabilityMinor"], ["redemptionRate", "redemptionRate"], ["rewardsRedeemed", "rewardsRedeemed"]] as const) {
      expect(Number(await page.getAttribute(`[data-testid="loyalty-${id}"]`, "data-value")), id).toBeCloseTo(Number(o[key]), 9);
    }
    expect(o.members).toBe(2);
    expect(await page.textContent('[data-testid="loyalty-outstanding"] .value')).toBe("1,300");
    expect(await page.textContent('[data-testid="loyalty-liability"] .value')).toBe("€13.00"); // 1,300 points × 1 cent
    // The monthly chart is drawn, and the comparison says what it is not.
    await page.waitForFunction(`[...document.querySelectorAll('[aria-label="Points earned, redeemed and expired per month"] canvas')].some((c) => c.width > 0)`);
    expect(await page.textContent('[data-testid="comparison-note"]')).toContain("not the programme's effect");
    expect(await page.locator('[data-testid="members-table"] tbody tr').count()).toBe(2);
    await page.screenshot({ path: `${shots}dashboard-loyalty.png`, fullPage: true });

    // A point worth 2 cents: saved, and the liability follows.
    await page.fill('input[aria-label="Point value"]', "2");
    const [saved] = await Promise.all([page.waitForResponse((r) => r.request().method() === "PUT" && r.url().endsWith("/api/loyalty/settings")), page.click('[data-testid="save-loyalty-settings"]')]);
    expect(saved.status()).toBe(200);
    await page.waitForSelector('[data-testid="settings-saved"]');
    expect(z.object({ pointValueMinor: z.number() }).passthrough().parse(await api("/api/loyalty/settings")).pointValueMinor).toBe(2);
    await page.waitForFunction(`document.querySelector('[data-testid="loyalty-liability"]')?.getAttribute("data-value") === "2600"`);

    // A bad value is refused, naming the field; so is a bad one in the JSON.
    await page.fill('input[aria-label="Points per unit"]', "-1");
    await page.click('[data-testid="save-loyalty-settings"]');
    await page.waitForSelector('[data-testid="settings-error"]');
    expect(await page.textContent('[data-testid="settings-error"]')).toContain("pointsPerUnit");
    await page.fill('input[aria-label="Points per unit"]', "1");
    const rest = z.record(z.string(), z.unknown()).parse(JSON.parse(await page.inputValue('textarea[aria-label="Other settings (JSON)"]')));
    await page.fill('textarea[aria-label="Other settings (JSON)"]', JSON.stringify({ ...rest, wheel: { enabled: true, prizes: [] } }));
    await page.click('[data-testid="save-loyalty-settings"]');
    await page.waitForFunction(`document.querySelector('[data-testid="settings-error"]')?.textContent?.includes("wheel.prizes")`);
    await page.screenshot({ path: `${shots}dashboard-loyalty-error.png`, fullPage: true });
    expect(z.object({ pointsPerUnit: z.number(), wheel: z.object({ enabled: z.boolean() }) }).passthrough().parse(await api("/api/loyalty/settings"))).toMatchObject({ pointsPerUnit: 1, wheel: { enabled: false } });
  });

  it("shows the wheel against its odds, adds a plan, hides the storefront secret, and a member's tier, membership and referral code", async () => {
    const admin = bearer(s.adminKey);
    const top = z.object({ items: z.array(z.object({ externalId: z.string() })) }).parse(await api("/api/customers?limit=2&sort=revenue"));
    const [first = "", second = ""] = top.items.map((c) => c.externalId);
    // Through the admin API: the programme on, two tiers (Gold out of reach), referrals, a wheel, a plan, a membership and two spins.
    const settings = z.record(z.string(), z.unknown()).parse(await api("/api/loyalty/settings"));
    const tiers = { basis: "spend", windowDays: 365, levels: [{ name: "Silver", threshold: 100 }, { name: "Gold", threshold: 100_000_000 }] };
    const prizes = [
      { id: "ten-off", label: "10 % off", weight: 30, kind: "percent", value: 10, stock: 1 },
      { id: "points", label: "50 points", weight: 30, kind: "points", value: 50 },
      { id: "none", label: "Next time", weight: 40, kind: "none" },
    ];
    const put = await fetch(`${s.url}/api/loyalty/settings`, { method: "PUT", headers: { "content-type": "application/json", ...admin }, body: JSON.stringify({ ...settings, enabled: true, tiers, referrals: { enabled: true }, wheel: { enabled: true, periodDays: 7, prizes } }) });
    expect(put.status).toBe(200);
    const plan = await post(`${s.url}/api/loyalty/plans`, { name: "Club", priceMinor: 4900, period: { unit: "year", count: 1 }, perks: { freeShipping: true, pointsMultiplier: 2 } }, admin);
    expect(plan.status).toBe(201);
    expect((await post(`${s.url}/api/loyalty/customers/${encodeURIComponent(first)}/membership`, { planId: plan.body.id, key: "browser-membership-1" }, admin)).status).toBe(201);
    const tokens: string[] = [];
    for (const [i, who] of [first, second].entries()) {
      const token = z.object({ token: z.string() }).parse((await post(`${s.url}/api/loyalty/storefront/tokens`, { customer: who }, admin)).body).token;
      expect((await post(`${s.url}/api/storefront/me/spins`, { key: `browser-spin-${i}` }, bearer(token))).status).toBe(201);
      tokens.push(token);
    }

    await page.reload();
    await page.waitForSelector('[data-testid="wheel-prizes"]');
    // The odds and the share drawn, per prize, as a grouped bar chart; the table matches the audit.
    await page.waitForFunction(`[...document.querySelectorAll('[aria-label="Configured odds and share drawn per prize"] canvas')].some((c) => c.width > 0)`);
    const audit = z.object({ spins: z.number(), outOfStock: z.number(), prizes: z.array(z.object({ id: z.string(), drawn: z.number(), won: z.number() })) }).parse(await api("/api/loyalty/wheel"));
    expect(audit.spins).toBe(2);
    expect(Number(await page.getAttribute('[data-testid="wheel-spins"]', "data-value"))).toBe(2);
    expect(Number(await page.getAttribute('[data-testid="wheel-out-of-stock"]', "data-value"))).toBe(audit.outOfStock);
    for (const p of audit.prizes) {
      expect(Number(await page.getAttribute(`[data-prize="${p.id}"]`, "data-drawn")), p.id).toBe(p.drawn);
      expect(Number(await page.getAttribute(`[data-prize="${p.id}"]`, "data-won")), p.id).toBe(p.won);
    }
    expect(await page.locator('[data-testid="wheel-spins-table"] tbody tr').count()).toBe(2);

    // The plan made through the API is listed with its price in its currency; one added with the form follows.
    expect(await page.textContent('[data-testid="plans-table"]')).toContain("€49.00");
    await page.fill('input[aria-label="Plan name"]', "Monthly club");
    await page.fill('input[aria-label="Plan price"]', "4.99");
    await page.selectOption('select[aria-label="Plan period unit"]', "month");
    await page.check('input[aria-label="Plan free shipping"]');
    await page.fill('input[aria-label="Plan points multiplier"]', "1.5");
    const [added] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/api/loyalty/plans")), page.click('[data-testid="add-plan"]')]);
    expect(added.status()).toBe(201);
    await page.waitForSelector('[data-testid="plans-table"] tr:has-text("Monthly club")');
    expect(await page.textContent('[data-testid="plans-table"] tr:has-text("Monthly club")')).toContain("€4.99");
    const plans = z.array(z.object({ name: z.string(), priceMinor: z.number(), period: z.object({ unit: z.string() }), perks: z.object({ freeShipping: z.boolean(), pointsMultiplier: z.number() }) })).parse(Object.values(await api("/api/loyalty/plans")));
    expect(plans.find((p) => p.name === "Monthly club")).toMatchObject({ priceMinor: 499, period: { unit: "month" }, perks: { freeShipping: true, pointsMultiplier: 1.5 } });
    // A bad plan is refused, naming the field.
    await page.fill('input[aria-label="Plan name"]', "Too generous");
    await page.fill('input[aria-label="Plan price"]', "1");
    await page.fill('input[aria-label="Plan points multiplier"]', "20");
    await page.click('[data-testid="add-plan"]');
    await page.waitForSelector('[data-testid="plan-error"]');
    expect(await page.textContent('[data-testid="plan-error"]')).toContain("perks.pointsMultiplier");
    expect(await page.getAttribute('input[aria-label="Plan points multiplier"]', "aria-invalid")).toBe("true");
    expect(Object.values(await api("/api/loyalty/plans"))).toHaveLength(2);
    // A plan can stop being offered (members keep it).
    const clubId = z.number().parse(plan.body.id);
    await Promise.all([page.waitForResponse((r) => r.request().method() === "PATCH" && r.url().endsWith(`/api/loyalty/plans/${clubId}`)), page.click(`[data-testid="plan-offer-${clubId}"]`)]);
    await page.waitForSelector(`[data-testid="plan-offer-${clubId}"]:has-text("Offer again")`);
    expect(z.array(z.object({ id: z.number(), active: z.boolean() })).parse(Object.values(await api("/api/loyalty/plans"))).find((p) => p.id === clubId)?.active).toBe(false);

    // The storefront secret stays hidden until asked for; rotating it asks first, then retires the old tokens.
    const secret = z.object({ secret: z.string() }).parse(await api("/api/loyalty/storefront")).secret;
    expect(await page.evaluate(`document.body.innerText.includes(${JSON.stringify(secret)})`)).toBe(false);
    await page.click('[data-testid="show-secret"]');
    expect(await page.textContent('[data-testid="storefront-secret"]')).toBe(secret);
    expect(await page.textContent('[data-testid="token-sample"]')).toContain('alg: "HS256"');
    await page.screenshot({ path: `${shots}dashboard-loyalty-programme.png`, fullPage: true });
    page.once("dialog", (d) => void d.dismiss());
    await page.click('[data-testid="rotate-secret"]');
    expect(z.object({ secret: z.string() }).parse(await api("/api/loyalty/storefront")).secret).toBe(secret);
    page.once("dialog", (d) => void d.accept());
    await page.click('[data-testid="rotate-secret"]');
    await page.waitForSelector('[data-testid="rotated"]');
    const rotated = z.object({ secret: z.string() }).parse(await api("/api/loyalty/storefront")).secret;
    expect(rotated).not.toBe(secret);
    await page.waitForFunction(`document.querySelector('[data-testid="storefront-secret"]')?.textContent === ${JSON.stringify(rotated)}`);
    expect((await get(`${s.url}/api/storefront/me`, bearer(tokens[0] ?? ""))).status).toBe(401);

    // The worker's pass, now: the tiers are assigned, and the page says so.
    await page.click('[data-testid="run-loyalty"]');
    await page.waitForSelector('[data-testid="run-log"]');
    expect(await page.textContent('[data-testid="run-log"]')).toContain("tiers");

    // The member's page: points, the way to the next tier, the membership and the referral code.
    await page.click(`[data-testid="members-table"] a[href="/customers/${encodeURIComponent(first)}"]`);
    await page.waitForSelector('[data-testid="tier-message"]');
    const points = z.object({ balance: z.number(), tier: z.object({ message: z.string(), tier: z.object({ name: z.string() }).nullable() }) }).parse(await api(`/api/loyalty/customers/${encodeURIComponent(first)}`));
    expect(points.tier.message).toMatch(/^Spend €[\d,.]+ more to reach (Silver|Gold)$/);
    expect(await page.textContent('[data-testid="tier-message"]')).toBe(points.tier.message);
    expect(await page.textContent('[data-testid="customer-tier"]')).toBe(points.tier.tier?.name ?? "No tier yet");
    expect(Number(await page.getAttribute('[data-testid="tier-progress"]', "aria-valuenow"))).toBeGreaterThanOrEqual(0);
    expect(Number(await page.getAttribute('[data-testid="customer-points"]', "data-value"))).toBe(points.balance);
    expect(await page.textContent('[data-testid="customer-membership"]')).toMatch(/Club\s*active/);
    await page.waitForSelector('[data-testid="referral-code"]');
    const referrals = z.object({ code: z.string() }).parse(await api(`/api/loyalty/customers/${encodeURIComponent(first)}/referrals`));
    expect(await page.textContent('[data-testid="referral-code"]')).toBe(referrals.code);
    await page.screenshot({ path: `${shots}dashboard-customer-loyalty.png`, fullPage: true });
  });

  it("narrows the Overview to a chosen period", async () => {
    await page.click('nav a[href="/"]');
    await page.fill('input[aria-label="From"]', "2026-04-01");
    await page.fill('input[aria-label="To"]', "2026-04-30");
    await page.click('button:has-text("Apply")');
    await page.waitForFunction(`document.querySelector('[data-testid="period"]')?.textContent?.startsWith("2026-04-01 to 2026-04-30")`);
    const april = await api("/api/metrics?from=2026-04-01&to=2026-04-30");
    await page.waitForFunction(`document.querySelector('[data-testid="metric-orders"]')?.getAttribute("data-value") === ${JSON.stringify(String(april.orders))}`);
  });

  it("fits a phone screen", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(s.url);
    await phone.waitForSelector('[data-testid="metric-customers"]');
    const overflow = Number(await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: `${shots}dashboard-phone.png`, fullPage: true });
    await phone.close();
  });

  it("shows an empty state that says how to import data", async () => {
    await page.click('nav a[href="/"]');
    await page.fill('input[aria-label="From"]', "2020-01-01");
    await page.fill('input[aria-label="To"]', "2020-01-31");
    await page.click('button:has-text("Apply")');
    await page.waitForSelector('[data-testid="empty-state"]');
    expect(await page.textContent('[data-testid="empty-state"]')).toContain("npx fidelio import");
  });

  it("draws every chart of the HTML report, offline", async () => {
    const file = `${shots}report.html`;
    writeFileSync(file, await renderReport(s.store, s.workspace, s.clock));
    const offline = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    offline.on("pageerror", (e) => errors.push(e.message));
    offline.on("request", (r) => requests.push(r.url()));
    await offline.goto(`file://${file}`);
    await offline.waitForLoadState("load");
    const drawn = Number(await offline.evaluate("[...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0).length"));
    expect(drawn).toBe(5);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
    await offline.screenshot({ path: `${shots}report.png`, fullPage: true });
    await offline.close();
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForSelector('input[name="password"]');
    expect((await fetch(`${s.url}/api/session`, { headers: { cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ") } })).status).toBe(401);
  });
});
