/**
 * Backtest: replays the shop's stored history through a journey on a
 * simulated clock, without sending or writing anything. For each trigger
 * occurrence in [from, to] it runs the same pure engine the live runner
 * runs, feeding it the customer's later events and its own wake-ups in time
 * order, and reports whom it would have entered, what it would have sent and
 * when, and what those customers actually did next (orders and revenue
 * within 7 and 30 days of entering), holdout apart.
 *
 * History is what the database keeps: events, orders, segment entries and
 * exits (since segments existed), birthdays and traits. Rules (audience,
 * branch conditions) are evaluated as of the simulated time for everything
 * with a time window (events, orders); profile fields, rollups and
 * predictions are only known as they are today. Consent, caps and quiet
 * hours are not replayed: the report counts what the journey would have
 * decided to send.
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { customersMatching } from "../segments/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { fromLocal, groupBy } from "../shared/index.ts";
import { advance, NOT_ENTERED, type ExitReason, type JourneyState } from "./engine.ts";
import { matchesPropertyFilters } from "../segments/index.ts";
import type { CheckedJourney, Trigger } from "./definition.ts";
import { loadContexts, renderSubject } from "../messaging/index.ts";

const DAY_MS = 86_400_000;
/** How long after `to` a journey that entered by `to` may keep running (and its outcomes be read). */
const HORIZON_DAYS = 60;

export interface BacktestMessage {
  customer: string;
  customerId: number;
  step: string;
  at: string;
  subject: string;
}

export interface Outcome {
  customers: number;
  ordered: number;
  orders: number;
  revenueMinor: number;
  /** Share of customers who ordered. */
  rate: number;
}

export interface BacktestReport {
  from: string;
  to: string;
  currency: string;
  seconds: number;
  /** Trigger occurrences found in the period. */
  triggered: number;
  entered: number;
  customers: number;
  exits: Record<ExitReason | "inside", number>;
  steps: { step: string; reached: number; sent: number }[];
  sent: number;
  /** The first messages, by time (all are counted in `sent`). */
  messages: BacktestMessage[];
  outcome: { within7: Outcome; within30: Outcome };
  holdout: { within7: Outcome; within30: Outcome } | null;
  notes: string[];
}

interface Occurrence {
  customerId: number;
  at: number;
  entry: string;
  properties: Record<string, unknown>;
}

interface HistEvent {
  customerId: number;
  name: string;
  at: number;
  properties: Record<string, unknown>;
}

export interface BacktestOptions {
  from: Date;
  to: Date;
  /** Messages listed in the report (all are counted). */
  listLimit?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Replays [from, to] through a checked journey. Reads only. */
export async function backtestJourney(db: Queryable, ws: Workspace, journey: CheckedJourney, options: BacktestOptions): Promise<BacktestReport> {
  const started = performance.now();
  const from = options.from.getTime();
  const to = options.to.getTime();
  const horizon = to + HORIZON_DAYS * DAY_MS;
  const def = journey.definition;
  const notes: string[] = [];

  const orders = await loadOrders(db, ws, horizon);
  const occurrences = await occurrencesOf(db, ws, def.trigger, from, to, orders, notes);
  occurrences.sort((a, b) => a.customerId - b.customerId || a.at - b.at);
  const customerIds = [...new Set(occurrences.map((o) => o.customerId))];

  // The events the journey listens to after entry: goals and waits.
  const names = new Set<string>([...def.goals.map((g) => g.event), ...[...journey.steps.values()].flatMap((s) => (s.type === "waitForEvent" ? [s.event] : []))]);
  const events = await loadEvents(db, ws, [...names], customerIds, from, horizon);
  const people = await loadPeople(db, customerIds);

  // The audience, as of the end of each day entries happen on.
  const audience = new Map<number, Set<number>>();
  if (journey.audience) {
    const byDay = new Map<number, Set<number>>();
    for (const o of occurrences) {
      const day = Math.floor(o.at / DAY_MS);
      const set = byDay.get(day) ?? new Set<number>();
      set.add(o.customerId);
      byDay.set(day, set);
    }
    for (const [day, set] of byDay) audience.set(day, await customersMatching(db, ws, journey.audience, [...set], new Date(Math.min((day + 1) * DAY_MS - 1, Date.now()))));
  }
  const conditionCache = new Map<string, boolean>();
  const condition = async (step: string, customerId: number, at: number): Promise<boolean> => {
    const rule = journey.conditions.get(step);
    if (!rule) return false;
    const key = `${step}:${customerId}:${Math.floor(at / 3_600_000)}`;
    let v = conditionCache.get(key);
    if (v === undefined) {
      v = (await customersMatching(db, ws, rule, [customerId], new Date(at))).has(customerId);
      conditionCache.set(key, v);
    }
    return v;
  };

  const exits: Record<ExitReason | "inside", number> = { completed: 0, goal: 0, holdout: 0, exit: 0, stopped: 0, inside: 0 };
  const reached = new Map<string, number>();
  const sentBy = new Map<string, number>();
  const messages: BacktestMessage[] = [];
  const entries: { customerId: number; at: number; holdout: boolean }[] = [];
  let sent = 0;
  const listLimit = options.listLimit ?? 200;

  let done = 0;
  for (let i = 0; i < occurrences.length; ) {
    const customerId = occurrences[i]?.customerId ?? 0;
    let j = i;
    while (j < occurrences.length && occurrences[j]?.customerId === customerId) j += 1;
    const mine = occurrences.slice(i, j);
    i = j;
    const person = people.get(customerId);
    const history = events.get(customerId) ?? [];
    let lastEntry: number | undefined;
    let busyUntil = Number.NEGATIVE_INFINITY;
    for (const occ of mine) {
      if (occ.at < busyUntil) continue; // still inside: no second run
      const policy = def.reentry;
      if (lastEntry !== undefined && policy.policy === "once") break;
      if (lastEntry !== undefined && policy.policy === "oncePer" && occ.at - lastEntry < policy.days * DAY_MS) continue;
      if (journey.audience && !(audience.get(Math.floor(occ.at / DAY_MS))?.has(customerId) ?? false)) continue;
      lastEntry = occ.at;
      const ctx = { journey, enrolmentKey: `backtest:${customerId}:${occ.entry}`, timeZone: person?.timeZone ?? null };
      let state: JourneyState = NOT_ENTERED;
      let now = occ.at;
      let pointer = history.findIndex((e) => e.at > occ.at);
      if (pointer < 0) pointer = history.length;
      let holdout = false;
      let r = advance(ctx, state, { type: "enter", properties: occ.properties }, new Date(now));
      for (let guard = 0; guard < 10_000; guard += 1) {
        for (const e of r.effects) {
          if (e.type === "reached") reached.set(e.step, (reached.get(e.step) ?? 0) + 1);
          if (e.type === "split" && e.holdout) holdout = true;
          if (e.type === "send") {
            sent += 1;
            sentBy.set(e.step, (sentBy.get(e.step) ?? 0) + 1);
            if (messages.length < listLimit) messages.push({ customer: person?.externalId ?? String(customerId), customerId, step: e.step, at: new Date(now).toISOString(), subject: e.email.subject });
          }
        }
        state = r.state;
        if (state.status === "done") break;
        if (state.status === "evaluating" && state.step) {
          r = advance(ctx, state, { type: "condition", step: state.step, matched: await condition(state.step, customerId, now) }, new Date(now));
          continue;
        }
        const wake = state.wakeAt ? Date.parse(state.wakeAt) : Number.POSITIVE_INFINITY;
        const next = history[pointer];
        if (next && next.at <= wake && next.at <= horizon) {
          pointer += 1;
          now = Math.max(now, next.at);
          r = advance(ctx, state, { type: "event", event: next.name, properties: next.properties, at: new Date(next.at) }, new Date(now));
          continue;
        }
        if (wake > horizon) break;
        now = wake;
        r = advance(ctx, state, { type: "wake" }, new Date(now));
      }
      if (state.status === "done") exits[state.exit ?? "completed"] += 1;
      else exits.inside += 1;
      busyUntil = state.status === "done" ? now : Number.POSITIVE_INFINITY;
      entries.push({ customerId, at: occ.at, holdout });
    }
    done += 1;
    if (done % 1000 === 0) options.onProgress?.(done, customerIds.length);
  }
  options.onProgress?.(customerIds.length, customerIds.length);

  const outcomeOf = (list: typeof entries, days: number): Outcome => {
    const who = new Set<number>();
    const ordered = new Set<number>();
    let count = 0;
    let revenue = 0;
    for (const e of list) {
      who.add(e.customerId);
      for (const o of orders.get(e.customerId) ?? []) {
        if (o.at > e.at && o.at <= e.at + days * DAY_MS) {
          ordered.add(e.customerId);
          count += 1;
          revenue += o.totalMinor;
        }
      }
    }
    return { customers: who.size, ordered: ordered.size, orders: count, revenueMinor: revenue, rate: who.size === 0 ? 0 : ordered.size / who.size };
  };
  const treated = entries.filter((e) => !e.holdout);
  const held = entries.filter((e) => e.holdout);
  if (to + 30 * DAY_MS > Date.now()) notes.push("The period ends less than 30 days ago: the 30-day outcomes of the last entries are not complete yet.");
  messages.sort((a, b) => a.at.localeCompare(b.at));
  await personalise(db, ws, messages, people, new Date(Math.min(horizon, Date.now())));
  return {
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    currency: ws.currency,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    triggered: occurrences.length,
    entered: entries.length,
    customers: new Set(entries.map((e) => e.customerId)).size,
    exits,
    steps: def.steps.map((s) => ({ step: s.id, reached: reached.get(s.id) ?? 0, sent: sentBy.get(s.id) ?? 0 })),
    sent,
    messages,
    outcome: { within7: outcomeOf(treated, 7), within30: outcomeOf(treated, 30) },
    holdout: held.length > 0 ? { within7: outcomeOf(held, 7), within30: outcomeOf(held, 30) } : null,
    notes,
  };
}

interface HistOrder {
  customerId: number;
  at: number;
  totalMinor: number;
}

async function loadOrders(db: Queryable, ws: Workspace, until: number): Promise<Map<number, HistOrder[]>> {
  const rows = await db.query<{ customer_id: number; at: Date; total_minor: number }>(
    `SELECT customer_id, placed_at AS at, total_minor FROM orders
      WHERE workspace_id = $1 AND customer_id IS NOT NULL AND placed_at <= $2 AND status <> ALL($3::text[]) ORDER BY customer_id, placed_at`,
    [ws.id, new Date(until), [...NON_PURCHASE_STATUSES]],
  );
  return groupBy(
    rows.map((r) => ({ customerId: Number(r.customer_id), at: r.at.getTime(), totalMinor: Number(r.total_minor) })),
    (o) => o.customerId,
  );
}

async function loadEvents(db: Queryable, ws: Workspace, names: string[], customerIds: number[], from: number, until: number): Promise<Map<number, HistEvent[]>> {
  if (names.length === 0 || customerIds.length === 0) return new Map();
  const rows = await db.query<{ customer_id: number; name: string; at: Date; properties: Record<string, unknown> }>(
    `SELECT customer_id, name, occurred_at AS at, properties FROM events
      WHERE workspace_id = $1 AND name = ANY($2::text[]) AND customer_id = ANY($3::bigint[]) AND occurred_at >= $4 AND occurred_at <= $5
      ORDER BY customer_id, occurred_at, id`,
    [ws.id, names, customerIds, new Date(from), new Date(until)],
  );
  return groupBy(
    rows.map((r) => ({ customerId: Number(r.customer_id), name: r.name, at: r.at.getTime(), properties: r.properties })),
    (e) => e.customerId,
  );
}

async function loadPeople(db: Queryable, ids: number[]): Promise<Map<number, { externalId: string; timeZone: string | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: number; external_id: string; time_zone: string | null }>("SELECT id, external_id, time_zone FROM customers WHERE id = ANY($1::bigint[])", [ids]);
  return new Map(rows.map((r) => [Number(r.id), { externalId: r.external_id, timeZone: r.time_zone }]));
}

/** Every moment in [from, to] the trigger would have started the journey, with its entry key. */
async function occurrencesOf(db: Queryable, ws: Workspace, trigger: Trigger, from: number, to: number, orders: Map<number, HistOrder[]>, notes: string[]): Promise<Occurrence[]> {
  const range = [new Date(from), new Date(to)];
  switch (trigger.type) {
    case "event": {
      const rows = await db.query<{ id: number; customer_id: number; at: Date; properties: Record<string, unknown> }>(
        `SELECT id, customer_id, occurred_at AS at, properties FROM events
          WHERE workspace_id = $1 AND name = $2 AND type <> 'segment' AND customer_id IS NOT NULL AND occurred_at >= $3 AND occurred_at <= $4`,
        [ws.id, trigger.event, ...range],
      );
      return rows.filter((r) => matchesPropertyFilters(trigger.where, r.properties)).map((r) => ({ customerId: Number(r.customer_id), at: r.at.getTime(), entry: `e${r.id}`, properties: r.properties }));
    }
    case "segment": {
      const rows = await db.query<{ id: number; customer_id: number; at: Date; properties: Record<string, unknown> }>(
        `SELECT id, customer_id, occurred_at AS at, properties FROM events
          WHERE workspace_id = $1 AND type = 'segment' AND name = $2 AND (properties ->> 'segmentId')::bigint = $3 AND occurred_at >= $4 AND occurred_at <= $5`,
        [ws.id, trigger.on === "enter" ? "Segment Entered" : "Segment Exited", trigger.segmentId, ...range],
      );
      notes.push("Segment entries and exits are known only since the segment existed.");
      return rows.map((r) => ({ customerId: Number(r.customer_id), at: r.at.getTime(), entry: `e${r.id}`, properties: r.properties }));
    }
    case "date": {
      const trait = trigger.field.startsWith("trait.") ? trigger.field.slice("trait.".length) : null;
      const rows = await db.query<{ id: number; day: string | null; time_zone: string | null }>(
        trait === null
          ? "SELECT id, to_char(birthday, 'YYYY-MM-DD') AS day, time_zone FROM customers WHERE workspace_id = $1 AND birthday IS NOT NULL"
          : `SELECT c.id, to_char(fidelio_try_timestamptz(t.value #>> '{}')::date, 'YYYY-MM-DD') AS day, c.time_zone
               FROM customers c JOIN customer_traits t ON t.customer_id = c.id AND t.key = $2 WHERE c.workspace_id = $1`,
        trait === null ? [ws.id] : [ws.id, trait],
      );
      const [hh, mm] = trigger.at.split(":").map(Number);
      const out: Occurrence[] = [];
      for (const r of rows) {
        if (!r.day) continue;
        const [y, m, d] = r.day.split("-").map(Number);
        const years = trait === null ? rangeYears(from, to) : [y ?? 0];
        for (const year of years) {
          const leapless = m === 2 && d === 29 && !isLeap(year);
          const day = new Date(Date.UTC(year, (m ?? 1) - 1, (leapless ? 28 : (d ?? 1)) + trigger.offsetDays));
          const at = fromLocal(r.time_zone, day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hh ?? 9, mm ?? 0).getTime();
          if (at >= from && at <= to) out.push({ customerId: Number(r.id), at, entry: `d${day.toISOString().slice(0, 10)}`, properties: { date: day.toISOString().slice(0, 10) } });
        }
      }
      return out;
    }
    case "schedule": {
      const [hh, mm] = trigger.at.split(":").map(Number);
      const start = new Date(from);
      const out: Occurrence[] = [];
      for (let slot = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate(), hh ?? 9, mm ?? 0); slot <= to; slot += trigger.everyDays * DAY_MS) {
        if (slot < from) continue;
        const at = new Date(slot);
        const rows =
          trigger.segmentId === undefined
            ? await db.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND created_at <= $2", [ws.id, at])
            : await db.query<{ id: number }>(
                "SELECT customer_id AS id FROM segment_memberships WHERE workspace_id = $1 AND segment_id = $2 AND entered_at <= $3 AND (exited_at IS NULL OR exited_at > $3)",
                [ws.id, trigger.segmentId, at],
              );
        for (const r of rows) out.push({ customerId: Number(r.id), at: slot, entry: `s${at.toISOString()}`, properties: { slot: at.toISOString() } });
      }
      return out;
    }
    case "overdue": {
      const out: Occurrence[] = [];
      for (const [customerId, list] of orders) {
        const first = list[0];
        if (!first) continue;
        for (let k = trigger.minOrders - 1; k < list.length; k += 1) {
          const last = list[k];
          if (!last || last.at <= first.at) continue;
          const gap = (last.at - first.at) / k;
          const due = last.at + trigger.factor * gap;
          const nextOrder = list[k + 1];
          if (nextOrder && nextOrder.at <= due) continue; // bought again in time: never overdue
          if (due >= from && due <= to) {
            out.push({ customerId, at: due, entry: `o${new Date(last.at).toISOString()}`, properties: { lastOrderAt: new Date(last.at).toISOString(), rhythmDays: Math.round((gap / DAY_MS) * 10) / 10 } });
          }
        }
      }
      return out;
    }
    case "replenishment": {
      const rows = await db.query<{ customer_id: number; product_id: string; order_id: string; at: Date; quantity: number; usage_days: number }>(
        `SELECT o.customer_id, l.product_id, o.external_id AS order_id, o.placed_at AS at, l.quantity, p.usage_days
           FROM orders o JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.workspace_id = o.workspace_id AND p.external_id = l.product_id AND p.usage_days > 0
          WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.status <> ALL($3::text[]) AND o.placed_at <= $2
          ORDER BY o.customer_id, l.product_id, o.placed_at`,
        [ws.id, new Date(to), [...NON_PURCHASE_STATUSES]],
      );
      const out: Occurrence[] = [];
      for (let i = 0; i < rows.length; i += 1) {
        const r = rows[i];
        if (!r) continue;
        let firstIdx = i;
        while (firstIdx > 0 && rows[firstIdx - 1]?.customer_id === r.customer_id && rows[firstIdx - 1]?.product_id === r.product_id) firstIdx -= 1;
        const times = i - firstIdx + 1;
        const firstAt = rows[firstIdx]?.at.getTime() ?? r.at.getTime();
        const runsOut = r.at.getTime() + (times >= 2 ? (r.at.getTime() - firstAt) / (times - 1) : r.usage_days * r.quantity * DAY_MS);
        const due = runsOut - trigger.leadDays * DAY_MS;
        const next = rows[i + 1];
        const rebought = next && next.customer_id === r.customer_id && next.product_id === r.product_id && next.at.getTime() <= due;
        if (!rebought && due >= from && due <= to) {
          out.push({ customerId: Number(r.customer_id), at: due, entry: `r${r.order_id}:${r.product_id}`, properties: { product_id: r.product_id, order_id: r.order_id } });
        }
      }
      return out;
    }
  }
}

/** The listed messages' subjects, rendered for their customers as they are today. */
async function personalise(db: Queryable, ws: Workspace, messages: BacktestMessage[], people: Map<number, { externalId: string }>, now: Date): Promise<void> {
  if (messages.length === 0) return;
  const contexts = await loadContexts(db, ws, [...new Set(messages.map((m) => m.customerId))], { name: ws.id, url: "" }, now);
  for (const m of messages) {
    try {
      m.subject = await renderSubject(m.subject, { ...(contexts.get(m.customerId) ?? {}), trigger: {} });
    } catch {
      // A subject that does not render stays as written.
    }
    m.customer = people.get(m.customerId)?.externalId ?? m.customer;
  }
}

function rangeYears(from: number, to: number): number[] {
  const out: number[] = [];
  for (let y = new Date(from).getUTCFullYear() - 1; y <= new Date(to).getUTCFullYear() + 1; y += 1) out.push(y);
  return out;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

