/**
 * Reading many rows with binary COPY through the Store seam (`copyOut`):
 * the two steps every such read takes.
 */
import { BinaryCopyReader, PACKED_TYPES, concat, readPackedRecords, type CopyRow, type PackedRow, type PackedType } from "./copy-binary.ts";
import { StoreError, type Queryable } from "./store.ts";

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * COPY takes no bound parameters, so a query's values are set as settings
 * of the current transaction (`set_config(…, true)`, itself bound) and read
 * back in the query through the returned `setting(name)`: a sub-select, so
 * PostgreSQL reads it once (an init plan), where current_setting() called
 * per row made a 2.8-million-order read 9.8 s instead of 3.6 s
 * (docs/benchmarks.md, "Models"). `setting(name, type)` reads it cast to
 * `type`. Call it inside a transaction.
 */
export async function copySettings(tx: Queryable, values: Readonly<Record<string, string>>): Promise<(name: string, type?: string) => string> {
  const entries = Object.entries(values);
  for (const [name] of entries) if (!/^[a-z_]+$/.test(name)) throw new StoreError(`not a plain setting name: ${name}`);
  if (entries.length > 0) {
    await tx.query(`SELECT ${entries.map(([name], i) => `set_config('fidelio.${name}', $${i + 1}, true)`).join(", ")}`, entries.map(([, v]) => v));
  }
  // `type` casts inside the sub-select: once. A cast outside it runs per
  // row (on PGlite, 1.1 s more to read 2.8 million orders with a time bound).
  return (name, type) => {
    if (!(name in values)) throw new StoreError(`no setting ${name} was set for this query`);
    if (type !== undefined && !IDENTIFIER.test(type)) throw new StoreError(`not a plain type name: ${type}`);
    return `(SELECT current_setting('fidelio.${name}')${type === undefined ? "" : `::${type}`})`;
  };
}

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary)` and hands each row to
 * `onRow`. One reader per COPY: each output is a whole stream, header to
 * trailer (a reader shared by two COPYs stops at the first one's trailer).
 */
export async function copyOutRows(db: Queryable, query: string, onRow: (row: CopyRow) => void): Promise<void> {
  const reader = new BinaryCopyReader(onRow);
  await db.copyOut(query, (chunk) => reader.push(chunk));
  reader.end();
}

/**
 * Runs the COPY queries of one read, page by page, handing each row to
 * `onRow` in page order; each page's output is parsed while the next page
 * is being read. That overlap is what paging buys on PGlite, which writes a
 * COPY's whole output before handing it over (and keeps the largest output
 * in its WASM heap for good): in pages, the worker thread reads one page
 * while this thread parses the one before, and the heap holds one page.
 */
export async function copyOutPages(db: Queryable, queries: readonly string[], onRow: (row: CopyRow) => void): Promise<void> {
  // One page has no next page to overlap with: parsed as it arrives (PostgreSQL streams it), not held whole first.
  if (queries.length === 1 && queries[0] !== undefined) return copyOutRows(db, queries[0], onRow);
  await eachPage(db, queries, (chunks) => {
    const reader = new BinaryCopyReader(onRow);
    for (const chunk of chunks) reader.push(chunk);
    reader.end();
  });
}

/**
 * Runs the COPY of each query in turn and hands its whole output to
 * `handle`, which works on page k while the database reads page k + 1.
 */
async function eachPage(db: Queryable, queries: readonly string[], handle: (chunks: Uint8Array[]) => void): Promise<void> {
  const read = (query: string): Promise<Uint8Array[]> => {
    const chunks: Uint8Array[] = [];
    const done = db.copyOut(query, (chunk) => chunks.push(chunk)).then(() => chunks);
    // Handled here so that a failure while the page before is parsed is not
    // an unhandled rejection; awaiting it below still throws.
    done.catch(() => {});
    return done;
  };
  let next = queries[0] === undefined ? null : read(queries[0]);
  for (let k = 0; next; k++) {
    const chunks = await next;
    const query = queries[k + 1];
    next = query === undefined ? null : read(query);
    try {
      handle(chunks);
    } catch (err) {
      // The page being read is settled before the caller's transaction goes on.
      await next?.catch(() => {});
      throw err;
    }
  }
}

/**
 * copyOutPages for rows of fixed-width, non-null columns, packed: the
 * database concatenates each page's rows, every column in its binary send
 * format, into one bytea (`string_agg`), which crosses as the single field
 * of a one-row COPY and is read here at fixed offsets. A COPY's cost is
 * mostly per row it writes out: on PGlite, reading 2.8 million orders of
 * four columns took 3.2 s as rows and 2.0 s packed (docs/benchmarks.md,
 * "Models"). `query`: the rows' SELECT, its columns of `types`, in order.
 * A page is held whole by the database, so keep pages well under its 1 GB
 * limit for a value (400,000 rows of 32 bytes: 13 MB). Rows come in no
 * particular order. A NULL would drop its row from the aggregate: the rows
 * are counted too, and a mismatch throws rather than lose them silently.
 */
export async function readPackedPages(db: Queryable, queries: readonly string[], types: readonly PackedType[], onRow: (row: PackedRow) => void): Promise<void> {
  if (types.length === 0) throw new StoreError("a packed read needs at least one column");
  const names = types.map((_, i) => `c${i}`);
  const record = types.map((t, i) => `${PACKED_TYPES[t].send}(c${i})`).join(" || ");
  const packed = queries.map((q) => `SELECT count(*)::int8, string_agg(${record}, ''::bytea) FROM (${q}) AS packed_rows(${names.join(", ")})`);
  await eachPage(db, packed, (chunks) => {
    const reader = new BinaryCopyReader((row) => {
      const expected = row.int8(0);
      const found = row.isNull(1) ? 0 : readPackedRecords(row.bytes(1), types, onRow);
      if (found !== expected) throw new StoreError(`a packed read got ${found} of ${expected} rows: a column was NULL`);
    });
    // Whole, as one buffer: the reader would join a 13 MB row's chunks again at each one.
    reader.push(concat(...chunks));
    reader.end();
  });
}

/**
 * The `id` ranges [lo, hi) that split a workspace's rows of `table` (an
 * identifier from the code) into pages of at most `size` ids, for a paged
 * read. Ids are sequence numbers, so a page holds about `size` rows.
 */
export async function idPages(db: Queryable, table: string, workspaceId: string, size: number): Promise<[number, number][]> {
  if (!IDENTIFIER.test(table)) throw new StoreError(`not a plain identifier: ${table}`);
  if (!(Number.isSafeInteger(size) && size > 0)) throw new StoreError(`not a page size: ${size}`);
  const [r] = await db.query<{ lo: number | null; hi: number | null }>(`SELECT min(id)::float8 AS lo, max(id)::float8 AS hi FROM ${table} WHERE workspace_id = $1`, [workspaceId]);
  if (r?.lo == null || r.hi == null) return [];
  if (!Number.isSafeInteger(r.lo) || !Number.isSafeInteger(r.hi)) throw new StoreError(`${table} ids out of range`);
  const pages: [number, number][] = [];
  for (let lo = r.lo; lo <= r.hi; lo += size) pages.push([lo, Math.min(lo + size, r.hi + 1)]);
  return pages;
}
