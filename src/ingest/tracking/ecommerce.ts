/**
 * Segment E-commerce Spec v2 events turned into Fidelio records
 * (segment.com/docs/connections/spec/ecommerce/v2). Amounts arrive in major
 * units (12.99) and become integer minor units in the order's currency.
 */
import { z } from "zod";
import { parseCurrency, toMinor, parseInput } from "../../shared/index.ts";
import { OrderRecord, ProductRecord, RefundRecord, type CustomerRef } from "../records.ts";

const Amount = z.union([z.number(), z.string().regex(/^-?\d*(\.\d+)?$/, "is not an amount")]);

const SpecProduct = z
  .object({
    product_id: z.union([z.string(), z.number()]).optional(),
    sku: z.string().optional(),
    name: z.string().optional(),
    category: z.string().optional(),
    price: Amount.optional(),
    quantity: z.number().int("must be a whole number").optional(),
    url: z.string().optional(),
    image_url: z.string().optional(),
  })
  .loose();

const OrderCompleted = z
  .object({
    order_id: z.union([z.string().min(1), z.number()], { message: "is required" }),
    total: Amount.optional(),
    revenue: Amount.optional(),
    subtotal: Amount.optional(),
    shipping: Amount.optional(),
    tax: Amount.optional(),
    discount: Amount.optional(),
    coupon: z.string().optional(),
    currency: z.string().optional(),
    affiliation: z.string().optional(),
    products: z.array(SpecProduct).max(1000).optional(),
    // Not in the Segment spec: what the referral guard compares, when the shop sends them.
    shipping_address: z
      .object({ address1: z.string().optional(), line1: z.string().optional(), postal_code: z.string().optional(), zip: z.string().optional(), city: z.string().optional(), country: z.string().optional() })
      .loose()
      .optional(),
    payment_fingerprint: z.string().optional(),
  })
  .loose();

const OrderRefunded = z
  .object({
    order_id: z.union([z.string().min(1), z.number()], { message: "is required" }),
    total: Amount.optional(),
    currency: z.string().optional(),
    products: z.array(SpecProduct).max(1000).optional(),
  })
  .loose();

const num = (v: string | number | undefined): string | number | undefined => v;

/** The product events whose properties describe one product. */
export const PRODUCT_EVENTS = new Set(["Product Viewed", "Product Added", "Product Removed", "Product Clicked", "Product Added to Wishlist"]);

export function orderFromTrack(
  properties: Record<string, unknown>,
  ctx: { customer: CustomerRef | undefined; email: string | undefined; occurredAt: Date; defaultCurrency: string },
): OrderRecord {
  const p = parseInput(OrderCompleted, properties, "properties");
  const currency = parseCurrency(p.currency ?? ctx.defaultCurrency, "properties.currency");
  const m = (v: string | number | undefined, field: string) => (v === undefined ? undefined : toMinor(v, currency, `properties.${field}`));
  const lines = (p.products ?? []).map((x, i) => {
    const quantity = x.quantity ?? 1;
    const unit = m(num(x.price), `products.${i}.price`) ?? 0;
    return {
      productId: x.product_id === undefined ? undefined : String(x.product_id),
      sku: x.sku,
      title: x.name,
      category: x.category,
      quantity,
      unitPriceMinor: unit,
    };
  });
  const shipping = m(p.shipping, "shipping") ?? 0;
  const tax = m(p.tax, "tax") ?? 0;
  const discount = m(p.discount, "discount") ?? 0;
  const total = m(p.total, "total") ?? (p.revenue !== undefined ? (m(p.revenue, "revenue") ?? 0) + shipping + tax : undefined);
  return parseInput(
    OrderRecord,
    {
      externalId: String(p.order_id),
      ...(ctx.customer && (ctx.customer.externalId || ctx.customer.email) ? { customer: ctx.customer } : {}),
      ...(ctx.email ? { email: ctx.email } : {}),
      placedAt: ctx.occurredAt,
      currency,
      subtotalMinor: m(p.subtotal, "subtotal"),
      discountMinor: discount,
      shippingMinor: shipping,
      taxMinor: tax,
      totalMinor: total,
      discountCodes: p.coupon ? [p.coupon] : [],
      salesChannel: p.affiliation,
      ...(p.shipping_address
        ? {
            shippingAddress: {
              line1: p.shipping_address.address1 ?? p.shipping_address.line1,
              postalCode: p.shipping_address.postal_code ?? p.shipping_address.zip,
              city: p.shipping_address.city,
              country: p.shipping_address.country,
            },
          }
        : {}),
      ...(p.payment_fingerprint ? { paymentFingerprint: p.payment_fingerprint } : {}),
      lines,
    },
    "properties",
  );
}

/**
 * An `Order Refunded` event: the whole order unless `total` or `products`
 * say it was partial. The order must already be known.
 */
export function refundFromTrack(
  properties: Record<string, unknown>,
  ctx: { messageId: string; occurredAt: Date; orderTotalMinor: number | undefined; orderCurrency: string | undefined; defaultCurrency: string },
): RefundRecord {
  const p = parseInput(OrderRefunded, properties, "properties");
  const currency = parseCurrency(p.currency ?? ctx.orderCurrency ?? ctx.defaultCurrency, "properties.currency");
  const lines = (p.products ?? []).map((x, i) => ({
    productId: x.product_id === undefined ? undefined : String(x.product_id),
    quantity: x.quantity ?? 1,
    amountMinor: (x.quantity ?? 1) * (x.price === undefined ? 0 : toMinor(x.price, currency, `properties.products.${i}.price`)),
  }));
  const amount =
    p.total !== undefined
      ? Math.abs(toMinor(p.total, currency, "properties.total"))
      : lines.length > 0
        ? lines.reduce((s, l) => s + l.amountMinor, 0)
        : (ctx.orderTotalMinor ?? 0);
  return parseInput(
    RefundRecord,
    {
      externalId: `segment:${ctx.messageId}`,
      orderExternalId: String(p.order_id),
      refundedAt: ctx.occurredAt,
      currency,
      amountMinor: amount,
      lines,
    },
    "properties",
  );
}

/** A product seen in an event enters the catalogue (never overwriting the shop's own data). */
export function productFromProperties(properties: Record<string, unknown>, defaultCurrency: string): ProductRecord | undefined {
  const p = SpecProduct.safeParse(properties);
  if (!p.success || p.data.product_id === undefined) return undefined;
  const currency = typeof properties.currency === "string" ? properties.currency.toUpperCase() : defaultCurrency;
  let priceMinor: number | undefined;
  try {
    priceMinor = p.data.price === undefined ? undefined : toMinor(p.data.price, currency, "properties.price");
  } catch {
    priceMinor = undefined;
  }
  const r = ProductRecord.safeParse({
    externalId: String(p.data.product_id),
    title: p.data.name ?? String(p.data.product_id),
    category: p.data.category,
    priceMinor: priceMinor !== undefined && priceMinor >= 0 ? priceMinor : undefined,
    currency: priceMinor !== undefined ? currency : undefined,
    url: p.data.url,
    imageUrl: p.data.image_url,
  });
  return r.success ? r.data : undefined;
}
