/**
 * Paid membership (like Amazon Prime): plans with a price and a period, and
 * each customer's membership with its perks (free shipping, a points
 * multiplier on orders, early access, members-only rewards).
 *
 * The shop's billing takes the money; Fidelio keeps the status. The shop
 * reports each payment (start, renewal) with an idempotency key, so a
 * replayed payment changes nothing. The worker lapses memberships whose
 * period ended unpaid, and ends cancelled ones at the end of the period paid
 * for. Every change is an event (`Membership Started`, `Renewed`,
 * `Cancelled`, `Lapsed`, `Ended`) for segments and journeys.
 */
import { z } from "zod";
import { StoreError, type Queryable, type Store } from "../store/index.ts";
import { AppError, parseCurrency, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { logLoyaltyEvent } from "./codes.ts";

export const PlanInput = z.strictObject({
  name: z.string().trim().min(1).max(120),
  priceMinor: z.number().int().min(0).max(1e10).describe("the price per period, minor units"),
  currency: z.string().optional().describe("default: the workspace currency"),
  period: z.strictObject({ unit: z.enum(["day", "month", "year"]), count: z.number().int().min(1).max(36).default(1) }),
  perks: z
    .strictObject({
      freeShipping: z.boolean().default(false),
      pointsMultiplier: z.number().min(1).max(10).default(1).describe("points earned on orders × this (with the tier's and campaigns')"),
      earlyAccess: z.boolean().default(false),
      other: z.array(z.string().trim().min(1).max(200)).max(20).default([]),
    })
    .default({ freeShipping: false, pointsMultiplier: 1, earlyAccess: false, other: [] }),
  active: z.boolean().default(true),
});
export type Perks = z.output<typeof PlanInput>["perks"];

export interface Plan {
  id: number;
  name: string;
  priceMinor: number;
  currency: string;
  period: { unit: "day" | "month" | "year"; count: number };
  perks: Perks;
  active: boolean;
}

type PlanRow = { id: number; name: string; price_minor: number; currency: string; period_unit: Plan["period"]["unit"]; period_count: number; perks: Perks; active: boolean };
const PLAN_COLUMNS = "id, name, price_minor, currency, period_unit, period_count, perks, active";
const planOf = (r: PlanRow): Plan => ({ id: Number(r.id), name: r.name, priceMinor: Number(r.price_minor), currency: r.currency, period: { unit: r.period_unit, count: r.period_count }, perks: r.perks, active: r.active });

export async function listPlans(db: Queryable, ws: Workspace): Promise<Plan[]> {
  return (await db.query<PlanRow>(`SELECT ${PLAN_COLUMNS} FROM loyalty_plans WHERE workspace_id = $1 ORDER BY id`, [ws.id])).map(planOf);
}

export async function createPlan(db: Queryable, ws: Workspace, input: unknown, now: Date): Promise<Plan> {
  const p = parseInput(PlanInput, input);
  const currency = parseCurrency(p.currency ?? ws.currency, "currency");
  const [row] = await db.query<PlanRow>(
    `INSERT INTO loyalty_plans (workspace_id, name, price_minor, currency, period_unit, period_count, perks, active, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) RETURNING ${PLAN_COLUMNS}`,
    [ws.id, p.name, p.priceMinor, currency, p.period.unit, p.period.count, JSON.stringify(p.perks), p.active, now],
  );
  if (!row) throw new AppError("internal", "plan: not created");
  return planOf(row);
}

export const PlanPatch = z
  .strictObject({
    name: PlanInput.shape.name,
    priceMinor: PlanInput.shape.priceMinor,
    perks: PlanInput.shape.perks.unwrap(),
    active: z.boolean().describe("offered to new members; members already in keep it"),
  })
  .partial()
  .describe("the period and currency may not change (members paid for them); a new price applies from the next payment");

export async function updatePlan(db: Queryable, ws: Workspace, id: number, input: unknown): Promise<Plan> {
  const p = parseInput(PlanPatch, input);
  const [row] = await db.query<PlanRow>(
    `UPDATE loyalty_plans SET name = COALESCE($3, name), price_minor = COALESCE($4, price_minor), perks = COALESCE($5::jsonb, perks), active = COALESCE($6, active)
      WHERE workspace_id = $1 AND id = $2 RETURNING ${PLAN_COLUMNS}`,
    [ws.id, id, p.name ?? null, p.priceMinor ?? null, p.perks ? JSON.stringify(p.perks) : null, p.active ?? null],
  );
  if (!row) throw new AppError("not_found", `plan: no plan ${id}`, [{ field: "id", message: "no such plan" }]);
  return planOf(row);
}

/** `from` plus a plan's period, in UTC; a month from 31 January is the last day of February. */
export function addPeriod(from: Date, period: Plan["period"]): Date {
  if (period.unit === "day") return new Date(from.getTime() + period.count * 86_400_000);
  const months = period.unit === "month" ? period.count : 12 * period.count;
  const d = new Date(from);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}

export interface Membership {
  plan: Plan;
  status: "active" | "lapsed" | "ended";
  startedAt: string;
  periodEnd: string;
  cancelAtPeriodEnd: boolean;
  /** The perks that apply now: the plan's while active, none otherwise. */
  perks: Perks | null;
}

export async function membershipOf(db: Queryable, ws: Workspace, customerId: number): Promise<Membership | null> {
  const [m] = await db.query<{ plan_id: number; status: Membership["status"]; started_at: Date; period_end: Date; cancel_at_period_end: boolean }>(
    "SELECT plan_id, status, started_at, period_end, cancel_at_period_end FROM loyalty_memberships WHERE workspace_id = $1 AND customer_id = $2",
    [ws.id, customerId],
  );
  if (!m) return null;
  const [plan] = await db.query<PlanRow>(`SELECT ${PLAN_COLUMNS} FROM loyalty_plans WHERE id = $1`, [m.plan_id]);
  if (!plan) return null;
  return { plan: planOf(plan), status: m.status, startedAt: m.started_at.toISOString(), periodEnd: m.period_end.toISOString(), cancelAtPeriodEnd: m.cancel_at_period_end, perks: m.status === "active" ? plan.perks : null };
}

export const PaymentInput = z.strictObject({
  planId: z.number().int().positive().optional().describe("start: the plan; renewal: another plan to switch to (default: the same)"),
  key: z.string().min(1).max(200).describe("idempotency key: the payment's id in the shop's billing"),
  amountMinor: z.number().int().min(0).max(1e10).optional().describe("what was paid (default: the plan's price)"),
});

export const CancelInput = z.strictObject({
  immediately: z.boolean().default(false).describe("end now instead of at the end of the period paid for"),
});

/**
 * A payment the shop's billing took: it starts a membership, or renews one
 * (from the end of the period paid for, or from now when it had lapsed or ended).
 */
export async function recordMembershipPayment(store: Store, ws: Workspace, customerId: number, kind: "start" | "renewal", input: unknown, now: Date): Promise<Membership & { created: boolean }> {
  const body = parseInput(PaymentInput, input);
  return store.transaction(async (tx) => {
    const [customer] = await tx.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND id = $2 FOR UPDATE", [ws.id, customerId]);
    if (!customer) throw new AppError("not_found", "customer: no such customer", [{ field: "customer", message: "no such customer" }]);
    const [paid] = await tx.query<{ customer_id: number; kind: string }>("SELECT customer_id, kind FROM loyalty_membership_payments WHERE workspace_id = $1 AND idempotency_key = $2", [ws.id, body.key]);
    const current = await membershipOf(tx, ws, customerId);
    if (paid) {
      if (Number(paid.customer_id) !== customerId || paid.kind !== kind || !current) throw new AppError("conflict", `key: "${body.key}" was already used for another payment`, [{ field: "key", message: "already used" }]);
      return { ...current, created: false };
    }
    if (kind === "renewal" && !current) throw new AppError("unprocessable", "customer: has no membership to renew (start one first)", [{ field: "customer", message: "no membership" }]);
    const planId = body.planId ?? current?.plan.id;
    if (planId === undefined) throw new AppError("invalid_input", "planId: is required to start a membership", [{ field: "planId", message: "is required" }]);
    const [planRow] = await tx.query<PlanRow>(`SELECT ${PLAN_COLUMNS} FROM loyalty_plans WHERE workspace_id = $1 AND id = $2`, [ws.id, planId]);
    if (!planRow) throw new AppError("not_found", `planId: no plan ${planId}`, [{ field: "planId", message: "no such plan" }]);
    const plan = planOf(planRow);
    if (kind === "start") {
      if (current?.status === "active") throw new AppError("conflict", `planId: the customer is already a member (${current.plan.name}, paid to ${current.periodEnd})`, [{ field: "planId", message: "already a member" }]);
      if (!plan.active) throw new AppError("unprocessable", `planId: "${plan.name}" is not offered any more`, [{ field: "planId", message: "not offered" }]);
    }
    const from = kind === "renewal" && current?.status === "active" ? new Date(current.periodEnd) : now;
    const end = addPeriod(from, plan.period);
    await tx
      .query(
        `INSERT INTO loyalty_membership_payments (workspace_id, customer_id, plan_id, kind, amount_minor, currency, period_start, period_end, idempotency_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [ws.id, customerId, plan.id, kind, body.amountMinor ?? plan.priceMinor, plan.currency, from, end, body.key, now],
      )
      .catch((err: unknown) => {
        // The same payment key sent at the same moment for another customer (each waits only on its own lock).
        if (err instanceof StoreError && err.sqlState === "23505") throw new AppError("conflict", `key: "${body.key}" was already used for another payment`, [{ field: "key", message: "already used" }]);
        throw err;
      });
    await tx.query(
      `INSERT INTO loyalty_memberships (workspace_id, customer_id, plan_id, status, started_at, period_end, cancel_at_period_end, updated_at)
       VALUES ($1, $2, $3, 'active', $4, $5, false, $4)
       ON CONFLICT (customer_id) DO UPDATE SET plan_id = EXCLUDED.plan_id, status = 'active', period_end = EXCLUDED.period_end, cancel_at_period_end = false,
         started_at = CASE WHEN loyalty_memberships.status = 'active' THEN loyalty_memberships.started_at ELSE EXCLUDED.started_at END, updated_at = EXCLUDED.updated_at`,
      [ws.id, customerId, plan.id, now, end],
    );
    const restarted = kind === "renewal" && current?.status !== "active";
    await logLoyaltyEvent(tx, ws, customerId, kind === "start" ? "Membership Started" : "Membership Renewed", `membership:${body.key}`, { plan: plan.name, planId: plan.id, periodEnd: end.toISOString(), amountMinor: body.amountMinor ?? plan.priceMinor, currency: plan.currency, ...(restarted ? { after: current?.status } : {}) }, now);
    const after = await membershipOf(tx, ws, customerId);
    if (!after) throw new AppError("internal", "membership: not recorded");
    return { ...after, created: true };
  });
}

/** Cancels: the membership stays active to the end of the period paid for (or ends now). */
export async function cancelMembership(store: Store, ws: Workspace, customerId: number, input: unknown, now: Date): Promise<Membership> {
  const body = parseInput(CancelInput, input);
  return store.transaction(async (tx) => {
    const current = await membershipOf(tx, ws, customerId);
    if (!current || current.status !== "active") throw new AppError("unprocessable", "customer: has no active membership to cancel", [{ field: "customer", message: "no active membership" }]);
    if (body.immediately) {
      await tx.query("UPDATE loyalty_memberships SET status = 'ended', period_end = $2, cancel_at_period_end = true, updated_at = $2 WHERE customer_id = $1", [customerId, now]);
      await logLoyaltyEvent(tx, ws, customerId, "Membership Cancelled", `membership:cancel:${customerId}:${current.periodEnd}`, { plan: current.plan.name, endsAt: now.toISOString(), immediately: true }, now);
      await logLoyaltyEvent(tx, ws, customerId, "Membership Ended", `membership:end:${customerId}:${current.periodEnd}`, { plan: current.plan.name, reason: "cancelled" }, now);
    } else if (!current.cancelAtPeriodEnd) {
      await tx.query("UPDATE loyalty_memberships SET cancel_at_period_end = true, updated_at = $2 WHERE customer_id = $1", [customerId, now]);
      await logLoyaltyEvent(tx, ws, customerId, "Membership Cancelled", `membership:cancel:${customerId}:${current.periodEnd}`, { plan: current.plan.name, endsAt: current.periodEnd, immediately: false }, now);
    }
    const after = await membershipOf(tx, ws, customerId);
    if (!after) throw new AppError("internal", "membership: lost");
    return after;
  });
}

export interface MembershipPass {
  lapsed: number;
  ended: number;
}

/** The worker's pass: active memberships past their period lapse (unpaid) or end (cancelled). */
export async function expireMemberships(store: Store, ws: Workspace, now: Date): Promise<MembershipPass> {
  return store.transaction(async (tx) => {
    const rows = await tx.query<{ customer_id: number; cancel_at_period_end: boolean; period_end: Date; plan: string }>(
      `UPDATE loyalty_memberships m SET status = CASE WHEN m.cancel_at_period_end THEN 'ended' ELSE 'lapsed' END, updated_at = $2
         FROM loyalty_plans p
        WHERE m.workspace_id = $1 AND m.status = 'active' AND m.period_end <= $2 AND p.id = m.plan_id
       RETURNING m.customer_id, m.cancel_at_period_end, m.period_end, p.name AS plan`,
      [ws.id, now],
    );
    for (const r of rows) {
      const ended = r.cancel_at_period_end;
      await logLoyaltyEvent(tx, ws, Number(r.customer_id), ended ? "Membership Ended" : "Membership Lapsed", `membership:${ended ? "end" : "lapse"}:${r.customer_id}:${r.period_end.toISOString()}`, { plan: r.plan, periodEnd: r.period_end.toISOString(), reason: ended ? "cancelled" : "not renewed" }, now);
    }
    return { lapsed: rows.filter((r) => !r.cancel_at_period_end).length, ended: rows.filter((r) => r.cancel_at_period_end).length };
  });
}
