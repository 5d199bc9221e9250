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
import { FitQuery, fitModels, type ModelReport } from "./index.ts";

const FILE = fileURLToPath(new URL("../../data/cdnow/CDNOW_sample.txt", import.meta.url));
let t: TestStore;
let ws: Workspace;
let report: ModelReport;
beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "cdnow", "USD");
  await importFile(t.store, ws, FILE, { format: "cdnow", now: () => new Date("1998-07-01T00:00:00Z") });
  report = await fitModels(t.store, ws, parseInput(FitQuery, { calibrationEnd: "1997-09-30" }));
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
    const pn = report.paretoNbd.params;
    expect([pn.r, pn.s].map((v) => Number(v.toFixed(3)))).toEqual([0.553, 0.606]);
    expect(report.paretoNbd.logLikelihood).toBeCloseTo(-9594.98, 1);
    const gg = report.gammaGamma?.params;
    expect(gg && [gg.p, gg.q, gg.gamma].map((v) => Number(v.toFixed(2)))).toEqual([6.25, 3.74, 15.44]);
    expect(report.warnings).toEqual([]);
  });

  it("validate on the holdout: what customers did against what the models expected", () => {
    expect(report.bgNbd.validation.actual).toBe(1882);
    expect(report.paretoNbd.validation.actual).toBe(1882);
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
