/** Group commit of tracking requests, on a real store. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, openTestStore, type TestStore } from "../../../test/helpers.ts";
import type { Queryable, Store } from "../../store/index.ts";
import { ensureWorkspace, type Workspace } from "../../workspaces/index.ts";
import { prepareMessages, processMessages } from "./process-messages.ts";
import { TrackingWriter } from "./tracking-writer.ts";

let t: TestStore;
let ws: Workspace;
beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "default", "EUR");
});
afterAll(async () => {
  await t.cleanup();
});

/** The real store, counting the transactions it is asked for. */
function counting(store: Store): Store & { transactions: number } {
  const counted = {
    kind: store.kind,
    transactions: 0,
    query: store.query.bind(store),
    copyFrom: store.copyFrom.bind(store),
    copyOut: store.copyOut.bind(store),
    exec: store.exec.bind(store),
    close: store.close.bind(store),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      counted.transactions++;
      return store.transaction(fn);
    },
  };
  return counted;
}

const at = new Date("2026-06-01T12:00:00Z");
const viewed = (messageId: string, userId: string) => ({ type: "track", userId, event: "Product Viewed", messageId, properties: { product_id: "gw-p1", name: "Mug", price: 4 } });

describe("TrackingWriter", () => {
  it("writes the requests that queued up meanwhile in one transaction, each answered with its own result", async () => {
    await processMessages(t.store, ws, [viewed("gw-old", "gw-1")], at);
    const store = counting(t.store);
    const writer = new TrackingWriter(store, { maxInFlight: 1 });
    const requests = [
      [viewed("gw-a1", "gw-1"), viewed("gw-a2", "gw-2")],
      // A duplicate of an event stored before, and a message with no event name.
      [viewed("gw-old", "gw-1"), { type: "track", userId: "gw-1", messageId: "gw-bad" }, viewed("gw-b1", "gw-3")],
      // A refund of an order nobody knows fails in the write, by its own index.
      [viewed("gw-c1", "gw-2"), { type: "track", userId: "gw-2", event: "Order Refunded", messageId: "gw-refund", properties: { order_id: "gw-none" } }],
      // The same message twice in one request: one stored, one duplicate.
      [viewed("gw-d1", "gw-4"), viewed("gw-d1", "gw-4")],
    ];
    const results = await Promise.all(requests.map((r, i) => writer.write(ws, prepareMessages(r, new Date(at.getTime() + i)))));
    // The first found the writer idle and went alone; the three others queued behind it and went together.
    expect(store.transactions).toBe(2);
    expect(results).toEqual([
      { accepted: 2, duplicates: 0, failed: [] },
      { accepted: 2, duplicates: 1, failed: [{ index: 1, messageId: "gw-bad", field: "event", message: "is required" }] },
      { accepted: 1, duplicates: 0, failed: [{ index: 1, messageId: "gw-refund", field: "properties.order_id", message: 'no order "gw-none" is known' }] },
      { accepted: 2, duplicates: 1, failed: [] },
    ]);
    expect(await count(t.store, "SELECT count(*) AS n FROM events WHERE message_id LIKE 'gw-%'")).toBe(6);
    // Each event keeps the time its own request arrived.
    const [d] = await t.store.query<{ received_at: Date }>("SELECT received_at FROM events WHERE message_id = 'gw-d1'");
    expect(d?.received_at.toISOString()).toBe(new Date(at.getTime() + 3).toISOString());
  });

  it("retries a failed group request by request, so only the request at fault fails", async () => {
    // The database itself refuses one message (a constraint the validation does not know).
    await t.store.exec("ALTER TABLE events ADD CONSTRAINT test_refuse_poison CHECK (message_id <> 'gw-poison')");
    try {
      const store = counting(t.store);
      const writer = new TrackingWriter(store, { maxInFlight: 1 });
      const first = writer.write(ws, prepareMessages([viewed("gw-e0", "gw-5")], at));
      const queued = [
        writer.write(ws, prepareMessages([viewed("gw-e1", "gw-5")], at)),
        writer.write(ws, prepareMessages([viewed("gw-poison", "gw-5")], at)),
        writer.write(ws, prepareMessages([viewed("gw-e2", "gw-6")], at)),
      ];
      const settled = await Promise.allSettled([first, ...queued]);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      const refused = settled[2];
      expect(refused?.status === "rejected" ? String(refused.reason) : "").toMatch(/test_refuse_poison/);
      // One alone, the group of three (rolled back), then each of the three alone.
      expect(store.transactions).toBe(5);
      const stored = await t.store.query<{ message_id: string }>("SELECT message_id FROM events WHERE message_id LIKE 'gw-e%' OR message_id = 'gw-poison' ORDER BY message_id");
      expect(stored.map((r) => r.message_id)).toEqual(["gw-e0", "gw-e1", "gw-e2"]);
    } finally {
      await t.store.exec("ALTER TABLE events DROP CONSTRAINT test_refuse_poison");
    }
  });

  it("refuses a request that would overflow its queue, at once and with nothing written, and takes requests again once it drains", async () => {
    const store = counting(t.store);
    const writer = new TrackingWriter(store, { maxInFlight: 1, maxQueuedMessages: 3 });
    const two = (p: string, user: string) => prepareMessages([viewed(`${p}1`, user), viewed(`${p}2`, user)], at);
    // The first goes straight into a transaction; the second waits (2 queued); the third would make 4 > 3.
    const inFlight = writer.write(ws, two("gq-a", "gq-1"));
    const waiting = writer.write(ws, two("gq-b", "gq-1"));
    const refused = writer.write(ws, two("gq-c", "gq-2"));
    await expect(refused).rejects.toMatchObject({ code: "rate_limited", retryAfterSeconds: 1, message: expect.stringMatching(/queue is full \(2 messages waiting/) });
    expect(await Promise.all([inFlight, waiting])).toEqual([
      { accepted: 2, duplicates: 0, failed: [] },
      { accepted: 2, duplicates: 0, failed: [] },
    ]);
    expect(await count(t.store, "SELECT count(*) AS n FROM events WHERE message_id LIKE 'gq-c%'")).toBe(0);
    // Drained: the same request is taken now, and a request larger than the bound is taken when it finds the queue empty.
    expect(await writer.write(ws, two("gq-c", "gq-2"))).toEqual({ accepted: 2, duplicates: 0, failed: [] });
    const big = prepareMessages(["1", "2", "3", "4", "5"].map((k) => viewed(`gq-d${k}`, "gq-3")), at);
    expect(await writer.write(ws, big)).toMatchObject({ accepted: 5 });
  });

  it("answers a request with nothing valid without a transaction", async () => {
    const store = counting(t.store);
    const writer = new TrackingWriter(store, { maxInFlight: 1 });
    const r = await writer.write(ws, prepareMessages([{ type: "track", messageId: "gw-nobody", event: "X" }], at));
    expect(r).toEqual({ accepted: 0, duplicates: 0, failed: [{ index: 0, messageId: "gw-nobody", field: "userId", message: "userId or anonymousId is required" }] });
    expect(store.transactions).toBe(0);
  });
});

describe("a NUL character (U+0000), which PostgreSQL cannot store", () => {
  it("fails only its own message, named by path, and the batch's others are stored", async () => {
    const r = await processMessages(
      t.store,
      ws,
      [viewed("nul-ok", "nul-1"), { ...viewed("nul-bad", "nul-1"), properties: { note: "a\u0000b" } }, { ...viewed("nul-key", "nul-1"), properties: { ["k\u0000"]: 1 } }],
      at,
    );
    expect(r.accepted).toBe(1);
    expect(r.failed.map((f) => [f.index, f.field])).toEqual([
      [1, "properties.note"],
      [2, "properties.k\u0000"],
    ]);
    expect(r.failed[0]?.message).toMatch(/NUL character/);
    expect(await count(t.store, "SELECT count(*) AS n FROM events WHERE message_id LIKE 'nul-%'")).toBe(1);
  });

  it("in the batch's context fails every message, naming the context field", async () => {
    const r = await processMessages(t.store, ws, [viewed("nul-ctx", "nul-2")], at, { context: { page: { title: "\u0000" } } });
    expect(r).toMatchObject({ accepted: 0, failed: [{ index: 0, field: "context.page.title" }] });
  });
});
