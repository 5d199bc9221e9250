/**
 * @module customers — reading what ingest wrote: a customer's profile (fields,
 * traits with where/when learned, consents, rollups), their events, orders,
 * refunds and products. Reads only; all writes go through ingest.
 */
import type { Queryable } from "../store/index.ts";
import { AppError } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";

export interface CustomerProfile {
  externalId: string;
  email: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  birthday: string | null;
  timeZone: string | null;
  locale: string | null;
  acquisitionChannel: string | null;
  firstTouch: unknown;
  createdAt: string;
  updatedAt: string;
  traits: Record<string, { value: unknown; source: string; learnedAt: string }>;
  consents: Record<string, { granted: boolean; source: string; changedAt: string }>;
  anonymousIds: string[];
  rollup: {
    firstOrderAt: string | null;
    lastOrderAt: string | null;
    orderCount: number;
    revenueMinor: number;
    currency: string;
    refundCount: number;
    refundedMinor: number;
    lastEventAt: string | null;
  };
}

const isoOrNull = (d: unknown): string | null => (d instanceof Date ? d.toISOString() : null);
const iso = (d: unknown): string => (d instanceof Date ? d.toISOString() : String(d));

/** A customer's id from their external id, or `not_found` naming `field` (the input that carried the id). */
export async function customerIdOf(db: Queryable, ws: Workspace, externalId: string, field = "externalId"): Promise<number> {
  const rows = await db.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, externalId]);
  const row = rows[0];
  if (!row) throw new AppError("not_found", `no customer "${externalId}"`, [{ field, message: "no such customer" }]);
  return Number(row.id);
}

const customerId = customerIdOf;

export async function getCustomerProfile(db: Queryable, ws: Workspace, externalId: string): Promise<CustomerProfile> {
  const id = await customerId(db, ws, externalId);
  const [c] = await db.query<{
    external_id: string; email: string | null; phone: string | null; first_name: string | null; last_name: string | null;
    birthday: string | null; time_zone: string | null; locale: string | null; acquisition_channel: string | null;
    first_touch: unknown; created_at: Date; updated_at: Date; first_order_at: Date | null; last_order_at: Date | null;
    order_count: number | null; revenue_minor: number | null; refund_count: number | null; refunded_minor: number | null; last_event_at: Date | null;
  }>(
    `SELECT c.*, r.first_order_at, r.last_order_at, r.order_count, r.revenue_minor, r.refund_count, r.refunded_minor, r.last_event_at
       FROM customers c LEFT JOIN customer_rollups r ON r.customer_id = c.id WHERE c.id = $1`,
    [id],
  );
  if (!c) throw new AppError("not_found", `no customer "${externalId}"`);
  const traits = await db.query<{ key: string; value: unknown; source: string; learned_at: Date }>(
    "SELECT key, value, source, learned_at FROM customer_traits WHERE customer_id = $1 ORDER BY key",
    [id],
  );
  const consents = await db.query<{ channel: string; granted: boolean; source: string; changed_at: Date }>(
    "SELECT channel, granted, source, changed_at FROM customer_consents WHERE customer_id = $1 ORDER BY channel",
    [id],
  );
  const anon = await db.query<{ anonymous_id: string }>("SELECT anonymous_id FROM anonymous_ids WHERE customer_id = $1 ORDER BY linked_at", [id]);
  return {
    externalId: c.external_id,
    email: c.email,
    phone: c.phone,
    firstName: c.first_name,
    lastName: c.last_name,
    birthday: c.birthday,
    timeZone: c.time_zone,
    locale: c.locale,
    acquisitionChannel: c.acquisition_channel,
    firstTouch: c.first_touch,
    createdAt: iso(c.created_at),
    updatedAt: iso(c.updated_at),
    traits: Object.fromEntries(traits.map((t) => [t.key, { value: t.value, source: t.source, learnedAt: iso(t.learned_at) }])),
    consents: Object.fromEntries(consents.map((t) => [t.channel, { granted: t.granted, source: t.source, changedAt: iso(t.changed_at) }])),
    anonymousIds: anon.map((a) => a.anonymous_id),
    rollup: {
      firstOrderAt: isoOrNull(c.first_order_at),
      lastOrderAt: isoOrNull(c.last_order_at),
      orderCount: c.order_count ?? 0,
      revenueMinor: c.revenue_minor ?? 0,
      currency: ws.currency,
      refundCount: c.refund_count ?? 0,
      refundedMinor: c.refunded_minor ?? 0,
      lastEventAt: isoOrNull(c.last_event_at),
    },
  };
}

export interface EventView {
  id: number;
  messageId: string;
  type: string;
  name: string | null;
  anonymousId: string | null;
  properties: unknown;
  context: unknown;
  occurredAt: string;
  receivedAt: string;
}

/** A customer's events, newest first; `before` is the `id` of the last event of the previous page. */
export async function listCustomerEvents(
  db: Queryable,
  ws: Workspace,
  externalId: string,
  page: { limit: number; before?: number | undefined },
): Promise<{ events: EventView[]; next: number | null }> {
  const id = await customerId(db, ws, externalId);
  const rows = await db.query<{
    id: number; message_id: string; type: string; name: string | null; anonymous_id: string | null;
    properties: unknown; context: unknown; occurred_at: Date; received_at: Date;
  }>(
    `SELECT id, message_id, type, name, anonymous_id, properties, context, occurred_at, received_at FROM events
      WHERE workspace_id = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR (occurred_at, id) < (SELECT occurred_at, id FROM events WHERE id = $3))
      ORDER BY occurred_at DESC, id DESC LIMIT $4`,
    [ws.id, id, page.before ?? null, page.limit + 1],
  );
  const events = rows.slice(0, page.limit).map((r) => ({
    id: r.id,
    messageId: r.message_id,
    type: r.type,
    name: r.name,
    anonymousId: r.anonymous_id,
    properties: r.properties,
    context: r.context,
    occurredAt: iso(r.occurred_at),
    receivedAt: iso(r.received_at),
  }));
  const last = events[events.length - 1];
  return { events, next: rows.length > page.limit && last ? last.id : null };
}

export async function getOrder(db: Queryable, ws: Workspace, externalId: string): Promise<Record<string, unknown>> {
  const [o] = await db.query<{
    id: number; external_id: string; customer_external_id: string | null; email: string | null; status: string; placed_at: Date;
    currency: string; subtotal_minor: number; discount_minor: number; shipping_minor: number; tax_minor: number; total_minor: number;
    discount_codes: string[]; sales_channel: string | null; source: string;
  }>(
    `SELECT o.*, c.external_id AS customer_external_id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
      WHERE o.workspace_id = $1 AND o.external_id = $2`,
    [ws.id, externalId],
  );
  if (!o) throw new AppError("not_found", `no order "${externalId}"`, [{ field: "externalId", message: "no such order" }]);
  const lines = await db.query<{
    line_no: number; product_id: string | null; sku: string | null; title: string | null; category: string | null;
    quantity: number; unit_price_minor: number; discount_minor: number; total_minor: number;
  }>("SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no", [o.id]);
  return {
    externalId: o.external_id,
    customerExternalId: o.customer_external_id,
    guest: o.customer_external_id === null,
    email: o.email,
    status: o.status,
    placedAt: iso(o.placed_at),
    currency: o.currency,
    subtotalMinor: o.subtotal_minor,
    discountMinor: o.discount_minor,
    shippingMinor: o.shipping_minor,
    taxMinor: o.tax_minor,
    totalMinor: o.total_minor,
    discountCodes: o.discount_codes,
    salesChannel: o.sales_channel,
    source: o.source,
    lines: lines.map((l) => ({
      productId: l.product_id,
      sku: l.sku,
      title: l.title,
      category: l.category,
      quantity: l.quantity,
      unitPriceMinor: l.unit_price_minor,
      discountMinor: l.discount_minor,
      totalMinor: l.total_minor,
    })),
  };
}

export async function getRefund(db: Queryable, ws: Workspace, externalId: string): Promise<Record<string, unknown>> {
  const [r] = await db.query<{
    external_id: string; order_external_id: string | null; customer_external_id: string | null; refunded_at: Date;
    currency: string; amount_minor: number; reason: string | null; lines: unknown; source: string;
  }>(
    `SELECT r.*, o.external_id AS order_external_id, c.external_id AS customer_external_id
       FROM refunds r LEFT JOIN orders o ON o.id = r.order_id LEFT JOIN customers c ON c.id = r.customer_id
      WHERE r.workspace_id = $1 AND r.external_id = $2`,
    [ws.id, externalId],
  );
  if (!r) throw new AppError("not_found", `no refund "${externalId}"`, [{ field: "externalId", message: "no such refund" }]);
  return {
    externalId: r.external_id,
    orderExternalId: r.order_external_id,
    customerExternalId: r.customer_external_id,
    refundedAt: iso(r.refunded_at),
    currency: r.currency,
    amountMinor: r.amount_minor,
    reason: r.reason,
    lines: r.lines,
    source: r.source,
  };
}

export async function getProduct(db: Queryable, ws: Workspace, externalId: string): Promise<Record<string, unknown>> {
  const [p] = await db.query<{
    external_id: string; title: string; category: string | null; price_minor: number | null; currency: string | null;
    url: string | null; image_url: string | null; usage_days: number | null; created_at: Date; updated_at: Date;
  }>("SELECT * FROM products WHERE workspace_id = $1 AND external_id = $2", [ws.id, externalId]);
  if (!p) throw new AppError("not_found", `no product "${externalId}"`, [{ field: "externalId", message: "no such product" }]);
  return {
    externalId: p.external_id,
    title: p.title,
    category: p.category,
    priceMinor: p.price_minor,
    currency: p.currency,
    url: p.url,
    imageUrl: p.image_url,
    usageDays: p.usage_days,
    createdAt: iso(p.created_at),
    updatedAt: iso(p.updated_at),
  };
}

/** Counts for the status page and the CLI. */
export async function storeCounts(db: Queryable, ws: Workspace): Promise<{ customers: number; orders: number; events: number; products: number }> {
  const [r] = await db.query<{ customers: number; orders: number; events: number; products: number }>(
    `SELECT (SELECT count(*)::int FROM customers WHERE workspace_id = $1) AS customers,
            (SELECT count(*)::int FROM orders WHERE workspace_id = $1) AS orders,
            (SELECT count(*)::int FROM events WHERE workspace_id = $1) AS events,
            (SELECT count(*)::int FROM products WHERE workspace_id = $1) AS products`,
    [ws.id],
  );
  return r ?? { customers: 0, orders: 0, events: 0, products: 0 };
}

export interface OrderSummary {
  externalId: string;
  status: string;
  placedAt: string;
  currency: string;
  totalMinor: number;
  items: number;
  refundedMinor: number;
  titles: string[];
}

/** A customer's orders, newest first, with what was in them and refunded: the orders half of the customer page's timeline. */
export async function listCustomerOrders(db: Queryable, ws: Workspace, externalId: string, page: { limit: number }): Promise<OrderSummary[]> {
  const id = await customerId(db, ws, externalId);
  const rows = await db.query<{ external_id: string; status: string; placed_at: Date; currency: string; total_minor: number; items: number | null; refunded: number | null; titles: string[] | null }>(
    `SELECT o.external_id, o.status, o.placed_at, o.currency, o.total_minor,
            (SELECT sum(quantity)::int FROM order_lines l WHERE l.order_id = o.id) AS items,
            (SELECT sum(amount_minor)::bigint FROM refunds r WHERE r.workspace_id = o.workspace_id AND r.order_id = o.id) AS refunded,
            (SELECT array_agg(coalesce(title, product_id, sku, '?') ORDER BY line_no) FROM order_lines l WHERE l.order_id = o.id) AS titles
       FROM orders o WHERE o.workspace_id = $1 AND o.customer_id = $2 ORDER BY o.placed_at DESC, o.id DESC LIMIT $3`,
    [ws.id, id, page.limit],
  );
  return rows.map((r) => ({
    externalId: r.external_id,
    status: r.status,
    placedAt: iso(r.placed_at),
    currency: r.currency,
    totalMinor: Number(r.total_minor),
    items: Number(r.items ?? 0),
    refundedMinor: Number(r.refunded ?? 0),
    titles: r.titles ?? [],
  }));
}
