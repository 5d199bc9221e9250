/** The loyalty programme under /api/loyalty (admin key or dashboard session). Handlers parse, call one domain function, return. */
import { Hono, type Context } from "hono";
import type { Store } from "../../store/index.ts";
import type { Clock } from "../../shared/index.ts";
import { createReward, creditPoints, customerPoints, getLoyaltySettings, listRewards, postCustomerEntry, putLoyaltySettings, redeemReward } from "../../loyalty/index.ts";
import { LoyaltyMembersQuery, loyaltyMembers, loyaltyOverview } from "../../loyalty/index.ts";
import { SpinsQuery, updatePlan, updateReward, acceptReferral, cancelMembership, createPlan, issueCustomerToken, listPlans, membershipOf, recentSpins, recordMembershipPayment, referralsOf, rotateStorefrontSecret, runLoyaltyPass, storefrontSetup, wheelAudit } from "../../loyalty/index.ts";
import { customerIdOf } from "../../customers/index.ts";
import { parseInput } from "../../shared/index.ts";
import { pathId, queryOf } from "../query.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";

export function loyaltyRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));
  app.get("/settings", async (c) => c.json(await getLoyaltySettings(store, c.get("owner").workspace)));
  app.put("/settings", async (c) => c.json(await putLoyaltySettings(store, c.get("owner").workspace, await jsonBody(c), clock.now())));
  app.post("/credit", async (c) => c.json(await creditPoints(store, c.get("owner").workspace, clock.now())));
  app.get("/customers/:externalId", async (c) => c.json(await customerPoints(store, c.get("owner").workspace, c.req.param("externalId"), clock.now())));
  app.post("/customers/:externalId/entries", async (c) => {
    const posted = await postCustomerEntry(store, c.get("owner").workspace, c.req.param("externalId"), await jsonBody(c), clock.now());
    return c.json(posted, posted.created ? 201 : 200);
  });
  app.get("/overview", async (c) => c.json(await loyaltyOverview(store, c.get("owner").workspace, clock.now())));
  app.get("/members", async (c) => c.json(await loyaltyMembers(store, c.get("owner").workspace, parseInput(LoyaltyMembersQuery, queryOf(c)))));
  app.get("/rewards", async (c) => c.json(await listRewards(store, c.get("owner").workspace)));
  app.post("/rewards", async (c) => c.json(await createReward(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  app.post("/customers/:externalId/redemptions", async (c) => {
    const r = await redeemReward(store, c.get("owner").workspace, c.req.param("externalId"), await jsonBody(c), clock.now());
    return c.json(r, r.created ? 201 : 200);
  });

  // The whole worker pass (earning, referrals, tiers, memberships, expiry) now, as the server does every FIDELIO_LOYALTY_EVERY_SECONDS.
  app.post("/run", async (c) => c.json({ log: await runLoyaltyPass(store, c.get("owner").workspace, clock.now()) }));

  // Referrals: the shop's backend records a code used at sign-up; a customer's code, link and referrals.
  const idOf = (c: Context<Env>) => customerIdOf(store, c.get("owner").workspace, c.req.param("externalId") ?? "", "externalId");
  app.get("/customers/:externalId/referrals", async (c) => c.json(await referralsOf(store, c.get("owner").workspace, await idOf(c), clock.now())));
  app.post("/customers/:externalId/referral", async (c) => {
    const r = await acceptReferral(store, c.get("owner").workspace, await idOf(c), await jsonBody(c), clock.now());
    return c.json(r, r.created ? 201 : 200);
  });

  // Spin-to-win: the audit (odds against draws, stock) and the latest spins.
  app.get("/wheel", async (c) => c.json(await wheelAudit(store, c.get("owner").workspace)));
  app.get("/wheel/spins", async (c) => c.json(await recentSpins(store, c.get("owner").workspace, parseInput(SpinsQuery, queryOf(c)))));

  // Paid membership: plans, and each customer's membership as the shop's billing reports payments.
  app.get("/plans", async (c) => c.json(await listPlans(store, c.get("owner").workspace)));
  app.post("/plans", async (c) => c.json(await createPlan(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  app.patch("/plans/:id", async (c) => c.json(await updatePlan(store, c.get("owner").workspace, pathId(c.req.param("id")), await jsonBody(c))));
  app.patch("/rewards/:id", async (c) => c.json(await updateReward(store, c.get("owner").workspace, pathId(c.req.param("id")), await jsonBody(c))));
  app.get("/customers/:externalId/membership", async (c) => c.json(await membershipOf(store, c.get("owner").workspace, await idOf(c))));
  app.post("/customers/:externalId/membership", async (c) => {
    const m = await recordMembershipPayment(store, c.get("owner").workspace, await idOf(c), "start", await jsonBody(c), clock.now());
    return c.json(m, m.created ? 201 : 200);
  });
  app.post("/customers/:externalId/membership/renewals", async (c) => {
    const m = await recordMembershipPayment(store, c.get("owner").workspace, await idOf(c), "renewal", await jsonBody(c), clock.now());
    return c.json(m, m.created ? 201 : 200);
  });
  app.post("/customers/:externalId/membership/cancel", async (c) => c.json(await cancelMembership(store, c.get("owner").workspace, await idOf(c), (await jsonBody(c, { optional: true })) ?? {}, clock.now())));

  // The storefront widget: its secret (to sign customer tokens), rotation, and tokens issued here for shops that would rather not sign.
  app.get("/storefront", async (c) => c.json(await storefrontSetup(store, c.get("owner").workspace, clock.now())));
  app.post("/storefront/rotate", async (c) => c.json({ secret: await rotateStorefrontSecret(store, c.get("owner").workspace, clock.now()) }));
  app.post("/storefront/tokens", async (c) => c.json(await issueCustomerToken(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  return app;
}
