/**
 * The segment worker, run by the server: every `pollMs` it re-evaluates the
 * customers whose data changed (so membership follows an event within about
 * a second), and every `fullEveryMs` — or when a scoring run has rewritten
 * the predictions since — it re-evaluates every segment over every customer,
 * which is what moves time-relative rules with no new data. One pass at a
 * time; the timer does not keep the process alive.
 */
import { toAppError, type Clock } from "../shared/index.ts";
import type { Queryable, Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { evaluateSegments, evaluationMoves, pendingChanges, processCustomerChanges } from "./membership.ts";

/** A batch of changed customers slower than this is logged (membership should follow an event within a second). */
const SLOW_BATCH_MS = 1000;

/** Beyond this many waiting marks (an import), one evaluation of everyone is quicker than draining them. */
export const FULL_EVALUATION_BACKLOG = 100_000;

/** Whether a full evaluation is due: a segment never evaluated, one evaluated before `now - everyMs`, or scores newer than it. */
export async function fullEvaluationDue(db: Queryable, ws: Workspace, now: Date, everyMs: number): Promise<boolean> {
  const [row] = await db.query<{ oldest: Date | null; never: boolean; scored: Date | null }>(
    `SELECT min(evaluated_at) AS oldest, bool_or(evaluated_at IS NULL) AS never,
            -- When the newest scores were committed (a run is logged with its start and duration).
            (SELECT max(scored_at + make_interval(secs => seconds)) FROM scoring_runs WHERE workspace_id = $1) AS scored
       FROM segments WHERE workspace_id = $1`,
    [ws.id],
  );
  if (!row || row.never === null) return false; // no segment
  if (row.never || !row.oldest) return true;
  if (now.getTime() - row.oldest.getTime() >= everyMs) return true;
  return row.scored !== null && row.scored > row.oldest;
}

export interface SegmentWorker {
  stop(): void;
  /** Runs one pass now (changes, then a full evaluation if due) and resolves when it is done. */
  tick(): Promise<void>;
  /** Resolves when the pass under way, if any, is done. */
  idle(): Promise<void>;
}

export function scheduleSegments(
  store: Store,
  ws: Workspace,
  clock: Clock,
  options: { pollMs?: number; fullEveryMs: number; log?: (line: string) => void; slowMs?: number },
): SegmentWorker {
  const slowMs = options.slowMs ?? SLOW_BATCH_MS;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  let running: Promise<void> | null = null;
  const pass = async () => {
    try {
      // Drain what changed, a batch per loop; a big backlog (an import) is
      // cheaper as one evaluation of everyone, which also clears the marks.
      const tp = performance.now();
      const backlog = await pendingChanges(store, ws);
      const countMs = performance.now() - tp;
      if (countMs > slowMs) options.log?.(`segments: counting the waiting changes took ${seconds(countMs)}`);
      for (let i = 0; backlog <= FULL_EVALUATION_BACKLOG && i < 100; i++) {
        const t0 = performance.now();
        const r = await processCustomerChanges(store, ws, clock.now());
        // A slow batch is what delays membership: say so, and where the time went, to find the cause.
        const ms = performance.now() - t0;
        if (ms > slowMs) {
          const p = r.phases;
          const slowest = p.segments.slice(0, 2).map((s) => `"${s.name}" ${seconds(s.ms)}`).join(", ");
          options.log?.(
            `segments: ${r.customers} changed customers took ${seconds(ms)} (${r.entered} entered, ${r.exited} left): ` +
              `lock ${seconds(p.lockMs)}, marks ${seconds(p.marksMs)}, rules ${seconds(p.segments.reduce((n, s) => n + s.ms, 0))}${slowest ? ` (slowest ${slowest})` : ""}, commit and the rest ${seconds(ms - p.lockMs - p.marksMs - p.segments.reduce((n, s) => n + s.ms, 0))}`,
          );
        }
        if (r.customers === 0) break;
      }
      const td = performance.now();
      const due = backlog > FULL_EVALUATION_BACKLOG || (await fullEvaluationDue(store, ws, clock.now(), options.fullEveryMs));
      if (performance.now() - td > slowMs) options.log?.(`segments: checking whether a full evaluation is due took ${seconds(performance.now() - td)}`);
      if (due) {
        const r = await evaluateSegments(store, ws, clock.now());
        if (r.moved + r.found > 0) options.log?.(`segments evaluated in ${r.seconds.toFixed(1)} s: ${evaluationMoves(r)}`);
      }
    } catch (err) {
      options.log?.(`segment evaluation failed: ${toAppError(err).message}`);
    }
  };
  const tick = () => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void tick(), options.pollMs ?? 250);
  timer.unref();
  void tick();
  return { stop: () => clearInterval(timer), tick, idle: () => running ?? Promise.resolve() };
}
