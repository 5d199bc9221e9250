/**
 * How a journey is doing, step by step: how many customers reached each
 * step, wait there now, were sent a message, opened, clicked; how many
 * converted (a goal ended their run) or left, and the holdout's comparison.
 * Also one customer's messages, newest first.
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { getJourney } from "./journeys-store.ts";

export interface StepStats {
  step: string;
  type: string;
  label: string | null;
  reached: number;
  waiting: number;
  sent: number;
  opened: number;
  clicked: number;
  suppressed: number;
  pending: number;
}

export interface JourneyStats {
  journeyId: number;
  entered: number;
  inside: number;
  converted: number;
  exited: Record<string, number>;
  holdout: number;
  steps: StepStats[];
  /** Orders within 30 days of entering: the treated customers against the holdout (the uplift, when there is a holdout). */
  ordersWithin30: { treated: { customers: number; ordered: number; rate: number }; holdout: { customers: number; ordered: number; rate: number } | null };
}

export async function journeyStats(db: Queryable, ws: Workspace, id: number, now: Date): Promise<JourneyStats> {
  const journey = await getJourney(db, ws, id);
  const log = await db.query<{ step: string; what: string; n: number }>(
    "SELECT step, what, count(*)::int AS n FROM journey_step_log WHERE workspace_id = $1 AND journey_id = $2 GROUP BY step, what",
    [ws.id, id],
  );
  const waiting = await db.query<{ step: string; n: number }>(
    "SELECT step, count(*)::int AS n FROM journey_enrolments WHERE workspace_id = $1 AND journey_id = $2 AND status <> 'done' GROUP BY step",
    [ws.id, id],
  );
  const messages = await db.query<{ step: string; status: string; n: number }>(
    "SELECT step, status, count(*)::int AS n FROM messages WHERE workspace_id = $1 AND journey_id = $2 GROUP BY step, status",
    [ws.id, id],
  );
  const engagement = await db.query<{ step: string; name: string; n: number }>(
    `SELECT m.step, e.name, count(DISTINCT m.id)::int AS n FROM messages m
       JOIN events e ON e.workspace_id = m.workspace_id AND e.type = 'message' AND e.name IN ('Email Opened', 'Email Clicked')
        AND e.customer_id = m.customer_id AND (e.properties ->> 'messageId')::bigint = m.id
      WHERE m.workspace_id = $1 AND m.journey_id = $2 GROUP BY m.step, e.name`,
    [ws.id, id],
  );
  const outcome = await db.query<{ holdout: boolean; customers: number; ordered: number }>(
    `WITH entries AS (
       SELECT e.customer_id, e.entered_at, e.exit_reason = 'holdout' AS holdout FROM journey_enrolments e
        WHERE e.workspace_id = $1 AND e.journey_id = $2 AND e.entered_at <= $3::timestamptz - interval '30 days'
     )
     SELECT holdout, count(DISTINCT customer_id)::int AS customers,
            count(DISTINCT customer_id) FILTER (WHERE EXISTS (
              SELECT 1 FROM orders o WHERE o.customer_id = entries.customer_id AND o.placed_at > entries.entered_at AND o.placed_at <= entries.entered_at + interval '30 days'))::int AS ordered
       FROM entries GROUP BY holdout`,
    [ws.id, id, now],
  );
  const n = (rows: { n: number }[]) => rows.reduce((a, r) => a + r.n, 0);
  const exited: Record<string, number> = {};
  for (const r of log) if (r.what.startsWith("exit:")) exited[r.what.slice(5)] = (exited[r.what.slice(5)] ?? 0) + r.n;
  const group = (o: { customers: number; ordered: number } | undefined) => (o ? { customers: o.customers, ordered: o.ordered, rate: o.customers ? o.ordered / o.customers : 0 } : null);
  return {
    journeyId: id,
    entered: n(log.filter((r) => r.what === "entered")),
    inside: n(waiting),
    converted: exited["goal"] ?? 0,
    exited,
    holdout: n(log.filter((r) => r.what === "holdout")),
    steps: journey.definition.steps.map((s) => ({
      step: s.id,
      type: s.type,
      label: s.label ?? null,
      reached: n(log.filter((r) => r.step === s.id && r.what === "reached")),
      waiting: n(waiting.filter((r) => r.step === s.id)),
      sent: n(messages.filter((r) => r.step === s.id && r.status === "sent")),
      opened: n(engagement.filter((r) => r.step === s.id && r.name === "Email Opened")),
      clicked: n(engagement.filter((r) => r.step === s.id && r.name === "Email Clicked")),
      suppressed: n(messages.filter((r) => r.step === s.id && r.status === "suppressed")),
      pending: n(messages.filter((r) => r.step === s.id && (r.status === "pending" || r.status === "sending"))),
    })),
    ordersWithin30: {
      treated: group(outcome.find((o) => !o.holdout)) ?? { customers: 0, ordered: 0, rate: 0 },
      holdout: group(outcome.find((o) => o.holdout)),
    },
  };
}

export interface MessageView {
  id: number;
  journeyId: number | null;
  journey: string | null;
  step: string | null;
  channel: string;
  purpose: string;
  status: string;
  subject: string | null;
  to: string | null;
  createdAt: string;
  dueAt: string;
  sentAt: string | null;
  deferred: string | null;
  error: string | null;
  attempts: number;
}

/** A customer's messages (by external id), newest first. */
export async function customerMessages(db: Queryable, ws: Workspace, externalId: string, limit = 100): Promise<MessageView[]> {
  const rows = await db.query<{
    id: number;
    journey_id: number | null;
    journey: string | null;
    step: string | null;
    channel: string;
    purpose: string;
    status: string;
    subject: string | null;
    to_address: string | null;
    created_at: Date;
    due_at: Date;
    sent_at: Date | null;
    deferred: string | null;
    last_error: string | null;
    attempts: number;
  }>(
    `SELECT m.id, m.journey_id, j.name AS journey, m.step, m.channel, m.purpose, m.status, COALESCE(m.subject, m.content ->> 'subject') AS subject, m.to_address,
            m.created_at, m.due_at, m.sent_at, m.deferred, m.last_error, m.attempts
       FROM messages m JOIN customers c ON c.id = m.customer_id LEFT JOIN journeys j ON j.id = m.journey_id
      WHERE m.workspace_id = $1 AND c.workspace_id = $1 AND c.external_id = $2 ORDER BY m.created_at DESC, m.id DESC LIMIT $3`,
    [ws.id, externalId, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    journeyId: r.journey_id === null ? null : Number(r.journey_id),
    journey: r.journey,
    step: r.step,
    channel: r.channel,
    purpose: r.purpose,
    status: r.status,
    subject: r.subject,
    to: r.to_address,
    createdAt: r.created_at.toISOString(),
    dueAt: r.due_at.toISOString(),
    sentAt: r.sent_at?.toISOString() ?? null,
    deferred: r.deferred,
    error: r.last_error,
    attempts: r.attempts,
  }));
}
