/**
 * The template editor's live preview: a template rendered for one real
 * customer with their data as it is now, without tracking and without
 * sending anything.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import { parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { customerIdOf } from "../customers/index.ts";
import { loadContexts } from "./context.ts";
import { renderEmail, type RenderedEmail } from "./render.ts";

export const EmailPreviewInput = z.strictObject({
  email: z.strictObject({
    subject: z.string().min(1).max(500),
    preview: z.string().max(500).optional(),
    body: z.string().min(1).max(200_000),
    text: z.string().max(200_000).optional(),
  }),
  customer: z.string().min(1).max(200).describe("the external id of the customer to render for"),
  trigger: z.record(z.string(), z.unknown()).optional().describe("properties of a trigger event, for templates that read {{ trigger.… }}"),
});

export async function previewEmail(db: Queryable, ws: Workspace, input: unknown, shop: { name: string; url: string }, now: Date): Promise<RenderedEmail & { customer: string }> {
  const body = parseInput(EmailPreviewInput, input);
  const id = await customerIdOf(db, ws, body.customer, "customer");
  const context = (await loadContexts(db, ws, [id], shop, now)).get(id) ?? {};
  const rendered = await renderEmail(body.email, { ...context, trigger: body.trigger ?? {}, unsubscribe_url: `${shop.url.replace(/\/$/, "")}/u/preview` });
  return { ...rendered, customer: body.customer };
}
