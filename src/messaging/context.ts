/**
 * What a template can read about a customer, loaded for many customers at
 * once (a few queries per batch, not per message):
 *
 *   customer     external_id, email, first_name, last_name, name, birthday, time_zone, locale, traits
 *   orders       count, revenue_minor, first_order_at, last_order_at
 *   last_order   id, placed_at, total_minor, currency, discount_codes, lines[title, product_id, quantity, unit_price_minor, url, image_url]
 *   predictions  stage, p_alive, expected_purchases_90, expected_purchases_365, clv_minor, expected_aov_minor, next_order_on, rhythm_days, rfm_segment
 *   loyalty      points (balance), earned, spent (lifetime), tier (the VIP tier's name, or null)
 *   products     up to 4 recommendations: the shop's best sellers of the last 90 days in the category of
 *                the customer's last order, then overall, never a product they bought
 *   shop         name, currency, url
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { groupBy } from "../shared/index.ts";
import { balancesOf, tiersOf } from "../loyalty/index.ts";

export type TemplateContext = Record<string, unknown>;

type CustomerRow = {
  id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  birthday: string | null;
  time_zone: string | null;
  locale: string | null;
  order_count: number | null;
  revenue_minor: number | null;
  first_order_at: Date | null;
  last_order_at: Date | null;
};

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Template contexts for customers, by customer id (a customer that does not exist is absent). */
export async function loadContexts(db: Queryable, ws: Workspace, customerIds: readonly number[], shop: { name: string; url: string }, now: Date): Promise<Map<number, TemplateContext>> {
  const out = new Map<number, TemplateContext>();
  if (customerIds.length === 0) return out;
  const ids = [...new Set(customerIds)];
  const customers = await db.query<CustomerRow>(
    `SELECT c.id, c.external_id, c.email, c.first_name, c.last_name, c.birthday, c.time_zone, c.locale,
            r.order_count, r.revenue_minor, r.first_order_at, r.last_order_at
       FROM customers c LEFT JOIN customer_rollups r ON r.customer_id = c.id
      WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])`,
    [ws.id, ids],
  );
  const traits = await db.query<{ customer_id: number; key: string; value: unknown }>("SELECT customer_id, key, value FROM customer_traits WHERE customer_id = ANY($1::bigint[])", [ids]);
  const lastOrders = await db.query<{ customer_id: number; id: number; external_id: string; placed_at: Date; total_minor: number; currency: string; discount_codes: string[] }>(
    `SELECT DISTINCT ON (customer_id) customer_id, id, external_id, placed_at, total_minor, currency, discount_codes FROM orders
      WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[]) AND status <> ALL($3::text[]) ORDER BY customer_id, placed_at DESC, id DESC`,
    [ws.id, ids, [...NON_PURCHASE_STATUSES]],
  );
  const lines = await db.query<{ order_id: number; product_id: string | null; title: string | null; category: string | null; quantity: number; unit_price_minor: number; url: string | null; image_url: string | null }>(
    `SELECT l.order_id, l.product_id, COALESCE(l.title, p.title) AS title, COALESCE(l.category, p.category) AS category, l.quantity, l.unit_price_minor, p.url, p.image_url
       FROM order_lines l LEFT JOIN products p ON p.workspace_id = l.workspace_id AND p.external_id = l.product_id
      WHERE l.order_id = ANY($1::bigint[]) ORDER BY l.order_id, l.line_no`,
    [lastOrders.map((o) => o.id)],
  );
  const scores = await db.query<{
    customer_id: number;
    stage: string;
    p_alive: number | null;
    expected_purchases_90: number | null;
    expected_purchases_365: number | null;
    clv_minor: number | null;
    expected_aov_minor: number | null;
    next_order_on: string | null;
    rhythm_days: number | null;
    rfm_segment: string | null;
  }>(
    `SELECT customer_id, stage, p_alive, expected_purchases_90, expected_purchases_365, clv_minor, expected_aov_minor, next_order_on, rhythm_days, rfm_segment
       FROM customer_scores WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[])`,
    [ws.id, ids],
  );
  const bought = await db.query<{ customer_id: number; product_id: string }>(
    `SELECT DISTINCT o.customer_id, l.product_id FROM orders o JOIN order_lines l ON l.order_id = o.id
      WHERE o.workspace_id = $1 AND o.customer_id = ANY($2::bigint[]) AND l.product_id IS NOT NULL`,
    [ws.id, ids],
  );
  const bestSellers = await db.query<{ external_id: string; title: string; category: string | null; price_minor: number | null; currency: string | null; url: string | null; image_url: string | null }>(
    `SELECT p.external_id, p.title, p.category, p.price_minor, p.currency, p.url, p.image_url
       FROM order_lines l JOIN orders o ON o.id = l.order_id
       JOIN products p ON p.workspace_id = l.workspace_id AND p.external_id = l.product_id
      WHERE l.workspace_id = $1 AND o.placed_at > $2::timestamptz - interval '90 days' AND o.placed_at <= $2
      GROUP BY p.external_id, p.title, p.category, p.price_minor, p.currency, p.url, p.image_url
      ORDER BY sum(l.quantity) DESC, p.external_id LIMIT 60`,
    [ws.id, now],
  );

  const loyalty = await balancesOf(db, ws, ids);
  const tiers = await tiersOf(db, ws, ids);
  const traitsOf = groupBy(traits, (t) => Number(t.customer_id));
  const lastOf = new Map(lastOrders.map((o) => [Number(o.customer_id), o]));
  const linesOf = groupBy(lines, (l) => Number(l.order_id));
  const scoreOf = new Map(scores.map((s) => [Number(s.customer_id), s]));
  const boughtBy = groupBy(bought, (b) => Number(b.customer_id));

  for (const c of customers) {
    const id = Number(c.id);
    const last = lastOf.get(id);
    const lastLines = last ? (linesOf.get(Number(last.id)) ?? []) : [];
    const owned = new Set((boughtBy.get(id) ?? []).map((b) => b.product_id));
    const category = lastLines.find((l) => l.category)?.category ?? null;
    const fresh = bestSellers.filter((p) => !owned.has(p.external_id));
    const recommended = [...fresh.filter((p) => category !== null && p.category === category), ...fresh.filter((p) => category === null || p.category !== category)].slice(0, 4);
    const s = scoreOf.get(id);
    out.set(id, {
      customer: {
        external_id: c.external_id,
        email: c.email,
        first_name: c.first_name ?? "",
        last_name: c.last_name ?? "",
        name: [c.first_name, c.last_name].filter(Boolean).join(" "),
        birthday: c.birthday,
        time_zone: c.time_zone,
        locale: c.locale,
        traits: Object.fromEntries((traitsOf.get(id) ?? []).map((t) => [t.key, t.value])),
      },
      orders: { count: c.order_count ?? 0, revenue_minor: c.revenue_minor ?? 0, first_order_at: iso(c.first_order_at), last_order_at: iso(c.last_order_at) },
      last_order: last
        ? {
            id: last.external_id,
            placed_at: last.placed_at.toISOString(),
            total_minor: Number(last.total_minor),
            currency: last.currency,
            discount_codes: last.discount_codes,
            lines: lastLines.map((l) => ({ product_id: l.product_id, title: l.title, quantity: l.quantity, unit_price_minor: Number(l.unit_price_minor), url: l.url, image_url: l.image_url })),
          }
        : null,
      predictions: s
        ? {
            stage: s.stage,
            p_alive: s.p_alive,
            expected_purchases_90: s.expected_purchases_90,
            expected_purchases_365: s.expected_purchases_365,
            clv_minor: s.clv_minor,
            expected_aov_minor: s.expected_aov_minor,
            next_order_on: s.next_order_on,
            rhythm_days: s.rhythm_days,
            rfm_segment: s.rfm_segment,
          }
        : null,
      loyalty: { points: loyalty.get(id)?.balance ?? 0, earned: loyalty.get(id)?.earned ?? 0, spent: loyalty.get(id)?.spent ?? 0, tier: tiers.get(id) ?? null },
      products: recommended.map((p) => ({
        id: p.external_id,
        title: p.title,
        category: p.category,
        price_minor: p.price_minor,
        currency: p.currency ?? ws.currency,
        url: p.url,
        image_url: p.image_url,
      })),
      shop: { name: shop.name, url: shop.url, currency: ws.currency },
    });
  }
  return out;
}
