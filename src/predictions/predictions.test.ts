/**
 * The models fitted on a shop's own orders, through the real import path:
 * the CDNOW sample imported with `--format cdnow` gives back the published
 * BG/NBD, Pareto/NBD and Gamma-Gamma estimates (Fader, Hardie & Lee 2005).
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { importFile } from "../ingest/index.ts";
import { parseInput } from "../shared/index.ts";
import { FitQuery, PredictQuery, fitModels, latestFit, predictCustomer, saveFit, type ModelReport } from "./index.ts";
import { expectedPurchases, probabilityAlive } from "../models/index.ts";

const FILE = fileURLToPath(new URL("../../data/cdnow/CDNOW_sample.txt", import.meta.url));
let t: TestStore;
let ws: Workspace;
let report: ModelReport;
beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "cdnow", "USD");
  await importFile(t.store, ws, FILE, { format: "cdnow", now: () => new Date("1998-07-01T00:00:00Z") });
  report = await fitModels(t.store, ws, parseInput(FitQuery, { calibrationEnd: "1997-09-30", pareto: true }));
}, 120_000);
afterAll(async () => {
  await t.cleanup();
});

describe("models fitted on the store", () => {
  it("reproduce the published CDNOW estimates from imported orders", () => {
    expect(report).toMatchObject({ unit: "week", customers: 2357, repeatCustomers: 946, calibration: { from: "1997-01-01", to: "1997-09-30" }, holdout: { from: "1997-10-01", to: "1998-06-30" } });
    const bg = report.bgNbd.params;
    expect([bg.r, bg.alpha, bg.a, bg.b].map((v) => Number(v.toFixed(3)))).toEqual([0.243, 4.414, 0.793, 2.426]);
    expect(report.bgNbd.logLikelihood).toBeCloseTo(-9582.4, 1);
    const pn = report.paretoNbd?.params ?? { r: NaN, s: NaN };
    expect([pn.r, pn.s].map((v) => Number(v.toFixed(3)))).toEqual([0.553, 0.606]);
    expect(report.paretoNbd?.logLikelihood).toBeCloseTo(-9594.98, 1);
    const gg = report.gammaGamma?.params;
    expect(gg && [gg.p, gg.q, gg.gamma].map((v) => Number(v.toFixed(2)))).toEqual([6.25, 3.74, 15.44]);
    expect(report.warnings).toEqual([]);
  });

  it("validate on the holdout: what customers did against what the models expected", () => {
    expect(report.bgNbd.validation.actual).toBe(1882);
    expect(report.paretoNbd?.validation.actual).toBe(1882);
    expect(report.bgNbd.validation.predicted).toBeGreaterThan(1600);
    expect(report.bgNbd.validation.tracking).toHaveLength(78);
  });

  it("default to the last quarter of the history as the holdout", async () => {
    const r = await fitModels(t.store, ws, parseInput(FitQuery, {}));
    // 1997-01-01 … 1998-06-30 is 545 days; three quarters of it (408 days) ends the calibration.
    expect(r.calibration).toEqual({ from: "1997-01-01", to: "1998-02-13" });
    expect(r.holdout).toEqual({ from: "1998-02-14", to: "1998-06-30" });
  }, 60_000);

  it("name a calibration end outside the history, and say when there is nothing to fit", async () => {
    await expect(fitModels(t.store, ws, parseInput(FitQuery, { calibrationEnd: "1999-01-01" }))).rejects.toMatchObject({ code: "invalid_input", issues: [{ field: "calibrationEnd" }] });
    const empty = await ensureWorkspace(t.store, "empty", "USD");
    await expect(fitModels(t.store, empty, parseInput(FitQuery, {}))).rejects.toMatchObject({ code: "unprocessable" });
    expect(() => parseInput(FitQuery, { unit: "month" })).toThrow(/unit/);
  });
});

describe("saved fits and a customer's predictions", () => {
  const july1998 = new Date("1998-07-01T00:00:00Z");

  it("needs a fitted model first", async () => {
    const other = await ensureWorkspace(t.store, "unfitted", "USD");
    await expect(latestFit(t.store, other)).rejects.toMatchObject({ code: "not_found" });
  });

  it("stores each fit under the next version, refitted on the whole history", async () => {
    const first = await saveFit(t.store, ws, report, july1998);
    const second = await saveFit(t.store, ws, report, july1998);
    expect(second.version).toBe(first.version + 1);
    expect(second.dataEnd).toBe("1998-06-30");
    // The whole history has more repeat transactions than calibration: the parameters move.
    expect(second.params.bgNbd.r).not.toBeCloseTo(report.bgNbd.params.r, 3);
    expect((await latestFit(t.store, ws)).version).toBe(second.version);
  });

  it("predicts from the customer's own history, as the model's formulas give", async () => {
    const fit = await latestFit(t.store, ws);
    // Customer 4 in the CDNOW sample: purchases on 1997-01-01, 01-18, 08-02 and 12-12.
    const p = await predictCustomer(t.store, ws, parseInput(PredictQuery, { customer: "4", horizon: "365" }), july1998);
    const T = 546 / 7; // 1997-01-01 → 1998-07-01
    const t_x = 345 / 7; // 1997-01-01 → 1997-12-12
    expect(p.summary.x).toBe(3);
    expect(p.summary.t_x).toBeCloseTo(t_x, 9);
    expect(p.summary.T).toBeCloseTo(T, 9);
    expect(p.probabilityAlive).toBeCloseTo(probabilityAlive(fit.params.bgNbd, 3, t_x, T), 12);
    expect(p.expectedPurchases).toBeCloseTo(expectedPurchases(fit.params.bgNbd, 3, t_x, T, 365 / 7), 12);
    expect(p.probabilityAlive).toBeGreaterThan(0);
    expect(p.probabilityAlive).toBeLessThan(1);
    expect(p.expectedNextOrderOn === null || p.expectedNextOrderOn > "1998-07-01").toBe(true);
    expect(p.meaning.join(" ")).toMatch(/likely to still be a customer/);
    expect(p.clv).toBeGreaterThan(0);
    expect(p.clv ?? 0).toBeLessThan((p.expectedAverageOrderValue ?? 0) * p.expectedPurchases + 1e-9); // discounting only lowers it
  });

  it("says when a customer is unknown or has no order, and checks the horizon", async () => {
    await expect(predictCustomer(t.store, ws, parseInput(PredictQuery, { customer: "no-such" }), july1998)).rejects.toMatchObject({ code: "not_found", issues: [{ field: "customer" }] });
    expect(() => parseInput(PredictQuery, { customer: "4", horizon: "0" })).toThrow(/horizon/);
    expect(() => parseInput(PredictQuery, { customer: "4", monthlyDiscountRate: "abc" })).toThrow(/monthlyDiscountRate/);
  });
});
