/**
 * Takes Segment messages (one, or a batch) into the store. Each message is
 * validated on its own: a bad one is reported with its index and field and the
 * others are kept. The good ones are written in one transaction, in bulk.
 */
import type { Store } from "../../store/index.ts";
import { AppError, NUL_CHARACTER_MESSAGE, sha256Hex, isJsonObject, issuesOf, nulCharacterPath, toAppError, type FieldIssue } from "../../shared/index.ts";
import { CustomerRecord, type OrderRecord, type ProductRecord, type RefundRecord } from "../records.ts";
import {
  appendEvents,
  linkAnonymous,
  mergeCustomers,
  noteProducts,
  writeCustomers,
  writeOrders,
  writeRefunds,
  type EventRecord,
  type Workspace,
} from "../write.ts";
import type { KnownProducts } from "../known-products.ts";
import { MAX_MESSAGE_BYTES, SegmentMessage } from "./segment-message.ts";
import { PRODUCT_EVENTS, orderFromTrack, productFromProperties, refundFromTrack } from "./ecommerce.ts";

export interface MessageFailure {
  index: number;
  messageId: string | undefined;
  field: string;
  message: string;
}

export interface ProcessResult {
  accepted: number;
  duplicates: number;
  failed: MessageFailure[];
}

interface Prepared {
  /** Which of the batches written together this message came in, and its index there. */
  batch: number;
  index: number;
  msg: SegmentMessage;
  event: EventRecord;
  userId: string | undefined;
  anonymousId: string | undefined;
  customer: CustomerRecord | undefined;
}

const KNOWN_TRAITS: Record<string, keyof CustomerRecord> = {
  email: "email",
  phone: "phone",
  firstName: "firstName",
  first_name: "firstName",
  lastName: "lastName",
  last_name: "lastName",
  birthday: "birthday",
  timezone: "timeZone",
  timeZone: "timeZone",
  locale: "locale",
  createdAt: "createdAt",
  created_at: "createdAt",
};

/** Segment corrects device clocks: timestamp = receivedAt − (sentAt − originalTimestamp). */
function occurredAt(msg: SegmentMessage, receivedAt: Date, batchSentAt: Date | undefined): Date {
  const sentAt = msg.sentAt ?? batchSentAt;
  if (msg.originalTimestamp && sentAt) return new Date(receivedAt.getTime() - (sentAt.getTime() - msg.originalTimestamp.getTime()));
  if (msg.timestamp) return msg.timestamp;
  if (msg.originalTimestamp) return msg.originalTimestamp;
  return receivedAt;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** `v` when it is a JSON object, else an empty one (never copied: callers only read it). */
function obj(v: unknown): Record<string, unknown> {
  return isJsonObject(v) ? v : {};
}

/** Builds the customer record an identify (or any message with traits) describes. */
function customerFromTraits(userId: string | undefined, traitsIn: Record<string, unknown>, context: Record<string, unknown>, at: Date) {
  const fields: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(traitsIn)) {
    const known = KNOWN_TRAITS[k];
    if (known) fields[known] = v;
    else if (k === "name" && typeof v === "string") {
      const [first, ...rest] = v.trim().split(/\s+/);
      fields.firstName ??= first;
      if (rest.length > 0) fields.lastName ??= rest.join(" ");
    } else if (k === "consents") {
      fields.consents = Object.entries(obj(v)).map(([channel, granted]) => ({ channel, granted, source: "tracking", at }));
    } else if (k !== "id" && k !== "userId" && k !== "anonymousId") custom[k] = v;
  }
  const campaign = obj(context.campaign);
  const page = obj(context.page);
  const hasUtm = Object.keys(campaign).length > 0 || str(page.referrer);
  return {
    ...(userId ? { externalId: userId } : {}),
    ...fields,
    ...(str(context.timezone) && fields.timeZone === undefined ? { timeZone: str(context.timezone) } : {}),
    ...(str(context.locale) && fields.locale === undefined ? { locale: str(context.locale) } : {}),
    ...(hasUtm
      ? {
          firstTouch: {
            source: str(campaign.source),
            medium: str(campaign.medium),
            campaign: str(campaign.name),
            term: str(campaign.term),
            content: str(campaign.content),
            referrer: str(page.referrer),
            landingPage: str(page.url),
            at,
          },
        }
      : {}),
    ...(Object.keys(custom).length > 0 ? { traits: custom } : {}),
  };
}

/** A request's messages, validated: the good ones ready to write and the failures. */
export interface PreparedBatch {
  readonly prepared: readonly Prepared[];
  readonly failed: readonly MessageFailure[];
  readonly receivedAt: Date;
}

/**
 * Validates a request's messages (no database): each bad one is a failure
 * with its index and field, the others are ready to write. `envelope` is the
 * batch envelope (its context merged under each message's own).
 */
export function prepareMessages(
  raw: readonly unknown[],
  receivedAt: Date,
  envelope: { context?: Record<string, unknown>; sentAt?: string } = {},
): PreparedBatch {
  const failed: MessageFailure[] = [];
  const prepared: Prepared[] = [];
  const batchSentAt = envelope.sentAt && !Number.isNaN(Date.parse(envelope.sentAt)) ? new Date(envelope.sentAt) : undefined;
  const fail = (index: number, messageId: string | undefined, issues: FieldIssue[]) => {
    for (const i of issues.slice(0, 5)) failed.push({ index, messageId, field: i.field, message: i.message });
  };
  // The envelope's context goes into every message: a NUL there fails them all.
  const envelopeNul = nulCharacterPath(envelope.context, "context");
  for (const [index, item] of raw.entries()) {
    const rawId = str(obj(item).messageId);
    const json = JSON.stringify(item ?? null);
    if (json.length > MAX_MESSAGE_BYTES) {
      fail(index, rawId, [{ field: "(message)", message: `larger than ${MAX_MESSAGE_BYTES / 1024} KB` }]);
      continue;
    }
    // JSON text escapes U+0000 as \u0000: look for the path only when it is there.
    const nul = (json.includes("\\u0000") ? nulCharacterPath(item) : undefined) ?? envelopeNul;
    if (nul !== undefined) {
      fail(index, rawId, [{ field: nul, message: NUL_CHARACTER_MESSAGE }]);
      continue;
    }
    const parsed = SegmentMessage.safeParse(item);
    if (!parsed.success) {
      fail(index, rawId, issuesOf(parsed.error));
      continue;
    }
    const msg = parsed.data;
    const userId = msg.userId ?? undefined;
    const anonymousId = msg.anonymousId ?? undefined;
    if (!userId && !anonymousId) {
      fail(index, rawId, [{ field: "userId", message: "userId or anonymousId is required" }]);
      continue;
    }
    const context = { ...envelope.context, ...msg.context };
    const at = occurredAt(msg, receivedAt, batchSentAt);
    // Without a messageId a retry is recognised by its content as sent (which
    // includes the client's timestamp, if any) — never by the time it arrived.
    const messageId = msg.messageId ?? `h:${sha256Hex(JSON.stringify(item))}`;
    const props = "properties" in msg ? obj(msg.properties) : {};
    const traits = msg.type === "identify" ? obj(msg.traits) : obj(context.traits);

    let customer: CustomerRecord | undefined;
    if (msg.type === "identify" || userId || str(traits.email)) {
      const candidate = customerFromTraits(userId, traits, context, at);
      if (userId === undefined && str(traits.email) === undefined) {
        if (msg.type === "identify") {
          fail(index, messageId, [{ field: "userId", message: "identify needs a userId or traits.email" }]);
          continue;
        }
      } else {
        const c = CustomerRecord.safeParse(candidate);
        if (!c.success) {
          fail(index, messageId, issuesOf(c.error, msg.type === "identify" ? "traits" : "context.traits"));
          continue;
        }
        customer = c.data;
      }
    }
    const name = msg.type === "track" ? msg.event : msg.type === "page" || msg.type === "screen" ? (msg.name ?? null) : null;
    prepared.push({
      batch: 0,
      index,
      msg,
      userId,
      anonymousId,
      customer,
      event: {
        messageId,
        type: msg.type,
        name,
        customerId: null,
        anonymousId: anonymousId ?? null,
        properties:
          msg.type === "identify" || msg.type === "group"
            ? obj(msg.traits)
            : msg.type === "alias"
              ? { previousId: msg.previousId }
              : msg.type === "page"
                ? { ...props, ...(msg.category ? { category: msg.category } : {}) }
                : props,
        context,
        occurredAt: at,
      },
    });
  }

  return { prepared, failed, receivedAt };
}

/**
 * Processes messages for `ws`: validates them, then writes the good ones in
 * one transaction. Throws only when the store fails: then nothing of the
 * batch was stored and the client should retry.
 */
export async function processMessages(
  store: Store,
  ws: Workspace,
  raw: readonly unknown[],
  receivedAt: Date,
  envelope: { context?: Record<string, unknown>; sentAt?: string } = {},
  options: { knownProducts?: KnownProducts } = {},
): Promise<ProcessResult> {
  const [result] = await writePrepared(store, ws, [prepareMessages(raw, receivedAt, envelope)], options);
  if (!result) throw new Error("writePrepared returned no result");
  return result;
}

/**
 * Writes several prepared batches of one workspace in one transaction, as if
 * they were one batch in this order (a later message's fields win), and
 * returns each batch's own result. Throws only when the store fails: then
 * nothing of any of them was stored.
 */
export async function writePrepared(
  store: Store,
  ws: Workspace,
  batches: readonly PreparedBatch[],
  options: { knownProducts?: KnownProducts } = {},
): Promise<ProcessResult[]> {
  const prepared = batches.flatMap((b, batch) => b.prepared.map((p) => ({ ...p, batch })));
  // Writes are stamped with the latest arrival; each event keeps its own.
  const receivedAt = new Date(Math.max(...batches.map((b) => b.receivedAt.getTime())));
  const failedOf = batches.map((): MessageFailure[] => []);
  const fail = (p: Prepared, issues: FieldIssue[]) => {
    const into = failedOf[p.batch];
    if (into) for (const i of issues.slice(0, 5)) into.push({ index: p.index, messageId: p.event.messageId, field: i.field, message: i.message });
  };
  const accepted = batches.map(() => 0);
  const duplicates = batches.map(() => 0);
  const known = options.knownProducts?.of(ws.id);
  const noted: string[] = [];
  await store.transaction(async (tx) => {
    noted.length = 0;
    // The store may run this callback again (PostgreSQL deadlock retry): start clean.
    for (const f of failedOf) f.length = 0;
    accepted.fill(0);
    duplicates.fill(0);
    // 1. Customers named by identify traits or by a userId.
    const { ids } = await writeCustomers(tx, ws, prepared.flatMap((p) => (p.customer ? [p.customer] : [])), "tracking", receivedAt);
    const customerIdOf = (p: Prepared): number | undefined =>
      p.customer ? ids.get(p.customer.externalId ?? p.customer.email ?? "") : undefined;

    // 2. Identity: anonymous ids seen with a customer join them; alias merges two known ids.
    await linkAnonymous(
      tx,
      ws,
      prepared.flatMap((p) => {
        const cid = customerIdOf(p);
        return cid !== undefined && p.anonymousId ? [{ anonymousId: p.anonymousId, customerId: cid }] : [];
      }),
      receivedAt,
    );
    for (const p of prepared) {
      const cid = customerIdOf(p);
      if (p.msg.type === "alias") {
        const previousId = String(p.msg.previousId);
        const prev = await tx.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, previousId]);
        const prevCustomer = prev[0];
        if (prevCustomer && cid !== undefined) await mergeCustomers(tx, ws, prevCustomer.id, cid, receivedAt);
        else if (cid !== undefined) await linkAnonymous(tx, ws, [{ anonymousId: previousId, customerId: cid }], receivedAt);
      }
    }
    const anonIds = [...new Set(prepared.flatMap((p) => (p.anonymousId && customerIdOf(p) === undefined ? [p.anonymousId] : [])))];
    const anonCustomer = new Map<string, { id: number; external_id: string; email: string | null }>();
    if (anonIds.length > 0) {
      const rows = await tx.query<{ anonymous_id: string; id: number; external_id: string; email: string | null }>(
        `SELECT a.anonymous_id, c.id, c.external_id, c.email FROM anonymous_ids a JOIN customers c ON c.id = a.customer_id
          WHERE a.workspace_id = $1 AND a.anonymous_id = ANY($2::text[])`,
        [ws.id, anonIds],
      );
      for (const r of rows) anonCustomer.set(r.anonymous_id, r);
    }

    // 3. Orders and refunds that the e-commerce events describe, validated before anything is written.
    const orders: { messageId: string; order: OrderRecord }[] = [];
    const refunds: { p: Prepared; build: (order: { total: number; currency: string } | undefined) => RefundRecord }[] = [];
    const products: ProductRecord[] = [];
    const good: Prepared[] = [];
    for (const p of prepared) {
      const cid = customerIdOf(p);
      p.event.customerId = cid ?? null;
      try {
        if (p.msg.type === "track" && p.msg.event === "Order Completed") {
          const known = p.anonymousId ? anonCustomer.get(p.anonymousId) : undefined;
          const ref = p.customer
            ? { externalId: p.customer.externalId, email: p.customer.email }
            : known
              ? { externalId: known.external_id }
              : undefined;
          const ctxTraits = obj(p.event.context.traits);
          const order = orderFromTrack(p.event.properties, {
            customer: ref,
            email: str(p.event.properties.email) ?? str(ctxTraits.email),
            occurredAt: p.event.occurredAt,
            defaultCurrency: ws.currency,
          });
          orders.push({ messageId: p.event.messageId, order });
        } else if (p.msg.type === "track" && p.msg.event === "Order Refunded") {
          const props = p.event.properties;
          const event = p.event;
          refundFromTrack(props, { messageId: event.messageId, occurredAt: event.occurredAt, orderTotalMinor: undefined, orderCurrency: undefined, defaultCurrency: ws.currency });
          refunds.push({
            p,
            build: (order) =>
              refundFromTrack(props, { messageId: event.messageId, occurredAt: event.occurredAt, orderTotalMinor: order?.total, orderCurrency: order?.currency, defaultCurrency: ws.currency }),
          });
        } else if (p.msg.type === "track" && PRODUCT_EVENTS.has(p.msg.event)) {
          const product = productFromProperties(p.event.properties, ws.currency);
          if (product) products.push(product);
        }
        good.push(p);
      } catch (err) {
        const e = toAppError(err);
        fail(p, e.issues.length > 0 ? e.issues : [{ field: "(message)", message: e.message }]);
      }
    }
    // A refund needs its order, stored before or earlier in this batch.
    const refundOrderIds = refunds.map((r) => String(r.p.event.properties.order_id));
    const knownOrders = new Map<string, { total: number; currency: string }>();
    for (const { order: o } of orders) knownOrders.set(o.externalId, { total: o.totalMinor, currency: o.currency });
    if (refundOrderIds.length > 0) {
      const rows = await tx.query<{ external_id: string; total_minor: number; currency: string }>(
        "SELECT external_id, total_minor, currency FROM orders WHERE workspace_id = $1 AND external_id = ANY($2::text[])",
        [ws.id, refundOrderIds],
      );
      for (const r of rows) knownOrders.set(r.external_id, { total: r.total_minor, currency: r.currency });
    }
    const refundRecords: RefundRecord[] = [];
    const rejected = new Set<Prepared>();
    for (const r of refunds) {
      const orderId = String(r.p.event.properties.order_id);
      const order = knownOrders.get(orderId);
      if (!order) {
        fail(r.p, [{ field: "properties.order_id", message: `no order "${orderId}" is known` }]);
        rejected.add(r.p);
      } else refundRecords.push(r.build(order));
    }
    const toStore = good.filter((p) => !rejected.has(p));

    // 4. The events themselves; duplicates (same messageId) are skipped and derive nothing.
    const fresh = await appendEvents(tx, ws, toStore.map((p) => ({ ...p.event, receivedAt: batches[p.batch]?.receivedAt ?? receivedAt })), receivedAt);
    // A messageId is fresh once: a second message with it (in this batch or another written with it) is a duplicate.
    const counted = new Set<string>();
    for (const p of toStore) {
      accepted[p.batch] = (accepted[p.batch] ?? 0) + 1;
      if (fresh.has(p.event.messageId) && !counted.has(p.event.messageId)) counted.add(p.event.messageId);
      else duplicates[p.batch] = (duplicates[p.batch] ?? 0) + 1;
    }
    const unknownProducts = known ? products.filter((p) => !known.has(p.externalId)) : products;
    await noteProducts(tx, ws, unknownProducts, receivedAt);
    noted.push(...unknownProducts.map((p) => p.externalId));
    // Only new messages derive orders; an Order Completed for a known order
    // (re-sent under another messageId) neither duplicates it nor changes its status.
    const written = await writeOrders(tx, ws, orders.filter((o) => fresh.has(o.messageId)).map((o) => o.order), "tracking", receivedAt, {
      updateStatus: false,
      ...(known ? { knownProducts: known } : {}),
    });
    noted.push(...written.notedProducts);
    await writeRefunds(tx, ws, refundRecords.filter((r) => fresh.has(r.externalId.slice("segment:".length))), "tracking", receivedAt);
  });
  // Committed: these products are in the catalogue now.
  options.knownProducts?.add(ws.id, noted);
  return batches.map((b, i) => ({
    accepted: accepted[i] ?? 0,
    duplicates: duplicates[i] ?? 0,
    failed: [...b.failed, ...(failedOf[i] ?? [])].sort((x, y) => x.index - y.index),
  }));
}

/** For single-message endpoints: a failure is the request's failure. */
export function throwIfFailed(result: ProcessResult): void {
  const first = result.failed[0];
  if (first) {
    throw new AppError("invalid_input", `${first.field}: ${first.message}`, result.failed.map((f) => ({ field: f.field, message: f.message })));
  }
}
