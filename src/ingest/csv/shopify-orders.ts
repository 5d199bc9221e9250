/**
 * Shopify's order export (Admin → Orders → Export, "CSV for Excel"): one row
 * per line item; the order's totals are on its first row; rows are grouped by
 * `Name` (#1001). The export has no customer id, so customers are keyed by email.
 */
import type { ImportFormat, ImportItem } from "./format.ts";
import { col } from "./format.ts";
import { OrderGrouper } from "./order-group.ts";
import { amount, boolean, instant, integer, lineErrorOf, required } from "./parse-fields.ts";

const SHOPIFY_COLUMNS = {
  externalId: "Name",
  "customer.email": "Email",
  email: "Email",
  currency: "Currency",
  placedAt: "Created at",
  subtotal: "Subtotal",
  total: "Total",
  quantity: "Lineitem quantity",
  unitPrice: "Lineitem price",
  "customer.phone": "Phone",
};

interface Head {
  raw: Record<string, unknown>;
}

export const shopifyOrders: ImportFormat = {
  name: "shopify-orders",
  description: "Shopify order export: Name,Email,Financial Status,…,Created at,Lineitem quantity,Lineitem name,Lineitem price,…",
  layout: "csv",
  start(ctx) {
    const grouper = new OrderGrouper<Head, Record<string, unknown>>((head, lines) => ({ kind: "order", raw: { ...head.raw, lines } }), SHOPIFY_COLUMNS);
    let currentName: string | undefined;
    let currentCurrency = ctx.currency;
    return {
      row(f, line): ImportItem[] {
        try {
          const name = required(col(f, "Name"), "Name");
          let head: Head = { raw: {} };
          if (name !== currentName) {
            // Order-level columns are only filled on the order's first row.
            const currency = (col(f, "Currency") ?? ctx.currency).toUpperCase();
            const email = col(f, "Email")?.toLowerCase();
            const financial = col(f, "Financial Status");
            const accepts = boolean(col(f, "Accepts Marketing", "Accepts Email Marketing"), "Accepts Marketing");
            const [first, ...rest] = (col(f, "Billing Name") ?? "").split(/\s+/);
            const cancelled = col(f, "Cancelled at");
            head = {
              raw: {
                externalId: `shopify-export:${name}`,
                ...(email
                  ? {
                      customer: {
                        email,
                        ...(first ? { firstName: first } : {}),
                        ...(rest.length > 0 ? { lastName: rest.join(" ") } : {}),
                        ...(col(f, "Phone") ? { phone: col(f, "Phone") } : {}),
                        ...(accepts !== undefined ? { consents: [{ channel: "email", granted: accepts, source: "shopify-export" }] } : {}),
                      },
                    }
                  : {}),
                status: cancelled ? "cancelled" : financial === "refunded" ? "refunded" : financial === "partially_refunded" ? "partially_refunded" : financial === "paid" ? "paid" : "placed",
                placedAt: required(instant(col(f, "Created at"), "Created at"), "Created at"),
                currency,
                subtotalMinor: amount(col(f, "Subtotal"), currency, "Subtotal"),
                shippingMinor: amount(col(f, "Shipping"), currency, "Shipping") ?? 0,
                taxMinor: amount(col(f, "Taxes"), currency, "Taxes") ?? 0,
                totalMinor: amount(col(f, "Total"), currency, "Total"),
                discountMinor: amount(col(f, "Discount Amount"), currency, "Discount Amount") ?? 0,
                discountCodes: col(f, "Discount Code") ? [col(f, "Discount Code")] : [],
                ...(col(f, "Source") ? { salesChannel: col(f, "Source") } : {}),
              },
            };
            currentName = name;
            currentCurrency = currency;
          }
          const quantity = integer(col(f, "Lineitem quantity"), "Lineitem quantity");
          const lineRaw =
            quantity === undefined
              ? undefined
              : {
                  sku: col(f, "Lineitem sku"),
                  productId: col(f, "Lineitem sku"),
                  title: col(f, "Lineitem name"),
                  quantity,
                  unitPriceMinor: required(amount(col(f, "Lineitem price"), currentCurrency, "Lineitem price"), "Lineitem price"),
                  discountMinor: amount(col(f, "Lineitem discount"), currentCurrency, "Lineitem discount") ?? 0,
                };
          return grouper.add(name, line, head, lineRaw);
        } catch (err) {
          return [lineErrorOf(line, err, SHOPIFY_COLUMNS)];
        }
      },
      end: () => grouper.flush(),
    };
  },
};
