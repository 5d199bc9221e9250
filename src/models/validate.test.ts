/**
 * Holdout validation on the CDNOW sample (Fader, Hardie & Lee 2005 §5): fit
 * BG/NBD and Pareto/NBD on weeks 1–39, predict weeks 40–78, compare with what
 * the customers did — counted here independently from the raw file.
 */
import { readCdnowSample } from "../../test/cdnow-sample.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { dayNumber, expectedPurchasesNewCustomer, fitBgNbd, fitParetoNbd, purchaseDaysOf, summarisePurchases, summaryColumns, validateModel, type BgNbdParams, type Purchase, type Validation } from "./index.ts";

const calibrationEnd = dayNumber("1997-09-30");
const holdoutEnd = dayNumber("1998-06-30");
const purchases: Purchase[] = readCdnowSample();

// Independently: distinct (customer, day) pairs in the holdout, and repeat days overall.
const daysOf = new Map<string, Set<number>>();
for (const p of purchases) daysOf.set(p.customerId, (daysOf.get(p.customerId) ?? new Set<number>()).add(p.day));
let holdoutTransactions = 0;
let allRepeatTransactions = 0;
for (const set of daysOf.values()) {
  holdoutTransactions += [...set].filter((d) => d > calibrationEnd && d <= holdoutEnd).length;
  allRepeatTransactions += set.size - 1;
}

let bg: Validation;
let bgParams: BgNbdParams;
let pareto: Validation;
beforeAll(() => {
  const summaries = summarisePurchases(purchases, { calibrationEnd, unit: "week" });
  bgParams = fitBgNbd(summaries).params;
  bg = validateModel({ kind: "bg-nbd", params: bgParams }, purchases, { unit: "week", calibrationEnd, holdoutEnd });
  pareto = validateModel({ kind: "pareto-nbd", params: fitParetoNbd(summaries).params }, purchases, { unit: "week", calibrationEnd, holdoutEnd });
}, 60_000);

describe("holdout validation on CDNOW", () => {
  it("counts what customers actually did in the holdout", () => {
    expect(bg.customers).toBe(2357);
    expect(bg.holdoutLength).toBe(39);
    expect(bg.actual).toBe(holdoutTransactions);
    expect(bg.tracking.at(-1)?.actual).toBe(allRepeatTransactions);
    expect(bg.byCalibrationFrequency[0]).toMatchObject({ x: "0", customers: 1411 });
    expect(bg.byCalibrationFrequency.reduce((s, g) => s + g.customers, 0)).toBe(2357);
  });

  it("predicts the holdout in aggregate to within 15 %, under-predicting repeat buyers as the paper's Figure 4 shows", () => {
    // Measured: BG/NBD expects 1,653 holdout transactions where customers made 1,882
    // (distinct purchase days); for customers with x ≥ 1 the actual means exceed the
    // conditional expectations, as in Fader, Hardie & Lee (2005), Figure 4.
    for (const v of [bg, pareto]) {
      expect(Math.abs(v.predicted - v.actual) / v.actual).toBeLessThan(0.15);
      expect(v.meanAbsoluteError).toBeGreaterThan(0);
      expect(v.meanAbsoluteError).toBeLessThan(1.5);
    }
    // Conditional expectations rise with calibration frequency, as the actuals do.
    const means = bg.byCalibrationFrequency.map((g) => g.predicted);
    expect(means).toEqual([...means].sort((a, b) => a - b));
  });

  it("tracks cumulative repeat transactions week by week", () => {
    expect(bg.tracking).toHaveLength(78);
    // Cumulative repeat transactions at the end of calibration (week 39) and of the holdout (week 78).
    for (const week of [39, 78]) {
      const t = bg.tracking[week - 1];
      expect(t && Math.abs(t.predicted - t.actual) / t.actual, `week ${week}`).toBeLessThan(0.05);
    }
    const predicted = bg.tracking.map((t) => t.predicted);
    expect(predicted).toEqual([...predicted].sort((a, b) => a - b)); // cumulative
  });

  it("tracks exactly what a customer-by-customer count and the new-customer expectation give, week by week", () => {
    // Brute force, from the raw purchases: customers who bought by the calibration end, their first days and repeat days.
    const firsts: number[] = [];
    const repeatDays: number[] = [];
    for (const set of daysOf.values()) {
      const days = [...set].sort((a, b) => a - b);
      const first = days[0] ?? Infinity;
      if (first > calibrationEnd) continue;
      firsts.push(first);
      repeatDays.push(...days.slice(1).filter((d) => d <= holdoutEnd));
    }
    const start = Math.min(...firsts);
    bg.tracking.forEach(({ period, actual, predicted }) => {
      const end = Math.min(holdoutEnd, start + period * 7 - 1);
      expect(actual, `week ${period}`).toBe(repeatDays.filter((d) => d <= end).length);
      const expected = firsts.reduce((sum, f) => sum + (end > f ? expectedPurchasesNewCustomer(bgParams, (end - f) / 7) : 0), 0);
      expect(predicted / expected, `week ${period}`).toBeCloseTo(1, 10);
    });
  });

  it("gives the same answer from calibration summaries the caller made, and refuses summaries made for another calibration end", () => {
    const pd = purchaseDaysOf(purchases);
    expect(validateModel({ kind: "bg-nbd", params: bgParams }, pd, { unit: "week", calibrationEnd, holdoutEnd }, summaryColumns(pd, { calibrationEnd, unit: "week" }))).toEqual(bg);
    expect(() => validateModel({ kind: "bg-nbd", params: bgParams }, pd, { unit: "week", calibrationEnd, holdoutEnd }, summaryColumns(pd, { calibrationEnd: calibrationEnd - 7, unit: "week" }))).toThrow("not made for this calibration end");
    expect(() => validateModel({ kind: "bg-nbd", params: bgParams }, pd, { unit: "week", calibrationEnd, holdoutEnd }, summaryColumns(pd, { calibrationEnd, unit: "day" }))).toThrow("not made for this calibration end");
  });

  it("refuses a holdout that ends before the calibration", () => {
    expect(() => validateModel({ kind: "bg-nbd", params: { r: 1, alpha: 1, a: 1.5, b: 1 } }, purchases, { unit: "week", calibrationEnd, holdoutEnd: calibrationEnd })).toThrow(RangeError);
  });
});
