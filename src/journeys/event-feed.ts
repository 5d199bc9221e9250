/**
 * The journey runner reads the event log from its own cursor (the monotonic
 * `events.id`). On a PostgreSQL server ids are handed out at insert time but
 * transactions commit in any order, so a reader keeping only "the last id
 * seen" could pass an id whose transaction commits later and never see that
 * event. The feed therefore reads only up to a bound that no open
 * transaction can still fill:
 *
 * 1. note the sequence's last value `b` (every id ≤ b has been handed out);
 * 2. then take a snapshot: every transaction that may hold an id ≤ b has an
 *    xid below the snapshot's xmax `x`;
 * 3. once the oldest running transaction is at or past `x`, all of them have
 *    ended, and the ids ≤ b are final.
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
  xmax: string;
}

export class EventFeed {
  #pending: Pending | undefined;
  constructor(private readonly kind: Store["kind"]) {}

  /** The highest event id that is safe to read now. */
  async safeBound(db: Queryable, current: number): Promise<number> {
    const last = await sequenceValue(db);
    if (this.kind === "pglite") return last;
    let safe = current;
    if (this.#pending) {
      const rows = await db.query<{ done: boolean }>("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8 AS done", [this.#pending.xmax]);
      if (rows[0]?.done) {
        safe = Math.max(current, this.#pending.bound);
        this.#pending = undefined;
      }
    }
    if (!this.#pending && last > safe) {
      const snap = await db.query<{ xmax: string; idle: boolean }>(
        "SELECT pg_snapshot_xmax(s)::text AS xmax, pg_snapshot_xmin(s) = pg_snapshot_xmax(s) AS idle FROM pg_current_snapshot() s",
      );
      const row = snap[0];
      if (row?.idle) return last;
      if (row) this.#pending = { bound: last, xmax: row.xmax };
    }
    return safe;
  }
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
