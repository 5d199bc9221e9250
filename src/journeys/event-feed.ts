/**
 * The journey runner reads the event log from its own cursor (the monotonic
 * `events.id`). On a PostgreSQL server ids are handed out at insert time but
 * transactions commit in any order, so a reader keeping only "the last id
 * seen" could pass an id whose transaction commits later and never see that
 * event. The feed therefore reads only up to a bound that no open
 * transaction can still fill:
 *
 * 1. note the sequence's last value `b` (every id ≤ b has been handed out);
 * 2. then list the transactions that hold a write lock on the event log:
 *    an INSERT locks its table before it draws an id, so any transaction
 *    still able to commit an id ≤ b is among them;
 * 3. once each of them has committed or aborted (its lock is gone), the ids
 *    ≤ b are final. The read waits up to a second for that, then leaves the
 *    bound pending for the next pass.
 *
 * Only writers of this database's event log count: a long transaction on
 * another table (a scoring run, a segment's first evaluation) or in
 * another database of the same server used to hold every journey back
 * for as long as it ran, when the list was every running transaction.
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
  /** Transactions (virtual ids) that held a write lock on the log when the bound was read: they may still commit ids up to it. */
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
    // Read after the sequence: every transaction that took an id up to \`last\` holds its lock on the log by now, or has finished.
    let xids = await stillRunning(db, undefined);
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

/**
 * The transactions (virtual ids) other than this session's that hold a
 * write lock on this database's event log — all of them, or those of
 * `among` still holding it. A lock is held to the end of its transaction.
 */
async function stillRunning(db: Queryable, among: string[] | undefined): Promise<string[]> {
  if (among !== undefined && among.length === 0) return [];
  const rows = await db.query<{ vxid: string }>(
    `SELECT DISTINCT virtualtransaction AS vxid FROM pg_locks
      WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND relation = 'events'::regclass
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND pid IS DISTINCT FROM pg_backend_pid() AND ($1::text[] IS NULL OR virtualtransaction = ANY($1::text[]))`,
    [among ?? null],
  );
  return rows.map((r) => r.vxid);
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
