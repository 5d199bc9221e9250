/** The admin REST API under /api (Bearer admin key). Handlers parse, call one domain function, return. */
import { customerSegments } from "../../segments/index.ts";
import { customerMessages } from "../../journeys/index.ts";
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { Store } from "../../store/index.ts";
import { AppError, parseInput, toAppError, type Clock, type FieldIssue } from "../../shared/index.ts";
import {
  CustomerRecord,
  OrderRecord,
  ProductRecord,
  RefundRecord,
  writeCustomers,
  writeOrders,
  writeProducts,
  writeRefunds,
} from "../../ingest/index.ts";
import { getCustomerProfile, getOrder, getProduct, getRefund, listCustomerEvents, listCustomerOrders } from "../../customers/index.ts";
import { CustomerListQuery, PredictQuery, customerScore, listCustomers, predictCustomer } from "../../predictions/index.ts";
import { queryOf } from "../query.ts";
import type { KeyAuthenticator, Workspace } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";

const Page = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional(),
});

/** Largest array accepted by a single admin write. */
const MAX_ITEMS = 1000;

/**
 * A body that is one object is one record (errors fail the request); an array
 * is a batch: each item is validated and written on its own, and the response
 * lists each item's outcome, keeping the good ones.
 */
async function upsert<S extends z.ZodType>(
  c: Context<Env>,
  store: Store,
  schema: S,
  write: (tx: import("../../store/index.ts").Queryable, ws: Workspace, record: z.output<S>) => Promise<{ externalId: string; created: boolean }>,
): Promise<Response> {
  const body = await jsonBody(c);
  const ws = c.get("owner").workspace;
  if (!Array.isArray(body)) {
    const record = parseInput(schema, body);
    const r = await store.transaction((tx) => write(tx, ws, record));
    return c.json(r, r.created ? 201 : 200);
  }
  if (body.length > MAX_ITEMS) throw new AppError("payload_too_large", `(body): at most ${MAX_ITEMS} items per request`, [{ field: "(body)", message: `more than ${MAX_ITEMS} items` }]);
  const results: ({ index: number; ok: true; externalId: string; created: boolean } | { index: number; ok: false; issues: FieldIssue[] })[] = [];
  for (const [index, item] of body.entries()) {
    try {
      const record = parseInput(schema, item, String(index));
      const r = await store.transaction((tx) => write(tx, ws, record));
      results.push({ index, ok: true, ...r });
    } catch (err) {
      const e = toAppError(err);
      if (e.code === "internal") throw err;
      results.push({ index, ok: false, issues: e.issues.length > 0 ? e.issues : [{ field: String(index), message: e.message }] });
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed === body.length && failed > 0) {
    throw new AppError("invalid_input", "every item was rejected", results.flatMap((r) => (r.ok ? [] : r.issues)));
  }
  return c.json({ ok: failed === 0, failed, results });
}

export function adminRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));

  app.post("/customers", (c) =>
    upsert(c, store, CustomerRecord, async (tx, ws, record) => {
      const r = await writeCustomers(tx, ws, [record], "api", clock.now());
      return { externalId: record.externalId ?? record.email ?? "", created: r.inserted > 0 };
    }),
  );
  app.get("/customers", async (c) => c.json(await listCustomers(store, c.get("owner").workspace, parseInput(CustomerListQuery, queryOf(c)))));
  app.get("/customers/:externalId/orders", async (c) => {
    const page = parseInput(Page.pick({ limit: true }).strict(), c.req.query());
    return c.json(await listCustomerOrders(store, c.get("owner").workspace, c.req.param("externalId"), page));
  });
  /**
   * The stored scores (stage, RFM, churn signals, predictions of the last
   * scoring run) and, when a model exists, a fresh prediction for the asked
   * horizon and discount rate.
   */
  app.get("/customers/:externalId/predictions", async (c) => {
    const ws = c.get("owner").workspace;
    const q = parseInput(PredictQuery, { ...queryOf(c), customer: c.req.param("externalId") });
    const scores = await customerScore(store, ws, q.customer);
    const prediction = scores.orders > 0 && scores.modelVersion !== null ? await predictCustomer(store, ws, q, clock.now()) : null;
    return c.json({ scores, prediction });
  });
  app.get("/customers/:externalId/messages", async (c) => c.json(await customerMessages(store, c.get("owner").workspace, c.req.param("externalId"))));
  app.get("/customers/:externalId/segments", async (c) => {
    const ws = c.get("owner").workspace;
    await getCustomerProfile(store, ws, c.req.param("externalId"));
    return c.json(await customerSegments(store, ws, c.req.param("externalId")));
  });
  app.get("/customers/:externalId", async (c) => c.json(await getCustomerProfile(store, c.get("owner").workspace, c.req.param("externalId"))));
  app.get("/customers/:externalId/events", async (c) => {
    const page = parseInput(Page, c.req.query());
    return c.json(await listCustomerEvents(store, c.get("owner").workspace, c.req.param("externalId"), page));
  });

  app.post("/products", (c) =>
    upsert(c, store, ProductRecord, async (tx, ws, record) => {
      const before = await tx.query("SELECT 1 FROM products WHERE workspace_id = $1 AND external_id = $2", [ws.id, record.externalId]);
      await writeProducts(tx, ws, [record], clock.now());
      return { externalId: record.externalId, created: before.length === 0 };
    }),
  );
  app.get("/products/:externalId", async (c) => c.json(await getProduct(store, c.get("owner").workspace, c.req.param("externalId"))));

  app.post("/orders", (c) =>
    upsert(c, store, OrderRecord, async (tx, ws, record) => {
      const r = await writeOrders(tx, ws, [record], "api", clock.now());
      return { externalId: record.externalId, created: r.inserted.length > 0 };
    }),
  );
  app.get("/orders/:externalId", async (c) => c.json(await getOrder(store, c.get("owner").workspace, c.req.param("externalId"))));

  app.post("/refunds", (c) =>
    upsert(c, store, RefundRecord, async (tx, ws, record) => {
      const r = await writeRefunds(tx, ws, [record], "api", clock.now());
      return { externalId: record.externalId, created: r.inserted.length > 0 };
    }),
  );
  app.get("/refunds/:externalId", async (c) => c.json(await getRefund(store, c.get("owner").workspace, c.req.param("externalId"))));
  return app;
}
