/**
 * What customers do with messages: open (pixel), click (redirect), and
 * unsubscribe (a signed link, honoured at once; RFC 8058 one-click POST or
 * a click on the link in the footer). Each is a fact in the event log, so
 * segments and journeys can read it ("opened nothing in 180 days").
 */
import type { Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { appendEvents, writeCustomers } from "../ingest/index.ts";
import { AppError, sha256Hex } from "../shared/index.ts";
import { verifyLink, type LinkPayload } from "./links.ts";

async function messageOf(store: Store, ws: string, id: number) {
  const rows = await store.query<{ customer_id: number | null; journey_id: number | null; step: string | null }>(
    "SELECT customer_id, journey_id, step FROM messages WHERE workspace_id = $1 AND id = $2",
    [ws, id],
  );
  return rows[0];
}

async function logEvent(store: Store, ws: Workspace, messageId: string, name: string, customerId: number, properties: Record<string, unknown>, now: Date): Promise<void> {
  await store.transaction((tx) =>
    appendEvents(tx, ws, [{ messageId, type: "message", name, customerId, anonymousId: null, properties, context: {}, occurredAt: now }], now),
  );
}

async function workspaceOf(store: Store, id: string): Promise<Workspace> {
  const rows = await store.query<{ id: string; currency: string }>("SELECT id, currency FROM workspaces WHERE id = $1", [id]);
  const ws = rows[0];
  if (!ws) throw new AppError("not_found", "this link is not valid");
  return ws;
}

/** Records the first open of a message (later opens add nothing). */
export async function recordOpen(store: Store, token: string, now: Date): Promise<void> {
  const link = await verifyLink(store, token);
  if (link.k !== "o") throw new AppError("not_found", "this link is not valid");
  const m = await messageOf(store, link.w, link.m);
  if (!m || m.customer_id === null) return;
  await logEvent(store, await workspaceOf(store, link.w), `open:${link.m}`, "Email Opened", m.customer_id, { messageId: link.m, journeyId: m.journey_id, step: m.step }, now);
}

/** Records a click (the first per link) and returns where to send the customer. */
export async function recordClick(store: Store, token: string, now: Date): Promise<string> {
  const link = await verifyLink(store, token);
  if (link.k !== "c") throw new AppError("not_found", "this link is not valid");
  const m = await messageOf(store, link.w, link.m);
  if (m && m.customer_id !== null) {
    const ws = await workspaceOf(store, link.w);
    await logEvent(store, ws, `click:${link.m}:${sha256Hex(link.u).slice(0, 16)}`, "Email Clicked", m.customer_id, { messageId: link.m, journeyId: m.journey_id, step: m.step, url: link.u }, now);
  }
  return link.u;
}

export interface UnsubscribeResult {
  email: string | null;
  subscribed: boolean;
}

/**
 * Withdraws (or, from the confirmation page, gives back) a customer's email
 * consent through the one write path, so the change is logged and every
 * message not yet sent is held back at send time.
 */
export async function setEmailConsentByLink(store: Store, token: string, granted: boolean, now: Date): Promise<UnsubscribeResult> {
  const link: LinkPayload = await verifyLink(store, token);
  if (link.k !== "u") throw new AppError("not_found", "this link is not valid");
  const ws = await workspaceOf(store, link.w);
  const rows = await store.query<{ external_id: string; email: string | null }>("SELECT external_id, email FROM customers WHERE workspace_id = $1 AND id = $2", [ws.id, link.c]);
  const c = rows[0];
  if (!c) throw new AppError("not_found", "this link is not valid");
  await store.transaction((tx) =>
    writeCustomers(tx, ws, [{ externalId: c.external_id, consents: [{ channel: "email", granted, source: granted ? "resubscribe link" : "unsubscribe link", at: now }] }], "unsubscribe", now),
  );
  return { email: c.email, subscribed: granted };
}
