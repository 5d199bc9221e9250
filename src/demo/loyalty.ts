/**
 * The demo shop's loyalty programme, so the Loyalty page and the storefront
 * API have something to show on a fresh `npm start`: a programme started a
 * year before `now`, run month by month over that year (orders earn after a
 * 14-day return window, members climb tiers, some spend their points), with
 * a rewards catalogue, a paid plan with a few members, and a week of the
 * wheel (every tenth customer with an email spins once).
 *
 * Deterministic: who redeems and who joins the plan follow from customer ids.
 */
import type { Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { DRAW_RANGE, createPlan, createReward, putLoyaltySettings, recordMembershipPayment, redeemReward, runLoyaltyPass, spinWheel, type Reward } from "../loyalty/index.ts";

const DAY_MS = 86_400_000;

export interface DemoLoyaltySummary {
  members: number;
  points: number;
  redemptions: number;
  paidMembers: number;
}

export async function loadDemoLoyalty(store: Store, ws: Workspace, now: Date): Promise<DemoLoyaltySummary> {
  const start = new Date(now.getTime() - 365 * DAY_MS);
  await putLoyaltySettings(
    store,
    ws,
    {
      enabled: true,
      startsAt: start.toISOString(),
      pointsPerUnit: 1,
      creditAfterDays: 14,
      pointValueMinor: 1,
      bonuses: [{ event: "Signed Up", points: 100, once: "ever" }],
      tiers: {
        basis: "spend",
        windowDays: 365,
        levels: [
          { name: "Silver", threshold: 15_000, multiplier: 1, perks: ["early access to sales"] },
          { name: "Gold", threshold: 40_000, multiplier: 1.5, perks: ["free shipping", "points × 1.5"] },
        ],
      },
      referrals: { enabled: true, referrerPoints: 500, welcome: { kind: "fixed", value: 1000 }, minOrderMinor: 2000, maxRewardedPerYear: 10, landingUrl: null },
      wheel: {
        enabled: true,
        periodDays: 7,
        requireEmailOptIn: true,
        prizes: [
          { id: "again", label: "Try again", weight: 55, kind: "none" },
          { id: "points", label: "50 points", weight: 30, kind: "points", value: 50 },
          { id: "ship", label: "Free shipping", weight: 10, kind: "freeShipping" },
          { id: "ten", label: "10 % off", weight: 5, kind: "percent", value: 10, stock: 100 },
        ],
      },
    },
    start,
  );
  const rewards: Reward[] = [];
  for (const r of [
    { name: "Free shipping", kind: "freeShipping", cost: 300 },
    { name: "€5 off", kind: "fixed", value: 500, cost: 500 },
    { name: "10 % off", kind: "percent", value: 10, cost: 800, perCustomerLimit: 3 },
    { name: "€20 off (Gold)", kind: "fixed", value: 2000, cost: 1500, minTier: "Gold" },
  ]) {
    rewards.push(await createReward(store, ws, r, start));
  }
  const plan = await createPlan(store, ws, { name: "Club", priceMinor: 499, period: { unit: "month" }, perks: { freeShipping: true, pointsMultiplier: 2, earlyAccess: true } }, start);
  const fiver = rewards[1];

  let redemptions = 0;
  let paidMembers = 0;
  for (let month = 1; month <= 12; month += 1) {
    const at = new Date(start.getTime() + month * (365 / 12) * DAY_MS);
    await runLoyaltyPass(store, ws, at);
    // Every third member with enough points spends them on €5 off that month.
    if (fiver) {
      const rich = await store.query<{ external_id: string }>(
        `SELECT c.external_id FROM loyalty_accounts a JOIN customers c ON c.id = a.customer_id
          WHERE a.workspace_id = $1 AND a.balance >= $2 AND a.customer_id % 3 = $3 ORDER BY a.customer_id`,
        [ws.id, fiver.cost, month % 3],
      );
      for (const r of rich) {
        await redeemReward(store, ws, r.external_id, { rewardId: fiver.id, key: `demo:${month}:${r.external_id}` }, at);
        redemptions += 1;
      }
    }
    // Gold members join the paid plan in month 9 and pay each month after (a few stop and lapse).
    if (month === 9) {
      const gold = await store.query<{ customer_id: number }>("SELECT customer_id FROM loyalty_accounts WHERE workspace_id = $1 AND tier = 'Gold' AND customer_id % 2 = 0 ORDER BY customer_id LIMIT 40", [ws.id]);
      for (const g of gold) {
        await recordMembershipPayment(store, ws, Number(g.customer_id), "start", { planId: plan.id, key: `demo:${month}:${g.customer_id}` }, at);
        paidMembers += 1;
      }
    } else if (month > 9) {
      const members = await store.query<{ customer_id: number }>("SELECT customer_id FROM loyalty_memberships WHERE workspace_id = $1 AND status = 'active' AND customer_id % 7 <> $2 ORDER BY customer_id", [ws.id, month - 10]);
      for (const m of members) await recordMembershipPayment(store, ws, Number(m.customer_id), "renewal", { key: `demo:${month}:${m.customer_id}` }, at);
    }
  }
  // A week of the wheel: every tenth customer with an email spins once (the draw from their id, so the demo stays the same).
  const spinners = await store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND email IS NOT NULL AND id % 10 = 0 ORDER BY id", [ws.id]);
  for (const [i, c] of spinners.entries()) {
    const at = new Date(now.getTime() - 7 * DAY_MS + Math.floor((i * 7 * DAY_MS) / Math.max(1, spinners.length)));
    await spinWheel(store, ws, Number(c.id), { key: `demo:spin:${c.id}`, optIn: true }, at, () => (Number(c.id) * 7919) % DRAW_RANGE);
  }
  await runLoyaltyPass(store, ws, now);
  const [totals] = await store.query<{ members: number; points: number }>(
    "SELECT count(*) FILTER (WHERE earned > 0)::int AS members, COALESCE(sum(balance), 0)::bigint AS points FROM loyalty_accounts WHERE workspace_id = $1",
    [ws.id],
  );
  return { members: totals?.members ?? 0, points: Number(totals?.points ?? 0), redemptions, paidMembers };
}
