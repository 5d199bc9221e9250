/**
 * A journey, as JSON: a trigger, who may enter and how often, goal events
 * that end it early, and a graph of steps. Checked with zod, then as a graph
 * (every reference names a step, the start exists, every step is reachable,
 * no cycle) and with the segments' rule checker for conditions, so an error
 * names the node: `steps.3.next: "thanks" is not a step of this journey`.
 *
 *   trigger   { type: "event", event, where? } | { type: "segment", segmentId, on: "enter" | "exit" }
 *           | { type: "date", field: "birthday" | "trait.<key>", offsetDays, at: "HH:MM" }
 *           | { type: "schedule", everyDays, at: "HH:MM", segmentId? }
 *           | { type: "overdue", factor, minOrders }       (past the customer's own rhythm)
 *           | { type: "replenishment", leadDays }          (a bought product about to run out)
 *   steps     wait · waitUntil · waitForEvent · branch · split · send · setTrait · awardPoints · webhook · unsubscribe · exit
 */
import { z } from "zod";
import { AppError, type FieldIssue } from "../shared/index.ts";
import { PropertyFilter, checkRule, type Rule } from "../segments/index.ts";
import { issuesOf } from "../shared/index.ts";

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "must be 1–40 lower-case letters, digits, _ or -, starting with a letter or digit");
const Text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain the NUL character");
const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time of day, HH:MM (24-hour)");
const EventName = Text(200).min(1);

export const Duration = z
  .strictObject({
    days: z.number().int().min(0).max(3660).optional(),
    hours: z.number().int().min(0).max(24 * 3660).optional(),
    minutes: z.number().int().min(0).max(60 * 24 * 3660).optional(),
  })
  .refine((d) => durationMs(d) > 0, "must be longer than zero (days, hours or minutes)");
export type Duration = z.output<typeof Duration>;

export function durationMs(d: { days?: number | undefined; hours?: number | undefined; minutes?: number | undefined }): number {
  return ((d.days ?? 0) * 24 * 60 + (d.hours ?? 0) * 60 + (d.minutes ?? 0)) * 60_000;
}

export const Trigger = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("event"), event: EventName, where: z.array(PropertyFilter).max(20).optional() }),
  z.strictObject({ type: z.literal("segment"), segmentId: z.number().int().positive(), on: z.enum(["enter", "exit"]).default("enter") }),
  z.strictObject({
    type: z.literal("date"),
    field: z.union([z.literal("birthday"), z.string().regex(/^trait\.[A-Za-z0-9_.-]{1,100}$/, 'must be "birthday" or "trait.<key>" holding a date')]),
    offsetDays: z.number().int().min(-365).max(365).default(0).describe("days after the date (negative: before)"),
    at: TimeOfDay.default("09:00").describe("local time in the customer's time zone"),
  }),
  z.strictObject({
    type: z.literal("schedule"),
    everyDays: z.number().int().min(1).max(366),
    at: TimeOfDay.default("09:00").describe("UTC"),
    segmentId: z.number().int().positive().optional().describe("only members of this segment; every customer when absent"),
  }),
  z.strictObject({
    type: z.literal("replenishment"),
    leadDays: z.number().int().min(0).max(60).default(5).describe("days before the product should run out"),
  }),
  z.strictObject({
    type: z.literal("overdue"),
    factor: z.number().min(0.5).max(5).default(1).describe("enter when the time since the last order passes factor × the customer's own mean gap between orders"),
    minOrders: z.number().int().min(2).max(100).default(2).describe("orders needed before a rhythm is trusted"),
  }),
]);
export type Trigger = z.output<typeof Trigger>;

export const Reentry = z.discriminatedUnion("policy", [
  z.strictObject({ policy: z.literal("once") }),
  z.strictObject({ policy: z.literal("oncePer"), days: z.number().int().min(1).max(3660) }),
  z.strictObject({ policy: z.literal("everyTime") }),
]);
export type Reentry = z.output<typeof Reentry>;

export const Goal = z.strictObject({ event: EventName, where: z.array(PropertyFilter).max(20).optional() });
export type Goal = z.output<typeof Goal>;

export const EmailContent = z.strictObject({
  subject: Text(500).min(1),
  preview: Text(500).optional().describe("preheader text shown after the subject in the inbox"),
  body: Text(200_000).min(1).describe("Liquid; MJML sections (wrapped in the house layout) or a whole <mjml> document"),
  text: Text(200_000).optional().describe("Liquid plain-text part; derived from the HTML when absent"),
});
export type EmailContent = z.output<typeof EmailContent>;

const Next = Id.optional().describe("the next step; the journey ends when absent");
const StepBase = { id: Id, label: Text(200).optional() };

export const Step = z.discriminatedUnion("type", [
  z.strictObject({ ...StepBase, type: z.literal("wait"), duration: Duration, next: Next }),
  z.strictObject({
    ...StepBase,
    type: z.literal("waitUntil"),
    time: TimeOfDay.describe("local time in the customer's time zone"),
    weekdays: z.array(z.number().int().min(0).max(6)).min(1).max(7).optional().describe("0 = Sunday; any day when absent"),
    next: Next,
  }),
  z.strictObject({
    ...StepBase,
    type: z.literal("waitForEvent"),
    event: EventName,
    where: z.array(PropertyFilter).max(20).optional(),
    sameAsTrigger: z.array(Text(200).min(1)).max(5).optional().describe("properties that must equal the trigger event's (e.g. cart_id)"),
    timeout: Duration,
    next: Next,
    onTimeout: Id.optional().describe("the step after the timeout; the journey ends when absent"),
  }),
  z.strictObject({ ...StepBase, type: z.literal("branch"), condition: z.unknown(), yes: Next, no: Next }),
  z.strictObject({
    ...StepBase,
    type: z.literal("split"),
    paths: z
      .array(
        z.strictObject({
          label: Text(100).min(1),
          weight: z.number().min(0).max(100),
          next: Next,
          holdout: z.boolean().optional().describe("a holdout gets nothing and is recorded, to measure what the others earned"),
        }),
      )
      .min(2)
      .max(10),
  }),
  z.strictObject({
    ...StepBase,
    type: z.literal("send"),
    channel: z.literal("email"),
    purpose: z.enum(["marketing", "transactional"]).default("marketing"),
    email: EmailContent,
    next: Next,
  }),
  z.strictObject({ ...StepBase, type: z.literal("setTrait"), key: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, _ . -"), value: z.unknown(), next: Next }),
  z.strictObject({ ...StepBase, type: z.literal("webhook"), url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }), next: Next }),
  z.strictObject({
    ...StepBase,
    type: z.literal("awardPoints"),
    points: z.number().int().min(1).max(1_000_000),
    reason: Text(200).min(1).default("journey"),
    next: Next,
  }).describe("credits loyalty points (a birthday gift, a win-back incentive), once per run"),
  z.strictObject({ ...StepBase, type: z.literal("unsubscribe"), next: Next }).describe("withdraws email consent (the sunset at the end of a win-back)"),
  z.strictObject({ ...StepBase, type: z.literal("exit") }),
]);
export type Step = z.output<typeof Step>;

export const JourneyDefinition = z.strictObject({
  trigger: Trigger,
  audience: z.unknown().optional().describe("a segment rule a customer must match to enter"),
  reentry: Reentry.default({ policy: "once" }),
  goals: z.array(Goal).max(10).default([]).describe("events that end the journey early, counted as conversions"),
  start: Id,
  steps: z.array(Step).min(1).max(100),
});
export type JourneyDefinition = z.output<typeof JourneyDefinition>;

/** A checked definition, with its conditions parsed to rules. */
export interface CheckedJourney {
  definition: JourneyDefinition;
  steps: ReadonlyMap<string, Step>;
  audience: Rule | undefined;
  conditions: ReadonlyMap<string, Rule>;
  /** Segments the trigger, audience and conditions refer to. */
  segmentIds: number[];
}

function nextsOf(step: Step): { key: string; id: string }[] {
  const out: { key: string; id: string | undefined }[] = [];
  switch (step.type) {
    case "branch":
      out.push({ key: "yes", id: step.yes }, { key: "no", id: step.no });
      break;
    case "split":
      step.paths.forEach((p, i) => out.push({ key: `paths.${i}.next`, id: p.next }));
      break;
    case "waitForEvent":
      out.push({ key: "next", id: step.next }, { key: "onTimeout", id: step.onTimeout });
      break;
    case "exit":
      break;
    default:
      out.push({ key: "next", id: step.next });
  }
  return out.flatMap((o) => (o.id === undefined ? [] : [{ key: o.key, id: o.id }]));
}

/** The steps a step can lead to. */
export function successors(step: Step): string[] {
  return nextsOf(step).map((n) => n.id);
}

/** Parses and checks a definition; throws `invalid_input` naming every bad node. */
export function checkJourney(input: unknown, prefix = "definition"): CheckedJourney {
  const parsed = JourneyDefinition.safeParse(input);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error, prefix);
    throw new AppError("invalid_input", issues[0] ? `${issues[0].field}: ${issues[0].message}` : `${prefix}: invalid journey`, issues);
  }
  const def = parsed.data;
  const issues: FieldIssue[] = [];
  const steps = new Map<string, Step>();
  def.steps.forEach((s, i) => {
    if (steps.has(s.id)) issues.push({ field: `${prefix}.steps.${i}.id`, message: `"${s.id}" is used by two steps` });
    steps.set(s.id, s);
  });
  if (!steps.has(def.start)) issues.push({ field: `${prefix}.start`, message: `"${def.start}" is not a step of this journey` });
  def.steps.forEach((s, i) => {
    for (const n of nextsOf(s)) if (!steps.has(n.id)) issues.push({ field: `${prefix}.steps.${i}.${n.key}`, message: `"${n.id}" is not a step of this journey` });
    if (s.type === "split" && s.paths.reduce((a, p) => a + p.weight, 0) <= 0) issues.push({ field: `${prefix}.steps.${i}.paths`, message: "weights must add up to more than zero" });
    if (s.type === "setTrait" && (s.value === undefined || JSON.stringify(s.value).length > 10_000)) issues.push({ field: `${prefix}.steps.${i}.value`, message: "is required (JSON up to 10,000 characters)" });
  });
  const segmentIds = new Set<number>();
  if (def.trigger.type === "segment") segmentIds.add(def.trigger.segmentId);
  if (def.trigger.type === "schedule" && def.trigger.segmentId !== undefined) segmentIds.add(def.trigger.segmentId);
  const conditions = new Map<string, Rule>();
  let audience: Rule | undefined;
  const rule = (value: unknown, field: string): Rule | undefined => {
    try {
      const checked = checkRule(value, field);
      for (const id of checked.dependsOn) segmentIds.add(id);
      return checked.rule;
    } catch (err) {
      if (err instanceof AppError) issues.push(...err.issues);
      else throw err;
      return undefined;
    }
  };
  if (def.audience !== undefined) audience = rule(def.audience, `${prefix}.audience`);
  def.steps.forEach((s, i) => {
    if (s.type !== "branch") return;
    const r = rule(s.condition, `${prefix}.steps.${i}.condition`);
    if (r) conditions.set(s.id, r);
  });
  if (issues.length === 0) {
    // Every step reachable from the start, and no cycle: `advance` walks the
    // graph in one call and must end.
    const state = new Map<string, "open" | "done">();
    const visit = (id: string, path: string[]): void => {
      const seen = state.get(id);
      if (seen === "done") return;
      if (seen === "open") {
        issues.push({ field: `${prefix}.steps`, message: `steps ${[...path.slice(path.indexOf(id)), id].join(" → ")} form a cycle` });
        return;
      }
      state.set(id, "open");
      const step = steps.get(id);
      if (step) for (const n of successors(step)) visit(n, [...path, id]);
      state.set(id, "done");
    };
    visit(def.start, []);
    def.steps.forEach((s, i) => {
      if (!state.has(s.id)) issues.push({ field: `${prefix}.steps.${i}.id`, message: `"${s.id}" cannot be reached from the start` });
    });
  }
  if (issues.length > 0) {
    const first = issues[0];
    throw new AppError("invalid_input", first ? `${first.field}: ${first.message}` : `${prefix}: invalid journey`, issues);
  }
  return { definition: def, steps, audience, conditions, segmentIds: [...segmentIds].sort((a, b) => a - b) };
}
