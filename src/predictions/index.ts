/**
 * @module predictions — the models of src/models fitted on a shop's own
 * orders: purchases read from the store, a calibration/holdout split (the
 * last quarter of the history by default), BG/NBD, Pareto/NBD and
 * Gamma-Gamma fitted on the calibration period and validated on the holdout.
 * Not yet: storing fits and per-customer predictions, the schedule, the API
 * and the pages (issue 4).
 */
import { z } from "zod";
import { AppError, minorDigits } from "../shared/index.ts";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { CalendarDay } from "../metrics/index.ts";
import {
  dayNumber,
  fitBgNbd,
  fitGammaGamma,
  fitParetoNbd,
  summarisePurchases,
  validateModel,
  type BgNbdParams,
  type FitResult,
  type GammaGammaParams,
  type ParetoNbdParams,
  type Purchase,
  type Validation,
} from "../models/index.ts";

export const FitQuery = z.object({
  unit: z.enum(["day", "week"]).default("week"),
  /** Last day of the calibration period; default: three quarters of the way through the history. */
  calibrationEnd: CalendarDay.optional(),
});
export type FitQuery = z.input<typeof FitQuery>;

export interface ModelReport {
  unit: "day" | "week";
  currency: string;
  calibration: { from: string; to: string };
  holdout: { from: string; to: string };
  customers: number;
  /** Customers with at least one repeat transaction in calibration. */
  repeatCustomers: number;
  bgNbd: FitResult<BgNbdParams> & { validation: Validation };
  paretoNbd: FitResult<ParetoNbdParams> & { validation: Validation };
  /** Fitted on the repeat customers' mean repeat-transaction value (currency units). */
  gammaGamma: FitResult<GammaGammaParams> | null;
  /** What makes the figures less trustworthy, in plain words. */
  warnings: string[];
}

const dayText = (n: number) => new Date(n * 86_400_000).toISOString().slice(0, 10);

/** The workspace's purchases by known customers, in its currency (amounts in currency units). */
async function purchasesOf(db: Queryable, ws: Workspace): Promise<Purchase[]> {
  const rows = await db.query<{ customer_id: number; day: string; amount: number }>(
    `SELECT customer_id, to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, total_minor AS amount
       FROM orders WHERE workspace_id = $1 AND customer_id IS NOT NULL AND currency = $2 AND status <> ALL($3::text[])`,
    [ws.id, ws.currency, [...NON_PURCHASE_STATUSES]],
  );
  const scale = 10 ** minorDigits(ws.currency);
  return rows.map((r) => ({ customerId: String(r.customer_id), day: dayNumber(r.day), amount: r.amount / scale }));
}

export async function fitModels(db: Queryable, ws: Workspace, query: z.output<typeof FitQuery>): Promise<ModelReport> {
  const purchases = await purchasesOf(db, ws);
  if (purchases.length === 0) throw new AppError("unprocessable", "there are no orders by known customers to fit the models on; import some first");
  const first = Math.min(...purchases.map((p) => p.day));
  const last = Math.max(...purchases.map((p) => p.day));
  const calibrationEnd = query.calibrationEnd ? dayNumber(query.calibrationEnd) : first + Math.floor(0.75 * (last - first));
  if (calibrationEnd <= first || calibrationEnd >= last) {
    throw new AppError("invalid_input", `calibrationEnd: must fall between the first order (${dayText(first)}) and the last (${dayText(last)}), exclusive`, [
      { field: "calibrationEnd", message: `must be after ${dayText(first)} and before ${dayText(last)}` },
    ]);
  }
  const options = { unit: query.unit, calibrationEnd, holdoutEnd: last };
  const summaries = summarisePurchases(purchases, { unit: query.unit, calibrationEnd });
  const repeaters = summaries.filter((s) => s.x > 0);
  const warnings: string[] = [];
  const bg = fitBgNbd(summaries);
  const pareto = fitParetoNbd(summaries);
  const spenders = repeaters.filter((s) => s.m_x > 0).map((s) => ({ x: s.x, m_x: s.m_x }));
  const gg = spenders.length >= 2 ? fitGammaGamma(spenders) : null;
  if (repeaters.length < 100) {
    warnings.push(`Only ${repeaters.length} customers bought more than once in the calibration period: too few for stable estimates (aim for several hundred). Treat every figure as a rough guess.`);
  }
  const flat = (name: string, f: { hessianPositiveDefinite: boolean; converged: boolean }) => {
    if (!f.hessianPositiveDefinite) warnings.push(`${name}: the likelihood is flat around the estimate, so the parameters are not identified by this data (no standard errors).`);
    else if (!f.converged) warnings.push(`${name}: the optimiser did not settle; the estimate may not be the best one.`);
  };
  flat("BG/NBD", bg);
  flat("Pareto/NBD", pareto);
  if (gg) flat("Gamma-Gamma", gg);
  else warnings.push("Gamma-Gamma: fewer than two repeat customers with a spend; no spend model.");
  return {
    unit: query.unit,
    currency: ws.currency,
    calibration: { from: dayText(first), to: dayText(calibrationEnd) },
    holdout: { from: dayText(calibrationEnd + 1), to: dayText(last) },
    customers: summaries.length,
    repeatCustomers: repeaters.length,
    bgNbd: { ...bg, validation: validateModel({ kind: "bg-nbd", params: bg.params }, purchases, options) },
    paretoNbd: { ...pareto, validation: validateModel({ kind: "pareto-nbd", params: pareto.params }, purchases, options) },
    gammaGamma: gg,
    warnings,
  };
}
