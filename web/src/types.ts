/** The server's own answer types (type-only: nothing of the server is bundled). */
export type {
  BudgetAdvice,
  CatalogueMetrics,
  ChannelLoyalty,
  CohortRow,
  HeadlineReport,
  IntervalSummary,
  LadderStep,
  RefundMetrics,
  RetentionRow,
  SeriesPoint,
} from "../../src/metrics/index.ts";
