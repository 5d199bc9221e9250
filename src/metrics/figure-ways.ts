/**
 * For the tests: each figure counted both ways — in SQL (the reference) and
 * from the order projection (what the server answers with) — so a suite
 * asks every worked-out answer of both (`describe.each(figureWays(…))`).
 */
import type { Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import type { Period } from "./period.ts";
import { headlineMetrics } from "./headline.ts";
import { headlineSeries } from "./series.ts";
import { cohortMatrix, retentionSeries, type PeriodUnit } from "./retention.ts";
import { purchaseIntervals, repeatLadder } from "./repeat.ts";
import { OrderProjections } from "./order-projection.ts";
import { projectedCohorts, projectedHeadline, projectedIntervals, projectedLadder, projectedRetention, projectedSeries } from "./projected-figures.ts";

/** `shop()` is read at each call: suites open their store and workspace in beforeAll. */
export function figureWays(shop: () => { store: Store; ws: Workspace }) {
  let projections: OrderProjections | undefined;
  const projected = () => {
    const { store, ws } = shop();
    return (projections ??= new OrderProjections(store)).current(ws);
  };
  const db = () => shop().store;
  const ws = () => shop().ws;
  return [
    {
      way: "SQL",
      headline: (p: Period) => headlineMetrics(db(), ws(), p),
      series: (p: Period, unit: PeriodUnit) => headlineSeries(db(), ws(), p, unit),
      retention: (p: Period, unit: PeriodUnit) => retentionSeries(db(), ws(), p, unit),
      cohorts: async (p: Period) => (await cohortMatrix(db(), ws(), p)).cohorts,
      ladder: (n: number) => repeatLadder(db(), ws(), n),
      intervals: () => purchaseIntervals(db(), ws()),
    },
    {
      way: "projection",
      headline: async (p: Period) => projectedHeadline(db(), ws(), await projected(), p),
      series: async (p: Period, unit: PeriodUnit) => projectedSeries(await projected(), p, unit),
      retention: async (p: Period, unit: PeriodUnit) => projectedRetention(await projected(), p, unit),
      cohorts: async (p: Period) => projectedCohorts(await projected(), p),
      ladder: async (n: number) => projectedLadder(await projected(), n),
      intervals: async () => projectedIntervals(await projected()),
    },
  ];
}
