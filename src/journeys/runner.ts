/**
 * The journey runner: carries the pure engine (`advance`) over the stored
 * world. One pass
 *
 * 1. reads new events from its cursor on the event log (`event-feed.ts`):
 *    each one is offered to the journeys its customer is in (goals, waits for
 *    an event) and starts the journeys it triggers (event, segment entry or
 *    exit);
 * 2. wakes the customers whose wait is due (an index on `wake_at`);
 * 3. sweeps the time-based triggers (date, schedule, overdue).
 *
 * Every batch is one transaction that holds the workspace's journey lock,
 * writes the customers' new places, the funnel log, the messages to the
 * outbox (unique by idempotency key) and the cursor together. A crash rolls
 * the batch back whole; the next pass does it again and, the keys being the
 * same, cannot send twice.
 */
import type { Queryable, Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { CUSTOMER_ZONE_SQL, customersMatching } from "../segments/index.ts";
import { matchesPropertyFilters } from "../segments/index.ts";
import { NON_PURCHASE_STATUSES, writeCustomers, type CustomerRecord } from "../ingest/index.ts";
import { groupBy } from "../shared/index.ts";
import { postPoints } from "../loyalty/index.ts";
import { advance, NOT_ENTERED, type Effect, type Input, type JourneyState } from "./engine.ts";
import type { CheckedJourney, Trigger } from "./definition.ts";
import { journeyVersions } from "./journeys-store.ts";
import { EventFeed, readEvents, type FeedEvent } from "./event-feed.ts";

const DAY_MS = 86_400_000;
/**
 * A trigger event older than this (by its own timestamp) starts nothing:
 * importing last year's orders must not send last year's thank-you notes.
 */
export const TRIGGER_MAX_AGE_MS = DAY_MS;
/** An overdue customer enters only within this many days of falling due, not years later when the journey is first switched on. */
export const OVERDUE_GRACE_DAYS = 30;
/**
 * Time-based triggers are swept at most this often (by the runner's own
 * `now`): their queries read every customer (overdue, date) or two years of
 * order lines (replenishment), too much for every 5-second pass, and none of
 * them needs more than minute precision.
 */
export const SWEEP_EVERY_MS = 60_000;

interface Open {
  key: string;
  journeyId: number;
  version: number;
  customerId: number;
  externalId: string;
  timeZone: string | null;
  state: JourneyState;
  enteredAt: Date;
  exitedAt: Date | null;
  dirty: boolean;
}

interface JourneyRow {
  id: number;
  name: string;
  status: "draft" | "active" | "paused";
  version: number;
  activatedAt: Date | null;
}

export interface RunResult {
  events: number;
  entered: number;
  steps: number;
  messages: number;
}

const emptyResult = (): RunResult => ({ events: 0, entered: 0, steps: 0, messages: 0 });

/** Work gathered in one transaction. */
class Batch {
  readonly opens: Open[] = [];
  readonly log: { open: Open; step: string; what: string }[] = [];
  readonly messages: { open: Open; effect: Extract<Effect, { type: "send" | "webhook" }>; journeyName: string }[] = [];
  readonly traits: { open: Open; key: string; value: unknown }[] = [];
  readonly unsubscribes: Open[] = [];
  readonly awards: { open: Open; effect: Extract<Effect, { type: "awardPoints" }> }[] = [];
  evaluating: Open[] = [];
  entered = 0;
  steps = 0;
}

export interface RunnerOptions {
  /** Events, wake-ups or entries handled per transaction. */
  batchSize?: number;
}

export class JourneyRunner {
  readonly #versions = new Map<string, CheckedJourney>();
  readonly #feed: EventFeed;
  readonly #batchSize: number;
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly ws: Workspace,
    options: RunnerOptions = {},
  ) {
    this.#feed = new EventFeed(store.kind);
    this.#batchSize = options.batchSize ?? 2000;
  }

  /** One full pass at `now`: new events, due wake-ups, time-based triggers. */
  async runOnce(now: Date): Promise<RunResult> {
    const result = emptyResult();
    const journeys = await this.#journeys();
    if (journeys.size === 0 && !(await this.#anyoneInside())) {
      await this.#skipToEnd(now);
      return result;
    }
    add(result, await this.#processEvents(journeys, now));
    add(result, await this.#wake(journeys, now));
    if (now.getTime() - this.#sweptAt >= SWEEP_EVERY_MS) {
      add(result, await this.#sweep(journeys, now));
      this.#sweptAt = now.getTime();
    }
    return result;
  }

  async #journeys(): Promise<Map<number, JourneyRow>> {
    const rows = await this.store.query<{ id: number; name: string; status: JourneyRow["status"]; version: number; activated_at: Date | null }>(
      "SELECT id, name, status, version, activated_at FROM journeys WHERE workspace_id = $1 AND status IN ('active', 'paused')",
      [this.ws.id],
    );
    return new Map(rows.map((r) => [Number(r.id), { id: Number(r.id), name: r.name, status: r.status, version: r.version, activatedAt: r.activated_at }]));
  }

  async #anyoneInside(): Promise<boolean> {
    const rows = await this.store.query<{ n: number }>("SELECT count(*)::int AS n FROM (SELECT 1 FROM journey_enrolments WHERE workspace_id = $1 AND status <> 'done' LIMIT 1) x", [this.ws.id]);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** With no journey running, the cursor moves to the end of the log: nothing there concerns anyone. */
  async #skipToEnd(now: Date): Promise<void> {
    const cursor = await this.#cursor(this.store);
    const bound = await this.#feed.safeBound(this.store, cursor);
    if (bound > cursor) await this.#saveCursor(this.store, bound, now);
  }

  async #checked(tx: Queryable, journeyId: number, version: number): Promise<CheckedJourney | undefined> {
    const key = `${journeyId}:${version}`;
    let j = this.#versions.get(key);
    if (!j) {
      for (const [k, v] of await journeyVersions(tx, this.ws, [journeyId])) this.#versions.set(k, v);
      j = this.#versions.get(key);
    }
    return j;
  }

  async #cursor(db: Queryable): Promise<number> {
    const rows = await db.query<{ last_event_id: number }>("SELECT last_event_id FROM journey_cursors WHERE workspace_id = $1", [this.ws.id]);
    return rows[0]?.last_event_id ?? 0;
  }

  async #saveCursor(db: Queryable, to: number, now: Date): Promise<void> {
    await db.query(
      `INSERT INTO journey_cursors (workspace_id, last_event_id, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (workspace_id) DO UPDATE SET last_event_id = GREATEST(journey_cursors.last_event_id, EXCLUDED.last_event_id), updated_at = EXCLUDED.updated_at`,
      [this.ws.id, to, now],
    );
  }

  async #lock(tx: Queryable): Promise<void> {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('fidelio.journeys:' || $1))", [this.ws.id]);
  }

  // ── 1. events ───────────────────────────────────────────────────────────

  async #processEvents(journeys: Map<number, JourneyRow>, now: Date): Promise<RunResult> {
    const result = emptyResult();
    const bound = await this.#feed.safeBound(this.store, await this.#cursor(this.store));
    for (;;) {
      const done = await this.store.transaction(async (tx) => {
        await this.#lock(tx);
        const cursor = await this.#cursor(tx);
        if (cursor >= bound) return true;
        const events = await readEvents(tx, this.ws.id, cursor, bound, this.#batchSize);
        const batch = new Batch();
        await this.#offerEvents(tx, journeys, events, batch, now);
        await this.#settle(tx, batch, now);
        await this.#persist(tx, batch, journeys, now);
        const last = events.length === this.#batchSize ? (events[events.length - 1]?.id ?? bound) : bound;
        await this.#saveCursor(tx, last, now);
        add(result, { events: events.length, entered: batch.entered, steps: batch.steps, messages: batch.messages.length });
        return last >= bound;
      });
      if (done) return result;
    }
  }

  async #offerEvents(tx: Queryable, journeys: Map<number, JourneyRow>, events: readonly FeedEvent[], batch: Batch, now: Date): Promise<void> {
    if (events.length === 0) return;
    const customerIds = [...new Set(events.map((e) => e.customerId))];
    const byCustomer = groupBy(await this.#loadOpen(tx, "e.customer_id = ANY($2::bigint[]) AND e.status <> 'done'", [customerIds]), (o) => o.customerId);

    // Which events start which active journeys (and who passes the audience).
    const triggered = new Map<number, number[]>(); // event id → journey ids
    const candidates = new Map<number, Set<number>>(); // journey id → customers
    for (const j of journeys.values()) {
      if (j.status !== "active") continue;
      const def = await this.#checked(tx, j.id, j.version);
      if (!def) continue;
      for (const e of events) {
        if (now.getTime() - e.occurredAt.getTime() > TRIGGER_MAX_AGE_MS || !triggers(def.definition.trigger, e)) continue;
        triggered.set(e.id, [...(triggered.get(e.id) ?? []), j.id]);
        const set = candidates.get(j.id) ?? new Set<number>();
        set.add(e.customerId);
        candidates.set(j.id, set);
      }
    }
    const admission = await this.#admission(tx, journeys, candidates, now);

    for (const e of events) {
      // Events are applied at the time they happened (never later than now),
      // so a wait that ended before an event ends first, and a journey an
      // event starts runs from the event, not from when it was read.
      const at = new Date(Math.min(now.getTime(), e.occurredAt.getTime()));
      for (const open of byCustomer.get(e.customerId) ?? []) {
        const j = journeys.get(open.journeyId);
        if (!j || open.state.status === "done") continue;
        const def = await this.#checked(tx, open.journeyId, open.version);
        if (!def) continue;
        const wakeAt = open.state.wakeAt ? Date.parse(open.state.wakeAt) : Number.POSITIVE_INFINITY;
        if (j.status === "active" && open.state.status === "waiting" && wakeAt <= at.getTime()) this.#apply(batch, open, def, { type: "wake" }, at);
        if (finished(open)) continue;
        // A paused journey moves no one on, but a goal still ends a run.
        if (j.status === "paused" && !def.definition.goals.some((g) => g.event === e.name && matchesPropertyFilters(g.where, e.properties))) continue;
        this.#apply(batch, open, def, { type: "event", event: e.name ?? "", properties: e.properties, at: e.occurredAt }, at);
      }
      for (const journeyId of triggered.get(e.id) ?? []) {
        const j = journeys.get(journeyId);
        if (!j) continue;
        const opens = byCustomer.get(e.customerId) ?? [];
        const open = await this.#admit(tx, batch, admission, j, e.customerId, `e${e.id}`, e.properties, opens, at);
        if (open) byCustomer.set(e.customerId, [...opens, open]);
      }
    }
  }

  // ── entering ────────────────────────────────────────────────────────────

  /**
   * What admission needs, read once for a batch: each candidate's last entry
   * into the journey (re-entry policy), whether they pass its audience rule,
   * their external id and time zone.
   */
  async #admission(tx: Queryable, journeys: Map<number, JourneyRow>, candidates: Map<number, Set<number>>, now: Date): Promise<Admission> {
    const last = new Map<string, { enteredAt: Date; open: boolean }>();
    const passes = new Map<number, Set<number>>();
    const people = new Map<number, { externalId: string; timeZone: string | null }>();
    const all = [...new Set([...candidates.values()].flatMap((s) => [...s]))];
    if (all.length === 0) return { last, passes, people };
    const rows = await tx.query<{ journey_id: number; customer_id: number; entered_at: Date; open: boolean }>(
      `SELECT DISTINCT ON (journey_id, customer_id) journey_id, customer_id, entered_at, status <> 'done' AS open
         FROM journey_enrolments WHERE workspace_id = $1 AND journey_id = ANY($2::bigint[]) AND customer_id = ANY($3::bigint[])
        ORDER BY journey_id, customer_id, entered_at DESC`,
      [this.ws.id, [...candidates.keys()], all],
    );
    for (const r of rows) last.set(`${Number(r.journey_id)}:${Number(r.customer_id)}`, { enteredAt: r.entered_at, open: r.open });
    for (const [journeyId, set] of candidates) {
      const j = journeys.get(journeyId);
      const def = j ? await this.#checked(tx, j.id, j.version) : undefined;
      if (!def) continue;
      passes.set(journeyId, def.audience ? await customersMatching(tx, this.ws, def.audience, [...set], now) : set);
    }
    const who = await tx.query<{ id: number; external_id: string; time_zone: string | null }>("SELECT id, external_id, time_zone FROM customers WHERE id = ANY($1::bigint[])", [all]);
    for (const c of who) people.set(Number(c.id), { externalId: c.external_id, timeZone: c.time_zone });
    return { last, passes, people };
  }

  async #admit(
    tx: Queryable,
    batch: Batch,
    admission: Admission,
    j: JourneyRow,
    customerId: number,
    entry: string,
    properties: Record<string, unknown>,
    opens: readonly Open[],
    now: Date,
  ): Promise<Open | undefined> {
    const def = await this.#checked(tx, j.id, j.version);
    const person = admission.people.get(customerId);
    if (!def || !person || !(admission.passes.get(j.id)?.has(customerId) ?? false)) return undefined;
    const previous = admission.last.get(`${j.id}:${customerId}`);
    const inside = opens.some((o) => o.journeyId === j.id && o.state.status !== "done") || previous?.open === true;
    const policy = def.definition.reentry;
    if (inside) return undefined;
    if (previous && policy.policy === "once") return undefined;
    if (previous && policy.policy === "oncePer" && now.getTime() - previous.enteredAt.getTime() < policy.days * DAY_MS) return undefined;
    const open: Open = {
      key: `${j.id}:${j.version}:${customerId}:${entry}`,
      journeyId: j.id,
      version: j.version,
      customerId,
      externalId: person.externalId,
      timeZone: person.timeZone,
      state: NOT_ENTERED,
      enteredAt: now,
      exitedAt: null,
      dirty: true,
    };
    admission.last.set(`${j.id}:${customerId}`, { enteredAt: now, open: true });
    batch.entered += 1;
    batch.log.push({ open, step: "", what: "entered" });
    this.#apply(batch, open, def, { type: "enter", properties }, now);
    return open;
  }

  // ── applying the engine ─────────────────────────────────────────────────

  #apply(batch: Batch, open: Open, def: CheckedJourney, input: Input, now: Date): void {
    const { state, effects } = advance({ journey: def, enrolmentKey: open.key, timeZone: open.timeZone }, open.state, input, now);
    if (effects.length === 0 && state === open.state) return;
    if (!open.dirty) {
      open.dirty = true;
    }
    if (!batch.opens.includes(open)) batch.opens.push(open);
    open.state = state;
    batch.steps += 1;
    for (const e of effects) {
      switch (e.type) {
        case "reached":
          batch.log.push({ open, step: e.step, what: "reached" });
          break;
        case "split":
          batch.log.push({ open, step: e.step, what: e.holdout ? "holdout" : `path:${e.path}` });
          break;
        case "exited":
          open.exitedAt = now;
          batch.log.push({ open, step: "", what: `exit:${e.reason}` });
          break;
        case "send":
        case "webhook":
          batch.messages.push({ open, effect: e, journeyName: "" });
          break;
        case "setTrait":
          batch.traits.push({ open, key: e.key, value: e.value });
          break;
        case "evaluate":
          batch.evaluating.push(open);
          break;
        case "unsubscribe":
          batch.unsubscribes.push(open);
          break;
        case "awardPoints":
          batch.awards.push({ open, effect: e });
          break;
      }
    }
  }

  /** Evaluates the branch conditions the batch reached, one query per condition, until no one is left evaluating. */
  async #settle(tx: Queryable, batch: Batch, now: Date): Promise<void> {
    while (batch.evaluating.length > 0) {
      const waiting = batch.evaluating;
      batch.evaluating = [];
      const groups = groupBy(waiting, (o) => `${o.journeyId}:${o.version}:${o.state.step ?? ""}`);
      for (const opens of groups.values()) {
        const first = opens[0];
        if (!first || first.state.step === null) continue;
        const def = await this.#checked(tx, first.journeyId, first.version);
        const rule = def?.conditions.get(first.state.step);
        if (!def || !rule) continue;
        const matched = await customersMatching(
          tx,
          this.ws,
          rule,
          opens.map((o) => o.customerId),
          now,
        );
        for (const o of opens) this.#apply(batch, o, def, { type: "condition", step: first.state.step, matched: matched.has(o.customerId) }, now);
      }
    }
  }

  async #persist(tx: Queryable, batch: Batch, journeys: Map<number, JourneyRow>, now: Date): Promise<void> {
    if (batch.opens.length > 0) {
      await tx.query(
        `INSERT INTO journey_enrolments AS e (workspace_id, key, journey_id, version, customer_id, state, status, step, wake_at, entered_at, exited_at, exit_reason)
         SELECT $1, x.key, x.journey_id, x.version, x.customer_id, x.state, x.status, x.step, x.wake_at, x.entered_at, x.exited_at, x.exit_reason
           FROM jsonb_to_recordset($2::jsonb) AS x(key text, journey_id bigint, version int, customer_id bigint, state jsonb, status text, step text,
                wake_at timestamptz, entered_at timestamptz, exited_at timestamptz, exit_reason text)
         ON CONFLICT (workspace_id, key) DO UPDATE SET state = EXCLUDED.state, status = EXCLUDED.status, step = EXCLUDED.step,
            wake_at = EXCLUDED.wake_at, exited_at = EXCLUDED.exited_at, exit_reason = EXCLUDED.exit_reason`,
        [
          this.ws.id,
          JSON.stringify(
            batch.opens.map((o) => ({
              key: o.key,
              journey_id: o.journeyId,
              version: o.version,
              customer_id: o.customerId,
              state: o.state,
              status: o.state.status,
              step: o.state.step,
              wake_at: o.state.wakeAt,
              entered_at: o.enteredAt.toISOString(),
              exited_at: o.exitedAt?.toISOString() ?? null,
              exit_reason: o.state.exit,
            })),
          ),
        ],
      );
    }
    if (batch.log.length > 0) {
      await tx.query(
        `INSERT INTO journey_step_log (workspace_id, journey_id, version, step, what, enrolment_key, customer_id, at)
         SELECT $1, x.journey_id, x.version, x.step, x.what, x.key, x.customer_id, $3
           FROM jsonb_to_recordset($2::jsonb) AS x(journey_id bigint, version int, step text, what text, key text, customer_id bigint)`,
        [this.ws.id, JSON.stringify(batch.log.map((l) => ({ journey_id: l.open.journeyId, version: l.open.version, step: l.step, what: l.what, key: l.open.key, customer_id: l.open.customerId }))), now],
      );
    }
    if (batch.messages.length > 0) {
      await tx.query(
        `INSERT INTO messages (workspace_id, idempotency_key, channel, purpose, customer_id, journey_id, step, content, status, due_at, created_at)
         SELECT $1, x.key, x.channel, x.purpose, x.customer_id, x.journey_id, x.step, x.content, 'pending', $3, $3
           FROM jsonb_to_recordset($2::jsonb) AS x(key text, channel text, purpose text, customer_id bigint, journey_id bigint, step text, content jsonb)
         ON CONFLICT (workspace_id, idempotency_key) DO NOTHING`,
        [
          this.ws.id,
          JSON.stringify(
            batch.messages.map((m) => ({
              key: m.effect.key,
              channel: m.effect.type === "send" ? m.effect.channel : "webhook",
              purpose: m.effect.type === "send" ? m.effect.purpose : "transactional",
              customer_id: m.open.customerId,
              journey_id: m.open.journeyId,
              step: m.effect.step,
              content:
                m.effect.type === "send"
                  ? { ...m.effect.email, campaign: journeys.get(m.open.journeyId)?.name ?? `journey ${m.open.journeyId}`, trigger: m.open.state.trigger }
                  : { url: m.effect.url, journey: journeys.get(m.open.journeyId)?.name ?? `journey ${m.open.journeyId}` },
            })),
          ),
          now,
        ],
      );
    }
    if (batch.awards.length > 0) {
      // In this transaction, keyed by the run and the step: a replayed batch credits nothing twice.
      await postPoints(
        tx,
        this.ws,
        batch.awards.map((a) => ({ customerId: a.open.customerId, kind: "earn" as const, points: a.effect.points, reason: a.effect.reason, reference: `journey:${a.open.journeyId}:${a.effect.step}`, key: `journey:${a.effect.key}` })),
        now,
      );
    }
    if (batch.traits.length > 0 || batch.unsubscribes.length > 0) {
      // Through the one write path: the change is logged and segments see it.
      const byCustomer = new Map<string, CustomerRecord>();
      const recordOf = (o: Open) => byCustomer.get(o.externalId) ?? { externalId: o.externalId };
      for (const t of batch.traits) {
        const r = recordOf(t.open);
        byCustomer.set(t.open.externalId, { ...r, traits: { ...(r.traits ?? {}), [t.key]: t.value } });
      }
      for (const o of batch.unsubscribes) {
        const r = recordOf(o);
        const name = journeys.get(o.journeyId)?.name ?? `journey ${o.journeyId}`;
        byCustomer.set(o.externalId, { ...r, consents: [{ channel: "email", granted: false, source: `journey: ${name}`.slice(0, 100), at: now }] });
      }
      await writeCustomers(tx, this.ws, [...byCustomer.values()], "journey", now);
    }
  }

  async #loadOpen(tx: Queryable, where: string, params: unknown[], tail = ""): Promise<Open[]> {
    const rows = await tx.query<{
      key: string;
      journey_id: number;
      version: number;
      customer_id: number;
      external_id: string;
      time_zone: string | null;
      state: JourneyState;
      entered_at: Date;
    }>(
      `SELECT e.key, e.journey_id, e.version, e.customer_id, c.external_id, c.time_zone, e.state, e.entered_at
         FROM journey_enrolments e JOIN customers c ON c.id = e.customer_id
        WHERE e.workspace_id = $1 AND ${where} ${tail}`,
      [this.ws.id, ...params],
    );
    return rows.map((r) => ({
      key: r.key,
      journeyId: Number(r.journey_id),
      version: r.version,
      customerId: Number(r.customer_id),
      externalId: r.external_id,
      timeZone: r.time_zone,
      state: r.state,
      enteredAt: r.entered_at,
      exitedAt: null,
      dirty: false,
    }));
  }

  // ── 2. wake-ups ─────────────────────────────────────────────────────────

  async #wake(journeys: Map<number, JourneyRow>, now: Date): Promise<RunResult> {
    const result = emptyResult();
    const active = [...journeys.values()].filter((j) => j.status === "active").map((j) => j.id);
    if (active.length === 0) return result;
    let rounds = 0;
    for (;;) {
      const n = await this.store.transaction(async (tx) => {
        await this.#lock(tx);
        const opens = await this.#loadOpen(
          tx,
          "e.status = 'waiting' AND e.wake_at <= $2 AND e.journey_id = ANY($3::bigint[])",
          [now, active],
          `ORDER BY e.wake_at LIMIT ${this.#batchSize}`,
        );
        const batch = new Batch();
        for (const open of opens) {
          const def = await this.#checked(tx, open.journeyId, open.version);
          if (def) this.#apply(batch, open, def, { type: "wake" }, now);
        }
        await this.#settle(tx, batch, now);
        await this.#persist(tx, batch, journeys, now);
        add(result, { events: 0, entered: 0, steps: batch.steps, messages: batch.messages.length });
        return opens.length;
      });
      // A wake-up can end in a wait that is already over (a late pass): go round until nothing is due.
      if (n === 0 || ++rounds > 1000) return result;
    }
  }

  // ── 3. time-based triggers ──────────────────────────────────────────────

  async #sweep(journeys: Map<number, JourneyRow>, now: Date): Promise<RunResult> {
    const result = emptyResult();
    for (const j of journeys.values()) {
      if (j.status !== "active") continue;
      const def = await this.#checked(this.store, j.id, j.version);
      if (!def) continue;
      const due = await this.#dueEntries(def.definition.trigger, j, now);
      for (let i = 0; i < due.length; i += this.#batchSize) {
        const slice = due.slice(i, i + this.#batchSize);
        await this.store.transaction(async (tx) => {
          await this.#lock(tx);
          const batch = new Batch();
          const candidates = new Map([[j.id, new Set(slice.map((d) => d.customerId))]]);
          const admission = await this.#admission(tx, journeys, candidates, now);
          const byCustomer = groupBy(
            await this.#loadOpen(tx, "e.customer_id = ANY($2::bigint[]) AND e.status <> 'done' AND e.journey_id = $3", [slice.map((d) => d.customerId), j.id]),
            (o) => o.customerId,
          );
          // An entry key already used (a crash after the commit, a second pass the same day) starts nothing twice.
          const used = new Set(
            (
              await tx.query<{ key: string }>("SELECT key FROM journey_enrolments WHERE workspace_id = $1 AND key = ANY($2::text[])", [
                this.ws.id,
                slice.map((d) => `${j.id}:${j.version}:${d.customerId}:${d.entry}`),
              ])
            ).map((r) => r.key),
          );
          for (const d of slice) {
            if (used.has(`${j.id}:${j.version}:${d.customerId}:${d.entry}`)) continue;
            await this.#admit(tx, batch, admission, j, d.customerId, d.entry, d.properties, byCustomer.get(d.customerId) ?? [], now);
          }
          await this.#settle(tx, batch, now);
          await this.#persist(tx, batch, journeys, now);
          add(result, { events: 0, entered: batch.entered, steps: batch.steps, messages: batch.messages.length });
        });
      }
    }
    return result;
  }

  /** Customers a date, schedule or overdue trigger starts at `now`, each with its entry key. */
  async #dueEntries(trigger: Trigger, j: JourneyRow, now: Date): Promise<{ customerId: number; entry: string; properties: Record<string, unknown> }[]> {
    const ws = this.ws.id;
    const localNow = `($2::timestamptz AT TIME ZONE ${CUSTOMER_ZONE_SQL})`;
    switch (trigger.type) {
      case "event":
      case "segment":
        return [];
      case "replenishment": {
        // Each product's last purchase with a usage period runs out after usage_days × quantity, or after the
        // customer's own mean gap between buying it when they have bought it before; it is due leadDays earlier.
        const rows = await this.store.query<{ id: number; product_id: string; order_id: string; due: Date }>(
          `WITH bought AS (
             SELECT o.customer_id, l.product_id, o.external_id AS order_id, o.placed_at, l.quantity, p.usage_days,
                    count(*) OVER w AS times, first_value(o.placed_at) OVER w AS first_at,
                    row_number() OVER (PARTITION BY o.customer_id, l.product_id ORDER BY o.placed_at DESC, o.id DESC) AS rn
               FROM orders o JOIN order_lines l ON l.order_id = o.id
               JOIN products p ON p.workspace_id = o.workspace_id AND p.external_id = l.product_id AND p.usage_days > 0
              WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.status <> ALL($4::text[]) AND o.placed_at > $2::timestamptz - interval '2 years'
             WINDOW w AS (PARTITION BY o.customer_id, l.product_id ORDER BY o.placed_at ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
           ), due AS (
             SELECT customer_id, product_id, order_id,
                    placed_at + CASE WHEN times >= 2 THEN (placed_at - first_at) / (times - 1) ELSE make_interval(days => usage_days * quantity) END
                      - make_interval(days => $3) AS due
               FROM bought WHERE rn = 1
           )
           SELECT customer_id AS id, product_id, order_id, due FROM due WHERE due <= $2 AND due > $2::timestamptz - interval '1 day'`,
          [ws, now, trigger.leadDays, [...NON_PURCHASE_STATUSES]],
        );
        return rows.map((r) => ({ customerId: Number(r.id), entry: `r${r.order_id}:${r.product_id}`, properties: { product_id: r.product_id, order_id: r.order_id, due: r.due.toISOString() } }));
      }
      case "date": {
        // The day the date falls on (birthday: its anniversary this year), offset, at the local time.
        const dateOf =
          trigger.field === "birthday"
            ? `c.birthday`
            : `(SELECT fidelio_try_timestamptz(t.value #>> '{}')::date FROM customer_traits t WHERE t.customer_id = c.id AND t.key = $5)`;
        const day = `((${localNow})::date - $3::int)`;
        const matches =
          trigger.field === "birthday"
            ? `to_char(${dateOf}, 'MM-DD') = to_char(${day}, 'MM-DD')
               OR (to_char(${dateOf}, 'MM-DD') = '02-29' AND to_char(${day}, 'MM-DD') = '02-28' AND NOT (extract(year FROM ${day})::int % 4 = 0 AND (extract(year FROM ${day})::int % 100 <> 0 OR extract(year FROM ${day})::int % 400 = 0)))`
            : `${dateOf} = ${day}`;
        const rows = await this.store.query<{ id: number; day: string }>(
          `SELECT c.id, to_char(${day}, 'YYYY-MM-DD') AS day FROM customers c
            WHERE c.workspace_id = $1 AND (${localNow})::time >= $4::time AND (${matches})`,
          trigger.field === "birthday" ? [ws, now, trigger.offsetDays, trigger.at] : [ws, now, trigger.offsetDays, trigger.at, trigger.field.slice("trait.".length)],
        );
        return rows.map((r) => ({ customerId: Number(r.id), entry: `d${r.day}`, properties: { date: r.day } }));
      }
      case "schedule": {
        const anchor = j.activatedAt ?? now;
        const [h, m] = trigger.at.split(":").map(Number);
        const first = Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate(), h ?? 9, m ?? 0);
        const every = trigger.everyDays * DAY_MS;
        if (now.getTime() < first) return [];
        const slot = first + Math.floor((now.getTime() - first) / every) * every;
        if (now.getTime() - slot > DAY_MS) return [];
        const slotIso = new Date(slot).toISOString();
        const rows =
          trigger.segmentId === undefined
            ? await this.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1", [ws])
            : await this.store.query<{ id: number }>("SELECT customer_id AS id FROM segment_memberships WHERE workspace_id = $1 AND segment_id = $2 AND exited_at IS NULL", [
                ws,
                trigger.segmentId,
              ]);
        return rows.map((r) => ({ customerId: Number(r.id), entry: `s${slotIso}`, properties: { slot: slotIso } }));
      }
      case "overdue": {
        // Due when the time since the last order passes factor × the customer's own mean gap (Fader & Hardie's "buyer's rhythm", product.md §5).
        const rows = await this.store.query<{ id: number; last: Date; gap_days: number }>(
          `SELECT r.customer_id AS id, r.last_order_at AS last, extract(epoch FROM r.last_order_at - r.first_order_at) / 86400 / (r.order_count - 1) AS gap_days
             FROM customer_rollups r
            WHERE r.workspace_id = $1 AND r.order_count >= $3 AND r.last_order_at > r.first_order_at
              AND r.last_order_at + (r.last_order_at - r.first_order_at) / (r.order_count - 1) * $4::float8 < $2::timestamptz
              AND r.last_order_at + (r.last_order_at - r.first_order_at) / (r.order_count - 1) * $4::float8 > $2::timestamptz - make_interval(days => $5)`,
          [ws, now, trigger.minOrders, trigger.factor, OVERDUE_GRACE_DAYS],
        );
        return rows.map((r) => ({
          customerId: Number(r.id),
          entry: `o${r.last.toISOString()}`,
          properties: { lastOrderAt: r.last.toISOString(), rhythmDays: Math.round(r.gap_days * 10) / 10 },
        }));
      }
    }
  }
}

interface Admission {
  last: Map<string, { enteredAt: Date; open: boolean }>;
  passes: Map<number, Set<number>>;
  people: Map<number, { externalId: string; timeZone: string | null }>;
}

/** Whether an event starts a journey with this trigger. */
export function triggers(trigger: Trigger, e: { type: string; name: string | null; properties: Record<string, unknown> }): boolean {
  switch (trigger.type) {
    case "event":
      return e.type !== "segment" && e.name === trigger.event && matchesPropertyFilters(trigger.where, e.properties);
    case "segment":
      return (
        e.type === "segment" &&
        e.name === (trigger.on === "enter" ? "Segment Entered" : "Segment Exited") &&
        Number(e.properties["segmentId"] ?? e.properties["segment_id"]) === trigger.segmentId
      );
    default:
      return false;
  }
}

/** Whether a run has ended (a function, so a check after `#apply` is not narrowed away by the one before). */
function finished(open: Open): boolean {
  return open.state.status === "done";
}


function add(to: RunResult, from: RunResult): void {
  to.events += from.events;
  to.entered += from.entered;
  to.steps += from.steps;
  to.messages += from.messages;
}
