/**
 * @module metrics — retention analytics over what ingest stored (product.md
 * §2): headline figures of a period, retention between periods, the cohort
 * matrix with historical CLV, the repeat ladder, time between purchases,
 * acquisition-channel loyalty, refunds, catalogue replenishability and budget
 * advice. Reads only. Every definition is in src/metrics/README.md.
 */
export { CalendarDay, PeriodQuery, resolvePeriod, wholeNumber, type Period } from "./period.ts";
export { headlineMetrics, type HeadlineMetrics } from "./headline.ts";
export { PeriodUnit, cohortMatrix, periodLabel, retentionSeries, type CohortCell, type CohortRow, type RetentionRow } from "./retention.ts";
export {
  INTERVAL_BUCKETS,
  customerRhythms,
  purchaseIntervals,
  repeatLadder,
  type CustomerRhythm,
  type IntervalSummary,
  type LadderStep,
} from "./repeat.ts";
export { REVENUE_HORIZONS, channelLoyalty, type ChannelLoyalty } from "./channels.ts";
export { catalogueMetrics, refundMetrics, type CatalogueMetrics, type ProductRebuy, type RefundMetrics } from "./refunds-catalogue.ts";
export { AdviceQuery, BASE_RETENTION_SHARE, ShopStage, budgetAdvice, inferStage, type BudgetAdvice } from "./advice.ts";
export { headlineSeries, type SeriesPoint } from "./series.ts";
export { OrderProjection, OrderProjections, type ProjectionOptions } from "./order-projection.ts";
export { projectedCohorts, projectedHeadline, projectedIntervals, projectedLadder, projectedRetention, projectedSeries } from "./projected-figures.ts";
export {
  CatalogueQuery,
  HeadlineQuery,
  IntervalsQuery,
  LadderQuery,
  SeriesQuery,
  adviceReport,
  catalogueReport,
  channelReport,
  cohortReport,
  headlineReport,
  intervalsReport,
  ladderReport,
  refundReport,
  retentionReport,
  seriesReport,
  type HeadlineReport,
} from "./reports.ts";
