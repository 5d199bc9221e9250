/**
 * Keeping membership current. An evaluation compares who each rule matches
 * with who is a member now, closes the stays of those who left, opens stays
 * for those who came, and writes `Segment Entered` / `Segment Exited` to the
 * event log, all at the evaluation's `now`. A segment's first evaluation
 * opens the stays of the members it finds without logging them (see
 * `segmentEventsInsert`).
 *
 * Two ways in:
 * - `evaluateSegments` re-evaluates every customer (after a segment is saved,
 *   after a scoring run, and on the worker's schedule, which is what turns
 *   "no order for 90 days" true on day 90 with no new data);
 * - `processCustomerChanges` re-evaluates the customers the triggers of
 *   migration 007 noted in `customer_changes` when their data changed.
 * Both take a per-workspace advisory lock, so two evaluations never race.
 */
import type { Queryable, Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { compileRule, parameters, type CompileContext } from "./compile.ts";
import type { Rule } from "./rule.ts";

export interface SegmentForEvaluation {
  id: number;
  name: string;
  rule: Rule;
  dependsOn: number[];
  /** The last evaluation over every customer; null before the first. */
  evaluatedAt: Date | null;
}

export interface SyncResult {
  segmentId: number;
  entered: number;
  exited: number;
}

function contextFor(ws: Workspace, now: Date, bind: (v: unknown) => string, ids?: string): CompileContext {
  let currency: string | undefined;
  return { bind, ws: bind(ws.id), currency: () => (currency ??= bind(ws.currency)), now, ...(ids ? { ids } : {}) };
}

/**
 * FROM and WHERE over the workspace's customers for compiled conditions.
 * The rollups and scores are joined only when a condition reads them: over a
 * million customers each join costs about a second. The SQL text is ours
 * alone (every value is a $n parameter), so looking for the aliases is exact.
 */
function customersFor(conditions: string, ctx: CompileContext): string {
  return (
    `FROM customers c` +
    (/\br\./.test(conditions) ? ` LEFT JOIN customer_rollups r ON r.customer_id = c.id` : "") +
    (/\bs\./.test(conditions) ? ` LEFT JOIN customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id` : "") +
    ` WHERE c.workspace_id = ${ctx.ws}${ctx.ids ? ` AND c.id = ANY(${ctx.ids}::bigint[])` : ""}`
  );
}

/** The statement selecting the members a rule matches, parameters bound through `bind`. */
export function matchSelect(rule: Rule, ws: Workspace, now: Date, bind: (v: unknown) => string, ids?: string): string {
  const ctx = contextFor(ws, now, bind, ids);
  const where = compileRule(rule, ctx);
  return `SELECT c.id AS customer_id ${customersFor(where, ctx)} AND ${where}`;
}

/**
 * Evaluates several rules over every customer in one scan, into a temporary
 * table with one boolean column per rule (dropped at commit), so the joins
 * and lookups are paid once rather than per segment. Returns, per segment,
 * the parameter-free statement selecting its matches.
 */
async function matchAtOnce(tx: Queryable, ws: Workspace, segments: readonly SegmentForEvaluation[], now: Date): Promise<Map<number, string>> {
  const { params, bind } = parameters();
  const ctx = contextFor(ws, now, bind);
  const columns = segments.map((s) => `COALESCE(${compileRule(s.rule, ctx)}, false)`);
  const names = segments.map((_, i) => `m${i}`);
  await tx.query(`CREATE TEMPORARY TABLE segment_matches (customer_id bigint NOT NULL, ${names.map((n) => `${n} boolean NOT NULL`).join(", ")}) ON COMMIT DROP`);
  await tx.query(`INSERT INTO segment_matches SELECT c.id, ${columns.join(", ")} ${customersFor(columns.join(" "), ctx)}`, params);
  await tx.query("ANALYZE segment_matches");
  return new Map(segments.map((s, i) => [s.id, `SELECT customer_id FROM segment_matches WHERE m${i}`]));
}

/**
 * The `Segment Entered` / `Segment Exited` rows for the moves in `rows` (a
 * relation with segment_id, customer_id and kind 'entered' or 'exited'), all
 * at the evaluation's `now`: one message id per segment, customer, kind and
 * time, so a retried evaluation writes none twice. Inserted in customer
 * order, so the log's index by customer is walked once.
 *
 * Only the moves of segments evaluated before are logged. A segment's first
 * evaluation finds the customers already in it: their stays start then, but
 * they did not enter it at that moment (so a journey on entering it starts
 * for those who enter after, as Klaviyo's segment-triggered flows do, not
 * for everyone already there). Logging them would write a row per
 * existing member into the event log (775,000 for the nine built-ins over a
 * million customers: 13.9 s of a 23.4 s evaluation, docs/benchmarks.md).
 */
function segmentEventsInsert(rows: string, p: { ws: string; at: string; nowIso: string }): string {
  return `INSERT INTO events (workspace_id, message_id, type, name, customer_id, properties, occurred_at, received_at)
          SELECT ${p.ws}, concat('segment:', x.segment_id::text, ':', x.customer_id, ':', x.kind, ':', ${p.nowIso}::text), 'segment',
                 CASE x.kind WHEN 'entered' THEN 'Segment Entered' ELSE 'Segment Exited' END, x.customer_id,
                 jsonb_build_object('segmentId', x.segment_id::bigint, 'segmentName', g.name), ${p.at}, ${p.at}
            FROM ${rows} x JOIN segments g ON g.id = x.segment_id AND g.evaluated_at IS NOT NULL
           ORDER BY x.customer_id, x.segment_id
          ON CONFLICT (workspace_id, message_id) DO NOTHING`;
}

/**
 * Brings the membership of `segments` up to date, for every customer or for
 * `ids`, in one statement: every rule is evaluated in one read of the
 * customers (a boolean per segment, unnested into the pairs matched), then
 * compared with the current stays of those segments; stays are closed and
 * opened and the moves logged. None of `segments` may refer to another of
 * them: a statement does not see its own writes.
 */
export async function syncSegments(tx: Queryable, ws: Workspace, segments: readonly SegmentForEvaluation[], now: Date, ids?: readonly number[]): Promise<SyncResult[]> {
  if (segments.length === 0) return [];
  const { params, bind } = parameters();
  const idsParam = ids ? bind(ids) : undefined;
  const ctx = contextFor(ws, now, bind, idsParam);
  const hits = segments.map((s) => `COALESCE(${compileRule(s.rule, ctx)}, false)`);
  const segs = bind(segments.map((s) => s.id));
  const at = bind(now);
  const wsId = bind(ws.id);
  const rows = await tx.query<{ segment_id: number; entered: number; exited: number }>(
    `WITH matched AS (SELECT c.id AS customer_id, ARRAY[${hits.join(", ")}]::boolean[] AS hits ${customersFor(hits.join(" "), ctx)}),
     target AS (SELECT u.segment_id, m.customer_id FROM matched m CROSS JOIN LATERAL unnest(${segs}::bigint[], m.hits) AS u(segment_id, hit) WHERE u.hit),
     current AS (SELECT segment_id, customer_id FROM segment_memberships
                  WHERE segment_id = ANY(${segs}::bigint[]) AND exited_at IS NULL${idsParam ? ` AND customer_id = ANY(${idsParam}::bigint[])` : ""}),
     gone AS (SELECT segment_id, customer_id FROM current EXCEPT SELECT segment_id, customer_id FROM target),
     came AS (SELECT segment_id, customer_id FROM target EXCEPT SELECT segment_id, customer_id FROM current),
     exited AS (UPDATE segment_memberships m SET exited_at = ${at} FROM gone
                 WHERE m.segment_id = gone.segment_id AND m.customer_id = gone.customer_id AND m.exited_at IS NULL
                 RETURNING m.segment_id, m.customer_id),
     entered AS (INSERT INTO segment_memberships (workspace_id, segment_id, customer_id, entered_at)
                 SELECT ${wsId}, segment_id, customer_id, ${at} FROM came ORDER BY segment_id, customer_id
                 RETURNING segment_id, customer_id),
     logged AS (${segmentEventsInsert(
       `(SELECT segment_id, customer_id, 'entered' AS kind FROM entered UNION ALL SELECT segment_id, customer_id, 'exited' FROM exited)`,
       { ws: wsId, at, nowIso: bind(now.toISOString()) },
     )})
     SELECT segment_id, count(*) FILTER (WHERE kind = 'entered') AS entered, count(*) FILTER (WHERE kind = 'exited') AS exited
       FROM (SELECT segment_id, 'entered' AS kind FROM entered UNION ALL SELECT segment_id, 'exited' FROM exited) moves
      GROUP BY segment_id`,
    params,
  );
  const bySegment = new Map(rows.map((r) => [Number(r.segment_id), r]));
  return segments.map((s) => {
    const r = bySegment.get(s.id);
    return { segmentId: s.id, entered: Number(r?.entered ?? 0), exited: Number(r?.exited ?? 0) };
  });
}

/**
 * Brings several segments' membership up to date over every customer from
 * their precomputed matches (`matchAtOnce`), writing all their moves
 * together: one statement per segment finds who came and who left, then one
 * statement closes the stays of those who left, one opens the stays of those
 * who came, and one writes every `Segment Entered` / `Segment Exited` in
 * customer order. Written segment by segment, the first evaluation of the
 * nine built-ins over a million customers spent 20.4 s on its 775,000
 * events, walking the log's customer index once per segment; walked once,
 * 10.5 s (docs/benchmarks.md, "Segments").
 */
async function syncAtOnce(
  tx: Queryable,
  ws: Workspace,
  segments: readonly SegmentForEvaluation[],
  matched: ReadonlyMap<number, string>,
  now: Date,
): Promise<{ results: (SyncResult & { seconds: number })[]; writeSeconds: number }> {
  await tx.query("CREATE TEMPORARY TABLE segment_moves (segment_id bigint NOT NULL, customer_id bigint NOT NULL, entered boolean NOT NULL) ON COMMIT DROP");
  const results: (SyncResult & { seconds: number })[] = [];
  const written = new Set<number>(); // segments whose stays were written directly
  // A segment on its first evaluation has no stays (only evaluations write
  // them, and they mark the segment evaluated; checked all the same): its
  // matches are its members, written straight from them with nothing to
  // compare or log. On a million customers this skips finding 776,000
  // moves and writing them to segment_moves and back: 10.2-10.5 s -> 8.2-9.7 s
  // on PostgreSQL (docs/benchmarks.md, 2026-11-24 23:25).
  const firsts = segments.filter((s) => s.evaluatedAt === null).map((s) => s.id);
  const withStays = new Set(
    firsts.length === 0
      ? []
      : (await tx.query<{ segment_id: number }>("SELECT DISTINCT segment_id FROM segment_memberships WHERE segment_id = ANY($1::bigint[]) AND exited_at IS NULL", [firsts])).map((r) =>
          Number(r.segment_id),
        ),
  );
  for (const s of segments) {
    const target = matched.get(s.id);
    if (target === undefined) throw new Error(`segment ${s.id} was not matched`);
    const t0 = performance.now();
    if (s.evaluatedAt === null && !withStays.has(s.id)) {
      const [found] = await tx.query<{ n: number }>(
        `WITH entered AS (INSERT INTO segment_memberships (workspace_id, segment_id, customer_id, entered_at)
                          SELECT $2, $1, customer_id, $3 FROM (${target}) t ORDER BY customer_id RETURNING 1)
         SELECT count(*) AS n FROM entered`,
        [s.id, ws.id, now],
      );
      results.push({ segmentId: s.id, entered: Number(found?.n ?? 0), exited: 0, seconds: (performance.now() - t0) / 1000 });
      written.add(s.id);
      continue;
    }
    const rows = await tx.query<{ entered: number; exited: number }>(
      `WITH current AS (SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL),
       target AS (${target}),
       moved AS (INSERT INTO segment_moves
                 SELECT $1, customer_id, true FROM (SELECT customer_id FROM target EXCEPT SELECT customer_id FROM current) came
                 UNION ALL
                 SELECT $1, customer_id, false FROM (SELECT customer_id FROM current EXCEPT SELECT customer_id FROM target) gone
                 RETURNING entered)
       SELECT count(*) FILTER (WHERE entered) AS entered, count(*) FILTER (WHERE NOT entered) AS exited FROM moved`,
      [s.id],
    );
    const r = rows[0];
    results.push({ segmentId: s.id, entered: Number(r?.entered ?? 0), exited: Number(r?.exited ?? 0), seconds: (performance.now() - t0) / 1000 });
  }
  const t = performance.now();
  if (results.some((r) => r.entered + r.exited > 0 && !written.has(r.segmentId))) {
    await tx.query("ANALYZE segment_moves");
    await tx.query(
      `UPDATE segment_memberships m SET exited_at = $1 FROM segment_moves v
        WHERE NOT v.entered AND m.segment_id = v.segment_id AND m.customer_id = v.customer_id AND m.exited_at IS NULL`,
      [now],
    );
    await tx.query(
      `INSERT INTO segment_memberships (workspace_id, segment_id, customer_id, entered_at)
       SELECT $1, segment_id, customer_id, $2 FROM segment_moves WHERE entered ORDER BY segment_id, customer_id`,
      [ws.id, now],
    );
    // Nothing to log when every segment that moved is on its first evaluation.
    const logged = new Set(segments.filter((s) => s.evaluatedAt !== null).map((s) => s.id));
    if (results.some((r) => r.entered + r.exited > 0 && logged.has(r.segmentId))) {
      await tx.query(
        segmentEventsInsert(
          `(SELECT segment_id, customer_id, CASE WHEN entered THEN 'entered' ELSE 'exited' END AS kind FROM segment_moves)`,
          { ws: "$1", at: "$2", nowIso: "$3" },
        ),
        [ws.id, now, now.toISOString()],
      );
    }
  }
  return { results, writeSeconds: (performance.now() - t) / 1000 };
}

/** Segments in an order where every segment comes after those its rule refers to. */
export function dependencyOrder<S extends { id: number; dependsOn: number[] }>(segments: readonly S[]): S[] {
  const byId = new Map(segments.map((s) => [s.id, s]));
  const done = new Set<number>();
  const out: S[] = [];
  const visit = (s: S, path: Set<number>) => {
    if (done.has(s.id) || path.has(s.id)) return;
    path.add(s.id);
    for (const d of s.dependsOn) {
      const dep = byId.get(d);
      if (dep) visit(dep, path);
    }
    path.delete(s.id);
    done.add(s.id);
    out.push(s);
  };
  for (const s of [...segments].sort((a, b) => a.id - b.id)) visit(s, new Set());
  return out;
}

export async function lockSegments(tx: Queryable, ws: Workspace): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`fidelio:segments:${ws.id}`]);
}

export async function readSegmentsForEvaluation(db: Queryable, ws: Workspace): Promise<SegmentForEvaluation[]> {
  const rows = await db.query<{ id: number; name: string; rule: Rule; depends_on: number[]; evaluated_at: Date | null }>(
    "SELECT id, name, rule, depends_on, evaluated_at FROM segments WHERE workspace_id = $1 ORDER BY id",
    [ws.id],
  );
  return dependencyOrder(rows.map((r) => ({ id: r.id, name: r.name, rule: r.rule, dependsOn: r.depends_on.map(Number), evaluatedAt: r.evaluated_at })));
}

export interface EvaluationResult {
  segments: (SyncResult & { seconds: number })[];
  /** The one scan that matched every independent rule at once (0 when each segment was matched alone). */
  matchSeconds: number;
  /** Writing the moves of the segments matched at once, together (their `seconds` are finding who came and left; for a segment on its first evaluation, writing its stays). */
  writeSeconds: number;
  /** Entries into and exits from segments evaluated before (logged), summed over segments. */
  moved: number;
  /** Members found by segments on their first evaluation (not logged as entering). */
  found: number;
  seconds: number;
}

/** What an evaluation changed, in words: "12 segment entries and exits; 3,400 members found by segments evaluated for the first time (…)". */
export function evaluationMoves(e: Pick<EvaluationResult, "moved" | "found">): string {
  const n = (x: number) => x.toLocaleString("en");
  const parts = [`${n(e.moved)} segment entries and exits`];
  if (e.found > 0) parts.push(`${n(e.found)} members found by segments evaluated for the first time (not logged as entering)`);
  return parts.join("; ");
}

/**
 * Re-evaluates segments over every customer, in dependency order, in one
 * transaction. With `only`, those segments and the segments that depend on
 * them. A run over every segment first removes the change marks: it
 * re-evaluates those customers anyway. (The marks it removes were committed
 * before the rules are read; later ones stay for the worker.)
 */
export async function evaluateSegments(store: Store, ws: Workspace, now: Date, only?: readonly number[]): Promise<EvaluationResult> {
  const started = performance.now();
  const results = await store.transaction(async (tx) => {
    await lockSegments(tx, ws);
    // Hash joins and EXCEPT over every customer: with the default 4 MB they
    // spill to disk in batches. The setting ends with the transaction.
    await tx.query("SET LOCAL work_mem = '128MB'");
    const all = await readSegmentsForEvaluation(tx, ws);
    const chosen = only ? withDependents(all, only) : all;
    if (!only) await tx.query("DELETE FROM customer_changes WHERE workspace_id = $1", [ws.id]);
    // Rules that refer to no other segment are matched together in one scan;
    // the others after them, each against the memberships just written.
    const t = performance.now();
    const independent = chosen.filter((s) => s.dependsOn.length === 0);
    const matched = independent.length > 1 ? await matchAtOnce(tx, ws, independent, now) : new Map<number, string>();
    const matchSeconds = matched.size > 0 ? (performance.now() - t) / 1000 : 0;
    // The matched segments' moves are written together; then the others, in
    // dependency order, each against the memberships written before it.
    const together = matched.size > 0 ? await syncAtOnce(tx, ws, independent, matched, now) : { results: [], writeSeconds: 0 };
    const bySegment = new Map(together.results.map((r) => [r.segmentId, r]));
    for (const s of chosen) {
      if (bySegment.has(s.id)) continue;
      const t0 = performance.now();
      const [r] = await syncSegments(tx, ws, [s], now);
      if (r) bySegment.set(s.id, { ...r, seconds: (performance.now() - t0) / 1000 });
    }
    if (chosen.length > 0) await tx.query("UPDATE segments SET evaluated_at = $3 WHERE workspace_id = $1 AND id = ANY($2::bigint[])", [ws.id, chosen.map((s) => s.id), now]);
    const out = chosen.flatMap((s) => bySegment.get(s.id) ?? []);
    const firsts = new Set(chosen.filter((s) => s.evaluatedAt === null).map((s) => s.id));
    return { out, firsts, matchSeconds, writeSeconds: together.writeSeconds };
  });
  const sum = (first: boolean) => results.out.reduce((n, s) => (results.firsts.has(s.segmentId) === first ? n + s.entered + s.exited : n), 0);
  return {
    segments: results.out,
    matchSeconds: results.matchSeconds,
    writeSeconds: results.writeSeconds,
    moved: sum(false),
    found: sum(true),
    seconds: (performance.now() - started) / 1000,
  };
}

function withDependents(all: readonly SegmentForEvaluation[], only: readonly number[]): SegmentForEvaluation[] {
  const chosen = new Set(only);
  // The segments their rules read that were never evaluated come first (a
  // built-in copied but not evaluated yet, say): their stays are what those
  // rules read, and they would otherwise be read empty.
  const byId = new Map(all.map((s) => [s.id, s]));
  const toVisit = [...only];
  for (let id = toVisit.pop(); id !== undefined; id = toVisit.pop()) {
    for (const d of byId.get(id)?.dependsOn ?? []) {
      if (chosen.has(d)) continue;
      if (byId.get(d)?.evaluatedAt === null) chosen.add(d);
      toVisit.push(d);
    }
  }
  // `all` is in dependency order, so one pass finds dependents of dependents.
  for (const s of all) if (s.dependsOn.some((d) => chosen.has(d))) chosen.add(s.id);
  return all.filter((s) => chosen.has(s.id));
}

export interface ChangesResult {
  customers: number;
  entered: number;
  exited: number;
  /** Where the time went, to explain a slow pass: waiting for the segments lock, taking the marks, and each rules statement: the independent segments together, then each dependent one (slowest first). */
  phases: { lockMs: number; marksMs: number; segments: { name: string; ms: number }[] };
}

/**
 * Re-evaluates every segment for the customers of up to `limit` change marks
 * (oldest first). The marks are removed in the same transaction, before the
 * rules are read, so a change committed meanwhile leaves a new mark and is
 * evaluated on the next pass: nothing is lost.
 */
export async function processCustomerChanges(store: Store, ws: Workspace, now: Date, limit = 20_000): Promise<ChangesResult> {
  return store.transaction(async (tx) => {
    const t0 = performance.now();
    await lockSegments(tx, ws);
    const t1 = performance.now();
    const taken = await tx.query<{ customer_id: number }>(
      `DELETE FROM customer_changes WHERE id IN (
         SELECT id FROM customer_changes WHERE workspace_id = $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING customer_id`,
      [ws.id, limit],
    );
    const phases: ChangesResult["phases"] = { lockMs: t1 - t0, marksMs: performance.now() - t1, segments: [] };
    if (taken.length === 0) return { customers: 0, entered: 0, exited: 0, phases };
    const ids = [...new Set(taken.map((t) => Number(t.customer_id)))].sort((a, b) => a - b);
    // A segment never evaluated has no membership to keep current yet: its
    // first evaluation over everyone (due at once) finds these customers too.
    // Nor do the segments whose rules read its stays (they would read none).
    const skipped = new Set<number>();
    const segments = (await readSegmentsForEvaluation(tx, ws)).filter((s) => {
      if (s.evaluatedAt === null || s.dependsOn.some((d) => skipped.has(d))) skipped.add(s.id);
      return !skipped.has(s.id);
    });
    // The rules that refer to no other segment in one statement, reading
    // these customers once; then the others in dependency order, each after
    // the stays it reads.
    const independent = segments.filter((s) => s.dependsOn.length === 0);
    const steps = [independent, ...segments.filter((s) => s.dependsOn.length > 0).map((s) => [s])].filter((g) => g.length > 0);
    let entered = 0;
    let exited = 0;
    for (const group of steps) {
      const t = performance.now();
      for (const r of await syncSegments(tx, ws, group, now, ids)) {
        entered += r.entered;
        exited += r.exited;
      }
      phases.segments.push({ name: group.length === 1 ? (group[0]?.name ?? "") : `${group.length} segments together`, ms: performance.now() - t });
    }
    phases.segments.sort((a, b) => b.ms - a.ms);
    return { customers: ids.length, entered, exited, phases };
  });
}

/** How many change marks wait (a customer may have several). */
export async function pendingChanges(db: Queryable, ws: Workspace): Promise<number> {
  const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_changes WHERE workspace_id = $1", [ws.id]);
  return rows[0]?.n ?? 0;
}

/**
 * Which of `customerIds` a rule matches at `now`: the journey engine's
 * branch conditions and entry audiences, evaluated with the segments' own
 * compiler so a condition means the same in both places.
 */
export async function customersMatching(db: Queryable, ws: Workspace, rule: Rule, customerIds: readonly number[], now: Date): Promise<Set<number>> {
  if (customerIds.length === 0) return new Set();
  const { params, bind } = parameters();
  const ids = bind(customerIds);
  const rows = await db.query<{ customer_id: number }>(matchSelect(rule, ws, now, bind, ids), params);
  return new Set(rows.map((r) => r.customer_id));
}
