/**
 * The journey runner reads the event log from its own cursor (the monotonic
 * `events.id`). On a PostgreSQL server ids are handed out at insert time but
 * transactions commit in any order, so a reader keeping only "the last id
 * seen" could pass an id whose transaction commits later and never see that
 * event. The feed therefore reads only up to a bound that no open
 * transaction can still fill:
 *
 * 1. note the sequence's last value `b` (every id ≤ b has been handed out);
 * 2. then list the transactions running now (the snapshot's xip): any
 *    transaction still able to commit an id ≤ b is among them;
 * 3. once each of them has committed or aborted (`pg_xact_status`), the ids
 *    ≤ b are final. The read waits up to a second for that, then leaves the
 *    bound pending for the next pass.
 *
 * With PGlite every statement runs on one connection, one transaction at a
 * time, so the sequence's last value is final at once.
 */
import type { Queryable, Store } from "../store/index.ts";

export interface FeedEvent {
  id: number;
  type: string;
  name: string | null;
  customerId: number;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

interface Pending {
  bound: number;
  /** Transactions that were running when the bound was read and may still hold ids up to it. */
  xids: string[];
}

/** How long one read waits for the transactions running at its start to end before carrying on (it tries again next pass). */
const WAIT_MS = 1000;

export class EventFeed {
  #pending: Pending | undefined;
  constructor(private readonly kind: Store["kind"]) {}

  /** The highest event id that is safe to read now. */
  async safeBound(db: Queryable, current: number): Promise<number> {
    let safe = current;
    if (this.kind === "pglite") return Math.max(safe, await sequenceValue(db));
    if (this.#pending) {
      this.#pending.xids = await stillRunning(db, this.#pending.xids);
      if (this.#pending.xids.length > 0) return safe;
      safe = Math.max(safe, this.#pending.bound);
      this.#pending = undefined;
    }
    const last = await sequenceValue(db);
    if (last <= safe) return safe;
    // Read after the sequence: every transaction that took an id up to \`last\` has an xid by now, and is either finished or listed here.
    const rows = await db.query<{ xid: string }>("SELECT x::text AS xid FROM pg_snapshot_xip(pg_current_snapshot()) AS x");
    let xids = rows.map((r) => r.xid);
    const deadline = Date.now() + WAIT_MS;
    while (xids.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      xids = await stillRunning(db, xids);
    }
    if (xids.length === 0) return last;
    this.#pending = { bound: last, xids };
    return safe;
  }
}

async function stillRunning(db: Queryable, xids: string[]): Promise<string[]> {
  if (xids.length === 0) return [];
  const rows = await db.query<{ xid: string }>("SELECT x AS xid FROM unnest($1::text[]) AS x WHERE pg_xact_status(x::xid8) = 'in progress'", [xids]);
  return rows.map((r) => r.xid);
}

async function sequenceValue(db: Queryable): Promise<number> {
  const rows = await db.query<{ v: number }>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM events_id_seq");
  return rows[0]?.v ?? 0;
}

/** Events of known customers with `after < id ≤ to`, oldest first. */
export async function readEvents(db: Queryable, ws: string, after: number, to: number, limit: number): Promise<FeedEvent[]> {
  const rows = await db.query<{ id: number; type: string; name: string | null; customer_id: number; properties: Record<string, unknown>; occurred_at: Date }>(
    `SELECT id, type, name, customer_id, properties, occurred_at FROM events
      WHERE workspace_id = $1 AND id > $2 AND id <= $3 AND customer_id IS NOT NULL
      ORDER BY id LIMIT $4`,
    [ws, after, to, limit],
  );
  return rows.map((r) => ({ id: r.id, type: r.type, name: r.name, customerId: r.customer_id, properties: r.properties, occurredAt: r.occurred_at }));
}
