/**
 * Store wrappers for the diagnostics: one times every query (how much of the
 * wall-clock time is spent waiting on the database), the other answers every
 * query with no rows (how fast parsing and mapping go with no database at all).
 */
import type { CopyData, Queryable, Row, Store } from "../../src/store/index.ts";

export class TimedStore implements Store {
  readonly kind: "pglite" | "postgres";
  /** Sum of the time every query took, from send to rows (overlapping when queries run concurrently). */
  queryMs = 0;
  queries = 0;
  transactions = 0;
  /** Time from asking for a transaction to its callback starting: waiting for a connection and BEGIN. */
  waitMs = 0;
  /** Time spent outside the callbacks of transactions: waiting for a connection, BEGIN and COMMIT. */
  commitMs = 0;
  /** Time and count per statement, keyed by the statement's opening words. */
  readonly byStatement = new Map<string, { ms: number; count: number }>();

  constructor(private readonly inner: Store) {
    this.kind = inner.kind;
  }

  async #time<T>(label: string, run: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await run();
    } finally {
      const ms = performance.now() - t;
      this.queryMs += ms;
      this.queries++;
      const entry = this.byStatement.get(label) ?? { ms: 0, count: 0 };
      entry.ms += ms;
      entry.count++;
      this.byStatement.set(label, entry);
    }
  }

  #timed(q: Queryable): Queryable {
    return {
      query: <T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> => this.#time(statementLabel(sql), () => q.query<T>(sql, params)),
      copyFrom: (table: string, columns: readonly string[], data: CopyData): Promise<void> => this.#time(`COPY ${table}`, () => q.copyFrom(table, columns, data)),
      copyOut: (query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> => this.#time(`COPY (${statementLabel(query)}) TO`, () => q.copyOut(query, onChunk)),
    };
  }

  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#timed(this.inner).query<T>(sql, params);
  }

  copyFrom(table: string, columns: readonly string[], data: CopyData): Promise<void> {
    return this.#timed(this.inner).copyFrom(table, columns, data);
  }

  copyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    return this.#timed(this.inner).copyOut(query, onChunk);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.transactions++;
    const t = performance.now();
    let bodyMs = 0;
    return this.inner
      .transaction(async (tx) => {
        const b = performance.now();
        // Waiting for a connection (or, on PGlite, for the previous transaction) ends here.
        this.waitMs += b - t;
        try {
          return await fn(this.#timed(tx));
        } finally {
          bodyMs = performance.now() - b;
        }
      })
      .finally(() => {
        // BEGIN and COMMIT (with its WAL flush), outside the callback.
        this.commitMs += performance.now() - t - bodyMs;
      });
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
    this.waitMs = 0;
    this.commitMs = 0;
    this.byStatement.clear();
  }

  /** The statements that took longest, summed. */
  top(n: number): { statement: string; ms: number; count: number }[] {
    return [...this.byStatement.entries()]
      .map(([statement, v]) => ({ statement, ...v }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n);
  }
}

/** A short name for a statement: its first words and the table it writes or reads. */
export function statementLabel(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  const write = /(INSERT INTO \w+|UPDATE \w+|DELETE FROM \w+)/i.exec(flat)?.[1];
  if (write) return flat.startsWith("WITH") ? `WITH … ${write} …` : write;
  const read = /^SELECT .*? FROM (\w+)/i.exec(flat)?.[1];
  return read ? `SELECT … FROM ${read}` : flat.slice(0, 40);
}

/** A store that stores nothing: every query returns no rows. */
export class NullStore implements Store {
  readonly kind = "pglite";
  async query<T extends Row = Row>(): Promise<T[]> {
    return [];
  }
  async copyFrom(): Promise<void> {}
  async copyOut(): Promise<void> {}
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async exec(): Promise<void> {}
  async close(): Promise<void> {}
}
