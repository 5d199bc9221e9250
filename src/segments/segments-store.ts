/**
 * Segments as the shop keeps them: create, change, delete, list; the
 * built-in copies; previews of a draft rule; members and size over time.
 */
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { StoreError } from "../store/index.ts";
import { AppError, invalidField, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import type { Stage } from "../predictions/index.ts";
import { checkRule, type CheckedRule, type Rule } from "./rule.ts";
import { parameters } from "./compile.ts";
import { evaluateSegments, lockSegments, matchSelect, type EvaluationResult } from "./membership.ts";
import { BUILT_IN_SEGMENTS } from "./built-in.ts";

export const SegmentInput = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(120, "at most 120 characters"),
  description: z.string().max(2000, "at most 2000 characters").optional(),
  rule: z.unknown().refine((v) => v !== undefined, "is required"),
});
export const SegmentPatch = SegmentInput.partial();

export interface Segment {
  id: number;
  name: string;
  description: string;
  rule: Rule;
  builtIn: string | null;
  dependsOn: number[];
  timeRelative: boolean;
  createdAt: string;
  updatedAt: string;
  evaluatedAt: string | null;
  /** Current members. */
  size: number;
}

type SegmentRow = {
  id: number;
  name: string;
  description: string;
  rule: Rule;
  built_in: string | null;
  depends_on: number[];
  time_relative: boolean;
  created_at: Date;
  updated_at: Date;
  evaluated_at: Date | null;
  size: number;
};

const SELECT_SEGMENT = `SELECT s.id, s.name, s.description, s.rule, s.built_in, s.depends_on, s.time_relative, s.created_at, s.updated_at, s.evaluated_at,
       (SELECT count(*)::int FROM segment_memberships m WHERE m.segment_id = s.id AND m.exited_at IS NULL) AS size
  FROM segments s`;

function fromRow(r: SegmentRow): Segment {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    rule: r.rule,
    builtIn: r.built_in,
    dependsOn: r.depends_on.map(Number),
    timeRelative: r.time_relative,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    evaluatedAt: r.evaluated_at ? r.evaluated_at.toISOString() : null,
    size: Number(r.size),
  };
}

export async function listSegments(db: Queryable, ws: Workspace): Promise<Segment[]> {
  const rows = await db.query<SegmentRow>(`${SELECT_SEGMENT} WHERE s.workspace_id = $1 ORDER BY s.id`, [ws.id]);
  return rows.map(fromRow);
}

export async function getSegment(db: Queryable, ws: Workspace, id: number): Promise<Segment> {
  const [row] = await db.query<SegmentRow>(`${SELECT_SEGMENT} WHERE s.workspace_id = $1 AND s.id = $2`, [ws.id, id]);
  if (!row) throw new AppError("not_found", `segment: no segment ${id}`, [{ field: "id", message: "no such segment" }]);
  return fromRow(row);
}

/** Checks a rule and the segments it refers to: they exist here and no reference leads back to `self`. */
async function checkRuleIn(db: Queryable, ws: Workspace, rule: unknown, self?: number): Promise<CheckedRule> {
  const checked = checkRule(rule, "rule");
  if (checked.dependsOn.length === 0) return checked;
  const rows = await db.query<{ id: number; depends_on: number[] }>("SELECT id, depends_on FROM segments WHERE workspace_id = $1", [ws.id]);
  const deps = new Map(rows.map((r) => [Number(r.id), r.depends_on.map(Number)]));
  for (const id of checked.dependsOn) {
    if (!deps.has(id)) throw invalidField("rule", `refers to segment ${id}, which does not exist`);
    if (self === undefined) continue;
    // Walk what `id` depends on: reaching `self` would be a cycle.
    const seen = new Set<number>();
    const stack = [id];
    while (stack.length > 0) {
      const next = stack.pop() ?? 0;
      if (next === self) throw invalidField("rule", `refers to segment ${id}, which refers back to this segment`);
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(deps.get(next) ?? []));
    }
  }
  return checked;
}

function nameTaken(err: unknown, name: string): never {
  if (err instanceof StoreError && err.sqlState === "23505") throw new AppError("conflict", `name: a segment is already called "${name}"`, [{ field: "name", message: "is already used" }]);
  throw err;
}

export interface SavedSegment extends Segment {
  warnings: string[];
  evaluation: EvaluationResult;
}

/** Creates a segment and evaluates it over every customer. */
export async function createSegment(store: Store, ws: Workspace, input: unknown, now: Date): Promise<SavedSegment> {
  const body = parseInput(SegmentInput, input);
  const checked = await checkRuleIn(store, ws, body.rule);
  const [row] = await store
    .query<{ id: number }>(
      `INSERT INTO segments (workspace_id, name, description, rule, depends_on, time_relative, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
      [ws.id, body.name, body.description ?? "", JSON.stringify(checked.rule), checked.dependsOn, checked.timeRelative, now],
    )
    .catch((err: unknown) => nameTaken(err, body.name));
  const id = Number(row?.id);
  const evaluation = await evaluateSegments(store, ws, now, [id]);
  return { ...(await getSegment(store, ws, id)), warnings: checked.warnings, evaluation };
}

/** Changes a segment; a new rule is evaluated at once (and so are the segments built on it). */
export async function updateSegment(store: Store, ws: Workspace, id: number, input: unknown, now: Date): Promise<SavedSegment> {
  const patch = parseInput(SegmentPatch, input);
  const current = await getSegment(store, ws, id);
  const checked = patch.rule !== undefined ? await checkRuleIn(store, ws, patch.rule, id) : undefined;
  await store
    .query(
      `UPDATE segments SET name = $3, description = $4, rule = $5, depends_on = $6, time_relative = $7, updated_at = $8
        WHERE workspace_id = $1 AND id = $2`,
      [
        ws.id,
        id,
        patch.name ?? current.name,
        patch.description ?? current.description,
        JSON.stringify(checked?.rule ?? current.rule),
        checked?.dependsOn ?? current.dependsOn,
        checked?.timeRelative ?? current.timeRelative,
        now,
      ],
    )
    .catch((err: unknown) => nameTaken(err, patch.name ?? current.name));
  const evaluation = checked ? await evaluateSegments(store, ws, now, [id]) : { segments: [], matchSeconds: 0, writeSeconds: 0, moved: 0, found: 0, seconds: 0 };
  return { ...(await getSegment(store, ws, id)), warnings: checked?.warnings ?? [], evaluation };
}

/** Deletes a segment and its membership history; refused while another segment's rule refers to it. */
export async function deleteSegment(store: Store, ws: Workspace, id: number): Promise<void> {
  await store.transaction(async (db) => {
    // The stays have no foreign key (migration 017): they go here, with the
    // segments lock held so that no evaluation is writing stays for it meanwhile.
    await lockSegments(db, ws);
    await getSegment(db, ws, id);
    // Other segments' rules, then journeys and campaigns (segment_uses): a deleted segment would leave them silently empty.
    const users = await db.query<{ label: string }>(
      `SELECT 'segment "' || name || '"' AS label FROM segments WHERE workspace_id = $1 AND $2 = ANY(depends_on)
       UNION ALL SELECT user_label FROM segment_uses WHERE workspace_id = $1 AND segment_id = $2
       ORDER BY 1`,
      [ws.id, id],
    );
    if (users.length > 0) throw new AppError("conflict", `segment ${id} is used by ${users.map((u) => u.label).join(", ")}; change or archive those first`, [{ field: "id", message: "in use" }]);
    // Current and closed stays, each through its own index (migration 019).
    await db.query("DELETE FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL", [id]);
    await db.query("DELETE FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NOT NULL", [id]);
    await db.query("DELETE FROM segments WHERE workspace_id = $1 AND id = $2", [ws.id, id]);
  });
}

/**
 * Records which segments a user (a journey, the loyalty campaigns) relies
 * on, each with the label a person reads, replacing what the user recorded
 * before; none releases them all. Deleting a segment in use is then refused
 * with the labels.
 */
export async function noteSegmentUses(db: Queryable, ws: Workspace, userKey: string, uses: readonly { segmentId: number; label: string }[]): Promise<void> {
  await db.query("DELETE FROM segment_uses WHERE workspace_id = $1 AND user_key = $2", [ws.id, userKey]);
  if (uses.length === 0) return;
  await db.query(
    `INSERT INTO segment_uses (workspace_id, segment_id, user_key, user_label)
     SELECT $1, s.id, $3, u.label FROM jsonb_to_recordset($2::jsonb) AS u(segment_id bigint, label text)
       JOIN segments s ON s.workspace_id = $1 AND s.id = u.segment_id
     ON CONFLICT DO NOTHING`,
    [ws.id, JSON.stringify(uses.map((u) => ({ segment_id: u.segmentId, label: u.label }))), userKey],
  );
}

/**
 * Copies the built-in segments into the workspace, once: a shop that edits
 * or deletes one keeps its choice. Returns how many were created.
 */
export async function ensureBuiltInSegments(store: Store, ws: Workspace, now: Date): Promise<number> {
  return store.transaction(async (tx) => {
    const [w] = await tx.query<{ at: Date | null }>("SELECT built_in_segments_at AS at FROM workspaces WHERE id = $1 FOR UPDATE", [ws.id]);
    if (!w || w.at) return 0;
    let created = 0;
    for (const b of BUILT_IN_SEGMENTS) {
      const checked = checkRule(b.rule);
      const rows = await tx.query(
        `INSERT INTO segments (workspace_id, name, description, rule, built_in, depends_on, time_relative, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (workspace_id, name) DO NOTHING RETURNING id`,
        [ws.id, b.name, b.description, JSON.stringify(checked.rule), b.key, checked.dependsOn, checked.timeRelative, now],
      );
      created += rows.length;
    }
    await tx.query("UPDATE workspaces SET built_in_segments_at = $2 WHERE id = $1", [ws.id, now]);
    return created;
  });
}

export interface MemberView {
  customerId: number;
  externalId: string;
  email: string | null;
  name: string | null;
  orders: number;
  revenueMinor: number;
  stage: Stage | null;
  clvMinor: number | null;
  enteredAt: string;
}

type MemberRow = {
  customer_id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  orders: number;
  revenue: number;
  stage: Stage | null;
  clv: number | null;
  entered_at: Date;
};

const memberView = (r: MemberRow): MemberView => ({
  customerId: Number(r.customer_id),
  externalId: r.external_id,
  email: r.email,
  name: [r.first_name, r.last_name].filter(Boolean).join(" ") || null,
  orders: Number(r.orders),
  revenueMinor: Number(r.revenue),
  stage: r.stage,
  clvMinor: r.clv === null ? null : Number(r.clv),
  enteredAt: r.entered_at.toISOString(),
});

const MEMBER_COLUMNS = `c.id AS customer_id, c.external_id, c.email, c.first_name, c.last_name, COALESCE(r.order_count, 0) AS orders,
       COALESCE(r.revenue_minor, 0) AS revenue, s.stage, s.clv_minor AS clv`;

export const MembersQuery = z.object({
  limit: z.coerce.number().int("must be a whole number").min(1, "must be at least 1").max(1000, "must be at most 1000").default(50),
  after: z.coerce.number().int("must be a whole number").min(0, "must not be negative").optional().describe("customerId of the last member of the previous page"),
});

/** Current members, in customer id order, a page at a time (`next` is the `after` of the next page). */
export async function listMembers(db: Queryable, ws: Workspace, id: number, query: unknown): Promise<{ total: number; items: MemberView[]; next: number | null }> {
  const q = parseInput(MembersQuery, query);
  const seg = await getSegment(db, ws, id);
  const rows = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS}, m.entered_at
       FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
       LEFT JOIN customer_rollups r ON r.customer_id = c.id
       LEFT JOIN customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id
      WHERE m.segment_id = $1 AND m.exited_at IS NULL AND m.customer_id > $2
      ORDER BY m.customer_id LIMIT $3`,
    [id, q.after ?? 0, q.limit + 1],
  );
  const items = rows.slice(0, q.limit).map(memberView);
  return { total: seg.size, items, next: rows.length > q.limit ? (items.at(-1)?.customerId ?? null) : null };
}

export const PreviewInput = z.strictObject({
  rule: z.unknown().refine((v) => v !== undefined, "is required"),
  sample: z.number().int().min(0).max(100).default(10),
});

export interface Preview {
  count: number;
  sample: Omit<MemberView, "enteredAt">[];
  warnings: string[];
  /** Whether the rule's truth moves with time alone. */
  timeRelative: boolean;
  seconds: number;
}

/** Counts and samples the customers a draft rule matches now, without saving anything. */
export async function previewSegment(db: Queryable, ws: Workspace, input: unknown, now: Date): Promise<Preview> {
  const started = performance.now();
  const body = parseInput(PreviewInput, input);
  const checked = await checkRuleIn(db, ws, body.rule);
  const counting = parameters();
  const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${matchSelect(checked.rule, ws, now, counting.bind)}) x`, counting.params);
  const sampling = parameters();
  const sampleSql = matchSelect(checked.rule, ws, now, sampling.bind);
  const rows =
    body.sample === 0
      ? []
      : await db.query<MemberRow>(
          `SELECT ${MEMBER_COLUMNS}, now() AS entered_at FROM (${sampleSql} ORDER BY c.id DESC LIMIT ${sampling.bind(body.sample)}) x
             JOIN customers c ON c.id = x.customer_id LEFT JOIN customer_rollups r ON r.customer_id = c.id
             LEFT JOIN customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id ORDER BY c.id DESC`,
          sampling.params,
        );
  return {
    count: count?.n ?? 0,
    sample: rows.map((r) => {
      const { enteredAt: _ignored, ...rest } = memberView(r);
      return rest;
    }),
    warnings: checked.warnings,
    timeRelative: checked.timeRelative,
    seconds: (performance.now() - started) / 1000,
  };
}

export const HistoryQuery = z.object({
  days: z.coerce.number().int("must be a whole number").min(1, "must be at least 1").max(730, "must be at most 730").default(90),
});

/**
 * Size at the end of each of the last `days` days, with how many entered
 * and left that day, read from the membership history.
 */
export async function segmentHistory(
  db: Queryable,
  ws: Workspace,
  id: number,
  query: unknown,
  now: Date,
): Promise<{ segmentId: number; days: { day: string; size: number; entered: number; exited: number }[] }> {
  const q = parseInput(HistoryQuery, query);
  await getSegment(db, ws, id);
  // One read of the segment's stays: the entries and exits of each day, and
  // the size at the window's start; each day's size is that plus the running
  // sum of entries less exits (a stay entered and left within a day adds
  // nothing). Counting per day with a subquery each read every stay 3 × days times.
  const rows = await db.query<{ day: string; size: number; entered: number; exited: number }>(
    `WITH bounds AS (SELECT (date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC') - make_interval(days => $3::int - 1)) AS first_day),
     stays AS (SELECT entered_at, exited_at FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL
               UNION ALL SELECT entered_at, exited_at FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NOT NULL),
     base AS (SELECT count(*) FILTER (WHERE s.entered_at < (b.first_day AT TIME ZONE 'UTC') AND (s.exited_at IS NULL OR s.exited_at >= (b.first_day AT TIME ZONE 'UTC')))::int AS n
                FROM stays s CROSS JOIN bounds b),
     came AS (SELECT (s.entered_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM stays s CROSS JOIN bounds b
               WHERE s.entered_at >= (b.first_day AT TIME ZONE 'UTC') GROUP BY 1),
     went AS (SELECT (s.exited_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM stays s CROSS JOIN bounds b
               WHERE s.exited_at >= (b.first_day AT TIME ZONE 'UTC') GROUP BY 1),
     days AS (SELECT d::date AS day FROM bounds b, generate_series(b.first_day, date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 day') d)
     SELECT to_char(days.day, 'YYYY-MM-DD') AS day,
            (base.n + sum(COALESCE(came.n, 0) - COALESCE(went.n, 0)) OVER (ORDER BY days.day))::int AS size,
            COALESCE(came.n, 0) AS entered, COALESCE(went.n, 0) AS exited
       FROM days CROSS JOIN base LEFT JOIN came ON came.day = days.day LEFT JOIN went ON went.day = days.day
      ORDER BY days.day`,
    [id, now, q.days],
  );
  return { segmentId: id, days: rows.map((r) => ({ day: r.day, size: Number(r.size), entered: Number(r.entered), exited: Number(r.exited) })) };
}

/** The segments a customer is in now, with when they entered. */
export async function customerSegments(db: Queryable, ws: Workspace, externalId: string): Promise<{ id: number; name: string; enteredAt: string }[]> {
  const rows = await db.query<{ id: number; name: string; entered_at: Date }>(
    // Through the workspace's segments: stays are indexed by (segment, customer), so this is one probe per segment.
    `SELECT g.id, g.name, m.entered_at FROM customers c JOIN segments g ON g.workspace_id = c.workspace_id
       JOIN segment_memberships m ON m.segment_id = g.id AND m.customer_id = c.id AND m.exited_at IS NULL
      WHERE c.workspace_id = $1 AND c.external_id = $2 ORDER BY g.name`,
    [ws.id, externalId],
  );
  return rows.map((r) => ({ id: Number(r.id), name: r.name, enteredAt: r.entered_at.toISOString() }));
}

