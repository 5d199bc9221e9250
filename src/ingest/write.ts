/**
 * The one write path. Every way in (admin API, tracking API, Shopify webhooks,
 * CSV imports, demo) calls these functions with normalised records; they write
 * idempotently (customers by external id, orders and refunds by external id,
 * events by message id) and keep the per-customer rollups current in the same
 * transaction. Each function takes many records at once: a single API call is
 * a batch of one, an import a batch of thousands.
 *
 * Rows travel to the database as one jsonb parameter read with
 * jsonb_to_recordset: one round trip per batch, bound parameters only.
 */
import { BinaryCopyRows, type Queryable } from "../store/index.ts";
import { AppError } from "../shared/index.ts";
import { addressKey, type CustomerRecord, type OrderRecord, type ProductRecord, type RefundRecord } from "./records.ts";
import type { Workspace } from "../workspaces/index.ts";

export type { Workspace };


/** A fact to append to the event log. */
export interface EventRecord {
  messageId: string;
  type: "track" | "page" | "screen" | "identify" | "alias" | "group" | "order" | "refund" | "customer" | "message" | "loyalty";
  name: string | null;
  customerId: number | null;
  anonymousId: string | null;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  occurredAt: Date;
  /** When Fidelio received it (default: the write's `now`). */
  receivedAt?: Date;
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);

/** The key a customer is stored under: their external id, or their email when that is all we know. */
export function customerKey(c: { externalId?: string | undefined; email?: string | undefined }): string {
  const key = c.externalId ?? c.email;
  if (key === undefined) throw new AppError("invalid_input", "customer: externalId or email is required", [{ field: "customer.externalId", message: "externalId or email is required" }]);
  return key;
}

/**
 * SQL true when writing record `n` over customer row `t` changes the row,
 * with the rules of writeCustomers' upsert: a given field overwrites, a
 * missing one keeps the stored value, the acquisition channel and first
 * touch are set once, and the earliest creation time wins. The aliases are
 * ours (never user input).
 */
function customerChanges(t: string, n: string): string {
  return `((${t}.email, ${t}.phone, ${t}.first_name, ${t}.last_name, ${t}.birthday, ${t}.time_zone, ${t}.locale,
            ${t}.acquisition_channel, ${t}.first_touch, ${t}.created_at)
           IS DISTINCT FROM
           (COALESCE(${n}.email, ${t}.email), COALESCE(${n}.phone, ${t}.phone), COALESCE(${n}.first_name, ${t}.first_name),
            COALESCE(${n}.last_name, ${t}.last_name), COALESCE(${n}.birthday, ${t}.birthday), COALESCE(${n}.time_zone, ${t}.time_zone),
            COALESCE(${n}.locale, ${t}.locale), COALESCE(${t}.acquisition_channel, ${n}.acquisition_channel),
            COALESCE(${t}.first_touch, ${n}.first_touch), LEAST(${t}.created_at, ${n}.created_at)))`;
}

export interface CustomerWriteResult {
  /** Internal ids by the key each record was given (external id, and email when known). */
  ids: Map<string, number>;
  /** How many customers were new. */
  inserted: number;
}

/**
 * Upserts customers; returns their internal ids by the key they were given
 * (external id, or email for email-only records). Given fields overwrite,
 * missing ones are kept; the acquisition channel and first touch are set once.
 */
export async function writeCustomers(
  tx: Queryable,
  ws: Workspace,
  records: readonly CustomerRecord[],
  source: string,
  now: Date,
): Promise<CustomerWriteResult> {
  const ids = new Map<string, number>();
  if (records.length === 0) return { ids, inserted: 0 };

  // An email-only record joins the customer who already has that email.
  const emailOnly = [...new Set(records.filter((r) => r.externalId === undefined && r.email).map((r) => r.email ?? ""))];
  const byEmail = new Map<string, string>();
  if (emailOnly.length > 0) {
    const rows = await tx.query<{ email: string; external_id: string }>(
      `SELECT DISTINCT ON (lower(email)) lower(email) AS email, external_id FROM customers
        WHERE workspace_id = $1 AND lower(email) = ANY($2::text[]) ORDER BY lower(email), id`,
      [ws.id, emailOnly],
    );
    for (const r of rows) byEmail.set(r.email, r.external_id);
  }

  // One row per key; later records in the batch win, field by field.
  const merged = new Map<string, CustomerRecord & { key: string }>();
  for (const r of records) {
    const key = r.externalId ?? byEmail.get(r.email ?? "") ?? customerKey(r);
    const prev = merged.get(key);
    merged.set(key, {
      ...prev,
      ...withoutUndefined(r),
      key,
      traits: { ...prev?.traits, ...r.traits },
      consents: [...(prev?.consents ?? []), ...(r.consents ?? [])],
    });
  }
  // Every write takes its row locks in key order, so concurrent batches
  // cannot deadlock (PostgreSQL would abort one of them).
  const rows = [...merged.values()].sort((a, b) => compare(a.key, b.key));

  // A prospect first known by email adopts the shop's id when it arrives.
  const adoptions = rows.filter((r) => r.externalId !== undefined && r.email !== undefined && r.externalId !== r.email);
  if (adoptions.length > 0) {
    await tx.query(
      `UPDATE customers c SET external_id = x.key, updated_at = $3
         FROM jsonb_to_recordset($2::jsonb) AS x(key text, email text)
        WHERE c.workspace_id = $1 AND c.external_id = x.email
          AND NOT EXISTS (SELECT 1 FROM customers c2 WHERE c2.workspace_id = $1 AND c2.external_id = x.key)`,
      [ws.id, JSON.stringify(adoptions.map((r) => ({ key: r.key, email: r.email }))), now],
    );
  }

  // One statement: it reads which customers exist and which of them this
  // batch would change (as they were when it began), and sends only the new
  // and the changed to the upsert. A record that changes nothing takes no
  // lock: ON CONFLICT DO UPDATE locks the row even when its WHERE is false,
  // which made concurrent tracking batches naming the same logged-in
  // customer wait for each other's commit. The statement returns the ids of
  // the rows it inserted or changed and of those it left alone. A customer a
  // concurrent transaction committed meanwhile is in neither: the look-up
  // after the statement finds it.
  const upserted = await tx.query<{ id: number; external_id: string; inserted: boolean }>(
    `WITH x AS MATERIALIZED (
       SELECT x.key, x.email, x.phone, x.first_name, x.last_name, x.birthday, x.time_zone, x.locale,
              x.acquisition_channel, x.first_touch, COALESCE(x.created_at, $3) AS created_at
         FROM jsonb_to_recordset($2::jsonb) AS x(key text, email text, phone text, first_name text, last_name text,
              birthday date, time_zone text, locale text, acquisition_channel text, first_touch jsonb, created_at timestamptz)
     ), current AS (
       -- The keys as an array too: the look-up is then an index scan whatever
       -- the planner believes of the table's size (PGlite runs no autovacuum:
       -- without statistics it hashed every customer of the workspace, per batch).
       SELECT c.id, c.external_id, ${customerChanges("c", "x")} AS changes
         FROM customers c JOIN x ON c.external_id = x.key
        WHERE c.workspace_id = $1 AND c.external_id = ANY($4::text[])
     ), up AS (
     INSERT INTO customers (workspace_id, external_id, email, phone, first_name, last_name, birthday, time_zone,
                            locale, acquisition_channel, first_touch, created_at, updated_at)
     SELECT $1, x.key, x.email, x.phone, x.first_name, x.last_name, x.birthday, x.time_zone,
            x.locale, x.acquisition_channel, x.first_touch, x.created_at, $3
       FROM x WHERE NOT EXISTS (SELECT 1 FROM current WHERE current.external_id = x.key AND NOT current.changes)
      ORDER BY x.key
     ON CONFLICT (workspace_id, external_id) DO UPDATE SET
       email = COALESCE(EXCLUDED.email, customers.email),
       phone = COALESCE(EXCLUDED.phone, customers.phone),
       first_name = COALESCE(EXCLUDED.first_name, customers.first_name),
       last_name = COALESCE(EXCLUDED.last_name, customers.last_name),
       birthday = COALESCE(EXCLUDED.birthday, customers.birthday),
       time_zone = COALESCE(EXCLUDED.time_zone, customers.time_zone),
       locale = COALESCE(EXCLUDED.locale, customers.locale),
       acquisition_channel = COALESCE(customers.acquisition_channel, EXCLUDED.acquisition_channel),
       first_touch = COALESCE(customers.first_touch, EXCLUDED.first_touch),
       created_at = LEAST(customers.created_at, EXCLUDED.created_at),
       updated_at = EXCLUDED.updated_at
     -- A record that changes nothing leaves the row (and updated_at) alone.
     WHERE ${customerChanges("customers", "EXCLUDED")}
     RETURNING id, external_id, (xmax = 0) AS inserted
     )
     SELECT id, external_id, inserted FROM up
     UNION ALL
     SELECT id, external_id, false FROM current
      WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.external_id = current.external_id)`,
    [
      ws.id,
      JSON.stringify(
        rows.map((r) => ({
          key: r.key,
          email: r.email ?? null,
          phone: r.phone ?? null,
          first_name: r.firstName ?? null,
          last_name: r.lastName ?? null,
          birthday: r.birthday ?? null,
          time_zone: r.timeZone ?? null,
          locale: r.locale ?? null,
          acquisition_channel: r.acquisitionChannel ?? r.firstTouch?.source ?? null,
          first_touch: r.firstTouch ? { ...r.firstTouch, at: iso(r.firstTouch.at) ?? iso(now) } : null,
          created_at: iso(r.createdAt),
        })),
      ),
      now,
      rows.map((r) => r.key),
    ],
  );
  for (const u of upserted) ids.set(u.external_id, u.id);
  const unchanged = rows.filter((r) => !ids.has(r.key)).map((r) => r.key);
  if (unchanged.length > 0) {
    const found = await tx.query<{ id: number; external_id: string }>(
      "SELECT id, external_id FROM customers WHERE workspace_id = $1 AND external_id = ANY($2::text[])",
      [ws.id, unchanged],
    );
    for (const f of found) ids.set(f.external_id, f.id);
  }
  for (const r of rows) {
    const id = ids.get(r.key);
    if (id !== undefined && r.email) ids.set(r.email, id);
  }
  // Every customer has a rollup row, so metrics count customers who never ordered.
  // (Most tracking batches create nobody: then no statement, ~1 ms each on PGlite.)
  const created = upserted.filter((u) => u.inserted).map((u) => u.id).sort((a, b) => a - b);
  if (created.length > 0) {
    await tx.query(
      `INSERT INTO customer_rollups (workspace_id, customer_id, updated_at)
       SELECT $1, unnest($2::bigint[]), $3 ON CONFLICT (customer_id) DO NOTHING`,
      [ws.id, created, now],
    );
  }

  const traits = rows.flatMap((r) =>
    Object.entries(r.traits ?? {}).map(([key, value]) => ({ customer_id: ids.get(r.key), key, value: value ?? null })),
  );
  if (traits.length > 0) {
    // learned_at changes only when the value does: it says when we learned *this* value.
    await tx.query(
      `INSERT INTO customer_traits (workspace_id, customer_id, key, value, source, learned_at)
       SELECT $1, x.customer_id, x.key, x.value, $3, $4 FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, key text, value jsonb)
       ON CONFLICT (customer_id, key) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, learned_at = EXCLUDED.learned_at
       WHERE customer_traits.value IS DISTINCT FROM EXCLUDED.value`,
      [ws.id, JSON.stringify(traits), source, now],
    );
  }
  const inserted = upserted.filter((u) => u.inserted).length;
  // The last consent given for a channel in the batch is the one that stands.
  const consentList = rows.flatMap((r) =>
    (r.consents ?? []).map((c) => ({
      customer_id: ids.get(r.key),
      channel: c.channel,
      granted: c.granted,
      source: c.source ?? source,
      changed_at: iso(c.at) ?? iso(now),
    })),
  );
  const consents = [...new Map(consentList.map((c) => [`${c.customer_id}:${c.channel}`, c])).values()];
  if (consents.length > 0) {
    const changed = await tx.query<{ customer_id: number; channel: string; granted: boolean; source: string; changed_at: Date }>(
      `INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at)
       SELECT $1, x.customer_id, x.channel, x.granted, x.source, x.changed_at
         FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, channel text, granted boolean, source text, changed_at timestamptz)
       ON CONFLICT (customer_id, channel) DO UPDATE SET granted = EXCLUDED.granted, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at
       WHERE customer_consents.granted IS DISTINCT FROM EXCLUDED.granted
       RETURNING customer_id, channel, granted, source, changed_at`,
      [ws.id, JSON.stringify(consents)],
    );
    // Consent changes are facts with a time and a source: they go to the log.
    await appendEvents(
      tx,
      ws,
      changed.map((c) => ({
        messageId: `consent:${c.customer_id}:${c.channel}:${c.changed_at.toISOString()}:${c.granted}`,
        type: "customer",
        name: c.granted ? "Consent Granted" : "Consent Revoked",
        customerId: c.customer_id,
        anonymousId: null,
        properties: { channel: c.channel, source: c.source },
        context: {},
        occurredAt: c.changed_at,
      })),
      now,
    );
  }
  return { ids, inserted };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o)) {
    if (!isKeyOf(o, k)) continue;
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function isKeyOf<T extends object>(o: T, k: PropertyKey): k is keyof T {
  return k in o;
}

export async function writeProducts(tx: Queryable, ws: Workspace, records: readonly ProductRecord[], now: Date): Promise<number> {
  if (records.length === 0) return 0;
  const byId = new Map(records.map((p) => [p.externalId, p]));
  const rows = await tx.query(
    `INSERT INTO products (workspace_id, external_id, title, category, price_minor, currency, url, image_url, usage_days, created_at, updated_at)
     SELECT $1, x.external_id, x.title, x.category, x.price_minor, x.currency, x.url, x.image_url, x.usage_days, $3, $3
       FROM jsonb_to_recordset($2::jsonb) AS x(external_id text, title text, category text, price_minor bigint, currency text, url text, image_url text, usage_days int)
     ON CONFLICT (workspace_id, external_id) DO UPDATE SET
       title = EXCLUDED.title,
       category = COALESCE(EXCLUDED.category, products.category),
       price_minor = COALESCE(EXCLUDED.price_minor, products.price_minor),
       currency = COALESCE(EXCLUDED.currency, products.currency),
       url = COALESCE(EXCLUDED.url, products.url),
       image_url = COALESCE(EXCLUDED.image_url, products.image_url),
       usage_days = COALESCE(EXCLUDED.usage_days, products.usage_days),
       updated_at = EXCLUDED.updated_at
     RETURNING external_id`,
    [
      ws.id,
      JSON.stringify(
        [...byId.values()].sort((a, b) => compare(a.externalId, b.externalId)).map((p) => ({
          external_id: p.externalId,
          title: p.title,
          category: p.category ?? null,
          price_minor: p.priceMinor ?? null,
          currency: p.currency ?? null,
          url: p.url ?? null,
          image_url: p.imageUrl ?? null,
          usage_days: p.usageDays ?? null,
        })),
      ),
      now,
    ],
  );
  return rows.length;
}

/** Products seen only in events or order lines enter the catalogue, without overwriting what the shop sent. */
export async function noteProducts(tx: Queryable, ws: Workspace, records: readonly ProductRecord[], now: Date): Promise<void> {
  if (records.length === 0) return;
  const byId = new Map(records.map((p) => [p.externalId, p]));
  await tx.query(
    `INSERT INTO products (workspace_id, external_id, title, category, price_minor, currency, url, image_url, created_at, updated_at)
     SELECT $1, x.external_id, x.title, x.category, x.price_minor, x.currency, x.url, x.image_url, $3, $3
       FROM jsonb_to_recordset($2::jsonb) AS x(external_id text, title text, category text, price_minor bigint, currency text, url text, image_url text)
     ON CONFLICT (workspace_id, external_id) DO NOTHING`,
    [
      ws.id,
      JSON.stringify(
        [...byId.values()].sort((a, b) => compare(a.externalId, b.externalId)).map((p) => ({
          external_id: p.externalId,
          title: p.title,
          category: p.category ?? null,
          price_minor: p.priceMinor ?? null,
          currency: p.currency ?? null,
          url: p.url ?? null,
          image_url: p.imageUrl ?? null,
        })),
      ),
      now,
    ],
  );
}

export interface OrderWriteResult {
  /** External ids of orders stored by this call. */
  inserted: string[];
  /** External ids that were already stored (their status was updated if it changed). */
  existing: string[];
  /** Products the lines named that this call put in the catalogue or found there (see `knownProducts`). */
  notedProducts: string[];
}

/**
 * Events a person did (as opposed to facts Fidelio derived: orders, refunds,
 * consent changes). `last_event_at` in the rollups is the last of these.
 */
export const BEHAVIOUR_TYPES = ["track", "page", "screen", "identify", "alias", "group"] as const;

/** Statuses that do not count as a purchase in rollups and metrics. */
export const NON_PURCHASE_STATUSES = ["cancelled"] as const;

/**
 * Writes orders idempotently by external id. A new order updates its
 * customer's rollup and is logged as an `Order Completed` fact; a known order
 * only has its status updated (and the rollup recomputed when that matters).
 */
export async function writeOrders(
  tx: Queryable,
  ws: Workspace,
  records: readonly OrderRecord[],
  source: string,
  now: Date,
  options: {
    updateStatus?: boolean;
    /** Products known to be in the catalogue already (KnownProducts): not noted again. */
    knownProducts?: ReadonlySet<string>;
  } = {},
): Promise<OrderWriteResult> {
  if (records.length === 0) return { inserted: [], existing: [], notedProducts: [] };
  const customers = records.flatMap((o) => (o.customer ? [o.customer] : []));
  // Products named only in order lines enter the catalogue (recommendations need them).
  const named = new Map<string, ProductRecord>();
  for (const o of records) {
    for (const l of o.lines) {
      if (l.productId !== undefined && !named.has(l.productId) && !options.knownProducts?.has(l.productId)) {
        named.set(l.productId, { externalId: l.productId, title: l.title ?? l.productId, category: l.category, priceMinor: l.unitPriceMinor, currency: o.currency });
      }
    }
  }
  await noteProducts(tx, ws, [...named.values()], now);
  const { ids } = await writeCustomers(tx, ws, customers, source, now);

  const unique = new Map<string, OrderRecord>();
  for (const o of records) unique.set(o.externalId, o);
  const orders = [...unique.values()].sort((a, b) => compare(a.externalId, b.externalId));

  const orderJson = orders.map((o) => ({
    external_id: o.externalId,
    customer_id: o.customer ? (ids.get(o.customer.externalId ?? o.customer.email ?? "") ?? null) : null,
    email: o.email ?? o.customer?.email ?? null,
    status: o.status,
    placed_at: o.placedAt.toISOString(),
    currency: o.currency,
    subtotal_minor: o.subtotalMinor,
    discount_minor: o.discountMinor,
    shipping_minor: o.shippingMinor,
    tax_minor: o.taxMinor,
    total_minor: o.totalMinor,
    discount_codes: o.discountCodes,
    sales_channel: o.salesChannel ?? null,
    address_key: addressKey(o.shippingAddress),
    payment_fingerprint: o.paymentFingerprint ?? null,
    item_count: o.lines.reduce((s, l) => s + l.quantity, 0),
  }));

  // One statement: orders, the rollups and the log, for new orders only; then their lines by COPY.
  const inserted = await tx.query<{ id: number; external_id: string }>(
    `WITH x AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(external_id text, customer_id bigint, email text, status text,
         placed_at timestamptz, currency text, subtotal_minor bigint, discount_minor bigint, shipping_minor bigint,
         tax_minor bigint, total_minor bigint, discount_codes jsonb, sales_channel text, address_key text, payment_fingerprint text, item_count int)
     ), ins AS (
       INSERT INTO orders (workspace_id, external_id, customer_id, email, status, placed_at, currency, subtotal_minor,
                           discount_minor, shipping_minor, tax_minor, total_minor, discount_codes, sales_channel, address_key, payment_fingerprint, source, created_at)
       SELECT $1, x.external_id, x.customer_id, x.email, x.status, x.placed_at, x.currency, x.subtotal_minor,
              x.discount_minor, x.shipping_minor, x.tax_minor, x.total_minor,
              ARRAY(SELECT jsonb_array_elements_text(x.discount_codes)), x.sales_channel, x.address_key, x.payment_fingerprint, $4, $5
         FROM x
       ON CONFLICT (workspace_id, external_id) DO NOTHING
       RETURNING id, external_id, customer_id, status, placed_at, currency, total_minor
     ), roll AS (
       INSERT INTO customer_rollups AS r (workspace_id, customer_id, first_order_at, last_order_at, order_count,
                                          revenue_minor, revenue_order_count, updated_at)
       SELECT $1, customer_id, min(placed_at), max(placed_at), count(*),
              COALESCE(sum(total_minor) FILTER (WHERE currency = $3), 0), count(*) FILTER (WHERE currency = $3), $5
         FROM ins WHERE customer_id IS NOT NULL AND status <> ALL($6::text[])
        GROUP BY customer_id ORDER BY customer_id
       ON CONFLICT (customer_id) DO UPDATE SET
         first_order_at = LEAST(r.first_order_at, EXCLUDED.first_order_at),
         last_order_at = GREATEST(r.last_order_at, EXCLUDED.last_order_at),
         order_count = r.order_count + EXCLUDED.order_count,
         revenue_minor = r.revenue_minor + EXCLUDED.revenue_minor,
         revenue_order_count = r.revenue_order_count + EXCLUDED.revenue_order_count,
         updated_at = EXCLUDED.updated_at
     ), logged AS (
       INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
       SELECT $1, 'order:' || ins.external_id, 'order', 'Order Completed', ins.customer_id,
              jsonb_build_object('orderId', ins.external_id, 'totalMinor', ins.total_minor, 'currency', ins.currency,
                                 'status', ins.status, 'itemCount', x.item_count, 'source', $4::text),
              ins.placed_at, $5
         FROM ins JOIN x ON x.external_id = ins.external_id
       ON CONFLICT (workspace_id, message_id) DO NOTHING
     )
     SELECT id, external_id FROM ins`,
    [ws.id, JSON.stringify(orderJson), ws.currency, source, now, [...NON_PURCHASE_STATUSES]],
  );
  await copyOrderLines(tx, ws, inserted, unique);
  const insertedIds = new Set(inserted.map((r) => r.external_id));
  const existing = orders.filter((o) => !insertedIds.has(o.externalId));

  if (existing.length > 0 && options.updateStatus !== false) {
    // A known order may come again with a new status (a Shopify orders/updated webhook).
    const changed = await tx.query<{ customer_id: number | null }>(
      `UPDATE orders o SET status = x.status
         FROM jsonb_to_recordset($2::jsonb) AS x(external_id text, status text)
        WHERE o.workspace_id = $1 AND o.external_id = x.external_id AND o.status IS DISTINCT FROM x.status
        RETURNING o.customer_id`,
      [ws.id, JSON.stringify(existing.map((o) => ({ external_id: o.externalId, status: o.status })))],
    );
    const affected = changed.flatMap((c) => (c.customer_id === null ? [] : [c.customer_id]));
    if (affected.length > 0) await recomputeRollups(tx, ws, affected, now);
  }
  return { inserted: [...insertedIds], existing: existing.map((o) => o.externalId), notedProducts: [...named.keys()] };
}

const ORDER_LINE_COLUMNS = [
  "workspace_id", "order_id", "line_no", "product_id", "sku", "title", "category",
  "quantity", "unit_price_minor", "discount_minor", "total_minor",
] as const;

/**
 * The lines of the orders just inserted, with binary COPY: a bulk import
 * carries ~13 a order, and inserting them from the statement's JSON
 * parameter (jsonb_to_recordset per order) was most of the import's
 * database time (docs/benchmarks.md, "CSV import").
 */
async function copyOrderLines(tx: Queryable, ws: Workspace, inserted: readonly { id: number; external_id: string }[], byExternalId: ReadonlyMap<string, OrderRecord>): Promise<void> {
  const rows = new BinaryCopyRows(ORDER_LINE_COLUMNS.length);
  const textOrNull = (v: string | undefined) => (v === undefined ? rows.null() : rows.text(v));
  for (const o of inserted) {
    const lines = byExternalId.get(o.external_id)?.lines ?? [];
    lines.forEach((l, i) => {
      rows.row().text(ws.id).int8(o.id).int4(i + 1);
      textOrNull(l.productId);
      textOrNull(l.sku);
      textOrNull(l.title);
      textOrNull(l.category);
      rows.int4(l.quantity).int8(l.unitPriceMinor).int8(l.discountMinor).int8(l.totalMinor);
    });
  }
  if (rows.rows > 0) await tx.copyFrom("order_lines", ORDER_LINE_COLUMNS, rows.finish());
}

/**
 * Writes refunds idempotently by external id. A refund names its order (and so
 * its customer) or, for transaction logs where a return has no order reference,
 * its customer directly.
 */
export async function writeRefunds(
  tx: Queryable,
  ws: Workspace,
  records: readonly RefundRecord[],
  source: string,
  now: Date,
): Promise<{ inserted: string[]; existing: string[] }> {
  if (records.length === 0) return { inserted: [], existing: [] };
  const orderRefs = [...new Set(records.flatMap((r) => (r.orderExternalId ? [r.orderExternalId] : [])))];
  const orders = new Map<string, { id: number; customer_id: number | null }>();
  if (orderRefs.length > 0) {
    const rows = await tx.query<{ id: number; external_id: string; customer_id: number | null }>(
      "SELECT id, external_id, customer_id FROM orders WHERE workspace_id = $1 AND external_id = ANY($2::text[])",
      [ws.id, orderRefs],
    );
    for (const r of rows) orders.set(r.external_id, r);
  }
  for (const [i, r] of records.entries()) {
    if (r.orderExternalId && !orders.has(r.orderExternalId)) {
      throw new AppError("unprocessable", `orderExternalId: no order "${r.orderExternalId}"`, [
        { field: records.length > 1 ? `${i}.orderExternalId` : "orderExternalId", message: `no order "${r.orderExternalId}"` },
      ]);
    }
  }
  const refCustomers = records.flatMap((r) => (r.customer && (r.customer.externalId || r.customer.email) ? [r.customer] : []));
  const { ids: customerIds } = await writeCustomers(tx, ws, refCustomers, source, now);

  const json = [...new Map(records.map((r) => [r.externalId, r])).values()].map((r) => {
    const order = r.orderExternalId ? orders.get(r.orderExternalId) : undefined;
    const customerId =
      order?.customer_id ?? (r.customer ? (customerIds.get(r.customer.externalId ?? r.customer.email ?? "") ?? null) : null);
    return {
      external_id: r.externalId,
      order_id: order?.id ?? null,
      customer_id: customerId,
      refunded_at: r.refundedAt.toISOString(),
      currency: r.currency,
      amount_minor: r.amountMinor,
      reason: r.reason ?? null,
      lines: r.lines,
    };
  });
  const inserted = await tx.query<{ external_id: string }>(
    `WITH ins AS (
       INSERT INTO refunds (workspace_id, external_id, order_id, customer_id, refunded_at, currency, amount_minor, reason, lines, source, created_at)
       SELECT $1, x.external_id, x.order_id, x.customer_id, x.refunded_at, x.currency, x.amount_minor, x.reason, x.lines, $4, $5
         FROM jsonb_to_recordset($2::jsonb) AS x(external_id text, order_id bigint, customer_id bigint, refunded_at timestamptz,
              currency text, amount_minor bigint, reason text, lines jsonb)
       ON CONFLICT (workspace_id, external_id) DO NOTHING
       RETURNING external_id, order_id, customer_id, refunded_at, currency, amount_minor
     ), roll AS (
       INSERT INTO customer_rollups AS r (workspace_id, customer_id, refund_count, refunded_minor, updated_at)
       SELECT $1, customer_id, count(*), COALESCE(sum(amount_minor) FILTER (WHERE currency = $3), 0), $5
         FROM ins WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY customer_id
       ON CONFLICT (customer_id) DO UPDATE SET
         refund_count = r.refund_count + EXCLUDED.refund_count,
         refunded_minor = r.refunded_minor + EXCLUDED.refunded_minor,
         updated_at = EXCLUDED.updated_at
     ), logged AS (
       INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
       SELECT $1, 'refund:' || ins.external_id, 'refund', 'Order Refunded', ins.customer_id,
              jsonb_build_object('refundId', ins.external_id, 'orderId', o.external_id, 'amountMinor', ins.amount_minor,
                                 'currency', ins.currency, 'source', $4::text),
              ins.refunded_at, $5
         FROM ins LEFT JOIN orders o ON o.id = ins.order_id
       ON CONFLICT (workspace_id, message_id) DO NOTHING
     )
     SELECT external_id FROM ins`,
    [ws.id, JSON.stringify(json), ws.currency, source, now],
  );
  const done = new Set(inserted.map((r) => r.external_id));
  return { inserted: [...done], existing: json.map((r) => r.external_id).filter((id) => !done.has(id)) };
}

/**
 * Appends events to the log, skipping message ids already there. Returns the
 * message ids that were new. Keeps each customer's last-event time current.
 */
export async function appendEvents(tx: Queryable, ws: Workspace, events: readonly EventRecord[], now: Date): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const unique = dedupeBy(events, (e) => e.messageId).sort((a, b) => compare(a.messageId, b.messageId));
  const anonymousIds = [...new Set(unique.flatMap((e) => (e.customerId === null && e.anonymousId !== null ? [e.anonymousId] : [])))];
  const rows = await tx.query<{ message_id: string }>(
    `WITH ins AS (
       INSERT INTO events (workspace_id, message_id, type, name, customer_id, anonymous_id, properties, context, occurred_at, received_at)
       SELECT $1, x.message_id, x.type, x.name, COALESCE(x.customer_id, a.customer_id), x.anonymous_id, x.properties, x.context, x.occurred_at,
              COALESCE(x.received_at, $3)
         FROM jsonb_to_recordset($2::jsonb) AS x(message_id text, type text, name text, customer_id bigint, anonymous_id text,
              properties jsonb, context jsonb, occurred_at timestamptz, received_at timestamptz)
         -- The ids as an array too, so that the look-up is an index scan (see writeCustomers).
         LEFT JOIN anonymous_ids a ON a.workspace_id = $1 AND a.anonymous_id = x.anonymous_id AND a.anonymous_id = ANY($5::text[])
       ON CONFLICT (workspace_id, message_id) DO NOTHING
       RETURNING message_id, customer_id, occurred_at, type
     ), roll AS (
       INSERT INTO customer_rollups AS r (workspace_id, customer_id, last_event_at, updated_at)
       SELECT $1, customer_id, max(occurred_at), $3 FROM ins
        WHERE customer_id IS NOT NULL AND type = ANY($4::text[]) GROUP BY customer_id ORDER BY customer_id
       ON CONFLICT (customer_id) DO UPDATE SET last_event_at = GREATEST(r.last_event_at, EXCLUDED.last_event_at)
     )
     SELECT message_id FROM ins`,
    [
      ws.id,
      JSON.stringify(
        unique.map((e) => ({
          message_id: e.messageId,
          type: e.type,
          name: e.name,
          customer_id: e.customerId,
          anonymous_id: e.anonymousId,
          properties: e.properties,
          context: e.context,
          occurred_at: e.occurredAt.toISOString(),
          received_at: iso(e.receivedAt),
        })),
      ),
      now,
      [...BEHAVIOUR_TYPES],
      anonymousIds,
    ],
  );
  return new Set(rows.map((r) => r.message_id));
}

/** Plain code-unit order: the same in every process, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupeBy<T>(items: readonly T[], key: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/**
 * Links anonymous visitors to customers: their past events join the customer
 * (so a cart abandoned before login is theirs) and later events with that
 * anonymous id are attributed on arrival. The first link of an anonymous id wins.
 */
export async function linkAnonymous(
  tx: Queryable,
  ws: Workspace,
  links: readonly { anonymousId: string; customerId: number }[],
  now: Date,
): Promise<void> {
  if (links.length === 0) return;
  const unique = dedupeBy(links, (l) => l.anonymousId).sort((a, b) => compare(a.anonymousId, b.anonymousId));
  const linked = await tx.query<{ anonymous_id: string; customer_id: number }>(
    `INSERT INTO anonymous_ids (workspace_id, anonymous_id, customer_id, linked_at)
     SELECT $1, x.anonymous_id, x.customer_id, $3 FROM jsonb_to_recordset($2::jsonb) AS x(anonymous_id text, customer_id bigint)
     ON CONFLICT (workspace_id, anonymous_id) DO NOTHING
     RETURNING anonymous_id, customer_id`,
    [ws.id, JSON.stringify(unique.map((l) => ({ anonymous_id: l.anonymousId, customer_id: l.customerId }))), now],
  );
  if (linked.length === 0) return;
  const moved = await tx.query<{ customer_id: number }>(
    `UPDATE events e SET customer_id = a.customer_id
       FROM anonymous_ids a
      WHERE a.workspace_id = $1 AND a.anonymous_id = ANY($2::text[]) AND e.workspace_id = $1
        AND e.anonymous_id = a.anonymous_id AND e.customer_id IS NULL
      RETURNING e.customer_id`,
    [ws.id, linked.map((l) => l.anonymous_id)],
  );
  if (moved.length > 0) await recomputeRollups(tx, ws, moved.map((m) => m.customer_id), now);
}

/**
 * Folds customer `fromId` into `intoId` (an alias of two known ids): orders,
 * refunds, events, anonymous ids, traits and consents move; the newer value of
 * each trait wins; rollups are recomputed; the old customer is removed.
 */
export async function mergeCustomers(tx: Queryable, ws: Workspace, fromId: number, intoId: number, now: Date): Promise<void> {
  if (fromId === intoId) return;
  const p = [ws.id, fromId, intoId];
  await tx.query("UPDATE orders SET customer_id = $3 WHERE workspace_id = $1 AND customer_id = $2", p);
  await tx.query("UPDATE refunds SET customer_id = $3 WHERE workspace_id = $1 AND customer_id = $2", p);
  await tx.query("UPDATE events SET customer_id = $3 WHERE workspace_id = $1 AND customer_id = $2", p);
  await tx.query("UPDATE anonymous_ids SET customer_id = $3 WHERE workspace_id = $1 AND customer_id = $2", p);
  await tx.query(
    `INSERT INTO customer_traits (workspace_id, customer_id, key, value, source, learned_at)
     SELECT workspace_id, $3, key, value, source, learned_at FROM customer_traits WHERE workspace_id = $1 AND customer_id = $2
     ON CONFLICT (customer_id, key) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, learned_at = EXCLUDED.learned_at
     WHERE customer_traits.learned_at < EXCLUDED.learned_at`,
    p,
  );
  await tx.query(
    `INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at)
     SELECT workspace_id, $3, channel, granted, source, changed_at FROM customer_consents WHERE workspace_id = $1 AND customer_id = $2
     ON CONFLICT (customer_id, channel) DO UPDATE SET granted = EXCLUDED.granted, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at
     WHERE customer_consents.changed_at < EXCLUDED.changed_at`,
    p,
  );
  await tx.query(
    `UPDATE customers c SET email = COALESCE(c.email, f.email), phone = COALESCE(c.phone, f.phone),
            first_name = COALESCE(c.first_name, f.first_name), last_name = COALESCE(c.last_name, f.last_name),
            birthday = COALESCE(c.birthday, f.birthday), time_zone = COALESCE(c.time_zone, f.time_zone),
            locale = COALESCE(c.locale, f.locale),
            acquisition_channel = CASE WHEN f.created_at < c.created_at THEN COALESCE(f.acquisition_channel, c.acquisition_channel) ELSE COALESCE(c.acquisition_channel, f.acquisition_channel) END,
            first_touch = CASE WHEN f.created_at < c.created_at THEN COALESCE(f.first_touch, c.first_touch) ELSE COALESCE(c.first_touch, f.first_touch) END,
            created_at = LEAST(c.created_at, f.created_at), updated_at = $4
       FROM customers f WHERE f.workspace_id = $1 AND f.id = $2 AND c.id = $3`,
    [...p, now],
  );
  // customer_scores and segment_memberships have no foreign key (migrations
  // 015, 017): their rows go here, with the customer. A segment evaluation
  // that read the customer before this commits may still write a stay for
  // it: the change mark makes the segment worker's next pass close that stay.
  await tx.query("DELETE FROM customer_scores WHERE workspace_id = $1 AND customer_id = $2", [ws.id, fromId]);
  // Through the workspace's segments: current and closed stays are each indexed by (segment, customer) (migration 019).
  for (const stays of ["exited_at IS NULL", "exited_at IS NOT NULL"]) {
    await tx.query(`DELETE FROM segment_memberships WHERE segment_id IN (SELECT id FROM segments WHERE workspace_id = $1) AND customer_id = $2 AND ${stays}`, [ws.id, fromId]);
  }
  await tx.query("INSERT INTO customer_changes (workspace_id, customer_id) VALUES ($1, $2)", [ws.id, fromId]);
  await tx.query("DELETE FROM customers WHERE workspace_id = $1 AND id = $2", [ws.id, fromId]);
  await recomputeRollups(tx, ws, [intoId], now);
}

/** Rebuilds the rollups of some customers from their orders, refunds and events. */
export async function recomputeRollups(tx: Queryable, ws: Workspace, customerIds: readonly number[], now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO customer_rollups AS r (workspace_id, customer_id, first_order_at, last_order_at, order_count, revenue_minor,
                                       revenue_order_count, refund_count, refunded_minor, last_event_at, updated_at)
     SELECT $1, c.id, o.first_at, o.last_at, COALESCE(o.n, 0), COALESCE(o.revenue, 0), COALESCE(o.revenue_n, 0),
            COALESCE(f.n, 0), COALESCE(f.amount, 0), e.last_at, $4
       FROM customers c
       LEFT JOIN LATERAL (SELECT min(placed_at) AS first_at, max(placed_at) AS last_at, count(*) AS n,
                                 sum(total_minor) FILTER (WHERE currency = $3) AS revenue, count(*) FILTER (WHERE currency = $3) AS revenue_n
                            FROM orders WHERE customer_id = c.id AND status <> ALL($5::text[])) o ON true
       LEFT JOIN LATERAL (SELECT count(*) AS n, sum(amount_minor) FILTER (WHERE currency = $3) AS amount
                            FROM refunds WHERE customer_id = c.id) f ON true
       LEFT JOIN LATERAL (SELECT max(occurred_at) AS last_at FROM events WHERE customer_id = c.id AND type = ANY($6::text[])) e ON true
      WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])
      ORDER BY c.id
     ON CONFLICT (customer_id) DO UPDATE SET first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,
       order_count = EXCLUDED.order_count, revenue_minor = EXCLUDED.revenue_minor, revenue_order_count = EXCLUDED.revenue_order_count,
       refund_count = EXCLUDED.refund_count, refunded_minor = EXCLUDED.refunded_minor, last_event_at = EXCLUDED.last_event_at,
       updated_at = EXCLUDED.updated_at`,
    [ws.id, [...new Set(customerIds)], ws.currency, now, [...NON_PURCHASE_STATUSES], [...BEHAVIOUR_TYPES]],
  );
}
