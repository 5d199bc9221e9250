/**
 * The journey engine: a pure function. Given a checked journey, one
 * customer's place in it, one input and the time, it returns the new place
 * and the effects to carry out (messages, traits, webhooks, counts). No I/O,
 * no clock, no randomness: a split draws from a hash of the enrolment and the
 * step, so a replay (restart, backtest) takes the same path.
 *
 * The runner persists the state and writes the effects to the outbox in one
 * transaction; a send's idempotency key is the enrolment's key and the step,
 * so carrying out the same step twice cannot send twice.
 */
import { createHash } from "node:crypto";
import { nextLocalTime } from "../shared/index.ts";
import { matchesPropertyFilters } from "../segments/index.ts";
import { durationMs, type CheckedJourney, type EmailContent, type Step } from "./definition.ts";

export type ExitReason = "completed" | "goal" | "holdout" | "exit" | "stopped";

export interface JourneyState {
  /** The step the customer is at; null once done. */
  step: string | null;
  status: "waiting" | "evaluating" | "done";
  /** When a wait ends or a wait for an event times out (ISO). */
  wakeAt: string | null;
  /** The trigger's properties a `waitForEvent … sameAsTrigger` compares with. */
  trigger: Record<string, unknown>;
  exit: ExitReason | null;
}

export type Input =
  | { type: "enter"; properties: Record<string, unknown> }
  | { type: "wake" }
  | { type: "event"; event: string; properties: Record<string, unknown>; at: Date }
  | { type: "condition"; step: string; matched: boolean }
  | { type: "stop" };

export type Effect =
  | { type: "reached"; step: string }
  | { type: "send"; step: string; key: string; channel: "email"; purpose: "marketing" | "transactional"; email: EmailContent }
  | { type: "setTrait"; step: string; key: string; value: unknown }
  | { type: "webhook"; step: string; key: string; url: string }
  | { type: "unsubscribe"; step: string }
  | { type: "awardPoints"; step: string; key: string; points: number; reason: string }
  | { type: "evaluate"; step: string }
  | { type: "split"; step: string; path: string; holdout: boolean }
  | { type: "exited"; reason: ExitReason };

export interface EngineContext {
  journey: CheckedJourney;
  /** Unique per entry of a customer into a journey version: the idempotency keys' root. */
  enrolmentKey: string;
  timeZone: string | null;
}

export interface Advanced {
  state: JourneyState;
  effects: Effect[];
}

export const NOT_ENTERED: JourneyState = { step: null, status: "done", wakeAt: null, trigger: {}, exit: null };

/** A number in [0, 1) drawn from the enrolment and the step. */
export function draw(enrolmentKey: string, step: string): number {
  return createHash("sha256").update(`${enrolmentKey}\u0000${step}`).digest().readUInt32BE(0) / 2 ** 32;
}

function pickPath(step: Extract<Step, { type: "split" }>, u: number) {
  const total = step.paths.reduce((a, p) => a + p.weight, 0);
  let acc = 0;
  for (const p of step.paths) {
    acc += p.weight / total;
    if (u < acc) return p;
  }
  return step.paths[step.paths.length - 1] ?? step.paths[0];
}

function stepOf(ctx: EngineContext, id: string): Step {
  const step = ctx.journey.steps.get(id);
  if (!step) throw new Error(`journey has no step ${id}`);
  return step;
}

/**
 * Moves one customer's state by one input. Steps that take no time run on at
 * once; the walk stops at a wait, a condition to evaluate, or the end.
 */
export function advance(ctx: EngineContext, state: JourneyState, input: Input, now: Date): Advanced {
  const effects: Effect[] = [];
  const finish = (reason: ExitReason): Advanced => {
    effects.push({ type: "exited", reason });
    return { state: { ...state, step: null, status: "done", wakeAt: null, exit: reason }, effects };
  };

  if (input.type === "enter") {
    if (state.status !== "done" || state.exit !== null) return { state, effects };
    return run({ ...state, trigger: input.properties, exit: null }, ctx.journey.definition.start, ctx, now, effects);
  }
  if (state.status === "done" || state.step === null) return { state, effects };
  if (input.type === "stop") return finish("stopped");

  const current = stepOf(ctx, state.step);
  const wakeAt = state.wakeAt ? Date.parse(state.wakeAt) : Number.POSITIVE_INFINITY;

  switch (input.type) {
    case "event": {
      if (ctx.journey.definition.goals.some((g) => g.event === input.event && matchesPropertyFilters(g.where, input.properties))) return finish("goal");
      if (
        current.type === "waitForEvent" &&
        current.event === input.event &&
        input.at.getTime() < wakeAt &&
        matchesPropertyFilters(current.where, input.properties) &&
        (current.sameAsTrigger ?? []).every((k) => JSON.stringify(input.properties[k]) === JSON.stringify(state.trigger[k]))
      ) {
        return next(state, current.next, ctx, now, effects);
      }
      return { state, effects };
    }
    case "wake": {
      if (state.status !== "waiting" || now.getTime() < wakeAt) return { state, effects };
      // The run carries on from when the wait ended, not from when it was
      // noticed: a late pass (a restart, a backlog) keeps the journey's rhythm.
      const at = new Date(wakeAt);
      if (current.type === "waitForEvent") return next(state, current.onTimeout, ctx, at, effects);
      if (current.type === "wait" || current.type === "waitUntil") return next(state, current.next, ctx, at, effects);
      return { state, effects };
    }
    case "condition": {
      if (state.status !== "evaluating" || current.type !== "branch" || input.step !== current.id) return { state, effects };
      return next(state, input.matched ? current.yes : current.no, ctx, now, effects);
    }
  }
}

function next(state: JourneyState, to: string | undefined, ctx: EngineContext, now: Date, effects: Effect[]): Advanced {
  return run(state, to, ctx, now, effects);
}

/** Walks from step `id` until something makes the customer wait. */
function run(state: JourneyState, id: string | undefined, ctx: EngineContext, now: Date, effects: Effect[]): Advanced {
  let at = id;
  // The graph is checked acyclic, so the walk ends within one visit per step.
  for (let guard = 0; guard <= ctx.journey.steps.size; guard += 1) {
    if (at === undefined) break;
    const step = stepOf(ctx, at);
    effects.push({ type: "reached", step: step.id });
    const key = `${ctx.enrolmentKey}:${step.id}`;
    switch (step.type) {
      case "wait":
        return { state: { ...state, step: step.id, status: "waiting", wakeAt: new Date(now.getTime() + durationMs(step.duration)).toISOString() }, effects };
      case "waitUntil":
        return { state: { ...state, step: step.id, status: "waiting", wakeAt: nextLocalTime(now, ctx.timeZone, step.time, step.weekdays).toISOString() }, effects };
      case "waitForEvent":
        return { state: { ...state, step: step.id, status: "waiting", wakeAt: new Date(now.getTime() + durationMs(step.timeout)).toISOString() }, effects };
      case "branch":
        effects.push({ type: "evaluate", step: step.id });
        return { state: { ...state, step: step.id, status: "evaluating", wakeAt: null }, effects };
      case "split": {
        const path = pickPath(step, draw(ctx.enrolmentKey, step.id));
        if (!path) break;
        effects.push({ type: "split", step: step.id, path: path.label, holdout: path.holdout === true });
        if (path.holdout) {
          effects.push({ type: "exited", reason: "holdout" });
          return { state: { ...state, step: null, status: "done", wakeAt: null, exit: "holdout" }, effects };
        }
        at = path.next;
        continue;
      }
      case "send":
        effects.push({ type: "send", step: step.id, key, channel: step.channel, purpose: step.purpose, email: step.email });
        at = step.next;
        continue;
      case "setTrait":
        effects.push({ type: "setTrait", step: step.id, key: step.key, value: step.value });
        at = step.next;
        continue;
      case "webhook":
        effects.push({ type: "webhook", step: step.id, key, url: step.url });
        at = step.next;
        continue;
      case "awardPoints":
        effects.push({ type: "awardPoints", step: step.id, key, points: step.points, reason: step.reason });
        at = step.next;
        continue;
      case "unsubscribe":
        effects.push({ type: "unsubscribe", step: step.id });
        at = step.next;
        continue;
      case "exit":
        effects.push({ type: "exited", reason: "exit" });
        return { state: { ...state, step: null, status: "done", wakeAt: null, exit: "exit" }, effects };
      default: {
        const never: never = step;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
  }
  effects.push({ type: "exited", reason: "completed" });
  return { state: { ...state, step: null, status: "done", wakeAt: null, exit: "completed" }, effects };
}
