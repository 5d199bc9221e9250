/** A row as the database returns it; callers name the columns they selected. */
export type Row = Record<string, unknown>;

/** Anything that runs SQL with bound parameters ($1, $2, …). Never build SQL from input. */
export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
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
