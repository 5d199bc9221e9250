/**
 * The HTTP server: Segment tracking under /v1, admin REST under /api, Shopify
 * webhooks under /webhooks, and the status page at /. Built on hono; the
 * Node adapter lives only in `serve`.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { serve as serveNode } from "@hono/node-server";
import type { Store } from "../store/index.ts";
import { AppError, type Clock } from "../shared/index.ts";
import { keyAuthenticator, type Workspace } from "../workspaces/index.ts";
import { storeCounts } from "../customers/index.ts";
import { OrderProjections } from "../metrics/index.ts";
import { errorResponse } from "./errors.ts";
import { trackingRoutes } from "./routes/tracking.ts";
import { adminRoutes } from "./routes/admin.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { modelRoutes } from "./routes/models.ts";
import { segmentRoutes } from "./routes/segments.ts";
import { journeyRoutes, messagingRoutes, type MessagingSite } from "./routes/journeys.ts";
import { linkRoutes } from "./routes/links.ts";
import { loyaltyRoutes } from "./routes/loyalty.ts";
import { storefrontRoutes } from "./routes/storefront.ts";
import { sessionRoutes } from "./routes/session.ts";
import { dashboard, DEFAULT_WEB_DIR } from "./dashboard.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { openApiDocument } from "./openapi.ts";

export interface AppDeps {
  store: Store;
  clock: Clock;
  /** The workspace that webhooks and the status page belong to. */
  workspace: Workspace;
  maxBodyBytes: number;
  shopifyWebhookSecret: string | undefined;
  /** The built dashboard (default: web/dist of this package). */
  webDir?: string;
  /** The URL people reach the server at, when a proxy sits in front (FIDELIO_PUBLIC_URL). */
  publicUrl?: string | undefined;
  /** The shop's name and the address links in messages point to. */
  site?: MessagingSite;
  /** The in-memory orders the retention figures are counted from (one is made when not given). */
  orderProjections?: OrderProjections;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new AppError("not_found", `no route ${c.req.method} ${c.req.path}`)));

  const limit = bodyLimit({
    maxSize: deps.maxBodyBytes,
    onError: (c) => {
      // The rest of the body is not read: the connection cannot be reused.
      c.header("Connection", "close");
      return errorResponse(c, new AppError("payload_too_large", `(body): larger than ${Math.round(deps.maxBodyBytes / 1024)} KB`, [{ field: "(body)", message: "too large" }]));
    },
  });
  // Storefront snippets post from the shop's own origin.
  app.use("/v1/*", cors({ origin: "*", allowHeaders: ["Authorization", "Content-Type"], allowMethods: ["POST", "OPTIONS"] }));
  app.use("/v1/*", limit);
  app.use("/api/*", limit);
  app.use("/webhooks/*", limit);

  app.get("/health", (c) => c.json({ ok: true }));
  app.get("/api/openapi.json", (c) => c.json(openApiDocument(new URL(c.req.url).origin)));
  const authenticate = keyAuthenticator(deps.store, deps.clock);
  app.route("/v1", trackingRoutes(deps.store, deps.clock, authenticate));
  app.route("/api/session", sessionRoutes(deps.store, deps.clock, deps.publicUrl));
  app.route("/api/metrics", metricsRoutes(deps.store, deps.clock, authenticate, deps.orderProjections ?? new OrderProjections(deps.store)));
  app.route("/api/models", modelRoutes(deps.store, deps.clock, authenticate));
  app.route("/api/segments", segmentRoutes(deps.store, deps.clock, authenticate));
  app.route("/api/journeys", journeyRoutes(deps.store, deps.clock, authenticate, deps.site ?? { shopName: "The shop", baseUrl: deps.publicUrl ?? "http://localhost:3700" }));
  app.route("/api/messaging", messagingRoutes(deps.store, deps.clock, authenticate));
  app.route("/api/loyalty", loyaltyRoutes(deps.store, deps.clock, authenticate));
  app.route("/api/storefront", storefrontRoutes(deps.store, deps.clock, deps.workspace));
  app.route("/", linkRoutes(deps.store, deps.clock));
  app.route("/api", adminRoutes(deps.store, deps.clock, authenticate));
  app.route("/webhooks", webhookRoutes(deps.store, deps.clock, deps.workspace, deps.shopifyWebhookSecret));
  // The dashboard owns every other GET; until it is built, / is a status page.
  const statusOnly = async (c: Context) => {
    if (c.req.path !== "/") return errorResponse(c, new AppError("not_found", `no route GET ${c.req.path}`));
    return c.html(statusPage(await storeCounts(deps.store, deps.workspace)));
  };
  const web = dashboard(deps.webDir ?? DEFAULT_WEB_DIR, statusOnly);
  app.get("*", (c) => {
    const p = c.req.path;
    if (p.startsWith("/api/") || p.startsWith("/v1/") || p.startsWith("/webhooks/")) {
      return errorResponse(c, new AppError("not_found", `no route GET ${p}`));
    }
    return web(c);
  });
  return app;
}

function statusPage(n: { customers: number; orders: number; events: number; products: number }): string {
  const fmt = (x: number) => x.toLocaleString("en");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Fidelio</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2937}
.n{display:grid;grid-template-columns:repeat(auto-fit,minmax(8rem,1fr));gap:1rem}.n div{background:#f3f4f6;border-radius:.5rem;padding:1rem}
.n b{display:block;font-size:1.6rem}code{background:#f3f4f6;padding:0 .25rem;border-radius:.25rem}</style></head><body>
<h1>Fidelio is running</h1><div class="n"><div><b>${fmt(n.customers)}</b>customers</div><div><b>${fmt(n.orders)}</b>orders</div>
<div><b>${fmt(n.events)}</b>events</div><div><b>${fmt(n.products)}</b>products</div></div>
<p>The dashboard is not built: run <code>npm start</code> (it builds it) or <code>npm run build:web</code>.</p>
<p>Send events to <code>/v1/track</code> (Segment spec), manage data under <code>/api</code>; the API is described in
<a href="/api/openapi.json">/api/openapi.json</a>. Import files with <code>npx fidelio import FILE --format F</code>.</p></body></html>`;
}

/** Starts listening; resolves with the bound port and a function that stops the server. */
export function serve(app: Hono, port: number, host: string): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serveNode({ fetch: app.fetch, port, hostname: host }, (info) => {
      resolve({
        port: info.port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
    server.once("error", reject);
  });
}
