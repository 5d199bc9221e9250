/**
 * VIP tiers: a member's tier is the highest level whose threshold their
 * qualifying value reaches, where the value is the spend (net order value in
 * minor units: subtotal less discounts and refunds, workspace currency) or
 * the points earned less those clawed back over a rolling window.
 *
 * Tiers are assigned by passes on the loyalty worker:
 * - an incremental pass every time, for customers with orders or ledger
 *   entries since the last one (an order lifts its customer at once);
 * - a full pass once a day, because a rolling window also drops old spend
 *   with nobody doing anything.
 * A change writes `Tier Changed` to the event log (from, to, direction,
 * value), so journeys can congratulate an upgrade or warn of a downgrade.
 */
import type { Queryable, Store } from "../store/index.ts";
import { formatMoney } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { getLoyaltySettings, type TierSettings } from "./earn.ts";

const DAY_MS = 86_400_000;
type Level = TierSettings["levels"][number];

/** The highest level the value reaches, or null below the first threshold. */
export function levelFor(levels: readonly Level[], value: number): Level | null {
  let best: Level | null = null;
  for (const l of levels) if (value >= l.threshold) best = l;
  return best;
}

/**
 * Qualifying values at `now`, for some customers or (without `customerIds`)
 * for every customer with any in the window. One grouped query.
 */
export async function qualifyingValues(db: Queryable, ws: Workspace, tiers: TierSettings, now: Date, customerIds?: readonly number[]): Promise<Map<number, number>> {
  const from = new Date(now.getTime() - tiers.windowDays * DAY_MS);
  const rows =
    tiers.basis === "spend"
      ? await db.query<{ customer_id: number; value: number }>(
          `SELECT o.customer_id, sum(GREATEST(o.subtotal_minor - o.discount_minor - COALESCE((SELECT sum(r.amount_minor) FROM refunds r WHERE r.order_id = o.id), 0), 0))::bigint AS value
             FROM orders o
            WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.placed_at > $2 AND o.placed_at <= $3
              AND o.currency = $5 AND o.status <> ALL($6::text[]) AND ($4::bigint[] IS NULL OR o.customer_id = ANY($4::bigint[]))
            GROUP BY o.customer_id`,
          [ws.id, from, now, customerIds ?? null, ws.currency, [...NON_PURCHASE_STATUSES]],
        )
      : await db.query<{ customer_id: number; value: number }>(
          // Points earned less those clawed back (a refunded order's points don't keep a tier).
          `SELECT customer_id, GREATEST(sum(points), 0)::bigint AS value FROM loyalty_ledger
            WHERE workspace_id = $1 AND kind IN ('earn', 'clawback') AND created_at > $2 AND created_at <= $3 AND ($4::bigint[] IS NULL OR customer_id = ANY($4::bigint[]))
            GROUP BY customer_id`,
          [ws.id, from, now, customerIds ?? null],
        );
  return new Map(rows.map((r) => [Number(r.customer_id), Number(r.value)]));
}

export interface TierResult {
  checked: number;
  upgraded: number;
  downgraded: number;
}

/**
 * Re-tiers customers in `tx`: the given ones, or everyone in a tier or with
 * a qualifying value. Writes the changes and their events; returns counts.
 */
export async function retier(tx: Queryable, ws: Workspace, tiers: TierSettings, now: Date, customerIds?: readonly number[]): Promise<TierResult> {
  const result: TierResult = { checked: 0, upgraded: 0, downgraded: 0 };
  const values = await qualifyingValues(tx, ws, tiers, now, customerIds);
  const current = await tx.query<{ customer_id: number; tier: string | null }>(
    `SELECT customer_id, tier FROM loyalty_accounts WHERE workspace_id = $1 AND ${customerIds ? "customer_id = ANY($2::bigint[])" : "tier IS NOT NULL"}`,
    customerIds ? [ws.id, customerIds] : [ws.id],
  );
  const tierOf = new Map(current.map((r) => [Number(r.customer_id), r.tier]));
  const candidates = new Set([...values.keys(), ...tierOf.keys()]);
  const rank = (name: string | null | undefined) => (name ? tiers.levels.findIndex((l) => l.name === name) : -1);
  const changes: { customer_id: number; tier: string | null; value: number; from: string | null; direction: "up" | "down" }[] = [];
  const valuesOnly: { customer_id: number; value: number }[] = [];
  for (const id of candidates) {
    result.checked += 1;
    const value = values.get(id) ?? 0;
    const from = tierOf.get(id) ?? null;
    const to = levelFor(tiers.levels, value)?.name ?? null;
    if (to === from) {
      if (tierOf.has(id)) valuesOnly.push({ customer_id: id, value });
      continue;
    }
    // A tier the settings no longer have ranks below every level: moving off it is a downgrade only to nothing.
    const direction = rank(to) > rank(from) ? "up" : "down";
    if (direction === "up") result.upgraded += 1;
    else result.downgraded += 1;
    changes.push({ customer_id: id, tier: to, value, from, direction });
  }
  if (changes.length > 0) {
    // Accounts for customers reaching a tier before their first points.
    await tx.query(
      `INSERT INTO loyalty_accounts (workspace_id, customer_id, updated_at)
       SELECT $1, c.id, $3 FROM customers c WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])
       ON CONFLICT (customer_id) DO NOTHING`,
      [ws.id, changes.map((c) => c.customer_id), now],
    );
    await tx.query(
      `WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, tier text, value bigint, "from" text, direction text)),
       updated AS (
         UPDATE loyalty_accounts a SET tier = x.tier, tier_since = $3, tier_value = x.value, updated_at = $3
           FROM x WHERE a.workspace_id = $1 AND a.customer_id = x.customer_id
         RETURNING a.customer_id)
       INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
       SELECT $1, 'tier:' || x.customer_id || ':' || $4 || ':' || COALESCE(x.tier, ''), 'loyalty', 'Tier Changed', x.customer_id,
              jsonb_build_object('from', x."from", 'to', x.tier, 'direction', x.direction, 'value', x.value, 'basis', $5::text), $3, $3
         FROM x JOIN updated u ON u.customer_id = x.customer_id
       ON CONFLICT (workspace_id, message_id) DO NOTHING`,
      [ws.id, JSON.stringify(changes), now, now.toISOString(), tiers.basis],
    );
  }
  if (valuesOnly.length > 0) {
    await tx.query(
      `UPDATE loyalty_accounts a SET tier_value = x.value FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, value bigint)
        WHERE a.workspace_id = $1 AND a.customer_id = x.customer_id AND a.tier_value <> x.value`,
      [ws.id, JSON.stringify(valuesOnly)],
    );
  }
  return result;
}

/**
 * One tier pass of the worker: customers with orders or points since the
 * last pass, or everyone once a day.
 */
export async function assignTiers(store: Store, ws: Workspace, now: Date): Promise<TierResult> {
  const settings = await getLoyaltySettings(store, ws);
  if (!settings.enabled || settings.tiers.levels.length === 0) return { checked: 0, upgraded: 0, downgraded: 0 };
  const day = now.toISOString().slice(0, 10);
  return store.transaction(async (tx) => {
    // One pass at a time: the watermark and the changes go together.
    const [row] = await tx.query<{ tiers_assigned_on: string | null; tiers_checked_at: Date | null }>(
      "SELECT to_char(tiers_assigned_on, 'YYYY-MM-DD') AS tiers_assigned_on, tiers_checked_at FROM loyalty_settings WHERE workspace_id = $1 FOR UPDATE",
      [ws.id],
    );
    let result: TierResult;
    if (!row || row.tiers_assigned_on !== day || !row.tiers_checked_at) {
      result = await retier(tx, ws, settings.tiers, now);
    } else {
      // A minute of overlap: an order committed just after the last pass read may carry a time before it.
      const since = new Date(row.tiers_checked_at.getTime() - 60_000);
      const touched = await tx.query<{ customer_id: number }>(
        // Each on an index (this runs every minute): orders by when they were placed (one imported
        // long after, back-dated, waits for the daily pass), ledger entries and refunds by when they came.
        `SELECT customer_id FROM orders WHERE workspace_id = $1 AND customer_id IS NOT NULL AND placed_at >= $2
         UNION SELECT customer_id FROM loyalty_ledger WHERE workspace_id = $1 AND created_at >= $2
         UNION SELECT o.customer_id FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.workspace_id = $1 AND r.created_at >= $2 AND o.customer_id IS NOT NULL`,
        [ws.id, since],
      );
      result = touched.length === 0 ? { checked: 0, upgraded: 0, downgraded: 0 } : await retier(tx, ws, settings.tiers, now, touched.map((t) => Number(t.customer_id)));
    }
    await tx.query("UPDATE loyalty_settings SET tiers_assigned_on = $2::date, tiers_checked_at = $3 WHERE workspace_id = $1", [ws.id, day, now]);
    return result;
  });
}

export interface TierProgress {
  basis: TierSettings["basis"];
  windowDays: number;
  /** Spend in minor units, or points, over the window, now. */
  value: number;
  tier: { name: string; threshold: number; multiplier: number; perks: string[] } | null;
  next: { name: string; threshold: number; remaining: number } | null;
  /** "Spend €40.00 more to reach Gold", for a widget that shows one line. */
  message: string;
}

/** Where a customer stands now (computed live, not from the last pass). */
export async function tierProgress(db: Queryable, ws: Workspace, tiers: TierSettings, customerId: number, now: Date): Promise<TierProgress | null> {
  if (tiers.levels.length === 0) return null;
  const value = (await qualifyingValues(db, ws, tiers, now, [customerId])).get(customerId) ?? 0;
  const level = levelFor(tiers.levels, value);
  const upcoming = tiers.levels.find((l) => l.threshold > value) ?? null;
  const next = upcoming ? { name: upcoming.name, threshold: upcoming.threshold, remaining: upcoming.threshold - value } : null;
  const amount = (n: number) => (tiers.basis === "spend" ? formatMoney(n, ws.currency) : `${n} points`);
  const message = next
    ? `${tiers.basis === "spend" ? "Spend" : "Earn"} ${amount(next.remaining)} more to reach ${next.name}`
    : `You are in ${level?.name ?? "the top tier"}, the top tier`;
  return { basis: tiers.basis, windowDays: tiers.windowDays, value, tier: level ? { name: level.name, threshold: level.threshold, multiplier: level.multiplier, perks: level.perks } : null, next, message };
}

/** Customers' current tiers (absent: no tier), as the last pass assigned them. */
export async function tiersOf(db: Queryable, ws: Workspace, customerIds: readonly number[]): Promise<Map<number, string>> {
  if (customerIds.length === 0) return new Map();
  const rows = await db.query<{ customer_id: number; tier: string }>(
    "SELECT customer_id, tier FROM loyalty_accounts WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[]) AND tier IS NOT NULL",
    [ws.id, customerIds],
  );
  return new Map(rows.map((r) => [Number(r.customer_id), r.tier]));
}
