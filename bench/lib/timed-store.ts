/**
 * Store wrappers for the diagnostics: one times every query (how much of the
 * wall-clock time is spent waiting on the database), the other answers every
 * query with no rows (how fast parsing and mapping go with no database at all).
 */
import type { Queryable, Row, Store } from "../../src/store/index.ts";

export class TimedStore implements Store {
  readonly kind: "pglite" | "postgres";
  /** Sum of the time every query took, from send to rows (overlapping when queries run concurrently). */
  queryMs = 0;
  queries = 0;
  transactions = 0;

  constructor(private readonly inner: Store) {
    this.kind = inner.kind;
  }

  #timed(q: Queryable): Queryable {
    return {
      query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> => {
        const t = performance.now();
        try {
          return await q.query<T>(sql, params);
        } finally {
          this.queryMs += performance.now() - t;
          this.queries++;
        }
      },
    };
  }

  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#timed(this.inner).query<T>(sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.transactions++;
    return this.inner.transaction((tx) => fn(this.#timed(tx)));
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  reset(): void {
    this.queryMs = 0;
    this.queries = 0;
    this.transactions = 0;
  }
}

/** A store that stores nothing: every query returns no rows. */
export class NullStore implements Store {
  readonly kind = "pglite";
  async query<T extends Row = Row>(): Promise<T[]> {
    return [];
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async exec(): Promise<void> {}
  async close(): Promise<void> {}
}
