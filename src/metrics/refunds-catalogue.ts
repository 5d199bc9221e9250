/**
 * Refund rates (product.md §2) and how "replenishable" the catalogue is
 * (source 000: retention suits shops whose products are bought again).
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { notPurchases, ratio, type Period } from "./period.ts";

export interface RefundMetrics {
  from: string;
  to: string;
  currency: string;
  /** Orders placed in the period. */
  orders: number;
  /** Of those, orders with at least one refund linked to them (at any time). */
  refundedOrders: number;
  /** refundedOrders ÷ orders. Returns not linked to an order count below, not here. */
  orderRefundRate: number | null;
  /** Revenue of the period's orders (minor units). */
  revenue: number;
  /** Refunds issued in the period, linked to an order or not. */
  refunds: number;
  refundedAmount: number;
  /** refundedAmount ÷ revenue. */
  revenueRefundRate: number | null;
  /** Per product category: sold and refunded in the period. */
  byCategory: { category: string; soldAmount: number; refundedAmount: number; rate: number | null; soldQuantity: number; refundedQuantity: number }[];
}

export async function refundMetrics(db: Queryable, ws: Workspace, period: Period): Promise<RefundMetrics> {
  const p = [ws.id, period.start, period.end, ws.currency, notPurchases()];
  const [o] = await db.query<{ orders: number; refunded: number; revenue: number }>(
    `SELECT count(*)::int AS orders,
            count(f.order_id)::int AS refunded,
            COALESCE(sum(o.total_minor) FILTER (WHERE o.currency = $4), 0)::bigint AS revenue
       FROM orders o
       LEFT JOIN (SELECT DISTINCT order_id FROM refunds WHERE workspace_id = $1 AND order_id IS NOT NULL) f ON f.order_id = o.id
      WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 AND o.status <> ALL($5::text[])`,
    p,
  );
  const [f] = await db.query<{ n: number; amount: number }>(
    `SELECT count(*)::int AS n, COALESCE(sum(amount_minor) FILTER (WHERE currency = $4), 0)::bigint AS amount
       FROM refunds WHERE workspace_id = $1 AND refunded_at >= $2 AND refunded_at < $3`,
    p.slice(0, 4),
  );
  const sold = await db.query<{ category: string; amount: number; quantity: number }>(
    `SELECT COALESCE(l.category, pr.category, '(uncategorised)') AS category,
            sum(l.total_minor)::bigint AS amount, sum(l.quantity)::int AS quantity
       FROM orders o JOIN order_lines l ON l.order_id = o.id
       LEFT JOIN products pr ON pr.workspace_id = o.workspace_id AND pr.external_id = l.product_id
      WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 AND o.currency = $4 AND o.status <> ALL($5::text[])
      GROUP BY 1`,
    p,
  );
  const refunded = await db.query<{ category: string; amount: number; quantity: number }>(
    `WITH f AS (
       SELECT f.order_id, f.amount_minor, f.lines,
              f.amount_minor - COALESCE((SELECT sum((e->>'amountMinor')::bigint) FROM jsonb_array_elements(f.lines) e), 0) AS rest
         FROM refunds f
        WHERE f.workspace_id = $1 AND f.refunded_at >= $2 AND f.refunded_at < $3 AND f.currency = $4
     )
     -- A refunded line takes the category its product had in the order (as sales do), else the catalogue's.
     SELECT CASE WHEN x.line->>'productId' IS NULL THEN '(unspecified)'
                 ELSE COALESCE((SELECT l.category FROM order_lines l
                                 WHERE l.order_id = f.order_id AND l.product_id = x.line->>'productId' AND l.category IS NOT NULL LIMIT 1),
                               pr.category, '(uncategorised)') END AS category,
            sum((x.line->>'amountMinor')::bigint)::bigint AS amount, sum((x.line->>'quantity')::int)::int AS quantity
       FROM f CROSS JOIN LATERAL jsonb_array_elements(f.lines) AS x(line)
       LEFT JOIN products pr ON pr.workspace_id = $1 AND pr.external_id = x.line->>'productId'
      GROUP BY 1
     UNION ALL
     -- What the lines do not cover (a refund without lines, refunded shipping).
     SELECT '(unspecified)', sum(rest)::bigint, 0 FROM f WHERE rest > 0 HAVING count(*) > 0`,
    p.slice(0, 4),
  );
  const categories = new Map<string, RefundMetrics["byCategory"][number]>();
  const entry = (category: string) => {
    const e = categories.get(category) ?? { category, soldAmount: 0, refundedAmount: 0, rate: null, soldQuantity: 0, refundedQuantity: 0 };
    categories.set(category, e);
    return e;
  };
  for (const s of sold) Object.assign(entry(s.category), { soldAmount: s.amount, soldQuantity: s.quantity });
  for (const r of refunded) {
    const e = entry(r.category);
    e.refundedAmount += r.amount;
    e.refundedQuantity += r.quantity;
  }
  for (const e of categories.values()) e.rate = ratio(e.refundedAmount, e.soldAmount);
  const orders = o?.orders ?? 0;
  const revenue = o?.revenue ?? 0;
  return {
    from: period.from,
    to: period.to,
    currency: ws.currency,
    orders,
    refundedOrders: o?.refunded ?? 0,
    orderRefundRate: ratio(o?.refunded ?? 0, orders),
    revenue,
    refunds: f?.n ?? 0,
    refundedAmount: f?.amount ?? 0,
    revenueRefundRate: ratio(f?.amount ?? 0, revenue),
    byCategory: [...categories.values()].sort((a, b) => b.soldAmount - a.soldAmount || a.category.localeCompare(b.category)),
  };
}

export interface ProductRebuy {
  productId: string;
  title: string | null;
  category: string | null;
  /** Line revenue in the period (minor units), guests included. */
  revenue: number;
  /** Known customers who bought it. */
  buyers: number;
  /** Of those, customers who bought it in two or more orders. */
  rebuyers: number;
  rebuyRate: number | null;
  /** Median days between one customer's purchases of it (distinct days). */
  medianRebuyDays: number | null;
  /** What the shop says (products.usage_days), for comparison. */
  usageDays: number | null;
}

export interface CatalogueMetrics {
  from: string;
  to: string;
  currency: string;
  /** Line revenue from known customers. */
  customerRevenue: number;
  /** Part of it from (customer, product) pairs bought in two or more orders. */
  rebuyRevenue: number;
  /** rebuyRevenue ÷ customerRevenue: how replenishable the catalogue is. */
  replenishableShare: number | null;
  /** Median re-buy interval over all re-bought products (days). */
  medianRebuyDays: number | null;
  /** Products by revenue, at most `limit`. */
  products: ProductRebuy[];
}

export async function catalogueMetrics(db: Queryable, ws: Workspace, period: Period, limit = 100): Promise<CatalogueMetrics> {
  const base = `
    WITH l AS (
      SELECT o.id AS order_id, o.customer_id, (o.placed_at AT TIME ZONE 'UTC')::date AS day, li.product_id, li.total_minor
        FROM orders o JOIN order_lines li ON li.order_id = o.id
       WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 AND o.currency = $4
         AND o.status <> ALL($5::text[]) AND li.product_id IS NOT NULL
    ), pair AS (
      SELECT customer_id, product_id, count(DISTINCT order_id) AS orders, sum(total_minor) AS revenue
        FROM l WHERE customer_id IS NOT NULL GROUP BY 1, 2
    ), gap AS (
      SELECT product_id, day - lag(day) OVER (PARTITION BY customer_id, product_id ORDER BY day) AS days
        FROM (SELECT DISTINCT customer_id, product_id, day FROM l WHERE customer_id IS NOT NULL) d
    )`;
  const p = [ws.id, period.start, period.end, ws.currency, notPurchases()];
  const [t] = await db.query<{ customer_revenue: number; rebuy_revenue: number; median: number | null }>(
    `${base}
     SELECT COALESCE((SELECT sum(revenue) FROM pair), 0)::bigint AS customer_revenue,
            COALESCE((SELECT sum(revenue) FROM pair WHERE orders >= 2), 0)::bigint AS rebuy_revenue,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FROM gap WHERE days IS NOT NULL) AS median`,
    p,
  );
  const rows = await db.query<{
    product_id: string; title: string | null; category: string | null; usage_days: number | null;
    revenue: number; buyers: number; rebuyers: number; median: number | null;
  }>(
    `${base}, rev AS (SELECT product_id, sum(total_minor)::bigint AS revenue FROM l GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $6),
     pa AS (
       SELECT product_id, count(*)::int AS buyers, count(*) FILTER (WHERE orders >= 2)::int AS rebuyers
         FROM pair WHERE product_id IN (SELECT product_id FROM rev) GROUP BY 1
     ), gm AS (
       SELECT product_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median
         FROM gap WHERE days IS NOT NULL AND product_id IN (SELECT product_id FROM rev) GROUP BY 1
     )
     SELECT rev.product_id, pr.title, pr.category, pr.usage_days, rev.revenue,
            COALESCE(pa.buyers, 0) AS buyers, COALESCE(pa.rebuyers, 0) AS rebuyers, gm.median
       FROM rev LEFT JOIN pa ON pa.product_id = rev.product_id LEFT JOIN gm ON gm.product_id = rev.product_id
       LEFT JOIN products pr ON pr.workspace_id = $1 AND pr.external_id = rev.product_id
      ORDER BY rev.revenue DESC, rev.product_id`,
    [...p, limit],
  );
  const customerRevenue = t?.customer_revenue ?? 0;
  const rebuyRevenue = t?.rebuy_revenue ?? 0;
  return {
    from: period.from,
    to: period.to,
    currency: ws.currency,
    customerRevenue,
    rebuyRevenue,
    replenishableShare: ratio(rebuyRevenue, customerRevenue),
    medianRebuyDays: t?.median ?? null,
    products: rows.map((r) => ({
      productId: r.product_id,
      title: r.title,
      category: r.category,
      revenue: r.revenue,
      buyers: r.buyers,
      rebuyers: r.rebuyers,
      rebuyRate: ratio(r.rebuyers, r.buyers),
      medianRebuyDays: r.median,
      usageDays: r.usage_days,
    })),
  };
}
