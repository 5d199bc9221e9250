/**
 * The tracking benchmark's load: seeded Segment `track` batches (a share of
 * them Order Completed), and the messages the load process (tracking-load.ts)
 * and the benchmark exchange over IPC.
 */
import { z } from "zod";
import type { Rng } from "./rng.ts";

export interface TrackingOptions {
  events: number;
  batchSize: number;
  concurrency: number;
  seed: number;
  /** Stop sending new batches after this long (the rate is then over what was sent). */
  maxSeconds: number;
}

/** Parent → load process: where to send and what. */
export const LoadStart = z.object({
  url: z.string(),
  authorization: z.string(),
  options: z.object({ events: z.number(), batchSize: z.number(), concurrency: z.number(), seed: z.number(), maxSeconds: z.number() }),
});
export type LoadStart = z.infer<typeof LoadStart>;

/** Load process → parent: progress, then the outcome (times in ms from the first request). */
export const LoadReport = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("progress"), events: z.number(), ms: z.number(), rss: z.number() }),
  z.object({
    kind: z.literal("done"),
    sent: z.number(),
    stoppedEarly: z.boolean(),
    ordersSent: z.number(),
    batches: z.number(),
    ms: z.number(),
    secondHalfPerSec: z.number(),
    latencies: z.array(z.number()),
    failedBatches: z.number(),
    firstFailures: z.array(z.string()),
    bodyBytes: z.number(),
    rssPeak: z.number(),
  }),
]);
export type LoadReport = z.infer<typeof LoadReport>;

const PRODUCTS = Array.from({ length: 500 }, (_, i) => ({
  id: `P${1000 + i}`,
  name: `Product ${1000 + i}`,
  category: ["Home", "Kitchen", "Garden", "Toys", "Stationery"][i % 5] ?? "Home",
  cents: 199 + ((i * 7919) % 9800),
}));

/** Builds the messages of batch `index` (deterministic: the rng is consumed in batch order). */
export function buildBatch(rng: Rng, o: TrackingOptions, index: number, count: number, visitors: number): { body: string; orders: number } {
  const batch: Record<string, unknown>[] = [];
  let orders = 0;
  const base = Date.UTC(2026, 10, 23, 10, 0, 0);
  for (let k = 0; k < count; k++) {
    const i = index * o.batchSize + k;
    const v = rng.int(0, visitors - 1);
    // 40 % of visitors are known customers; they are sometimes logged in (userId), often with their anonymous id too.
    const known = v % 5 < 2;
    const withUser = known && rng.chance(0.6);
    const withAnon = !withUser || rng.chance(0.7);
    const product = rng.pick(PRODUCTS);
    const r = rng.next();
    const page = { path: `/products/${product.id}`, url: `https://shop.example/products/${product.id}`, title: product.name };
    const common = {
      type: "track",
      messageId: `bench-${o.seed}-${i}`,
      ...(withUser ? { userId: `user-${v}` } : {}),
      ...(withAnon ? { anonymousId: `anon-${o.seed}-${v}` } : {}),
      timestamp: new Date(base + i * 40).toISOString(),
      context: {
        library: { name: "analytics.js", version: "5.2.0" },
        ip: `203.0.113.${v % 250}`,
        userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        locale: "en-GB",
        page,
      },
    };
    if (r < 0.02) {
      orders++;
      const lines = Array.from({ length: rng.int(1, 3) }, () => {
        const p = rng.pick(PRODUCTS);
        return { product_id: p.id, sku: `SKU-${p.id}`, name: p.name, category: p.category, price: p.cents / 100, quantity: rng.int(1, 3) };
      });
      const cents = lines.reduce((s, l) => s + Math.round(l.price * 100) * l.quantity, 0);
      batch.push({
        ...common,
        event: "Order Completed",
        properties: { order_id: `bench-${o.seed}-order-${i}`, total: cents / 100, revenue: cents / 100, currency: "EUR", products: lines },
      });
    } else {
      batch.push({
        ...common,
        event: r < 0.38 ? "Product Added" : "Product Viewed",
        properties: {
          product_id: product.id,
          sku: `SKU-${product.id}`,
          name: product.name,
          category: product.category,
          price: product.cents / 100,
          currency: "EUR",
          url: page.url,
          ...(r < 0.38 ? { quantity: 1, cart_id: `cart-${v}` } : {}),
        },
      });
    }
  }
  return { body: JSON.stringify({ batch, sentAt: new Date(base).toISOString() }), orders };
}
