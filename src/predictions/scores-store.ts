/**
 * Scores kept in the store: a scoring run reads every customer's orders,
 * scores them (score.ts) with the latest fitted model and the shop's
 * lifecycle settings, and rewrites customer_scores in one transaction, so
 * readers see the old scores or the new ones, never half of each.
 */
import { z } from "zod";
import { AppError, formatMoney, isJsonObject, minorDigits, parseInput } from "../shared/index.ts";
import { BinaryCopyRows, type Queryable, type Store } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { wholeNumber } from "../metrics/index.ts";
import { RFM_SEGMENTS, dayOf, rfmSegment } from "../models/index.ts";
import { findLatestFit } from "./fits.ts";
import {
  DEFAULT_LIFECYCLE_SETTINGS,
  LifecycleSettings,
  FLAG,
  STAGES,
  prepareScoring,
  type ChurnSignals,
  type CustomerScore,
  type PredictionModel,
  type ScoreTable,
  type Stage,
} from "./score.ts";
import { readOrderLog, type OrderLog } from "./order-log.ts";


export async function readLifecycleSettings(db: Queryable, ws: Workspace): Promise<LifecycleSettings> {
  const [row] = await db.query<{ lifecycle_settings: unknown }>("SELECT lifecycle_settings FROM workspaces WHERE id = $1", [ws.id]);
  return parseInput(LifecycleSettings, row?.lifecycle_settings ?? {});
}

/** Changes some thresholds; the result must still be a valid whole (errors name the field). */
export async function updateLifecycleSettings(db: Queryable, ws: Workspace, patch: unknown): Promise<LifecycleSettings> {
  if (!isJsonObject(patch)) {
    throw new AppError("invalid_input", "(body): must be an object of settings", [{ field: "(body)", message: "must be an object" }]);
  }
  const known = Object.keys(DEFAULT_LIFECYCLE_SETTINGS);
  const unknown = Object.keys(patch).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new AppError("invalid_input", `${unknown[0]}: not a setting (known: ${known.join(", ")})`, unknown.map((k) => ({ field: k, message: "not a setting" })));
  }
  const [row] = await db.query<{ lifecycle_settings: unknown }>("SELECT lifecycle_settings FROM workspaces WHERE id = $1", [ws.id]);
  const stored = row?.lifecycle_settings;
  const merged = { ...(typeof stored === "object" && stored !== null ? stored : {}), ...patch };
  const settings = parseInput(LifecycleSettings, merged);
  await db.query("UPDATE workspaces SET lifecycle_settings = $2::jsonb WHERE id = $1", [ws.id, JSON.stringify(merged)]);
  return settings;
}

export interface ScoringRun {
  scoredAt: string;
  modelVersion: number | null;
  customers: number;
  seconds: number;
  /** Where the time went: reading the orders, scoring in memory, rewriting customer_scores. */
  phases: { readSeconds: number; scoreSeconds: number; writeSeconds: number };
  byStage: Record<Stage, number>;
  /** Why there was no model, when there was none. */
  note: string | null;
}

/**
 * Rows per part of the COPY (~1.5 MB; one statement per part on PGlite):
 * small enough that the database works through one slice while the next is
 * scored, and bounds the bytes held at once.
 */
const WRITE_BATCH = 10_000;

/** The columns of a COPY line: workspace, run time and model version first (the same for every line), then the customer's. */
const SCORE_COPY_COLUMNS = [
  "workspace_id", "scored_at", "model_version",
  "customer_id", "stage", "orders", "net_revenue_minor", "days_since_last_order", "rhythm_days", "rhythm_own", "p_alive",
  "expected_purchases_90", "expected_purchases_365", "next_order_on", "expected_aov_minor", "clv_minor",
  "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "buys_less_often", "buys_cheaper", "returns_more", "big_spender_rare",
] as const;

/**
 * Scores every customer now and replaces the stored scores. Called after a
 * fit, on demand (API, CLI) and by the server's schedule. `log`: the orders
 * when the caller has just read them (a fit), so they are read once.
 */
export async function refreshScores(store: Store, ws: Workspace, now: Date, log?: OrderLog, options: { rebuildKeyFromRows?: number } = {}): Promise<ScoringRun> {
  const started = performance.now();
  const settings = await readLifecycleSettings(store, ws);
  const fit = await findLatestFit(store, ws);
  const orders = log ?? (await readOrderLog(store, ws, now));
  const read = performance.now();
  const model: PredictionModel | null = fit ? { unit: fit.unit, ...fit.params } : null;
  const pass = prepareScoring(orders, model, settings, dayOf(now), 10 ** minorDigits(ws.currency));
  const table = pass.table;
  const prepareMs = performance.now() - read;
  let scoringMs = prepareMs;
  const note = fit ? null : "no model fitted yet: stages come from rhythms alone, and there are no predictions (fit one with `fidelio models fit`)";
  const n = table.customerIds.length;
  await store.transaction(async (tx) => {
    // One scoring run at a time per workspace (the schedule, the CLI and the
    // API can start one together): on PostgreSQL two concurrent
    // delete-then-insert transactions would collide on the primary key.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('fidelio:customer_scores:' || $1))", [ws.id]);
    // On PGlite a large rewrite loads faster without the primary key,
    // rebuilt once at the end (a million rows: 2.8 s + 0.6 s for the
    // rebuild, against 4.1 s with the index kept up row by row). PGlite
    // serves one transaction at a time, so nobody waits on the table's lock
    // longer than on the store; on PostgreSQL readers would, so there the
    // index stays.
    const rebuildKey = store.kind === "pglite" && n >= (options.rebuildKeyFromRows ?? REBUILD_KEY_FROM_ROWS);
    if (rebuildKey) await tx.query("ALTER TABLE customer_scores DROP CONSTRAINT customer_scores_pkey");
    await tx.query("DELETE FROM customer_scores WHERE workspace_id = $1", [ws.id]);
    scoringMs = prepareMs; // counted afresh if the store runs the transaction again
    // Binary COPY, not INSERT: a million rows of 24 columns took ~29 s as
    // jsonb batches (docs/benchmarks.md, "Models"). Rows are scored a slice
    // at a time as the COPY pulls them, so the database loads one slice
    // while the next is scored: the two overlap on two cores. The price:
    // the transaction (and on PGlite the store) is held while scoring too.
    const version = fit?.version ?? null;
    function* slices(): Generator<Uint8Array<ArrayBuffer>> {
      for (let i = 0; i < n; i += WRITE_BATCH) {
        const end = Math.min(n, i + WRITE_BATCH);
        const t = performance.now();
        pass.scoreRange(i, end);
        scoringMs += performance.now() - t;
        const rows = new BinaryCopyRows(SCORE_COPY_COLUMNS.length);
        for (let k = i; k < end; k++) writeScoreRow(rows, table, k, ws.id, now, version);
        yield rows.finish();
      }
    }
    await tx.copyFrom("customer_scores", SCORE_COPY_COLUMNS, slices());
    if (rebuildKey) await tx.query("ALTER TABLE customer_scores ADD CONSTRAINT customer_scores_pkey PRIMARY KEY (workspace_id, customer_id)");
    // A customer merged away after the orders were read was scored all the
    // same; without a foreign key (migration 015) their row would linger.
    // Counting the read customers that still exist is cheap; the clean-up
    // (seconds on a million rows) runs only when one has gone.
    const [still] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM customers WHERE workspace_id = $1 AND id <= $2", [ws.id, table.customerIds[n - 1] ?? 0]);
    if ((still?.n ?? 0) < n) {
      await tx.query(
        `DELETE FROM customer_scores s WHERE s.workspace_id = $1
            AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.workspace_id = s.workspace_id AND c.id = s.customer_id)`,
        [ws.id],
      );
    }
    const seconds = (performance.now() - started) / 1000;
    await tx.query("INSERT INTO scoring_runs (workspace_id, scored_at, model_version, customers, seconds, settings, note) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)", [
      ws.id,
      now,
      fit?.version ?? null,
      n,
      seconds,
      JSON.stringify(settings),
      note,
    ]);
  });
  const written = performance.now();
  const byStage: Record<Stage, number> = { prospect: 0, "first-time buyer": 0, repeat: 0, loyal: 0, "at risk": 0, lapsed: 0, "won back": 0 };
  for (const s of table.stage) {
    const stage = STAGES[s];
    if (stage) byStage[stage]++;
  }
  return {
    scoredAt: now.toISOString(),
    modelVersion: fit?.version ?? null,
    customers: n,
    seconds: (performance.now() - started) / 1000,
    // Scoring runs while the rows are written: its share is the time spent scoring, the write's the rest.
    phases: { readSeconds: (read - started) / 1000, scoreSeconds: scoringMs / 1000, writeSeconds: (written - read - scoringMs) / 1000 },
    byStage,
    note,
  };
}

/** Rows from which a scoring run on PGlite rebuilds the primary key instead of keeping it up (see refreshScores). */
const REBUILD_KEY_FROM_ROWS = 100_000;

/** A float8 column: anything not finite (NaN: none; ±Infinity: a model at its limits) is stored as null. */
function floatOrNull(rows: BinaryCopyRows, v: number | undefined): void {
  if (v === undefined || !Number.isFinite(v)) rows.null();
  else rows.float8(v);
}

/** An int8 column, null when not finite. */
function bigintOrNull(rows: BinaryCopyRows, v: number | undefined): void {
  if (v === undefined || !Number.isFinite(v)) rows.null();
  else rows.int8(v);
}

/** Row k of the table as a row of SCORE_COPY_COLUMNS, with their exact types (migration 006). */
function writeScoreRow(rows: BinaryCopyRows, t: ScoreTable, k: number, workspaceId: string, scoredAt: Date, modelVersion: number | null): void {
  const flags = t.flags[k] ?? 0;
  rows.row().text(workspaceId).timestamptz(scoredAt);
  if (modelVersion === null) rows.null();
  else rows.int4(modelVersion);
  rows.int8(t.customerIds[k] ?? 0).text(STAGES[t.stage[k] ?? 0] ?? "prospect").int4(t.orders[k] ?? 0).int8(t.netRevenueMinor[k] ?? 0);
  const since = t.daysSinceLastOrder[k];
  if (since === undefined || !Number.isFinite(since)) rows.null();
  else rows.int4(since);
  floatOrNull(rows, t.rhythmDays[k]);
  rows.bool((flags & FLAG.rhythmOwn) !== 0);
  floatOrNull(rows, t.probabilityAlive[k]);
  floatOrNull(rows, t.expectedPurchases90[k]);
  floatOrNull(rows, t.expectedPurchases365[k]);
  const next = t.nextOrderDay[k];
  if (next === undefined || !Number.isFinite(next)) rows.null();
  else rows.date(next);
  bigintOrNull(rows, t.expectedOrderValueMinor[k]);
  bigintOrNull(rows, t.clvMinor[k]);
  const r = t.rfmR[k] ?? 0;
  const f = t.rfmF[k] ?? 0;
  const m = t.rfmM[k] ?? 0;
  if (r > 0) rows.int2(r).int2(f).int2(m).text(rfmSegment(r, f, m));
  else rows.null().null().null().null();
  rows
    .bool((flags & FLAG.buysLessOften) !== 0)
    .bool((flags & FLAG.buysCheaper) !== 0)
    .bool((flags & FLAG.returnsMore) !== 0)
    .bool((flags & FLAG.bigSpenderRare) !== 0);
}

export async function latestScoringRun(db: Queryable, ws: Workspace): Promise<{ scoredAt: Date; modelVersion: number | null; customers: number; seconds: number; note: string | null } | null> {
  const [row] = await db.query<{ scored_at: Date; model_version: number | null; customers: number; seconds: number; note: string | null }>(
    "SELECT scored_at, model_version, customers, seconds, note FROM scoring_runs WHERE workspace_id = $1 ORDER BY scored_at DESC, id DESC LIMIT 1",
    [ws.id],
  );
  return row ? { scoredAt: row.scored_at, modelVersion: row.model_version, customers: row.customers, seconds: row.seconds, note: row.note } : null;
}

/**
 * The stored score of one customer, as the API and the customer page show it:
 * the scored fields, with the run's date and model, the next order as a
 * date, the RFM code, and the big-spender flag among the signals.
 */
export type StoredScore = Omit<CustomerScore, "customerId" | "nextOrderDay" | "rfm" | "signals" | "bigSpenderRare"> & {
  scoredAt: string;
  modelVersion: number | null;
  currency: string;
  expectedNextOrderOn: string | null;
  rfm: { r: number; f: number; m: number; code: string; segment: string } | null;
  signals: ChurnSignals & { bigSpenderRare: boolean };
};

const SCORE_COLUMNS = `s.scored_at, s.model_version, s.stage, s.orders, s.net_revenue_minor, s.days_since_last_order, s.rhythm_days, s.rhythm_own,
  s.p_alive, s.expected_purchases_90, s.expected_purchases_365, to_char(s.next_order_on, 'YYYY-MM-DD') AS next_order_on, s.expected_aov_minor, s.clv_minor,
  s.rfm_r, s.rfm_f, s.rfm_m, s.rfm_segment, s.buys_less_often, s.buys_cheaper, s.returns_more, s.big_spender_rare`;

type ScoreRow = {
  scored_at: Date;
  model_version: number | null;
  stage: string;
  orders: number;
  net_revenue_minor: number;
  days_since_last_order: number | null;
  rhythm_days: number | null;
  rhythm_own: boolean;
  p_alive: number | null;
  expected_purchases_90: number | null;
  expected_purchases_365: number | null;
  next_order_on: string | null;
  expected_aov_minor: number | null;
  clv_minor: number | null;
  rfm_r: number | null;
  rfm_f: number | null;
  rfm_m: number | null;
  rfm_segment: string | null;
  buys_less_often: boolean;
  buys_cheaper: boolean;
  returns_more: boolean;
  big_spender_rare: boolean;
};

const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function fromRow(r: ScoreRow, currency: string): StoredScore {
  const stage = STAGES.find((s) => s === r.stage) ?? "prospect";
  return {
    scoredAt: r.scored_at.toISOString(),
    modelVersion: r.model_version,
    stage,
    orders: Number(r.orders),
    netRevenueMinor: Number(r.net_revenue_minor),
    currency,
    daysSinceLastOrder: numOrNull(r.days_since_last_order),
    rhythmDays: numOrNull(r.rhythm_days),
    rhythmOwn: r.rhythm_own,
    probabilityAlive: numOrNull(r.p_alive),
    expectedPurchases90: numOrNull(r.expected_purchases_90),
    expectedPurchases365: numOrNull(r.expected_purchases_365),
    expectedNextOrderOn: r.next_order_on,
    expectedOrderValueMinor: numOrNull(r.expected_aov_minor),
    clvMinor: numOrNull(r.clv_minor),
    rfm:
      r.rfm_r !== null && r.rfm_f !== null && r.rfm_m !== null && r.rfm_segment !== null
        ? { r: r.rfm_r, f: r.rfm_f, m: r.rfm_m, code: `${r.rfm_r}${r.rfm_f}${r.rfm_m}`, segment: r.rfm_segment }
        : null,
    signals: { buysLessOften: r.buys_less_often, buysCheaper: r.buys_cheaper, returnsMore: r.returns_more, bigSpenderRare: r.big_spender_rare },
  };
}

const STAGE_MEANING: Record<Stage, string> = {
  prospect: "A prospect: known to the shop, no order yet.",
  "first-time buyer": "A first-time buyer: one purchase so far, and still within the shop's usual wait for a second.",
  repeat: "A repeat customer: has bought more than once and is within their usual rhythm.",
  loyal: "Loyal / VIP: many orders, or among the shop's top spenders with repeat purchases.",
  "at risk": "At risk: later than usual for their next order, or the model thinks they may have left.",
  lapsed: "Lapsed: far past their usual rhythm, or the model thinks they have most likely left.",
  "won back": "Won back: came back after a lapse, and the comeback is recent.",
};

/** The stored score in words, for people. */
export function describeScore(s: StoredScore, settings: LifecycleSettings): string[] {
  const money = (minor: number) => formatMoney(minor, s.currency);
  const out = [STAGE_MEANING[s.stage]];
  if (s.daysSinceLastOrder !== null && s.rhythmDays !== null) {
    out.push(
      `Last order ${s.daysSinceLastOrder} days ago; ${s.rhythmOwn ? "they usually buy every" : "they have bought once; the shop's customers usually come back after"} ${Math.round(s.rhythmDays)} days ` +
        `(at risk after ${Math.round(settings.atRiskAfterRhythms * s.rhythmDays)}, lapsed after ${Math.round(settings.lapsedAfterRhythms * s.rhythmDays)}).`,
    );
  }
  if (s.probabilityAlive !== null) out.push(`${Math.round(s.probabilityAlive * 100)} % likely to still be a customer.`);
  if (s.expectedPurchases365 !== null) out.push(`Expected to buy ${s.expectedPurchases365.toFixed(2)} times in the next 365 days.`);
  if (s.modelVersion !== null) out.push(s.expectedNextOrderOn ? `One more purchase is expected by ${s.expectedNextOrderOn}.` : "No further purchase is expected within five years.");
  if (s.clvMinor !== null && s.expectedOrderValueMinor !== null) {
    out.push(`Expected order value ${money(s.expectedOrderValueMinor)}; worth ${money(s.clvMinor)} over the next ${settings.clvHorizonDays} days.`);
  }
  if (s.rfm) out.push(`RFM ${s.rfm.code}: ${s.rfm.segment}.`);
  if (s.signals.buysLessOften) out.push("Churn signal: buying less often than their own rhythm.");
  if (s.signals.buysCheaper) out.push("Churn signal: their last order's items were cheaper than they used to buy.");
  if (s.signals.returnsMore) out.push("Churn signal: returning more of their recent orders than before.");
  if (s.signals.bigSpenderRare) out.push("Big spender who buys rarely: large orders, fewer of them than most customers.");
  return out;
}

/** A customer's stored score with its meaning; not_found when the customer or their score is missing. */
export async function customerScore(db: Queryable, ws: Workspace, externalId: string): Promise<StoredScore & { externalId: string; meaning: string[] }> {
  const [row] = await db.query<ScoreRow & { external_id: string }>(
    `SELECT c.external_id, ${SCORE_COLUMNS} FROM customers c JOIN customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id
      WHERE c.workspace_id = $1 AND c.external_id = $2`,
    [ws.id, externalId],
  );
  if (!row) {
    const [c] = await db.query("SELECT 1 FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, externalId]);
    if (!c) throw new AppError("not_found", `customer: no customer "${externalId}"`, [{ field: "customer", message: "no such customer" }]);
    throw new AppError("not_found", `customer "${externalId}" has not been scored yet: scores are refreshed daily, or now with \`fidelio models score\``);
  }
  const score = fromRow(row, ws.currency);
  return { externalId, ...score, meaning: describeScore(score, await readLifecycleSettings(db, ws)) };
}

const SIGNALS = ["buysLessOften", "buysCheaper", "returnsMore", "bigSpenderRare"] as const;
const SIGNAL_COLUMN: Record<(typeof SIGNALS)[number], string> = {
  buysLessOften: "buys_less_often",
  buysCheaper: "buys_cheaper",
  returnsMore: "returns_more",
  bigSpenderRare: "big_spender_rare",
};
const SORTS = { clv: "s.clv_minor", revenue: "s.net_revenue_minor", lastOrder: "s.days_since_last_order", probabilityAlive: "s.p_alive", orders: "s.orders" } as const;

export const CustomerListQuery = z.object({
  /** Part of the external id, email or name. */
  search: z.string().trim().max(200, "at most 200 characters").optional(),
  stage: z.enum(STAGES).optional(),
  rfm: z.enum(RFM_SEGMENTS).optional(),
  signal: z.enum(SIGNALS).optional(),
  /** Current members of this segment only (src/segments). */
  segment: wholeNumber("must be a whole number").pipe(z.number().min(1, "must be a segment id")).optional(),
  sort: z.enum(["clv", "revenue", "lastOrder", "probabilityAlive", "orders"]).default("revenue"),
  order: z.enum(["asc", "desc"]).default("desc"),
  limit: wholeNumber("must be a whole number").pipe(z.number().min(1, "must be at least 1").max(500, "must be at most 500")).default(50),
  offset: wholeNumber("must be a whole number").pipe(z.number().max(10_000_000, "is too large")).default(0),
});

export interface CustomerListItem {
  externalId: string;
  email: string | null;
  name: string | null;
  score: StoredScore | null;
}

/** Customers with their scores, searched, filtered and sorted; `total` counts every match. */
export async function listCustomers(db: Queryable, ws: Workspace, q: z.output<typeof CustomerListQuery>): Promise<{ total: number; items: CustomerListItem[] }> {
  const where = ["c.workspace_id = $1"];
  const params: unknown[] = [ws.id];
  if (q.search) {
    params.push(`%${q.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    const p = `$${params.length}`;
    where.push(`(c.external_id ILIKE ${p} OR c.email ILIKE ${p} OR (coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) ILIKE ${p})`);
  }
  if (q.stage) {
    params.push(q.stage);
    where.push(`s.stage = $${params.length}`);
  }
  if (q.rfm) {
    params.push(q.rfm);
    where.push(`s.rfm_segment = $${params.length}`);
  }
  if (q.signal) where.push(`s.${SIGNAL_COLUMN[q.signal]}`); // a column name from a fixed table, never input
  if (q.segment !== undefined) {
    params.push(q.segment);
    where.push(`EXISTS (SELECT 1 FROM segment_memberships m WHERE m.segment_id = $${params.length} AND m.customer_id = c.id AND m.exited_at IS NULL)`);
  }
  const filtered = q.stage !== undefined || q.rfm !== undefined || q.signal !== undefined;
  const from = `FROM customers c ${filtered ? "JOIN" : "LEFT JOIN"} customer_scores s ON s.workspace_id = c.workspace_id AND s.customer_id = c.id WHERE ${where.join(" AND ")}`;
  const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n ${from}`, params);
  const rows = await db.query<ScoreRow & { external_id: string; email: string | null; first_name: string | null; last_name: string | null; scored: boolean }>(
    `SELECT c.external_id, c.email, c.first_name, c.last_name, s.customer_id IS NOT NULL AS scored, ${SCORE_COLUMNS} ${from}
      ORDER BY ${SORTS[q.sort]} ${q.order === "asc" ? "ASC" : "DESC"} NULLS LAST, c.id
      LIMIT ${q.limit} OFFSET ${q.offset}`,
    params,
  );
  return {
    total: count?.n ?? 0,
    items: rows.map((r) => ({
      externalId: r.external_id,
      email: r.email,
      name: [r.first_name, r.last_name].filter(Boolean).join(" ") || null,
      score: r.scored ? fromRow(r, ws.currency) : null,
    })),
  };
}

export interface ScoreOverview {
  run: { scoredAt: string; modelVersion: number | null; customers: number; seconds: number; note: string | null } | null;
  byStage: { stage: Stage; customers: number }[];
  byRfmSegment: { segment: string; customers: number }[];
  signals: Record<(typeof SIGNALS)[number], number>;
  /** CLV of the scored buyers, in bands of equal width (minor units). */
  clvDistribution: { fromMinor: number; toMinor: number; customers: number }[];
  currency: string;
}

/** What the Models page and GET /api/models show of the stored scores. */
export async function scoreOverview(db: Queryable, ws: Workspace): Promise<ScoreOverview> {
  const run = await latestScoringRun(db, ws);
  const stages = await db.query<{ stage: string; n: number }>("SELECT stage, count(*)::int AS n FROM customer_scores WHERE workspace_id = $1 GROUP BY stage", [ws.id]);
  const rfm = await db.query<{ segment: string; n: number }>(
    "SELECT rfm_segment AS segment, count(*)::int AS n FROM customer_scores WHERE workspace_id = $1 AND rfm_segment IS NOT NULL GROUP BY rfm_segment",
    [ws.id],
  );
  const [sig] = await db.query<{ a: number; b: number; c: number; d: number }>(
    `SELECT count(*) FILTER (WHERE buys_less_often)::int AS a, count(*) FILTER (WHERE buys_cheaper)::int AS b,
            count(*) FILTER (WHERE returns_more)::int AS c, count(*) FILTER (WHERE big_spender_rare)::int AS d
       FROM customer_scores WHERE workspace_id = $1`,
    [ws.id],
  );
  // 20 bands up to the 99th percentile, the rest in the last band, so one whale does not flatten the picture.
  const [range] = await db.query<{ top: number | null }>(
    "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY clv_minor) AS top FROM customer_scores WHERE workspace_id = $1 AND clv_minor IS NOT NULL",
    [ws.id],
  );
  const top = Math.max(1, Math.ceil(Number(range?.top ?? 0)));
  const bands = 20;
  const width = Math.max(1, Math.ceil(top / bands));
  const counts = await db.query<{ band: number; n: number }>(
    `SELECT least(${bands - 1}, greatest(0, floor(clv_minor::float8 / $2)))::int AS band, count(*)::int AS n
       FROM customer_scores WHERE workspace_id = $1 AND clv_minor IS NOT NULL GROUP BY 1`,
    [ws.id, width],
  );
  const byBand = new Map(counts.map((c) => [Number(c.band), Number(c.n)]));
  return {
    run: run ? { ...run, scoredAt: run.scoredAt.toISOString() } : null,
    byStage: STAGES.map((s) => ({ stage: s, customers: Number(stages.find((r) => r.stage === s)?.n ?? 0) })),
    byRfmSegment: RFM_SEGMENTS.map((s) => ({ segment: s, customers: Number(rfm.find((r) => r.segment === s)?.n ?? 0) })),
    signals: { buysLessOften: sig?.a ?? 0, buysCheaper: sig?.b ?? 0, returnsMore: sig?.c ?? 0, bigSpenderRare: sig?.d ?? 0 },
    clvDistribution: counts.length === 0 ? [] : Array.from({ length: bands }, (_, i) => ({ fromMinor: i * width, toMinor: (i + 1) * width, customers: byBand.get(i) ?? 0 })),
    currency: ws.currency,
  };
}
