/**
 * @module journeys — lifecycle journeys: the definition (zod, versioned), the
 * pure engine `advance(state, input, now)`, the runner that persists each
 * customer's place and writes effects to the outbox in the same transaction,
 * the ready-made journeys, backtests on a simulated clock, and per-step stats.
 */
export { JourneyDefinition, Trigger, Step, Duration, EmailContent, checkJourney, durationMs, successors, type CheckedJourney } from "./definition.ts";
export { advance, draw, NOT_ENTERED, type JourneyState, type Input, type Effect, type ExitReason, type EngineContext, type Advanced } from "./engine.ts";
export { JourneyInput, JourneyPatch, createJourney, updateJourney, getJourney, listJourneys, setJourneyStatus, checkDefinitionIn, type Journey, type JourneyStatus } from "./journeys-store.ts";
export { JourneyRunner, triggers, TRIGGER_MAX_AGE_MS, OVERDUE_GRACE_DAYS, SWEEP_EVERY_MS, type RunResult, type RunnerOptions } from "./runner.ts";
export { READY_MADE, type ReadyMade } from "./ready-made.ts";
export { installReadyMade } from "./install.ts";
export { backtestJourney, type BacktestReport, type BacktestOptions, type Outcome } from "./backtest.ts";
export { journeyStats, customerMessages, type JourneyStats, type StepStats, type MessageView } from "./stats.ts";
export { scheduleJourneys, type JourneyWorker } from "./schedule.ts";
