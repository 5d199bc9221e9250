/**
 * The points ledger: append-only entries (earn, redeem, expire, adjust,
 * clawback), each with a reason, a reference and an idempotency key; each
 * customer's balance is derived from them and kept in `loyalty_accounts` in
 * the same transaction.
 *
 * - A retried request, a replayed order or a second pass over the same data
 *   carries the same key: the entry is written once, and the repeat answers
 *   what the first one did. The same key with a different entry is refused.
 * - Every posting locks the customers' account rows (`FOR UPDATE`, in id
 *   order so two postings never wait on each other in a circle), so
 *   concurrent redemptions of one customer are serialised and the second sees
 *   the first's balance.
 * - A balance never goes below zero: a redemption larger than the balance is
 *   refused; an expiry or a clawback takes what is left (points already spent
 *   cannot be taken back), and the entry records what it took.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import { AppError } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";

export const ENTRY_KINDS = ["earn", "redeem", "expire", "adjust", "clawback"] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export interface PointsEntry {
  customerId: number;
  kind: EntryKind;
  /** A magnitude for earn, redeem, expire and clawback; signed for adjust. */
  points: number;
  reason: string;
  reference?: string | undefined;
  key: string;
}

export interface Posted {
  key: string;
  customerId: number;
  kind: EntryKind;
  /** Signed, as written. */
  points: number;
  balanceAfter: number;
  /** False when the key was already in the ledger: nothing new was written. */
  created: boolean;
}

const EVENT_OF: Record<EntryKind, string> = {
  earn: "Points Earned",
  redeem: "Points Redeemed",
  expire: "Points Expired",
  adjust: "Points Adjusted",
  clawback: "Points Clawed Back",
};

/** The signed change an entry asks for, before the balance is known. */
function wanted(e: PointsEntry): number {
  return e.kind === "earn" ? e.points : e.kind === "adjust" ? e.points : -e.points;
}

/**
 * Keys the programme writes itself (orders, refunds, bonuses, rewards, spins,
 * referrals, journeys, expiry). A manual entry may not take one: it would
 * block the real entry it collides with.
 */
export const SYSTEM_PREFIXES = ["order", "refund", "bonus", "reward", "spin", "referral", "journey", "expire"] as const;
const SYSTEM_KEY = new RegExp(`^(${SYSTEM_PREFIXES.join("|")}):`);

export const EntryInput = z.strictObject({
  kind: z.enum(["earn", "redeem", "adjust"]).describe("earn and redeem take a positive number; adjust may be negative"),
  points: z.number().int().min(-100_000_000).max(100_000_000),
  reason: z.string().trim().min(1).max(200),
  reference: z.string().max(200).optional(),
  key: z
    .string()
    .min(1)
    .max(200)
    .refine((k) => !SYSTEM_KEY.test(k), `must not start with a prefix Fidelio uses for its own entries (${SYSTEM_PREFIXES.map((p) => `${p}:`).join(", ")})`)
    .describe("idempotency key: the same key is written once"),
});

function check(e: PointsEntry, i: number): void {
  const at = (f: string) => `entries.${i}.${f}`;
  if (!Number.isSafeInteger(e.points)) throw new AppError("invalid_input", `${at("points")}: must be a whole number`, [{ field: at("points"), message: "must be a whole number" }]);
  if (e.kind !== "adjust" && e.points <= 0) throw new AppError("invalid_input", `${at("points")}: must be more than zero for ${e.kind}`, [{ field: at("points"), message: "must be more than zero" }]);
  if (e.kind === "adjust" && e.points === 0) throw new AppError("invalid_input", `${at("points")}: an adjustment of zero changes nothing`, [{ field: at("points"), message: "must not be zero" }]);
  if (!e.key) throw new AppError("invalid_input", `${at("key")}: is required`, [{ field: at("key"), message: "is required" }]);
}

/** What `loyalty_post_points` (migration 012) answers: the postings, or why nothing was written. */
type Outcome =
  | { error: "not_found"; customer: number }
  | { error: "conflict"; entry: number }
  | { error: "unprocessable"; entry: number; balance: number }
  | { error?: undefined; points: number[]; balances: number[]; created: boolean[] };

/**
 * Writes entries in the transaction `tx` (the caller's: an order and its
 * points, a journey step and its award, commit together), or, for a posting
 * that stands alone (a manual entry from the API), on the store itself: the
 * call is one statement, atomic on its own. Entries are applied in the
 * order given.
 *
 * The lock, the key look-up, the arithmetic and the writes run in one call
 * to `loyalty_post_points` (migration 012, which spells out each step): one
 * round trip instead of three to five, with plans the server keeps per
 * connection. Refusals come back as answers rather than database errors, so
 * the caller's transaction stays usable after an AppError, as before.
 */
export async function postPoints(tx: Queryable, ws: Workspace, entries: readonly PointsEntry[], now: Date): Promise<Posted[]> {
  if (entries.length === 0) return [];
  entries.forEach(check);
  const customers = [...new Set(entries.map((e) => e.customerId))].sort((a, b) => a - b);
  const position = new Map(customers.map((c, i) => [c, i + 1]));
  // An entry repeating a key earlier in the same call points at that entry (positions from 1).
  const firstWithKey = new Map<string, number>();
  const first = entries.map((e, i) => {
    const f = firstWithKey.get(e.key);
    if (f === undefined) firstWithKey.set(e.key, i + 1);
    return f ?? null;
  });
  const [row] = await tx.query<{ outcome: Outcome }>("SELECT loyalty_post_points($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS outcome", [
    ws.id,
    customers,
    entries.map((e) => position.get(e.customerId) ?? 0),
    entries.map((e) => e.kind),
    entries.map(wanted),
    entries.map((e) => e.reason),
    entries.map((e) => e.reference ?? null),
    entries.map((e) => e.key),
    first,
    entries.map((e) => EVENT_OF[e.kind]),
    now,
  ]);
  const outcome = row?.outcome;
  if (!outcome) throw new AppError("internal", "postPoints: no answer from loyalty_post_points");
  if (outcome.error === "not_found") {
    throw new AppError("not_found", `customer: no customer ${outcome.customer} in this workspace`, [{ field: "customer", message: "no such customer" }]);
  }
  if (outcome.error === "conflict") {
    const key = entries[outcome.entry]?.key ?? "";
    throw new AppError("conflict", `key: "${key}" was already used for another entry`, [{ field: "key", message: "already used for another entry" }]);
  }
  if (outcome.error === "unprocessable") {
    const e = entries[outcome.entry];
    const take = e ? -wanted(e) : 0;
    throw new AppError("unprocessable", `points: the balance is ${outcome.balance}, not enough to take ${take}`, [{ field: "points", message: `more than the balance (${outcome.balance})` }]);
  }
  return entries.map((e, i) => ({
    key: e.key,
    customerId: e.customerId,
    kind: e.kind,
    points: Number(outcome.points[i]),
    balanceAfter: Number(outcome.balances[i]),
    created: outcome.created[i] === true,
  }));
}

export interface Balance {
  balance: number;
  earned: number;
  spent: number;
  lastActivityAt: string | null;
}

/** Balances of customers (zero for one with no account yet). */
export async function balancesOf(db: Queryable, ws: Workspace, customerIds: readonly number[]): Promise<Map<number, Balance>> {
  if (customerIds.length === 0) return new Map();
  const rows = await db.query<{ customer_id: number; balance: number; earned: number; spent: number; last_activity_at: Date | null }>(
    "SELECT customer_id, balance, earned, spent, last_activity_at FROM loyalty_accounts WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[])",
    [ws.id, customerIds],
  );
  return new Map(rows.map((r) => [Number(r.customer_id), { balance: Number(r.balance), earned: Number(r.earned), spent: Number(r.spent), lastActivityAt: r.last_activity_at?.toISOString() ?? null }]));
}

export interface LedgerEntryView {
  id: number;
  kind: EntryKind;
  points: number;
  balanceAfter: number;
  reason: string;
  reference: string | null;
  key: string;
  createdAt: string;
}

/** A customer's ledger, newest first, a page at a time (`before` an entry id). */
export async function ledgerOf(db: Queryable, ws: Workspace, customerId: number, limit = 50, before?: number): Promise<LedgerEntryView[]> {
  const rows = await db.query<{ id: number; kind: EntryKind; points: number; balance_after: number; reason: string; reference: string | null; idempotency_key: string; created_at: Date }>(
    `SELECT id, kind, points, balance_after, reason, reference, idempotency_key, created_at FROM loyalty_ledger
      WHERE workspace_id = $1 AND customer_id = $2 ${before !== undefined ? "AND id < $4" : ""} ORDER BY id DESC LIMIT $3`,
    before !== undefined ? [ws.id, customerId, limit, before] : [ws.id, customerId, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind,
    points: Number(r.points),
    balanceAfter: Number(r.balance_after),
    reason: r.reason,
    reference: r.reference,
    key: r.idempotency_key,
    createdAt: r.created_at.toISOString(),
  }));
}
