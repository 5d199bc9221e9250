/** Dashboard sign-in over real HTTP: the cookie, CSRF protection, sign-out and bad input. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueFields, startTestServer, type TestServer } from "../../test/helpers.ts";
import { createAdmin } from "../admins/index.ts";

let s: TestServer;
const email = "owner@shop.example";
const password = "a long enough password";
beforeAll(async () => {
  s = await startTestServer();
  await createAdmin(s.store, s.workspace, { email, password }, s.clock.now());
});
afterAll(async () => {
  await s.close();
});

async function signIn(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}/api/session`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const parsed: unknown = await res.json();
  const json: Record<string, unknown> = typeof parsed === "object" && parsed !== null ? { ...parsed } : {};
  return { res, json, cookie: res.headers.get("set-cookie") ?? "" };
}

const cookieOf = (setCookie: string) => setCookie.split(";")[0] ?? "";

describe("signing in", () => {
  it("sets an HttpOnly, SameSite=Strict session cookie and returns a CSRF token", async () => {
    const { res, json, cookie } = await signIn({ email: "Owner@Shop.example", password });
    expect(res.status).toBe(200);
    expect(json).toMatchObject({ email, csrfToken: expect.any(String) });
    expect(cookie).toMatch(/^fidelio_session=fs_[\w-]+;/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/");
    expect(cookie).toContain("Max-Age=1209600"); // 14 days, counted by the browser
    const who = await fetch(`${s.url}/api/session`, { headers: { cookie: cookieOf(cookie) } });
    expect(await who.json()).toMatchObject({ email, csrfToken: json.csrfToken, currency: "EUR" });
    // The stored session is a hash, not the token itself.
    const token = cookieOf(cookie).split("=")[1] ?? "";
    const stored = await s.store.query<{ token_hash: string }>("SELECT token_hash FROM admin_sessions");
    expect(stored.some((r) => r.token_hash === token)).toBe(false);
  });

  it("refuses a wrong password or an unknown email with the same answer", async () => {
    const wrong = await signIn({ email, password: "not the password" });
    const unknown = await signIn({ email: "nobody@shop.example", password });
    expect([wrong.res.status, unknown.res.status]).toEqual([401, 401]);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.cookie).toBe("");
  });

  it("names missing fields and refuses a sign-in posted from another site", async () => {
    const missing = await signIn({ email });
    expect(missing.res.status).toBe(400);
    expect(issueFields(missing.json)).toEqual(["password"]);
    const foreign = await signIn({ email, password }, { origin: "https://evil.example" });
    expect(foreign.res.status).toBe(403);
    expect(foreign.cookie).toBe("");
    const opaque = await signIn({ email, password }, { origin: "null" }); // sandboxed frames, data: URLs
    expect(opaque.res.status).toBe(403);
    const same = await signIn({ email, password }, { origin: s.url });
    expect(same.res.status).toBe(200);
  });
});

describe("using the session", () => {
  it("reads the API with the cookie; changes need the CSRF token", async () => {
    const { json, cookie } = await signIn({ email, password });
    const c = cookieOf(cookie);
    const read = await fetch(`${s.url}/api/metrics`, { headers: { cookie: c } });
    expect(read.status).toBe(200);
    const order = { externalId: "csrf-1", placedAt: "2026-05-01T10:00:00Z", currency: "EUR", lines: [{ productId: "p", quantity: 1, unitPriceMinor: 100 }] };
    const forged = await fetch(`${s.url}/api/orders`, { method: "POST", headers: { cookie: c, "content-type": "application/json" }, body: JSON.stringify(order) });
    expect(forged.status).toBe(403);
    expect(await s.store.query("SELECT 1 FROM orders WHERE external_id = 'csrf-1'")).toHaveLength(0);
    const real = await fetch(`${s.url}/api/orders`, {
      method: "POST",
      headers: { cookie: c, "content-type": "application/json", "x-csrf-token": String(json.csrfToken) },
      body: JSON.stringify(order),
    });
    expect(real.status).toBe(201);
  });

  it("ends with sign-out, and after its expiry", async () => {
    const { json, cookie } = await signIn({ email, password });
    const c = cookieOf(cookie);
    const out = await fetch(`${s.url}/api/session`, { method: "DELETE", headers: { cookie: c, "x-csrf-token": String(json.csrfToken) } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/fidelio_session=;/);
    expect((await fetch(`${s.url}/api/metrics`, { headers: { cookie: c } })).status).toBe(401);

    const later = await signIn({ email, password });
    const lc = cookieOf(later.cookie);
    expect((await fetch(`${s.url}/api/session`, { headers: { cookie: lc } })).status).toBe(200);
    s.clock.advance(15 * 86_400_000); // sessions last 14 days
    expect((await fetch(`${s.url}/api/session`, { headers: { cookie: lc } })).status).toBe(401);
    expect((await fetch(`${s.url}/api/metrics`, { headers: { cookie: lc } })).status).toBe(401);
  });

  it("stops guessing: after 10 wrong passwords for an email, even the right one waits out the window", async () => {
    const target = "guess@shop.example";
    await createAdmin(s.store, s.workspace, { email: target, password }, s.clock.now());
    for (let i = 0; i < 10; i++) expect((await signIn({ email: target, password: `wrong ${i}` })).res.status).toBe(401);
    const blocked = await signIn({ email: target, password });
    expect(blocked.res.status).toBe(429);
    expect(blocked.json).toMatchObject({ error: { code: "rate_limited", message: expect.stringContaining("try again in 15 minutes") } });
    // When to come back, for clients that read it: the window's rest, in seconds.
    expect(blocked.res.headers.get("retry-after")).toBe("900");
    expect(blocked.cookie).toBe("");
    s.clock.advance(16 * 60_000);
    expect((await signIn({ email: target, password })).res.status).toBe(200);
  });

  it("a malformed path is a 404, not a crash", async () => {
    expect((await fetch(`${s.url}/%E0%A4%A.js`)).status).toBe(404);
  });

  it("a forged cookie is refused", async () => {
    expect((await fetch(`${s.url}/api/metrics`, { headers: { cookie: "fidelio_session=fs_forged" } })).status).toBe(401);
  });
});

describe("behind a TLS-terminating proxy (FIDELIO_PUBLIC_URL)", () => {
  it("marks the cookie Secure and checks Origin against the public address", async () => {
    const proxied = await startTestServer({ publicUrl: "https://fidelio.shop.example" });
    try {
      await createAdmin(proxied.store, proxied.workspace, { email, password }, proxied.clock.now());
      const post = (origin: string) =>
        fetch(`${proxied.url}/api/session`, { method: "POST", headers: { "content-type": "application/json", origin }, body: JSON.stringify({ email, password }) });
      expect((await post(proxied.url)).status).toBe(403); // the inner address is not where people come from
      const ok = await post("https://fidelio.shop.example");
      expect(ok.status).toBe(200);
      expect(ok.headers.get("set-cookie")).toContain("Secure");
    } finally {
      await proxied.close();
    }
  });
});
