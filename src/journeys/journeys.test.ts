/**
 * Journeys end to end, as scenarios on the simulated clock: data comes in
 * through the real tracking path, the runner moves customers, the delivery
 * worker sends over real SMTP to an `smtp-server` on loopback, and the
 * assertions read what that server received. Each scenario is its own shop
 * (workspace), so journeys of one never see another's customers.
 * Runs on PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { startSmtp, type TestSmtp } from "../../test/smtp.ts";
import type { ParsedMail } from "mailparser";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { processMessages, throwIfFailed, writeCustomers, writeProducts, type CustomerRecord, type ProductRecord } from "../ingest/index.ts";
import { SimulatedClock } from "../shared/index.ts";
import { createSegment, ensureBuiltInSegments, processCustomerChanges } from "../segments/index.ts";
import { deliverDue, httpWebhookChannel, putMessagingSettings, recordOpen, setEmailConsentByLink, signingSecret, signLink, smtpChannel, type DeliveryResult, type EmailChannel } from "../messaging/index.ts";
import { createJourney, installReadyMade, journeyStats, JourneyRunner, setJourneyStatus, updateJourney, customerMessages, type Journey } from "./index.ts";

const H = 3_600_000;
const D = 24 * H;
let t: TestStore;
let smtp: TestSmtp;
let email: EmailChannel;
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const dkimPublic = publicKey.export({ type: "spki", format: "der" }).toString("base64");

beforeAll(async () => {
  t = await openTestStore();
  smtp = await startSmtp();
  email = smtpChannel({
    url: smtp.url,
    pool: 2,
    dkim: { domainName: "shop.example", keySelector: "fidelio", privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
  });
});
afterAll(async () => {
  await email.close();
  await smtp.close();
  await t.cleanup();
});

let shops = 0;

/** A header as sent (mailparser folds the List-* headers into one object). */
function header(mail: ParsedMail | undefined, name: string): string {
  const line = mail?.headerLines.find((h) => h.key === name)?.line ?? "";
  return line.slice(line.indexOf(":") + 1).replace(/\r?\n\s+/g, " ").trim();
}

/** One shop: its own workspace, runner, clock and customers. */
async function shop(start = "2026-05-04T12:00:00Z", settings: Record<string, unknown> = { caps: { perDay: null, perWeek: null }, quietHours: null }) {
  const clock = new SimulatedClock(new Date(start));
  const ws: Workspace = await ensureWorkspace(t.store, `shop${++shops}`, "EUR");
  await putMessagingSettings(t.store, ws, settings, clock.now());
  await ensureBuiltInSegments(t.store, ws, clock.now());
  const runner = new JourneyRunner(t.store, ws, { batchSize: 50 });
  let n = 0;
  const total: DeliveryResult = { sent: 0, deferred: 0, suppressed: 0, retried: 0, bounced: 0, failed: 0 };
  const s = {
    ws,
    clock,
    total,
    async track(...messages: Record<string, unknown>[]) {
      const r = await processMessages(t.store, ws, messages.map((m) => ({ messageId: `${ws.id}-m${++n}`, timestamp: clock.now().toISOString(), ...m })), clock.now());
      throwIfFailed(r);
    },
    async customer(...records: CustomerRecord[]) {
      await t.store.transaction((tx) => writeCustomers(tx, ws, records, "api", clock.now()));
    },
    async products(...records: ProductRecord[]) {
      await t.store.transaction((tx) => writeProducts(tx, ws, records, clock.now()));
    },
    /** A subscriber with email consent. */
    async subscriber(id: string, extra: Partial<CustomerRecord> = {}) {
      await s.customer({ externalId: id, email: `${id}@${ws.id}.example`, firstName: id, consents: [{ channel: "email", granted: true }], ...extra });
    },
    order(userId: string, id: string, total = 40, products: Record<string, unknown>[] = [{ product_id: "p1", price: total, quantity: 1 }]) {
      return s.track({ type: "track", userId, event: "Order Completed", properties: { order_id: `${ws.id}-${id}`, total, currency: "EUR", products } });
    },
    /** One runner pass and deliveries until nothing is due. */
    async tick() {
      await runner.runOnce(clock.now());
      for (;;) {
        const d = await deliverDue({ store: t.store, ws, email, webhook: httpWebhookChannel(async () => "x", () => clock.now()), baseUrl: "https://fidelio.shop.example", from: "Shop <news@shop.example>", shopName: "The Shop" }, clock.now());
        total.sent += d.sent;
        total.deferred += d.deferred;
        total.suppressed += d.suppressed;
        total.retried += d.retried;
        total.bounced += d.bounced;
        total.failed += d.failed;
        if (d.sent + d.deferred + d.suppressed + d.retried + d.bounced + d.failed === 0) break;
      }
    },
    /** Moves the clock by `ms` in steps of `step`, ticking each time. */
    async run(ms: number, step = H) {
      const end = clock.now().getTime() + ms;
      while (clock.now().getTime() < end) {
        clock.set(new Date(Math.min(end, clock.now().getTime() + step)));
        await s.tick();
      }
    },
    async install(key: string): Promise<Journey> {
      const j = await installReadyMade(t.store, ws, key, clock.now());
      return setJourneyStatus(t.store, ws, j.id, "active", clock.now());
    },
    /** Subjects received by a customer of this shop, in order. */
    inbox(id: string): string[] {
      return smtp.received.filter((r) => r.to === `${id}@${ws.id}.example`).map((r) => r.parsed.subject ?? "");
    },
  };
  return s;
}

const news = (subject: string) => ({ trigger: { type: "event", event: "Ping" }, reentry: { policy: "everyTime" }, start: "s", steps: [{ id: "s", type: "send", channel: "email", email: { subject, body: "<mj-section><mj-column><mj-text>News</mj-text></mj-column></mj-section>" } }] });

describe("ready-made journeys", () => {
  it("welcome: three emails over a week; the first-order nudge only to those who did not buy", async () => {
    const s = await shop();
    await s.install("welcome");
    await s.subscriber("ann");
    await s.subscriber("bob");
    await s.customer({ externalId: "cat", email: "cat@x.example" }); // no consent: never welcomed
    await s.tick();
    expect(s.inbox("ann")).toEqual(["Welcome to The Shop"]);
    await s.run(3 * D, 6 * H);
    await s.order("bob", "o1");
    await s.run(5 * D, 6 * H);
    expect(s.inbox("ann")).toEqual(["Welcome to The Shop", "What our customers love most", "A little something for your first order"]);
    expect(s.inbox("bob")).toEqual(["Welcome to The Shop", "What our customers love most"]);
    expect(smtp.received.filter((r) => r.to === "cat@x.example")).toEqual([]);
  });

  it("abandoned cart: a reminder an hour after the cart, unless that cart checked out or any order came", async () => {
    const s = await shop();
    await s.install("abandoned-cart");
    for (const id of ["ann", "bob", "cat", "dan"]) await s.subscriber(id);
    await s.track(
      { type: "track", userId: "ann", event: "Product Added", properties: { cart_id: "ca", product_id: "p1" } },
      { type: "track", userId: "bob", event: "Product Added", properties: { cart_id: "cb", product_id: "p1" } },
      { type: "track", userId: "cat", event: "Product Added", properties: { cart_id: "cc", product_id: "p1" } },
      { type: "track", userId: "dan", event: "Product Added", properties: { cart_id: "cd", product_id: "p1" } },
    );
    await s.run(20 * 60_000, 10 * 60_000);
    await s.order("bob", "o1"); // bought: the goal ends it
    await s.track({ type: "track", userId: "cat", event: "Checkout Started", properties: { cart_id: "cc" } }); // checked out, then bought
    await s.track({ type: "track", userId: "dan", event: "Checkout Started", properties: { cart_id: "other" } }); // another cart: still abandoned
    await s.run(40 * 60_000, 10 * 60_000);
    await s.order("cat", "o2");
    await s.run(2 * D, 3 * H);
    expect(s.inbox("ann")).toEqual(["You left something in your cart", "Your cart is waiting"]);
    expect(s.inbox("dan")).toEqual(["You left something in your cart", "Your cart is waiting"]);
    expect(s.inbox("bob")).toEqual([]);
    expect(s.inbox("cat")).toEqual([]);
  });

  it("abandoned browse: a viewed product with nothing added within four hours", async () => {
    const s = await shop();
    await s.install("abandoned-browse");
    await s.subscriber("ann");
    await s.subscriber("bob");
    await s.track({ type: "track", userId: "ann", event: "Product Viewed", properties: { product_id: "p1", name: "Blue mug" } }, { type: "track", userId: "bob", event: "Product Viewed", properties: { product_id: "p1" } });
    await s.run(H, H);
    await s.track({ type: "track", userId: "bob", event: "Product Added", properties: { product_id: "p1" } });
    await s.run(5 * H, H);
    expect(s.inbox("ann")).toEqual(["Still thinking it over?"]);
    expect(smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`)?.parsed.text).toContain("Blue mug");
    expect(s.inbox("bob")).toEqual([]);
  });

  it("thank-you: a day after a first order, with products that go with it; not after a second order", async () => {
    const s = await shop();
    await s.products({ externalId: "p1", title: "Mug", category: "kitchen", priceMinor: 1200, url: "https://shop.example/mug" }, { externalId: "p2", title: "Teapot", category: "kitchen", priceMinor: 3500, url: "https://shop.example/teapot" });
    await s.subscriber("ann");
    await s.subscriber("bob");
    await s.order("bob", "b1", 20, [{ product_id: "p2", price: 35, quantity: 1, category: "kitchen" }]);
    await s.install("thank-you");
    await s.order("ann", "a1", 12, [{ product_id: "p1", price: 12, quantity: 1, category: "kitchen" }]);
    await s.order("bob", "b2");
    await s.run(25 * H, 6 * H);
    expect(s.inbox("ann")).toEqual(["Thank you for your first order"]);
    expect(s.inbox("bob")).toEqual([]);
    const html = String(smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`)?.parsed.html);
    expect(html).toContain("Teapot"); // cross-sell: the best seller she does not own
    expect(html).not.toMatch(/>Mug</);
  });

  it("review request: fourteen days after the order", async () => {
    const s = await shop();
    await s.install("review-request");
    await s.subscriber("ann");
    await s.customer({ externalId: "bob", email: `bob@${s.ws.id}.example` }); // no email consent: not asked
    await s.order("ann", "a1", 12, [{ product_id: "p1", price: 12, quantity: 1, name: "Blue mug" }]);
    await s.order("bob", "b1");
    await s.run(13 * D, D);
    expect(s.inbox("ann")).toEqual([]);
    await s.run(D + H, H);
    expect(s.inbox("ann")).toEqual(["How was your order?"]);
    expect(s.inbox("bob")).toEqual([]);
    expect(smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`)?.parsed.text).toContain("Blue mug");
  });

  it("birthday: at 9:00 in the customer's own time zone, on the day only", async () => {
    const s = await shop("2026-05-09T00:00:00Z");
    await s.install("birthday");
    await s.subscriber("tokyo", { birthday: "1990-05-10", timeZone: "Asia/Tokyo" });
    await s.subscriber("paris", { birthday: "1985-05-10", timeZone: "Europe/Paris" });
    await s.subscriber("other", { birthday: "1985-06-10", timeZone: "Europe/Paris" });
    const firstAt = new Map<string, string>();
    for (let i = 0; i < 48; i += 1) {
      await s.run(H, H);
      for (const who of ["tokyo", "paris"]) if (!firstAt.has(who) && s.inbox(who).length > 0) firstAt.set(who, s.clock.now().toISOString());
    }
    // 09:00 in Tokyo on 10 May is 00:00 UTC; in Paris (summer time) 07:00 UTC.
    expect(firstAt.get("tokyo")).toBe("2026-05-10T00:00:00.000Z");
    expect(firstAt.get("paris")).toBe("2026-05-10T07:00:00.000Z");
    expect(s.inbox("tokyo")).toEqual(["Happy birthday, tokyo!"]);
    expect(s.inbox("other")).toEqual([]);
  });

  it("birthday points: the points credited, the email shows the new balance; not for others", async () => {
    const s = await shop("2026-05-10T08:00:00Z");
    await s.install("birthday-points");
    await s.subscriber("ann", { birthday: "1990-05-10" });
    await s.subscriber("bob", { birthday: "1990-07-01" });
    await s.run(2 * H, H);
    expect(s.inbox("ann")).toEqual(["Happy birthday, ann: 200 points for you"]);
    expect(smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`)?.parsed.text).toContain("you now have 200 points");
    expect(s.inbox("bob")).toEqual([]);
    await s.run(2 * D, 6 * H); // once a year
    expect(s.inbox("ann")).toHaveLength(1);
  });

  it("replenishment: five days before a 30-day product runs out; not for someone who already re-bought", async () => {
    const s = await shop();
    await s.install("replenishment");
    await s.products({ externalId: "refill", title: "Coffee beans", usageDays: 30, priceMinor: 1500 });
    await s.subscriber("ann");
    await s.subscriber("bob");
    await s.order("ann", "a1", 15, [{ product_id: "refill", price: 15, quantity: 1 }]);
    await s.order("bob", "b1", 15, [{ product_id: "refill", price: 15, quantity: 1 }]);
    await s.run(20 * D, D);
    await s.order("bob", "b2", 15, [{ product_id: "refill", price: 15, quantity: 1 }]);
    await s.run(6 * D, 6 * H);
    expect(s.inbox("ann")).toEqual(["Running low?"]);
    expect(s.inbox("bob")).toEqual([]);
  });

  it("VIP: on entering the segment", async () => {
    const s = await shop();
    const j = await installReadyMade(t.store, s.ws, "vip", s.clock.now());
    expect(j.definition.trigger).toMatchObject({ type: "segment", on: "enter" });
    // The scenario uses the shop's own VIP rule (three orders), the ready-made's shape.
    const vip = await createSegment(t.store, s.ws, { name: "Three orders", rule: { field: "orderCount", op: "gte", value: 3 } }, s.clock.now());
    await updateJourney(t.store, s.ws, j.id, { definition: { ...j.definition, trigger: { type: "segment", segmentId: vip.id, on: "enter" } } }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("ann");
    await s.subscriber("bob");
    for (const o of ["a1", "a2", "a3"]) await s.order("ann", o);
    for (const o of ["b1", "b2"]) await s.order("bob", o); // two orders: not in the segment
    await processCustomerChanges(t.store, s.ws, s.clock.now());
    await s.tick();
    expect(s.inbox("ann")).toEqual(["You are one of our best customers"]);
    expect(s.inbox("bob")).toEqual([]);
  });

  it("win-back: starts when overdue against the customer's own rhythm; five steps; any order stops it", async () => {
    const s = await shop("2026-01-01T12:00:00Z");
    await s.install("win-back");
    await s.subscriber("slow"); // buys every 60 days
    await s.subscriber("fast"); // buys every 20 days
    await s.subscriber("back"); // every 20 days, comes back after the first email
    for (let day = 0; day <= 120; day += 1) {
      if (day % 60 === 0) await s.order("slow", `s${day}`);
      if (day % 20 === 0 && day <= 40) await s.order("fast", `f${day}`);
      if (day % 20 === 0 && day <= 40) await s.order("back", `b${day}`);
      if (day === 64) await s.order("back", "b64");
      await s.run(D, 12 * H);
    }
    await s.run(60 * D, 12 * H);
    // fast: last order day 40, rhythm 20 days → due day 60: five messages a week apart, then unsubscribed.
    expect(s.inbox("fast")).toEqual(["We miss you, fast", "15% off, just for you", "Can we ask you something?", "Last chance: your 15% ends soon", "We will stop writing"]);
    const consent = await t.store.query<{ granted: boolean; source: string }>(
      "SELECT granted, source FROM customer_consents cc JOIN customers c ON c.id = cc.customer_id WHERE c.workspace_id = $1 AND c.external_id = 'fast' AND cc.channel = 'email'",
      [s.ws.id],
    );
    expect(consent[0]).toMatchObject({ granted: false, source: "journey: Win-back (five steps)" });
    // back: due day 60, the hello, then an order on day 64 ends that run; with orders on days 0–64 the
    // rhythm is 21⅓ days, so a new lapse starts the series again on day 85½.
    const back = smtp.received.filter((r) => r.to === `back@${s.ws.id}.example`);
    expect(back.slice(0, 3).map((r) => r.parsed.subject)).toEqual(["We miss you, back", "We miss you, back", "15% off, just for you"]);
    const runs = await t.store.query<{ exit_reason: string | null; entered_at: Date }>(
      "SELECT e.exit_reason, e.entered_at FROM journey_enrolments e JOIN customers c ON c.id = e.customer_id WHERE c.workspace_id = $1 AND c.external_id = 'back' ORDER BY e.entered_at",
      [s.ws.id],
    );
    expect(runs.map((r) => [r.exit_reason, (r.entered_at.getTime() - Date.parse("2026-01-01T12:00:00Z")) / D])).toEqual([["goal", 60.5], ["completed", 85.5]]);
    // slow: orders on days 0, 60, 120, so it was never overdue before the end of the orders; due day 180.
    expect(s.inbox("slow")[0]).toBe("We miss you, slow");
    const sentAt = smtp.received.filter((r) => r.to === `fast@${s.ws.id}.example`).map((r) => r.parsed.date?.toISOString().slice(0, 10));
    expect(sentAt[0]).toBe("2026-03-03"); // day 60½: the first pass after falling due on day 60
  });

  it("re-permission and sunset: unengaged subscribers asked, then unsubscribed unless they click", async () => {
    const s = await shop("2026-01-05T12:00:00Z");
    await s.subscriber("quiet");
    await s.order("quiet", "q1");
    await s.subscriber("reader"); // opens the newsletter: never asked
    await s.order("reader", "r1");
    // Three unopened messages over 200 days, and no order for 200 days.
    const j = await createJourney(t.store, s.ws, { name: "Newsletter", definition: { trigger: { type: "schedule", everyDays: 60, at: "12:00" }, audience: { field: "consent.email", op: "is", value: true }, reentry: { policy: "everyTime" }, start: "n", steps: [{ id: "n", type: "send", channel: "email", email: { subject: "News", body: "<mj-section><mj-column><mj-text>News</mj-text></mj-column></mj-section>" } }] } }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    for (let day = 0; day < 200; day += 1) {
      await s.run(D, D);
      // The reader opens each newsletter the day it arrives.
      const opened = await t.store.query<{ id: number }>(
        "SELECT m.id FROM messages m JOIN customers c ON c.id = m.customer_id WHERE m.workspace_id = $1 AND c.external_id = 'reader' AND m.status = 'sent'",
        [s.ws.id],
      );
      const secret = await signingSecret(t.store, s.ws.id);
      for (const m of opened) await recordOpen(t.store, signLink(secret, { k: "o", w: s.ws.id, m: Number(m.id) }), s.clock.now());
    }
    expect(s.inbox("quiet").length).toBeGreaterThanOrEqual(3);
    await setJourneyStatus(t.store, s.ws, j.id, "paused", s.clock.now());
    await s.install("sunset");
    await s.run(8 * D, D);
    expect(s.inbox("quiet").at(-1)).toBe("Do you still want to hear from us?");
    await s.run(15 * D, D);
    const consent = async (id: string) =>
      (await t.store.query<{ granted: boolean }>("SELECT granted FROM customer_consents cc JOIN customers c ON c.id = cc.customer_id WHERE c.workspace_id = $1 AND c.external_id = $2", [s.ws.id, id]))[0]?.granted;
    expect(await consent("quiet")).toBe(false);
    expect(await consent("reader")).toBe(true);
    expect(s.inbox("reader")).not.toContain("Do you still want to hear from us?");
  });
});

describe("sending rules", () => {

  it("the frequency cap holds marketing messages across journeys until the window frees, and lets transactional ones through", async () => {
    const s = await shop("2026-05-04T12:00:00Z", { caps: { perDay: 1, perWeek: 2 }, quietHours: null });
    for (const [name, def] of [["A", news("First")], ["B", news("Second")], ["C", news("Third")]] as const) {
      const j = await createJourney(t.store, s.ws, { name, definition: def }, s.clock.now());
      await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    }
    const receipt = await createJourney(t.store, s.ws, { name: "Receipt", definition: { ...news("Receipt"), steps: [{ ...news("Receipt").steps[0], purpose: "transactional" }] } }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, receipt.id, "active", s.clock.now());
    await s.subscriber("ann");
    await s.track({ type: "track", userId: "ann", event: "Ping" });
    await s.tick();
    expect(s.inbox("ann").sort()).toEqual(["First", "Receipt"].sort());
    await s.run(D, H);
    expect(s.inbox("ann")).toHaveLength(3); // one more a day later
    await s.run(3 * D, H);
    expect(s.inbox("ann")).toHaveLength(3); // two a week at most: the third waits a week from the first
    await s.run(4 * D, H);
    expect(s.inbox("ann")).toHaveLength(4);
    const rows = await customerMessages(t.store, s.ws, "ann");
    expect(rows.every((r) => r.status === "sent")).toBe(true);
  });

  it("quiet hours defer to the morning in the customer's time zone, and never drop", async () => {
    // 21:30 in New York (summer time) is 01:30 UTC.
    const s = await shop("2026-05-05T01:30:00Z", { caps: { perDay: null, perWeek: null }, quietHours: { from: "21:00", to: "08:00" } });
    const j = await createJourney(t.store, s.ws, { name: "Ping", definition: news("Hello") }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("ny", { timeZone: "America/New_York" });
    await s.subscriber("paris", { timeZone: "Europe/Paris" }); // 03:30 there: quiet too, until 08:00 Paris = 06:00 UTC
    await s.track({ type: "track", userId: "ny", event: "Ping" }, { type: "track", userId: "paris", event: "Ping" });
    await s.tick();
    expect(s.inbox("ny")).toEqual([]);
    const [held] = await customerMessages(t.store, s.ws, "ny");
    expect(held).toMatchObject({ status: "pending", deferred: "quiet hours", dueAt: "2026-05-05T12:00:00.000Z" });
    await s.run(5 * H, 30 * 60_000);
    expect(s.inbox("paris")).toEqual(["Hello"]);
    expect(s.inbox("ny")).toEqual([]);
    await s.run(6 * H, 30 * 60_000);
    expect(s.inbox("ny")).toEqual(["Hello"]);
  });

  it("consent withdrawn mid-journey: later marketing messages are held back at send time", async () => {
    const s = await shop();
    await s.install("win-back");
    await s.subscriber("ann");
    for (const day of [0, 20, 40]) {
      await s.order("ann", `a${day}`);
      await s.run(20 * D, D);
    }
    await s.run(2 * D, 12 * H);
    expect(s.inbox("ann")).toEqual(["We miss you, ann"]);
    // She clicks the unsubscribe link in that email.
    const mail = smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`);
    const link = header(mail?.parsed, "list-unsubscribe").replace(/^<|>$/g, "");
    const token = link.split("/u/")[1] ?? "";
    await setEmailConsentByLink(t.store, token, false, s.clock.now());
    await s.run(30 * D, D);
    expect(s.inbox("ann")).toEqual(["We miss you, ann"]);
    const rows = await customerMessages(t.store, s.ws, "ann");
    expect(rows.filter((r) => r.status === "suppressed").map((r) => r.error)).toEqual(["no email consent", "no email consent", "no email consent", "no email consent"]);
  });

  it("re-entry: once, once per N days, every time (never twice at once)", async () => {
    const s = await shop();
    const def = (policy: Record<string, unknown>) => ({ ...news("x"), reentry: policy, steps: [{ id: "s", type: "wait", duration: { days: 2 } }] });
    const ids: Record<string, number> = {};
    for (const [name, policy] of [["once", { policy: "once" }], ["per3", { policy: "oncePer", days: 3 }], ["every", { policy: "everyTime" }]] as const) {
      const j = await createJourney(t.store, s.ws, { name, definition: def(policy) }, s.clock.now());
      ids[name] = (await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now())).id;
    }
    await s.subscriber("ann");
    for (let day = 0; day < 8; day += 1) {
      await s.track({ type: "track", userId: "ann", event: "Ping" });
      await s.track({ type: "track", userId: "ann", event: "Ping" });
      await s.run(D, 12 * H);
    }
    const entered = async (name: string) => (await journeyStats(t.store, s.ws, ids[name] ?? 0, s.clock.now())).entered;
    expect(await entered("once")).toBe(1);
    expect(await entered("per3")).toBe(3); // days 0, 3, 6
    expect(await entered("every")).toBe(4); // days 0, 2, 4, 6: each run lasts two days
  });

  it("a new version takes new entries while customers inside finish the old one", async () => {
    const s = await shop();
    const v1 = { ...news("x"), steps: [{ id: "w", type: "wait", duration: { days: 1 }, next: "s" }, { id: "s", type: "send", channel: "email", email: { subject: "Version one", body: "<mj-section><mj-column><mj-text>1</mj-text></mj-column></mj-section>" } }], start: "w" };
    const j = await createJourney(t.store, s.ws, { name: "Versioned", definition: v1 }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("old");
    await s.subscriber("new");
    await s.track({ type: "track", userId: "old", event: "Ping" });
    await s.tick();
    const v2 = await updateJourney(t.store, s.ws, j.id, { definition: { ...v1, steps: [v1.steps[0], { ...v1.steps[1], email: { subject: "Version two", body: "<mj-section><mj-column><mj-text>2</mj-text></mj-column></mj-section>" } }] } }, s.clock.now());
    expect(v2.version).toBe(2);
    await s.track({ type: "track", userId: "new", event: "Ping" });
    await s.run(2 * D, 6 * H);
    expect(s.inbox("old")).toEqual(["Version one"]);
    expect(s.inbox("new")).toEqual(["Version two"]);
  });

  it("goal exit is counted as a conversion, per-step counts add up, and the holdout gets nothing", async () => {
    const s = await shop();
    const def = {
      trigger: { type: "event", event: "Ping" },
      goals: [{ event: "Order Completed" }],
      start: "split",
      steps: [
        { id: "split", type: "split", paths: [{ label: "mail", weight: 80, next: "hello" }, { label: "holdout", weight: 20, holdout: true }] },
        { id: "hello", type: "send", channel: "email", email: { subject: "Hello", body: "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>" }, next: "wait" },
        { id: "wait", type: "wait", duration: { days: 3 }, next: "again" },
        { id: "again", type: "send", channel: "email", email: { subject: "Again", body: "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>" } },
      ],
    };
    const j = await createJourney(t.store, s.ws, { name: "Split", definition: def }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    const people = Array.from({ length: 30 }, (_, i) => `c${i}`);
    for (const p of people) await s.subscriber(p);
    await s.track(...people.map((p) => ({ type: "track", userId: p, event: "Ping" })));
    await s.tick();
    await s.order("c0", "o0");
    await s.order("c1", "o1");
    await s.run(4 * D, 12 * H);
    const stats = await journeyStats(t.store, s.ws, j.id, s.clock.now());
    expect(stats.entered).toBe(30);
    const hello = stats.steps.find((x) => x.step === "hello");
    const again = stats.steps.find((x) => x.step === "again");
    expect(stats.holdout + (hello?.reached ?? 0)).toBe(30);
    expect(stats.holdout).toBeGreaterThan(0);
    expect(hello?.sent).toBe(hello?.reached);
    const converted = ["c0", "c1"].filter((c) => s.inbox(c).length > 0).length; // those not held out
    expect(stats.converted).toBe(converted);
    expect(again?.sent).toBe((hello?.reached ?? 0) - converted);
    expect(people.reduce((a, p) => a + s.inbox(p).length, 0)).toBe((hello?.sent ?? 0) + (again?.sent ?? 0));
  });
});

describe("loyalty in journeys", () => {
  it("awards points once per run and shows the balance in the email", async () => {
    const s = await shop();
    const j = await createJourney(
      t.store,
      s.ws,
      {
        name: "Gift",
        definition: {
          trigger: { type: "event", event: "Ping" },
          reentry: { policy: "everyTime" },
          start: "award",
          steps: [
            { id: "award", type: "awardPoints", points: 150, reason: "birthday gift", next: "tell" },
            { id: "tell", type: "send", channel: "email", email: { subject: "You have {{ loyalty.points }} points", body: "<mj-section><mj-column><mj-text>Balance: {{ loyalty.points }}</mj-text></mj-column></mj-section>" } },
          ],
        },
      },
      s.clock.now(),
    );
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("ann");
    await s.track({ type: "track", userId: "ann", event: "Ping" });
    await s.tick();
    await s.tick();
    expect(s.inbox("ann")).toEqual(["You have 150 points"]);
    await s.run(D, D);
    await s.track({ type: "track", userId: "ann", event: "Ping" });
    await s.tick();
    expect(s.inbox("ann")).toEqual(["You have 150 points", "You have 300 points"]);
    const ledger = await t.store.query<{ reason: string; points: number }>(
      "SELECT l.reason, l.points FROM loyalty_ledger l JOIN customers c ON c.id = l.customer_id WHERE c.workspace_id = $1 AND c.external_id = 'ann' ORDER BY l.id",
      [s.ws.id],
    );
    expect(ledger.map((l) => [l.reason, Number(l.points)])).toEqual([
      ["birthday gift", 150],
      ["birthday gift", 150],
    ]);
  });
});

describe("email over SMTP", () => {
  it("carries DKIM, List-Unsubscribe one-click headers, a plain-text part, UTM-tagged tracked links and an escaped name", async () => {
    const s = await shop();
    const j = await createJourney(
      t.store,
      s.ws,
      {
        name: "Spring sale",
        definition: {
          trigger: { type: "event", event: "Ping" },
          start: "s",
          steps: [{ id: "s", type: "send", channel: "email", email: { subject: "Hi {{ customer.first_name }}", preview: "Spring is here", body: '<mj-section><mj-column><mj-text>Hello {{ customer.first_name }}, see <a href="https://shop.example/sale?x=1">the sale</a>. You have {{ orders.count }} orders.</mj-text></mj-column></mj-section>' } }],
        },
      },
      s.clock.now(),
    );
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("ann", { firstName: "<b>Ann</b>" });
    await s.order("ann", "a1");
    await s.track({ type: "track", userId: "ann", event: "Ping" });
    await s.tick();
    const mail = smtp.received.find((r) => r.to === `ann@${s.ws.id}.example`);
    if (!mail) throw new Error("no mail");
    expect(mail.parsed.subject).toBe("Hi <b>Ann</b>");
    expect(mail.parsed.from?.value[0]).toMatchObject({ name: "Shop", address: "news@shop.example" });
    const unsub = header(mail.parsed, "list-unsubscribe");
    expect(unsub).toMatch(/^<https:\/\/fidelio\.shop\.example\/u\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>$/);
    expect(header(mail.parsed, "list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    const html = String(mail.parsed.html);
    expect(html).toContain("Hello &lt;b&gt;Ann&lt;/b&gt;");
    expect(html).toContain("You have 1 orders.");
    expect(html).toMatch(/href="https:\/\/fidelio\.shop\.example\/t\/c\/[^"]+"/);
    expect(html).toMatch(/<img src="https:\/\/fidelio\.shop\.example\/t\/o\/[^"]+"/);
    expect(html).toContain(unsub.slice(1, -1)); // the footer's unsubscribe link, not wrapped
    expect(mail.parsed.text).toContain("Hello <b>Ann</b>");
    expect(mail.parsed.text).toContain("utm_source=fidelio");
    expect(mail.parsed.text).toContain("utm_campaign=spring-sale");
    expect(mail.parsed.messageId).toMatch(/@shop\.example>?$/);
    // DKIM: verified against the public key, as a receiving server would from DNS.
    const result = await dkimVerify(mail.raw, { resolver: async (name: string) => (name === "fidelio._domainkey.shop.example" ? [[`v=DKIM1; k=rsa; p=${dkimPublic}`]] : []) });
    expect(result.results[0]?.status.result).toBe("pass");
    expect(result.results[0]?.signingDomain).toBe("shop.example");
  });

  it("retries a temporary failure with back-off; a hard bounce marks the address and it is not mailed again", async () => {
    const s = await shop();
    const j = await createJourney(t.store, s.ws, { name: "Ping", definition: { ...news("Hi"), reentry: { policy: "everyTime" } } }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("slow");
    await s.subscriber("gone");
    smtp.tempFail.set(`slow@${s.ws.id}.example`, 2);
    smtp.bounce.add(`gone@${s.ws.id}.example`);
    await s.track({ type: "track", userId: "slow", event: "Ping" }, { type: "track", userId: "gone", event: "Ping" });
    await s.tick();
    expect(s.total).toMatchObject({ retried: 1, bounced: 1, sent: 0 });
    const [first] = await customerMessages(t.store, s.ws, "slow");
    expect(first).toMatchObject({ status: "pending", deferred: "retry", attempts: 1 });
    expect(first?.dueAt).toBe(new Date(s.clock.now().getTime() + 60_000).toISOString());
    await s.run(60_000, 60_000); // second try fails too, next in 2 minutes
    await s.run(2 * 60_000, 60_000);
    expect(s.inbox("slow")).toEqual(["Hi"]);
    const [sent] = await customerMessages(t.store, s.ws, "slow");
    expect(sent).toMatchObject({ status: "sent", attempts: 3 });
    const [bounced] = await customerMessages(t.store, s.ws, "gone");
    expect(bounced?.status).toBe("bounced");
    // A second message to the bounced address is held back, never attempted.
    await s.run(D, D);
    await s.track({ type: "track", userId: "gone", event: "Ping" });
    await s.tick();
    const rows = await customerMessages(t.store, s.ws, "gone");
    expect(rows[0]).toMatchObject({ status: "suppressed", error: "address suppressed (bounced)" });
  });
});

describe("webhooks", () => {
  it("posts the step to the URL, signed with the workspace secret, once, and retries a 5xx", async () => {
    const received: { body: string; signature: string; key: string }[] = [];
    let failFirst = true;
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        received.push({ body, signature: String(req.headers["x-fidelio-signature"]), key: String(req.headers["idempotency-key"]) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const s = await shop();
      const j = await createJourney(t.store, s.ws, { name: "Hook", definition: { trigger: { type: "event", event: "Ping" }, start: "h", steps: [{ id: "h", type: "webhook", url: `http://127.0.0.1:${port}/hook` }] } }, s.clock.now());
      await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
      await s.subscriber("ann");
      await s.track({ type: "track", userId: "ann", event: "Ping" });
      const secret = await signingSecret(t.store, s.ws.id);
      const deps = { store: t.store, ws: s.ws, email, webhook: httpWebhookChannel(async () => secret, () => s.clock.now()), baseUrl: "https://f.example", from: "S <s@shop.example>", shopName: "S" };
      await new JourneyRunner(t.store, s.ws).runOnce(s.clock.now());
      expect((await deliverDue(deps, s.clock.now())).retried).toBe(1);
      s.clock.advance(60_000);
      expect((await deliverDue(deps, s.clock.now())).sent).toBe(1);
      expect(await deliverDue(deps, s.clock.now())).toMatchObject({ sent: 0 });
      expect(received).toHaveLength(1);
      const [hook] = received;
      const [tPart, vPart] = String(hook?.signature).split(",");
      const expected = createHmac("sha256", secret).update(`${tPart?.slice(2)}.${hook?.body}`).digest("hex");
      expect(vPart).toBe(`v1=${expected}`);
      expect(JSON.parse(hook?.body ?? "{}")).toMatchObject({ journey: "Hook", step: "h", customer: { external_id: "ann" } });
      expect(hook?.key).toMatch(/:h$/);
    } finally {
      server.close();
    }
  });
});

describe("reading the event log", () => {
  it.skipIf(!process.env.DATABASE_URL)("never passes an event whose transaction commits after a later one (PostgreSQL)", async () => {
    const s = await shop();
    const j = await createJourney(t.store, s.ws, { name: "Ping", definition: news("Hello") }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("early");
    await s.subscriber("late");
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let inserted: () => void = () => {};
    const idTaken = new Promise<void>((r) => (inserted = r));
    // "early" takes the lower event id, but its transaction commits last.
    const slow = t.store.transaction(async (tx) => {
      const [c] = await tx.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'early'", [s.ws.id]);
      await tx.query("INSERT INTO events (workspace_id, message_id, type, name, customer_id, occurred_at, received_at) VALUES ($1, 'slow', 'track', 'Ping', $2, $3, $3)", [s.ws.id, c?.id, s.clock.now()]);
      inserted();
      await held;
    });
    await idTaken;
    await s.track({ type: "track", userId: "late", event: "Ping" });
    await s.tick();
    expect(s.inbox("late")).toEqual([]); // the bound waits for the open transaction
    release();
    await slow;
    await s.tick();
    await s.tick();
    expect(s.inbox("early")).toEqual(["Hello"]);
    expect(s.inbox("late")).toEqual(["Hello"]);
  });

  it.skipIf(!process.env.DATABASE_URL)("is not held back by an open transaction that writes no events (PostgreSQL)", async () => {
    const s = await shop();
    const j = await createJourney(t.store, s.ws, { name: "Ping", definition: news("Hello") }, s.clock.now());
    await setJourneyStatus(t.store, s.ws, j.id, "active", s.clock.now());
    await s.subscriber("someone");
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let written: () => void = () => {};
    const open = new Promise<void>((r) => (written = r));
    // A long writer elsewhere (a scoring run, an import of products): it has a transaction id, but no event id.
    const other = t.store.transaction(async (tx) => {
      await tx.query("INSERT INTO products (workspace_id, external_id, title, created_at, updated_at) VALUES ($1, 'held', 'Held', $2, $2)", [s.ws.id, s.clock.now()]);
      written();
      await held;
    });
    await open;
    try {
      await s.track({ type: "track", userId: "someone", event: "Ping" });
      await s.tick();
      expect(s.inbox("someone")).toEqual(["Hello"]);
    } finally {
      release();
      await other;
    }
  });
});
