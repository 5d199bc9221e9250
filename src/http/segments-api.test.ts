/**
 * /api/segments over real HTTP on the demo shop: built-ins, the field
 * catalogue, previews, create/change/delete, members a page at a time, size
 * over time, streamed exports, and the worker following a tracked event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { basic, bearer, count, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";
import { loadDemo } from "../demo/index.ts";
import { refreshPredictions } from "../predictions/index.ts";
import { ensureBuiltInSegments, evaluateSegments, scheduleSegments } from "../segments/index.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(); // clock: 2026-06-01 12:00 UTC
  await loadDemo(s.store, s.workspace, { customers: 300, end: s.clock.now() });
  await refreshPredictions(s.store, s.workspace, s.clock.now());
  await ensureBuiltInSegments(s.store, s.workspace, s.clock.now());
  await evaluateSegments(s.store, s.workspace, s.clock.now());
}, 120_000);
afterAll(async () => {
  await s.close();
});

const api = (path: string) => get(`${s.url}/api${path}`, bearer(s.adminKey));
const send = (method: string, path: string, body?: unknown) =>
  fetch(`${s.url}/api${path}`, { method, headers: { "content-type": "application/json", ...bearer(s.adminKey) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

const SegmentList = z.array(z.object({ id: z.number(), name: z.string(), builtIn: z.string().nullable(), size: z.number(), evaluatedAt: z.string().nullable() }));
const Members = z.object({ total: z.number(), items: z.array(z.object({ customerId: z.number(), externalId: z.string(), orders: z.number() })), next: z.number().nullable() });

describe("/api/segments", () => {
  it("lists the nine built-ins, evaluated, with sizes that match the data", async () => {
    const r = await api("/segments");
    expect(r.status).toBe(200);
    const list = SegmentList.parse(Object.values(r.body));
    expect(list).toHaveLength(9);
    expect(list.every((x) => x.evaluatedAt !== null)).toBe(true);
    const oneTime = list.find((x) => x.builtIn === "one-time-buyers");
    const expected = await count(s.store, "SELECT count(*) AS n FROM customer_rollups WHERE workspace_id = $1 AND order_count = 1", [s.workspace.id]);
    expect(oneTime?.size).toBe(expected);
    expect(expected).toBeGreaterThan(10);
    const subscribers = list.find((x) => x.builtIn === "subscribers-never-bought");
    const neverBought = await count(
      s.store,
      `SELECT count(*) AS n FROM customers c JOIN customer_consents k ON k.customer_id = c.id AND k.channel = 'email' AND k.granted
        LEFT JOIN customer_rollups r ON r.customer_id = c.id WHERE c.workspace_id = $1 AND COALESCE(r.order_count, 0) = 0`,
      [s.workspace.id],
    );
    expect(subscribers?.size).toBe(neverBought);
  });

  it("describes the fields a rule can use", async () => {
    const r = await api("/segments/fields");
    const fields = z.object({ fields: z.array(z.object({ name: z.string(), type: z.string(), operators: z.array(z.string()) })) }).parse(r.body).fields;
    expect(fields.find((f) => f.name === "orderCount")).toMatchObject({ type: "number", operators: expect.arrayContaining(["gte", "between"]) });
    expect(fields.find((f) => f.name === "consent.ads")).toMatchObject({ type: "consent" });
  });

  it("previews a draft rule without saving it, and names the bad node of a bad one", async () => {
    const r = await post(`${s.url}/api/segments/preview`, { rule: { field: "orderCount", op: "gte", value: 3 }, sample: 5 }, bearer(s.adminKey));
    expect(r.status).toBe(200);
    const expected = await count(s.store, "SELECT count(*) AS n FROM customer_rollups WHERE workspace_id = $1 AND order_count >= 3", [s.workspace.id]);
    expect(r.body).toMatchObject({ count: expected, sample: expect.any(Array) });
    expect(z.array(z.unknown()).parse(r.body.sample)).toHaveLength(Math.min(5, expected));
    const bad = await post(`${s.url}/api/segments/preview`, { rule: { all: [{ field: "orderCount", op: "before", value: "2026-01-01" }] } }, bearer(s.adminKey));
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["rule.all.0.op"]);
    const empty = await post(`${s.url}/api/segments`, { name: "" }, bearer(s.adminKey));
    expect(empty.status).toBe(400);
    expect(issueFields(empty.body).sort()).toEqual(["name", "rule"]);
  });

  let id = 0;
  it("creates, pages through members, renames and deletes a segment", async () => {
    const made = await post(`${s.url}/api/segments`, { name: "Two orders", rule: { field: "orderCount", op: "gte", value: 2 } }, bearer(s.adminKey));
    expect(made.status).toBe(201);
    id = z.object({ id: z.number(), size: z.number() }).parse(made.body).id;
    const size = z.number().parse(made.body.size);
    expect(size).toBe(await count(s.store, "SELECT count(*) AS n FROM customer_rollups WHERE workspace_id = $1 AND order_count >= 2", [s.workspace.id]));

    const first = Members.parse((await api(`/segments/${id}/members?limit=7`)).body);
    expect(first.total).toBe(size);
    expect(first.items).toHaveLength(7);
    const second = Members.parse((await api(`/segments/${id}/members?limit=7&after=${first.next}`)).body);
    expect(second.items[0]?.customerId).toBeGreaterThan(first.items[6]?.customerId ?? Infinity);
    expect((await api(`/segments/${id}/members?limit=0`)).status).toBe(400);
    const listed = await api(`/customers?segment=${id}&limit=1`);
    expect(listed.body.total).toBe(size);

    const renamed = await send("PATCH", `/segments/${id}`, { name: "Repeat buyers (2+)" });
    expect(renamed.status).toBe(200);
    expect((await api(`/segments/${id}`)).body).toMatchObject({ name: "Repeat buyers (2+)", size });
    const taken = await send("PATCH", `/segments/${id}`, { name: "One-time buyers" });
    expect(taken.status).toBe(409);
  });

  it("shows size over time", async () => {
    const r = await api(`/segments/${id}/history?days=3`);
    const days = z.object({ days: z.array(z.object({ day: z.string(), size: z.number() })) }).parse(r.body).days;
    expect(days.map((d) => d.day)).toEqual(["2026-05-30", "2026-05-31", "2026-06-01"]);
    expect(days[2]?.size).toBeGreaterThan(0);
    expect(days[0]?.size).toBe(0);
  });

  it("streams a CSV and a hashed audience", async () => {
    const csv = await fetch(`${s.url}/api/segments/${id}/export?format=csv&columns=externalId,email,orders`, { headers: bearer(s.adminKey) });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.headers.get("content-disposition")).toBe('attachment; filename="repeat-buyers-2.csv"');
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe("externalId,email,orders");
    const size = z.number().parse((await api(`/segments/${id}`)).body.size);
    expect(lines).toHaveLength(size + 1);

    const audience = await fetch(`${s.url}/api/segments/${id}/export?format=audience&platform=meta`, { headers: bearer(s.adminKey) });
    const rows = (await audience.text()).trim().split("\r\n");
    expect(rows[0]).toBe("email,phone");
    const consenting = await count(
      s.store,
      `SELECT count(*) AS n FROM segment_memberships m JOIN customer_consents k ON k.customer_id = m.customer_id AND k.channel = 'ads' AND k.granted
        WHERE m.segment_id = $1 AND m.exited_at IS NULL`,
      [id],
    );
    expect(consenting).toBeGreaterThan(0);
    expect(rows).toHaveLength(consenting + 1);
    for (const row of rows.slice(1)) expect(row).toMatch(/^[0-9a-f]{64},([0-9a-f]{64})?$/);

    const bad = await api(`/segments/${id}/export?format=audience&platform=myspace`);
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["platform"]);
  });

  it("are described in the OpenAPI document, with the rule schema of their bodies", async () => {
    const doc = await get(`${s.url}/api/openapi.json`);
    const paths = Object.keys(Object(doc.body.paths));
    for (const p of ["/api/segments", "/api/segments/fields", "/api/segments/preview", "/api/segments/evaluate", "/api/segments/{id}", "/api/segments/{id}/members", "/api/segments/{id}/history", "/api/segments/{id}/export", "/api/customers/{externalId}/segments"]) {
      expect(paths).toContain(p);
    }
    const components = z.object({ schemas: z.object({ SegmentRule: z.object({ anyOf: z.array(z.unknown()) }) }) }).parse(doc.body.components);
    expect(JSON.stringify(components.schemas.SegmentRule)).toContain('"$ref":"#/components/schemas/SegmentRule"');
    expect(JSON.stringify(components.schemas.SegmentRule)).toContain("comparedTo");
    expect(JSON.stringify(Object(doc.body.paths)["/api/segments/preview"])).toContain('"rule":{"$ref":"#/components/schemas/SegmentRule"}');
  });

  it("refuses bad ids and deletes", async () => {
    expect((await api("/segments/abc")).status).toBe(400);
    expect((await api("/segments/99999")).status).toBe(404);
    expect((await send("DELETE", `/segments/${id}`)).status).toBe(204);
    expect((await api(`/segments/${id}`)).status).toBe(404);
  });
});

describe("the segment worker", () => {
  it("puts a customer who adds to cart into the abandoned-cart segment on its next pass", async () => {
    // slowMs 0: every pass is "slow", so the log shows where each one's time went.
    const lines: string[] = [];
    const worker = scheduleSegments(s.store, s.workspace, s.clock, { fullEveryMs: 3_600_000, pollMs: 3_600_000, slowMs: 0, log: (line) => lines.push(line) });
    try {
      await worker.idle();
      const [c] = await s.store.query<{ external_id: string }>(
        "SELECT c.external_id FROM customers c JOIN customer_rollups r ON r.customer_id = c.id WHERE c.workspace_id = $1 AND r.order_count > 0 ORDER BY c.id LIMIT 1",
        [s.workspace.id],
      );
      const who = c?.external_id ?? "";
      const before = z.array(z.object({ name: z.string() })).parse(Object.values((await api(`/customers/${encodeURIComponent(who)}/segments`)).body));
      expect(before.map((x) => x.name)).not.toContain("Abandoned cart (last day)");
      const tracked = await post(`${s.url}/v1/track`, { userId: who, event: "Product Added", properties: { product_id: "sku-1" }, timestamp: s.clock.now().toISOString() }, basic(s.writeKey));
      expect(tracked.status).toBe(200);
      await worker.tick();
      const after = z.array(z.object({ name: z.string() })).parse(Object.values((await api(`/customers/${encodeURIComponent(who)}/segments`)).body));
      expect(after.map((x) => x.name)).toContain("Abandoned cart (last day)");
      const pass = lines.find((l) => l.startsWith("segments: 1 changed customers took"));
      expect(pass).toMatch(/\(1 entered, 0 left\): lock \d+\.\d\d s, marks \d+\.\d\d s, rules \d+\.\d\d s \(slowest "9 segments together" \d+\.\d\d s\), commit and the rest -?\d+\.\d\d s$/);
    } finally {
      worker.stop();
      await worker.idle();
    }
  });
});
