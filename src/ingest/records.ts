/**
 * The normalised records every way in (admin API, tracking, webhooks, CSV)
 * is turned into before it is written. Zod schemas are the single source of
 * both validation and types; money is integer minor units.
 */
import { z } from "zod";
import { isCurrency, isRealIsoDate } from "../shared/index.ts";

const text = (max = 500) => z.string().trim().min(1).max(max);
const minor = z.number().int("must be an integer amount in minor units (cents)");
const nonNegMinor = minor.min(0, "must not be negative");

export const Currency = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .refine(isCurrency, { message: "unknown currency (expected an ISO 4217 code such as EUR)" });

/** An ISO 8601 date-time, or a Date; stored in UTC. */
export const Instant = z.union([
  z.date(),
  z
    .string()
    .trim()
    .refine(isRealIsoDate, { message: "is not an ISO 8601 date-time" })
    .transform((s) => new Date(s)),
]);

export const CalendarDate = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine(isRealIsoDate, { message: "is not a calendar date" });

export const TimeZone = z.string().trim().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: "is not an IANA time zone such as Europe/Paris" },
);

/** Channels a customer gives or refuses consent for; `ads` covers retargeting audiences. */
export const CONSENT_CHANNELS = ["email", "sms", "push", "ads", "whatsapp", "post"] as const;

export const Consent = z.object({
  channel: z.enum(CONSENT_CHANNELS),
  granted: z.boolean(),
  source: text(100).optional(),
  at: Instant.optional(),
});
export type Consent = z.output<typeof Consent>;

export const FirstTouch = z
  .object({
    source: text(200).optional(),
    medium: text(200).optional(),
    campaign: text(200).optional(),
    term: text(200).optional(),
    content: text(200).optional(),
    referrer: text(2000).optional(),
    landingPage: text(2000).optional(),
    at: Instant.optional(),
  })
  .strict();

export const CustomerRecord = z
  .object({
    externalId: text(200).optional(),
    email: z.email("is not an email address").trim().toLowerCase().optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ().-]{5,20}$/, "is not a phone number")
      .transform((p) => p.replace(/[ ().-]/g, ""))
      .optional(),
    firstName: text(200).optional(),
    lastName: text(200).optional(),
    birthday: CalendarDate.optional(),
    timeZone: TimeZone.optional(),
    locale: z.string().trim().regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/, "is not a locale such as fr-FR").optional(),
    acquisitionChannel: text(100).optional(),
    firstTouch: FirstTouch.optional(),
    traits: z.record(z.string().min(1).max(100), z.unknown()).optional(),
    consents: z.array(Consent).max(20).optional(),
    /** When the customer joined the shop (sign-up); defaults to when Fidelio first hears of them. */
    createdAt: Instant.optional(),
  })
  .strict()
  .refine((c) => c.externalId !== undefined || c.email !== undefined, {
    message: "externalId or email is required",
    path: ["externalId"],
  });
export type CustomerRecord = z.output<typeof CustomerRecord>;

/** Who an order or refund belongs to: a known customer id, an email, or nobody (guest). */
export const CustomerRef = z
  .object({ externalId: text(200).optional(), email: z.email("is not an email address").trim().toLowerCase().optional() })
  .strict();
export type CustomerRef = z.output<typeof CustomerRef>;

export const OrderLine = z
  .object({
    productId: text(200).optional(),
    sku: text(200).optional(),
    title: text(500).optional(),
    category: text(200).optional(),
    quantity: z.number().int("must be a whole number").positive("must be positive (returns are refunds)"),
    unitPriceMinor: nonNegMinor,
    discountMinor: nonNegMinor.default(0),
    totalMinor: nonNegMinor.optional(),
  })
  .strict()
  .transform((l) => ({ ...l, totalMinor: l.totalMinor ?? l.quantity * l.unitPriceMinor - l.discountMinor }));
export type OrderLine = z.output<typeof OrderLine>;

/** Where an order ships: compared (normalised) by the referral guard, never shown. */
export const ShippingAddress = z
  .object({ line1: text(300).optional(), postalCode: text(40).optional(), city: text(200).optional(), country: text(60).optional() })
  .strict();
export type ShippingAddress = z.output<typeof ShippingAddress>;

/**
 * One key per physical address however it was typed: letters and digits of
 * the street line, the postcode and the country, lower-cased. Null when
 * there is no street line (a postcode alone is shared by thousands).
 */
export function addressKey(a: ShippingAddress | undefined): string | null {
  if (!a?.line1) return null;
  const norm = (v: string | undefined) => (v ?? "").normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "");
  const line = norm(a.line1);
  return line === "" ? null : `${line}|${norm(a.postalCode)}|${norm(a.country)}`;
}

export const OrderStatus = z.enum(["placed", "paid", "fulfilled", "cancelled", "refunded", "partially_refunded"]);

export const OrderRecord = z
  .object({
    externalId: text(200),
    customer: CustomerRecord.optional(),
    email: z.email("is not an email address").trim().toLowerCase().optional(),
    status: OrderStatus.default("placed"),
    placedAt: Instant,
    currency: Currency,
    subtotalMinor: nonNegMinor.optional(),
    discountMinor: nonNegMinor.default(0),
    shippingMinor: nonNegMinor.default(0),
    taxMinor: nonNegMinor.default(0),
    totalMinor: nonNegMinor.optional(),
    discountCodes: z.array(text(100)).max(50).default([]),
    salesChannel: text(100).optional(),
    shippingAddress: ShippingAddress.optional(),
    paymentFingerprint: text(200).optional().describe("the payment method's fingerprint from the payment provider (e.g. Stripe's card fingerprint)"),
    lines: z.array(OrderLine).max(1000).default([]),
  })
  .strict()
  .transform((o, ctx) => {
    const linesTotal = o.lines.reduce((s, l) => s + l.totalMinor, 0);
    const subtotalMinor = o.subtotalMinor ?? linesTotal;
    const totalMinor = o.totalMinor ?? subtotalMinor - o.discountMinor + o.shippingMinor + o.taxMinor;
    if (totalMinor < 0) {
      ctx.addIssue({ code: "custom", path: ["totalMinor"], message: "the order total is negative (discount larger than the subtotal)" });
      return z.NEVER;
    }
    return { ...o, subtotalMinor, totalMinor };
  });
export type OrderRecord = z.output<typeof OrderRecord>;

export const RefundLine = z
  .object({ productId: text(200).optional(), quantity: z.number().int().positive(), amountMinor: nonNegMinor })
  .strict();

export const RefundRecord = z
  .object({
    externalId: text(200),
    orderExternalId: text(200).optional(),
    customer: CustomerRef.optional(),
    refundedAt: Instant,
    currency: Currency,
    amountMinor: nonNegMinor,
    reason: text(500).optional(),
    lines: z.array(RefundLine).max(1000).default([]),
  })
  .strict();
export type RefundRecord = z.output<typeof RefundRecord>;

export const ProductRecord = z
  .object({
    externalId: text(200),
    title: text(500),
    category: text(200).optional(),
    priceMinor: nonNegMinor.optional(),
    currency: Currency.optional(),
    url: z.url("is not a URL").optional(),
    imageUrl: z.url("is not a URL").optional(),
    usageDays: z.number().int().positive().max(3650).optional(),
  })
  .strict();
export type ProductRecord = z.output<typeof ProductRecord>;
