/**
 * The segment rule language: a typed tree, JSON on the wire, checked with zod
 * and then against the field catalogue (`fields.ts`), so an unknown field, an
 * operator that does not fit the field's type or an impossible window is
 * refused with the path of the offending node (`rule.all.2.op`).
 *
 *   { "all": [ … ] } | { "any": [ … ] } | { "not": … }      combine
 *   { "field": "orderCount", "op": "gte", "value": 2 }         a customer's field
 *   { "event": "Product Added", "window": { "lastDays": 1 },
 *     "count": { "atLeast": 1 }, "where": [ … ], "noOrderSince": true }
 *   { "orders": "sum", "window": { "lastDays": 90 }, "op": "gt", "value": 20000 }
 *   { "orders": "averageItemPrice", "window": { "lastDays": 90 }, "op": "lt", "comparedTo": "before" }
 *   { "segment": 12 }                                          member of another segment
 */
import { z } from "zod";
import { AppError, isIsoDay, isJsonObject, type FieldIssue } from "../shared/index.ts";
import { fieldOf, OPERATORS_BY_TYPE, type FieldType, type Operator } from "./fields.ts";

const MAX_DEPTH = 8;
const MAX_NODES = 200;
/** Windows longer than ten years are refused as a typo rather than evaluated. */
const MAX_WINDOW_DAYS = 3660;

const IsoDate = z.string().refine(isIsoDay, "must be a real date, YYYY-MM-DD");
/** Text a rule may hold: PostgreSQL refuses the NUL character in text and jsonb. */
const Text = (max: number) => z.string().max(max).refine((s) => !s.includes("\u0000"), "must not contain the NUL character");
const Value = z.union([Text(500), z.number(), z.boolean(), z.array(z.union([Text(500), z.number()])).max(500), z.null()]);
/** Counts are compared as PostgreSQL integers. */
const MAX_COUNT = 2_147_483_647;

export const Window = z.union([
  z.strictObject({ lastDays: z.number().int().describe("the last N days up to now") }),
  z.strictObject({ lastHours: z.number().int().describe("the last N hours up to now") }),
  z.strictObject({ since: IsoDate }),
  z.strictObject({ from: IsoDate, to: IsoDate.describe("inclusive") }),
]);
export type Window = z.output<typeof Window>;

export const PropertyFilter = z.strictObject({
  property: Text(200).min(1).describe("event property, dotted for nested (product.category)"),
  op: z.enum(["eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "exists"]),
  value: Value.optional(),
});
export type PropertyFilter = z.output<typeof PropertyFilter>;

export const FieldCondition = z.strictObject({
  field: Text(200).min(1),
  op: z.string().min(1).max(40),
  value: Value.optional(),
});
export type FieldCondition = z.output<typeof FieldCondition>;

export const EventCondition = z.strictObject({
  event: Text(200).min(1).describe("event name, e.g. Product Added"),
  where: z.array(PropertyFilter).max(20).optional(),
  count: z.strictObject({ atLeast: z.number().int().min(0).max(MAX_COUNT).optional(), atMost: z.number().int().min(0).max(MAX_COUNT).optional() }).optional(),
  window: Window.optional(),
  noOrderSince: z.boolean().optional().describe("only events with no order placed after them"),
});
export type EventCondition = z.output<typeof EventCondition>;

export const ORDER_MEASURES = ["count", "sum", "average", "averageItemPrice"] as const;
export const OrderCondition = z.strictObject({
  orders: z.enum(ORDER_MEASURES),
  window: Window.optional(),
  op: z.enum(["eq", "ne", "gt", "gte", "lt", "lte"]),
  value: z.number().optional(),
  comparedTo: z.literal("before").optional().describe("compare with the same measure over the orders before the window"),
});
export type OrderCondition = z.output<typeof OrderCondition>;

export const SegmentCondition = z.strictObject({ segment: z.number().int().positive() });
export type SegmentCondition = z.output<typeof SegmentCondition>;

export type Rule =
  | { all: Rule[] }
  | { any: Rule[] }
  | { not: Rule }
  | FieldCondition
  | EventCondition
  | OrderCondition
  | SegmentCondition;

export const Rule: z.ZodType<Rule> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(Rule).min(1) }),
    z.strictObject({ any: z.array(Rule).min(1) }),
    z.strictObject({ not: Rule }),
    FieldCondition,
    EventCondition,
    OrderCondition,
    SegmentCondition,
  ]),
);

export interface CheckedRule {
  rule: Rule;
  /** Segments this rule refers to. */
  dependsOn: number[];
  /** Whether the rule's truth moves with time alone (windows, days since, dates). */
  timeRelative: boolean;
  /** Accepted, but worth knowing (a slow rule, say). */
  warnings: string[];
}

/**
 * Parses and checks a rule. Throws `invalid_input` naming every offending
 * node by its path under `prefix`.
 */
export function checkRule(input: unknown, prefix = "rule"): CheckedRule {
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  const dependsOn = new Set<number>();
  let timeRelative = false;
  let nodes = 0;

  // Structural check first, node by node, so the path points at the node
  // that is wrong rather than at the union that failed.
  const walk = (node: unknown, path: string, depth: number): Rule | undefined => {
    nodes += 1;
    const at = (sub?: string) => (sub ? `${path}.${sub}` : path);
    const fail = (message: string, sub?: string) => {
      issues.push({ field: at(sub), message });
      return undefined;
    };
    if (depth > MAX_DEPTH) return fail(`is nested deeper than ${MAX_DEPTH} levels`);
    if (nodes > MAX_NODES) return fail(`makes the rule longer than ${MAX_NODES} nodes`);
    if (!isJsonObject(node)) return fail("must be an object: a condition, or all/any/not");
    const keys = Object.keys(node);
    const get = (k: string): unknown => (k in node ? Object.getOwnPropertyDescriptor(node, k)?.value : undefined);
    if (keys.includes("all") || keys.includes("any")) {
      const key = keys.includes("all") ? "all" : "any";
      for (const k of keys) if (k !== key) fail("is not a known field", k);
      const list = get(key);
      if (!Array.isArray(list) || list.length === 0) return fail("must be a non-empty list of rules", key);
      const children: Rule[] = [];
      list.forEach((child, i) => {
        const r = walk(child, `${at(key)}.${i}`, depth + 1);
        if (r) children.push(r);
      });
      return key === "all" ? { all: children } : { any: children };
    }
    if (keys.includes("not")) {
      for (const k of keys) if (k !== "not") fail("is not a known field", k);
      const r = walk(get("not"), at("not"), depth + 1);
      return r ? { not: r } : undefined;
    }
    const schema = "field" in node ? FieldCondition : "event" in node ? EventCondition : "orders" in node ? OrderCondition : "segment" in node ? SegmentCondition : undefined;
    if (!schema) return fail("must have one of all, any, not, field, event, orders or segment");
    const parsed = schema.safeParse(node);
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        if (i.code === "unrecognized_keys") for (const k of i.keys) fail("is not a known field", k);
        else fail(i.message, i.path.map(String).join(".") || undefined);
      }
      return undefined;
    }
    const cond = parsed.data;
    if ("field" in cond) {
      const r = checkField(cond);
      if (r.error) return fail(r.error.message, r.error.sub);
      if (r.timeRelative) timeRelative = true;
      return cond;
    }
    if ("event" in cond) {
      const { atLeast, atMost } = cond.count ?? {};
      if (atLeast !== undefined && atMost !== undefined && atLeast > atMost) return fail("atLeast is larger than atMost: no customer can match", "count");
      const w = checkWindow(cond.window);
      if (w) return fail(w.message, `window${w.sub ? `.${w.sub}` : ""}`);
      if (cond.window) timeRelative = true;
      else warnings.push(`${path}: "${cond.event}" has no time window, so every evaluation reads all such events ever recorded; add a window (e.g. the last 90 days) if you can`);
      for (const [i, f] of (cond.where ?? []).entries()) {
        const e = checkPropertyFilter(f);
        if (e) fail(e, `where.${i}.value`);
      }
      return cond;
    }
    if ("orders" in cond) {
      const w = checkWindow(cond.window);
      if (w) return fail(w.message, `window${w.sub ? `.${w.sub}` : ""}`);
      if (cond.window) timeRelative = true;
      if (cond.comparedTo === "before") {
        if (!cond.window) return fail("comparedTo before needs a window to compare with", "comparedTo");
        if (cond.value !== undefined) return fail("is not used with comparedTo: the measure is compared with the earlier orders", "value");
        if (!["gt", "lt", "gte", "lte"].includes(cond.op)) return fail("must be gt, gte, lt or lte with comparedTo", "op");
      } else if (cond.value === undefined) return fail("is required", "value");
      return cond;
    }
    dependsOn.add(cond.segment);
    return cond;
  };

  const rule = walk(input, prefix, 0);
  if (!rule || issues.length > 0) {
    const first = issues[0];
    throw new AppError("invalid_input", first ? `${first.field}: ${first.message}` : `${prefix}: invalid rule`, issues);
  }
  return { rule, dependsOn: [...dependsOn].sort((a, b) => a - b), timeRelative, warnings };
}

interface NodeError {
  message: string;
  sub?: string;
}

function checkWindow(w: Window | undefined): NodeError | undefined {
  if (!w) return undefined;
  if ("lastDays" in w) return w.lastDays < 1 || w.lastDays > MAX_WINDOW_DAYS ? { message: `must be between 1 and ${MAX_WINDOW_DAYS} days`, sub: "lastDays" } : undefined;
  if ("lastHours" in w) return w.lastHours < 1 || w.lastHours > MAX_WINDOW_DAYS * 24 ? { message: `must be between 1 and ${MAX_WINDOW_DAYS * 24} hours`, sub: "lastHours" } : undefined;
  if ("from" in w && w.from > w.to) return { message: "is before from: the window is empty", sub: "to" };
  return undefined;
}

function checkPropertyFilter(f: PropertyFilter): string | undefined {
  if (f.op === "exists") return f.value === undefined ? undefined : "is not used with exists";
  if (f.value === undefined || f.value === null) return "is required";
  if (f.op === "in") return Array.isArray(f.value) && f.value.length > 0 ? undefined : "must be a non-empty list";
  if (["gt", "gte", "lt", "lte"].includes(f.op)) return typeof f.value === "number" ? undefined : "must be a number";
  if (f.op === "contains") return typeof f.value === "string" ? undefined : "must be text";
  return Array.isArray(f.value) ? "must be a single value" : undefined;
}

/** Checks a field condition against the catalogue: known field, operator of its type, value of the operator's shape. */
function checkField(c: FieldCondition): { error?: NodeError; timeRelative?: boolean } {
  const field = fieldOf(c.field);
  if (!field) return { error: { message: `is not a known field (see GET /api/segments/fields)`, sub: "field" } };
  const ops: readonly Operator[] = OPERATORS_BY_TYPE[field.type];
  const op = ops.find((o) => o === c.op);
  if (!op) return { error: { message: `"${c.op}" is not an operator for ${field.type} field ${c.field}; use one of ${ops.join(", ")}`, sub: "op" } };
  const e = checkValue(field.type, op, c.value, field.options);
  if (e) return { error: { message: e, sub: "value" } };
  const timeRelative = field.timeRelative === true || DATE_OPERATORS.has(op);
  return { timeRelative };
}

const DATE_OPERATORS = new Set<Operator>(["withinLastDays", "moreThanDaysAgo", "withinNextDays", "anniversaryWithinDays", "anniversaryThisMonth"]);

function checkValue(type: FieldType, op: Operator, value: unknown, options: readonly string[] | undefined): string | undefined {
  const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const isDays = (v: unknown) => Number.isInteger(v) && isNumber(v) && v >= 0 && v <= MAX_WINDOW_DAYS;
  // "Days since" becomes an instant: whole days within the window limit, whatever the operator.
  if (type === "days" && !["exists", "notExists"].includes(op)) {
    const days = op === "between" ? value : [value];
    if (!Array.isArray(days) || !days.every(isDays)) return `must be a whole number of days from 0 to ${MAX_WINDOW_DAYS}${op === "between" ? ", twice: [low, high]" : ""}`;
  }
  switch (op) {
    case "exists":
    case "notExists":
    case "anniversaryThisMonth":
      return value === undefined ? undefined : `is not used with ${op}`;
    case "is":
      return typeof value === "boolean" ? undefined : "must be true or false";
    case "withinLastDays":
    case "moreThanDaysAgo":
    case "withinNextDays":
    case "anniversaryWithinDays":
      return Number.isInteger(value) && isNumber(value) && value >= 0 && value <= MAX_WINDOW_DAYS ? undefined : `must be a whole number of days from 0 to ${MAX_WINDOW_DAYS}`;
    case "before":
    case "after":
      return typeof value === "string" && isIsoDay(value) ? undefined : "must be a real date, YYYY-MM-DD";
    case "between":
      if (!Array.isArray(value) || value.length !== 2 || !value.every(isNumber)) return "must be two numbers [low, high]";
      return (value[0] ?? 0) > (value[1] ?? 0) ? "low is above high: no customer can match" : undefined;
    case "in":
    case "notIn":
      if (!Array.isArray(value) || value.length === 0) return "must be a non-empty list";
      if (options) {
        const bad = value.find((v) => typeof v !== "string" || !options.includes(v));
        return bad === undefined ? undefined : `${JSON.stringify(bad)} is not one of ${options.join(", ")}`;
      }
      return type === "number" || type === "money" ? (value.every(isNumber) ? undefined : "must be a list of numbers") : undefined;
    case "contains":
    case "startsWith":
      return typeof value === "string" && value.length > 0 ? undefined : "must be non-empty text";
    case "eq":
    case "ne":
      if (options) return typeof value === "string" && options.includes(value) ? undefined : `must be one of ${options.join(", ")}`;
      if (type === "number" || type === "money" || type === "days") return isNumber(value) ? undefined : "must be a number";
      if (type === "any") return value === undefined || value === null || Array.isArray(value) ? "must be a text, number or boolean" : undefined;
      return typeof value === "string" ? undefined : "must be text";
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return isNumber(value) ? undefined : "must be a number";
  }
}
