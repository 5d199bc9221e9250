/** The Segment HTTP Tracking API: /v1/identify|track|page|screen|alias|group|batch. */
import { Hono, type Context } from "hono";
import type { Store } from "../../store/index.ts";
import type { Clock } from "../../shared/index.ts";
import { AppError, isJsonObject, parseInput } from "../../shared/index.ts";
import { KnownProducts, SegmentBatch, TrackingWriter, prepareMessages, throwIfFailed } from "../../ingest/index.ts";
import { writeKeyAuth, type Env } from "../auth.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { jsonBody } from "../errors.ts";

export function trackingRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", writeKeyAuth(authenticate));
  // Products this server has noted in the catalogue: a product event for one of them writes no catalogue statement.
  // Requests are written in groups (group commit): one transaction for what queued up while the last one ran.
  const writer = new TrackingWriter(store, { knownProducts: new KnownProducts(), maxInFlight: store.kind === "postgres" ? 2 : 1 });

  // analytics.js 2.0 (the browser library) posts each call to the first letter
  // of its type (/v1/t, /v1/i, …) and batches to /v1/b, with the write key in
  // a text/plain body; both spellings are served.
  for (const type of ["identify", "track", "page", "screen", "alias", "group"] as const) {
    app.post(`/${type.charAt(0)}`, (c) => single(c, type));
    app.post(`/${type}`, (c) => single(c, type));
  }

  async function single(c: Context<Env>, type: string): Promise<Response> {
    const body = await jsonBody(c);
    if (!isJsonObject(body)) throw new AppError("invalid_input", "(body): a JSON object is expected", [{ field: "(body)", message: "a JSON object is expected" }]);
    const result = await writer.write(c.get("owner").workspace, prepareMessages([{ ...body, type }], clock.now()));
    throwIfFailed(result);
    return c.json({ success: true });
  }

  const batch = async (c: Context<Env>) => {
    // Each message is checked for NUL characters on its own (prepareMessages), so one such message fails alone.
    const body = parseInput(SegmentBatch, await jsonBody(c), "", { allowNul: true });
    const prepared = prepareMessages(body.batch, clock.now(), {
      ...(body.context ? { context: body.context } : {}),
      ...(body.sentAt ? { sentAt: body.sentAt } : {}),
    });
    const result = await writer.write(c.get("owner").workspace, prepared);
    const failedCount = new Set(result.failed.map((f) => f.index)).size;
    if (failedCount === body.batch.length) {
      throw new AppError("invalid_input", `every message of the batch was rejected; first: batch.${result.failed[0]?.index}.${result.failed[0]?.field}: ${result.failed[0]?.message}`,
        result.failed.map((f) => ({ field: `batch.${f.index}.${f.field}`, message: f.message })));
    }
    // Partly bad: 200 so that clients do not retry the good messages, with the failures listed.
    return c.json({ success: failedCount === 0, accepted: result.accepted, duplicates: result.duplicates, failed: result.failed });
  };
  app.post("/batch", batch);
  app.post("/b", batch);
  app.post("/import", batch);
  return app;
}
