/**
 * The headline figures of a period (product.md §2; definitions in
 * src/metrics/README.md), from their counts.
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { notPurchases, ratio, type Period } from "./period.ts";

export interface HeadlineMetrics {
  from: string;
  to: string;
  currency: string;
  /** Unique known customers with at least one order in the period. */
  customers: number;
  /** Orders in the period, guests included; cancelled orders never count. */
  orders: number;
  /** Orders without a known customer. */
  guestOrders: number;
  /** Orders by known customers. */
  customerOrders: number;
  /** Sum of order totals in the workspace currency (minor units), refunds not deducted. */
  revenue: number;
  /** Orders in another currency: counted as orders, not in revenue or AOV. */
  otherCurrencyOrders: number;
  /** Refunds issued in the period, reported beside revenue (amount in the workspace currency). */
  refunds: { count: number; amount: number };
  /** Customers with at least two orders in the period. */
  repeatCustomers: number;
  /** repeatCustomers ÷ customers. */
  repeatCustomerRate: number | null;
  /** customerOrders ÷ customers. */
  purchaseFrequency: number | null;
  /** revenue ÷ orders in the workspace currency (minor units). */
  averageOrderValue: number | null;
  /** purchaseFrequency × averageOrderValue (product.md §2; AOV counts guest orders too), minor units. */
  customerValue: number | null;
  /** Customers whose first order ever is in the period. */
  newCustomers: number;
  /** Customers of the period who had ordered before it. */
  returningCustomers: number;
  /** Revenue from orders that are not their customer's first order ÷ revenue. */
  returningRevenueShare: number | null;
}

/** The counts a headline is made of, as the SQL and the projection both produce them. */
export type HeadlineCounts = {
  orders: number;
  guest_orders: number;
  customer_orders: number;
  revenue: number;
  revenue_orders: number;
  customers: number;
  repeat_customers: number;
  new_customers: number;
  returning_revenue: number;
};

/** The headline from its counts and the period's refunds. */
export function headlineOf(ws: Workspace, period: Period, r: HeadlineCounts, refunds: HeadlineMetrics["refunds"]): HeadlineMetrics {
  const frequency = ratio(r.customer_orders, r.customers);
  const aov = ratio(r.revenue, r.revenue_orders);
  return {
    from: period.from,
    to: period.to,
    currency: ws.currency,
    customers: r.customers,
    orders: r.orders,
    guestOrders: r.guest_orders,
    customerOrders: r.customer_orders,
    revenue: r.revenue,
    otherCurrencyOrders: r.orders - r.revenue_orders,
    refunds,
    repeatCustomers: r.repeat_customers,
    repeatCustomerRate: ratio(r.repeat_customers, r.customers),
    purchaseFrequency: frequency,
    averageOrderValue: aov,
    customerValue: frequency === null || aov === null ? null : frequency * aov,
    newCustomers: r.new_customers,
    returningCustomers: r.customers - r.new_customers,
    returningRevenueShare: ratio(r.returning_revenue, r.revenue),
  };
}

/** Refunds issued in the period (index refunds_refunded): count, and amount in the workspace currency. */
export async function periodRefunds(db: Queryable, ws: Workspace, period: Period): Promise<HeadlineMetrics["refunds"]> {
  const [r] = await db.query<{ count: number; amount: number }>(
    `SELECT count(*)::int AS count, COALESCE(sum(amount_minor) FILTER (WHERE currency = $4), 0)::bigint AS amount
       FROM refunds WHERE workspace_id = $1 AND refunded_at >= $2 AND refunded_at < $3`,
    [ws.id, period.start, period.end, ws.currency],
  );
  return { count: r?.count ?? 0, amount: r?.amount ?? 0 };
}

/**
 * The headline in SQL: the reference the projection (projected-figures.ts)
 * is tested against, and what answers without one.
 */
export async function headlineMetrics(db: Queryable, ws: Workspace, period: Period): Promise<HeadlineMetrics> {
  const [r] = await db.query<HeadlineCounts>(
    `WITH o AS (
       SELECT o.customer_id, o.total_minor, o.currency = $4 AS in_currency,
              -- Not the customer's first order: later than it, or at the same instant but not the
              -- first one stored (several orders on a customer's first day, in day-stamped data).
              (o.customer_id IS NOT NULL AND (r.first_order_at < o.placed_at OR (r.first_order_at = o.placed_at AND o.id <> (
                 SELECT min(f.id) FROM orders f
                  WHERE f.customer_id = o.customer_id AND f.placed_at = r.first_order_at AND f.status <> ALL($5::text[]))))) AS is_returning
         FROM orders o LEFT JOIN customer_rollups r ON r.customer_id = o.customer_id
        WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 AND o.status <> ALL($5::text[])
     ), per AS (
       SELECT o.customer_id, count(*) AS n FROM o WHERE o.customer_id IS NOT NULL GROUP BY o.customer_id
     )
     SELECT (SELECT count(*) FROM o)::int AS orders,
            (SELECT count(*) FROM o WHERE customer_id IS NULL)::int AS guest_orders,
            (SELECT count(*) FROM o WHERE customer_id IS NOT NULL)::int AS customer_orders,
            (SELECT COALESCE(sum(total_minor), 0) FROM o WHERE in_currency)::bigint AS revenue,
            (SELECT count(*) FROM o WHERE in_currency)::int AS revenue_orders,
            (SELECT COALESCE(sum(total_minor), 0) FROM o WHERE in_currency AND is_returning)::bigint AS returning_revenue,
            (SELECT count(*) FROM per)::int AS customers,
            (SELECT count(*) FROM per WHERE n >= 2)::int AS repeat_customers,
            (SELECT count(*) FROM per JOIN customer_rollups r ON r.customer_id = per.customer_id WHERE r.first_order_at >= $2)::int AS new_customers`,
    [ws.id, period.start, period.end, ws.currency, notPurchases()],
  );
  if (!r) throw new Error("the headline query returned no row");
  return headlineOf(ws, period, r, await periodRefunds(db, ws, period));
}
