/** Journeys under /api/journeys, messaging settings and message logs (admin key or dashboard session). Handlers parse, call one domain function, return. */
import { Hono } from "hono";
import { z } from "zod";
import type { Store } from "../../store/index.ts";
import { invalidField, isIsoDay, parseInput, type Clock } from "../../shared/index.ts";
import {
  READY_MADE,
  backtestJourney,
  checkDefinitionIn,
  createJourney,
  getJourney,
  installReadyMade,
  journeyStats,
  listJourneys,
  setJourneyStatus,
  updateJourney,
} from "../../journeys/index.ts";
import { getMessagingSettings, previewEmail, putMessagingSettings } from "../../messaging/index.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";
import { pathId } from "../query.ts";

const Day = z.string().refine(isIsoDay, "must be a real date, YYYY-MM-DD");
export const BacktestInput = z.strictObject({
  from: Day,
  to: Day.describe("inclusive"),
  definition: z.unknown().optional().describe("a draft definition to try instead of the journey's current version"),
});


export interface MessagingSite {
  shopName: string;
  /** Where links in messages point. */
  baseUrl: string;
}

export function journeyRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator, site: MessagingSite): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));
  const shop = { name: site.shopName, url: site.baseUrl };

  app.get("/", async (c) => c.json(await listJourneys(store, c.get("owner").workspace)));
  app.get("/ready-made", (c) => c.json(READY_MADE.map((r) => ({ key: r.key, name: r.name, description: r.description, trigger: r.definition.trigger.type, steps: r.definition.steps.length }))));
  app.post("/ready-made/:key", async (c) => c.json(await installReadyMade(store, c.get("owner").workspace, c.req.param("key"), clock.now()), 201));
  app.post("/", async (c) => c.json(await createJourney(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  app.post("/preview-email", async (c) => c.json(await previewEmail(store, c.get("owner").workspace, await jsonBody(c), shop, clock.now())));
  app.get("/:id", async (c) => c.json(await getJourney(store, c.get("owner").workspace, pathId(c.req.param("id")))));
  app.patch("/:id", async (c) => c.json(await updateJourney(store, c.get("owner").workspace, pathId(c.req.param("id")), await jsonBody(c), clock.now())));
  app.delete("/:id", async (c) => {
    await setJourneyStatus(store, c.get("owner").workspace, pathId(c.req.param("id")), "archived", clock.now());
    return c.body(null, 204);
  });
  app.post("/:id/activate", async (c) => c.json(await setJourneyStatus(store, c.get("owner").workspace, pathId(c.req.param("id")), "active", clock.now())));
  app.post("/:id/pause", async (c) => c.json(await setJourneyStatus(store, c.get("owner").workspace, pathId(c.req.param("id")), "paused", clock.now())));
  app.get("/:id/stats", async (c) => c.json(await journeyStats(store, c.get("owner").workspace, pathId(c.req.param("id")), clock.now())));
  app.post("/:id/backtest", async (c) => {
    const ws = c.get("owner").workspace;
    const body = parseInput(BacktestInput, await jsonBody(c));
    if (body.from > body.to) throw invalidField("to", "is before from");
    const journey = await getJourney(store, ws, pathId(c.req.param("id")));
    const checked = await checkDefinitionIn(store, ws, body.definition ?? journey.definition);
    const report = await backtestJourney(store, ws, checked, { from: new Date(`${body.from}T00:00:00Z`), to: new Date(`${body.to}T23:59:59.999Z`) });
    return c.json({ journey: { id: journey.id, name: journey.name, version: body.definition === undefined ? journey.version : "draft" }, ...report });
  });
  return app;
}

/** Messaging settings under /api/messaging. */
export function messagingRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));
  app.get("/settings", async (c) => c.json(await getMessagingSettings(store, c.get("owner").workspace)));
  app.put("/settings", async (c) => c.json(await putMessagingSettings(store, c.get("owner").workspace, await jsonBody(c), clock.now())));
  return app;
}
