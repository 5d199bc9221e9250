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
export type {
  CustomerListItem,
  CustomerPrediction,
  LifecycleSettings,
  ModelReport,
  SavedFit,
  ScoreOverview,
  ScoringRun,
  Stage,
  StoredScore,
} from "../../src/predictions/index.ts";
export type { CustomerProfile, EventView, OrderSummary } from "../../src/customers/index.ts";
export type { CatalogueField, FieldCatalogue, MemberView, Operator, Preview, Rule, SavedSegment, Segment } from "../../src/segments/index.ts";
export type { Journey, JourneyStats, StepStats, BacktestReport, MessageView, JourneyStatus } from "../../src/journeys/index.ts";
export type { JourneyDefinition, Step, Trigger } from "../../src/journeys/index.ts";
export type { MessagingSettings, RenderedEmail } from "../../src/messaging/index.ts";
export type { LoyaltyMember, LoyaltyOverview, LoyaltySettings, Reward } from "../../src/loyalty/index.ts";
export type { CustomerPoints, Membership, Plan, Referral, TierProgress, WheelAudit } from "../../src/loyalty/index.ts";
import type { recentSpins, referralsOf, storefrontSetup } from "../../src/loyalty/index.ts";
/** One of the latest spins (GET /api/loyalty/wheel/spins). */
export type RecentSpin = Awaited<ReturnType<typeof recentSpins>>[number];
/** A customer as a referrer (GET /api/loyalty/customers/{id}/referrals). */
export type CustomerReferrals = Awaited<ReturnType<typeof referralsOf>>;
/** The storefront widget's setup (GET /api/loyalty/storefront). */
export type StorefrontSetup = Awaited<ReturnType<typeof storefrontSetup>>;
