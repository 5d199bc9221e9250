/** Models and scores under /api/models (admin key or dashboard session). Handlers parse, call one domain function, return. */
import { Hono } from "hono";
import type { Store } from "../../store/index.ts";
import { parseInput, type Clock } from "../../shared/index.ts";
import { FitQuery, fitSaveAndScore, findLatestFit, listFitVersions, readLifecycleSettings, refreshScores, scoreOverview, updateLifecycleSettings } from "../../predictions/index.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";

export function modelRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));

  /** The newest fit with its validation (null before the first fit) and what the stored scores look like. */
  app.get("/", async (c) => {
    const ws = c.get("owner").workspace;
    return c.json({ fit: await findLatestFit(store, ws, { withReport: true }), scores: await scoreOverview(store, ws) });
  });
  app.get("/versions", async (c) => c.json(await listFitVersions(store, c.get("owner").workspace)));
  app.post("/fit", async (c) => {
    const body = await jsonBody(c, { optional: true });
    return c.json(await fitSaveAndScore(store, c.get("owner").workspace, parseInput(FitQuery, body ?? {}), clock.now()), 201);
  });
  app.post("/score", async (c) => c.json(await refreshScores(store, c.get("owner").workspace, clock.now())));
  app.get("/settings", async (c) => c.json(await readLifecycleSettings(store, c.get("owner").workspace)));
  app.patch("/settings", async (c) => {
    const body = await jsonBody(c);
    return c.json(await updateLifecycleSettings(store, c.get("owner").workspace, body));
  });
  return app;
}
