/**
 * Installs a ready-made journey as a draft: its built-in segment (VIP) is
 * looked up by key, the name gets a number if it is taken.
 */
import type { Queryable } from "../store/index.ts";
import { AppError } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { READY_MADE } from "./ready-made.ts";
import { createJourney, type Journey } from "./journeys-store.ts";

export async function installReadyMade(db: Queryable, ws: Workspace, key: string, now: Date): Promise<Journey> {
  const ready = READY_MADE.find((r) => r.key === key);
  if (!ready) throw new AppError("not_found", `key: no ready-made journey "${key}"; use one of ${READY_MADE.map((r) => r.key).join(", ")}`, [{ field: "key", message: "is not a ready-made journey" }]);
  let definition = ready.definition;
  if (ready.segment !== undefined && definition.trigger.type === "segment") {
    const rows = await db.query<{ id: number }>("SELECT id FROM segments WHERE workspace_id = $1 AND built_in = $2 ORDER BY id LIMIT 1", [ws.id, ready.segment]);
    const id = rows[0]?.id;
    if (id === undefined) throw new AppError("unprocessable", `the built-in segment "${ready.segment}" this journey starts from was deleted; create a journey with your own segment instead`);
    definition = { ...definition, trigger: { ...definition.trigger, segmentId: Number(id) } };
  }
  const taken = new Set((await db.query<{ name: string }>("SELECT name FROM journeys WHERE workspace_id = $1 AND status <> 'archived'", [ws.id])).map((r) => r.name));
  let name = ready.name;
  for (let i = 2; taken.has(name); i += 1) name = `${ready.name} (${i})`;
  return createJourney(db, ws, { name, description: ready.description, definition }, now, ready.key);
}
