/** Segments under /api/segments (admin key or dashboard session). Handlers parse, call one domain function, return. */
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { Store } from "../../store/index.ts";
import { parseInput, type Clock } from "../../shared/index.ts";
import {
  ExportQuery,
  createSegment,
  deleteSegment,
  evaluateSegments,
  exportSegment,
  fieldCatalogue,
  getSegment,
  listMembers,
  listSegments,
  previewSegment,
  segmentHistory,
  updateSegment,
} from "../../segments/index.ts";
import type { KeyAuthenticator } from "../../workspaces/index.ts";
import { adminAuth, type Env } from "../auth.ts";
import { jsonBody } from "../errors.ts";
import { queryOf, pathId } from "../query.ts";

export function segmentRoutes(store: Store, clock: Clock, authenticate: KeyAuthenticator): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", adminAuth(authenticate, store, clock));

  app.get("/", async (c) => c.json(await listSegments(store, c.get("owner").workspace)));
  app.get("/fields", (c) => c.json(fieldCatalogue()));
  app.post("/", async (c) => c.json(await createSegment(store, c.get("owner").workspace, await jsonBody(c), clock.now()), 201));
  app.post("/preview", async (c) => c.json(await previewSegment(store, c.get("owner").workspace, await jsonBody(c), clock.now())));
  app.post("/evaluate", async (c) => c.json(await evaluateSegments(store, c.get("owner").workspace, clock.now())));
  app.get("/:id", async (c) => c.json(await getSegment(store, c.get("owner").workspace, pathId(c.req.param("id")))));
  app.patch("/:id", async (c) => c.json(await updateSegment(store, c.get("owner").workspace, pathId(c.req.param("id")), await jsonBody(c), clock.now())));
  app.delete("/:id", async (c) => {
    await deleteSegment(store, c.get("owner").workspace, pathId(c.req.param("id")));
    return c.body(null, 204);
  });
  app.get("/:id/members", async (c) => c.json(await listMembers(store, c.get("owner").workspace, pathId(c.req.param("id")), queryOf(c))));
  app.get("/:id/history", async (c) => c.json(await segmentHistory(store, c.get("owner").workspace, pathId(c.req.param("id")), queryOf(c), clock.now())));
  /** The file is streamed page by page; bad parameters are refused before the first byte. */
  app.get("/:id/export", async (c) => {
    const ws = c.get("owner").workspace;
    const id = pathId(c.req.param("id"));
    const q = parseInput(ExportQuery, queryOf(c));
    const seg = await getSegment(store, ws, id);
    const slug = seg.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || `segment-${id}`;
    const file = q.format === "csv" ? `${slug}.csv` : `${slug}-${q.platform}-audience.csv`;
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="${file}"`);
    return stream(c, async (s) => {
      await exportSegment(store, ws, id, queryOf(c), (chunk) => s.write(chunk).then(() => undefined));
    });
  });
  return app;
}
