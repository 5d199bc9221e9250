/**
 * The rewards catalogue and redemptions. A redemption spends the reward's
 * cost through the ledger (key `reward:<key>`) and issues a unique code in
 * the same transaction, under the member's account lock, so the per-customer
 * limit cannot be passed by parallel requests and a retried request (same
 * key) answers the same code. When the shop configured a discount-code
 * webhook, the code is queued to it through the outbox (signed, retried).
 */
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { AppError, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { customerIdOf } from "../customers/index.ts";
import { postPoints } from "./ledger.ts";
import { newCode, pushCode } from "./codes.ts";
import { getLoyaltySettings, type TierSettings } from "./earn.ts";

export const RewardInput = z
  .strictObject({
    name: z.string().trim().min(1).max(120),
    kind: z.enum(["fixed", "percent", "freeShipping", "freeProduct"]),
    value: z.number().int().min(1).max(100_000_000).optional().describe("fixed: minor units off; percent: 1–100"),
    productId: z.string().min(1).max(200).optional().describe("freeProduct: the product's external id"),
    cost: z.number().int().min(1).max(100_000_000).describe("points"),
    perCustomerLimit: z.number().int().min(1).max(1000).nullable().default(null),
    active: z.boolean().default(true),
    minTier: z.string().trim().min(1).max(60).nullable().default(null).describe("only members in this VIP tier or above"),
    membersOnly: z.boolean().default(false).describe("only customers with an active paid membership"),
  })
  .superRefine((r, ctx) => {
    if ((r.kind === "fixed" || r.kind === "percent") && r.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: `is required for a ${r.kind} reward` });
    if (r.kind === "percent" && r.value !== undefined && r.value > 100) ctx.addIssue({ code: "custom", path: ["value"], message: "must be a percentage, 1–100" });
    if (r.kind === "freeProduct" && r.productId === undefined) ctx.addIssue({ code: "custom", path: ["productId"], message: "is required for a free product" });
  });

export const RedeemInput = z.strictObject({
  rewardId: z.number().int().positive(),
  key: z.string().min(1).max(200).describe("idempotency key: the same key answers the same redemption"),
});

export interface Reward {
  id: number;
  name: string;
  kind: "fixed" | "percent" | "freeShipping" | "freeProduct";
  value: number | null;
  productId: string | null;
  cost: number;
  perCustomerLimit: number | null;
  active: boolean;
  minTier: string | null;
  membersOnly: boolean;
}

type RewardRow = { id: number; name: string; kind: Reward["kind"]; value: number | null; product_id: string | null; cost: number; per_customer_limit: number | null; active: boolean; min_tier: string | null; members_only: boolean };
const REWARD_COLUMNS = "id, name, kind, value, product_id, cost, per_customer_limit, active, min_tier, members_only";
const fromRow = (r: RewardRow): Reward => ({
  id: Number(r.id),
  name: r.name,
  kind: r.kind,
  value: r.value === null ? null : Number(r.value),
  productId: r.product_id,
  cost: Number(r.cost),
  perCustomerLimit: r.per_customer_limit,
  active: r.active,
  minTier: r.min_tier,
  membersOnly: r.members_only,
});

export async function listRewards(db: Queryable, ws: Workspace): Promise<Reward[]> {
  return (await db.query<RewardRow>(`SELECT ${REWARD_COLUMNS} FROM loyalty_rewards WHERE workspace_id = $1 ORDER BY cost, id`, [ws.id])).map(fromRow);
}

export async function createReward(db: Queryable, ws: Workspace, input: unknown, now: Date): Promise<Reward> {
  const r = parseInput(RewardInput, input);
  if (r.minTier !== null) {
    const { tiers } = await getLoyaltySettings(db, ws);
    if (!tiers.levels.some((l) => l.name === r.minTier)) {
      throw new AppError("invalid_input", `minTier: "${r.minTier}" is not a tier (${tiers.levels.map((l) => l.name).join(", ") || "no tiers are set"})`, [{ field: "minTier", message: "is not a tier" }]);
    }
  }
  const [row] = await db.query<RewardRow>(
    `INSERT INTO loyalty_rewards (workspace_id, name, kind, value, product_id, cost, per_customer_limit, active, min_tier, members_only, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${REWARD_COLUMNS}`,
    [ws.id, r.name, r.kind, r.value ?? null, r.productId ?? null, r.cost, r.perCustomerLimit, r.active, r.minTier, r.membersOnly, now],
  );
  if (!row) throw new AppError("internal", "reward: not created");
  return fromRow(row);
}

export const RewardPatch = z
  .strictObject({
    name: z.string().trim().min(1).max(120),
    cost: z.number().int().min(1).max(100_000_000),
    perCustomerLimit: z.number().int().min(1).max(1000).nullable(),
    active: z.boolean(),
    minTier: z.string().trim().min(1).max(60).nullable(),
    membersOnly: z.boolean(),
  })
  .partial()
  .describe("what may change; the kind and the value may not (codes were issued for them)");

/** Changes a reward (offer it or not, its cost, who may redeem it). */
export async function updateReward(db: Queryable, ws: Workspace, id: number, input: unknown): Promise<Reward> {
  const p = parseInput(RewardPatch, input);
  if (p.minTier !== undefined && p.minTier !== null) {
    const { tiers } = await getLoyaltySettings(db, ws);
    if (!tiers.levels.some((l) => l.name === p.minTier)) throw new AppError("invalid_input", `minTier: "${p.minTier}" is not a tier`, [{ field: "minTier", message: "is not a tier" }]);
  }
  const [row] = await db.query<RewardRow>(
    `UPDATE loyalty_rewards SET name = COALESCE($3, name), cost = COALESCE($4, cost), active = COALESCE($5, active), members_only = COALESCE($6, members_only),
            per_customer_limit = CASE WHEN $7 THEN $8 ELSE per_customer_limit END, min_tier = CASE WHEN $9 THEN $10 ELSE min_tier END
      WHERE workspace_id = $1 AND id = $2 RETURNING ${REWARD_COLUMNS}`,
    [ws.id, id, p.name ?? null, p.cost ?? null, p.active ?? null, p.membersOnly ?? null, p.perCustomerLimit !== undefined, p.perCustomerLimit ?? null, p.minTier !== undefined, p.minTier ?? null],
  );
  if (!row) throw new AppError("not_found", `reward: no reward ${id}`, [{ field: "id", message: "no such reward" }]);
  return fromRow(row);
}

export interface Redemption {
  id: number;
  rewardId: number;
  reward: string;
  code: string;
  points: number;
  balanceAfter: number;
  createdAt: string;
  /** False when the key had already redeemed: the same code is answered again. */
  created: boolean;
}

export async function redeemReward(store: Store, ws: Workspace, externalId: string, input: unknown, now: Date): Promise<Redemption> {
  const body = parseInput(RedeemInput, input);
  const settings = await getLoyaltySettings(store, ws);
  return store.transaction(async (tx) => {
    const customerId = await customerIdOf(tx, ws, externalId, "customer");
    const [reward] = await tx.query<RewardRow>(`SELECT ${REWARD_COLUMNS} FROM loyalty_rewards WHERE workspace_id = $1 AND id = $2`, [ws.id, body.rewardId]);
    if (!reward) throw new AppError("not_found", `rewardId: no reward ${body.rewardId}`, [{ field: "rewardId", message: "no such reward" }]);
    // The member's lock first: the retry check, the limit and the spending are serialised per customer.
    const [account] = await tx.query<{ balance: number }>("SELECT balance FROM loyalty_accounts WHERE workspace_id = $1 AND customer_id = $2 FOR UPDATE", [ws.id, customerId]);
    // Keys are the customer's own: another customer's key is not a replay of theirs.
    const ledgerKey = `reward:${customerId}:${body.key}`;
    const [prior] = await tx.query<{ id: number; reward_id: number; code: string; points: number; created_at: Date; balance_after: number | null }>(
      `SELECT r.id, r.reward_id, r.code, r.points, r.created_at,
              (SELECT l.balance_after FROM loyalty_ledger l WHERE l.workspace_id = r.workspace_id AND l.idempotency_key = $4) AS balance_after
         FROM loyalty_redemptions r WHERE r.workspace_id = $1 AND r.customer_id = $2 AND r.idempotency_key = $3`,
      [ws.id, customerId, body.key, ledgerKey],
    );
    if (prior) {
      if (Number(prior.reward_id) !== Number(reward.id)) throw new AppError("conflict", `key: "${body.key}" was already used for another redemption`, [{ field: "key", message: "already used" }]);
      const balanceAfter = Number(prior.balance_after ?? account?.balance ?? 0);
      return { id: Number(prior.id), rewardId: Number(reward.id), reward: reward.name, code: prior.code, points: Number(prior.points), balanceAfter, createdAt: prior.created_at.toISOString(), created: false };
    }
    if (!reward.active) throw new AppError("unprocessable", `rewardId: "${reward.name}" is not available`, [{ field: "rewardId", message: "is not available" }]);
    const offered = fromRow(reward);
    const barrier = offered.minTier === null && !offered.membersOnly ? null : barrierOf(settings.tiers.levels, offered, await standingOf(tx, customerId));
    if (barrier) throw new AppError("forbidden", `rewardId: "${reward.name}" ${barrier}`, [{ field: "rewardId", message: barrier }]);
    if (reward.per_customer_limit !== null) {
      const [used] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_redemptions WHERE customer_id = $1 AND reward_id = $2", [customerId, reward.id]);
      if ((used?.n ?? 0) >= reward.per_customer_limit) {
        throw new AppError("conflict", `rewardId: "${reward.name}" can be redeemed ${reward.per_customer_limit} time(s) per customer`, [{ field: "rewardId", message: "limit per customer reached" }]);
      }
    }
    const [posted] = await postPoints(tx, ws, [{ customerId, kind: "redeem", points: Number(reward.cost), reason: `reward: ${reward.name}`, reference: `reward:${reward.id}`, key: ledgerKey }], now).catch((err: unknown) => {
      if (err instanceof AppError && err.code === "unprocessable") throw new AppError("unprocessable", `rewardId: ${err.message.replace(/^points: /, "")} (the reward costs ${reward.cost})`, [{ field: "rewardId", message: "costs more points than the balance" }]);
      throw err;
    });
    if (!posted) throw new AppError("internal", "reward: nothing posted");
    // The spending must be new: a code for points that were not taken now would be free.
    if (!posted.created) throw new AppError("conflict", `key: "${body.key}" was already used for a points entry`, [{ field: "key", message: "already used" }]);
    const code = newCode();
    const [row] = await tx.query<{ id: number; created_at: Date }>(
      `INSERT INTO loyalty_redemptions (workspace_id, reward_id, customer_id, code, points, idempotency_key, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
      [ws.id, reward.id, customerId, code, reward.cost, body.key, now],
    );
    await pushCode(tx, ws, settings.codeWebhookUrl, customerId, code, { reward: fromRow(reward) }, now);
    return { id: Number(row?.id), rewardId: Number(reward.id), reward: reward.name, code, points: Number(reward.cost), balanceAfter: posted.balanceAfter, createdAt: (row?.created_at ?? now).toISOString(), created: true };
  });
}

/** What decides a customer's access to tier-only and members-only rewards. */
interface Standing {
  tier: string | null;
  member: boolean;
}

async function standingOf(db: Queryable, customerId: number): Promise<Standing> {
  const [row] = await db.query<{ tier: string | null; member: boolean }>(
    `SELECT (SELECT tier FROM loyalty_accounts WHERE customer_id = $1) AS tier,
            EXISTS (SELECT 1 FROM loyalty_memberships WHERE customer_id = $1 AND status = 'active') AS member`,
    [customerId],
  );
  return { tier: row?.tier ?? null, member: row?.member ?? false };
}

/**
 * Why a customer may not redeem a reward yet (its tier or the paid
 * membership it asks for), or null when they may.
 */
function barrierOf(levels: TierSettings["levels"], reward: Reward, standing: Standing): string | null {
  if (reward.minTier !== null) {
    const need = levels.findIndex((l) => l.name === reward.minTier);
    const have = levels.findIndex((l) => l.name === standing.tier);
    // A tier since removed from the settings keeps its reward closed rather than open to all.
    if (need < 0) return `is for ${reward.minTier} members, a tier no longer in the programme`;
    if (have < need) return `is for ${reward.minTier} members and above`;
  }
  if (reward.membersOnly && !standing.member) return "is for paid members";
  return null;
}

export interface AvailableReward extends Reward {
  /** The balance covers the cost. */
  affordable: boolean;
  /** Null when the customer may redeem it; else why not (tier, membership, limit). */
  barrier: string | null;
}

/** The active rewards as one customer sees them (the storefront widget). */
export async function rewardsFor(db: Queryable, ws: Workspace, customerId: number): Promise<AvailableReward[]> {
  const settings = await getLoyaltySettings(db, ws);
  const rewards = (await listRewards(db, ws)).filter((r) => r.active);
  const [account] = await db.query<{ balance: number }>("SELECT balance FROM loyalty_accounts WHERE customer_id = $1", [customerId]);
  const used = new Map(
    (await db.query<{ reward_id: number; n: number }>("SELECT reward_id, count(*)::int AS n FROM loyalty_redemptions WHERE customer_id = $1 GROUP BY reward_id", [customerId])).map((r) => [Number(r.reward_id), r.n]),
  );
  const balance = Number(account?.balance ?? 0);
  // Read once for the whole catalogue.
  const standing = await standingOf(db, customerId);
  return rewards.map((r) => {
    const limitReached = r.perCustomerLimit !== null && (used.get(r.id) ?? 0) >= r.perCustomerLimit;
    return { ...r, affordable: balance >= r.cost, barrier: limitReached ? "limit per customer reached" : barrierOf(settings.tiers.levels, r, standing) };
  });
}
