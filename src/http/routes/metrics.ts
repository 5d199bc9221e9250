/** Retention analytics under /api/metrics (Bearer admin key). Each handler parses its query and calls one report. */
import { Hono, type Context } from "hono";
import type { Store } from "../../store/index.ts";
import { parseInput, type Clock } from "../../shared/index.ts";
import {
  AdviceQuery,
  CatalogueQuery,
  HeadlineQuery,
  IntervalsQuery,
  LadderQuery,
  PeriodQuery,
  SeriesQuery,
  adviceReport,
  catalogueReport,
  channelReport,
  cohortReport,
  headlineReport,
  intervalsReport,
  ladderReport,
  refundReport,
  retentionReport,
  seriesReport,
  type OrderProjections,
} from "../../metrics/index.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { queryOf } from "../query.ts";

/** `projections`: the server's in-memory orders, which answer the headline, series, retention, cohorts and ladder. */
export function metricsRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator, projections: OrderProjections): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));
  const ws = (c: Context<Env>) => c.get("owner").workspace;

  app.get("/", async (c) => c.json(await headlineReport(store, ws(c), clock, parseInput(HeadlineQuery, queryOf(c)), projections)));
  app.get("/series", async (c) => c.json(await seriesReport(store, ws(c), clock, parseInput(SeriesQuery, queryOf(c)), projections)));
  app.get("/retention", async (c) => c.json(await retentionReport(store, ws(c), clock, parseInput(SeriesQuery, queryOf(c)), projections)));
  app.get("/cohorts", async (c) => c.json(await cohortReport(store, ws(c), clock, parseInput(PeriodQuery, queryOf(c)), projections)));
  app.get("/ladder", async (c) => c.json(await ladderReport(store, ws(c), parseInput(LadderQuery, queryOf(c)), projections)));
  app.get("/intervals", async (c) => c.json(await intervalsReport(store, ws(c), parseInput(IntervalsQuery, queryOf(c, ["customer"])), projections)));
  app.get("/channels", async (c) => c.json(await channelReport(store, ws(c), clock)));
  app.get("/refunds", async (c) => c.json(await refundReport(store, ws(c), clock, parseInput(PeriodQuery, queryOf(c)))));
  app.get("/catalogue", async (c) => c.json(await catalogueReport(store, ws(c), clock, parseInput(CatalogueQuery, queryOf(c)))));
  app.get("/advice", async (c) => c.json(await adviceReport(store, ws(c), clock, parseInput(AdviceQuery, queryOf(c)))));
  return app;
}
