/**
 * Expiry: points that are not used in time go, with a reminder first that
 * journeys can act on (`Points Expiring` in the event log, with the amount
 * and the date).
 *
 * - `inactivity`: the whole balance expires `days` after the member's last
 *   earning or spending; the reminder comes `remindDaysBefore` earlier. A key
 *   per period of inactivity (`expire:<customer>:<last activity>`) makes it
 *   happen once.
 * - `age`: points expire `days` after they were earned, the oldest spent
 *   first: what expires on a day is the points earned up to `days` ago minus
 *   everything taken out since the programme began (spent, expired, clawed
 *   back), when that is positive. Keyed by customer and day; the reminder
 *   names the points that came within `remindDaysBefore` of expiring since
 *   the day before.
 * A pass runs once per day (`expired_on`); the worker's other wake-ups that
 * day skip it.
 */
import type { Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { postPoints, type PointsEntry } from "./ledger.ts";
import { getLoyaltySettings } from "./earn.ts";

const DAY_MS = 86_400_000;

export interface ExpiryResult {
  expired: number;
  points: number;
  reminded: number;
}

export async function expirePoints(store: Store, ws: Workspace, now: Date): Promise<ExpiryResult> {
  const result: ExpiryResult = { expired: 0, points: 0, reminded: 0 };
  const settings = await getLoyaltySettings(store, ws);
  const expiry = settings.expiry;
  if (!settings.enabled || expiry.mode === "none") return result;
  const cutoff = new Date(now.getTime() - expiry.days * DAY_MS);
  const remindCutoff = new Date(now.getTime() - Math.max(0, expiry.days - expiry.remindDaysBefore) * DAY_MS);
  const day = now.toISOString().slice(0, 10);

  await store.transaction(async (tx) => {
    // Once a day: expiry dates are days, and the age mode sums the ledger (the worker wakes every minute).
    const [ran] = await tx.query<{ expired_on: string | null }>("SELECT to_char(expired_on, 'YYYY-MM-DD') AS expired_on FROM loyalty_settings WHERE workspace_id = $1 FOR UPDATE", [ws.id]);
    if (ran?.expired_on === day) return;
    await tx.query("UPDATE loyalty_settings SET expired_on = $2::date WHERE workspace_id = $1", [ws.id, day]);
    let due: { customer_id: number; amount: number; key: string }[];
    let soon: { customer_id: number; amount: number; on: Date; key: string }[];
    if (expiry.mode === "inactivity") {
      const rows = await tx.query<{ customer_id: number; balance: number; last: Date }>(
        "SELECT customer_id, balance, last_activity_at AS last FROM loyalty_accounts WHERE workspace_id = $1 AND balance > 0 AND last_activity_at <= $2",
        [ws.id, remindCutoff],
      );
      due = rows.filter((r) => r.last <= cutoff).map((r) => ({ customer_id: Number(r.customer_id), amount: Number(r.balance), key: `expire:${r.customer_id}:${r.last.toISOString()}` }));
      soon = rows
        .filter((r) => r.last > cutoff)
        .map((r) => ({ customer_id: Number(r.customer_id), amount: Number(r.balance), on: new Date(r.last.getTime() + expiry.days * DAY_MS), key: `expiring:${r.customer_id}:${r.last.toISOString()}` }));
    } else {
      // Earned up to a moment, minus everything taken out so far (oldest points go first).
      const owed = async (until: Date) =>
        tx.query<{ customer_id: number; amount: number }>(
          `SELECT customer_id, amount FROM (
             SELECT customer_id,
                    COALESCE(sum(points) FILTER (WHERE points > 0 AND created_at <= $2), 0) + COALESCE(sum(points) FILTER (WHERE points < 0), 0) AS amount
               FROM loyalty_ledger WHERE workspace_id = $1 GROUP BY customer_id) x
            WHERE amount > 0`,
          [ws.id, until],
        );
      due = (await owed(cutoff)).map((r) => ({ customer_id: Number(r.customer_id), amount: Number(r.amount), key: `expire:${r.customer_id}:${day}` }));
      // Remind of the points that came within reach of expiry since yesterday's pass, once.
      const today = new Map((await owed(remindCutoff)).map((r) => [Number(r.customer_id), Number(r.amount)]));
      const before = new Map((await owed(new Date(remindCutoff.getTime() - DAY_MS))).map((r) => [Number(r.customer_id), Number(r.amount)]));
      soon = [...today]
        .map(([customer_id, amount]) => ({ customer_id, amount: amount - (before.get(customer_id) ?? 0), on: new Date(now.getTime() + expiry.remindDaysBefore * DAY_MS), key: `expiring:${customer_id}:${day}` }))
        .filter((x) => x.amount > 0);
    }
    const entries: PointsEntry[] = due.map((d) => ({ customerId: d.customer_id, kind: "expire", points: d.amount, reason: expiry.mode === "inactivity" ? "expired: inactivity" : "expired: age", key: d.key }));
    for (let i = 0; i < entries.length; i += 2000) {
      for (const p of await postPoints(tx, ws, entries.slice(i, i + 2000), now)) {
        if (!p.created) continue;
        result.expired += 1;
        result.points += -p.points;
      }
    }
    if (soon.length > 0) {
      // One reminder per period (the key), as a fact journeys can start on.
      const rows = await tx.query<{ message_id: string }>(
        `INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
         SELECT $1, x.key, 'loyalty', 'Points Expiring', x.customer_id, jsonb_build_object('points', x.amount, 'expiresOn', x.on_day), $3, $3
           FROM jsonb_to_recordset($2::jsonb) AS x(key text, customer_id bigint, amount bigint, on_day text)
         ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING message_id`,
        [ws.id, JSON.stringify(soon.map((x) => ({ key: x.key, customer_id: x.customer_id, amount: x.amount, on_day: x.on.toISOString().slice(0, 10) }))), now],
      );
      result.reminded = rows.length;
    }
  });
  return result;
}
