/**
 * Shopify's webhook payloads (REST Admin API shapes of Order and Customer,
 * shopify.dev/docs/api/admin-rest/latest/resources/order) turned into Fidelio
 * records, and the HMAC check every Shopify webhook carries.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { parseCurrency, parseInput, toMinor } from "../../shared/index.ts";
import { CustomerRecord, OrderRecord, RefundRecord } from "../records.ts";

/** X-Shopify-Hmac-Sha256 is base64(HMAC-SHA256(secret, raw body)). */
export function verifyShopifyHmac(rawBody: Uint8Array, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  const given = Buffer.from(header, "base64");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const Amount = z.union([z.string(), z.number()]);
const MoneySet = z.object({ shop_money: z.object({ amount: Amount }).loose() }).loose();
const Id = z.union([z.number(), z.string().min(1)]).transform(String);

const ShopifyCustomer = z
  .object({
    id: Id,
    email: z.string().nullish(),
    phone: z.string().nullish(),
    first_name: z.string().nullish(),
    last_name: z.string().nullish(),
    created_at: z.string().nullish(),
    accepts_marketing: z.boolean().nullish(),
    email_marketing_consent: z.object({ state: z.string(), consent_updated_at: z.string().nullish() }).loose().nullish(),
    sms_marketing_consent: z.object({ state: z.string(), consent_updated_at: z.string().nullish() }).loose().nullish(),
    tags: z.string().nullish(),
  })
  .loose();

const ShopifyOrder = z
  .object({
    id: Id,
    name: z.string().nullish(),
    email: z.string().nullish(),
    created_at: z.string({ message: "is required" }),
    processed_at: z.string().nullish(),
    cancelled_at: z.string().nullish(),
    currency: z.string({ message: "is required" }),
    subtotal_price: Amount.nullish(),
    total_price: Amount,
    total_discounts: Amount.nullish(),
    total_tax: Amount.nullish(),
    total_shipping_price_set: MoneySet.nullish(),
    financial_status: z.string().nullish(),
    fulfillment_status: z.string().nullish(),
    source_name: z.string().nullish(),
    shipping_address: z.object({ address1: z.string().nullish(), zip: z.string().nullish(), city: z.string().nullish(), country_code: z.string().nullish() }).loose().nullish(),
    discount_codes: z.array(z.object({ code: z.string() }).loose()).nullish(),
    customer: ShopifyCustomer.nullish(),
    line_items: z
      .array(
        z
          .object({
            id: Id.nullish(),
            product_id: Id.nullish(),
            sku: z.string().nullish(),
            title: z.string().nullish(),
            product_type: z.string().nullish(),
            quantity: z.number().int(),
            price: Amount,
            total_discount: Amount.nullish(),
          })
          .loose(),
      )
      .default([]),
    refunds: z
      .array(
        z
          .object({
            id: Id,
            created_at: z.string(),
            note: z.string().nullish(),
            transactions: z.array(z.object({ amount: Amount, kind: z.string().nullish(), status: z.string().nullish() }).loose()).default([]),
            refund_line_items: z
              .array(z.object({ quantity: z.number().int(), subtotal: Amount.nullish(), line_item: z.object({ product_id: Id.nullish() }).loose().nullish() }).loose())
              .default([]),
          })
          .loose(),
      )
      .default([]),
  })
  .loose();

const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

function consentsOf(c: z.output<typeof ShopifyCustomer>, at: Date) {
  const out: { channel: "email" | "sms"; granted: boolean; source: string; at: Date }[] = [];
  const email = c.email_marketing_consent;
  if (email) out.push({ channel: "email", granted: email.state === "subscribed", source: "shopify", at: email.consent_updated_at ? new Date(email.consent_updated_at) : at });
  else if (typeof c.accepts_marketing === "boolean") out.push({ channel: "email", granted: c.accepts_marketing, source: "shopify", at });
  const sms = c.sms_marketing_consent;
  if (sms) out.push({ channel: "sms", granted: sms.state === "subscribed", source: "shopify", at: sms.consent_updated_at ? new Date(sms.consent_updated_at) : at });
  return out;
}

function customerRecordOf(c: z.output<typeof ShopifyCustomer>, fallbackEmail: string | undefined, now: Date): unknown {
  return {
    externalId: `shopify:${c.id}`,
    email: nn(c.email) ?? fallbackEmail,
    phone: nn(c.phone),
    firstName: nn(c.first_name),
    lastName: nn(c.last_name),
    createdAt: nn(c.created_at),
    consents: consentsOf(c, now),
    ...(c.tags ? { traits: { shopifyTags: c.tags } } : {}),
  };
}

export function shopifyCustomer(body: unknown, now: Date): CustomerRecord {
  const c = parseInput(ShopifyCustomer, body);
  return parseInput(CustomerRecord, customerRecordOf(c, undefined, now));
}

/** An order payload (orders/create, orders/updated, orders/paid, orders/cancelled) and the refunds it carries. */
export function shopifyOrder(body: unknown, now: Date): { order: OrderRecord; refunds: RefundRecord[] } {
  const o = parseInput(ShopifyOrder, body);
  const currency = parseCurrency(o.currency, "currency");
  const m = (v: string | number | null | undefined, field: string) => (v === null || v === undefined ? undefined : toMinor(v, currency, field));
  const externalId = `shopify:${o.id}`;
  const status = o.cancelled_at
    ? "cancelled"
    : o.financial_status === "refunded"
      ? "refunded"
      : o.financial_status === "partially_refunded"
        ? "partially_refunded"
        : o.fulfillment_status === "fulfilled"
          ? "fulfilled"
          : o.financial_status === "paid"
            ? "paid"
            : "placed";
  const email = nn(o.email) ?? undefined;
  const order = parseInput(OrderRecord, {
    externalId,
    ...(o.customer ? { customer: customerRecordOf(o.customer, email && email !== "" ? email : undefined, now) } : {}),
    ...(email ? { email } : {}),
    status,
    placedAt: o.processed_at ?? o.created_at,
    currency,
    subtotalMinor: m(o.subtotal_price, "subtotal_price"),
    discountMinor: m(o.total_discounts, "total_discounts") ?? 0,
    shippingMinor: m(o.total_shipping_price_set?.shop_money.amount, "total_shipping_price_set.shop_money.amount") ?? 0,
    taxMinor: m(o.total_tax, "total_tax") ?? 0,
    totalMinor: m(o.total_price, "total_price"),
    discountCodes: (o.discount_codes ?? []).map((d) => d.code).filter((c) => c !== ""),
    salesChannel: nn(o.source_name),
    ...(o.shipping_address?.address1
      ? { shippingAddress: { line1: o.shipping_address.address1, postalCode: nn(o.shipping_address.zip), city: nn(o.shipping_address.city), country: nn(o.shipping_address.country_code) } }
      : {}),
    lines: o.line_items
      .filter((l) => l.quantity > 0)
      .map((l, i) => ({
        productId: nn(l.product_id),
        sku: nn(l.sku) || undefined,
        title: nn(l.title),
        category: nn(l.product_type) || undefined,
        quantity: l.quantity,
        unitPriceMinor: m(l.price, `line_items.${i}.price`),
        discountMinor: m(l.total_discount, `line_items.${i}.total_discount`) ?? 0,
      })),
  });
  const refunds = o.refunds.map((r, i) =>
    parseInput(RefundRecord, {
      externalId: `shopify-refund:${r.id}`,
      orderExternalId: externalId,
      refundedAt: r.created_at,
      currency,
      amountMinor: r.transactions
        .filter((t) => (t.kind ?? "refund") === "refund" && (t.status ?? "success") === "success")
        .reduce((s, t, j) => s + Math.abs(toMinor(t.amount, currency, `refunds.${i}.transactions.${j}.amount`)), 0),
      reason: nn(r.note) || undefined,
      lines: r.refund_line_items.map((l, j) => ({
        productId: nn(l.line_item?.product_id),
        quantity: l.quantity,
        amountMinor: Math.abs(m(l.subtotal, `refunds.${i}.refund_line_items.${j}.subtotal`) ?? 0),
      })),
    }),
  );
  return { order, refunds };
}
