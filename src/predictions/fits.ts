/**
 * Reading saved model versions (model_fits). One query serves "the newest
 * fit" wherever it is needed — predicting, scoring, the schedule, the API —
 * with or without its validation report.
 */
import { z } from "zod";
import { AppError, parseInput } from "../shared/index.ts";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import type { BgNbdParams, GammaGammaParams } from "../models/index.ts";

export interface PredictionParams {
  bgNbd: BgNbdParams;
  gammaGamma: GammaGammaParams | null;
}

export interface SavedFit {
  version: number;
  fittedAt: string;
  unit: "day" | "week";
  dataEnd: string;
  params: PredictionParams;
}

const SavedParams = z.object({
  bgNbd: z.object({ r: z.number(), alpha: z.number(), a: z.number(), b: z.number() }),
  gammaGamma: z.object({ p: z.number(), q: z.number(), gamma: z.number() }).nullable(),
});

/**
 * The newest saved fit, or null before the first fit. `withReport` adds its
 * calibration/holdout report (tens of KB of JSON: only the API's model view
 * needs it); otherwise `report` is null.
 */
export async function findLatestFit(db: Queryable, ws: Workspace, options: { withReport?: boolean } = {}): Promise<(SavedFit & { report: unknown }) | null> {
  const [row] = await db.query<{ version: number; fitted_at: Date; unit: string; data_end: string; params: unknown; report: unknown }>(
    `SELECT version, fitted_at, unit, to_char(data_end, 'YYYY-MM-DD') AS data_end, params, CASE WHEN $2 THEN report END AS report
       FROM model_fits WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1`,
    [ws.id, options.withReport === true],
  );
  if (!row) return null;
  return {
    version: row.version,
    fittedAt: row.fitted_at.toISOString(),
    unit: row.unit === "day" ? "day" : "week",
    dataEnd: row.data_end,
    params: parseInput(SavedParams, row.params),
    report: row.report,
  };
}

/** The newest saved fit (without its report); not_found before the first fit. */
export async function latestFit(db: Queryable, ws: Workspace): Promise<SavedFit> {
  const fit = await findLatestFit(db, ws);
  if (!fit) throw new AppError("not_found", "no model has been fitted yet: run `fidelio models fit` first");
  return fit;
}
