/**
 * A shop's messaging settings: the global frequency cap (marketing messages
 * per customer, across every journey; transactional messages are exempt),
 * quiet hours in the customer's own time zone (messages wait, they are not
 * dropped), and the sender shown on email.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import { parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";

const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time of day, HH:MM (24-hour)");

export const MessagingSettings = z.strictObject({
  caps: z
    .strictObject({
      perDay: z.number().int().min(0).max(100).nullable().describe("marketing messages per customer in any 24 hours; null: no cap"),
      perWeek: z.number().int().min(0).max(500).nullable().describe("marketing messages per customer in any 7 days; null: no cap"),
    })
    .default({ perDay: 1, perWeek: 3 }),
  quietHours: z
    .strictObject({ from: TimeOfDay, to: TimeOfDay })
    .nullable()
    .default({ from: "21:00", to: "09:00" })
    .describe("local time in the customer's time zone (UTC when unknown); null: none"),
  sender: z
    .strictObject({
      name: z.string().trim().min(1).max(100),
      address: z.email("is not an email address"),
      replyTo: z.email("is not an email address").optional(),
    })
    .optional()
    .describe("overrides FIDELIO_EMAIL_FROM"),
});
export type MessagingSettings = z.output<typeof MessagingSettings>;

export const DEFAULT_SETTINGS: MessagingSettings = MessagingSettings.parse({});

export async function getMessagingSettings(db: Queryable, ws: Workspace): Promise<MessagingSettings> {
  const rows = await db.query<{ settings: unknown }>("SELECT settings FROM messaging_settings WHERE workspace_id = $1", [ws.id]);
  const stored = rows[0]?.settings;
  return stored === undefined ? DEFAULT_SETTINGS : MessagingSettings.parse(stored);
}

/** Replaces the settings; fields left out take their defaults. */
export async function putMessagingSettings(db: Queryable, ws: Workspace, input: unknown, now: Date): Promise<MessagingSettings> {
  const settings = parseInput(MessagingSettings, input);
  await db.query(
    `INSERT INTO messaging_settings (workspace_id, settings, updated_at) VALUES ($1, $2::jsonb, $3)
     ON CONFLICT (workspace_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at`,
    [ws.id, JSON.stringify(settings), now],
  );
  return settings;
}
