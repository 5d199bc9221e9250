import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestWorkspace, type TestStore } from "../../test/helpers.ts";
import { SimulatedClock } from "../shared/index.ts";
import { authenticateKey, createApiKey, keyAuthenticator, type Workspace } from "./index.ts";

describe("API keys", () => {
  let t: TestStore;
  let ws: Workspace;
  beforeAll(async () => {
    const opened = await openTestWorkspace();
    t = opened;
    ws = opened.ws;
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("authenticates a stored key by its hash and refuses others", async () => {
    const key = await createApiKey(t.store, ws, "write", "site");
    expect(key.startsWith("fw_")).toBe(true);
    await expect(authenticateKey(t.store, key)).resolves.toEqual({ workspace: { id: ws.id, currency: ws.currency }, kind: "write" });
    await expect(authenticateKey(t.store, `${key}x`)).rejects.toMatchObject({ code: "unauthorized" });
    await expect(authenticateKey(t.store, undefined)).rejects.toMatchObject({ code: "unauthorized" });
    const stored = await t.store.query<{ key_hash: string }>("SELECT key_hash FROM api_keys WHERE prefix = $1", [key.slice(0, 7)]);
    expect(stored.every((r) => r.key_hash !== key)).toBe(true);
  });

  it("remembers a key that passed for the time-to-live only, and never remembers a refusal", async () => {
    const clock = new SimulatedClock(new Date("2026-01-01T00:00:00Z"));
    const authenticate = keyAuthenticator(t.store, clock, 30_000);
    const key = await createApiKey(t.store, ws, "admin");
    await expect(authenticate(key)).resolves.toMatchObject({ kind: "admin" });

    await t.store.query("UPDATE api_keys SET revoked_at = $2 WHERE key_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')", [key, clock.now()]);
    // Within the time-to-live the remembered answer stands (no query)…
    clock.advance(29_000);
    await expect(authenticate(key)).resolves.toMatchObject({ kind: "admin" });
    // …after it, the revocation is seen.
    clock.advance(2_000);
    await expect(authenticate(key)).rejects.toMatchObject({ code: "unauthorized" });

    // A refused key is asked again next time: creating it makes it work at once.
    const later = "fw_created_after_a_refusal";
    await expect(authenticate(later)).rejects.toMatchObject({ code: "unauthorized" });
    await createApiKey(t.store, ws, "write", undefined, later);
    await expect(authenticate(later)).resolves.toMatchObject({ kind: "write" });
  });
});
