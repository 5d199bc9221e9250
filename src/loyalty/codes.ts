/**
 * Discount codes the programme hands out (rewards, referral welcomes, wheel
 * prizes): unique, unambiguous, and pushed to the shop's discount-code
 * webhook when one is set, so its checkout accepts them — and the
 * programme's events in the event log (logLoyaltyEvent).
 */
import { randomBytes } from "node:crypto";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";

/** `length` random characters from 32 letters and digits without 0/O or 1/I (5 bits each). */
export function randomCode(length: number): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  let s = "";
  for (const b of randomBytes(length)) s += alphabet[b % alphabet.length];
  return s;
}

/** `FID-XXXXX-XXXXX`: 50 bits, so codes can't be guessed. */
export function newCode(): string {
  const s = randomCode(10);
  return `FID-${s.slice(0, 5)}-${s.slice(5)}`;
}

/** A programme event (type `loyalty`) in the event log, once per `key`, in the caller's transaction. */
export async function logLoyaltyEvent(tx: Queryable, ws: Workspace, customerId: number, name: string, key: string, properties: Record<string, unknown>, now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
     VALUES ($1, $2, 'loyalty', $3, $4, $5::jsonb, $6, $6) ON CONFLICT (workspace_id, message_id) DO NOTHING`,
    [ws.id, key, name, customerId, JSON.stringify(properties), now],
  );
}

/**
 * Queues a code for the shop's webhook in the caller's transaction (through
 * the outbox: the webhook worker signs it and retries until the shop has it).
 * `what` says what the code is for, with the discount it gives.
 */
export async function pushCode(tx: Queryable, ws: Workspace, webhookUrl: string | null, customerId: number, code: string, what: Record<string, unknown>, now: Date): Promise<void> {
  if (!webhookUrl) return;
  await tx.query(
    `INSERT INTO messages (workspace_id, idempotency_key, channel, purpose, customer_id, content, status, due_at, created_at)
     VALUES ($1, $2, 'webhook', 'transactional', $3, $4::jsonb, 'pending', $5, $5) ON CONFLICT (workspace_id, idempotency_key) DO NOTHING`,
    [ws.id, `code:${code}`, customerId, JSON.stringify({ url: webhookUrl, journey: "loyalty reward", code, ...what }), now],
  );
}
