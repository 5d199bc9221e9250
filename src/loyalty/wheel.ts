/**
 * Spin-to-win: a wheel of weighted prizes (odds summing to 100 %, "no prize"
 * among them), drawn on the server from `crypto.randomInt`, one spin per
 * customer per `periodDays`, optionally for consent to marketing email.
 *
 * - The draw is a number 0 ≤ d < 1,000,000 laid over the prizes' odds in
 *   parts per million, in the order the prizes are listed; it is stored with
 *   the spin, so anyone can check a result against the odds that day.
 * - A prize with a stock is counted under a lock of its own; drawn when none
 *   is left, it counts as no prize (`won: false`), recorded as such.
 * - A prize won is a unique code (pushed to the shop's code webhook) or
 *   points (a ledger entry keyed by the spin).
 * - The customer's row lock serialises their spins; the spin's key makes a
 *   replayed request answer the same result.
 */
import { randomInt } from "node:crypto";
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { AppError, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { writeCustomers } from "../ingest/index.ts";
import { postPoints } from "./ledger.ts";
import { getLoyaltySettings, type WheelPrize, type WheelSettings } from "./earn.ts";
import { logLoyaltyEvent, newCode, pushCode } from "./codes.ts";

const DAY_MS = 86_400_000;
export const DRAW_RANGE = 1_000_000;

export const SpinInput = z.strictObject({
  key: z.string().min(1).max(200).describe("idempotency key: a replayed spin answers the same result"),
  optIn: z.boolean().optional().describe("consent to marketing email, when the wheel asks for it"),
});

export interface Spin {
  id: number;
  prizeId: string;
  label: string;
  won: boolean;
  kind: WheelPrize["kind"];
  value: number | null;
  code: string | null;
  points: number | null;
  draw: number;
  createdAt: string;
  nextSpinAt: string;
  created: boolean;
}

/** The prize a draw lands on: the odds in parts per million, cumulated in list order. */
export function prizeAt(prizes: readonly WheelPrize[], draw: number): WheelPrize | undefined {
  let edge = 0;
  for (const p of prizes) {
    edge += Math.round(p.weight * 100) * 100;
    if (draw < edge) return p;
  }
  return undefined;
}

type SpinRow = { id: number; prize_id: string; label: string; kind: WheelPrize["kind"]; value: number | null; won: boolean; code: string | null; points: number | null; draw: number; created_at: Date };

/** A spin as recorded (the prize as the wheel stood then), with when the next may be. */
function view(r: SpinRow, wheel: WheelSettings, created: boolean): Spin {
  return {
    id: Number(r.id),
    prizeId: r.prize_id,
    label: r.label,
    won: r.won,
    kind: r.kind,
    value: r.value === null ? null : Number(r.value),
    code: r.code,
    points: r.points === null ? null : Number(r.points),
    draw: r.draw,
    createdAt: r.created_at.toISOString(),
    nextSpinAt: new Date(r.created_at.getTime() + wheel.periodDays * DAY_MS).toISOString(),
    created,
  };
}

/** When a customer may spin next (now if they may now), for the widget. */
/** When the customer may spin again (`wheel`: the settings the caller has read). */
export async function nextSpinAt(db: Queryable, ws: Workspace, wheel: { periodDays: number }, customerId: number, now: Date): Promise<Date> {
  const [last] = await db.query<{ at: Date | null }>("SELECT max(created_at) AS at FROM loyalty_spins WHERE workspace_id = $1 AND customer_id = $2", [ws.id, customerId]);
  const next = last?.at ? new Date(last.at.getTime() + wheel.periodDays * DAY_MS) : now;
  return next > now ? next : now;
}

export async function spinWheel(store: Store, ws: Workspace, customerId: number, input: unknown, now: Date, draw: () => number = () => randomInt(DRAW_RANGE)): Promise<Spin> {
  const body = parseInput(SpinInput, input);
  const settings = await getLoyaltySettings(store, ws);
  const wheel = settings.wheel;
  return store.transaction(async (tx) => {
    const [customer] = await tx.query<{ external_id: string; email: string | null }>("SELECT external_id, email FROM customers WHERE workspace_id = $1 AND id = $2 FOR UPDATE", [ws.id, customerId]);
    if (!customer) throw new AppError("not_found", "customer: no such customer", [{ field: "customer", message: "no such customer" }]);
    const cols = "id, prize_id, label, kind, value, won, code, points, draw, created_at";
    // A replay answers the same spin, even if the wheel was switched off since. Keys are the customer's own.
    const [replay] = await tx.query<SpinRow>(`SELECT ${cols} FROM loyalty_spins WHERE workspace_id = $1 AND customer_id = $2 AND idempotency_key = $3`, [ws.id, customerId, body.key]);
    if (replay) return view(replay, wheel, false);
    if (!settings.enabled || !wheel.enabled) throw new AppError("unprocessable", "wheel: there is no wheel to spin in this shop", [{ field: "wheel", message: "not enabled" }]);
    const [last] = await tx.query<{ at: Date }>("SELECT created_at AS at FROM loyalty_spins WHERE workspace_id = $1 AND customer_id = $2 ORDER BY created_at DESC LIMIT 1", [ws.id, customerId]);
    if (last && now.getTime() - last.at.getTime() < wheel.periodDays * DAY_MS) {
      const next = new Date(last.at.getTime() + wheel.periodDays * DAY_MS).toISOString();
      throw new AppError("conflict", `wheel: one spin per ${wheel.periodDays} day(s); the next is from ${next}`, [{ field: "wheel", message: `already spun; next spin from ${next}` }]);
    }
    if (wheel.requireEmailOptIn) {
      const [consent] = await tx.query<{ granted: boolean }>("SELECT granted FROM customer_consents WHERE customer_id = $1 AND channel = 'email'", [customerId]);
      if (!consent?.granted) {
        if (body.optIn !== true) throw new AppError("unprocessable", "optIn: this wheel asks for consent to marketing email (send optIn: true)", [{ field: "optIn", message: "consent to marketing email is the price of a spin" }]);
        if (!customer.email) throw new AppError("unprocessable", "optIn: the customer has no email address to subscribe", [{ field: "optIn", message: "no email address" }]);
        await writeCustomers(tx, ws, [{ externalId: customer.external_id, consents: [{ channel: "email", granted: true, source: "spin to win", at: now }] }], "loyalty", now);
      }
    }
    const d = draw();
    if (!Number.isInteger(d) || d < 0 || d >= DRAW_RANGE) throw new AppError("internal", `wheel: a draw out of range (${d})`);
    const prize = prizeAt(wheel.prizes, d);
    if (!prize) throw new AppError("internal", "wheel: the odds do not cover the draw");
    let won = prize.kind !== "none";
    if (won && prize.stock !== null) {
      // Stock is counted under the prize's own lock, so two winners can't take the last one.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`wheel:${ws.id}:${prize.id}`]);
      const [given] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_spins WHERE workspace_id = $1 AND prize_id = $2 AND won", [ws.id, prize.id]);
      won = (given?.n ?? 0) < prize.stock;
    }
    const code = won && (prize.kind === "fixed" || prize.kind === "percent" || prize.kind === "freeShipping") ? newCode() : null;
    const points = won && prize.kind === "points" ? (prize.value ?? 0) : null;
    const [row] = await tx.query<SpinRow>(
      `INSERT INTO loyalty_spins (workspace_id, customer_id, period, prize_id, label, kind, value, draw, won, code, points, idempotency_key, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${cols}`,
      [ws.id, customerId, String(Math.floor(now.getTime() / (wheel.periodDays * DAY_MS))), prize.id, won || prize.kind === "none" ? prize.label : `${prize.label} (out of stock)`, won ? prize.kind : "none", won ? (prize.value ?? null) : null, d, won, code, points, body.key, now],
    );
    if (!row) throw new AppError("internal", "wheel: spin not recorded");
    if (points !== null && points > 0) await postPoints(tx, ws, [{ customerId, kind: "earn", points, reason: "spin to win", reference: `spin:${row.id}`, key: `spin:${customerId}:${body.key}` }], now);
    if (code) await pushCode(tx, ws, settings.codeWebhookUrl, customerId, code, { prize: { id: prize.id, label: prize.label, kind: prize.kind, value: prize.value ?? null } }, now);
    await logLoyaltyEvent(tx, ws, customerId, "Wheel Spun", `spin:${row.id}`, { prize: prize.id, label: row.label, won, ...(code ? { code } : {}), ...(points ? { points } : {}) }, now);
    return view(row, wheel, true);
  });
}

export interface WheelAudit {
  spins: number;
  prizes: { id: string; label: string; kind: WheelPrize["kind"]; value: number | null; odds: number; drawn: number; drawnShare: number; won: number; stock: number | null; left: number | null }[];
  /** Every prize drawn that was not given for want of stock. */
  outOfStock: number;
  /** Spins under prize ids no longer on the wheel (the wheel was changed since). */
  retired: { prizeId: string; drawn: number; won: number }[];
}

/** The odds as configured against what was drawn and given, with the stock left. */
export async function wheelAudit(db: Queryable, ws: Workspace): Promise<WheelAudit> {
  const { wheel } = await getLoyaltySettings(db, ws);
  const rows = await db.query<{ prize_id: string; drawn: number; won: number }>(
    "SELECT prize_id, count(*)::int AS drawn, (count(*) FILTER (WHERE won))::int AS won FROM loyalty_spins WHERE workspace_id = $1 GROUP BY prize_id",
    [ws.id],
  );
  const by = new Map(rows.map((r) => [r.prize_id, r]));
  const spins = rows.reduce((s, r) => s + r.drawn, 0);
  const prizes = wheel.prizes.map((p) => {
    const r = by.get(p.id);
    const drawn = r?.drawn ?? 0;
    const won = r?.won ?? 0;
    return { id: p.id, label: p.label, kind: p.kind, value: p.value ?? null, odds: p.weight, drawn, drawnShare: spins > 0 ? drawn / spins : 0, won, stock: p.stock, left: p.stock === null ? null : Math.max(0, p.stock - won) };
  });
  const outOfStock = wheel.prizes.reduce((s, p) => s + (p.kind === "none" ? 0 : (by.get(p.id)?.drawn ?? 0) - (by.get(p.id)?.won ?? 0)), 0);
  const retired = rows.filter((r) => !wheel.prizes.some((p) => p.id === r.prize_id)).map((r) => ({ prizeId: r.prize_id, drawn: r.drawn, won: r.won }));
  return { spins, prizes, outOfStock, retired };
}

export const SpinsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().positive().optional().describe("spins older than this spin id (the last id of the page before)"),
});

/** The latest spins, a page at a time, for the audit (who, when, the draw, what was given). */
export async function recentSpins(db: Queryable, ws: Workspace, page: z.output<typeof SpinsQuery> = { limit: 100 }): Promise<(Omit<Spin, "created" | "nextSpinAt" | "kind" | "value"> & { customer: string })[]> {
  const rows = await db.query<SpinRow & { customer: string }>(
    `SELECT s.id, s.prize_id, s.label, s.kind, s.value, s.won, s.code, s.points, s.draw, s.created_at, c.external_id AS customer
       FROM loyalty_spins s JOIN customers c ON c.id = s.customer_id
      WHERE s.workspace_id = $1 AND ($3::bigint IS NULL OR s.id < $3) ORDER BY s.id DESC LIMIT $2`,
    [ws.id, page.limit, page.before ?? null],
  );
  return rows.map((r) => ({ id: Number(r.id), customer: r.customer, prizeId: r.prize_id, label: r.label, won: r.won, code: r.code, points: r.points === null ? null : Number(r.points), draw: r.draw, createdAt: r.created_at.toISOString() }));
}
