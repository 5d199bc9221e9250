/**
 * The built-in segments (product.md §4, from the seed articles), copied into
 * every workspace once as ordinary segments the shop can edit or delete.
 */
import type { Rule } from "./rule.ts";

export interface BuiltInSegment {
  key: string;
  name: string;
  description: string;
  rule: Rule;
}

export const BUILT_IN_SEGMENTS: readonly BuiltInSegment[] = [
  {
    key: "vip",
    name: "VIP / loyal",
    description: "Loyal customers (lifecycle stage) and RFM champions: thank them, never discount them by reflex.",
    rule: { any: [{ field: "stage", op: "eq", value: "loyal" }, { field: "rfmSegment", op: "eq", value: "champions" }] },
  },
  {
    key: "big-spenders-rare",
    name: "Big spenders who buy rarely",
    description: "High order value, long gaps between orders: worth a personal nudge when their rhythm comes round.",
    rule: { field: "bigSpenderRare", op: "is", value: true },
  },
  {
    key: "one-time-buyers",
    name: "One-time buyers",
    description: "Exactly one order: the customers a second purchase matters most for.",
    rule: { field: "orderCount", op: "eq", value: 1 },
  },
  {
    key: "at-risk",
    name: "At risk",
    description: "Past their own rhythm and slipping (lifecycle stage at risk).",
    rule: { field: "stage", op: "eq", value: "at risk" },
  },
  {
    key: "lapsed",
    name: "Lapsed",
    description: "Well past their rhythm, or unlikely to still be a customer (lifecycle stage lapsed).",
    rule: { field: "stage", op: "eq", value: "lapsed" },
  },
  {
    key: "new-customers",
    name: "New customers",
    description: "First order in the last 30 days.",
    rule: { field: "firstOrderAt", op: "withinLastDays", value: 30 },
  },
  {
    key: "birthday-this-month",
    name: "Birthday this month",
    description: "Birthday in the current month, in the customer's own time zone.",
    rule: { field: "birthday", op: "anniversaryThisMonth" },
  },
  {
    key: "abandoned-cart",
    name: "Abandoned cart (last day)",
    description: "Added to cart or started checkout in the last day, with no order since.",
    rule: {
      any: [
        { event: "Product Added", window: { lastDays: 1 }, noOrderSince: true },
        { event: "Checkout Started", window: { lastDays: 1 }, noOrderSince: true },
      ],
    },
  },
  {
    key: "subscribers-never-bought",
    name: "Subscribers who never bought",
    description: "Gave email consent, no order yet.",
    rule: { all: [{ field: "consent.email", op: "is", value: true }, { field: "orderCount", op: "eq", value: 0 }] },
  },
];
