/**
 * Event property filters evaluated in memory, with the same meaning as their
 * SQL form in `compile.ts` (`jsonCondition`): the journey engine matches each
 * incoming event against a trigger's or a wait's filters without a query.
 * eq/ne/in compare JSON values exactly (a number is not its text); contains
 * is case-insensitive on the value's text; gt…lte compare numbers only; a missing or null
 * property matches nothing but `ne`.
 */
import { isJsonObject } from "../shared/index.ts";
import type { PropertyFilter } from "./rule.ts";

function valueAt(properties: Record<string, unknown>, path: string): unknown {
  let v: unknown = properties;
  for (const part of path.split(".")) {
    if (!isJsonObject(v)) return undefined;
    v = Object.getOwnPropertyDescriptor(v, part)?.value;
  }
  return v;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function matchesOne(f: PropertyFilter, properties: Record<string, unknown>): boolean {
  const v = valueAt(properties, f.property);
  const present = v !== undefined && v !== null;
  switch (f.op) {
    case "exists":
      return present;
    case "eq":
      return present && same(v, f.value);
    case "ne":
      return !present || !same(v, f.value);
    case "in":
      return present && Array.isArray(f.value) && f.value.some((x) => same(x, v));
    case "contains":
      return (typeof v === "string" || typeof v === "number") && typeof f.value === "string" && String(v).toLowerCase().includes(f.value.toLowerCase());
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      if (typeof v !== "number" || typeof f.value !== "number") return false;
      if (f.op === "gt") return v > f.value;
      if (f.op === "gte") return v >= f.value;
      if (f.op === "lt") return v < f.value;
      return v <= f.value;
    }
  }
}

/** Whether an event's properties pass every filter (no filters: yes). */
export function matchesPropertyFilters(filters: readonly PropertyFilter[] | undefined, properties: Record<string, unknown>): boolean {
  return (filters ?? []).every((f) => matchesOne(f, properties));
}
