/**
 * The customer-facing loyalty API under /api/storefront, for the shop's
 * widget: each request carries the customer's token (signed by the shop's
 * backend), so a customer sees and spends only their own points. CORS
 * allows the origins listed in the programme's `storefront.allowedOrigins`.
 * Handlers parse, call one domain function, return.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { Store } from "../../store/index.ts";
import type { Clock } from "../../shared/index.ts";
import type { Workspace } from "../../workspaces/index.ts";
import { customerLedger, customerLoyalty, getLoyaltySettings, myReferrals, redeemReward, rewardsFor, spinWheel, useReferralCode, LedgerPageQuery } from "../../loyalty/index.ts";
import { parseInput } from "../../shared/index.ts";
import { customerTokenAuth, type StorefrontEnv } from "../auth.ts";
import { jsonBody } from "../errors.ts";
import { queryOf } from "../query.ts";

export function storefrontRoutes(store: Store, clock: Clock, ws: Workspace): Hono<StorefrontEnv> {
  const app = new Hono<StorefrontEnv>();
  app.use(
    "*",
    cors({
      // Read per request: a change in the dashboard applies at once.
      origin: async (origin) => ((await getLoyaltySettings(store, ws)).storefront.allowedOrigins.some((o) => new URL(o).origin === origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type"],
      allowMethods: ["GET", "POST", "OPTIONS"],
      maxAge: 600,
    }),
  );
  app.use("*", customerTokenAuth(store, clock, ws));
  app.get("/me", async (c) => c.json(await customerLoyalty(store, ws, c.get("customer"), clock.now())));
  app.get("/me/history", async (c) => c.json(await customerLedger(store, ws, c.get("customer").customerId, parseInput(LedgerPageQuery, queryOf(c)))));
  app.get("/me/rewards", async (c) => c.json(await rewardsFor(store, ws, c.get("customer").customerId)));
  app.post("/me/redemptions", async (c) => {
    const r = await redeemReward(store, ws, c.get("customer").externalId, await jsonBody(c), clock.now());
    return c.json(r, r.created ? 201 : 200);
  });
  app.get("/me/referrals", async (c) => c.json(await myReferrals(store, ws, c.get("customer"), clock.now())));
  app.post("/me/referral", async (c) => {
    const r = await useReferralCode(store, ws, c.get("customer"), await jsonBody(c), clock.now());
    return c.json(r, r.created ? 201 : 200);
  });
  app.post("/me/spins", async (c) => {
    const s = await spinWheel(store, ws, c.get("customer").customerId, await jsonBody(c), clock.now());
    return c.json(s, s.created ? 201 : 200);
  });
  return app;
}
