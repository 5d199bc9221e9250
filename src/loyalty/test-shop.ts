/** Test plumbing shared by the loyalty suites (not part of the module's front door). */
import { expect } from "vitest";
import type { TestStore } from "../../test/helpers.ts";
export { refused } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { processMessages, throwIfFailed, writeCustomers } from "../ingest/index.ts";
import { SimulatedClock } from "../shared/index.ts";
import { balancesOf, postPoints, type PointsEntry } from "./index.ts";

let shops = 0;
/** A fresh workspace on the test store, with a simulated clock and short-hands for customers, tracking and postings. */
export async function loyaltyShop(t: TestStore, start = "2026-03-01T12:00:00Z") {
  const clock = new SimulatedClock(new Date(start));
  const ws: Workspace = await ensureWorkspace(t.store, `loyal${++shops}`, "EUR");
  let n = 0;
  const s = {
    ws,
    clock,
    async customer(id: string, traits: { email?: string; phone?: string; firstName?: string } = {}): Promise<number> {
      const r = await t.store.transaction((tx) => writeCustomers(tx, ws, [{ externalId: id, email: `${id}@example.com`, ...traits }], "api", clock.now()));
      return r.ids.get(id) ?? 0;
    },
    async track(...messages: Record<string, unknown>[]) {
      throwIfFailed(await processMessages(t.store, ws, messages.map((m) => ({ messageId: `${ws.id}-m${++n}`, timestamp: clock.now().toISOString(), ...m })), clock.now()));
    },
    post: (...entries: PointsEntry[]) => t.store.transaction((tx) => postPoints(tx, ws, entries, clock.now())),
    async balance(id: number) {
      return (await balancesOf(t.store, ws, [id])).get(id)?.balance ?? 0;
    },
    /** The ledger's sum equals the stored balance, and no entry left a negative balance. */
    async consistent(id: number) {
      const [row] = await t.store.query<{ sum: number; min: number | null }>("SELECT COALESCE(sum(points), 0)::bigint AS sum, min(balance_after) AS min FROM loyalty_ledger WHERE customer_id = $1", [id]);
      expect(Number(row?.sum)).toBe(await s.balance(id));
      expect(Number(row?.min ?? 0)).toBeGreaterThanOrEqual(0);
    },
  };
  return s;
}


/** A Segment `Order Completed` for one product line. */
export const orderMessage = (userId: string, id: string, total: number, extra: Record<string, unknown> = {}) => ({
  type: "track",
  userId,
  event: "Order Completed",
  properties: { order_id: id, total, subtotal: total, currency: "EUR", products: [{ product_id: "p1", price: total, quantity: 1 }], ...extra },
});
