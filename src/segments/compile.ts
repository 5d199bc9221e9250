/**
 * Compiles a checked rule to one SQL boolean expression over a customer
 * (`c`, with their rollup `r` and scores `s` joined), with bound parameters
 * only: every value, name, key and time goes through `ctx.bind`. Each leaf is
 * two-valued (`COALESCE(…, false)`), so `not` means "does not match", and a
 * customer missing a value is simply not in an `eq` and is in a `ne`.
 *
 * "Now" is a parameter too: rules never read the database clock, so a
 * simulated clock moves them and "lapsed for 90 days" turns true on day 90.
 */
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { fieldOf, OPERATORS, type FieldDef, type KeyedField, type Operator } from "./fields.ts";
import type { EventCondition, FieldCondition, OrderCondition, PropertyFilter, Rule, Window } from "./rule.ts";

const DAY_MS = 86_400_000;

export interface CompileContext {
  /** Appends a parameter and returns its placeholder ($n). */
  bind(value: unknown): string;
  /** Placeholder of the workspace id. */
  ws: string;
  /** Placeholder of the workspace currency (money aggregates count that currency only), bound on first use. */
  currency(): string;
  now: Date;
  /** Placeholder of a bigint[] of customer ids when only some customers are evaluated. */
  ids?: string;
}

/** A parameter list with its `bind`. */
export function parameters(initial: unknown[] = []): { params: unknown[]; bind: (v: unknown) => string } {
  const params = [...initial];
  return { params, bind: (v) => `$${params.push(v)}` };
}

export function compileRule(rule: Rule, ctx: CompileContext): string {
  if ("all" in rule) return `(${rule.all.map((r) => compileRule(r, ctx)).join(" AND ")})`;
  if ("any" in rule) return `(${rule.any.map((r) => compileRule(r, ctx)).join(" OR ")})`;
  if ("not" in rule) return `(NOT ${compileRule(rule.not, ctx)})`;
  if ("field" in rule) return `COALESCE(${compileField(rule, ctx)}, false)`;
  if ("event" in rule) return compileEvent(rule, ctx);
  if ("orders" in rule) return compileOrders(rule, ctx);
  return `EXISTS (SELECT 1 FROM segment_memberships m WHERE m.segment_id = ${ctx.bind(rule.segment)} AND m.customer_id = c.id AND m.exited_at IS NULL)`;
}

function isKeyed(d: FieldDef | KeyedField): d is KeyedField {
  return "key" in d;
}

function compileField(cond: FieldCondition, ctx: CompileContext): string {
  const def = fieldOf(cond.field);
  // checkRule refused unknown fields; reaching here without one is a bug.
  if (!def) throw new Error(`unknown field ${cond.field}`);
  const op = OPERATORS.find((o) => o === cond.op);
  if (!op) throw new Error(`unknown operator ${cond.op}`);
  if (isKeyed(def)) {
    const key = ctx.bind(def.key);
    if (def.type === "consent") {
      // Uncorrelated, so evaluating everyone is one hashed lookup rather than a probe per customer.
      const choices = (granted?: string) =>
        `SELECT k.customer_id FROM customer_consents k WHERE k.workspace_id = ${ctx.ws} AND k.channel = ${key}${granted ? ` AND k.granted = ${granted}` : ""}${onlyIds("k.customer_id", ctx)}`;
      if (op === "is") return `c.id IN (${choices(ctx.bind(cond.value === true))})`;
      return op === "exists" ? `c.id IN (${choices()})` : `c.id NOT IN (${choices()})`;
    }
    return jsonCondition(`(SELECT t.value FROM customer_traits t WHERE t.customer_id = c.id AND t.key = ${key})`, op, cond.value, ctx);
  }
  const x = def.sql;
  switch (def.type) {
    case "days":
      return daysCondition(x, op, cond.value, ctx);
    case "date":
      return dateCondition(x, op, cond.value, ctx);
    case "birthday":
      return birthdayCondition(x, op, cond.value, ctx);
    case "boolean":
      return `COALESCE(${x}, false) = ${ctx.bind(cond.value === true)}`;
    case "number":
    case "money":
      return scalarCondition(x, op, cond.value, ctx, "float8");
    default:
      return scalarCondition(x, op, cond.value, ctx, "text");
  }
}

const numberOf = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

const COMPARE: Partial<Record<Operator, string>> = { eq: "=", gt: ">", gte: ">=", lt: "<", lte: "<=" };

/** A text or number expression against a value. */
function scalarCondition(x: string, op: Operator, value: unknown, ctx: CompileContext, type: "float8" | "text"): string {
  const v = () => (type === "float8" ? `${ctx.bind(numberOf(value))}::float8` : `${ctx.bind(String(value))}::text`);
  const cmp = COMPARE[op];
  if (cmp) return `${x} ${cmp} ${v()}`;
  switch (op) {
    case "ne":
      return `${x} IS DISTINCT FROM ${v()}`;
    case "between": {
      const [lo, hi] = listOf(value);
      return `${x} BETWEEN ${ctx.bind(numberOf(lo))}::float8 AND ${ctx.bind(numberOf(hi))}::float8`;
    }
    case "in":
      return `${x} = ANY(${ctx.bind(listOf(value).map((e) => (type === "float8" ? numberOf(e) : String(e))))}::${type}[])`;
    case "notIn":
      return `NOT COALESCE(${x} = ANY(${ctx.bind(listOf(value).map((e) => (type === "float8" ? numberOf(e) : String(e))))}::${type}[]), false)`;
    case "contains":
      return `${x} ILIKE ${ctx.bind(`%${likeEscape(String(value))}%`)}`;
    case "startsWith":
      return `${x} ILIKE ${ctx.bind(`${likeEscape(String(value))}%`)}`;
    case "exists":
      return type === "text" ? `COALESCE(${x}, '') <> ''` : `${x} IS NOT NULL`;
    case "notExists":
      return type === "text" ? `COALESCE(${x}, '') = ''` : `${x} IS NULL`;
    default:
      throw new Error(`operator ${op} on a ${type} field`);
  }
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

/**
 * "Days since" a timestamp, in whole days (floor), compared by turning the
 * number of days into a bound instant: `daysSince >= n` ⇔ `t <= now − n days`.
 * The column is then compared directly, so an index on it serves.
 */
function daysCondition(t: string, op: Operator, value: unknown, ctx: CompileContext): string {
  const ago = (days: number) => `${ctx.bind(new Date(ctx.now.getTime() - days * DAY_MS))}::timestamptz`;
  const n = numberOf(value);
  switch (op) {
    case "gte":
      return `${t} <= ${ago(n)}`;
    case "gt":
      return `${t} <= ${ago(Math.floor(n) + 1)}`;
    case "lte":
      return `${t} > ${ago(Math.floor(n) + 1)}`;
    case "lt":
      return `${t} > ${ago(Math.ceil(n))}`;
    case "eq":
      return `(${t} <= ${ago(n)} AND ${t} > ${ago(n + 1)})`;
    case "ne":
      return `NOT COALESCE(${t} <= ${ago(n)} AND ${t} > ${ago(n + 1)}, false)`;
    case "between": {
      const [lo, hi] = listOf(value).map(numberOf);
      return `(${t} <= ${ago(lo ?? 0)} AND ${t} > ${ago(Math.floor(hi ?? 0) + 1)})`;
    }
    case "exists":
      return `${t} IS NOT NULL`;
    case "notExists":
      return `${t} IS NULL`;
    default:
      throw new Error(`operator ${op} on a days field`);
  }
}

/** A timestamp against "now" or a calendar date (dates are whole UTC days). */
function dateCondition(t: string, op: Operator, value: unknown, ctx: CompileContext): string {
  const at = (ms: number) => `${ctx.bind(new Date(ms))}::timestamptz`;
  const now = ctx.now.getTime();
  switch (op) {
    case "withinLastDays":
      return `(${t} > ${at(now - numberOf(value) * DAY_MS)} AND ${t} <= ${at(now)})`;
    case "moreThanDaysAgo":
      return `${t} <= ${at(now - numberOf(value) * DAY_MS)}`;
    case "withinNextDays":
      return `(${t} > ${at(now)} AND ${t} <= ${at(now + numberOf(value) * DAY_MS)})`;
    case "before":
      return `${t} < ${at(Date.parse(`${String(value)}T00:00:00Z`))}`;
    case "after":
      return `${t} >= ${at(Date.parse(`${String(value)}T00:00:00Z`) + DAY_MS)}`;
    case "exists":
      return `${t} IS NOT NULL`;
    case "notExists":
      return `${t} IS NULL`;
    default:
      throw new Error(`operator ${op} on a date field`);
  }
}

/**
 * The SQL of a customer's time zone (customers aliased `c`): their zone when
 * PostgreSQL knows it (`known_time_zones`), else UTC. No lookup for a
 * customer with none (a subquery per row otherwise). Also read by the journey
 * runner's date triggers, so both mean the same local day.
 */
export const CUSTOMER_ZONE_SQL = `CASE WHEN c.time_zone IS NULL THEN 'UTC' ELSE COALESCE((SELECT z.name FROM known_time_zones z WHERE z.name = c.time_zone), 'UTC') END`;

/**
 * A birthday against the customer's own calendar: "today" is the date in
 * their time zone (UTC when unknown or not a zone PostgreSQL knows; the
 * known zones are listed in `known_time_zones`). A 29 February birthday
 * falls on 28 February in other years (PostgreSQL's date + years).
 */
function birthdayCondition(b: string, op: Operator, value: unknown, ctx: CompileContext): string {
  // Bound only when used: PostgreSQL refuses a parameter no statement reads.
  let nowParam: string | undefined;
  const localToday = () => {
    nowParam ??= ctx.bind(ctx.now);
    return `((${nowParam}::timestamptz AT TIME ZONE ${CUSTOMER_ZONE_SQL})::date)`;
  };
  switch (op) {
    case "anniversaryThisMonth":
      return `(${b} IS NOT NULL AND extract(month FROM ${b}) = extract(month FROM ${localToday()}))`;
    case "anniversaryWithinDays": {
      const today = localToday();
      const years = `date_part('year', age(${today}, ${b}))::int`;
      const thisYear = `(${b} + make_interval(years => ${years}))::date`;
      const next = `(CASE WHEN ${thisYear} >= ${today} THEN ${thisYear} ELSE (${b} + make_interval(years => ${years} + 1))::date END)`;
      return `(${b} <= ${today} AND ${next} - ${today} <= ${ctx.bind(numberOf(value))}::int)`;
    }
    case "before":
      return `${b} < ${ctx.bind(String(value))}::date`;
    case "after":
      return `${b} > ${ctx.bind(String(value))}::date`;
    case "exists":
      return `${b} IS NOT NULL`;
    case "notExists":
      return `${b} IS NULL`;
    default:
      throw new Error(`operator ${op} on a birthday`);
  }
}

/**
 * A jsonb value (a trait, an event property) against a value. Equality is
 * jsonb equality, so "2" the text and 2 the number differ; order comparisons
 * read numbers only, dates read strings that parse as one.
 */
function jsonCondition(v: string, op: Operator, value: unknown, ctx: CompileContext): string {
  const text = `(${v} #>> '{}')`;
  const num = `(CASE WHEN jsonb_typeof(${v}) = 'number' THEN (${v} #>> '{}')::float8 END)`;
  switch (op) {
    case "eq":
      return `${v} = ${ctx.bind(JSON.stringify(value))}::jsonb`;
    case "ne":
      return `${v} IS DISTINCT FROM ${ctx.bind(JSON.stringify(value))}::jsonb`;
    case "in":
      return `${ctx.bind(JSON.stringify(listOf(value)))}::jsonb @> jsonb_build_array(${v})`;
    case "notIn":
      return `NOT COALESCE(${ctx.bind(JSON.stringify(listOf(value)))}::jsonb @> jsonb_build_array(${v}), false)`;
    case "is":
      return `${v} = ${ctx.bind(JSON.stringify(value === true))}::jsonb`;
    case "exists":
      return `COALESCE(jsonb_typeof(${v}), 'null') <> 'null'`;
    case "notExists":
      return `COALESCE(jsonb_typeof(${v}), 'null') = 'null'`;
    case "contains":
    case "startsWith":
      return scalarCondition(text, op, value, ctx, "text");
    case "gt":
    case "gte":
    case "lt":
    case "lte":
    case "between":
      return scalarCondition(num, op, value, ctx, "float8");
    default:
      return dateCondition(`(CASE WHEN jsonb_typeof(${v}) = 'string' THEN fidelio_try_timestamptz(${v} #>> '{}') END)`, op, value, ctx);
  }
}

function propertyCondition(f: PropertyFilter, ctx: CompileContext): string {
  const v = `(e.properties #> ${ctx.bind(f.property.split("."))}::text[])`;
  return `COALESCE(${jsonCondition(v, f.op, f.value, ctx)}, false)`;
}

/** The SQL bounds of a window on a timestamp column, or "" for all time. */
function windowSql(t: string, w: Window | undefined, ctx: CompileContext): string {
  if (!w) return "";
  const now = ctx.now.getTime();
  const at = (ms: number) => `${ctx.bind(new Date(ms))}::timestamptz`;
  if ("lastDays" in w) return ` AND ${t} > ${at(now - w.lastDays * DAY_MS)} AND ${t} <= ${at(now)}`;
  if ("lastHours" in w) return ` AND ${t} > ${at(now - w.lastHours * 3_600_000)} AND ${t} <= ${at(now)}`;
  if ("since" in w) return ` AND ${t} >= ${at(Date.parse(`${w.since}T00:00:00Z`))} AND ${t} <= ${at(now)}`;
  return ` AND ${t} >= ${at(Date.parse(`${w.from}T00:00:00Z`))} AND ${t} < ${at(Math.min(Date.parse(`${w.to}T00:00:00Z`) + DAY_MS, now + 1))}`;
}

/** The start of a window (for "compared with before"). */
function windowStart(w: Window, now: Date): Date {
  if ("lastDays" in w) return new Date(now.getTime() - w.lastDays * DAY_MS);
  if ("lastHours" in w) return new Date(now.getTime() - w.lastHours * 3_600_000);
  return new Date(`${"since" in w ? w.since : w.from}T00:00:00Z`);
}

const onlyIds = (col: string, ctx: CompileContext) => (ctx.ids ? ` AND ${col} = ANY(${ctx.ids}::bigint[])` : "");
const purchase = (ctx: CompileContext) => `o.status <> ALL(${ctx.bind([...NON_PURCHASE_STATUSES])}::text[])`;

/**
 * "Performed X at least n times in the window": the customers with enough
 * matching events, read through the (workspace, name, occurred_at) index.
 * "At most n" is the complement of "more than n", so customers with no event
 * at all are in it.
 */
function compileEvent(cond: EventCondition, ctx: CompileContext): string {
  const atLeast = cond.count?.atLeast ?? (cond.count?.atMost !== undefined ? 0 : 1);
  const atMost = cond.count?.atMost;
  if (atLeast === 0 && atMost === undefined) return "true";
  const where =
    `e.workspace_id = ${ctx.ws} AND e.name = ${ctx.bind(cond.event)} AND e.customer_id IS NOT NULL` +
    onlyIds("e.customer_id", ctx) +
    windowSql("e.occurred_at", cond.window, ctx) +
    (cond.where ?? []).map((f) => ` AND ${propertyCondition(f, ctx)}`).join("") +
    (cond.noOrderSince
      ? ` AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id AND o.placed_at > e.occurred_at AND ${purchase(ctx)})`
      : "");
  const select = (having: string) => `SELECT e.customer_id FROM events e WHERE ${where} GROUP BY e.customer_id HAVING ${having}`;
  if (atLeast === 0) return `c.id NOT IN (${select(`count(*) > ${ctx.bind(atMost)}::int`)})`;
  const upper = atMost !== undefined ? ` AND count(*) <= ${ctx.bind(atMost)}::int` : "";
  return `c.id IN (${select(`count(*) >= ${ctx.bind(atLeast)}::int${upper}`)})`;
}

/**
 * An aggregate over a customer's orders in a window. Money counts orders in
 * the workspace currency. When the comparison holds for a customer with no
 * order in the window (count < 3, sum ≤ 100), it is written as the
 * complement so they are included.
 */
function compileOrders(cond: OrderCondition, ctx: CompileContext): string {
  const measure = (): string => {
    switch (cond.orders) {
      case "count":
        return "count(DISTINCT o.id)::float8";
      case "sum":
        return `COALESCE(sum(o.total_minor) FILTER (WHERE o.currency = ${ctx.currency()}), 0)::float8`;
      case "average":
        return `avg(o.total_minor) FILTER (WHERE o.currency = ${ctx.currency()})::float8`;
      case "averageItemPrice":
        return `(sum(l.total_minor) FILTER (WHERE o.currency = ${ctx.currency()})::float8 / NULLIF(sum(l.quantity) FILTER (WHERE o.currency = ${ctx.currency()}), 0))`;
    }
  };
  const lines = cond.orders === "averageItemPrice" ? " JOIN order_lines l ON l.order_id = o.id" : "";
  const from = (bounds: string) =>
    `FROM orders o${lines} WHERE o.workspace_id = ${ctx.ws} AND o.customer_id IS NOT NULL AND ${purchase(ctx)}${onlyIds("o.customer_id", ctx)}${bounds}`;
  const op = COMPARE[cond.op] ?? "<>";
  if (cond.comparedTo === "before" && cond.window) {
    const start = `${ctx.bind(windowStart(cond.window, ctx.now))}::timestamptz`;
    const inWindow = `SELECT o.customer_id, ${measure()} AS m ${from(windowSql("o.placed_at", cond.window, ctx))} GROUP BY o.customer_id`;
    const before = `SELECT o.customer_id, ${measure()} AS m ${from(` AND o.placed_at < ${start}`)} GROUP BY o.customer_id`;
    return `c.id IN (SELECT w.customer_id FROM (${inWindow}) w JOIN (${before}) b ON b.customer_id = w.customer_id WHERE w.m ${op} b.m)`;
  }
  const value = cond.value ?? 0;
  const zeroMatches = (cond.orders === "count" || cond.orders === "sum") && holds(0, cond.op, value);
  const grouped = (having: string) => `SELECT o.customer_id ${from(windowSql("o.placed_at", cond.window, ctx))} GROUP BY o.customer_id HAVING ${having}`;
  const test = `${measure()} ${op} ${ctx.bind(value)}::float8`;
  return zeroMatches ? `c.id NOT IN (${grouped(`NOT COALESCE(${test}, false)`)})` : `c.id IN (${grouped(`COALESCE(${test}, false)`)})`;
}

function holds(x: number, op: OrderCondition["op"], v: number): boolean {
  switch (op) {
    case "eq":
      return x === v;
    case "ne":
      return x !== v;
    case "gt":
      return x > v;
    case "gte":
      return x >= v;
    case "lt":
      return x < v;
    case "lte":
      return x <= v;
  }
}
