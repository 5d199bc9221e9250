/** A row as the database returns it; callers name the columns they selected. */
export type Row = Record<string, unknown>;

/** Anything that runs SQL with bound parameters ($1, $2, …). Never build SQL from input. */
export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Bulk-loads rows with `COPY table (columns) FROM STDIN`: a string is
   * PostgreSQL's text format (one row per line, tab-separated, `\N` for null;
   * copyField escapes a value), bytes its binary format (BinaryCopyRows).
   * Many times faster than INSERT for hundreds of thousands of rows; `table`
   * and `columns` are identifiers from the code, never input.
   *
   * Binary data may also come in parts (`CopyParts`), each whole
   * (BinaryCopyRows.finish()), pulled one at a time as the load goes, so the
   * database loads one part while the caller makes the next: PostgreSQL
   * gets one COPY statement with the parts' rows streamed into it (the
   * statement's data flows only once the server has answered it, so one
   * statement per part would leave it idle while the caller works), PGlite
   * one COPY per part, each made while its worker thread loads the one
   * before. A part that throws aborts the load.
   */
  copyFrom(table: string, columns: readonly string[], data: CopyData | CopyParts): Promise<void>;
  /**
   * Runs `COPY (query) TO STDOUT (FORMAT binary)` and hands the output to
   * `onChunk` as it arrives (BinaryCopyReader parses it): millions of rows
   * without a JS object each. COPY takes no bound parameters, so a query
   * reads its values with current_setting(), set by set_config(…, true) in
   * the same transaction — never from text spliced into the SQL.
   */
  copyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void>;
}

/** A value as a field of COPY's text format: null as \N; backslash, tab and line breaks escaped. */
export function copyField(v: string | number | boolean | null): string {
  if (v === null) return "\\N";
  if (typeof v !== "string") return String(v);
  return /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r")) : v;
}

/** COPY data: text format as a string, binary format as bytes. */
export type CopyData = string | Uint8Array<ArrayBuffer>;

/** Binary COPY data in parts, each a whole binary COPY payload; see Queryable.copyFrom. */
export type CopyParts = Iterable<Uint8Array<ArrayBuffer>>;

/** The COPY statement for `table (columns)` and the data's format, with the names checked to be plain identifiers. */
export function copyStatement(table: string, columns: readonly string[], source: string, data: CopyData | CopyParts): string {
  const ident = /^[a-z_][a-z0-9_]*$/;
  for (const name of [table, ...columns]) if (!ident.test(name)) throw new StoreError(`not a plain identifier: ${name}`);
  return `COPY ${table} (${columns.join(", ")}) FROM ${source}${typeof data === "string" ? "" : " (FORMAT binary)"}`;
}

/**
 * The seam between Fidelio and its database. Two implementations speak the
 * same PostgreSQL dialect: PGlite (embedded, in a worker thread) and a
 * PostgreSQL server. `main.ts` picks one; the contract suite runs on both.
 */
export interface Store extends Queryable {
  readonly kind: "pglite" | "postgres";
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs several statements with no parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** A database error as both drivers report it (SQLSTATE in `code`). */
export class StoreError extends Error {
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;
  constructor(message: string, sqlState?: string, constraint?: string) {
    super(message);
    this.name = "StoreError";
    this.sqlState = sqlState;
    this.constraint = constraint;
  }
}

/** Value parsers shared by both drivers so rows look the same on each. */
export const typeParsers: Record<number, (value: string) => unknown> = {
  20: (v) => Number(v), // int8: ids and money sums stay well under 2^53
  1700: (v) => Number(v), // numeric
  1082: (v) => v, // date: kept as 'YYYY-MM-DD', never shifted by a time zone
};
