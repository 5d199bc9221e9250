/**
 * Budget advice: how much of the marketing budget to put on retention rather
 * than acquisition, from the shop's stage and figures (product.md §2).
 *
 * Sources (seeds/000, seeds/003): a shop that has just opened must put
 * everything on winning customers ("sans clients, il ne peut y avoir de
 * fidélité"); retention is brought in step by step as the customer base grows
 * (starting: e-mail campaigns; growing: a loyalty programme; launched: raise
 * lifetime value); an established shop with a good base "can afford to put
 * more than half of its budget on retention", because raising basket size and
 * revenue per customer then pays better than finding new customers.
 * The stage thresholds and the percentages are Fidelio's reading of those
 * texts, written down here so a shop can disagree with them.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { daysBetween, notPurchases, ratio, wholeNumber } from "./period.ts";

export const ShopStage = z.enum(["just-opened", "starting", "growing", "launched", "established"]);
export type ShopStage = z.output<typeof ShopStage>;

export const AdviceQuery = z.object({
  /** Cost of acquiring one customer, in minor units of the workspace currency. */
  cac: wholeNumber("must be a whole amount in minor units (cents), not negative").optional(),
  stage: ShopStage.optional(),
});
export type AdviceQuery = z.output<typeof AdviceQuery>;

/** Share of the budget on retention at each stage, before the figures adjust it. */
export const BASE_RETENTION_SHARE: Record<ShopStage, number> = {
  "just-opened": 0.1,
  starting: 0.25,
  growing: 0.35,
  launched: 0.45,
  established: 0.6,
};

const STAGE_WORDS: Record<ShopStage, string> = {
  "just-opened": "newly opened",
  starting: "starting (a first customer base, sales still occasional)",
  growing: "growing (steady sales that are rising)",
  launched: "launched (steady sales, not yet a large base)",
  established: "established (a large, long-standing customer base)",
};

export interface BudgetAdvice {
  stage: ShopStage;
  /** True when the stage was inferred from the data, false when the shop set it. */
  stageInferred: boolean;
  retentionShare: number;
  acquisitionShare: number;
  figures: {
    currency: string;
    customers: number;
    historyDays: number;
    ordersLast90Days: number;
    ordersPrevious90Days: number;
    /** Lifetime share of customers with two or more orders. */
    repeatCustomerRate: number | null;
    /** Historical CLV: lifetime revenue per customer (minor units). */
    historicalClv: number | null;
    cac: number | null;
    clvToCac: number | null;
  };
  /** Why, in plain sentences, in the order the advice was built. */
  reasoning: string[];
}

/** Which stage the figures say the shop is at, and why. */
export function inferStage(f: { customers: number; historyDays: number; ordersLast90Days: number; ordersPrevious90Days: number }): { stage: ShopStage; why: string } {
  if (f.historyDays < 90 || f.customers < 50) {
    return { stage: "just-opened", why: `${Math.floor(f.historyDays)} days of sales and ${f.customers} customers (under 90 days or under 50 customers)` };
  }
  if (f.customers < 500 || f.ordersLast90Days < 90) {
    return { stage: "starting", why: `${f.customers} customers and ${f.ordersLast90Days} orders in the last 90 days (under 500 customers or under one order a day)` };
  }
  const growth = f.ordersPrevious90Days === 0 ? Infinity : f.ordersLast90Days / f.ordersPrevious90Days - 1;
  // In integers: 115 / 100 − 1 is 0.1499… in floating point.
  if (f.ordersLast90Days * 100 >= f.ordersPrevious90Days * 115) {
    return { stage: "growing", why: `orders in the last 90 days are ${Number.isFinite(growth) ? `${Math.round(growth * 100)} % above` : "up from none in"} the 90 days before (15 % or more)` };
  }
  if (f.historyDays >= 730 && f.customers >= 5000) {
    return { stage: "established", why: `${Math.floor(f.historyDays / 365)} years of sales and ${f.customers} customers (2 years and 5,000 customers or more), sales not rising fast` };
  }
  return { stage: "launched", why: `steady sales (${f.ordersLast90Days} orders in the last 90 days, ${f.ordersPrevious90Days} the 90 before) with ${f.customers} customers` };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

export async function budgetAdvice(db: Queryable, ws: Workspace, now: Date, q: AdviceQuery): Promise<BudgetAdvice> {
  const [r] = await db.query<{ customers: number; repeaters: number; revenue: number; first_at: Date | null; last90: number; prev90: number }>(
    `SELECT (SELECT count(*) FROM customer_rollups WHERE workspace_id = $1 AND order_count > 0)::int AS customers,
            (SELECT count(*) FROM customer_rollups WHERE workspace_id = $1 AND order_count >= 2)::int AS repeaters,
            (SELECT COALESCE(sum(revenue_minor), 0) FROM customer_rollups WHERE workspace_id = $1)::bigint AS revenue,
            (SELECT min(placed_at) FROM orders WHERE workspace_id = $1 AND status <> ALL($3::text[])) AS first_at,
            (SELECT count(*) FROM orders WHERE workspace_id = $1 AND status <> ALL($3::text[])
                AND placed_at > $2::timestamptz - interval '90 days' AND placed_at <= $2)::int AS last90,
            (SELECT count(*) FROM orders WHERE workspace_id = $1 AND status <> ALL($3::text[])
                AND placed_at > $2::timestamptz - interval '180 days' AND placed_at <= $2::timestamptz - interval '90 days')::int AS prev90`,
    [ws.id, now, notPurchases()],
  );
  const customers = r?.customers ?? 0;
  const historyDays = r?.first_at ? Math.max(0, daysBetween(r.first_at, now)) : 0;
  const figures: BudgetAdvice["figures"] = {
    currency: ws.currency,
    customers,
    historyDays: Math.floor(historyDays),
    ordersLast90Days: r?.last90 ?? 0,
    ordersPrevious90Days: r?.prev90 ?? 0,
    repeatCustomerRate: ratio(r?.repeaters ?? 0, customers),
    historicalClv: ratio(r?.revenue ?? 0, customers),
    cac: q.cac ?? null,
    clvToCac: null,
  };
  const reasoning: string[] = [];
  const inferred = inferStage({ customers, historyDays, ordersLast90Days: figures.ordersLast90Days, ordersPrevious90Days: figures.ordersPrevious90Days });
  const stage = q.stage ?? inferred.stage;
  if (q.stage) reasoning.push(`You set the stage to ${STAGE_WORDS[stage]}; the data alone would say ${STAGE_WORDS[inferred.stage]}: ${inferred.why}.`);
  else reasoning.push(`The figures say the shop is ${STAGE_WORDS[stage]}: ${inferred.why}.`);
  let share = BASE_RETENTION_SHARE[stage];
  reasoning.push(
    stage === "just-opened"
      ? `Without customers there is no loyalty: at this stage almost all of the budget goes to winning customers (${pct(share)} on retention, for the welcome and thank-you messages).`
      : stage === "established"
        ? `With a large base, raising basket size and revenue per customer pays better than finding new customers: more than half of the budget can go to retention (${pct(share)}).`
        : `At this stage acquisition still leads while retention is brought in step by step: ${pct(share)} on retention to start from.`,
  );
  if (stage !== "just-opened" && q.cac !== undefined && figures.historicalClv !== null) {
    if (q.cac === 0) {
      reasoning.push("A customer acquisition cost of 0 leaves nothing to compare lifetime value with; the share is not adjusted for it.");
    } else {
      const k = figures.historicalClv / q.cac;
      figures.clvToCac = k;
      if (k < 1) {
        share += 0.1;
        reasoning.push(`A customer brings ${k.toFixed(2)}× what they cost to win (CLV ÷ CAC under 1): each new customer loses money until they buy again, so 10 points more go to retention.`);
      } else if (k >= 3) {
        share -= 0.1;
        reasoning.push(`A customer brings ${k.toFixed(1)}× what they cost to win (CLV ÷ CAC of 3 or more): acquisition pays for itself, so 10 points go back to it.`);
      } else {
        reasoning.push(`A customer brings ${k.toFixed(1)}× what they cost to win (between 1 and 3): the share is left as it is.`);
      }
    }
  } else if (stage !== "just-opened" && q.cac === undefined) {
    reasoning.push("Enter your customer acquisition cost (CAC) to weigh it against lifetime value.");
  }
  const repeat = figures.repeatCustomerRate;
  if (repeat !== null && (stage === "growing" || stage === "launched" || stage === "established") && repeat < 0.2) {
    share += 0.05;
    reasoning.push(`Only ${pct(repeat)} of customers have ordered twice: the first step of the repeat ladder is where retention earns most, so 5 points more go to it.`);
  }
  share = Math.min(0.75, Math.max(0.05, Math.round(share * 20) / 20));
  reasoning.push(`Advice: ${pct(share)} of the budget on retention, ${pct(1 - share)} on acquisition.`);
  return { stage, stageInferred: q.stage === undefined, retentionShare: share, acquisitionShare: Math.round((1 - share) * 100) / 100, figures, reasoning };
}
