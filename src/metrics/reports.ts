/**
 * One function per question the API, the CLI and the dashboard ask: each
 * takes the raw query (as parsed by its zod schema here), resolves the
 * period against the clock and returns a JSON-ready answer.
 *
 * Given the order projections (the server's, or a one-off for the CLI), the
 * headline, series, retention, cohorts, ladder and intervals are counted from memory
 * (projected-figures.ts); without, in SQL. Both give the same answer.
 */
import { z } from "zod";
import type { Clock } from "../shared/index.ts";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { addDays, daysBetween, dayStart, PeriodQuery, resolvePeriod, wholeNumber, type Period } from "./period.ts";
import { headlineMetrics, type HeadlineMetrics } from "./headline.ts";
import { cohortMatrix, PeriodUnit, retentionSeries, type CohortRow, type RetentionRow } from "./retention.ts";
import { headlineSeries, type SeriesPoint } from "./series.ts";
import { customerRhythms, purchaseIntervals, repeatLadder, type CustomerRhythm, type IntervalSummary, type LadderStep } from "./repeat.ts";
import { channelLoyalty, type ChannelLoyalty } from "./channels.ts";
import { catalogueMetrics, refundMetrics, type CatalogueMetrics, type RefundMetrics } from "./refunds-catalogue.ts";
import { AdviceQuery, budgetAdvice, type BudgetAdvice } from "./advice.ts";
import type { OrderProjections } from "./order-projection.ts";
import { projectedCohorts, projectedHeadline, projectedIntervals, projectedLadder, projectedRetention, projectedSeries } from "./projected-figures.ts";

export const HeadlineQuery = PeriodQuery.extend({
  /** `previous`: also the period of the same length just before, for comparison. */
  compare: z.enum(["previous", "none"]).default("none"),
});
export type HeadlineQuery = z.input<typeof HeadlineQuery>;

export type HeadlineReport = HeadlineMetrics & { previous?: HeadlineMetrics };

export async function headlineReport(db: Queryable, ws: Workspace, clock: Clock, q: z.output<typeof HeadlineQuery>, projections?: OrderProjections): Promise<HeadlineReport> {
  const period = await resolvePeriod(db, ws, q, clock);
  const projection = await projections?.current(ws);
  const headline = (p: Period) => (projection ? projectedHeadline(db, ws, projection, p) : headlineMetrics(db, ws, p));
  const current = await headline(period);
  if (q.compare !== "previous") return current;
  const days = Math.round(daysBetween(period.start, period.end));
  const to = addDays(period.from, -1);
  const from = addDays(period.from, -days);
  return { ...current, previous: await headline({ from, to, start: dayStart(from), end: period.start }) };
}

export const SeriesQuery = PeriodQuery.extend({ unit: PeriodUnit.default("month") });

export async function seriesReport(db: Queryable, ws: Workspace, clock: Clock, q: z.output<typeof SeriesQuery>, projections?: OrderProjections): Promise<{ unit: PeriodUnit; currency: string; points: SeriesPoint[] }> {
  const period = await resolvePeriod(db, ws, q, clock);
  const projection = await projections?.current(ws);
  return { unit: q.unit, currency: ws.currency, points: projection ? projectedSeries(projection, period, q.unit) : await headlineSeries(db, ws, period, q.unit) };
}

export async function retentionReport(db: Queryable, ws: Workspace, clock: Clock, q: z.output<typeof SeriesQuery>, projections?: OrderProjections): Promise<{ unit: PeriodUnit; rows: RetentionRow[] }> {
  const period = await resolvePeriod(db, ws, q, clock);
  const projection = await projections?.current(ws);
  return { unit: q.unit, rows: projection ? projectedRetention(projection, period, q.unit) : await retentionSeries(db, ws, period, q.unit) };
}

export async function cohortReport(db: Queryable, ws: Workspace, clock: Clock, q: PeriodQuery, projections?: OrderProjections): Promise<{ from: string; to: string; currency: string; cohorts: CohortRow[] }> {
  const period = await resolvePeriod(db, ws, q, clock);
  const projection = await projections?.current(ws);
  const matrix = projection ? { currency: ws.currency, cohorts: projectedCohorts(projection, period) } : await cohortMatrix(db, ws, period);
  return { from: period.from, to: period.to, ...matrix };
}

export const LadderQuery = z.object({ max: wholeNumber("must be a whole number from 1 to 50").pipe(z.number().min(1, "must be at least 1").max(50, "must be at most 50")).default(10) });

export async function ladderReport(db: Queryable, ws: Workspace, q: z.output<typeof LadderQuery>, projections?: OrderProjections): Promise<{ steps: LadderStep[] }> {
  const projection = await projections?.current(ws);
  return { steps: projection ? projectedLadder(projection, q.max) : await repeatLadder(db, ws, q.max) };
}

export const IntervalsQuery = z.object({
  /** Customer external ids whose own rhythm to return (repeat the parameter for several, at most 100). */
  customer: z.union([z.string().min(1), z.array(z.string().min(1)).max(100, "at most 100 customers")]).optional(),
});

export async function intervalsReport(db: Queryable, ws: Workspace, q: z.output<typeof IntervalsQuery>, projections?: OrderProjections): Promise<IntervalSummary & { customers?: CustomerRhythm[] }> {
  const projection = await projections?.current(ws);
  const summary = projection ? projectedIntervals(projection) : await purchaseIntervals(db, ws);
  if (q.customer === undefined) return summary;
  const ids = Array.isArray(q.customer) ? q.customer : [q.customer];
  return { ...summary, customers: await customerRhythms(db, ws, ids) };
}

export async function channelReport(db: Queryable, ws: Workspace, clock: Clock): Promise<{ currency: string; channels: ChannelLoyalty[] }> {
  return { currency: ws.currency, channels: await channelLoyalty(db, ws, clock.now()) };
}

export async function refundReport(db: Queryable, ws: Workspace, clock: Clock, q: PeriodQuery): Promise<RefundMetrics> {
  return refundMetrics(db, ws, await resolvePeriod(db, ws, q, clock));
}

export const CatalogueQuery = PeriodQuery.extend({
  limit: wholeNumber("must be a whole number from 1 to 1000").pipe(z.number().min(1, "must be at least 1").max(1000, "must be at most 1000")).default(100),
});

export async function catalogueReport(db: Queryable, ws: Workspace, clock: Clock, q: z.output<typeof CatalogueQuery>): Promise<CatalogueMetrics> {
  return catalogueMetrics(db, ws, await resolvePeriod(db, ws, q, clock), q.limit);
}

export async function adviceReport(db: Queryable, ws: Workspace, clock: Clock, q: AdviceQuery): Promise<BudgetAdvice> {
  return budgetAdvice(db, ws, clock.now(), q);
}
