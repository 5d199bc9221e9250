/** Shopify-shaped webhooks, verified with X-Shopify-Hmac-Sha256 before anything is read. */
import { Hono, type Context } from "hono";
import type { Store } from "../../store/index.ts";
import { AppError, type Clock } from "../../shared/index.ts";
import { shopifyCustomer, shopifyOrder, verifyShopifyHmac, writeCustomers, writeOrders, writeRefunds } from "../../ingest/index.ts";
import type { Workspace } from "../../workspaces/index.ts";

export function webhookRoutes(store: Store, clock: Clock, ws: Workspace, secret: string | undefined): Hono {
  const app = new Hono();

  async function verified(c: Context): Promise<unknown> {
    if (!secret) throw new AppError("not_configured", "Shopify webhooks are off: set SHOPIFY_WEBHOOK_SECRET");
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (!verifyShopifyHmac(raw, c.req.header("x-shopify-hmac-sha256"), secret)) {
      throw new AppError("unauthorized", "X-Shopify-Hmac-Sha256: the signature does not match the body", [{ field: "X-Shopify-Hmac-Sha256", message: "bad signature" }]);
    }
    try {
      // Shopify ids are 64-bit: ids past 2^53 would lose digits as numbers, so they are read as strings.
      const text = new TextDecoder().decode(raw).replace(/("(?:[a-z_]+_)?id"\s*:\s*)(\d{16,})/g, '$1"$2"');
      return JSON.parse(text);
    } catch {
      throw new AppError("invalid_input", "(body): not valid JSON", [{ field: "(body)", message: "not valid JSON" }]);
    }
  }

  app.post("/shopify/orders", async (c) => {
    const body = await verified(c);
    const now = clock.now();
    const { order, refunds } = shopifyOrder(body, now);
    const r = await store.transaction(async (tx) => {
      const written = await writeOrders(tx, ws, [order], "shopify", now);
      const refunded = await writeRefunds(tx, ws, refunds, "shopify", now);
      return { created: written.inserted.length > 0, refundsCreated: refunded.inserted.length };
    });
    return c.json({ ok: true, externalId: order.externalId, ...r });
  });

  app.post("/shopify/customers", async (c) => {
    const body = await verified(c);
    const now = clock.now();
    const customer = shopifyCustomer(body, now);
    const r = await store.transaction((tx) => writeCustomers(tx, ws, [customer], "shopify", now));
    return c.json({ ok: true, externalId: customer.externalId, created: r.inserted > 0 });
  });
  return app;
}
