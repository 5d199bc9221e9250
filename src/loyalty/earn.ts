/**
 * Earning: the programme's settings and the sweep that credits points.
 *
 * Each pass credits, from where the last one stopped (`credited_until`, with
 * a day's overlap that the idempotency keys make harmless):
 * - **orders** placed since the programme started, once their return window
 *   (`creditAfterDays`) has passed: `pointsPerUnit` per major currency unit
 *   of the order's subtotal net of discounts and of what was refunded by
 *   then (shipping and tax earn nothing), times the best campaign multiplier
 *   that applies; key `order:<id>`.
 * - **refunds** recorded after their order was credited take back the points
 *   in proportion to the amount refunded (floor), key `refund:<id>`.
 * - **bonus events** (sign-up, first review, profile completed… whatever the
 *   shop sends): a fixed number of points, once ever or once a year per
 *   customer, key `bonus:<event>:<customer>[:<year>]`.
 * Orders placed before the programme started earn nothing: switching it on
 * over two years of history does not hand out two years of points.
 */
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { parseInput, minorDigits } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { postPoints, type PointsEntry } from "./ledger.ts";

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day, YYYY-MM-DD");

export const LoyaltySettings = z.strictObject({
  enabled: z.boolean().default(false),
  startsAt: z.iso.datetime({ error: "must be an ISO 8601 UTC time" }).nullable().default(null).describe("orders placed from then on earn; set when the programme is first enabled"),
  pointsPerUnit: z.number().min(0).max(1000).default(1).describe("points per major currency unit spent (net of discounts)"),
  creditAfterDays: z.number().int().min(0).max(365).default(0).describe("credit an order's points once this many days have passed (the return window); 0: when placed"),
  bonuses: z
    .array(
      z.strictObject({
        event: z.string().trim().min(1).max(200),
        points: z.number().int().min(1).max(1_000_000),
        once: z.enum(["ever", "perYear"]).default("ever"),
      }),
    )
    .max(20)
    .default([{ event: "Signed Up", points: 100, once: "ever" }]),
  campaigns: z
    .array(
      z.strictObject({
        name: z.string().trim().min(1).max(100),
        multiplier: z.number().min(1).max(10),
        from: Day,
        to: Day.describe("inclusive"),
        segmentId: z.number().int().positive().optional().describe("only members of this segment"),
      }),
    )
    .max(20)
    .default([]),
  expiry: z
    .discriminatedUnion("mode", [
      z.strictObject({ mode: z.literal("none") }),
      z.strictObject({
        mode: z.literal("inactivity"),
        days: z.number().int().min(1).max(3660).describe("the whole balance expires after this many days without earning or spending"),
        remindDaysBefore: z.number().int().min(0).max(365).default(14),
      }),
      z.strictObject({
        mode: z.literal("age"),
        days: z.number().int().min(1).max(3660).describe("points expire this many days after they were earned, oldest spent first"),
        remindDaysBefore: z.number().int().min(0).max(365).default(14),
      }),
    ])
    .default({ mode: "none" }),
  codeWebhookUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).nullable().default(null).describe("where reward codes are pushed (signed POST) so the shop's checkout accepts them"),
});
export type LoyaltySettings = z.output<typeof LoyaltySettings>;

export async function getLoyaltySettings(db: Queryable, ws: Workspace): Promise<LoyaltySettings> {
  const rows = await db.query<{ settings: unknown }>("SELECT settings FROM loyalty_settings WHERE workspace_id = $1", [ws.id]);
  return LoyaltySettings.parse(rows[0]?.settings ?? {});
}

/** Replaces the settings; enabling the programme for the first time starts it now. */
export async function putLoyaltySettings(db: Store, ws: Workspace, input: unknown, now: Date): Promise<LoyaltySettings> {
  const next = parseInput(LoyaltySettings, input);
  const current = await getLoyaltySettings(db, ws);
  const settings: LoyaltySettings = { ...next, startsAt: next.startsAt ?? current.startsAt ?? (next.enabled ? now.toISOString() : null) };
  await db.query(
    `INSERT INTO loyalty_settings (workspace_id, settings, updated_at) VALUES ($1, $2::jsonb, $3)
     ON CONFLICT (workspace_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at`,
    [ws.id, JSON.stringify(settings), now],
  );
  return settings;
}

export interface CreditResult {
  orders: number;
  refunds: number;
  bonuses: number;
  points: number;
}

const DAY_MS = 86_400_000;
const OVERLAP_MS = DAY_MS;

/** One pass of the earning sweep at `now`. */
export async function creditPoints(store: Store, ws: Workspace, now: Date): Promise<CreditResult> {
  const result: CreditResult = { orders: 0, refunds: 0, bonuses: 0, points: 0 };
  const settings = await getLoyaltySettings(store, ws);
  if (!settings.enabled || !settings.startsAt) return result;
  const start = Date.parse(settings.startsAt);
  const [row] = await store.query<{ credited_until: Date | null }>("SELECT credited_until FROM loyalty_settings WHERE workspace_id = $1", [ws.id]);
  const delay = settings.creditAfterDays * DAY_MS;
  const from = new Date(Math.max(start, (row?.credited_until?.getTime() ?? start) - OVERLAP_MS));
  // Orders come due `delay` after they are placed: the window of orders trails the others by as much.
  const ordersFrom = new Date(Math.max(start, (row?.credited_until?.getTime() ?? start) - delay - OVERLAP_MS));
  const ordersUntil = new Date(now.getTime() - delay);
  const unit = 10 ** minorDigits(ws.currency);

  await store.transaction(async (tx) => {
    // Orders whose return window has passed, net of what was refunded by then.
    const orders = await tx.query<{ customer_id: number; external_id: string; placed_at: Date; net: number; refunded: number }>(
      `SELECT o.customer_id, o.external_id, o.placed_at, GREATEST(o.subtotal_minor - o.discount_minor, 0) AS net,
              COALESCE((SELECT sum(r.amount_minor) FROM refunds r WHERE r.order_id = o.id), 0) AS refunded
         FROM orders o
        WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.currency = $5 AND o.status <> ALL($4::text[])
          AND o.placed_at >= $6 AND o.placed_at >= $2 AND o.placed_at <= $3`,
      [ws.id, ordersFrom, ordersUntil, [...NON_PURCHASE_STATUSES], ws.currency, new Date(start)],
    );
    const segmentMembers = new Map<number, Set<number>>();
    for (const c of settings.campaigns) {
      if (c.segmentId === undefined || segmentMembers.has(c.segmentId)) continue;
      const members = await tx.query<{ customer_id: number }>("SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL", [c.segmentId]);
      segmentMembers.set(c.segmentId, new Set(members.map((m) => Number(m.customer_id))));
    }
    const multiplier = (customerId: number, at: Date): number => {
      const day = at.toISOString().slice(0, 10);
      return settings.campaigns
        .filter((c) => c.from <= day && day <= c.to && (c.segmentId === undefined || (segmentMembers.get(c.segmentId)?.has(customerId) ?? false)))
        .reduce((m, c) => Math.max(m, c.multiplier), 1);
    };
    const entries: PointsEntry[] = [];
    for (const o of orders) {
      const earnable = Math.max(0, Number(o.net) - Number(o.refunded));
      const points = Math.floor((earnable / unit) * settings.pointsPerUnit * multiplier(Number(o.customer_id), o.placed_at));
      if (points > 0) entries.push({ customerId: Number(o.customer_id), kind: "earn", points, reason: "order", reference: `order:${o.external_id}`, key: `order:${o.external_id}` });
    }
    // Refunds recorded after their order earned take back the same share of its points
    // (refunds known when it was credited were already netted out).
    const refunds = await tx.query<{ customer_id: number; external_id: string; amount_minor: number; order_ext: string; net: number; earned: number }>(
      `SELECT o.customer_id, r.external_id, r.amount_minor, o.external_id AS order_ext, GREATEST(o.subtotal_minor - o.discount_minor, 0) AS net, l.points AS earned
         FROM refunds r JOIN orders o ON o.id = r.order_id
         JOIN loyalty_ledger l ON l.workspace_id = r.workspace_id AND l.idempotency_key = 'order:' || o.external_id
        WHERE r.workspace_id = $1 AND r.created_at >= $2 AND r.created_at <= $3 AND r.created_at > l.created_at AND o.customer_id IS NOT NULL`,
      [ws.id, from, now],
    );
    for (const r of refunds) {
      const points = Number(r.net) > 0 ? Math.floor((Number(r.earned) * Math.min(Number(r.amount_minor), Number(r.net))) / Number(r.net)) : 0;
      if (points > 0) entries.push({ customerId: Number(r.customer_id), kind: "clawback", points, reason: "refund", reference: `refund:${r.external_id}`, key: `refund:${r.external_id}` });
    }
    // Bonus events.
    if (settings.bonuses.length > 0) {
      const events = await tx.query<{ customer_id: number; name: string; at: Date }>(
        `SELECT customer_id, name, occurred_at AS at FROM events
          WHERE workspace_id = $1 AND name = ANY($2::text[]) AND customer_id IS NOT NULL AND occurred_at >= $3 AND occurred_at <= $4 AND occurred_at >= $5
          ORDER BY occurred_at, id`,
        [ws.id, settings.bonuses.map((b) => b.event), from, now, new Date(start)],
      );
      for (const e of events) {
        const bonus = settings.bonuses.find((b) => b.event === e.name);
        if (!bonus) continue;
        const year = e.at.getUTCFullYear();
        const key = `bonus:${e.name}:${e.customer_id}${bonus.once === "perYear" ? `:${year}` : ""}`;
        if (entries.some((x) => x.key === key)) continue;
        entries.push({ customerId: Number(e.customer_id), kind: "earn", points: bonus.points, reason: `bonus: ${e.name}`, reference: `event:${e.name}`, key });
      }
    }
    // Already-credited keys answer as repeats; only new entries count.
    for (let i = 0; i < entries.length; i += 2000) {
      const posted = await postPoints(tx, ws, entries.slice(i, i + 2000), now);
      for (const p of posted.filter((x) => x.created)) {
        if (p.key.startsWith("order:")) result.orders += 1;
        else if (p.key.startsWith("refund:")) result.refunds += 1;
        else result.bonuses += 1;
        result.points += p.points;
      }
    }
    await tx.query("UPDATE loyalty_settings SET credited_until = $2 WHERE workspace_id = $1", [ws.id, now]);
  });
  return result;
}
