/**
 * Fidelio's own CSV layouts (documented in src/ingest/README.md). Amounts are
 * decimal major units (12.50) in the row's `currency` column or `--currency`.
 */
import type { ImportFormat, ImportItem } from "./format.ts";
import { col } from "./format.ts";
import { OrderGrouper } from "./order-group.ts";
import { LineError, amount, boolean, instant, integer, lineErrorOf, required } from "./parse-fields.ts";
import { parseInput } from "../../shared/index.ts";
import { CustomerRecord, ProductRecord } from "../records.ts";

const ORDER_COLUMNS = { externalId: "order_id", "customer.externalId": "customer_id", "customer.email": "email", email: "email", discount: "order_discount", lines: "product_id" };
const CUSTOMER_COLUMNS = { externalId: "customer_id", "firstTouch.source": "utm_source", "firstTouch.medium": "utm_medium", "firstTouch.campaign": "utm_campaign" };
const PRODUCT_COLUMNS = { externalId: "product_id" };

interface OrderHead {
  raw: Record<string, unknown>;
}

/** orders-csv: one row per order line; an order's rows are consecutive; order-level columns are read from its first row. */
export const ordersCsv: ImportFormat = {
  name: "orders-csv",
  description:
    "order_id,customer_id,email,placed_at,currency,status,product_id,sku,title,category,quantity,unit_price,line_discount,order_discount,shipping,tax,total,discount_codes,sales_channel",
  layout: "csv",
  start(ctx) {
    const grouper = new OrderGrouper<OrderHead, Record<string, unknown>>((head, lines) => ({ kind: "order", raw: { ...head.raw, lines } }), ORDER_COLUMNS);
    let current: string | undefined;
    let currentCurrency = ctx.currency;
    return {
      row(f, line): ImportItem[] {
        try {
          const orderId = required(col(f, "order_id"), "order_id");
          // Order-level columns are read from the order's first row only.
          const first = orderId !== current;
          current = orderId;
          const currency = first ? (col(f, "currency") ?? ctx.currency).toUpperCase() : currentCurrency;
          currentCurrency = currency;
          const head: OrderHead = first ? orderHead(f, orderId, currency) : { raw: {} };
          const hasLine = col(f, "product_id", "sku", "title", "quantity", "unit_price") !== undefined;
          let lineRaw: Record<string, unknown> | undefined;
          if (hasLine) {
            const quantity = integer(col(f, "quantity"), "quantity") ?? 1;
            if (quantity <= 0) throw new LineError("quantity", `must be positive (got ${quantity}); record returns as refunds`);
            lineRaw = {
              productId: col(f, "product_id"),
              sku: col(f, "sku"),
              title: col(f, "title"),
              category: col(f, "category"),
              quantity,
              unitPriceMinor: required(amount(col(f, "unit_price"), currency, "unit_price"), "unit_price"),
              discountMinor: amount(col(f, "line_discount"), currency, "line_discount") ?? 0,
            };
          }
          return grouper.add(orderId, line, head, lineRaw);
        } catch (err) {
          return [lineErrorOf(line, err, ORDER_COLUMNS)];
        }
      },
      end: () => grouper.flush(),
    };
  },
};


function orderHead(f: Record<string, string>, orderId: string, currency: string): OrderHead {
  const customerId = col(f, "customer_id");
  const email = col(f, "email")?.toLowerCase();
  const codes = col(f, "discount_codes");
  return {
    raw: {
      externalId: orderId,
      ...(customerId || email ? { customer: { ...(customerId ? { externalId: customerId } : {}), ...(email ? { email } : {}) } } : {}),
      placedAt: required(instant(col(f, "placed_at"), "placed_at"), "placed_at"),
      currency,
      ...(col(f, "status") ? { status: col(f, "status") } : {}),
      discountMinor: amount(col(f, "order_discount"), currency, "order_discount") ?? 0,
      shippingMinor: amount(col(f, "shipping"), currency, "shipping") ?? 0,
      taxMinor: amount(col(f, "tax"), currency, "tax") ?? 0,
      totalMinor: amount(col(f, "total"), currency, "total"),
      discountCodes: codes ? codes.split(/[;|]/).map((c) => c.trim()).filter((c) => c !== "") : [],
      ...(col(f, "sales_channel") ? { salesChannel: col(f, "sales_channel") } : {}),
    },
  };
}

/** customers-csv: one row per customer; `trait.<name>` columns become custom traits. */
export const customersCsv: ImportFormat = {
  name: "customers-csv",
  description:
    "customer_id,email,phone,first_name,last_name,birthday,time_zone,locale,acquisition_channel,utm_source,utm_medium,utm_campaign,email_consent,sms_consent,created_at,trait.*",
  layout: "csv",
  start() {
    return {
      row(f, line): ImportItem[] {
        try {
          const traits: Record<string, string> = {};
          for (const [k, v] of Object.entries(f)) if (k.startsWith("trait.") && v.trim() !== "") traits[k.slice(6)] = v.trim();
          const consents: { channel: "email" | "sms"; granted: boolean; source: string }[] = [];
          const emailConsent = boolean(col(f, "email_consent"), "email_consent");
          const smsConsent = boolean(col(f, "sms_consent"), "sms_consent");
          if (emailConsent !== undefined) consents.push({ channel: "email", granted: emailConsent, source: "import" });
          if (smsConsent !== undefined) consents.push({ channel: "sms", granted: smsConsent, source: "import" });
          const utm = { source: col(f, "utm_source"), medium: col(f, "utm_medium"), campaign: col(f, "utm_campaign") };
          const record = parseInput(CustomerRecord, {
            externalId: col(f, "customer_id"),
            email: col(f, "email"),
            phone: col(f, "phone"),
            firstName: col(f, "first_name"),
            lastName: col(f, "last_name"),
            birthday: col(f, "birthday"),
            timeZone: col(f, "time_zone"),
            locale: col(f, "locale"),
            acquisitionChannel: col(f, "acquisition_channel"),
            ...(utm.source || utm.medium || utm.campaign ? { firstTouch: utm } : {}),
            ...(consents.length > 0 ? { consents } : {}),
            ...(Object.keys(traits).length > 0 ? { traits } : {}),
            createdAt: instant(col(f, "created_at"), "created_at"),
          });
          return [{ kind: "customer", line, record }];
        } catch (err) {
          return [lineErrorOf(line, err, CUSTOMER_COLUMNS)];
        }
      },
      end: () => [],
    };
  },
};

/** products-csv: one row per product. */
export const productsCsv: ImportFormat = {
  name: "products-csv",
  description: "product_id,title,category,price,currency,url,image_url,usage_days",
  layout: "csv",
  start(ctx) {
    return {
      row(f, line): ImportItem[] {
        try {
          const currency = (col(f, "currency") ?? ctx.currency).toUpperCase();
          const record = parseInput(ProductRecord, {
            externalId: col(f, "product_id"),
            title: col(f, "title"),
            category: col(f, "category"),
            priceMinor: amount(col(f, "price"), currency, "price"),
            currency,
            url: col(f, "url"),
            imageUrl: col(f, "image_url"),
            usageDays: integer(col(f, "usage_days"), "usage_days"),
          });
          return [{ kind: "product", line, record }];
        } catch (err) {
          return [lineErrorOf(line, err, PRODUCT_COLUMNS)];
        }
      },
      end: () => [],
    };
  },
};
