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

export const EntryInput = z.strictObject({
  kind: z.enum(["earn", "redeem", "adjust"]).describe("earn and redeem take a positive number; adjust may be negative"),
  points: z.number().int().min(-100_000_000).max(100_000_000),
  reason: z.string().trim().min(1).max(200),
  reference: z.string().max(200).optional(),
  key: z.string().min(1).max(200).describe("idempotency key: the same key is written once"),
});

function check(e: PointsEntry, i: number): void {
  const at = (f: string) => `entries.${i}.${f}`;
  if (!Number.isSafeInteger(e.points)) throw new AppError("invalid_input", `${at("points")}: must be a whole number`, [{ field: at("points"), message: "must be a whole number" }]);
  if (e.kind !== "adjust" && e.points <= 0) throw new AppError("invalid_input", `${at("points")}: must be more than zero for ${e.kind}`, [{ field: at("points"), message: "must be more than zero" }]);
  if (e.kind === "adjust" && e.points === 0) throw new AppError("invalid_input", `${at("points")}: an adjustment of zero changes nothing`, [{ field: at("points"), message: "must not be zero" }]);
  if (!e.key) throw new AppError("invalid_input", `${at("key")}: is required`, [{ field: at("key"), message: "is required" }]);
}

/**
 * Writes entries in the transaction `tx` (the caller's: an order and its
 * points, a journey step and its award, commit together). Entries are
 * applied in the order given.
 */
export async function postPoints(tx: Queryable, ws: Workspace, entries: readonly PointsEntry[], now: Date): Promise<Posted[]> {
  if (entries.length === 0) return [];
  entries.forEach(check);
  const customers = [...new Set(entries.map((e) => e.customerId))].sort((a, b) => a - b);
  // Lock the accounts (creating the missing ones first, which is rare: a customer's first points).
  const lock = () =>
    tx.query<{ customer_id: number; balance: number }>(
      "SELECT customer_id, balance FROM loyalty_accounts WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[]) ORDER BY customer_id FOR UPDATE",
      [ws.id, customers],
    );
  let accounts = await lock();
  if (accounts.length < customers.length) {
    await tx.query(
      `INSERT INTO loyalty_accounts (workspace_id, customer_id, updated_at)
       SELECT $1, c.id, $3 FROM customers c WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])
       ON CONFLICT (customer_id) DO NOTHING`,
      [ws.id, customers, now],
    );
    accounts = await lock();
  }
  const balance = new Map(accounts.map((a) => [Number(a.customer_id), Number(a.balance)]));
  const missing = customers.find((c) => !balance.has(c));
  if (missing !== undefined) throw new AppError("not_found", `customer: no customer ${missing} in this workspace`, [{ field: "customer", message: "no such customer" }]);

  // Keys already written: a repeat answers what the first posting did.
  const existing = new Map(
    (
      await tx.query<{ idempotency_key: string; customer_id: number; kind: EntryKind; points: number; balance_after: number }>(
        "SELECT idempotency_key, customer_id, kind, points, balance_after FROM loyalty_ledger WHERE workspace_id = $1 AND idempotency_key = ANY($2::text[])",
        [ws.id, entries.map((e) => e.key)],
      )
    ).map((r) => [r.idempotency_key, r]),
  );
  const out: Posted[] = [];
  const rows: { customer_id: number; kind: EntryKind; points: number; balance_after: number; reason: string; reference: string | null; key: string }[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const prior = existing.get(e.key);
    if (prior || seen.has(e.key)) {
      const p = prior ?? rows.find((r) => r.key === e.key);
      if (!p || Number(p.customer_id) !== e.customerId || p.kind !== e.kind) {
        throw new AppError("conflict", `key: "${e.key}" was already used for another entry`, [{ field: "key", message: "already used for another entry" }]);
      }
      out.push({ key: e.key, customerId: e.customerId, kind: e.kind, points: Number(p.points), balanceAfter: Number(p.balance_after), created: false });
      continue;
    }
    seen.add(e.key);
    const before = balance.get(e.customerId) ?? 0;
    let delta = wanted(e);
    if (before + delta < 0) {
      if (e.kind === "redeem" || e.kind === "adjust") {
        throw new AppError("unprocessable", `points: the balance is ${before}, not enough to take ${-delta}`, [{ field: "points", message: `more than the balance (${before})` }]);
      }
      delta = -before; // expiry and clawback take what is left
    }
    const after = before + delta;
    balance.set(e.customerId, after);
    rows.push({ customer_id: e.customerId, kind: e.kind, points: delta, balance_after: after, reason: e.reason, reference: e.reference ?? null, key: e.key });
    out.push({ key: e.key, customerId: e.customerId, kind: e.kind, points: delta, balanceAfter: after, created: true });
  }
  if (rows.length === 0) return out;
  // One statement: the entries, the balances derived from them, and the facts in the event log
  // (written here, as segments write theirs: loyalty facts touch no rollup).
  const events = rows
    .filter((r) => r.points !== 0)
    .map((r) => ({
      message_id: `points:${r.key}`,
      name: EVENT_OF[r.kind],
      customer_id: r.customer_id,
      properties: { points: r.points, balance: r.balance_after, reason: r.reason, ...(r.reference ? { reference: r.reference } : {}) },
    }));
  await tx.query(
    `WITH entries AS (
       INSERT INTO loyalty_ledger (workspace_id, customer_id, kind, points, balance_after, reason, reference, idempotency_key, created_at)
       SELECT $1, x.customer_id, x.kind, x.points, x.balance_after, x.reason, x.reference, x.key, $3
         FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, kind text, points bigint, balance_after bigint, reason text, reference text, key text)
       RETURNING customer_id, kind, points
     ), balances AS (
       UPDATE loyalty_accounts a SET balance = a.balance + x.delta, earned = a.earned + x.earned, spent = a.spent + x.spent, last_activity_at = $3, updated_at = $3
         FROM (SELECT customer_id, sum(points) AS delta, COALESCE(sum(points) FILTER (WHERE points > 0), 0) AS earned,
                      COALESCE(sum(-points) FILTER (WHERE kind = 'redeem'), 0) AS spent
                 FROM entries GROUP BY customer_id) x
        WHERE a.workspace_id = $1 AND a.customer_id = x.customer_id
       RETURNING a.customer_id
     )
     INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
     SELECT $1, e.message_id, 'loyalty', e.name, e.customer_id, e.properties, $3, $3
       FROM jsonb_to_recordset($4::jsonb) AS e(message_id text, name text, customer_id bigint, properties jsonb)
     ON CONFLICT (workspace_id, message_id) DO NOTHING`,
    [ws.id, JSON.stringify(rows), now, JSON.stringify(events)],
  );
  return out;
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
