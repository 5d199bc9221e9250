/**
 * The fields a segment rule can test, each with its type (which decides the
 * operators it accepts) and the SQL that reads it. The SQL here is fixed text
 * written by us; what a user types (a trait key, a consent channel, values)
 * only ever travels as a bound parameter. Aliases: `c` customers,
 * `r` customer_rollups, `s` customer_scores.
 */
import { CONSENT_CHANNELS } from "../ingest/index.ts";
import { RFM_SEGMENTS } from "../models/index.ts";
import { STAGES } from "../predictions/index.ts";

export type FieldType = "number" | "money" | "days" | "string" | "enum" | "boolean" | "date" | "birthday" | "any" | "consent";

export const OPERATORS = [
  "eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "notIn", "contains", "startsWith", "is",
  "withinLastDays", "moreThanDaysAgo", "withinNextDays", "before", "after", "anniversaryWithinDays", "anniversaryThisMonth",
  "exists", "notExists",
] as const;
export type Operator = (typeof OPERATORS)[number];

const NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "notIn", "exists", "notExists"] as const;
const DATE_OPS = ["withinLastDays", "moreThanDaysAgo", "withinNextDays", "before", "after", "exists", "notExists"] as const;

export const OPERATORS_BY_TYPE: Record<FieldType, readonly Operator[]> = {
  number: NUMBER_OPS,
  money: NUMBER_OPS,
  days: ["eq", "ne", "gt", "gte", "lt", "lte", "between", "exists", "notExists"],
  string: ["eq", "ne", "in", "notIn", "contains", "startsWith", "exists", "notExists"],
  enum: ["eq", "ne", "in", "notIn", "exists", "notExists"],
  boolean: ["is"],
  date: DATE_OPS,
  birthday: ["anniversaryWithinDays", "anniversaryThisMonth", "before", "after", "exists", "notExists"],
  any: [...NUMBER_OPS, "contains", "startsWith", "is", "withinLastDays", "moreThanDaysAgo", "withinNextDays", "before", "after"],
  consent: ["is", "exists", "notExists"],
};

export interface FieldDef {
  name: string;
  label: string;
  group: "Profile" | "Traits" | "Consent" | "Orders" | "Predictions" | "Loyalty";
  type: FieldType;
  /** SQL reading the field (a timestamp for `days` fields: days since it). */
  sql: string;
  /** The allowed values of an enum. */
  options?: readonly string[];
  /** Money fields are integer minor units of the workspace currency. */
  unit?: "minor" | "days" | "share";
  /** The value moves with time alone (days since …). */
  timeRelative?: boolean;
}

const f = (name: string, label: string, group: FieldDef["group"], type: FieldType, sql: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  name, label, group, type, sql, ...extra,
});

/** Fixed fields, by name. */
export const FIELDS: readonly FieldDef[] = [
  f("externalId", "Customer id", "Profile", "string", "c.external_id"),
  f("email", "Email", "Profile", "string", "c.email"),
  f("phone", "Phone", "Profile", "string", "c.phone"),
  f("firstName", "First name", "Profile", "string", "c.first_name"),
  f("lastName", "Last name", "Profile", "string", "c.last_name"),
  f("locale", "Locale", "Profile", "string", "c.locale"),
  f("timeZone", "Time zone", "Profile", "string", "c.time_zone"),
  f("acquisitionChannel", "Acquisition channel", "Profile", "string", "c.acquisition_channel"),
  f("utmCampaign", "First-touch campaign", "Profile", "string", "(c.first_touch ->> 'campaign')"),
  f("birthday", "Birthday", "Profile", "birthday", "c.birthday"),
  f("signedUpAt", "Signed up", "Profile", "date", "c.created_at"),
  f("daysSinceSignup", "Days since signing up", "Profile", "days", "c.created_at", { unit: "days", timeRelative: true }),

  f("orderCount", "Orders", "Orders", "number", "COALESCE(r.order_count, 0)"),
  f("revenue", "Revenue", "Orders", "money", "COALESCE(r.revenue_minor, 0)", { unit: "minor" }),
  f("netRevenue", "Revenue net of refunds", "Orders", "money", "(COALESCE(r.revenue_minor, 0) - COALESCE(r.refunded_minor, 0))", { unit: "minor" }),
  f("averageOrderValue", "Average order value", "Orders", "money", "(r.revenue_minor::float8 / NULLIF(r.revenue_order_count, 0))", { unit: "minor" }),
  f("refundCount", "Refunds", "Orders", "number", "COALESCE(r.refund_count, 0)"),
  f("refundRate", "Refund rate (share of revenue)", "Orders", "number", "(r.refunded_minor::float8 / NULLIF(r.revenue_minor, 0))", { unit: "share" }),
  f("firstOrderAt", "First order", "Orders", "date", "r.first_order_at"),
  f("lastOrderAt", "Last order", "Orders", "date", "r.last_order_at"),
  f("daysSinceFirstOrder", "Days since first order", "Orders", "days", "r.first_order_at", { unit: "days", timeRelative: true }),
  f("daysSinceLastOrder", "Days since last order", "Orders", "days", "r.last_order_at", { unit: "days", timeRelative: true }),
  f("daysSinceLastEvent", "Days since last visit or event", "Orders", "days", "r.last_event_at", { unit: "days", timeRelative: true }),

  f("pAlive", "Probability alive", "Predictions", "number", "s.p_alive", { unit: "share" }),
  f("expectedPurchases90", "Expected purchases, next 90 days", "Predictions", "number", "s.expected_purchases_90"),
  f("expectedPurchases365", "Expected purchases, next 365 days", "Predictions", "number", "s.expected_purchases_365"),
  f("clv", "Predicted CLV", "Predictions", "money", "s.clv_minor", { unit: "minor" }),
  f("expectedOrderValue", "Expected order value", "Predictions", "money", "s.expected_aov_minor", { unit: "minor" }),
  f("nextOrderOn", "Expected next order", "Predictions", "date", "(s.next_order_on::timestamp AT TIME ZONE 'UTC')"),
  f("rhythmDays", "Own rhythm (median days between orders)", "Predictions", "number", "s.rhythm_days", { unit: "days" }),
  f("stage", "Lifecycle stage", "Predictions", "enum", "COALESCE(s.stage, CASE WHEN COALESCE(r.order_count, 0) = 0 THEN 'prospect' END)", { options: STAGES }),
  f("rfmSegment", "RFM segment", "Predictions", "enum", "s.rfm_segment", { options: RFM_SEGMENTS }),
  f("rfmRecency", "RFM recency score (1-5)", "Predictions", "number", "s.rfm_r"),
  f("rfmFrequency", "RFM frequency score (1-5)", "Predictions", "number", "s.rfm_f"),
  f("rfmMonetary", "RFM monetary score (1-5)", "Predictions", "number", "s.rfm_m"),
  f("buysLessOften", "Buys less often than their rhythm", "Predictions", "boolean", "s.buys_less_often"),
  f("buysCheaper", "Buys cheaper items than before", "Predictions", "boolean", "s.buys_cheaper"),
  f("returnsMore", "Returns more than before", "Predictions", "boolean", "s.returns_more"),
  f("bigSpenderRare", "Big spender who buys rarely", "Predictions", "boolean", "s.big_spender_rare"),

  // One indexed lookup per customer (src/loyalty keeps the balance in loyalty_accounts).
  f("loyaltyPoints", "Loyalty points balance", "Loyalty", "number", "COALESCE((SELECT la.balance FROM loyalty_accounts la WHERE la.customer_id = c.id), 0)"),
  f("loyaltyPointsEarned", "Loyalty points earned, lifetime", "Loyalty", "number", "COALESCE((SELECT la.earned FROM loyalty_accounts la WHERE la.customer_id = c.id), 0)"),
  f("loyaltyTier", "VIP tier", "Loyalty", "string", "(SELECT la.tier FROM loyalty_accounts la WHERE la.customer_id = c.id)"),
  f("paidMember", "Paid member (active membership)", "Loyalty", "boolean", "EXISTS (SELECT 1 FROM loyalty_memberships lm WHERE lm.customer_id = c.id AND lm.status = 'active')"),
];

const BY_NAME = new Map(FIELDS.map((d) => [d.name, d]));

/** A field with a key chosen by the user: `trait.<key>` and `consent.<channel>`. */
export interface KeyedField extends FieldDef {
  /** The trait key or consent channel, bound as a parameter. */
  key: string;
}

export const TRAIT_PREFIX = "trait.";
export const CONSENT_PREFIX = "consent.";

/** Looks up a field by its name; trait and consent fields carry their key. */
export function fieldOf(name: string): FieldDef | KeyedField | undefined {
  const fixed = BY_NAME.get(name);
  if (fixed) return fixed;
  if (name.startsWith(TRAIT_PREFIX) && name.length > TRAIT_PREFIX.length) {
    const key = name.slice(TRAIT_PREFIX.length);
    return { name, key, label: `Trait ${key}`, group: "Traits", type: "any", sql: "" };
  }
  if (name.startsWith(CONSENT_PREFIX)) {
    const channel = CONSENT_CHANNELS.find((ch) => `${CONSENT_PREFIX}${ch}` === name);
    if (channel) return { name, key: channel, label: `Consent: ${channel}`, group: "Consent", type: "consent", sql: "" };
  }
  return undefined;
}

export interface CatalogueField {
  name: string;
  label: string;
  group: string;
  type: FieldType;
  operators: readonly Operator[];
  options?: readonly string[];
  unit?: string;
}

export interface FieldCatalogue {
  fields: CatalogueField[];
  consentChannels: readonly string[];
  traitPrefix: string;
  traitOperators: readonly Operator[];
}

/** The catalogue as the rule builder and `GET /api/segments/fields` show it. */
export function fieldCatalogue(): FieldCatalogue {
  return {
    fields: [
      ...FIELDS.map((d) => ({
        name: d.name,
        label: d.label,
        group: d.group,
        type: d.type,
        operators: OPERATORS_BY_TYPE[d.type],
        ...(d.options ? { options: d.options } : {}),
        ...(d.unit ? { unit: d.unit } : {}),
      })),
      ...CONSENT_CHANNELS.map((ch) => ({ name: `${CONSENT_PREFIX}${ch}`, label: `Consent: ${ch}`, group: "Consent", type: "consent" as const, operators: OPERATORS_BY_TYPE.consent })),
    ],
    consentChannels: CONSENT_CHANNELS,
    traitPrefix: TRAIT_PREFIX,
    traitOperators: OPERATORS_BY_TYPE.any,
  };
}
