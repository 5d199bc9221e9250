/** The loyalty programme under /api/loyalty (admin key or dashboard session). Handlers parse, call one domain function, return. */
import { Hono } from "hono";
import type { Store } from "../../store/index.ts";
import type { Clock } from "../../shared/index.ts";
import { createReward, creditPoints, customerPoints, getLoyaltySettings, listRewards, postCustomerEntry, putLoyaltySettings, redeemReward } from "../../loyalty/index.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";

export function loyaltyRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));
  app.get("/settings", async (c) => c.json(await getLoyaltySettings(store, c.get("owner").workspace)));
  app.put("/settings", async (c) => c.json(await putLoyaltySettings(store, c.get("owner").workspace, await jsonBody(c), clock.now())));
  app.post("/credit", async (c) => c.json(await creditPoints(store, c.get("owner").workspace, clock.now())));
  app.get("/customers/:externalId", async (c) => c.json(await customerPoints(store, c.get("owner").workspace, c.req.param("externalId"))));
  app.post("/customers/:externalId/entries", async (c) => {
    const posted = await postCustomerEntry(store, c.get("owner").workspace, c.req.param("externalId"), await jsonBody(c), clock.now());
    return c.json(posted, posted.created ? 201 : 200);
  });
  app.get("/rewards", async (c) => c.json(await listRewards(store, c.get("owner").workspace)));
  app.post("/rewards", async (c) => c.json(await createReward(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  app.post("/customers/:externalId/redemptions", async (c) => {
    const r = await redeemReward(store, c.get("owner").workspace, c.req.param("externalId"), await jsonBody(c), clock.now());
    return c.json(r, r.created ? 201 : 200);
  });
  return app;
}
