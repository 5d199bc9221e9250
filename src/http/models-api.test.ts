/**
 * /api/models and the customer scores over real HTTP, on the demo shop:
 * fit, stored scores, customers filtered by stage, a customer's predictions,
 * the lifecycle settings, and the refresh schedule driven by a simulated clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { bearer, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";
import { loadDemo } from "../demo/index.ts";
import { refreshPredictions, refreshScores, scoringDue } from "../predictions/index.ts";

const CUSTOMERS = 400;
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(); // clock: 2026-06-01 12:00 UTC
  await loadDemo(s.store, s.workspace, { customers: CUSTOMERS, end: s.clock.now() });
}, 120_000);
afterAll(async () => {
  await s.close();
});

const api = (path: string) => get(`${s.url}/api${path}`, bearer(s.adminKey));
async function patch(path: string, body: unknown) {
  const res = await fetch(`${s.url}/api${path}`, { method: "PATCH", headers: { "content-type": "application/json", ...bearer(s.adminKey) }, body: JSON.stringify(body) });
  const json: unknown = await res.json();
  return { status: res.status, body: z.record(z.string(), z.unknown()).parse(json) };
}

const Overview = z.object({
  fit: z.object({ version: z.number(), report: z.object({ bgNbd: z.object({ validation: z.object({ tracking: z.array(z.unknown()) }) }) }) }).nullable(),
  scores: z.object({
    run: z.object({ customers: z.number(), modelVersion: z.number().nullable() }).nullable(),
    byStage: z.array(z.object({ stage: z.string(), customers: z.number() })),
    byRfmSegment: z.array(z.object({ segment: z.string(), customers: z.number() })),
    clvDistribution: z.array(z.object({ fromMinor: z.number(), toMinor: z.number(), customers: z.number() })),
  }),
});
const List = z.object({
  total: z.number(),
  items: z.array(z.object({ externalId: z.string(), score: z.object({ stage: z.string(), probabilityAlive: z.number().nullable(), expectedPurchases365: z.number().nullable() }).nullable() })),
});

describe("/api/models", () => {
  it("has no model and no scores before the first fit", async () => {
    const r = await api("/models");
    expect(r.status).toBe(200);
    const o = Overview.parse(r.body);
    expect(o.fit).toBeNull();
    expect(o.scores.run).toBeNull();
  });

  it("refuses a bad fit request, naming the field", async () => {
    const r = await post(`${s.url}/api/models/fit`, { unit: "fortnight" }, bearer(s.adminKey));
    expect(r.status).toBe(400);
    expect(issueFields(r.body)).toEqual(["unit"]);
    const late = await post(`${s.url}/api/models/fit`, { calibrationEnd: "2031-01-01" }, bearer(s.adminKey));
    expect(late.status).toBe(400);
    expect(issueFields(late.body)).toEqual(["calibrationEnd"]);
  });

  it("fits, saves and scores every customer", async () => {
    const r = await post(`${s.url}/api/models/fit`, {}, bearer(s.adminKey));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ saved: { version: 1 }, scoring: { customers: CUSTOMERS, modelVersion: 1 } });
    const o = Overview.parse((await api("/models")).body);
    expect(o.fit?.version).toBe(1);
    expect(o.fit?.report.bgNbd.validation.tracking.length).toBeGreaterThan(10);
    expect(o.scores.run).toMatchObject({ customers: CUSTOMERS, modelVersion: 1 });
    expect(o.scores.byStage.reduce((sum, b) => sum + b.customers, 0)).toBe(CUSTOMERS);
    const prospects = o.scores.byStage.find((b) => b.stage === "prospect")?.customers ?? 0;
    expect(o.scores.byRfmSegment.reduce((sum, b) => sum + b.customers, 0)).toBe(CUSTOMERS - prospects);
    expect(o.scores.clvDistribution).toHaveLength(20);
    expect(o.scores.clvDistribution.reduce((sum, b) => sum + b.customers, 0)).toBe(CUSTOMERS - prospects);
  });
});

describe("GET /api/customers", () => {
  it("filters by stage, and the counts agree with the overview", async () => {
    const o = Overview.parse((await api("/models")).body);
    for (const stage of ["lapsed", "first-time buyer"]) {
      const l = List.parse((await api(`/customers?stage=${encodeURIComponent(stage)}&limit=500`)).body);
      expect(l.total).toBe(o.scores.byStage.find((b) => b.stage === stage)?.customers);
      expect(l.items.every((i) => i.score?.stage === stage)).toBe(true);
    }
  });

  it("searches, pages and sorts", async () => {
    const l = List.parse((await api("/customers?search=demo-0001&limit=5")).body);
    expect(l.total).toBe(10); // demo-00010 … demo-00019
    expect(l.items).toHaveLength(5);
    const page2 = List.parse((await api("/customers?search=demo-0001&limit=5&offset=5")).body);
    expect(page2.items.map((i) => i.externalId)).not.toContain(l.items[0]?.externalId);
    // A search term's wildcards are taken literally.
    expect(List.parse((await api("/customers?search=%25")).body).total).toBe(0);
    const byAlive = List.parse((await api("/customers?sort=probabilityAlive&order=asc&stage=lapsed&limit=20")).body);
    const alive = byAlive.items.map((i) => i.score?.probabilityAlive ?? 1);
    expect(alive).toEqual([...alive].sort((a, b) => a - b));
  });

  it("names a bad filter", async () => {
    const r = await api("/customers?stage=sleepy&limit=0");
    expect(r.status).toBe(400);
    expect(issueFields(r.body).sort()).toEqual(["limit", "stage"]);
  });
});

describe("GET /api/customers/{id}/predictions", () => {
  it("gives the stored scores in words and a fresh prediction that agrees with them", async () => {
    const repeat = List.parse((await api("/customers?stage=repeat&limit=1")).body).items[0];
    if (!repeat) throw new Error("the demo shop has no repeat customer");
    const r = await api(`/customers/${repeat.externalId}/predictions`);
    expect(r.status).toBe(200);
    const body = z
      .object({
        scores: z.object({ stage: z.string(), meaning: z.array(z.string()), probabilityAlive: z.number(), expectedPurchases365: z.number() }),
        prediction: z.object({ probabilityAlive: z.number(), expectedPurchases: z.number(), horizonDays: z.number() }),
      })
      .parse(r.body);
    expect(body.scores.stage).toBe("repeat");
    expect(body.scores.meaning[0]).toMatch(/^A repeat customer/);
    expect(body.prediction.horizonDays).toBe(365);
    expect(body.prediction.probabilityAlive).toBeCloseTo(body.scores.probabilityAlive, 10);
    expect(body.prediction.expectedPurchases).toBeCloseTo(body.scores.expectedPurchases365, 10);
  });

  it("lists the customer's orders newest first", async () => {
    const loyal = List.parse((await api("/customers?stage=loyal&limit=1")).body).items[0];
    const res = await fetch(`${s.url}/api/customers/${loyal?.externalId ?? ""}/orders`, { headers: bearer(s.adminKey) });
    const orders = z.array(z.object({ placedAt: z.string(), totalMinor: z.number(), titles: z.array(z.string()) })).parse(await res.json());
    expect(orders.length).toBeGreaterThanOrEqual(2);
    expect(orders.map((o) => o.placedAt)).toEqual([...orders.map((o) => o.placedAt)].sort().reverse());
  });

  it("refuses a paging cursor the orders list does not have, naming it", async () => {
    const r = await api("/customers/demo-00001/orders?before=5");
    expect(r.status).toBe(400);
    expect(issueFields(r.body)).toEqual(["before"]);
  });

  it("says who is unknown and checks the horizon", async () => {
    expect((await api("/customers/nobody/predictions")).status).toBe(404);
    const r = await api("/customers/demo-00001/predictions?horizon=0");
    expect(r.status).toBe(400);
    expect(issueFields(r.body)).toEqual(["horizon"]);
  });
});

describe("/api/models/settings", () => {
  it("refuses unknown or inconsistent settings, naming the field, and changes nothing", async () => {
    const bad = await patch("/models/settings", { lapsedAfterRhythms: 1 });
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["lapsedAfterRhythms"]);
    const unknown = await patch("/models/settings", { sleepyAfter: 3 });
    expect(issueFields(unknown.body)).toEqual(["sleepyAfter"]);
    expect((await api("/models/settings")).body).toMatchObject({ lapsedAfterRhythms: 3, atRiskAfterRhythms: 1.5 });
  });

  it("applies changed thresholds from the next scoring run", async () => {
    const count = async () => Overview.parse((await api("/models")).body).scores.byStage.find((b) => b.stage === "lapsed")?.customers ?? 0;
    const before = await count();
    const r = await patch("/models/settings", { lapsedAfterRhythms: 6 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ lapsedAfterRhythms: 6, atRiskAfterRhythms: 1.5 });
    expect(await count()).toBe(before);
    expect((await post(`${s.url}/api/models/score`, {}, bearer(s.adminKey))).status).toBe(200);
    expect(await count()).toBeLessThan(before);
  });
});

describe("the refresh schedule", () => {
  it("rescoring is due after the interval, and a stale model is refitted first", async () => {
    const day = 86_400_000;
    expect(scoringDue(null, s.clock.now(), day)).toBe(true);
    expect(scoringDue(new Date(s.clock.now().getTime() - day + 1), s.clock.now(), day)).toBe(false);
    const fresh = await refreshPredictions(s.store, s.workspace, s.clock.now());
    expect(fresh).toMatchObject({ fittedVersion: null, fitError: null, scoring: { customers: CUSTOMERS, modelVersion: 1 } });
    const later = await refreshPredictions(s.store, s.workspace, s.clock.advance(8 * day));
    expect(later).toMatchObject({ fittedVersion: 2, scoring: { modelVersion: 2 } });
    const versions = await fetch(`${s.url}/api/models/versions`, { headers: bearer(s.adminKey) });
    const list = z.array(z.object({ version: z.number(), dataEnd: z.string(), holdout: z.object({ actual: z.number(), predicted: z.number() }).nullable() })).parse(await versions.json());
    expect(list.map((v) => v.version)).toEqual([2, 1]);
    expect(list[0]?.holdout?.actual).toBeGreaterThan(0);
    // Two runs started together (the schedule and a button) both finish, one after the other.
    const both = await Promise.all([refreshScores(s.store, s.workspace, s.clock.now()), refreshScores(s.store, s.workspace, s.clock.now())]);
    expect(both.map((b) => b.customers)).toEqual([CUSTOMERS, CUSTOMERS]);
    const [n] = await s.store.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_scores WHERE workspace_id = $1", [s.workspace.id]);
    expect(n?.n).toBe(CUSTOMERS);
  });
});
