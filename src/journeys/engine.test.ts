/**
 * The pure engine and the definition checks, as tables: no database, no
 * clock, no sleeping. Each row is a journey, a list of inputs at times, and
 * where the customer must end up with which effects.
 */
import { describe, expect, it } from "vitest";
import { AppError } from "../shared/index.ts";
import { advance, checkJourney, draw, NOT_ENTERED, READY_MADE, type Effect, type Input, type JourneyState } from "./index.ts";

const T0 = Date.parse("2026-05-04T10:00:00Z"); // a Monday
const H = 3_600_000;
const D = 24 * H;
const mail = (subject: string) => ({ subject, body: "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>" });

function run(definition: unknown, inputs: [number, Input][], timeZone: string | null = null, key = "j:1:42:e1") {
  const journey = checkJourney(definition);
  let state: JourneyState = NOT_ENTERED;
  const effects: { at: number; effect: Effect }[] = [];
  for (const [at, input] of inputs) {
    const r = advance({ journey, enrolmentKey: key, timeZone }, state, input, new Date(at));
    state = r.state;
    for (const e of r.effects) effects.push({ at, effect: e });
  }
  const sends = effects.flatMap((e) => (e.effect.type === "send" ? [`${e.effect.step}@${(e.at - T0) / H}h`] : []));
  return { state, effects, sends };
}

const enter: Input = { type: "enter", properties: { cart_id: "c1" } };
const wake: Input = { type: "wake" };
const ev = (event: string, at: number, properties: Record<string, unknown> = {}): Input => ({ type: "event", event, properties, at: new Date(at) });

const cart = {
  trigger: { type: "event", event: "Product Added" },
  goals: [{ event: "Order Completed" }],
  start: "checkout",
  steps: [
    { id: "checkout", type: "waitForEvent", event: "Checkout Started", sameAsTrigger: ["cart_id"], timeout: { hours: 1 }, next: "done", onTimeout: "remind" },
    { id: "remind", type: "send", channel: "email", email: mail("Your cart"), next: "wait" },
    { id: "wait", type: "wait", duration: { days: 1 }, next: "again" },
    { id: "again", type: "send", channel: "email", email: mail("Still there") },
    { id: "done", type: "exit" },
  ],
};

describe("advance", () => {
  it.each([
    ["timeout → reminder, a day later the second", [[T0, enter], [T0 + H, wake], [T0 + 25 * H, wake]] as [number, Input][], ["remind@1h", "again@25h"], "completed"],
    ["an early wake changes nothing", [[T0, enter], [T0 + H / 2, wake], [T0 + H, wake]] as [number, Input][], ["remind@1h"], null],
    ["checkout of the same cart in time → no reminder", [[T0, enter], [T0 + H / 2, ev("Checkout Started", T0 + H / 2, { cart_id: "c1" })], [T0 + H, wake]] as [number, Input][], [], "exit"],
    ["checkout of another cart does not count", [[T0, enter], [T0 + H / 2, ev("Checkout Started", T0 + H / 2, { cart_id: "c2" })], [T0 + H, wake]] as [number, Input][], ["remind@1h"], null],
    ["an order (goal) ends it at once", [[T0, enter], [T0 + H, wake], [T0 + 2 * H, ev("Order Completed", T0 + 2 * H)], [T0 + 30 * H, wake]] as [number, Input][], ["remind@1h"], "goal"],
    ["an event that happened after the timeout does not count, even when it arrives before the wake", [[T0, enter], [T0 + 2 * H, ev("Checkout Started", T0 + 2 * H, { cart_id: "c1" })], [T0 + 2 * H, wake]] as [number, Input][], ["remind@2h"], null],
  ])("abandoned cart: %s", (_, inputs, sends, exit) => {
    const r = run(cart, inputs);
    expect(r.sends).toEqual(sends);
    expect(r.state.exit).toBe(exit);
  });

  it("sends carry an idempotency key made of the enrolment and the step", () => {
    const r = run(cart, [[T0, enter], [T0 + H, wake]]);
    const send = r.effects.find((e) => e.effect.type === "send")?.effect;
    expect(send).toMatchObject({ type: "send", key: "j:1:42:e1:remind", purpose: "marketing" });
  });

  it("a branch stops to be evaluated, then takes the side it is told", () => {
    const def = {
      trigger: { type: "event", event: "X" },
      start: "b",
      steps: [
        { id: "b", type: "branch", condition: { field: "orderCount", op: "eq", value: 0 }, yes: "y", no: "n" },
        { id: "y", type: "send", channel: "email", email: mail("yes") },
        { id: "n", type: "send", channel: "email", email: mail("no") },
      ],
    };
    const first = run(def, [[T0, enter]]);
    expect(first.state.status).toBe("evaluating");
    expect(first.effects.map((e) => e.effect.type)).toContain("evaluate");
    expect(run(def, [[T0, enter], [T0, { type: "condition", step: "b", matched: true }]]).sends).toEqual(["y@0h"]);
    expect(run(def, [[T0, enter], [T0, { type: "condition", step: "b", matched: false }]]).sends).toEqual(["n@0h"]);
  });

  it("waits until a local time of day, in the customer's time zone", () => {
    const def = { trigger: { type: "event", event: "X" }, start: "w", steps: [{ id: "w", type: "waitUntil", time: "09:00", next: "s" }, { id: "s", type: "send", channel: "email", email: mail("morning") }] };
    // 10:00 UTC is 12:00 in Paris (summer time): the next 09:00 there is tomorrow 07:00 UTC.
    expect(run(def, [[T0, enter]], "Europe/Paris").state.wakeAt).toBe("2026-05-05T07:00:00.000Z");
    // In New York it is 06:00: 09:00 is today, 13:00 UTC.
    expect(run(def, [[T0, enter]], "America/New_York").state.wakeAt).toBe("2026-05-04T13:00:00.000Z");
    const weekdays = { ...def, steps: [{ id: "w", type: "waitUntil", time: "09:00", weekdays: [6], next: "s" }, def.steps[1]] };
    expect(run(weekdays, [[T0, enter]], "UTC").state.wakeAt).toBe("2026-05-09T09:00:00.000Z"); // the Saturday
  });

  it("a split draws the same path for the same enrolment, shares traffic by weight, and a holdout gets nothing", () => {
    const def = {
      trigger: { type: "event", event: "X" },
      start: "split",
      steps: [
        { id: "split", type: "split", paths: [{ label: "A", weight: 45, next: "a" }, { label: "B", weight: 45, next: "b" }, { label: "holdout", weight: 10, holdout: true }] },
        { id: "a", type: "send", channel: "email", email: mail("A") },
        { id: "b", type: "send", channel: "email", email: mail("B") },
      ],
    };
    const counts = { A: 0, B: 0, holdout: 0 };
    for (let i = 0; i < 4000; i += 1) {
      const r = run(def, [[T0, enter]], null, `j:1:${i}:e`);
      const split = r.effects.find((e) => e.effect.type === "split")?.effect;
      if (split?.type !== "split") throw new Error("no split");
      counts[split.holdout ? "holdout" : split.path === "A" ? "A" : "B"] += 1;
      if (split.holdout) {
        expect(r.sends).toEqual([]);
        expect(r.state.exit).toBe("holdout");
      }
    }
    expect(counts.holdout / 4000).toBeGreaterThan(0.08);
    expect(counts.holdout / 4000).toBeLessThan(0.12);
    expect(Math.abs(counts.A - counts.B) / 4000).toBeLessThan(0.05);
    expect(draw("k", "split")).toBe(draw("k", "split"));
  });

  it("set trait, webhook and unsubscribe are effects; a done journey ignores everything", () => {
    const def = {
      trigger: { type: "event", event: "X" },
      start: "t",
      steps: [
        { id: "t", type: "setTrait", key: "vip", value: true, next: "h" },
        { id: "h", type: "webhook", url: "https://example.com/hook", next: "u" },
        { id: "u", type: "unsubscribe" },
      ],
    };
    const r = run(def, [[T0, enter], [T0 + D, wake], [T0 + D, ev("X", T0 + D)]]);
    expect(r.effects.map((e) => e.effect.type)).toEqual(["reached", "setTrait", "reached", "webhook", "reached", "unsubscribe", "exited"]);
    expect(r.state).toMatchObject({ status: "done", exit: "completed" });
  });

  it("stop ends a run; entering twice does nothing the second time", () => {
    const r = run(cart, [[T0, enter], [T0, { type: "stop" }], [T0 + H, wake]]);
    expect(r.state.exit).toBe("stopped");
    expect(r.sends).toEqual([]);
    const twice = run(cart, [[T0, enter], [T0 + 1, enter], [T0 + H, wake]]);
    expect(twice.sends).toEqual(["remind@1h"]);
  });
});

describe("checkJourney", () => {
  const ok = { trigger: { type: "event", event: "X" }, start: "a", steps: [{ id: "a", type: "send", channel: "email", email: mail("a") }] };
  it.each([
    ["an unknown next step", { ...ok, steps: [{ ...ok.steps[0], next: "nope" }] }, "definition.steps.0.next"],
    ["an unknown start", { ...ok, start: "nope" }, "definition.start"],
    ["two steps with one id", { ...ok, steps: [{ ...ok.steps[0], next: "a" }, ok.steps[0]] }, "definition.steps.1.id"],
    [
      "a cycle",
      { ...ok, steps: [{ id: "a", type: "wait", duration: { days: 1 }, next: "b" }, { id: "b", type: "wait", duration: { days: 1 }, next: "a" }] },
      "definition.steps",
    ],
    ["an unreachable step", { ...ok, steps: [ok.steps[0], { id: "b", type: "exit" }] }, "definition.steps.1.id"],
    ["a zero wait", { ...ok, steps: [{ id: "a", type: "wait", duration: {} }] }, "definition.steps.0.duration"],
    ["a bad condition, named by its path", { ...ok, steps: [{ id: "a", type: "branch", condition: { field: "orderCount", op: "contains", value: "x" } }] }, "definition.steps.0.condition.op"],
    ["an unknown trigger", { ...ok, trigger: { type: "moon" } }, "definition.trigger.type"],
    ["a bad time of day", { ...ok, trigger: { type: "date", field: "birthday", at: "25:00" } }, "definition.trigger.at"],
    ["a split with no weight", { ...ok, steps: [{ id: "a", type: "split", paths: [{ label: "x", weight: 0 }, { label: "y", weight: 0 }] }] }, "definition.steps.0.paths"],
    ["a webhook that is not http", { ...ok, steps: [{ id: "a", type: "webhook", url: "ftp://x" }] }, "definition.steps.0.url"],
    ["an unknown field", { ...ok, colour: "red" }, "definition.colour"],
  ])("refuses %s, naming %s", (_, def, field) => {
    let error: unknown;
    try {
      checkJourney(def);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppError);
    if (error instanceof AppError) {
      expect(error.code).toBe("invalid_input");
      expect(error.issues.map((i) => i.field)).toContain(field);
    }
  });

  it.each(READY_MADE.map((r) => [r.key, r] as const))("the ready-made %s journey is valid", (_, r) => {
    // A built-in segment's id is filled in at install (installReadyMade).
    const def = r.definition.trigger.type === "segment" ? { ...r.definition, trigger: { ...r.definition.trigger, segmentId: 1 } } : r.definition;
    expect(() => checkJourney(def)).not.toThrow();
  });
});
