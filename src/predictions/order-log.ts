/**
 * Every customer's orders as one typed block, read once per scoring run (and
 * per `models fit`): customer i's orders are [start[i], start[i+1]), oldest
 * first. About 21 bytes an order and 16 a customer, where the same history as
 * JS objects took ~1 KB a customer and dominated the run's memory and
 * garbage collection (docs/benchmarks.md, "Models").
 */
import { copySettings, idPages, readPackedPages, type PackedRow, type PackedType, type Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { mergeSameDays, type PurchaseDays } from "../models/index.ts";
import { float64Column as float64s, int32Column as int32s, sortRuns, uint8Column as uint8s } from "../shared/index.ts";

export interface OrderLog {
  /** Database ids of every customer of the workspace, ascending, with or without orders. */
  customerIds: Float64Array;
  /** customerIds.length + 1 offsets into the order arrays. */
  start: Int32Array;
  /** Day number (days since 1970-01-01, UTC) of each order. */
  day: Int32Array;
  totalMinor: Float64Array;
  /** Mean price of one item (line totals ÷ quantities); NaN for an order without lines. */
  unitPriceMinor: Float64Array;
  /** 1 when the order has a refund. */
  refunded: Uint8Array;
  /** Refunds per customer (minor units, the workspace currency). */
  refundedMinor: Float64Array;
}

/** One order as tests and small callers hand it over. */
export interface OrderFact {
  /** Day number (days since 1970-01-01, UTC). */
  day: number;
  totalMinor: number;
  refunded: boolean;
  /** Mean price of one item in the order (line totals ÷ quantities), or null without lines. */
  unitPriceMinor: number | null;
}

export interface CustomerHistory {
  customerId: number;
  /** Oldest first. */
  orders: OrderFact[];
  refundedMinor: number;
}

/** The latest instant PostgreSQL's timestamptz holds comfortably: "every order". */
const END_OF_TIME = new Date(Date.UTC(9999, 11, 31));

/** Ids per page of a read: 400,000 orders of 32 bytes packed are 13 MB. */
const PAGE_IDS = 400_000;

/**
 * Reads the workspace's customers and their purchases placed before
 * `before`, in its currency, as packed binary (readPackedPages): rows go
 * straight into typed arrays (no JS object per order), and are grouped by
 * customer and put in time order here rather than by an ORDER BY, which on
 * 2.8 million orders spilled its sort to disk (docs/benchmarks.md,
 * "Models").
 *
 * Three reads: the orders; each order's mean item price from its lines;
 * the orders refunded before `before`. The last two are matched to the
 * orders here, by order id, rather than joined in the query: the database
 * then writes two fields fewer per order, and a shop without lines or
 * refunds costs nothing for them.
 *
 * Each read goes in pages of `pageIds` ids (default 400,000), one page
 * parsed here while the database reads the next; on PGlite, which hands over
 * a COPY's whole output at once and keeps the largest in its heap, pages
 * also bound that heap.
 */
export async function readOrderLog(store: Store, ws: Workspace, before: Date = END_OF_TIME, options: { pageIds?: number } = {}): Promise<OrderLog> {
  const pageIds = options.pageIds ?? PAGE_IDS;
  return store.transaction(async (tx) => {
    const setting = await copySettings(tx, { ws: ws.id, currency: ws.currency, before: before.toISOString(), skip: NON_PURCHASE_STATUSES.join(",") });
    // A page's bounds are ids this code got from the database (safe
    // integers), written as literals so that the planner sees the range.
    const range = (column: string, [lo, hi]: [number, number]) => `AND ${column} >= ${lo} AND ${column} < ${hi}`;
    const read = (pages: [number, number][], query: (page: [number, number]) => string, types: readonly PackedType[], onRow: (row: PackedRow) => void) =>
      readPackedPages(tx, pages.map(query), types, onRow);
    const pagesOf = (table: string) => idPages(tx, table, ws.id, pageIds);

    const ids = float64s();
    await read(await pagesOf("customers"), (page) => `SELECT id::int8 FROM customers WHERE workspace_id = ${setting("ws")} ${range("id", page)}`, ["int8"], (row) => ids.push(row.int8(0)));
    const customerIds = ids.done().sort();
    const indexOf = positionsOf(customerIds);

    const owner = int32s();
    const at = float64s();
    const ids64 = float64s();
    const day = int32s();
    const total = float64s();
    // Times come as timestamptz, not extract() (numeric since PostgreSQL 14,
    // which with per-row current_setting() made this read 9.8 s, not 3.6 s).
    // Pages of order ids, for the orders and then their lines: an order's lines are all in the page of its id.
    const orderPages = await pagesOf("orders");
    await read(
      orderPages,
      (page) => `SELECT customer_id::int8, id::int8, placed_at, total_minor::float8 FROM orders
                  WHERE workspace_id = ${setting("ws")} AND customer_id IS NOT NULL AND currency = ${setting("currency")}
                    AND status NOT IN (SELECT unnest(string_to_array(${setting("skip")}, ',')))
                    AND placed_at < ${setting("before", "timestamptz")} ${range("id", page)}`,
      ["int8", "int8", "timestamptz", "float8"],
      (row) => {
        const i = indexOf(row.int8(0));
        if (i < 0) return;
        owner.push(i);
        ids64.push(row.int8(1));
        const micros = row.timestamptzMicros(2);
        at.push(micros);
        day.push(Math.floor(micros / 86_400_000_000));
        total.push(row.float8(3));
      },
    );
    // Views, not copies: these columns are read once more, by arrange(), and then dropped.
    const orderId = ids64.view();
    const orderAt = positionsOf(orderId);
    const unit = new Float64Array(orderId.length).fill(NaN);
    const refunded = new Uint8Array(orderId.length);
    await read(
      orderPages,
      (page) => `SELECT order_id::int8, COALESCE(sum(total_minor)::float8 / NULLIF(sum(quantity), 0), 'NaN')::float8 FROM order_lines
                  WHERE workspace_id = ${setting("ws")} ${range("order_id", page)} GROUP BY order_id`,
      ["int8", "float8"],
      (row) => {
        const k = orderAt(row.int8(0));
        if (k >= 0) unit[k] = row.float8(1);
      },
    );
    await read(
      await pagesOf("refunds"),
      (page) => `SELECT DISTINCT order_id::int8 FROM refunds
                  WHERE workspace_id = ${setting("ws")} AND order_id IS NOT NULL AND refunded_at < ${setting("before", "timestamptz")} ${range("id", page)}`,
      ["int8"],
      (row) => {
        const k = orderAt(row.int8(0));
        if (k >= 0) refunded[k] = 1;
      },
    );
    const refunds = await tx.query<{ c: number; m: number }>(
      `SELECT customer_id::float8 AS c, sum(amount_minor)::float8 AS m FROM refunds
        WHERE workspace_id = $1 AND customer_id IS NOT NULL AND currency = $2 AND refunded_at < $3 GROUP BY customer_id`,
      [ws.id, ws.currency, before],
    );
    const refundedMinor = new Float64Array(customerIds.length);
    for (const r of refunds) {
      const i = indexOf(r.c);
      if (i >= 0) refundedMinor[i] = r.m;
    }
    return arrange(customerIds, refundedMinor, owner.view(), at.view(), orderId, day.view(), total.view(), unit, refunded);
  });
}

/**
 * Where each id sits in `ids` (−1 when absent). Ids are sequence numbers,
 * so a workspace's are usually dense: then a direct table; otherwise a
 * binary search over them sorted. (A Map keyed by millions of float ids cost
 * about a second here.)
 */
function positionsOf(ids: Float64Array): (id: number) => number {
  let first = Infinity;
  let last = -Infinity;
  for (const id of ids) {
    if (id < first) first = id;
    if (id > last) last = id;
  }
  const span = last - first + 1;
  if (ids.length > 0 && span <= 4 * ids.length + 1024) {
    const table = new Int32Array(span).fill(-1);
    ids.forEach((id, i) => (table[id - first] = i));
    return (id) => (id >= first && id - first < span ? (table[id - first] ?? -1) : -1);
  }
  const sorted = ids.slice().sort();
  const at = Int32Array.from(ids.keys()).sort((u, v) => (ids[u] ?? 0) - (ids[v] ?? 0));
  return (id) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] ?? 0) < id) lo = mid + 1;
      else hi = mid;
    }
    return sorted[lo] === id ? (at[lo] ?? -1) : -1;
  };
}

/**
 * The block from orders in any order: a counting sort by customer, then each
 * customer's orders by (placed at, id) — oldest first, ties in id order.
 */
function arrange(
  customerIds: Float64Array,
  refundedMinor: Float64Array,
  owner: Int32Array,
  at: Float64Array,
  orderId: Float64Array,
  day: Int32Array,
  total: Float64Array,
  unit: Float64Array,
  refunded: Uint8Array,
): OrderLog {
  const n = customerIds.length;
  const m = owner.length;
  const start = new Int32Array(n + 1);
  for (let k = 0; k < m; k++) {
    const c = (owner[k] ?? 0) + 1;
    start[c] = (start[c] ?? 0) + 1;
  }
  for (let i = 0; i < n; i++) start[i + 1] = (start[i + 1] ?? 0) + (start[i] ?? 0);
  const fill = start.slice(0, n);
  const perm = new Int32Array(m);
  for (let k = 0; k < m; k++) {
    const i = owner[k] ?? 0;
    perm[fill[i] ?? 0] = k;
    fill[i] = (fill[i] ?? 0) + 1;
  }
  // Oldest first, ties in id order.
  sortRuns(perm, start, (p, q) => (at[p] ?? 0) < (at[q] ?? 0) || ((at[p] ?? 0) === (at[q] ?? 0) && (orderId[p] ?? 0) < (orderId[q] ?? 0)));
  const log: OrderLog = {
    customerIds,
    start,
    day: new Int32Array(m),
    totalMinor: new Float64Array(m),
    unitPriceMinor: new Float64Array(m),
    refunded: new Uint8Array(m),
    refundedMinor,
  };
  for (let k = 0; k < m; k++) {
    const p = perm[k] ?? 0;
    log.day[k] = day[p] ?? 0;
    log.totalMinor[k] = total[p] ?? 0;
    log.unitPriceMinor[k] = unit[p] ?? NaN;
    log.refunded[k] = refunded[p] ?? 0;
  }
  return log;
}

/** The block for histories given as objects (tests, small callers). */
export function orderLogOf(histories: readonly CustomerHistory[]): OrderLog {
  const n = histories.length;
  let m = 0;
  for (const h of histories) m += h.orders.length;
  const log: OrderLog = {
    customerIds: new Float64Array(n),
    start: new Int32Array(n + 1),
    day: new Int32Array(m),
    totalMinor: new Float64Array(m),
    unitPriceMinor: new Float64Array(m),
    refunded: new Uint8Array(m),
    refundedMinor: new Float64Array(n),
  };
  let k = 0;
  histories.forEach((h, i) => {
    log.customerIds[i] = h.customerId;
    log.start[i] = k;
    log.refundedMinor[i] = h.refundedMinor;
    for (const o of h.orders) {
      log.day[k] = o.day;
      log.totalMinor[k] = o.totalMinor;
      log.unitPriceMinor[k] = o.unitPriceMinor ?? NaN;
      log.refunded[k] = o.refunded ? 1 : 0;
      k++;
    }
  });
  log.start[n] = k;
  return log;
}

/**
 * The purchase days the models read (same-day orders merged, amounts in
 * currency units), for the customers with at least one order.
 */
export function purchaseDaysOfLog(log: OrderLog, minorPerUnit: number): PurchaseDays {
  return mergeSameDays(
    log.customerIds,
    log.start,
    (k) => log.day[k] ?? 0,
    (k) => (log.totalMinor[k] ?? 0) / minorPerUnit,
  );
}
