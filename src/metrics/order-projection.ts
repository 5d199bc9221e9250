/**
 * Every purchase of a workspace in memory, in time order: the projection the
 * headline, series, retention, cohort and ladder figures are counted from in
 * one pass over typed arrays (projected-figures.ts), where SQL read and
 * grouped every order of the period on each request — 12 to 87 s at 10
 * million orders (docs/benchmarks.md, "Retention analytics"). design.md
 * measured the same figures over typed arrays at well under a second.
 *
 * About 29 bytes an order (290 MB at 10 million) and 28 bytes a customer.
 * Loaded once per workspace with binary COPY, then kept current: before
 * answering, it reads the orders written since its last look (migration 016:
 * every order row carries the id of the transaction that last wrote it) and
 * applies them — new orders appended or merged in, cancelled ones taken out,
 * moved ones (customer merges) re-pointed.
 */
import { copyOutPages, copyOutRows, copySettings, idPages, type CopyRow, type Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { float64Column, int32Column, uint8Column } from "../shared/index.ts";

/** The purchases, sorted by (placed at, id). Arrays may be longer than `length`. */
export interface OrderColumns {
  readonly length: number;
  /** placed_at, µs since 1970-01-01 UTC. */
  readonly at: Float64Array;
  readonly id: Float64Array;
  /** Dense customer number (0 … customers − 1), −1 for a guest order. */
  readonly customer: Int32Array;
  /** total_minor. */
  readonly totalMinor: Float64Array;
  /** 1 when the order is in the workspace currency (counted in revenue). */
  readonly inCurrency: Uint8Array;
  /** How many dense customer numbers are in use. */
  readonly customers: number;
}

/** Per dense customer number, what the rollups hold (customer_rollups), from the same orders. */
export interface CustomerFacts {
  /** First purchase (µs), +Infinity without one. */
  firstAt: Float64Array;
  /** Id of the first purchase: of several at the same instant, the smallest id. */
  firstId: Float64Array;
  orderCount: Int32Array;
  /** Revenue in the workspace currency, every purchase to date. */
  revenueMinor: Float64Array;
}

/** Orders as read from the database, in any order. */
interface ReadOrders {
  n: number;
  id: Float64Array;
  /** customer_id, NaN for a guest. */
  customerId: Float64Array;
  at: Float64Array;
  totalMinor: Float64Array;
  inCurrency: Uint8Array;
  /** 0 when the order's status is not a purchase (cancelled): it leaves the projection. */
  purchase: Uint8Array;
}

/** Order ids per COPY on PGlite: its COPY output is one blob in the worker's memory, ~55 bytes a row. */
const PGLITE_PAGE_IDS = 1_000_000;

export interface ProjectionOptions {
  /** Read the orders in pages of this many ids (default: a million on PGlite, one read on PostgreSQL). */
  pageIds?: number | undefined;
}

/**
 * Customer ids to dense numbers. Ids are sequence numbers, so a workspace's
 * are usually close together: a direct table over their range, and a Map
 * for ids outside it (a Map of ten million ids took about a second to fill).
 */
class CustomerNumbers {
  #base = 0;
  #table = new Int32Array(0);
  #others = new Map<number, number>();
  count = 0;

  /** Sizes the table for the ids about to be numbered. */
  reserve(ids: Float64Array, n: number): void {
    let lo = Infinity;
    let hi = -Infinity;
    let known = 0;
    for (let k = 0; k < n; k++) {
      const v = ids[k] ?? NaN;
      if (Number.isNaN(v)) continue;
      known++;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (known === 0 || this.count > 0) return;
    const span = hi - lo + 1;
    if (span > 4 * known + 1024) return;
    this.#base = lo;
    this.#table = new Int32Array(span).fill(-1);
  }

  numberOf(id: number): number {
    const slot = id - this.#base;
    if (slot >= 0 && slot < this.#table.length) {
      const n = this.#table[slot] ?? -1;
      if (n >= 0) return n;
      this.#table[slot] = this.count;
      return this.count++;
    }
    const n = this.#others.get(id);
    if (n !== undefined) return n;
    this.#others.set(id, this.count);
    return this.count++;
  }
}

/** A growable column: `length` values in an array with room to append. */
function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, need: number, make: (n: number) => A): A {
  if (need <= a.length) return a;
  const bigger = make(Math.max(need, Math.ceil(a.length * 1.5), 1024));
  bigger.set(a);
  return bigger;
}

export class OrderProjection {
  #length = 0;
  #at = new Float64Array(0);
  #id = new Float64Array(0);
  #customer = new Int32Array(0);
  #total = new Float64Array(0);
  #inCurrency = new Uint8Array(0);
  readonly #numbers = new CustomerNumbers();
  /** pg_snapshot_xmin of the last look: orders written by a transaction from this id on are read again. */
  #watermark = "0";
  /** Per-customer facts, kept up to date as orders are added; recounted after removals and moves. */
  #facts: CustomerFacts | undefined;

  private constructor(
    readonly workspaceId: string,
    readonly currency: string,
  ) {}

  /** Reads every purchase of the workspace. */
  static async load(store: Store, ws: Workspace, options: ProjectionOptions = {}): Promise<OrderProjection> {
    const p = new OrderProjection(ws.id, ws.currency);
    const pageIds = options.pageIds ?? (store.kind === "pglite" ? PGLITE_PAGE_IDS : undefined);
    const { watermark, orders } = await readOrders(store, ws, { pageIds });
    p.#watermark = watermark;
    p.#fill(orders);
    return p;
  }

  /** Applies what was written since the last look; resolves once the projection is as current as the database was when it was called. */
  async catchUp(store: Store, ws: Workspace): Promise<void> {
    const { watermark, orders } = await readOrders(store, ws, { since: this.#watermark });
    this.#apply(orders);
    this.#watermark = watermark;
  }

  get orders(): OrderColumns {
    return {
      length: this.#length,
      at: this.#at,
      id: this.#id,
      customer: this.#customer,
      totalMinor: this.#total,
      inCurrency: this.#inCurrency,
      customers: this.#numbers.count,
    };
  }

  /** Per-customer first purchase, count and revenue, recounted when the orders changed. */
  facts(): CustomerFacts {
    if (this.#facts) return this.#facts;
    const n = this.#numbers.count;
    const facts: CustomerFacts = {
      firstAt: new Float64Array(n).fill(Infinity),
      firstId: new Float64Array(n).fill(NaN),
      orderCount: new Int32Array(n),
      revenueMinor: new Float64Array(n),
    };
    for (let k = 0; k < this.#length; k++) {
      const c = this.#customer[k] ?? -1;
      if (c < 0) continue;
      // Time order, ties by id: the first seen is the first purchase.
      if ((facts.orderCount[c] ?? 0) === 0) {
        facts.firstAt[c] = this.#at[k] ?? 0;
        facts.firstId[c] = this.#id[k] ?? 0;
      }
      facts.orderCount[c] = (facts.orderCount[c] ?? 0) + 1;
      if (this.#inCurrency[k] === 1) facts.revenueMinor[c] = (facts.revenueMinor[c] ?? 0) + (this.#total[k] ?? 0);
    }
    this.#facts = facts;
    return facts;
  }

  #fill(r: ReadOrders): void {
    this.#numbers.reserve(r.customerId, r.n);
    const keep = int32Column();
    for (let k = 0; k < r.n; k++) if (r.purchase[k] === 1) keep.push(k);
    const order = timeOrder(r.at, r.id, keep.view());
    const m = order.length;
    this.#at = new Float64Array(m);
    this.#id = new Float64Array(m);
    this.#customer = new Int32Array(m);
    this.#total = new Float64Array(m);
    this.#inCurrency = new Uint8Array(m);
    for (let j = 0; j < m; j++) this.#put(j, r, order[j] ?? 0);
    this.#length = m;
    this.#facts = undefined;
  }

  /** Row k of `r` into slot j. */
  #put(j: number, r: ReadOrders, k: number): void {
    this.#at[j] = r.at[k] ?? 0;
    this.#id[j] = r.id[k] ?? 0;
    const cid = r.customerId[k] ?? NaN;
    this.#customer[j] = Number.isNaN(cid) ? -1 : this.#numbers.numberOf(cid);
    this.#total[j] = r.totalMinor[k] ?? 0;
    this.#inCurrency[j] = r.inCurrency[k] ?? 0;
  }

  /** Where the order (at, id) sits, or −1. */
  #find(at: number, id: number): number {
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#at[mid] ?? 0) < at) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.#length && this.#at[k] === at; k++) if (this.#id[k] === id) return k;
    return -1;
  }

  #apply(r: ReadOrders): void {
    if (r.n === 0) return;
    this.#numbers.reserve(r.customerId, r.n);
    const removed = new Set<number>();
    const added: number[] = [];
    let changed = false;
    for (let k = 0; k < r.n; k++) {
      // placed_at never changes once an order is stored (ingest writes status
      // and, on merges, customer_id), so (at, id) finds a known order.
      const j = this.#find(r.at[k] ?? 0, r.id[k] ?? 0);
      if (j < 0) {
        if (r.purchase[k] === 1) added.push(k);
      } else if (r.purchase[k] === 0) {
        removed.add(j);
      } else if (this.#differs(j, r, k)) {
        this.#put(j, r, k);
        changed = true;
      }
      // Otherwise a row read again (written by a transaction at or after the
      // last watermark, and already applied): nothing to do.
    }
    if (added.length === 0 && removed.size === 0 && !changed) return;
    const order = timeOrder(r.at, r.id, Int32Array.from(added));
    // Only what lies after the first change moves: live orders land at or
    // near the end, so catching up on them costs little however many are held.
    let from = this.#length;
    for (const j of removed) from = Math.min(from, j);
    const first = order[0];
    if (first !== undefined) from = Math.min(from, this.#lowerBound(r.at[first] ?? 0, r.id[first] ?? 0));
    this.#spliceFrom(from, r, order, removed);
    if (removed.size > 0 || changed) this.#facts = undefined;
    else if (this.#facts) this.#addToFacts(this.#facts, r, order);
  }

  /** Whether row k of `r` says something else than what slot j holds. */
  #differs(j: number, r: ReadOrders, k: number): boolean {
    const cid = r.customerId[k] ?? NaN;
    const c = Number.isNaN(cid) ? -1 : this.#numbers.numberOf(cid);
    return this.#customer[j] !== c || this.#total[j] !== r.totalMinor[k] || this.#inCurrency[j] !== r.inCurrency[k];
  }

  /** The first slot whose (at, id) is not before the given one. */
  #lowerBound(at: number, id: number): number {
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.#at[mid] ?? 0, this.#id[mid] ?? 0, at, id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #reserve(need: number): void {
    this.#at = grown(this.#at, need, (n) => new Float64Array(n));
    this.#id = grown(this.#id, need, (n) => new Float64Array(n));
    this.#customer = grown(this.#customer, need, (n) => new Int32Array(n));
    this.#total = grown(this.#total, need, (n) => new Float64Array(n));
    this.#inCurrency = grown(this.#inCurrency, need, (n) => new Uint8Array(n));
  }

  /**
   * Rewrites the slots from `from` on: the orders held there, less the
   * removed ones, merged with the added ones (time-ordered). Slots before
   * `from` stay where they are.
   */
  #spliceFrom(from: number, r: ReadOrders, order: Int32Array, removed: ReadonlySet<number>): void {
    const end = this.#length;
    const tail = {
      at: this.#at.slice(from, end),
      id: this.#id.slice(from, end),
      customer: this.#customer.slice(from, end),
      total: this.#total.slice(from, end),
      inCurrency: this.#inCurrency.slice(from, end),
    };
    this.#reserve(end - removed.size + order.length);
    let j = from;
    let a = 0;
    let b = 0;
    const held = end - from;
    while (a < held || b < order.length) {
      if (a < held && removed.has(from + a)) {
        a++;
        continue;
      }
      const k = order[b];
      if (k === undefined || (a < held && before(tail.at[a] ?? 0, tail.id[a] ?? 0, r.at[k] ?? 0, r.id[k] ?? 0))) {
        this.#at[j] = tail.at[a] ?? 0;
        this.#id[j] = tail.id[a] ?? 0;
        this.#customer[j] = tail.customer[a] ?? -1;
        this.#total[j] = tail.total[a] ?? 0;
        this.#inCurrency[j] = tail.inCurrency[a] ?? 0;
        a++;
      } else {
        this.#put(j, r, k);
        b++;
      }
      j++;
    }
    this.#length = j;
  }

  /** New purchases into the per-customer facts, without recounting everything. */
  #addToFacts(f: CustomerFacts, r: ReadOrders, order: Int32Array): void {
    const n = this.#numbers.count;
    if (f.orderCount.length < n) {
      const firstAt = new Float64Array(n).fill(Infinity);
      const firstId = new Float64Array(n).fill(NaN);
      const orderCount = new Int32Array(n);
      const revenueMinor = new Float64Array(n);
      firstAt.set(f.firstAt);
      firstId.set(f.firstId);
      orderCount.set(f.orderCount);
      revenueMinor.set(f.revenueMinor);
      f.firstAt = firstAt;
      f.firstId = firstId;
      f.orderCount = orderCount;
      f.revenueMinor = revenueMinor;
    }
    for (const k of order) {
      const cid = r.customerId[k] ?? NaN;
      if (Number.isNaN(cid)) continue;
      const c = this.#numbers.numberOf(cid);
      const at = r.at[k] ?? 0;
      const id = r.id[k] ?? 0;
      if ((f.orderCount[c] ?? 0) === 0 || before(at, id, f.firstAt[c] ?? Infinity, f.firstId[c] ?? Infinity)) {
        f.firstAt[c] = at;
        f.firstId[c] = id;
      }
      f.orderCount[c] = (f.orderCount[c] ?? 0) + 1;
      if (r.inCurrency[k] === 1) f.revenueMinor[c] = (f.revenueMinor[c] ?? 0) + (r.totalMinor[k] ?? 0);
    }
  }
}

const before = (at1: number, id1: number, at2: number, id2: number) => at1 < at2 || (at1 === at2 && id1 < id2);

/**
 * The rows `pick` in (at, id) order. A counting sort by UTC day, then each
 * day sorted natively as Float64Array keys (µs into the day × 2^bits + the
 * row's place in the day, exact below 2^53), then runs of one instant put in
 * id order. A comparator sort of ten million rows took seconds.
 */
export function timeOrder(at: Float64Array, id: Float64Array, pick: Int32Array): Int32Array {
  const m = pick.length;
  if (m === 0) return pick;
  const DAY = 86_400_000_000;
  let lo = Infinity;
  let hi = -Infinity;
  for (const k of pick) {
    const d = Math.floor((at[k] ?? 0) / DAY);
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  const days = hi - lo + 1;
  if (days > 50 * m + 100_000) return comparatorOrder(at, id, pick);
  const start = new Int32Array(days + 1);
  for (const k of pick) {
    const d = Math.floor((at[k] ?? 0) / DAY) - lo + 1;
    start[d] = (start[d] ?? 0) + 1;
  }
  for (let d = 0; d < days; d++) start[d + 1] = (start[d + 1] ?? 0) + (start[d] ?? 0);
  const fill = start.slice(0, days);
  const out = new Int32Array(m);
  for (const k of pick) {
    const d = Math.floor((at[k] ?? 0) / DAY) - lo;
    out[fill[d] ?? 0] = k;
    fill[d] = (fill[d] ?? 0) + 1;
  }
  for (let d = 0; d < days; d++) {
    const from = start[d] ?? 0;
    const to = start[d + 1] ?? 0;
    if (to - from < 2) continue;
    const size = to - from;
    const bits = Math.ceil(Math.log2(size));
    // µs in a day < 2^37: exact keys need 37 + bits ≤ 53.
    if (bits > 16) {
      out.set(comparatorOrder(at, id, out.slice(from, to)), from);
      continue;
    }
    const dayStart = (lo + d) * DAY;
    const scale = 2 ** bits;
    const keys = new Float64Array(size);
    for (let i = 0; i < size; i++) keys[i] = ((at[out[from + i] ?? 0] ?? 0) - dayStart) * scale + i;
    keys.sort();
    const run = out.slice(from, to);
    for (let i = 0; i < size; i++) out[from + i] = run[(keys[i] ?? 0) % scale] ?? 0;
    // Same instant: id order. Runs are short in timed data, but a
    // day-stamped log (CDNOW) puts a whole day at one instant.
    for (let i = from; i < to; ) {
      let j = i + 1;
      while (j < to && at[out[j] ?? 0] === at[out[i] ?? 0]) j++;
      if (j - i > 1) out.set(Int32Array.from(Array.from(out.subarray(i, j)).sort((p, q) => (id[p] ?? 0) - (id[q] ?? 0))), i);
      i = j;
    }
  }
  return out;
}

function comparatorOrder(at: Float64Array, id: Float64Array, pick: Int32Array): Int32Array {
  return Int32Array.from(Array.from(pick).sort((p, q) => (at[p] ?? 0) - (at[q] ?? 0) || (id[p] ?? 0) - (id[q] ?? 0)));
}

/**
 * The workspace's orders — all of them (`since` undefined), or those written
 * by transactions from `since` on — with the watermark for the next look,
 * taken before the read: whatever commits after it is read next time.
 */
async function readOrders(store: Store, ws: Workspace, what: { since?: string; pageIds?: number | undefined }): Promise<{ watermark: string; orders: ReadOrders }> {
  const { since, pageIds } = what;
  return store.transaction(async (tx) => {
    const [w] = await tx.query<{ w: string }>("SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS w");
    if (!w || !/^\d+$/.test(w.w)) throw new Error("pg_snapshot_xmin gave no transaction id");
    const setting = await copySettings(tx, { ws: ws.id, currency: ws.currency, skip: NON_PURCHASE_STATUSES.join(",") });
    const orders = emptyRead();
    const select = `SELECT id::int8, customer_id::int8, placed_at, total_minor::float8, currency = ${setting("currency")},
                           status NOT IN (SELECT unnest(string_to_array(${setting("skip")}, ',')))
                      FROM orders WHERE workspace_id = ${setting("ws")}`;
    const onRow = (row: CopyRow) => {
      orders.push(row.int8(0), row.isNull(1) ? NaN : row.int8(1), row.timestamptzMicros(2), row.float8(3), row.bool(4), row.bool(5));
    };
    const copy = (where: string) => copyOutRows(tx, `${select} ${where}`, onRow);
    // The transaction id and the id bounds below are numbers this code got
    // from the database (checked as digits), written into the statement as
    // literals: behind a setting, the planner cannot see how few rows they
    // select and scanned every order (3 s a look at 10 million orders).
    if (since !== undefined) {
      if (!/^\d+$/.test(since)) throw new Error(`not a transaction id: ${since}`);
      await copy(`AND changed_xid >= '${since}'::xid8`);
    } else if (pageIds === undefined) {
      await copy("");
    } else {
      const pages = await idPages(tx, "orders", ws.id, pageIds);
      await copyOutPages(
        tx,
        pages.map(([lo, hi]) => `${select} AND id >= ${lo} AND id < ${hi}`),
        onRow,
      );
    }
    return { watermark: w.w, orders: orders.done() };
  });
}

function emptyRead() {
  const cols = {
    id: float64Column(),
    customerId: float64Column(),
    at: float64Column(),
    totalMinor: float64Column(),
    inCurrency: uint8Column(),
    purchase: uint8Column(),
  };
  return {
    push(id: number, customerId: number, at: number, total: number, inCurrency: boolean, purchase: boolean) {
      cols.id.push(id);
      cols.customerId.push(customerId);
      cols.at.push(at);
      cols.totalMinor.push(total);
      cols.inCurrency.push(inCurrency ? 1 : 0);
      cols.purchase.push(purchase ? 1 : 0);
    },
    done(): ReadOrders {
      return {
        n: cols.id.length,
        id: cols.id.view(),
        customerId: cols.customerId.view(),
        at: cols.at.view(),
        totalMinor: cols.totalMinor.view(),
        inCurrency: cols.inCurrency.view(),
        purchase: cols.purchase.view(),
      };
    },
  };
}

/**
 * One projection per workspace, loaded on first use. `current` catches it
 * up with the database before handing it out; requests that arrive while a
 * catch-up runs share the next one, so a burst of dashboard requests costs
 * one or two index look-ups, not one each.
 */
export class OrderProjections {
  readonly #entries = new Map<string, { projection: Promise<OrderProjection>; running: Promise<void>; queued: Promise<void> | undefined }>();

  constructor(
    private readonly store: Store,
    private readonly options: ProjectionOptions = {},
  ) {}

  async current(ws: Workspace): Promise<OrderProjection> {
    const key = `${ws.id}:${ws.currency}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      // A workspace whose currency changed: its old projection goes.
      for (const k of this.#entries.keys()) if (k.startsWith(`${ws.id}:`)) this.#entries.delete(k);
      const projection = OrderProjection.load(this.store, ws, this.options);
      // `running` only orders the catch-ups after the load; the caller gets the load's error.
      entry = { projection, running: projection.then(() => undefined, () => undefined), queued: undefined };
      this.#entries.set(key, entry);
      // A failed load is not kept: the next request tries again.
      projection.catch(() => this.#entries.delete(key));
      return projection;
    }
    const p = await entry.projection;
    const e = entry;
    let mine = e.queued;
    if (!mine) {
      mine = e.running
        .catch(() => undefined)
        .then(() => {
          e.queued = undefined;
          return p.catchUp(this.store, ws);
        });
      e.queued = mine;
      e.running = mine;
    }
    await mine;
    return p;
  }
}
