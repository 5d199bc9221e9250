/**
 * Keeping predictions fresh: the server rescores every customer on a
 * schedule (daily by default), refitting the models first when the newest
 * fit is older than a week or missing. A fit the data refuses does not stop
 * the scoring: stages then come from rhythms alone, and the reason is kept.
 */
import { toAppError, type Clock } from "../shared/index.ts";
import type { Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { FitQuery, fitAndSave } from "./index.ts";
import { findLatestFit } from "./fits.ts";
import { latestScoringRun, refreshScores, type ScoringRun } from "./scores-store.ts";
import { readOrderLog } from "./order-log.ts";

export const REFIT_AFTER_DAYS = 7;

export interface RefreshResult {
  /** The version fitted by this refresh, if it fitted one. */
  fittedVersion: number | null;
  /** Why a needed fit could not be made. */
  fitError: string | null;
  scoring: ScoringRun;
}

/** Refits if the newest fit is stale, then rescores everyone. */
export async function refreshPredictions(store: Store, ws: Workspace, now: Date): Promise<RefreshResult> {
  let fittedVersion: number | null = null;
  let fitError: string | null = null;
  const fit = await findLatestFit(store, ws);
  // One read of the orders for the fit (when due) and the scoring run.
  const log = await readOrderLog(store, ws, now);
  if (!fit || now.getTime() - Date.parse(fit.fittedAt) > REFIT_AFTER_DAYS * 86_400_000) {
    try {
      fittedVersion = (await fitAndSave(store, ws, FitQuery.parse({ unit: fit?.unit ?? "week" }), now, log)).saved.version;
    } catch (err) {
      const e = toAppError(err);
      if (e.code === "internal") throw err;
      fitError = e.message;
    }
  }
  return { fittedVersion, fitError, scoring: await refreshScores(store, ws, now, log) };
}

/** Whether a scoring run is due: none yet, or the last is at least `everyMs` old. */
export function scoringDue(lastRun: Date | null, now: Date, everyMs: number): boolean {
  return lastRun === null || now.getTime() - lastRun.getTime() >= everyMs;
}

/**
 * Checks every `checkMs` whether a run is due and runs it; one run at a
 * time. The timer does not keep the process alive. Returns a stop function.
 */
export function schedulePredictionRefresh(
  store: Store,
  ws: Workspace,
  clock: Clock,
  options: { everyMs: number; checkMs?: number; log?: (line: string) => void },
): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const last = await latestScoringRun(store, ws);
      if (scoringDue(last?.scoredAt ?? null, clock.now(), options.everyMs)) {
        const r = await refreshPredictions(store, ws, clock.now());
        options.log?.(
          `predictions refreshed: ${r.scoring.customers} customers scored in ${r.scoring.seconds.toFixed(1)} s` +
            (r.fittedVersion !== null ? `, model version ${r.fittedVersion} fitted` : "") +
            (r.fitError ? ` (no new fit: ${r.fitError})` : ""),
        );
      }
    } catch (err) {
      options.log?.(`predictions refresh failed: ${toAppError(err).message}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.checkMs ?? 60_000);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
