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
import { AppError, parseInput, minorDigits } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { noteSegmentUses } from "../segments/index.ts";
import { postPoints, type PointsEntry, type Posted } from "./ledger.ts";

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day, YYYY-MM-DD");

/** VIP tiers: by spend (minor units) or points earned over a rolling window; each level a threshold and its benefits. */
export const TierSettings = z
  .strictObject({
    basis: z.enum(["spend", "points"]).default("spend").describe("spend: net order value in minor units; points: points earned"),
    windowDays: z.number().int().min(1).max(3660).default(365).describe("the rolling window the basis is summed over"),
    levels: z
      .array(
        z.strictObject({
          name: z.string().trim().min(1).max(60),
          threshold: z.number().int().min(0).max(1e12).describe("the basis needed over the window (minor units for spend)"),
          multiplier: z.number().min(1).max(10).default(1).describe("points earned on orders × this"),
          perks: z.array(z.string().trim().min(1).max(200)).max(20).default([]).describe("benefits shown to the member (free shipping, early access…)"),
        }),
      )
      .max(10)
      .default([]),
  })
  .superRefine((t, ctx) => {
    t.levels.forEach((l, i) => {
      const prev = t.levels[i - 1];
      if (prev && l.threshold <= prev.threshold) ctx.addIssue({ code: "custom", path: ["levels", i, "threshold"], message: `must be more than the tier before (${prev.threshold})` });
      if (t.levels.findIndex((x) => x.name === l.name) !== i) ctx.addIssue({ code: "custom", path: ["levels", i, "name"], message: `"${l.name}" is used twice` });
    });
  });
export type TierSettings = z.output<typeof TierSettings>;

/** What a prize or a welcome reward gives: a discount code of a kind, or points. */
export const CodeReward = z
  .strictObject({
    kind: z.enum(["fixed", "percent", "freeShipping"]),
    value: z.number().int().min(1).max(100_000_000).optional().describe("fixed: minor units off; percent: 1–100"),
  })
  .superRefine((r, ctx) => {
    if (r.kind !== "freeShipping" && r.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: `is required for a ${r.kind} reward` });
    if (r.kind === "percent" && r.value !== undefined && r.value > 100) ctx.addIssue({ code: "custom", path: ["value"], message: "must be a percentage, 1–100" });
  });
export type CodeReward = z.output<typeof CodeReward>;

export const ReferralSettings = z.strictObject({
  enabled: z.boolean().default(false),
  referrerPoints: z.number().int().min(0).max(1_000_000).default(500).describe("points for the referrer once the referee's first order is past the return window"),
  welcome: CodeReward.default({ kind: "fixed", value: 1000 }).describe("the referee's reward: a code for the first order"),
  minOrderMinor: z.number().int().min(0).max(1e12).default(0).describe("the first order must be worth at least this (net, minor units) to reward the referrer"),
  maxRewardedPerYear: z.number().int().min(1).max(1000).default(10).describe("referrals a referrer can be rewarded for per 365 days"),
  landingUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).nullable().default(null).describe("the page a referral link opens (the code is added as ?ref=)"),
});
export type ReferralSettings = z.output<typeof ReferralSettings>;

export const WheelPrize = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be a short id: lowercase letters, digits and dashes"),
    label: z.string().trim().min(1).max(100),
    weight: z.number().min(0).max(100).describe("the odds in percent; all prizes sum to 100"),
    kind: z.enum(["none", "points", "fixed", "percent", "freeShipping"]),
    value: z.number().int().min(1).max(100_000_000).optional().describe("points: how many; fixed: minor units off; percent: 1–100"),
    stock: z.number().int().min(0).max(100_000_000).nullable().default(null).describe("how many can be won in all; null: no limit. A prize out of stock counts as no prize"),
  })
  .superRefine((p, ctx) => {
    if ((p.kind === "points" || p.kind === "fixed" || p.kind === "percent") && p.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: `is required for a ${p.kind} prize` });
    if (p.kind === "percent" && p.value !== undefined && p.value > 100) ctx.addIssue({ code: "custom", path: ["value"], message: "must be a percentage, 1–100" });
  });
export type WheelPrize = z.output<typeof WheelPrize>;

export const WheelSettings = z
  .strictObject({
    enabled: z.boolean().default(false),
    periodDays: z.number().int().min(1).max(365).default(7).describe("one spin per customer per this many days"),
    requireEmailOptIn: z.boolean().default(false).describe("a spin asks for (and records) consent to marketing email"),
    prizes: z.array(WheelPrize).max(12).default([]),
  })
  .superRefine((w, ctx) => {
    if (w.enabled && w.prizes.length === 0) ctx.addIssue({ code: "custom", path: ["prizes"], message: "a wheel needs prizes" });
    if (w.prizes.length > 0) {
      // Odds in hundredths of a percent, so 33.33 + 33.33 + 33.34 is exactly 100.
      const total = w.prizes.reduce((s, p) => s + Math.round(p.weight * 100), 0);
      if (total !== 10_000) ctx.addIssue({ code: "custom", path: ["prizes"], message: `the odds sum to ${total / 100} %, not 100 %` });
    }
    w.prizes.forEach((p, i) => {
      if (w.prizes.findIndex((x) => x.id === p.id) !== i) ctx.addIssue({ code: "custom", path: ["prizes", i, "id"], message: `"${p.id}" is used twice` });
    });
  });
export type WheelSettings = z.output<typeof WheelSettings>;

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
  pointValueMinor: z.number().min(0).max(1_000_000).default(1).describe("what one point costs the shop, in minor units of the workspace currency: the liability of the points outstanding"),
  tiers: TierSettings.default({ basis: "spend", windowDays: 365, levels: [] }),
  referrals: ReferralSettings.default({ enabled: false, referrerPoints: 500, welcome: { kind: "fixed", value: 1000 }, minOrderMinor: 0, maxRewardedPerYear: 10, landingUrl: null }),
  wheel: WheelSettings.default({ enabled: false, periodDays: 7, requireEmailOptIn: false, prizes: [] }),
  storefront: z
    .strictObject({
      allowedOrigins: z.array(z.url({ protocol: /^https?$/, error: "must be an origin, e.g. https://shop.example" })).max(20).default([]).describe("origins the storefront widget may call the customer API from (CORS)"),
    })
    .default({ allowedOrigins: [] }),
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
  // Campaigns for a segment: the segment must exist, and stays while a campaign names it.
  const segmentIds = [...new Set(settings.campaigns.flatMap((c) => (c.segmentId === undefined ? [] : [c.segmentId])))];
  if (segmentIds.length > 0) {
    const known = new Set((await db.query<{ id: number }>("SELECT id FROM segments WHERE workspace_id = $1 AND id = ANY($2::bigint[])", [ws.id, segmentIds])).map((r) => Number(r.id)));
    const i = settings.campaigns.findIndex((c) => c.segmentId !== undefined && !known.has(c.segmentId));
    if (i >= 0) throw new AppError("invalid_input", `campaigns.${i}.segmentId: no segment ${settings.campaigns[i]?.segmentId} in this workspace`, [{ field: `campaigns.${i}.segmentId`, message: "no such segment" }]);
  }
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO loyalty_settings (workspace_id, settings, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (workspace_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at`,
      [ws.id, JSON.stringify(settings), now],
    );
    await noteSegmentUses(
      tx,
      ws,
      "loyalty:campaigns",
      segmentIds.map((id) => {
        const names = settings.campaigns.filter((c) => c.segmentId === id).map((c) => `"${c.name}"`);
        return { segmentId: id, label: `loyalty campaign${names.length > 1 ? "s" : ""} ${names.join(", ")}` };
      }),
    );
  });
  return settings;
}

export interface CreditResult {
  orders: number;
  refunds: number;
  bonuses: number;
  points: number;
  /** Entries refused (a key already used for another entry): the rest are credited. */
  skipped: number;
  skippedWhy: string[];
}

const DAY_MS = 86_400_000;
const OVERLAP_MS = DAY_MS;

/** One pass of the earning sweep at `now`. */
export async function creditPoints(store: Store, ws: Workspace, now: Date): Promise<CreditResult> {
  const result: CreditResult = { orders: 0, refunds: 0, bonuses: 0, points: 0, skipped: 0, skippedWhy: [] };
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
    // The member's own multipliers: their tier's and their paid plan's (at crediting time).
    const own = new Map(
      (
        await tx.query<{ customer_id: number; tier: string | null; plan_multiplier: number | null }>(
          `SELECT c.id AS customer_id, a.tier, (p.perks->>'pointsMultiplier')::float8 AS plan_multiplier
             FROM unnest($2::bigint[]) AS c(id)
             LEFT JOIN loyalty_accounts a ON a.customer_id = c.id AND a.workspace_id = $1
             LEFT JOIN loyalty_memberships m ON m.customer_id = c.id AND m.workspace_id = $1 AND m.status = 'active'
             LEFT JOIN loyalty_plans p ON p.id = m.plan_id
            WHERE a.tier IS NOT NULL OR m.customer_id IS NOT NULL`,
          [ws.id, [...new Set(orders.map((o) => Number(o.customer_id)))]],
        )
      ).map((r) => [Number(r.customer_id), (settings.tiers.levels.find((l) => l.name === r.tier)?.multiplier ?? 1) * (r.plan_multiplier ?? 1)]),
    );
    // Campaigns don't stack with each other (the best applies); they do with the tier and the plan.
    const multiplier = (customerId: number, at: Date): number => {
      const day = at.toISOString().slice(0, 10);
      const campaign = settings.campaigns
        .filter((c) => c.from <= day && day <= c.to && (c.segmentId === undefined || (segmentMembers.get(c.segmentId)?.has(customerId) ?? false)))
        .reduce((m, c) => Math.max(m, c.multiplier), 1);
      return campaign * (own.get(customerId) ?? 1);
    };
    const entries: PointsEntry[] = [];
    for (const o of orders) {
      const earnable = Math.max(0, Number(o.net) - Number(o.refunded));
      // A hair over the float error before flooring: 100 × 1.15 is 114.99999999999999 in binary, and earns 115.
      const points = Math.floor((earnable / unit) * settings.pointsPerUnit * multiplier(Number(o.customer_id), o.placed_at) + 1e-9);
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
      const posted = await postOrSkip(tx, ws, entries.slice(i, i + 2000), now, result);
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

/**
 * Posts a batch; when the ledger refuses it for one entry (its key already
 * used for another entry, e.g. by hand), posts the entries one by one and
 * skips the refused ones, so one bad key holds up nobody else's points.
 * Refusals are answers, not errors, so the transaction stays usable.
 */
async function postOrSkip(tx: Queryable, ws: Workspace, entries: PointsEntry[], now: Date, result: CreditResult): Promise<Posted[]> {
  try {
    return await postPoints(tx, ws, entries, now);
  } catch (err) {
    if (!(err instanceof AppError) || entries.length === 1) throw err;
  }
  const out: Posted[] = [];
  for (const e of entries) {
    try {
      out.push(...(await postPoints(tx, ws, [e], now)));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      result.skipped += 1;
      if (result.skippedWhy.length < 5) result.skippedWhy.push(`${e.key}: ${err.message}`);
    }
  }
  return out;
}
