/**
 * Acquisition-channel loyalty (product.md §2, source 004): is a customer won
 * by a search ad more or less loyal than one won by email? Per first-touch
 * channel, from the customer rollups.
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { notPurchases, ratio } from "./period.ts";

export const REVENUE_HORIZONS = [90, 180, 365] as const;

export interface ChannelLoyalty {
  /** `acquisitionChannel`, else the first-touch UTM source, else "(unknown)". */
  channel: string;
  /** Customers of this channel with at least one order. */
  customers: number;
  repeatCustomers: number;
  /** repeatCustomers ÷ customers (whole history). */
  repeatRate: number | null;
  orders: number;
  /** Lifetime revenue of these customers (minor units, workspace currency). */
  revenue: number;
  averageOrderValue: number | null;
  /**
   * Average revenue per customer within N days of their first order, over the
   * customers whose first order is at least N days old (`eligible`): younger
   * customers have not had N days yet and would pull the figure down.
   */
  revenuePerCustomer: { days: number; eligible: number; value: number | null }[];
}

export async function channelLoyalty(db: Queryable, ws: Workspace, now: Date): Promise<ChannelLoyalty[]> {
  const channelOf = `COALESCE(NULLIF(c.acquisition_channel, ''), NULLIF(c.first_touch->>'source', ''), '(unknown)')`;
  const totals = await db.query<{ channel: string; customers: number; repeaters: number; orders: number; revenue: number; revenue_orders: number }>(
    `SELECT ${channelOf} AS channel, count(*)::int AS customers, count(*) FILTER (WHERE r.order_count >= 2)::int AS repeaters,
            sum(r.order_count)::int AS orders, sum(r.revenue_minor)::bigint AS revenue, sum(r.revenue_order_count)::int AS revenue_orders
       FROM customer_rollups r JOIN customers c ON c.id = r.customer_id
      WHERE r.workspace_id = $1 AND r.order_count > 0
      GROUP BY 1 ORDER BY 2 DESC, 1`,
    [ws.id],
  );
  const horizons = await db.query<{ channel: string; days: number; eligible: number; revenue: number }>(
    `WITH h AS (SELECT unnest($3::int[]) AS days),
     e AS (
       SELECT ${channelOf} AS channel, h.days, r.customer_id, r.first_order_at
         FROM customer_rollups r JOIN customers c ON c.id = r.customer_id CROSS JOIN h
        WHERE r.workspace_id = $1 AND r.order_count > 0 AND r.first_order_at <= $2::timestamptz - make_interval(days => h.days)
     )
     SELECT e.channel, e.days, count(*)::int AS eligible,
            COALESCE(sum((SELECT COALESCE(sum(o.total_minor), 0) FROM orders o
                           WHERE o.customer_id = e.customer_id AND o.currency = $4 AND o.status <> ALL($5::text[])
                             AND o.placed_at < e.first_order_at + make_interval(days => e.days))), 0)::bigint AS revenue
       FROM e GROUP BY 1, 2`,
    [ws.id, now, [...REVENUE_HORIZONS], ws.currency, notPurchases()],
  );
  return totals.map((t) => ({
    channel: t.channel,
    customers: t.customers,
    repeatCustomers: t.repeaters,
    repeatRate: ratio(t.repeaters, t.customers),
    orders: t.orders,
    revenue: t.revenue,
    averageOrderValue: ratio(t.revenue, t.revenue_orders),
    revenuePerCustomer: REVENUE_HORIZONS.map((days) => {
      const h = horizons.find((x) => x.channel === t.channel && x.days === days);
      return { days, eligible: h?.eligible ?? 0, value: h ? ratio(h.revenue, h.eligible) : null };
    }),
  }));
}
