/**
 * What the Loyalty page and `GET /api/loyalty/overview` and `/members` show:
 * the programme's figures, read from the ledger and the accounts in a few
 * set-based statements (no per-customer loop: a shop may have a million).
 *
 * - A **member** is a customer whose account has earned points (earned > 0).
 * - **Points outstanding** is the sum of the balances; their **liability** is
 *   outstanding × `pointValueMinor`, rounded to whole minor units of the
 *   workspace currency.
 * - Lifetime **earned** counts every credit (earn, adjustments up); **spent**
 *   the redemptions; **expired** the expiries. The **redemption rate** is
 *   spent ÷ earned.
 * - The monthly series covers the 12 calendar months (UTC) up to `now`, the
 *   current one included, empty months as zeros.
 * - **Members vs non-members**: among customers with at least one order, the
 *   share with two or more (`customer_rollups.order_count`, the repeat rate of
 *   src/metrics' channel report). This is a comparison, not an effect of the
 *   programme: customers who join are those who were coming back anyway. The
 *   journeys' holdouts and backtests measure effects.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { wholeNumber } from "../metrics/index.ts";
import { getLoyaltySettings } from "./earn.ts";

export const MEMBERSHIP_STATUSES = ["active", "lapsed", "ended"] as const;
export const REFERRAL_STATUSES = ["pending", "qualified", "rewarded", "refused"] as const;

export interface LoyaltyMember {
  externalId: string;
  email: string | null;
  balance: number;
  earned: number;
  spent: number;
  tier: string | null;
  lastActivityAt: string | null;
}

export interface LoyaltyMonth {
  /** YYYY-MM (UTC). */
  month: string;
  earned: number;
  redeemed: number;
  expired: number;
}

export interface RepeatGroup {
  /** Customers with at least one order. */
  customers: number;
  /** Of them, those with two or more. */
  repeatCustomers: number;
  /** repeatCustomers ÷ customers; null when there is nobody. */
  repeatRate: number | null;
}

export interface LoyaltyOverview {
  asOf: string;
  currency: string;
  enabled: boolean;
  members: number;
  pointsOutstanding: number;
  /** What one point costs the shop, in minor units (from the settings). */
  pointValueMinor: number;
  /** pointsOutstanding × pointValueMinor, rounded to whole minor units of `currency`. */
  liabilityMinor: number;
  lifetime: { earned: number; spent: number; expired: number; clawedBack: number; adjustedDown: number };
  /** Points spent ÷ points earned, lifetime; null before any were earned. */
  redemptionRate: number | null;
  rewardsRedeemed: number;
  monthly: LoyaltyMonth[];
  /** Members by tier, in the settings' order; `tier: null` is members without one. */
  tiers: { tier: string | null; members: number }[];
  memberships: Record<(typeof MEMBERSHIP_STATUSES)[number], number>;
  referrals: Record<(typeof REFERRAL_STATUSES)[number], number>;
  /** Spins, and those that won a prize (not "no prize", nor a prize out of stock). */
  wheel: { spins: number; prizesWon: number; byPrize: { prizeId: string; label: string; spins: number; won: number }[] };
  /** A comparison, not a measured effect: see `note`. */
  membersVsNonMembers: { members: RepeatGroup; nonMembers: RepeatGroup; note: string };
  topEarners: LoyaltyMember[];
}

export const COMPARISON_NOTE =
  "A comparison, not the programme's effect: customers who join a loyalty programme are those already inclined to come back. Journey holdouts and backtests measure effects.";

const rate = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/** The 12 calendar months (UTC) ending with the month of `now`, oldest first, as YYYY-MM. */
function lastMonths(now: Date, n = 12): string[] {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  return Array.from({ length: n }, (_, i) => new Date(Date.UTC(y, m - (n - 1 - i), 1)).toISOString().slice(0, 7));
}

function repeatGroup(row: { customers: number; repeaters: number } | undefined): RepeatGroup {
  const customers = row?.customers ?? 0;
  const repeatCustomers = row?.repeaters ?? 0;
  return { customers, repeatCustomers, repeatRate: rate(repeatCustomers, customers) };
}

type MemberRow = { external_id: string; email: string | null; balance: number; earned: number; spent: number; tier: string | null; last_activity_at: Date | null };
const memberOf = (r: MemberRow): LoyaltyMember => ({
  externalId: r.external_id,
  email: r.email,
  balance: Number(r.balance),
  earned: Number(r.earned),
  spent: Number(r.spent),
  tier: r.tier,
  lastActivityAt: r.last_activity_at?.toISOString() ?? null,
});
const MEMBER_COLUMNS = "c.external_id, c.email, a.balance, a.earned, a.spent, a.tier, a.last_activity_at";

export async function loyaltyOverview(db: Queryable, ws: Workspace, now: Date): Promise<LoyaltyOverview> {
  const settings = await getLoyaltySettings(db, ws);
  const months = lastMonths(now);
  const [accounts] = await db.query<{ members: number; outstanding: number }>(
    "SELECT count(*) FILTER (WHERE earned > 0)::int AS members, COALESCE(sum(balance), 0)::bigint AS outstanding FROM loyalty_accounts WHERE workspace_id = $1",
    [ws.id],
  );
  // One pass over the ledger, by month: the lifetime totals are the sum of the months.
  const byMonth = await db.query<{ month: string; earned: number; redeemed: number; expired: number; clawed: number; adjusted_down: number }>(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
            COALESCE(sum(points) FILTER (WHERE points > 0), 0)::bigint AS earned,
            COALESCE(-sum(points) FILTER (WHERE kind = 'redeem'), 0)::bigint AS redeemed,
            COALESCE(-sum(points) FILTER (WHERE kind = 'expire'), 0)::bigint AS expired,
            COALESCE(-sum(points) FILTER (WHERE kind = 'clawback'), 0)::bigint AS clawed,
            COALESCE(-sum(points) FILTER (WHERE kind = 'adjust' AND points < 0), 0)::bigint AS adjusted_down
       FROM loyalty_ledger WHERE workspace_id = $1 AND created_at <= $2
      GROUP BY 1`,
    [ws.id, now],
  );
  const lifetime = { earned: 0, spent: 0, expired: 0, clawedBack: 0, adjustedDown: 0 };
  for (const r of byMonth) {
    lifetime.earned += Number(r.earned);
    lifetime.spent += Number(r.redeemed);
    lifetime.expired += Number(r.expired);
    lifetime.clawedBack += Number(r.clawed);
    lifetime.adjustedDown += Number(r.adjusted_down);
  }
  const monthly = months.map((month) => {
    const r = byMonth.find((x) => x.month === month);
    return { month, earned: Number(r?.earned ?? 0), redeemed: Number(r?.redeemed ?? 0), expired: Number(r?.expired ?? 0) };
  });

  const [redeemed] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_redemptions WHERE workspace_id = $1", [ws.id]);
  const tierRows = await db.query<{ tier: string | null; n: number }>(
    "SELECT tier, count(*)::int AS n FROM loyalty_accounts WHERE workspace_id = $1 AND earned > 0 GROUP BY tier",
    [ws.id],
  );
  const levels = settings.tiers.levels.map((l) => l.name);
  const place = (t: string | null) => (t === null ? Number.MAX_SAFE_INTEGER : levels.indexOf(t) === -1 ? levels.length : levels.indexOf(t));
  const tiers = tierRows
    .map((r) => ({ tier: r.tier, members: r.n }))
    .sort((a, b) => place(a.tier) - place(b.tier) || (a.tier ?? "").localeCompare(b.tier ?? ""));

  const statusCounts = async (table: "loyalty_memberships" | "loyalty_referrals") =>
    new Map((await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM ${table} WHERE workspace_id = $1 GROUP BY status`, [ws.id])).map((r) => [r.status, r.n]));
  const memberships = await statusCounts("loyalty_memberships");
  const referrals = await statusCounts("loyalty_referrals");

  const prizes = await db.query<{ prize_id: string; label: string; spins: number; won: number }>(
    `SELECT prize_id, max(label) AS label, count(*)::int AS spins, count(*) FILTER (WHERE won)::int AS won
       FROM loyalty_spins WHERE workspace_id = $1 GROUP BY prize_id ORDER BY 3 DESC, 1`,
    [ws.id],
  );

  const comparison = await db.query<{ member: boolean; customers: number; repeaters: number }>(
    `SELECT a.customer_id IS NOT NULL AS member, count(*)::int AS customers, count(*) FILTER (WHERE r.order_count >= 2)::int AS repeaters
       FROM customer_rollups r
       LEFT JOIN loyalty_accounts a ON a.customer_id = r.customer_id AND a.workspace_id = r.workspace_id AND a.earned > 0
      WHERE r.workspace_id = $1 AND r.order_count > 0
      GROUP BY 1`,
    [ws.id],
  );

  const outstanding = Number(accounts?.outstanding ?? 0);
  return {
    asOf: now.toISOString(),
    currency: ws.currency,
    enabled: settings.enabled,
    members: accounts?.members ?? 0,
    pointsOutstanding: outstanding,
    pointValueMinor: settings.pointValueMinor,
    liabilityMinor: Math.round(outstanding * settings.pointValueMinor),
    lifetime,
    redemptionRate: rate(lifetime.spent, lifetime.earned),
    rewardsRedeemed: redeemed?.n ?? 0,
    monthly,
    tiers,
    memberships: { active: memberships.get("active") ?? 0, lapsed: memberships.get("lapsed") ?? 0, ended: memberships.get("ended") ?? 0 },
    referrals: { pending: referrals.get("pending") ?? 0, qualified: referrals.get("qualified") ?? 0, rewarded: referrals.get("rewarded") ?? 0, refused: referrals.get("refused") ?? 0 },
    wheel: {
      spins: prizes.reduce((s, p) => s + p.spins, 0),
      prizesWon: prizes.reduce((s, p) => s + p.won, 0),
      byPrize: prizes.map((p) => ({ prizeId: p.prize_id, label: p.label, spins: p.spins, won: p.won })),
    },
    membersVsNonMembers: {
      members: repeatGroup(comparison.find((r) => r.member)),
      nonMembers: repeatGroup(comparison.find((r) => !r.member)),
      note: COMPARISON_NOTE,
    },
    topEarners: await topEarners(db, ws, 10),
  };
}

/** The members who earned the most points, lifetime; ties by who joined first. */
export async function topEarners(db: Queryable, ws: Workspace, limit: number): Promise<LoyaltyMember[]> {
  const rows = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM loyalty_accounts a JOIN customers c ON c.id = a.customer_id
      WHERE a.workspace_id = $1 AND a.earned > 0 ORDER BY a.earned DESC, a.customer_id LIMIT $2`,
    [ws.id, Math.max(0, Math.floor(limit))],
  );
  return rows.map(memberOf);
}

const MEMBER_SORTS = { balance: "a.balance", earned: "a.earned", spent: "a.spent", lastActivity: "a.last_activity_at" } as const;

export const LoyaltyMembersQuery = z.strictObject({
  sort: z.enum(["balance", "earned", "spent", "lastActivity"]).default("balance").describe("balance, lifetime earned or spent points, or the last time points moved"),
  order: z.enum(["asc", "desc"]).default("desc"),
  limit: wholeNumber("must be a whole number").pipe(z.number().min(1, "must be at least 1").max(500, "must be at most 500")).default(50),
  offset: wholeNumber("must be a whole number").pipe(z.number().max(10_000_000, "is too large")).default(0),
});
export type LoyaltyMembersQuery = z.output<typeof LoyaltyMembersQuery>;

/** Members (earned > 0), sorted and a page at a time; `total` counts them all. */
export async function loyaltyMembers(db: Queryable, ws: Workspace, q: LoyaltyMembersQuery): Promise<{ total: number; items: LoyaltyMember[] }> {
  const [total] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_accounts WHERE workspace_id = $1 AND earned > 0", [ws.id]);
  // The column comes from a fixed table, never from the input.
  const rows = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM loyalty_accounts a JOIN customers c ON c.id = a.customer_id
      WHERE a.workspace_id = $1 AND a.earned > 0
      ORDER BY ${MEMBER_SORTS[q.sort]} ${q.order === "asc" ? "ASC" : "DESC"} NULLS LAST, a.customer_id
      LIMIT $2 OFFSET $3`,
    [ws.id, q.limit, q.offset],
  );
  return { total: total?.n ?? 0, items: rows.map(memberOf) };
}
