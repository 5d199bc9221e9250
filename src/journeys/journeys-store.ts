/**
 * Journeys as the shop keeps them: drafted, activated, paused, archived;
 * every change of definition a new version, taken by new entries while
 * customers already inside finish the version they entered.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import { StoreError } from "../store/index.ts";
import { AppError, invalidField, isJsonObject, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { noteSegmentUses } from "../segments/index.ts";
import { checkJourney, type CheckedJourney, type JourneyDefinition } from "./definition.ts";

export const JourneyInput = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(120, "at most 120 characters"),
  description: z.string().max(2000, "at most 2000 characters").optional(),
  definition: z.unknown().refine((v) => v !== undefined, "is required"),
});
export const JourneyPatch = JourneyInput.partial();

export type JourneyStatus = "draft" | "active" | "paused" | "archived";

export interface Journey {
  id: number;
  name: string;
  description: string;
  readyMade: string | null;
  status: JourneyStatus;
  version: number;
  definition: JourneyDefinition;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  /** Customers inside now (any version). */
  inside: number;
}

type Row = {
  id: number;
  name: string;
  description: string;
  ready_made: string | null;
  status: JourneyStatus;
  version: number;
  definition: JourneyDefinition;
  created_at: Date;
  updated_at: Date;
  activated_at: Date | null;
  inside: number;
};

const SELECT = `SELECT j.id, j.name, j.description, j.ready_made, j.status, j.version, v.definition, j.created_at, j.updated_at, j.activated_at,
       (SELECT count(*)::int FROM journey_enrolments e WHERE e.journey_id = j.id AND e.status <> 'done') AS inside
  FROM journeys j JOIN journey_versions v ON v.journey_id = j.id AND v.version = j.version`;

function fromRow(r: Row): Journey {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    readyMade: r.ready_made,
    status: r.status,
    version: r.version,
    definition: r.definition,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    activatedAt: r.activated_at ? r.activated_at.toISOString() : null,
    inside: Number(r.inside),
  };
}

export async function listJourneys(db: Queryable, ws: Workspace): Promise<Journey[]> {
  const rows = await db.query<Row>(`${SELECT} WHERE j.workspace_id = $1 AND j.status <> 'archived' ORDER BY j.id`, [ws.id]);
  return rows.map(fromRow);
}

export async function getJourney(db: Queryable, ws: Workspace, id: number): Promise<Journey> {
  const [row] = await db.query<Row>(`${SELECT} WHERE j.workspace_id = $1 AND j.id = $2 AND j.status <> 'archived'`, [ws.id, id]);
  if (!row) throw new AppError("not_found", `journey: no journey ${id}`, [{ field: "id", message: "no such journey" }]);
  return fromRow(row);
}

/** Checks a definition and that the segments it names exist in this workspace. */
export async function checkDefinitionIn(db: Queryable, ws: Workspace, definition: unknown): Promise<CheckedJourney> {
  const checked = checkJourney(definition, "definition");
  if (checked.segmentIds.length > 0) {
    const rows = await db.query<{ id: number }>("SELECT id FROM segments WHERE workspace_id = $1 AND id = ANY($2::bigint[])", [ws.id, checked.segmentIds]);
    const known = new Set(rows.map((r) => Number(r.id)));
    const missing = checked.segmentIds.find((id) => !known.has(id));
    if (missing !== undefined) throw invalidField("definition", `refers to segment ${missing}, which does not exist`);
  }
  return checked;
}

/** JSON with object keys sorted: jsonb gives keys back in its own order, so a plain stringify would see a change where there is none. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    isJsonObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

function nameTaken(err: unknown, name: string): never {
  if (err instanceof StoreError && err.sqlState === "23505") throw new AppError("conflict", `name: a journey is already called "${name}"`, [{ field: "name", message: "is already used" }]);
  throw err;
}

/** Drafts a journey (version 1). */
export async function createJourney(db: Queryable, ws: Workspace, input: unknown, now: Date, readyMade?: string): Promise<Journey> {
  const body = parseInput(JourneyInput, input);
  const checked = await checkDefinitionIn(db, ws, body.definition);
  const [row] = await db
    .query<{ id: number }>(
      `WITH j AS (
         INSERT INTO journeys (workspace_id, name, description, ready_made, status, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'draft', 1, $5, $5) RETURNING id
       )
       INSERT INTO journey_versions (workspace_id, journey_id, version, definition, created_at)
       SELECT $1, j.id, 1, $6::jsonb, $5 FROM j RETURNING journey_id AS id`,
      [ws.id, body.name, body.description ?? "", readyMade ?? null, now, JSON.stringify(checked.definition)],
    )
    .catch((err: unknown) => nameTaken(err, body.name));
  if (!row) throw new AppError("internal", "journey: not created");
  await noteJourneySegments(db, ws, Number(row.id), body.name, checked.segmentIds);
  return getJourney(db, ws, Number(row.id));
}

/** A journey among its segments' users (deleting one is refused while the journey uses it). */
const noteJourneySegments = (db: Queryable, ws: Workspace, id: number, name: string, segmentIds: readonly number[]) =>
  noteSegmentUses(db, ws, `journey:${id}`, segmentIds.map((segmentId) => ({ segmentId, label: `journey "${name}"` })));

/** Renames or re-describes; a new definition becomes a new version, taken by new entries. */
export async function updateJourney(db: Queryable, ws: Workspace, id: number, input: unknown, now: Date): Promise<Journey> {
  const body = parseInput(JourneyPatch, input);
  const current = await getJourney(db, ws, id);
  let version = current.version;
  let segmentIds: number[] | undefined;
  if (body.definition !== undefined) {
    const checked = await checkDefinitionIn(db, ws, body.definition);
    segmentIds = checked.segmentIds;
    if (canonical(checked.definition) !== canonical(current.definition)) {
      version = current.version + 1;
      await db.query("INSERT INTO journey_versions (workspace_id, journey_id, version, definition, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)", [
        ws.id,
        id,
        version,
        JSON.stringify(checked.definition),
        now,
      ]);
    }
  }
  await db
    .query("UPDATE journeys SET name = $3, description = $4, version = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2", [
      ws.id,
      id,
      body.name ?? current.name,
      body.description ?? current.description,
      version,
      now,
    ])
    .catch((err: unknown) => nameTaken(err, body.name ?? current.name));
  // The segments of the version new entries take (a rename changes the label).
  await noteJourneySegments(db, ws, id, body.name ?? current.name, segmentIds ?? checkJourney(current.definition, "definition").segmentIds);
  return getJourney(db, ws, id);
}

/**
 * Activates (new customers may enter, steps run), pauses (no entries, no
 * steps; goals still end a customer's run) or archives (everyone inside is
 * stopped by the runner; the journey disappears from lists, its history stays).
 */
export async function setJourneyStatus(db: Queryable, ws: Workspace, id: number, status: "active" | "paused" | "archived", now: Date): Promise<Journey> {
  const current = await getJourney(db, ws, id);
  if (status === "active") await checkDefinitionIn(db, ws, current.definition);
  await db.query(
    `UPDATE journeys SET status = $3, updated_at = $4, activated_at = CASE WHEN $3 = 'active' THEN COALESCE(activated_at, $4) ELSE activated_at END
      WHERE workspace_id = $1 AND id = $2`,
    [ws.id, id, status, now],
  );
  if (status === "archived") {
    // Everyone inside is stopped; their history stays; its segments are free to go.
    await noteJourneySegments(db, ws, id, current.name, []);
    await db.query(
      `UPDATE journey_enrolments SET status = 'done', step = NULL, wake_at = NULL, exited_at = $3, exit_reason = 'stopped',
              state = state || '{"status":"done","step":null,"wakeAt":null,"exit":"stopped"}'::jsonb
        WHERE workspace_id = $1 AND journey_id = $2 AND status <> 'done'`,
      [ws.id, id, now],
    );
    return { ...current, status };
  }
  return getJourney(db, ws, id);
}

/** Every version of a journey that still has customers inside, or is current. */
export async function journeyVersions(db: Queryable, ws: Workspace, ids: readonly number[]): Promise<Map<string, CheckedJourney>> {
  const rows = await db.query<{ journey_id: number; version: number; definition: unknown }>(
    `SELECT v.journey_id, v.version, v.definition FROM journey_versions v
      WHERE v.workspace_id = $1 AND v.journey_id = ANY($2::bigint[])`,
    [ws.id, ids],
  );
  return new Map(rows.map((r) => [`${Number(r.journey_id)}:${r.version}`, checkJourney(r.definition)]));
}
