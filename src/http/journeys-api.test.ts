/**
 * /api/journeys, /api/messaging and the public links over real HTTP on the
 * demo shop: ready-made installs, drafts and versions, bad definitions named
 * by path, backtests, the template preview on a real customer, settings,
 * and the signed unsubscribe / open / click links.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { bearer, count, get, issueFields, startTestServer, type TestServer } from "../../test/helpers.ts";
import { loadDemo } from "../demo/index.ts";
import { ensureBuiltInSegments } from "../segments/index.ts";
import { signingSecret, signLink } from "../messaging/index.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(); // clock: 2026-06-01 12:00 UTC
  await loadDemo(s.store, s.workspace, { customers: 300, end: s.clock.now() });
  await ensureBuiltInSegments(s.store, s.workspace, s.clock.now());
}, 120_000);
afterAll(async () => {
  await s.close();
});

const api = (path: string) => get(`${s.url}/api${path}`, bearer(s.adminKey));
async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.url}/api${path}`, { method, headers: { "content-type": "application/json", ...bearer(s.adminKey) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  return { status: res.status, body: typeof parsed === "object" && parsed !== null ? Object.fromEntries(Object.entries(parsed)) : {} };
}

const Journey = z.object({ id: z.number(), name: z.string(), status: z.string(), version: z.number(), readyMade: z.string().nullable(), definition: z.object({ trigger: z.object({ type: z.string() }) }) });
const simple = { trigger: { type: "event", event: "Ping" }, start: "s", steps: [{ id: "s", type: "send", channel: "email", email: { subject: "Hi {{ customer.first_name }}", body: "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>" } }] };

describe("/api/journeys", () => {
  it("lists the ready-made journeys and installs one as a draft, which can be activated, paused and archived", async () => {
    const ready = await api("/journeys/ready-made");
    expect(Object.values(ready.body).length).toBe(11);
    const installed = await send("POST", "/journeys/ready-made/win-back");
    expect(installed.status).toBe(201);
    const j = Journey.parse(installed.body);
    expect(j).toMatchObject({ status: "draft", version: 1, readyMade: "win-back" });
    expect(Journey.parse((await send("POST", `/journeys/${j.id}/activate`)).body).status).toBe("active");
    expect(Journey.parse((await send("POST", `/journeys/${j.id}/pause`)).body).status).toBe("paused");
    const second = Journey.parse((await send("POST", "/journeys/ready-made/win-back")).body);
    expect(second.name).toBe("Win-back (five steps) (2)");
    expect((await send("DELETE", `/journeys/${second.id}`)).status).toBe(204);
    expect((await api(`/journeys/${second.id}`)).status).toBe(404);
    expect((await send("POST", "/journeys/ready-made/nope")).status).toBe(404);
  });

  it("refuses a bad definition with 400 naming the node; a new definition is a new version", async () => {
    const bad = await send("POST", "/journeys", { name: "Bad", definition: { ...simple, steps: [{ ...simple.steps[0], next: "missing" }] } });
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toContain("definition.steps.0.next");
    const badRule = await send("POST", "/journeys", { name: "Bad", definition: { ...simple, audience: { field: "nope", op: "eq", value: 1 } } });
    expect(issueFields(badRule.body)).toContain("definition.audience.field");
    const noSegment = await send("POST", "/journeys", { name: "Bad", definition: { ...simple, trigger: { type: "segment", segmentId: 999999 } } });
    expect(noSegment.status).toBe(400);
    expect(issueFields(noSegment.body)).toContain("definition");
    const created = await send("POST", "/journeys", { name: "Ping", definition: simple });
    expect(created.status).toBe(201);
    const j = Journey.parse(created.body);
    expect((await send("POST", "/journeys", { name: "Ping", definition: simple })).status).toBe(409);
    const same = Journey.parse((await send("PATCH", `/journeys/${j.id}`, { definition: simple })).body);
    expect(same.version).toBe(1);
    const changed = Journey.parse((await send("PATCH", `/journeys/${j.id}`, { definition: { ...simple, reentry: { policy: "everyTime" } } })).body);
    expect(changed.version).toBe(2);
    expect((await api("/journeys/abc")).status).toBe(400);
    const stats = await api(`/journeys/${j.id}/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ entered: 0, inside: 0 });
  });

  it("backtests the win-back over the demo's history, sending nothing", async () => {
    const j = Journey.parse((await send("POST", "/journeys/ready-made/win-back")).body);
    const before = await count(s.store, "SELECT count(*) AS n FROM messages WHERE workspace_id = $1", [s.workspace.id]);
    const r = await send("POST", `/journeys/${j.id}/backtest`, { from: "2025-06-01", to: "2026-03-31" });
    expect(r.status).toBe(200);
    const report = z
      .object({ entered: z.number(), sent: z.number(), steps: z.array(z.object({ step: z.string(), reached: z.number(), sent: z.number() })), outcome: z.object({ within30: z.object({ customers: z.number(), ordered: z.number() }) }), messages: z.array(z.object({ subject: z.string() })) })
      .parse(r.body);
    expect(report.entered).toBeGreaterThan(0);
    expect(report.steps[0]?.reached).toBe(report.entered);
    expect(report.sent).toBe(report.steps.reduce((a, x) => a + x.sent, 0));
    expect(report.outcome.within30.ordered).toBeLessThanOrEqual(report.outcome.within30.customers);
    expect(report.messages[0]?.subject).not.toContain("{{"); // rendered for the customer
    expect(await count(s.store, "SELECT count(*) AS n FROM messages WHERE workspace_id = $1", [s.workspace.id])).toBe(before);
    const bad = await send("POST", `/journeys/${j.id}/backtest`, { from: "2026-02-30", to: "2026-01-01" });
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toContain("from");
    const reversed = await send("POST", `/journeys/${j.id}/backtest`, { from: "2026-03-01", to: "2026-01-01" });
    expect(issueFields(reversed.body)).toContain("to");
  });

  it("previews a template on a real customer, escaping their data; a template error names the part", async () => {
    const [customer] = await s.store.query<{ external_id: string; first_name: string }>("SELECT external_id, first_name FROM customers WHERE workspace_id = $1 AND first_name IS NOT NULL LIMIT 1", [s.workspace.id]);
    const r = await send("POST", "/journeys/preview-email", { customer: customer?.external_id, email: { subject: "Hi {{ customer.first_name }}", body: "<mj-section><mj-column><mj-text>You have {{ orders.count }} orders</mj-text></mj-column></mj-section>" } });
    expect(r.status).toBe(200);
    expect(r.body["subject"]).toBe(`Hi ${customer?.first_name}`);
    expect(String(r.body["html"])).toMatch(/You have \d+ orders/);
    expect(String(r.body["text"])).toMatch(/You have \d+ orders/);
    const broken = await send("POST", "/journeys/preview-email", { customer: customer?.external_id, email: { subject: "{% if %}", body: "<mj-section></mj-section>" } });
    expect(broken.status).toBe(400);
    expect(issueFields(broken.body)).toContain("subject");
    const nobody = await send("POST", "/journeys/preview-email", { customer: "nobody", email: { subject: "x", body: "y" } });
    expect(nobody.status).toBe(404);
  });

  it("reads and replaces the messaging settings, refusing a bad one by name", async () => {
    const r = await api("/messaging/settings");
    expect(r.body).toMatchObject({ caps: { perDay: 1, perWeek: 3 }, quietHours: { from: "21:00", to: "09:00" } });
    const bad = await send("PUT", "/messaging/settings", { quietHours: { from: "25:00", to: "08:00" } });
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toContain("quietHours.from");
    const ok = await send("PUT", "/messaging/settings", { caps: { perDay: 2, perWeek: null }, quietHours: null });
    expect(ok.body).toMatchObject({ caps: { perDay: 2, perWeek: null }, quietHours: null });
  });
});

describe("OpenAPI", () => {
  it("describes the journey, messaging and link routes, with the definition schema", async () => {
    const doc = await get(`${s.url}/api/openapi.json`);
    const paths = Object.keys(z.record(z.string(), z.unknown()).parse(doc.body["paths"]));
    for (const p of ["/api/journeys", "/api/journeys/{id}/backtest", "/api/journeys/preview-email", "/api/messaging/settings", "/api/customers/{externalId}/messages", "/u/{token}", "/t/c/{token}"]) expect(paths).toContain(p);
    const schemas = z.object({ schemas: z.record(z.string(), z.unknown()) }).parse(doc.body["components"]).schemas;
    expect(JSON.stringify(schemas["JourneyDefinition"])).toContain("waitForEvent");
  });
});

describe("signed links", () => {
  async function aMessage(): Promise<{ id: number; customerId: number; externalId: string }> {
    const [c] = await s.store.query<{ id: number; external_id: string }>("SELECT id, external_id FROM customers WHERE workspace_id = $1 ORDER BY id LIMIT 1", [s.workspace.id]);
    if (!c) throw new Error("no customer");
    const [m] = await s.store.query<{ id: number }>(
      `INSERT INTO messages (workspace_id, idempotency_key, channel, purpose, customer_id, content, status, due_at, created_at)
       VALUES ($1, $2, 'email', 'marketing', $3, '{}', 'sent', $4, $4) RETURNING id`,
      [s.workspace.id, `test:${Math.random()}`, c.id, s.clock.now()],
    );
    return { id: Number(m?.id), customerId: Number(c.id), externalId: c.external_id };
  }
  const consent = async (customerId: number) =>
    (await s.store.query<{ granted: boolean; source: string }>("SELECT granted, source FROM customer_consents WHERE customer_id = $1 AND channel = 'email'", [customerId]))[0];

  it("unsubscribes with one click on the link, and by RFC 8058 POST; a forged token is a 404", async () => {
    const m = await aMessage();
    const secret = await signingSecret(s.store, s.workspace.id);
    const token = signLink(secret, { k: "u", w: s.workspace.id, c: m.customerId, m: m.id });
    const page = await fetch(`${s.url}/u/${token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("You are unsubscribed");
    expect(await consent(m.customerId)).toMatchObject({ granted: false, source: "unsubscribe link" });
    const back = await fetch(`${s.url}/u/${token}`, { method: "POST", body: new URLSearchParams({ action: "resubscribe" }) });
    expect(await back.text()).toContain("subscribed again");
    expect((await consent(m.customerId))?.granted).toBe(true);
    const oneClick = await fetch(`${s.url}/u/${token}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    expect(oneClick.status).toBe(200);
    expect((await consent(m.customerId))?.granted).toBe(false);
    const forged = `${token.split(".")[0]}.${"A".repeat(43)}`;
    expect((await fetch(`${s.url}/u/${forged}`)).status).toBe(404);
    expect((await fetch(`${s.url}/u/${forged}`, { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(404);
  });

  it("records an open once per message and a click per link, then redirects; a tampered destination is refused", async () => {
    const m = await aMessage();
    const secret = await signingSecret(s.store, s.workspace.id);
    const open = signLink(secret, { k: "o", w: s.workspace.id, m: m.id });
    for (let i = 0; i < 2; i += 1) {
      const px = await fetch(`${s.url}/t/o/${open}`);
      expect(px.headers.get("content-type")).toBe("image/gif");
      await px.arrayBuffer();
    }
    const click = signLink(secret, { k: "c", w: s.workspace.id, m: m.id, u: "https://shop.example/sale?utm_source=fidelio" });
    const r = await fetch(`${s.url}/t/c/${click}`, { redirect: "manual" });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("https://shop.example/sale?utm_source=fidelio");
    const events = await s.store.query<{ name: string; n: number }>(
      "SELECT name, count(*)::int AS n FROM events WHERE workspace_id = $1 AND type = 'message' AND (properties ->> 'messageId')::bigint = $2 GROUP BY name ORDER BY name",
      [s.workspace.id, m.id],
    );
    expect(events).toEqual([{ name: "Email Clicked", n: 1 }, { name: "Email Opened", n: 1 }]);
    const [body] = click.split(".");
    const evil = Buffer.from(JSON.stringify({ k: "c", w: s.workspace.id, m: m.id, u: "https://evil.example/" })).toString("base64url");
    expect((await fetch(`${s.url}/t/c/${evil}.${click.split(".")[1]}`, { redirect: "manual" })).status).toBe(404);
    expect(body).not.toBe(evil);
    const customerLog = await api(`/customers/${encodeURIComponent(m.externalId)}/messages`);
    expect(customerLog.status).toBe(200);
  });
});
