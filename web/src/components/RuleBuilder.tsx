/**
 * The segment rule builder: the rule tree itself is the state, edited
 * through forms, so nobody types JSON. Groups (all / any) nest; each
 * condition can be negated ("not"). Money is typed in major units and kept
 * in minor units, as the API wants.
 */
import type { CatalogueField, FieldCatalogue, Operator, Rule, Segment } from "../types.ts";
import { majorOf, toMinor } from "../format.ts";

type Group = { all: Rule[] } | { any: Rule[] };
type FieldCondition = Extract<Rule, { field: string }>;
type Value = FieldCondition["value"];
type EventCondition = Extract<Rule, { event: string }>;
type OrderCondition = Extract<Rule, { orders: string }>;

const OP_LABELS: Record<Operator, string> = {
  eq: "is",
  ne: "is not",
  gt: "is more than",
  gte: "is at least",
  lt: "is less than",
  lte: "is at most",
  between: "is between",
  in: "is one of",
  notIn: "is none of",
  contains: "contains",
  startsWith: "starts with",
  is: "is",
  withinLastDays: "in the last … days",
  moreThanDaysAgo: "more than … days ago",
  withinNextDays: "in the next … days",
  before: "before",
  after: "after",
  anniversaryWithinDays: "anniversary in the next … days",
  anniversaryThisMonth: "anniversary this month",
  exists: "is known",
  notExists: "is unknown",
};

export const EVENT_NAMES = ["Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed", "Order Refunded", "Segment Entered", "Segment Exited"];

const isGroup = (r: Rule): r is Group => "all" in r || "any" in r;
const childrenOf = (g: Group): Rule[] => ("all" in g ? g.all : g.any);
const withChildren = (g: Group, children: Rule[]): Group => ("all" in g ? { all: children } : { any: children });

/** Edits a whole rule; the top is always a group so conditions can be added. */
export function RuleBuilder(props: { rule: Rule; onChange: (r: Rule) => void; catalogue: FieldCatalogue; segments: Segment[]; selfId?: number }) {
  const top: Group = isGroup(props.rule) ? props.rule : { all: [props.rule] };
  return (
    <div className="rule-builder" data-testid="rule-builder">
      <GroupEditor group={top} onChange={props.onChange} ctx={props} depth={0} />
    </div>
  );
}

interface Ctx {
  catalogue: FieldCatalogue;
  segments: Segment[];
  selfId?: number;
}

function GroupEditor(props: { group: Group; onChange: (r: Group) => void; onRemove?: () => void; negated?: boolean; onNegate?: (negated: boolean) => void; ctx: Ctx; depth: number }) {
  const children = childrenOf(props.group);
  const set = (i: number, r: Rule) => props.onChange(withChildren(props.group, children.map((c, j) => (j === i ? r : c))));
  const remove = (i: number) => {
    const rest = children.filter((_, j) => j !== i);
    props.onChange(withChildren(props.group, rest.length > 0 ? rest : [NEW_CONDITION]));
  };
  const add = (r: Rule) => props.onChange(withChildren(props.group, [...children, r]));
  const mode = "all" in props.group ? "all" : "any";
  return (
    <fieldset className={`rule-group depth-${props.depth}`}>
      <legend>
        {props.onNegate ? (
          <label className="rule-not">
            <input type="checkbox" checked={props.negated === true} onChange={(e) => props.onNegate?.(e.target.checked)} /> not
          </label>
        ) : null}{" "}
        Customers matching{" "}
        <select aria-label="Match all or any" value={mode} onChange={(e) => props.onChange(e.target.value === "all" ? { all: children } : { any: children })}>
          <option value="all">all</option>
          <option value="any">any</option>
        </select>{" "}
        of these
        {props.onRemove ? (
          <button type="button" className="link" onClick={props.onRemove} aria-label="Remove this group">
            remove group
          </button>
        ) : null}
      </legend>
      {children.map((c, i) => (
        <NodeEditor key={i} rule={c} onChange={(r) => set(i, r)} onRemove={() => remove(i)} ctx={props.ctx} depth={props.depth} />
      ))}
      <div className="rule-add">
        <button type="button" className="secondary" onClick={() => add(NEW_CONDITION)}>
          + condition
        </button>
        {props.depth < 2 ? (
          <button type="button" className="secondary" onClick={() => add({ any: [NEW_CONDITION] })}>
            + group
          </button>
        ) : null}
      </div>
    </fieldset>
  );
}

const NEW_CONDITION: Rule = { field: "orderCount", op: "gte", value: 1 };
const KINDS = [
  { value: "field", label: "Customer field", make: (): Rule => NEW_CONDITION },
  { value: "event", label: "Did something", make: (): Rule => ({ event: "Product Added", window: { lastDays: 7 } }) },
  { value: "orders", label: "Orders in a window", make: (): Rule => ({ orders: "sum", window: { lastDays: 90 }, op: "gt", value: 10000 }) },
  { value: "segment", label: "In segment", make: (): Rule => ({ segment: 0 }) },
] as const;

function kindOf(r: Rule): (typeof KINDS)[number]["value"] {
  return "event" in r ? "event" : "orders" in r ? "orders" : "segment" in r ? "segment" : "field";
}

/** One node: a nested group, or a condition with its "not" toggle. */
function NodeEditor(props: { rule: Rule; onChange: (r: Rule) => void; onRemove: () => void; ctx: Ctx; depth: number }) {
  const negated = "not" in props.rule;
  const inner: Rule = "not" in props.rule ? props.rule.not : props.rule;
  const wrap = (r: Rule) => props.onChange(negated ? { not: r } : r);
  if (isGroup(inner)) {
    return (
      <GroupEditor
        group={inner}
        onChange={wrap}
        onRemove={props.onRemove}
        negated={negated}
        onNegate={(n) => props.onChange(n ? { not: inner } : inner)}
        ctx={props.ctx}
        depth={props.depth + 1}
      />
    );
  }
  const kind = kindOf(inner);
  return (
    <div className="rule-row" data-testid="rule-row">
      <label className="rule-not">
        <input type="checkbox" checked={negated} onChange={(e) => props.onChange(e.target.checked ? { not: inner } : inner)} /> not
      </label>
      <select aria-label="Kind of condition" value={kind} onChange={(e) => props.onChange(KINDS.find((k) => k.value === e.target.value)?.make() ?? NEW_CONDITION)}>
        {KINDS.map((k) => (
          <option key={k.value} value={k.value}>
            {k.label}
          </option>
        ))}
      </select>
      {"field" in inner ? <FieldEditor cond={inner} onChange={wrap} catalogue={props.ctx.catalogue} />
        : "event" in inner ? <EventEditor cond={inner} onChange={wrap} />
        : "orders" in inner ? <OrdersEditor cond={inner} onChange={wrap} />
        : "segment" in inner ? (
          <select aria-label="Segment" value={inner.segment} onChange={(e) => wrap({ segment: Number(e.target.value) })}>
            <option value={0}>choose a segment…</option>
            {props.ctx.segments.filter((s) => s.id !== props.ctx.selfId).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        ) : null}
      <button type="button" className="link" onClick={props.onRemove} aria-label="Remove this condition">
        ✕
      </button>
    </div>
  );
}

const TRAIT = "__trait";

function FieldEditor(props: { cond: FieldCondition; onChange: (r: Rule) => void; catalogue: FieldCatalogue }) {
  const { cond, catalogue } = props;
  const isTrait = cond.field.startsWith(catalogue.traitPrefix);
  const field: CatalogueField | undefined = isTrait
    ? { name: cond.field, label: "Trait", group: "Traits", type: "any", operators: catalogue.traitOperators }
    : catalogue.fields.find((f) => f.name === cond.field);
  const groups = [...new Set(catalogue.fields.map((f) => f.group))];
  const ops = field?.operators ?? [];
  const pickField = (name: string) => {
    if (name === TRAIT) return props.onChange({ field: `${catalogue.traitPrefix}`, op: "eq", value: "" });
    const f = catalogue.fields.find((x) => x.name === name);
    const op = f?.operators[0] ?? "eq";
    props.onChange({ field: name, op, ...defaultValue(f, op) });
  };
  return (
    <>
      <select aria-label="Field" value={isTrait ? TRAIT : cond.field} onChange={(e) => pickField(e.target.value)}>
        {groups.map((g) => (
          <optgroup key={g} label={g}>
            {catalogue.fields.filter((f) => f.group === g).map((f) => (
              <option key={f.name} value={f.name}>
                {f.label}
              </option>
            ))}
          </optgroup>
        ))}
        <option value={TRAIT}>Custom trait…</option>
      </select>
      {isTrait ? (
        <input aria-label="Trait name" placeholder="trait name" value={cond.field.slice(catalogue.traitPrefix.length)} onChange={(e) => props.onChange({ ...cond, field: `${catalogue.traitPrefix}${e.target.value}` })} />
      ) : null}
      <select aria-label="Operator" value={cond.op} onChange={(e) => props.onChange({ field: cond.field, op: e.target.value, ...defaultValue(field, e.target.value) })}>
        {ops.map((o) => (
          <option key={o} value={o}>
            {OP_LABELS[o]}
          </option>
        ))}
      </select>
      <ValueEditor field={field} op={cond.op} value={cond.value} onChange={(v) => props.onChange({ field: cond.field, op: cond.op, ...(v === undefined ? {} : { value: v }) })} />
    </>
  );
}

function defaultValue(f: CatalogueField | undefined, op: string): { value?: Value } {
  if (["exists", "notExists", "anniversaryThisMonth"].includes(op)) return {};
  if (op === "is") return { value: true };
  if (op === "between") return { value: [0, 10] };
  if (op === "in" || op === "notIn") return { value: f?.options?.[0] !== undefined ? [f.options[0]] : [] };
  if (op === "before" || op === "after") return { value: new Date().toISOString().slice(0, 10) };
  if (f?.options) return { value: f.options[0] };
  if (f && ["number", "money", "days"].includes(f.type)) return { value: 0 };
  if (["withinLastDays", "moreThanDaysAgo", "withinNextDays", "anniversaryWithinDays"].includes(op)) return { value: 7 };
  return { value: "" };
}

function ValueEditor(props: { field: CatalogueField | undefined; op: string; value: Value; onChange: (v: Value) => void }) {
  const { field, op, value } = props;
  const money = field?.unit === "minor";
  const numberIn = (v: unknown, label: string, set: (n: number) => void) => (
    <input
      type="number"
      aria-label={label}
      step={money ? "0.01" : "any"}
      value={typeof v === "number" ? (money ? majorOf(v) : v) : ""}
      onChange={(e) => set(money ? toMinor(Number(e.target.value)) : Number(e.target.value))}
    />
  );
  if (["exists", "notExists", "anniversaryThisMonth"].includes(op)) return null;
  if (op === "is") {
    return (
      <select aria-label="Value" value={String(value === true)} onChange={(e) => props.onChange(e.target.value === "true")}>
        <option value="true">yes</option>
        <option value="false">no</option>
      </select>
    );
  }
  if (["withinLastDays", "moreThanDaysAgo", "withinNextDays", "anniversaryWithinDays"].includes(op)) {
    return (
      <>
        <input type="number" min={0} aria-label="Days" value={typeof value === "number" ? value : ""} onChange={(e) => props.onChange(Number(e.target.value))} /> days
      </>
    );
  }
  if (op === "before" || op === "after") return <input type="date" aria-label="Date" value={typeof value === "string" ? value : ""} onChange={(e) => props.onChange(e.target.value)} />;
  if (op === "between") {
    const [lo = 0, hi = 0] = Array.isArray(value) ? value.map(Number) : [0, 0];
    return (
      <>
        {numberIn(lo, "From", (n) => props.onChange([n, hi]))} and {numberIn(hi, "To", (n) => props.onChange([lo, n]))}
      </>
    );
  }
  if (op === "in" || op === "notIn") {
    const numeric = field !== undefined && ["number", "money"].includes(field.type);
    const shown = (Array.isArray(value) ? value : []).map((x) => (money && typeof x === "number" ? majorOf(x) : x));
    return (
      <input
        // Edited freely, read on leaving; the key resets it when the rule changes underneath.
        key={JSON.stringify(value)}
        aria-label="Values, comma-separated"
        placeholder="a, b, c"
        defaultValue={shown.join(", ")}
        onBlur={(e) =>
          props.onChange(
            e.target.value
              .split(",")
              .map((x) => x.trim())
              .filter((x) => x !== "")
              .map((x) => (numeric ? (money ? toMinor(Number(x)) : Number(x)) : x)),
          )
        }
      />
    );
  }
  if (field?.options) {
    return (
      <select aria-label="Value" value={String(value)} onChange={(e) => props.onChange(e.target.value)}>
        {field.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  }
  if (field && ["number", "money", "days"].includes(field.type)) return numberIn(value, "Value", props.onChange);
  // A trait compared by order is a number; a trait equal to digits is matched as the number they spell.
  if (field?.type === "any" && ["gt", "gte", "lt", "lte"].includes(op)) return numberIn(value, "Value", props.onChange);
  if (field?.type === "any" && (op === "eq" || op === "ne")) {
    return (
      <input
        aria-label="Value"
        value={typeof value === "string" || typeof value === "number" ? String(value) : ""}
        onChange={(e) => props.onChange(/^-?\d+(\.\d+)?$/.test(e.target.value) ? Number(e.target.value) : e.target.value)}
      />
    );
  }
  return <input aria-label="Value" value={typeof value === "string" || typeof value === "number" ? String(value) : ""} onChange={(e) => props.onChange(e.target.value)} />;
}

function windowDays(w: EventCondition["window"]): number | "" {
  return w && "lastDays" in w ? w.lastDays : "";
}

function EventEditor(props: { cond: EventCondition; onChange: (r: Rule) => void }) {
  const c = props.cond;
  const filter = c.where?.[0];
  // The builder edits the first property filter; others made through the API are kept as they are.
  const others = c.where?.slice(1) ?? [];
  return (
    <>
      <input list="event-names" aria-label="Event" value={c.event} onChange={(e) => props.onChange({ ...c, event: e.target.value })} />
      <datalist id="event-names">
        {EVENT_NAMES.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      <select
        aria-label="At least or at most"
        value={c.count?.atMost !== undefined && c.count.atLeast === undefined ? "atMost" : "atLeast"}
        onChange={(e) => {
          const n = c.count?.atLeast ?? c.count?.atMost ?? 1;
          props.onChange({ ...c, count: e.target.value === "atMost" ? { atMost: n } : { atLeast: Math.max(1, n) } });
        }}
      >
        <option value="atLeast">at least</option>
        <option value="atMost">at most</option>
      </select>
      <input
        type="number"
        min={0}
        aria-label="Times"
        value={c.count?.atMost !== undefined && c.count.atLeast === undefined ? c.count.atMost : (c.count?.atLeast ?? 1)}
        onChange={(e) => props.onChange({ ...c, count: c.count?.atMost !== undefined && c.count.atLeast === undefined ? { atMost: Number(e.target.value) } : { atLeast: Number(e.target.value) } })}
      />
      times in the last
      <input
        type="number"
        min={1}
        aria-label="Window, days"
        value={windowDays(c.window)}
        onChange={(e) => {
          const { window: _old, ...rest } = c;
          props.onChange(e.target.value === "" ? rest : { ...rest, window: { lastDays: Number(e.target.value) } });
        }}
      />
      days, where
      <input
        aria-label="Property"
        placeholder="property"
        value={filter?.property ?? ""}
        onChange={(e) => {
          const { where: _old, ...rest } = c;
          props.onChange(e.target.value === "" && others.length === 0 ? rest : { ...rest, where: [{ property: e.target.value, op: filter?.op ?? "eq", value: filter?.value ?? "" }, ...others] });
        }}
      />
      <select aria-label="Property test" value={filter?.op ?? "eq"} disabled={!filter} onChange={(e) => {
          if (!filter) return;
          const op = FILTER_OPS.find((o) => o.value === e.target.value)?.value ?? "eq";
          const { value: _value, ...bare } = filter;
          // "is set" takes no value.
          props.onChange({ ...c, where: [op === "exists" ? { ...bare, op } : { ...filter, op }, ...others] });
        }}>
        {FILTER_OPS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <input
        aria-label="Property value"
        placeholder="value"
        value={typeof filter?.value === "string" || typeof filter?.value === "number" ? String(filter.value) : ""}
        disabled={!filter || filter.op === "exists"}
        onChange={(e) => filter && props.onChange({ ...c, where: [{ ...filter, value: ["gt", "gte", "lt", "lte"].includes(filter.op) ? Number(e.target.value) : e.target.value }, ...others] })}
      />
      {others.length > 0 ? <span className="sub">and {others.length} more filter{others.length === 1 ? "" : "s"}</span> : null}
      <label className="inline">
        <input type="checkbox" checked={c.noOrderSince === true} onChange={(e) => props.onChange({ ...c, noOrderSince: e.target.checked })} /> with no order since
      </label>
    </>
  );
}

const FILTER_OPS = [
  { value: "eq", label: "=" },
  { value: "ne", label: "≠" },
  { value: "contains", label: "contains" },
  { value: "gt", label: ">" },
  { value: "gte", label: "≥" },
  { value: "lt", label: "<" },
  { value: "lte", label: "≤" },
  { value: "exists", label: "is set" },
] as const;

const MEASURES = [
  { value: "count", label: "number of orders", money: false },
  { value: "sum", label: "amount spent", money: true },
  { value: "average", label: "average order value", money: true },
  { value: "averageItemPrice", label: "average item price", money: true },
] as const;
const ORDER_OPS = [
  { value: "gt", label: "more than" },
  { value: "gte", label: "at least" },
  { value: "lt", label: "less than" },
  { value: "lte", label: "at most" },
  { value: "eq", label: "exactly" },
] as const;

function OrdersEditor(props: { cond: OrderCondition; onChange: (r: Rule) => void }) {
  const c = props.cond;
  const money = MEASURES.find((m) => m.value === c.orders)?.money ?? false;
  const compared = c.comparedTo === "before";
  return (
    <>
      <select
        aria-label="Measure"
        value={c.orders}
        onChange={(e) => {
          const next = MEASURES.find((m) => m.value === e.target.value) ?? MEASURES[0];
          // Orders and money are different units: a new measure starts from a neutral value.
          props.onChange({ ...c, orders: next.value, ...(c.comparedTo ? {} : { value: next.money ? 10000 : 1 }) });
        }}
      >
        {MEASURES.map((m) => (
          <option key={m.value} value={m.value}>
            {m.label}
          </option>
        ))}
      </select>
      in the last
      <input type="number" min={1} aria-label="Window, days" value={windowDays(c.window)} onChange={(e) => props.onChange({ ...c, window: { lastDays: Number(e.target.value) } })} />
      days is
      <select aria-label="Comparison" value={c.op} onChange={(e) => props.onChange({ ...c, op: ORDER_OPS.find((o) => o.value === e.target.value)?.value ?? "gt" })}>
        {ORDER_OPS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {compared ? (
        "before the window"
      ) : (
        <input
          type="number"
          aria-label="Amount"
          step={money ? "0.01" : "1"}
          value={c.value === undefined ? "" : money ? majorOf(c.value) : c.value}
          onChange={(e) => props.onChange({ ...c, value: money ? toMinor(Number(e.target.value)) : Number(e.target.value) })}
        />
      )}
      <label className="inline">
        <input
          type="checkbox"
          checked={compared}
          onChange={(e) => {
            const { value: _v, comparedTo: _c, ...rest } = c;
            props.onChange(e.target.checked ? { ...rest, comparedTo: "before", op: c.op === "eq" ? "lt" : c.op } : { ...rest, value: 0 });
          }}
        />{" "}
        compared with before
      </label>
    </>
  );
}
