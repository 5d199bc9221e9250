/**
 * Customers grouped by history shape (x, t_x, T): the transaction models'
 * likelihoods depend on a customer only through these three numbers, so a
 * fit evaluates them once per distinct shape, weighted by how many
 * customers share it. On a million customers there are a few hundred
 * thousand shapes.
 */
import type { SummaryColumns } from "./purchase-days.ts";

export interface RfmCustomer {
  x: number;
  t_x: number;
  T: number;
}

/** Distinct shapes as columns (times in model units), with their counts. */
export interface ShapeGroups {
  length: number;
  x: Float64Array;
  t_x: Float64Array;
  T: Float64Array;
  weight: Float64Array;
}

function invalid(c: RfmCustomer): boolean {
  return !(c.x >= 0 && Number.isInteger(c.x) && c.T >= 0 && c.t_x >= 0 && c.t_x <= c.T);
}

/** Shapes of customers given as objects (t_x is taken as 0 when x = 0). */
export function groupIdenticalCustomers(customers: readonly RfmCustomer[]): ShapeGroups {
  // Nested maps with number keys: a million customers group in a fraction
  // of the time string keys take.
  const byX = new Map<number, Map<number, Map<number, number>>>();
  const x: number[] = [];
  const t_x: number[] = [];
  const T: number[] = [];
  const weight: number[] = [];
  for (const c of customers) {
    if (invalid(c)) throw new RangeError(`invalid customer summary: ${JSON.stringify(c)}`);
    const tx = c.x === 0 ? 0 : c.t_x;
    let byT = byX.get(c.x);
    if (!byT) byX.set(c.x, (byT = new Map()));
    let byTx = byT.get(c.T);
    if (!byTx) byT.set(c.T, (byTx = new Map()));
    const g = byTx.get(tx);
    if (g !== undefined) weight[g] = (weight[g] ?? 0) + 1;
    else {
      byTx.set(tx, weight.length);
      x.push(c.x);
      t_x.push(tx);
      T.push(c.T);
      weight.push(1);
    }
  }
  return { length: weight.length, x: Float64Array.from(x), t_x: Float64Array.from(t_x), T: Float64Array.from(T), weight: Float64Array.from(weight) };
}

/** Below these, (x, T, t_x) in whole days pack exactly into one double (19 + 17 + 17 bits). */
const MAX_PACKED_X = 2 ** 19;
const MAX_PACKED_DAYS = 2 ** 17;

/**
 * Shapes of summary columns (whole days): each shape packed into one number,
 * the numbers sorted (a typed-array sort), equal runs counted — a fifth of
 * the time of the map look-ups above on a million customers, and no object
 * per customer.
 */
export function groupSummaryColumns(c: SummaryColumns): ShapeGroups {
  const n = c.length;
  const keys = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = c.x[k] ?? 0;
    const T = c.TDays[k] ?? 0;
    const tx = x === 0 ? 0 : (c.txDays[k] ?? 0);
    if (!(x >= 0 && x < MAX_PACKED_X && T >= 0 && T < MAX_PACKED_DAYS && tx >= 0 && tx <= T)) {
      if (x >= 0 && tx >= 0 && tx <= T) return groupIdenticalCustomers(customersOf(c)); // a history over 359 years long: the slow way
      throw new RangeError(`invalid customer summary: x ${x}, t_x ${tx} days, T ${T} days`);
    }
    keys[k] = (x * MAX_PACKED_DAYS + T) * MAX_PACKED_DAYS + tx;
  }
  keys.sort();
  let groups = 0;
  for (let k = 0; k < n; k++) if (k === 0 || keys[k] !== keys[k - 1]) groups++;
  const out: ShapeGroups = { length: groups, x: new Float64Array(groups), t_x: new Float64Array(groups), T: new Float64Array(groups), weight: new Float64Array(groups) };
  let g = -1;
  for (let k = 0; k < n; k++) {
    const key = keys[k] ?? 0;
    if (k === 0 || key !== keys[k - 1]) {
      g++;
      const tx = key % MAX_PACKED_DAYS;
      const rest = (key - tx) / MAX_PACKED_DAYS;
      const T = rest % MAX_PACKED_DAYS;
      out.x[g] = (rest - T) / MAX_PACKED_DAYS;
      out.t_x[g] = tx / c.unitDays;
      out.T[g] = T / c.unitDays;
    }
    out.weight[g] = (out.weight[g] ?? 0) + 1;
  }
  return out;
}

/** The columns as objects (times in model units). */
export function customersOf(c: SummaryColumns): RfmCustomer[] {
  return Array.from({ length: c.length }, (_, k) => ({ x: c.x[k] ?? 0, t_x: (c.txDays[k] ?? 0) / c.unitDays, T: (c.TDays[k] ?? 0) / c.unitDays }));
}
