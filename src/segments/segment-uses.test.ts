/**
 * A segment in use by a journey or a loyalty campaign is not deleted out
 * from under it: the refusal names the users; archiving the journey or
 * changing the campaign frees it. PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestWorkspace, refused, type TestStore } from "../../test/helpers.ts";
import type { Workspace } from "../workspaces/index.ts";
import { createJourney, setJourneyStatus, updateJourney } from "../journeys/index.ts";
import { putLoyaltySettings } from "../loyalty/index.ts";
import { createSegment, deleteSegment } from "./index.ts";

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

const now = new Date("2026-06-01T12:00:00Z");
const journey = (segmentId: number) => ({
  trigger: { type: "segment", segmentId, on: "enter" },
  start: "hello",
  steps: [{ id: "hello", type: "setTrait", key: "greeted", value: true }],
});

describe("segments in use", () => {
  it("refuses to delete a segment a journey or a campaign uses, naming them, until they let go", async () => {
    const vip = await createSegment(t.store, ws, { name: "VIPs", rule: { field: "orderCount", op: "gte", value: 5 } }, now);
    const other = await createSegment(t.store, ws, { name: "Others", rule: { field: "orderCount", op: "lt", value: 5 } }, now);
    const j = await createJourney(t.store, ws, { name: "Welcome the VIPs", definition: journey(vip.id) }, now);
    await putLoyaltySettings(t.store, ws, { enabled: true, campaigns: [{ name: "VIP double points", multiplier: 2, from: "2026-06-01", to: "2026-06-30", segmentId: vip.id }] }, now);

    const inUse = await refused(deleteSegment(t.store, ws, vip.id));
    expect(inUse.code).toBe("conflict");
    expect(inUse.message).toBe(`segment ${vip.id} is used by journey "Welcome the VIPs", loyalty campaign "VIP double points"; change or archive those first`);

    // The journey moves to the other segment; the campaign ends; then the segment can go.
    await updateJourney(t.store, ws, j.id, { definition: journey(other.id) }, now);
    await putLoyaltySettings(t.store, ws, { enabled: true, campaigns: [] }, now);
    await deleteSegment(t.store, ws, vip.id);

    // Archiving the journey frees its segment too.
    expect((await refused(deleteSegment(t.store, ws, other.id))).message).toContain('journey "Welcome the VIPs"');
    await setJourneyStatus(t.store, ws, j.id, "archived", now);
    await deleteSegment(t.store, ws, other.id);
  });

  it("refuses a campaign naming a segment that does not exist", async () => {
    const bad = await refused(putLoyaltySettings(t.store, ws, { enabled: true, campaigns: [{ name: "x", multiplier: 2, from: "2026-06-01", to: "2026-06-30", segmentId: 999_999 }] }, now));
    expect(bad.issues[0]?.field).toBe("campaigns.0.segmentId");
  });
});
