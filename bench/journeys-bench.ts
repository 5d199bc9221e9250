/**
 * Workload 6: journeys and email.
 *
 * 1. Engine: `advance` alone, in memory, carrying customers through a
 *    six-step journey (four waits, a split, a send: five advances each,
 *    enter and four wake-ups): step advances per second.
 * 2. Persisted: the runner on a store. N customers trigger a journey of
 *    waits and a send; passes at the simulated times the waits end move them
 *    through it; every advance is written (state, funnel log, outbox) in the
 *    runner's batched transactions: step advances per second.
 * 3. Email: messages queued in the outbox delivered to a local SMTP server
 *    (smtp-server on loopback), rendered (Liquid on compiled MJML) per
 *    customer, with consent, cap and quiet-hours checks: emails per second.
 * 4. Backtest: the ready-made win-back replayed over two years of a shop of
 *    100,000 customers (orders and their Order Completed events generated in
 *    the database): seconds.
 */
import type { Store } from "../src/store/index.ts";
import { ensureWorkspace, type Workspace } from "../src/workspaces/index.ts";
import { advance, backtestJourney, checkJourney, createJourney, JourneyRunner, NOT_ENTERED, READY_MADE, setJourneyStatus, type JourneyState } from "../src/journeys/index.ts";
import { deliverDue, httpWebhookChannel, putMessagingSettings, smtpChannel } from "../src/messaging/index.ts";
import { SMTPServer } from "smtp-server";
import { int, secs } from "./lib/format.ts";

export const JOURNEYS_TARGETS = { enginePerSec: 20_000, persistedPglitePerSec: 2_000, persistedPostgresPerSec: 5_000, emailsPerSec: 300, backtestMs: 60_000 } as const;

const H = 3_600_000;
const mail = { subject: "Hello {{ customer.first_name }}", body: '<mj-section><mj-column><mj-text>Hello {{ customer.first_name }}, you have {{ orders.count }} orders. <a href="https://shop.example/new">New in</a></mj-text></mj-column></mj-section>' };
const SIX_STEPS = {
  trigger: { type: "event", event: "Ping" },
  reentry: { policy: "everyTime" },
  start: "w1",
  steps: [
    { id: "w1", type: "wait", duration: { hours: 1 }, next: "w2" },
    { id: "w2", type: "wait", duration: { hours: 1 }, next: "b" },
    { id: "b", type: "split", paths: [{ label: "A", weight: 50, next: "w3" }, { label: "B", weight: 50, next: "w3" }] },
    { id: "w3", type: "wait", duration: { hours: 1 }, next: "s" },
    { id: "s", type: "send", channel: "email", email: mail, next: "w4" },
    { id: "w4", type: "wait", duration: { hours: 1 } },
  ],
};

/** Pure advances per second. */
export function engineBench(customers: number): { advances: number; ms: number; perSec: number } {
  const journey = checkJourney(SIX_STEPS);
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  let advances = 0;
  const start = performance.now();
  for (let c = 0; c < customers; c += 1) {
    const ctx = { journey, enrolmentKey: `1:1:${c}:e${c}`, timeZone: null };
    let state: JourneyState = advance(ctx, NOT_ENTERED, { type: "enter", properties: { cart_id: c } }, new Date(t0)).state;
    advances += 1;
    while (state.status !== "done") {
      state = advance(ctx, state, { type: "wake" }, new Date(Date.parse(state.wakeAt ?? "") || t0)).state;
      advances += 1;
    }
  }
  const ms = performance.now() - start;
  return { advances, ms, perSec: advances / (ms / 1000) };
}

async function customersWithConsent(store: Store, ws: Workspace, n: number, at: Date): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO customers (workspace_id, external_id, email, first_name, created_at, updated_at)
       SELECT $1, 'c' || g, 'c' || g || '@example.com', 'Name' || g, $2, $2 FROM generate_series(1, $3::int) g`,
      [ws.id, at, n],
    );
    await tx.query(`INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at) SELECT $1, id, 'email', true, 'bench', $2 FROM customers WHERE workspace_id = $1`, [ws.id, at]);
  });
  await store.exec("ANALYZE customers, customer_consents");
}

/** The runner carrying N customers through the six steps: persisted advances per second. */
export async function persistedBench(store: Store, customers: number): Promise<{ advances: number; ms: number; perSec: number; messages: number }> {
  const ws = await ensureWorkspace(store, "bench-journeys", "EUR");
  const t0 = new Date("2026-01-01T00:00:00Z");
  await customersWithConsent(store, ws, customers, t0);
  const j = await createJourney(store, ws, { name: "Six steps", definition: SIX_STEPS }, t0);
  await setJourneyStatus(store, ws, j.id, "active", t0);
  await store.query(
    `INSERT INTO events (workspace_id, message_id, type, name, customer_id, occurred_at, received_at)
     SELECT $1, 'ping-' || id, 'track', 'Ping', id, $2, $2 FROM customers WHERE workspace_id = $1`,
    [ws.id, t0],
  );
  const runner = new JourneyRunner(store, ws, { batchSize: 2000 });
  let advances = 0;
  let messages = 0;
  const start = performance.now();
  for (let hour = 0; hour <= 5; hour += 1) {
    const r = await runner.runOnce(new Date(t0.getTime() + hour * H));
    advances += r.steps;
    messages += r.messages;
  }
  const ms = performance.now() - start;
  return { advances, ms, perSec: advances / (ms / 1000), messages };
}

/** N queued messages delivered to a local SMTP server: emails per second. */
export async function emailBench(store: Store, customers: number, parallel: number): Promise<{ sent: number; received: number; ms: number; perSec: number }> {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      stream.on("data", () => {});
      stream.on("end", () => {
        received += 1;
        callback();
      });
    },
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // (smtp-server and nodemailer both turn Nagle off on their sockets.)
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const email = smtpChannel({ url: `smtp://127.0.0.1:${port}`, pool: parallel });
  try {
    const ws = await ensureWorkspace(store, "bench-email", "EUR");
    const t0 = new Date("2026-01-01T12:00:00Z");
    await putMessagingSettings(store, ws, { caps: { perDay: 5, perWeek: 20 }, quietHours: { from: "21:00", to: "09:00" } }, t0);
    await customersWithConsent(store, ws, customers, t0);
    await store.query(
      `INSERT INTO messages (workspace_id, idempotency_key, channel, purpose, customer_id, step, content, status, due_at, created_at)
       SELECT $1, 'bench:' || id, 'email', 'marketing', id, 's', $2::jsonb, 'pending', $3, $3 FROM customers WHERE workspace_id = $1`,
      [ws.id, JSON.stringify({ ...mail, campaign: "Bench" }), t0],
    );
    const deps = { store, ws, email, webhook: httpWebhookChannel(async () => "x", () => t0), baseUrl: "https://fidelio.example", from: "Shop <shop@example.com>", shopName: "Shop" };
    let sent = 0;
    const start = performance.now();
    for (;;) {
      const d = await deliverDue(deps, t0, 500, parallel);
      sent += d.sent;
      if (d.sent + d.deferred + d.suppressed + d.retried + d.bounced + d.failed === 0) break;
    }
    const ms = performance.now() - start;
    return { sent, received, ms, perSec: sent / (ms / 1000) };
  } finally {
    await email.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Two years of a shop: customers buying on their own rhythm, and their Order Completed events. */
async function historyShop(store: Store, ws: Workspace, customers: number, end: Date, seed: number, log: (s: string) => void): Promise<number> {
  const start = new Date(end.getTime() - 2 * 365 * 24 * H);
  let orders = 0;
  await store.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = replica");
    await tx.query("SELECT setseed($1)", [(seed % 1000) / 1000]);
    await tx.query(
      `INSERT INTO customers (workspace_id, external_id, email, first_name, created_at, updated_at)
       SELECT $1, 'c' || g, 'c' || g || '@example.com', 'Name' || g, $2, $2 FROM generate_series(1, $3::int) g`,
      [ws.id, start, customers],
    );
    await tx.query(`INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at) SELECT $1, id, 'email', random() < 0.7, 'bench', $2 FROM customers WHERE workspace_id = $1`, [ws.id, start]);
    // Each customer: a first order somewhere in the two years, a rhythm of 20–200 days, 1–8 orders, jittered.
    await tx.query(
      `INSERT INTO orders (workspace_id, external_id, customer_id, status, placed_at, currency, subtotal_minor, total_minor, source, created_at)
       SELECT $1, 'o' || c.id || '-' || k, c.id, 'paid', x.at, 'EUR', 4000, 4000, 'bench', $3
         FROM (SELECT id, random() AS first_at, 20 + random() * 180 AS rhythm, 1 + floor(random() * 8)::int AS n FROM customers WHERE workspace_id = $1) c
        CROSS JOIN LATERAL generate_series(0, c.n - 1) k
        CROSS JOIN LATERAL (SELECT $2::timestamptz + make_interval(days => floor(c.first_at * 700)::int) + make_interval(secs => (k * c.rhythm * (0.8 + random() * 0.4)) * 86400) AS at) x
        WHERE x.at < $3`,
      [ws.id, start, end],
    );
    await tx.query(
      `INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
       SELECT $1, 'order:' || external_id, 'order', 'Order Completed', customer_id, jsonb_build_object('orderId', external_id), placed_at, placed_at FROM orders WHERE workspace_id = $1`,
      [ws.id],
    );
    const [n] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE workspace_id = $1", [ws.id]);
    orders = n?.n ?? 0;
  });
  await store.exec("ANALYZE customers, customer_consents, orders, events");
  log(`history: ${int(customers)} customers, ${int(orders)} orders and their events`);
  return orders;
}

/** The ready-made win-back over two years of `customers`: seconds. */
export async function backtestBench(store: Store, customers: number, seed: number, log: (s: string) => void): Promise<{ ms: number; orders: number; entered: number; sent: number }> {
  const ws = await ensureWorkspace(store, "bench-backtest", "EUR");
  const end = new Date("2026-01-01T00:00:00Z");
  const orders = await historyShop(store, ws, customers, end, seed, log);
  const winBack = READY_MADE.find((r) => r.key === "win-back");
  if (!winBack) throw new Error("no win-back");
  const start = performance.now();
  const report = await backtestJourney(store, ws, checkJourney(winBack.definition), { from: new Date(end.getTime() - 2 * 365 * 24 * H), to: end });
  const ms = performance.now() - start;
  log(`backtest: ${int(report.entered)} entries, ${int(report.sent)} messages, ${int(report.outcome.within30.ordered)} ordered within 30 days, in ${secs(ms)}`);
  return { ms, orders, entered: report.entered, sent: report.sent };
}
