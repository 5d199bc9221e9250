/**
 * @module demo — a realistic synthetic shop, seeded and deterministic: the same
 * seed and end date give the same shop, row for row.
 *
 * Each customer follows their own purchase process, in the spirit of the
 * BG/NBD story (Fader, Hardie & Lee 2005): while "alive" they buy at their own
 * rhythm (replenishment buyers near their product's usage period), and after
 * each purchase they may drop out for good. Acquisition channels differ in
 * loyalty, so channel reports have something to show. Some customers only
 * browse and abandon carts; some orders are returned; some are guest orders.
 */
import { refreshPlannerStatistics, type Store } from "../store/index.ts";
import {
  appendEvents,
  linkAnonymous,
  writeCustomers,
  writeOrders,
  writeProducts,
  writeRefunds,
  type CustomerRecord,
  type EventRecord,
  type OrderRecord,
  type ProductRecord,
  type RefundRecord,
} from "../ingest/index.ts";
import type { Workspace } from "../workspaces/index.ts";

export interface DemoOptions {
  customers?: number;
  seed?: number;
  /** Last day of the history (UTC); the history covers the two years before it. */
  end: Date;
  onProgress?: (done: number, total: number) => void;
}

export interface DemoSummary {
  customers: number;
  products: number;
  orders: number;
  refunds: number;
  events: number;
}

/** mulberry32: a small, fast, well-distributed 32-bit PRNG, enough for synthetic data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;

const CATALOGUE: { id: string; title: string; category: string; price: number; usageDays?: number }[] = [
  { id: "coffee-espresso", title: "Espresso beans 1 kg", category: "coffee", price: 2490, usageDays: 30 },
  { id: "coffee-filter", title: "Filter roast 500 g", category: "coffee", price: 1390, usageDays: 21 },
  { id: "coffee-decaf", title: "Swiss-water decaf 500 g", category: "coffee", price: 1590, usageDays: 28 },
  { id: "coffee-capsules", title: "Compostable capsules ×50", category: "coffee", price: 1990, usageDays: 25 },
  { id: "tea-green", title: "Sencha green tea 100 g", category: "tea", price: 1190, usageDays: 45 },
  { id: "tea-black", title: "Assam breakfast tea 250 g", category: "tea", price: 1290, usageDays: 40 },
  { id: "tea-herbal", title: "Herbal infusion box", category: "tea", price: 1490, usageDays: 50 },
  { id: "skin-cream", title: "Day cream 50 ml", category: "skincare", price: 3290, usageDays: 60 },
  { id: "skin-serum", title: "Vitamin C serum 30 ml", category: "skincare", price: 3990, usageDays: 55 },
  { id: "skin-cleanser", title: "Gentle cleanser 200 ml", category: "skincare", price: 1890, usageDays: 75 },
  { id: "skin-spf", title: "Sunscreen SPF 50", category: "skincare", price: 2190, usageDays: 90 },
  { id: "acc-grinder", title: "Burr grinder", category: "accessories", price: 8900 },
  { id: "acc-kettle", title: "Gooseneck kettle", category: "accessories", price: 5900 },
  { id: "acc-mug", title: "Stoneware mug", category: "accessories", price: 1600 },
  { id: "acc-dripper", title: "Ceramic dripper", category: "accessories", price: 2800 },
  { id: "acc-scale", title: "Brewing scale", category: "accessories", price: 3900 },
  { id: "cloth-tshirt", title: "Organic cotton T-shirt", category: "clothing", price: 2900 },
  { id: "cloth-hoodie", title: "Roaster hoodie", category: "clothing", price: 5900 },
  { id: "cloth-apron", title: "Barista apron", category: "clothing", price: 3500 },
  { id: "book-brewing", title: "The Home Brewing Handbook", category: "books", price: 2400 },
  { id: "book-tea", title: "A World of Tea", category: "books", price: 2900 },
  { id: "gift-box", title: "Discovery gift box", category: "gifts", price: 4500 },
  { id: "gift-card-25", title: "Gift card 25 €", category: "gifts", price: 2500 },
  { id: "gift-card-50", title: "Gift card 50 €", category: "gifts", price: 5000 },
];

const CHANNELS = [
  // share of new customers, rhythm multiplier (>1 buys less often), drop-out probability after a purchase
  { name: "organic_search", share: 0.28, rhythm: 1.0, dropout: 0.22, utm: { source: "google", medium: "organic" } },
  { name: "paid_search", share: 0.22, rhythm: 1.25, dropout: 0.35, utm: { source: "google", medium: "cpc", campaign: "brand-and-generic" } },
  { name: "paid_social", share: 0.18, rhythm: 1.4, dropout: 0.42, utm: { source: "instagram", medium: "paid_social", campaign: "discovery" } },
  { name: "email", share: 0.1, rhythm: 0.8, dropout: 0.15, utm: { source: "newsletter", medium: "email", campaign: "welcome" } },
  { name: "referral", share: 0.12, rhythm: 0.85, dropout: 0.16, utm: { source: "friend", medium: "referral" } },
  { name: "direct", share: 0.1, rhythm: 0.95, dropout: 0.2, utm: undefined },
];

const FIRST = ["Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Lucas", "Hugo", "Louis", "Jules", "Gabriel", "Arthur", "Nathan", "Paul", "Sofia", "Mia", "Noah", "Adam", "Zoé", "Alice", "Elena", "Marco"];
const LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Rossi", "Müller", "Schmidt", "Novak", "Silva"];
const ZONES = [
  { tz: "Europe/Paris", locale: "fr-FR", w: 0.55 },
  { tz: "Europe/Brussels", locale: "fr-BE", w: 0.1 },
  { tz: "Europe/Berlin", locale: "de-DE", w: 0.12 },
  { tz: "Europe/Rome", locale: "it-IT", w: 0.08 },
  { tz: "Europe/London", locale: "en-GB", w: 0.1 },
  { tz: "America/Montreal", locale: "fr-CA", w: 0.05 },
];

function pickWeighted<T extends { w?: number; share?: number }>(items: readonly T[], r: number): T {
  let acc = 0;
  for (const it of items) {
    acc += it.w ?? it.share ?? 0;
    if (r < acc) return it;
  }
  const last = items[items.length - 1];
  if (!last) throw new Error("empty list");
  return last;
}

function pick<T>(items: readonly T[], r: number): T {
  const it = items[Math.min(items.length - 1, Math.floor(r * items.length))];
  if (it === undefined) throw new Error("empty list");
  return it;
}

/** A deterministic stream of the shop's data, customer by customer. */
export function* generateDemo(options: { customers: number; seed: number; end: Date }): Generator<{
  customer: CustomerRecord | undefined;
  orders: OrderRecord[];
  refunds: RefundRecord[];
  events: (EventRecord & { customerKey?: string })[];
  anonymousIds: string[];
}> {
  const rand = rng(options.seed);
  const end = Date.UTC(options.end.getUTCFullYear(), options.end.getUTCMonth(), options.end.getUTCDate());
  const start = end - 730 * DAY;
  const expo = (mean: number) => -Math.log(1 - rand()) * mean;
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  let orderSeq = 1000;
  let refundSeq = 1;

  for (let i = 1; i <= options.customers; i++) {
    const id = `demo-${String(i).padStart(5, "0")}`;
    const channel = pickWeighted(CHANNELS, rand());
    const zone = pickWeighted(ZONES, rand());
    const first = pick(FIRST, rand());
    const last = pick(LAST, rand());
    // More customers join as the shop grows: density rises over the two years.
    const joined = start + Math.sqrt(rand()) * (end - start - DAY);
    const email = `${first}.${last}.${i}@example.com`.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
    const birthday = rand() < 0.6 ? new Date(Date.UTC(1960 + Math.floor(rand() * 45), Math.floor(rand() * 12), 1 + Math.floor(rand() * 28))).toISOString().slice(0, 10) : undefined;
    const emailConsent = rand() < 0.72;
    // Derived from the customer number, not drawn, so the rest of the demo stays the same draw for draw.
    const adsConsent = emailConsent && i % 5 !== 0;
    const phone = zone.tz === "Europe/Paris" && i % 3 === 0 ? `+33 6 ${String((i * 7919) % 100_000_000).padStart(8, "0").replace(/(\d\d)(?=\d)/g, "$1 ")}` : undefined;
    const customer: CustomerRecord = {
      externalId: id,
      email,
      firstName: first,
      lastName: last,
      ...(phone ? { phone } : {}),
      ...(birthday ? { birthday } : {}),
      timeZone: zone.tz,
      locale: zone.locale,
      acquisitionChannel: channel.name,
      ...(channel.utm ? { firstTouch: { ...channel.utm, landingPage: "https://shop.example.com/", at: new Date(joined) } } : {}),
      consents: [
        { channel: "email", granted: emailConsent, source: "checkout", at: new Date(joined) },
        { channel: "ads", granted: adsConsent, source: "cookie banner", at: new Date(joined) },
        ...(rand() < 0.3 ? [{ channel: "sms" as const, granted: true, source: "checkout", at: new Date(joined) }] : []),
      ],
      createdAt: new Date(joined),
      traits: rand() < 0.4 ? { favouriteBrewMethod: pick(["espresso", "filter", "french press", "moka", "capsules"], rand()) } : {},
    };

    const events: (EventRecord & { customerKey?: string })[] = [];
    const anonymousIds: string[] = [];
    const anon = `anon-${i}-${Math.floor(rand() * 1e9).toString(36)}`;
    anonymousIds.push(anon);
    const orders: OrderRecord[] = [];
    const refunds: RefundRecord[] = [];

    // A favourite category; replenishable ones set the rhythm.
    const favourite = pick(CATALOGUE, rand());
    const replenisher = favourite.usageDays !== undefined && rand() < 0.7;
    const baseRhythm = replenisher ? (favourite.usageDays ?? 30) * (0.9 + rand() * 0.6) : 45 + expo(120);
    const rhythm = baseRhythm * channel.rhythm;
    const dropout = Math.min(0.9, channel.dropout * (0.5 + rand()));
    const spend = Math.exp(0.35 * normal()); // each customer's own basket size (Gamma-Gamma's heterogeneity)
    const prospect = rand() < 0.18;

    const browse = (at: number, product: (typeof CATALOGUE)[number], added: boolean, who: { userId?: string; anon: string }) => {
      const base = { customerId: null, anonymousId: who.anon, context: { page: { url: `https://shop.example.com/p/${product.id}` } }, ...(who.userId ? { customerKey: who.userId } : {}) };
      const props = { product_id: product.id, name: product.title, category: product.category, price: product.price / 100, currency: "EUR" };
      events.push({ ...base, messageId: `demo-ev-${i}-${events.length}`, type: "track", name: "Product Viewed", properties: props, occurredAt: new Date(at) });
      if (added) events.push({ ...base, messageId: `demo-ev-${i}-${events.length}`, type: "track", name: "Product Added", properties: { ...props, quantity: 1 }, occurredAt: new Date(at + 3 * 60_000) });
    };

    let t = joined;
    let alive = !prospect;
    // Anonymous browsing before the first visit that identifies them.
    browse(t - 2 * DAY, pick(CATALOGUE, rand()), false, { anon });
    while (alive && t < end) {
      const basketSize = 1 + (rand() < 0.35 ? 1 : 0) + (rand() < 0.1 ? 1 : 0);
      const lines: OrderRecord["lines"] = [];
      for (let k = 0; k < basketSize; k++) {
        const p = k === 0 && rand() < 0.75 ? favourite : pick(CATALOGUE, rand());
        const qty = 1 + (rand() < 0.2 ? 1 : 0);
        const unit = Math.round((p.price * (0.9 + 0.2 * spend)) / 10) * 10;
        if (lines.some((l) => l.productId === p.id)) continue;
        lines.push({ productId: p.id, title: p.title, category: p.category, quantity: qty, unitPriceMinor: unit, discountMinor: 0, totalMinor: unit * qty });
      }
      const subtotal = lines.reduce((s, l) => s + l.totalMinor, 0);
      const coupon = rand() < 0.15 ? pick(["WELCOME10", "SPRING15", "LOYAL10"], rand()) : undefined;
      const discount = coupon ? Math.round(subtotal * 0.1) : 0;
      const shipping = subtotal >= 4900 ? 0 : 490;
      const externalId = `D${orderSeq++}`;
      browse(t - 20 * 60_000, favourite, true, { userId: id, anon });
      const guest = rand() < 0.04;
      orders.push({
        externalId,
        ...(guest ? { email } : { customer: { externalId: id } }),
        status: t < end - 5 * DAY ? "fulfilled" : "paid",
        placedAt: new Date(t),
        currency: "EUR",
        subtotalMinor: subtotal,
        discountMinor: discount,
        shippingMinor: shipping,
        taxMinor: 0,
        totalMinor: subtotal - discount + shipping,
        discountCodes: coupon ? [coupon] : [],
        salesChannel: rand() < 0.3 ? "mobile_app" : "web",
        lines,
      });
      const returnRate = lines.some((l) => l.category === "clothing") ? 0.18 : 0.04;
      const refundAt = t + (5 + rand() * 25) * DAY;
      if (!guest && rand() < returnRate && refundAt < end) {
        const line = lines[0];
        if (line) {
          refunds.push({
            externalId: `R${refundSeq++}`,
            orderExternalId: externalId,
            refundedAt: new Date(refundAt),
            currency: "EUR",
            amountMinor: line.totalMinor,
            reason: pick(["wrong size", "damaged", "changed my mind", "not as described"], rand()),
            lines: [{ productId: line.productId, quantity: line.quantity, amountMinor: line.totalMinor }],
          });
        }
      }
      if (rand() < dropout) alive = false;
      // Gamma-ish spread around the customer's own rhythm.
      t += Math.max(3 * DAY, rhythm * DAY * (0.5 + expo(0.5)));
    }
    // Abandoned carts: a recent add-to-cart with no order after it.
    if (rand() < 0.25) {
      const at = end - rand() * 20 * DAY;
      if (at > joined) browse(at, pick(CATALOGUE, rand()), true, { userId: id, anon });
    }
    if (prospect) {
      events.push({ messageId: `demo-ev-${i}-${events.length}`, type: "identify", name: null, customerId: null, anonymousId: anon, properties: { email }, context: {}, occurredAt: new Date(joined), customerKey: id });
    }
    yield { customer, orders, refunds, events, anonymousIds };
  }
}

/** Writes the demo shop into the store in batches; returns what it wrote. */
export async function loadDemo(store: Store, ws: Workspace, options: DemoOptions): Promise<DemoSummary> {
  const total = options.customers ?? 3000;
  const summary: DemoSummary = { customers: 0, products: 0, orders: 0, refunds: 0, events: 0 };
  const now = options.end;
  const products: ProductRecord[] = CATALOGUE.map((p) => ({
    externalId: p.id,
    title: p.title,
    category: p.category,
    priceMinor: p.price,
    currency: "EUR",
    url: `https://shop.example.com/p/${p.id}`,
    imageUrl: `https://shop.example.com/img/${p.id}.jpg`,
    ...(p.usageDays ? { usageDays: p.usageDays } : {}),
  }));
  await store.transaction((tx) => writeProducts(tx, ws, products, now));
  summary.products = products.length;

  let chunk: ReturnType<typeof generateDemo> extends Generator<infer T> ? T[] : never = [];
  let done = 0;
  const flush = async () => {
    const items = chunk;
    chunk = [];
    await store.transaction(async (tx) => {
      const customers = items.flatMap((it) => (it.customer ? [it.customer] : []));
      const { ids, inserted } = await writeCustomers(tx, ws, customers, "demo", now);
      summary.customers += inserted;
      await linkAnonymous(
        tx,
        ws,
        items.flatMap((it) => {
          const cid = it.customer?.externalId ? ids.get(it.customer.externalId) : undefined;
          return cid === undefined ? [] : it.anonymousIds.map((a) => ({ anonymousId: a, customerId: cid }));
        }),
        now,
      );
      const events = items.flatMap((it) => it.events.map(({ customerKey, ...e }) => ({ ...e, customerId: customerKey ? (ids.get(customerKey) ?? null) : null })));
      summary.events += (await appendEvents(tx, ws, events, now)).size;
      summary.orders += (await writeOrders(tx, ws, items.flatMap((it) => it.orders), "demo", now)).inserted.length;
      summary.refunds += (await writeRefunds(tx, ws, items.flatMap((it) => it.refunds), "demo", now)).inserted.length;
    });
    options.onProgress?.(done, total);
  };
  for (const item of generateDemo({ customers: total, seed: options.seed ?? 42, end: options.end })) {
    chunk.push(item);
    done++;
    if (chunk.length >= 250) await flush();
  }
  await flush();
  await refreshPlannerStatistics(store);
  return summary;
}
export { loadDemoLoyalty, type DemoLoyaltySummary } from "./loyalty.ts";
