/**
 * The delivery worker: takes due messages from the outbox and carries them
 * out, with the send-time checks a shop owes its customers.
 *
 * 1. Claim (one transaction, `FOR UPDATE SKIP LOCKED`, so several workers
 *    share the outbox): each due message is checked against the customer as
 *    they are *now*: an address, email consent for marketing, not a bounced
 *    address; quiet hours in their time zone and the global frequency cap
 *    move `due_at` (deferred, never dropped). The rest are marked `sending`
 *    with a lease: if this process dies, the lease runs out and another pass
 *    sends them again.
 * 2. Send, outside any transaction, a few in parallel.
 * 3. Record each outcome as it comes: `sent` (and `Email Sent` in the event
 *    log), a retry with back-off for a temporary failure, `bounced` (and the
 *    address suppressed) or `failed`.
 *
 * Delivery is at least once: a message is marked sent right after the server
 * accepts it; dying between the two (a few milliseconds) sends it again on
 * the next pass, with the same Message-ID, which is derived from the
 * idempotency key so the receiving system can tell it is a repeat.
 */
import type { Queryable, Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { appendEvents } from "../ingest/index.ts";
import { quietUntil, stableId } from "../shared/index.ts";
import { DeliveryError, type EmailChannel, type WebhookChannel } from "./channels.ts";
import { getMessagingSettings, type MessagingSettings } from "./settings.ts";
import { loadContexts } from "./context.ts";
import { renderEmail, type EmailTemplate } from "./render.ts";
import { signingSecret, signLink } from "./links.ts";

const DAY_MS = 86_400_000;
/** How long a claimed message is ours before another pass may take it again. */
export const LEASE_MS = 2 * 60_000;
/** Temporary failures are retried this many times, 1 min, 2, 4 … capped at 6 hours apart (about 2½ days in all). */
export const MAX_ATTEMPTS = 15;

export function retryDelayMs(attempt: number): number {
  return Math.min(2 ** Math.max(0, attempt - 1) * 60_000, 6 * 3_600_000);
}

export interface DeliveryDeps {
  store: Store;
  ws: Workspace;
  /** Undefined when no SMTP server is configured: email waits in the outbox. */
  email: EmailChannel | undefined;
  webhook: WebhookChannel;
  /** Where links in messages point (the server's public address). */
  baseUrl: string;
  /** Default sender, `Name <address>`. */
  from: string;
  shopName: string;
}

export interface DeliveryResult {
  sent: number;
  deferred: number;
  suppressed: number;
  retried: number;
  bounced: number;
  failed: number;
}

interface Claimed {
  id: number;
  key: string;
  channel: string;
  purpose: "marketing" | "transactional";
  customerId: number | null;
  externalId: string | null;
  journeyId: number | null;
  step: string | null;
  content: Record<string, unknown>;
  attempts: number;
  email: string | null;
}

type Decision = { id: number; status: "sending" | "pending" | "suppressed"; dueAt: Date; deferred: string | null; error: string | null; claim: boolean };

/** One pass: claims up to `limit` due messages, sends them, records the outcomes. */
export async function deliverDue(deps: DeliveryDeps, now: Date, limit = 200, parallel = 5): Promise<DeliveryResult> {
  const result: DeliveryResult = { sent: 0, deferred: 0, suppressed: 0, retried: 0, bounced: 0, failed: 0 };
  const settings = await getMessagingSettings(deps.store, deps.ws);
  const claimed = await deps.store.transaction((tx) => claim(tx, deps, settings, now, limit, result));
  if (claimed.length === 0) return result;
  const secret = await signingSecret(deps.store, deps.ws.id);
  const contexts = await loadContexts(
    deps.store,
    deps.ws,
    claimed.flatMap((m) => (m.customerId === null ? [] : [m.customerId])),
    { name: deps.shopName, url: deps.baseUrl },
    now,
  );
  const recorder = new Recorder(deps.store, deps.ws, now);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < claimed.length; i = next++) {
      const m = claimed[i];
      if (m) await deliverOne(deps, recorder, settings, m, contexts.get(m.customerId ?? -1), secret, now, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return result;
}

async function claim(tx: Queryable, deps: DeliveryDeps, settings: MessagingSettings, now: Date, limit: number, result: DeliveryResult): Promise<Claimed[]> {
  const channels = deps.email ? ["email", "webhook"] : ["webhook"];
  const rows = await tx.query<{
    id: number;
    idempotency_key: string;
    channel: string;
    purpose: "marketing" | "transactional";
    customer_id: number | null;
    journey_id: number | null;
    step: string | null;
    content: Record<string, unknown>;
    attempts: number;
  }>(
    `SELECT id, idempotency_key, channel, purpose, customer_id, journey_id, step, content, attempts FROM messages
      WHERE workspace_id = $1 AND status IN ('pending', 'sending') AND due_at <= $2 AND channel = ANY($3::text[])
      ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED`,
    [deps.ws.id, now, channels, limit],
  );
  if (rows.length === 0) return [];
  const ids = [...new Set(rows.flatMap((r) => (r.customer_id === null ? [] : [Number(r.customer_id)])))];
  const people = new Map(
    (await tx.query<{ id: number; email: string | null; time_zone: string | null; external_id: string }>("SELECT id, email, time_zone, external_id FROM customers WHERE id = ANY($1::bigint[])", [ids])).map((c) => [
      Number(c.id),
      c,
    ]),
  );
  const consented = new Set(
    (await tx.query<{ customer_id: number }>("SELECT customer_id FROM customer_consents WHERE customer_id = ANY($1::bigint[]) AND channel = 'email' AND granted", [ids])).map((r) =>
      Number(r.customer_id),
    ),
  );
  const emails = [...new Set([...people.values()].flatMap((p) => (p.email ? [p.email.toLowerCase()] : [])))];
  const suppressed = new Set(
    (await tx.query<{ email: string }>("SELECT email FROM email_suppressions WHERE workspace_id = $1 AND email = ANY($2::text[])", [deps.ws.id, emails])).map((r) => r.email),
  );
  // Marketing messages sent (or being sent) in the last 7 days, per customer, for the cap.
  const recent = new Map<number, number[]>();
  for (const r of await tx.query<{ customer_id: number; at: Date }>(
    `SELECT customer_id, COALESCE(sent_at, due_at - make_interval(secs => $3::float8 / 1000)) AS at FROM messages
      WHERE workspace_id = $1 AND customer_id = ANY($2::bigint[]) AND purpose = 'marketing' AND channel = 'email'
        AND (status = 'sent' AND sent_at > $4::timestamptz - interval '7 days' OR status = 'sending' AND due_at > $4::timestamptz)`,
    [deps.ws.id, ids, LEASE_MS, now],
  )) {
    const list = recent.get(Number(r.customer_id)) ?? [];
    list.push(r.at.getTime());
    recent.set(Number(r.customer_id), list);
  }

  const decisions: Decision[] = [];
  const out: Claimed[] = [];
  for (const r of rows) {
    const person = r.customer_id === null ? undefined : people.get(Number(r.customer_id));
    const base = { id: Number(r.id), dueAt: now, deferred: null, error: null, claim: false };
    if (r.channel === "email") {
      const email = person?.email?.toLowerCase();
      const marketing = r.purpose === "marketing";
      const refuse = !email
        ? "no email address"
        : suppressed.has(email)
          ? "address suppressed (bounced)"
          : marketing && !consented.has(Number(r.customer_id))
            ? "no email consent"
            : undefined;
      if (refuse) {
        decisions.push({ ...base, status: "suppressed", error: refuse });
        result.suppressed += 1;
        continue;
      }
      if (marketing) {
        const quiet = settings.quietHours ? quietUntil(now, person?.time_zone, settings.quietHours.from, settings.quietHours.to) : undefined;
        const sent = (recent.get(Number(r.customer_id)) ?? []).sort((a, b) => a - b);
        const capFree = capFreeAt(sent, settings, now);
        if (quiet || capFree) {
          const dueAt = new Date(Math.max(quiet?.getTime() ?? 0, capFree?.getTime() ?? 0));
          decisions.push({ ...base, status: "pending", dueAt, deferred: quiet && (!capFree || quiet >= capFree) ? "quiet hours" : "frequency cap" });
          result.deferred += 1;
          continue;
        }
        sent.push(now.getTime());
        recent.set(Number(r.customer_id), sent);
      }
    }
    decisions.push({ ...base, status: "sending", dueAt: new Date(now.getTime() + LEASE_MS), claim: true });
    out.push({
      id: Number(r.id),
      key: r.idempotency_key,
      channel: r.channel,
      purpose: r.purpose,
      customerId: r.customer_id === null ? null : Number(r.customer_id),
      externalId: person?.external_id ?? null,
      journeyId: r.journey_id === null ? null : Number(r.journey_id),
      step: r.step,
      content: r.content,
      attempts: r.attempts + 1,
      email: person?.email ?? null,
    });
  }
  await tx.query(
    `UPDATE messages m SET status = x.status, due_at = x.due_at, deferred = x.deferred, last_error = COALESCE(x.error, m.last_error),
            attempts = m.attempts + CASE WHEN x.claim THEN 1 ELSE 0 END
       FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, status text, due_at timestamptz, deferred text, error text, claim boolean)
      WHERE m.workspace_id = $1 AND m.id = x.id`,
    [deps.ws.id, JSON.stringify(decisions.map((d) => ({ id: d.id, status: d.status, due_at: d.dueAt.toISOString(), deferred: d.deferred, error: d.error, claim: d.claim })))],
  );
  return out;
}

/** When the frequency cap lets the next marketing message go, or undefined when it may go now. */
export function capFreeAt(sortedSentMs: readonly number[], settings: MessagingSettings, now: Date): Date | undefined {
  let free = 0;
  const check = (cap: number | null, windowMs: number) => {
    if (cap === null) return;
    const inWindow = sortedSentMs.filter((t) => t > now.getTime() - windowMs);
    if (inWindow.length < cap) return;
    // The cap frees up when the oldest message that keeps it full leaves the window.
    const oldest = inWindow[inWindow.length - cap];
    free = Math.max(free, cap === 0 ? now.getTime() + windowMs : (oldest ?? now.getTime()) + windowMs);
  };
  check(settings.caps.perDay, DAY_MS);
  check(settings.caps.perWeek, 7 * DAY_MS);
  return free > now.getTime() ? new Date(free) : undefined;
}

function fromAddress(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1] ?? from;
}

async function deliverOne(deps: DeliveryDeps, recorder: Recorder, settings: MessagingSettings, m: Claimed, context: Record<string, unknown> | undefined, secret: string, now: Date, result: DeliveryResult): Promise<void> {
  const ws = deps.ws.id;
  try {
    if (m.channel === "webhook") {
      const { url: rawUrl, ...payload } = m.content;
      const url = String(rawUrl ?? "");
      await deps.webhook.post(url, { ...payload, step: m.step, customer: context?.["customer"] ?? { external_id: m.externalId }, sentAt: now.toISOString() }, m.key);
      await recorder.record({ m, status: "sent", subject: null, to: url });
      result.sent += 1;
      return;
    }
    if (!deps.email || !context || !m.email || m.customerId === null) throw new DeliveryError("permanent", "the customer is gone");
    const base = deps.baseUrl.replace(/\/$/, "");
    const unsubscribe = `${base}/u/${signLink(secret, { k: "u", w: ws, c: m.customerId, m: m.id })}`;
    const template: EmailTemplate = {
      subject: String(m.content["subject"] ?? ""),
      preview: typeof m.content["preview"] === "string" ? m.content["preview"] : undefined,
      body: String(m.content["body"] ?? ""),
      text: typeof m.content["text"] === "string" ? m.content["text"] : undefined,
    };
    const campaign = String(m.content["campaign"] ?? "fidelio")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    const rendered = await renderEmail(
      template,
      { ...context, trigger: m.content["trigger"] ?? {}, unsubscribe_url: unsubscribe },
      {
        click: (url) => `${base}/t/c/${signLink(secret, { k: "c", w: ws, m: m.id, u: url })}`,
        pixel: `${base}/t/o/${signLink(secret, { k: "o", w: ws, m: m.id })}`,
        utm: { utm_source: "fidelio", utm_medium: "email", utm_campaign: campaign || "fidelio", utm_content: m.step ?? "message" },
        keep: [unsubscribe],
      },
    );
    const from = settings.sender ? `${settings.sender.name} <${settings.sender.address}>` : deps.from;
    const headers: Record<string, string> = { "X-Fidelio-Message": String(m.id) };
    if (m.purpose === "marketing") {
      // RFC 8058: one-click unsubscribe by POST to this address, honoured at once.
      headers["List-Unsubscribe"] = `<${unsubscribe}>`;
      headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    }
    await deps.email.send({
      from,
      replyTo: settings.sender?.replyTo,
      to: m.email,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      messageId: `<${stableId(ws, m.key)}@${fromAddress(from).split("@")[1] ?? "fidelio.local"}>`,
      headers,
      date: now,
    });
    await recorder.record({ m, status: "sent", subject: rendered.subject, to: m.email });
    result.sent += 1;
  } catch (err) {
    const e = err instanceof DeliveryError ? err : new DeliveryError("permanent", err instanceof Error ? err.message : String(err));
    if (e.kind === "temporary" && m.attempts < MAX_ATTEMPTS) {
      await deps.store.query("UPDATE messages SET status = 'pending', due_at = $2, deferred = 'retry', last_error = $3 WHERE id = $1", [
        m.id,
        new Date(now.getTime() + retryDelayMs(m.attempts)),
        e.message.slice(0, 1000),
      ]);
      result.retried += 1;
    } else if (e.kind === "bounce") {
      await recorder.record({ m, status: "bounced", subject: null, to: m.email, error: e.message });
      result.bounced += 1;
    } else {
      await recorder.record({ m, status: "failed", subject: null, to: m.email, error: e.message });
      result.failed += 1;
    }
  }
}

const EVENT_OF = { sent: "Email Sent", bounced: "Email Bounced", failed: "Message Failed" } as const;

interface Outcome {
  m: Claimed;
  status: "sent" | "bounced" | "failed";
  subject: string | null;
  to: string | null;
  error?: string;
}

/**
 * Records outcomes with a group commit: an outcome waits for the write in
 * progress (if any), then the next write takes every outcome that arrived
 * meanwhile, in one transaction. One sender at a time writes each outcome
 * alone, at once; ten in parallel share transactions instead of queueing
 * for the database one by one. Either way an outcome is written as soon as
 * the database is free, which keeps the at-least-once window short.
 */
class Recorder {
  #pending: Outcome[] = [];
  #running: Promise<void> | undefined;
  readonly #failed = new Map<Outcome, unknown>();

  constructor(
    private readonly store: Store,
    private readonly ws: Workspace,
    private readonly now: Date,
  ) {}

  async record(o: Outcome): Promise<void> {
    this.#pending.push(o);
    while (this.#pending.includes(o)) {
      if (this.#running) {
        await this.#running.catch(() => undefined);
        continue;
      }
      const batch = this.#pending.splice(0);
      this.#running = writeOutcomes(this.store, this.ws, batch, this.now)
        .catch((err: unknown) => {
          for (const b of batch) this.#failed.set(b, err);
        })
        .finally(() => {
          this.#running = undefined;
        });
      await this.#running;
    }
    await this.#running?.catch(() => undefined);
    if (this.#failed.has(o)) {
      const err = this.#failed.get(o);
      this.#failed.delete(o);
      throw err;
    }
  }
}

/** Records outcomes and their facts in the event log, in one transaction. */
async function writeOutcomes(store: Store, ws: Workspace, outcomes: readonly Outcome[], now: Date): Promise<void> {
  if (outcomes.length === 0) return;
  await store.transaction(async (tx) => {
    await tx.query(
      `UPDATE messages m SET status = x.status, sent_at = CASE WHEN x.status = 'sent' THEN $2::timestamptz END, to_address = x.to_address,
              subject = x.subject, last_error = x.error, deferred = NULL
         FROM jsonb_to_recordset($3::jsonb) AS x(id bigint, status text, to_address text, subject text, error text)
        WHERE m.workspace_id = $1 AND m.id = x.id`,
      [ws.id, now, JSON.stringify(outcomes.map((o) => ({ id: o.m.id, status: o.status, to_address: o.to, subject: o.subject, error: o.error?.slice(0, 1000) ?? null })))],
    );
    const bounced = outcomes.filter((o) => o.status === "bounced" && o.to);
    if (bounced.length > 0) {
      await tx.query(
        `INSERT INTO email_suppressions (workspace_id, email, reason, detail, at)
         SELECT DISTINCT ON (lower(x.email)) $1, lower(x.email), 'bounce', x.detail, $2 FROM jsonb_to_recordset($3::jsonb) AS x(email text, detail text)
         ON CONFLICT (workspace_id, email) DO NOTHING`,
        [ws.id, now, JSON.stringify(bounced.map((o) => ({ email: o.to, detail: o.error?.slice(0, 1000) ?? null })))],
      );
    }
    await appendEvents(
      tx,
      ws,
      outcomes
        .filter((o) => o.m.customerId !== null && o.m.channel === "email")
        .map((o) => ({
          messageId: `${o.status}:${o.m.id}`,
          type: "message" as const,
          name: EVENT_OF[o.status],
          customerId: o.m.customerId,
          anonymousId: null,
          properties: { messageId: o.m.id, journeyId: o.m.journeyId, step: o.m.step, subject: o.subject, ...(o.error ? { error: o.error.slice(0, 500) } : {}) },
          context: {},
          occurredAt: now,
        })),
      now,
    );
  });
}
